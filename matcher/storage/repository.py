"""The repository interface in the domain's terms, and its in-memory implementation.

:class:`Repository` is what use cases depend on; :class:`~matcher.storage.sql.SqlRepository`
implements it on SQLite or PostgreSQL and :class:`InMemoryRepository` in plain dicts for unit
tests. Both plan imports with :mod:`matcher.storage.sync`, so they count and store alike.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import NotFoundError
from matcher.domain.model import Organisation
from matcher.domain.taxonomy import Taxonomies
from matcher.storage.rows import Row, dataset_rows, rows_to_dataset
from matcher.storage.sync import IMPORT_ORDER, TABLES, TableCounts, TablePlan, plan_table

__all__ = [
    "ProgressCallback",
    "DataVersions",
    "AuditEntry",
    "ImportReport",
    "Repository",
    "InMemoryRepository",
    "plan_import",
]

#: Called as ``progress(table, rows_just_written, rows_to_write_in_all)`` while an import writes.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class DataVersions:
    """Where the stored data stands: ``data`` moves with every write the engine serves;
    ``index`` is the ``data`` of the last write its index is built from (every write but a
    reviewer's rejection, which the engine takes without a new index)."""

    data: int
    index: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change, who made it and when (the Partnerships Office's audit trail)."""

    actor: str
    action: str
    entity_type: str
    entity_id: str
    detail: Mapping[str, Any] = field(default_factory=dict, hash=False)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did (or, on a dry run, would do), per table."""

    tables: Mapping[str, TableCounts]
    dry_run: bool = False

    @classmethod
    def of(cls, plans: Mapping[str, TablePlan], dry_run: bool) -> ImportReport:
        """The report of an import planned as ``plans``."""
        return cls({name: plan.counts for name, plan in plans.items()}, dry_run)

    @property
    def total(self) -> TableCounts:
        """The counts summed over every table."""
        counts = list(self.tables.values())
        return TableCounts(
            inserted=sum(c.inserted for c in counts),
            updated=sum(c.updated for c in counts),
            unchanged=sum(c.unchanged for c in counts),
            deleted=sum(c.deleted for c in counts),
        )

    def as_dict(self) -> dict[str, dict[str, int]]:
        """Plain counts, for the audit log and JSON output."""
        return {
            name: {
                "inserted": c.inserted,
                "updated": c.updated,
                "unchanged": c.unchanged,
                "deleted": c.deleted,
            }
            for name, c in self.tables.items()
        }


class Repository(Protocol):
    """Where organisations, their history and the review trail are kept."""

    def import_dataset(
        self,
        dataset: Dataset,
        *,
        actor: str = "system",
        dry_run: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportReport:
        """Upsert a validated dataset in one transaction; all or nothing."""
        ...

    def load_dataset(self) -> Dataset:
        """Everything stored, as a :class:`Dataset`."""
        ...

    def get_organisation(self, org_id: str) -> Organisation:
        """One organisation; :class:`NotFoundError` if unknown."""
        ...

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        ...

    def record_audit(self, entry: AuditEntry) -> None:
        """Append to the audit log."""
        ...

    def audit_entries(
        self, entity_type: str | None = None, entity_id: str | None = None
    ) -> list[AuditEntry]:
        """The audit log, oldest first, optionally for one entity."""
        ...


def plan_import(
    existing: Mapping[str, list[Row]], dataset: Dataset, builtin: Taxonomies
) -> dict[str, TablePlan]:
    """Plan every table of an import of ``dataset`` over ``existing`` rows.

    A child table's scope, the parent ids whose child rows are replaced, is the dataset's
    organisation or partnership ids, read from its mappings rather than from rows made for
    the purpose.
    """
    incoming = dataset_rows(dataset, builtin)
    parents = {
        "organisations": frozenset(dataset.organisations),
        "partnerships": frozenset(dataset.partnerships),
    }
    plans = {}
    for name in IMPORT_ORDER:
        spec = TABLES[name]
        scope = parents[spec.parent] if spec.parent else None
        plans[name] = plan_table(spec, existing.get(name, []), incoming[name], scope)
    return plans


def import_audit_entry(actor: str, report: ImportReport) -> AuditEntry:
    """The audit entry an import leaves."""
    return AuditEntry(
        actor=actor,
        action="import",
        entity_type="dataset",
        entity_id="-",
        detail=report.as_dict(),
    )


class InMemoryRepository:
    """A :class:`Repository` in dicts, for unit tests and small tools.

    >>> from matcher.formats.taxonomy_io import load_taxonomies
    >>> taxonomies = load_taxonomies()
    >>> repo = InMemoryRepository(taxonomies)
    >>> org = Organisation("unicef", "UNICEF", "un_entity")
    >>> report = repo.import_dataset(Dataset.build(organisations=[org], taxonomies=taxonomies))
    >>> report.tables["organisations"].inserted, repo.get_organisation("unicef").name
    (1, 'UNICEF')
    """

    def __init__(self, taxonomies: Taxonomies) -> None:
        self.taxonomies = taxonomies
        self._tables: dict[str, dict[tuple[Any, ...], Row]] = {name: {} for name in TABLES}
        self._audit: list[AuditEntry] = []
        self._next_flag_id = 1

    def _key(self, name: str, row: Row) -> tuple[Any, ...]:
        return tuple(row[column] for column in TABLES[name].key)

    def import_dataset(
        self,
        dataset: Dataset,
        *,
        actor: str = "system",
        dry_run: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportReport:
        existing = {name: list(rows.values()) for name, rows in self._tables.items()}
        plans = plan_import(existing, dataset, self.taxonomies)
        report = ImportReport.of(plans, dry_run)
        if dry_run:
            return report
        tables = copy.deepcopy(self._tables)  # applied to a copy: a failure changes nothing
        total = report.total.changed
        for name, plan in plans.items():
            table = tables[name]
            for row in plan.deletes:
                del table[self._key(name, row)]
            for row in plan.updates:
                key = self._key(name, row)
                version = table[key].get("version", 0) + 1
                table[key] = {
                    **table[key],
                    **row,
                    **({"version": version} if "version" in table[key] else {}),
                }
            for row in plan.inserts:
                stored = dict(row)
                if name in ("organisations", "partnerships"):
                    stored["version"] = 1
                if name == "flags":
                    stored["id"] = self._next_flag_id
                    self._next_flag_id += 1
                table[self._key(name, row)] = stored
            if progress is not None:
                progress(name, plan.counts.changed, total)
        self._tables = tables
        self.record_audit(import_audit_entry(actor, report))
        return report

    def load_dataset(self) -> Dataset:
        return rows_to_dataset(
            {name: list(rows.values()) for name, rows in self._tables.items()}, self.taxonomies
        )

    def get_organisation(self, org_id: str) -> Organisation:
        row = self._tables["organisations"].get((org_id,))
        if row is None:
            raise NotFoundError(f"Organisation {org_id!r} not found")
        return rows_to_dataset({"organisations": [row]}, self.taxonomies).organisations[org_id]

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self._tables.items()}

    def record_audit(self, entry: AuditEntry) -> None:
        self._audit.append(entry)

    def audit_entries(
        self, entity_type: str | None = None, entity_id: str | None = None
    ) -> list[AuditEntry]:
        return [
            entry
            for entry in self._audit
            if (entity_type is None or entry.entity_type == entity_type)
            and (entity_id is None or entry.entity_id == entity_id)
        ]
