"""What the request handlers share: the :class:`Services` the app factory builds once per app.

The factory (:func:`service.app.create_app`) fills it in; blueprints read it through
:func:`services`, so that no blueprint imports the factory's module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from matcher.domain.taxonomy import Taxonomies
from matcher.storage.catalog import SqlCatalog
from matcher.storage.sql import SqlRepository
from service.holder import EngineHolder

__all__ = ["Services", "services", "install_services"]

#: The key of :attr:`flask.Flask.extensions` the services are kept under.
_EXTENSION = "partnermatch"


@dataclass(frozen=True, slots=True)
class Services:
    """What the request handlers use, built once per app (no module-level state)."""

    taxonomies: Taxonomies
    repository: SqlRepository
    catalog: SqlCatalog
    holder: EngineHolder
    key_secret: bytes
    #: What the handlers build once and keep: per served index (``(snapshot, value)``) or
    #: for the life of the app; one entry per name.
    memo: dict[str, Any] = field(default_factory=dict)


def install_services(app: Flask, found: Services) -> None:
    """Make ``found`` the services of ``app``."""
    app.extensions[_EXTENSION] = found


def services(app: Flask | None = None) -> Services:
    """The :class:`Services` of ``app`` (default: the current app)."""
    found: Services = (app or current_app).extensions[_EXTENSION]
    return found
