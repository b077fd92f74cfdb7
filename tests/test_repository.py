"""One contract suite for every repository: in memory, SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import NotFoundError
from matcher.domain.model import Capability, Conflict, Flag, Membership, Organisation
from matcher.domain.taxonomy import Taxonomies, Term
from matcher.formats.datadir import read_data_directory
from matcher.formats.generate import generate_directory
from matcher.storage.repository import InMemoryRepository, Repository, plan_import
from matcher.storage.rows import record_to_row, row_to_record
from matcher.storage.sql import SqlRepository
from matcher.storage.sync import TableCounts
from tests.storage_fixtures import BACKENDS, sqlite_engine


@pytest.fixture(params=BACKENDS)
def repository(
    request: pytest.FixtureRequest, tmp_path: Path, taxonomies: Taxonomies
) -> Iterator[Repository]:
    if request.param == "memory":
        yield InMemoryRepository(taxonomies)
    elif request.param == "sqlite":
        engine = sqlite_engine(tmp_path)
        yield SqlRepository(engine, taxonomies)
        engine.dispose()
    else:
        engine = request.getfixturevalue("postgres_engine")
        yield SqlRepository(engine, taxonomies)


def rebuilt(dataset: Dataset, **changes: object) -> Dataset:
    fields = {
        "organisations": dataset.organisations.values(),
        "capabilities": dataset.capabilities,
        "partnerships": dataset.partnerships.values(),
        "memberships": dataset.memberships,
        "flags": dataset.flags,
        "conflicts": dataset.conflicts,
        "taxonomies": dataset.taxonomies,
    }
    fields.update(changes)
    return Dataset.build(**fields)  # type: ignore[arg-type]


def same_content(a: Dataset, b: Dataset) -> bool:
    return (
        dict(a.organisations) == dict(b.organisations)
        and dict(a.partnerships) == dict(b.partnerships)
        and set(a.capabilities) == set(b.capabilities)
        and set(a.memberships) == set(b.memberships)
        and set(a.flags) == set(b.flags)
        and set(a.conflicts) == set(b.conflicts)
    )


def test_imported_seed_loads_back_identical(repository: Repository, seed: Dataset) -> None:
    report = repository.import_dataset(seed)
    assert report.tables["organisations"] == TableCounts(inserted=len(seed.organisations))
    assert same_content(repository.load_dataset(), seed)
    assert repository.counts()["memberships"] == len(seed.memberships)


def test_reimporting_the_same_directory_changes_nothing(
    repository: Repository, seed: Dataset
) -> None:
    repository.import_dataset(seed)
    report = repository.import_dataset(seed)
    rows = sum(repository.counts().values())
    assert report.total == TableCounts(unchanged=rows)


def test_a_changed_organisation_is_updated_and_others_are_unchanged(
    repository: Repository, seed: Dataset
) -> None:
    repository.import_dataset(seed)
    unicef = dataclasses.replace(seed.organisations["unicef"], description="Renamed")
    organisations = {**seed.organisations, "unicef": unicef}
    report = repository.import_dataset(rebuilt(seed, organisations=organisations.values()))
    assert report.tables["organisations"] == TableCounts(
        updated=1, unchanged=len(seed.organisations) - 1
    )
    assert repository.get_organisation("unicef").description == "Renamed"


def test_reimport_replaces_the_capabilities_of_the_organisations_it_names(
    repository: Repository, seed: Dataset
) -> None:
    repository.import_dataset(seed)
    kept = [c for c in seed.capabilities if c.org_id != "itau"]
    itau = [c for c in seed.capabilities if c.org_id == "itau"]
    changed = [dataclasses.replace(itau[0], strength=0.5)]
    report = repository.import_dataset(rebuilt(seed, capabilities=kept + changed))
    assert report.tables["capabilities"] == TableCounts(
        updated=1, unchanged=len(kept), deleted=len(itau) - 1
    )
    assert repository.load_dataset().capabilities_of("itau") == tuple(changed)


def test_an_import_naming_one_organisation_leaves_the_others_alone(
    repository: Repository, seed: Dataset, taxonomies: Taxonomies
) -> None:
    repository.import_dataset(seed)
    small = Dataset.build(
        organisations=[seed.organisations["itau"]],
        capabilities=[Capability("itau", "funding.grants", 0.9, source="§49")],
        taxonomies=taxonomies,
    )
    report = repository.import_dataset(small)
    assert report.tables["organisations"] == TableCounts(unchanged=1)
    loaded = repository.load_dataset()
    assert len(loaded.organisations) == len(seed.organisations)
    assert loaded.capabilities_of("itau") == (
        Capability("itau", "funding.grants", 0.9, source="§49"),
    )
    assert loaded.capabilities_of("unicef") == seed.capabilities_of("unicef")


def test_an_import_that_fails_half_way_writes_nothing(
    repository: Repository, seed: Dataset
) -> None:
    written = 0

    def fail_half_way(table: str, rows: int, total: int) -> None:
        nonlocal written
        written += rows
        if written >= total / 2:
            raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError, match="killed half-way"):
        repository.import_dataset(seed, progress=fail_half_way)
    assert written >= 1
    assert sum(repository.counts().values()) == 0
    assert repository.audit_entries() == []


def test_a_dry_run_counts_but_writes_nothing(repository: Repository, seed: Dataset) -> None:
    report = repository.import_dataset(seed, dry_run=True)
    assert report.dry_run
    assert report.tables["partnerships"].inserted == len(seed.partnerships)
    assert sum(repository.counts().values()) == 0


def test_flags_conflicts_and_taxonomy_extensions_round_trip(
    repository: Repository, taxonomies: Taxonomies
) -> None:
    extended = taxonomies.extended(
        themes=[Term("h2020-sc1", "Health", parent="health", attributes={"sdg": "3"})]
    )
    dataset = Dataset.build(
        organisations=[
            Organisation("a", "A", "company", themes=frozenset({"h2020-sc1"})),
            Organisation("b", "B", "ngo"),
        ],
        flags=[Flag("a", "sanctions", "escalated", note="name match 0.93")],
        conflicts=[],
        taxonomies=extended,
    )
    repository.import_dataset(dataset)
    loaded = repository.load_dataset()
    assert loaded.flags == dataset.flags
    assert loaded.taxonomies.theme_sdgs("h2020-sc1") == {3}
    assert loaded.organisations["a"].themes == {"h2020-sc1"}
    again = repository.import_dataset(dataset)
    assert again.tables["flags"] == TableCounts(unchanged=1)
    assert again.tables["taxonomy_terms"] == TableCounts(unchanged=1)


def test_every_import_leaves_an_audit_entry(repository: Repository, seed: Dataset) -> None:
    repository.import_dataset(seed, actor="cli:tester")
    (entry,) = repository.audit_entries(entity_type="dataset")
    assert entry.actor == "cli:tester"
    assert entry.action == "import"
    assert entry.detail["organisations"]["inserted"] == len(seed.organisations)


def test_an_unknown_organisation_is_not_found(repository: Repository) -> None:
    with pytest.raises(NotFoundError, match=r"Organisation 'ghost' not found"):
        repository.get_organisation("ghost")


def test_table_rows_hold_codes_and_lists_as_text_and_read_back_to_the_same_records() -> None:
    acme = Organisation(
        "acme",
        "Acme",
        "company",
        themes=frozenset({"water", "health"}),
        aliases=("Acme Inc", "ACME"),
        verified_on=dt.date(2024, 1, 2),
    )
    assert record_to_row(acme) == {
        "id": "acme",
        "name": "Acme",
        "kind": "company",
        "sector": "private",
        "country": None,
        "size": None,
        "themes": "health;water",
        "resources": "",
        "motivations": "",
        "gc_status": None,
        "verified_on": dt.date(2024, 1, 2),
        "max_active": None,
        "description": "",
        "aliases": "Acme Inc;ACME",
        "source": "",
        "identifiers": "",
    }
    funding = Capability("acme", "funding", strength=0.5, unit="")
    assert record_to_row(funding) == {
        "org_id": "acme",
        "capability": "funding",
        "strength": 0.5,
        "quantity": None,
        "unit": None,
        "source": "",
    }
    assert record_to_row(Membership("p1", "acme"))["role"] == "member"
    assert record_to_row(Conflict("zeta", "acme", "a lawsuit")) == {
        "org_a": "acme",
        "org_b": "zeta",
        "reason": "a lawsuit",
    }
    assert row_to_record(Organisation, record_to_row(acme)) == acme
    assert row_to_record(Capability, record_to_row(funding)) == Capability(
        "acme", "funding", strength=0.5
    )


@pytest.mark.parametrize("directory", ["seed", "iati-sample", "generated"])
def test_a_trusted_row_gives_the_record_validation_gives_field_for_field_and_type_for_type(
    directory: str, taxonomies: Taxonomies, tmp_path: Path
) -> None:
    if directory == "generated":
        folder = tmp_path / "generated"
        generate_directory(300, folder, seed=3)
    else:
        folder = Path(__file__).resolve().parent.parent / "data" / directory
    dataset = read_data_directory(folder, taxonomies)
    records = [
        *dataset.organisations.values(),
        *dataset.partnerships.values(),
        *dataset.capabilities,
        *dataset.memberships,
        *dataset.flags,
        *dataset.conflicts,
    ]
    assert len(records) > 100
    for record in records:
        row = record_to_row(record)
        checked, trusted = (
            row_to_record(type(record), row),
            row_to_record(type(record), row, trusted=True),
        )
        for field in dataclasses.fields(record):
            value = getattr(trusted, field.name)
            assert value == getattr(checked, field.name), (record, field.name)
            assert type(value) is type(getattr(checked, field.name)), (record, field.name)
            if isinstance(value, frozenset | tuple):
                assert {type(v) for v in value} == {type(v) for v in getattr(checked, field.name)}


def test_a_first_import_plans_every_row_as_an_insert_made_only_when_written(
    seed: Dataset,
) -> None:
    plans = plan_import({}, seed, seed.taxonomies)
    organisations = plans["organisations"].inserts
    assert len(organisations) == len(seed.organisations)
    assert organisations[0] == record_to_row(next(iter(seed.organisations.values())))
    assert organisations[0] is not organisations[0]  # made on each read, not held
    assert [row["id"] for row in organisations] == list(seed.organisations)
    # against existing rows the planner compares and keeps what it inserts
    again = plan_import({"organisations": [organisations[0]]}, seed, seed.taxonomies)
    assert again["organisations"].counts.unchanged == 1
    assert again["organisations"].counts.inserted == len(seed.organisations) - 1
