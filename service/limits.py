"""Rate limits on the expensive endpoints (recommendations, completion, what-if, concept-note
drafts, imports, and the pages that recommend, propose or check a key at sign-in), per API
key, so that one client cannot starve the others nor guess keys quickly (Flask-Limiter).

``RATE_LIMIT`` (env ``PARTNERMATCH_RATE_LIMIT``, default ``600 per minute``) is counted per
key and per worker process (in-memory storage); ``RATE_LIMIT_STORAGE_URI`` (e.g.
``redis://...``) shares the counts between workers. A refused request is a 429 problem with
``Retry-After``.
"""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from matcher.usecases.apikeys import parse_key

__all__ = ["EXPENSIVE_ENDPOINTS", "init_limits"]

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
    """The API key's public id (never the key), else the client's address."""
    header = request.headers.get("Authorization", "")
    parsed = parse_key(header.removeprefix("Bearer ").strip())
    return f"key:{parsed[0]}" if parsed else f"ip:{get_remote_address()}"


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
