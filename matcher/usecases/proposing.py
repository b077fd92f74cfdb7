"""Coalitions proposed for review: recomputed by the engine from their member ids, never
stored as a client sent them (a hand-edited score, an emptied flag list or a gated member
must not reach a reviewer).

The API's ``POST /v1/initiatives/{id}/proposals``, the broker's page and the what-if all go
through these functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from matcher.domain.exceptions import UnknownReferenceError, ValidationError
from matcher.domain.model import Coalition, Initiative
from matcher.engine.recommend import CoalitionRecommender, coalition_dict
from matcher.storage.catalog import ProposalRecord, SqlCatalog
from matcher.usecases.editing import check_initiative

__all__ = [
    "check_members",
    "evaluate_members",
    "coalition_for",
    "propose_coalition",
    "propose_in_place_of",
]


def _paths(members: Sequence[str], paths: Sequence[str] | None, field: str) -> list[str]:
    if paths is None:
        return [f"{field}.{k}" for k in range(len(members))]
    if len(paths) != len(members):
        raise ValueError("give one path per member")
    return list(paths)


def check_members(
    engine: CoalitionRecommender,
    initiative: Initiative,
    members: Sequence[str],
    *,
    paths: Sequence[str] | None = None,
    field: str = "members",
) -> None:
    """Raise :class:`ValidationError` naming the first member that cannot sit in a coalition
    for ``initiative``: none at all, a member listed twice, an unknown organisation, one a
    hard gate keeps out (with the gate), or two members in declared conflict.

    ``paths`` are the field paths of the members in the request (default
    ``members.0``, ``members.1``, ...).
    """
    where = _paths(members, paths, field)
    if not members:
        raise ValidationError("A coalition needs at least 1 member", field=field, value=[])
    index = engine.index_
    if initiative.lead not in index.position:
        raise UnknownReferenceError(
            f"Organisation {initiative.lead!r} not found", field="lead", value=initiative.lead
        )
    lead = index.position[initiative.lead]
    seen: dict[str, str] = {}
    for member, path in zip(members, where, strict=True):
        if member in seen:
            raise ValidationError(
                f"Organisation {member!r} is listed twice (first at {seen[member]})",
                field=path,
                value=member,
            )
        seen[member] = path
        if member not in index.position:
            raise UnknownReferenceError(
                f"Organisation {member!r} not found", field=path, value=member
            )
        exclusion = engine.gates_.exclusion(index.position[member], lead, initiative)
        if exclusion is not None:
            raise ValidationError(
                f"Organisation {member!r} cannot be a member: {exclusion.reason} "
                f"(gate {exclusion.gate})",
                field=path,
                value=member,
            )
        for conflict in index.conflicts_of.get(member, ()):
            other = next(iter(conflict.pair - {member}), member)
            if other in seen and other != member:
                reason = f": {conflict.reason}" if conflict.reason else ""
                raise ValidationError(
                    f"Organisation {member!r} has a declared conflict of interest with "
                    f"{other!r}{reason} (gate conflict_of_interest)",
                    field=path,
                    value=member,
                )


def evaluate_members(
    engine: CoalitionRecommender,
    initiative: Initiative,
    members: Sequence[str],
    *,
    field: str = "members",
) -> Coalition:
    """The coalition of exactly ``members``, scored and explained by the engine (the
    what-if): sizes are fixed to the members and the sector, kind and local-partner
    requirements are lifted, so any checked set of members has an answer.

    Its ``solver`` is ``"given"`` and it has no optimality gap: nobody searched. Check the
    members first (:func:`check_members`).
    """
    if initiative.lead in members:
        raise ValidationError(
            f"The lead {initiative.lead!r} is a member only of a coalition the engine "
            "recommended (allow_lead_as_implementer)",
            field=field,
            value=initiative.lead,
        )
    constraints = dataclasses.replace(
        initiative.constraints,
        include=frozenset(members),
        min_size=len(members),
        max_size=len(members),
        required_sectors=frozenset(),
        required_kinds=frozenset(),
        require_local_partner=False,
    )
    result = engine.recommend(dataclasses.replace(initiative, constraints=constraints, count=1))
    if not result.coalitions:
        reason = "; ".join(i.reason for i in result.infeasible) or "no coalition"
        raise ValidationError(
            f"These members cannot form a coalition: {reason}", field=field, value=list(members)
        )
    return dataclasses.replace(result.coalitions[0], solver="given", optimality_gap=None)


def coalition_for(
    engine: CoalitionRecommender,
    initiative: Initiative,
    members: Sequence[str],
    *,
    paths: Sequence[str] | None = None,
    field: str = "members",
) -> Coalition:
    """The engine's coalition of ``members`` for ``initiative``: the recommended one when
    the engine recommends exactly these members (its solver and explanation, as the
    broker's page shows it), else the members evaluated as given (:func:`evaluate_members`).

    Raises
    ------
    ValidationError
        Naming the member's path: see :func:`check_members`.
    """
    check_members(engine, initiative, members, paths=paths, field=field)
    wanted = frozenset(members)
    for coalition in engine.recommend(initiative).coalitions:
        if frozenset(m.id for m in coalition.members) == wanted:
            return coalition
    return evaluate_members(engine, initiative, members, field=field)


def propose_coalition(
    catalog: SqlCatalog,
    engine: CoalitionRecommender,
    initiative_id: str,
    members: Sequence[str],
    *,
    actor: str,
    paths: Sequence[str] | None = None,
    field: str = "members",
) -> ProposalRecord:
    """Store, for review, the engine's coalition of ``members`` for a stored initiative.

    Raises
    ------
    NotFoundError
        If the initiative is unknown.
    ValidationError
        If a member cannot sit in the coalition (see :func:`check_members`).
    StaleVersionError
        If the initiative is archived.
    """
    record = catalog.get_initiative(initiative_id)
    initiative = check_initiative({**record.body, "id": record.id}, engine.index_.taxonomies)
    coalition = coalition_for(engine, initiative, members, paths=paths, field=field)
    return catalog.create_proposal(initiative_id, coalition_dict(coalition), actor=actor)


def propose_in_place_of(
    catalog: SqlCatalog,
    engine: CoalitionRecommender,
    proposal_id: int,
    members: Sequence[str],
    *,
    actor: str,
    expected_version: int | None,
    reason_code: str = "other",
    comment: str = "",
) -> ProposalRecord:
    """A reviewer's replacement of a proposal by another coalition of its initiative (an
    alternative the engine recommends today, say): the proposal is sent back with
    ``request_changes``, its comment naming the coalition that replaces it, and the new
    coalition is proposed for review in its place.

    The coalition is computed before anything is written, so that a member that cannot sit
    in it leaves the proposal untouched.

    Raises
    ------
    NotFoundError
        If the proposal or its initiative is unknown.
    ValidationError
        If a member cannot sit in the coalition (see :func:`check_members`).
    StaleVersionError
        If the proposal was decided or changed since ``expected_version``.
    """
    original = catalog.get_proposal(proposal_id)
    record = catalog.get_initiative(original.initiative_id)
    initiative = check_initiative({**record.body, "id": record.id}, engine.index_.taxonomies)
    coalition = coalition_for(engine, initiative, members)
    if frozenset(m.id for m in coalition.members) == frozenset(original.members):
        raise ValidationError(
            "This is the proposed coalition itself: choose a different one",
            field="members",
            value=list(members),
        )
    names = ", ".join(m.name or m.id for m in coalition.members)
    note = f"Replaced by another coalition of the same initiative: {names}."
    catalog.decide(
        proposal_id,
        reviewer=actor,
        decision="request_changes",
        reason_code=reason_code,
        comment=f"{note} {comment}".strip(),
        expected_version=expected_version,
    )
    return catalog.create_proposal(original.initiative_id, coalition_dict(coalition), actor=actor)
