"""Benchmark the recommendation engine on generated directories of growing size.

For each size it prints: the time to read the directory and to build the index, the index's
memory (its arrays and matrices) and the process's peak RSS; the latency p50/p95/p99 of
`recommend` over varied initiatives, wall-clock and CPU time (the CPU time of a request is
what it costs without the waits a shared machine adds); the same pipeline with networkx's
personalised PageRank (`tol` = 1e-6 / N, fair at any size) and Adamic-Adar in place of ours,
on a sample of the same initiatives, and the ratio of medians; and the quality of the default
solver: the mean ratio of its objective to the MILP optimum on the same candidate pools.

With ``--text use`` (or ``tfidf``) the index also embeds the organisations' words (the time,
how many texts were embedded and the embeddings' memory are printed) and every request gets
the title and description of a generated partnership; the same requests without words are
timed in the same run, so the difference is what text adds. Requests run with one BLAS
thread, as in a server worker (``partnermatch serve`` sets it; the index build's batch
embedding raises it for that call).

    python -m scripts.bench_recommend --sizes 10000,100000 [--requests 200] [--networkx 20]
        [--quality 200] [--text none|use|tfidf] [--workdir /tmp/bench] [--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from matcher.domain.dataset import Dataset
from matcher.domain.model import ActivityType, Initiative
from matcher.engine.index import Index, IndexConfig, build_index
from matcher.engine.proximity import SparseScores
from matcher.engine.recommend import CoalitionRecommender, EngineConfig, Recommendation
from matcher.engine.solvers import InfeasibleError, greedy, milp, solve
from matcher.formats.datadir import read_data_directory
from matcher.formats.generate import generate_directory

if __package__ in (None, ""):  # run as a file (python scripts/NAME.py): find the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts._bench import peak_rss_mib  # noqa: E402

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def index_mib(index: Index) -> float:
    """Bytes held by the index's arrays and sparse matrices (not its Python dicts)."""
    return sum(_nbytes(getattr(index, f.name)) for f in dataclasses.fields(index)) / 2**20


def _nbytes(value: object) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if sp.issparse(value):
        return int(
            sum(
                getattr(value, a).nbytes for a in ("data", "indices", "indptr") if hasattr(value, a)
            )
        )
    if isinstance(value, tuple):
        return sum(_nbytes(v) for v in value if isinstance(v, np.ndarray)) + 8 * len(value)
    return 0


def initiatives(
    dataset: Dataset, index: Index, count: int, seed: int, *, words: bool = False
) -> list[Initiative]:
    """:func:`initiative_bodies` as checked initiatives."""
    return [
        Initiative.from_mapping(body)
        for body in initiative_bodies(dataset, index, count, seed, words=words)
    ]


def initiative_bodies(
    dataset: Dataset, index: Index, count: int, seed: int, *, words: bool = False
) -> list[dict[str, Any]]:
    """Varied, realistic requests (DESIGN.md 5.2 JSON), deterministic for a seed: a lead with
    history, 1-3 themes, 2-4 activity types, 2-5 needs drawn from the capability codes in use,
    sometimes a target country, required sector or a local partner; with ``words``, the title
    and description of a partnership drawn at random (drawn after the rest, so the other
    fields are the same with and without words)."""
    rng = np.random.default_rng(seed)
    leads = np.flatnonzero(index.partnerships > 0)
    used_codes = sorted({c.capability for c in dataset.capabilities}) or list(
        dataset.taxonomies.capabilities
    )
    themes = [t for t in index.theme_codes if not t.startswith("sdg")]
    activities = [a.value for a in ActivityType]
    result = []
    for k in range(count):
        lead = int(rng.choice(leads))
        country = index.country[lead]
        body: dict[str, Any] = {
            "id": f"bench-{k}",
            "lead": index.org_ids[lead],
            "themes": list(rng.choice(themes, size=int(rng.integers(1, 4)), replace=False)),
            "activity_types": list(
                rng.choice(activities, size=int(rng.integers(2, 5)), replace=False)
            ),
            "needs": [
                {"capability": str(code), "weight": float(rng.choice([0.5, 0.8, 1.0]))}
                for code in rng.choice(used_codes, size=int(rng.integers(2, 6)), replace=False)
            ],
            "constraints": {"min_size": 2, "max_size": int(rng.integers(3, 7))},
            "count": 3,
        }
        if country and rng.random() < 0.5:
            body["countries"] = [country]
            body["constraints"]["require_local_partner"] = bool(rng.random() < 0.5)
        if rng.random() < 0.3:
            body["constraints"]["required_sectors"] = [
                str(rng.choice(["private", "civil_society"]))
            ]
        result.append(body)
    if words and dataset.partnerships:
        described = sorted(dataset.partnerships)
        for body, pick in zip(result, rng.integers(0, len(described), count), strict=True):
            partnership = dataset.partnerships[described[int(pick)]]
            body["title"] = partnership.name
            body["description"] = partnership.description
    return result


