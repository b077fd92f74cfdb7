"""Screens organisation names against the UN Security Council consolidated sanctions list.

The list is published as XML (root ``CONSOLIDATED_LIST``, sections ``INDIVIDUALS`` and
``ENTITIES``); :func:`parse_consolidated_list` reads it with :mod:`defusedxml` (no DTD, no
entity expansion, no external references) into :class:`SanctionsEntry` values.
:func:`screen` compares every name and alias of every organisation with every name and alias
of every entry, individuals included (a company may carry a person's name), and reports one
:class:`SanctionsMatch` per (organisation, entry) pair that scores at least ``threshold``.

How names are compared
----------------------
Both sides go through :func:`normalise_name` (case, accents, ``&``/``and``, punctuation,
legal forms such as ``Ltd`` or ``S.A.``), then their words are sorted, and the two sorted
strings are scored with :func:`rapidfuzz.fuzz.ratio`, the normalised Indel similarity

.. math:: 100 \\left(1 - \\frac{\\text{insertions} + \\text{deletions}}{|a| + |b|}\\right)

which is :func:`rapidfuzz.fuzz.token_sort_ratio` on the normalised names: word order does
not count, every other difference does. Sorting once per name, outside rapidfuzz, lets
:func:`rapidfuzz.process.cdist` use its bit-parallel (SIMD) path for ``ratio``.

Why this scorer and a threshold of 90
    At 90 a name of ``n`` letters tolerates one missing or extra letter from ``n = 5`` and one
    changed letter from ``n = 10``; a 20-letter name two changed letters: typing errors and
    transliterations, while transposed words, accents, ``&`` against ``and`` and legal forms
    cost nothing. :func:`rapidfuzz.fuzz.WRatio`, :func:`~rapidfuzz.fuzz.token_set_ratio` and
    :func:`~rapidfuzz.fuzz.partial_ratio` were rejected: they score a name highly against
    any longer name containing it (``Global Trading`` against ``Global Trading Health
    Trust``: 90, 100 and 100), so a list entry made of common words would flag hundreds of
    organisations. Sorted-word ``ratio`` gives that pair 68, and keeps names sharing one
    word apart (``Global Trading Consortium`` against ``Global Health Trust``: 41).
Short names
    Normalised names of fewer than ``min_fuzzy_length`` letters and digits (8 by default)
    match only when equal: ``Vexa`` must not match ``Vera`` (75) nor ``Vexas`` (89), and a
    short name leaves no room for a typing error that does not change it.
What it does not catch
    A name with an extra or missing word (``Ivo Kettleby Foundation`` against the
    individual ``Ivo Kettleby``), abbreviations (``NATC`` against ``Northwind Arms Trading
    Company``) and names in another script, unless the list gives them as aliases. Aliases
    of quality ``Low`` (too vague to identify anyone on their own) are skipped unless
    ``include_low_quality=True``.

Examples
--------
>>> data = b'''<CONSOLIDATED_LIST>
... <INDIVIDUALS/>
... <ENTITIES><ENTITY>
...   <DATAID>1</DATAID><FIRST_NAME>NORTHWIND ARMS TRADING COMPANY</FIRST_NAME>
...   <UN_LIST_TYPE>Test</UN_LIST_TYPE><REFERENCE_NUMBER>TSe.001</REFERENCE_NUMBER>
...   <LISTED_ON>2020-02-29</LISTED_ON>
...   <ENTITY_ALIAS><QUALITY>a.k.a.</QUALITY><ALIAS_NAME>Nordvind Arms</ALIAS_NAME></ENTITY_ALIAS>
... </ENTITY></ENTITIES>
... </CONSOLIDATED_LIST>'''
>>> entries = parse_consolidated_list(data)
>>> entries[0].reference, entries[0].kind, entries[0].aliases, entries[0].listed_on
('TSe.001', 'entity', ('Nordvind Arms',), datetime.date(2020, 2, 29))
>>> organisations = [
...     ("o1", "Trading Northwind-Arms Co., Ltd.", ()),
...     ("o2", "Northwind Foundation", ("Nortwind Arms Trading",)),
...     ("o3", "Global Arms Trust", ()),
... ]
>>> for match in screen(organisations, entries):
...     print(match.org_id, repr(match.org_name_matched), match.entry_reference,
...           match.kind, round(match.score, 1))
o1 'Trading Northwind-Arms Co., Ltd.' TSe.001 entity 100.0
o2 'Nortwind Arms Trading' TSe.001 entity 97.7

Organisations of :mod:`matcher.domain.model` go in as
``((org.id, org.name, org.aliases) for org in organisations)``.

Notes
-----
With ``m`` distinct normalised organisation names and ``n`` distinct entry names,
:func:`screen` makes ``m * n`` comparisons, each ``O(L)`` word operations for names of
``L <= 64`` characters (bit-parallel LCS), in row blocks that keep memory at ``O(n)`` per
block; normalising costs ``O(L)`` per name. On the 2-core development machine 100,000
organisation names against 1,000 entries (1,667 names with their aliases) take 2.8 s:
0.8 s normalising, 1.4 s in ``cdist``. The same comparisons with
``scorer=fuzz.token_sort_ratio`` take 2.5 times as long, with ``fuzz.WRatio`` 50 times.

References
----------
.. [1] United Nations Security Council Consolidated List, XML format,
   https://scsanctions.un.org/resources/xml/en/consolidated.xml
.. [2] RapidFuzz documentation, ``fuzz.ratio``, ``fuzz.token_sort_ratio``,
   ``process.cdist``, https://rapidfuzz.github.io/RapidFuzz/
"""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args
from xml.etree.ElementTree import Element

