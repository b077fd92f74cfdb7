"""Reliability over real HTTP on PostgreSQL: reviewers racing, readers during imports, and
kill -9 in the middle of an import and of reviews."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from matcher.formats.generate import generate_directory
from matcher.storage import tables
from matcher.storage.sql import make_engine
from tests.api_fixtures import SEED
from tests.server_fixtures import (
    CONNECTION_LOST,
    LiveServer,
    call,
    propose_over_http,
    run_cli,
)

pytestmark = pytest.mark.slow
DECISION = {"decision": "approve", "reason_code": "complementary_fit", "comment": "race"}


def zipped(folder: Path, extra_organisations: list[str] | None = None) -> bytes:
    """A data directory as a zip; ``extra_organisations`` are appended CSV rows."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*.csv")):
            text = path.read_text()
            if path.name == "organisations.csv" and extra_organisations:
                text = text.rstrip("\n") + "\n" + "\n".join(extra_organisations) + "\n"
            archive.writestr(str(path.relative_to(folder)), text)
    return buffer.getvalue()


def count_rows(database_url: str, table: Any) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


def keys_for(url: str, *roles: str) -> list[str]:
    return [
        run_cli("keys", "create", "--role", role, "--name", f"{role}-{k}", "--db", url).strip()
        for k, role in enumerate(roles)
    ]


def propose(base: str, broker: str) -> int:
    """The id of a new proposal of the first coalition recommended for BRAZIL."""
    _, proposal = propose_over_http(base, broker)
    return int(proposal["id"])


def test_of_reviewers_deciding_at_once_exactly_one_wins(live_server: LiveServer) -> None:
    url = live_server.database_url
    run_cli("import", str(SEED), "--db", url)
    broker, *reviewers = keys_for(url, "broker", *["reviewer"] * 8)
    base = live_server.start().base
    proposal = propose(base, broker)

    barrier = threading.Barrier(len(reviewers))
    statuses: list[int] = []

    def decide(key: str) -> None:
        barrier.wait()
        status, _, _ = call(
            base,
            "POST",
            f"/v1/proposals/{proposal}/reviews",
            key,
            DECISION,
            headers={"If-Match": '"1"'},
        )
        statuses.append(status)

    threads = [threading.Thread(target=decide, args=(key,)) for key in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * (len(reviewers) - 1)
    _, _, trail = call(base, "GET", f"/v1/audit?entity_type=proposal&entity_id={proposal}", broker)
    assert [e["action"] for e in trail["items"]] == ["approve", "propose"]
    assert count_rows(url, tables.reviews) == 1


def test_readers_see_only_complete_data_versions_during_imports(live_server: LiveServer) -> None:
    url = live_server.database_url
    run_cli("import", str(SEED), "--db", url)
    admin, broker = keys_for(url, "admin", "broker")
    base = live_server.start().base
    batches = [
        [f"batch{b}-org{k},Batch {b} organisation {k},ngo,,BR" for k in range(10)] for b in range(4)
    ]
    header = (SEED / "organisations.csv").read_text().splitlines()[0]
    assert header.startswith("id,name,kind")
    totals_seen: set[int] = set()
    problems: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            status, _, page = call(base, "GET", "/v1/organisations?limit=1", broker)
            if status != 200:
                problems.append(f"list {status}")
                continue
            totals_seen.add(page["total"])
            status, _, body = call(
                base, "POST", "/v1/recommendations", broker, {"lead": "unicef", "count": 1}
            )
            if status != 200:
                problems.append(f"recommend {status}: {body}")

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    rows: list[str] = []
    try:
        for batch in batches:
            rows.extend(_pad(batch, header))
            status, _, body = call(
                base,
                "POST",
                "/v1/import",
                admin,
                raw=zipped(SEED, rows),
                content_type="application/zip",
            )
            assert status == 200, body
            time.sleep(0.3)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert problems == []
    assert totals_seen <= {70, 80, 90, 100, 110}
    assert 110 in totals_seen or count_rows(url, tables.organisations) == 110


def _pad(rows: list[str], header: str) -> list[str]:
    """CSV rows ``id,name,kind,sector,country`` padded to the seed's columns."""
    columns = header.split(",")
    result = []
    for row in rows:
        org_id, name, kind, sector, country = row.split(",")
        values = dict.fromkeys(columns, "")
        values.update({"id": org_id, "name": name, "kind": kind, "country": country})
        result.append(",".join(values[c] for c in columns))
    return result


def test_kill_9_during_an_import_leaves_it_all_there_or_not_at_all(
    live_server: LiveServer, tmp_path: Path
) -> None:
    url = live_server.database_url
    run_cli("import", str(SEED), "--db", url)
    (admin,) = keys_for(url, "admin")
    big = tmp_path / "big"
    generate_directory(20_000, big, seed=3)
    archive = zipped(big)
    base = live_server.start().base
    before = count_rows(url, tables.organisations)
    outcome: dict[str, Any] = {}

    def upload() -> None:
        try:
            outcome["response"] = call(
                base, "POST", "/v1/import", admin, raw=archive, content_type="application/zip"
            )
        except CONNECTION_LOST as err:  # the server died under us
            outcome["error"] = err

    thread = threading.Thread(target=upload)
    thread.start()
    time.sleep(2.0)  # the 20,000-organisation import takes several seconds
    live_server.kill()
    thread.join()
    assert "error" in outcome, "the import finished before the kill; make it bigger"

    after = count_rows(url, tables.organisations)
    capabilities = count_rows(url, tables.capabilities)
    assert after in (before, before + 20_000)
    if after == before:
        assert capabilities == count_rows(url, tables.capabilities)
    base = live_server.start(new_port=True).base  # restarts cleanly on the same database
    status, _, page = call(base, "GET", "/v1/organisations?limit=1", admin)
    assert status == 200 and page["total"] == after


def test_kill_9_during_reviews_leaves_each_decision_whole(live_server: LiveServer) -> None:
    url = live_server.database_url
    run_cli("import", str(SEED), "--db", url)
    broker, reviewer = keys_for(url, "broker", "reviewer")
    base = live_server.start().base
    proposals = [propose(base, broker) for _ in range(60)]

    def review_all() -> None:
        for proposal in proposals:
            try:
                call(base, "POST", f"/v1/proposals/{proposal}/reviews", reviewer, DECISION)
            except CONNECTION_LOST:
                return

    thread = threading.Thread(target=review_all)
    thread.start()
    time.sleep(0.1)
    live_server.kill()
    thread.join()

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            decided = {
                row.id
                for row in connection.execute(
                    select(tables.coalition_proposals.c.id).where(
                        tables.coalition_proposals.c.status == "approved"
                    )
                )
            }
            reviewed = [
                row.proposal_id for row in connection.execute(select(tables.reviews.c.proposal_id))
            ]
            audited = {
                int(row.entity_id)
                for row in connection.execute(
                    select(tables.audit_log.c.entity_id).where(
                        tables.audit_log.c.action == "approve"
                    )
                )
            }
    finally:
        engine.dispose()
    # a decision is its status, its review row and its audit entry, or none of them
    assert sorted(reviewed) == sorted(decided) == sorted(audited)
    assert len(decided) < len(proposals), "every review finished before the kill"
