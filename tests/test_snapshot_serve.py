"""End to end: ``partnermatch serve`` with a snapshot folder; its workers share one snapshot per
data version and every worker serves the new version within seconds of a write."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from matcher.engine.snapshot import SnapshotStore
from matcher.formats.generate import generate_directory
from tests.api_fixtures import SEED
from tests.conftest import REPO_ROOT
from tests.server_fixtures import LiveServer, call, run_cli

pytestmark = pytest.mark.slow


def test_served_workers_share_one_snapshot_and_all_switch_after_a_write(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshots = tmp_path / "snapshots"
    monkeypatch.setenv("PARTNERMATCH_SNAPSHOT_DIR", str(snapshots))
    monkeypatch.setenv("PARTNERMATCH_INDEX_POLL_SECONDS", "0.5")
    url = live_server.database_url
    run_cli("import", str(SEED), "--db", url)
    admin = run_cli("keys", "create", "--role", "admin", "--db", url).strip()
    base = live_server.start().base
    _, _, ready = call(base, "GET", "/readyz")
    version = ready["index_version"]
    assert SnapshotStore(snapshots).versions() == [version]  # one snapshot for both workers

    body = {"id": "new-ngo", "name": "New NGO", "kind": "ngo", "country": "BR"}
    status, _, _ = call(base, "POST", "/v1/organisations", admin, body)
    assert status == 201
    written = time.monotonic()
    seen: list[int] = []
    while len(seen) < 20 or set(seen[-20:]) != {version + 1}:  # 20 answers in a row, new
        assert time.monotonic() - written < 3.0, seen[-20:]
        seen.append(call(base, "GET", "/readyz")[2]["index_version"])
    assert SnapshotStore(snapshots).versions() == [version, version + 1]
    assert live_server.stop() == 0


@pytest.mark.slow
def test_the_switch_benchmark_reports_each_worker_on_the_written_version(tmp_path: Path) -> None:
    folder = tmp_path / "orgs-300"
    generate_directory(300, folder, seed=1)
    finished = subprocess.run(
        [sys.executable, "scripts/bench_switch.py", str(folder), "--workers", "2", "--poll",
         "0.2", "--workdir", str(tmp_path / "work")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "2 workers serving data version 2" in finished.stdout
    assert re.search(r"write -> every worker on version 3: [\d.]+ s, [\d.]+ s", finished.stdout)
    # a rejection: served by both workers, from the snapshot of version 3
    assert re.search(
        r"rejection -> every worker on version 4: [\d.]+ s, [\d.]+ s .*no new snapshot: 2 in",
        finished.stdout,
    )
