"""``/v1/organisations``: list with filters, get, create, update, delete; an organisation's
network (collaborators, warm introduction path to a target)."""

from __future__ import annotations

from typing import Any

import numpy as np
from apiflask import APIBlueprint, abort

from matcher.engine.proximity import introduction_paths
from matcher.storage.catalog import OrganisationFilter
from matcher.usecases.editing import organisation_body, organisation_from_body
from service.api import etag, expected_version, page_body, snapshot, taxonomies
from service.auth import auth, current_caller, roles_for
from service.schemas import (
    NetworkOut,
    NetworkQuery,
    OrganisationIn,
    OrganisationOut,
    OrganisationPage,
    OrganisationQuery,
    OrganisationUpdateIn,
)
from service.services import services

bp = APIBlueprint("organisations", __name__, url_prefix="/v1/organisations", tag="Organisations")


@bp.get("")
@bp.auth_required(auth, roles=roles_for("read"))
@bp.input(OrganisationQuery, location="query")
@bp.output(OrganisationPage)
def list_organisations(query_data: OrganisationQuery) -> dict[str, Any]:
    """Organisations, filtered by kind, sector, country, region, theme, capability or name."""
    countries = None
    if query_data.region:
        table = taxonomies().countries
        countries = frozenset(code for code in table if table[code].region == query_data.region)
        if not countries:
            abort(422, f"Unknown region {query_data.region!r}")
    where = OrganisationFilter(
        kind=query_data.kind,
        sector=query_data.sector,
        country=query_data.country.upper() if query_data.country else None,
        countries=countries,
        theme=query_data.theme,
        capability=query_data.capability,
        text=query_data.q,
    )
    page = services().catalog.list_organisations(
        where, offset=query_data.offset, limit=query_data.limit
    )
    return page_body(page, [organisation_body(r) for r in page.items])


@bp.post("")
@bp.auth_required(auth, roles=roles_for("write"))
@bp.input(OrganisationIn, location="json")
@bp.output(OrganisationOut, status_code=201)
@bp.doc(responses={409: "The id is taken"})
def create_organisation(json_data: OrganisationIn) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create an organisation with its capabilities."""
    body = json_data.model_dump(exclude={"id"})
    organisation, capabilities = organisation_from_body(json_data.id, body, taxonomies())
    record = services().catalog.create_organisation(
        organisation, capabilities, actor=current_caller().actor
    )
    headers = {"ETag": etag(record.version), "Location": f"/v1/organisations/{organisation.id}"}
    return organisation_body(record), 201, headers


@bp.get("/<org_id>")
@bp.auth_required(auth, roles=roles_for("read"))
@bp.output(OrganisationOut)
def get_organisation(org_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """One organisation; its ETag is the version to send back in If-Match."""
    record = services().catalog.get_organisation(org_id)
    return organisation_body(record), 200, {"ETag": etag(record.version)}


@bp.put("/<org_id>")
@bp.auth_required(auth, roles=roles_for("write"))
@bp.input(OrganisationUpdateIn, location="json")
@bp.output(OrganisationOut)
@bp.doc(responses={409: "Changed since the If-Match version", 412: "Unreadable If-Match"})
def update_organisation(
    org_id: str, json_data: OrganisationUpdateIn
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Replace an organisation; with If-Match, refused (409) if someone changed it since."""
    organisation, capabilities = organisation_from_body(
        org_id, json_data.model_dump(), taxonomies()
    )
    record = services().catalog.update_organisation(
        organisation,
        capabilities,
        expected_version=expected_version(),
        actor=current_caller().actor,
    )
    return organisation_body(record), 200, {"ETag": etag(record.version)}


@bp.delete("/<org_id>")
@bp.auth_required(auth, roles=roles_for("write"))
@bp.output({}, status_code=204)
@bp.doc(responses={409: "Changed since the If-Match version"})
def delete_organisation(org_id: str) -> tuple[str, int]:
    """Delete an organisation with its capabilities, flags and memberships."""
    services().catalog.delete_organisation(
        org_id, expected_version=expected_version(), actor=current_caller().actor
    )
    return "", 204


@bp.get("/<org_id>/network")
@bp.auth_required(auth, roles=roles_for("read"))
@bp.input(NetworkQuery, location="query")
@bp.output(NetworkOut)
def network(org_id: str, query_data: NetworkQuery) -> dict[str, Any]:
    """Its past collaborators (strongest ties first) and the warmest introduction path to
    ``target``: at most three ties through people who worked together often and lately."""
    current = snapshot()
    engine = current.engine
    index = engine.index_
    if org_id not in index.position:
        services().catalog.get_organisation(org_id)  # 404 if unknown, else not indexed yet
        abort(503, f"Organisation {org_id!r} is not in the index yet; retry shortly")
    position = index.position[org_id]
    matrix = index.collaboration
    start, end = matrix.indptr[position], matrix.indptr[position + 1]
    neighbours, weights = matrix.indices[start:end], matrix.data[start:end]
    order = np.lexsort((neighbours, -weights))[: query_data.limit]
    organisations = current.dataset.organisations
    body: dict[str, Any] = {
        "id": org_id,
        "data_version": current.data_version,
        "collaborators": [
            {
                "id": index.org_ids[int(neighbours[k])],
                "name": organisations[index.org_ids[int(neighbours[k])]].name,
                "weight": round(float(weights[k]), 6),
            }
            for k in order.tolist()
        ],
    }
    if query_data.target:
        target = index.position.get(query_data.target)
        if target is None:
            abort(404, f"Organisation {query_data.target!r} not found")
        path = introduction_paths(engine.graph_, position, [target])[target]
        body["target"] = query_data.target
        body["path_to_target"] = [index.org_ids[p] for p in path]
    return body
