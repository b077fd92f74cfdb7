"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from matcher.domain.taxonomy import Taxonomies
from matcher.storage.sql import StorageError, downgrade, make_engine, migrate, open_repository
from matcher.storage.tables import metadata
from tests.storage_fixtures import sqlite_engine


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_sqlite_migrations_match_the_declared_schema(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path)
    assert schema_differences(engine) == []
    engine.dispose()


def test_postgresql_migrations_match_the_declared_schema(postgres_engine: Engine) -> None:
    assert schema_differences(postgres_engine) == []


def test_migrating_twice_is_harmless_and_downgrade_empties_the_schema(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path)
    migrate(engine)
    assert "organisations" in inspect(engine).get_table_names()
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()


def test_sqlite_runs_with_wal_journal_and_foreign_keys(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    engine.dispose()


def test_the_sqlite_file_folder_is_created(tmp_path: Path, taxonomies: Taxonomies) -> None:
    repository = open_repository(f"sqlite:///{tmp_path / 'deep' / 'var' / 'x.db'}", taxonomies)
    assert (tmp_path / "deep" / "var" / "x.db").exists()
    repository.engine.dispose()


def test_an_unreachable_database_is_a_clear_storage_error(taxonomies: Taxonomies) -> None:
    with pytest.raises(StorageError, match=r"Migrating postgresql\+psycopg://nobody@127.0.0.1:9"):
        open_repository("postgresql+psycopg://nobody@127.0.0.1:9/none", taxonomies)


def test_a_malformed_url_is_a_clear_storage_error(taxonomies: Taxonomies) -> None:
    with pytest.raises(StorageError, match=r"Bad database URL 'not a url'"):
        open_repository("not a url", taxonomies)


def test_make_engine_accepts_in_memory_sqlite() -> None:
    assert make_engine("sqlite://").dialect.name == "sqlite"


def test_initiatives_stored_before_0004_get_their_owner_and_queue_columns(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0003")
    now = "2026-11-30 10:00:00"
    body = '{"lead": "unicef", "themes": ["youth", "education"], "countries": ["BR"]}'
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO initiatives (id, lead, title, body, version, created_at, updated_at)"
                " VALUES ('i1', 'unicef', '', :body, 1, :now, :now)"
            ),
            {"body": body, "now": now},
        )
        connection.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, entity_type, entity_id, detail)"
                " VALUES (:now, 'broker:ana', 'create', 'initiative', 'i1', '{}')"
            ),
            {"now": now},
        )
    migrate(engine)
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT themes, countries, created_by, archived_at FROM initiatives")
        ).one()
    assert tuple(row) == ("education;youth", "BR", "broker:ana", None)
    engine.dispose()
