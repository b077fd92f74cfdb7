"""The review pages through the Flask test client, and their pure helpers."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from matcher.domain.country_names import CountryNames
from matcher.domain.exceptions import ValidationError
from matcher.domain.model import Capability, Flag, Organisation
from matcher.storage.catalog import ProposalRecord
from matcher.usecases.organisations import (
    OrganisationDirectory,
    organisation_neighbourhood,
    organisation_profile,
)
from matcher.usecases.screening import dismiss_flag
from service.pages.coalition import HEAT_SCALE
from service.pages.forms import InitiativeForm, build_body, field_for_path, form_from_body
from service.pages.render import HEAT_COLOURS, contrast_ratio, heat_bucket, score_bars, text_colour
from service.pages.views import relaxed
from service.schemas import RecommendationIn
from service.services import Services, services
from tests.api_fixtures import add_key
from tests.pages_support import (
    REPO_ROOT,
    close_app,
    csrf_token,
    make_app,
    propose,
    read_page,
    recommend,
    reject,
    seed_initiative,
    store_initiative,
    submit,
)

#: How the form shows the lead unicef: by its name, which names no other organisation.
UNICEF = "United Nations Children's Fund (UNICEF)"
CSS = Path(__file__).resolve().parent.parent / "service" / "pages" / "static" / "pages.css"


# ---- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    app = make_app(tmp_path / "pages.db")
    yield app
    close_app(app)


@pytest.fixture
def found(app: Any) -> Services:
    return services(app)


@pytest.fixture
def keys(found: Services) -> dict[str, str]:
    return {role: add_key(found, role, f"{role}-one") for role in ("broker", "reviewer", "admin")}


def sign_in(client: FlaskClient, key: str) -> None:
    response = submit(client, "/signin", client.get("/signin").text, api_key=key)
    assert response.status_code == 303, response.text


@pytest.fixture
def reviewer(app: Any, keys: dict[str, str]) -> FlaskClient:
    client = app.test_client()
    sign_in(client, keys["reviewer"])
    return client


@pytest.fixture
def broker(app: Any, keys: dict[str, str]) -> FlaskClient:
    client = app.test_client()
    sign_in(client, keys["broker"])
    return client


@pytest.fixture
def proposal_id(found: Services) -> int:
    return propose(found, seed_initiative(), 0).id


def decide(client: FlaskClient, proposal_id: int, **fields: str) -> Any:
    page = client.get(f"/proposals/{proposal_id}").text
    version = read_page(page).form_with("version")["version"][0]
    defaults = {
        "version": version,
        "decision": "approve",
        "reason_code": "complementary_fit",
        "comment": "",
    }
    return submit(client, f"/proposals/{proposal_id}/decision", page, **{**defaults, **fields})


# ---- pure helpers --------------------------------------------------------------------------


def test_heat_bucket_keeps_white_for_nothing_and_the_darkest_for_full_cover() -> None:
    last = len(HEAT_COLOURS) - 1
    assert heat_bucket(0.0) == 0
    assert heat_bucket(-1.0) == 0
    assert heat_bucket(float("nan")) == 0
    assert heat_bucket(1e-6) == 1
    assert heat_bucket(1.0) == last
    assert heat_bucket(3.0) == last
    values = [k / 100 for k in range(101)]
    buckets = [heat_bucket(v) for v in values]
    assert buckets == sorted(buckets)


@pytest.mark.parametrize("colour", HEAT_COLOURS)
def test_every_heat_colour_has_text_readable_at_wcag_aa(colour: str) -> None:
    assert contrast_ratio(colour, text_colour(colour)) >= 4.5


def test_the_stylesheet_heat_classes_match_the_scale_and_its_text_colours() -> None:
    css = CSS.read_text(encoding="utf-8")
    for k, colour in enumerate(HEAT_COLOURS):
        rule = re.search(
            rf"\.heat-{k} \{{ background: (#[0-9a-f]{{6}}); color: (#[0-9a-f]{{6}}); \}}", css
        )
        assert rule, f".heat-{k} missing"
        assert rule.group(1) == colour
        assert rule.group(2) == text_colour(colour)
    assert len(HEAT_SCALE) == len(HEAT_COLOURS)


def test_score_bars_share_one_axis_and_scale() -> None:
    axis, bars = score_bars([2.0, -1.0, 0.0, 1.0], width=300)
    assert axis == pytest.approx(100.0)
    assert [b.width for b in bars] == pytest.approx([200.0, 100.0, 0.0, 100.0])
    assert bars[1].negative and bars[1].x + bars[1].width == pytest.approx(axis)
    assert score_bars([0.0, 0.0])[0] == 0.0


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("needs.3.weight", "need-3-weight"),
        ("needs.0", "need-0-capability"),
        ("constraints.max_size", "max_size"),
        ("constraints.include.2", "include"),
        ("countries.1", "countries"),
        ("lead", "lead"),
    ],
)
def test_validation_paths_map_to_form_fields(path: str, field: str) -> None:
    assert field_for_path(path) == field


def test_the_form_round_trips_an_initiative(taxonomies: Any) -> None:
    body = seed_initiative()
    form = form_from_body(body, body["id"])
    checked = build_body(form, taxonomies)
    assert form.errors == {}
    assert checked is not None
    assert checked == RecommendationIn.model_validate(body).model_dump(mode="json", exclude={"id"})


def test_form_problems_name_their_field(taxonomies: Any) -> None:
    form = form_from_body({"lead": "unicef"})
    form.values["needs"] = [
        {"capability": "funding", "weight": "heavy", "quantity": ""},
        {"capability": "", "weight": "", "quantity": ""},
        {"capability": "no_such_capability", "weight": "1", "quantity": ""},
    ]
    assert build_body(form, taxonomies) is None
    assert "need-0-weight" in form.errors
    form = InitiativeForm({**form.values, "needs": form.values["needs"][1:]})
    assert build_body(form, taxonomies) is None
    assert list(form.errors) == ["need-1-capability"]  # the row as shown, not as counted
    form = form_from_body({"lead": "unicef", "constraints": {"min_size": 4, "max_size": 2}})
    assert build_body(form, taxonomies) is None and "max_size" in form.errors


# ---- signing in and out --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/proposals", "/proposals/1", "/recommend", "/"])
def test_signed_out_visitors_are_sent_to_sign_in(app: Any, path: str) -> None:
    response = app.test_client().get(path)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/signin")


def test_signing_in_sets_a_hardened_session_cookie_holding_only_the_key_id_and_role(
    app: Any, keys: dict[str, str]
) -> None:
    client = app.test_client()
    page = client.get("/signin").text
    response = submit(client, "/signin", page, api_key=keys["reviewer"], next="/proposals")
    assert response.status_code == 303 and response.headers["Location"] == "/proposals"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    cookie_value = client.get_cookie("session")
    assert cookie_value is not None
    data = app.session_interface.get_signing_serializer(app).loads(cookie_value.value)
    assert set(data) - {"csrf_token", "_flashes", "_permanent"} == {"key_id", "role"}
    assert data["role"] == "reviewer"
    assert keys["reviewer"] not in cookie


def test_the_session_cookie_is_secure_over_https(app: Any, keys: dict[str, str]) -> None:
    client = app.test_client()
    page = client.get("/signin", base_url="https://pm.example")
    response = client.post(
        "/signin",
        base_url="https://pm.example",
        data={"csrf_token": csrf_token(page.text), "api_key": keys["broker"]},
        headers={"Referer": "https://pm.example/signin"},
    )
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]


def test_the_session_cookie_settings_come_from_the_configuration(tmp_path: Path) -> None:
    app = make_app(
        tmp_path / "configured.db", SESSION_COOKIE_SECURE=True, PAGES_SESSION_LIFETIME=600
    )
    try:
        key = add_key(services(app), "reviewer", "r")
        client = app.test_client()
        response = submit(client, "/signin", client.get("/signin").text, api_key=key)
        assert "Secure" in response.headers["Set-Cookie"]
        cookie = client.get_cookie("session")
        assert cookie is not None and cookie.expires is not None
        lifetime = cookie.expires - dt.datetime.now(dt.UTC)
        assert dt.timedelta(seconds=500) < lifetime <= dt.timedelta(seconds=600)
    finally:
        close_app(app)


def test_a_wrong_key_is_refused(app: Any, keys: dict[str, str]) -> None:
    client = app.test_client()
    token = csrf_token(client.get("/signin").text)
    wrong = keys["broker"][:-4] + "AAAA"
    for key in (wrong, "not-a-key", ""):
        response = client.post("/signin", data={"csrf_token": token, "api_key": key})
        assert response.status_code == 401
        assert "This API key is not valid" in response.text
    assert client.get("/proposals").status_code == 303


def test_sign_in_never_redirects_to_another_site(app: Any, keys: dict[str, str]) -> None:
    client = app.test_client()
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        page = client.get("/signin").text  # signing in renews the token
        response = submit(client, "/signin", page, api_key=keys["broker"], next=target)
        assert response.headers["Location"] == "/recommend"


def test_forms_without_a_csrf_token_are_refused(
    app: Any, keys: dict[str, str], reviewer: FlaskClient, proposal_id: int
) -> None:
    response = app.test_client().post("/signin", data={"api_key": keys["reviewer"]})
    assert response.status_code == 400
    assert "CSRF" in response.text and response.mimetype == "text/html"
    response = reviewer.post(
        f"/proposals/{proposal_id}/decision",
        data={"decision": "approve", "reason_code": "other", "version": "1"},
    )
    assert response.status_code == 400
    assert services(app).catalog.get_proposal(proposal_id).status == "proposed"
    response = reviewer.post("/signout", data={"csrf_token": "forged"})
    assert response.status_code == 400


def test_the_api_keeps_working_with_bearer_keys_and_no_csrf_token(
    app: Any, keys: dict[str, str]
) -> None:
    response = app.test_client().post(
        "/v1/recommendations",
        json={"lead": "unicef", "themes": ["education"], "count": 1},
        headers={"Authorization": f"Bearer {keys['broker']}"},
    )
    assert response.status_code == 200, response.text
    assert response.json["coalitions"]


def test_signing_out_ends_the_session(reviewer: FlaskClient) -> None:
    page = reviewer.get("/proposals")
    assert page.status_code == 200
    assert reviewer.get("/signout").status_code == 405
    response = submit(reviewer, "/signout", page.text)
    assert response.status_code == 303 and response.headers["Location"] == "/signin"
    assert reviewer.get("/proposals").status_code == 303


def test_a_revoked_key_signs_out_on_the_next_request(
    found: Services, keys: dict[str, str], reviewer: FlaskClient
) -> None:
    assert reviewer.get("/proposals").status_code == 200
    key_id = keys["reviewer"].split("_")[1]
    found.catalog.revoke_key(key_id, actor="test")
    response = reviewer.get("/proposals")
    assert response.status_code == 303
    page = reviewer.get(response.headers["Location"]).text
    assert "revoked" in page


# ---- the queue -----------------------------------------------------------------------------


def queue_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/proposals/(\d+)"', html)]


def test_the_queue_filters_by_status_lead_theme_and_country(
    found: Services, reviewer: FlaskClient
) -> None:
    brazil = propose(found, seed_initiative("i49-edu-quality-brazil"), 0).id
    india = propose(found, seed_initiative("i50-child-labour-india"), 0).id
    decided = propose(found, seed_initiative("i50-child-labour-india"), 1).id
    reject(found.catalog, decided, "other")
    assert sorted(queue_ids(reviewer.get("/proposals").text)) == [brazil, india]
    assert queue_ids(reviewer.get("/proposals?status=rejected").text) == [decided]
    assert sorted(queue_ids(reviewer.get("/proposals?status=").text)) == [brazil, india, decided]
    assert queue_ids(reviewer.get("/proposals?country=br").text) == [brazil]
    assert queue_ids(reviewer.get("/proposals?theme=child_labour").text) == [india]
    assert queue_ids(reviewer.get("/proposals?lead=unicef&status=").text) == [
        decided,
        india,
        brazil,
    ]
    page = reviewer.get("/proposals?status=nonsense")
    assert page.status_code == 200 and "Unknown status" in page.text


def test_the_queue_sorts_by_score(found: Services, reviewer: FlaskClient) -> None:
    body = seed_initiative()
    ids = [propose(found, body, k).id for k in range(3)]
    scores = {i: found.catalog.get_proposal(i).score for i in ids}
    shown = queue_ids(reviewer.get("/proposals?sort=-score").text)
    assert shown == sorted(ids, key=lambda i: -scores[i])
    assert queue_ids(reviewer.get("/proposals?sort=score").text) == shown[::-1]
    assert queue_ids(reviewer.get("/proposals?sort=created_at").text) == ids


def test_the_queue_paginates_and_its_links_keep_the_filters(
    found: Services, reviewer: FlaskClient
) -> None:
    body = seed_initiative()
    store_initiative(found, body)
    coalition = recommend(found, body)["coalitions"][0]
    for _ in range(45):
        found.catalog.create_proposal(body["id"], coalition, actor="broker:test")
    first = reviewer.get("/proposals?theme=education&sort=-created_at")
    assert len(queue_ids(first.text)) == 20
    assert "Page 1 of 3" in first.text
    link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert link
    target = link.group(1).replace("&amp;", "&")
    assert "theme=education" in target and "sort=-created_at" in target and "page=2" in target
    second = reviewer.get(target)
    assert "Page 2 of 3" in second.text
    assert not set(queue_ids(first.text)) & set(queue_ids(second.text))
    last = reviewer.get(target.replace("page=2", "page=3"))
    assert len(queue_ids(last.text)) == 5
    assert 'rel="next"' not in last.text


# ---- the coalition page --------------------------------------------------------------------


def test_the_coalition_page_shows_the_members_picture_matrix_and_score(
    found: Services, reviewer: FlaskClient, proposal_id: int
) -> None:
    record = found.catalog.get_proposal(proposal_id)
    response = reviewer.get(f"/proposals/{proposal_id}")
    assert response.status_code == 200
    html = response.text
    # the picture, with a text alternative and a legend
    svg = re.search(r"<svg[^>]*role=\"img\".*?</svg>", html, re.S)
    assert svg
    assert "<title" in svg.group(0)
    caption = re.search(r'aria-describedby="([^"]+)"', svg.group(0))
    assert caption and f'<figcaption id="{caption.group(1)}">' in html
    assert "Introduction path to the lead" in svg.group(0)
    assert 'stroke-dasharray="10 6"' in svg.group(0)  # the introduction paths
    for member in record.coalition["members"]:
        assert f'data-id="{member["id"]}"' in svg.group(0)
    # the heat-map: numbers as text, colours as classes
    matrix = re.search(r'<table class="heatmap".*?</table>', html, re.S)
    assert matrix
    for member in record.coalition["members"]:
        for value in member["covers"].values():
            assert f">{value:.2f}</td>" in matrix.group(0)
    assert re.search(r'class="num heat heat-\d"', matrix.group(0))
    # the score parts add up to the score
    parts = re.search(r'<table class="score-parts".*?</table>', html, re.S)
    assert parts
    values = [
        float(v) for v in re.findall(r'data-term="[^"]+" data-value="([^"]+)"', parts.group(0))
    ]
    assert len(values) == len(record.coalition["score_parts"])
    assert sum(values) == pytest.approx(record.score)
    # members' facts, activity types, alternatives, audit
    assert "Private sector" in html and "Brazil" in html  # country names, not codes
    assert "Activity types covered" in html and "covered by" in html
    assert "Alternative coalitions" in html and "Alternative 2" in html
    assert "Audit trail" in html and "Propose" in html


def test_the_coalition_page_recomputes_the_exclusions_and_alternatives(
    found: Services, reviewer: FlaskClient
) -> None:
    body = seed_initiative()
    body["id"] = "edu-without-ikea"
    body["constraints"]["exclude"] = ["ikea"]
    proposal = propose(found, body, 0)
    html = reviewer.get(f"/proposals/{proposal.id}").text
    table = re.search(r'<table class="excluded">.*?</table>', html, re.S)
    assert table
    assert "IKEA" in table.group(0) and "Request" in table.group(0)
    assert "Adds" in html and "Drops" in html


def test_a_missing_proposal_is_a_404_page(reviewer: FlaskClient) -> None:
    response = reviewer.get("/proposals/999")
    assert response.status_code == 404
    assert response.mimetype == "text/html" and "Proposal 999 not found" in response.text


# ---- decisions -----------------------------------------------------------------------------


def test_a_reviewer_approves_and_the_page_shows_the_decision_and_its_audit_entry(
    found: Services, reviewer: FlaskClient, proposal_id: int
) -> None:
    response = decide(reviewer, proposal_id, comment="Good mix of skills <b>really</b>")
    assert response.status_code == 303
    assert found.catalog.get_proposal(proposal_id).status == "approved"
    html = reviewer.get(response.headers["Location"]).text
    assert "Decision recorded" in html
    assert "Approved" in html and "reviewer:reviewer-one" in html
    assert "Good mix of skills &lt;b&gt;really&lt;/b&gt;" in html
    audit = re.search(r'<table class="audit">.*?</table>', html, re.S)
    assert audit and "Approve" in audit.group(0) and "Complementary fit" in audit.group(0)
    assert 'name="decision"' not in html  # decided: no more buttons


def test_a_stale_decision_is_refused_with_a_clear_message(
    app: Any, found: Services, keys: dict[str, str], reviewer: FlaskClient, proposal_id: int
) -> None:
    other = app.test_client()
    sign_in(other, keys["admin"])
    page = other.get(f"/proposals/{proposal_id}").text  # opened before the approval
    assert decide(reviewer, proposal_id).status_code == 303
    response = submit(
        other,
        f"/proposals/{proposal_id}/decision",
        page,
        version="1",
        decision="reject",
        reason_code="integrity_concern",
        comment="late",
    )
    assert response.status_code == 409
    assert "Your decision was not recorded" in response.text
    assert "late" in response.text  # the reviewer's text is kept
    record = found.catalog.get_proposal(proposal_id)
    assert record.status == "approved" and len(record.reviews) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"decision": "maybe"}, "Choose approve, reject or request changes"),
        ({"reason_code": ""}, "Choose a reason"),
        ({"version": ""}, "lacks the proposal version"),
    ],
)
def test_an_incomplete_decision_is_refused(
    found: Services, reviewer: FlaskClient, proposal_id: int, fields: dict[str, str], message: str
) -> None:
    response = decide(reviewer, proposal_id, **fields)
    assert response.status_code == 422
    assert message in response.text
    assert found.catalog.get_proposal(proposal_id).status == "proposed"


@pytest.mark.parametrize(
    ("page_path", "action", "hidden", "fields"),
    [
        pytest.param(
            "", "/decision", ('name="decision"', "Reason"), {"decision": "approve"}, id="decide"
        ),
        pytest.param(
            "/alternatives/2",
            "/alternatives/2",
            ("Propose it in place of proposal",),
            {"members": "itau"},
            id="replace",
        ),
    ],
)
def test_a_broker_sees_no_reviewer_controls_and_cannot_decide_or_replace_a_proposal(
    found: Services,
    broker: FlaskClient,
    proposal_id: int,
    page_path: str,
    action: str,
    hidden: tuple[str, ...],
    fields: dict[str, str],
) -> None:
    page = broker.get(f"/proposals/{proposal_id}{page_path}").text
    assert not [text for text in hidden if text in page]
    url = f"/proposals/{proposal_id}{action}"
    response = submit(broker, url, page, version="1", reason_code="other", **fields)
    assert response.status_code == 403
    assert found.catalog.get_proposal(proposal_id).status == "proposed"


# ---- the broker's page ---------------------------------------------------------------------


BROKER_FORM = {
    "lead": "unicef",
    "title": "Schools in Brazil",
    "themes": ["education"],
    "countries": "br",
    "activity_types": ["fundraising", "operational"],
    "need-0-capability": "funding",
    "need-0-weight": "1",
    "need-0-quantity": "2500000",
    "need-1-capability": "local_presence",
    "need-1-weight": "0.8",
    "min_size": "2",
    "max_size": "4",
    "count": "3",
}


def test_a_broker_asks_for_a_recommendation_and_proposes_a_coalition(
    found: Services, broker: FlaskClient
) -> None:
    page = broker.get("/recommend").text
    response = submit(broker, "/recommend", page, **BROKER_FORM)
    assert response.status_code == 200
    html = response.text
    forms = [f["fields"] for f in read_page(html).forms if "members" in f["fields"]]
    assert len(forms) >= 2
    assert html.count('<table class="heatmap"') == len(forms)
    assert html.count('role="img"') == len(forms)
    assert "Coalitions side by side" in html
    chosen = forms[1]
    response = broker.post("/recommend/propose", data=chosen)
    assert response.status_code == 303
    proposal_id = int(response.headers["Location"].rsplit("/", 1)[1])
    record = found.catalog.get_proposal(proposal_id)
    assert ",".join(m["id"] for m in record.coalition["members"]) == chosen["members"][0]
    assert record.proposed_by == "broker:broker-one"
    stored = found.catalog.get_initiative(record.initiative_id)
    assert stored.body["lead"] == "unicef" and stored.body["countries"] == ["BR"]
    assert stored.body["needs"][0] == {"capability": "funding", "weight": 1.0, "quantity": 2500000}
    html = broker.get(response.headers["Location"]).text
    assert "Proposed for review" in html


def test_proposing_from_a_stored_initiative_reuses_it(found: Services, broker: FlaskClient) -> None:
    body = seed_initiative()
    store_initiative(found, body)
    page = broker.get(f"/recommend?initiative={body['id']}").text
    assert 'value="i49-edu-quality-brazil"' in page
    form = read_page(page).form_with("lead")
    assert form["lead"] == [UNICEF] and form["themes"] == body["themes"]
    assert form["need-1-capability"] == [body["needs"][1]["capability"]]
    results = broker.post("/recommend", data=form)  # sent as it was filled in
    assert results.status_code == 200, results.text
    chosen = read_page(results.text).form_with("members")
    assert chosen["initiative_id"] == [body["id"]]
    response = broker.post("/recommend/propose", data=chosen)
    assert response.status_code == 303
    record = found.catalog.get_proposal(int(response.headers["Location"].rsplit("/", 1)[1]))
    assert record.initiative_id == body["id"]
    assert found.catalog.list_initiatives().total == 1


def test_a_coalition_no_longer_recommended_is_not_proposed(
    found: Services, broker: FlaskClient
) -> None:
    page = broker.get("/recommend").text
    results = submit(broker, "/recommend", page, **BROKER_FORM)
    chosen = {**read_page(results.text).form_with("members"), "members": ["nobody,itau"]}
    response = broker.post("/recommend/propose", data=chosen)
    assert response.status_code == 409
    assert "no longer among the recommendations" in response.text
    assert found.catalog.list_proposals().total == 0


def test_broker_form_problems_are_shown_beside_their_field(broker: FlaskClient) -> None:
    page = broker.get("/recommend").text
    form = {**BROKER_FORM, "csrf_token": csrf_token(page), "lead": "nobody-here"}
    response = broker.post("/recommend", data=form)
    assert response.status_code == 422
    assert 'id="lead-error"' in response.text and "nobody-here" in response.text
    assert 'aria-describedby="lead-hint lead-error"' in response.text
    form = {**form, "lead": "unicef", "need-1-weight": "-2"}
    response = broker.post("/recommend", data=form)
    assert response.status_code == 422
    assert 'id="need-1-weight-error"' in response.text
    assert 'value="-2"' in response.text  # what was typed stays
    response = broker.post("/recommend", data={**form, "lead": "nobody-here"})
    assert 'id="lead-error"' in response.text and 'id="need-1-weight-error"' in response.text
    summary = re.search(
        r'<div class="message message-error" role="alert".*?</div>', response.text, re.S
    )
    assert (
        summary
        and 'href="#lead"' in summary.group(0)
        and 'href="#need-1-weight"' in summary.group(0)
    )


def test_a_reviewer_cannot_use_the_broker_page(reviewer: FlaskClient) -> None:
    response = reviewer.get("/recommend")
    assert response.status_code == 403
    assert "Ask for a recommendation" not in read_nav(response.text)


def read_nav(html: str) -> str:
    nav = re.search(r'<nav aria-label="Main">.*?</nav>', html, re.S)
    return nav.group(0) if nav else ""


def propose_with_new_member(found: Services, org_id: str, name: str) -> ProposalRecord:
    """Store a Brazilian NGO named ``name``, rebuild the index and propose the seed's Brazil
    initiative with that NGO included."""
    ngo = Organisation(id=org_id, name=name, kind="ngo", country="BR")
    found.catalog.create_organisation(
        ngo, [Capability(org_id, "local_presence", strength=1.0)], actor="test"
    )
    found.holder.refresh(force=True)
    body = seed_initiative()
    body["constraints"]["include"] = [org_id]
    return propose(found, body, 0)


# ---- safety and accessibility --------------------------------------------------------------


def test_an_organisation_named_like_a_script_is_shown_as_text(
    found: Services, reviewer: FlaskClient
) -> None:
    proposal = propose_with_new_member(found, "evil-ngo", "<script>alert(1)</script>")
    assert "evil-ngo" in proposal.members
    html = reviewer.get(f"/proposals/{proposal.id}").text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert read_page(html).scripts == 0


def test_pages_send_the_security_headers(app: Any, reviewer: FlaskClient) -> None:
    for response in (app.test_client().get("/signin"), reviewer.get("/proposals")):
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"
    css = app.test_client().get("/pages-static/pages.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    css.close()


def test_the_pages_are_not_in_the_openapi_document(app: Any) -> None:
    spec = app.test_client().get("/openapi.json").json
    assert spec["paths"] and not any(
        not path.startswith(("/v1", "/healthz", "/readyz")) for path in spec["paths"]
    )


def pages_to_check(app: Any, found: Services, keys: dict[str, str]) -> list[tuple[str, str]]:
    proposal = propose(found, seed_initiative(), 0).id
    admin = app.test_client()
    sign_in(admin, keys["admin"])
    form_page = admin.get("/recommend").text
    results = submit(admin, "/recommend", form_page, **BROKER_FORM)
    invalid = submit(admin, "/recommend", form_page, **{**BROKER_FORM, "lead": ""})
    stale = submit(
        admin,
        f"/proposals/{proposal}/decision",
        form_page,
        version="7",
        decision="approve",
        reason_code="other",
    )
    return [
        ("sign-in", app.test_client().get("/signin").text),
        ("queue", admin.get("/proposals").text),
        ("empty queue", admin.get("/proposals?status=approved").text),
        ("proposal", admin.get(f"/proposals/{proposal}").text),
        ("stale decision", stale.text),
        ("broker form", form_page),
        ("broker results", results.text),
        ("broker form with errors", invalid.text),
        ("error", admin.get("/proposals/4242").text),
        ("organisation", admin.get("/organisations/unicef").text),
        ("organisation search", admin.get("/organisations?q=un&country=Brazil").text),
        ("alternative", admin.get(f"/proposals/{proposal}/alternatives/2").text),
        ("demo", admin.get("/recommend?demo=i55-small-enterprise-angola").text),
    ]


def test_every_page_has_one_h1_ordered_headings_landmarks_and_labelled_controls(
    app: Any, found: Services, keys: dict[str, str]
) -> None:
    for name, html in pages_to_check(app, found, keys):
        page = read_page(html)
        assert page.lang == "en", name
        assert page.headings.count(1) == 1 and page.headings[0] == 1, name
        for before, after in zip(page.headings, page.headings[1:], strict=False):
            assert after <= before + 1, f"{name}: h{before} then h{after}"
        assert {"header", "main", "footer"} <= set(page.landmarks), name
        assert page.unlabelled() == [], name
        assert len(page.ids) == len(set(page.ids)), f"{name}: duplicate ids"
        assert page.scripts == 0 and page.inline_styles == 0, name


def test_a_pasted_concept_note_fills_in_the_request_form(broker: FlaskClient) -> None:
    note = (REPO_ROOT / "tests" / "data" / "notes" / "travail-des-enfants-inde.fr.txt").read_text(
        encoding="utf-8"
    )
    page = broker.get("/recommend").text
    assert 'name="note"' in page
    response = submit(broker, "/recommend/draft", page, note=note)
    assert response.status_code == 200, response.text
    form = read_page(response.text).form_with("lead")
    assert form["lead"] == [UNICEF]
    assert form["countries"] == ["IN"]
    assert sorted(form["themes"]) == ["child_labour", "education", "population_women"]
    assert form["activity_types"] == ["advocacy"]
    assert "travail des enfants" in response.text  # the phrase behind each suggestion
    results = broker.post("/recommend", data=form)  # the pre-filled form, sent as it is
    assert results.status_code == 200, results.text
    assert read_page(results.text).form_with("members")


def test_an_empty_concept_note_is_refused_with_a_message(broker: FlaskClient) -> None:
    page = broker.get("/recommend").text
    response = submit(broker, "/recommend/draft", page, note=" ")
    assert response.status_code == 422
    assert "Paste a concept note first." in response.text


# ---- organisations one click away, the reviewer's tools, the broker's form (issue 19) ------


def text_of(html: str) -> str:
    """A page's words without tags, spaces collapsed."""
    words = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    return re.sub(r" ([,.;:)])", r"\1", words)


