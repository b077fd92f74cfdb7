"""Use cases: what the entry points (CLI, API, batch scripts) ask of the domain.

Each takes a repository and plain arguments and returns plain results, so the command line
and the HTTP API share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matcher.datadir import read_data_directory
from matcher.datadir_writer import write_data_directory
from matcher.storage.repository import ImportReport, ProgressCallback, Repository
from matcher.taxonomy import Taxonomies

__all__ = ["ImportResult", "import_directory", "export_directory"]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The validated directory's summary and what the import did."""

    summary: dict[str, Any]
    report: ImportReport


def import_directory(
    repository: Repository,
    folder: Path | str,
    taxonomies: Taxonomies,
    *,
    actor: str = "system",
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Validate a data directory, then upsert it in one transaction (unless ``dry_run``).

    Raises
    ------
    DataDirectoryError
        With every problem found; nothing is written.
    """
    dataset = read_data_directory(folder, taxonomies)
    report = repository.import_dataset(dataset, actor=actor, dry_run=dry_run, progress=progress)
    return ImportResult(summary=dataset.summary(), report=report)


def export_directory(
    repository: Repository, folder: Path | str, taxonomies: Taxonomies
) -> dict[str, int]:
    """Write everything stored as a data directory; return the row counts per table."""
    dataset = repository.load_dataset()
    write_data_directory(dataset, folder, taxonomies)
    summary = dataset.summary()
    return {
        key: summary[key]
        for key in (
            "organisations",
            "capabilities",
            "partnerships",
            "memberships",
            "flags",
            "conflicts",
        )
    }
