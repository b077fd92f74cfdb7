"""A bounded load test: a mix of recommendations, reads and reviews from concurrent clients.

Imports a data directory into a database (PostgreSQL by ``--db``, else SQLite), starts
``partnermatch serve`` (gunicorn) on a free loopback port, then for ``--seconds`` runs
``--clients`` keep-alive clients, each picking at random: a recommendation (45%), a read
(organisation list or page, proposal queue; 40%) or a review step (propose a recommended
coalition, or decide a pending one; 15%). Prints throughput, p50/p99 per kind, the error count
(any 5xx, any unexpected 4xx) and the server's memory (RSS of the master and its workers,
sampled every 2 s: first, last, peak).

    python scripts/load_test.py [--orgs 100000] [--db postgresql+psycopg://...]
        [--clients 16] [--seconds 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api import ROOT, bodies, cli, free_port  # noqa: E402

from matcher.formats.generate import generate_directory  # noqa: E402

CLI = [sys.executable, "-m", "service.cli"]


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (gunicorn workers), MiB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class Client:
    """One keep-alive connection that records each request's kind, status and latency."""

    def __init__(self, port: int, keys: dict[str, str], record: Any) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.keys = keys
        self.record = record

    def request(
        self, kind: str, method: str, path: str, role: str, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=data, headers=headers)
            response = self.connection.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self.connection.close()
            status, payload = 599, b"null"
        self.record(kind, status, time.perf_counter() - started)
        try:
            return status, json.loads(payload or b"null")
        except ValueError:
            return status, None


def run(
    port: int,
    keys: dict[str, str],
    payloads: Sequence[dict[str, Any]],
    org_ids: Sequence[str],
    clients: int,
    seconds: float,
    pid: int,
) -> None:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    pending: list[int] = []
    memory: list[float] = []
    deadline = time.monotonic() + seconds

    def record(kind: str, status: int, elapsed: float) -> None:
        with lock:
            latencies[kind].append(elapsed)
            expected = status < 400 or (kind == "decide" and status == 409)
            if not expected:
                errors[f"{kind} {status}"] += 1

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        client = Client(port, keys, record)
        while time.monotonic() < deadline:
            roll = rng.random()
            if roll < 0.45:
                client.request(
                    "recommend", "POST", "/v1/recommendations", "broker", rng.choice(payloads)
                )
            elif roll < 0.85:
                choice = rng.random()
                if choice < 0.4:
                    client.request(
                        "read", "GET", f"/v1/organisations/{rng.choice(org_ids)}", "reviewer"
                    )
                elif choice < 0.8:
                    offset = rng.randrange(0, 1000)
                    client.request(
                        "read", "GET", f"/v1/organisations?limit=20&offset={offset}", "broker"
                    )
                else:
                    client.request(
                        "read", "GET", "/v1/proposals?status=proposed&limit=20", "reviewer"
                    )
            else:
                with lock:
                    proposal = pending.pop() if pending and rng.random() < 0.6 else None
                if proposal is not None:
                    decision = {
                        "decision": rng.choice(["approve", "reject"]),
                        "reason_code": "other",
                    }
                    client.request(
                        "decide", "POST", f"/v1/proposals/{proposal}/reviews", "reviewer", decision
                    )
                else:
                    status, body = client.request(
                        "propose", "POST", "/v1/initiatives/load-test/recommendations", "broker"
                    )
                    if status == 200 and body["coalitions"]:
                        status, created = client.request(
                            "propose",
                            "POST",
                            "/v1/initiatives/load-test/proposals",
                            "broker",
                            {"coalition": body["coalitions"][0]},
                        )
                        if status == 201:
                            with lock:
                                pending.append(created["id"])

    def sample_memory() -> None:
        while time.monotonic() < deadline:
            memory.append(rss_mib(pid))
            time.sleep(2)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    threads.append(threading.Thread(target=sample_memory))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    total = sum(len(v) for v in latencies.values())
    print(f"{clients} clients for {wall:.0f} s: {total} requests, {total / wall:.1f} requests/s")
    print("| kind | requests | per s | p50 (ms) | p99 (ms) |")
    print("|---|---|---|---|---|")
    for kind in ("recommend", "read", "propose", "decide"):
        count = len(latencies.get(kind, []))
        values = np.asarray(latencies.get(kind, [0.0])) * 1000
        print(
            f"| {kind} | {count} | {count / wall:.1f} "
            f"| {np.percentile(values, 50):.1f} | {np.percentile(values, 99):.1f} |"
        )
    print(f"errors: {sum(errors.values())} {dict(errors) if errors else ''}")
    if memory:
        print(
            f"server RSS (master + workers): first {memory[0]:.0f} MiB, last {memory[-1]:.0f} MiB, "
            f"peak {max(memory):.0f} MiB over {len(memory)} samples"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=100_000, help="0: the seed data")
    parser.add_argument("--db", help="database URL (default: a SQLite file in --workdir)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/partnermatch-load"))
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    folder = ROOT / "data" / "seed"
    if args.orgs:
        folder = args.workdir / f"orgs-{args.orgs}"
        if not (folder / "organisations.csv").exists():
            generate_directory(args.orgs, folder, seed=0)
    url = args.db or f"sqlite:///{args.workdir / f'load-{args.orgs}.db'}"
    env = {
        **os.environ,
        "PARTNERMATCH_SECRET_KEY": "load",
        "PARTNERMATCH_RATE_LIMIT": "1000000/minute",
    }
    started = time.perf_counter()
    cli("import", str(folder), "--db", url, env=env)
    print(
        f"imported {folder.name} into {url.split('?')[0]} in {time.perf_counter() - started:.0f} s"
    )
    keys = {
        role: cli(
            "keys", "create", "--role", role, "--name", f"load-{role}", "--db", url, env=env
        ).strip()
        for role in ("broker", "reviewer")
    }
    payloads = bodies(folder, 200, seed=1)
    org_ids = [
        line.split(",", 1)[0]
        for line in (folder / "organisations.csv").read_text().splitlines()[1:2001]
    ]
    port = free_port()
    log = (args.workdir / "load-server.log").open("w")
    server = subprocess.Popen(
        [*CLI, "serve", "--db", url, "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        ready_since = time.perf_counter()
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    connection.close()
                    break
                connection.close()
            except OSError:
                pass
            if server.poll() is not None:
                raise SystemExit("the server exited; see load-server.log")
            time.sleep(0.5)
        time.sleep(2 * args.workers)  # let every worker build its index
        print(f"server ready in {time.perf_counter() - ready_since:.0f} s")
        initiative = {**payloads[0], "id": "load-test"}
        setup = Client(port, keys, lambda *_: None)
        setup.request("setup", "POST", "/v1/initiatives", "broker", initiative)
        run(port, keys, payloads, org_ids, args.clients, args.seconds, server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