import defusedxml  # type: ignore[import-untyped,unused-ignore]
import defusedxml.ElementTree as DefusedET  # type: ignore[import-untyped,unused-ignore]
import numpy as np
from rapidfuzz import fuzz, process

from matcher.domain.exceptions import DuplicateIdError, PartnerMatchError, ValidationError

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_MIN_FUZZY_LENGTH",
    "LEGAL_FORM_TOKENS",
    "EntryKind",
    "SanctionsListError",
    "SanctionsEntry",
    "SanctionsMatch",
    "parse_consolidated_list",
    "normalise_name",
    "screen",
]

DEFAULT_THRESHOLD = 90.0
DEFAULT_MIN_FUZZY_LENGTH = 8

EntryKind = Literal["individual", "entity"]

# Legal forms dropped wherever they stand as words (after dotted forms were joined:
# "S.A." -> "sa"). Deliberately absent: words that are also name particles ("as", "ao",
# "ab", "de", "se").
LEGAL_FORM_TOKENS: frozenset[str] = frozenset(
    {
        "ag", "aps", "asa", "bhd", "bv", "bvba", "cjsc", "co", "company", "corp",
        "corporation", "doo", "gmbh", "inc", "incorporated", "jsc", "kft", "kg", "kgaa", "lda",
        "llc", "llp", "lp", "ltd", "ltda", "limited", "nv", "oao", "ojsc", "ooo", "oy", "oyj",
        "pao", "pjsc", "plc", "pte", "pty", "sa", "sarl", "sas", "spa", "sprl", "srl", "sro",
        "zao", "zrt",
    }
)  # fmt: skip
# Legal forms of several words, dropped as a sequence only ("de" alone is a name particle).
_LEGAL_FORM_SEQUENCES: tuple[tuple[str, ...], ...] = (
    ("and", "company"),
    ("and", "co"),
    ("sp", "z", "oo"),
    ("sa", "de", "cv"),
    ("s", "de", "rl"),
    ("sa", "rl"),
    ("sdn", "bhd"),
)
_SPECIAL_LETTERS = str.maketrans(
    {"ø": "o", "đ": "d", "ð": "d", "ł": "l", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i", "ħ": "h"}
)
_APOSTROPHES = re.compile(r"['’ʼ‘`´]")
_CO_OP = re.compile(r"\bco-op")
# Single letters each followed by a dot ("s.a.", "s. a.", "u.s.a", "s.p.a."): joined into one
# word before punctuation turns the dots into spaces.
_DOTTED = re.compile(r"(?<![\w.])(?:[^\W\d_]\.\s?)+[^\W\d_]\b\.?")
_NON_WORD = re.compile(r"[\W_]+")

_INDIVIDUAL_NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
_LOW_QUALITY = "low"
_BLOCK_CELLS = 4_000_000  # cdist cells per block: 16 MB of float32 scores


class SanctionsListError(PartnerMatchError):
    """A sanctions list could not be read: not XML, refused as unsafe, or not in the format."""


@dataclass(frozen=True, slots=True)
class SanctionsEntry:
    """One individual or entity of the consolidated list.

    ``name`` joins the individual's ``FIRST_NAME`` to ``FOURTH_NAME`` (an entity's name is
    its ``FIRST_NAME``); ``aliases`` are the aliases of any quality but ``Low``, which are
    kept apart in ``low_quality_aliases``.
    """

    reference: str
    kind: EntryKind
    name: str
    aliases: tuple[str, ...] = ()
    list_type: str = ""
    listed_on: dt.date | None = None
    low_quality_aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.reference, str) or not self.reference.strip():
            raise ValidationError(
                f"Sanctions entry reference {self.reference!r} must not be empty",
                field="reference",
                value=self.reference,
            )
        if self.kind not in get_args(EntryKind):
            raise ValidationError(
                f"Sanctions entry {self.reference!r}: kind {self.kind!r} is neither "
                "'individual' nor 'entity'",
                field="kind",
                value=self.kind,
            )
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError(
                f"Sanctions entry {self.reference!r}: name must not be empty",
                field="name",
                value=self.name,
            )

    def names(self, *, include_low_quality: bool = False) -> tuple[str, ...]:
        """The name, then the aliases (then the low-quality aliases if asked for)."""
        low = self.low_quality_aliases if include_low_quality else ()
        return (self.name, *self.aliases, *low)


