"""The built-in taxonomies: integrity, coverage of the report, and capability similarity."""

from __future__ import annotations

import csv
import re

import pycountry
import pytest

from matcher.domain.exceptions import TaxonomyError, UnknownCodeError
from matcher.domain.model import (
    DEFAULT_SECTOR,
    ActivityType,
    FlagLevel,
    GCStatus,
    Kind,
    Outcome,
    Role,
    Sector,
    Size,
)
from matcher.domain.taxonomy import (
    MatchCredits,
    Relation,
    Taxonomies,
    Term,
    Vocabulary,
    match_credit,
)
from matcher.domain.taxonomy import relation as relation_of
from matcher.formats.taxonomy_io import TAXONOMY_FILES, load_taxonomies
from tests.conftest import TAXONOMY_DIR

SECTION = re.compile(r"§(\d+)(?:[a-f])?(?:-(\d+))?")


def test_every_vocabulary_loads_without_cycles_or_missing_parents(
    taxonomies: Taxonomies,
) -> None:
    for attribute in TAXONOMY_FILES:
        vocabulary: Vocabulary = getattr(taxonomies, attribute)
        assert len(vocabulary) > 0
        for code in vocabulary:
            for ancestor in vocabulary.ancestors(code):
                assert ancestor in vocabulary


def test_activity_types_are_the_six_of_paragraph_14(taxonomies: Taxonomies) -> None:
    assert list(taxonomies.activity_types) == [member.value for member in ActivityType]
    sources = [taxonomies.activity_types[code].source for code in taxonomies.activity_types]
    assert sources == ["§14a", "§14b", "§14c", "§14d", "§14e", "§14f"]


@pytest.mark.parametrize(
    ("attribute", "enum"),
    [
        ("kinds", Kind),
        ("sectors", Sector),
        ("sizes", Size),
        ("gc_statuses", GCStatus),
        ("roles", Role),
        ("outcomes", Outcome),
        ("flag_levels", FlagLevel),
    ],
)
def test_closed_vocabulary_files_match_the_domain_enumerations(
    taxonomies: Taxonomies, attribute: str, enum: type
) -> None:
    assert set(getattr(taxonomies, attribute)) == {member.value for member in enum}


def test_each_kind_documents_the_sector_the_model_defaults_to(taxonomies: Taxonomies) -> None:
    for code, term in taxonomies.kinds.items():
        assert term.attributes["sector"] == DEFAULT_SECTOR[Kind(code)]


def test_flag_levels_are_ranked_from_observation_to_red(taxonomies: Taxonomies) -> None:
    ranks = {code: int(term.attributes["rank"]) for code, term in taxonomies.flag_levels.items()}
    assert ranks == {level.value: level.rank for level in FlagLevel}


def test_capability_hierarchy_is_rich_and_three_levels_deep(taxonomies: Taxonomies) -> None:
    capabilities = taxonomies.capabilities
    assert len(capabilities) >= 40
    assert max(capabilities.depth(code) for code in capabilities) == 3
    assert {"funding.grants", "funding.in_kind", "funding.loans", "funding.investment"} <= set(
        capabilities.children("funding")
    )
    assert "technology.ict.networks" in capabilities.descendants("technology")


def test_dotted_capability_codes_name_their_parent(taxonomies: Taxonomies) -> None:
    for code, term in taxonomies.capabilities.items():
        expected_parent = code.rpartition(".")[0] or None
        assert term.parent == expected_parent, code


def test_every_theme_names_valid_sdg_numbers(taxonomies: Taxonomies) -> None:
    for code in taxonomies.themes:
        sdgs = taxonomies.theme_sdgs(code)
        assert sdgs, code
        assert all(1 <= number <= 17 for number in sdgs), code
    assert {f"sdg{n}" for n in range(1, 18)} <= set(taxonomies.themes)
    assert taxonomies.theme_sdgs("education") == {4}
    assert taxonomies.theme_sdgs("sdg16") == {16}


def test_report_themes_are_all_present(taxonomies: Taxonomies) -> None:
    report_areas = {
        "education",
        "child_labour",
        "youth",
        "ict",
        "community_empowerment",
        "small_enterprise",
        "human_rights",
        "sustainable_development",
        "eco_efficiency",
        "hiv_aids",
        "children_health",
        "population_women",
        "peace_security",
    }
    assert report_areas <= set(taxonomies.themes)


