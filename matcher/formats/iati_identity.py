"""Who is who in IATI: one organisation per real organisation, from refs and names.

The same organisation appears with and without ``@ref``, with placeholder refs ("Not
available", spaces), with a publisher's own codes ("00012" in UNDP's files) and under
different names. :class:`OrganisationResolver` folds the mentions into organisations:

1. A **ref** is cleaned (trimmed); a placeholder ("", "N/A", "Not available", ...) is none.
   It is an **organisation identifier** when it is a Registry publisher's id or has the form
   ``<agency>-<number>`` with an agency of the OrganisationRegistrationAgency codelist
   (``GB-CHC-202918``) or a two-letter country or ``XM``/``XI`` prefix (``GB-1``,
   ``XM-DAC-41122``). Anything else (``00012``, ``GB``) is a local code: not an identity.
2. A mention with an identifier joins the organisation holding it; else the organisation
   found by name (below) if that one has no other identifier; else a new one.
3. A mention without one joins the organisation found by name: its normalised name (case,
   accents, punctuation and a leading "the" ignored), or that name without a trailing
   parenthesis ("United Nations Children's Fund (UNICEF)"), or the acronym in such a
   parenthesis ("UNICEF"); countries must agree when both are known, and a ref-less public
   body implementing (or accountable for) a one-country activity does not join one of
   another country, nor one created by such a mention in another country (``scope``).
4. Every other name becomes an alias. Each merge by name, and each **conflict** (one
   identifier under two very different names, or one name under two identifiers) is
   written to ``merges.csv``.

Names that stand for a category rather than an organisation ("National Execution",
"Recipient Government": the DAC channel categories and a few more) are not organisations.

Examples
--------
>>> resolver = OrganisationResolver(load_codelists())
>>> unicef = "United Nations Children's Fund (UNICEF)"
>>> a = resolver.resolve(Mention("XM-DAC-41122", unicef, "40"), "f.xml", 3)
>>> b = resolver.resolve(Mention(None, "Unicef"), "f.xml", 9)
>>> c = resolver.resolve(Mention("Not available", "United Nations Children's Fund"), "f.xml", 12)
>>> d = resolver.resolve(Mention("xm-dac-41122", "General funds"), "f.xml", 20)
>>> e = resolver.resolve(Mention("GB-CHC-202918", "Oxfam GB"), "f.xml", 31)
>>> (a, b, c, d, e)
(0, 0, 0, 0, 1)
>>> [m.kind for m in resolver.merges]
['acronym', 'name', 'conflict-names']
>>> normalise_name("  The Ministère de l'Économie ")
'ministere de l economie'
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from matcher.domain.countries import normalise_country
from matcher.domain.exceptions import ValidationError
from matcher.domain.model import IDENTIFIER_PATTERN, identifier_key
from matcher.formats.iati_codelists import Codelists, load_codelists  # noqa: F401 (doctests)

__all__ = [
    "GENERIC_NAMES",
    "Mention",
    "MergeNote",
    "OrganisationRecord",
    "OrganisationResolver",
    "PLACEHOLDER_REFS",
    "RegistryPublisher",
    "clean_ref",
    "identifier_country",
    "is_organisation_identifier",
    "normalise_name",
]

#: Refs that stand for no ref at all (compared case-insensitively, after trimming).
PLACEHOLDER_REFS = frozenset(
    {
        "",
        "-",
        "0",
        "n/a",
        "na",
        "n.a.",
        "none",
        "null",
        "nil",
        "unknown",
        "not available",
        "not applicable",
        "not known",
        "tbc",
        "tbd",
        "xx",
        "xxx",
    }
)
#: Names that stand for a kind of party, not for an organisation, beyond the DAC channel
#: categories (CRSChannelCode codes ending in 000, e.g. "Recipient Government").
GENERIC_NAMES = frozenset(
    {
        "national execution",
        "direct execution",
        "name withheld",
        "undetermined",
        "other",
        "others",
        "particulier",
        "private sector",
        "public sector",
        "various",
        "multiple",
        "not available",
        "unknown",
    }
)
#: Names that say the organisation is hidden ("USAID redacted this field ...").
_HIDDEN_NAME = re.compile(r"\b(redacted|withheld|anonymi[sz]ed|confidential)\b")
#: Below this token-set similarity (0-100) two names of one identifier are a conflict.
CONFLICT_SIMILARITY = 50.0
_PREFIXES = ("XM", "XI")
_TRAILING_PARENTHESIS = re.compile(r"^(.*\S)\s*\(([^()]*)\)\s*$")
#: An acronym in a parenthesis: capitals (dots, digits, ``&`` allowed), as in "(UNICEF)".
_ACRONYM = re.compile(r"[A-Z][A-Z0-9.&-]{1,11}")


def clean_ref(raw: str | None) -> str | None:
    """The ref without surrounding spaces; ``None`` for no ref or a placeholder.

    >>> clean_ref("  GB-CHC-202918 "), clean_ref("Not available"), clean_ref("   ")
    ('GB-CHC-202918', None, None)
    """
    if raw is None:
        return None
    text = " ".join(raw.split())
    if text.casefold() in PLACEHOLDER_REFS or not any(ch.isalnum() for ch in text):
        return None
    return text


def is_organisation_identifier(
    ref: str, codelists: Codelists, registry: Iterable[str] | set[str] = frozenset()
) -> bool:
    """Whether ``ref`` (cleaned) is a global organisation identifier, not a local code.

    >>> codes = load_codelists()
    >>> [is_organisation_identifier(r, codes) for r in ("GB-CHC-202918", "XM-DAC-41122",
    ...  "GB-1", "00012", "GB", "has space-1")]
    [True, True, True, False, False, False]
    >>> is_organisation_identifier("DAC-1601", codes, {"dac-1601"})
    True
    """
    if not IDENTIFIER_PATTERN.fullmatch(ref):
        return False
    if identifier_key(ref) in registry:
        return True
    parts = ref.split("-")
    if len(parts) < 2 or not parts[-1]:
        return False
    agencies = codelists.codes("OrganisationRegistrationAgency")
    if any("-".join(parts[:n]).upper() in agencies for n in (2, 1) if len(parts) > n):
        return True
    return parts[0].upper() in _PREFIXES or identifier_country(ref) is not None


def identifier_country(ref: str) -> str | None:
    """The country an identifier's prefix states: ``GB-CHC-1`` -> GB; ``XM-DAC-1`` -> none.

    >>> identifier_country("GB-CHC-202918"), identifier_country("XM-DAC-41122")
    ('GB', None)
    >>> identifier_country("DAC-1601"), identifier_country("00012")
    (None, None)
    """
    prefix, dash, rest = ref.partition("-")
    if not dash or not rest or len(prefix) != 2 or not prefix.isalpha():
        return None
    if prefix.upper() in _PREFIXES:
        return None
    try:
        return normalise_country(prefix.upper())
    except ValidationError:
        return None


def normalise_name(name: str) -> str:
    """Lower case, no accents, punctuation as spaces, no leading "the"."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^a-z0-9]+", " ", ascii_text.casefold()).split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def _acronym(name: str) -> str:
    """``UNICEF`` for ``U.N.I.C.E.F.`` or ``unicef``: letters and digits only, lower case."""
    return re.sub(r"[^a-z0-9]", "", normalise_name(name))


