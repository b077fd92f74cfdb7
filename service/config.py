"""Configuration of the web service: defaults, then ``PARTNERMATCH_*`` environment variables,
then the mapping given to :func:`service.app.create_app`.

=================================  ===========================================================
``PARTNERMATCH_DATABASE_URL``      SQLAlchemy URL (default ``sqlite:///var/partnermatch.db``)
``PARTNERMATCH_SECRET_KEY``        signs sessions and keys API-key digests; default: a random
                                   key kept in ``var/secret_key`` (created on first use, 0600)
``PARTNERMATCH_MAX_CONTENT_LENGTH`` largest zip import body, bytes (default 32 MiB)
``PARTNERMATCH_MAX_JSON_BYTES``    largest body but a zip import, bytes (default 1 MiB)
``PARTNERMATCH_MAX_IMPORT_UNPACKED_BYTES`` most bytes a zip import may unpack to (256 MiB)
``PARTNERMATCH_INDEX_REFRESH``     ``background`` (default) or ``inline`` index rebuilds
``PARTNERMATCH_INDEX_POLL_SECONDS`` how often a worker checks the data version (default 2)
``PARTNERMATCH_SNAPSHOT_DIR``      a folder of index snapshots, one per data version: each
                                   built once (one worker, under a file lock) and
                                   memory-mapped by every worker; a background thread polls
                                   the data version (default: none, each worker builds its
                                   own index in memory)
``PARTNERMATCH_RATE_LIMIT``        per key on the expensive endpoints (default 600 per minute)
``PARTNERMATCH_TEXT_ENCODER``      how the organisations' words are embedded: ``use``
                                   (default: the multilingual sentence encoder), ``tfidf``
                                   (the model-free fallback) or ``none``
=================================  ===========================================================
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

__all__ = ["DEFAULTS", "default_database_url", "resolve_secret_key"]


def default_database_url() -> str:
    """``$PARTNERMATCH_DATABASE_URL``, else a SQLite file under ``./var/``."""
    return os.environ.get("PARTNERMATCH_DATABASE_URL") or "sqlite:///var/partnermatch.db"


DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # resolved by default_database_url()
    "SECRET_KEY": None,  # resolved by resolve_secret_key()
    "SECRET_KEY_FILE": "var/secret_key",
    "MAX_CONTENT_LENGTH": 32 * 2**20,
    "MAX_JSON_BYTES": 2**20,
    "MAX_IMPORT_UNPACKED_BYTES": 256 * 2**20,
    "INDEX_REFRESH": "background",
    "INDEX_POLL_SECONDS": 2.0,
    "SNAPSHOT_DIR": None,
    "OPENAPI_VERSION": "3.1.0",
    "VALIDATION_ERROR_STATUS_CODE": 422,
    "AUTO_VALIDATION_ERROR_RESPONSE": True,
    "AUTO_404_RESPONSE": True,
    "JSON_SORT_KEYS": False,
    # the API document's servers: as configured (PARTNERMATCH_SERVERS), never from the
    # request's Host header, which any client sets (APIFlask's AUTO_SERVERS would use it)
    "AUTO_SERVERS": False,
    "SERVERS": None,
    "RATE_LIMIT": "600 per minute",
    "RATE_LIMIT_STORAGE_URI": "memory://",
    "TEXT_ENCODER": "use",
}


def resolve_secret_key(configured: str | None, key_file: str | os.PathLike[str]) -> str:
    """The configured secret, else the one kept in ``key_file`` (made on first use)."""
    if configured:
        return configured
    path = Path(key_file)
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secret)
    return secret
