"""The reviewers' decisions feed the engine: what the index is built from, with them.

An approved proposal is a partnership from the day it is approved: at the next index build
it joins the history (status ``active``, its lead and members with their roles, source
``proposal N``), so the collaboration graph, the inferred capabilities and the track
records count it like any imported partnership. A rejection is remembered for the
initiative's lead and each member of the rejected coalition, with its date and reason: the
engine lowers that member's score for that lead (the ``rejected`` weight) and says why in
its reasons, until a later approval for the same lead includes the member again.

This happens where the index's data is loaded (:func:`load_history`, which the service's
engine holder calls), not at import or in storage: the stored history stays what the data
directories said (an export gives back what was imported), and the decisions stay in the
review trail where a reviewer made them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import PartnerMatchError
from matcher.domain.model import ActivityType, Membership, Outcome, Partnership, Role
from matcher.domain.taxonomy import Vocabulary
from matcher.engine.index import INFERENCE_RULES
from matcher.engine.reasons import Rejection
from matcher.storage.catalog import InitiativeRecord, ProposalRecord, ReviewRecord, SqlCatalog
from matcher.storage.repository import DataVersions
from matcher.storage.sql import SqlRepository

__all__ = [
    "History",
    "Judgements",
    "proposal_partnership",
    "member_role",
    "rejections",
    "with_decisions",
    "load_history",
    "load_judgements",
]

Decided = tuple[ProposalRecord, InitiativeRecord]


@dataclass(frozen=True, slots=True)
class History:
    """What an index is built from: the data versions, the dataset with the approved
    proposals as partnerships, and the rejections."""

    versions: DataVersions
    dataset: Dataset
    rejections: tuple[Rejection, ...]

    @property
    def data_version(self) -> int:
        """The version of the data read (every write moves it)."""
        return self.versions.data


@dataclass(frozen=True, slots=True)
class Judgements:
    """The rejections standing at ``versions``: what the engine needs of the reviewers'
    decisions besides its index (a rejection moves the data version, not the index's)."""

    versions: DataVersions
    rejections: tuple[Rejection, ...]


def _last_review(proposal: ProposalRecord, decision: str) -> ReviewRecord | None:
    found = [r for r in proposal.reviews if r.decision == decision]
    return found[-1] if found else None


def member_role(covers: Mapping[str, float], capabilities: Vocabulary) -> Role:
    """The role of a member in an approved coalition, from the need it covers best: the
    inverse of the index's role rules (``role:funder`` credits ``funding``, so a member
    chosen for funding is the funder); ``member`` when no covered need maps to a role.

    Parameters
    ----------
    covers : mapping of str to float
        Need codes and the member's coverage (its ``covers``).
    capabilities : Vocabulary

    Examples
    --------
    >>> from matcher.formats.taxonomy_io import load_taxonomies
    >>> vocabulary = load_taxonomies().capabilities
    >>> member_role({"media_reach.campaigns": 1.0, "funding": 0.4}, vocabulary).value
    'funder'
    >>> member_role({"service_delivery.education.materials": 0.5}, vocabulary).value
    'implementer'
    >>> member_role({"media_reach": 1.0}, vocabulary).value
    'member'
    """
    for code, _ in sorted(covers.items(), key=lambda item: -item[1]):
        lineage = {code, *(capabilities.ancestors(code) if code in capabilities else ())}
        for rule, targets in INFERENCE_RULES.items():
            kind, _, role = rule.partition(":")
            if kind == "role" and role != Role.LEAD.value and lineage & {t for t, _ in targets}:
                return Role(role)
    return Role.MEMBER


def proposal_partnership(
    proposal: ProposalRecord, initiative: InitiativeRecord, capabilities: Vocabulary
) -> tuple[Partnership, tuple[Membership, ...]]:
    """An approved proposal as a partnership of the history, with its memberships.

    Its id is ``proposal-N``, its name the initiative's title, its year the approval's;
    its countries, themes and activity types the initiative's; its amount the initiative's
    budget (USD); status (outcome) ``active``; source ``proposal N``. The lead takes the
    role ``lead``, each member the role of :func:`member_role`.

    Raises
    ------
    ValueError
        If the proposal is not approved.
    """
    review = _last_review(proposal, "approve")
    if proposal.status != "approved" or review is None:
        raise ValueError(f"Proposal {proposal.id} is not approved")
    body: Mapping[str, Any] = initiative.body
    constraints = body.get("constraints") or {}
    partnership_id = f"proposal-{proposal.id}"
    partnership = Partnership(
        id=partnership_id,
        name=initiative.title or str(body.get("title") or initiative.id),
        start_year=review.created_at.year,
        countries=frozenset(body.get("countries") or ()),
        themes=frozenset(body.get("themes") or ()),
        activity_types=frozenset(ActivityType(a) for a in body.get("activity_types") or ()),
        amount_usd=constraints.get("budget_usd"),
        outcome=Outcome.ACTIVE,
        source=f"proposal {proposal.id}",
        description=str(body.get("description") or ""),
    )
    memberships = [Membership(partnership_id, initiative.lead, Role.LEAD)]
    for member in proposal.coalition.get("members") or ():
        org_id = str(member["id"])
        if org_id == initiative.lead:
            continue
        role = member_role(member.get("covers") or {}, capabilities)
        memberships.append(Membership(partnership_id, org_id, role))
    return partnership, tuple(memberships)


def rejections(decided: Iterable[Decided]) -> list[Rejection]:
    """The rejections still standing: one per member of each rejected proposal, for its
    initiative's lead, with the review's date and reason; a later approval of the same lead
    that includes the member lifts it.

    Parameters
    ----------
    decided : iterable of (ProposalRecord, InitiativeRecord)
        Approved and rejected proposals with their initiatives.
    """
    events: list[tuple[Any, int, str, str, ReviewRecord, ProposalRecord]] = []
    for proposal, initiative in decided:
        decision = {"approved": "approve", "rejected": "reject"}.get(proposal.status)
        review = _last_review(proposal, decision) if decision else None
        if review is None:
            continue
        for member in proposal.members:
            events.append(
                (review.created_at, proposal.id, initiative.lead, member, review, proposal)
            )
    standing: dict[tuple[str, str], Rejection] = {}
    for _, _, lead, member, review, proposal in sorted(events, key=lambda e: (e[0], e[1])):
        if proposal.status == "approved":
            standing.pop((lead, member), None)
        else:
            standing[(lead, member)] = Rejection(
                lead, member, review.created_at.date(), review.reason_code, proposal.id
            )
    return sorted(standing.values(), key=lambda r: (r.lead, r.member))


def with_decisions(dataset: Dataset, decided: Sequence[Decided]) -> Dataset:
    """``dataset`` with every approved proposal as a partnership (:func:`proposal_partnership`).

    A member no longer in the dataset is left out of the partnership (and a proposal left
    with fewer than two organisations, or whose id an imported partnership already holds,
    is skipped): the history stays consistent whatever was deleted since the approval.
    """
    partnerships = dict(dataset.partnerships)
    memberships = list(dataset.memberships)
    capabilities = dataset.taxonomies.capabilities
    added = 0
    for proposal, initiative in decided:
        if proposal.status != "approved":
            continue
        try:
            partnership, rows = proposal_partnership(proposal, initiative, capabilities)
        except (ValueError, PartnerMatchError):
            continue
        kept = [m for m in rows if m.org_id in dataset.organisations]
        if partnership.id in partnerships or len(kept) < 2:
            continue
        partnerships[partnership.id] = partnership
        memberships.extend(kept)
        added += 1
    if not added:
        return dataset
    return dataclasses.replace(
        dataset, partnerships=MappingProxyType(partnerships), memberships=tuple(memberships)
    )


def load_history(repository: SqlRepository, catalog: SqlCatalog) -> History:
    """What the index is built from now: the stored dataset and data version read in one
    snapshot, then the decisions (read after it, so they are never older than the version
    says: a decision made in between at worst causes one more rebuild)."""
    versions, dataset = repository.load_snapshot()
    decided = catalog.decided_proposals()
    return History(versions, with_decisions(dataset, decided), tuple(rejections(decided)))


def load_judgements(catalog: SqlCatalog) -> Judgements:
    """The data versions, then the rejections standing (read after them, as in
    :func:`load_history`: a decision made in between is at worst taken up again at the next
    poll, never missed)."""
    versions = catalog.versions()
    return Judgements(versions, tuple(rejections(catalog.decided_proposals())))
