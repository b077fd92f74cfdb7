"""Use cases on whole data directories: import, export and load.

Each takes a repository and plain arguments and returns plain results, so the command line
and the HTTP API share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matcher.domain.dataset import Dataset
from matcher.domain.taxonomy import Taxonomies
from matcher.formats.datadir import read_data_directory
from matcher.formats.datadir_writer import write_data_directory
from matcher.storage.repository import ImportReport, ProgressCallback, Repository

__all__ = [
    "ImportResult",
    "import_directory",
    "export_directory",
    "load_dataset",
]


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
    repository: Repository,
    folder: Path | str,
    taxonomies: Taxonomies,
    *,
    spreadsheet_safe: bool = False,
) -> dict[str, int]:
    """Write everything stored as a data directory; return the row counts per table.

    ``spreadsheet_safe`` escapes cells a spreadsheet would run as formulas: for people to
    open, not to import back."""
    dataset = repository.load_dataset()
    write_data_directory(dataset, folder, taxonomies, spreadsheet_safe=spreadsheet_safe)
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


def load_dataset(
    taxonomies: Taxonomies,
    *,
    data_dir: Path | str | None = None,
    repository: Repository | None = None,
) -> Dataset:
    """The dataset from a data directory, else from a repository."""
    if data_dir is not None:
        return read_data_directory(data_dir, taxonomies)
    if repository is None:
        raise ValueError("Give a data directory or a repository")
    return repository.load_dataset()
