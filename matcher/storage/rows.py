"""Conversion between domain objects and table rows (plain dicts of column values).

Rows come from the one record conversion of :mod:`matcher.formats.records`, with each value
as the tables store it: codes and lists as the interchange text (codes sorted, joined with
``;``), an empty unit or SDG list as NULL, a conflict's pair in order. The same rows feed the
SQL repository and the in-memory one, so both store exactly the same thing.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar

from matcher.domain.dataset import Dataset
from matcher.domain.model import Capability, Conflict, Flag, Membership, Organisation, Partnership
from matcher.domain.sequences import MadeOnRead
from matcher.domain.taxonomy import Taxonomies, Term
from matcher.formats.datadir import LIST_SEPARATOR, TAXONOMY_EXTENSIONS
from matcher.formats.datadir_writer import format_cell
from matcher.formats.records import (
    RECORD_FILES,
    TERM_FILES,
    Record,
    record_columns,
    record_row,
    records_by_file,
    term_rows,
)

__all__ = [
    "Row",
    "ENTITY_TABLES",
    "RECORD_TABLES",
    "record_to_row",
    "row_to_record",
    "dataset_rows",
    "RecordRows",
    "rows_to_dataset",
]

Row = dict[str, Any]
R = TypeVar("R", Organisation, Capability, Partnership, Membership, Flag, Conflict)

#: The table of each kind of record.
RECORD_TABLES: dict[type[Record], str] = {
    Organisation: "organisations",
    Capability: "capabilities",
    Partnership: "partnerships",
    Membership: "memberships",
    Flag: "flags",
    Conflict: "conflicts",
}
#: Tables whose rows are entities with an ``id`` and a ``version``.
ENTITY_TABLES = ("organisations", "partnerships")
#: Columns of ``taxonomy_terms`` but its ``vocabulary``: the themes file's, a superset.
_TERM_COLUMNS = TAXONOMY_EXTENSIONS[TERM_FILES["themes"]].columns
#: Columns whose empty text is stored as NULL.
_BLANK_AS_NULL = frozenset({"unit", "sdg", "label_fr"})
#: Columns holding a list (of codes, countries or names) as interchange text.
_LIST_COLUMNS = frozenset(
    {"themes", "resources", "motivations", "aliases", "identifiers", "countries", "activity_types"}
)


def _stored(column: str, value: Any) -> Any:
    if isinstance(value, Enum | frozenset | set | tuple | list):
        value = format_cell(value)
    return None if value == "" and column in _BLANK_AS_NULL else value


def _table_row(table: str, values: Mapping[str, Any]) -> Row:
    row = {column: _stored(column, value) for column, value in values.items()}
    if table == "conflicts":  # one row per pair, whichever way round it was declared
        row["org_a"], row["org_b"] = sorted((row["org_a"], row["org_b"]))
    return row


def record_to_row(record: Record) -> Row:
    """The table row of a domain record.

    >>> record_to_row(Organisation("acme", "Acme", "company", themes={"water", "health"}))["themes"]
    'health;water'
    """
    return _table_row(RECORD_TABLES[type(record)], record_row(record))


def _split(text: str) -> tuple[str, ...]:
    if not text:  # most list columns are empty
        return ()
    return tuple(part for part in text.split(LIST_SEPARATOR) if part)


def row_to_record(kind: type[R], row: Mapping[Any, Any], *, trusted: bool = False) -> R:
    """The domain record of a table row (the inverse of :func:`record_to_row`); a NULL or
    absent column takes the field's default.

    ``trusted``: the row was written from a validated record (this module's own tables), so
    its values are only converted to the fields' types, not checked again (checking took
    about 40% of the time of reading the database for an index rebuild, which every write
    causes).
    """
    if trusted:
        record = object.__new__(kind)
        for name, listed, convert, default in _RESTORERS[kind]:
            value = row.get(name)
            if value is None:
                value = default
            else:
                if listed:
                    value = _split(value)
                if convert is not None:
                    value = convert(value)
            object.__setattr__(record, name, value)
        return record
    values: dict[str, Any] = {
        column: _split(value) if column in _LIST_COLUMNS else value
        for column in record_columns(kind)
        if (value := row.get(column)) is not None
    }
    return kind(**values)


_Restorer = tuple[str, bool, Callable[[Any], Any] | None, Any]


def _restorers(kind: type[Record]) -> tuple[_Restorer, ...]:
    """Each field of ``kind``: its name (its column's), whether the column holds a list as
    text, what turns the stored value into the field's type (``None``: kept as it is) and the
    field's default."""
    hints = typing.get_type_hints(kind)
    return tuple(
        (
            field.name,
            field.name in _LIST_COLUMNS,
            _converter(hints[field.name]),
            _default(field),
        )
        for field in dataclasses.fields(kind)
    )


def _default(field: dataclasses.Field[Any]) -> Any:
    """What a field holds when its column is NULL (``None`` for a field without default)."""
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _converter(annotation: Any) -> Callable[[Any], Any] | None:
    """What turns a stored value into ``annotation``'s type: an enum by value, a set or a
    tuple from the split list, a float; ``None`` for what is stored as it is (text, whole
    numbers, dates). ``X | None`` converts like ``X`` (a NULL takes the default)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        (inner,) = (arg for arg in args if arg is not type(None))
        return _converter(inner)
    if origin is frozenset:
        (item,) = args
        if isinstance(item, type) and issubclass(item, Enum):
            return lambda values: frozenset(map(item, values))
        return frozenset
    if origin is tuple:
        return tuple
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation
    if annotation is float:
        return float
    return None


#: :func:`_restorers` of each kind of record.
_RESTORERS: dict[type[Record], tuple[_Restorer, ...]] = {
    kind: _restorers(kind) for kind in RECORD_TABLES
}


class RecordRows(MadeOnRead[Row]):
    """The table rows of a list of records, each made when read (:func:`record_to_row`):
    an import holds its records once, not a second copy of every row.

    >>> rows = RecordRows([Organisation("acme", "Acme", "company")])
    >>> len(rows), rows[0]["id"], [row["kind"] for row in rows[0:1]]
    (1, 'acme', ['company'])
    """

    def __init__(self, records: Sequence[Record]) -> None:
        self._records = records

    def __len__(self) -> int:
        return len(self._records)

    def _make(self, k: int) -> Row:
        return record_to_row(self._records[k])


def dataset_rows(dataset: Dataset, builtin: Taxonomies) -> dict[str, Sequence[Row]]:
    """The rows of every table for ``dataset``; taxonomy terms not in ``builtin`` included.

    The rows of the record tables are made as they are read (:class:`RecordRows`).
    """
    records = records_by_file(dataset)
    rows: dict[str, Sequence[Row]] = {
        table: RecordRows(records[RECORD_FILES[kind]]) for kind, table in RECORD_TABLES.items()
    }
    terms = term_rows(dataset, builtin)
    rows["taxonomy_terms"] = [
        {"vocabulary": vocabulary, **{c: _stored(c, values.get(c)) for c in _TERM_COLUMNS}}
        for vocabulary, name in TERM_FILES.items()
        for values in terms[name]
    ]
    return rows


def _terms(rows: Iterable[Mapping[str, Any]], vocabulary: str) -> list[Term]:
    return [
        Term(
            code=row["code"],
            label=row["label"],
            parent=row["parent"],
            description=row["description"],
            source=row["source"],
            attributes={key: row[key] for key in ("sdg", "label_fr") if row.get(key)},
        )
        for row in rows
        if row["vocabulary"] == vocabulary
    ]


def rows_to_dataset(
    tables: Mapping[str, Iterable[Mapping[str, Any]]],
    builtin: Taxonomies,
    *,
    trusted: bool = False,
) -> Dataset:
    """Rebuild a :class:`Dataset` from table rows (the inverse of :func:`dataset_rows`);
    ``trusted``: see :func:`row_to_record` (the dataset's own checks still run)."""
    terms = list(tables.get("taxonomy_terms", ()))
    taxonomies = builtin.extended(
        themes=_terms(terms, "themes"), capabilities=_terms(terms, "capabilities")
    )

    def records(kind: type[R]) -> list[R]:
        return [
            row_to_record(kind, row, trusted=trusted) for row in tables.get(RECORD_TABLES[kind], ())
        ]

    return Dataset.build(
        organisations=records(Organisation),
        partnerships=records(Partnership),
        capabilities=records(Capability),
        memberships=records(Membership),
        flags=records(Flag),
        conflicts=records(Conflict),
        taxonomies=taxonomies,
    )