def test_the_organisation_page_shows_its_record_in_words(
    found: Services, reviewer: FlaskClient
) -> None:
    dataset = found.repository.load_dataset()
    flag = Flag(
        "itau",
        "labour_rights",
        "yellow",
        note="Press report",
        date=dt.date(2026, 3, 2),
        source="press",
    )
    found.repository.import_dataset(
        dataclasses.replace(dataset, flags=(*dataset.flags, flag)), actor="test"
    )
    dismiss_flag(found.repository, "itau", "press", by="Rita", reason="wrong company")
    found.holder.refresh(force=True)
    proposal = propose(found, seed_initiative(), 0)
    reject(found.catalog, proposal.id, "conflict_of_interest", "Too close")
    html = reviewer.get("/organisations/itau").text
    words = text_of(html)
    assert "Company · Private sector · Brazil" in words  # labels, not codes
    assert "labour_rights" not in words and "scaled_up" not in words  # codes stay out
    for heading in (
        "Facts",
        "Capabilities and their evidence",
        "Integrity flags and their history",
        "Partnerships by year",
        "Closest collaborators",
        "Recommendations and proposals it appeared in",
    ):
        assert f">{heading}</h2>" in html
    assert "Yellow" in words and "Press report; dismissed: wrong company" in words
    assert "Dismissed by Rita" in words and "Dismiss flag" in words  # the flag's history
    # partnerships by year, each with its co-members linked
    assert "<h3" in html and "Improving education in Brazil (UNICEF, Itau, CENPEC)" in words
    assert 'href="/organisations/cenpec"' in html and 'href="/organisations/unicef"' in html
    assert "as funder" in words
    # the proposal it appeared in, and the decision
    assert f"Proposal {proposal.id}" in words and "as a member" in words
    assert "Reject by reviewer:Ron" in words and "Conflict of interest" in words
    unicef = text_of(reviewer.get("/organisations/unicef").text)
    assert "XM-DAC-41122" in unicef  # identifiers
    assert "Teaching materials, strength 1.00 Evidence: §49" in unicef  # capability, evidence
    assert "as the lead" in unicef
    assert reviewer.get("/organisations/nobody").status_code == 404


