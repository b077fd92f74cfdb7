r"""The coalition objective: a weighted sum of terms taken from the report, each explainable.

For a coalition :math:`S` of partners (the lead :math:`\ell` is always there; its own
capabilities count as a baseline) the score is

.. math::

    f(S) = \sum_t \lambda_t \, F_t(S)

with the terms :math:`F_t` (``score_parts`` reports :math:`\lambda_t F_t(S)`, so the parts add
up to the score exactly):

``need_coverage`` (§80 complementary skills; facility location)
    :math:`\sum_j w_j \max(b_j, \max_{i \in S} s_{ij}) / \sum_j w_j`, each need :math:`j` of
    weight :math:`w_j` counted at the best member's coverage :math:`s_{ij}` (capability
    strength × taxonomy credit), :math:`b_j` the lead's own.
``activity_coverage`` (§14-15, §88: strategic partnerships span several activity types)
    the mean over the wanted activity types of the best member's experience with it.
``sector_diversity`` (§22 sectoral balance; §80 "divers secteurs")
    :math:`\sum_{\sigma} H(n_\sigma(S \cup \{\ell\})) / 5`, :math:`n_\sigma` the members of
    sector :math:`\sigma`, :math:`H(n) = \sum_{k \le n} 1/k` (concave: the second member of a
    sector adds half the first).
``geographic_balance`` (§22 geographic balance)
    the same over the five M49 regions.
``local_partner`` (§76 local ownership; §80 links with local decision-making)
    1 if a partner is in a target country.
``geographic_fit`` (§76, §80: "un engagement à satisfaire les exigences locales")
    :math:`\sum_{i \in S} g_i / m`, :math:`g_i` 1 for a partner in a target country, 0.5 in
    a target region or without a country (a global body), 0 elsewhere; 0 when the initiative
    names no country.
``resource_mix`` (§80: economic or political power, moral authority, development expertise)
    the share of resource kinds the coalition brings.
``interest_alignment`` (§74 convergence of interests)
    :math:`\sum_{i \in S} a_i / m`, :math:`a_i` the member's share of the initiative's themes
    (SDG overlap earns half), plus 0.25 for a company with a recorded business motivation;
    :math:`m` the maximum size.
``mission_fit`` (§74, §80: partners whose past work is the initiative's own)
    :math:`\sum_{i \in S} c_i / m`, :math:`c_i = \max(0, \cos(\mathbf{p}_i, \mathbf{q}))` the
    cosine of the member's text profile (:mod:`matcher.engine.text`) with the initiative's
    title and description; 0 when either has no words.
``trust`` (§80 shared vision; warm introductions)
    :math:`\sum_{i \in S} p_i / m`, :math:`p_i \in [0, 1]` the member's personalised PageRank
    proximity to the lead, scaled by the pool's largest.
``cohesion`` (trust among members)
    :math:`\sum_{i < k \in S} t_{ik} / m`, :math:`t_{ik} \in [0, 1]` their past ties.
``novelty`` (§21 "quelque chose de neuf")
    :math:`\sum_{i \in S} [i \text{ never worked with the lead}] / m`.
``track_record`` (§84 partnerships continued, scaled up or abandoned)
    :math:`\sum_{i \in S} r_i / m`, :math:`r_i \in [-1, 1]` from its partnerships' outcomes.
``size_cost`` (§10, §80: coordination has a cost)
    :math:`-|S|`.
``flag_penalty`` (§68 integrity: yellow flags are allowed but cost)
    :math:`-\sum_{i \in S} y_i`, :math:`y_i = 1` for a yellow flag.
``redundancy`` (§80 complementary skills, as a preference)
    :math:`-|\{i \in S \setminus F : i \text{ is the sole best holder of no column}\}|`:
    each member (other than the required ones :math:`F`) that is not alone in bringing the
    coalition's best value of some need or wanted activity type, above the lead's own, costs
    one unit. With no needs and no activity types, nobody is redundant. Its weight is 0 when
    complementarity is ``off`` or ``strict`` (then a hard rule of the solvers instead).
``rejected`` (the Partnerships Office's decisions feed the engine)
    :math:`-\sum_{i \in S} x_i`, :math:`x_i = 1` for a member a reviewer rejected before in
    a coalition for the same lead (0 for everyone when the request set-up has no decisions).

Coverage terms, diversity terms and the mix term are monotone submodular; the per-member terms
are modular; ``cohesion`` is supermodular (pairs); ``redundancy`` is never positive, so bounds
that leave it out stay upper bounds. :class:`Weights` holds the defaults.

Examples
--------
>>> import numpy as np
>>> problem = Problem.toy(cover=[[1.0, 0.0], [0.0, 0.8], [0.5, 0.5]], need_weights=[1.0, 1.0])
>>> parts = evaluate(problem, [0, 1])
>>> round(parts["need_coverage"], 3), sum(parts.values()) == score(problem, [0, 1])
(3.6, True)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np

# N_SECTORS, N_REGIONS: sectors and M49 regions counted by the diversity terms
from matcher.domain.arrays import BoolArray, FloatArray, IntArray
from matcher.engine.compiled import (
    N_REGIONS,
    N_SECTORS,
    PackedProblem,
    objective_parts,
    redundant_flags,
)

__all__ = [
    "Weights",
    "TERMS",
    "Problem",
    "evaluate",
    "score",
    "harmonic",
    "sole_best",
    "redundant_members",
    "N_SECTORS",
    "N_REGIONS",
    "pack_problem",
]


@dataclass(frozen=True, slots=True)
class Weights:
    """The weight :math:`\\lambda_t` of each term (per unit of the term).

    Need coverage weighs most: a coalition exists to cover the initiative's needs. The size
    cost is per member: a partner must add at least that much to be worth the coordination.
    ``rejected`` is what each member a reviewer rejected before for the same lead costs
    (twice a yellow flag; 0 ignores the reviewers' rejections).
    """

    need_coverage: float = 4.0
    activity_coverage: float = 1.5
    sector_diversity: float = 1.0
    geographic_balance: float = 0.25
    local_partner: float = 1.0
    geographic_fit: float = 0.75
    resource_mix: float = 0.5
    interest_alignment: float = 1.0
    mission_fit: float = 2.0
    trust: float = 0.75
    cohesion: float = 0.25
    novelty: float = 0.25
    track_record: float = 0.5
    size_cost: float = 0.5
    flag_penalty: float = 0.5
    redundancy: float = 0.5
    rejected: float = 1.0


#: The terms, in the order ``score_parts`` lists them.
TERMS: tuple[str, ...] = tuple(f.name for f in fields(Weights))


def harmonic(count: int | IntArray) -> FloatArray:
    """:math:`H(n) = 1 + 1/2 + ... + 1/n`, the concave count credit (``H(0) = 0``).

    >>> harmonic(np.array([0, 1, 2, 3])).round(3).tolist()
    [0.0, 1.0, 1.5, 1.833]
    """
    counts = np.asarray(count, dtype=np.int64)
    table = _HARMONIC
    if counts.size and int(counts.max()) >= table.size:
        table = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, int(counts.max()) + 1))])
    result: FloatArray = table[counts]
    return result


_HARMONIC: FloatArray = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, 129))])


@dataclass(frozen=True, slots=True)
class Problem:
    """One initiative's objective over a candidate pool of ``n`` organisations.

    Arrays are indexed by pool position. ``base_*`` hold what the lead (and any fixed member
    outside the pool) already brings.
    """

    cover: FloatArray  # (n, needs) s_ij in [0, 1]
    need_weights: FloatArray  # (needs,)
    base_cover: FloatArray  # (needs,)
    activity: FloatArray  # (n, wanted activity types)
    base_activity: FloatArray  # (wanted,)
    sector: IntArray  # (n,) 0..4
    base_sector_counts: IntArray  # (5,)
    region: IntArray  # (n,) 0..4, -1 unknown
    base_region_counts: IntArray  # (5,)
    local: BoolArray  # (n,)
    wants_local: bool
    fit: FloatArray  # (n,) g_i
    resources: BoolArray  # (n, R)
    base_resources: BoolArray  # (R,)
    alignment: FloatArray  # (n,) a_i
    proximity: FloatArray  # (n,) p_i
    ties: FloatArray  # (n, n) t_ik in [0, 1], symmetric, zero diagonal (dense: n is small)
    novel: FloatArray  # (n,) 1 if never worked with the lead
    record: FloatArray  # (n,) r_i
    yellow: FloatArray  # (n,) 1 for a yellow flag
    max_size: int
    weights: Weights = field(default_factory=Weights)
    exempt: BoolArray | None = None  # (n,) required members: never counted redundant
    mission: FloatArray | None = None  # (n,) c_i; None when the request has no words
    rejected: FloatArray | None = None  # (n,) x_i, 1 if rejected before for this lead

    @property
    def size(self) -> int:
        """Number of candidates."""
        return int(self.cover.shape[0])

    def modular(self) -> FloatArray:
        """The per-member (modular) part of the score of each candidate, weighted."""
        w, m = self.weights, float(self.max_size)
        result: FloatArray = (
            w.geographic_fit * self.fit / m
            + w.interest_alignment * self.alignment / m
            + w.trust * self.proximity / m
            + w.novelty * self.novel / m
            + w.track_record * self.record / m
            - w.size_cost
            - w.flag_penalty * self.yellow
        )
        if self.mission is not None:
            result = result + w.mission_fit * self.mission / m
        if self.rejected is not None:
            result = result - w.rejected * self.rejected
        return result

    @classmethod
    def toy(
        cls,
        cover: Sequence[Sequence[float]],
        need_weights: Sequence[float],
        *,
        max_size: int = 3,
        weights: Weights | None = None,
    ) -> Problem:
        """A problem with only need coverage non-trivial (for examples and tests)."""
        matrix = np.asarray(cover, dtype=np.float64)
        n, m = matrix.shape
        return cls(
            cover=matrix,
            need_weights=np.asarray(need_weights, dtype=np.float64),
            base_cover=np.zeros(m),
            activity=np.zeros((n, 0)),
            base_activity=np.zeros(0),
            sector=np.zeros(n, dtype=np.int64),
            base_sector_counts=np.zeros(N_SECTORS, dtype=np.int64),
            region=np.full(n, -1, dtype=np.int64),
            base_region_counts=np.zeros(N_REGIONS, dtype=np.int64),
            local=np.zeros(n, dtype=bool),
            wants_local=False,
            fit=np.zeros(n),
            resources=np.zeros((n, 0), dtype=bool),
            base_resources=np.zeros(0, dtype=bool),
            alignment=np.zeros(n),
            proximity=np.zeros(n),
            ties=np.zeros((n, n)),
            novel=np.zeros(n),
            record=np.zeros(n),
            yellow=np.zeros(n),
            max_size=max_size,
            weights=weights or Weights(),
        )


def sole_best(problem: Problem, members: Sequence[int]) -> tuple[FloatArray, BoolArray]:
    """The members' values per column (needs, then activity types) and where each member
    alone holds the coalition's best value, above the lead's own (ties within 1e-12 share).

    >>> problem = Problem.toy(cover=[[1.0, 0.0], [0.5, 0.5]], need_weights=[1, 1])
    >>> sole_best(problem, [0, 1])[1].tolist()
    [[True, False], [False, True]]
    """
    chosen = np.asarray(members, dtype=np.int64)
    values = np.hstack([problem.cover[chosen], problem.activity[chosen]])
    if values.shape[1] == 0 or chosen.size == 0:
        return values, np.zeros(values.shape, dtype=bool)
    baseline = np.concatenate([problem.base_cover, problem.base_activity])
    best = values.max(axis=0)
    at_best = values >= best - 1e-12
    sole: BoolArray = at_best & (at_best.sum(axis=0) == 1) & (best > baseline + 1e-12)
    return values, sole


def redundant_members(problem: Problem, members: Sequence[int]) -> list[int]:
    """The members (not exempt) that are the sole best holder of no need or activity type.

    A member is needed when, for some need or wanted activity type, it alone holds the
    coalition's best value and that value beats the lead's own: removing it lowers that
    column. With no columns at all, nobody is redundant.

    >>> problem = Problem.toy(cover=[[1.0, 0.0], [0.5, 0.5], [1.0, 0.2]], need_weights=[1, 1])
    >>> redundant_members(problem, [0, 1]), redundant_members(problem, [0, 2])
    ([], [0])
    """
    chosen = np.asarray(members, dtype=np.int64)
    flags = redundant_flags(
        _columns(problem), _baseline(problem), _exempt(problem), chosen.reshape(-1)
    )
    return [int(i) for i, flag in zip(chosen.tolist(), flags.tolist(), strict=True) if flag]


def evaluate(problem: Problem, members: Sequence[int]) -> dict[str, float]:
    """The weighted value of every term for the coalition ``members`` (pool positions).

    The terms are summed by one compiled loop
    (:func:`matcher.engine.compiled.objective_parts`): the explanations evaluate
    every coalition once per member, so a dozen numpy calls per evaluation added up.

    Returns
    -------
    dict of str to float
        One entry per term of :data:`TERMS`, in that order; they add up to
        :func:`score`.
    """
    p = problem
    n = p.size
    mission = p.mission
    parts = objective_parts(
        np.ascontiguousarray(p.cover, dtype=np.float64),
        np.ascontiguousarray(p.need_weights, dtype=np.float64),
        np.ascontiguousarray(p.activity, dtype=np.float64),
        _columns(p),
        _baseline(p),
        np.ascontiguousarray(p.sector, dtype=np.int64),
        np.ascontiguousarray(p.base_sector_counts, dtype=np.int64),
        np.ascontiguousarray(p.region, dtype=np.int64),
        np.ascontiguousarray(p.base_region_counts, dtype=np.int64),
        np.ascontiguousarray(p.local, dtype=np.bool_),
        np.ascontiguousarray(p.resources, dtype=np.bool_).reshape(n, p.base_resources.size),
        np.ascontiguousarray(p.base_resources, dtype=np.bool_),
        np.ascontiguousarray(
            np.vstack(
                [
                    p.fit,
                    p.alignment,
                    mission if mission is not None else np.zeros(n),
                    p.proximity,
                    p.novel,
                    p.record,
                    p.yellow,
                    p.rejected if p.rejected is not None else np.zeros(n),
                ]
            ),
            dtype=np.float64,
        ),
        np.ascontiguousarray(p.ties, dtype=np.float64),
        _exempt(p),
        _weight_vector(p.weights),
        p.wants_local,
        mission is not None,
        p.rejected is not None,
        float(p.max_size),
        np.asarray(members, dtype=np.int64).reshape(-1),
    )
    values = dict(zip(_PART_ORDER, parts.tolist(), strict=True))
    return {term: values[term] + 0.0 for term in TERMS}


def score(problem: Problem, members: Sequence[int]) -> float:
    """:math:`f(S)`: the sum of :func:`evaluate`'s parts."""
    return float(sum(evaluate(problem, members).values()))


def pack_problem(problem: Problem) -> PackedProblem:
    """``problem`` as the compiled loops of :mod:`matcher.engine.compiled` take it: one copy
    of its columns (needs, then wanted activity types), its weights per unit.

    >>> packed = pack_problem(Problem.toy(cover=[[1.0, 0.0], [0.0, 0.8]], need_weights=[1, 1]))
    >>> packed.columns.shape, round(packed.score([0, 1]), 6) == round(score(Problem.toy(
    ...     cover=[[1.0, 0.0], [0.0, 0.8]], need_weights=[1, 1]), [0, 1]), 6)
    ((2, 2), True)
    """
    w = problem.weights
    n, needs = problem.cover.shape
    activities = problem.activity.shape[1]
    total = float(problem.need_weights.sum()) if needs else 0.0
    share = problem.need_weights / total if total > 0 else np.zeros(needs)
    column_weights = np.concatenate(
        [w.need_coverage * share, np.full(activities, w.activity_coverage / max(activities, 1))]
    )
    resources = problem.base_resources.size
    weights = np.array(
        [
            w.sector_diversity / N_SECTORS,
            w.geographic_balance / N_REGIONS,
            w.local_partner,
            w.resource_mix / resources if resources else 0.0,
            w.cohesion / problem.max_size,
            w.redundancy,
            1.0 if problem.wants_local else 0.0,
        ]
    )
    return PackedProblem(
        columns=np.ascontiguousarray(np.hstack([problem.cover, problem.activity]), np.float64),
        column_weights=column_weights.astype(np.float64),
        cover_weights=np.concatenate([problem.need_weights, np.ones(activities)]).astype(
            np.float64
        ),
        base=np.concatenate([problem.base_cover, problem.base_activity]).astype(np.float64),
        modular=np.ascontiguousarray(problem.modular(), np.float64),
        sector=np.ascontiguousarray(problem.sector, np.int64),
        base_sectors=np.ascontiguousarray(problem.base_sector_counts, np.int64),
        region=np.ascontiguousarray(problem.region, np.int64),
        base_regions=np.ascontiguousarray(problem.base_region_counts, np.int64),
        local=np.ascontiguousarray(problem.local, np.bool_),
        resources=np.ascontiguousarray(problem.resources.reshape(n, resources), np.bool_),
        base_resources=np.ascontiguousarray(problem.base_resources, np.bool_),
        ties=np.ascontiguousarray(problem.ties, np.float64),
        exempt=(
            np.ascontiguousarray(problem.exempt, np.bool_)
            if problem.exempt is not None
            else np.zeros(n, dtype=np.bool_)
        ),
        weights=weights,
    )


def _columns(problem: Problem) -> FloatArray:
    """Each candidate's value of every need, then of every wanted activity type."""
    columns: FloatArray = np.ascontiguousarray(
        np.hstack([problem.cover, problem.activity]), dtype=np.float64
    )
    return columns


def _baseline(problem: Problem) -> FloatArray:
    """The lead's own value of every column of :func:`_columns`."""
    baseline: FloatArray = np.concatenate([problem.base_cover, problem.base_activity]).astype(
        np.float64
    )
    return baseline


def _exempt(problem: Problem) -> BoolArray:
    """The required members (never redundant), as a mask."""
    if problem.exempt is None:
        return np.zeros(problem.size, dtype=np.bool_)
    exempt: BoolArray = np.ascontiguousarray(problem.exempt, dtype=np.bool_)
    return exempt


#: The terms in the order the compiled loop computes them (by position: the compiled loop
#: cannot look names up); :func:`evaluate` returns them by name in the order of :data:`TERMS`.
_PART_ORDER: tuple[str, ...] = (
    "need_coverage",
    "activity_coverage",
    "sector_diversity",
    "geographic_balance",
    "local_partner",
    "geographic_fit",
    "resource_mix",
    "interest_alignment",
    "mission_fit",
    "trust",
    "cohesion",
    "novelty",
    "track_record",
    "size_cost",
    "flag_penalty",
    "redundancy",
    "rejected",
)


@functools.lru_cache(maxsize=64)
def _weight_vector(weights: Weights) -> FloatArray:
    """The weights in the order of :data:`_PART_ORDER`."""
    return np.asarray([getattr(weights, term) for term in _PART_ORDER], dtype=np.float64)
