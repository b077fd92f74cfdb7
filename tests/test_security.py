"""Security and integrity of the HTTP API (issue 18), with Flask's test client: what a
client may store, who may change what, and what the server answers to hostile input.

The findings that need real HTTP (chunked bodies, gunicorn's own answers, log lines) are in
``tests/test_security_http.py``.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient

from matcher.usecases.apikeys import Role, new_key
from matcher.usecases.directories import import_directory
from service.app import services
from tests.api_fixtures import BRAZIL, SEED, add_key, api_app, app_on_a_copy, bearer


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status and body["detail"]
    return body


def paths_of(problem: dict[str, Any]) -> list[str]:
    return [error["path"] for error in problem.get("errors", [])]


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
    app = app_on_a_copy(
        seeded_database, tmp_path, SERVERS=[{"url": "https://partnermatch.example.org/"}]
    )
    try:
        spec = app.test_client().get("/openapi.json", headers={"Host": "evil.example"}).get_json()
        assert spec["servers"] == [{"url": "https://partnermatch.example.org/"}]
    finally:
        services(app).repository.engine.dispose()


# ---- 5. brokers change only their own initiatives; decided ones are archived, not deleted ----


def test_a_broker_cannot_change_or_delete_another_brokers_initiative(
    app: APIFlask, client: FlaskClient, keys: dict[str, str]
) -> None:
    owner, other = keys["broker"], add_key(services(app), Role.BROKER.value, "broker-2")
    created = client.post("/v1/initiatives", json=BRAZIL, headers=bearer(owner)).get_json()
    assert created["created_by"] == "broker:broker-1"
    url = f"/v1/initiatives/{BRAZIL['id']}"
    edited = {k: v for k, v in BRAZIL.items() if k != "id"} | {"title": "taken over"}
    for response in (
        client.put(url, json=edited, headers=bearer(other)),
        client.delete(url, headers=bearer(other)),
        client.post(f"{url}/archive", headers=bearer(other)),
    ):
        assert "only its creator or an admin" in problem_of(response, 403)["detail"]
    assert client.get(url, headers=bearer(other)).get_json()["title"] == BRAZIL["title"]
    assert client.put(url, json=edited, headers=bearer(owner)).status_code == 200
    assert client.put(url, json=edited, headers=bearer(keys["admin"])).status_code == 200
    # proposing for someone else's initiative is not changing it
    members = {"members": ["itau", "cenpec"]}
    assert propose(client, other, members).status_code == 201


def test_an_initiative_with_a_decided_proposal_is_archived_not_deleted(
    app: APIFlask, client: FlaskClient, keys: dict[str, str]
) -> None:
    broker, reviewer = keys["broker"], keys["reviewer"]
    proposal = propose(client, broker, {"members": ["itau", "cenpec"]})
    assert proposal.status_code == 404  # no initiative yet
    recommended(client, broker)
    proposal = propose(client, broker, {"members": ["itau", "cenpec"]}).get_json()
    decision = {"decision": "approve", "reason_code": "complementary_fit", "comment": "ok"}
    reviews = f"/v1/proposals/{proposal['id']}/reviews"
    assert client.post(reviews, json=decision, headers=bearer(reviewer)).status_code == 201
    url = f"/v1/initiatives/{BRAZIL['id']}"
    for key in (broker, keys["admin"]):
        problem = problem_of(client.delete(url, headers=bearer(key)), 409)
        assert f"decided proposals ({proposal['id']})" in problem["detail"]
    kept = client.get(f"/v1/proposals/{proposal['id']}", headers=bearer(reviewer)).get_json()
    assert kept["status"] == "approved" and kept["reviews"][0]["comment"] == "ok"

    archived = client.post(f"{url}/archive", headers=bearer(broker))
    assert archived.status_code == 200 and archived.get_json()["archived_at"]
    listing = client.get("/v1/initiatives", headers=bearer(broker)).get_json()
    assert listing["total"] == 0
    every = client.get("/v1/initiatives?include_archived=true", headers=bearer(broker))
    assert [i["id"] for i in every.get_json()["items"]] == [BRAZIL["id"]]
    edited = {k: v for k, v in BRAZIL.items() if k != "id"}
    assert (
        "archived"
        in problem_of(client.put(url, json=edited, headers=bearer(broker)), 409)["detail"]
    )
    again = propose(client, broker, {"members": ["itau", "cenpec"]})
    assert "archived" in problem_of(again, 409)["detail"]


def test_an_initiative_with_only_pending_proposals_is_deleted_with_them(
    app: APIFlask, client: FlaskClient, keys: dict[str, str]
) -> None:
    recommended(client, keys["broker"])
    proposal = propose(client, keys["broker"], {"members": ["itau", "cenpec"]}).get_json()
    url = f"/v1/initiatives/{BRAZIL['id']}"
    assert client.delete(url, headers=bearer(keys["broker"])).status_code == 204
    gone = client.get(f"/v1/proposals/{proposal['id']}", headers=bearer(keys["reviewer"]))
    assert gone.status_code == 404


# ---- 7. an organisation a pending proposal or an initiative names is not deleted --------------


def test_deleting_an_organisation_a_pending_proposal_names_is_refused(
    app: APIFlask, client: FlaskClient, keys: dict[str, str]
) -> None:
    recommended(client, keys["broker"])
    proposal = propose(client, keys["broker"], {"members": ["itau", "cenpec"]}).get_json()
    admin = bearer(keys["admin"])
    problem = problem_of(client.delete("/v1/organisations/cenpec", headers=admin), 409)
    assert f"proposals awaiting a decision: {proposal['id']}" in problem["detail"]
    assert client.get("/v1/organisations/cenpec", headers=admin).status_code == 200
    lead = problem_of(client.delete("/v1/organisations/unicef", headers=admin), 409)
    assert f"initiatives it leads: {BRAZIL['id']}" in lead["detail"]
    decision = {"decision": "reject", "reason_code": "other", "comment": ""}
    reviews = f"/v1/proposals/{proposal['id']}/reviews"
    assert client.post(reviews, json=decision, headers=admin).status_code == 201
    assert client.delete("/v1/organisations/cenpec", headers=admin).status_code == 204


def test_a_proposal_whose_member_vanished_cannot_be_approved(
    app: APIFlask, client: FlaskClient, keys: dict[str, str]
) -> None:
    recommended(client, keys["broker"])
    proposal = propose(client, keys["broker"], {"members": ["itau", "cenpec"]}).get_json()
    from matcher.storage import tables

    with services(app).catalog.engine.begin() as connection:  # as an older server allowed
        for table in (tables.capabilities, tables.memberships):
            connection.execute(table.delete().where(table.c.org_id == "cenpec"))
        connection.execute(
            tables.organisations.delete().where(tables.organisations.c.id == "cenpec")
        )
    decision = {"decision": "approve", "reason_code": "complementary_fit", "comment": ""}
    response = client.post(
        f"/v1/proposals/{proposal['id']}/reviews", json=decision, headers=bearer(keys["reviewer"])
    )
    assert "'cenpec' no longer exist" in problem_of(response, 409)["detail"]


# ---- 3. bounded proposals; the queue filtered, sorted and paged in SQL -------------------------


def test_a_proposal_holds_the_engines_small_coalition_however_large_the_request(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    best = recommended(client, keys["broker"])[0]
    padding = "x" * 100_000
    bulky = {**best, "members": [{**m, "evidence": [padding] * 4} for m in best["members"]]}
    response = propose(client, keys["broker"], {"coalition": bulky})
    assert response.status_code == 201, response.get_json()
    assert len(json.dumps(response.get_json())) < 20_000
    too_many = {"members": [f"org-{k}" for k in range(51)]}
    problem = problem_of(propose(client, keys["broker"], too_many), 422)
    assert paths_of(problem) == ["members"]


def _store(client: FlaskClient, broker: str, initiative_id: str, **fields: Any) -> None:
    body = {**BRAZIL, "id": initiative_id, **fields}
    assert client.post("/v1/initiatives", json=body, headers=bearer(broker)).status_code == 201


def test_the_queue_filters_sorts_and_pages_like_the_records_say(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    broker, reviewer = keys["broker"], bearer(keys["reviewer"])
    _store(client, broker, "edu-br")
    _store(client, broker, "edu-in", countries=["IN"], constraints={"require_local_partner": False})
    _store(client, broker, "youth-br", themes=["youth"])
    made: dict[str, list[int]] = {}
    for initiative in ("edu-br", "edu-in", "youth-br", "edu-br"):
        response = client.post(
            f"/v1/initiatives/{initiative}/proposals",
            json={"members": ["itau", "cenpec"]},
            headers=bearer(broker),
        )
        assert response.status_code == 201, response.get_json()
        made.setdefault(initiative, []).append(response.get_json()["id"])

    def ids(query: str) -> tuple[int, list[int]]:
        page = client.get(f"/v1/proposals?{query}", headers=reviewer).get_json()
        return page["total"], [p["id"] for p in page["items"]]

    edu_br = sorted(made["edu-br"], reverse=True)
    assert ids("theme=education&country=BR&sort=-id") == (2, edu_br)
    assert ids("theme=education&sort=-id&limit=1&offset=1") == (3, [made["edu-in"][0]])
    assert ids("theme=youth") == (1, made["youth-br"])
    assert ids("country=IN") == (1, made["edu-in"])
    assert ids("theme=educatio") == (0, [])
    assert ids("country=br&status=approved") == (0, [])


def test_the_queue_reads_only_the_proposals_of_its_page(
    app: APIFlask, client: FlaskClient, keys: dict[str, str]
) -> None:
    from sqlalchemy import event

    recommended(client, keys["broker"])
    for _ in range(3):
        assert propose(client, keys["broker"], {"members": ["itau", "cenpec"]}).status_code == 201
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()).lower())

    engine = services(app).catalog.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        page = client.get(
            "/v1/proposals?theme=education&limit=1&sort=-score", headers=bearer(keys["reviewer"])
        ).get_json()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert page["total"] == 3 and len(page["items"]) == 1
    reads = [s for s in statements if "from coalition_proposals" in s and "count(" not in s]
    assert reads and all(" limit " in s for s in reads)
    assert not any("initiatives.body" in s for s in statements)


# ---- 16. one error path syntax, at the field that is wrong -----------------------------------


@pytest.mark.parametrize(
    ("url", "body", "path"),
    [
        (
            "/v1/recommendations",
            {"lead": "unicef", "needs": [{"capability": "funding", "weight": -1}]},
            "needs.0.weight",
        ),
        (
            "/v1/recommendations",
            {"lead": "unicef", "needs": [{"capability": "fundin"}]},
            "needs.0.capability",
        ),
        (
            "/v1/recommendations",
            {"lead": "unicef", "needs": [{"capability": "funding"}, {"capability": "funding"}]},
            "needs.1.capability",
        ),
        (
            "/v1/coalitions/what-if",
            {"initiative": BRAZIL, "members": ["itau", "nobody"]},
            "members.1",
        ),
        (
            "/v1/coalitions/what-if",
            {"initiative": BRAZIL, "members": ["itau"], "swap_in": "nobody"},
            "swap_in",
        ),
        (
            "/v1/coalitions/what-if",
            {"initiative": BRAZIL, "members": ["itau", "cenpec", "itau"]},
            "members.2",
        ),
    ],
)
def test_errors_name_the_wrong_field_with_dotted_paths(
    client: FlaskClient, keys: dict[str, str], url: str, body: dict[str, Any], path: str
) -> None:
    problem = problem_of(client.post(url, json=body, headers=bearer(keys["broker"])), 422)
    assert paths_of(problem) == [path]


def test_initiative_files_report_dotted_paths_too(tmp_path: Path) -> None:
    from matcher.domain.exceptions import ValidationError
    from matcher.domain.model import Initiative

    with pytest.raises(ValidationError) as info:
        Initiative.from_mapping({"lead": "undp", "needs": [{"capability": "x", "weight": 0}]})
    assert info.value.field == "needs.0.weight"


# ---- 2. a chunked body meets the same limits (real HTTP in test_security_http.py) -------------


def _chunked(client: FlaskClient, url: str, body: bytes, headers: dict[str, str]) -> Any:
    """A body without Content-Length, as a WSGI server hands a chunked one to the app."""
    return client.post(
        url,
        input_stream=io.BytesIO(body),
        headers=headers | {"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_json_body_over_the_limit_is_refused_unread(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    headers = bearer(keys["broker"]) | {"Content-Type": "application/json"}
    stream = io.BytesIO(b'{"lead": "unicef", "description": "' + b"x" * (3 << 20) + b'"}')
    response = client.post(
        "/v1/recommendations",
        input_stream=stream,
        headers=headers | {"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert "larger than 1048576 bytes" in problem_of(response, 413)["detail"]
    assert stream.tell() <= (1 << 20) + 1 + 65536  # read up to the limit, not the rest


def test_a_chunked_body_of_the_wrong_type_is_refused(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    headers = bearer(keys["broker"]) | {"Content-Type": "text/plain"}
    response = _chunked(client, "/v1/recommendations", b'{"lead": "unicef"}', headers)
    assert "not text/plain" in problem_of(response, 415)["detail"]


def test_a_chunked_json_body_under_the_limit_is_answered(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    headers = bearer(keys["broker"]) | {"Content-Type": "application/json"}
    response = _chunked(client, "/v1/recommendations", json.dumps(BRAZIL).encode(), headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["coalitions"]


# ---- 8. deeply nested JSON is a bad request, not a crash ------------------------------------


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_a_400_without_a_traceback(
    client: FlaskClient, keys: dict[str, str], caplog: pytest.LogCaptureFixture, depth: int
) -> None:
    headers = bearer(keys["broker"]) | {"Content-Type": "application/json"}
    for body in ("[" * depth + "]" * depth, '{"lead": ' + "[" * depth + "]" * depth + "}"):
        response = client.post("/v1/recommendations", data=body, headers=headers)
        assert problem_of(response, 400)["title"] == "Bad request"
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert "Traceback" not in caplog.text


# ---- 9. zip imports: damaged, ambiguous or oversized archives are 422s that say why ---------


def _zip(entries: dict[str, bytes | None], *, links: tuple[str, ...] = ()) -> bytes:
    """A zip of ``entries`` (``None``: a folder entry); ``links`` are symbolic links."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16) | 0x20  # a symlink, as zip -y stores it
            archive.writestr(info, "elsewhere")
        for name, data in entries.items():
            if data is None:
                archive.writestr(zipfile.ZipInfo(name), b"")
            else:
                archive.writestr(name, data)
    return buffer.getvalue()


