"""The application factory: ``create_app(config)`` is the only way to build the web service."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from apiflask import APIFlask
from flask import Response, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge

from matcher.engine.index import IndexConfig
from matcher.engine.recommend import EngineConfig
from matcher.engine.text import make_encoder
from matcher.formats.taxonomy_io import load_taxonomies
from matcher.storage.catalog import SqlCatalog
from matcher.storage.sql import SqlRepository, make_engine, migrate
from service import docs, pages
from service.api import (
    audit,
    health,
    imports,
    initiatives,
    organisations,
    partnerships,
    proposals,
    recommendations,
)
from service.config import DEFAULTS, default_database_url, resolve_secret_key
from service.errors import document_problems, problem, register_error_handlers
from service.holder import EngineHolder
from service.limits import init_limits
from service.services import Services, install_services, services

__all__ = ["create_app"]

log = logging.getLogger(__name__)

#: Request bodies of these types are accepted; anything else is a 415.
JSON_TYPES = ("application/json",)
UPLOAD_TYPES = ("application/zip", "multipart/form-data")
#: The one endpoint whose body may be larger than ``MAX_JSON_BYTES`` (up to
#: ``MAX_CONTENT_LENGTH``): the zip import.
UPLOAD_ENDPOINT = "imports.import_zip"
#: Static files, the only answers a cache may keep.
CACHEABLE_ENDPOINTS = frozenset({"pages.static", "docs.static", "docs.asset"})
#: Blueprints whose writes change the data the recommendation index is built from.
DATA_BLUEPRINTS = frozenset({"organisations", "partnerships", "imports", "proposals"})
#: The API's blueprints, in the order they are registered.
API_MODULES = (
    health,
    imports,
    organisations,
    partnerships,
    initiatives,
    recommendations,
    proposals,
    audit,
)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a document nested too deeply for the parser is invalid JSON (a
    400, like any other unreadable body) rather than a ``RecursionError`` (a 500)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as err:
            raise ValueError("The JSON is nested too deeply") from err


def create_app(config: Mapping[str, Any] | None = None) -> APIFlask:
    """Build the web service.

    Configuration comes from :data:`service.config.DEFAULTS`, then ``PARTNERMATCH_*``
    environment variables, then ``config``. The database is migrated to the latest schema;
    the recommendation index is built in the background (``/readyz`` says when it is ready)
    or inline with ``INDEX_REFRESH="inline"``.
    """
    app = APIFlask(
        "partnermatch",
        title="partnermatch API",
        version="1.0",
        spec_path="/openapi.json",
        docs_path=None,  # service.docs serves Swagger UI from this origin, not a CDN
    )
    app.json = JSONProvider(app)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("PARTNERMATCH")
    if config:
        app.config.from_mapping(config)
    app.config["DATABASE_URL"] = app.config["DATABASE_URL"] or default_database_url()
    app.config["SECRET_KEY"] = resolve_secret_key(
        app.config["SECRET_KEY"], app.config["SECRET_KEY_FILE"]
    )
    app.info = {
        "description": (
            "Complementary partner coalitions for multi-stakeholder partnerships. Send an API "
            "key as `Authorization: Bearer <key>`; errors are RFC 9457 problem+json."
        )
    }

    taxonomies = load_taxonomies()
    engine = make_engine(app.config["DATABASE_URL"])
    migrate(engine)
    repository = SqlRepository(engine, taxonomies)
    catalog = SqlCatalog(engine, taxonomies)
    holder = EngineHolder.on_database(
        repository,
        catalog,
        config=app.config.get("ENGINE_CONFIG") or EngineConfig(),
        index_config=IndexConfig(text_encoder=_text_encoder(app.config["TEXT_ENCODER"])),
        background=app.config["INDEX_REFRESH"] != "inline",
        poll_seconds=float(app.config["INDEX_POLL_SECONDS"]),
        snapshot_dir=app.config["SNAPSHOT_DIR"] or None,
    )
    install_services(
        app,
        Services(taxonomies, repository, catalog, holder, app.config["SECRET_KEY"].encode()),
    )

    register_error_handlers(app)
    init_limits(app)
    app.spec_processor(document_problems)
    _register_request_checks(app)

    for module in API_MODULES:
        app.register_blueprint(module.bp)

    pages.init_app(app)  # the review pages, with CSRF protection (the API is exempt)
    docs.init_app(app)

    holder.refresh(force=True)
    if app.config["SNAPSHOT_DIR"]:
        holder.watch()
    return app


def _text_encoder(configured: str | None) -> str | None:
    """``TEXT_ENCODER`` as the index takes it (``none`` or empty: no text)."""
    name = (configured or "").strip().lower()
    if name in ("", "none"):
        return None
    make_encoder(name)  # an unknown name fails here, not in the first index build
    return name


def _register_request_checks(app: APIFlask) -> None:
    @app.before_request
    def check_query() -> Response | None:
        repeated = sorted(key for key, values in request.args.lists() if len(values) > 1)
        if repeated and request.path.startswith("/v1"):
            return problem(
                422,
                f"Give each query parameter once: {', '.join(repeated)} repeated",
                errors=[
                    {"path": f"query.{key}", "message": "given more than once"} for key in repeated
                ],
            )
        return None

    @app.before_request
    def check_body() -> Response | None:
        """Type and size of a request body, whatever its framing.

        Every body is read through Werkzeug's limited stream (``request.max_content_length``,
        set per request: ``MAX_JSON_BYTES``, or ``MAX_CONTENT_LENGTH`` for the zip import),
        which never reads more than one byte past the limit. A ``Content-Length`` over the
        limit is refused before reading; a chunked body (no ``Content-Length``) is read up
        to the limit and refused as soon as it passes it. The content type is checked first,
        so a body of the wrong type is never read.
        """
        upload = request.endpoint == UPLOAD_ENDPOINT
        limit = int(app.config["MAX_CONTENT_LENGTH"] if upload else app.config["MAX_JSON_BYTES"])
        request.max_content_length = limit + 1  # one byte more tells "over" from "at"
        if request.method not in ("POST", "PUT", "PATCH"):
            return None
        api = request.path.startswith("/v1")
        if api and request.routing_exception is not None:
            return None  # 404 or 405: let routing answer
        length = request.content_length
        chunked = (
            length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        )
        has_body = bool(length) or chunked
        if api and not has_body and request.method != "POST":
            return problem(400, "This request needs a body")
        allowed = UPLOAD_TYPES if upload else JSON_TYPES
        if api and has_body and request.mimetype not in allowed:
            return problem(
                415,
                f"Send the body as {' or '.join(allowed)}, "
                f"not {request.mimetype or 'an unnamed type'}",
            )
        if length and length > limit:
            if not api:
                raise RequestEntityTooLarge()
            what = "zip archive" if upload else "JSON body"
            return problem(413, f"The {what} is {length} bytes; at most {limit}")
        if chunked and len(request.get_data(cache=True)) > limit:
            if not api:
                raise RequestEntityTooLarge()
            return problem(413, f"The body is larger than {limit} bytes (sent in chunks)")
        return None

    @app.after_request
    def refresh_index_after_data_writes(response: Response) -> Response:
        if (
            request.method in ("POST", "PUT", "DELETE")
            and request.blueprint in DATA_BLUEPRINTS
            and response.status_code < 400
        ):
            services(app).holder.refresh(force=True)
        return response

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.endpoint not in CACHEABLE_ENDPOINTS:
            # answers hold data a key may read (and POST /v1/keys a new key): no cache keeps them
            response.headers.setdefault("Cache-Control", "no-store")
        return response
