"""Converting CORDIS Horizon 2020 participations into a data directory (matcher.formats.cordis)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import DataDirectoryError
from matcher.domain.model import Kind, Role
from matcher.domain.taxonomy import Taxonomies
from matcher.formats.cordis import (
    EUR_USD_RATES,
    PROGRAMME_PARTS,
    convert_cordis,
    convert_cordis_directory,
    eur_usd_rate,
    programme_part_theme,
    read_cordis,
)
from matcher.formats.datadir import FILES, TAXONOMY_EXTENSIONS, read_data_directory
from matcher.formats.datadir_writer import write_tables
from scripts.cordis_to_dataset import main

CORDIS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cordis-h2020"
HEADER = (
    "rcn,role,pic,type,contribution,country,start_date,end_date,max_contribution,total_cost,"
    "start_year,end_year,duration,group,nunique\n"
)
# Project 100 (2017, SC1+LEIT): 900000001 coordinates; 900000002 is HES here and in 101, PUB in
# the latest project 200; 900000003 is REC once (2017) and OTH once (2021): a tie.
# Project 101 (2018) lists 900000005 twice (participant, then coordinator).
# Project 200 (2021) has an unknown programme part, a blank contribution, a blank type and an
# unknown country; project 300 starts in 2030, after the rate table.
TINY_PARTICIPATIONS = HEADER + (
    "100,coordinator,900000001,PRC,1000.0,UK,2017-01-01,2019-12-31,2000.0,2500.0,"
    "2017.0,2019.0,36.0,eu15,3\n"
    "100,participant,900000002,HES,500.5,EL,2017-01-01,2019-12-31,2000.0,2500.0,"
    "2017.0,2019.0,36.0,eu15,3\n"
    "100,partner,900000003,REC,,DE,2017-01-01,2019-12-31,2000.0,2500.0,"
    "2017.0,2019.0,36.0,eu15,3\n"
    "101,participant,900000005,OTH,10.0,FR,2018-03-01,2020-02-29,300.0,300.0,"
    "2018.0,2020.0,24.0,eu15,2\n"
    "101,coordinator,900000005,OTH,20.0,FR,2018-03-01,2020-02-29,300.0,300.0,"
    "2018.0,2020.0,24.0,eu15,2\n"
    "101,participant,900000002,HES,100.0,EL,2018-03-01,2020-02-29,300.0,300.0,"
    "2018.0,2020.0,24.0,eu15,2\n"
    "200,coordinator,900000003,OTH,,DE,2021-06-01,2024-05-31,1000.0,1000.0,"
    "2021.0,2024.0,36.0,eu15,3\n"
    "200,participant,900000002,PUB,50.0,EL,2021-06-01,2024-05-31,1000.0,1000.0,"
    "2021.0,2024.0,36.0,eu15,3\n"
    "200,participant,900000004,,,ZZ,2021-06-01,2024-05-31,1000.0,1000.0,"
    "2021.0,2024.0,36.0,tc,3\n"
    "300,coordinator,900000006,PRC,100.0,US,2030-01-01,,100.0,100.0,2030.0,,,tc,1\n"
)
TINY_PROGRAMME_PARTS = (
    "rcn,programme_part\n100,SC1\n100,LEIT\n101,SC1\n200,Fast Track to Innovation\n300,SC1\n"
)


def _write_source(folder: Path, participations: str, programme_parts: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "participations.csv").write_text(participations, encoding="utf-8")
    (folder / "programme_parts.csv").write_text(programme_parts, encoding="utf-8")
    return folder


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return _write_source(tmp_path / "src", TINY_PARTICIPATIONS, TINY_PROGRAMME_PARTS)


@pytest.fixture
def tiny_tables(tiny: Path) -> dict[str, pd.DataFrame]:
    return convert_cordis(*read_cordis(tiny))


def _by_id(frame: pd.DataFrame, key: str = "id") -> dict[str, dict[str, str]]:
    rows = [
        {str(column): str(cell) for column, cell in row.items()} for row in frame.to_dict("records")
    ]
    return {row[key]: row for row in rows}


@pytest.fixture(scope="module")
def real_files() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The real CORDIS export beside the checkout: skipped when absent, failed in CI."""
    if not (CORDIS_DIR / "participations.csv").exists():
        message = f"the CORDIS H2020 files are not at {CORDIS_DIR}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return read_cordis(CORDIS_DIR)


