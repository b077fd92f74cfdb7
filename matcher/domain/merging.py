"""Merges several datasets into one: organisations sharing an id or a registry identifier are one.

Two data directories often describe the same organisation under different ids: the seed's
``unicef`` and the IATI import's ``XM-DAC-41122``. When the seed row carries the identifier
``XM-DAC-41122``, :func:`merge_datasets` makes them one organisation under the id seen
first, and rewrites every membership, capability, flag and conflict of the other id.

Rules
-----
* Organisations are grouped by id and by identifier (compared case-insensitively): an
  organisation sharing either with another is in its group, transitively.
* A group keeps the id, name and kind of its first organisation (datasets in the order
  given, rows in their order). Its empty fields take the first non-empty value of the
  others; themes, resources and motivations are united; the other names become aliases;
  identifiers and aliases are united in order; sources are joined with ``; ``.
* Partnerships are keyed by id: the same id twice must be the same partnership.
* Memberships, capabilities, flags and conflicts follow their organisation's new id; the
  first of two rows with the same key wins; a conflict of a group with itself is dropped.
* Taxonomy extensions (terms not in ``builtin``) are united; one code with two different
  terms is an error.

Examples
--------
>>> from matcher.domain.model import Organisation
>>> from matcher.formats.taxonomy_io import load_taxonomies
>>> taxonomies = load_taxonomies()
>>> unicef = Organisation("unicef", "UNICEF", "un_entity", identifiers=("XM-DAC-41122",))
>>> seed = Dataset.build(organisations=[unicef], taxonomies=taxonomies)
>>> fund = Organisation(
...     "XM-DAC-41122", "United Nations Children's Fund", "un_entity", identifiers=("XM-DAC-41122",)
... )
>>> iati = Dataset.build(organisations=[fund], taxonomies=taxonomies)
>>> merged = merge_datasets([seed, iati], taxonomies)
>>> list(merged.dataset.organisations), merged.dataset.organisations["unicef"].aliases
(['unicef'], ("United Nations Children's Fund",))
>>> merged.merges
(OrganisationMerge(kept='unicef', merged='XM-DAC-41122', reason='identifier XM-DAC-41122'),)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import DataDirectoryError
from matcher.domain.model import (
    Capability,
    Conflict,
    Flag,
    Membership,
    Organisation,
    Partnership,
    identifier_key,
)
from matcher.domain.taxonomy import Taxonomies, Term, Vocabulary

__all__ = ["MergedDataset", "OrganisationMerge", "merge_datasets"]

_T = TypeVar("_T")
_SET_FIELDS = ("themes", "resources", "motivations")
_FILLED_FIELDS = (
    "country",
    "size",
    "gc_status",
    "verified_on",
    "max_active",
    "description",
)


@dataclass(frozen=True, slots=True)
class OrganisationMerge:
    """One organisation folded into another, and why (``id x`` or ``identifier x``)."""

    kept: str
    merged: str
    reason: str


@dataclass(frozen=True, slots=True)
class MergedDataset:
    """The merged dataset and every organisation merge it took."""

    dataset: Dataset
    merges: tuple[OrganisationMerge, ...]


class _Groups:
    """Union-find over organisation positions, keyed by id and identifier."""

    def __init__(self, organisations: Sequence[Organisation]) -> None:
        self.parent = list(range(len(organisations)))
        self.reason: dict[int, str] = {}
        owner: dict[Hashable, int] = {}
        for position, org in enumerate(organisations):
            keys: list[tuple[Hashable, str]] = [(("id", org.id), f"id {org.id}")]
            keys += [
                (("identifier", identifier_key(i)), f"identifier {i}") for i in org.identifiers
            ]
            for key, why in keys:
                if key in owner:
                    if self._union(owner[key], position):
                        self.reason.setdefault(position, why)
                else:
                    owner[key] = position

    def find(self, position: int) -> int:
        while self.parent[position] != position:
            self.parent[position] = self.parent[self.parent[position]]
            position = self.parent[position]
        return position

    def _union(self, first: int, second: int) -> bool:
        root_a, root_b = self.find(first), self.find(second)
        if root_a == root_b:
            return False
        keep, fold = min(root_a, root_b), max(root_a, root_b)
        self.parent[fold] = keep
        return True


def _merge_organisation(first: Organisation, others: Iterable[Organisation]) -> Organisation:
    values: dict[str, Any] = {name: getattr(first, name) for name in _FILLED_FIELDS}
    sets = {name: set(getattr(first, name)) for name in _SET_FIELDS}
    aliases = list(first.aliases)
    identifiers = list(first.identifiers)
    sources = [first.source] if first.source else []
    seen_names = {first.name.casefold(), *(a.casefold() for a in aliases)}
    seen_identifiers = {identifier_key(i) for i in identifiers}
    for other in others:
        for name in _FILLED_FIELDS:
            if values[name] in (None, "") and getattr(other, name) not in (None, ""):
                values[name] = getattr(other, name)
        for name in _SET_FIELDS:
            sets[name] |= getattr(other, name)
        for alias in (other.name, *other.aliases):
            if alias.casefold() not in seen_names:
                seen_names.add(alias.casefold())
                aliases.append(alias)
        for identifier in other.identifiers:
            if identifier_key(identifier) not in seen_identifiers:
                seen_identifiers.add(identifier_key(identifier))
                identifiers.append(identifier)
        if other.source and other.source not in sources:
            sources.append(other.source)
    changes: dict[str, Any] = {name: frozenset(codes) for name, codes in sets.items()}
    changes.update(values)
    changes.update(
        aliases=tuple(aliases), identifiers=tuple(identifiers), source="; ".join(sources)
    )
    return dataclasses.replace(first, **changes)


def _first_by_key(rows: Iterable[_T], key: Any) -> list[_T]:
    kept: dict[Hashable, _T] = {}
    for row in rows:
        kept.setdefault(key(row), row)
    return list(kept.values())


def _extension_terms(
    datasets: Sequence[Dataset], builtin: Vocabulary, attribute: str, problems: list[str]
) -> list[Term]:
    terms: dict[str, tuple[int, Term]] = {}
    for number, dataset in enumerate(datasets, start=1):
        vocabulary: Vocabulary = getattr(dataset.taxonomies, attribute)
        for code, term in vocabulary.items():
            if code in builtin:
                continue
            if code in terms and terms[code][1] != term:
                problems.append(
                    f"taxonomy/{attribute}.csv: code {code!r} of directory {number} differs "
                    f"from the one of directory {terms[code][0]}"
                )
                continue
            terms.setdefault(code, (number, term))
    return [term for _, term in terms.values()]


def merge_datasets(datasets: Sequence[Dataset], builtin: Taxonomies) -> MergedDataset:
    """Merge ``datasets`` (in order of precedence) into one, by id and identifier.

    Parameters
    ----------
    datasets : sequence of Dataset
        Earlier ones win: their ids, names and non-empty fields are kept.
    builtin : Taxonomies
        The built-in vocabularies that every dataset extends.

    Returns
    -------
    MergedDataset

    Raises
    ------
    DataDirectoryError
        If two datasets hold different partnerships under one id, or different taxonomy
        terms under one code.

    Notes
    -----
    O(n α(n)) in the number of rows: one union-find pass, then one pass per table.
    """
    problems: list[str] = []
    organisations = [org for dataset in datasets for org in dataset.organisations.values()]
    groups = _Groups(organisations)
    members: dict[int, list[Organisation]] = {}
    for position, org in enumerate(organisations):
        members.setdefault(groups.find(position), []).append(org)
    new_id: dict[str, str] = {}
    merges: list[OrganisationMerge] = []
    merged_orgs: list[Organisation] = []
    for group in members.values():
        first = group[0]
        merged_orgs.append(_merge_organisation(first, group[1:]) if len(group) > 1 else first)
        for org in group:
            new_id.setdefault(org.id, first.id)
    for position, org in enumerate(organisations):
        kept = new_id[org.id]
        if org.id != kept:
            merges.append(OrganisationMerge(kept, org.id, groups.reason.get(position, "")))

    partnerships: dict[str, tuple[int, Partnership]] = {}
    for number, dataset in enumerate(datasets, start=1):
        for partnership in dataset.partnerships.values():
            known = partnerships.get(partnership.id)
            if known is not None and known[1] != partnership:
                problems.append(
                    f"partnerships.csv: id {partnership.id!r} of directory {number} is a "
                    f"different partnership from the one of directory {known[0]}"
                )
            partnerships.setdefault(partnership.id, (number, partnership))

    taxonomies = builtin.extended(
        themes=_extension_terms(datasets, builtin.themes, "themes", problems),
        capabilities=_extension_terms(datasets, builtin.capabilities, "capabilities", problems),
    )
    if problems:
        raise DataDirectoryError(problems)

    def moved(row: _T, *fields: str) -> _T:
        changes = {name: new_id[getattr(row, name)] for name in fields}
        return dataclasses.replace(row, **changes)  # type: ignore[type-var]

    memberships: list[Membership] = [
        moved(m, "org_id") for dataset in datasets for m in dataset.memberships
    ]
    capabilities: list[Capability] = [
        moved(c, "org_id") for dataset in datasets for c in dataset.capabilities
    ]
    flags: list[Flag] = [moved(f, "org_id") for dataset in datasets for f in dataset.flags]
    conflicts: list[Conflict] = [
        moved(c, "org_a", "org_b")
        for dataset in datasets
        for c in dataset.conflicts
        if new_id[c.org_a] != new_id[c.org_b]
    ]
    dataset = Dataset.build(
        organisations=merged_orgs,
        partnerships=[partnership for _, partnership in partnerships.values()],
        memberships=_first_by_key(memberships, lambda m: (m.partnership_id, m.org_id)),
        capabilities=_first_by_key(capabilities, lambda c: (c.org_id, c.capability)),
        flags=_first_by_key(flags, lambda f: f),
        conflicts=_first_by_key(conflicts, lambda c: frozenset((c.org_a, c.org_b))),
        taxonomies=taxonomies,
    )
    return MergedDataset(dataset, tuple(merges))
