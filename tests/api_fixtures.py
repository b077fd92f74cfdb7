"""Fixtures for the HTTP API: an app on a copy of a seeded SQLite database, and one API key
per role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient

from matcher.usecases.apikeys import Role, key_digest, new_key
from matcher.usecases.directories import import_directory
from service.app import create_app
from service.services import services

SEED = Path(__file__).resolve().parent.parent / "data" / "seed"


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the seed data, migrated and imported once per session."""
    folder = tmp_path_factory.mktemp("seeded")
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'seed.db'}",
            "SECRET_KEY": "test-secret",
            "INDEX_REFRESH": "inline",
            "TEXT_ENCODER": "none",
        }
    )
    found = services(app)
    import_directory(found.repository, SEED, found.taxonomies, actor="test")
    found.repository.engine.dispose()
    return folder / "seed.db"


@pytest.fixture
def app(seeded_database: Path, tmp_path: Path) -> Iterator[APIFlask]:
    """The service on a fresh copy of the seeded database, rebuilding its index inline."""
    database = tmp_path / "api.db"
    shutil.copy(seeded_database, database)
    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{database}",
            "SECRET_KEY": "test-secret",
            "INDEX_REFRESH": "inline",
            "TEXT_ENCODER": "none",
            "INDEX_POLL_SECONDS": 0.0,
        }
    )
    yield application
    services(application).repository.engine.dispose()


@pytest.fixture
def client(app: APIFlask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def keys(app: APIFlask) -> dict[str, str]:
    """A key per role: ``{"broker": "pm_...", "reviewer": ..., "admin": ...}``."""
    found = services(app)
    tokens = {}
    for role in Role:
        key = new_key()
        found.catalog.add_key(
            key.id,
            key_digest(key.token, found.key_secret),
            role=role.value,
            name=f"{role.value}-1",
            actor="test",
        )
        tokens[role.value] = key.token
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
