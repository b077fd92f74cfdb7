"""Rate limits on the expensive endpoints (recommendations, completion, what-if, concept-note
drafts, imports, and the pages that recommend, propose or check a key at sign-in), per
verified API key (else per client address), so that one client cannot starve the others nor
guess keys quickly (Flask-Limiter).

``RATE_LIMIT`` (env ``PARTNERMATCH_RATE_LIMIT``, default ``600 per minute``) is counted per
key and per worker process (in-memory storage); ``RATE_LIMIT_STORAGE_URI`` (e.g.
``redis://...``) shares the counts between workers. A refused request is a 429 problem with
``Retry-After``.
"""

from __future__ import annotations

from flask import Flask, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from service.auth import caller_of

__all__ = ["EXPENSIVE_ENDPOINTS", "init_limits"]

SIGN_IN = "pages.signin"
#: Endpoints that run the engine or an import.
EXPENSIVE_ENDPOINTS = frozenset(
    {
        "recommendations.recommend",
        "recommendations.complete",
        "recommendations.what_if",
        "initiatives.recommend_for_initiative",
        "initiatives.draft_initiative",
        "imports.import_zip",
        "pages.recommend",
        "pages.draft",
        "pages.propose",
        "pages.signin",
    }
)


def _caller_key() -> str:
    """Whose budget a request spends: a verified API key's public id (never the key), else
    the signed-in page session's key id, else the client's address.

    A key that does not verify buys no budget of its own: otherwise a client guessing keys
    (at sign-in or on the API) would give each guess a fresh id and never be limited. A
    sign-in attempt always counts against its address.
    """
    if request.endpoint != SIGN_IN:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        caller = caller_of(token) if token else None
        if caller is not None:
            return f"key:{caller.key_id}"
        if request.blueprint == "pages" and session.get("key_id"):
            return f"key:{session['key_id']}"  # a signed cookie, checked on every page
    return f"ip:{get_remote_address()}"


def init_limits(app: Flask) -> Limiter:
    """Attach a limiter to ``app`` that limits only :data:`EXPENSIVE_ENDPOINTS`."""
    limiter = Limiter(
        _caller_key,
        app=app,
        default_limits=[app.config["RATE_LIMIT"]],
        default_limits_exempt_when=lambda: request.endpoint not in EXPENSIVE_ENDPOINTS,
        headers_enabled=True,
        storage_uri=app.config["RATE_LIMIT_STORAGE_URI"],
    )
    return limiter
