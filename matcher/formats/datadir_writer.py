"""Writes a data directory in the interchange format (DESIGN.md 5.1), sorted and stable.

Rows are sorted by their key columns, list cells are sorted and joined with ``;``, numbers
are written without a spurious ``.0``, and each file is written to a temporary name and then
renamed, so a killed export never leaves a half-written file. Writing what
:func:`~matcher.formats.datadir.read_data_directory` read gives identical files every time.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_tables({"conflicts.csv": [{"org_b": "b", "org_a": "a"}]}, folder)
>>> print((folder / "conflicts.csv").read_text(), end="")
org_a,org_b,reason
a,b,
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd

from matcher.domain.dataset import Dataset
from matcher.domain.taxonomy import Taxonomies
from matcher.formats.datadir import FILES, LIST_SEPARATOR, TAXONOMY_EXTENSIONS
from matcher.formats.records import dataset_records
from matcher.formats.spreadsheet import spreadsheet_safe as _spreadsheet_safe

__all__ = ["SORT_KEYS", "format_cell", "write_tables", "dataset_tables", "write_data_directory"]

#: Columns each file is sorted by.
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "organisations.csv": ("id",),
    "capabilities.csv": ("org_id", "capability"),
    "partnerships.csv": ("id",),
    "memberships.csv": ("partnership_id", "org_id"),
    "flags.csv": ("org_id", "category", "level", "date", "source", "note"),
    "conflicts.csv": ("org_a", "org_b"),
    "taxonomy/themes.csv": ("code",),
    "taxonomy/capabilities.csv": ("code",),
}
_SPECS = {**FILES, **TAXONOMY_EXTENSIONS}


def format_cell(value: Any) -> str:
    """The interchange text of one value.

    >>> [format_cell(v) for v in (None, 2500000.0, 0.6, True, {"b", "a"}, ("y", "x"))]
    ['', '2500000', '0.6', 'true', 'a;b', 'y;x']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return LIST_SEPARATOR.join(sorted(format_cell(item) for item in value))
    if isinstance(value, tuple | list):
        return LIST_SEPARATOR.join(format_cell(item) for item in value)
    return str(value)


def _frame(name: str, rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    columns = list(_SPECS[name].columns)
    if isinstance(rows, pd.DataFrame):
        unknown = set(rows.columns) - set(columns)
        if unknown:
            raise ValueError(f"{name}: unknown column(s) {sorted(unknown)}")
        missing = {column: "" for column in columns if column not in rows.columns}
        frame = rows.assign(**missing)[columns]
    else:
        records = list(rows)
        unknown = set().union(*(row.keys() for row in records)) - set(columns)
        if unknown:
            raise ValueError(f"{name}: unknown column(s) {sorted(unknown)}")
        frame = pd.DataFrame.from_records(
            [{column: format_cell(row.get(column)) for column in columns} for row in records],
            columns=columns,
        )
    return frame.sort_values(list(SORT_KEYS[name]), kind="stable").reset_index(drop=True)


def write_tables(
    tables: Mapping[str, pd.DataFrame | Iterable[Mapping[str, Any]]],
    folder: Path | str,
    *,
    spreadsheet_safe: bool = False,
) -> None:
    """Write interchange files into ``folder`` (created if needed), each atomically.

    Parameters
    ----------
    tables : mapping
        File name (``organisations.csv``, ``taxonomy/themes.csv``, ...) to rows: a DataFrame
        of text cells, or mappings of column to value (formatted by :func:`format_cell`).
        Missing columns are written empty; an unknown column is a ``ValueError``.
    folder : path
    spreadsheet_safe : bool, keyword-only
        Prefix with ``'`` every cell a spreadsheet would run as a formula
        (:func:`~matcher.formats.spreadsheet.spreadsheet_safe`). The files are then for
        people to open, no longer the byte-faithful interchange (an import keeps the ``'``).
    """
    root = Path(folder)
    for name, rows in tables.items():
        if name not in _SPECS:
            raise ValueError(f"{name!r} is not a file of the interchange format")
        frame = _frame(name, rows)
        if spreadsheet_safe:
            frame = frame.map(_spreadsheet_safe)
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        frame.to_csv(partial, index=False, encoding="utf-8", lineterminator="\n")
        os.replace(partial, target)


def dataset_tables(
    dataset: Dataset, builtin: Taxonomies | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The rows of every interchange file for ``dataset``
    (:func:`~matcher.formats.records.dataset_records`).

    Optional files (flags, conflicts, taxonomy extensions) are included only when they have
    rows; taxonomy terms are written when they are not in ``builtin``.
    """
    return {
        name: rows
        for name, rows in dataset_records(dataset, builtin).items()
        if rows or not _SPECS[name].optional_file
    }


def write_data_directory(
    dataset: Dataset,
    folder: Path | str,
    builtin: Taxonomies | None = None,
    *,
    spreadsheet_safe: bool = False,
) -> None:
    """Write ``dataset`` as a data directory that reads back to the same dataset (unless
    ``spreadsheet_safe``: see :func:`write_tables`)."""
    write_tables(dataset_tables(dataset, builtin), folder, spreadsheet_safe=spreadsheet_safe)
