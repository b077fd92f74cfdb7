"""Use cases on whole data directories: import, export and load.

Each takes a repository and plain arguments and returns plain results, so the command line
and the HTTP API share one code path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import DataDirectoryError
from matcher.domain.merging import MergedDataset, OrganisationMerge, merge_datasets
from matcher.domain.taxonomy import Taxonomies
from matcher.formats.datadir import read_data_directory
from matcher.formats.datadir_writer import write_data_directory
from matcher.storage.repository import ImportReport, ProgressCallback, Repository

__all__ = [
    "ImportResult",
    "import_directory",
    "export_directory",
    "read_directories",
    "load_dataset",
]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The validated directory's summary and what the import did."""

    summary: dict[str, Any]
    report: ImportReport
    merges: tuple[OrganisationMerge, ...] = field(default=())


def read_directories(folders: Sequence[Path | str], taxonomies: Taxonomies) -> MergedDataset:
    """Read several data directories and merge them into one dataset.

    Organisations sharing an id or a registry identifier become one, under the id of the
    first directory that has it (:func:`~matcher.domain.merging.merge_datasets`).

    Raises
    ------
    DataDirectoryError
        With every problem of every directory (each prefixed with its folder when there
        are several), or the conflicts between directories.
    """
    datasets = []
    problems: list[str] = []
    for folder in folders:
        try:
            datasets.append(read_data_directory(folder, taxonomies))
        except DataDirectoryError as err:
            prefix = f"{folder}/" if len(folders) > 1 else ""
            problems.extend(f"{prefix}{problem}" for problem in err.problems)
    if problems:
        raise DataDirectoryError(problems)
    return merge_datasets(datasets, taxonomies)


def import_directory(
    repository: Repository,
    folder: Path | str | Sequence[Path | str],
    taxonomies: Taxonomies,
    *,
    actor: str = "system",
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Validate one or several data directories, then upsert them in one transaction.

    Several directories are merged first (:func:`read_directories`): organisations
    sharing a registry identifier are imported once. Nothing is written when ``dry_run``.

    Raises
    ------
    DataDirectoryError
        With every problem found; nothing is written.
    """
    folders = [folder] if isinstance(folder, Path | str) else list(folder)
    merged = read_directories(folders, taxonomies)
    report = repository.import_dataset(
        merged.dataset, actor=actor, dry_run=dry_run, progress=progress
    )
    return ImportResult(summary=merged.dataset.summary(), report=report, merges=merged.merges)


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
    return dataset.counts()


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
