"""``/v1/proposals``: coalitions brokers proposed, and the Partnerships Office's reviews."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

from matcher.storage.catalog import ProposalRecord
from service.api import etag, expected_version, page_body
from service.auth import auth, current_caller, roles_for
from service.schemas import ProposalOut, ProposalPage, ProposalQuery, ReviewIn
from service.services import services

bp = APIBlueprint("proposals", __name__, url_prefix="/v1/proposals", tag="Proposals and reviews")


def proposal_body(record: ProposalRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "initiative_id": record.initiative_id,
        "members": list(record.members),
        "score": record.score,
        "coalition": record.coalition,
        "status": record.status,
        "proposed_by": record.proposed_by,
        "version": record.version,
        "created_at": record.created_at,
        "reviews": [
            {
                "id": r.id,
                "reviewer": r.reviewer,
                "decision": r.decision,
                "reason_code": r.reason_code,
                "comment": r.comment,
                "created_at": r.created_at,
            }
            for r in record.reviews
        ],
    }


@bp.get("")
@bp.auth_required(auth, roles=roles_for("read"))
@bp.input(ProposalQuery, location="query")
@bp.output(ProposalPage)
def list_proposals(query_data: ProposalQuery) -> dict[str, Any]:
    """The review queue: proposals by status, lead, theme or country, sorted."""
    page = services().catalog.list_proposals(
        status=query_data.status,
        lead=query_data.lead,
        theme=query_data.theme,
        country=query_data.country.upper() if query_data.country else None,
        sort=query_data.sort,
        offset=query_data.offset,
        limit=query_data.limit,
    )
    return page_body(page, [proposal_body(r) for r in page.items])


@bp.get("/<int:proposal_id>")
@bp.auth_required(auth, roles=roles_for("read"))
@bp.output(ProposalOut)
def get_proposal(proposal_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """One proposal with its reviews; its ETag is the version a decision must name."""
    record = services().catalog.get_proposal(proposal_id)
    return proposal_body(record), 200, {"ETag": etag(record.version)}


@bp.post("/<int:proposal_id>/reviews")
@bp.auth_required(auth, roles=roles_for("review"))
@bp.input(ReviewIn, location="json")
@bp.output(ProposalOut, status_code=201)
@bp.doc(responses={409: "Someone decided first, or the If-Match version is stale"})
def review(proposal_id: int, json_data: ReviewIn) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Approve, reject or request changes, with a reason code and a comment.

    Only a proposal awaiting a decision can be decided: of reviewers deciding at once,
    exactly one succeeds and the others get 409 (nothing is overwritten).
    """
    record = services().catalog.decide(
        proposal_id,
        reviewer=current_caller().actor,
        decision=json_data.decision,
        reason_code=json_data.reason_code,
        comment=json_data.comment,
        expected_version=expected_version(),
    )
    return proposal_body(record), 201, {"ETag": etag(record.version)}
