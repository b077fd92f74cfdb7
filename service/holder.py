"""The recommendation engine the API serves, kept in step with the database.

A request always sees a complete index: a rebuild happens aside (in a background thread, or
inline when configured so) and replaces the served snapshot in one assignment. Each
snapshot knows the data version it was built from; responses carry it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from matcher.domain.dataset import Dataset
from matcher.engine.index import IndexConfig, build_index
from matcher.engine.intake import ConceptNoteIntake
from matcher.engine.recommend import CoalitionRecommender, EngineConfig
from matcher.usecases.decisions import History
from matcher.usecases.drafting import make_intake

__all__ = ["Snapshot", "EngineHolder"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A fitted engine and the data version it was built from."""

    data_version: int
    engine: CoalitionRecommender
    dataset: Dataset
    built_in_seconds: float


class EngineHolder:
    """Holds the served :class:`Snapshot` and rebuilds it when the data version moves.

    Parameters
    ----------
    load : callable
        Returns the :class:`~matcher.usecases.decisions.History` to build from: the data
        version and the dataset read in one consistent snapshot of the database, with the
        reviewers' decisions (approved coalitions as partnerships, rejections).
    current_version : callable
        The database's data version now (cheap).
    index_config : IndexConfig, optional
        How the index is built (its ``text_encoder`` embeds the organisations' words; a
        rebuild embeds only the texts that changed since the previous one).
    background : bool
        Rebuild in a thread (requests keep the previous snapshot meanwhile) or inline.
    poll_seconds : float
        How often at most a request asks the database for its data version.
    """

    def __init__(
        self,
        load: Callable[[], History],
        current_version: Callable[[], int],
        *,
        config: EngineConfig | None = None,
        index_config: IndexConfig | None = None,
        background: bool = True,
        poll_seconds: float = 2.0,
    ) -> None:
        self._load = load
        self._current_version = current_version
        self._config = config or EngineConfig()
        self._index_config = index_config or IndexConfig()
        self._intake: tuple[int, ConceptNoteIntake] | None = None
        self._background = background
        self._poll_seconds = poll_seconds
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._building = False
        self._last_poll = 0.0
        self.last_error: str | None = None

    @property
    def snapshot(self) -> Snapshot | None:
        """The snapshot served now (``None`` until the first build finished)."""
        return self._snapshot

    def build(self) -> Snapshot:
        """Build a snapshot from the database now and serve it."""
        started = time.perf_counter()
        history = self._load()
        version, dataset = history.data_version, history.dataset
        previous = self._snapshot
        text = previous.engine.index_.text if previous is not None else None
        index = build_index(
            dataset, self._index_config, text_cache=text.cache if text is not None else None
        )
        engine = CoalitionRecommender(config=self._config).fit(index, rejections=history.rejections)
        snapshot = Snapshot(version, engine, dataset, time.perf_counter() - started)
        with self._lock:
            current = self._snapshot
            if current is None or snapshot.data_version >= current.data_version:
                self._snapshot = snapshot
        log.info("index built for data version %s in %.1f s", version, snapshot.built_in_seconds)
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
        unless ``force``.
        """
        now = time.monotonic()
        if not force and now - self._last_poll < self._poll_seconds:
            return
        self._last_poll = now
        served = self._snapshot.data_version if self._snapshot is not None else -1
        if self._current_version() <= served:
            return
        with self._lock:
            if self._building:
                return
            self._building = True
        if self._background:
            threading.Thread(target=self._build_guarded, name="index-rebuild", daemon=True).start()
        else:
            self._build_guarded()

    def wait(self, timeout: float = 60.0) -> Snapshot | None:
        """Wait for a rebuild in progress to finish (for tests and start-up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._building:
                    return self._snapshot
            time.sleep(0.01)
        return self._snapshot
