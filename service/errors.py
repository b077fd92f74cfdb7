"""Every error as RFC 9457 ``application/problem+json``, never an HTML page or a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from apiflask import APIFlask, HTTPError
from flask import Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from matcher.exceptions import DuplicateIdError, NotFoundError, PartnerMatchError, ValidationError
from matcher.storage.catalog import StaleVersionError
from matcher.storage.sql import StorageError

__all__ = ["register_error_handlers", "problem"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.content_type = PROBLEM_JSON
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _validation_errors(detail: Any) -> list[dict[str, str]]:
    """APIFlask's ``{location: {path: [messages]}}`` as a flat list of field problems."""
    errors = []
    if isinstance(detail, dict):
        for location, fields in detail.items():
            if not isinstance(fields, dict):
                continue
            for path, messages in fields.items():
                prefix = "" if location == "json" else f"{location}."
                for message in messages if isinstance(messages, list) else [messages]:
                    errors.append({"path": f"{prefix}{path}", "message": str(message)})
    return errors


def _http_error(error: HTTPError) -> Response:
    headers = {k: v for k, v in dict(error.headers or {}).items() if k.lower() != "content-type"}
    if error.status_code == 422 and isinstance(error.detail, dict):
        errors = _validation_errors(error.detail)
        detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors) or str(error.message)
        return problem(422, detail, errors=errors, headers=headers)
    detail = error.detail if isinstance(error.detail, str) and error.detail else error.message
    if error.status_code == 401:
        detail = "Send a valid API key as 'Authorization: Bearer <key>'"
    elif error.status_code == 403:
        detail = "Your API key's role may not do this"
    elif error.status_code == 405:
        detail = f"{request.method} is not allowed on {request.path}"
    elif error.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {request.path}"
    elif error.status_code == 413:
        detail = "The request body is larger than this server accepts"
    return problem(error.status_code, str(detail), headers=headers)


def register_error_handlers(app: APIFlask) -> None:
    """Map domain errors to statuses and shape every error as problem+json."""
    app.error_processor(_http_error)

    @app.errorhandler(DuplicateIdError)
    def duplicate(error: DuplicateIdError) -> Response:
        return problem(409, str(error))

    @app.errorhandler(StaleVersionError)
    def stale(error: StaleVersionError) -> Response:
        return problem(409, str(error))

    @app.errorhandler(ValidationError)
    def invalid(error: ValidationError) -> Response:
        errors = [{"path": error.field, "message": str(error)}] if error.field else None
        return problem(422, str(error), errors=errors)

    @app.errorhandler(NotFoundError)
    def not_found(error: NotFoundError) -> Response:
        return problem(404, str(error))

    @app.errorhandler(StorageError)
    @app.errorhandler(OperationalError)
    def storage(error: Exception) -> Response:
        log.error("storage error: %s", error)
        return problem(503, "The database is unavailable; try again shortly")

    @app.errorhandler(PartnerMatchError)
    def domain(error: PartnerMatchError) -> Response:
        return problem(422, str(error))

    @app.errorhandler(HTTPException)
    def http(error: HTTPException) -> Response:
        return _http_error(HTTPError(error.code or 500, message=error.name))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "An unexpected error occurred; it has been logged")