@dataclass(frozen=True, slots=True)
class SanctionsMatch:
    """An organisation whose name or alias resembles a list entry's name or alias.

    ``score`` (0-100) is that of the best-scoring pair of names; ``org_name_matched`` and
    ``entry_name_matched`` are that pair as written in the input.
    """

    org_id: str
    org_name_matched: str
    entry_reference: str
    entry_name_matched: str
    score: float
    kind: EntryKind


# --------------------------------------------------------------------------- parsing


def parse_consolidated_list(source: str | os.PathLike[str] | bytes) -> tuple[SanctionsEntry, ...]:
    """Read the UN Security Council consolidated list (XML) into entries.

    Parameters
    ----------
    source : str, path-like or bytes
        A path to the XML file, or its content as bytes.

    Returns
    -------
    tuple of SanctionsEntry
        The individuals in file order, then the entities in file order. Empty alias names
        are skipped, repeated ones kept once; whitespace is collapsed.

    Raises
    ------
    SanctionsListError
        The file cannot be read; it is not well-formed XML; it declares a DTD or entities
        (refused, never expanded: the list never has them); its root is not
        ``CONSOLIDATED_LIST``; a section is missing; an entry lacks its reference number or
        its name; a ``LISTED_ON`` is not a ``YYYY-MM-DD`` date; two entries share a reference.

    Examples
    --------
    >>> parse_consolidated_list(b"<CONSOLIDATED_LIST><INDIVIDUALS/></CONSOLIDATED_LIST>")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcher.integrity.sanctions.SanctionsListError: Sanctions list <bytes>: no ENTITIES element ...
    """
    if isinstance(source, bytes):
        label, data = "<bytes>", source
    else:
        label = repr(os.fspath(source))
        try:
            data = Path(source).read_bytes()
        except OSError as err:
            raise SanctionsListError(f"Sanctions list {label} cannot be read: {err}") from err
    try:
        root = DefusedET.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as err:
        raise SanctionsListError(
            f"Sanctions list {label} refused: it declares a DTD, entities or external "
            f"references ({err!r}), which the consolidated list never does"
        ) from err
    except DefusedET.ParseError as err:
        raise SanctionsListError(f"Sanctions list {label} is not well-formed XML: {err}") from err
    return _entries(root, label)


