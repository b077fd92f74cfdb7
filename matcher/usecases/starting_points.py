"""Demo initiatives offered to a broker as starting points: the initiative files shipped
with the data (``data/seed/initiatives/``, ``data/iati-sample/initiatives/``) whose lead
is in the served data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matcher.domain.dataset import Dataset
from matcher.formats.initiative_files import (
    InitiativeFileError,
    initiative_to_mapping,
    read_initiatives,
)

__all__ = ["StartingPoint", "starting_points"]


@dataclass(frozen=True, slots=True)
class StartingPoint:
    """One demo initiative: its id, title, lead's name and JSON form."""

    id: str
    title: str
    lead_name: str
    body: dict[str, Any]


def starting_points(folders: Iterable[Path | str], dataset: Dataset) -> list[StartingPoint]:
    """The valid initiatives of ``folders`` (each a folder of JSON files) that the served
    ``dataset`` can answer (their lead is one of its organisations), in file order; a
    missing folder or an unreadable file is skipped."""
    found: list[StartingPoint] = []
    seen: set[str] = set()
    for folder in folders:
        path = Path(folder)
        if not path.is_dir():
            continue
        try:
            entries = read_initiatives(path, dataset.taxonomies)
        except InitiativeFileError:
            continue
        for entry in entries:
            initiative = entry.initiative
            if initiative is None or initiative.id in seen:
                continue
            lead = dataset.organisations.get(initiative.lead)
            if lead is None:
                continue
            seen.add(initiative.id)
            found.append(
                StartingPoint(
                    initiative.id,
                    initiative.title or initiative.id,
                    lead.name,
                    initiative_to_mapping(initiative),
                )
            )
    return found
