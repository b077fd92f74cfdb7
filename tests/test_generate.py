"""The synthetic data generator: valid, deterministic, and shaped like the documented targets."""

from __future__ import annotations

import csv
import importlib.util
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from matcher.domain.model import DEFAULT_SECTOR, Kind
from matcher.formats.datadir import FILES, read_data_directory
from matcher.formats.generate import (
    CORDIS_H2020_SIZE_HISTOGRAM,
    KIND_SHARES,
    PARTNERSHIPS_PER_ORGANISATION,
    SME_SHARE,
    generate_directory,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
N_ORGS = 2000
ENDED_OUTCOMES = {"completed", "continued", "scaled_up", "abandoned"}


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    folder = tmp_path_factory.mktemp("generated")
    return folder, generate_directory(N_ORGS, folder, seed=11)


@pytest.fixture(scope="module")
def tables(generated: tuple[Path, dict[str, int]]) -> dict[str, pd.DataFrame]:
    folder, _ = generated
    return {name.removesuffix(".csv"): _read(folder, name.removesuffix(".csv")) for name in FILES}


@pytest.fixture(scope="module")
def degree(tables: dict[str, pd.DataFrame]) -> pd.Series:
    ids = tables["organisations"]["id"]
    return tables["memberships"]["org_id"].value_counts().reindex(ids, fill_value=0)


@pytest.fixture(scope="module")
def regions() -> dict[str, str]:
    with (REPO_ROOT / "data" / "taxonomy" / "countries.csv").open(encoding="utf-8") as handle:
        return {row["alpha2"]: row["region"] for row in csv.DictReader(handle)}


def test_generated_directory_reads_back_without_a_problem(
    generated: tuple[Path, dict[str, int]],
) -> None:
    folder, counts = generated
    dataset = read_data_directory(folder)
    summary = dataset.summary()
    assert {name: summary[name] for name in counts} == counts
    assert all(counts[name] > 0 for name in counts)


def test_every_file_has_exactly_the_interchange_columns(
    generated: tuple[Path, dict[str, int]],
) -> None:
    folder, _ = generated
    for name, spec in FILES.items():
        header = (folder / name).read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == list(spec.columns)


@pytest.mark.parametrize("n_orgs", [1, 2, 7, 100, 1234])
def test_organisations_file_has_exactly_the_requested_number_of_rows(
    tmp_path: Path, n_orgs: int
) -> None:
    counts = generate_directory(n_orgs, tmp_path, seed=5)
    assert counts["organisations"] == n_orgs
    assert len(_read(tmp_path, "organisations")) == n_orgs
    assert counts["partnerships"] == max(1, round(n_orgs * PARTNERSHIPS_PER_ORGANISATION))
    assert len(read_data_directory(tmp_path).organisations) == n_orgs


def test_the_same_seed_gives_byte_identical_files_and_another_seed_differs(
    tmp_path: Path,
) -> None:
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_directory(500, first, seed=3)
    generate_directory(500, second, seed=3)
    generate_directory(500, other, seed=4)
    for name in FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "organisations.csv").read_bytes() != (other / "organisations.csv").read_bytes()
    assert (first / "memberships.csv").read_bytes() != (other / "memberships.csv").read_bytes()


