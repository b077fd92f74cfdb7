"""Benchmark: validate and import a data directory into SQLite and/or PostgreSQL.

Prints, per database: the time to read and validate the directory, to import it into an empty
schema, to re-import it (nothing changes), and the process's peak memory.

    python -m scripts.bench_import DIR [--sqlite] [--postgres URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import text

from matcher.formats.datadir import read_data_directory
from matcher.formats.taxonomy_io import load_taxonomies
from matcher.storage.sql import SqlRepository, make_engine, migrate

if __package__ in (None, ""):  # run as a file (python scripts/NAME.py): find the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts._bench import peak_rss_mib  # noqa: E402


def _bench(label: str, url: str, folder: Path, connect_args: dict[str, str]) -> None:
    taxonomies = load_taxonomies()
    started = time.perf_counter()
    dataset = read_data_directory(folder, taxonomies)
    validated = time.perf_counter()
    engine = make_engine(url, connect_args=connect_args)
    migrate(engine)
    repository = SqlRepository(engine, taxonomies)
    first = repository.import_dataset(dataset)
    imported = time.perf_counter()
    second = repository.import_dataset(dataset)
    reimported = time.perf_counter()
    rows = sum(repository.counts().values())
    engine.dispose()
    print(
        f"{label:<11} rows {rows:>9,}  validate {validated - started:7.1f} s  "
        f"import {imported - validated:7.1f} s ({first.total.inserted:,} inserted)  "
        f"re-import {reimported - imported:7.1f} s ({second.total.unchanged:,} unchanged)  "
        f"peak RSS {peak_rss_mib():,.0f} MiB",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--sqlite", action="store_true", help="benchmark a fresh SQLite file")
    parser.add_argument("--postgres", metavar="URL", help="benchmark a fresh schema at URL")
    args = parser.parse_args(argv)
    if not args.sqlite and not args.postgres:
        parser.error("choose --sqlite and/or --postgres URL")
    if args.sqlite:
        with tempfile.TemporaryDirectory() as scratch:
            _bench("sqlite", f"sqlite:///{scratch}/bench.db", args.directory, {})
    if args.postgres:
        schema = f"pm_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.postgres)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            _bench(
                "postgresql", args.postgres, args.directory, {"options": f"-csearch_path={schema}"}
            )
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
