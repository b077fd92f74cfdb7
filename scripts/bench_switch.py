"""Measure how long after a data write every worker serves the new index (snapshot folder).

Imports a data directory into a fresh SQLite database, starts ``--workers`` worker processes
that each hold the service's :class:`~service.holder.EngineHolder` on the same
``--snapshots`` folder (polling the data version every ``--poll`` seconds in the background,
as ``partnermatch serve`` does with ``PARTNERMATCH_SNAPSHOT_DIR``), renames one organisation
through the catalogue (a write that bumps the data version), and prints for each worker the
delay from the write to the moment it serves the new data version, with the new snapshot's
build time (read, index, write, by whichever worker took the lock) for the split. Then a
reviewer rejects a proposal (a write that moves the data version but not the index's: the
workers take it without a new snapshot) and it prints the same delays for it.

    python scripts/bench_switch.py DIR [--workers 2] [--poll 1.0] [--workdir /tmp/switch]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matcher.storage.catalog import SqlCatalog

__all__ = ["main"]


def _worker(database: str, snapshots: Path, poll: float) -> int:
    from matcher.formats.taxonomy_io import load_taxonomies
    from matcher.storage.catalog import SqlCatalog
    from matcher.storage.sql import SqlRepository, make_engine
    from service.holder import EngineHolder

    engine = make_engine(database)
    taxonomies = load_taxonomies()
    repository = SqlRepository(engine, taxonomies)
    catalog = SqlCatalog(engine, taxonomies)
    holder = EngineHolder.on_database(
        repository, catalog, poll_seconds=poll, snapshot_dir=snapshots
    )
    holder.refresh(force=True)
    current = holder.wait(timeout=3600)
    assert current is not None
    print(json.dumps({"version": current.data_version, "at": time.time()}), flush=True)
    holder.watch()
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    served = current.data_version
    while not stop.is_set():
        now = holder.snapshot
        if now is not None and now.data_version != served:
            served = now.data_version
            print(json.dumps({"version": served, "at": time.time()}), flush=True)
        time.sleep(0.01)
    return 0


def _switch(
    workers: Sequence[subprocess.Popen[str]], catalog: SqlCatalog, write: Callable[[], object]
) -> tuple[list[float], int]:
    """Make ``write``; the delay from it until each worker served the data version it made,
    and that version."""
    written = time.time()
    write()
    version = catalog.data_version()
    delays = []
    for worker in workers:
        assert worker.stdout is not None
        line = json.loads(worker.stdout.readline())
        assert line["version"] == version, line
        delays.append(line["at"] - written)
    return delays, version


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement; exit 0."""
    parser = argparse.ArgumentParser(prog="bench_switch", description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/partnermatch-switch"))
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.worker[0], Path(args.worker[1]), float(args.worker[2]))

    from matcher.formats.datadir import read_data_directory
    from matcher.storage.catalog import SqlCatalog
    from matcher.storage.sql import SqlRepository, make_engine, migrate

    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    database = f"sqlite:///{args.workdir / 'db.sqlite'}"
    snapshots = args.workdir / "snapshots"
    started = time.perf_counter()
    dataset = read_data_directory(args.directory)
    engine = make_engine(database)
    migrate(engine)
    SqlRepository(engine, dataset.taxonomies).import_dataset(dataset)
    catalog = SqlCatalog(engine, dataset.taxonomies)
    print(f"{args.directory}: imported into SQLite in {time.perf_counter() - started:.1f} s")

    workers = []
    for _ in range(args.workers):
        command = [sys.executable, __file__, "--worker", database, str(snapshots), str(args.poll)]
        worker = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        workers.append(worker)
    for worker in workers:
        assert worker.stdout is not None
        json.loads(worker.stdout.readline())
    print(f"  {args.workers} workers serving data version {catalog.data_version()}")

    org_id = next(iter(dataset.organisations))
    record = catalog.get_organisation(org_id)
    renamed = replace(record.organisation, name=record.organisation.name + " (renamed)")
    delays, version = _switch(
        workers,
        catalog,
        lambda: catalog.update_organisation(
            renamed, record.capabilities, expected_version=record.version, actor="bench"
        ),
    )
    manifest = json.loads((snapshots / f"v{version:012d}" / "manifest.json").read_text())
    print(
        f"  write -> every worker on version {version}: "
        + ", ".join(f"{d:.2f} s" for d in delays)
        + f" (poll {args.poll:g} s; the new snapshot built once in "
        f"{manifest['build_seconds']:.2f} s, written in {manifest['write_seconds']:.2f} s)"
    )

    lead, *members = list(dataset.organisations)[1:4]
    initiative = {
        "id": "bench-switch",
        "title": "Switch benchmark",
        "lead": lead,
        "needs": [{"capability": "funding", "weight": 1.0}],
    }
    catalog.save_initiative("bench-switch", initiative, create=True, actor="bench")
    proposal = catalog.create_proposal(
        "bench-switch", {"members": [{"id": m} for m in members]}, actor="bench"
    )
    delays, version = _switch(
        workers,
        catalog,
        lambda: catalog.decide(
            proposal.id,
            reviewer="bench",
            decision="reject",
            reason_code="capacity",
            comment="",
            expected_version=1,
        ),
    )
    print(
        f"  rejection -> every worker on version {version}: "
        + ", ".join(f"{d:.2f} s" for d in delays)
        + f" (poll {args.poll:g} s; no new snapshot: {len(list(snapshots.glob('v*')))} in the "
        "folder)"
    )
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
