"""Where the chunks run: a local process pool (``fork``) or Dask (a local cluster or one at an
address). Both ship the fitted recommender to each worker once and yield chunk outcomes as
they complete."""

from __future__ import annotations

import concurrent.futures
import logging
import math
import multiprocessing
import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from matcher.engine.recommend import CoalitionRecommender
from service.batch.work import (
    Outcome,
    ReportSettings,
    Task,
    dump_recommender,
    install_recommender,
    run_chunk,
    run_chunk_with,
)

__all__ = [
    "ENGINES",
    "Engine",
    "LocalEngine",
    "DaskEngine",
    "default_workers",
    "chunk_size",
    "chunked",
    "open_engine",
]

ENGINES = ("local", "dask")
_MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"
#: Largest chunk: enough work per task to amortise scheduling, small enough to balance.
MAX_CHUNK = 250


def default_workers() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def chunk_size(tasks: int, workers: int) -> int:
    """About four chunks per worker, at most :data:`MAX_CHUNK` initiatives each: 1,000
    initiatives on 2 workers go in chunks of 125, 10 in chunks of 2.

    >>> chunk_size(1000, 2), chunk_size(10, 2), chunk_size(100_000, 2)
    (125, 2, 250)
    """
    return max(1, min(MAX_CHUNK, math.ceil(tasks / (4 * max(1, workers)))))


def chunked(tasks: Sequence[Task], size: int) -> list[list[Task]]:
    """``tasks`` in consecutive chunks of ``size``."""
    return [list(tasks[start : start + size]) for start in range(0, len(tasks), size)]


class Engine(Protocol):
    """Runs chunks of tasks; a context manager that starts and stops its workers."""

    name: str
    workers: int
    startup_seconds: float

    def __enter__(self) -> Engine: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def run(
        self, chunks: Sequence[Sequence[Task]], settings: ReportSettings
    ) -> Iterator[list[Outcome]]:
        """Each chunk's outcomes, in completion order."""
        ...


def _failed(chunk: Sequence[Task], reason: str) -> list[Outcome]:
    return [Outcome(task.position, task.initiative.id, task.folder, error=reason) for task in chunk]


def _ping() -> int:
    return os.getpid()


class LocalEngine:
    """A pool of ``workers`` processes started by ``fork``: each inherits the recommender
    built in the parent (the pool's initializer keeps it), nothing is pickled but the
    tasks and the outcomes."""

    name = "local"

    def __init__(self, recommender: CoalitionRecommender, *, workers: int | None = None) -> None:
        self.recommender = recommender
        self.workers = workers or default_workers()
        self.startup_seconds = 0.0
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalEngine:
        started = time.perf_counter()
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=install_recommender,
            initargs=(self.recommender,),
        )
        for future in [self._pool.submit(_ping) for _ in range(self.workers)]:
            future.result()
        self.startup_seconds = time.perf_counter() - started
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(
        self, chunks: Sequence[Sequence[Task]], settings: ReportSettings
    ) -> Iterator[list[Outcome]]:
        if self._pool is None:
            raise RuntimeError("use the engine as a context manager")
        futures = {self._pool.submit(run_chunk, chunk, settings): chunk for chunk in chunks}
        for future in concurrent.futures.as_completed(futures):
            try:
                yield future.result()
            except concurrent.futures.process.BrokenProcessPool as err:
                yield _failed(futures[future], f"worker process died: {err}")


