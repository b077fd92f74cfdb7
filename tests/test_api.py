"""The HTTP API with Flask's test client: every endpoint, its errors, and the role matrix."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient

from service.services import services
from tests.api_fixtures import BRAZIL, SEED, api_app, bearer, propose_brazil

ORG = {
    "id": "acme-foundation",
    "name": "Acme Foundation",
    "kind": "foundation",
    "country": "BR",
    "themes": ["education"],
    "capabilities": [{"capability": "funding.grants", "strength": 0.9}],
}


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# ---- health, spec ---------------------------------------------------------------------------


def test_health_and_readiness_need_no_key(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json()["status"] == "ok"
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready"
    assert ready["index_version"] == ready["data_version"]


def test_the_openapi_document_is_3_1_and_describes_every_route(
    app: APIFlask, client: FlaskClient
) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    routes = {
        rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1")
    }
    assert routes <= set(spec["paths"])
    recommend = spec["paths"]["/v1/recommendations"]["post"]
    assert "RecommendationIn" in json.dumps(recommend["requestBody"])
    assert spec["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"openapi.json" in docs.data


# ---- recommendations ------------------------------------------------------------------------


def test_a_broker_gets_explained_coalitions_with_the_data_version(
    app: APIFlask, client: FlaskClient, keys: dict[str, str]
) -> None:
    response = client.post("/v1/recommendations", json=BRAZIL, headers=bearer(keys["broker"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["initiative"] == "i49-edu-quality-brazil"
    assert body["data_version"] == services(app).catalog.data_version()
    assert len(body["coalitions"]) == 3
    for coalition in body["coalitions"]:
        assert sum(coalition["score_parts"].values()) == pytest.approx(coalition["score"])
        assert {"id", "covers", "activity_types", "marginal_gain", "path_to_lead", "flags"} <= set(
            coalition["members"][0]
        )
        assert "unicef" not in {m["id"] for m in coalition["members"]}  # the lead (§78)


def test_the_same_request_gives_the_same_answer(client: FlaskClient, keys: dict[str, str]) -> None:
    first = client.post("/v1/recommendations", json=BRAZIL, headers=bearer(keys["broker"]))
    second = client.post("/v1/recommendations", json=BRAZIL, headers=bearer(keys["broker"]))
    assert first.get_json() == second.get_json()


def test_a_stored_initiative_is_recommended_for_by_its_id(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    created = client.post("/v1/initiatives", json=BRAZIL, headers=bearer(keys["broker"]))
    assert created.status_code == 201
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == "/v1/initiatives/i49-edu-quality-brazil"
    stored = client.post(
        "/v1/initiatives/i49-edu-quality-brazil/recommendations", headers=bearer(keys["broker"])
    )
    direct = client.post("/v1/recommendations", json=BRAZIL, headers=bearer(keys["broker"]))
    assert stored.get_json() == direct.get_json()


def test_completion_ranks_candidates_for_one_more_seat(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    body = {"initiative": BRAZIL, "members": ["itau"], "k": 5}
    response = client.post("/v1/coalitions/complete", json=body, headers=bearer(keys["broker"]))
    assert response.status_code == 200, response.get_json()
    candidates = response.get_json()["candidates"]
    assert 1 <= len(candidates) <= 5
    assert "itau" not in {c["id"] for c in candidates}
    gains = [c["gain"] for c in candidates]
    assert gains == sorted(gains, reverse=True)


def test_what_if_reports_the_change_of_a_swap_term_by_term(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    best = client.post("/v1/recommendations", json=BRAZIL, headers=bearer(keys["broker"]))
    members = [m["id"] for m in best.get_json()["coalitions"][0]["members"]]
    body = {"initiative": BRAZIL, "members": members, "swap_out": members[0], "swap_in": "basf"}
    response = client.post("/v1/coalitions/what-if", json=body, headers=bearer(keys["broker"]))
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert {m["id"] for m in result["before"]["members"]} == set(members)
    assert {m["id"] for m in result["after"]["members"]} == {*members[1:], "basf"}
    assert result["score_change"] == pytest.approx(
        result["after"]["score"] - result["before"]["score"]
    )
    assert sum(result["parts_change"].values()) == pytest.approx(result["score_change"])


def test_the_network_lists_collaborators_and_an_introduction_path(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    response = client.get(
        "/v1/organisations/unicef/network?target=itau", headers=bearer(keys["reviewer"])
    )
    assert response.status_code == 200
    body = response.get_json()
    weights = [c["weight"] for c in body["collaborators"]]
    assert weights and weights == sorted(weights, reverse=True)
    path = body["path_to_target"]
    assert path[0] == "unicef" and path[-1] == "itau" and len(path) <= 4


# ---- data: organisations, partnerships, import ----------------------------------------------


def test_organisations_list_with_filters_and_pages(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    headers = bearer(keys["broker"])
    everything = client.get("/v1/organisations?limit=500", headers=headers).get_json()
    assert everything["total"] == 70 and everything["next_offset"] is None
    first = client.get("/v1/organisations?limit=10", headers=headers).get_json()
    second = client.get("/v1/organisations?limit=10&offset=10", headers=headers).get_json()
    assert first["next_offset"] == 10
    assert [o["id"] for o in first["items"] + second["items"]] == [
        o["id"] for o in everything["items"][:20]
    ]
    companies = client.get("/v1/organisations?kind=company&limit=500", headers=headers)
    assert {o["kind"] for o in companies.get_json()["items"]} == {"company"}
    brazil = client.get("/v1/organisations?country=br", headers=headers).get_json()
    assert brazil["total"] > 0 and {o["country"] for o in brazil["items"]} == {"BR"}
    americas = client.get("/v1/organisations?region=Americas&limit=500", headers=headers)
    assert {o["id"] for o in brazil["items"]} <= {o["id"] for o in americas.get_json()["items"]}
    funders = client.get("/v1/organisations?capability=funding&limit=500", headers=headers)
    assert all(
        any(c["capability"].startswith("funding") for c in o["capabilities"])
        for o in funders.get_json()["items"]
    )
    named = client.get("/v1/organisations?q=UNICEF", headers=headers).get_json()
    assert [o["id"] for o in named["items"]] == ["unicef"]


def test_an_admin_creates_updates_and_deletes_an_organisation_with_etags(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    admin = bearer(keys["admin"])
    created = client.post("/v1/organisations", json=ORG, headers=admin)
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    assert created.get_json()["sector"] == "philanthropic"
    update = {k: v for k, v in ORG.items() if k != "id"} | {"name": "Acme Trust"}
    changed = client.put(
        "/v1/organisations/acme-foundation", json=update, headers=admin | {"If-Match": '"1"'}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] == '"2"'
    stale = client.put(
        "/v1/organisations/acme-foundation", json=update, headers=admin | {"If-Match": '"1"'}
    )
    assert "version 2, not 1" in problem_of(stale, 409)["detail"]
    fetched = client.get("/v1/organisations/acme-foundation", headers=admin)
    assert fetched.get_json()["name"] == "Acme Trust"
    assert (
        client.delete(
            "/v1/organisations/acme-foundation", headers=admin | {"If-Match": '"2"'}
        ).status_code
        == 204
    )
    problem_of(client.get("/v1/organisations/acme-foundation", headers=admin), 404)
    actions = [
        (e["action"], e["entity_id"])
        for e in client.get("/v1/audit?entity_type=organisation", headers=admin).get_json()["items"]
    ]
    assert actions[:3] == [
        ("delete", "acme-foundation"),
        ("update", "acme-foundation"),
        ("create", "acme-foundation"),
    ]


def test_a_new_organisation_is_in_the_next_recommendation(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    ask = {
        "lead": "unicef",
        "countries": ["BR"],
        "needs": [{"capability": "research.evaluation"}],
        "constraints": {"min_size": 1, "max_size": 1},
        "count": 1,
    }
    before = client.post("/v1/recommendations", json=ask, headers=bearer(keys["broker"]))
    org = ORG | {
        "id": "eval-lab",
        "name": "Evaluation Lab",
        "kind": "academic",
        "capabilities": [{"capability": "research.evaluation", "strength": 1.0}],
    }
    assert (
        client.post("/v1/organisations", json=org, headers=bearer(keys["admin"])).status_code == 201
    )
    after = client.post("/v1/recommendations", json=ask, headers=bearer(keys["broker"]))
    assert after.get_json()["data_version"] == before.get_json()["data_version"] + 1
    assert [m["id"] for m in after.get_json()["coalitions"][0]["members"]] == ["eval-lab"]


def test_partnerships_round_trip_and_check_their_members(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    admin = bearer(keys["admin"])
    body = {
        "id": "new-pact",
        "name": "New pact",
        "start_year": 2025,
        "themes": ["education"],
        "countries": ["BR"],
        "members": [{"org_id": "unicef", "role": "lead"}, {"org_id": "itau"}],
    }
    created = client.post("/v1/partnerships", json=body, headers=admin)
    assert created.status_code == 201
    assert created.get_json()["members"] == [
        {"org_id": "itau", "role": "member", "contribution_usd": None},
        {"org_id": "unicef", "role": "lead", "contribution_usd": None},
    ]
    listed = client.get("/v1/partnerships?org_id=itau&theme=education", headers=admin)
    assert "new-pact" in {p["id"] for p in listed.get_json()["items"]}
    unknown = body | {"id": "other", "members": [{"org_id": "nobody"}]}
    problem = problem_of(client.post("/v1/partnerships", json=unknown, headers=admin), 422)
    assert problem["errors"] == [{"path": "members", "message": "Organisation 'nobody' not found"}]
    assert client.delete("/v1/partnerships/new-pact", headers=admin).status_code == 204


@pytest.mark.parametrize(
    ("path", "body", "where", "words"),
    [
        (
            "/v1/organisations",
            ORG | {"capabilities": [{"capability": "training"}, {"capability": "training"}]},
            "capabilities.1.capability",
            "Capability 'training' is listed twice",
        ),
        (
            "/v1/partnerships",
            {
                "id": "twice",
                "name": "Twice",
                "start_year": 2025,
                "members": [{"org_id": "itau"}, {"org_id": "unicef"}, {"org_id": "itau"}],
            },
            "members.2.org_id",
            "Organisation 'itau' is listed twice",
        ),
    ],
)
def test_a_body_listing_a_capability_or_member_twice_is_refused_naming_the_second(
    client: FlaskClient,
    keys: dict[str, str],
    path: str,
    body: dict[str, Any],
    where: str,
    words: str,
) -> None:
    problem = problem_of(client.post(path, json=body, headers=bearer(keys["admin"])), 422)
    assert problem["errors"] == [{"path": where, "message": words}]


def _zip(folder: Path, changes: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*.csv")):
            name = str(path.relative_to(folder))
            text = (changes or {}).get(name, path.read_text())
            archive.writestr(f"seed/{name}", text)
    return buffer.getvalue()


def test_a_zip_import_is_all_or_nothing(
    app: APIFlask, client: FlaskClient, keys: dict[str, str]
) -> None:
    admin = bearer(keys["admin"]) | {"Content-Type": "application/zip"}
    same = client.post("/v1/import", data=_zip(SEED), headers=admin)
    assert same.status_code == 200, same.get_json()
    assert same.get_json()["tables"]["organisations"]["unchanged"] == 70
    version = same.get_json()["data_version"]
    capabilities = (SEED / "capabilities.csv").read_text().splitlines()
    broken = "\n".join([*capabilities, "unicef,funding,1.5,,,"]) + "\n"
    bad = client.post("/v1/import", data=_zip(SEED, {"capabilities.csv": broken}), headers=admin)
    problem = problem_of(bad, 422)
    assert problem["errors"][0]["path"] == "capabilities.csv"
    assert "1.5" in problem["errors"][0]["message"]
    assert services(app).catalog.data_version() == version


def test_an_unsafe_zip_is_refused(client: FlaskClient, keys: dict[str, str]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../escape/organisations.csv", "id,name,kind\n")
    headers = bearer(keys["admin"]) | {"Content-Type": "application/zip"}
    problem = problem_of(client.post("/v1/import", data=buffer.getvalue(), headers=headers), 422)
    assert "Unsafe path" in problem["detail"]
    not_zip = client.post("/v1/import", data=b"plain bytes", headers=headers)
    assert problem_of(not_zip, 422)["detail"] == "The body is not a zip archive"


# ---- proposals and reviews ------------------------------------------------------------------


def test_a_broker_proposes_and_a_reviewer_approves_once(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    proposal = propose_brazil(client, keys)
    assert proposal["status"] == "proposed" and proposal["proposed_by"] == "broker:broker-1"
    queue = client.get(
        "/v1/proposals?status=proposed&lead=unicef", headers=bearer(keys["reviewer"])
    )
    assert [p["id"] for p in queue.get_json()["items"]] == [proposal["id"]]
    decision = {"decision": "approve", "reason_code": "complementary_fit", "comment": "good mix"}
    approved = client.post(
        f"/v1/proposals/{proposal['id']}/reviews",
        json=decision,
        headers=bearer(keys["reviewer"]) | {"If-Match": '"1"'},
    )
    assert approved.status_code == 201
    assert approved.get_json()["status"] == "approved"
    assert approved.get_json()["reviews"][0]["comment"] == "good mix"
    again = client.post(
        f"/v1/proposals/{proposal['id']}/reviews",
        json=decision | {"decision": "reject"},
        headers=bearer(keys["admin"]),
    )
    assert "already decided: it is approved" in problem_of(again, 409)["detail"]
    trail = client.get(
        f"/v1/audit?entity_type=proposal&entity_id={proposal['id']}",
        headers=bearer(keys["reviewer"]),
    ).get_json()["items"]
    assert [e["action"] for e in trail] == ["approve", "propose"]


def test_queue_filters_and_sorting(client: FlaskClient, keys: dict[str, str]) -> None:
    proposal = propose_brazil(client, keys)
    reviewer = bearer(keys["reviewer"])
    assert client.get("/v1/proposals?theme=education", headers=reviewer).get_json()["total"] == 1
    assert client.get("/v1/proposals?country=IN", headers=reviewer).get_json()["total"] == 0
    assert client.get("/v1/proposals?status=approved", headers=reviewer).get_json()["total"] == 0
    by_score = client.get("/v1/proposals?sort=-score", headers=reviewer).get_json()
    assert by_score["items"][0]["id"] == proposal["id"]


# ---- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "lead"),
        ({"lead": "unicef", "needs": [{"capability": "funding", "weight": 0}]}, "needs.0.weight"),
        ({"lead": "unicef", "count": 0}, "count"),
        ({"lead": "unicef", "constraints": {"max_size": 99}}, "constraints.max_size"),
        ({"lead": "unicef", "neds": []}, "neds"),
        ({"lead": "unicef", "needs": "funding"}, "needs"),
        ({"lead": "unicef", "needs": [{"capability": "fundng"}]}, "needs.0.capability"),
        ({"lead": "nobody"}, "lead"),
        ({"lead": "unicef", "constraints": {"include": ["nobody"]}}, "constraints.include"),
        ({"lead": "unicef", "themes": ["educashun"]}, "themes.0"),
        ({"lead": "bad id!"}, "lead"),
        ({"lead": "unicef", "constraints": {"min_size": 4, "max_size": 2}}, "constraints"),
        ({"lead": "unicef", "countries": ["ZZ"]}, "countries"),
    ],
)
def test_a_bad_initiative_is_a_422_naming_the_field(
    client: FlaskClient, keys: dict[str, str], body: dict[str, Any], path: str
) -> None:
    response = client.post("/v1/recommendations", json=body, headers=bearer(keys["broker"]))
    problem = problem_of(response, 422)
    assert problem["errors"], problem
    assert problem["errors"][0]["path"].startswith(path), problem


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status"),
    [
        ("get", "/v1/organisations/nobody", {}, 404),
        ("get", "/v1/partnerships/nothing", {}, 404),
        ("get", "/v1/initiatives/nothing", {}, 404),
        ("get", "/v1/proposals/999", {}, 404),
        ("get", "/v1/nowhere", {}, 404),
        ("delete", "/v1/recommendations", {}, 405),
        ("put", "/v1/organisations", {"json": ORG}, 405),
        ("post", "/v1/organisations", {"data": "id=x", "content_type": "text/plain"}, 415),
        ("post", "/v1/organisations", {"data": "{", "content_type": "application/json"}, 400),
        ("post", "/v1/organisations", {"data": "[]", "content_type": "application/json"}, 422),
        ("post", "/v1/organisations", {"json": ORG | {"kind": "alien"}}, 422),
        ("post", "/v1/organisations", {"json": ORG | {"country": "XX"}}, 422),
        ("post", "/v1/organisations", {"json": {**ORG, "id": "unicef"}}, 409),
        ("get", "/v1/organisations?limit=0", {}, 422),
        ("get", "/v1/organisations?limit=abc", {}, 422),
        ("get", "/v1/organisations?region=Atlantis", {}, 422),
        ("put", "/v1/organisations/unicef", {"json": {"name": "x"}}, 422),
        ("put", "/v1/organisations/nobody", {"json": {"name": "X", "kind": "ngo"}}, 404),
        (
            "put",
            "/v1/organisations/unicef",
            {"json": {"name": "X", "kind": "ngo"}, "headers": {"If-Match": "v1"}},
            412,
        ),
    ],
)
def test_errors_are_problem_json_with_the_right_status(
    client: FlaskClient,
    keys: dict[str, str],
    method: str,
    url: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    headers = bearer(keys["admin"]) | kwargs.pop("headers", {})
    response = getattr(client, method)(url, headers=headers, **kwargs)
    body = problem_of(response, status)
    assert body["status"] == status and body["instance"] == url.split("?")[0]


def test_a_body_over_the_limit_is_a_413(app: APIFlask, keys: dict[str, str]) -> None:
    app.config["MAX_JSON_BYTES"] = 1000
    body = BRAZIL | {"description": "x" * 2000}
    response = app.test_client().post(
        "/v1/recommendations", json=body, headers=bearer(keys["broker"])
    )
    assert "1000" in problem_of(response, 413)["detail"]


def test_an_unexpected_error_is_a_500_problem_without_internals(
    app: APIFlask, client: FlaskClient, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: Any, **__: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services(app).catalog, "list_initiatives", explode)
    response = client.get("/v1/initiatives", headers=bearer(keys["admin"]))
    assert "secret" not in problem_of(response, 500)["detail"]


# ---- roles ----------------------------------------------------------------------------------

ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("get", "/v1/organisations", "read", {}),
    ("post", "/v1/organisations", "write", {"json": ORG}),
    ("get", "/v1/organisations/unicef", "read", {}),
    ("put", "/v1/organisations/itau", "write", {"json": {"name": "Itaú", "kind": "company"}}),
    ("delete", "/v1/organisations/cisco", "write", {}),
    ("get", "/v1/organisations/unicef/network", "read", {}),
    ("get", "/v1/partnerships", "read", {}),
    ("post", "/v1/partnerships", "write", {"json": {"id": "p-x", "name": "P"}}),
    ("get", "/v1/partnerships/p49-edu-brazil", "read", {}),
    ("put", "/v1/partnerships/p49-edu-brazil", "write", {"json": {"name": "P"}}),
    ("delete", "/v1/partnerships/p49-edu-brazil", "write", {}),
    ("get", "/v1/initiatives", "read", {}),
    ("post", "/v1/initiatives", "propose", {"json": BRAZIL}),
    ("get", "/v1/initiatives/i49-edu-quality-brazil", "read", {}),
    ("put", "/v1/initiatives/i49-edu-quality-brazil", "propose", {"json": {"lead": "unicef"}}),
    ("delete", "/v1/initiatives/i49-edu-quality-brazil", "propose", {}),
    ("post", "/v1/initiatives/i49-edu-quality-brazil/archive", "propose", {}),
    ("post", "/v1/initiatives/i49-edu-quality-brazil/recommendations", "recommend", {}),
    ("post", "/v1/initiatives/i49-edu-quality-brazil/proposals", "propose", {"json": {}}),
    ("post", "/v1/initiatives/draft", "recommend", {"json": {"text": "Schools in Mali"}}),
    ("post", "/v1/recommendations", "recommend", {"json": {"lead": "unicef"}}),
    ("post", "/v1/coalitions/complete", "recommend", {"json": {}}),
    ("post", "/v1/coalitions/what-if", "recommend", {"json": {}}),
    ("get", "/v1/proposals", "read", {}),
    ("get", "/v1/proposals/1", "read", {}),
    ("post", "/v1/proposals/1/reviews", "review", {"json": {}}),
    ("get", "/v1/audit", "read", {}),
    ("post", "/v1/keys", "keys", {"json": {"role": "broker"}}),
    ("delete", "/v1/keys/abc", "keys", {}),
    ("post", "/v1/import", "write", {"data": b"", "content_type": "application/zip"}),
]
ALLOWED = {
    "read": {"broker", "reviewer", "admin"},
    "recommend": {"broker", "admin"},
    "propose": {"broker", "admin"},
    "review": {"reviewer", "admin"},
    "write": {"admin"},
    "keys": {"admin"},
}


def test_every_v1_route_is_in_the_role_matrix(app: APIFlask) -> None:
    every = {
        (method.lower(), rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    adapter = app.url_map.bind("localhost")
    listed = {
        (method, adapter.match(url.split("?")[0], method=method.upper())[0])
        for method, url, _, _ in ROUTES
    }
    assert listed == every


@pytest.mark.parametrize("role", ["anonymous", "broker", "reviewer", "admin"])
@pytest.mark.parametrize(("method", "url", "permission", "kwargs"), ROUTES)
def test_role_matrix(
    client: FlaskClient,
    keys: dict[str, str],
    role: str,
    method: str,
    url: str,
    permission: str,
    kwargs: dict[str, Any],
) -> None:
    headers = bearer(keys[role]) if role in keys else {}
    response = getattr(client, method)(url, headers=headers, **dict(kwargs))
    if role == "anonymous":
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    elif role in ALLOWED[permission]:
        assert response.status_code not in (401, 403), response.get_json()
        assert response.status_code < 500, response.get_json()
    else:
        assert problem_of(response, 403)["detail"] == "Your API key's role may not do this"


def test_a_revoked_or_forged_key_is_refused(client: FlaskClient, keys: dict[str, str]) -> None:
    admin = bearer(keys["admin"])
    made = client.post("/v1/keys", json={"role": "broker", "name": "temp"}, headers=admin)
    token = made.get_json()["token"]
    assert client.get("/v1/initiatives", headers=bearer(token)).status_code == 200
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.get("/v1/initiatives", headers=bearer(forged)).status_code == 401
    key_id = made.get_json()["id"]
    assert client.delete(f"/v1/keys/{key_id}", headers=admin).status_code == 204
    assert client.get("/v1/initiatives", headers=bearer(token)).status_code == 401


def test_the_expensive_endpoints_are_rate_limited_per_key(
    keys: dict[str, str], app: APIFlask
) -> None:
    limited = api_app(app.config["DATABASE_URL"], RATE_LIMIT="2 per minute")
    client = limited.test_client()
    ask = {"lead": "unicef", "needs": [{"capability": "funding"}], "count": 1}
    statuses = [
        client.post("/v1/recommendations", json=ask, headers=bearer(keys["broker"])).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    refused = client.post("/v1/recommendations", json=ask, headers=bearer(keys["broker"]))
    assert problem_of(refused, 429)["detail"]
    assert int(refused.headers["Retry-After"]) > 0
    other = client.post("/v1/recommendations", json=ask, headers=bearer(keys["admin"]))
    assert other.status_code == 200  # another key has its own budget
    reads = [client.get("/v1/organisations", headers=bearer(keys["broker"])) for _ in range(5)]
    assert {r.status_code for r in reads} == {200}  # cheap endpoints are not limited
    services(limited).repository.engine.dispose()
