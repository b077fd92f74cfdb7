"""API keys: how they look, how they are stored (never in clear) and checked.

A key reads ``pm_<id>_<secret>``: the public ``id`` finds the stored record, the 256-bit
``secret`` is checked against its digest, an HMAC-SHA256 keyed with the server's secret, in
constant time. A leaked database alone does not reveal or let anyone forge a key; the secret
has full entropy, so a slow KDF would only slow every request.

>>> key = new_key()
>>> record_id, digest = key.id, key_digest(key.token, b"server-secret")
>>> parse_key(key.token)[0] == record_id
True
>>> verify_key(key.token, digest, b"server-secret"), verify_key(key.token, digest, b"other")
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Role", "NewKey", "new_key", "parse_key", "key_digest", "verify_key", "PERMISSIONS"]

_KEY = re.compile(r"^pm_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$")


class Role(StrEnum):
    """Who may do what (see :data:`PERMISSIONS`)."""

    BROKER = "broker"
    REVIEWER = "reviewer"
    ADMIN = "admin"


#: Permission -> roles holding it. Brokers read, recommend and propose; reviewers read and
#: review; admins do everything, including data writes and keys.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "read": frozenset({Role.BROKER, Role.REVIEWER, Role.ADMIN}),
    "recommend": frozenset({Role.BROKER, Role.ADMIN}),
    "propose": frozenset({Role.BROKER, Role.ADMIN}),
    "review": frozenset({Role.REVIEWER, Role.ADMIN}),
    "write": frozenset({Role.ADMIN}),
    "keys": frozenset({Role.ADMIN}),
}


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly made key: ``token`` is shown once, then only its digest is kept."""

    id: str
    token: str


def new_key() -> NewKey:
    """A new random key."""
    key_id = "".join(secrets.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(12))
    return NewKey(key_id, f"pm_{key_id}_{secrets.token_urlsafe(32)}")


def parse_key(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, else ``None``."""
    match = _KEY.match(token)
    return (match.group(1), match.group(2)) if match else None


def key_digest(token: str, server_secret: bytes) -> str:
    """The stored form of a key: HMAC-SHA256 of the whole key under the server's secret."""
    return hmac.new(server_secret, token.encode(), hashlib.sha256).hexdigest()


def verify_key(token: str, digest: str, server_secret: bytes) -> bool:
    """Whether ``token`` is the key whose digest is ``digest`` (constant-time comparison)."""
    return hmac.compare_digest(key_digest(token, server_secret), digest)