@pytest.fixture
def real_slice(real_files: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> Path:
    """Every row of the projects named in the first 300 rows of the real file."""
    participations, programme_parts = real_files
    rcns = set(participations["rcn"].head(300))
    src = tmp_path / "real"
    src.mkdir()
    participations[participations["rcn"].isin(rcns)].to_csv(src / "participations.csv", index=False)
    programme_parts[programme_parts["rcn"].isin(rcns)].to_csv(
        src / "programme_parts.csv", index=False
    )
    return src


# The tiny hand-written export: exact expectations.


def test_every_table_has_exactly_the_interchange_columns(
    tiny_tables: dict[str, pd.DataFrame],
) -> None:
    specs = {**FILES, **TAXONOMY_EXTENSIONS}
    assert set(tiny_tables) == {
        "organisations.csv",
        "capabilities.csv",
        "partnerships.csv",
        "memberships.csv",
        "taxonomy/themes.csv",
    }
    for name, frame in tiny_tables.items():
        assert list(frame.columns) == list(specs[name].columns), name
        assert not frame.isna().any().any(), name
        assert not frame.map(lambda cell: cell == "nan" or cell.endswith(".0")).any().any(), name
    assert tiny_tables["capabilities.csv"].empty


def test_organisations_are_keyed_by_pic_and_named_after_it(
    tiny_tables: dict[str, pd.DataFrame],
) -> None:
    orgs = _by_id(tiny_tables["organisations.csv"])
    assert set(orgs) == {f"pic:90000000{n}" for n in range(1, 7)}
    assert orgs["pic:900000001"]["name"] == "PIC 900000001"
    assert "no organisation names" in orgs["pic:900000001"]["description"]
    assert orgs["pic:900000001"]["source"] == "CORDIS H2020 export 2020-12-14"


def test_cordis_country_aliases_become_iso_codes(tiny_tables: dict[str, pd.DataFrame]) -> None:
    orgs = _by_id(tiny_tables["organisations.csv"])
    assert orgs["pic:900000001"]["country"] == "GB"  # UK
    assert orgs["pic:900000002"]["country"] == "GR"  # EL
    assert orgs["pic:900000006"]["country"] == "US"


def test_an_unknown_country_code_leaves_the_country_empty(
    tiny_tables: dict[str, pd.DataFrame],
) -> None:
    assert _by_id(tiny_tables["organisations.csv"])["pic:900000004"]["country"] == ""


def test_activity_types_become_kinds_and_a_blank_type_is_other(
    tiny_tables: dict[str, pd.DataFrame],
) -> None:
    orgs = _by_id(tiny_tables["organisations.csv"])
    assert orgs["pic:900000001"]["kind"] == "company"  # PRC
    assert orgs["pic:900000005"]["kind"] == "other"  # OTH
    assert orgs["pic:900000004"]["kind"] == "other"  # blank
    assert "none given" in orgs["pic:900000004"]["description"]


def test_an_organisation_with_two_types_gets_the_most_frequent(
    tiny_tables: dict[str, pd.DataFrame],
) -> None:
    orgs = _by_id(tiny_tables["organisations.csv"])
    assert orgs["pic:900000002"]["kind"] == "academic"  # HES twice, PUB once (latest)


def test_a_tie_between_types_goes_to_the_latest_project(
    tiny_tables: dict[str, pd.DataFrame],
) -> None:
    orgs = _by_id(tiny_tables["organisations.csv"])
    assert orgs["pic:900000003"]["kind"] == "other"  # REC in 2017, OTH in 2021


def test_organisation_themes_are_its_most_frequent_programme_parts(
    tiny_tables: dict[str, pd.DataFrame],
) -> None:
    orgs = _by_id(tiny_tables["organisations.csv"])
    assert orgs["pic:900000001"]["themes"] == "h2020-leit;h2020-sc1"
    # SC1 twice (100, 101), then LEIT (100) and the new part (200): ties to the latest.
    assert orgs["pic:900000002"]["themes"] == "h2020-fast-track-to-innovation;h2020-leit;h2020-sc1"
    assert orgs["pic:900000006"]["themes"] == "h2020-sc1"


def test_partnerships_have_integer_years_and_usd_amounts_at_the_start_year_rate(
    tiny_tables: dict[str, pd.DataFrame],
) -> None:
    projects = _by_id(tiny_tables["partnerships.csv"])
    p100 = projects["rcn:100"]
    assert p100["name"] == "H2020 project 100"
    assert (p100["start_year"], p100["end_year"]) == ("2017", "2019")
    assert p100["amount_usd"] == str(round(2000.0 * 1.1297))  # 2259
    assert p100["themes"] == "h2020-leit;h2020-sc1"
    assert p100["activity_types"] == "information_learning;operational"
    assert p100["source"] == "CORDIS H2020 export 2020-12-14"
    assert p100["outcome"] == ""
    assert projects["rcn:101"]["amount_usd"] == str(round(300.0 * 1.1810))


def test_a_year_after_the_rate_table_uses_the_latest_rate(
    tiny_tables: dict[str, pd.DataFrame],
) -> None:
    p300 = _by_id(tiny_tables["partnerships.csv"])["rcn:300"]
    assert (p300["start_year"], p300["end_year"]) == ("2030", "")
    assert p300["amount_usd"] == str(round(100.0 * EUR_USD_RATES[max(EUR_USD_RATES)]))


def test_a_later_year_and_an_unknown_programme_part_are_accepted(
    tiny_tables: dict[str, pd.DataFrame],
) -> None:
    p200 = _by_id(tiny_tables["partnerships.csv"])["rcn:200"]
    assert (p200["start_year"], p200["amount_usd"]) == ("2021", str(round(1000.0 * 1.1827)))
    assert p200["themes"] == "h2020-fast-track-to-innovation"
    assert p200["activity_types"] == "information_learning"
    themes = _by_id(tiny_tables["taxonomy/themes.csv"], "code")
    assert themes["h2020-fast-track-to-innovation"]["label"] == "H2020 Fast Track to Innovation"


def test_roles_and_contributions_of_memberships(tiny_tables: dict[str, pd.DataFrame]) -> None:
    frame = tiny_tables["memberships.csv"]
    members = {(row["partnership_id"], row["org_id"]): row for row in frame.to_dict("records")}
    first = members[("rcn:100", "pic:900000001")]
    assert (first["role"], first["contribution_usd"]) == ("lead", str(round(1000.0 * 1.1297)))
    assert members[("rcn:100", "pic:900000002")]["role"] == "member"  # participant
    assert members[("rcn:100", "pic:900000002")]["contribution_usd"] == "565"  # 500.5 x 1.1297
    partner = members[("rcn:100", "pic:900000003")]
    assert (partner["role"], partner["contribution_usd"]) == ("member", "")  # blank contribution


def test_a_duplicated_member_is_kept_once_as_coordinator(
    tiny_tables: dict[str, pd.DataFrame],
) -> None:
    frame = tiny_tables["memberships.csv"]
    rows = frame[(frame["partnership_id"] == "rcn:101") & (frame["org_id"] == "pic:900000005")]
    assert rows[["role", "contribution_usd"]].values.tolist() == [["lead", str(round(20 * 1.181))]]


def test_themes_table_holds_only_the_parts_that_occur_with_sdgs_and_builtin_parents(
    tiny_tables: dict[str, pd.DataFrame], taxonomies: Taxonomies
) -> None:
    themes = _by_id(tiny_tables["taxonomy/themes.csv"], "code")
    assert set(themes) == {"h2020-sc1", "h2020-leit", "h2020-fast-track-to-innovation"}
    assert (themes["h2020-sc1"]["parent"], themes["h2020-sc1"]["sdg"]) == ("health", "3")
    assert themes["h2020-leit"]["sdg"] == "9"
    for part in PROGRAMME_PARTS.values():
        assert part.parent is None or part.parent in taxonomies.themes, part.code
        assert part.code not in taxonomies.themes


def test_the_tiny_directory_reads_back_without_a_problem(tiny: Path, tmp_path: Path) -> None:
    counts = convert_cordis_directory(tiny, tmp_path / "out")
    dataset = read_data_directory(tmp_path / "out")
    assert counts == {
        "organisations": 6,
        "partnerships": 4,
        "memberships": 9,
        "capabilities": 0,
        "themes": 3,
        "organisations_without_country": 1,
        "participations_without_country": 1,
        "skipped_rows": 0,
    }
    assert dataset.organisations["pic:900000001"].kind is Kind.COMPANY
    assert dataset.partnerships["rcn:100"].start_year == 2017
    assert dataset.partnerships["rcn:100"].amount_usd == 2259
    lead = [m for m in dataset.members_of("rcn:100") if m.org_id == "pic:900000001"]
    assert lead[0].role is Role.LEAD
    assert "h2020-fast-track-to-innovation" in dataset.taxonomies.themes


# Robustness: what a later or rougher export may hold.


def test_only_the_key_columns_are_required() -> None:
    participations = pd.DataFrame({"rcn": ["1", "1", " "], "pic": ["7", "8", "9"]})
    tables = convert_cordis(participations, pd.DataFrame(columns=["rcn", "programme_part"]))
    orgs = tables["organisations.csv"]
    assert orgs[["id", "kind", "country", "themes"]].values.tolist() == [
        ["pic:7", "other", "", ""],
        ["pic:8", "other", "", ""],
    ]
    project = tables["partnerships.csv"].iloc[0]
    assert (project["start_year"], project["amount_usd"], project["activity_types"]) == (
        "",
        "",
        "information_learning",
    )
    assert tables["taxonomy/themes.csv"].empty


def test_numbers_read_by_pandas_as_numbers_are_accepted() -> None:
    participations = pd.DataFrame(
        {
            "rcn": [1],
            "pic": [999],
            "contribution": [float("nan")],
            "start_year": [2016.0],
            "max_contribution": [10.0],
        }
    )
    tables = convert_cordis(participations, pd.DataFrame({"rcn": [1], "programme_part": ["ERC"]}))
    project = tables["partnerships.csv"].iloc[0]
    assert (project["id"], project["start_year"], project["amount_usd"]) == ("rcn:1", "2016", "11")
    assert tables["memberships.csv"]["contribution_usd"].tolist() == [""]


def test_bad_numbers_and_years_give_empty_cells(tmp_path: Path) -> None:
    participations = pd.DataFrame(
        {
            "rcn": ["1", "2"],
            "pic": ["5", "5"],
            "contribution": ["-3", "n/a"],
            "start_year": ["2019.0", "abc"],
            "start_date": ["", "2022-02-01"],
            "end_year": ["2015.0", "3000.0"],
            "max_contribution": ["-1", "1e400"],
        }
    )
    tables = convert_cordis(participations, pd.DataFrame(columns=["rcn", "programme_part"]))
    projects = tables["partnerships.csv"]
    assert projects[["start_year", "end_year", "amount_usd"]].values.tolist() == [
        ["2019", "", ""],  # an end before the start is dropped
        ["2022", "", ""],  # the year from the date; an end in 3000 is out of range
    ]
    assert tables["memberships.csv"]["contribution_usd"].tolist() == ["", ""]
    write_tables(tables, tmp_path / "out")
    read_data_directory(tmp_path / "out")


def test_generated_theme_codes_are_valid_and_distinct() -> None:
    first = programme_part_theme("Nouvelle partie: Énergie!")
    assert first.code == "h2020-nouvelle-partie-energie"
    assert programme_part_theme("???").code == "h2020-part"
    long = programme_part_theme("x" * 200)
    assert len(long.code) <= 64
    taken = frozenset({first.code})
    assert programme_part_theme("Nouvelle partie Energie", taken).code == first.code + "-2"


def test_known_parts_match_in_any_case_and_a_new_part_never_takes_a_known_code() -> None:
    assert programme_part_theme("erc").code == "h2020-erc"
    assert programme_part_theme(" ERC ").code == "h2020-erc"
    assert programme_part_theme("SC1!").code == "h2020-sc1-2"


def test_rates_outside_the_table_take_the_nearest_year() -> None:
    assert eur_usd_rate(2013) == EUR_USD_RATES[2014]
    assert eur_usd_rate(2035) == EUR_USD_RATES[2024]


def test_a_missing_key_column_is_reported() -> None:
    with pytest.raises(DataDirectoryError, match="participations.csv:1: pic: missing required"):
        convert_cordis(
            pd.DataFrame({"rcn": ["1"]}), pd.DataFrame(columns=["rcn", "programme_part"])
        )


def test_read_cordis_reports_every_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataDirectoryError) as caught:
        read_cordis(tmp_path)
    assert len(caught.value.problems) == 2
    assert all("required file is missing" in problem for problem in caught.value.problems)