def _seed_entries(prefix: str = "") -> dict[str, bytes | None]:
    return {f"{prefix}{path.name}": path.read_bytes() for path in sorted(SEED.glob("*.csv"))}


def _patched_size(data: bytes, name: str, size: int) -> bytes:
    """``data`` with the size ``name`` announces (local and central headers) set to ``size``."""
    raw = bytearray(data)
    encoded = name.encode()
    for signature, offset, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        at = raw.find(signature)
        while at != -1:
            if raw[at + name_at : at + name_at + len(encoded)] == encoded:
                raw[at + offset : at + offset + 4] = size.to_bytes(4, "little")
            at = raw.find(signature, at + 1)
    return bytes(raw)


def _corrupted(data: bytes, marker: bytes) -> bytes:
    at = data.index(marker)
    return data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1 :]


def _import(client: FlaskClient, keys: dict[str, str], data: bytes) -> Any:
    headers = bearer(keys["admin"]) | {"Content-Type": "application/zip"}
    return client.post("/v1/import", data=data, headers=headers)


SEED_ZIP_CASES = {
    "a CRC mismatch": (
        lambda: _corrupted(_zip(_seed_entries()), b"United Nations Children"),
        "damaged at 'organisations.csv'",
    ),
    "a false (small) size": (
        lambda: _patched_size(_zip(_seed_entries()), "organisations.csv", 100),
        "damaged at 'organisations.csv'",
    ),
    "a false (large) size": (
        lambda: _patched_size(_zip(_seed_entries()), "organisations.csv", 10_000_000),
        "damaged at 'organisations.csv'",
    ),
    "a folder named organisations.csv": (
        lambda: _zip({"x/organisations.csv/": None}),
        "holds no organisations.csv",
    ),
    "a symbolic link": (
        lambda: _zip({"d/organisations.csv": b"id,name,kind\n"}, links=("d",)),
        "symbolic link, 'd'",
    ),
    "two data directories at one depth": (
        lambda: _zip(_seed_entries("a/") | _seed_entries("b/")),
        "several data directories at one depth (a/organisations.csv, b/organisations.csv)",
    ),
}


