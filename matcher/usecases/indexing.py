"""Use cases of the index snapshot: build one from a data directory or the database, open one."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matcher.domain.taxonomy import Taxonomies
from matcher.engine.index import IndexConfig, build_index
from matcher.engine.recommend import CoalitionRecommender, EngineConfig
from matcher.engine.snapshot import open_snapshot, write_snapshot
from matcher.storage.sql import SqlRepository
from matcher.usecases.directories import load_dataset

__all__ = ["build_index_snapshot", "snapshot_recommender"]


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
    """Read the data (a directory, else the database with its data version), build the index
    and write it as a snapshot at ``out``; returns the manifest, with the seconds spent
    reading (``read_seconds``) and building (``index_seconds``)."""
    started = time.perf_counter()
    version: int | None = None
    if data_dir is not None:
        dataset = load_dataset(taxonomies, data_dir=data_dir)
        origin = str(data_dir)
    elif repository is not None:
        version, dataset = repository.load_snapshot()
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
        },
    )


def snapshot_recommender(
    path: Path | str, config: EngineConfig | None = None
) -> CoalitionRecommender:
    """A recommender fitted on the snapshot at ``path`` (memory-mapped)."""
    return CoalitionRecommender(config=config).fit(open_snapshot(path).index)