def test_every_section_cited_by_a_taxonomy_exists_in_the_report(
    taxonomies: Taxonomies, report_paragraphs: dict[int, str]
) -> None:
    cited: set[int] = set()
    for attribute in TAXONOMY_FILES:
        for term in getattr(taxonomies, attribute).values():
            for match in SECTION.finditer(term.source):
                first = int(match.group(1))
                last = int(match.group(2) or first)
                cited.update(range(first, last + 1))
    assert cited, "no § cited at all"
    assert cited <= set(report_paragraphs)


def test_report_terms_cite_a_section(taxonomies: Taxonomies) -> None:
    uncited = [
        f"{attribute}:{code}"
        for attribute in TAXONOMY_FILES
        for code, term in getattr(taxonomies, attribute).items()
        if not SECTION.search(term.source)
        and not code.startswith("sdg")
        and code not in {"other", "unknown"}
    ]
    assert uncited == []


def test_country_table_covers_every_iso_country_with_m49_regions(
    taxonomies: Taxonomies,
) -> None:
    countries = taxonomies.countries
    assert {country.alpha_2 for country in pycountry.countries} | {"XK"} == set(countries)
    regions = {info.region for info in countries.values()}
    assert regions == {"Africa", "Americas", "Asia", "Europe", "Oceania", "Antarctica"}
    assert countries.region_of("BR") == "Americas"
    assert countries.sub_region_of("IND") == "Southern Asia"
    assert countries.region_of("UK") == "Europe"


def test_ldc_list_is_the_current_un_list(taxonomies: Taxonomies) -> None:
    ldcs = {code for code, info in taxonomies.countries.items() if info.ldc}
    assert len(ldcs) == 44
    assert {"AO", "HT", "BD", "TV"} <= ldcs
    assert not ldcs & {"BR", "CV", "ST", "BT", "VU"}  # middle income or graduated


def test_taxonomy_files_have_a_description_for_every_code() -> None:
    for file_name, _ in TAXONOMY_FILES.values():
        with (TAXONOMY_DIR / file_name).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert all(row["description"].strip() for row in rows), file_name


def test_a_cycle_of_parents_is_rejected() -> None:
    with pytest.raises(TaxonomyError, match=r"Cycle in theme parents: a -> b -> a"):
        Vocabulary("theme", [Term("a", "A", parent="b"), Term("b", "B", parent="a")])


def test_a_missing_parent_is_rejected() -> None:
    with pytest.raises(TaxonomyError, match=r"The parent 'x' of theme 'a' does not exist"):
        Vocabulary("theme", [Term("a", "A", parent="x")])


def test_a_duplicate_code_is_rejected() -> None:
    with pytest.raises(TaxonomyError, match=r"Duplicate theme code 'a'"):
        Vocabulary("theme", [Term("a", "A"), Term("a", "Again")])


def test_a_missing_taxonomy_file_is_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TaxonomyError, match=r"activity_types.csv' not found"):
        load_taxonomies(tmp_path)


def test_unknown_code_error_names_the_code(taxonomies: Taxonomies) -> None:
    with pytest.raises(UnknownCodeError, match=r"Unknown theme code 'educatoin'"):
        taxonomies.themes.check("educatoin")


@pytest.mark.parametrize(
    ("need", "offer", "kind", "credit"),
    [
        ("funding", "funding", Relation.EXACT, 1.0),
        ("funding", "funding.grants.project", Relation.DESCENDANT, 1.0),
        ("funding.grants", "funding", Relation.ANCESTOR, 0.5),
        ("funding.grants.project", "funding", Relation.ANCESTOR, 0.25),
        ("funding.grants", "funding.loans", Relation.SIBLING, 0.25),
        ("funding.grants.project", "funding.loans", Relation.UNRELATED, 0.0),
        ("funding", "training", Relation.UNRELATED, 0.0),
        ("training", "funding", Relation.UNRELATED, 0.0),
    ],
)
def test_capability_match_credit_follows_the_hierarchy(
    taxonomies: Taxonomies, need: str, offer: str, kind: Relation, credit: float
) -> None:
    assert relation_of(taxonomies.capabilities, need, offer) is kind
    assert match_credit(taxonomies.capabilities, need, offer) == pytest.approx(credit)


def test_match_credits_are_configurable(taxonomies: Taxonomies) -> None:
    strict = MatchCredits(ancestor=0.0, sibling=0.0)
    assert match_credit(taxonomies.capabilities, "funding.grants", "funding", strict) == 0.0
    assert match_credit(taxonomies.capabilities, "funding", "funding.grants", strict) == 1.0


def test_match_credit_rejects_unknown_codes(taxonomies: Taxonomies) -> None:
    with pytest.raises(UnknownCodeError, match=r"Unknown capability code 'fundng'"):
        match_credit(taxonomies.capabilities, "fundng", "funding")
