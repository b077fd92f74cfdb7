"""Liveness and readiness probes (no key needed)."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from sqlalchemy.exc import SQLAlchemyError

from service.schemas import HealthOut
from service.services import services

bp = APIBlueprint("health", __name__, tag="Health")


@bp.get("/healthz")
@bp.output(HealthOut)
def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
@bp.output(HealthOut)
@bp.doc(responses={503: "The database is unreachable or the index is not built yet"})
def readyz() -> tuple[dict[str, Any], int]:
    """Ready to serve: the database answers and a complete index is loaded."""
    found = services()
    try:
        version = found.catalog.data_version()
    except SQLAlchemyError:
        return {"status": "unavailable", "detail": "the database is unreachable"}, 503
    found.holder.refresh()
    current = found.holder.snapshot
    if current is None:
        detail = found.holder.last_error or "the recommendation index is being built"
        return {"status": "starting", "data_version": version, "detail": detail}, 503
    return {"status": "ready", "data_version": version, "index_version": current.data_version}, 200
