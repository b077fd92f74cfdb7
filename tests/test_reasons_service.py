"""Reasons, numbers with their scale and decisions fed back, through the API and the review
pages (Flask test client, seed data)."""

from __future__ import annotations

import datetime as dt
import html as html_module
import re
from pathlib import Path
from typing import Any

import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient

from matcher.engine.snapshot import SnapshotStore
from service.pages.render import score_text
from service.services import services
from tests.api_fixtures import BRAZIL, add_key, app_on_a_copy, bearer, propose_brazil
from tests.pages_support import csrf_token, read_page


def _decide(
    client: FlaskClient, keys: dict[str, str], proposal: int, decision: str, reason: str
) -> None:
    response = client.post(
        f"/v1/proposals/{proposal}/reviews",
        json={"decision": decision, "reason_code": reason, "comment": ""},
        headers=bearer(keys["reviewer"]),
    )
    assert response.status_code == 201, response.get_json()


def _visible_text(page: str) -> str:
    """The page's words as a reader sees them (no tags, attributes or the SVG's ids)."""
    body = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _sign_in(client: FlaskClient, key: str) -> None:
    token = csrf_token(client.get("/signin").text)
    assert client.post("/signin", data={"csrf_token": token, "api_key": key}).status_code == 303


# ---- the API ---------------------------------------------------------------------------------


