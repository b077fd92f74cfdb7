"""Country names, demonyms and regions in English and French, to ISO 3166-1 alpha-2 codes.

Names come from pycountry (ISO 3166-1 names, common and official names) and its French
translations (the gettext catalogue ``iso3166-1`` that ships in the package); demonyms
(*Indian*, *indien·ne·s*) and regions (*West Africa*, *Afrique de l'Ouest*, *Sahel*) from the
tables below, a region standing for the countries of its UN M49 region or sub-region.

Examples
--------
>>> from matcher.formats.taxonomy_io import load_taxonomies
>>> names = CountryNames(load_taxonomies().countries)
>>> [(m.codes, m.phrase, m.kind) for m in names.find("Des écoles en Inde et au Sénégal.")]
[(('IN',), 'Inde', 'name'), (('SN',), 'Sénégal', 'name')]
>>> [(m.codes, m.kind) for m in names.find("Brazilian farmers")]
[(('BR',), 'demonym')]
"""

from __future__ import annotations

import functools
import gettext
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pycountry

from matcher.domain.countries import CountryTable, normalise_country
from matcher.domain.exceptions import ValidationError

__all__ = ["DEMONYMS", "REGIONS", "CountryMention", "CountryNames", "fold"]

#: Demonyms, English and French (masculine singular; French feminine and plural endings are
#: matched too), of the countries development texts name most.
DEMONYMS: Mapping[str, tuple[str, ...]] = {
    "AF": ("Afghan", "afghan"),
    "AO": ("Angolan", "angolais"),
    "AR": ("Argentine", "Argentinian", "argentin"),
    "BD": ("Bangladeshi", "bangladais"),
    "BF": ("Burkinabe", "Burkinabè", "burkinabé"),
    "BI": ("Burundian", "burundais"),
    "BJ": ("Beninese", "béninois"),
    "BO": ("Bolivian", "bolivien"),
    "BR": ("Brazilian", "brésilien"),
    "CA": ("Canadian", "canadien"),
    "CD": ("Congolese", "congolais"),
    "CF": ("Central African", "centrafricain"),
    "CH": ("Swiss", "suisse"),
    "CI": ("Ivorian", "ivoirien"),
    "CL": ("Chilean", "chilien"),
    "CM": ("Cameroonian", "camerounais"),
    "CN": ("Chinese", "chinois"),
    "CO": ("Colombian", "colombien"),
    "DE": ("German", "allemand"),
    "DZ": ("Algerian", "algérien"),
    "EC": ("Ecuadorian", "équatorien"),
    "EG": ("Egyptian", "égyptien"),
    "ES": ("Spanish", "espagnol"),
    "ET": ("Ethiopian", "éthiopien"),
    "FR": ("French", "français"),
    "GB": ("British", "britannique"),
    "GH": ("Ghanaian", "ghanéen"),
    "GN": ("Guinean", "guinéen"),
    "GT": ("Guatemalan", "guatémaltèque"),
    "HN": ("Honduran", "hondurien"),
    "HT": ("Haitian", "haïtien"),
    "ID": ("Indonesian", "indonésien"),
    "IN": ("Indian", "indien"),
    "IQ": ("Iraqi", "irakien"),
    "IT": ("Italian", "italien"),
    "JO": ("Jordanian", "jordanien"),
    "JP": ("Japanese", "japonais"),
    "KE": ("Kenyan", "kényan", "kenyan"),
    "KH": ("Cambodian", "cambodgien"),
    "LB": ("Lebanese", "libanais"),
    "LK": ("Sri Lankan", "sri-lankais"),
    "LR": ("Liberian", "libérien"),
    "MA": ("Moroccan", "marocain"),
    "MG": ("Malagasy", "malgache"),
    "ML": ("Malian", "malien"),
    "MM": ("Burmese", "Myanmar", "birman"),
    "MR": ("Mauritanian", "mauritanien"),
    "MW": ("Malawian", "malawite"),
    "MX": ("Mexican", "mexicain"),
    "MZ": ("Mozambican", "mozambicain"),
    "NE": ("Nigerien", "nigérien"),
    "NG": ("Nigerian", "nigérian"),
    "NI": ("Nicaraguan", "nicaraguayen"),
    "NL": ("Dutch", "néerlandais"),
    "NO": ("Norwegian", "norvégien"),
    "NP": ("Nepalese", "Nepali", "népalais"),
    "PE": ("Peruvian", "péruvien"),
    "PH": ("Filipino", "Philippine", "philippin"),
    "PK": ("Pakistani", "pakistanais"),
    "RW": ("Rwandan", "rwandais"),
    "SD": ("Sudanese", "soudanais"),
    "SE": ("Swedish", "suédois"),
    "SL": ("Sierra Leonean", "sierra-léonais"),
    "SN": ("Senegalese", "sénégalais"),
    "SO": ("Somali", "somalien"),
    "SS": ("South Sudanese", "sud-soudanais"),
    "SY": ("Syrian", "syrien"),
    "TD": ("Chadian", "tchadien"),
    "TG": ("Togolese", "togolais"),
    "TH": ("Thai", "thaïlandais"),
    "TN": ("Tunisian", "tunisien"),
    "TR": ("Turkish", "turc"),
    "TZ": ("Tanzanian", "tanzanien"),
    "UG": ("Ugandan", "ougandais"),
    "UA": ("Ukrainian", "ukrainien"),
    "US": ("American", "américain"),
    "VE": ("Venezuelan", "vénézuélien"),
    "VN": ("Vietnamese", "vietnamien"),
    "YE": ("Yemeni", "yéménite"),
    "ZA": ("South African", "sud-africain"),
    "ZM": ("Zambian", "zambien"),
    "ZW": ("Zimbabwean", "zimbabwéen"),
}

