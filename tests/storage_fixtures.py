"""Repositories to run one contract suite against: in memory, SQLite and PostgreSQL.

PostgreSQL is at ``$PARTNERMATCH_TEST_POSTGRES_URL`` (default: the local server's ``test``
database, trust auth). Each test gets its own schema, dropped afterwards, so runs never collide.
If the server cannot be reached the PostgreSQL tests fail in CI (``$CI`` set) and are skipped
elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from matcher.storage.sql import make_engine, migrate

POSTGRES_URL = os.environ.get(
    "PARTNERMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["memory", "sqlite", "postgresql"]


def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'test.db'}")
    migrate(engine)
    return engine


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """A fresh schema on the test server, dropped afterwards; the test fails in CI and is
    skipped elsewhere when the server cannot be reached."""
    admin = make_engine(POSTGRES_URL)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as err:
        admin.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}: {err.orig}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield schema
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    with postgres_schema("pm_test") as schema:
        engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
        migrate(engine)
        try:
            yield engine
        finally:
            engine.dispose()
