"""``/v1/partnerships``: list with filters, get, create, update, delete."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

from matcher.usecases.editing import partnership_body, partnership_from_body
from service.api import etag, expected_version, page_body, taxonomies
from service.auth import auth, current_caller, roles_for
from service.schemas import (
    PartnershipIn,
    PartnershipOut,
    PartnershipPage,
    PartnershipQuery,
    PartnershipUpdateIn,
)
from service.services import services

bp = APIBlueprint("partnerships", __name__, url_prefix="/v1/partnerships", tag="Partnerships")


@bp.get("")
@bp.auth_required(auth, roles=roles_for("read"))
@bp.input(PartnershipQuery, location="query")
@bp.output(PartnershipPage)
def list_partnerships(query_data: PartnershipQuery) -> dict[str, Any]:
    """Partnerships, filtered by theme, country, member or name."""
    page = services().catalog.list_partnerships(
        theme=query_data.theme,
        country=query_data.country.upper() if query_data.country else None,
        org_id=query_data.org_id,
        text=query_data.q,
        offset=query_data.offset,
        limit=query_data.limit,
    )
    return page_body(page, [partnership_body(r) for r in page.items])


@bp.post("")
@bp.auth_required(auth, roles=roles_for("write"))
@bp.input(PartnershipIn, location="json")
@bp.output(PartnershipOut, status_code=201)
@bp.doc(responses={409: "The id is taken"})
def create_partnership(json_data: PartnershipIn) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create a partnership with its members (stored organisations)."""
    partnership, members = partnership_from_body(
        json_data.id, json_data.model_dump(exclude={"id"}), taxonomies()
    )
    record = services().catalog.save_partnership(
        partnership, members, create=True, actor=current_caller().actor
    )
    headers = {"ETag": etag(record.version), "Location": f"/v1/partnerships/{partnership.id}"}
    return partnership_body(record), 201, headers


@bp.get("/<partnership_id>")
@bp.auth_required(auth, roles=roles_for("read"))
@bp.output(PartnershipOut)
def get_partnership(partnership_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """One partnership with its members."""
    record = services().catalog.get_partnership(partnership_id)
    return partnership_body(record), 200, {"ETag": etag(record.version)}


@bp.put("/<partnership_id>")
@bp.auth_required(auth, roles=roles_for("write"))
@bp.input(PartnershipUpdateIn, location="json")
@bp.output(PartnershipOut)
@bp.doc(responses={409: "Changed since the If-Match version"})
def update_partnership(
    partnership_id: str, json_data: PartnershipUpdateIn
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Replace a partnership and its members."""
    partnership, members = partnership_from_body(
        partnership_id, json_data.model_dump(), taxonomies()
    )
    record = services().catalog.save_partnership(
        partnership,
        members,
        create=False,
        expected_version=expected_version(),
        actor=current_caller().actor,
    )
    return partnership_body(record), 200, {"ETag": etag(record.version)}


@bp.delete("/<partnership_id>")
@bp.auth_required(auth, roles=roles_for("write"))
@bp.output({}, status_code=204)
def delete_partnership(partnership_id: str) -> tuple[str, int]:
    """Delete a partnership and its memberships."""
    services().catalog.delete_partnership(
        partnership_id, expected_version=expected_version(), actor=current_caller().actor
    )
    return "", 204
