"""End to end over real HTTP: ``partnermatch serve`` (gunicorn, 2 workers) on PostgreSQL, a
broker proposes, a reviewer approves, a second decision is refused; stopped by its PID."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from matcher.storage.sql import make_engine
from tests.api_fixtures import SEED
from tests.storage_fixtures import POSTGRES_URL

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "service.cli"]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections use a fresh schema, dropped afterwards."""
    admin = make_engine(POSTGRES_URL)
    schema = f"pm_e2e_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as err:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {err.orig}")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    try:
        yield f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call(
    base: str, method: str, path: str, key: str | None = None, body: Any = None, **headers: str
) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read() or "null")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read() or "null")


def run_cli(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_broker_to_reviewer_flow_over_http(postgres_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "PARTNERMATCH_SECRET_KEY": "e2e-secret", "PYTHONUNBUFFERED": "1"}
    run_cli("import", str(SEED), "--db", postgres_url, env=env)
    broker = run_cli(
        "keys", "create", "--role", "broker", "--name", "ana", "--db", postgres_url, env=env
    ).strip()
    reviewer = run_cli(
        "keys", "create", "--role", "reviewer", "--name", "rui", "--db", postgres_url, env=env
    ).strip()
    admin = run_cli("keys", "create", "--role", "admin", "--db", postgres_url, env=env).strip()
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [*CLI, "serve", "--db", postgres_url, "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if call(base, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.3)

        initiative = json.loads((SEED / "initiatives" / "i49-edu-quality-brazil.json").read_text())
        status, _, _ = call(base, "POST", "/v1/initiatives", broker, initiative)
        assert status == 201
        status, _, recommended = call(
            base, "POST", f"/v1/initiatives/{initiative['id']}/recommendations", broker
        )
        assert status == 200 and recommended["coalitions"]
        status, headers, proposal = call(
            base,
            "POST",
            f"/v1/initiatives/{initiative['id']}/proposals",
            broker,
            {"coalition": recommended["coalitions"][0]},
        )
        assert status == 201 and headers["ETag"] == '"1"'

        status, _, queue = call(base, "GET", "/v1/proposals?status=proposed", reviewer)
        assert [p["id"] for p in queue["items"]] == [proposal["id"]]
        decision = {"decision": "approve", "reason_code": "complementary_fit", "comment": "ok"}
        assert (
            call(base, "POST", f"/v1/proposals/{proposal['id']}/reviews", broker, decision)[0]
            == 403
        )
        status, _, approved = call(
            base,
            "POST",
            f"/v1/proposals/{proposal['id']}/reviews",
            reviewer,
            decision,
            If_Match='"1"',
        )
        assert status == 201 and approved["status"] == "approved"
        status, _, refused = call(
            base,
            "POST",
            f"/v1/proposals/{proposal['id']}/reviews",
            reviewer,
            decision,
            If_Match='"1"',
        )
        assert status == 409 and "someone changed it since" in refused["detail"]
        status, _, trail = call(
            base, "GET", f"/v1/audit?entity_type=proposal&entity_id={proposal['id']}", admin
        )
        assert [e["action"] for e in trail["items"]] == ["approve", "propose"]
    finally:
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
            log.close()
    assert server.returncode == 0, (tmp_path / "server.log").read_text()
    assert broker not in (tmp_path / "server.log").read_text()  # keys never logged
