"""Organisations as brokers and reviewers look them up: by name, by filters, and one
organisation's whole record (what it offers and why we think so, its flags, its
partnerships year by year, who it works with, the proposals it appeared in).

Names are looked up in the served organisations (what the engine recommends from); one
organisation's record is read from the database (its neighbourhood: capabilities, flags,
partnerships and their members), with the catalog's proposals, decisions and audit trail.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from matcher.domain.countries import country_name
from matcher.domain.country_names import CountryNames, fold
from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import NotFoundError, ValidationError
from matcher.domain.model import Membership, Organisation, Partnership
from matcher.domain.taxonomy import Taxonomies
from matcher.storage.catalog import (
    OrganisationFilter,
    OrganisationRecord,
    Page,
    ProposalRecord,
    ReviewRecord,
    SqlCatalog,
)
from matcher.storage.repository import AuditEntry
from matcher.storage.sql import SqlRepository
from matcher.usecases.decisions import with_decisions

__all__ = [
    "OrganisationDirectory",
    "place_name",
    "CapabilityLine",
    "FlagLine",
    "CoMember",
    "PartnershipLine",
    "Collaborator",
    "ProposalLine",
    "OrganisationProfile",
    "organisation_neighbourhood",
    "organisation_profile",
    "SearchResult",
    "search_organisations",
]


def place_name(code: str | None) -> str:
    """A country code as its English name; ``None`` (global bodies) as "global".

    >>> place_name("BR"), place_name(None), place_name("ZZ")
    ('Brazil', 'global', 'ZZ')
    """
    if not code:
        return "global"
    try:
        return country_name(code)
    except ValidationError:
        return code


_ACRONYM = re.compile(r"\(([^()]{2,20})\)\s*$")


class OrganisationDirectory:
    """The served organisations indexed by name (any letter case, aliases and the acronym in
    brackets too), for the forms that name an organisation.

    Build it once per served index; lookups are then dictionary reads.

    Examples
    --------
    >>> orgs = [Organisation("unicef", "United Nations Children's Fund (UNICEF)", "un_entity")]
    >>> directory = OrganisationDirectory({org.id: org for org in orgs})
    >>> [directory.resolve(t) for t in ("unicef", "UNICEF", "united nations children's fund")]
    ['unicef', 'unicef', 'unicef']
    """

    def __init__(self, organisations: Mapping[str, Organisation]) -> None:
        self.organisations = organisations
        self._names: dict[str, set[str]] = defaultdict(set)
        self._keys: list[tuple[str, str]] = []  # (the name as matched, id), for suggest()
        for org in organisations.values():
            key = _key(org.name)
            self._keys.append((key, org.id))
            self._names[key].add(org.id)
            for name in self._other_names(org):
                self._names[name].add(org.id)

    @staticmethod
    def _other_names(org: Organisation) -> Iterable[str]:
        for alias in org.aliases:
            yield _key(alias)
        acronym = _ACRONYM.search(org.name)
        if acronym:
            yield _key(acronym.group(1))
            yield _key(org.name[: acronym.start()])

    def matches(self, text: str) -> list[str]:
        """The ids ``text`` names: an id, or a name, alias or acronym in any letter case."""
        wanted = text.strip()
        if not wanted:
            return []
        if wanted in self.organisations:
            return [wanted]
        lowered = wanted.lower()
        if lowered in self.organisations:
            return [lowered]
        return sorted(self._names.get(_key(wanted), ()))

    def resolve(self, text: str) -> str:
        """The id of the one organisation ``text`` names.

        Raises
        ------
        ValidationError
            If it names none (the message suggests names that contain its words) or several
            (the message lists them with their ids).
        """
        found = self.matches(text)
        if len(found) == 1:
            return found[0]
        organisations = self.organisations
        if found:
            listed = "; ".join(f"{organisations[i].name} (id {i})" for i in found[:5])
            raise ValidationError(
                f"Several organisations are called “{text.strip()}”: {listed}. Type the id of "
                "the one you mean.",
                field="lead",
                value=text,
            )
        hint = ""
        close = self.suggest(text, 3)
        if close:
            hint = " Did you mean " + " or ".join(f"“{organisations[i].name}”" for i in close) + "?"
        raise ValidationError(
            f"No organisation is called “{text.strip()}”.{hint} Pick one of the suggestions "
            "as you type, or search the organisations.",
            field="lead",
            value=text,
        )

    def suggest(self, text: str, limit: int = 5) -> list[str]:
        """Ids of organisations whose name contains every word of ``text``."""
        words = _key(text).split()
        if not words:
            return []
        found = [org_id for key, org_id in self._keys if all(w in key for w in words)]
        return sorted(found, key=lambda i: len(self.organisations[i].name))[:limit]

    def unique_name(self, org_id: str) -> str:
        """The organisation's name when it names only this organisation, else its id: what
        a form shows so that sending it back gives the same organisation."""
        org = self.organisations.get(org_id)
        if org is not None and self.matches(org.name) == [org_id]:
            return org.name
        return org_id


def _key(text: str) -> str:
    """How names are compared: lower case, accents and extra spaces dropped."""
    folded = text.lower() if text.isascii() else fold(text).replace("’", "'")
    return " ".join(folded.split())


# ---- one organisation's record ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CapabilityLine:
    """What the organisation offers, and the evidence: the § or source that says so."""

    code: str
    label: str
    strength: float
    quantity: float | None
    unit: str | None
    evidence: str


@dataclass(frozen=True, slots=True)
class FlagLine:
    category: str
    level: str
    level_code: str
    note: str
    date: dt.date | None
    source: str
    dismissed_by: str
    dismissed_on: dt.date | None


@dataclass(frozen=True, slots=True)
class CoMember:
    id: str
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class PartnershipLine:
    id: str
    name: str
    start_year: int | None
    end_year: int | None
    role: str
    countries: tuple[str, ...]
    themes: tuple[str, ...]
    outcome: str
    amount_usd: float | None
    source: str
    co_members: tuple[CoMember, ...]


@dataclass(frozen=True, slots=True)
class Collaborator:
    """An organisation met in shared partnerships: how many, and the latest year."""

    id: str
    name: str
    shared: int
    last_year: int | None


@dataclass(frozen=True, slots=True)
class ProposalLine:
    """A proposal the organisation appeared in, as its lead or as a member."""

    record: ProposalRecord
    initiative_title: str
    as_lead: bool
    reviews: tuple[ReviewRecord, ...]


@dataclass(frozen=True, slots=True)
class OrganisationProfile:
    """Everything the organisation page shows, labels already in words."""

    organisation: Organisation
    kind: str
    sector: str
    country: str
    size: str
    gc_status: str
    themes: tuple[str, ...]
    resources: tuple[str, ...]
    capabilities: tuple[CapabilityLine, ...]
    flags: tuple[FlagLine, ...]
    history: tuple[AuditEntry, ...]
    partnerships_by_year: tuple[tuple[str, tuple[PartnershipLine, ...]], ...]
    collaborators: tuple[Collaborator, ...]
    proposals: tuple[ProposalLine, ...]

    @property
    def partnership_count(self) -> int:
        return sum(len(lines) for _, lines in self.partnerships_by_year)


def _label(vocabulary: Mapping[str, object], code: str) -> str:
    term = vocabulary.get(code)
    label = getattr(term, "label", None)
    return str(label) if label else code.replace("_", " ").replace(".", " ")


def _partnership_line(
    neighbourhood: Dataset,
    partnership: Partnership,
    members: Iterable[Membership],
    org_id: str,
) -> PartnershipLine:
    taxonomies = neighbourhood.taxonomies
    organisations = neighbourhood.organisations
    members = sorted(members, key=lambda m: m.org_id)
    own = next((m for m in members if m.org_id == org_id), None)
    co_members = tuple(
        CoMember(m.org_id, organisations[m.org_id].name, _label(taxonomies.roles, m.role.value))
        for m in members
        if m.org_id != org_id
    )
    return PartnershipLine(
        id=partnership.id,
        name=partnership.name,
        start_year=partnership.start_year,
        end_year=partnership.end_year,
        role=_label(taxonomies.roles, own.role.value) if own else "",
        countries=tuple(place_name(c) for c in sorted(partnership.countries)),
        themes=tuple(_label(taxonomies.themes, t) for t in sorted(partnership.themes)),
        outcome=_label(taxonomies.outcomes, partnership.outcome.value)
        if partnership.outcome
        else "",
        amount_usd=partnership.amount_usd,
        source=partnership.source,
        co_members=co_members,
    )


def organisation_neighbourhood(
    repository: SqlRepository, catalog: SqlCatalog, org_id: str
) -> Dataset:
    """What :func:`organisation_profile` reads: the organisation's neighbourhood in the
    database, with the approved proposals it took part in as partnerships, as the index
    learns them (:func:`~matcher.usecases.decisions.with_decisions`).

    Raises
    ------
    NotFoundError
    """
    approved = [
        (proposal, initiative)
        for proposal, initiative in catalog.decided_proposals()
        if proposal.status == "approved"
        and (initiative.lead == org_id or org_id in proposal.members)
    ]
    also = {
        org for proposal, initiative in approved for org in (initiative.lead, *proposal.members)
    }
    return with_decisions(repository.neighbourhood(org_id, also), approved)


def organisation_profile(
    neighbourhood: Dataset,
    catalog: SqlCatalog,
    org_id: str,
    *,
    collaborators: int = 10,
    proposals: int = 50,
) -> OrganisationProfile:
    """The whole record of one organisation.

    Parameters
    ----------
    neighbourhood : Dataset
        The organisation with its capabilities, flags, partnerships and their members
        (:func:`organisation_neighbourhood` reads it).
    catalog : SqlCatalog
        Where proposals, their decisions and the audit trail are kept.
    org_id : str
    collaborators, proposals : int
        How many of each to list at most (closest collaborators first, newest proposals
        first).

    Raises
    ------
    NotFoundError
        If ``neighbourhood`` does not hold the organisation.
    """
    dataset = neighbourhood
    org = dataset.organisations.get(org_id)
    if org is None:
        raise NotFoundError(f"Organisation {org_id!r} not found")
    taxonomies = dataset.taxonomies

    capabilities = tuple(
        CapabilityLine(
            c.capability,
            _label(taxonomies.capabilities, c.capability),
            c.strength,
            c.quantity,
            c.unit,
            c.source,
        )
        for c in sorted(
            (c for c in dataset.capabilities if c.org_id == org_id),
            key=lambda c: (-c.strength, c.capability),
        )
    )
    flags = tuple(
        FlagLine(
            category=_label(taxonomies.flag_categories, f.category),
            level=_label(taxonomies.flag_levels, f.level.value),
            level_code=f.level.value,
            note=f.note,
            date=f.date,
            source=f.source,
            dismissed_by=f.dismissed_by,
            dismissed_on=f.dismissed_on,
        )
        for f in sorted(
            (f for f in dataset.flags if f.org_id == org_id),
            key=lambda f: f.date or dt.date.min,
            reverse=True,
        )
    )
    history = tuple(
        catalog.list_audit(entity_type="organisation", entity_id=org_id, limit=50).items
    )

    members: dict[str, list[Membership]] = defaultdict(list)
    for m in dataset.memberships:
        members[m.partnership_id].append(m)
    lines = [
        _partnership_line(dataset, dataset.partnerships[pid], members[pid], org_id)
        for pid in sorted(members)
        if any(m.org_id == org_id for m in members[pid])
    ]
    by_year: dict[str, list[PartnershipLine]] = defaultdict(list)
    for line in sorted(lines, key=lambda p: (-(p.start_year or 0), p.name)):
        by_year[str(line.start_year) if line.start_year else "Year unknown"].append(line)

    shared: Counter[str] = Counter()
    last: dict[str, int] = {}
    for line in lines:
        for co in line.co_members:
            shared[co.id] += 1
            if line.start_year and line.start_year > last.get(co.id, 0):
                last[co.id] = line.start_year
    closest = sorted(shared, key=lambda i: (-shared[i], -last.get(i, 0), i))[:collaborators]

    found: dict[int, ProposalLine] = {}
    for as_lead, page in (
        (True, catalog.list_proposals(lead=org_id, limit=proposals)),
        (False, catalog.list_proposals(member=org_id, limit=proposals)),
    ):
        for record in page.items:
            if record.id in found:
                continue
            try:
                title = catalog.get_initiative(record.initiative_id).title
            except NotFoundError:
                title = ""
            found[record.id] = ProposalLine(
                record, title or record.initiative_id, as_lead, record.reviews
            )
    ordered = sorted(found.values(), key=lambda p: p.record.created_at, reverse=True)

    return OrganisationProfile(
        organisation=org,
        kind=_label(taxonomies.kinds, org.kind.value),
        sector=_label(taxonomies.sectors, org.sector.value) if org.sector else "",
        country=place_name(org.country),
        size=_label(taxonomies.sizes, org.size.value) if org.size else "",
        gc_status=_label(taxonomies.gc_statuses, org.gc_status.value) if org.gc_status else "",
        themes=tuple(_label(taxonomies.themes, t) for t in sorted(org.themes)),
        resources=tuple(_label(taxonomies.resources, r) for r in sorted(org.resources)),
        capabilities=capabilities,
        flags=flags,
        history=history,
        partnerships_by_year=tuple((year, tuple(group)) for year, group in by_year.items()),
        collaborators=tuple(
            Collaborator(i, dataset.organisations[i].name, shared[i], last.get(i)) for i in closest
        ),
        proposals=tuple(ordered[:proposals]),
    )


# ---- search ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One page of organisations matching the filters, and what in the filters was not
    understood (in words)."""

    page: Page[OrganisationRecord]
    problems: tuple[str, ...]
    countries: tuple[str, ...]


