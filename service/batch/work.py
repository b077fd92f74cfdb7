"""What a worker does with a chunk of initiatives: recommend, explain, render; no file writes.

A worker holds one fitted :class:`~matcher.engine.recommend.CoalitionRecommender`, received once
(inherited through ``fork`` by the local pool; unpickled once per Dask worker from bytes
scattered to every worker, or, from an index snapshot, opened by each Dask worker from the
snapshot's path). For each initiative it returns an :class:`Outcome`: the
plain-data result (written as ``result.json``) and the rendered files as bytes. The parent
writes everything, so a remote Dask cluster needs no shared file system.
"""

from __future__ import annotations

import copyreg
import dataclasses
import hashlib
import io
import json
import math
import pickle
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from matcher.domain.exceptions import PartnerMatchError
from matcher.domain.model import Initiative
from matcher.engine.compiled import submatrix
from matcher.engine.recommend import CoalitionRecommender, EngineConfig
from matcher.formats.initiative_files import initiative_to_mapping
from matcher.usecases.indexing import snapshot_recommender
from service.batch.render import render_initiative, warm_up

__all__ = [
    "RESULT_FILE",
    "ReportSettings",
    "Task",
    "Outcome",
    "SnapshotRecipe",
    "fingerprint",
    "dump_recommender",
    "load_recommender",
    "install_recommender",
    "run_chunk",
    "run_chunk_with",
    "describe",
]

#: Written last in each initiative's folder: its presence marks the initiative done.
RESULT_FILE = "result.json"
#: Version of the result layout; a change makes ``--resume`` redo older results.
#: 2: ``ties`` cover the go-betweens of the introduction paths too (the pictures draw them);
#: 3: members carry name, kind and country, ``infeasible`` its conflicts and relaxations.
RESULT_VERSION = 3


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """What every initiative's report depends on besides the initiative and the data."""

    count: int | None = None
    figures: bool = True