class NetworkxRecommender(CoalitionRecommender):
    """The same pipeline, with proximity from networkx written plainly."""

    def fit(self, index: Index) -> NetworkxRecommender:
        super().fit(index)
        self.nx_graph_ = nx.from_scipy_sparse_array(index.collaboration)
        return self

    def proximity(self, seeds: Sequence[int]) -> SparseScores:
        n = self.index_.size
        personalization = {int(s): 1.0 for s in seeds}
        ranks = nx.pagerank(
            self.nx_graph_,
            alpha=1 - self.config.restart,
            personalization=personalization,
            tol=1e-6 / n,
            weight="weight",
        )
        scores = np.zeros(n)
        for node, value in ranks.items():
            scores[node] = value
        return SparseScores.from_dense(scores)

    def common_neighbours(self, seeds: Sequence[int]) -> SparseScores:
        scores = np.zeros(self.index_.size)
        graph = self.nx_graph_
        two_hops = {v for s in seeds for u in graph[s] for v in graph[u]} - set(seeds)
        pairs = [(int(s), v) for s in seeds for v in two_hops]
        for _, v, value in nx.adamic_adar_index(graph, pairs):
            scores[v] += value
        return SparseScores.from_dense(scores)


def latencies(
    engine: CoalitionRecommender,
    requests: Sequence[Initiative],
    answers: list[Recommendation] | None = None,
    cpu: list[float] | None = None,
) -> list[float]:
    """Seconds per request; the recommendations go to ``answers`` and the CPU seconds of
    each request (what the request itself cost, in every thread of this process, without
    waiting for a core other processes hold: the figure that stays meaningful on a shared
    machine) to ``cpu`` when given."""
    times = []
    for initiative in requests:
        started, started_cpu = time.perf_counter(), time.process_time()
        result = engine.recommend(initiative)
        times.append(time.perf_counter() - started)
        if cpu is not None:
            cpu.append(time.process_time() - started_cpu)
        if answers is not None:
            answers.append(result)
    return times


def answer_figures(answers: Sequence[Recommendation]) -> str:
    """What the answers were: with coalitions, with verified relaxations only, with nothing;
    first coalitions proven optimal; ordering violations (a later coalition scoring more)."""
    total = len(answers)
    answered = sum(1 for a in answers if a.coalitions)
    relaxed = sum(
        1
        for a in answers
        if not a.coalitions and any(conflict.relaxations for conflict in a.infeasible)
    )
    exact = sum(1 for a in answers if a.coalitions and a.coalitions[0].optimality_gap == 0)
    violations = sum(
        1
        for a in answers
        for earlier, later in zip(a.coalitions, a.coalitions[1:], strict=False)
        if later.score > earlier.score + 1e-9
    )
    return (
        f"{answered}/{total} answered with coalitions ({answered / total:.1%}), "
        f"{relaxed} more with verified relaxations, {total - answered - relaxed} with nothing; "
        f"first coalition proven optimal in {exact}/{total} ({exact / total:.1%}); "
        f"ordering violations {violations}"
    )


def percentiles(times: Sequence[float]) -> str:
    p50, p95, p99 = np.percentile(np.asarray(times) * 1000, [50, 95, 99])
    return f"p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  p99 {p99:7.1f} ms"


