"""Load-test ``POST /v1/recommendations`` over loopback: requests/s and latency percentiles.

For each data set (the seed; a generated directory of ``--orgs`` organisations) and each
worker count, it imports the data into a fresh SQLite file, starts ``partnermatch serve``
(gunicorn) on a free 127.0.0.1 port, waits until ``/readyz`` says the index is built, then
sends a fixed number of requests from ``--clients`` concurrent keep-alive connections and
prints one table row. Bounded in count and time, loopback only.

    python scripts/bench_api.py [--orgs 100000] [--requests 400] [--clients 4]
        [--workers 1,2] [--workdir /tmp/partnermatch-bench-api]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_recommend import initiative_bodies  # noqa: E402

from matcher.engine.index import build_index  # noqa: E402
from matcher.formats.datadir import read_data_directory  # noqa: E402
from matcher.formats.generate import generate_directory  # noqa: E402
from matcher.formats.taxonomy_io import load_taxonomies  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "service.cli"]
THREADS = int(os.environ.get("BENCH_THREADS", "0"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        raise SystemExit(f"partnermatch {args[0]} failed: {done.stderr}")
    return done.stdout


def bodies(folder: Path, count: int, seed: int) -> list[dict[str, Any]]:
    """Varied initiative bodies over the directory (the seed's own initiatives for the seed)."""
    own = sorted((folder / "initiatives").glob("*.json"))
    if own:
        loaded = [json.loads(path.read_text()) for path in own]
        return [loaded[k % len(loaded)] for k in range(count)]
    dataset = read_data_directory(folder, load_taxonomies())
    return initiative_bodies(dataset, build_index(dataset), count, seed)


def load(port: int, key: str, payloads: Sequence[dict[str, Any]], clients: int) -> dict[str, float]:
    """Send every payload once over ``clients`` keep-alive connections; time each."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    work = list(enumerate(payloads))

    def client() -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        while True:
            with lock:
                if not work:
                    break
                _, payload = work.pop()
            body = json.dumps(payload)
            started = time.perf_counter()
            connection.request("POST", "/v1/recommendations", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors += response.status != 200
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    p50, p95, p99 = np.percentile(np.asarray(latencies) * 1000, [50, 95, 99])
    return {
        "rps": len(latencies) / wall,
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "errors": errors,
        "n": len(latencies),
    }


def serve_and_measure(
    folder: Path, workers: int, payloads: Sequence[dict[str, Any]], clients: int, workdir: Path
) -> tuple[dict[str, float], float]:
    database = workdir / f"{folder.name}.db"
    url = f"sqlite:///{database}"
    env = {**os.environ, "PARTNERMATCH_SECRET_KEY": "bench", "PARTNERMATCH_DATABASE_URL": url}
    if not database.exists():
        cli("import", str(folder), "--db", url, env=env)
    key = cli("keys", "create", "--role", "broker", "--name", "bench", "--db", url, env=env).strip()
    port = free_port()
    log = (workdir / f"server-{folder.name}-{workers}.log").open("w")
    server = subprocess.Popen(
        [*CLI, "serve", "--db", url, "--port", str(port), "--workers", str(workers)]
        + (["--threads", str(THREADS)] if THREADS else []),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    started = time.perf_counter()
    try:
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/readyz")
                ready = connection.getresponse().status == 200
                connection.close()
                # every worker must have built its index: ask a few times
                if ready and all(_ready(port) for _ in range(workers * 4)):
                    break
            except OSError:
                pass
            if server.poll() is not None or time.perf_counter() - started > 600:
                raise SystemExit(f"server did not start; see {log.name}")
            time.sleep(0.5)
        startup = time.perf_counter() - started
        load(port, key, payloads[: min(20, len(payloads))], clients)  # warm-up
        return load(port, key, payloads, clients), startup
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()


def _ready(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/readyz")
    status = connection.getresponse().status
    connection.close()
    return status == 200


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=100_000, help="0: the seed data only")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/partnermatch-bench-api"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    folders = [ROOT / "data" / "seed"]
    if args.orgs:
        generated = args.workdir / f"orgs-{args.orgs}"
        if not (generated / "organisations.csv").exists():
            generate_directory(args.orgs, generated, seed=args.seed)
        folders.append(generated)
    print(
        f"POST /v1/recommendations, {args.requests} requests from {args.clients} clients, "
        "loopback, gunicorn gthread workers, SQLite"
    )
    print(
        "| data | workers | start-up (s) | requests/s | p50 (ms) | p95 (ms) | p99 (ms) | errors |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for folder in folders:
        payloads = bodies(folder, args.requests, args.seed)
        for workers in (int(w) for w in args.workers.split(",")):
            figures, startup = serve_and_measure(
                folder, workers, payloads, args.clients, args.workdir
            )
            print(
                f"| {folder.name} | {workers} | {startup:.1f} | {figures['rps']:.1f} | "
                f"{figures['p50']:.1f} | {figures['p95']:.1f} | {figures['p99']:.1f} | "
                f"{int(figures['errors'])} of {int(figures['n'])} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