def test_read_cordis_reports_a_missing_column(tmp_path: Path) -> None:
    _write_source(tmp_path, "rcn,role\n1,coordinator\n", "rcn,programme_part\n")
    with pytest.raises(DataDirectoryError, match="participations.csv:1: pic: missing required"):
        read_cordis(tmp_path)


# The command line.


def test_the_script_prints_the_counts(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tiny), str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "organisations" in out and "memberships" in out and "wrote" in out
    read_data_directory(tmp_path / "out")


def test_the_script_fails_with_one_line_when_the_files_are_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "participations.csv" in err
    assert not (tmp_path / "out").exists()


def test_the_script_rejects_bad_usage() -> None:
    assert main([]) == 2


# The real export.


def _assert_counts_match(src: Path, out: Path, counts: dict[str, int]) -> Dataset:
    participations = pd.read_csv(src / "participations.csv", dtype=str, keep_default_na=False)
    parts = pd.read_csv(src / "programme_parts.csv", dtype=str, keep_default_na=False)
    assert counts["organisations"] == participations["pic"].nunique()
    assert counts["partnerships"] == participations["rcn"].nunique()
    assert counts["memberships"] == len(participations[["rcn", "pic"]].drop_duplicates())
    used = parts[parts["rcn"].isin(participations["rcn"])]["programme_part"]
    assert counts["themes"] == used.nunique()
    dataset = read_data_directory(out)
    assert len(dataset.organisations) == counts["organisations"]
    assert len(dataset.partnerships) == counts["partnerships"]
    assert len(dataset.memberships) == counts["memberships"]
    return dataset


