"""A real server for end-to-end tests: ``partnermatch serve`` (gunicorn) on PostgreSQL in a
schema of its own, keys made with the CLI, stopped by its PID."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.api_fixtures import BRAZIL
from tests.storage_fixtures import POSTGRES_URL, postgres_schema

CLI = [sys.executable, "-m", "service.cli"]
SECRET = "e2e-secret"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections use a fresh schema, dropped afterwards."""
    with postgres_schema("pm_e2e") as schema:
        yield f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: what a client sees when the server dies under it: a refused or reset connection, or a
#: response cut short (``http.client.IncompleteRead``)
CONNECTION_LOST = (OSError, http.client.HTTPException)


def cli_env() -> dict[str, str]:
    return {
        **os.environ,
        "PARTNERMATCH_SECRET_KEY": SECRET,
        "PYTHONUNBUFFERED": "1",
        "PARTNERMATCH_TEXT_ENCODER": "tfidf",
    }


def run_cli(*args: str) -> str:
    result = subprocess.run(
        [*CLI, *args], env=cli_env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def call(
    base: str,
    method: str,
    path: str,
    key: str | None = None,
    body: Any = None,
    *,
    raw: bytes | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    timeout: float = 120,
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request; returns status, headers and the decoded JSON body."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read() or "null")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read() or "null")


def propose_over_http(
    base: str, broker: str, *, posted: tuple[int, ...] = (201, 409)
) -> tuple[dict[str, str], dict[str, Any]]:
    """As the broker, over HTTP: post :data:`~tests.api_fixtures.BRAZIL` (with a status in
    ``posted``: 409 when it is there already) and propose its first recommended coalition;
    returns the proposal's headers and body."""
    status, _, posted_body = call(base, "POST", "/v1/initiatives", broker, BRAZIL)
    assert status in posted, (status, posted_body)
    status, _, recommended = call(
        base, "POST", f"/v1/initiatives/{BRAZIL['id']}/recommendations", broker
    )
    assert status == 200 and recommended["coalitions"], (status, recommended)
    status, headers, proposal = call(
        base,
        "POST",
        f"/v1/initiatives/{BRAZIL['id']}/proposals",
        broker,
        {"coalition": recommended["coalitions"][0]},
    )
    assert status == 201, (status, proposal)
    return headers, proposal


@dataclass
class LiveServer:
    """A running ``partnermatch serve``."""

    database_url: str
    log_path: Path
    workers: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    #: the status of every ``/readyz`` answer :meth:`start` got while it waited
    readiness_answers: list[int] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120, *, new_port: bool = False) -> LiveServer:
        """Serve and wait until every worker has built its index.

        ``new_port`` moves to a fresh port first (a restart after ``kill -9``). The port was
        free when probed, but another process may take it before gunicorn binds (the client
        side of any connection draws from the same range): then this starts on a fresh one.
        """
        if new_port:
            self.port = free_port()
        for _ in range(3):
            if self._launch(timeout):
                return self
            self.port = free_port()
        raise AssertionError(f"no free port to serve on:\n{self.log_path.read_text()}")

    def _launch(self, timeout: float) -> bool:
        """One try at :meth:`start`; False when the port was taken."""
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                *CLI,
                "serve",
                "--db",
                self.database_url,
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=cli_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 reaches the workers
        )
        log.close()
        deadline = time.monotonic() + timeout
        ready = 0
        self.readiness_answers = []
        while ready < 2 * self.workers:  # every worker has built its index
            try:
                status = call(self.base, "GET", "/readyz", timeout=5)[0]
            except CONNECTION_LOST:
                ready = 0
            else:
                self.readiness_answers.append(status)
                ready = ready + 1 if status == 200 else 0
            if self.process.poll() is not None:
                with self.log_path.open("rb") as log_file:
                    log_file.seek(log_start)
                    this_launch = log_file.read().decode(errors="replace")
                assert "Address already in use" in this_launch, self.log_path.read_text()
                return False
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.1)
        return True

    def stop(self) -> int:
        """SIGTERM, wait; the exit status."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.kill()

    def kill(self) -> None:
        """kill -9 the master and its workers at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@pytest.fixture
def live_server(postgres_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """An unstarted server on a fresh PostgreSQL schema; stopped (or killed) afterwards."""
    server = LiveServer(postgres_url, tmp_path / "server.log")
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()