def solver_quality(engine: CoalitionRecommender, requests: Sequence[Initiative]) -> str:
    """Each solver's objective over the MILP's proven optimum on the same pools, and the
    engine's own first coalition (``first``: what a broker reads first) likewise."""
    ratios: dict[str, list[float]] = {
        "greedy": [],
        "greedy+local_search": [],
        "auto": [],
        "first": [],
    }
    skipped = 0
    for initiative in requests:
        context = engine.formulate(initiative)
        try:
            optimum = milp(context.problem, context.rules, time_limit=30.0)
        except InfeasibleError:
            skipped += 1
            continue
        if optimum.score <= 0 or "optimal" not in optimum.notes[0]:
            skipped += 1
            continue
        runs = {
            "greedy": functools.partial(greedy, context.problem, context.rules, local_search=False),
            "greedy+local_search": functools.partial(greedy, context.problem, context.rules),
            "auto": functools.partial(
                solve,
                context.problem,
                context.rules,
                method="auto",
                milp_time_limit=engine.config.milp_time_limit,
            ),
        }
        for name, run in runs.items():
            try:
                ratios[name].append(run().score / optimum.score)
            except InfeasibleError:
                ratios[name].append(0.0)
        first = engine.recommend(initiative).coalitions
        ratios["first"].append(first[0].score / optimum.score if first else 0.0)
    parts = [
        f"{name} mean {np.mean(values):.4f} min {np.min(values):.4f}"
        for name, values in ratios.items()
        if values
    ]
    return f"{len(ratios['auto'])} problems ({skipped} skipped): " + "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--networkx",
        type=int,
        default=20,
        help="requests timed with the networkx pipeline (0: skip)",
    )
    parser.add_argument(
        "--quality", type=int, default=200, help="problems for the solver-quality ratio (0: skip)"
    )
    parser.add_argument("--solver", default="auto", choices=["auto", "greedy", "milp"])
    parser.add_argument(
        "--text",
        default="none",
        choices=["none", "use", "tfidf"],
        help="embed the organisations' words and give the requests words",
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/partnermatch-bench"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    threadpool_limits(1)
    for size in (int(s) for s in args.sizes.split(",")):
        folder = args.workdir / f"orgs-{size}"
        if not (folder / "organisations.csv").exists():
            started = time.perf_counter()
            generate_directory(size, folder, seed=args.seed)
            print(f"[{size:,}] generated in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        dataset = read_data_directory(folder)
        read = time.perf_counter() - started
        started = time.perf_counter()
        encoder = None if args.text == "none" else args.text
        index = build_index(dataset, IndexConfig(text_encoder=encoder))
        built = time.perf_counter() - started
        if index.text is not None:
            text = index.text
            print(
                f"[{size:,}] text ({args.text}): {text.encoded:,} distinct texts embedded "
                f"(of {len(dataset.partnerships) + len(dataset.organisations):,} "
                f"organisations and partnerships), embeddings {text.embeddings.shape} "
                f"{text.embeddings.dtype} = {text.embeddings.nbytes / 2**20:,.0f} MiB, search "
                f"{text.search.method}; index build with text {built:.1f} s",
                flush=True,
            )
        engine = CoalitionRecommender(config=EngineConfig(solver=args.solver)).fit(index)
        print(
            f"[{size:,}] read+validate {read:.1f} s, index {built:.1f} s, index arrays "
            f"{index_mib(index):,.0f} MiB, peak RSS {peak_rss_mib():,.0f} MiB",
            flush=True,
        )
        requests = initiatives(dataset, index, max(args.requests, args.quality), args.seed)
        latencies(engine, requests[:5])  # warm the caches, as a running service has
        answers: list[Recommendation] = []
        cpu: list[float] = []
        ours = latencies(engine, requests[: args.requests], answers, cpu)
        print(
            f"[{size:,}] recommend ({args.solver}), {len(ours)} requests: {percentiles(ours)}"
            f"; CPU time {percentiles(cpu)}; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        print(f"[{size:,}] answers: {answer_figures(answers)}", flush=True)
        if index.text is not None:
            worded = initiatives(dataset, index, args.requests, args.seed, words=True)
            worded_cpu: list[float] = []
            with_words = latencies(engine, worded, cpu=worded_cpu)
            added = np.percentile(with_words, 95) - np.percentile(ours, 95)
            added_cpu = np.percentile(worded_cpu, 95) - np.percentile(cpu, 95)
            print(
                f"[{size:,}] recommend with words ({args.text}), {len(with_words)} requests: "
                f"{percentiles(with_words)}  -> text adds {added * 1000:+.1f} ms at p95; "
                f"CPU time {percentiles(worded_cpu)} -> {added_cpu * 1000:+.1f} ms at p95",
                flush=True,
            )
            queries = [f"{r.title}. {r.description}" for r in worded[:50]]
            tic = time.perf_counter()
            vectors = [index.text.encoder.encode([q])[0] for q in queries]
            encode = (time.perf_counter() - tic) / len(queries)
            tic = time.perf_counter()
            for vector in vectors:
                index.text.nearest(vector, engine.config.pool_text)
            search = (time.perf_counter() - tic) / len(vectors)
            print(
                f"[{size:,}] per request: encoding the words {encode * 1000:.1f} ms, "
                f"nearest {engine.config.pool_text} profiles {search * 1000:.2f} ms "
                f"({index.text.search.method})",
                flush=True,
            )
        if args.networkx:
            sample = requests[: args.networkx]
            plain = NetworkxRecommender(config=EngineConfig(solver=args.solver)).fit(index)
            theirs = latencies(plain, sample)
            ratio = np.median(theirs) / np.median(ours[: len(sample)])
            print(
                f"[{size:,}] networkx pipeline, {len(sample)} requests: {percentiles(theirs)}"
                f"  -> ours is {ratio:,.0f}x faster (median)",
                flush=True,
            )
        if args.quality:
            print(
                f"[{size:,}] solver quality vs MILP optimum, "
                f"{solver_quality(engine, requests[: args.quality])}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
