"""Domain records as rows: the one conversion of a :class:`~matcher.domain.dataset.Dataset`
to plain mappings of column to value, for the interchange files and the database tables.

A row holds the values as the domain does (enums, sets, dates, ``None``), under the columns
of the record's interchange file (:data:`~matcher.formats.datadir.FILES`, which name the
records' fields). Each writer formats them its own way: the data directory writer as text
(:func:`~matcher.formats.datadir_writer.format_cell`), the storage layer as column values
(:mod:`matcher.storage.rows`).

Examples
--------
>>> from matcher.domain.model import Conflict, Organisation
>>> record_row(Conflict("unicef", "acme", "a lawsuit"))
{'org_a': 'unicef', 'org_b': 'acme', 'reason': 'a lawsuit'}
>>> row = record_row(Organisation("acme", "Acme", "company", themes={"health", "education"}))
>>> row["kind"], sorted(row["themes"]), row["size"]
(<Kind.COMPANY: 'company'>, ['education', 'health'], None)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from matcher.domain.dataset import Dataset
from matcher.domain.model import Capability, Conflict, Flag, Membership, Organisation, Partnership
from matcher.domain.taxonomy import Taxonomies, Term, Vocabulary
from matcher.formats.datadir import FILES, TAXONOMY_EXTENSIONS

__all__ = [
    "Record",
    "RECORD_FILES",
    "TERM_FILES",
    "record_columns",
    "record_row",
    "dataset_records",
    "records_by_file",
    "term_rows",
]

Record = Organisation | Capability | Partnership | Membership | Flag | Conflict

#: The interchange file of each kind of record.
RECORD_FILES: dict[type[Record], str] = {
    Organisation: "organisations.csv",
    Capability: "capabilities.csv",
    Partnership: "partnerships.csv",
    Membership: "memberships.csv",
    Flag: "flags.csv",
    Conflict: "conflicts.csv",
}
#: The taxonomy extension file of each vocabulary.
TERM_FILES = {"themes": "taxonomy/themes.csv", "capabilities": "taxonomy/capabilities.csv"}
_TERM_FIELDS = frozenset(field.name for field in dataclasses.fields(Term))


def record_columns(kind: type[Record]) -> tuple[str, ...]:
    """The columns of a kind of record: its interchange file's, named after its fields."""
    return FILES[RECORD_FILES[kind]].columns


def record_row(record: Record) -> dict[str, Any]:
    """The values of ``record`` by column, as the domain holds them."""
    return {column: getattr(record, column) for column in record_columns(type(record))}


def _term_value(term: Term, column: str) -> Any:
    """A term's field, or one of its attributes (``sdg``) for a column that is not a field."""
    if column in _TERM_FIELDS:
        return getattr(term, column)
    return term.attributes.get(column)


def _term_rows(vocabulary: Vocabulary, builtin: Vocabulary, name: str) -> list[dict[str, Any]]:
    columns = TAXONOMY_EXTENSIONS[name].columns
    return [
        {column: _term_value(term, column) for column in columns}
        for code, term in vocabulary.items()
        if code not in builtin
    ]


def records_by_file(dataset: Dataset) -> dict[str, list[Record]]:
    """The records of each interchange file of ``dataset``, in the dataset's order, empty
    files too (the records themselves, not rows: a caller converts them one by one)."""
    records: dict[str, list[Record]] = {name: [] for name in RECORD_FILES.values()}
    for kept in (
        dataset.organisations.values(),
        dataset.capabilities,
        dataset.partnerships.values(),
        dataset.memberships,
        dataset.flags,
        dataset.conflicts,
    ):
        for record in kept:
            records[RECORD_FILES[type(record)]].append(record)
    return records


def term_rows(dataset: Dataset, builtin: Taxonomies) -> dict[str, list[dict[str, Any]]]:
    """The rows of the taxonomy extension files: the terms of ``dataset``'s vocabularies that
    ``builtin`` does not hold, by file name."""
    return {
        name: _term_rows(
            getattr(dataset.taxonomies, vocabulary), getattr(builtin, vocabulary), name
        )
        for vocabulary, name in TERM_FILES.items()
    }


def dataset_records(
    dataset: Dataset, builtin: Taxonomies | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The rows of every interchange file for ``dataset``, by file name, empty files too.

    With ``builtin``, also the taxonomy extension files: the terms of ``dataset``'s
    vocabularies that ``builtin`` does not hold.
    """
    rows = {
        name: [record_row(record) for record in kept]
        for name, kept in records_by_file(dataset).items()
    }
    if builtin is not None:
        rows.update(term_rows(dataset, builtin))
    return rows