def search_organisations(
    catalog: SqlCatalog,
    taxonomies: Taxonomies,
    countries: CountryNames,
    *,
    text: str = "",
    kind: str = "",
    country: str = "",
    theme: str = "",
    capability: str = "",
    offset: int = 0,
    limit: int = 25,
) -> SearchResult:
    """Organisations whose name contains ``text`` and that match every filter given.

    ``country`` (read by ``countries``) is an ISO code, a country's name or demonym, or a
    region (English or French: "Brazil", "brésilien", "West Africa"); ``capability`` also
    matches more specific capabilities. A filter that names nothing known is left out and
    said in ``problems``.
    """
    problems: list[str] = []
    codes: tuple[str, ...] = ()
    if country.strip():
        codes = countries.lookup(country)
        if not codes:
            problems.append(
                f"“{country.strip()}” is not a country or region we know: showing every "
                "country. Write a name (Brazil, Brésil), a region (West Africa) or an ISO "
                "code (BR)."
            )
    checks = (
        (kind, taxonomies.kinds, "kind of organisation"),
        (theme, taxonomies.themes, "theme"),
        (capability, taxonomies.capabilities, "capability"),
    )
    for value, vocabulary, noun in checks:
        if value and value not in vocabulary:
            problems.append(f"There is no {noun} “{value}”: showing every {noun}.")
    where = OrganisationFilter(
        kind=kind if kind in taxonomies.kinds else None,
        country=codes[0] if len(codes) == 1 else None,
        countries=frozenset(codes) if len(codes) > 1 else None,
        theme=theme if theme in taxonomies.themes else None,
        capability=capability if capability in taxonomies.capabilities else None,
        text=text.strip() or None,
    )
    page = catalog.list_organisations(where, offset=offset, limit=limit)
    return SearchResult(page, tuple(problems), codes)