def _entries(root: Element, label: str) -> tuple[SanctionsEntry, ...]:
    if root.tag != "CONSOLIDATED_LIST":
        raise SanctionsListError(
            f"Sanctions list {label}: root element is {root.tag!r}, expected 'CONSOLIDATED_LIST'"
        )
    entries: list[SanctionsEntry] = []
    where: dict[str, str] = {}
    sections: tuple[tuple[str, str, EntryKind], ...] = (
        ("INDIVIDUALS", "INDIVIDUAL", "individual"),
        ("ENTITIES", "ENTITY", "entity"),
    )
    for section, tag, kind in sections:
        parent = root.find(section)
        if parent is None:
            raise SanctionsListError(
                f"Sanctions list {label}: no {section} element under CONSOLIDATED_LIST"
            )
        for position, element in enumerate(parent.findall(tag), start=1):
            what = f"{tag} {position} (DATAID {_text(element, 'DATAID')!r})"
            entry = _entry(element, kind, f"Sanctions list {label}: {what}")
            if entry.reference in where:
                raise SanctionsListError(
                    f"Sanctions list {label}: {what} repeats REFERENCE_NUMBER "
                    f"{entry.reference!r} of {where[entry.reference]}"
                )
            where[entry.reference] = what
            entries.append(entry)
    return tuple(entries)


def _entry(element: Element, kind: EntryKind, what: str) -> SanctionsEntry:
    reference = _text(element, "REFERENCE_NUMBER")
    if not reference:
        raise SanctionsListError(f"{what}: REFERENCE_NUMBER is missing or empty")
    parts: tuple[str, ...]
    if kind == "individual":
        parts, missing = _INDIVIDUAL_NAME_PARTS, "FIRST_NAME to FOURTH_NAME are all"
    else:
        parts, missing = ("FIRST_NAME",), "FIRST_NAME is"
    name = " ".join(part for part in (_text(element, tag) for tag in parts) if part)
    if not name:
        raise SanctionsListError(f"{what}: {missing} missing or empty")
    listed_on_text = _text(element, "LISTED_ON")
    try:
        listed_on = dt.date.fromisoformat(listed_on_text) if listed_on_text else None
    except ValueError as err:
        raise SanctionsListError(
            f"{what}: LISTED_ON {listed_on_text!r} is not a YYYY-MM-DD date"
        ) from err
    aliases: dict[str, None] = {}
    low: dict[str, None] = {}
    for alias in element.findall(f"{kind.upper()}_ALIAS"):
        alias_name = _text(alias, "ALIAS_NAME")
        if alias_name:
            quality = _text(alias, "QUALITY").casefold()
            (low if quality == _LOW_QUALITY else aliases)[alias_name] = None
    return SanctionsEntry(
        reference=reference,
        kind=kind,
        name=name,
        aliases=tuple(aliases),
        list_type=_text(element, "UN_LIST_TYPE"),
        listed_on=listed_on,
        low_quality_aliases=tuple(alias for alias in low if alias not in aliases),
    )


def _text(element: Element, tag: str) -> str:
    child = element.find(tag)
    if child is None or child.text is None:
        return ""
    return " ".join(child.text.split())


# --------------------------------------------------------------------------- normalisation


