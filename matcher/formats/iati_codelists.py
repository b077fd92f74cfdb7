"""The IATI codelists the importer reads, and the tables that map IATI codes to ours.

The codelists ship in ``matcher/formats/data/iati_codelists.json`` (a subset of every IATI
codelist in English and French, extracted by ``scripts/extract_iati_codelists.py``;
credit: IATI codelists, CC BY 4.0). Nothing is fetched at run time.

Examples
--------
>>> codelists = load_codelists()
>>> codelists.name("Sector", "12250"), codelists.french("Sector", "12250")
('Infectious disease control', 'Lutte contre les maladies infectieuses')
>>> ORGANISATION_KINDS["40"], ORGANISATION_KINDS["15"]
(('multilateral', None), ('other', 'public'))
>>> normalise_role("Funding"), normalise_role("4"), normalise_role("Sponsor")
('1', '4', None)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "ACTIVITY_OUTCOMES",
    "CODELISTS_CREDIT",
    "Codelists",
    "DATE_TYPE_WORDS",
    "GROUP_THEMES",
    "MEMBERSHIP_ROLES",
    "OPEN_LICENCES",
    "ORGANISATION_KINDS",
    "PUBLIC_TYPES",
    "RECIPIENT_COUNTRY_TYPES",
    "UN_IDENTIFIER_PREFIXES",
    "ROLE_PRECEDENCE",
    "SECTOR_VOCABULARY_WORDS",
    "TRANSACTION_TYPE_WORDS",
    "load_codelists",
    "normalise_role",
]

CODELISTS_FILE = Path(__file__).resolve().parent / "data" / "iati_codelists.json"
CODELISTS_CREDIT = "IATI codelists, CC BY 4.0"

#: OrganisationType code -> (our kind, our sector or ``None`` for the kind's default).
#: 15 "Other Public Sector" and 30 "Public Private Partnership" name no kind of ours: they
#: become ``other`` with the sector the code states.
ORGANISATION_KINDS: Mapping[str, tuple[str, str | None]] = MappingProxyType(
    {
        "10": ("government", None),
        "11": ("local_authority", None),
        "15": ("other", "public"),
        "21": ("ngo", None),
        "22": ("ngo", None),
        "23": ("ngo", None),
        "24": ("ngo", None),
        "30": ("other", "private"),
        "40": ("multilateral", None),
        "60": ("foundation", None),
        "70": ("company", None),
        "71": ("company", None),
        "72": ("company", None),
        "73": ("company", None),
        "80": ("academic", None),
        "90": ("other", None),
    }
)
#: OrganisationType codes whose codelist description places the organisation in the aid
#: recipient country (24 "based in aid/assistance recipient country", 72 "is in aid recipient
#: country"): such an organisation takes the activity's country when it has only one.
RECIPIENT_COUNTRY_TYPES = frozenset({"24", "72"})
#: OrganisationType codes of public bodies (government, local government, other public
#: sector): without an identifier, one implementing a one-country activity is of that country.
PUBLIC_TYPES = frozenset({"10", "11", "15"})
#: Identifier prefixes of UN bodies: DAC channel codes 41xxx ("United Nations agency, fund
#: or commission") and OCHA's own registration agency. A multilateral with one is a UN entity.
UN_IDENTIFIER_PREFIXES = ("XM-DAC-41", "XM-OCHA-")

#: OrganisationRole code -> membership role. 2 Accountable ("responsible for oversight of
#: the activity and its outcomes") is the partnership's ``lead``; 3 Extending ("manages the
#: budget and direction ... on behalf of the funder") is its ``convener``.
MEMBERSHIP_ROLES: Mapping[str, str] = MappingProxyType(
    {"1": "funder", "2": "lead", "3": "convener", "4": "implementer"}
)
#: One membership per organisation and activity: the first of its roles in this order.
ROLE_PRECEDENCE = ("lead", "convener", "funder", "implementer")
_ROLE_WORDS = {"funding": "1", "accountable": "2", "extending": "3", "implementing": "4"}

#: IATI 1.0x words -> 2.0x codes (IATI 2.01 upgrade notes).
DATE_TYPE_WORDS: Mapping[str, str] = MappingProxyType(
    {"start-planned": "1", "start-actual": "2", "end-planned": "3", "end-actual": "4"}
)
TRANSACTION_TYPE_WORDS: Mapping[str, str] = MappingProxyType(
    {"IF": "1", "C": "2", "D": "3", "E": "4", "IR": "5", "LR": "6", "R": "7", "QP": "8"}
)
#: 1.0x sector vocabularies: ``DAC`` is the 5-digit purpose code (2.0x vocabulary 1),
#: ``DAC-3`` the 3-digit category (2), ``RO``/``RO2`` the reporting organisation's (99/98).
SECTOR_VOCABULARY_WORDS: Mapping[str, str] = MappingProxyType(
    {"DAC": "1", "DAC-3": "2", "RO": "99", "RO2": "98"}
)

#: ActivityStatus -> outcome: pipeline and implementation are ``active``, finalisation and
#: closed ``completed``, cancelled ``abandoned``; suspended says nothing of the end: ``unknown``.
ACTIVITY_OUTCOMES: Mapping[str, str] = MappingProxyType(
    {
        "1": "active",
        "2": "active",
        "3": "completed",
        "4": "completed",
        "5": "abandoned",
        "6": "unknown",
    }
)

#: DAC sector groups (3-digit codes ending in 0) -> the built-in theme they fall under and
#: the SDG goals of that theme, where one clearly does; the others have no parent.
GROUP_THEMES: Mapping[str, tuple[str, tuple[int, ...]]] = MappingProxyType(
    {
        "110": ("education", (4,)),
        "120": ("health", (3,)),
        "130": ("population_women", (3, 5)),
        "140": ("sdg6", (6,)),
        "150": ("sdg16", (16,)),
        "220": ("ict", (9,)),
        "230": ("sdg7", (7,)),
        "310": ("sdg2", (2,)),
        "410": ("environment", (13, 14, 15)),
        "520": ("sdg2", (2,)),
        "600": ("financing_for_development", (17,)),
        "930": ("refugees", (10, 16)),
    }
)

#: Registry ``license_id`` values that are open (Open Definition conformant in the
#: CKAN licence list the IATI Registry uses). ``other-at`` ("Other (Attribution)"),
#: ``notspecified``, ``cc-nc`` and an empty licence are not.
OPEN_LICENCES = frozenset(
    {
        "cc-by",
        "cc-by-sa",
        "cc-zero",
        "odc-by",
        "odc-odbl",
        "odc-pddl",
        "other-open",
        "other-pd",
        "uk-ogl",
    }
)


def normalise_role(value: str | None) -> str | None:
    """An OrganisationRole code from a 2.0x code or a 1.0x word; ``None`` if neither."""
    if value is None:
        return None
    text = value.strip()
    if text in MEMBERSHIP_ROLES:
        return text
    return _ROLE_WORDS.get(text.casefold())


@dataclass(frozen=True, slots=True)
class Codelists:
    """English names, French names and English descriptions of the IATI codelists."""

    english: Mapping[str, Mapping[str, str]]
    french_names: Mapping[str, Mapping[str, str]]
    descriptions: Mapping[str, Mapping[str, str]]

    def has(self, codelist: str, code: str) -> bool:
        """Whether ``code`` is in ``codelist``."""
        return code in self.english.get(codelist, {})

    def name(self, codelist: str, code: str) -> str:
        """The English name of ``code`` (empty if unknown)."""
        return self.english.get(codelist, {}).get(code, "")

    def french(self, codelist: str, code: str) -> str:
        """The French name of ``code`` (empty if the codelist has none)."""
        return self.french_names.get(codelist, {}).get(code, "")

    def description(self, codelist: str, code: str) -> str:
        """The English description of ``code`` (empty if none is shipped)."""
        return self.descriptions.get(codelist, {}).get(code, "")

    def codes(self, codelist: str) -> Mapping[str, str]:
        """Every code of ``codelist`` with its English name."""
        return self.english.get(codelist, {})


@cache
def load_codelists(path: Path = CODELISTS_FILE) -> Codelists:
    """The shipped codelists (read once)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return Codelists(
        english=data["en-name"], french_names=data["fr-name"], descriptions=data["en-description"]
    )
