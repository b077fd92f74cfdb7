"""``/v1/initiatives``: stored initiatives (DESIGN.md 5.2), their recommendations and the
coalitions brokers propose for them."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

from matcher.storage.catalog import InitiativeRecord
from matcher.usecases.editing import check_initiative
from service.api import etag, expected_version, page_body, snapshot, taxonomies
from service.api.proposals import proposal_body
from service.api.recommendations import recommendation_body
from service.auth import auth, current_caller, roles_for
from service.schemas import (
    DraftIn,
    DraftOut,
    InitiativeIn,
    InitiativeOut,
    InitiativePage,
    InitiativeQuery,
    InitiativeUpdateIn,
    ProposalIn,
    ProposalOut,
    RecommendationOut,
)
from service.services import services

bp = APIBlueprint("initiatives", __name__, url_prefix="/v1/initiatives", tag="Initiatives")


def initiative_body(record: InitiativeRecord) -> dict[str, Any]:
    return {
        **record.body,
        "id": record.id,
        "version": record.version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


@bp.get("")
@bp.auth_required(auth, roles=roles_for("read"))
@bp.input(InitiativeQuery, location="query")
@bp.output(InitiativePage)
def list_initiatives(query_data: InitiativeQuery) -> dict[str, Any]:
    """Initiatives, optionally of one lead."""
    page = services().catalog.list_initiatives(
        lead=query_data.lead, offset=query_data.offset, limit=query_data.limit
    )
    return page_body(page, [initiative_body(r) for r in page.items])


@bp.post("")
@bp.auth_required(auth, roles=roles_for("propose"))
@bp.input(InitiativeIn, location="json")
@bp.output(InitiativeOut, status_code=201)
@bp.doc(responses={409: "The id is taken"})
def create_initiative(json_data: InitiativeIn) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Store an initiative (a broker's request, to recommend for and propose coalitions to)."""
    body = json_data.model_dump(mode="json")
    check_initiative(body, taxonomies())
    record = services().catalog.save_initiative(
        json_data.id, body, create=True, actor=current_caller().actor
    )
    headers = {"ETag": etag(record.version), "Location": f"/v1/initiatives/{record.id}"}
    return initiative_body(record), 201, headers


@bp.post("/draft")
@bp.auth_required(auth, roles=roles_for("recommend"))
@bp.input(DraftIn, location="json")
@bp.output(DraftOut)
def draft_initiative(json_data: DraftIn) -> dict[str, Any]:
    """Read a concept note (English or French) into a draft initiative: each field with the
    phrase that triggered it and a confidence, for the broker to accept or drop."""
    current = snapshot()
    return services().holder.intake(current).draft(json_data.text).to_dict()


@bp.get("/<initiative_id>")
@bp.auth_required(auth, roles=roles_for("read"))
@bp.output(InitiativeOut)
def get_initiative(initiative_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """One initiative."""
    record = services().catalog.get_initiative(initiative_id)
    return initiative_body(record), 200, {"ETag": etag(record.version)}


@bp.put("/<initiative_id>")
@bp.auth_required(auth, roles=roles_for("propose"))
@bp.input(InitiativeUpdateIn, location="json")
@bp.output(InitiativeOut)
@bp.doc(responses={409: "Changed since the If-Match version"})
def update_initiative(
    initiative_id: str, json_data: InitiativeUpdateIn
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Replace an initiative; with If-Match, refused (409) if someone changed it since."""
    body = {"id": initiative_id, **json_data.model_dump(mode="json")}
    check_initiative(body, taxonomies())
    record = services().catalog.save_initiative(
        initiative_id,
        body,
        create=False,
        expected_version=expected_version(),
        actor=current_caller().actor,
    )
    return initiative_body(record), 200, {"ETag": etag(record.version)}


@bp.delete("/<initiative_id>")
@bp.auth_required(auth, roles=roles_for("propose"))
@bp.output({}, status_code=204)
def delete_initiative(initiative_id: str) -> tuple[str, int]:
    """Delete an initiative and the coalitions proposed for it."""
    services().catalog.delete_initiative(
        initiative_id, expected_version=expected_version(), actor=current_caller().actor
    )
    return "", 204


@bp.post("/<initiative_id>/recommendations")
@bp.auth_required(auth, roles=roles_for("recommend"))
@bp.output(RecommendationOut)
def recommend_for_initiative(initiative_id: str) -> dict[str, Any]:
    """Recommend coalitions for a stored initiative."""
    record = services().catalog.get_initiative(initiative_id)
    return recommendation_body({**record.body, "id": record.id})


@bp.post("/<initiative_id>/proposals")
@bp.auth_required(auth, roles=roles_for("propose"))
@bp.input(ProposalIn, location="json")
@bp.output(ProposalOut, status_code=201)
def propose(
    initiative_id: str, json_data: ProposalIn
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Save a recommended coalition for review by the Partnerships Office."""
    record = services().catalog.create_proposal(
        initiative_id, json_data.coalition.model_dump(mode="json"), actor=current_caller().actor
    )
    headers = {"ETag": etag(record.version), "Location": f"/v1/proposals/{record.id}"}
    return proposal_body(record), 201, headers
