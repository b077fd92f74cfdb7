"""Portfolio algorithms over many recommendations: assignment, concentration, gaps, pooling.

Plain data in, plain data out: coalitions are collections of organisation ids, scores are
floats, initiatives are named by their ids. Nothing here runs the recommender; the batch
reports feed it what the recommender returned for every initiative of a portfolio.

Examples
--------
>>> options = [[(("cisco", "itau"), 6.0), (("itau",), 4.0)], [(("cisco",), 5.0)]]
>>> assignment = assign_coalitions(options, max_load=1)
>>> assignment.choice, assignment.total_score
((1, 0), 9.0)
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from matcher.domain.arrays import FloatArray
from matcher.domain.exceptions import ValidationError

__all__ = [
    "Option",
    "Assignment",
    "assign_coalitions",
    "PartnerLoad",
    "partner_concentration",
    "NeedGap",
    "portfolio_gaps",
    "Pool",
    "cross_agency_pools",
    "balance",
]

#: A candidate coalition of one initiative: its members and its score.
Option = tuple[Collection[str], float]


_METHODS = ("auto", "milp", "greedy")
_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Assignment:
    """One coalition (or none) per initiative, with how good the choice is known to be.

    Attributes
    ----------
    choice : tuple of int or None
        Per initiative, the position of the chosen option in its list, or ``None`` when no
        option fits under the load limit.
    assigned : int
        Initiatives that received a coalition.
    total_score : float
        Sum of the chosen options' scores.
    bound : float
        An upper bound on the best total score among assignments of ``assigned``
        initiatives: the MILP's dual bound, or for greedy the linear-programming relaxation.
    gap : float
        ``(bound - total_score) / max(|bound|, 1)``: 0 when the MILP proved optimality.
    method : str
        ``"milp"`` or ``"greedy"``.
    optimal : bool
        Whether ``(assigned, total_score)`` is proven lexicographically optimal.
    loads : Mapping[str, int]
        Chosen coalitions each partner sits in.
    """

    choice: tuple[int | None, ...]
    assigned: int
    total_score: float
    bound: float
    gap: float
    method: str
    optimal: bool
    loads: Mapping[str, int] = field(default_factory=dict, hash=False)


def assign_coalitions(
    options: Sequence[Sequence[Option]],
    max_load: int,
    *,
    method: str = "auto",
    time_limit: float = 60.0,
) -> Assignment:
    """Choose at most one option per initiative so that no partner is in more than
    ``max_load`` chosen coalitions: first as many initiatives as possible, then the largest
    total score.

    With :math:`x_{ij} \\in \\{0, 1\\}` for option :math:`j` of initiative :math:`i`:

    .. math::

        \\max \\sum_{ij} s_{ij} x_{ij} \\quad \\text{s.t.} \\quad \\sum_j x_{ij} \\le 1,
        \\quad \\sum_{ij: p \\in S_{ij}} x_{ij} \\le L \\ \\forall p,
        \\quad \\sum_{ij} x_{ij} = n^*

    where :math:`n^*` is the largest number of initiatives that can be served at once (a
    first MILP, skipped when greedy already serves them all).

    Parameters
    ----------
    options : sequence of sequences of (members, score)
        Per initiative, its candidate coalitions (e.g. its top-k recommendations).
    max_load : int
        The most chosen coalitions any one partner may sit in, at least 1.
    method : {"auto", "milp", "greedy"}, default "auto"
        ``"milp"``: exact (scipy.optimize.milp, HiGHS); ``"greedy"``: options by decreasing
        score, each taken when its initiative is still free and its partners have room;
        ``"auto"``: the MILP, and greedy if the MILP finds no solution within
        ``time_limit``.
    time_limit : float, default 60.0
        Seconds allowed to each MILP.

    Returns
    -------
    Assignment

    Raises
    ------
    ValidationError
        If ``max_load`` is below 1 or ``method`` is unknown.

    Examples
    --------
    Cisco can join one coalition only: the first initiative takes its second choice so that
    the second initiative gets Cisco.

    >>> options = [[(("cisco", "itau"), 6.0), (("itau",), 4.0)], [(("cisco",), 5.0)]]
    >>> exact = assign_coalitions(options, max_load=1)
    >>> exact.choice, exact.total_score, exact.optimal
    ((1, 0), 9.0, True)
    >>> greedy = assign_coalitions(options, max_load=1, method="greedy")
    >>> greedy.choice, greedy.assigned, greedy.total_score
    ((0, None), 1, 6.0)

    Notes
    -----
    The MILP has one binary per option, one row per initiative and one per partner. Greedy
    sorts the options once: :math:`O(m \\log m)` for :math:`m` options in all. Its ``gap``
    compares it with the LP relaxation of the score problem, an upper bound on every
    assignment's score.
    """
    if isinstance(max_load, bool) or not isinstance(max_load, int) or max_load < 1:
        raise ValidationError(
            f"max_load must be an integer of at least 1, got {max_load!r}",
            field="max_load",
            value=max_load,
        )
    if method not in _METHODS:
        raise ValidationError(
            f"Unknown assignment method {method!r}; expected one of: {', '.join(_METHODS)}",
            field="method",
            value=method,
        )
    problem = _AssignmentProblem.of(options)
    if not problem.n_options:
        nothing = [None] * problem.n_initiatives
        solver = "greedy" if method == "greedy" else "milp"
        return _result(problem, nothing, max_load, solver, 0.0, optimal=True)
    greedy_choice = _greedy(problem, max_load)
    if method != "greedy":
        exact = _milp(problem, max_load, greedy_choice, time_limit)
        if exact is not None:
            return exact
    return _result(problem, greedy_choice, max_load, "greedy", _lp_bound(problem, max_load))


@dataclass(frozen=True, slots=True)
class _AssignmentProblem:
    """Options flattened: ``owner[k]`` is option k's initiative, ``position[k]`` its rank."""

    n_initiatives: int
    owner: tuple[int, ...]
    position: tuple[int, ...]
    members: tuple[tuple[str, ...], ...]
    scores: tuple[float, ...]
    partners: tuple[str, ...]

    @property
    def n_options(self) -> int:
        return len(self.owner)

    @classmethod
    def of(cls, options: Sequence[Sequence[Option]]) -> _AssignmentProblem:
        owner: list[int] = []
        position: list[int] = []
        members: list[tuple[str, ...]] = []
        scores: list[float] = []
        for i, initiative_options in enumerate(options):
            for j, (ids, value) in enumerate(initiative_options):
                owner.append(i)
                position.append(j)
                members.append(tuple(sorted(set(ids))))
                scores.append(float(value))
        partners = tuple(sorted({p for ids in members for p in ids}))
        return cls(
            len(options), tuple(owner), tuple(position), tuple(members), tuple(scores), partners
        )

    def rows(self, max_load: int) -> tuple[sp.csr_matrix, FloatArray, FloatArray]:
        """Constraint rows: one per initiative (<= 1), one per partner (<= max_load)."""
        column = {p: k for k, p in enumerate(self.partners)}
        row_index: list[int] = []
        col_index: list[int] = []
        for k, i in enumerate(self.owner):
            row_index.append(i)
            col_index.append(k)
            for partner in self.members[k]:
                row_index.append(self.n_initiatives + column[partner])
                col_index.append(k)
        n_rows = self.n_initiatives + len(self.partners)
        matrix = sp.csr_matrix(
            (np.ones(len(row_index)), (row_index, col_index)), shape=(n_rows, self.n_options)
        )
        upper = np.concatenate(
            [np.ones(self.n_initiatives), np.full(len(self.partners), float(max_load))]
        )
        return matrix, np.full(n_rows, -np.inf), upper


