"""The IATI import: the mapping element by element, identity, bad input, money, real samples."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from matcher.formats.datadir import read_data_directory
from matcher.formats.iati import IatiXmlError, UsdConverter, convert_iati, safe_id
from matcher.formats.iati_codelists import load_codelists
from matcher.formats.iati_identity import (
    Mention,
    OrganisationResolver,
    RegistryPublisher,
    clean_ref,
    is_organisation_identifier,
)
from matcher.formats.taxonomy_io import load_taxonomies
from service.cli import cli

DATA = Path(__file__).resolve().parent / "data" / "iati"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
IATI_SAMPLES = SHARED / "iati"
UNDP_SAMPLES = SHARED / "iati-undp"
needs_samples = pytest.mark.skipif(
    not (IATI_SAMPLES / "activities-sample.xml").exists() or not UNDP_SAMPLES.exists(),
    reason="the shared IATI samples are not here",
)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def by(key: str, table: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row[key]: row for row in table}


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("iati") / "out"
    convert_iati([DATA / "activities-2.03.xml", DATA / "activities-1.04.xml"], out)
    return out


# ---- the mapping, element by element (2.03) ----------------------------------------------


def test_an_activity_becomes_a_partnership_with_every_mapped_field(converted: Path) -> None:
    partnership = by("id", rows(converted / "partnerships.csv"))["XM-TEST-1_ML_2015.e3fb4a33"]
    assert partnership == {
        "id": "XM-TEST-1_ML_2015.e3fb4a33",
        "name": "School sanitation in Mali",
        "start_year": "2015",  # actual start (type 2) over planned (type 1)
        "end_year": "2017",  # actual end (type 4) over planned (type 3)
        "countries": "ML;SN",
        "themes": "dac-122;dac-14030;sdg4;sdg6;sv99-gb-chc-202918-wash-1",
        "activity_types": "operational",
        # revised EUR budget of 2015 (1000 x 1.0759 on 2015-03-31) + the USD one of 2016
        "amount_usd": "1326",
        "outcome": "completed",
        "source": "IATI XM-TEST-1/ML 2015; reported by Oxfam GB (GB-CHC-202918)",
        "description": "Latrines and hand washing in 150 schools. [fr] Réduire le choléra & "
        "Ebola. [fr] Assainissement scolaire au Mali. Recipient countries: ML 70%, SN 30%.",
    }


def test_participating_orgs_become_members_with_one_role_each(converted: Path) -> None:
    members = {
        (row["org_id"], row["role"])
        for row in rows(converted / "memberships.csv")
        if row["partnership_id"] == "XM-TEST-1_ML_2015.e3fb4a33"
    }
    assert members == {
        ("XM-DAC-41122", "funder"),  # role 1
        ("GB-CHC-202918", "lead"),  # role 2 wins over its role 4
        ("name:association-malienne-pour-l-eau", "implementer"),  # placeholder ref
        ("name:ministry-of-education", "convener"),  # role 3, no ref at all
    }


def test_organisations_take_kind_country_identifiers_and_aliases(converted: Path) -> None:
    organisations = by("id", rows(converted / "organisations.csv"))
    unicef = organisations["XM-DAC-41122"]
    assert (unicef["kind"], unicef["country"], unicef["identifiers"]) == (
        "un_entity",
        "",
        "XM-DAC-41122",
    )
    assert unicef["aliases"] == "General funds;UNICEF"
    oxfam = organisations["GB-CHC-202918"]
    assert (oxfam["kind"], oxfam["country"], oxfam["aliases"]) == (
        "ngo",
        "GB",
        "Oxfam Great Britain",
    )
    ministry = organisations["name:ministry-of-education"]
    assert (ministry["kind"], ministry["identifiers"]) == ("government", "")
    assert "National Execution" not in {row["name"] for row in organisations.values()}


def test_sectors_become_a_theme_tree_with_french_labels_and_codelist_credit(
    converted: Path,
) -> None:
    themes = by("code", rows(converted / "taxonomy" / "themes.csv"))
    assert [themes[c]["parent"] for c in ("dac-14030", "dac-140")] == ["dac-140", "sdg6"]
    assert themes["dac-14030"]["label"] == "Basic drinking water supply and basic sanitation"
    assert (
        "(fr: Approvisionnement en eau potable et assainissement"
        in themes["dac-14030"]["description"]
    )
    assert themes["dac-140"]["sdg"] == "6"
    assert themes["dac-122"]["parent"] == "dac-120"
    assert themes["dac-120"]["parent"] == "health"
    assert "IATI codelists, CC BY 4.0" in themes["dac-12250"]["source"]
    assert themes["sv99-gb-chc-202918-wash-1"]["label"] == "Water, sanitation and hygiene"


def test_a_commitment_in_a_currency_the_ecb_does_not_quote_is_left_empty_and_reported(
    converted: Path,
) -> None:
    partnership = by("id", rows(converted / "partnerships.csv"))["XM-TEST-2"]
    assert partnership["amount_usd"] == ""
    assert partnership["themes"] == "dac-12250"  # a sector without vocabulary is DAC 5-digit
    problems = [p["reason"] for p in rows(converted / "problems.csv") if p["kind"] == "amount"]
    assert problems == ["a commitment in XDR, which the ECB rates do not cover: amount left empty"]


def test_activities_missing_what_we_need_are_skipped_with_file_line_and_reason(
    converted: Path,
) -> None:
    skipped = [
        (p["file"], p["line"], p["activity"], p["reason"])
        for p in rows(converted / "problems.csv")
        if p["kind"] == "skipped"
    ]
    assert skipped == [
        ("activities-2.03.xml", "49", "", "no iati-identifier: activity skipped"),
        (
            "activities-2.03.xml",
            "53",
            "XM-TEST-3",
            "no organisation (no participating-org nor reporting-org with a name or "
            "identifier): activity skipped",
        ),
        (
            "activities-2.03.xml",
            "57",
            "XM-TEST-2",
            "iati-identifier 'XM-TEST-2' already converted from activities-2.03.xml:34: "
            "duplicate skipped",
        ),
    ]


# ---- IATI 1.0x ---------------------------------------------------------------------------


def test_1_0x_roles_dates_vocabularies_and_commitments_in_words_are_read(
    converted: Path,
) -> None:
    partnership = by("id", rows(converted / "partnerships.csv"))["GB-CHC-283302-TEST"]
    assert (partnership["start_year"], partnership["end_year"]) == ("2011", "2014")
    assert partnership["themes"] == "dac-151;dac-31120;svwbsector-bx"
    assert partnership["activity_types"] == "information_learning;operational;policy_dialogue"
    assert partnership["outcome"] == "completed"
    assert partnership["description"] == "Farmers' organisations & women's groups."
    # two commitments (C) of GBP 1,000 and 500 on 2012-06-14 at 1.5513; the disbursement (D)
    # is not a commitment
    assert partnership["amount_usd"] == "2327"
    members = {
        row["org_id"]: row["role"]
        for row in rows(converted / "memberships.csv")
        if row["partnership_id"] == "GB-CHC-283302-TEST"
    }
    assert members == {
        "GB-1": "funder",
        "GB-CHC-283302": "lead",
        "name:world-bank": "convener",
        "name:helping-hands": "implementer",
    }


def test_a_1_0x_type_name_is_read_and_an_unknown_one_kept_and_reported(converted: Path) -> None:
    organisations = by("id", rows(converted / "organisations.csv"))
    assert organisations["name:world-bank"]["kind"] == "multilateral"  # "Multilateral"
    assert organisations["name:helping-hands"]["kind"] == "other"
    assert "Donor Country Based NGO" in organisations["name:helping-hands"]["description"]
    reasons = [p["reason"] for p in rows(converted / "problems.csv")]
    assert (
        "participating-org type 'Donor Country Based NGO' is not an OrganisationType: kind "
        "left as other"
    ) in reasons


# ---- identity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "cleaned"),
    [
        (" GB-CHC-1 ", "GB-CHC-1"),
        ("Not available", None),
        ("   ", None),
        ("N/A", None),
        (None, None),
    ],
)
def test_placeholder_refs_are_no_refs(ref: str | None, cleaned: str | None) -> None:
    assert clean_ref(ref) == cleaned


@pytest.mark.parametrize(
    ("ref", "is_identifier"),
    [
        ("GB-CHC-202918", True),
        ("XM-DAC-41122", True),
        ("US-EIN-13-3287064", True),
        ("GB-1", True),
        ("00012", False),  # a publisher's own donor code
        ("GB", False),
        ("ADRAUK", False),
    ],
)
def test_only_registered_forms_are_organisation_identifiers(ref: str, is_identifier: bool) -> None:
    assert is_organisation_identifier(ref, load_codelists()) is is_identifier


def test_a_ref_wins_over_names_and_every_other_name_is_an_alias_or_a_conflict() -> None:
    resolver = OrganisationResolver(load_codelists())
    first = resolver.resolve(Mention("GB-CHC-220949", "British Red Cross"), "a.xml", 1)
    same = resolver.resolve(Mention("gb-chc-220949", "General funds"), "a.xml", 2)
    assert first == same
    assert [(m.kind, m.name, m.other) for m in resolver.merges] == [
        ("conflict-names", "General funds", "British Red Cross")
    ]


def test_one_name_under_two_identifiers_stays_two_organisations_and_is_reported() -> None:
    resolver = OrganisationResolver(load_codelists())
    old = resolver.resolve(Mention("GB-1", "DFID"), "a.xml", 1)
    new = resolver.resolve(Mention("GB-GOV-1", "DFID"), "a.xml", 2)
    assert old != new
    assert [(m.kind, m.ref, m.other) for m in resolver.merges] == [
        ("conflict-identifiers", "GB-GOV-1", "GB-1")
    ]


def test_a_name_seen_first_without_ref_takes_the_identifier_when_it_comes() -> None:
    resolver = OrganisationResolver(load_codelists())
    bare = resolver.resolve(Mention(None, "Oxfam GB"), "a.xml", 1)
    with_ref = resolver.resolve(Mention("GB-CHC-202918", "OXFAM GB"), "a.xml", 9)
    assert bare == with_ref
    assert resolver.records[bare].identifiers == ["GB-CHC-202918"]
    assert resolver.merges[0].kind == "identifier-added"


def test_public_bodies_implementing_in_different_countries_are_not_merged_by_name() -> None:
    resolver = OrganisationResolver(load_codelists())
    benin = resolver.resolve(Mention(None, "Ministry of Agriculture", "10", scope="BJ"), "a", 1)
    morocco = resolver.resolve(Mention(None, "Ministry of Agriculture", "10", scope="MA"), "a", 2)
    again = resolver.resolve(Mention(None, "MINISTRY OF AGRICULTURE", "10", scope="BJ"), "a", 3)
    assert benin != morocco
    assert again == benin


def test_the_registry_names_and_places_the_organisations_refs_find() -> None:
    publisher = RegistryPublisher(
        "XM-DAC-41114",
        "United Nations Development Programme (UNDP)",
        "40",
        None,
        "UN.",
        "cc-by",
        "undp",
    )
    resolver = OrganisationResolver(load_codelists(), [publisher])
    by_ref = resolver.resolve(
        Mention("XM-DAC-41114", "UNITED NATIONS DEVELOPMENT PROGRAMME"), "a", 1
    )
    by_acronym = resolver.resolve(Mention("99999", "UNDP"), "a", 2)
    assert by_ref == by_acronym == 0
    assert resolver.records[0].name == "United Nations Development Programme (UNDP)"


# ---- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("malformed.xml", "malformed.xml:5: malformed XML: mismatched tag"),
        (
            "entity-expansion.xml",
            "entity-expansion.xml:2: refused: a DTD (document type declaration) is not allowed",
        ),
        (
            "external-entity.xml",
            "external-entity.xml:2: refused: a DTD (document type declaration) is not allowed",
        ),
    ],
)
def test_malformed_and_hostile_xml_is_refused_with_file_and_line_and_nothing_written(
    tmp_path: Path, name: str, message: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(IatiXmlError) as info:
        convert_iati([DATA / "activities-2.03.xml", DATA / name], out)
    assert str(info.value) == f"{DATA / name}:{message.split(':', 1)[1]}"
    assert not out.exists()


def test_gzipped_files_and_folders_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    with (
        (DATA / "activities-1.04.xml").open("rb") as src,
        gzip.open(folder / "a.xml.gz", "wb") as dst,
    ):
        shutil.copyfileobj(src, dst)
    report = convert_iati([folder], tmp_path / "out")
    assert (report.files, report.activities_converted) == (1, 1)


# ---- money -------------------------------------------------------------------------------


def test_amounts_convert_at_the_ecb_rate_of_their_value_date() -> None:
    usd = UsdConverter()
    assert usd.convert(1000.0, "EUR", dt.date(2015, 3, 31)) == pytest.approx(1075.9)
    assert usd.convert(1000.0, "usd", None) == 1000.0
    assert usd.convert(1000.0, "XOF", None) is None


def test_ids_that_do_not_fit_the_pattern_are_cleaned_and_kept_distinct() -> None:
    assert safe_id("A/B") != safe_id("A B")
    assert len(safe_id("X" * 100)) == 64


# ---- the whole chain ---------------------------------------------------------------------


def test_iati_then_import_export_import_changes_nothing(converted: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "converted"
    result = runner.invoke(
        cli,
        [
            "iati",
            str(DATA / "activities-2.03.xml"),
            str(DATA / "activities-1.04.xml"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "  activities read                          6" in result.stdout
    assert "  activities converted                     3" in result.stdout
    first, second = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    assert runner.invoke(cli, ["import", str(out), "--db", first]).exit_code == 0
    assert runner.invoke(cli, ["export", str(tmp_path / "one"), "--db", first]).exit_code == 0
    assert runner.invoke(cli, ["import", str(tmp_path / "one"), "--db", second]).exit_code == 0
    assert runner.invoke(cli, ["export", str(tmp_path / "two"), "--db", second]).exit_code == 0
    again = runner.invoke(cli, ["import", str(tmp_path / "two"), "--db", first])
    assert "  organisations            0         0         8         0" in again.stdout
    for name in ("organisations.csv", "partnerships.csv", "memberships.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert "XM-DAC-41122" in (tmp_path / "one" / "organisations.csv").read_text()


def test_a_malformed_file_fails_the_command_with_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["iati", str(DATA / "malformed.xml"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("malformed.xml:5: malformed XML: mismatched tag")


# ---- the real samples --------------------------------------------------------------------


@needs_samples
def test_the_shared_samples_convert_with_their_exact_counts_and_read_back(tmp_path: Path) -> None:
    report = convert_iati([IATI_SAMPLES, UNDP_SAMPLES], tmp_path / "out")
    counts = report.counts()
    assert {
        k: counts[k]
        for k in ("files", "activities_read", "activities_converted", "activities_skipped")
    } == {
        "files": 9,
        "activities_read": 636,
        "activities_converted": 586,
        "activities_skipped": 50,  # the second 1.0x file repeats 50 activities of the first
    }
    assert (report.organisation_mentions, report.distinct_mentions, report.organisations) == (
        1732,
        330,
        283,
    )
    assert (report.memberships, report.themes, report.themes_used) == (1376, 514, 234)
    dataset = read_data_directory(tmp_path / "out", load_taxonomies())
    assert len(dataset.partnerships) == 586


@needs_samples
def test_the_demo_world_keeps_only_open_licences_and_merges_with_the_seed(tmp_path: Path) -> None:
    report = convert_iati(
        [IATI_SAMPLES, UNDP_SAMPLES],
        tmp_path / "out",
        publishers=IATI_SAMPLES / "publishers.json",
        open_licences_only=True,
    )
    assert (report.activities_converted, report.activities_excluded) == (461, 168)
    licences = {
        row["licence"] for row in rows(tmp_path / "out" / "sources.csv") if int(row["converted"])
    }
    assert licences <= {
        "cc-by",
        "cc-zero",
        "odc-by",
        "odc-pddl",
        "odc-odbl",
        "other-open",
        "other-pd",
        "uk-ogl",
    }
    result = CliRunner().invoke(
        cli,
        [
            "import",
            str(Path(__file__).resolve().parents[1] / "data" / "seed"),
            str(tmp_path / "out"),
            "--dry-run",
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "  XM-DAC-41122 -> unicef (identifier XM-DAC-41122)" in result.stdout
    assert "  XM-DAC-41114 -> undp (identifier XM-DAC-41114)" in result.stdout