def _name_keys(name: str) -> tuple[list[str], list[str]]:
    """Full-name keys, and acronym keys from a trailing parenthesis."""
    keys = [normalise_name(name)]
    acronyms: list[str] = []
    match = _TRAILING_PARENTHESIS.match(name)
    if match:
        keys.append(normalise_name(match.group(1)))
        inner = match.group(2).strip()
        if _ACRONYM.fullmatch(inner):
            acronyms.append(_acronym(inner))
    return [k for k in keys if k], [a for a in acronyms if len(a) >= 2]


@dataclass(frozen=True, slots=True)
class Mention:
    """One appearance of an organisation: ``participating-org``, ``reporting-org`` or registry.

    ``country`` is what the mention itself states (an identifier prefix, or the activity's
    country for the types the codelist places there). ``scope`` is a country the name is
    only valid in: a ref-less public body implementing a one-country activity ("Ministry of
    Agriculture" in Benin is not the one in Morocco).
    """

    ref: str | None
    name: str
    type: str | None = None
    country: str | None = None
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class RegistryPublisher:
    """An IATI Registry publisher (``publishers.json``)."""

    identifier: str
    name: str
    type: str | None
    country: str | None
    description: str
    licence: str
    registry_name: str


@dataclass
class OrganisationRecord:
    """What the mentions say of one organisation."""

    handle: int
    names: Counter[str] = field(default_factory=Counter)
    identifiers: list[str] = field(default_factory=list)
    types: Counter[str] = field(default_factory=Counter)
    countries: Counter[str] = field(default_factory=Counter)
    registry: RegistryPublisher | None = None
    local_refs: set[str] = field(default_factory=set)
    scopes: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        """The Registry's name, else the most frequent (the first among equals), else the id."""
        if self.registry is not None:
            return self.registry.name
        if not self.names:
            return self.identifiers[0] if self.identifiers else "unnamed"
        return self.names.most_common(1)[0][0]

    @property
    def country(self) -> str | None:
        """The Registry's country, else an identifier's, else the most stated one."""
        if self.registry is not None and self.registry.country:
            return self.registry.country
        for identifier in self.identifiers:
            country = identifier_country(identifier)
            if country:
                return country
        return self.countries.most_common(1)[0][0] if self.countries else None

    @property
    def type(self) -> str | None:
        """The Registry's OrganisationType, else the most frequent one stated."""
        if self.registry is not None and self.registry.type:
            return self.registry.type
        return self.types.most_common(1)[0][0] if self.types else None


