"""Ranks candidates for one more seat in a partial coalition, by gain or by affinity and gain.

The gain of a candidate is the exact change of the objective when it joins the locked
members (:func:`~matcher.engine.objective.evaluate` with and without it). Without a learned
model the candidates are ranked by gain (:func:`rank_by_gain`); with one, by the learned
log-odds of joining plus a weight times the gain (:func:`rank_by_affinity`). Ties go to the
smaller organisation id.

Examples
--------
>>> from matcher.engine.objective import Problem
>>> problem = Problem.toy([[0.9], [0.4], [0.0]], [1.0])
>>> _, seats = rank_by_gain(problem, [], range(3), ids=["a", "b", "c"], count=2)
>>> # 4 x coverage + sector diversity 1 x H(1) / 5 - size 0.5
>>> [(s.slot, round(s.gain, 3)) for s in seats]
[(0, 3.3), (1, 1.3)]
>>> _, seats = rank_by_affinity(problem, [], [(1, 2.0), (0, 0.0)], weight=0.25,
...                             ids=["a", "b", "c"], count=2)
>>> [(s.slot, s.affinity) for s in seats]
[(1, 2.0), (0, 0.0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from matcher.engine.objective import TERMS, Problem, evaluate
from matcher.engine.solvers import Rules

__all__ = ["Completion", "Seat", "rank_by_gain", "rank_by_affinity", "open_slots"]


@dataclass(frozen=True, slots=True)
class Completion:
    """A candidate for one more seat in a partial coalition."""

    id: str
    gain: float
    score_parts: Mapping[str, float]
    covers: Mapping[str, float]
    path_to_lead: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Seat:
    """A ranked candidate: its slot, its gain, the objective's terms with it seated, and
    (ranked by affinity) its log-odds of joining."""

    slot: int
    gain: float
    parts: dict[str, float]
    affinity: float | None = None

    def score_parts(self, base_parts: Mapping[str, float]) -> dict[str, float]:
        """The change of each term of the objective when the candidate joins, rounded.

        Parameters
        ----------
        base_parts : mapping of str to float
            The terms without the candidate.

        Returns
        -------
        dict of str to float
            Per term of :data:`~matcher.engine.objective.TERMS`, rounded to 9 digits.
        """
        return {t: round(self.parts[t] - base_parts[t], 9) for t in TERMS}


def open_slots(problem: Problem, rules: Rules, current: Sequence[int]) -> list[int]:
    """The slots that may join ``current``: not in it, in no conflict with a member of it.

    Parameters
    ----------
    problem : Problem
    rules : Rules
        Its conflicting pairs count.
    current : sequence of int
        Slots of the locked members.

    Returns
    -------
    list of int
        Ascending.
    """
    blocked = {b for a, b in rules.conflicts if a in current} | {
        a for a, b in rules.conflicts if b in current
    }
    return [c for c in range(problem.size) if c not in current and c not in blocked]


def rank_by_gain(
    problem: Problem,
    current: Sequence[int],
    candidates: Iterable[int],
    *,
    ids: Sequence[str],
    count: int,
) -> tuple[dict[str, float], list[Seat]]:
    """The ``count`` candidates of largest gain when joining ``current``.

    Parameters
    ----------
    problem : Problem
    current : sequence of int
        Slots of the locked members.
    candidates : iterable of int
        Slots to rank.
    ids : sequence of str, keyword-only
        The organisation id of each slot, to break ties.
    count : int, keyword-only

    Returns
    -------
    base_parts : dict of str to float
        The objective's terms of ``current``.
    seats : list of Seat
        Best first.
    """
    base_parts, seats = _seats(problem, current, [(c, None) for c in candidates])
    seats.sort(key=lambda seat: (-seat.gain, ids[seat.slot]))
    return base_parts, seats[:count]


def rank_by_affinity(
    problem: Problem,
    current: Sequence[int],
    joiners: Sequence[tuple[int, float]],
    *,
    weight: float,
    ids: Sequence[str],
    count: int,
) -> tuple[dict[str, float], list[Seat]]:
    """The ``count`` likely joiners of largest log-odds + ``weight`` × gain.

    .. math:: \\operatorname{logit} P(\\text{joins}) + w \\, \\Delta f

    Parameters
    ----------
    problem, current, ids, count
        As for :func:`rank_by_gain`.
    joiners : sequence of (slot, log-odds)
        The candidates, with their learned log-odds of joining.
    weight : float, keyword-only
        :math:`w`.

    Returns
    -------
    base_parts, seats
        As :func:`rank_by_gain` returns them, each seat with its ``affinity``.
    """
    base_parts, seats = _seats(problem, current, joiners)
    seats.sort(key=lambda seat: (-((seat.affinity or 0.0) + weight * seat.gain), ids[seat.slot]))
    return base_parts, seats[:count]


def _seats(
    problem: Problem, current: Sequence[int], candidates: Iterable[tuple[int, float | None]]
) -> tuple[dict[str, float], list[Seat]]:
    """The objective's terms of ``current``, and each candidate's seat: its gain when
    joining and its terms then, with its affinity (if any) as given."""
    base_parts = evaluate(problem, current)
    base = sum(base_parts.values())
    seats = []
    for slot, affinity in candidates:
        parts = evaluate(problem, [*current, slot])
        seats.append(Seat(slot, sum(parts.values()) - base, parts, affinity))
    return base_parts, seats
