"""The SQL repository (SQLAlchemy 2 Core) on SQLite or PostgreSQL, and its migrations.

SQLite is the default (a file under ``./var/``, WAL journal, foreign keys on); PostgreSQL is
chosen by URL, e.g. ``postgresql+psycopg://user@host/db``. An import runs in one transaction:
killed half-way, nothing of it is visible.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import NotFoundError, PartnerMatchError
from matcher.domain.model import Organisation
from matcher.domain.taxonomy import Taxonomies
from matcher.storage import tables
from matcher.storage.repository import (
    AuditEntry,
    DataVersions,
    ImportReport,
    ProgressCallback,
    import_audit_entry,
    plan_import,
)
from matcher.storage.rows import Row, rows_to_dataset
from matcher.storage.sync import TABLES, TablePlan

__all__ = [
    "StorageError",
    "make_engine",
    "migrate",
    "open_repository",
    "SqlRepository",
    "CHUNK_ROWS",
    "writer",
    "bump_data_version",
    "read_versions",
    "insert_audit",
    "audit_entry",
    "aware",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Rows per executemany batch.
CHUNK_ROWS = 5_000


class StorageError(PartnerMatchError):
    """The database could not be reached or refused an operation."""


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    # the driver's own transaction handling is off; _sqlite_begin starts transactions
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Writers take the write lock when they begin (``BEGIN IMMEDIATE``): a transaction that
    read first and wrote later could otherwise fail when another wrote in between. Readers
    begin deferred and never wait (WAL)."""
    writer = connection.get_execution_options().get(WRITER_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


#: Execution option marking an engine (or connection) whose transactions write.
WRITER_OPTION = "partnermatch_writer"


def writer(engine: Engine) -> Engine:
    """The engine for transactions that write (``BEGIN IMMEDIATE`` on SQLite)."""
    return engine.execution_options(**{WRITER_OPTION: True})


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created if missing.

    >>> make_engine("sqlite://").dialect.name
    'sqlite'
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def _run_alembic(engine: Engine, step: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with writer(engine).begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, step)(config, revision)
    except SQLAlchemyError as err:
        raise StorageError(f"Migrating {engine.url.render_as_string()} failed: {err}") from err


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` with the Alembic migrations."""
    _run_alembic(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the schema to ``revision`` (``"base"`` drops every table)."""
    _run_alembic(engine, "downgrade", revision)


def _chunks(rows: Sequence[Row], size: int) -> Iterator[Sequence[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class SqlRepository:
    """A :class:`~matcher.storage.repository.Repository` on a SQLAlchemy engine.

    Parameters
    ----------
    engine : Engine
        Already migrated (see :func:`migrate`).
    taxonomies : Taxonomies
        The built-in vocabularies; the stored taxonomy terms extend them.
    """

    def __init__(self, engine: Engine, taxonomies: Taxonomies) -> None:
        self.engine = engine
        self.taxonomies = taxonomies

    def _table(self, name: str) -> Table:
        table: Table = getattr(tables, name)
        return table

    def _read(
        self, connection: Connection, name: str, where: ColumnElement[bool] | None = None
    ) -> list[Row]:
        table = self._table(name)
        query = select(table) if where is None else select(table).where(where)
        result = connection.execute(query)
        columns = list(result.keys())  # once, not per row as a mapping row would
        return [dict(zip(columns, row, strict=True)) for row in result]

    def neighbourhood(self, org_id: str, also: Iterable[str] = ()) -> Dataset:
        """One organisation with what its record page shows, read in one transaction: its
        capabilities and flags, the partnerships it took part in with all their members, and
        those members and the organisations ``also`` names that exist (without their own
        capabilities).

        Raises
        ------
        NotFoundError
        """
        with self.engine.connect() as connection, connection.begin():
            memberships = tables.memberships
            if not self._read(connection, "organisations", tables.organisations.c.id == org_id):
                raise NotFoundError(f"Organisation {org_id!r} not found")
            joined = select(memberships.c.partnership_id).where(memberships.c.org_id == org_id)
            rows = {
                "partnerships": self._read(
                    connection, "partnerships", tables.partnerships.c.id.in_(joined)
                ),
                "memberships": self._read(
                    connection, "memberships", memberships.c.partnership_id.in_(joined)
                ),
                "capabilities": self._read(
                    connection, "capabilities", tables.capabilities.c.org_id == org_id
                ),
                "flags": self._read(connection, "flags", tables.flags.c.org_id == org_id),
            }
            members = {org_id, *also} | {row["org_id"] for row in rows["memberships"]}
            rows["organisations"] = self._read(
                connection, "organisations", tables.organisations.c.id.in_(sorted(members))
            )
        return rows_to_dataset(rows, self.taxonomies)

    def _apply(
        self,
        connection: Connection,
        plan: TablePlan,
        progress: ProgressCallback | None,
        total: int,
    ) -> None:
        spec = plan.spec
        table = self._table(spec.name)
        delete_key = ("id",) if "id" in spec.ignore else spec.key
        delete = table.delete().where(
            and_(*(table.c[column] == bindparam(f"k_{column}") for column in delete_key))
        )
        for chunk in _chunks(plan.deletes, CHUNK_ROWS):
            connection.execute(delete, [{f"k_{c}": row[c] for c in delete_key} for row in chunk])
            if progress is not None:
                progress(spec.name, len(chunk), total)
        if plan.updates:
            columns = [c for c in plan.updates[0] if c not in spec.key]
            values: dict[str, Any] = {column: bindparam(f"v_{column}") for column in columns}
            if "version" in table.c:
                values["version"] = table.c.version + 1
            update = (
                table.update()
                .where(and_(*(table.c[c] == bindparam(f"k_{c}") for c in spec.key)))
                .values(values)
            )
            for chunk in _chunks(plan.updates, CHUNK_ROWS):
                connection.execute(
                    update,
                    [
                        {
                            **{f"k_{c}": row[c] for c in spec.key},
                            **{f"v_{c}": row[c] for c in columns},
                        }
                        for row in chunk
                    ],
                )
                if progress is not None:
                    progress(spec.name, len(chunk), total)
        for chunk in _chunks(plan.inserts, CHUNK_ROWS):
            connection.execute(table.insert(), list(chunk))
            if progress is not None:
                progress(spec.name, len(chunk), total)

    def import_dataset(
        self,
        dataset: Dataset,
        *,
        actor: str = "system",
        dry_run: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportReport:
        """Upsert ``dataset`` in one transaction; on any error nothing is written.

        Raises
        ------
        StorageError
            If the database refuses the import (nothing is written).
        """
        try:
            with writer(self.engine).connect() as connection:
                transaction = connection.begin()
                try:
                    existing = {name: self._read(connection, name) for name in TABLES}
                    plans = plan_import(existing, dataset, self.taxonomies)
                    report = ImportReport.of(plans, dry_run)
                    if not dry_run:
                        total = report.total.changed
                        # child rows go out before their parents change, parents come in first
                        for name in reversed(list(plans)):
                            self._apply(connection, _only_deletes(plans[name]), progress, total)
                        for name in plans:
                            self._apply(connection, _without_deletes(plans[name]), progress, total)
                        insert_audit(connection, import_audit_entry(actor, report))
                        if total:
                            bump_data_version(connection)
                except BaseException:
                    transaction.rollback()
                    raise
                if dry_run:
                    transaction.rollback()
                else:
                    transaction.commit()
        except SQLAlchemyError as err:
            raise StorageError(f"Import failed, nothing was written: {err}") from err
        return report

    def load_dataset(self) -> Dataset:
        return self.load_snapshot()[1]

    def load_snapshot(self) -> tuple[DataVersions, Dataset]:
        """The data versions and the dataset, read in one consistent snapshot."""
        engine = self.engine
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        with engine.connect() as connection, connection.begin():
            versions = read_versions(connection)
            rows = {name: self._read(connection, name) for name in TABLES}
        # the rows were written from validated records: converted, not checked again
        return versions, rows_to_dataset(rows, self.taxonomies, trusted=True)

    def get_organisation(self, org_id: str) -> Organisation:
        table = tables.organisations
        with self.engine.connect() as connection:
            row = connection.execute(select(table).where(table.c.id == org_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"Organisation {org_id!r} not found")
        return rows_to_dataset({"organisations": [dict(row)]}, self.taxonomies).organisations[
            org_id
        ]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            return {
                name: int(
                    connection.execute(
                        select(func.count()).select_from(self._table(name))
                    ).scalar_one()
                )
                for name in TABLES
            }

    def record_audit(self, entry: AuditEntry) -> None:
        with writer(self.engine).begin() as connection:
            insert_audit(connection, entry)

    def audit_entries(
        self, entity_type: str | None = None, entity_id: str | None = None
    ) -> list[AuditEntry]:
        table = tables.audit_log
        query = select(table).order_by(table.c.id)
        if entity_type is not None:
            query = query.where(table.c.entity_type == entity_type)
        if entity_id is not None:
            query = query.where(table.c.entity_id == entity_id)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [audit_entry(row) for row in rows]


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite drops the time zone of stored datetimes; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def insert_audit(connection: Connection, entry: AuditEntry) -> None:
    """Write an audit entry in the caller's transaction."""
    connection.execute(
        tables.audit_log.insert(),
        {
            "at": entry.at,
            "actor": entry.actor,
            "action": entry.action,
            "entity_type": entry.entity_type,
            "entity_id": entry.entity_id,
            "detail": dict(entry.detail),
        },
    )


def audit_entry(row: Any) -> AuditEntry:
    """An audit-log row as an :class:`AuditEntry`."""
    return AuditEntry(
        actor=row["actor"],
        action=row["action"],
        entity_type=row["entity_type"],
        entity_id=row["entity_id"],
        detail=row["detail"],
        at=aware(row["at"]),
    )


def _only_deletes(plan: TablePlan) -> TablePlan:
    return TablePlan(plan.spec, deletes=plan.deletes, unchanged=plan.unchanged)


def _without_deletes(plan: TablePlan) -> TablePlan:
    return TablePlan(
        plan.spec, inserts=plan.inserts, updates=plan.updates, unchanged=plan.unchanged
    )


def bump_data_version(connection: Connection, *, index: bool = True) -> int:
    """Add one to the data version (in the caller's transaction) and return it.

    ``index=False`` for a write the engine takes without rebuilding its index (a reviewer's
    rejection): the index version stays where it was (:class:`DataVersions`).
    """
    table = tables.data_version
    values: dict[str, Any] = {"version": table.c.version + 1, "updated_at": dt.datetime.now(dt.UTC)}
    if index:
        values["index_version"] = table.c.version + 1  # SET reads the row as it was
    connection.execute(update(table).where(table.c.id == 1).values(**values))
    return int(connection.execute(select(table.c.version).where(table.c.id == 1)).scalar_one())


def read_versions(connection: Connection) -> DataVersions:
    """The data version and the index version (both 0 before the first migration's row)."""
    table = tables.data_version
    row = connection.execute(
        select(table.c.version, table.c.index_version).where(table.c.id == 1)
    ).first()
    return DataVersions(0, 0) if row is None else DataVersions(int(row[0]), int(row[1]))


def open_repository(url: str, taxonomies: Taxonomies) -> SqlRepository:
    """Connect to ``url``, bring its schema up to date and return the repository.

    Raises
    ------
    StorageError
        If the database cannot be reached or migrated.
    """
    try:
        engine = make_engine(url)
    except (SQLAlchemyError, ValueError) as err:
        raise StorageError(f"Bad database URL {url!r}: {err}") from err
    migrate(engine)
    return SqlRepository(engine, taxonomies)
