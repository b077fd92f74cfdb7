"""Use cases of the index snapshot: build one from a data directory or the database, open one."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from matcher.domain.taxonomy import Taxonomies
from matcher.engine.index import IndexConfig, build_index
from matcher.engine.reasons import Rejection
from matcher.engine.recommend import CoalitionRecommender, EngineConfig
from matcher.engine.snapshot import open_snapshot, write_snapshot
from matcher.storage.catalog import SqlCatalog
from matcher.storage.sql import SqlRepository
from matcher.usecases.decisions import load_history
from matcher.usecases.directories import load_dataset

__all__ = [
    "build_index_snapshot",
    "snapshot_recommender",
    "rejections_to_json",
    "rejections_from_json",
]


def rejections_to_json(rejections: Iterable[Rejection]) -> list[dict[str, Any]]:
    """The reviewers' rejections as the snapshot's manifest keeps them (``rejections``)."""
    return [
        {
            "lead": r.lead,
            "member": r.member,
            "decided_on": r.decided_on.isoformat(),
            "reason_code": r.reason_code,
            "proposal": r.proposal,
        }
        for r in rejections
    ]


def rejections_from_json(rows: Iterable[Mapping[str, Any]]) -> tuple[Rejection, ...]:
    """The rejections :func:`rejections_to_json` wrote."""
    return tuple(
        Rejection(
            row["lead"],
            row["member"],
            dt.date.fromisoformat(row["decided_on"]),
            row["reason_code"],
            row["proposal"],
        )
        for row in rows
    )


def build_index_snapshot(
    taxonomies: Taxonomies,
    out: Path | str,
    *,
    data_dir: Path | str | None = None,
    repository: SqlRepository | None = None,
    config: IndexConfig | None = None,
    replace: bool = False,
    text_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Read the data (a directory, else the database with its data version and the
    reviewers' decisions, as the service reads it), build the index and write it as a
    snapshot at ``out``; returns the manifest, with the seconds spent reading
    (``read_seconds``) and building (``index_seconds``)."""
    started = time.perf_counter()
    version: int | None = None
    rejections: tuple[Rejection, ...] = ()
    if data_dir is not None:
        dataset = load_dataset(taxonomies, data_dir=data_dir)
        origin = str(data_dir)
    elif repository is not None:
        history = load_history(repository, SqlCatalog(repository.engine, taxonomies))
        version, dataset, rejections = history.data_version, history.dataset, history.rejections
        origin = "database"
    else:
        raise ValueError("Give a data directory or a repository")
    read = time.perf_counter()
    index = build_index(dataset, config or IndexConfig(), text_progress=text_progress)
    built = time.perf_counter()
    return write_snapshot(
        index,
        out,
        data_version=version,
        replace=replace,
        extra={
            "source": origin,
            "read_seconds": round(read - started, 3),
            "index_seconds": round(built - read, 3),
            "rejections": rejections_to_json(rejections),
        },
    )


def snapshot_recommender(
    path: Path | str, config: EngineConfig | None = None
) -> CoalitionRecommender:
    """A recommender fitted on the snapshot at ``path`` (memory-mapped), with the rejections
    its manifest holds."""
    opened = open_snapshot(path)
    rejections = rejections_from_json(opened.manifest.get("rejections", ()))
    return CoalitionRecommender(config=config).fit(opened.index, rejections=rejections)
