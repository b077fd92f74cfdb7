"""Plans an idempotent import: which rows to insert, update or delete, and the counts.

Entities (organisations, partnerships, taxonomy terms) are upserted by key and never deleted
by an import. Child rows (capabilities, memberships, flags, conflicts) of the organisations
and partnerships that the imported directory names are replaced: the directory is the truth
for what it mentions, and everything else in the database is left alone.

Examples
--------
>>> plan = plan_table(
...     TABLES["organisations"],
...     existing=[{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
...     incoming=[{"id": "a", "name": "A"}, {"id": "b", "name": "Bee"}, {"id": "c", "name": "C"}],
...     scope=None,
... )
>>> plan.counts
TableCounts(inserted=1, updated=1, unchanged=1, deleted=0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "TableSpec",
    "TABLES",
    "IMPORT_ORDER",
    "TableCounts",
    "TablePlan",
    "plan_table",
]

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class TableSpec:
    """How a table takes part in an import.

    ``key`` identifies a row; ``scope`` (for child tables) names the column(s) holding the
    parent id: rows whose parent the directory names are replaced. ``ignore`` columns are
    not compared (a database-assigned id, a version counter).
    """

    name: str
    key: tuple[str, ...]
    scope: tuple[str, ...] = ()
    parent: str = ""
    ignore: tuple[str, ...] = ()


TABLES: dict[str, TableSpec] = {
    "taxonomy_terms": TableSpec("taxonomy_terms", key=("vocabulary", "code")),
    "organisations": TableSpec("organisations", key=("id",), ignore=("version",)),
    "partnerships": TableSpec("partnerships", key=("id",), ignore=("version",)),
    "capabilities": TableSpec(
        "capabilities", key=("org_id", "capability"), scope=("org_id",), parent="organisations"
    ),
    "memberships": TableSpec(
        "memberships",
        key=("partnership_id", "org_id"),
        scope=("partnership_id",),
        parent="partnerships",
    ),
    "flags": TableSpec(
        "flags",
        key=(
            "org_id",
            "category",
            "level",
            "note",
            "date",
            "source",
            "dismissed_by",
            "dismissed_on",
        ),
        scope=("org_id",),
        parent="organisations",
        ignore=("id",),
    ),
    "conflicts": TableSpec(
        "conflicts", key=("org_a", "org_b"), scope=("org_a", "org_b"), parent="organisations"
    ),
}
#: Parents before children.
IMPORT_ORDER = tuple(TABLES)


@dataclass(frozen=True, slots=True)
class TableCounts:
    """Rows inserted, updated, unchanged and deleted in one table."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    @property
    def changed(self) -> int:
        """The rows an import writes: inserted, updated and deleted."""
        return self.inserted + self.updated + self.deleted


@dataclass(frozen=True, slots=True)
class TablePlan:
    """What to do to one table: rows to insert, rows to update, existing rows to delete."""

    spec: TableSpec
    inserts: Sequence[Row] = field(default_factory=list)
    updates: list[Row] = field(default_factory=list)
    deletes: list[Row] = field(default_factory=list)
    unchanged: int = 0

    @property
    def counts(self) -> TableCounts:
        """The counts a person reads after the import."""
        return TableCounts(
            inserted=len(self.inserts),
            updated=len(self.updates),
            unchanged=self.unchanged,
            deleted=len(self.deletes),
        )


def _in_scope(row: Row, spec: TableSpec, scope: frozenset[str] | None) -> bool:
    if scope is None:
        return True
    return any(row[column] in scope for column in spec.scope)


def plan_table(
    spec: TableSpec,
    existing: Iterable[Row],
    incoming: Iterable[Row],
    scope: frozenset[str] | None,
) -> TablePlan:
    """Compare ``incoming`` rows with ``existing`` ones by key.

    Parameters
    ----------
    spec : TableSpec
    existing : rows now in the table
    incoming : rows of the import
    scope : frozenset of str or None
        For child tables, the parent ids the import names: existing rows of those parents
        that the import lacks are deleted. ``None`` deletes nothing.

    Returns
    -------
    TablePlan
        Rows whose key is new are inserted; rows whose other columns differ are updated
        (child tables without an updatable key, like flags, delete and insert instead).

    Notes
    -----
    O(n) in the number of rows, with one dict of the existing rows. When no existing row is
    in scope, ``incoming`` (a sequence) becomes the inserts as it is, not copied: rows made
    on access (:class:`~matcher.storage.rows.RecordRows`) are then made only when written.
    """
    compared = [column for column in spec.ignore]
    current: dict[tuple[Any, ...], Row] = {}
    for row in existing:
        if _in_scope(row, spec, scope) or not spec.scope:
            current[tuple(row[column] for column in spec.key)] = row
    if not current and isinstance(incoming, Sequence):
        # nothing to compare with or delete: every incoming row is inserted, as it comes
        return TablePlan(spec, inserts=incoming)
    inserts: list[Row] = []
    plan = TablePlan(spec, inserts=inserts)
    seen: set[tuple[Any, ...]] = set()
    unchanged = 0
    for row in incoming:
        key = tuple(row[column] for column in spec.key)
        seen.add(key)
        old = current.get(key)
        if old is None:
            inserts.append(row)
        elif any(
            old.get(column) != value for column, value in row.items() if column not in compared
        ):
            plan.updates.append(row)
        else:
            unchanged += 1
    if spec.scope and scope is not None:
        plan.deletes.extend(row for key, row in current.items() if key not in seen)
    return TablePlan(spec, plan.inserts, plan.updates, plan.deletes, unchanged)
