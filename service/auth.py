"""API keys sent as ``Authorization: Bearer <key>``, and the role each endpoint needs.

401 without a valid key, 403 with a key of the wrong role. Keys are stored as HMAC digests
(:mod:`matcher.usecases.apikeys`); the key itself appears in no log and no response but the one that
creates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apiflask import HTTPTokenAuth
from flask import g

from matcher.usecases.apikeys import PERMISSIONS, Role, parse_key, verify_key
from service.services import services

__all__ = ["Caller", "auth", "caller_of", "current_caller", "roles_for"]

auth = HTTPTokenAuth(scheme="Bearer", description="An API key made by `partnermatch keys create`")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's public id, its role and name."""

    key_id: str
    role: Role
    name: str

    @property
    def actor(self) -> str:
        """How the audit log names the caller."""
        return f"{self.role.value}:{self.name or self.key_id}"


def caller_of(token: str) -> Caller | None:
    """The caller a key belongs to, if it is a stored, unrevoked key (checked once per
    request: the rate limiter and the authentication both ask)."""
    checked: dict[str, Caller | None] = g.setdefault("checked_keys", {})
    if token not in checked:
        checked[token] = _verify(token)
    return checked[token]


def _verify(token: str) -> Caller | None:
    parsed = parse_key(token or "")
    if parsed is None:
        return None
    shared = services()
    record = shared.catalog.find_key(parsed[0])
    if record is None or record.revoked_at is not None:
        return None
    if not verify_key(token, record.digest, shared.key_secret):
        return None
    return Caller(record.id, Role(record.role), record.name)


auth.verify_token(caller_of)


@auth.get_user_roles
def _roles(caller: Caller) -> list[str]:
    return [caller.role.value]


def roles_for(permission: str) -> list[str]:
    """The roles holding ``permission``, for ``auth_required(auth, roles=...)``."""
    return sorted(role.value for role in PERMISSIONS[permission])


def current_caller() -> Caller:
    """The authenticated caller of this request."""
    caller: Any = auth.current_user
    assert isinstance(caller, Caller)
    return caller