@dataclass(frozen=True, slots=True)
class Task:
    """One initiative to report on, with its place in the portfolio and its folder."""

    position: int
    folder: str
    initiative: Initiative
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished initiative: its result and files, or the reason it failed."""

    position: int
    initiative_id: str
    folder: str
    result: dict[str, Any] | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)
    error: str | None = None


def fingerprint(initiative: Initiative, settings: ReportSettings) -> str:
    """A hash of everything an initiative's report depends on (but the data)."""
    payload = {
        "version": RESULT_VERSION,
        "initiative": initiative_to_mapping(initiative),
        "settings": dataclasses.asdict(settings),
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


# Shipping the recommender -----------------------------------------------------------------


def _mapping_proxy(contents: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(contents)


def _reduce_mapping_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    return _mapping_proxy, (dict(proxy),)


@dataclass(frozen=True, slots=True)
class SnapshotRecipe:
    """A recommender for a worker to open itself: the index snapshot's path and the engine
    configuration (a few hundred bytes to ship instead of the index's arrays)."""

    path: str
    config: EngineConfig


def dump_recommender(
    recommender: CoalitionRecommender, *, snapshot: Path | str | None = None
) -> bytes:
    """Pickle a fitted recommender (its read-only mappings included) to ship it to workers;
    with ``snapshot``, the snapshot it was opened from
    (:func:`~matcher.usecases.indexing.snapshot_recommender`), only its absolute path and
    the configuration: each worker memory-maps the snapshot, so workers on one machine share
    its pages (they must see the path)."""
    shipped: CoalitionRecommender | SnapshotRecipe = (
        recommender
        if snapshot is None
        else SnapshotRecipe(str(Path(snapshot).resolve()), recommender.config)
    )
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = copyreg.dispatch_table.copy()
    pickler.dispatch_table[MappingProxyType] = _reduce_mapping_proxy
    pickler.dump(shipped)
    return buffer.getvalue()


def load_recommender(payload: bytes) -> CoalitionRecommender:
    """The recommender :func:`dump_recommender` pickled (opened from its snapshot when it
    shipped a :class:`SnapshotRecipe`), its compiled loops loaded, ready to answer."""
    shipped = pickle.loads(payload)
    if isinstance(shipped, SnapshotRecipe):
        return snapshot_recommender(shipped.path, shipped.config)  # fitting warms it up
    if not isinstance(shipped, CoalitionRecommender):
        raise TypeError(f"expected a CoalitionRecommender, got {type(shipped).__name__}")
    shipped.warm_up()
    return shipped


_installed: dict[str, CoalitionRecommender] = {}
_install_lock = threading.Lock()


def install_recommender(recommender: CoalitionRecommender) -> None:
    """Process-pool initializer: keep the recommender for every later chunk of this worker,
    with one BLAS thread (the pool's processes are the parallelism, and results then do not
    depend on the thread count)."""
    _prepare_worker()
    _installed["local"] = recommender


def _prepare_worker() -> None:
    """One BLAS thread (the processes are the parallelism, and results then do not depend on
    a thread count); templates compiled and fonts loaded before the first initiative."""
    threadpool_limits(1)
    warm_up()


def run_chunk(tasks: Sequence[Task], settings: ReportSettings) -> list[Outcome]:
    """A chunk in a pool worker set up by :func:`install_recommender`."""
    return [describe(_installed["local"], task, settings) for task in tasks]


def run_chunk_with(
    payload: bytes, token: str, tasks: Sequence[Task], settings: ReportSettings
) -> list[Outcome]:
    """A chunk on a Dask worker: ``payload`` (scattered once to every worker) is unpickled on
    the worker's first chunk and kept under ``token`` for the next ones."""
    with _install_lock:
        recommender = _installed.get(token)
        if recommender is None:
            _prepare_worker()
            _installed.clear()
            recommender = _installed[token] = load_recommender(payload)
    return [describe(recommender, task, settings) for task in tasks]


# One initiative ----------------------------------------------------------------------------


def describe(recommender: CoalitionRecommender, task: Task, settings: ReportSettings) -> Outcome:
    """Recommend for one initiative and render its report; failures become the outcome's
    ``error`` instead of stopping the chunk."""
    initiative = task.initiative
    try:
        if settings.count is not None and settings.count != initiative.count:
            initiative = dataclasses.replace(initiative, count=settings.count)
        result = _result(recommender, initiative, task)
        files = render_initiative(result, figures=settings.figures)
    except PartnerMatchError as err:
        return Outcome(task.position, initiative.id, task.folder, error=str(err))
    except Exception as err:  # one broken initiative must not stop the batch
        reason = f"{type(err).__name__}: {err}"
        return Outcome(task.position, initiative.id, task.folder, error=reason)
    result["files"] = sorted([*files, RESULT_FILE])
    return Outcome(task.position, initiative.id, task.folder, result=result, files=files)


def _result(
    recommender: CoalitionRecommender, initiative: Initiative, task: Task
) -> dict[str, Any]:
    """The recommendation as plain data, with what a reader needs to know about each
    organisation named (name, kind, sector, country, region) and the ties among the lead, the
    members and the go-betweens of their introduction paths (what a picture draws)."""
    recommendation = recommender.recommend(initiative).to_dict()
    index = recommender.index_
    named: set[str] = {initiative.lead}
    weights = {need.capability: need.weight for need in initiative.needs}
    coalitions = []
    for rank, coalition in enumerate(recommendation["coalitions"], start=1):
        members = coalition["members"]
        ids = [member["id"] for member in members]
        named.update(ids)
        for member in members:
            named.update(member["path_to_lead"])
        named.update(gap["best_partner"] for gap in coalition["gaps"] if gap["best_partner"])
        coalitions.append(
            {
                "rank": rank,
                **coalition,
                "need_coverage": _need_coverage(weights, members),
                "ties": _ties(recommender, _drawn(initiative.lead, members)),
            }
        )
    named.update(exclusion["id"] for exclusion in recommendation["excluded"])
    return {
        "version": RESULT_VERSION,
        "fingerprint": task.fingerprint,
        "id": initiative.id,
        "title": initiative.title,
        "lead": initiative.lead,
        "description": initiative.description,
        "themes": sorted(initiative.themes),
        "countries": sorted(initiative.countries),
        "activity_types": sorted(a.value for a in initiative.activity_types),
        "needs": [{"capability": n.capability, "weight": n.weight} for n in initiative.needs],
        "constraints": initiative_to_mapping(initiative)["constraints"],
        "count": initiative.count,
        "coalitions": coalitions,
        "excluded": recommendation["excluded"],
        "pool_size": recommendation["pool_size"],
        "infeasible": recommendation["infeasible"],
        "availability": _availability(recommender, initiative, coalitions),
        "organisations": {org_id: _organisation(index, org_id) for org_id in sorted(named)},
    }


def _need_coverage(weights: Mapping[str, float], members: Sequence[Mapping[str, Any]]) -> float:
    """Share of the needs' weight the coalition covers: sum_j w_j max_i s_ij / sum_j w_j."""
    total = math.fsum(weights.values())
    if total <= 0:
        return 1.0
    covered = math.fsum(
        weight * max((member["covers"].get(need, 0.0) for member in members), default=0.0)
        for need, weight in weights.items()
    )
    return covered / total


def _availability(
    recommender: CoalitionRecommender,
    initiative: Initiative,
    coalitions: Sequence[Mapping[str, Any]],
) -> dict[str, float]:
    """Per need, the best coverage an eligible candidate offers: from the coalitions and
    their gaps' best partners; with no coalition, the best holder in the data but the lead."""
    availability: dict[str, float] = {}
    lead = recommender.index_.position[initiative.lead]
    for need in initiative.needs:
        code = need.capability
        if coalitions:
            offered = [
                member["covers"].get(code, 0.0)
                for coalition in coalitions
                for member in coalition["members"]
            ]
            offered += [
                gap["best_partner_coverage"]
                for coalition in coalitions
                for gap in coalition["gaps"]
                if gap["need"] == code
            ]
            availability[code] = max(offered, default=0.0)
        else:
            positions, values = recommender.need_coverage(code)
            held = values[positions != lead]
            availability[code] = round(float(held.max()), 6) if held.size else 0.0
    return availability


def _drawn(lead: str, members: Sequence[Mapping[str, Any]]) -> list[str]:
    """The lead, the members, then the go-betweens of their introduction paths, once each."""
    paths = (node for member in members for node in member["path_to_lead"])
    return list(dict.fromkeys([lead, *(member["id"] for member in members), *paths]))


def _ties(recommender: CoalitionRecommender, ids: Sequence[str]) -> list[list[Any]]:
    """Past collaboration (recency-weighted shared partnerships) between any two of ``ids``."""
    index = recommender.index_
    positions = np.asarray([index.position[org_id] for org_id in ids], dtype=np.int64)
    order = np.argsort(positions)
    collaboration = index.collaboration
    block = np.empty((positions.size, positions.size))
    block[:, order] = submatrix(
        np.asarray(collaboration.indptr),
        np.asarray(collaboration.indices),
        np.asarray(collaboration.data),
        positions,
        positions[order],
    )
    return [
        [ids[a], ids[b], round(float(block[a, b]), 6)]
        for a in range(len(ids))
        for b in range(a + 1, len(ids))
        if block[a, b] > 0
    ]


def _organisation(index: Any, org_id: str) -> dict[str, Any]:
    position = index.position[org_id]
    organisation = index.organisation(position)
    return {
        "name": organisation.name,
        "kind": organisation.kind.value,
        "sector": organisation.sector.value if organisation.sector else None,
        "country": organisation.country,
        "region": index.region[position],
    }
