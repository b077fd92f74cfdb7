"""The recommendation engine the API serves, kept in step with the database.

A request always sees a complete index: a rebuild happens aside (in a background thread, or
inline when configured so) and replaces the served snapshot in one assignment. Each
snapshot knows the data version it was built from; responses carry it.

Two ways to get the index. Without a snapshot folder, each worker reads the database and
builds its own index in memory. With one (``snapshot_dir``, the service's
``PARTNERMATCH_SNAPSHOT_DIR``), the index of each data version is written once as an on-disk
snapshot (:mod:`matcher.engine.snapshot`) by whichever worker gets the folder's file lock
first, and every worker memory-maps it: the arrays are shared by all workers through the page
cache, and a worker switches to a new data version in the time it takes to open a snapshot
(milliseconds) once one exists. :meth:`EngineHolder.watch` polls the data version in a
background thread, so an idle worker switches too.

A reviewer's rejection moves the data version but not the index's
(:class:`~matcher.storage.repository.DataVersions`): the holder then reads the rejections
standing and serves the same fitted engine with them
(:meth:`~matcher.engine.recommend.CoalitionRecommender.with_rejections`), in milliseconds at
any size, with no new index or snapshot. The snapshot folder holds one snapshot per index
version.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from matcher.domain.model import Organisation
from matcher.domain.taxonomy import Taxonomies
from matcher.engine.index import Index, IndexConfig, build_index
from matcher.engine.intake import ConceptNoteIntake
from matcher.engine.recommend import CoalitionRecommender, EngineConfig
from matcher.engine.snapshot import SnapshotStore, open_snapshot
from matcher.engine.text import EmbeddingCache
from matcher.storage.catalog import SqlCatalog
from matcher.storage.repository import DataVersions
from matcher.storage.sql import SqlRepository
from matcher.usecases.decisions import History, Judgements, load_history, load_judgements
from matcher.usecases.drafting import make_intake
from matcher.usecases.indexing import rejections_to_json

__all__ = ["Records", "Snapshot", "EngineHolder"]

log = logging.getLogger(__name__)


class Records(Protocol):
    """What the API and pages read besides the engine: a :class:`Dataset` in memory, or the
    index's :class:`~matcher.engine.directory.Directory` when served from a snapshot."""

    @property
    def taxonomies(self) -> Taxonomies: ...

    @property
    def organisations(self) -> Mapping[str, Organisation]: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A fitted engine, the data version it answers for and the index version it was built
    from (lower when the writes since were rejections only)."""

    data_version: int
    engine: CoalitionRecommender
    dataset: Records
    built_in_seconds: float
    index_version: int


class EngineHolder:
    """Holds the served :class:`Snapshot` and rebuilds it when the data version moves.

    Parameters
    ----------
    load : callable
        Returns the :class:`~matcher.usecases.decisions.History` to build from: the data
        versions and the dataset read in one consistent snapshot of the database, with the
        reviewers' decisions (approved coalitions as partnerships, rejections).
    load_judgements : callable
        Returns the :class:`~matcher.usecases.decisions.Judgements`: the data versions and
        the rejections standing (cheap: no dataset).
    current_versions : callable
        The database's :class:`~matcher.storage.repository.DataVersions` now (cheap).
    index_config : IndexConfig, optional
        How the index is built (its ``text_encoder`` embeds the organisations' words; a
        rebuild embeds only the texts that changed since the previous one).
    background : bool
        Rebuild in a thread (requests keep the previous snapshot meanwhile) or inline.
    poll_seconds : float
        How often at most a request asks the database for its data version.
    snapshot_dir : path, optional
        Serve memory-mapped snapshots kept in this folder, one per data version, each built
        once by one process (see the module docstring); ``None``: build in memory.
    """

    def __init__(
        self,
        load: Callable[[], History],
        load_judgements: Callable[[], Judgements],
        current_versions: Callable[[], DataVersions],
        *,
        config: EngineConfig | None = None,
        index_config: IndexConfig | None = None,
        background: bool = True,
        poll_seconds: float = 2.0,
        snapshot_dir: Path | str | None = None,
    ) -> None:
        self._load = load
        self._load_judgements = load_judgements
        self._current_versions = current_versions
        self._config = config or EngineConfig()
        self._index_config = index_config or IndexConfig()
        self._intake: tuple[int, ConceptNoteIntake] | None = None
        self._background = background
        self._poll_seconds = poll_seconds
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._building = False
        self._last_poll = 0.0
        self._store = SnapshotStore(snapshot_dir) if snapshot_dir is not None else None
        self._text_cache: EmbeddingCache | None = None
        self._watcher: threading.Thread | None = None
        self.last_error: str | None = None

    @classmethod
    def on_database(
        cls, repository: SqlRepository, catalog: SqlCatalog, **options: Any
    ) -> EngineHolder:
        """The holder the service runs: the history, the rejections standing and the data
        versions read from the database behind ``repository`` and ``catalog``; ``options``
        as for the constructor."""
        return cls(
            functools.partial(load_history, repository, catalog),
            functools.partial(load_judgements, catalog),
            catalog.versions,
            **options,
        )

    @property
    def snapshot(self) -> Snapshot | None:
        """The snapshot served now (``None`` until the first build finished)."""
        return self._snapshot

    def _read_and_build(self) -> tuple[History, Index]:
        """Read the database and build its index (embedding only texts not seen before)."""
        history = self._load()
        index = build_index(history.dataset, self._index_config, text_cache=self._text_cache)
        self._text_cache = index.text.cache if index.text is not None else None
        return history, index

    def _build_for_store(self) -> tuple[int, Index, dict[str, Any]]:
        """The index of the data now, as the snapshot of its index version; the reviewers'
        rejections go into its manifest for ``recommend --snapshot``, but workers read the
        ones standing from the database (they move without a new snapshot)."""
        history, index = self._read_and_build()
        extra = {"rejections": rejections_to_json(history.rejections)}
        return history.versions.index, index, extra

    def build(self) -> Snapshot:
        """Serve the data now: the served engine with the rejections standing when only
        rejections were written since its index; else a new index (built, or with a
        snapshot folder opened once one process has written it)."""
        started = time.perf_counter()
        served = self._snapshot
        current = self._current_versions()
        if served is not None and _index_holds(served, current):
            judged = self._load_judgements()
            if _index_holds(served, judged.versions):  # no index write since ``current``
                engine = served.engine.with_rejections(judged.rejections)
                return self._serve(
                    Snapshot(
                        judged.versions.data,
                        engine,
                        served.dataset,
                        time.perf_counter() - started,
                        served.index_version,
                    )
                )
        records: Records
        if self._store is None:
            history, index = self._read_and_build()
            versions, rejections = history.versions, history.rejections
            records = index.dataset
        else:
            built, path = self._store.ensure(current.index, self._build_for_store)
            opened = open_snapshot(path)
            index = opened.index
            records = index.records
            judged = self._load_judgements()
            versions, rejections = judged.versions, judged.rejections
            if versions.index > built:
                # an index write since the snapshot: served as of the snapshot's version, so
                # that the next poll builds again
                versions = DataVersions(built, built)
        engine = CoalitionRecommender(config=self._config).fit(index, rejections=rejections)
        return self._serve(
            Snapshot(versions.data, engine, records, time.perf_counter() - started, versions.index)
        )

    def _serve(self, snapshot: Snapshot) -> Snapshot:
        """Serve ``snapshot`` unless a newer one is served already."""
        with self._lock:
            current = self._snapshot
            if current is None or snapshot.data_version >= current.data_version:
                self._snapshot = snapshot
        log.info(
            "serving data version %s (index version %s) after %.2f s",
            snapshot.data_version,
            snapshot.index_version,
            snapshot.built_in_seconds,
        )
        return snapshot

    def intake(self, snapshot: Snapshot) -> ConceptNoteIntake:
        """The concept-note intake over ``snapshot``'s taxonomies and organisations (built on
        first use, kept until the data version moves)."""
        kept = self._intake
        if kept is not None and kept[0] == snapshot.data_version:
            return kept[1]
        intake = make_intake(
            snapshot.dataset.taxonomies,
            snapshot.dataset.organisations,
            text_encoder=self._index_config.text_encoder,
        )
        self._intake = (snapshot.data_version, intake)
        return intake

    def _build_guarded(self) -> None:
        try:
            self.build()
            self.last_error = None
        except Exception as err:  # noqa: BLE001 - a failed rebuild keeps the old snapshot
            self.last_error = f"{type(err).__name__}: {err}"
            log.exception("index rebuild failed; the previous index stays in service")
        finally:
            with self._lock:
                self._building = False

    def refresh(self, *, force: bool = False) -> None:
        """Start a rebuild if the database moved past the served version.

        Cheap when nothing changed: the version is asked at most every ``poll_seconds``
        unless ``force``. Inline (``background=False``), it returns once the data now is
        served, waiting for a build another thread (the watcher) has under way if need be.
        When only rejections were written since the served index, the new rejections are
        taken at once in the calling thread, even in the background mode (it costs a read of
        the decisions, no index): the request that notices them answers with them.
        """
        now = time.monotonic()
        if not force and now - self._last_poll < self._poll_seconds:
            return
        self._last_poll = now
        for _ in range(3):
            served = self._snapshot
            current = self._current_versions()
            if served is not None and current.data <= served.data_version:
                return
            with self._lock:
                busy, self._building = self._building, True
            if not busy:
                break
            if self._background:
                return
            self.wait()  # that build may have read the data before the last write: check again
        else:
            return
        if self._background and not (served is not None and _index_holds(served, current)):
            threading.Thread(target=self._build_guarded, name="index-rebuild", daemon=True).start()
        else:
            self._build_guarded()

    def watch(self) -> None:
        """Poll the data version every ``poll_seconds`` in a daemon thread (once started, it
        runs for the life of the process), so that the worker switches to a new index even
        while no request comes; requests still poll as well."""
        with self._lock:
            if self._watcher is not None:
                return
            self._watcher = threading.Thread(target=self._poll, name="index-watch", daemon=True)
        self._watcher.start()

    def _poll(self) -> None:
        while True:
            time.sleep(self._poll_seconds)
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the database may be briefly away; poll again
                log.exception("polling the data version failed")

    def wait(self, timeout: float = 60.0) -> Snapshot | None:
        """Wait for a rebuild in progress to finish (for tests and start-up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._building:
                    return self._snapshot
            time.sleep(0.01)
        return self._snapshot


def _index_holds(served: Snapshot, versions: DataVersions) -> bool:
    """Whether ``served``'s index is the index of ``versions``: the writes since it was built
    were rejections only, which the served engine takes without a new index."""
    return versions.index <= served.index_version
