"""An import killed with SIGKILL half-way leaves nothing behind (one transaction)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Engine

from matcher.domain.taxonomy import Taxonomies
from matcher.storage.sql import SqlRepository, make_engine
from tests.conftest import SEED_DIR

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from matcher.formats.datadir import read_data_directory
    from matcher.storage.sql import SqlRepository, make_engine, migrate
    from matcher.formats.taxonomy_io import load_taxonomies

    url, folder, options = sys.argv[1], sys.argv[2], sys.argv[3]
    taxonomies = load_taxonomies()
    engine = make_engine(url, connect_args={"options": options} if options else {})
    migrate(engine)
    written = 0

    def kill_half_way(table, rows, total):
        global written
        written += rows
        if written >= total / 2:
            print("killing at", written, "of", total, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    SqlRepository(engine, taxonomies).import_dataset(
        read_data_directory(folder, taxonomies), progress=kill_half_way
    )
    """
)


def run_killed_import(url: str, options: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, url, str(SEED_DIR), options],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_nothing_imported(engine: Engine, taxonomies: Taxonomies) -> None:
    repository = SqlRepository(engine, taxonomies)
    assert sum(repository.counts().values()) == 0
    assert repository.audit_entries() == []


@pytest.mark.slow
def test_sqlite_import_killed_half_way_leaves_nothing(
    tmp_path: Path, taxonomies: Taxonomies
) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'crash.db'}"
    result = run_killed_import(url)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "killing at" in result.stdout
    engine = make_engine(url)
    assert_nothing_imported(engine, taxonomies)
    engine.dispose()


@pytest.mark.slow
def test_postgresql_import_killed_half_way_leaves_nothing(
    postgres_engine: Engine, taxonomies: Taxonomies
) -> None:
    result = run_killed_import(
        postgres_engine.url.render_as_string(hide_password=False),
        _search_path(postgres_engine),
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert_nothing_imported(postgres_engine, taxonomies)


def _search_path(engine: Engine) -> str:
    with engine.connect() as connection:
        schema = connection.exec_driver_sql("select current_schema()").scalar_one()
    return f"-csearch_path={schema}"
