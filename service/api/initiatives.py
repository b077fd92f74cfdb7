"""``/v1/initiatives``: stored initiatives (DESIGN.md 5.2), their recommendations and the
coalitions brokers propose for them."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, abort
from flask import Response

from matcher.storage.catalog import InitiativeRecord
from matcher.usecases.apikeys import Role
from matcher.usecases.editing import check_initiative
from matcher.usecases.proposing import propose_coalition
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
        "created_by": record.created_by,
        "archived_at": record.archived_at,
    }


def _owned(initiative_id: str) -> InitiativeRecord:
    """The initiative, if the caller may change it: its creator, or an admin (else 403)."""
    record = services().catalog.get_initiative(initiative_id)
    caller = current_caller()
    if caller.role is not Role.ADMIN and record.created_by != caller.actor:
        owner = record.created_by or "an earlier version of the service"
        abort(
            403,
            f"Initiative {initiative_id!r} was created by {owner}: only its creator or an "
            "admin may change it",
        )
    return record


@bp.get("")
@bp.auth_required(auth, roles=roles_for("read"))
@bp.input(InitiativeQuery, location="query")
@bp.output(InitiativePage)
def list_initiatives(query_data: InitiativeQuery) -> dict[str, Any]:
    """Initiatives, optionally of one lead."""
    page = services().catalog.list_initiatives(
        lead=query_data.lead,
        include_archived=query_data.include_archived,
        offset=query_data.offset,
        limit=query_data.limit,
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


@bp.post("/draft", provide_automatic_options=False)
@bp.auth_required(auth, roles=roles_for("recommend"))
@bp.input(DraftIn, location="json")
@bp.output(DraftOut)
def draft_initiative(json_data: DraftIn) -> dict[str, Any]:
    """Read a concept note (English or French) into a draft initiative: each field with the
    phrase that triggered it and a confidence, for the broker to accept or drop."""
    current = snapshot()
    return services().holder.intake(current).draft(json_data.text).to_dict()


@bp.route("/draft", methods=["OPTIONS"])
@bp.doc(hide=True)
def draft_options() -> Response:
    """``/draft`` also matches ``/<initiative_id>`` (GET, PUT, DELETE): answer for ``/draft``
    alone, whose only method is POST."""
    return Response(status=204, headers={"Allow": "OPTIONS, POST"})


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
@bp.doc(
    responses={
        403: "Another broker's initiative",
        409: "Changed since the If-Match version, or archived",
    }
)
def update_initiative(
    initiative_id: str, json_data: InitiativeUpdateIn
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Replace an initiative; with If-Match, refused (409) if someone changed it since.

    Brokers change only the initiatives they created; admins any."""
    _owned(initiative_id)
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
@bp.doc(
    responses={
        403: "Another broker's initiative",
        409: "A proposal for it was decided (archive it instead), or If-Match is stale",
    }
)
def delete_initiative(initiative_id: str) -> tuple[str, int]:
    """Delete an initiative and its proposals awaiting a decision.

    An initiative with a decided proposal cannot be deleted (409): archive it. Brokers
    delete only the initiatives they created; admins any."""
    _owned(initiative_id)
    services().catalog.delete_initiative(
        initiative_id, expected_version=expected_version(), actor=current_caller().actor
    )
    return "", 204


@bp.post("/<initiative_id>/archive")
@bp.auth_required(auth, roles=roles_for("propose"))
@bp.output(InitiativeOut)
@bp.doc(
    responses={
        403: "Another broker's initiative",
        409: "Archived already, or If-Match is stale",
    }
)
def archive_initiative(initiative_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Archive an initiative: it keeps its proposals and reviews, leaves the listing (see
    ``include_archived``) and takes no more edits or proposals."""
    _owned(initiative_id)
    record = services().catalog.archive_initiative(
        initiative_id, expected_version=expected_version(), actor=current_caller().actor
    )
    return initiative_body(record), 200, {"ETag": etag(record.version)}


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
@bp.doc(
    responses={
        409: "The initiative is archived",
        422: "A member is unknown, listed twice, or kept out by a hard gate (named)",
        503: "The recommendation index is being built",
    }
)
def propose(
    initiative_id: str, json_data: ProposalIn
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Propose a coalition for review by the Partnerships Office.

    The server never stores the coalition as sent: the engine recomputes it from its member
    ids (gates, flags, score, gaps and explanations), as the broker's page does.
    """
    if json_data.members is not None:
        members = list(json_data.members)
        paths = [f"members.{k}" for k in range(len(members))]
        field = "members"
    else:
        assert json_data.coalition is not None
        members = [m.id for m in json_data.coalition.members]
        paths = [f"coalition.members.{k}.id" for k in range(len(members))]
        field = "coalition.members"
    record = propose_coalition(
        services().catalog,
        snapshot().engine,
        initiative_id,
        members,
        actor=current_caller().actor,
        paths=paths,
        field=field,
    )
    headers = {"ETag": etag(record.version), "Location": f"/v1/proposals/{record.id}"}
    return proposal_body(record), 201, headers
