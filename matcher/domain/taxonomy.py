"""Controlled vocabularies (flat or hierarchical) and the similarity of capability codes.

A :class:`Vocabulary` is a validated set of :class:`Term` rows: codes are unique, every
parent exists, and the parent links form no cycle. :class:`Taxonomies` bundles the
vocabularies the domain uses. :func:`match_credit` says how much of a need a capability
covers, from where the two codes sit in the hierarchy.

Examples
--------
>>> caps = Vocabulary("capability", [
...     Term("funding", "Funding"),
...     Term("funding.grants", "Grants", parent="funding"),
...     Term("funding.loans", "Loans", parent="funding"),
... ])
>>> match_credit(caps, need="funding", offer="funding.grants")
1.0
>>> match_credit(caps, need="funding.grants", offer="funding")
0.5
>>> match_credit(caps, need="funding.grants", offer="funding.loans")
0.25
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from matcher.domain.countries import CountryTable
from matcher.domain.exceptions import TaxonomyError, UnknownCodeError

__all__ = [
    "Term",
    "Vocabulary",
    "Relation",
    "MatchCredits",
    "relation",
    "match_credit",
    "Taxonomies",
]


@dataclass(frozen=True, slots=True)
class Term:
    """One code of a vocabulary, with its label, parent, description and report §."""

    code: str
    label: str
    parent: str | None = None
    description: str = ""
    source: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))
        if self.parent == "":
            object.__setattr__(self, "parent", None)


class Vocabulary(Mapping[str, Term]):
    """A validated set of terms, possibly hierarchical.

    Parameters
    ----------
    name : str
        What the codes are ("theme", "capability"); used in error messages.
    terms : iterable of Term

    Raises
    ------
    TaxonomyError
        On a duplicate code, a parent that does not exist, or a cycle of parents.
    """

    def __init__(self, name: str, terms: Iterable[Term]) -> None:
        self.name = name
        self._terms: dict[str, Term] = {}
        for term in terms:
            if term.code in self._terms:
                raise TaxonomyError(f"Duplicate {name} code {term.code!r}")
            self._terms[term.code] = term
        for term in self._terms.values():
            if term.parent is not None and term.parent not in self._terms:
                raise TaxonomyError(
                    f"The parent {term.parent!r} of {name} {term.code!r} does not exist"
                )
        for code in self._terms:
            self._check_acyclic(code)
        children: dict[str, list[str]] = {code: [] for code in self._terms}
        for term in self._terms.values():
            if term.parent is not None:
                children[term.parent].append(term.code)
        self._children = {code: tuple(kids) for code, kids in children.items()}

    def _check_acyclic(self, code: str) -> None:
        seen = [code]
        parent = self._terms[code].parent
        while parent is not None:
            if parent in seen:
                cycle = " -> ".join([*seen, parent])
                raise TaxonomyError(f"Cycle in {self.name} parents: {cycle}")
            seen.append(parent)
            parent = self._terms[parent].parent

    def __getitem__(self, code: str) -> Term:
        return self._terms[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._terms)

    def __len__(self) -> int:
        return len(self._terms)

    def __repr__(self) -> str:
        return f"Vocabulary({self.name!r}, {len(self)} terms)"

    def check(self, code: str, field: str | None = None) -> str:
        """Return ``code`` if known, else raise :class:`UnknownCodeError` naming it."""
        if code not in self._terms:
            raise UnknownCodeError(f"Unknown {self.name} code {code!r}", field=field, value=code)
        return code

    def parent(self, code: str) -> str | None:
        """The parent code, or ``None`` at the top."""
        return self._terms[self.check(code)].parent

    def ancestors(self, code: str) -> tuple[str, ...]:
        """All ancestors, nearest first."""
        chain = []
        parent = self.parent(code)
        while parent is not None:
            chain.append(parent)
            parent = self._terms[parent].parent
        return tuple(chain)

    def children(self, code: str) -> tuple[str, ...]:
        """The direct children of ``code``."""
        return self._children[self.check(code)]

    def descendants(self, code: str) -> tuple[str, ...]:
        """All descendants, depth first."""
        found: list[str] = []
        stack = list(reversed(self.children(code)))
        while stack:
            child = stack.pop()
            found.append(child)
            stack.extend(reversed(self._children[child]))
        return tuple(found)

    def depth(self, code: str) -> int:
        """1 for a top-level code, 2 for its children, and so on."""
        return len(self.ancestors(code)) + 1

    def roots(self) -> tuple[str, ...]:
        """The top-level codes."""
        return tuple(code for code, term in self._terms.items() if term.parent is None)

    def extended(self, terms: Iterable[Term]) -> Vocabulary:
        """A new vocabulary with ``terms`` added; a code already known is an error."""
        return Vocabulary(self.name, [*self._terms.values(), *terms])


class Relation(StrEnum):
    """How an offered capability relates to a needed one in the hierarchy."""

    EXACT = "exact"
    DESCENDANT = "descendant"  # the offer is more specific than the need
    ANCESTOR = "ancestor"  # the offer is more general than the need
    SIBLING = "sibling"  # same parent
    UNRELATED = "unrelated"


@dataclass(frozen=True, slots=True)
class MatchCredits:
    """Partial credit of each :class:`Relation`.

    An offer more specific than the need serves it fully (a grant *is* funding). An offer
    more general than the need may serve it: ``ancestor`` for the parent, multiplied by
    ``ancestor_decay`` for each level further up. A sibling (a loan for a grant) is a weak
    substitute. Anything else earns nothing.
    """

    exact: float = 1.0
    descendant: float = 1.0
    ancestor: float = 0.5
    ancestor_decay: float = 0.5
    sibling: float = 0.25


def relation(vocabulary: Vocabulary, need: str, offer: str) -> Relation:
    """Classify ``offer`` relative to ``need``.

    >>> caps = Vocabulary("capability", [Term("a", "A"), Term("a.b", "B", parent="a")])
    >>> relation(caps, "a", "a.b"), relation(caps, "a.b", "a")
    (<Relation.DESCENDANT: 'descendant'>, <Relation.ANCESTOR: 'ancestor'>)
    """
    vocabulary.check(need, "need")
    vocabulary.check(offer, "offer")
    if need == offer:
        return Relation.EXACT
    if need in vocabulary.ancestors(offer):
        return Relation.DESCENDANT
    if offer in vocabulary.ancestors(need):
        return Relation.ANCESTOR
    parent = vocabulary.parent(need)
    if parent is not None and parent == vocabulary.parent(offer):
        return Relation.SIBLING
    return Relation.UNRELATED


def match_credit(
    vocabulary: Vocabulary, need: str, offer: str, credits: MatchCredits = MatchCredits()
) -> float:
    """The share of ``need`` that ``offer`` covers, in [0, 1], by :class:`MatchCredits`.

    Parameters
    ----------
    vocabulary : Vocabulary
        The capability taxonomy.
    need, offer : str
        Capability codes.
    credits : MatchCredits
        Partial credit per relation.

    Returns
    -------
    float
        ``credits.exact`` or ``credits.descendant`` for a full match, ``credits.ancestor *
        credits.ancestor_decay ** (levels - 1)`` for a more general offer, ``credits.sibling``
        for a sibling, 0 otherwise.

    Raises
    ------
    UnknownCodeError
        If either code is not in ``vocabulary``.

    Notes
    -----
    O(depth) per call.
    """
    kind = relation(vocabulary, need, offer)
    if kind is Relation.EXACT:
        return credits.exact
    if kind is Relation.DESCENDANT:
        return credits.descendant
    if kind is Relation.ANCESTOR:
        levels = vocabulary.ancestors(need).index(offer) + 1
        return credits.ancestor * credits.ancestor_decay ** (levels - 1)
    if kind is Relation.SIBLING:
        return credits.sibling
    return 0.0


@dataclass(frozen=True, slots=True)
class Taxonomies:
    """Every vocabulary the domain uses, plus the country table."""

    activity_types: Vocabulary
    capabilities: Vocabulary
    themes: Vocabulary
    sectors: Vocabulary
    kinds: Vocabulary
    sizes: Vocabulary
    resources: Vocabulary
    motivations: Vocabulary
    flag_categories: Vocabulary
    flag_levels: Vocabulary
    roles: Vocabulary
    outcomes: Vocabulary
    gc_statuses: Vocabulary
    countries: CountryTable

    def theme_sdgs(self, code: str) -> frozenset[int]:
        """The SDG numbers a theme maps onto (``sdg`` column, ``;``-separated)."""
        raw = self.themes[self.themes.check(code, "themes")].attributes.get("sdg", "")
        return frozenset(int(part) for part in raw.split(";") if part.strip())

    def extended(
        self, *, themes: Iterable[Term] = (), capabilities: Iterable[Term] = ()
    ) -> Taxonomies:
        """A copy with a data directory's own themes and capabilities added."""
        return replace(
            self,
            themes=self.themes.extended(themes),
            capabilities=self.capabilities.extended(capabilities),
        )