def test_ids_are_zero_padded_to_the_width_of_the_count(
    tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    assert tables["organisations"]["id"].iloc[0] == "org-000001"
    assert tables["partnerships"]["id"].iloc[-1] == f"p-{667:06d}"
    generate_directory(1_234_567 // 1000, tmp_path, seed=0)
    assert _read(tmp_path, "organisations")["id"].str.len().eq(len("org-000001")).all()


@pytest.mark.parametrize("bad", [0, -5])
def test_a_size_below_one_is_rejected(tmp_path: Path, bad: int) -> None:
    with pytest.raises(ValueError, match=str(bad)):
        generate_directory(bad, tmp_path)


def test_partnership_sizes_follow_the_cordis_horizon_2020_distribution(
    tables: dict[str, pd.DataFrame],
) -> None:
    sizes = tables["memberships"].groupby("partnership_id").size()
    sizes = sizes.reindex(tables["partnerships"]["id"], fill_value=0)
    consortia = sizes[sizes >= 3]
    assert sizes.min() == 1
    assert 0.5 <= (sizes == 1).mean() <= 0.7  # CORDIS: 60.5 % single-beneficiary
    assert 3 <= consortia.median() <= 15  # CORDIS: median 10 among 3+
    assert 8 <= consortia.mean() <= 16  # CORDIS: mean 11.9 among 3+
    assert sizes.max() <= min(max(size for size, _ in CORDIS_H2020_SIZE_HISTOGRAM), N_ORGS // 4)


def test_every_partnership_has_exactly_one_lead_and_no_member_twice(
    tables: dict[str, pd.DataFrame],
) -> None:
    memberships = tables["memberships"]
    leads = memberships[memberships["role"] == "lead"].groupby("partnership_id").size()
    assert len(leads) == len(tables["partnerships"])
    assert (leads == 1).all()
    assert not memberships.duplicated(["partnership_id", "org_id"]).any()
    assert set(memberships["role"]) <= {
        "lead",
        "funder",
        "implementer",
        "technical",
        "convener",
        "member",
    }


def test_collaboration_degree_distribution_is_heavy_tailed(degree: pd.Series) -> None:
    ordered = degree.sort_values(ascending=False)
    top = ordered.iloc[: len(ordered) // 100]
    active_median = ordered[ordered > 0].median()
    assert top.mean() >= 5 * max(active_median, 1)
    assert ordered.iloc[0] >= 10 * ordered.mean()
    assert top.sum() >= 0.08 * ordered.sum()


def test_kinds_and_sectors_match_the_documented_shares(tables: dict[str, pd.DataFrame]) -> None:
    organisations = tables["organisations"]
    shares = organisations["kind"].value_counts(normalize=True)
    for kind, target in KIND_SHARES.items():
        assert shares.get(kind, 0.0) == pytest.approx(target, abs=0.002), kind
    assert set(shares.index) <= {kind.value for kind in Kind}
    companies = organisations[organisations["kind"] == "company"]
    assert (companies["size"] == "sme").mean() == pytest.approx(SME_SHARE, abs=0.04)
    assert (organisations.loc[organisations["kind"] != "company", "size"] == "").all()
    sector = organisations["sector"].where(
        organisations["sector"] != "",
        organisations["kind"].map(lambda kind: DEFAULT_SECTOR[Kind(kind)].value),
    )
    sector_shares = sector.value_counts(normalize=True)
    assert sector_shares["private"] == pytest.approx(0.395, abs=0.02)
    assert sector_shares["civil_society"] == pytest.approx(0.29, abs=0.03)
    assert sector_shares["academic"] == pytest.approx(0.15, abs=0.01)
    assert sector_shares["public"] == pytest.approx(0.105, abs=0.02)
    assert sector_shares["philanthropic"] == pytest.approx(0.05, abs=0.01)
    assert (organisations.loc[organisations["kind"] == "other", "sector"] != "").all()


def test_countries_are_weighted_and_global_bodies_have_none(
    tables: dict[str, pd.DataFrame], regions: dict[str, str]
) -> None:
    organisations = tables["organisations"]
    global_bodies = organisations["kind"].isin(["un_entity", "multilateral"])
    assert (organisations.loc[global_bodies, "country"] == "").all()
    countries = organisations.loc[~global_bodies, "country"]
    assert (countries != "").all()
    assert not countries.map(regions).eq("Antarctica").any()
    counts = countries.value_counts()
    assert counts.iloc[0] >= 10 * counts.median()
    assert counts.index[0] == "US"


def test_members_cluster_around_the_home_country_of_the_partnership(
    tables: dict[str, pd.DataFrame], regions: dict[str, str]
) -> None:
    memberships, partnerships = tables["memberships"], tables["partnerships"]
    home = partnerships.set_index("id")["countries"].str.split(";").str[0]
    country = tables["organisations"].set_index("id")["country"]
    others = memberships[memberships["role"] != "lead"]
    member_home = home.reindex(others["partnership_id"]).to_numpy()
    member_country = country.reindex(others["org_id"]).to_numpy()
    located = member_home != ""
    same_country = (member_home == member_country)[located].mean()
    same_region = np.array(
        [regions.get(a) == regions.get(b) for a, b in zip(member_home, member_country, strict=True)]
    )[located].mean()
    assert same_country >= 0.3
    assert same_region >= 0.6


def test_organisation_attributes_use_taxonomy_codes_in_the_documented_ranges(
    tables: dict[str, pd.DataFrame],
) -> None:
    organisations = tables["organisations"]
    theme_counts = organisations["themes"].str.split(";").str.len()
    assert theme_counts.between(1, 3).all()
    assert organisations["themes"].str.contains("sdg").mean() > 0.05
    company = organisations["kind"] == "company"
    assert (organisations.loc[~company, "motivations"] == "").all()
    assert (organisations.loc[company, "motivations"] != "").mean() > 0.7
    assert (organisations.loc[~company, "gc_status"] == "").all()
    statuses = organisations.loc[organisations["gc_status"] != "", "gc_status"].value_counts()
    assert statuses.index[0] == "active"
    assert statuses.get("delisted", 0) < statuses.get("non_communicating", 0) + 5
    verified = organisations.loc[organisations["verified_on"] != "", "verified_on"]
    assert 0.3 <= len(verified) / len(organisations) <= 0.6
    assert pd.to_datetime(verified, format="%Y-%m-%d").notna().all()


def test_a_fifth_of_organisations_have_no_capability_and_the_rest_one_to_five(
    tables: dict[str, pd.DataFrame],
) -> None:
    capabilities = tables["capabilities"]
    per_org = capabilities.groupby("org_id").size()
    assert 1 - len(per_org) / N_ORGS == pytest.approx(0.2, abs=0.04)
    assert per_org.between(1, 5).all()
    strength = capabilities["strength"].astype(float)
    assert ((strength > 0) & (strength <= 1)).all()
    assert (strength.round(2) == strength).all()
    quantified = capabilities[capabilities["quantity"] != ""]
    assert len(quantified) > 0
    assert quantified["capability"].str.startswith("funding").all()
    assert (quantified["unit"] == "USD").all()
    assert quantified["quantity"].str.fullmatch(r"\d+").all()


def test_capability_profiles_depend_on_the_kind(tables: dict[str, pd.DataFrame]) -> None:
    kind = tables["organisations"].set_index("id")["kind"]
    capabilities = tables["capabilities"].assign(
        kind=lambda frame: frame["org_id"].map(kind),
        family=lambda frame: frame["capability"].str.split(".").str[0],
    )
    top_family = capabilities.groupby("kind")["family"].agg(lambda s: s.value_counts().index[0])
    assert top_family["foundation"] == "funding"
    assert top_family["media"] == "media_reach"
    assert top_family["academic"] == "research"
    assert top_family["ngo"] in {"local_presence", "service_delivery"}


def test_partnership_years_and_outcomes_are_consistent(tables: dict[str, pd.DataFrame]) -> None:
    partnerships = tables["partnerships"]
    start = partnerships["start_year"].astype(int)
    end = partnerships["end_year"].astype(int)
    assert start.between(1995, 2025).all()
    assert (end >= start).all()
    assert start.is_monotonic_increasing  # numbered in chronological order
    evaluated = partnerships["outcome"].isin(ENDED_OUTCOMES)
    recently_ended = end.between(2015, 2024)
    assert evaluated[end < 2010].mean() > evaluated[recently_ended].mean() + 0.1
    assert (partnerships.loc[end > 2025, "outcome"].isin({"active", "unknown"})).all()
    assert partnerships["activity_types"].str.split(";").str.len().between(1, 4).all()
    assert partnerships["themes"].str.split(";").str.len().between(1, 3).all()
    amounts = partnerships.loc[partnerships["amount_usd"] != "", "amount_usd"]
    assert 0.5 <= len(amounts) / len(partnerships) <= 0.8


def test_flags_and_conflicts_cover_a_small_share_of_organisations(
    tables: dict[str, pd.DataFrame],
) -> None:
    flags, conflicts = tables["flags"], tables["conflicts"]
    assert 0.005 <= flags["org_id"].nunique() / N_ORGS <= 0.02
    assert flags["level"].isin({"observation", "yellow"}).mean() >= 0.6
    assert len(conflicts) == round(N_ORGS * 0.001)
    assert (conflicts["org_a"] != conflicts["org_b"]).all()
    pairs = {frozenset(pair) for pair in zip(conflicts["org_a"], conflicts["org_b"], strict=True)}
    assert len(pairs) == len(conflicts)


def test_generate_script_writes_a_directory_and_prints_the_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script("generate_dataset")
    assert script.main(["--orgs", "150", "--out", str(tmp_path / "out"), "--seed", "2"]) == 0
    printed = capsys.readouterr().out
    assert "organisations" in printed and "150" in printed and "wrote" in printed
    assert len(_read(tmp_path / "out", "organisations")) == 150


@pytest.mark.parametrize("argv", [["--orgs", "0", "--out", "x"], ["--orgs", "ten", "--out", "x"]])
def test_generate_script_exits_2_on_bad_usage(tmp_path: Path, argv: list[str]) -> None:
    script = _script("generate_dataset")
    assert script.main([*argv[:-1], str(tmp_path / argv[-1])]) == 2
    assert not (tmp_path / "x").exists()


def test_generate_script_exits_1_when_the_folder_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert _script("generate_dataset").main(["--orgs", "10", "--out", str(blocker)]) == 1


def test_bench_script_prints_time_memory_and_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert _script("bench_generate").main(["--sizes", "200,300"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "peak RSS" in lines[0] and "memberships" in lines[1]


@pytest.mark.slow
def test_a_hundred_thousand_organisations_take_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    counts = generate_directory(100_000, tmp_path, seed=1)
    assert time.perf_counter() - started < 60
    assert counts["organisations"] == 100_000
    assert counts["partnerships"] == 33_333
