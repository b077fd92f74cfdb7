"""Fixtures for the HTTP API: an app on a copy of a seeded SQLite database, and one API key
per role; with the helpers behind them (an app of any settings, a key of any role) and the
seed's Brazil initiative, posted and proposed as a broker would."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient

from matcher.usecases.apikeys import Role, key_digest, new_key
from matcher.usecases.directories import import_directory
from service.app import create_app
from service.services import Services, services

SEED = Path(__file__).resolve().parent.parent / "data" / "seed"
#: The seed's initiative for schools in Brazil, as a broker would post it.
BRAZIL: dict[str, Any] = json.loads(
    (SEED / "initiatives" / "i49-edu-quality-brazil.json").read_text(encoding="utf-8")
)


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


def api_app(database_url: str, **config: Any) -> APIFlask:
    """The service on ``database_url`` as the API tests run it, rebuilding its index inline
    and reading no words; ``config`` adds to or replaces these settings."""
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "INDEX_REFRESH": "inline",
            "TEXT_ENCODER": "none",
            "INDEX_POLL_SECONDS": 0.0,
            **config,
        }
    )


def app_on_a_copy(seeded_database: Path, folder: Path, **config: Any) -> APIFlask:
    """:func:`api_app` on a fresh copy of the seeded database, in ``folder``."""
    database = folder / "api.db"
    shutil.copy(seeded_database, database)
    return api_app(f"sqlite:///{database}", **config)


@pytest.fixture
def app(seeded_database: Path, tmp_path: Path) -> Iterator[APIFlask]:
    """The service on a fresh copy of the seeded database, rebuilding its index inline."""
    application = app_on_a_copy(seeded_database, tmp_path)
    yield application
    services(application).repository.engine.dispose()


@pytest.fixture
def client(app: APIFlask) -> FlaskClient:
    return app.test_client()


def add_key(found: Services, role: str, name: str) -> str:
    """A new API key of ``role``; returns the key itself."""
    key = new_key()
    found.catalog.add_key(
        key.id, key_digest(key.token, found.key_secret), role=role, name=name, actor="test"
    )
    return key.token


@pytest.fixture
def keys(app: APIFlask) -> dict[str, str]:
    """A key per role: ``{"broker": "pm_...", "reviewer": ..., "admin": ...}``."""
    return {role.value: add_key(services(app), role.value, f"{role.value}-1") for role in Role}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def propose_brazil(client: FlaskClient, keys: dict[str, str], rank: int = 0) -> dict[str, Any]:
    """As the broker: post :data:`BRAZIL` unless it is there, and propose its ``rank``-th
    recommended coalition; returns the proposal."""
    broker = bearer(keys["broker"])
    if client.get(f"/v1/initiatives/{BRAZIL['id']}", headers=broker).status_code == 404:
        client.post("/v1/initiatives", json=BRAZIL, headers=broker)
    recommended = client.post(
        f"/v1/initiatives/{BRAZIL['id']}/recommendations", headers=broker
    ).get_json()
    response = client.post(
        f"/v1/initiatives/{BRAZIL['id']}/proposals",
        json={"coalition": recommended["coalitions"][rank]},
        headers=broker,
    )
    assert response.status_code == 201, response.get_json()
    proposal: dict[str, Any] = response.get_json()
    return proposal
