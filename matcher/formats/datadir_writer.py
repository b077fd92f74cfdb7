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
from matcher.domain.taxonomy import Taxonomies, Vocabulary
from matcher.formats.datadir import FILES, LIST_SEPARATOR, TAXONOMY_EXTENSIONS

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
    tables: Mapping[str, pd.DataFrame | Iterable[Mapping[str, Any]]], folder: Path | str
) -> None:
    """Write interchange files into ``folder`` (created if needed), each atomically.

    Parameters
    ----------
    tables : mapping
        File name (``organisations.csv``, ``taxonomy/themes.csv``, ...) to rows: a DataFrame
        of text cells, or mappings of column to value (formatted by :func:`format_cell`).
        Missing columns are written empty; an unknown column is a ``ValueError``.
    folder : path
    """
    root = Path(folder)
    for name, rows in tables.items():
        if name not in _SPECS:
            raise ValueError(f"{name!r} is not a file of the interchange format")
        frame = _frame(name, rows)
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        frame.to_csv(partial, index=False, encoding="utf-8", lineterminator="\n")
        os.replace(partial, target)


def _extension_rows(vocabulary: Vocabulary, builtin: Vocabulary) -> list[dict[str, Any]]:
    return [
        {
            "code": term.code,
            "label": term.label,
            "parent": term.parent,
            "sdg": term.attributes.get("sdg"),
            "description": term.description,
            "source": term.source,
            "label_fr": term.attributes.get("label_fr"),
            "keywords": term.attributes.get("keywords"),
        }
        for code, term in vocabulary.items()
        if code not in builtin
    ]


def dataset_tables(
    dataset: Dataset, builtin: Taxonomies | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The rows of every interchange file for ``dataset``.

    Optional files (flags, conflicts, taxonomy extensions) are included only when they have
    rows; taxonomy terms are written when they are not in ``builtin``.
    """
    organisations = [
        {
            "id": org.id,
            "name": org.name,
            "kind": org.kind,
            "sector": org.sector,
            "country": org.country,
            "size": org.size,
            "themes": org.themes,
            "resources": org.resources,
            "motivations": org.motivations,
            "gc_status": org.gc_status,
            "verified_on": org.verified_on,
            "max_active": org.max_active,
            "description": org.description,
            "aliases": org.aliases,
            "source": org.source,
        }
        for org in dataset.organisations.values()
    ]
    capabilities = [
        {
            "org_id": c.org_id,
            "capability": c.capability,
            "strength": c.strength,
            "quantity": c.quantity,
            "unit": c.unit,
            "source": c.source,
        }
        for c in dataset.capabilities
    ]
    partnerships = [
        {
            "id": p.id,
            "name": p.name,
            "start_year": p.start_year,
            "end_year": p.end_year,
            "countries": p.countries,
            "themes": p.themes,
            "activity_types": p.activity_types,
            "amount_usd": p.amount_usd,
            "outcome": p.outcome,
            "source": p.source,
            "description": p.description,
        }
        for p in dataset.partnerships.values()
    ]
    memberships = [
        {
            "partnership_id": m.partnership_id,
            "org_id": m.org_id,
            "role": m.role,
            "contribution_usd": m.contribution_usd,
        }
        for m in dataset.memberships
    ]
    tables: dict[str, list[dict[str, Any]]] = {
        "organisations.csv": organisations,
        "capabilities.csv": capabilities,
        "partnerships.csv": partnerships,
        "memberships.csv": memberships,
    }
    optional: dict[str, list[dict[str, Any]]] = {
        "flags.csv": [
            {
                "org_id": f.org_id,
                "category": f.category,
                "level": f.level,
                "note": f.note,
                "date": f.date,
                "source": f.source,
                "dismissed_by": f.dismissed_by,
                "dismissed_on": f.dismissed_on,
            }
            for f in dataset.flags
        ],
        "conflicts.csv": [
            {"org_a": c.org_a, "org_b": c.org_b, "reason": c.reason} for c in dataset.conflicts
        ],
    }
    if builtin is not None:
        optional["taxonomy/themes.csv"] = _extension_rows(dataset.taxonomies.themes, builtin.themes)
        optional["taxonomy/capabilities.csv"] = _extension_rows(
            dataset.taxonomies.capabilities, builtin.capabilities
        )
    tables.update({name: rows for name, rows in optional.items() if rows})
    return tables


def write_data_directory(
    dataset: Dataset, folder: Path | str, builtin: Taxonomies | None = None
) -> None:
    """Write ``dataset`` as a data directory that reads back to the same dataset."""
    write_tables(dataset_tables(dataset, builtin), folder)