@dataclass(frozen=True, slots=True)
class MergeNote:
    """A row of ``merges.csv``: ``kind`` is ``name``, ``acronym``, ``identifier-added``,
    ``conflict-names`` or ``conflict-identifiers``."""

    kind: str
    handle: int
    name: str
    ref: str
    other: str
    file: str
    line: int
    note: str


class OrganisationResolver:
    """Folds mentions into :class:`OrganisationRecord` objects (see the module docstring)."""

    def __init__(self, codelists: Codelists, registry: Iterable[RegistryPublisher] = ()) -> None:
        self.codelists = codelists
        self.records: list[OrganisationRecord] = []
        self.merges: list[MergeNote] = []
        self._by_identifier: dict[str, int] = {}
        self._by_name: dict[str, list[int]] = {}
        self._by_acronym: dict[str, list[int]] = {}
        self._normalised: dict[int, set[str]] = {}
        self._noted_conflicts: set[tuple[int, str]] = set()
        self.passed_over: list[int] = []
        self.generic_names = GENERIC_NAMES | {
            normalise_name(name)
            for code, name in codelists.codes("CRSChannelCode").items()
            if code.endswith("000")
        }
        publishers = list(registry)
        self.registry_ids = {identifier_key(p.identifier) for p in publishers}
        for publisher in publishers:
            mention = Mention(
                publisher.identifier, publisher.name, publisher.type, publisher.country
            )
            handle = self.resolve(mention, "publishers.json", 0)
            if handle is not None and self.records[handle].registry is None:
                self.records[handle].registry = publisher

    def is_generic(self, name: str) -> bool:
        """Whether ``name`` stands for a category of party, or hides one, not an organisation.

        >>> resolver = OrganisationResolver(load_codelists())
        >>> [resolver.is_generic(n) for n in ("Recipient Government", "USAID redacted this "
        ...  "field in accordance with the exceptions", "Oxfam GB")]
        [True, True, False]
        """
        normalised = normalise_name(name)
        return normalised in self.generic_names or bool(_HIDDEN_NAME.search(normalised))

    def identifier_of(self, ref: str | None) -> str | None:
        """``ref`` cleaned if it is an organisation identifier, else ``None``."""
        cleaned = clean_ref(ref)
        if cleaned is None:
            return None
        if is_organisation_identifier(cleaned, self.codelists, self.registry_ids):
            return cleaned
        return None

    def resolve(self, mention: Mention, file: str, line: int) -> int | None:
        """The handle of the organisation ``mention`` is, created if new.

        ``None`` when the mention has neither an identifier nor a usable name.
        """
        identifier = self.identifier_of(mention.ref)
        name = " ".join(mention.name.split())
        if identifier is None and not normalise_name(name):
            return None
        if identifier is not None:
            handle = self._by_identifier.get(identifier_key(identifier))
            if handle is None:
                handle = self._find_by_name(name, mention, allow_identified=False)
                if handle is not None:
                    self._note("identifier-added", handle, name, identifier, "", file, line)
                    self._add_identifier(handle, identifier)
                else:
                    handle = self._new(identifier)
                    for other in self.passed_over:
                        self._note(
                            "conflict-identifiers",
                            handle,
                            name,
                            identifier,
                            ";".join(self.records[other].identifiers),
                            file,
                            line,
                            "one name under two identifiers: kept as two organisations",
                        )
            elif name and not self._similar(handle, name):
                key = (handle, normalise_name(name))
                if key not in self._noted_conflicts:
                    self._noted_conflicts.add(key)
                    self._note(
                        "conflict-names",
                        handle,
                        name,
                        identifier,
                        self.records[handle].name,
                        file,
                        line,
                        "one identifier, two very different names: kept as one organisation",
                    )
        else:
            handle = self._find_by_name(name, mention, allow_identified=True)
            if handle is not None:
                record = self.records[handle]
                if normalise_name(name) not in self._normalised[handle]:
                    kind = "name" if self._name_match(handle, name) else "acronym"
                    ref = clean_ref(mention.ref) or ""
                    self._note(kind, handle, name, ref, record.name, file, line)
        created = handle is None
        if handle is None:
            handle = self._new(identifier)
        record = self.records[handle]
        if name:
            record.names[name] += 1
            self._index_name(handle, name)
        if mention.type:
            record.types[mention.type] += 1
        if mention.country:
            record.countries[mention.country] += 1
        if mention.scope and created:
            record.scopes.add(mention.scope)
        local = clean_ref(mention.ref)
        if local is not None and identifier is None:
            record.local_refs.add(local)
        return handle

    # -- internals ---------------------------------------------------------------------

    def _new(self, identifier: str | None) -> int:
        handle = len(self.records)
        self.records.append(OrganisationRecord(handle))
        self._normalised[handle] = set()
        if identifier is not None:
            self._add_identifier(handle, identifier)
        return handle

    def _add_identifier(self, handle: int, identifier: str) -> None:
        self.records[handle].identifiers.append(identifier)
        self._by_identifier[identifier_key(identifier)] = handle

    def _index_name(self, handle: int, name: str) -> None:
        normalised = normalise_name(name)
        if normalised in self._normalised[handle]:
            return
        self._normalised[handle].add(normalised)
        keys, acronyms = _name_keys(name)
        for key in keys:
            holders = self._by_name.setdefault(key, [])
            if handle not in holders:
                holders.append(handle)
        for acronym in acronyms:
            holders = self._by_acronym.setdefault(acronym, [])
            if handle not in holders:
                holders.append(handle)

    def _name_match(self, handle: int, name: str) -> bool:
        return any(handle in self._by_name.get(key, ()) for key in _name_keys(name)[0])

    def _find_by_name(self, name: str, mention: Mention, *, allow_identified: bool) -> int | None:
        """The first organisation of that name (countries agreeing when both known).

        With ``allow_identified=False`` (a mention with its own identifier), organisations
        already holding an identifier are passed over: one name under two identifiers is
        two organisations, and a conflict.
        """
        if not name:
            return None
        keys, _ = _name_keys(name)
        candidates: list[int] = []
        for key in keys:
            candidates += self._by_name.get(key, [])
        for key in keys:
            candidates += self._by_acronym.get(key.replace(" ", ""), [])
        self.passed_over = [
            handle
            for handle in dict.fromkeys(candidates)
            if not allow_identified and self.records[handle].identifiers
        ]
        for handle in dict.fromkeys(candidates):
            record = self.records[handle]
            if handle in self.passed_over:
                continue
            known = record.country
            if mention.country and known and mention.country != known:
                continue
            if mention.scope and (
                (record.scopes and mention.scope not in record.scopes)
                or (known and known != mention.scope)
            ):
                continue
            return handle
        return None

    def _similar(self, handle: int, name: str) -> bool:
        normalised = normalise_name(name)
        if not normalised or normalised in self._normalised[handle]:
            return True
        record = self.records[handle]
        names = self._normalised[handle] | {normalise_name(record.name)}
        acronym = _acronym(name)
        for known in names:
            if fuzz.token_set_ratio(normalised, known) >= CONFLICT_SIMILARITY:
                return True
            if acronym and acronym == "".join(word[0] for word in known.split() if word):
                return True
        _, acronyms = _name_keys(record.name)
        return acronym in acronyms

    def _note(
        self,
        kind: str,
        handle: int,
        name: str,
        ref: str,
        other: str,
        file: str,
        line: int,
        note: str = "",
    ) -> None:
        self.merges.append(MergeNote(kind, handle, name, ref, other, file, line, note))
