"""``/docs``: the API's interactive documentation (Swagger UI), served from this origin.

Swagger UI's files come from the ``swagger-ui-bundle-v2`` package (the spec-first project's
packaging of the Swagger UI release): nothing is fetched from a CDN, so the docs work
offline and no third-party script runs on this origin. The page has no inline script or
style, so a strict Content-Security-Policy holds; Swagger UI's "Try it out" calls only this
origin.
"""

from __future__ import annotations

from flask import Flask, abort, render_template, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path
from werkzeug.wrappers import Response

from service.html_blueprints import content_security_policy, html_blueprint

__all__ = ["bp", "init_app", "CONTENT_SECURITY_POLICY", "ASSETS"]

bp = html_blueprint("docs", __name__, static_url_path="/docs/static")

#: The Swagger UI files the page uses; nothing else of the package is served.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})

#: Scripts, styles and calls from this origin only; Swagger UI draws icons as data: URIs.
CONTENT_SECURITY_POLICY = content_security_policy(connect_self=True)


@bp.get("/docs")
def docs() -> str:
    return render_template("docs/index.html", spec_url=url_for("openapi.spec"))


@bp.get("/docs/assets/<name>")
def asset(name: str) -> Response:
    if name not in ASSETS:
        abort(404)
    return send_from_directory(str(swagger_ui_path), name, max_age=24 * 3600)


@bp.after_request
def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def init_app(app: Flask) -> None:
    """Serve the docs on ``app`` (whose APIFlask ``docs_path`` is off)."""
    app.register_blueprint(bp)
