"""Screening organisation names against the UN consolidated sanctions list
(matcher.integrity.sanctions).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher.domain.exceptions import DuplicateIdError, PartnerMatchError, ValidationError
from matcher.integrity.sanctions import (
    LEGAL_FORM_TOKENS,
    SanctionsEntry,
    SanctionsListError,
    SanctionsMatch,
    normalise_name,
    parse_consolidated_list,
    screen,
)

TEST_LIST = Path(__file__).resolve().parent / "data" / "sanctions_test.xml"

Organisation = tuple[str, str, Sequence[str]]


@pytest.fixture(scope="module")
def entries() -> tuple[SanctionsEntry, ...]:
    return parse_consolidated_list(TEST_LIST)


def by_reference(entries: Sequence[SanctionsEntry]) -> dict[str, SanctionsEntry]:
    return {entry.reference: entry for entry in entries}


def pairs(matches: Sequence[SanctionsMatch]) -> set[tuple[str, str]]:
    return {(match.org_id, match.entry_reference) for match in matches}


def rounded(matches: Sequence[SanctionsMatch]) -> list[SanctionsMatch]:
    """The matches with their scores rounded to 9 decimals, for comparisons."""
    return [replace(match, score=round(match.score, 9)) for match in matches]


def xml(individuals: str = "", entities: str = "") -> bytes:
    return (
        f"<CONSOLIDATED_LIST><INDIVIDUALS>{individuals}</INDIVIDUALS>"
        f"<ENTITIES>{entities}</ENTITIES></CONSOLIDATED_LIST>"
    ).encode()


def entity(reference: str = "TSe.100", name: str = "Example Entity", extra: str = "") -> str:
    return (
        f"<ENTITY><DATAID>1</DATAID><FIRST_NAME>{name}</FIRST_NAME>"
        f"<UN_LIST_TYPE>Test</UN_LIST_TYPE><REFERENCE_NUMBER>{reference}</REFERENCE_NUMBER>"
        f"{extra}</ENTITY>"
    )


# --------------------------------------------------------------------------- parsing


def test_the_test_list_parses_into_its_three_individuals_then_its_six_entities(
    entries: tuple[SanctionsEntry, ...],
) -> None:
    assert [(entry.reference, entry.kind) for entry in entries] == [
        ("TSi.001", "individual"),
        ("TSi.002", "individual"),
        ("TSi.003", "individual"),
        ("TSe.001", "entity"),
        ("TSe.002", "entity"),
        ("TSe.003", "entity"),
        ("TSe.004", "entity"),
        ("TSe.005", "entity"),
        ("TSe.006", "entity"),
    ]


def test_an_individuals_name_joins_first_to_fourth_name(
    entries: tuple[SanctionsEntry, ...],
) -> None:
    named = by_reference(entries)
    assert named["TSi.001"].name == "IVO RAVENSWORTH KETTLEBY"
    assert named["TSi.002"].name == "MARGUERITE ANAÏS ODUYA FENWHISTLE"
    assert named["TSi.003"].name == "TOBIAH QUILLFEATHER"
    assert named["TSe.003"].name == "SOCIÉTÉ GÉNÉRALE DES MINES DU ZÉPHYR S.A.R.L."


def test_aliases_skip_empty_names_keep_each_name_once_and_set_low_quality_apart(
    entries: tuple[SanctionsEntry, ...],
) -> None:
    named = by_reference(entries)
    assert named["TSi.001"].aliases == ("Ivo Kettleby",)
    assert named["TSi.001"].low_quality_aliases == ("The Grey Kestrel",)
    assert named["TSi.002"].aliases == ("Margo Fenwhistle", "Marguerite Fenwhistle-Oduya")
    assert named["TSi.003"].aliases == ()
    assert named["TSe.001"].aliases == ("Nordvind Arms Trading", "Northwind Munitions Export Ltd.")
    assert named["TSe.002"].aliases == ()
    assert named["TSe.002"].low_quality_aliases == ()
    assert named["TSi.001"].names() == ("IVO RAVENSWORTH KETTLEBY", "Ivo Kettleby")
    assert named["TSi.001"].names(include_low_quality=True)[-1] == "The Grey Kestrel"


def test_dates_and_list_types_are_read(entries: tuple[SanctionsEntry, ...]) -> None:
    named = by_reference(entries)
    assert named["TSi.001"].listed_on == dt.date(2019, 3, 14)
    assert named["TSe.005"].listed_on == dt.date(2023, 2, 28)
    assert named["TSi.003"].listed_on is None
    assert named["TSi.002"].list_type == "Fictional Regime B"
    assert named["TSe.001"].list_type == "Fictional Regime A"


def test_a_path_a_string_path_and_bytes_give_the_same_entries(
    entries: tuple[SanctionsEntry, ...],
) -> None:
    assert parse_consolidated_list(str(TEST_LIST)) == entries
    assert parse_consolidated_list(TEST_LIST.read_bytes()) == entries


def test_an_entity_without_listed_on_or_list_type_is_accepted() -> None:
    (parsed,) = parse_consolidated_list(
        b"<CONSOLIDATED_LIST><INDIVIDUALS/><ENTITIES><ENTITY>"
        b"<FIRST_NAME>Example</FIRST_NAME><REFERENCE_NUMBER>TSe.1</REFERENCE_NUMBER>"
        b"</ENTITY></ENTITIES></CONSOLIDATED_LIST>"
    )
    assert parsed == SanctionsEntry("TSe.1", "entity", "Example")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is not well-formed XML: no element found: line 1, column 0"),
        (b"reference,name\nTSe.1,Example\n", "is not well-formed XML: syntax error: line 1"),
        (b"%PDF-1.7\n\xff\xfe\x00binary", "is not well-formed XML"),
        (
            xml(entities=entity())[: -len("</ENTITIES></CONSOLIDATED_LIST>")],
            "is not well-formed XML: no element found",
        ),
        (b"<sdnList><sdnEntry/></sdnList>", "root element is 'sdnList', expected"),
        (b"<CONSOLIDATED_LIST><ENTITIES/></CONSOLIDATED_LIST>", "no INDIVIDUALS element"),
        (b"<CONSOLIDATED_LIST><INDIVIDUALS/></CONSOLIDATED_LIST>", "no ENTITIES element"),
        (
            xml(entities=entity(reference="")),
            "ENTITY 1 (DATAID '1'): REFERENCE_NUMBER is missing or empty",
        ),
        (
            xml(entities=entity(name="  ")),
            "ENTITY 1 (DATAID '1'): FIRST_NAME is missing or empty",
        ),
        (
            xml(
                individuals="<INDIVIDUAL><DATAID>7</DATAID><FIRST_NAME/>"
                "<REFERENCE_NUMBER>TSi.7</REFERENCE_NUMBER></INDIVIDUAL>"
            ),
            "INDIVIDUAL 1 (DATAID '7'): FIRST_NAME to FOURTH_NAME are all missing or empty",
        ),
        (
            xml(entities=entity(extra="<LISTED_ON>14/03/2019</LISTED_ON>")),
            "ENTITY 1 (DATAID '1'): LISTED_ON '14/03/2019' is not a YYYY-MM-DD date",
        ),
        (
            xml(entities=entity("TSe.1") + entity("TSe.2") + entity("TSe.1")),
            "ENTITY 3 (DATAID '1') repeats REFERENCE_NUMBER 'TSe.1' of ENTITY 1 (DATAID '1')",
        ),
    ],
    ids=[
        "empty",
        "csv",
        "binary",
        "truncated",
        "wrong-root",
        "no-individuals",
        "no-entities",
        "no-reference",
        "no-entity-name",
        "no-individual-name",
        "bad-date",
        "duplicate-reference",
    ],
)
def test_a_malformed_list_raises_an_error_naming_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(SanctionsListError, match="^Sanctions list <bytes>") as caught:
        parse_consolidated_list(data)
    assert message in str(caught.value)
    assert isinstance(caught.value, PartnerMatchError)


def test_a_missing_file_raises_an_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "consolidated.xml"
    with pytest.raises(SanctionsListError, match="consolidated.xml' cannot be read"):
        parse_consolidated_list(missing)


def test_a_non_xml_file_raises_an_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "consolidated.xml"
    path.write_text("<html><body>Service unavailable</body>", encoding="utf-8")
    with pytest.raises(SanctionsListError) as caught:
        parse_consolidated_list(path)
    assert str(caught.value).startswith(f"Sanctions list {str(path)!r} is not well-formed XML")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE CONSOLIDATED_LIST [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<CONSOLIDATED_LIST><INDIVIDUALS/><ENTITIES><ENTITY>
<FIRST_NAME>&lol9;</FIRST_NAME><REFERENCE_NUMBER>TSe.1</REFERENCE_NUMBER>
</ENTITY></ENTITIES></CONSOLIDATED_LIST>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE CONSOLIDATED_LIST [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<CONSOLIDATED_LIST><INDIVIDUALS/><ENTITIES><ENTITY>
<FIRST_NAME>&secret;</FIRST_NAME><REFERENCE_NUMBER>TSe.1</REFERENCE_NUMBER>
</ENTITY></ENTITIES></CONSOLIDATED_LIST>
"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["bomb", "external"])
def test_a_list_declaring_entities_is_refused_without_expanding_them(data: bytes) -> None:
    start = time.perf_counter()
    with pytest.raises(SanctionsListError, match="refused: it declares a DTD") as caught:
        parse_consolidated_list(data)
    assert time.perf_counter() - start < 1.0
    assert "lol" * 100 not in str(caught.value)
    assert "root:" not in str(caught.value)


def test_an_entry_validates_its_kind_reference_and_name() -> None:
    with pytest.raises(ValidationError, match="kind 'person' is neither") as caught:
        SanctionsEntry("TSi.1", "person", "Someone")  # type: ignore[arg-type]
    assert caught.value.field == "kind"
    with pytest.raises(ValidationError, match="reference '' must not be empty"):
        SanctionsEntry("", "entity", "Something")
    with pytest.raises(ValidationError, match="'TSe.1': name must not be empty"):
        SanctionsEntry("TSe.1", "entity", " ")


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("Northwind Arms Trading", "northwind arms trading"),
        ("  NORTHWIND   ARMS\tTRADING  ", "northwind arms trading"),
        ("Société Générale", "societe generale"),
        ("Müller-Lüdenscheidt AG", "muller ludenscheidt"),
        ("Straße GmbH & Co. KG", "strasse"),
        ("Ørsted Łódź Æther Œuvre", "orsted lodz aether oeuvre"),
        ("İstanbul Trading", "istanbul trading"),
        ("Ｆｕｌｌｗｉｄｔｈ Ltd", "fullwidth"),
        ("Blackfen & Marsh", "blackfen and marsh"),
        ("Blackfen&Marsh", "blackfen and marsh"),
        ("People's Bank", "peoples bank"),
        ("People’s Bank", "peoples bank"),
        ("Co-op Bank", "coop bank"),
        ("Acme, Inc.", "acme"),
        ("Acme Incorporated", "acme"),
        ("Acme Corp.", "acme"),
        ("Acme Corporation", "acme"),
        ("Acme Co., Ltd.", "acme"),
        ("Acme Company Limited", "acme"),
        ("Acme LLC", "acme"),
        ("Acme L.L.C.", "acme"),
        ("Acme PLC", "acme"),
        ("Acme LLP", "acme"),
        ("Acme S.A.", "acme"),
        ("Acme S. A.", "acme"),
        ("Acme SA", "acme"),
        ("Acme S.A.S.", "acme"),
        ("Acme SARL", "acme"),
        ("Acme S.à r.l.", "acme"),
        ("Acme S.A. de C.V.", "acme"),
        ("Acme S. de R.L.", "acme"),
        ("Acme S.p.A.", "acme"),
        ("Acme SpA", "acme"),
        ("Acme S.r.l.", "acme"),
        ("Acme B.V.", "acme"),
        ("Acme N.V.", "acme"),
        ("Acme Sp. z o.o.", "acme"),
        ("Acme Sdn. Bhd.", "acme"),
        ("Acme (Pty) Ltd", "acme"),
        ("OOO Acme", "acme"),
        ("ZAO Acme", "acme"),
        ("OAO Acme", "acme"),
        ("PJSC Acme", "acme"),
        ("JSC Acme", "acme"),
        ("The Acme Trust", "acme trust"),
        ("Trust of the Acme", "trust of the acme"),
        ("U.S.A. Trading", "usa trading"),
        ("J. R. Smith Ltd", "jr smith"),
        ("E.ON", "e on"),
        ("Xi'an Trading", "xian trading"),
        ("Acme_Trading (Holdings)", "acme trading holdings"),
        ("Agency for Development", "agency for development"),
        ("Corporate Companions", "corporate companions"),
        ("Ltd", "ltd"),
        ("Limited Co.", "limited co"),
        ("The", "the"),
        ("...", ""),
        ("", ""),
    ],
)
def test_normalise_name(name: str, normalised: str) -> None:
    assert normalise_name(name) == normalised


# --------------------------------------------------------------------------- matching

NEAR_MISSES: list[Organisation] = [
    ("n01", "Northwind-Arms Trading Co., Ltd.", ()),  # punctuation, legal forms
    ("n02", "Trading Northwind Arms", ()),  # transposed words
    ("n03", "Nortwind Arms Trading Company", ()),  # a missing letter
    ("n04", "NORDVIND ARMS TRADING LLC", ()),  # the entry's a.k.a.
    ("n05", "Northwind Munitions Export", ()),  # the entry's f.k.a.
    ("n06", "Societe Generale des Mines du Zephyr", ()),  # accents, S.A.R.L.
    ("n07", "S.G.M.Z.", ()),  # a short alias, equal once normalised
    ("n08", "Blackfen and Marsh Holdings", ()),  # "and" for "&"
    ("n09", "Blackfen Marsh Holdings", ()),  # "&" left out
    ("n10", "VEXA Ltd.", ()),  # a short name, equal once normalised
    ("n11", "Crimson Harbor Shipping Agency", ()),  # a letter left out
    ("n12", "Kettleby Ravensworth Ivo GmbH", ()),  # a company named after a listed person
    ("n13", "RK Consulting", ("Ivo Kettleby Ltd",)),  # an alias against an alias
    ("n14", "Fenwhistle, Margo", ()),  # an individual's alias
    ("n15", "Quillfeather Tobiah", ()),  # an individual of two names
]
DECOYS: list[Organisation] = [
    ("d01", "Global Health Trust", ()),  # one word in common
    ("d02", "Global Trading", ()),  # two of the entry's three words
    ("d03", "Vera", ()),  # short: one letter changed
    ("d04", "Vexas Ltd", ()),  # short: one letter added
    ("d05", "Northwind Foundation", ()),
    ("d06", "Marsh Holdings", ()),
    ("d07", "Grey Kestrel", ()),  # a low-quality alias only
    ("d08", "Harbour Trading Agency", ()),
    ("d09", "Mines du Soleil", ()),
    ("d10", "Ivo", ()),
    ("d11", "Ltd", ()),
    ("d12", "Global Trading Partners", ()),
    ("d13", "Northwind Arms Foundation", ("Blackfen Health",)),
]
NORTHWIND = "NORTHWIND ARMS TRADING COMPANY"
BLACKFEN = "BLACKFEN & MARSH HOLDINGS LTD"
KETTLEBY = "IVO RAVENSWORTH KETTLEBY"
EXPECTED = [
    SanctionsMatch("n01", "Northwind-Arms Trading Co., Ltd.", "TSe.001", NORTHWIND, 100, "entity"),
    SanctionsMatch("n02", "Trading Northwind Arms", "TSe.001", NORTHWIND, 100, "entity"),
    SanctionsMatch(
        "n03", "Nortwind Arms Trading Company", "TSe.001", NORTHWIND, 100 * 42 / 43, "entity"
    ),
    SanctionsMatch(
        "n04", "NORDVIND ARMS TRADING LLC", "TSe.001", "Nordvind Arms Trading", 100, "entity"
    ),
    SanctionsMatch(
        "n05",
        "Northwind Munitions Export",
        "TSe.001",
        "Northwind Munitions Export Ltd.",
        100,
        "entity",
    ),
    SanctionsMatch(
        "n06",
        "Societe Generale des Mines du Zephyr",
        "TSe.003",
        "SOCIÉTÉ GÉNÉRALE DES MINES DU ZÉPHYR S.A.R.L.",
        100,
        "entity",
    ),
    SanctionsMatch("n07", "S.G.M.Z.", "TSe.003", "SGMZ", 100, "entity"),
    SanctionsMatch("n08", "Blackfen and Marsh Holdings", "TSe.004", BLACKFEN, 100, "entity"),
    SanctionsMatch("n09", "Blackfen Marsh Holdings", "TSe.004", BLACKFEN, 92, "entity"),
    SanctionsMatch("n10", "VEXA Ltd.", "TSe.005", "VEXA", 100, "entity"),
    SanctionsMatch(
        "n11",
        "Crimson Harbor Shipping Agency",
        "TSe.002",
        "CRIMSON HARBOUR SHIPPING AGENCY",
        100 * 60 / 61,
        "entity",
    ),
    SanctionsMatch("n12", "Kettleby Ravensworth Ivo GmbH", "TSi.001", KETTLEBY, 100, "individual"),
    SanctionsMatch("n13", "Ivo Kettleby Ltd", "TSi.001", "Ivo Kettleby", 100, "individual"),
    SanctionsMatch("n14", "Fenwhistle, Margo", "TSi.002", "Margo Fenwhistle", 100, "individual"),
    SanctionsMatch(
        "n15", "Quillfeather Tobiah", "TSi.003", "TOBIAH QUILLFEATHER", 100, "individual"
    ),
]
EXPECTED_PAIRS = {
    ("n01", "TSe.001"),
    ("n02", "TSe.001"),
    ("n03", "TSe.001"),
    ("n04", "TSe.001"),
    ("n05", "TSe.001"),
    ("n06", "TSe.003"),
    ("n07", "TSe.003"),
    ("n08", "TSe.004"),
    ("n09", "TSe.004"),
    ("n10", "TSe.005"),
    ("n11", "TSe.002"),
    ("n12", "TSi.001"),
    ("n13", "TSi.001"),
    ("n14", "TSi.002"),
    ("n15", "TSi.003"),
}


def test_each_near_miss_matches_its_entry_and_no_decoy_matches(
    entries: tuple[SanctionsEntry, ...],
) -> None:
    matches = screen(NEAR_MISSES + DECOYS, entries)
    assert pairs(matches) == EXPECTED_PAIRS
    assert rounded(matches) == rounded(EXPECTED)


def test_no_decoy_matches_even_alone(entries: tuple[SanctionsEntry, ...]) -> None:
    assert screen(DECOYS, entries) == []


def test_a_low_quality_alias_is_used_only_when_asked_for(
    entries: tuple[SanctionsEntry, ...],
) -> None:
    decoy = [("d07", "Grey Kestrel", ())]
    assert screen(decoy, entries) == []
    assert screen(decoy, entries, include_low_quality=True) == [
        SanctionsMatch("d07", "Grey Kestrel", "TSi.001", "The Grey Kestrel", 100.0, "individual")
    ]


def test_a_lower_threshold_admits_more_and_a_higher_one_fewer(
    entries: tuple[SanctionsEntry, ...],
) -> None:
    organisations = [
        ("a", "Nortwind Arms Trading Company", ()),  # 97.67
        ("b", "Blackfen Marsh Holdings", ()),  # 92
        ("c", "Crimson Harbour Shipping", ()),  # 87.27: a word left out
        ("d", "Northwind Arms Trading", ()),  # 100
    ]
    assert pairs(screen(organisations, entries, threshold=100)) == {("d", "TSe.001")}
    assert pairs(screen(organisations, entries, threshold=97.7)) == {("d", "TSe.001")}
    assert pairs(screen(organisations, entries, threshold=97.6)) == {
        ("a", "TSe.001"),
        ("d", "TSe.001"),
    }
    assert pairs(screen(organisations, entries, threshold=92)) == {
        ("a", "TSe.001"),
        ("b", "TSe.004"),
        ("d", "TSe.001"),
    }
    assert pairs(screen(organisations, entries)) == pairs(
        screen(organisations, entries, threshold=92)
    )
    assert pairs(screen(organisations, entries, threshold=85)) == {
        ("a", "TSe.001"),
        ("b", "TSe.004"),
        ("c", "TSe.002"),
        ("d", "TSe.001"),
    }


def test_short_names_match_only_when_equal_unless_the_guard_is_lowered(
    entries: tuple[SanctionsEntry, ...],
) -> None:
    organisations = [("a", "Vexas", ()), ("b", "Vexa", ())]
    assert pairs(screen(organisations, entries, threshold=85)) == {("b", "TSe.005")}
    assert pairs(screen(organisations, entries, threshold=85, min_fuzzy_length=0)) == {
        ("a", "TSe.005"),
        ("b", "TSe.005"),
    }


@pytest.mark.parametrize("threshold", [0, -1, 100.5, float("nan")])
def test_a_threshold_outside_0_100_is_rejected(
    threshold: float, entries: tuple[SanctionsEntry, ...]
) -> None:
    with pytest.raises(ValidationError, match="threshold must be in") as caught:
        screen([], entries, threshold=threshold)
    assert caught.value.field == "threshold"


def test_a_negative_minimum_length_is_rejected(entries: tuple[SanctionsEntry, ...]) -> None:
    with pytest.raises(ValidationError, match="min_fuzzy_length must not be negative, got -1"):
        screen([], entries, min_fuzzy_length=-1)


def test_an_organisation_given_twice_is_rejected(entries: tuple[SanctionsEntry, ...]) -> None:
    with pytest.raises(DuplicateIdError, match="Organisation 'a' is given twice"):
        screen([("a", "Alpha", ()), ("a", "Beta", ())], entries)


def test_one_match_per_organisation_and_entry_with_the_best_pair_of_names(
    entries: tuple[SanctionsEntry, ...],
) -> None:
    organisations = [
        # The alias scores 100 against the entry's name; the name 97.67.
        ("a", "Nortwind Arms Trading", ("Northwind Arms Trading Co",)),
        # Both names score 100: the first one given wins.
        ("b", "Northwind Arms Trading", ("Trading Northwind Arms",)),
        # Against the entry's name and its a.k.a., both 100: the entry's name wins.
        ("c", "Nordvind Arms Trading", ("Northwind Arms Trading",)),
    ]
    assert screen(organisations, entries) == [
        SanctionsMatch(
            "a", "Northwind Arms Trading Co", "TSe.001", "NORTHWIND ARMS TRADING COMPANY", 100.0,
            "entity",
        ),
        SanctionsMatch(
            "b", "Northwind Arms Trading", "TSe.001", "NORTHWIND ARMS TRADING COMPANY", 100.0,
            "entity",
        ),
        SanctionsMatch(
            "c", "Nordvind Arms Trading", "TSe.001", "Nordvind Arms Trading", 100.0, "entity"
        ),
    ]  # fmt: skip


def test_matches_are_sorted_by_organisation_then_score_descending_then_reference(
    entries: tuple[SanctionsEntry, ...],
) -> None:
    organisations = [
        ("z", "Societe Generale des Mines du Zephyr", ()),
        ("m", "Nortwind Arms Trading", ("Blackfen Marsh Holdings", "Tobiah Quillfeather")),
        ("a", "VEXA", ()),
    ]
    matches = screen(organisations, entries)
    assert [(m.org_id, m.entry_reference, round(m.score, 2)) for m in matches] == [
        ("a", "TSe.005", 100.0),
        ("m", "TSi.003", 100.0),
        ("m", "TSe.001", 97.67),
        ("m", "TSe.004", 92.0),
        ("z", "TSe.003", 100.0),
    ]


def test_screening_is_deterministic_whatever_the_input_order(
    entries: tuple[SanctionsEntry, ...],
) -> None:
    organisations = NEAR_MISSES + DECOYS
    expected = screen(organisations, entries)
    shuffled = random.Random(7)
    for _ in range(5):
        orgs, ents = list(organisations), list(entries)
        shuffled.shuffle(orgs)
        shuffled.shuffle(ents)
        assert screen(iter(orgs), iter(ents)) == expected


def test_every_name_is_compared_across_row_blocks(
    entries: tuple[SanctionsEntry, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("matcher.integrity.sanctions._BLOCK_CELLS", 7)
    assert screen(NEAR_MISSES + DECOYS, entries) == screen(NEAR_MISSES + DECOYS, entries)
    assert pairs(screen(NEAR_MISSES + DECOYS, entries)) == EXPECTED_PAIRS


def test_nothing_to_screen_gives_no_match(entries: tuple[SanctionsEntry, ...]) -> None:
    assert screen([], entries) == []
    assert screen(NEAR_MISSES, []) == []
    assert screen([("a", "...", ("-",))], entries) == []


# --------------------------------------------------------------------------- property

_ACCENTED = {
    "a": "áàâäãå",
    "c": "ç",
    "e": "éèêë",
    "i": "íìîï",
    "n": "ñ",
    "o": "óòôöõø",
    "u": "úùûü",
    "y": "ýÿ",
}
_SUFFIXES = ("", " Ltd", " Ltd.", ", Inc.", " S.A.", " SARL", " GmbH", " & Co. KG", " LLC", " PJSC")
_PREFIXES = ("", "The ", "OOO ", "ZAO ")
_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10).filter(
    lambda word: word not in LEGAL_FORM_TOKENS | {"the", "and"}
)


@st.composite
def _name_and_variant(draw: st.DrawFn) -> tuple[str, str]:
    words = draw(st.lists(_words, min_size=1, max_size=5))
    name = " ".join(word.capitalize() for word in words)
    letters = []
    for char in name:
        if char.lower() in _ACCENTED and draw(st.booleans()):
            char = draw(st.sampled_from(_ACCENTED[char.lower()]))
        letters.append(char.upper() if draw(st.booleans()) else char.lower())
    variant = draw(st.sampled_from(_PREFIXES)) + "".join(letters)
    return name, variant + draw(st.sampled_from(_SUFFIXES))


@given(_name_and_variant())
def test_a_name_matches_itself_whatever_its_case_accents_and_legal_form(
    name_and_variant: tuple[str, str],
) -> None:
    name, variant = name_and_variant
    entry = SanctionsEntry("TSe.1", "entity", name)
    assert screen([("o", variant, ())], [entry], threshold=100) == [
        SanctionsMatch("o", variant, "TSe.1", name, 100.0, "entity")
    ]
