"""Says which hard constraints keep an initiative from any coalition, and what to relax.

When a request admits no coalition, :func:`diagnose` finds a smallest set of its hard
constraints that conflict (a deletion filter: drop each constraint in turn and keep it only if
the rest, the others relaxed, would then admit a coalition), words the conflict, and proposes
relaxations *verified by re-solving*: each comes with the coalitions it gives. Where several
independent conflicts stand in the way, each is reported, and each relaxation is verified with
one relaxation of every other conflict applied too.

The relaxable constraints (:func:`relaxable_constraints`): each required member (``include``),
``min_size`` above 1, ``max_size`` below 50, each required sector and kind,
``require_local_partner`` and ``complementarity: strict``. Exclusions, gates and declared
conflicts of interest are never relaxed: they protect the request and the UN (§68).

Examples
--------
>>> initiative = Initiative.from_mapping({"lead": "unicef", "countries": ["AO"],
...     "constraints": {"min_size": 2, "require_local_partner": True}})
>>> [c.path for c in relaxable_constraints(initiative, "prefer")]
['constraints.max_size', 'constraints.min_size', 'constraints.require_local_partner']
>>> def solve(request):  # a toy engine: a local partner exists nowhere, 3 candidates elsewhere
...     if request.constraints.require_local_partner:
...         return []
...     return [Outcome(score=2.0, members=({"id": "itau", "name": "Itaú"},))]
>>> [found] = diagnose(initiative, "prefer", solve, describe=lambda c: f"no way: {c.path}")
>>> [c.path for c in found.constraints], found.reason
(['constraints.require_local_partner'], 'no way: constraints.require_local_partner')
>>> [(r.description, r.coalitions, r.best_score) for r in found.relaxations]
[('drop the local-partner requirement', 1, 2.0)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from matcher.domain.model import Initiative

__all__ = [
    "Constraint",
    "Outcome",
    "Relaxation",
    "Infeasibility",
    "relaxable_constraints",
    "diagnose",
]

#: The largest coalition a request may ask for (``Constraints`` refuses more).
_MAX_SIZE = 50
#: At most this many independent conflicts are reported.
_MAX_CONFLICTS = 3


@dataclass(frozen=True, slots=True)
class Constraint:
    """One hard constraint of a request: where it is (``path``), its value, and how to relax
    it (``relaxed``, the value that lifts it, with a ``description`` in words)."""

    path: str
    value: Any
    relaxed: Any
    description: str

    def to_dict(self) -> dict[str, Any]:
        """``{"path", "value"}``."""
        return {"path": self.path, "value": self.value}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one solve gave: a coalition's score and its members (id, name, ...)."""

    score: float
    members: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Relaxation:
    """A change to the request, verified by re-solving: the coalitions it gives."""

    change: tuple[Constraint, ...]
    description: str
    coalitions: int
    best_score: float
    members: tuple[Mapping[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``change`` lists ``{"path", "value"}`` with each new value."""
        return {
            "change": [{"path": c.path, "value": c.relaxed} for c in self.change],
            "description": self.description,
            "coalitions": self.coalitions,
            "best_score": self.best_score,
            "members": [dict(m) for m in self.members],
        }


@dataclass(frozen=True, slots=True)
class Infeasibility:
    """A smallest set of constraints that together admit no coalition, and the verified
    relaxations (none when relaxing them does not help)."""

    constraints: tuple[Constraint, ...]
    reason: str
    relaxations: tuple[Relaxation, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """``{"constraints", "reason", "relaxations"}``."""
        return {
            "constraints": [c.to_dict() for c in self.constraints],
            "reason": self.reason,
            "relaxations": [r.to_dict() for r in self.relaxations],
        }


def relaxable_constraints(initiative: Initiative, complementarity: str) -> list[Constraint]:
    """The hard constraints of ``initiative`` a relaxation may lift, in the order the
    deletion filter tries them (the most often decisive last, so that they stay).

    Parameters
    ----------
    initiative : Initiative
    complementarity : str
        The effective mode (the request's, else the engine's).

    Returns
    -------
    list of Constraint
    """
    constraints = initiative.constraints
    found: list[Constraint] = []
    if complementarity == "strict":
        found.append(
            Constraint(
                "complementarity",
                "strict",
                "prefer",
                "let members that add nothing unique in, at a cost in the score",
            )
        )
    if constraints.max_size < _MAX_SIZE:
        found.append(
            Constraint(
                "constraints.max_size",
                constraints.max_size,
                constraints.max_size + 1,
                f"allow {constraints.max_size + 1} partners",
            )
        )
    if constraints.min_size > 1:
        found.append(
            Constraint(
                "constraints.min_size",
                constraints.min_size,
                1,
                "accept coalitions of any size from 1 partner",
            )
        )
    required = (
        ("required_kinds", {k.value for k in constraints.required_kinds}, "of kind {}"),
        ("required_sectors", {s.value for s in constraints.required_sectors}, "of the {} sector"),
    )
    for name, values, words in required:
        for value in sorted(values):
            found.append(
                Constraint(
                    f"constraints.{name}",
                    value,
                    sorted(values - {value}),
                    f"do not require a partner {words.format(value)}",
                )
            )
    if constraints.require_local_partner and initiative.countries:
        found.append(
            Constraint(
                "constraints.require_local_partner",
                True,
                False,
                "drop the local-partner requirement",
            )
        )
    for org_id in sorted(constraints.include):
        rest = sorted(constraints.include - {org_id})
        found.append(Constraint("constraints.include", org_id, rest, f"do not require {org_id}"))
    return found


def relax(initiative: Initiative, lifted: Sequence[Constraint]) -> Initiative:
    """``initiative`` with every constraint of ``lifted`` relaxed (lists shrink together)."""
    constraints = initiative.constraints
    include = set(constraints.include)
    sectors = set(constraints.required_sectors)
    kinds = set(constraints.required_kinds)
    changes: dict[str, Any] = {}
    complementarity = initiative.complementarity
    for c in lifted:
        if c.path == "complementarity":
            complementarity = c.relaxed
        elif c.path == "constraints.include":
            include.discard(c.value)
        elif c.path == "constraints.required_sectors":
            sectors = {s for s in sectors if s.value != c.value}
        elif c.path == "constraints.required_kinds":
            kinds = {k for k in kinds if k.value != c.value}
        elif c.path == "constraints.max_size":
            changes["max_size"] = max(changes.get("max_size", 0), c.relaxed)
        else:
            changes[c.path.removeprefix("constraints.")] = c.relaxed
    if changes.get("min_size", constraints.min_size) > changes.get(
        "max_size", constraints.max_size
    ):
        changes["min_size"] = changes.get("max_size", constraints.max_size)
    relaxed = dataclasses.replace(
        constraints,
        include=frozenset(include),
        required_sectors=frozenset(sectors),
        required_kinds=frozenset(kinds),
        **changes,
    )
    return dataclasses.replace(initiative, constraints=relaxed, complementarity=complementarity)


def _lift_all(constraint: Constraint) -> Constraint:
    """The widest relaxation of ``constraint`` (the deletion filter's "absent")."""
    if constraint.path == "constraints.max_size":
        return dataclasses.replace(constraint, relaxed=_MAX_SIZE)
    return constraint


def diagnose(
    initiative: Initiative,
    complementarity: str,
    solve: Callable[[Initiative], Sequence[Outcome]],
    *,
    describe: Callable[[Constraint], str | None],
) -> tuple[Infeasibility, ...]:
    """Why ``initiative`` admits no coalition, with relaxations verified by ``solve``.

    Parameters
    ----------
    initiative : Initiative
        A request for which ``solve`` gave nothing.
    complementarity : str
        The effective complementarity mode.
    solve : callable
        Coalitions for a request (best first), as :class:`Outcome`; empty when infeasible.
    describe : callable, keyword-only
        The sentence that says why one constraint alone cannot be met (e.g. "no eligible
        candidate in the target countries (AO) for require_local_partner"), or ``None``.

    Returns
    -------
    tuple of Infeasibility
        One per independent conflict found (at most three); a single entry with no
        constraints when even every relaxation together gives nothing.

    Notes
    -----
    A deletion filter over k relaxable constraints calls ``solve`` k + 1 times per conflict,
    and each relaxation once more: a handful of solves, each bounded like any request.
    """
    candidates = relaxable_constraints(initiative, complementarity)
    everything = [_lift_all(c) for c in candidates]
    if not candidates or not solve(relax(initiative, everything)):
        return (
            Infeasibility(
                (),
                "no eligible candidate can join this lead: every organisation the request "
                "could use is kept out by a gate, an exclusion or a conflict of interest",
            ),
        )
    conflicts: list[list[Constraint]] = []
    lifted: list[Constraint] = []
    while len(conflicts) < _MAX_CONFLICTS:  # the request itself is known to be infeasible
        remaining = [c for c in candidates if c not in lifted]
        conflict = _smallest_conflict(initiative, remaining, lifted, solve)
        if not conflict:
            break
        conflicts.append(conflict)
        lifted.append(conflict[-1])
        if solve(relax(initiative, [_lift_all(c) for c in lifted])):
            break
    results = []
    for position, conflict in enumerate(conflicts):
        others = [c[-1] for k, c in enumerate(conflicts) if k != position]
        relaxations = []
        for constraint in conflict:
            change = (constraint, *others)
            outcomes = list(solve(relax(initiative, change)))
            if not outcomes and constraint.path == "constraints.max_size":
                constraint = _lift_all(constraint)
                constraint = dataclasses.replace(
                    constraint, description=f"allow up to {_MAX_SIZE} partners"
                )
                change = (constraint, *others)
                outcomes = list(solve(relax(initiative, change)))
            if outcomes:
                relaxations.append(
                    Relaxation(
                        change,
                        "; ".join(c.description for c in change),
                        len(outcomes),
                        max(o.score for o in outcomes),
                        outcomes[0].members,
                    )
                )
        results.append(
            Infeasibility(tuple(conflict), _reason(conflict, describe), tuple(relaxations))
        )
    return tuple(results)


def _smallest_conflict(
    initiative: Initiative,
    remaining: Sequence[Constraint],
    lifted: Sequence[Constraint],
    solve: Callable[[Initiative], Sequence[Outcome]],
) -> list[Constraint]:
    """A minimal subset of ``remaining`` that, with ``lifted`` relaxed and every other
    constraint of ``remaining`` relaxed too, still admits no coalition."""
    kept = list(remaining)
    for constraint in list(kept):
        trial = [c for c in kept if c is not constraint]
        dropped = [c for c in remaining if c not in trial]
        if not solve(relax(initiative, [_lift_all(c) for c in (*lifted, *dropped)])):
            kept = trial
    return kept


def _reason(conflict: Sequence[Constraint], describe: Callable[[Constraint], str | None]) -> str:
    """The conflict in words: each constraint's own reason where it has one alone."""
    if len(conflict) == 1:
        said = describe(conflict[0])
        if said:
            return said
    named = ", ".join(f"{c.path.removeprefix('constraints.')} {_value(c.value)}" for c in conflict)
    return f"these constraints together admit no coalition: {named}"


def _value(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)