def test_closest_collaborators_come_first_by_shared_partnerships(found: Services) -> None:
    dataset = found.repository.load_dataset()
    profile = organisation_profile(
        organisation_neighbourhood(found.repository, found.catalog, "unicef"),
        found.catalog,
        "unicef",
    )
    shared = [c.shared for c in profile.collaborators]
    assert shared == sorted(shared, reverse=True)
    joined = {m.partnership_id for m in dataset.memberships if m.org_id == "unicef"}
    by_hand = {
        m.org_id for m in dataset.memberships if m.partnership_id in joined and m.org_id != "unicef"
    }
    assert {c.id for c in profile.collaborators} <= by_hand and len(profile.collaborators) == min(
        10, len(by_hand)
    )
    assert profile.partnership_count == len(joined)
    years = [int(y) for y, _ in profile.partnerships_by_year if y.isdigit()]
    assert years == sorted(years, reverse=True)


@pytest.mark.parametrize(
    ("query", "expected", "absent"),
    [
        ("q=fund", {"unicef", "unfip"}, {"itau", "undp"}),
        ("country=Brazil", {"itau", "cenpec"}, {"unicef"}),
        ("country=br%C3%A9silien", {"itau", "cenpec"}, {"unicef"}),
        ("kind=company&country=BR", {"itau"}, {"cenpec"}),
        ("theme=education&kind=un_entity", {"unicef"}, {"itau"}),
        ("capability=funding", {"itau"}, {"cenpec"}),
    ],
)
def test_the_organisation_search_filters_by_name_kind_country_theme_and_capability(
    reviewer: FlaskClient, query: str, expected: set[str], absent: set[str]
) -> None:
    html = reviewer.get(f"/organisations?{query}").text
    shown = set(re.findall(r'href="/organisations/([^"]+)"', html))
    assert expected <= shown, shown
    assert not absent & shown


