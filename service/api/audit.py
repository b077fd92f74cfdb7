"""``/v1/audit`` (every change, who and when) and ``/v1/keys`` (API keys, admins only)."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from pydantic import BaseModel, Field

from matcher.usecases.apikeys import Role, key_digest, new_key
from service.api import page_body
from service.auth import auth, current_caller, roles_for
from service.schemas import AuditPage, AuditQuery, Strict
from service.services import services

bp = APIBlueprint("audit", __name__, url_prefix="/v1", tag="Audit and keys")


class KeyIn(Strict):
    role: Role = Field(strict=False)
    name: str = Field("", max_length=128)


class KeyOut(BaseModel):
    id: str
    role: str
    name: str
    token: str | None = Field(None, description="The key itself: shown once, never again")


@bp.get("/audit")
@bp.auth_required(auth, roles=roles_for("read"))
@bp.input(AuditQuery, location="query")
@bp.output(AuditPage)
def audit(query_data: AuditQuery) -> dict[str, Any]:
    """The audit trail, newest first."""
    page = services().catalog.list_audit(
        entity_type=query_data.entity_type,
        entity_id=query_data.entity_id,
        actor=query_data.actor,
        offset=query_data.offset,
        limit=query_data.limit,
    )
    items = [
        {
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "entity_type": e.entity_type,
            "entity_id": e.entity_id,
            "detail": dict(e.detail),
        }
        for e in page.items
    ]
    return page_body(page, items)


@bp.post("/keys")
@bp.auth_required(auth, roles=roles_for("keys"))
@bp.input(KeyIn, location="json")
@bp.output(KeyOut, status_code=201)
def create_key(json_data: KeyIn) -> tuple[dict[str, Any], int]:
    """Make an API key for a role; the response is the only time the key is shown."""
    found = services()
    key = new_key()
    found.catalog.add_key(
        key.id,
        key_digest(key.token, found.key_secret),
        role=json_data.role.value,
        name=json_data.name,
        actor=current_caller().actor,
    )
    return {
        "id": key.id,
        "role": json_data.role.value,
        "name": json_data.name,
        "token": key.token,
    }, 201


@bp.delete("/keys/<key_id>")
@bp.auth_required(auth, roles=roles_for("keys"))
@bp.output({}, status_code=204)
def revoke_key(key_id: str) -> tuple[str, int]:
    """Revoke a key (kept in the audit log, refused from now on)."""
    services().catalog.revoke_key(key_id, actor=current_caller().actor)
    return "", 204
