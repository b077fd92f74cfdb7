"""The ``/v1`` resources, one blueprint per module, and what they share."""

from __future__ import annotations

import re
from typing import Any

from apiflask import abort
from flask import request

from matcher.storage.catalog import Page
from service.holder import Snapshot
from service.services import services

__all__ = ["etag", "expected_version", "page_body", "snapshot", "taxonomies"]

_ETAG = re.compile(r'^(?:W/)?"(\d+)"$')


def etag(version: int) -> str:
    """The ETag of a record at ``version``."""
    return f'"{version}"'


def expected_version() -> int | None:
    """The version named by ``If-Match`` (``None`` when absent); 412 when unreadable."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _ETAG.match(header.strip())
    if match is None:
        abort(412, f'If-Match must be an ETag this API gave, like "3"; got {header!r}')
    return int(match.group(1))


def page_body(page: Page[Any], items: list[Any]) -> dict[str, Any]:
    """A listing's JSON: its items and where the next page starts."""
    following = page.offset + page.limit
    return {
        "items": items,
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
        "next_offset": following if following < page.total else None,
    }


def snapshot() -> Snapshot:
    """The engine to answer with (freshened if the data moved); 503 while the first builds."""
    holder = services().holder
    holder.refresh()
    current = holder.snapshot
    if current is None:
        detail = "The recommendation index is being built; retry in a few seconds"
        if holder.last_error:
            detail = f"The recommendation index could not be built: {holder.last_error}"
        abort(503, detail, headers={"Retry-After": "5"})
    return current


def taxonomies() -> Any:
    """The vocabularies, with the stored data's own themes and capabilities when known."""
    current = services().holder.snapshot
    return current.dataset.taxonomies if current is not None else services().taxonomies