def test_an_unknown_country_in_the_search_is_said_in_words(reviewer: FlaskClient) -> None:
    html = reviewer.get("/organisations?country=Atlantis").text
    assert "“Atlantis” is not a country or region we know" in text_of(html)


def test_the_queue_and_a_proposal_export_as_csv_with_spreadsheet_safe_cells(
    found: Services, reviewer: FlaskClient
) -> None:
    proposal = propose_with_new_member(found, "formula-ngo", "=HYPERLINK(1)")
    other = propose(found, seed_initiative("i50-child-labour-india"), 0)
    response = reviewer.get("/proposals.csv?status=proposed&country=Brazil")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["proposal"] for r in rows] == [str(proposal.id)]  # India's is filtered out
    assert rows[0]["lead name"] == "United Nations Children's Fund (UNICEF)"
    assert rows[0]["member names"] == "CENPEC; =HYPERLINK(1); Itau"  # a cell that runs nothing
    assert other.id not in [int(r["proposal"]) for r in rows]
    response = reviewer.get(f"/proposals/{proposal.id}.csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["member"] for r in rows) == sorted(proposal.members)
    row = next(r for r in rows if r["member"] == "formula-ngo")
    assert row["name"] == "'=HYPERLINK(1)" and row["country"] == "Brazil"
    assert "Local presence" in row["covers"]


def test_the_proposal_page_shows_the_leads_record_and_opens_an_alternative(
    found: Services, reviewer: FlaskClient
) -> None:
    earlier = propose(found, seed_initiative(), 1)
    reject(found.catalog, earlier.id, "capacity")
    proposal = propose(found, seed_initiative(), 0)
    html = reviewer.get(f"/proposals/{proposal.id}").text
    lead_record = html[html.index('id="lead-record"') : html.index('id="decision"')]
    words = text_of(lead_record)
    assert f"Proposal {earlier.id}" in words and "Reject by reviewer:Ron: Capacity" in words
    assert "Improving education in Brazil (UNICEF, Itau, CENPEC)" in words  # past coalition
    assert f'href="/proposals/{proposal.id}.csv"' in html
    link = re.search(rf'href="(/proposals/{proposal.id}/alternatives/(\d+))"', html)
    assert link
    page = reviewer.get(link.group(1))
    assert page.status_code == 200
    assert "Propose it in place of proposal" in page.text
    assert reviewer.get(f"/proposals/{proposal.id}/alternatives/99").status_code == 404


def test_a_reviewer_proposes_an_alternative_in_place_of_a_proposal(
    found: Services, reviewer: FlaskClient
) -> None:
    proposal = propose(found, seed_initiative(), 0)
    page = reviewer.get(f"/proposals/{proposal.id}/alternatives/2").text
    form = read_page(page).form_with("members")
    assert form["version"] == ["1"]
    refused = reviewer.post(f"/proposals/{proposal.id}/alternatives/2", data=form)
    assert refused.status_code == 422 and "Choose a reason." in refused.text
    response = reviewer.post(
        f"/proposals/{proposal.id}/alternatives/2",
        data={**form, "reason_code": "missing_capability", "comment": "Needs more reach"},
    )
    assert response.status_code == 303
    created = found.catalog.get_proposal(int(response.headers["Location"].rsplit("/", 1)[1]))
    assert ",".join(sorted(created.members)) == ",".join(sorted(form["members"][0].split(",")))
    assert created.initiative_id == proposal.initiative_id and created.status == "proposed"
    original = found.catalog.get_proposal(proposal.id)
    assert original.status == "changes_requested"
    assert original.reviews[-1].reason_code == "missing_capability"
    assert "Replaced by another coalition" in original.reviews[-1].comment
    assert "Needs more reach" in original.reviews[-1].comment
    again = reviewer.post(
        f"/proposals/{proposal.id}/alternatives/2", data={**form, "reason_code": "other"}
    )
    assert again.status_code in (404, 409)  # decided already: nothing changes
    assert found.catalog.list_proposals(status=None).total == 2


def test_the_print_stylesheet_leaves_out_navigation_forms_and_scroll_boxes() -> None:
    css = CSS.read_text(encoding="utf-8")
    printed = css[css.index("@media print") :]
    for hidden in (".site-header nav", "form", "button", ".noprint", ".toc"):
        assert hidden in printed.split("display: none")[0]
    assert ".table-wrap { overflow: visible" in printed


def post_form(client: FlaskClient, **fields: Any) -> Any:
    return submit(client, "/recommend", client.get("/recommend").text, **fields)


def test_every_form_problem_is_shown_at_once_in_plain_words(broker: FlaskClient) -> None:
    response = post_form(
        broker,
        **{
            **BROKER_FORM,
            "lead": "Nobody At All",
            "title": "x" * 600,
            "countries": "Atlantis, BR",
            "need-1-weight": "-2",
            "need-0-quantity": "lots",
            "min_size": "4",
            "max_size": "2",
            "exclude": "no-such-org",
        },
    )
    assert response.status_code == 422
    summary = text_of(
        re.search(
            r'<div class="message message-error" role="alert".*?</div>', response.text, re.S
        ).group(0)  # type: ignore[union-attr]
    )
    for expected in (
        "Lead entity: No organisation is called “Nobody At All”",
        "Title: Shorten it to at most 500 characters",
        "Target countries: “Atlantis” is not a country or region we know",
        "Need 2: weight: Enter a number above 0",
        "Need 1: quantity: “lots” is not a number",
        "Largest coalition: The largest coalition (2) must be at least the smallest (4)",
        "Exclude: No organisation is called “no-such-org”",
    ):
        assert expected in summary, summary
    assert "String should" not in response.text and "Input should" not in response.text


@pytest.mark.parametrize(
    "lead",
    [
        "unicef",
        "UNICEF",
        "united nations children's fund (unicef)",
        "United Nations Children’s Fund",
    ],
)
def test_the_lead_is_found_by_name_in_any_letter_case(broker: FlaskClient, lead: str) -> None:
    response = post_form(broker, **{**BROKER_FORM, "lead": lead})
    assert response.status_code == 200, text_of(response.text)[:500]
    chosen = read_page(response.text).form_with("members")
    assert json.loads(chosen["initiative"][0])["lead"] == "unicef"


def test_the_lead_datalist_offers_names(broker: FlaskClient) -> None:
    html = broker.get("/recommend").text
    datalist = re.search(r'<datalist id="organisations">(.*?)</datalist>', html, re.S)
    assert (
        datalist
        and '<option value="United Nations Children&#39;s Fund (UNICEF)">' in datalist.group(1)
    )
    assert 'list="organisations"' in html


@pytest.mark.parametrize(
    ("typed", "codes"),
    [
        ("Brazil", ["BR"]),
        ("Brésil, angola", ["AO", "BR"]),
        ("br ao", ["AO", "BR"]),
        ("brazilian; Indian", ["BR", "IN"]),
    ],
)
def test_target_countries_are_read_from_names(
    broker: FlaskClient, typed: str, codes: list[str]
) -> None:
    response = post_form(broker, **{**BROKER_FORM, "countries": typed})
    assert response.status_code == 200, text_of(response.text)[:500]
    chosen = read_page(response.text).form_with("members")
    assert sorted(json.loads(chosen["initiative"][0])["countries"]) == codes


def test_a_region_stands_for_its_countries(taxonomies: Any) -> None:
    form = form_from_body({"lead": "unicef", "countries": []})
    form.values["countries"] = "Afrique de l'Ouest"
    body = build_body(form, taxonomies, countries=CountryNames(taxonomies.countries))
    assert body is not None and {"SN", "ML", "GH", "NG"} <= set(body["countries"])


def test_adding_a_need_keeps_what_was_typed(broker: FlaskClient) -> None:
    fields = {
        **BROKER_FORM,
        "need-2-capability": "training",
        "need-2-weight": "0.5",
        "need_rows": "3",
        "action": "add_need",
    }
    response = post_form(broker, **fields)
    assert response.status_code == 200
    form = read_page(response.text).form_with("lead")
    assert form["need_rows"] == ["4"]
    assert form["need-3-capability"] == [""]  # the new row
    assert "need-4-capability" not in form
    for name in ("title", "countries", "need-0-quantity", "need-1-weight", "need-2-weight"):
        value = BROKER_FORM.get(name, fields.get(name))
        assert form[name] == [value], name
    assert form["themes"] == ["education"] and form["lead"] == ["unicef"]
    assert "Recommendations" not in response.text  # nothing was asked yet
    again = broker.post("/recommend", data={**form, "action": "add_need"})
    assert read_page(again.text).form_with("lead")["need_rows"] == ["5"]


def test_a_request_without_coalition_offers_its_verified_relaxations_as_buttons(
    found: Services, broker: FlaskClient
) -> None:
    page = broker.get("/recommend?demo=i55-small-enterprise-angola").text
    form = read_page(page).form_with("lead")
    assert form["lead"] == ["United Nations Development Programme (UNDP)"]
    assert form["countries"] == ["AO"] and form["require_local_partner"] == ["1"]
    response = broker.post("/recommend", data=form)
    assert response.status_code == 200
    assert "No coalition meets every hard constraint" in response.text
    relax = read_page(response.text).form_with("change")
    assert json.loads(relax["change"][0]) == [
        {"path": "constraints.require_local_partner", "value": False}
    ]
    assert "Ask again and drop the local-partner requirement" in response.text
    answer = broker.post("/recommend/relax", data=relax)
    assert answer.status_code == 200
    assert "Asked again with this change: drop the local-partner requirement." in answer.text
    proposable = read_page(answer.text).form_with("members")
    body = json.loads(proposable["initiative"][0])
    assert body["constraints"]["require_local_partner"] is False
    assert "require_local_partner" not in read_page(answer.text).form_with("lead")
    proposed = broker.post("/recommend/propose", data=proposable)
    assert proposed.status_code == 303


@pytest.mark.parametrize(
    "change",
    [
        [{"path": "lead", "value": "itau"}],
        [{"path": "id", "value": "x"}],
        [{"path": "constraints.a.b", "value": 1}],
        [],
        {"path": "constraints.max_size"},
    ],
)
def test_a_relaxation_may_change_only_the_request(change: Any) -> None:
    with pytest.raises(ValueError):
        relaxed({"lead": "unicef", "constraints": {}}, change)


def test_a_lead_two_organisations_share_is_asked_for_by_id(taxonomies: Any) -> None:
    orgs = [
        Organisation("a-one", "Acme", "company"),
        Organisation("a-two", "ACME", "ngo"),
        Organisation("b", "Bright Future Foundation (BFF)", "foundation"),
    ]
    directory = OrganisationDirectory({org.id: org for org in orgs})
    with pytest.raises(ValidationError, match=r"Several organisations are called “acme”.*a-one"):
        directory.resolve("acme")
    assert directory.resolve("a-two") == "a-two"
    assert directory.resolve("bff") == directory.resolve("bright future foundation") == "b"
    with pytest.raises(ValidationError, match="Did you mean “Bright Future Foundation"):
        directory.resolve("future")
    assert directory.unique_name("a-one") == "a-one" and directory.unique_name("b") != "b"


def test_every_organisation_link_on_the_pages_opens(
    app: Any, found: Services, keys: dict[str, str]
) -> None:
    admin = app.test_client()
    sign_in(admin, keys["admin"])
    links: set[str] = set()
    for _, html in pages_to_check(app, found, keys):
        links |= set(re.findall(r'href="(/organisations/[^"#]+)"', html))
    assert len(links) >= 5
    for link in sorted(links):
        assert admin.get(link).status_code == 200, link


def test_every_table_scrolls_in_a_labelled_focusable_box_or_stacks_on_a_phone(
    app: Any, found: Services, keys: dict[str, str]
) -> None:
    tables = 0
    for name, html in pages_to_check(app, found, keys):
        for match in re.finditer(r"<table\b", html):
            tables += 1
            box = html[: match.start()].rsplit("<div", 1)[1].split(">", 1)[0]
            if 'class="stacked"' in box:  # one card a row on a phone: nothing to scroll
                continue
            assert 'role="region"' in box and 'tabindex="0"' in box, f"{name}: {box}"
            assert re.search(r'aria-label="[^"]+"', box), f"{name}: {box}"
        # a visible caption would scroll away with its table: captions stay outside the box
        assert not re.search(r"<caption(?! class=\"visually-hidden\")", html), name
    assert tables >= 10


def test_the_queue_finds_the_lead_and_the_country_by_name(
    found: Services, reviewer: FlaskClient
) -> None:
    brazil = propose(found, seed_initiative(), 0)
    india = propose(found, seed_initiative("i50-child-labour-india"), 0)
    shown = reviewer.get("/proposals?lead=united+nations+children%27s+fund&country=Inde").text
    assert f">Proposal {india.id}<" in shown and f">Proposal {brazil.id}<" not in shown
    assert "India" in text_of(shown) and '<datalist id="organisations">' in shown
    unknown = reviewer.get("/proposals?country=Atlantis").text
    assert "“Atlantis” names no single country" in text_of(unknown)