#: Regions, English and French names -> (M49 region, M49 sub-regions or ``()`` for all of
#: it, sub-regions left out, explicit codes). Explicit codes alone where M49 has no such group.
REGIONS: Mapping[tuple[str, ...], tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    ("Africa", "Afrique"): ("Africa", (), (), ()),
    ("Sub-Saharan Africa", "Afrique subsaharienne", "Afrique sub-saharienne"): (
        "Africa",
        (),
        ("Northern Africa",),
        (),
    ),
    ("West Africa", "Western Africa", "Afrique de l'Ouest", "Afrique occidentale"): (
        "Africa",
        ("Western Africa",),
        (),
        (),
    ),
    ("East Africa", "Eastern Africa", "Afrique de l'Est", "Afrique orientale"): (
        "Africa",
        ("Eastern Africa",),
        (),
        (),
    ),
    ("Central Africa", "Afrique centrale"): ("Africa", ("Middle Africa",), (), ()),
    ("North Africa", "Northern Africa", "Afrique du Nord"): (
        "Africa",
        ("Northern Africa",),
        (),
        (),
    ),
    ("Southern Africa", "Afrique australe"): ("Africa", ("Southern Africa",), (), ()),
    ("Sahel",): ("", (), (), ("BF", "ML", "MR", "NE", "TD", "SN", "GM")),
    ("Asia", "Asie"): ("Asia", (), (), ()),
    ("South Asia", "Southern Asia", "Asie du Sud"): ("Asia", ("Southern Asia",), (), ()),
    ("Southeast Asia", "South-East Asia", "South-eastern Asia", "Asie du Sud-Est"): (
        "Asia",
        ("South-eastern Asia",),
        (),
        (),
    ),
    ("East Asia", "Eastern Asia", "Asie de l'Est", "Asie orientale"): (
        "Asia",
        ("Eastern Asia",),
        (),
        (),
    ),
    ("Central Asia", "Asie centrale"): ("Asia", ("Central Asia",), (), ()),
    ("Middle East", "Moyen-Orient", "Proche-Orient"): ("Asia", ("Western Asia",), (), ()),
    ("Latin America", "Amérique latine"): ("Americas", (), ("Northern America",), ()),
    ("Central America", "Amérique centrale"): ("Americas", ("Central America",), (), ()),
    ("South America", "Amérique du Sud"): ("Americas", ("South America",), (), ()),
    ("Caribbean", "Caraïbes", "Antilles"): ("Americas", ("Caribbean",), (), ()),
    ("Americas", "Amériques"): ("Americas", (), (), ()),
    ("Europe",): ("Europe", (), (), ()),
    ("Eastern Europe", "Europe de l'Est", "Europe orientale"): (
        "Europe",
        ("Eastern Europe",),
        (),
        (),
    ),
    ("Balkans",): ("", (), (), ("AL", "BA", "BG", "HR", "ME", "MK", "RS", "XK")),
    ("Oceania", "Océanie"): ("Oceania", (), (), ()),
    ("Pacific Islands", "Îles du Pacifique"): (
        "Oceania",
        ("Melanesia", "Micronesia", "Polynesia"),
        (),
        (),
    ),
}

_FRENCH_ENDINGS = "(?:e|ne|s|es|nes)?"


def fold(text: str) -> str:
    """Lower case without accents, apostrophes unified, for matching.

    >>> fold("Côte d’Ivoire")
    "cote d'ivoire"
    """
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@dataclass(frozen=True, slots=True)
class CountryMention:
    """A place named in a text: the codes it stands for, the words, and how it was named
    (``name``, ``demonym`` or ``region``)."""

    codes: tuple[str, ...]
    phrase: str
    kind: str
    start: int
    end: int


@functools.lru_cache(maxsize=1)
def _french_catalogue() -> gettext.NullTranslations:
    try:
        return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
    except OSError:  # pragma: no cover - the catalogue ships with pycountry
        return gettext.NullTranslations()