def normalise_name(text: str) -> str:
    """Reduce a name to lower-case ASCII-like words, without punctuation or legal forms.

    In order: case folding; accents and compatibility forms removed (NFKD, combining marks
    dropped; ``ø``, ``ł``, ``æ`` and a few other letters without a decomposition spelled
    out); ``&`` becomes ``and``; apostrophes vanish (``People's`` -> ``peoples``); single
    letters followed by dots are joined (``S.A.`` -> ``sa``, ``U.S.A`` -> ``usa``); any other
    run of punctuation or spaces becomes one space; a leading ``the`` and the legal forms
    of :data:`LEGAL_FORM_TOKENS` (and ``and co``, ``and company``, ``sp z oo``, ``sa de cv``,
    ``s de rl``, ``sa rl``, ``sdn bhd``) are dropped, unless nothing else is left.

    Parameters
    ----------
    text : str
        A name as written.

    Returns
    -------
    str
        Words separated by single spaces, in their original order; ``""`` when ``text`` has
        no letter or digit.

    Examples
    --------
    >>> normalise_name("Société Générale des Mines du Zéphyr S.A.R.L.")
    'societe generale des mines du zephyr'
    >>> normalise_name("  Northwind-Arms Trading Co., Ltd. ")
    'northwind arms trading'
    >>> normalise_name("Blackfen & Marsh")
    'blackfen and marsh'
    >>> normalise_name("Grupo Peñasco S.A. de C.V.")
    'grupo penasco'
    >>> normalise_name("OOO Ørsted-Łódź")
    'orsted lodz'
    >>> normalise_name("Straße GmbH & Co. KG")
    'strasse'
    >>> normalise_name("The People's Co-op Ltd")
    'peoples coop'
    >>> normalise_name("Limited Co.")
    'limited co'
    """
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_SPECIAL_LETTERS))
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    plain = _APOSTROPHES.sub("", plain.replace("&", " and "))
    plain = _CO_OP.sub("coop", plain)
    plain = _DOTTED.sub(lambda match: re.sub(r"[.\s]", "", match.group(0)), plain)
    words = _NON_WORD.sub(" ", plain).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    kept = _drop_legal_forms(words)
    return " ".join(kept or words)


def _drop_legal_forms(words: Sequence[str]) -> list[str]:
    kept: list[str] = []
    index = 0
    while index < len(words):
        for sequence in _LEGAL_FORM_SEQUENCES:
            if tuple(words[index : index + len(sequence)]) == sequence:
                index += len(sequence)
                break
        else:
            if words[index] not in LEGAL_FORM_TOKENS:
                kept.append(words[index])
            index += 1
    return kept


def _key(name: str) -> str:
    """The normalised words of ``name`` in alphabetical order (token_sort_ratio's form)."""
    return " ".join(sorted(normalise_name(name).split()))


# --------------------------------------------------------------------------- screening