def _greedy(problem: _AssignmentProblem, max_load: int) -> list[int | None]:
    """Options by decreasing score; each taken if its initiative is free and it fits."""
    choice: list[int | None] = [None] * problem.n_initiatives
    load: Counter[str] = Counter()
    order = sorted(range(problem.n_options), key=lambda k: (-problem.scores[k], k))
    for k in order:
        i = problem.owner[k]
        if choice[i] is not None:
            continue
        if all(load[p] < max_load for p in problem.members[k]):
            choice[i] = k
            load.update(problem.members[k])
    return choice


def _milp(
    problem: _AssignmentProblem,
    max_load: int,
    greedy_choice: Sequence[int | None],
    time_limit: float,
) -> Assignment | None:
    """Lexicographic optimum (count, then score), or ``None`` if HiGHS found no solution."""
    matrix, lower, upper = problem.rows(max_load)
    n = problem.n_options
    integrality = np.ones(n)
    bounds = Bounds(np.zeros(n), np.ones(n))
    options = {"time_limit": time_limit, "mip_rel_gap": 0.0}
    served = sum(k is not None for k in greedy_choice)
    proven = True
    if served < problem.n_initiatives:
        first = milp(
            c=-np.ones(n),
            constraints=LinearConstraint(matrix, lower, upper),
            integrality=integrality,
            bounds=bounds,
            options=options,
        )
        if first.x is None:
            return None
        served = max(served, round(-float(first.fun)))
        proven = first.status == 0
    counting = sp.vstack([matrix, sp.csr_matrix(np.ones((1, n)))], format="csr")
    second = milp(
        c=-np.asarray(problem.scores),
        constraints=LinearConstraint(
            counting, np.append(lower, float(served)), np.append(upper, float(served))
        ),
        integrality=integrality,
        bounds=bounds,
        options=options,
    )
    if second.x is None:
        return None
    chosen: list[int | None] = [None] * problem.n_initiatives
    for k in np.flatnonzero(np.asarray(second.x) > 0.5).tolist():
        chosen[problem.owner[k]] = k
    dual = getattr(second, "mip_dual_bound", None)
    bound = -float(dual) if dual is not None and math.isfinite(dual) else -float(second.fun)
    return _result(problem, chosen, max_load, "milp", bound, optimal=proven and second.status == 0)


