"""The Partnerships Office's review pages: server-rendered HTML over the API's use cases.

Sign-in with an API key starts a session (a signed cookie holding the key's id and role;
the key is checked again on every request, so a revoked key signs out). Every form carries
a CSRF token (Flask-WTF); the API's blueprints, which authenticate with Bearer keys and
never read the cookie, are exempt.
"""

from __future__ import annotations

import datetime as dt

from apiflask import APIBlueprint
from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from service.pages import lookup  # noqa: F401  (its routes join bp)
from service.pages.render import score_text, usd
from service.pages.views import bp

__all__ = ["init_app", "PageSessionInterface"]


class PageSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the Secure flag also set whenever the request
    came over HTTPS (``SESSION_COOKIE_SECURE`` forces it, e.g. behind a TLS proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = bool(app.config["SESSION_COOKIE_SECURE"])
        return configured or (has_request_context() and request.is_secure)


def init_app(app: Flask) -> CSRFProtect:
    """Register the pages on ``app``: CSRF protection, session cookie settings and ``bp``.

    Call it after the API's blueprints are registered: each of them (every
    :class:`~apiflask.APIBlueprint`) is exempted from CSRF checks.
    """
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["PERMANENT_SESSION_LIFETIME"] = app.config.get(
        "PAGES_SESSION_LIFETIME", dt.timedelta(hours=8)
    )
    app.session_interface = PageSessionInterface()
    csrf = CSRFProtect(app)
    for blueprint in list(app.blueprints.values()):
        if isinstance(blueprint, APIBlueprint):
            csrf.exempt(blueprint)

    app.register_blueprint(bp)
    # one rounding rule and one money format for every page (queue, proposal, broker)
    app.jinja_env.globals.update(score_text=score_text, usd=usd)
    return csrf