def test_the_api_explains_each_member_in_sentences(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    response = client.post("/v1/recommendations", json=BRAZIL, headers=bearer(keys["broker"]))
    assert response.status_code == 200
    first = response.get_json()["coalitions"][0]
    by_id = {m["id"]: m for m in first["members"]}
    itau = by_id["itau"]["reasons"]
    assert itau[0].startswith("Itau covers funding fully through social investment (§49)")
    assert "Improving education in Brazil" in itau[1] and "(Brazil, 1994)" in itau[1]
    for member in first["members"]:
        assert 2 <= len(member["reasons"]) <= 3
        assert member["reasons"][0].startswith(member["name"])
        assert "funding.investment" not in " ".join(member["reasons"])


def test_the_openapi_document_describes_the_reasons(client: FlaskClient) -> None:
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    member = schemas["RecommendationOut.CoalitionMemberOut"]
    reasons = member["properties"]["reasons"]
    assert reasons["type"] == "array" and reasons["items"]["type"] == "string"
    assert "who introduces it" in reasons["description"]
    assert "reasons" not in member["required"]  # additive: stored proposals lack it


def test_an_approved_proposal_is_a_partnership_at_the_next_index_build(
    app: APIFlask, client: FlaskClient, keys: dict[str, str]
) -> None:
    proposal = propose_brazil(client, keys, rank=1)
    found = services(app)
    before = found.holder.snapshot
    assert before is not None and f"proposal-{proposal['id']}" not in before.dataset.partnerships
    _decide(client, keys, proposal["id"], "approve", "complementary_fit")
    after = found.holder.snapshot  # rebuilt inline after the decision
    assert after is not None and after.data_version > before.data_version
    partnership = after.dataset.partnerships[f"proposal-{proposal['id']}"]
    assert partnership.source == f"proposal {proposal['id']}"
    assert partnership.outcome is not None and partnership.outcome.value == "active"
    assert partnership.start_year == dt.datetime.now(dt.UTC).year
    roles = {
        m.org_id: m.role.value
        for m in after.dataset.memberships
        if m.partnership_id == partnership.id
    }
    assert roles["unicef"] == "lead"
    assert set(roles) == {"unicef", *proposal["members"]}
    assert roles["itau"] == "funder"  # chosen for funding
    # and the engine counts it: UNICEF now worked with every member of that coalition
    index = after.engine.index_
    lead = index.position["unicef"]
    for member in proposal["members"]:
        assert index.collaboration[lead, index.position[member]] > 0


def test_a_rejection_is_told_and_costs_its_members_for_that_lead_only(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    proposal = propose_brazil(client, keys)
    members = sorted(proposal["members"])
    broker = bearer(keys["broker"])

    def what_if(lead: str) -> dict[str, Any]:
        body = {"initiative": {**BRAZIL, "lead": lead}, "members": members}
        response = client.post("/v1/coalitions/what-if", json=body, headers=broker)
        assert response.status_code == 200, response.get_json()
        coalition: dict[str, Any] = response.get_json()["before"]
        return coalition

    before = what_if("unicef")
    assert before["score_parts"]["rejected"] == 0.0
    _decide(client, keys, proposal["id"], "reject", "conflict_of_interest")
    after = what_if("unicef")
    assert after["score_parts"]["rejected"] == -1.0 * len(members)
    assert after["score"] == before["score"] - len(members)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    for member in after["members"]:
        assert member["reasons"][-1] == (
            f"Rejected for this lead on {today}: conflict of interest (proposal {proposal['id']})."
        )
    other = what_if("undp")  # another lead: untouched
    assert other["score_parts"]["rejected"] == 0.0
    assert all("Rejected" not in r for m in other["members"] for r in m["reasons"])


@pytest.mark.parametrize("snapshots", [False, True], ids=["in-memory", "snapshot-folder"])
def test_a_rejection_is_served_at_once_on_the_same_index_and_an_approval_builds_one(
    seeded_database: Path, tmp_path: Path, snapshots: bool
) -> None:
    folder = tmp_path / "snapshots"
    # with a snapshot folder the holder's watcher polls too, and may be the one building when
    # a decision's answer is due: the answer waits for it
    settings = {"SNAPSHOT_DIR": str(folder), "INDEX_POLL_SECONDS": 0.05} if snapshots else {}
    app = app_on_a_copy(seeded_database, tmp_path, **settings)
    client = app.test_client()
    keys = {role: add_key(services(app), role, f"{role}-1") for role in ("broker", "reviewer")}
    rejected, approved = propose_brazil(client, keys), propose_brazil(client, keys, rank=1)
    holder = services(app).holder
    before = holder.snapshot
    assert before is not None and before.index_version == before.data_version
    stored = SnapshotStore(folder).versions()

    _decide(client, keys, rejected["id"], "reject", "conflict_of_interest")
    after = holder.snapshot
    assert after is not None and after.data_version == before.data_version + 1
    assert after.index_version == before.index_version
    assert after.engine.index_ is before.engine.index_  # the same index, no rebuild
    assert set(after.engine.rejected("unicef")) == set(rejected["members"])
    assert not before.engine.rejected("unicef")  # the engine served before is left as it was
    assert SnapshotStore(folder).versions() == stored  # and no snapshot written for it

    _decide(client, keys, approved["id"], "approve", "complementary_fit")
    rebuilt = holder.snapshot
    assert rebuilt is not None and rebuilt.index_version == rebuilt.data_version
    assert rebuilt.data_version == after.data_version + 1
    index = rebuilt.engine.index_
    assert f"proposal-{approved['id']}" in index.records.partnerships_of(index.position["unicef"])
    lifted = set(rejected["members"]) & set(approved["members"])  # approved again: lifted
    assert set(rebuilt.engine.rejected("unicef")) == set(rejected["members"]) - lifted
    if snapshots:
        assert SnapshotStore(folder).versions()[-1] == rebuilt.index_version
    services(app).repository.engine.dispose()


# ---- the pages -------------------------------------------------------------------------------


def test_the_coalition_page_gives_reasons_labels_units_and_the_scale(
    app: APIFlask, client: FlaskClient, keys: dict[str, str]
) -> None:
    proposal = propose_brazil(client, keys)
    _sign_in(client, keys["reviewer"])
    page = client.get(f"/proposals/{proposal['id']}").text
    text = _visible_text(page)
    # why, in words, with the past partnership by name, year and country
    reasons = re.search(r'<dl class="reasons".*?</dl>', page, re.S)
    assert reasons
    assert "Itau covers funding fully through social investment (§49)" in text
    assert '"Improving education in Brazil (UNICEF, Itau, CENPEC)" (Brazil, 1994)' in text
    # labels, never raw codes
    for code in ("funding.investment.social", "civil_society", "media_reach.campaigns", " BR "):
        assert code not in text, code
    assert "Private sector, Civil society" in text and "Brazil" in text
    # units
    assert "USD 2,500,000" in text
    # the score with its scale, and the solver in a reviewer's words
    summary = re.search(r'<p class="score-summary"[^>]*>(.*?)</p>', page, re.S)
    assert summary
    words = _visible_text(summary.group(1))
    assert f"Score {score_text(proposal['score'])}" in words
    assert "of the best possible for this request" in words
    assert "covers 4 of 4 needs" in words
    solver = re.search(r'<p class="solver-line">(.*?)</p>', page, re.S)
    assert solver  # the first coalition of a small pool: the exact solver proved it
    assert _visible_text(solver.group(1)).startswith(
        "Proven the best coalition possible for this request. (solver: milp)"
    )


def test_the_queue_and_the_proposal_page_round_the_score_alike(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    proposal = propose_brazil(client, keys, rank=1)
    _sign_in(client, keys["reviewer"])
    shown = score_text(proposal["score"])
    assert re.fullmatch(r"\d+\.\d\d", shown)
    queue = client.get("/proposals").text
    assert f'<td class="num">{shown}</td>' in queue
    page = client.get(f"/proposals/{proposal['id']}").text
    assert f"score {shown}." in _visible_text(page)
    assert f"<strong>{shown}</strong>" in page  # the detail table's total


def test_the_broker_page_calls_the_first_coalition_the_best_considered(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    _sign_in(client, keys["broker"])
    page = client.get("/recommend?initiative=i49-edu-quality-brazil")
    if page.status_code == 404:  # not stored yet: store it through the API
        client.post("/v1/initiatives", json=BRAZIL, headers=bearer(keys["broker"]))
        page = client.get("/recommend?initiative=i49-edu-quality-brazil")
    form = read_page(page.text).form_with("need-0-capability")
    data = {name: values[0] for name, values in form.items() if values}
    answer = client.post("/recommend", data=data)
    assert answer.status_code == 200, answer.text
    lines = re.findall(r'<p class="solver-line">(.*?)</p>', answer.text, re.S)
    assert len(lines) >= 2
    assert _visible_text(lines[0]).startswith("Proven the best coalition possible")
    assert _visible_text(lines[1]).startswith("An alternative to the first coalition")


def test_the_page_tells_a_reviewer_a_member_was_rejected_for_this_lead(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    rejected = propose_brazil(client, keys)
    _decide(client, keys, rejected["id"], "reject", "conflict_of_interest")
    again = client.post(
        "/v1/initiatives/i49-edu-quality-brazil/proposals",
        json={"members": rejected["members"]},
        headers=bearer(keys["broker"]),
    )
    assert again.status_code == 201, again.get_json()
    _sign_in(client, keys["reviewer"])
    text = _visible_text(client.get(f"/proposals/{again.get_json()['id']}").text)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    note = f"Rejected for this lead on {today}: conflict of interest (proposal {rejected['id']})."
    assert text.count(note) == len(rejected["members"])
    assert "Rejected before for this lead" in text  # the score part, by its label


def test_organisation_names_link_to_their_page_only_where_the_pages_serve_one(
    app: APIFlask,
) -> None:
    from service.pages.coalition import Labeller

    found = services(app)
    snapshot = found.holder.snapshot
    assert snapshot is not None
    labeller = Labeller(snapshot.dataset.organisations, snapshot.dataset.taxonomies)
    with app.test_request_context("/"):
        served = "pages.organisation" in app.view_functions
        url = labeller.org("itau").url
        assert url == ("/organisations/itau" if served else None)
        assert labeller.org("no-such-organisation").url is None
    if not served:  # once the organisation page exists, names link to it
        app.add_url_rule(
            "/organisations/<org_id>", endpoint="pages.organisation", view_func=lambda org_id: ""
        )
        with app.test_request_context("/"):
            assert labeller.org("itau").url == "/organisations/itau"
