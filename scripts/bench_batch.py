"""Benchmark batch reports: initiatives per second on the local process pool and on Dask.

On a generated data directory (``--orgs`` organisations) and ``--initiatives`` generated
initiatives it measures, for each engine (local pool, Dask LocalCluster) with 1 and 2
workers: the engine's start-up (pool fork, or cluster start + pickling and scattering the
recommender + unpickling it on every worker) and the throughput of the run itself, in two
modes, each what ``partnermatch report`` writes:

* ``no pictures``: recommend + result.json + HTML + Markdown per initiative, the CSV files
  and the portfolio view (``--no-figures``);
* ``full``: the same plus the SVG pictures (a picture per coalition and the heat-map), on
  the first ``--figure-initiatives`` initiatives.

It also times ``recommend()`` alone in one process: the ceiling per core.

    python scripts/bench_batch.py [--orgs 100000] [--initiatives 1000]
        [--figure-initiatives 200] [--workers 1,2] [--engines local,dask]
        [--workdir /tmp/partnermatch-bench] [--seed 0] [--repeat 1] [--snapshot]

With ``--snapshot`` the recommender is opened from an index snapshot written once into
``--workdir`` (as ``partnermatch report --snapshot``): Dask workers then open it by its path
instead of receiving the pickled index. With ``--repeat R`` each configuration runs R times
and the fastest run is kept (on a shared machine the others are slowed by other work).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from matcher.domain.exceptions import PartnerMatchError
from matcher.engine.index import build_index
from matcher.engine.recommend import CoalitionRecommender
from matcher.engine.snapshot import write_snapshot
from matcher.formats.datadir import read_data_directory
from matcher.formats.generate import generate_directory
from matcher.formats.initiative_files import InitiativeEntry, read_initiatives
from matcher.usecases.indexing import snapshot_recommender
from service.batch import ReportOptions, run_report
from service.batch.engines import default_workers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_recommend import initiative_bodies  # noqa: E402

#: The issue's targets.
TARGET_RATE = 300.0
TARGET_DASK_SCALING = 1.7
TARGET_DASK_VS_LOCAL = 0.85


def _run(
    entries: Sequence[InitiativeEntry],
    recommender: CoalitionRecommender,
    out: Path,
    engine: str,
    workers: int,
    figures: bool,
    snapshot: Path | None,
) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    options = ReportOptions(
        out=out, engine=engine, workers=workers, figures=figures, progress=False, snapshot=snapshot
    )
    summary = run_report(entries, recommender, options)
    wall = time.perf_counter() - started
    if summary.failed:
        print(f"  ({summary.failed} initiatives failed: {summary.errors[0]})", file=sys.stderr)
    return {
        "startup": summary.startup_seconds,
        "compute": summary.compute_seconds,
        "portfolio": summary.portfolio_seconds,
        "wall": wall,
        "rate": summary.computed / summary.compute_seconds,
        "done": summary.computed,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--initiatives", type=int, default=1_000)
    parser.add_argument("--figure-initiatives", type=int, default=200)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--engines", default="local,dask")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/partnermatch-bench"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per configuration; the fastest is kept"
    )
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="answer from an index snapshot (built once in --workdir): the local pool's workers "
        "share its pages, Dask workers open it by its path",
    )
    args = parser.parse_args(argv)
    worker_counts = [int(w) for w in args.workers.split(",")]
    load_before = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    engines = args.engines.split(",")

    folder = args.workdir / f"orgs-{args.orgs}"
    if not (folder / "organisations.csv").exists():
        started = time.perf_counter()
        generate_directory(args.orgs, folder, seed=args.seed)
        print(f"generated {args.orgs:,} organisations in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    dataset = read_data_directory(folder)
    read = time.perf_counter() - started
    started = time.perf_counter()
    snapshot = args.workdir / f"snapshot-orgs-{args.orgs}" if args.snapshot else None
    if snapshot is not None:
        if not snapshot.exists():
            write_snapshot(build_index(dataset), snapshot)
        recommender = snapshot_recommender(snapshot)
    else:
        recommender = CoalitionRecommender().fit(build_index(dataset))
    fitted = time.perf_counter() - started
    portfolio = args.workdir / f"initiatives-{args.orgs}-{args.initiatives}-{args.seed}.jsonl"
    bodies = initiative_bodies(dataset, recommender.index_, args.initiatives, args.seed)
    portfolio.write_text("".join(json.dumps(b) + "\n" for b in bodies), encoding="utf-8")
    entries = read_initiatives(portfolio, dataset.taxonomies)
    print(
        f"{args.orgs:,} organisations: read + validate {read:.1f} s, index + fit {fitted:.1f} s "
        f"(once, in the parent); {len(entries):,} initiatives from {portfolio}",
        flush=True,
    )

    sample = [e.initiative for e in entries[:100] if e.initiative is not None]
    for initiative in sample[:5]:
        recommender.recommend(initiative)  # warm the caches, as the workers' first chunk does
    started = time.perf_counter()
    for initiative in sample:
        try:
            recommender.recommend(initiative)
        except PartnerMatchError:  # a failing initiative still costs its time
            pass
    ceiling = len(sample) / (time.perf_counter() - started)
    print(f"recommend() alone, one process: {ceiling:.1f} initiatives/s", flush=True)

    modes = [("no pictures", False, entries), ("full", True, entries[: args.figure_initiatives])]
    results: dict[tuple[str, str, int], dict[str, float]] = {}
    for mode, figures, subset in modes:
        for engine in engines:
            for workers in worker_counts:
                out = args.workdir / "bench-batch-out"
                runs = [
                    _run(subset, recommender, out, engine, workers, figures, snapshot)
                    for _ in range(max(1, args.repeat))
                ]
                results[mode, engine, workers] = max(runs, key=lambda run: run["rate"])
                r = results[mode, engine, workers]
                print(
                    f"  {mode}, {engine}, {workers} worker(s): {r['done']:.0f} initiatives, "
                    f"{r['rate']:.1f}/s",
                    flush=True,
                )

    print()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"Batch reports, {args.orgs:,} organisations, {default_workers()} CPUs, load average "
        f"at the start {load_before} and the end {load} (other work running skews the figures):"
    )
    header = (
        f"| mode | engine | workers | initiatives | start-up s | run s | portfolio view s "
        f"| initiatives/s | {max(worker_counts)} vs {min(worker_counts)} | vs local |"
    )
    print(header)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode, _, _ in modes:
        for engine in engines:
            for workers in worker_counts:
                r = results[mode, engine, workers]
                base = results[mode, engine, min(worker_counts)]
                scaling = (
                    f"{r['rate'] / base['rate']:.2f}x" if workers != min(worker_counts) else ""
                )
                local = results.get((mode, "local", workers))
                versus = f"{r['rate'] / local['rate']:.2f}" if local and engine != "local" else ""
                print(
                    f"| {mode} | {engine} | {workers} | {r['done']:.0f} | {r['startup']:.1f} "
                    f"| {r['compute']:.1f} | {r['portfolio']:.1f} | {r['rate']:.1f} | {scaling} "
                    f"| {versus} |"
                )
    print()
    print(f"recommend() alone, one process: {ceiling:.1f} initiatives/s (the ceiling per core)")
    most = max(worker_counts)
    if ("no pictures", "local", most) in results:
        rate = results["no pictures", "local", most]["rate"]
        verdict = "met" if rate >= TARGET_RATE else "NOT met"
        print(
            f"target >= {TARGET_RATE:.0f}/s with {most} local processes: {verdict} ({rate:.1f}/s)"
        )
    if "dask" in engines and len(worker_counts) > 1:
        for mode, _, _ in modes:
            dask_rate = results[mode, "dask", most]["rate"]
            speed_up = dask_rate / results[mode, "dask", min(worker_counts)]["rate"]
            ratio = dask_rate / results[mode, "local", most]["rate"] if "local" in engines else 1
            scaled = "met" if speed_up >= TARGET_DASK_SCALING else "NOT met"
            close = "met" if ratio >= TARGET_DASK_VS_LOCAL else "NOT met"
            print(
                f"{mode}: Dask {most} vs {min(worker_counts)} workers {speed_up:.2f}x "
                f"(target >= {TARGET_DASK_SCALING}x: {scaled}); Dask vs local pool "
                f"{ratio:.2f} (target >= {TARGET_DASK_VS_LOCAL}: {close})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
