"""Benchmark the index snapshot at scale: build, start-up, and the memory of each worker.

For each data directory it prints

* the snapshot build (``partnermatch index build`` in a child process): wall time, the
  manifest's split (read + validate, index, write), the snapshot's size on disk and the
  build's peak RSS;
* the start-up of a worker from the built snapshot (a fresh Python process: imports, opening
  the memory-mapped snapshot, fitting the recommender, the first answer), the median of the
  workers started;
* the memory of ``--workers`` workers that each opened the same snapshot and answered the
  same ``--requests`` requests: RSS, PSS and USS (private) per worker, from psutil
  (``/proc/PID/smaps``); the extra workers' USS is what each more worker costs;
* with ``--baseline``, the same for a worker that reads the directory and builds its index in
  memory (as without a snapshot), for comparison;
* with ``--import-peak``, the peak RSS and time of reading and validating the directory
  (``read_data_directory``, what ``partnermatch import`` does before writing).

    python scripts/bench_scale.py DIR [DIR ...] [--snapshots /tmp/snapshots] [--workers 3]
        [--requests 50] [--baseline] [--import-peak] [--reuse]

Workers are child processes started one after the other (each after the previous one
answered), then measured together, as gunicorn's workers would be.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

__all__ = ["main"]

MIB = 2**20


def _requests(index: Any, count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Varied requests on the index: a lead with history, 2-4 needs, sometimes a country."""
    import numpy as np

    rng = np.random.default_rng(seed)
    leads = np.flatnonzero(np.asarray(index.partnerships) > 0)
    codes = sorted(index.capability_codes)
    bodies = []
    for k in range(count):
        lead = int(rng.choice(leads))
        body: dict[str, Any] = {
            "id": f"scale-{k}",
            "lead": index.org_ids[lead],
            "needs": [
                {"capability": str(c)}
                for c in rng.choice(codes, size=int(rng.integers(2, 5)), replace=False)
            ],
            "count": 3,
        }
        country = index.country[lead]
        if country and rng.random() < 0.5:
            body["countries"] = [country]
        bodies.append(body)
    return bodies


def _worker(snapshot: Path | None, data: Path | None, requests: int) -> int:
    """A worker: open (or build) the index, fit, answer, report, wait for the parent."""
    started = time.perf_counter()
    from matcher.domain.model import Initiative
    from matcher.engine.recommend import CoalitionRecommender

    imported = time.perf_counter()
    if snapshot is not None:
        from matcher.engine.snapshot import open_snapshot

        index = open_snapshot(snapshot).index
    else:
        from matcher.engine.index import build_index
        from matcher.formats.datadir import read_data_directory

        assert data is not None
        index = build_index(read_data_directory(data))
    opened = time.perf_counter()
    engine = CoalitionRecommender().fit(index)
    fitted = time.perf_counter()
    bodies = _requests(index, max(requests, 1))
    engine.recommend(Initiative.from_mapping(bodies[0]))
    first = time.perf_counter()
    for body in bodies[1:]:
        engine.recommend(Initiative.from_mapping(body))
    done = time.perf_counter()
    report = {
        "import_s": imported - started,
        "open_s": opened - imported,
        "fit_s": fitted - opened,
        "first_answer_s": first - fitted,
        "startup_s": first - started,
        "answers_s": done - first,
    }
    print(json.dumps(report), flush=True)
    sys.stdin.readline()  # the parent measures, then closes stdin
    return 0