class DaskEngine:
    """Dask: a :class:`distributed.LocalCluster` of ``workers`` single-threaded worker
    processes on 127.0.0.1, or the cluster whose scheduler is at ``scheduler``.

    The recommender is pickled once, scattered to every worker (``broadcast=True``) and
    unpickled once per worker (a warm-up task on each during start-up); with ``snapshot``
    (the index snapshot the recommender was opened from), only the snapshot's path and the
    configuration go, and each worker memory-maps the snapshot itself. The local cluster
    starts its workers without ``MALLOC_TRIM_THRESHOLD_`` (the nanny's default, 65536, slows
    this allocation-heavy work down by a quarter or more), even when this process's
    environment has it, and without Dask's statistical profiler (about 10% here).
    """

    name = "dask"

    def __init__(
        self,
        recommender: CoalitionRecommender,
        *,
        workers: int | None = None,
        scheduler: str | None = None,
        snapshot: Path | None = None,
    ) -> None:
        self.recommender = recommender
        self.workers = workers or default_workers()
        self.scheduler = scheduler
        self.snapshot = snapshot
        self.startup_seconds = 0.0
        self._client: Any = None
        self._cluster: Any = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._payload: Any = None
        self._token = uuid.uuid4().hex
        self._trim_threshold: str | None = None

    def __enter__(self) -> DaskEngine:
        import dask
        from distributed import Client, LocalCluster

        started = time.perf_counter()
        if self.scheduler:
            self._client = Client(self.scheduler)
            self.workers = len(self._client.scheduler_info().get("workers", {})) or self.workers
        else:
            self._scratch = tempfile.TemporaryDirectory(prefix="partnermatch-dask-")
            # Workers inherit this process's environment, where an earlier nanny may have
            # left the variable (nannies export their pre-spawn environment): keep it out
            # while the engine runs, so that restarted workers start without it too.
            self._trim_threshold = os.environ.pop(_MALLOC_TRIM, None)
            settings = {
                f"distributed.nanny.pre-spawn-environ.{_MALLOC_TRIM}": None,
                # the statistical profiler samples the worker thread every 10 ms: with this
                # pure-Python work it costs about 10% of the throughput
                "distributed.worker.profile.enabled": False,
            }
            with dask.config.set(settings):
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",
                    local_directory=self._scratch.name,
                    silence_logs=logging.ERROR,
                )
            self._client = Client(self._cluster)
        payload = dump_recommender(self.recommender, snapshot=self.snapshot)
        self._payload = self._client.scatter(payload, broadcast=True)
        addresses = list(self._client.scheduler_info()["workers"])
        warm_ups = [
            self._client.submit(
                run_chunk_with,
                self._payload,
                self._token,
                [],
                ReportSettings(),
                workers=[address],
                pure=False,
            )
            for address in addresses
        ]
        self._client.gather(warm_ups)
        self.startup_seconds = time.perf_counter() - started
        return self

    @property
    def client(self) -> Any:
        """The :class:`distributed.Client` while the engine runs."""
        if self._client is None:
            raise RuntimeError("use the engine as a context manager")
        return self._client

    def __exit__(self, *exc_info: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
            if self._trim_threshold is not None:
                os.environ[_MALLOC_TRIM] = self._trim_threshold
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def run(
        self, chunks: Sequence[Sequence[Task]], settings: ReportSettings
    ) -> Iterator[list[Outcome]]:
        from distributed import as_completed

        if self._client is None:
            raise RuntimeError("use the engine as a context manager")
        futures = {
            self._client.submit(
                run_chunk_with, self._payload, self._token, list(chunk), settings, pure=False
            ): chunk
            for chunk in chunks
        }
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as err:  # a worker lost, a cluster gone: the chunk failed
                yield _failed(futures[future], f"Dask task failed: {type(err).__name__}: {err}")
            finally:
                future.release()


def open_engine(
    name: str,
    recommender: CoalitionRecommender,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    snapshot: Path | None = None,
) -> LocalEngine | DaskEngine:
    """The engine called ``name`` (``local`` or ``dask``), not yet started; ``snapshot``: the
    index snapshot ``recommender`` was opened from, for Dask workers to open by its path (the
    local pool's forked workers share the parent's mapping already)."""
    if name == "local":
        if scheduler:
            raise ValueError("--scheduler needs --engine dask")
        return LocalEngine(recommender, workers=workers)
    if name == "dask":
        return DaskEngine(recommender, workers=workers, scheduler=scheduler, snapshot=snapshot)
    raise ValueError(f"unknown engine {name!r}; expected one of: {', '.join(ENGINES)}")