@pytest.mark.parametrize("case", list(SEED_ZIP_CASES))
def test_a_bad_archive_is_a_422_saying_what_is_wrong(
    app: APIFlask, client: FlaskClient, keys: dict[str, str], case: str
) -> None:
    make, words = SEED_ZIP_CASES[case]
    version = services(app).catalog.data_version()
    problem = problem_of(_import(client, keys, make()), 422)
    assert words in problem["detail"]
    assert services(app).catalog.data_version() == version


def test_an_archive_unpacking_past_the_limit_says_so(
    app: APIFlask, client: FlaskClient, keys: dict[str, str]
) -> None:
    from service.config import DEFAULTS

    assert DEFAULTS["MAX_IMPORT_UNPACKED_BYTES"] == 256 * 2**20  # the README's figure
    app.config["MAX_IMPORT_UNPACKED_BYTES"] = 1_000_000
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("organisations.csv", b"0" * 2_000_000)
    problem = problem_of(_import(client, keys, buffer.getvalue()), 422)
    assert problem["title"] == "Invalid request"
    assert "would unpack to 2000000 bytes; at most 1000000" in problem["detail"]
    lying = _patched_size(buffer.getvalue(), "organisations.csv", 1_000)
    assert "damaged" in problem_of(_import(client, keys, lying), 422)["detail"]