def test_a_slice_of_the_real_export_converts_and_reads_back(
    real_slice: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    counts = convert_cordis_directory(real_slice, out)
    dataset = _assert_counts_match(real_slice, out, counts)
    coordinators = pd.read_csv(real_slice / "participations.csv", dtype=str)
    coordinators = coordinators[coordinators["role"] == "coordinator"]
    leads = [m for m in dataset.memberships if m.role is Role.LEAD]
    assert len(leads) == len(coordinators)


def test_a_later_rougher_export_converts_and_reads_back(real_slice: Path, tmp_path: Path) -> None:
    participations, parts = read_cordis(real_slice)
    later = participations.copy()
    for column in ("start_year", "end_year"):
        years = pd.to_numeric(later[column], errors="coerce") + 5  # 2019-2023 starts
        later[column] = years.map(lambda year: "" if pd.isna(year) else f"{year:.1f}")
    later.loc[later.index[::3], "contribution"] = ""
    later.loc[later.index[::5], "type"] = ""
    later.loc[later.index[::7], "country"] = "QQ"
    parts = pd.concat(
        [parts, pd.DataFrame({"rcn": parts["rcn"].head(5), "programme_part": "Cluster 9: X"})]
    )
    src = tmp_path / "later"
    src.mkdir()
    later.to_csv(src / "participations.csv", index=False)
    parts.to_csv(src / "programme_parts.csv", index=False)
    out = tmp_path / "out"
    counts = convert_cordis_directory(src, out)
    dataset = _assert_counts_match(src, out, counts)
    assert counts["participations_without_country"] >= len(later.index[::7])
    assert "h2020-cluster-9-x" in dataset.taxonomies.themes
    assert {p.start_year for p in dataset.partnerships.values()} <= set(range(2019, 2024))


@pytest.mark.slow
def test_the_whole_export_converts_in_seconds_and_reads_back(
    real_files: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    started = time.perf_counter()
    counts = convert_cordis_directory(CORDIS_DIR, tmp_path / "out")
    assert time.perf_counter() - started < 30
    _assert_counts_match(CORDIS_DIR, tmp_path / "out", counts)


def test_an_export_without_rows_gives_empty_tables_that_read_back(tmp_path: Path) -> None:
    src = _write_source(tmp_path / "src", HEADER, "rcn,programme_part\n")
    counts = convert_cordis_directory(src, tmp_path / "out")
    assert {name: counts[name] for name in ("organisations", "partnerships", "memberships")} == {
        "organisations": 0,
        "partnerships": 0,
        "memberships": 0,
    }
    assert len(read_data_directory(tmp_path / "out").organisations) == 0


def test_rows_without_a_usable_key_are_skipped_and_counted(tmp_path: Path) -> None:
    rows = HEADER + ",participant,900000001,PRC,,DE,,,,,,,,,\n7,participant,9 9,PRC,,DE,,,,,,,,,\n"
    src = _write_source(tmp_path / "src", TINY_PARTICIPATIONS + rows[len(HEADER) :], "rcn\n")
    with pytest.raises(DataDirectoryError, match="programme_part: missing required column"):
        convert_cordis_directory(src, tmp_path / "out")
    (src / "programme_parts.csv").write_text(TINY_PROGRAMME_PARTS, encoding="utf-8")
    counts = convert_cordis_directory(src, tmp_path / "out")
    assert (counts["skipped_rows"], counts["partnerships"]) == (2, 4)
    read_data_directory(tmp_path / "out")


def test_two_spellings_of_a_known_part_give_one_theme(tmp_path: Path) -> None:
    src = _write_source(
        tmp_path / "src", TINY_PARTICIPATIONS, TINY_PROGRAMME_PARTS + "101,sc1\n300, SC1 \n"
    )
    counts = convert_cordis_directory(src, tmp_path / "out")
    assert counts["themes"] == 3
    dataset = read_data_directory(tmp_path / "out")
    assert dataset.partnerships["rcn:101"].themes == {"h2020-sc1"}


def test_the_project_description_keeps_the_eur_amounts_and_dates(
    tiny_tables: dict[str, pd.DataFrame],
) -> None:
    projects = _by_id(tiny_tables["partnerships.csv"])
    assert projects["rcn:100"]["description"] == (
        "Horizon 2020 project, CORDIS record number 100; programme parts: LEIT, SC1; "
        "EC contribution EUR 2000; total cost EUR 2500; EUR/USD 1.1297 (ECB annual average "
        "of 2017); 2017-01-01 to 2019-12-31"
    )
    assert projects["rcn:300"]["description"].endswith("; from 2030-01-01")