def _peak_of(command: Sequence[str]) -> tuple[float, float, str]:
    """Run ``command``; its wall time, peak RSS (MiB, polled every 50 ms) and output."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    output = process.stdout.read().decode() if process.stdout else ""
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output}")
    return time.perf_counter() - started, peak / MIB, output


def _start_workers(
    count: int, requests: int, snapshot: Path | None, data: Path | None
) -> tuple[list[subprocess.Popen[str]], list[dict[str, Any]], list[float]]:
    workers: list[subprocess.Popen[str]] = []
    reports: list[dict[str, Any]] = []
    walls: list[float] = []
    for _ in range(count):
        command = [sys.executable, __file__, "--requests", str(requests)]
        source = ["--worker-snapshot", str(snapshot)] if snapshot else ["--worker-data", str(data)]
        command += source
        started = time.perf_counter()
        worker = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert worker.stdout is not None
        line = worker.stdout.readline()
        if not line:
            raise RuntimeError("a worker died before answering")
        walls.append(time.perf_counter() - started)
        reports.append(json.loads(line))
        workers.append(worker)
    return workers, reports, walls


def _memory(workers: Sequence[subprocess.Popen[str]]) -> list[dict[str, float]]:
    result = []
    for worker in workers:
        info = psutil.Process(worker.pid).memory_full_info()
        result.append({"rss": info.rss / MIB, "pss": info.pss / MIB, "uss": info.uss / MIB})
    return result


def _stop(workers: Sequence[subprocess.Popen[str]]) -> None:
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait(timeout=60)


def _print_workers(
    label: str, reports: list[dict[str, Any]], walls: list[float], memory: list[dict[str, float]]
) -> None:
    def median(key: str) -> float:
        return statistics.median(r[key] for r in reports)

    print(
        f"  {label} start-up (median of {len(reports)}): {statistics.median(walls):.2f} s wall "
        f"(imports {median('import_s'):.2f} s, open {median('open_s'):.2f} s, fit "
        f"{median('fit_s'):.2f} s, first answer {median('first_answer_s'):.3f} s)"
    )
    for k, m in enumerate(memory):
        print(
            f"    worker {k + 1}: RSS {m['rss']:.0f} MiB, PSS {m['pss']:.0f} MiB, "
            f"USS (private) {m['uss']:.0f} MiB"
        )
    extra = [m["uss"] for m in memory[1:]] or [memory[0]["uss"]]
    print(f"    private memory per extra worker (USS, median): {statistics.median(extra):.0f} MiB")


def _bench(directory: Path, args: argparse.Namespace) -> None:
    print(f"{directory}:")
    if args.import_peak:
        code = (
            "import sys; from matcher.formats.datadir import read_data_directory; "
            "d = read_data_directory(sys.argv[1]); print(len(d.organisations))"
        )
        wall, peak, _ = _peak_of([sys.executable, "-c", code, str(directory)])
        print(f"  read + validate: {wall:.1f} s, peak RSS {peak:.0f} MiB")
    snapshot = args.snapshots / f"{directory.name}.snapshot"
    if not (args.reuse and (snapshot / "manifest.json").exists()):
        command = [sys.executable, "-m", "service.cli", "index", "build", "--data"]
        command += [str(directory), "--out", str(snapshot), "--force"]
        wall, peak, _ = _peak_of(command)
        manifest = json.loads((snapshot / "manifest.json").read_text())
        print(
            f"  snapshot build: {wall:.1f} s wall (read + validate {manifest['read_seconds']:.1f}"
            f" s, index {manifest['index_seconds']:.1f} s, write {manifest['write_seconds']:.1f}"
            f" s), {manifest['bytes'] / MIB:.0f} MiB on disk, peak RSS {peak:.0f} MiB"
        )
    workers, reports, walls = _start_workers(args.workers, args.requests, snapshot, None)
    try:
        _print_workers("snapshot", reports, walls, _memory(workers))
    finally:
        _stop(workers)
    if args.baseline:
        workers, reports, walls = _start_workers(args.workers, args.requests, None, directory)
        try:
            _print_workers("in-memory (no snapshot)", reports, walls, _memory(workers))
        finally:
            _stop(workers)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 0."""
    parser = argparse.ArgumentParser(prog="bench_scale", description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="*", type=Path)
    parser.add_argument("--snapshots", type=Path, default=Path("/tmp/partnermatch-snapshots"))
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--import-peak", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="keep an existing snapshot")
    parser.add_argument("--worker-snapshot", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_snapshot or args.worker_data:
        return _worker(args.worker_snapshot, args.worker_data, args.requests)
    args.snapshots.mkdir(parents=True, exist_ok=True)
    print(f"machine: {psutil.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB")
    for directory in args.directories:
        _bench(directory, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