def _lp_bound(problem: _AssignmentProblem, max_load: int) -> float:
    """The LP relaxation of the score problem: no assignment scores more."""
    if not problem.n_options:
        return 0.0
    matrix, _, upper = problem.rows(max_load)
    relaxed = linprog(
        c=-np.asarray(problem.scores),
        A_ub=matrix,
        b_ub=upper,
        bounds=(0.0, 1.0),
        method="highs",
    )
    return -float(relaxed.fun) if relaxed.status == 0 else math.inf


def _result(
    problem: _AssignmentProblem,
    chosen: Sequence[int | None],
    max_load: int,
    method: str,
    bound: float,
    *,
    optimal: bool = False,
) -> Assignment:
    loads: Counter[str] = Counter()
    for k in chosen:
        if k is not None:
            loads.update(problem.members[k])
    if any(value > max_load for value in loads.values()):  # pragma: no cover - a solver bug
        raise AssertionError("assignment exceeds max_load")
    total = math.fsum(problem.scores[k] for k in chosen if k is not None)
    bound = max(bound, total)
    gap = 0.0 if optimal else (bound - total) / max(abs(bound), 1.0)
    return Assignment(
        choice=tuple(None if k is None else problem.position[k] for k in chosen),
        assigned=sum(k is not None for k in chosen),
        total_score=total,
        bound=bound,
        gap=gap if gap > _TOLERANCE else 0.0,
        method=method,
        optimal=optimal,
        loads=MappingProxyType(dict(sorted(loads.items()))),
    )


@dataclass(frozen=True, slots=True)
class PartnerLoad:
    """How often one partner is recommended across a portfolio."""

    partner: str
    initiatives: int
    first_choice: int
    share: float
    over_threshold: bool


def partner_concentration(
    recommended: Mapping[str, Sequence[Collection[str]]], *, threshold: float = 0.25
) -> list[PartnerLoad]:
    """Count, for every partner, the initiatives whose recommendations include it.

    ``share`` is that count over the initiatives with at least one coalition; a share above
    ``threshold`` means many initiatives would call on the same partner at once.

    Parameters
    ----------
    recommended : mapping of initiative id to a sequence of coalitions
        Each initiative's coalitions, best first; a coalition is a collection of ids.
    threshold : float, default 0.25
        Share in (0, 1] above which a partner is flagged.

    Returns
    -------
    list of PartnerLoad
        Most recommended first (then most often first choice, then by id).

    Raises
    ------
    ValidationError
        If ``threshold`` is not in (0, 1].

    Examples
    --------
    >>> loads = partner_concentration(
    ...     {"a": [["cisco", "itau"], ["cisco"]], "b": [["cisco"]], "c": [["ngo"]], "d": []},
    ...     threshold=0.5)
    >>> [(p.partner, p.initiatives, p.first_choice, round(p.share, 2), p.over_threshold)
    ...  for p in loads]
    [('cisco', 2, 2, 0.67, True), ('itau', 1, 1, 0.33, False), ('ngo', 1, 1, 0.33, False)]

    Notes
    -----
    Linear in the number of seats.
    """
    if not 0 < threshold <= 1:
        raise ValidationError(
            f"threshold must be in (0, 1], got {threshold!r}", field="threshold", value=threshold
        )
    anywhere: Counter[str] = Counter()
    first: Counter[str] = Counter()
    served = 0
    for coalitions in recommended.values():
        if not coalitions:
            continue
        served += 1
        anywhere.update({p for coalition in coalitions for p in coalition})
        first.update(set(coalitions[0]))
    loads = [
        PartnerLoad(
            partner=partner,
            initiatives=count,
            first_choice=first[partner],
            share=count / served,
            over_threshold=count / served > threshold,
        )
        for partner, count in anywhere.items()
    ]
    loads.sort(key=lambda load: (-load.initiatives, -load.first_choice, load.partner))
    return loads


@dataclass(frozen=True, slots=True)
class NeedGap:
    """A need some initiatives ask for that no candidate covers there."""

    need: str
    asked_by: tuple[str, ...]
    uncovered_in: tuple[str, ...]
    best: float

    @property
    def everywhere(self) -> bool:
        """Whether no initiative asking for the need finds anyone to cover it."""
        return self.uncovered_in == self.asked_by