def screen(
    organisations: Iterable[tuple[str, str, Sequence[str]]],
    entries: Iterable[SanctionsEntry],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_fuzzy_length: int = DEFAULT_MIN_FUZZY_LENGTH,
    include_low_quality: bool = False,
) -> list[SanctionsMatch]:
    """Find the organisations whose name or an alias resembles a sanctions list entry.

    Parameters
    ----------
    organisations : iterable of (org_id, name, aliases)
        Each organisation once; ``aliases`` may be empty.
    entries : iterable of SanctionsEntry
        Individuals and entities alike.
    threshold : float, default 90
        The least score (token-sort Indel similarity of the normalised names, 0-100, see
        the module documentation) reported; in ``(0, 100]``.
    min_fuzzy_length : int, default 8
        Normalised names with fewer letters and digits than this match only names equal
        to them (score 100).
    include_low_quality : bool, default False
        Also compare with the entries' aliases of quality ``Low``.

    Returns
    -------
    list of SanctionsMatch
        At most one per (organisation, entry): its best pair of names, ties going to the
        earlier organisation name (name, then aliases in order), then the earlier entry
        name. Sorted by organisation id, score (descending), entry reference.

    Raises
    ------
    ValidationError
        ``threshold`` is outside ``(0, 100]`` or ``min_fuzzy_length`` is negative.
    DuplicateIdError
        Two organisations share an id.

    Examples
    --------
    >>> vexa = SanctionsEntry("TSe.005", "entity", "Vexa")
    >>> [m.org_id for m in screen([("a", "VEXA Ltd.", ()), ("b", "Vera", ())], [vexa])]
    ['a']
    """
    if not 0 < threshold <= 100:
        raise ValidationError(
            f"threshold must be in (0, 100], got {threshold!r}", field="threshold", value=threshold
        )
    if min_fuzzy_length < 0:
        raise ValidationError(
            f"min_fuzzy_length must not be negative, got {min_fuzzy_length!r}",
            field="min_fuzzy_length",
            value=min_fuzzy_length,
        )
    org_ids: list[str] = []
    org_names: list[tuple[str, ...]] = []
    org_keys: dict[str, list[tuple[int, int]]] = {}  # key -> (organisation, name position)
    seen: set[str] = set()
    for org_id, name, aliases in organisations:
        if org_id in seen:
            raise DuplicateIdError(
                f"Organisation {org_id!r} is given twice", field="org_id", value=org_id
            )
        names = (name, *aliases)
        _index_keys(org_keys, len(org_ids), names)
        seen.add(org_id)
        org_ids.append(org_id)
        org_names.append(names)
    entry_list = list(entries)
    entry_names = [entry.names(include_low_quality=include_low_quality) for entry in entry_list]
    entry_keys: dict[str, list[tuple[int, int]]] = {}
    for position, names in enumerate(entry_names):
        _index_keys(entry_keys, position, names)

    best: dict[tuple[int, int], tuple[float, int, int]] = {}
    for org_key, entry_key, score in _similar_keys(
        org_keys, entry_keys, threshold, min_fuzzy_length
    ):
        for org, org_name in org_keys[org_key]:
            for entry, entry_name in entry_keys[entry_key]:
                candidate = (-score, org_name, entry_name)
                current = best.get((org, entry))
                if current is None or candidate < current:
                    best[(org, entry)] = candidate
    matches = [
        SanctionsMatch(
            org_id=org_ids[org],
            org_name_matched=org_names[org][org_name],
            entry_reference=entry_list[entry].reference,
            entry_name_matched=entry_names[entry][entry_name],
            score=-negative_score,
            kind=entry_list[entry].kind,
        )
        for (org, entry), (negative_score, org_name, entry_name) in best.items()
    ]
    matches.sort(key=lambda match: (match.org_id, -match.score, match.entry_reference))
    return matches


def _index_keys(keys: dict[str, list[tuple[int, int]]], owner: int, names: Sequence[str]) -> None:
    """Record under its key each name of ``owner`` that normalises to something."""
    for position, name in enumerate(names):
        key = _key(name)
        if key:
            keys.setdefault(key, []).append((owner, position))


def _similar_keys(
    org_keys: Iterable[str],
    entry_keys: Iterable[str],
    threshold: float,
    min_fuzzy_length: int,
) -> Iterable[tuple[str, str, float]]:
    """Yield each (organisation key, entry key, score) with a score of at least ``threshold``.

    Keys shorter than ``min_fuzzy_length`` (spaces not counted) pair with equal keys only;
    the others are compared all against all by :func:`rapidfuzz.process.cdist`, in blocks
    of rows, and the pairs it keeps are scored again in double precision.
    """
    long_orgs: list[str] = []
    long_entries: list[str] = []
    entry_set: set[str] = set()
    for key in entry_keys:
        entry_set.add(key)
        if _length(key) >= min_fuzzy_length:
            long_entries.append(key)
    for key in org_keys:
        if _length(key) >= min_fuzzy_length:
            long_orgs.append(key)
        elif key in entry_set:
            yield key, key, 100.0
    if not long_orgs or not long_entries:
        return
    rows = max(1, _BLOCK_CELLS // len(long_entries))
    for start in range(0, len(long_orgs), rows):
        block = long_orgs[start : start + rows]
        scores = process.cdist(
            block,
            long_entries,
            scorer=fuzz.ratio,
            processor=None,
            score_cutoff=threshold,
            dtype=np.float32,
            workers=1,
        )
        for row, column in zip(*np.nonzero(scores), strict=True):
            org_key, entry_key = block[row], long_entries[column]
            score = fuzz.ratio(org_key, entry_key, score_cutoff=threshold)
            if score:
                yield org_key, entry_key, score


def _length(key: str) -> int:
    return len(key) - key.count(" ")
