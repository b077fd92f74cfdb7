"""The index snapshot: written atomically, memory-mapped back, and answering exactly as the
index built in memory; the store that builds each data version once; the holder that
switches every worker to a new snapshot."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import mmap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import SnapshotError
from matcher.domain.model import Initiative
from matcher.engine.index import Index, IndexConfig, build_index
from matcher.engine.reasons import Rejection
from matcher.engine.recommend import CoalitionRecommender, EngineConfig
from matcher.engine.snapshot import (
    FORMAT_VERSION,
    SnapshotStore,
    open_snapshot,
    read_manifest,
    verify_snapshot,
    write_snapshot,
)
from matcher.engine.text import ProfileSearch
from matcher.formats.datadir import read_data_directory
from matcher.formats.generate import generate_directory
from matcher.formats.initiative_files import read_initiatives
from matcher.storage.catalog import SqlCatalog
from matcher.storage.repository import DataVersions
from matcher.storage.sql import SqlRepository, make_engine, migrate
from matcher.usecases.decisions import History, Judgements
from service.cli import cli
from service.holder import EngineHolder

SEED_INITIATIVES = sorted(Path("data/seed/initiatives").glob("*.json"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dataset]:
    folder = tmp_path_factory.mktemp("generated") / "orgs-600"
    generate_directory(600, folder, seed=3)
    return folder, read_data_directory(folder)


def _round_trip(index: Index, folder: Path) -> Index:
    write_snapshot(index, folder, data_version=3)
    return open_snapshot(folder).index


def _answers(engine: CoalitionRecommender, initiatives: list[Initiative]) -> list[Any]:
    return [engine.recommend(initiative).to_dict() for initiative in initiatives]


def _generated_requests(index: Index, count: int) -> list[Initiative]:
    rng = np.random.default_rng(5)
    codes = sorted(index.capability_codes)
    requests = []
    for k in range(count):
        lead = index.org_ids[int(rng.integers(index.size))]
        needs = rng.choice(len(codes), size=int(rng.integers(1, 4)), replace=False)
        body: dict[str, Any] = {
            "id": f"r{k}",
            "lead": lead,
            "needs": [{"capability": codes[int(j)]} for j in needs],
            "count": 3,
            "complementarity": ["prefer", "strict", "off"][k % 3],
        }
        country = index.country[index.position[lead]]
        if country and k % 2:
            body["countries"] = [country]
        requests.append(Initiative.from_mapping(body))
    return requests


def test_a_seed_snapshot_gives_exactly_the_recommendations_of_the_built_index(
    seed: Dataset, tmp_path: Path
) -> None:
    built = build_index(seed, IndexConfig(text_encoder="tfidf"))
    opened = _round_trip(built, tmp_path / "seed")
    initiatives = [
        e.initiative
        for e in read_initiatives("data/seed/initiatives", seed.taxonomies)
        if e.initiative is not None
    ]
    assert len(initiatives) >= 5
    expected = _answers(CoalitionRecommender().fit(built), initiatives)
    got = _answers(CoalitionRecommender().fit(opened), initiatives)
    assert got == expected
    # the words went along: past work is quoted in some member's evidence
    assert any("past work" in json.dumps(answer) for answer in got)


def test_a_generated_snapshot_gives_exactly_the_same_coalitions_and_scores(
    generated: tuple[Path, Dataset], tmp_path: Path
) -> None:
    built = build_index(generated[1])
    opened = _round_trip(built, tmp_path / "generated")
    requests = _generated_requests(built, 24)
    expected = _answers(CoalitionRecommender().fit(built), requests)
    got = _answers(CoalitionRecommender().fit(opened), requests)
    assert got == expected
    assert sum(len(answer["coalitions"]) for answer in got) >= 24


def test_the_hnsw_graph_of_text_profiles_is_read_back_and_finds_the_same_neighbours(
    generated: tuple[Path, Dataset], tmp_path: Path
) -> None:
    built = build_index(generated[1], IndexConfig(text_encoder="tfidf"))
    assert built.text is not None
    graph = ProfileSearch(built.text.embeddings, exact_limit=10)  # force the HNSW graph
    assert graph.method == "hnsw"
    built = dataclasses.replace(built, text=dataclasses.replace(built.text, search=graph))
    opened = _round_trip(built, tmp_path / "hnsw")
    assert opened.text is not None and opened.text.search.method == "hnsw"
    assert _mapped(opened.text.embeddings)
    for words in ("education for girls in rural schools", "clean water and sanitation"):
        query = built.text.encode_query(words)
        expected, got = built.text.nearest(query, 20), opened.text.nearest(query, 20)
        assert got[0].tolist() == expected[0].tolist()
        assert np.allclose(got[1], expected[1])


def test_an_opened_snapshot_holds_the_same_records_as_the_built_index(
    generated: tuple[Path, Dataset], tmp_path: Path
) -> None:
    built = build_index(generated[1])
    opened = _round_trip(built, tmp_path / "records")
    assert list(opened.org_ids) == list(built.org_ids)
    assert dict(opened.position) == dict(built.position)
    assert list(opened.country) == list(built.country)
    assert list(opened.region) == list(built.region)
    assert dict(opened.evidence) == dict(built.evidence)
    assert dict(opened.flags_of) == dict(built.flags_of)
    assert dict(opened.conflicts_of) == dict(built.conflicts_of)
    assert {k: dict(v) for k, v in opened.capability_sources.items()} == {
        k: dict(v) for k, v in built.capability_sources.items()
    }
    assert (opened.collaboration != built.collaboration).nnz == 0
    fitted = CoalitionRecommender().fit(built)
    walk = fitted.graph_
    # screening sees only the organisations it may report on, and finds the same
    screening = CoalitionRecommender().fit(opened).screening_
    assert screening == fitted.screening_
    assert any(s.excluded for s in screening.values())
    assert any("stale verification" in " ".join(s.reasons) for s in screening.values())
    assert opened.walk_graph is not None
    for name in ("cumulative", "row_start", "row_total", "degree"):
        assert np.array_equal(getattr(opened.walk_graph, name), getattr(walk, name))
    assert opened.flags_of and opened.conflicts_of  # the generator makes some of each
    # each organisation's identity as explanations give it
    for i in range(0, built.size, 37):
        org = generated[1].organisations[built.org_ids[i]]
        got = opened.organisation(i)
        assert (got.id, got.name, got.kind, got.country, got.verified_on, got.max_active) == (
            org.id,
            org.name,
            org.kind,
            org.country,
            org.verified_on,
            org.max_active,
        )


def test_the_arrays_are_memory_mapped_read_only(seed: Dataset, tmp_path: Path) -> None:
    opened = _round_trip(build_index(seed), tmp_path / "mapped")
    for array in (opened.activity, opened.collaboration.data, opened.collaboration.indices):
        assert _mapped(array), "a copy, not the file's pages"
    with pytest.raises(ValueError, match="read-only"):
        opened.partnerships[0] = 5


def _mapped(array: Any) -> bool:
    """Whether ``array`` is a view of a memory-mapped file."""
    while array is not None:
        if isinstance(array, np.memmap | mmap.mmap):
            return True
        array = getattr(array, "base", None)
    return False


def test_need_coverage_is_read_from_the_snapshot_without_a_private_copy(
    generated: tuple[Path, Dataset], tmp_path: Path
) -> None:
    built = build_index(generated[1])
    opened = _round_trip(built, tmp_path / "coverage")
    assert built.coverage is None and opened.coverage is not None
    computed = CoalitionRecommender().fit(built)
    mapped = CoalitionRecommender().fit(opened)
    for code in built.capability_codes:
        positions, values = mapped.need_coverage(code)
        assert _mapped(positions) and _mapped(values), code
        expected_positions, expected_values = computed.need_coverage(code)
        assert positions.tolist() == expected_positions.tolist()
        assert values.tolist() == expected_values.tolist()
    # other credits than the table's: computed for this recommender, not read from the table
    code = next(c for c in built.capability_codes if "." in c)
    halved = dataclasses.replace(EngineConfig().credits, descendant=0.5, ancestor=0.1)
    other = CoalitionRecommender(config=EngineConfig(credits=halved)).fit(opened)
    positions, values = other.need_coverage(code)
    assert not _mapped(values)
    assert (
        values.tolist()
        == (
            CoalitionRecommender(config=EngineConfig(credits=halved))
            .fit(built)
            .need_coverage(code)[1]
        ).tolist()
    )


def test_an_opened_snapshot_has_no_dataset_and_says_so(seed: Dataset, tmp_path: Path) -> None:
    opened = _round_trip(build_index(seed), tmp_path / "no-dataset")
    with pytest.raises(SnapshotError, match="opened from a snapshot"):
        opened.dataset  # noqa: B018


def test_a_failed_write_leaves_no_snapshot_and_no_temporary_folder(
    seed: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = build_index(seed)
    real_save = np.save
    written: list[str] = []

    def failing_save(file: Any, array: Any, **options: Any) -> None:
        written.append(str(file))
        if len(written) == 20:
            raise OSError("No space left on device")
        real_save(file, array, **options)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(SnapshotError, match="No space left on device"):
        write_snapshot(index, tmp_path / "half")
    assert len(written) == 20
    assert list(tmp_path.iterdir()) == []


def test_a_failed_replace_keeps_the_previous_snapshot(
    seed: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = build_index(seed)
    write_snapshot(index, tmp_path / "snap", data_version=1)

    def failing_save(file: Any, array: Any, **options: Any) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(SnapshotError, match="disk gone"):
        write_snapshot(index, tmp_path / "snap", data_version=2, replace=True)
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]
    assert verify_snapshot(tmp_path / "snap")["data_version"] == 1


def test_an_existing_snapshot_is_not_overwritten_unless_asked(
    seed: Dataset, tmp_path: Path
) -> None:
    index = build_index(seed)
    write_snapshot(index, tmp_path / "snap", data_version=1)
    with pytest.raises(SnapshotError, match="already exists"):
        write_snapshot(index, tmp_path / "snap", data_version=2)
    write_snapshot(index, tmp_path / "snap", data_version=2, replace=True)
    assert read_manifest(tmp_path / "snap")["data_version"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]


def test_replacing_never_removes_a_folder_that_is_not_a_snapshot(
    seed: Dataset, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "organisations.csv").write_text("id,name,kind\n")
    with pytest.raises(SnapshotError, match="is not replaced: .* is not an index snapshot"):
        write_snapshot(build_index(seed), data, replace=True)
    assert [p.name for p in data.iterdir()] == ["organisations.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_a_snapshot_of_another_format_version_is_refused_with_the_reason(
    seed: Dataset, tmp_path: Path
) -> None:
    folder = tmp_path / "old"
    write_snapshot(build_index(seed), folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SnapshotError) as caught:
        open_snapshot(folder)
    message = str(caught.value)
    assert f"format version {FORMAT_VERSION + 1}" in message
    assert f"reads version {FORMAT_VERSION}" in message
    assert "partnermatch index build" in message


def test_a_folder_without_a_manifest_is_not_a_snapshot(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="not an index snapshot"):
        open_snapshot(tmp_path)


def test_a_damaged_array_is_caught_by_its_shape_or_its_checksum(
    seed: Dataset, tmp_path: Path
) -> None:
    folder = tmp_path / "damaged"
    write_snapshot(build_index(seed), folder)
    np.save(folder / "arrays" / "kind.npy", np.zeros(3, dtype=np.int64))
    with pytest.raises(SnapshotError, match="array kind is"):
        open_snapshot(folder)
    write_snapshot(build_index(seed), folder, replace=True)
    kind = np.load(folder / "arrays" / "kind.npy")
    np.save(folder / "arrays" / "kind.npy", kind[::-1].copy())
    open_snapshot(folder)  # same dtype and shape: only the checksum tells
    with pytest.raises(SnapshotError, match="kind.npy differs"):
        open_snapshot(folder, verify=True)


def test_the_store_builds_each_data_version_once_under_its_lock(
    seed: Dataset, tmp_path: Path
) -> None:
    store = SnapshotStore(tmp_path / "store", keep=2)
    builds: list[int] = []
    index = build_index(seed)

    def build() -> tuple[int, Index, dict[str, Any]]:
        builds.append(1)
        time.sleep(0.3)  # long enough for the other thread to wait on the lock
        return 4, index, {"note": "first"}

    results: list[tuple[int, Path]] = []
    threads = [
        threading.Thread(target=lambda: results.append(store.ensure(4, build))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert [version for version, _ in results] == [4, 4]
    assert store.versions() == [4]
    assert read_manifest(store.path(4))["note"] == "first"
    # a newer data version builds again; older snapshots beyond `keep` are removed
    for version in (5, 6):
        store.ensure(version, lambda v=version: (v, index, {}))  # type: ignore[misc]
    assert store.versions() == [5, 6]
    assert store.ensure(5, build) == (6, store.path(6))  # a newer one serves an older request
    assert len(builds) == 1


def test_index_build_command_writes_a_snapshot_that_recommend_answers_from(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    out = tmp_path / "seed-snapshot"
    result = runner.invoke(cli, ["index", "build", "--data", "data/seed", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "snapshot of 70 organisations" in result.output
    assert verify_snapshot(out)["organisations"] == 70
    again = runner.invoke(cli, ["index", "build", "--data", "data/seed", "--out", str(out)])
    assert again.exit_code == 1
    assert "already exists; use --force" in again.output
    initiative = str(SEED_INITIATIVES[0])
    from_snapshot = runner.invoke(
        cli, ["recommend", initiative, "--snapshot", str(out), "--format", "json"]
    )
    from_data = runner.invoke(
        cli, ["recommend", initiative, "--data", "data/seed", "--format", "json"]
    )
    assert from_snapshot.exit_code == 0, from_snapshot.output
    assert json.loads(from_snapshot.output) == json.loads(from_data.output)


def test_index_build_from_an_unreadable_directory_fails_with_exit_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["index", "build", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 1
    assert not (tmp_path / "s").exists()


def _database(tmp_path: Path, seed: Dataset) -> tuple[SqlRepository, SqlCatalog]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    repository = SqlRepository(engine, seed.taxonomies)
    repository.import_dataset(seed)
    return repository, SqlCatalog(engine, seed.taxonomies)


def _holder(repository: SqlRepository, catalog: SqlCatalog, folder: Path) -> EngineHolder:
    return EngineHolder.on_database(
        repository,
        catalog,
        background=True,
        poll_seconds=0.1,
        snapshot_dir=folder,
    )


def test_two_holders_share_one_snapshot_and_both_switch_after_a_write(
    seed: Dataset, tmp_path: Path
) -> None:
    repository, catalog = _database(tmp_path, seed)
    folder = tmp_path / "snapshots"
    first, second = (_holder(repository, catalog, folder) for _ in range(2))
    for holder in (first, second):
        holder.refresh(force=True)
        holder.wait()
    assert first.snapshot is not None and second.snapshot is not None
    version = first.snapshot.data_version
    assert second.snapshot.data_version == version
    assert SnapshotStore(folder).versions() == [version]
    assert second.snapshot.dataset.organisations["unicef"].name.startswith("United Nations")

    # a write: one organisation renamed
    renamed = Dataset.build(
        organisations=[
            o if o.id != "itau" else type(o)(**{**_fields(o), "name": "Itau Renamed"})
            for o in seed.organisations.values()
        ],
        capabilities=seed.capabilities,
        partnerships=seed.partnerships.values(),
        memberships=seed.memberships,
        flags=seed.flags,
        conflicts=seed.conflicts,
        taxonomies=seed.taxonomies,
    )
    repository.import_dataset(renamed)
    assert catalog.data_version() > version
    second.watch()
    first.refresh(force=True)  # the worker that saw the write builds the new snapshot
    first.wait()
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        current = second.snapshot
        if current is not None and current.data_version > version:
            break
        time.sleep(0.02)
    assert second.snapshot is not None and second.snapshot.data_version > version
    assert second.snapshot.dataset.organisations["itau"].name == "Itau Renamed"
    assert SnapshotStore(folder).versions()[-1] == second.snapshot.data_version


def _fields(organisation: Any) -> dict[str, Any]:
    return {name: getattr(organisation, name) for name in organisation.__dataclass_fields__}


def test_an_inline_refresh_waits_for_a_build_under_way_and_then_serves_the_data_now(
    seed: Dataset,
) -> None:
    versions = [DataVersions(1, 1)]
    entered, release = threading.Event(), threading.Event()

    def load() -> History:
        seen = versions[0]  # read before the write below
        if not release.is_set():
            entered.set()
            release.wait(30)
        return History(seen, seed, ())

    holder = EngineHolder(
        load,
        lambda: Judgements(versions[0], ()),
        lambda: versions[0],
        background=False,
        poll_seconds=0.0,
    )
    first = threading.Thread(target=holder.refresh, kwargs={"force": True})  # the watcher
    first.start()
    assert entered.wait(30)
    versions[0] = DataVersions(2, 2)  # a write while that build reads the data before it
    threading.Timer(0.2, release.set).start()
    holder.refresh(force=True)  # the write's answer
    first.join(30)
    served = holder.snapshot
    assert served is not None and (served.data_version, served.index_version) == (2, 2)


def test_a_background_holder_takes_rejections_in_the_request_that_notices_them(
    seed: Dataset,
) -> None:
    versions = [DataVersions(1, 1)]
    standing: list[Rejection] = []

    def judgements() -> Judgements:
        time.sleep(0.2)  # a slow database: a thread doing this would not be done at once
        return Judgements(versions[0], tuple(standing))

    holder = EngineHolder(
        lambda: History(versions[0], seed, tuple(standing)),
        judgements,
        lambda: versions[0],
        background=True,
        poll_seconds=0.0,
    )
    holder.refresh(force=True)
    first = holder.wait()
    assert first is not None and not first.engine.rejected("unicef")

    standing.append(Rejection("unicef", "itau", dt.date(2026, 3, 2), "capacity", 7))
    versions[0] = DataVersions(2, 1)  # a rejection: the index version stays
    holder.refresh(force=True)  # no wait: taken in this thread
    served = holder.snapshot
    assert served is not None and (served.data_version, served.index_version) == (2, 1)
    assert list(served.engine.rejected("unicef")) == ["itau"]
    assert served.engine.index_ is first.engine.index_

    versions[0] = DataVersions(3, 3)  # any other write: a new index, built aside
    holder.refresh(force=True)
    rebuilt = holder.wait()
    assert rebuilt is not None and (rebuilt.data_version, rebuilt.index_version) == (3, 3)
    assert rebuilt.engine.index_ is not first.engine.index_
    assert list(rebuilt.engine.rejected("unicef")) == ["itau"]