def portfolio_gaps(
    availability: Mapping[str, Mapping[str, float]], *, below: float = 0.0
) -> list[NeedGap]:
    """Needs that no candidate covers, per need code across the portfolio.

    Parameters
    ----------
    availability : mapping of initiative id to a mapping of need code to coverage
        For each initiative and each of its needs, the best coverage (0-1) any eligible
        candidate offers.
    below : float, default 0.0
        A need is uncovered in an initiative when its availability is at most ``below``.

    Returns
    -------
    list of NeedGap
        Only needs uncovered somewhere: those uncovered everywhere first, then by the number
        of initiatives concerned, then by code.

    Examples
    --------
    >>> gaps = portfolio_gaps({"a": {"funding": 1.0, "media_reach": 0.0},
    ...                        "b": {"funding": 0.0, "media_reach": 0.0}})
    >>> [(g.need, g.uncovered_in, g.everywhere) for g in gaps]
    [('media_reach', ('a', 'b'), True), ('funding', ('b',), False)]

    Notes
    -----
    Linear in the number of (initiative, need) pairs.
    """
    asked: dict[str, list[str]] = defaultdict(list)
    uncovered: dict[str, list[str]] = defaultdict(list)
    best: dict[str, float] = defaultdict(float)
    for initiative, needs in availability.items():
        for need, value in needs.items():
            asked[need].append(initiative)
            best[need] = max(best[need], float(value))
            if value <= below:
                uncovered[need].append(initiative)
    gaps = [
        NeedGap(need, tuple(sorted(asked[need])), tuple(sorted(ids)), best[need])
        for need, ids in uncovered.items()
    ]
    gaps.sort(key=lambda gap: (not gap.everywhere, -len(gap.uncovered_in), gap.need))
    return gaps


@dataclass(frozen=True, slots=True)
class Pool:
    """Initiatives of different leads that call on the same partners."""

    partners: tuple[str, ...]
    initiatives: tuple[str, ...]
    leads: tuple[str, ...]


def cross_agency_pools(
    leads: Mapping[str, str],
    partners: Mapping[str, Collection[str]],
    *,
    min_leads: int = 2,
) -> list[Pool]:
    """Group initiatives of different lead entities that need the same partners.

    For every partner, the initiatives calling on it; partners called on by exactly the same
    initiatives are listed together, and a group is kept when those initiatives have at
    least ``min_leads`` distinct leads: the leads could approach the partners jointly.

    Parameters
    ----------
    leads : mapping of initiative id to lead id
    partners : mapping of initiative id to the partners it calls on
    min_leads : int, default 2

    Returns
    -------
    list of Pool
        Largest groups first (initiatives, then partners), then by partner ids.

    Examples
    --------
    >>> pools = cross_agency_pools(
    ...     {"edu": "unicef", "ict": "undp", "health": "unicef"},
    ...     {"edu": {"cisco", "itau"}, "ict": {"cisco", "itau"}, "health": {"itau"}})
    >>> for pool in pools:
    ...     print(pool.partners, pool.initiatives, pool.leads)
    ('itau',) ('edu', 'health', 'ict') ('undp', 'unicef')
    ('cisco',) ('edu', 'ict') ('undp', 'unicef')

    Notes
    -----
    Linear in the number of (initiative, partner) pairs, plus sorting.
    """
    callers: dict[str, set[str]] = defaultdict(set)
    for initiative, wanted in partners.items():
        for partner in wanted:
            callers[partner].add(initiative)
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for partner, calling in callers.items():
        groups[tuple(sorted(calling))].append(partner)
    pools = []
    for group_initiatives, group in groups.items():
        distinct = tuple(sorted({leads[i] for i in group_initiatives}))
        if len(distinct) >= min_leads:
            pools.append(Pool(tuple(sorted(group)), group_initiatives, distinct))
    pools.sort(key=lambda pool: (-len(pool.initiatives), -len(pool.partners), pool.partners))
    return pools


def balance(
    coalitions: Iterable[Collection[str]],
    attribute: Mapping[str, str | None],
    *,
    missing: str = "unknown",
) -> dict[str, int]:
    """Seats per attribute value (a sector, a region) over many coalitions.

    Parameters
    ----------
    coalitions : iterable of collections of ids
    attribute : mapping of id to value
        ``None`` or an id not in the mapping counts as ``missing``.
    missing : str, default "unknown"

    Returns
    -------
    dict
        Value to number of seats, most frequent first, then by value.

    Examples
    --------
    >>> balance([["itau", "cenpec"], ["itau"]], {"itau": "private", "cenpec": "civil_society"})
    {'private': 2, 'civil_society': 1}
    """
    counts: Counter[str] = Counter()
    for coalition in coalitions:
        counts.update(attribute.get(member) or missing for member in coalition)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
