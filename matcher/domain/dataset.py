"""A consistent, in-memory set of organisations, capabilities, partnerships and flags."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from matcher.domain.exceptions import DuplicateIdError, NotFoundError
from matcher.domain.model import Capability, Conflict, Flag, Membership, Organisation, Partnership
from matcher.domain.taxonomy import Taxonomies

__all__ = ["RECORD_KINDS", "Dataset"]

#: The kinds of record a dataset holds, one file each in a data directory.
RECORD_KINDS = tuple("organisations capabilities partnerships memberships flags conflicts".split())


@dataclass(frozen=True, slots=True)
class Dataset:
    """Organisations and their history, with every reference checked.

    Build it with :meth:`build`, which raises on the first duplicate id or dangling
    reference; the data-directory reader reports every problem with its line instead.
    """

    organisations: Mapping[str, Organisation]
    capabilities: tuple[Capability, ...]
    partnerships: Mapping[str, Partnership]
    memberships: tuple[Membership, ...]
    flags: tuple[Flag, ...]
    conflicts: tuple[Conflict, ...]
    taxonomies: Taxonomies = field(hash=False, compare=False)

    @classmethod
    def build(
        cls,
        *,
        organisations: Iterable[Organisation],
        taxonomies: Taxonomies,
        capabilities: Iterable[Capability] = (),
        partnerships: Iterable[Partnership] = (),
        memberships: Iterable[Membership] = (),
        flags: Iterable[Flag] = (),
        conflicts: Iterable[Conflict] = (),
    ) -> Dataset:
        """Check ids and references, then freeze.

        Raises
        ------
        DuplicateIdError
            If two organisations or two partnerships share an id.
        NotFoundError
            If a capability, membership, flag or conflict names an unknown organisation or
            partnership.

        Examples
        --------
        >>> from matcher.formats.taxonomy_io import load_taxonomies
        >>> taxonomies = load_taxonomies()
        >>> org = Organisation("unicef", "UNICEF", "un_entity")
        >>> Dataset.build(organisations=[org, org], taxonomies=taxonomies)
        Traceback (most recent call last):
        ...
        matcher.domain.exceptions.DuplicateIdError: Duplicate organisation id 'unicef'
        """
        orgs = _unique(organisations, "organisation")
        parts = _unique(partnerships, "partnership")
        capability_rows = tuple(capabilities)
        membership_rows = tuple(memberships)
        flag_rows = tuple(flags)
        conflict_rows = tuple(conflicts)
        for org_id in [row.org_id for row in capability_rows + membership_rows + flag_rows]:
            _require(orgs, org_id, "Organisation")
        for membership in membership_rows:
            _require(parts, membership.partnership_id, "Partnership")
        for conflict in conflict_rows:
            _require(orgs, conflict.org_a, "Organisation")
            _require(orgs, conflict.org_b, "Organisation")
        return cls(
            organisations=MappingProxyType(orgs),
            capabilities=capability_rows,
            partnerships=MappingProxyType(parts),
            memberships=membership_rows,
            flags=flag_rows,
            conflicts=conflict_rows,
            taxonomies=taxonomies,
        )

    def members_of(self, partnership_id: str) -> tuple[Membership, ...]:
        """The memberships of one partnership."""
        _require(self.partnerships, partnership_id, "Partnership")
        return tuple(m for m in self.memberships if m.partnership_id == partnership_id)

    def capabilities_of(self, org_id: str) -> tuple[Capability, ...]:
        """The explicit capability rows of one organisation."""
        _require(self.organisations, org_id, "Organisation")
        return tuple(c for c in self.capabilities if c.org_id == org_id)

    def counts(self) -> dict[str, int]:
        """Rows per kind of record (one file each in a data directory), in order."""
        return {kind: len(getattr(self, kind)) for kind in RECORD_KINDS}

    def summary(self) -> dict[str, Any]:
        """Counts a person checks after an import: rows per file and breakdowns."""
        orgs = self.organisations.values()
        return {
            **self.counts(),
            "by_kind": dict(Counter(str(org.kind) for org in orgs).most_common()),
            "by_sector": dict(Counter(str(org.sector) for org in orgs).most_common()),
            "countries": len({org.country for org in orgs if org.country}),
            "capability_codes_used": len({c.capability for c in self.capabilities}),
            "by_outcome": dict(
                Counter(
                    str(p.outcome or "unrecorded") for p in self.partnerships.values()
                ).most_common()
            ),
        }


def _unique(rows: Iterable[Any], noun: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for row in rows:
        if row.id in found:
            raise DuplicateIdError(f"Duplicate {noun} id {row.id!r}", field="id", value=row.id)
        found[row.id] = row
    return found


def _require(table: Mapping[str, Any], key: str, noun: str) -> None:
    if key not in table:
        raise NotFoundError(f"{noun} {key!r} not found")
