"""Security and integrity of the HTTP API (issue 18), with Flask's test client: what a
client may store, who may change what, and what the server answers to hostile input.

The findings that need real HTTP (chunked bodies, gunicorn's own answers, log lines) are in
``tests/test_security_http.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient

from matcher.usecases.apikeys import Role, key_digest, new_key
from matcher.usecases.directories import import_directory
from service.app import services
from tests.api_fixtures import SEED, bearer

BRAZIL = json.loads((SEED / "initiatives" / "i49-edu-quality-brazil.json").read_text())


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status and body["detail"]
    return body


def paths_of(problem: dict[str, Any]) -> list[str]:
    return [error["path"] for error in problem.get("errors", [])]


def add_key(app: APIFlask, role: Role, name: str) -> str:
    found = services(app)
    key = new_key()
    found.catalog.add_key(
        key.id, key_digest(key.token, found.key_secret), role=role.value, name=name, actor="test"
    )
    return key.token


def flag_organisation(app: APIFlask, tmp_path: Path, org_id: str, level: str = "red") -> None:
    """Give ``org_id`` an integrity flag by importing the seed with a ``flags.csv``."""
    folder = tmp_path / "flagged"
    shutil.copytree(SEED, folder, ignore=shutil.ignore_patterns("initiatives"))
    (folder / "flags.csv").write_text(
        f"org_id,category,level,note\n{org_id},forced_labour,{level},probe\n"
    )
    found = services(app)
    import_directory(found.repository, folder, found.taxonomies, actor="test")
    found.holder.refresh(force=True)


def recommended(client: FlaskClient, broker: str) -> list[dict[str, Any]]:
    assert client.post("/v1/initiatives", json=BRAZIL, headers=bearer(broker)).status_code == 201
    response = client.post(
        f"/v1/initiatives/{BRAZIL['id']}/recommendations", headers=bearer(broker)
    )
    coalitions: list[dict[str, Any]] = response.get_json()["coalitions"]
    return coalitions


def propose(client: FlaskClient, broker: str, body: dict[str, Any]) -> Any:
    return client.post(
        f"/v1/initiatives/{BRAZIL['id']}/proposals", json=body, headers=bearer(broker)
    )


# ---- 1. proposals hold the engine's coalition, never the client's ---------------------------


def test_a_proposal_stores_the_engines_coalition_not_an_edited_one(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    best = recommended(client, keys["broker"])[0]
    edited = {**best, "score": 999.0, "score_parts": {"need_coverage": 999.0}, "gaps": []}
    edited["members"] = [{**m, "flags": [], "marginal_gain": 99.0} for m in best["members"]]
    response = propose(client, keys["broker"], {"coalition": edited})
    assert response.status_code == 201, response.get_json()
    stored = response.get_json()
    assert stored["score"] == pytest.approx(best["score"]) and stored["coalition"] == best
    assert sorted(m["id"] for m in stored["coalition"]["members"]) == stored["members"]


def test_a_proposal_names_its_members_and_the_engine_explains_them(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    best = recommended(client, keys["broker"])[0]
    members = [m["id"] for m in best["members"]]
    response = propose(client, keys["broker"], {"members": members})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["coalition"] == best
    chosen = ["itau", "una-usa"]  # not among the recommendations: evaluated as given
    other = propose(client, keys["broker"], {"members": chosen}).get_json()
    assert other["members"] == chosen and other["coalition"]["solver"] == "given"
    assert sum(other["coalition"]["score_parts"].values()) == pytest.approx(other["score"])


def test_a_gated_member_is_refused_with_its_gate(
    app: APIFlask, client: FlaskClient, keys: dict[str, str], tmp_path: Path
) -> None:
    flag_organisation(app, tmp_path, "cenpec", "red")
    recommended(client, keys["broker"])
    problem = problem_of(propose(client, keys["broker"], {"members": ["itau", "cenpec"]}), 422)
    assert paths_of(problem) == ["members.1"]
    assert "'cenpec'" in problem["detail"] and "integrity_flag" in problem["detail"]
    forged = {"members": [{"id": "itau"}, {"id": "cenpec", "flags": []}], "score": 999.0}
    problem = problem_of(propose(client, keys["broker"], {"coalition": forged}), 422)
    assert paths_of(problem) == ["coalition.members.1.id"]
    assert services(app).catalog.list_proposals().total == 0


@pytest.mark.parametrize(
    ("members", "path", "words"),
    [
        ([], "members", "at least 1"),
        (["itau", "no-such-org"], "members.1", "'no-such-org' not found"),
        (["itau", "cenpec", "itau"], "members.2", "'itau' is listed twice"),
        (["itau", "unicef"], "members.1", "lead"),
        (["itau", "-fx-minus"], "members.1", "'-fx-minus' not found"),
    ],
)
def test_a_proposal_with_a_bad_member_list_is_refused_naming_the_member(
    client: FlaskClient, keys: dict[str, str], members: list[str], path: str, words: str
) -> None:
    recommended(client, keys["broker"])
    problem = problem_of(propose(client, keys["broker"], {"members": members}), 422)
    assert paths_of(problem) == [path] and words in problem["detail"]


def test_a_proposal_needs_members_or_a_coalition_not_both(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    best = recommended(client, keys["broker"])[0]
    for body in ({}, {"members": ["itau"], "coalition": best}):
        problem = problem_of(propose(client, keys["broker"], body), 422)
        assert "members or coalition" in problem["detail"]


# ---- 13. one id rule for import and API ------------------------------------------------------


def test_an_id_an_import_accepts_is_accepted_by_the_api(
    app: APIFlask, client: FlaskClient, keys: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "odd-id"
    shutil.copytree(SEED, folder, ignore=shutil.ignore_patterns("initiatives"))
    with (folder / "organisations.csv").open("a") as rows:
        rows.write("-fx-minus,FX Minus Ltd,company,,BR,,education,,,,,,,,\n")
    found = services(app)
    import_directory(found.repository, folder, found.taxonomies, actor="test")
    found.holder.refresh(force=True)
    broker = bearer(keys["broker"])
    assert client.get("/v1/organisations/-fx-minus", headers=broker).status_code == 200
    excluding = {**BRAZIL, "constraints": {**BRAZIL["constraints"], "exclude": ["-fx-minus"]}}
    response = client.post("/v1/recommendations", json=excluding, headers=broker)
    assert response.status_code == 200, response.get_json()
    assert {"id": "-fx-minus", "gate": "request", "reason": "excluded by the request"} in (
        response.get_json()["excluded"]
    )
    created = client.post(
        "/v1/organisations",
        json={"id": ":colon.start", "name": "Colon", "kind": "company"},
        headers=bearer(keys["admin"]),
    )
    assert created.status_code == 201, created.get_json()
    bad = client.post(
        "/v1/organisations",
        json={"id": "a b", "name": "Space", "kind": "company"},
        headers=bearer(keys["admin"]),
    )
    assert paths_of(problem_of(bad, 422)) == ["id"]


# ---- 6. non-finite numbers ------------------------------------------------------------------


NON_FINITE = ["Infinity", "-Infinity", "NaN", "1e400"]


@pytest.mark.parametrize("number", NON_FINITE)
@pytest.mark.parametrize(
    ("method", "url", "role", "template", "path"),
    [
        (
            "post",
            "/v1/organisations",
            "admin",
            '{"id": "x1", "name": "X", "kind": "company", '
            '"capabilities": [{"capability": "funding", "quantity": NUMBER}]}',
            "capabilities.0.quantity",
        ),
        (
            "post",
            "/v1/partnerships",
            "admin",
            '{"id": "p1", "name": "P", "amount_usd": NUMBER}',
            "amount_usd",
        ),
        (
            "post",
            "/v1/partnerships",
            "admin",
            '{"id": "p1", "name": "P", '
            '"members": [{"org_id": "itau", "contribution_usd": NUMBER}]}',
            "members.0.contribution_usd",
        ),
        (
            "post",
            "/v1/recommendations",
            "broker",
            '{"lead": "unicef", "constraints": {"budget_usd": NUMBER}}',
            "constraints.budget_usd",
        ),
        (
            "post",
            "/v1/initiatives",
            "broker",
            '{"id": "i1", "lead": "unicef", "needs": [{"capability": "funding", '
            '"quantity": NUMBER}]}',
            "needs.0.quantity",
        ),
    ],
)
def test_a_non_finite_number_is_refused_where_it_stands(
    client: FlaskClient,
    keys: dict[str, str],
    number: str,
    method: str,
    url: str,
    role: str,
    template: str,
    path: str,
) -> None:
    body = template.replace("NUMBER", number)
    headers = bearer(keys[role]) | {"Content-Type": "application/json"}
    response = getattr(client, method)(url, data=body, headers=headers)
    problem = problem_of(response, 422)
    assert paths_of(problem) == [path]
    assert "finite" in problem["detail"]


# ---- 12. codes in filters are matched exactly -------------------------------------------------


@pytest.mark.parametrize(
    ("query", "total"),
    [
        ("theme=education", None),
        ("theme=e_ucation", 0),
        ("theme=%25", 0),
        ("theme=educ%25", 0),
        ("capability=%25", 0),
        ("capability=fundin_", 0),
        ("capability=funding", None),
    ],
)
def test_filter_codes_are_matched_exactly_never_as_patterns(
    client: FlaskClient, keys: dict[str, str], query: str, total: int | None
) -> None:
    response = client.get(f"/v1/organisations?{query}", headers=bearer(keys["reviewer"]))
    assert response.status_code == 200, response.get_json()
    found = response.get_json()["total"]
    assert found == total if total is not None else found > 0


def test_partnership_filters_match_codes_exactly(client: FlaskClient, keys: dict[str, str]) -> None:
    reviewer = bearer(keys["reviewer"])
    assert client.get("/v1/partnerships?theme=education", headers=reviewer).get_json()["total"]
    for query in ("theme=e_ucation", "theme=%25", "country=B_", "country=%25%25", "country=B%25"):
        response = client.get(f"/v1/partnerships?{query}", headers=reviewer)
        assert response.get_json()["total"] == 0, query


# ---- 4. the API document never takes its servers from the request ------------------------------


def test_the_host_header_never_reaches_the_api_document(client: FlaskClient) -> None:
    poisoned = client.get("/openapi.json", headers={"Host": "evil.example"}).get_json()
    later = client.get("/openapi.json").get_json()
    for spec in (poisoned, later):
        assert "evil.example" not in json.dumps(spec)
        assert "servers" not in spec


def test_the_api_documents_servers_only_as_configured(
    seeded_database: Path, tmp_path: Path
) -> None:
    from service.app import create_app

    database = tmp_path / "api.db"
    shutil.copy(seeded_database, database)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{database}",
            "SECRET_KEY": "test-secret",
            "INDEX_REFRESH": "inline",
            "SERVERS": [{"url": "https://partnermatch.example.org/"}],
        }
    )
    try:
        spec = app.test_client().get("/openapi.json", headers={"Host": "evil.example"}).get_json()
        assert spec["servers"] == [{"url": "https://partnermatch.example.org/"}]
    finally:
        services(app).repository.engine.dispose()
