"""Benchmark the words: encoder throughput, nearest-profile search, concept-note intake, memory.

1. **Encoding**: texts per second of the multilingual sentence encoder (``use``) and of the
   TF-IDF fallback on generated organisation and partnership descriptions, BLAS limited to
   ``--threads``; the time for ``--profiles`` texts is extrapolated from it (the cost is linear
   in tokens).
2. **Search**: nearest ``--k`` profiles among ``--profiles`` unit vectors (clustered like real
   profiles: 512 dimensions, float16; queries near a profile), brute force against the HNSW
   graph of
   :class:`matcher.engine.text.ProfileSearch`: build time, latency p50/p95 and recall@k.
3. **Intake**: ``draft`` latency per concept note of ``tests/data/notes/`` once the model is
   loaded (the note read against the seed's organisations).
4. **Memory**: the float16 embeddings at 1,000,000 organisations, n × d × 2 bytes.

    python scripts/bench_text.py [--profiles 100000] [--sample 2000] [--threads 2] [--k 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from matcher.engine.text import ProfileSearch, SentenceEncoder, TfidfEncoder
from matcher.formats.datadir import read_data_directory
from matcher.formats.generate import generate_directory
from matcher.formats.taxonomy_io import default_taxonomy_dir
from matcher.usecases.drafting import make_intake

NOTES = Path(__file__).resolve().parent.parent / "tests" / "data" / "notes"


def generated_texts(count: int) -> list[str]:
    """Descriptions of a generated directory, organisations and partnerships in the
    proportion a profile build embeds them."""
    with tempfile.TemporaryDirectory() as folder:
        generate_directory(max(count, 200), folder, seed=0)
        dataset = read_data_directory(folder)
    texts = [o.description for o in dataset.organisations.values() if o.description]
    texts += [f"{p.name}. {p.description}" for p in dataset.partnerships.values()]
    rng = np.random.default_rng(0)
    return [texts[i] for i in rng.permutation(len(texts))[:count]]


def encoding(texts: Sequence[str], profiles: int) -> None:
    words = np.mean([len(t.split()) for t in texts])
    use = SentenceEncoder()
    use.encode(["warm up"])
    for name, encoder in (("use", use), ("tfidf", TfidfEncoder().fit(list(texts)))):
        started = time.perf_counter()
        encoder.encode(list(texts))
        seconds = time.perf_counter() - started
        rate = len(texts) / seconds
        print(
            f"encoding ({name}): {len(texts):,} texts of {words:.0f} words in {seconds:.1f} s = "
            f"{rate:,.0f} texts/s -> {profiles:,} texts in {profiles / rate / 60:.1f} min",
            flush=True,
        )


def clustered(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.standard_normal((max(n // 200, 10), d))
    vectors = centres[rng.integers(0, len(centres), n)] + 0.8 * rng.standard_normal((n, d))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float16)


def search(n: int, k: int) -> None:
    rng = np.random.default_rng(0)
    vectors = clustered(n, 512, rng)
    # a query reads like a profile: a profile of the collection, reworded (noise)
    queries = vectors[rng.integers(0, n, 200)].astype(np.float32)
    queries += 0.03 * rng.standard_normal(queries.shape).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    started = time.perf_counter()
    exact = ProfileSearch(vectors, exact_limit=n + 1)
    graph = ProfileSearch(vectors, exact_limit=0)
    built = time.perf_counter() - started
    results = {}
    for name, engine in (("brute force", exact), ("hnsw", graph)):
        times, found = [], []
        for query in queries:
            tic = time.perf_counter()
            positions, _ = engine.nearest(query, k)
            times.append(time.perf_counter() - tic)
            found.append(set(positions.tolist()))
        results[name] = found
        recall = np.mean(
            [len(a & b) / k for a, b in zip(found, results["brute force"], strict=True)]
        )
        print(
            f"search ({name}) of {k} among {n:,}: p50 {np.percentile(times, 50) * 1000:.2f} ms, "
            f"p95 {np.percentile(times, 95) * 1000:.2f} ms, recall@{k} {recall:.3f}",
            flush=True,
        )
    print(f"search: HNSW graph built in {built:.1f} s", flush=True)


def intake() -> None:
    seed = read_data_directory(default_taxonomy_dir().parent / "seed")
    started = time.perf_counter()
    reader = make_intake(seed.taxonomies, seed.organisations, text_encoder="use")
    print(f"intake: ready in {time.perf_counter() - started:.1f} s (model and terms)")
    for note in sorted(NOTES.glob("*.txt")):
        text = note.read_text(encoding="utf-8")
        reader.draft(text)
        times = []
        for _ in range(5):
            tic = time.perf_counter()
            reader.draft(text)
            times.append(time.perf_counter() - tic)
        print(
            f"intake: {note.name} ({len(text.split())} words) {np.median(times) * 1000:.0f} ms",
            flush=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=2_000, help="texts timed to encode")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--k", type=int, default=30)
    args = parser.parse_args(argv)
    with threadpool_limits(limits=args.threads):
        encoding(generated_texts(args.sample), args.profiles)
        search(args.profiles, args.k)
        intake()
    million = 1_000_000 * 512 * 2
    print(f"memory: embeddings of 1,000,000 profiles = {million / 2**30:.2f} GiB (float16, d 512)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
