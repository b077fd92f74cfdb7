"""What the blueprints that serve HTML (the review pages, the API docs) share: a blueprint
left out of the OpenAPI document, and one Content-Security-Policy of this origin only."""

from __future__ import annotations

from flask import Blueprint

__all__ = ["html_blueprint", "content_security_policy"]


def html_blueprint(name: str, import_name: str, *, static_url_path: str) -> Blueprint:
    """A blueprint with its own ``templates`` and ``static`` folders, not part of the API.

    APIFlask reads ``enable_openapi`` of every blueprint when it builds the OpenAPI
    document: pages are no operations of the API.
    """
    bp = Blueprint(
        name,
        import_name,
        template_folder="templates",
        static_folder="static",
        static_url_path=static_url_path,
    )
    bp.enable_openapi = False  # type: ignore[attr-defined]
    return bp


def content_security_policy(*, connect_self: bool = False) -> str:
    """No inline script or style anywhere: everything comes from this origin (images also
    as ``data:`` URIs); ``connect_self`` names script calls to this origin explicitly.

    >>> "connect-src" in content_security_policy(), "connect-src" in content_security_policy(
    ...     connect_self=True
    ... )
    (False, True)
    """
    connect = ["connect-src 'self'"] if connect_self else []
    directives = [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        *connect,
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)
