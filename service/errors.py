"""Every error as RFC 9457 ``application/problem+json``, never an HTML page or a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from apiflask import APIFlask, HTTPError
from flask import Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from matcher.domain.exceptions import (
    DuplicateIdError,
    NotFoundError,
    PartnerMatchError,
    ValidationError,
)
from matcher.storage.catalog import ConflictError, StaleVersionError
from matcher.storage.sql import StorageError
from service.logsafe import printable

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
    elif error.status_code == 403 and detail == "Forbidden":
        detail = "Your API key's role may not do this"
    elif error.status_code == 400 and detail == "Bad Request":
        detail = "The body is not valid JSON (or is missing)"
    elif error.status_code == 405:
        detail = f"{request.method} is not allowed on {request.path}"
    elif error.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {request.path}"
    elif error.status_code == 413 and detail in ("Request Entity Too Large", "Content Too Large"):
        detail = "The request body is larger than this server accepts"
    return problem(error.status_code, str(detail), headers=headers)


#: The status of each domain error answered with its message alone. The most specific class
#: of an error decides, as in Flask's choice of handler: a duplicate id is a conflict (409)
#: although it is a validation error, and ValidationError has a handler of its own.
_STATUSES: Mapping[type[PartnerMatchError], int] = {
    DuplicateIdError: 409,
    StaleVersionError: 409,
    ConflictError: 409,
    NotFoundError: 404,
    PartnerMatchError: 422,
}


def _domain_problem(error: PartnerMatchError) -> Response:
    """A domain error as a problem whose detail is its message, at its class's status."""
    status = next(_STATUSES[cls] for cls in type(error).__mro__ if cls in _STATUSES)
    return problem(status, str(error))


def register_error_handlers(app: APIFlask) -> None:
    """Map domain errors to statuses and shape every error as problem+json."""
    app.error_processor(_http_error)

    for error_class in _STATUSES:
        app.register_error_handler(error_class, _domain_problem)

    @app.errorhandler(ValidationError)
    def invalid(error: ValidationError) -> Response:
        errors = [{"path": error.field, "message": str(error)}] if error.field else None
        return problem(422, str(error), errors=errors)

    @app.errorhandler(StorageError)
    @app.errorhandler(OperationalError)
    def storage(error: Exception) -> Response:
        log.error("storage error: %s", error)
        return problem(503, "The database is unavailable; try again shortly")

    @app.errorhandler(HTTPException)
    def http(error: HTTPException) -> Response:
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return _http_error(HTTPError(error.code or 500, message=error.name, headers=headers))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, printable(request.path))
        return problem(500, "An unexpected error occurred; it has been logged")


#: Problem statuses every operation may answer, and those of secured operations.
COMMON_PROBLEMS = {
    "400": "Malformed request (e.g. unreadable JSON)",
    "404": "Not found",
    "405": "Method not allowed",
    "413": "Request body too large",
    "415": "Unsupported media type",
    "422": "Invalid request: each bad field's path in `errors`",
    "500": "Unexpected error (logged; nothing internal is revealed)",
    "503": "The database or the recommendation index is not ready",
}
SECURED_PROBLEMS = {
    "401": "No valid API key",
    "403": "The key's role may not do this",
    "409": "Conflict: a duplicate id, a stale write (If-Match) or decision, or a record others "
    "still reference",
    "412": "Unreadable If-Match",
}


def document_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """Declare every error response as ``application/problem+json`` with the Problem schema."""
    from service.schemas import ProblemOut

    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = ProblemOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            wanted = dict(COMMON_PROBLEMS)
            if operation.get("security"):
                wanted.update(SECURED_PROBLEMS)
            for status, description in wanted.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = content
    return spec
