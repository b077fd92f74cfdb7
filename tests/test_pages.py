"""The review pages through the Flask test client, and their pure helpers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from matcher.domain.model import Capability, Organisation
from service.pages.coalition import HEAT_SCALE
from service.pages.forms import InitiativeForm, build_body, field_for_path, form_from_body
from service.pages.render import HEAT_COLOURS, contrast_ratio, heat_bucket, score_bars, text_colour
from service.schemas import RecommendationIn
from service.services import Services, services
from tests.pages_support import (
    REPO_ROOT,
    add_key,
    close_app,
    csrf_token,
    make_app,
    propose,
    read_page,
    recommend,
    seed_initiative,
    store_initiative,
)

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
    token = csrf_token(client.get("/signin").text)
    response = client.post("/signin", data={"csrf_token": token, "api_key": key})
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
    data = {
        "csrf_token": csrf_token(page),
        "version": version,
        "decision": "approve",
        "reason_code": "complementary_fit",
        "comment": "",
        **fields,
    }
    return client.post(f"/proposals/{proposal_id}/decision", data=data)


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
    token = csrf_token(client.get("/signin").text)
    response = client.post(
        "/signin", data={"csrf_token": token, "api_key": keys["reviewer"], "next": "/proposals"}
    )
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
        token = csrf_token(client.get("/signin").text)
        response = client.post("/signin", data={"csrf_token": token, "api_key": key})
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
        token = csrf_token(client.get("/signin").text)  # signing in renews the token
        response = client.post(
            "/signin", data={"csrf_token": token, "api_key": keys["broker"], "next": target}
        )
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
    response = reviewer.post("/signout", data={"csrf_token": csrf_token(page.text)})
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
    found.catalog.decide(
        decided,
        reviewer="reviewer:x",
        decision="reject",
        reason_code="other",
        comment="",
        expected_version=None,
    )
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
    response = other.post(
        f"/proposals/{proposal_id}/decision",
        data={
            "csrf_token": csrf_token(page),
            "version": "1",
            "decision": "reject",
            "reason_code": "integrity_concern",
            "comment": "late",
        },
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


def test_a_broker_sees_no_review_buttons_and_cannot_decide(
    found: Services, broker: FlaskClient, proposal_id: int
) -> None:
    html = broker.get(f"/proposals/{proposal_id}").text
    assert 'name="decision"' not in html and "Reason" not in html
    response = broker.post(
        f"/proposals/{proposal_id}/decision",
        data={
            "csrf_token": csrf_token(html),
            "version": "1",
            "decision": "approve",
            "reason_code": "other",
        },
    )
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
    response = broker.post("/recommend", data={"csrf_token": csrf_token(page), **BROKER_FORM})
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
    assert form["lead"] == ["unicef"] and form["themes"] == body["themes"]
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
    results = broker.post("/recommend", data={"csrf_token": csrf_token(page), **BROKER_FORM})
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


# ---- safety and accessibility --------------------------------------------------------------


def test_an_organisation_named_like_a_script_is_shown_as_text(
    found: Services, reviewer: FlaskClient
) -> None:
    evil = Organisation(id="evil-ngo", name="<script>alert(1)</script>", kind="ngo", country="BR")
    found.catalog.create_organisation(
        evil, [Capability("evil-ngo", "local_presence", strength=1.0)], actor="test"
    )
    found.holder.refresh(force=True)
    body = seed_initiative()
    body["constraints"]["include"] = ["evil-ngo"]
    proposal = propose(found, body, 0)
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
    results = admin.post("/recommend", data={"csrf_token": csrf_token(form_page), **BROKER_FORM})
    invalid = admin.post(
        "/recommend", data={"csrf_token": csrf_token(form_page), **BROKER_FORM, "lead": ""}
    )
    stale = admin.post(
        f"/proposals/{proposal}/decision",
        data={
            "csrf_token": csrf_token(form_page),
            "version": "7",
            "decision": "approve",
            "reason_code": "other",
        },
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
    response = broker.post("/recommend/draft", data={"csrf_token": csrf_token(page), "note": note})
    assert response.status_code == 200, response.text
    form = read_page(response.text).form_with("lead")
    assert form["lead"] == ["unicef"]
    assert form["countries"] == ["IN"]
    assert sorted(form["themes"]) == ["child_labour", "education", "population_women"]
    assert form["activity_types"] == ["advocacy"]
    assert "travail des enfants" in response.text  # the phrase behind each suggestion
    results = broker.post("/recommend", data=form)  # the pre-filled form, sent as it is
    assert results.status_code == 200, results.text
    assert read_page(results.text).form_with("members")


def test_an_empty_concept_note_is_refused_with_a_message(broker: FlaskClient) -> None:
    page = broker.get("/recommend").text
    response = broker.post("/recommend/draft", data={"csrf_token": csrf_token(page), "note": " "})
    assert response.status_code == 422
    assert "Paste a concept note first." in response.text