def _country_names() -> dict[str, str]:
    """Folded name -> alpha-2, English and French."""
    french = _french_catalogue()
    names: dict[str, str] = {}
    for country in pycountry.countries:
        code = str(country.alpha_2)
        for attribute in ("name", "common_name", "official_name"):
            name = getattr(country, attribute, None)
            if not name:
                continue
            for variant in (name, french.gettext(name)):
                names.setdefault(fold(variant), code)
                if ", " in variant:  # "Korea, Republic of" -> "Republic of Korea"
                    head, tail = variant.split(", ", 1)
                    names.setdefault(fold(f"{tail} {head}"), code)
    names.update({"kosovo": "XK", "russia": "RU", "russie": "RU", "syrie": "SY"})
    names.update({"laos": "LA", "iran": "IR", "vietnam": "VN", "tanzanie": "TZ"})
    names.update({"republique democratique du congo": "CD", "rdc": "CD", "drc": "CD"})
    names.update({"bolivie": "BO", "moldavie": "MD", "macedoine du nord": "MK"})
    return names


class CountryNames:
    """Finds the places a text names (see the module docstring).

    Parameters
    ----------
    countries : CountryTable
        The M49 regions and sub-regions that regions stand for.
    """

    def __init__(self, countries: CountryTable) -> None:
        self._entries: list[tuple[re.Pattern[str], tuple[str, ...], str, bool]] = []
        names = _country_names()
        #: whole phrases (folded) -> codes, for :meth:`lookup`
        self._exact: dict[str, tuple[str, ...]] = {name: (code,) for name, code in names.items()}
        by_length = sorted(names, key=len, reverse=True)
        for name in by_length:
            self._entries.append((_pattern(name, ""), (names[name],), "name", True))
        for code, demonyms in DEMONYMS.items():
            for demonym in demonyms:
                ending = _FRENCH_ENDINGS if demonym[:1].islower() else "s?"
                self._entries.append((_pattern(fold(demonym), ending), (code,), "demonym", False))
                self._exact.setdefault(fold(demonym), (code,))
        for aliases, (region, subs, left_out, explicit) in REGIONS.items():
            codes = explicit or tuple(
                sorted(
                    code
                    for code, info in countries.items()
                    if info.region == region
                    and (not subs or info.sub_region in subs)
                    and info.sub_region not in left_out
                )
            )
            for alias in aliases:
                self._entries.append((_pattern(fold(alias), ""), codes, "region", True))
                self._exact.setdefault(fold(alias), codes)

    def lookup(self, phrase: str) -> tuple[str, ...]:
        """The codes one whole phrase stands for, in any letter case: an ISO code, a
        country's name, a demonym or a region; ``()`` when it names none.

        >>> from matcher.formats.taxonomy_io import load_taxonomies
        >>> names = CountryNames(load_taxonomies().countries)
        >>> names.lookup("br"), names.lookup("Brésil"), names.lookup("angolan"), names.lookup("x")
        (('BR',), ('BR',), ('AO',), ())
        >>> len(names.lookup("West Africa"))
        17
        """
        folded = " ".join(fold(phrase).split())
        if re.fullmatch(r"[a-z]{2,3}", folded):
            try:
                return (normalise_country(folded.upper(), field=None),)
            except ValidationError:
                pass
        return self._exact.get(folded, ())

    def find(self, text: str) -> list[CountryMention]:
        """The places ``text`` names, in order; a longer phrase wins over one inside it
        ("South Africa" over "Africa"). Names and regions must start with a capital letter
        (they are proper nouns in both languages); demonyms may not (French ones are
        adjectives)."""
        folded = fold(text)
        if len(folded) != len(text):  # a character that decomposes into several
            folded = "".join(fold(c)[:1] or " " for c in text)
        found: list[CountryMention] = []
        taken = [False] * len(text)
        candidates = []
        for pattern, codes, kind, capital in self._entries:
            for match in pattern.finditer(folded):
                start, end = match.span()
                if capital and not text[start].isupper():
                    continue
                candidates.append((start, end, codes, kind))
        candidates.sort(key=lambda c: (-(c[1] - c[0]), c[0]))
        for start, end, codes, kind in candidates:
            if any(taken[start:end]):
                continue
            taken[start:end] = [True] * (end - start)
            found.append(CountryMention(codes, text[start:end], kind, start, end))
        return sorted(found, key=lambda m: m.start)


def _pattern(folded: str, ending: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in folded.split()]
    return re.compile(r"(?<![\w-])" + r"\s+".join(words) + ending + r"(?![\w-])")


def codes_of(mentions: Iterable[CountryMention]) -> list[str]:
    """Distinct codes of ``mentions``, in the order they are named."""
    return list(dict.fromkeys(code for m in mentions for code in m.codes))
