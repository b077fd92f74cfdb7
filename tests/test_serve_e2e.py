"""End to end over real HTTP: ``partnermatch serve`` (gunicorn, 2 workers) on PostgreSQL, a
broker proposes, a reviewer approves, a second decision is refused; stopped by its PID. A
started server answers from its first connection: no worker takes requests before its index
is built."""

from __future__ import annotations

import pytest

from tests.api_fixtures import SEED
from tests.server_fixtures import LiveServer, call, propose_over_http, run_cli

pytestmark = pytest.mark.slow


def test_broker_to_reviewer_flow_over_http(live_server: LiveServer) -> None:
    url = live_server.database_url
    run_cli("import", str(SEED), "--db", url)
    broker = run_cli("keys", "create", "--role", "broker", "--name", "ana", "--db", url).strip()
    reviewer = run_cli("keys", "create", "--role", "reviewer", "--name", "rui", "--db", url).strip()
    admin = run_cli("keys", "create", "--role", "admin", "--db", url).strip()
    base = live_server.start().base

    headers, proposal = propose_over_http(base, broker, posted=(201,))
    assert headers["ETag"] == '"1"'

    _, _, queue = call(base, "GET", "/v1/proposals?status=proposed", reviewer)
    assert [p["id"] for p in queue["items"]] == [proposal["id"]]
    decision = {"decision": "approve", "reason_code": "complementary_fit", "comment": "ok"}
    reviews = f"/v1/proposals/{proposal['id']}/reviews"
    assert call(base, "POST", reviews, broker, decision)[0] == 403
    if_match = {"If-Match": '"1"'}
    status, _, approved = call(base, "POST", reviews, reviewer, decision, headers=if_match)
    assert status == 201 and approved["status"] == "approved"
    status, _, refused = call(base, "POST", reviews, reviewer, decision, headers=if_match)
    assert status == 409 and "someone changed it since" in refused["detail"]
    _, _, trail = call(
        base, "GET", f"/v1/audit?entity_type=proposal&entity_id={proposal['id']}", admin
    )
    assert [e["action"] for e in trail["items"]] == ["approve", "propose"]

    assert live_server.stop() == 0
    log = live_server.log_path.read_text()
    assert broker not in log and reviewer not in log  # keys are never logged


def test_no_worker_answers_before_its_index_is_built(live_server: LiveServer) -> None:
    url = live_server.database_url
    run_cli("import", str(SEED), "--db", url)
    broker = run_cli("keys", "create", "--role", "broker", "--db", url).strip()
    base = live_server.start().base

    assert live_server.readiness_answers and set(live_server.readiness_answers) == {200}
    for _ in range(6):  # whichever worker answers has its index: never 503
        _, proposal = propose_over_http(base, broker)
        assert proposal["id"]
    assert live_server.stop() == 0