def test_a_good_archive_still_imports(client: FlaskClient, keys: dict[str, str]) -> None:
    response = _import(client, keys, _zip(_seed_entries("seed/")))
    assert response.status_code == 200, response.get_json()


# ---- 11. attempts with unverified keys are limited by the client's address ------------------


@pytest.fixture
def limited(app: APIFlask) -> Any:
    """A second app on the same database, 3 expensive requests a minute per caller."""
    limited = api_app(app.config["DATABASE_URL"], RATE_LIMIT="3 per minute")
    yield limited
    services(limited).repository.engine.dispose()


def _forged() -> str:
    return new_key().token  # well-formed, a fresh id, never stored


def test_sign_in_attempts_with_forged_keys_are_limited_by_address(limited: APIFlask) -> None:
    from tests.pages_support import csrf_token

    client = limited.test_client()
    token = csrf_token(client.get("/signin").text)
    statuses = []
    for _ in range(5):
        forged = _forged()
        response = client.post(
            "/signin",
            data={"csrf_token": token, "api_key": forged},
            headers=bearer(_forged()),  # a fresh key id in the header must not buy a budget
        )
        statuses.append(response.status_code)
    assert statuses == [401, 401, 429, 429, 429]  # the sign-in page's GET was the first


def test_api_attempts_with_forged_keys_are_limited_by_address(
    limited: APIFlask, keys: dict[str, str]
) -> None:
    client = limited.test_client()
    ask = {"lead": "unicef", "count": 1}
    statuses = [
        client.post("/v1/recommendations", json=ask, headers=bearer(_forged())).status_code
        for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    # a verified key keeps its own budget whatever the address has spent
    mine = client.post("/v1/recommendations", json=ask, headers=bearer(keys["broker"]))
    assert mine.status_code == 200


# ---- 15. export: byte-faithful by default, --spreadsheet-safe on request ------------------------


def test_export_is_faithful_and_spreadsheet_safe_on_request(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from service.cli import cli

    folder = tmp_path / "formula"
    shutil.copytree(SEED, folder, ignore=shutil.ignore_patterns("initiatives"))
    with (folder / "organisations.csv").open("a") as rows:
        rows.write('evil,"=HYPERLINK(""http://x"",""y"")",company,,BR,,,,,,,,"+1 line","@a;-b",\n')
    db = f"sqlite:///{tmp_path / 'x.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["import", str(folder), "--db", db]).exit_code == 0
    plain, safe = tmp_path / "plain", tmp_path / "safe"
    assert runner.invoke(cli, ["export", str(plain), "--db", db]).exit_code == 0
    result = runner.invoke(cli, ["export", str(safe), "--db", db, "--spreadsheet-safe"])
    assert result.exit_code == 0, result.output
    faithful = (plain / "organisations.csv").read_text()
    assert 'evil,"=HYPERLINK(""http://x"",""y"")",company' in faithful
    escaped = (safe / "organisations.csv").read_text()
    assert 'evil,"\'=HYPERLINK(""http://x"",""y"")",company' in escaped
    assert ",'+1 line," in escaped and ",'@a;-b," in escaped
    assert "=HYPERLINK" not in escaped.replace("'=HYPERLINK", "")
    # only the risky cells change: the rest is the faithful export, byte for byte
    risky = ("evil,",)
    assert [line for line in faithful.splitlines() if not line.startswith(risky)] == [
        line for line in escaped.splitlines() if not line.startswith(risky)
    ]


# ---- 14. no-store on every API answer; docs from this origin --------------------------------


def test_api_answers_and_a_new_key_are_never_cached(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    admin = bearer(keys["admin"])
    made = client.post("/v1/keys", json={"role": "broker", "name": "n"}, headers=admin)
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    for response in (
        client.get("/v1/organisations?limit=1", headers=admin),
        client.get("/v1/organisations/nobody", headers=admin),
        client.get("/openapi.json"),
        client.get("/healthz"),
        client.get("/docs"),
    ):
        assert response.headers["Cache-Control"] == "no-store", response.request.path


def test_the_docs_page_uses_no_third_party_asset_and_no_inline_script(
    client: FlaskClient,
) -> None:
    page = client.get("/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-spec-url="/openapi.json"' in html
    assert "http" not in html and "<script>" not in html and "<style" not in html
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe" not in policy
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and b"SwaggerUIBundle" in bundle.get_data()
    assert "no-store" not in bundle.headers.get("Cache-Control", "")
    bundle.close()
    assert client.get("/docs/assets/index.html").status_code == 404  # only the files used
    assert client.get("/docs/assets/..%2fapp.py").status_code == 404


# ---- 10. logged request data cannot forge a line -------------------------------------------


def test_logged_text_has_its_control_characters_escaped() -> None:
    import logging

    from service.logsafe import EscapingFilter, printable

    assert printable('/x\n1.2.3.4 "GET /" 200') == '/x\\n1.2.3.4 "GET /" 200'
    assert printable("a\x00b\x1b[31m\u202ec\r\u2028") == "a\\x00b\\x1b[31m\\u202ec\\r\\u2028"
    assert printable("Crèche São Paulo") == "Crèche São Paulo"
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "on %s", ("/a\nb",), None)
    assert EscapingFilter().filter(record) and record.getMessage() == "on /a\\nb"


def test_an_unexpected_error_logs_the_path_escaped(
    app: APIFlask,
    client: FlaskClient,
    keys: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(services(app).catalog, "get_organisation", explode)
    response = client.get("/v1/organisations/x%0aforged", headers=bearer(keys["admin"]))
    assert response.status_code == 500
    messages = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert messages == ["unhandled error on GET /v1/organisations/x\\nforged"]
