"""The engine's inner loops, compiled by numba: search, objective terms, walks, paths.

The solvers (:mod:`matcher.engine.solvers`) evaluate marginal gains and scores over pools of
about 200 candidates and 5 to 12 columns thousands of times per request; as numpy calls each
evaluation was a dozen calls of a few microseconds on tiny arrays, most of a request's time.
Here each is one compiled loop: greedy and local search (:func:`greedy_fill`,
:func:`local_search`), marginal gains, the redundancy change and f(S) (:class:`PackedProblem`),
the objective's terms (:func:`objective_parts`, behind
:func:`matcher.engine.objective.evaluate`), the walks' neighbour draw (:func:`walk_edges`),
introduction paths (:func:`warmest_path`), dense blocks of sparse matrices
(:func:`submatrix`) and the holders of a need in a group (:func:`in_group`).

The functions take plain arrays of fixed types, so that numba compiles one specialisation of
each, cached on disk (``cache=True``): :func:`warm_up`, called when a recommender is fitted,
loads or compiles them all, so no request pays for it. They all live in this one module
because numba's disk cache is invalidated when a function's own file changes, not when a
function it calls in another file does.

Examples
--------
>>> from matcher.engine.objective import Problem, pack_problem
>>> packed = pack_problem(Problem.toy(cover=[[1.0, 0.0], [0.0, 0.8]], need_weights=[1, 1]))
>>> state = packed.state([0])
>>> # what member 1 adds to {0}: need coverage 4 × 0.8 / 2, size -0.5, sector diversity 1 / 2 / 5
>>> packed.gains(state, np.array([1]), np.array([0]), True).round(3).tolist()
[1.2]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from matcher.domain.arrays import BoolArray, FloatArray, IntArray

__all__ = [
    "N_SECTORS",
    "N_REGIONS",
    "PackedProblem",
    "State",
    "in_group",
    "greedy_fill",
    "local_search",
    "objective_parts",
    "pack_rules",
    "redundant_flags",
    "sole_best_mask",
    "harmonic_number",
    "submatrix",
    "walk_edges",
    "warmest_path",
    "warm_up",
]


#: Sectors and M49 regions counted by the diversity terms (:mod:`matcher.engine.objective`).
N_SECTORS = 5
N_REGIONS = 5

#: Tolerance of "holds the best value" and "brings more" (as in the objective).
_TIE = 1e-12

# Positions in PackedProblem.weights.
_SECTOR, _REGION, _LOCAL, _RESOURCE, _COHESION, _REDUNDANCY, _WANTS_LOCAL = range(7)

State = tuple[FloatArray, IntArray, IntArray, BoolArray, BoolArray, FloatArray]
"""A coalition's sufficient statistics: best value per column (the lead's own included),
sector counts, region counts, whether a member is local (one-element array), resource
kinds brought, and each candidate's summed ties to the members."""


@dataclass(frozen=True, slots=True)
class PackedProblem:
    """A :class:`~matcher.engine.objective.Problem` as the compiled loops take it
    (:func:`~matcher.engine.objective.pack_problem` makes one).

    ``columns`` holds each candidate's value of every need, then of every wanted activity
    type; ``column_weights`` what a unit of each is worth in the score (need coverage weight
    × the need's share of the need weights; activity coverage weight / number of types);
    ``cover_weights`` the raw weights "covers something" is judged by (need weights, 1 per
    activity type). ``weights`` packs the other terms' weights per unit.
    """

    columns: FloatArray  # (n, J)
    column_weights: FloatArray  # (J,)
    cover_weights: FloatArray  # (J,)
    base: FloatArray  # (J,) the lead's own
    modular: FloatArray  # (n,)
    sector: IntArray
    base_sectors: IntArray
    region: IntArray
    base_regions: IntArray
    local: BoolArray
    resources: BoolArray  # (n, R)
    base_resources: BoolArray
    ties: FloatArray  # (n, n), symmetric
    exempt: BoolArray
    weights: FloatArray  # (7,) see _SECTOR ... _WANTS_LOCAL

    def arrays(self) -> ProblemArrays:
        """The arrays in the order the compiled search takes them.

        The methods below pass the arrays one by one, not this tuple: numba checks a tuple
        argument's 14 array types on every call from Python, which made requests slower
        (10,000 organisations, p50 12.9 → 16.3 ms in one try)."""
        return (
            self.columns,
            self.column_weights,
            self.base,
            self.modular,
            self.sector,
            self.base_sectors,
            self.region,
            self.base_regions,
            self.local,
            self.resources,
            self.base_resources,
            self.ties,
            self.exempt,
            self.weights,
        )

    def state(self, members: Sequence[int]) -> State:
        """The sufficient statistics of the coalition ``members``."""
        return _state(
            self.columns,
            self.base,
            self.sector,
            self.base_sectors,
            self.region,
            self.base_regions,
            self.local,
            self.resources,
            self.base_resources,
            self.ties,
            np.asarray(members, dtype=np.int64),
        )

    def add(self, state: State, member: int) -> None:
        """Update ``state`` in place for ``member`` joining."""
        _add(
            self.columns,
            self.sector,
            self.region,
            self.local,
            self.resources,
            self.ties,
            state,
            member,
        )

    def gains(
        self, state: State, candidates: IntArray, members: IntArray, penalty: bool
    ) -> FloatArray:
        """Exact marginal gains f(S + i) - f(S) of ``candidates`` (S = ``members``, whose
        statistics ``state`` holds); without ``penalty`` the redundancy term is left out (an
        upper bound on the exact gain)."""
        result: FloatArray = _gains(
            self.columns,
            self.column_weights,
            self.base,
            self.modular,
            self.sector,
            self.region,
            self.local,
            self.resources,
            self.exempt,
            self.weights,
            state,
            candidates,
            members,
            penalty,
        )
        return result

    def redundancy_delta(self, state: State, candidates: IntArray, members: IntArray) -> FloatArray:
        """The change of the weighted redundancy term when each candidate joins (<= 0)."""
        result: FloatArray = _redundancy_delta(
            self.columns,
            self.base,
            state[0],
            self.exempt,
            self.weights[_REDUNDANCY],
            candidates,
            members,
        )
        return result

    def score(self, members: Sequence[int]) -> float:
        """f(members), summed in one pass (equal to the objective's up to the last bits)."""
        return float(_score(*self.arrays(), np.asarray(members, dtype=np.int64)))

    def redundant(self, members: Sequence[int]) -> list[int]:
        """The members (not exempt) that are the sole best holder of no column
        (:func:`~matcher.engine.objective.redundant_members`)."""
        chosen = np.asarray(members, dtype=np.int64)
        flags = redundant_flags(self.columns, self.base, self.exempt, chosen)
        return [int(m) for m, flag in zip(chosen.tolist(), flags.tolist(), strict=True) if flag]


@numba.njit(cache=True)
def harmonic_number(count: int) -> float:
    """:math:`H(n)`, compiled (see :func:`matcher.engine.objective.harmonic`)."""
    total = 0.0
    for k in range(1, count + 1):
        total += 1.0 / k
    return total


@numba.njit(cache=True)
def sole_best_mask(columns: FloatArray, baseline: FloatArray, members: IntArray) -> BoolArray:
    """Compiled :func:`matcher.engine.objective.sole_best`: the (members, columns) mask of
    where each member alone holds the coalition's best value, above ``baseline`` (ties within
    1e-12 share)."""
    count = members.size
    width = columns.shape[1]
    sole = np.zeros((count, width), dtype=np.bool_)
    if count == 0:
        return sole
    for j in range(width):
        best = columns[members[0], j]
        for r in range(1, count):
            if columns[members[r], j] > best:
                best = columns[members[r], j]
        if not best > baseline[j] + 1e-12:
            continue
        holder, holders = -1, 0
        for r in range(count):
            if columns[members[r], j] >= best - 1e-12:
                holder = r
                holders += 1
        if holders == 1:
            sole[holder, j] = True
    return sole


@numba.njit(cache=True)
def redundant_flags(
    columns: FloatArray, baseline: FloatArray, exempt: BoolArray, members: IntArray
) -> BoolArray:
    """Compiled :func:`matcher.engine.objective.redundant_members`: per member, whether it
    is redundant."""
    flags = np.zeros(members.size, dtype=np.bool_)
    if columns.shape[1] == 0:
        return flags
    sole = sole_best_mask(columns, baseline, members)
    for r in range(members.size):
        if exempt[members[r]]:
            continue
        needed = False
        for j in range(columns.shape[1]):
            if sole[r, j]:
                needed = True
                break
        flags[r] = not needed
    return flags


@numba.njit(cache=True)
def objective_parts(
    cover: FloatArray,
    need_weights: FloatArray,
    activity: FloatArray,
    columns: FloatArray,
    baseline: FloatArray,
    sector: IntArray,
    base_sectors: IntArray,
    region: IntArray,
    base_regions: IntArray,
    local: BoolArray,
    resources: BoolArray,
    base_resources: BoolArray,
    per_member: FloatArray,
    ties: FloatArray,
    exempt: BoolArray,
    weights: FloatArray,
    wants_local: bool,
    has_mission: bool,
    has_rejected: bool,
    max_size: float,
    members: IntArray,
) -> FloatArray:
    """The weighted terms of :func:`matcher.engine.objective.evaluate`, in the order of its
    ``_PART_ORDER`` (``per_member`` rows: fit,
    alignment, mission, proximity, novelty, record, yellow, rejected)."""
    parts = np.zeros(17)
    needs = cover.shape[1]
    total_weight = 0.0
    for j in range(needs):
        total_weight += need_weights[j]
    if needs and total_weight > 0:
        covered = 0.0
        for j in range(needs):
            best = baseline[j]
            for m in members:
                if cover[m, j] > best:
                    best = cover[m, j]
            covered += need_weights[j] * best
        parts[0] = weights[0] * (covered / total_weight)
    wanted = activity.shape[1]
    if wanted:
        experienced = 0.0
        for a in range(wanted):
            best = baseline[needs + a]
            for m in members:
                if activity[m, a] > best:
                    best = activity[m, a]
            experienced += best
        parts[1] = weights[1] * (experienced / wanted)
    sectors = base_sectors.copy()
    regions = base_regions.copy()
    for m in members:
        sectors[sector[m]] += 1
        if region[m] >= 0:
            regions[region[m]] += 1
    diversity = 0.0
    for s in sectors:
        diversity += harmonic_number(s)
    parts[2] = weights[2] * diversity / sectors.size
    balance = 0.0
    for g in regions:
        balance += harmonic_number(g)
    parts[3] = weights[3] * balance / regions.size
    if wants_local:
        for m in members:
            if local[m]:
                parts[4] = weights[4]
                break
    sums = np.zeros(per_member.shape[0])
    for row in range(per_member.shape[0]):
        for m in members:
            sums[row] += per_member[row, m]
    parts[5] = weights[5] * sums[0] / max_size
    if base_resources.size:
        brought = 0
        for r in range(base_resources.size):
            held = base_resources[r]
            for m in members:
                held = held or resources[m, r]
            if held:
                brought += 1
        parts[6] = weights[6] * (brought / base_resources.size)
    parts[7] = weights[7] * sums[1] / max_size
    if has_mission:
        parts[8] = weights[8] * sums[2] / max_size
    parts[9] = weights[9] * sums[3] / max_size
    pairs = 0.0
    if members.size > 1:
        for a in members:
            for b in members:
                pairs += ties[a, b]
        pairs /= 2
    parts[10] = weights[10] * pairs / max_size
    parts[11] = weights[11] * sums[4] / max_size
    parts[12] = weights[12] * sums[5] / max_size
    parts[13] = -weights[13] * members.size
    parts[14] = -weights[14] * sums[6]
    if weights[15] != 0:
        parts[15] = -weights[15] * redundant_flags(columns, baseline, exempt, members).sum()
    if has_rejected:
        parts[16] = -weights[16] * sums[7]
    return parts


@numba.njit(cache=True)
def _state(
    columns: FloatArray,
    base: FloatArray,
    sector: IntArray,
    base_sectors: IntArray,
    region: IntArray,
    base_regions: IntArray,
    local: BoolArray,
    resources: BoolArray,
    base_resources: BoolArray,
    ties: FloatArray,
    members: IntArray,
) -> State:
    state = (
        base.copy(),
        base_sectors.copy(),
        base_regions.copy(),
        np.zeros(1, dtype=np.bool_),
        base_resources.copy(),
        np.zeros(columns.shape[0]),
    )
    for m in members:
        _add(columns, sector, region, local, resources, ties, state, m)
    return state


@numba.njit(cache=True)
def _add(
    columns: FloatArray,
    sector: IntArray,
    region: IntArray,
    local: BoolArray,
    resources: BoolArray,
    ties: FloatArray,
    state: State,
    m: int,
) -> None:
    best, sectors, regions, has_local, brought, tie = state
    for j in range(columns.shape[1]):
        if columns[m, j] > best[j]:
            best[j] = columns[m, j]
    sectors[sector[m]] += 1
    if region[m] >= 0:
        regions[region[m]] += 1
    if local[m]:
        has_local[0] = True
    for r in range(brought.size):
        if resources[m, r]:
            brought[r] = True
    for i in range(tie.size):
        tie[i] += ties[m, i]


@numba.njit(cache=True)
def _gains(
    columns: FloatArray,
    column_weights: FloatArray,
    base: FloatArray,
    modular: FloatArray,
    sector: IntArray,
    region: IntArray,
    local: BoolArray,
    resources: BoolArray,
    exempt: BoolArray,
    weights: FloatArray,
    state: State,
    candidates: IntArray,
    members: IntArray,
    penalty: bool,
) -> FloatArray:
    best, sectors, regions, has_local, brought, tie = state
    local_weight = 0.0
    if weights[_WANTS_LOCAL] > 0 and not has_local[0]:
        local_weight = weights[_LOCAL]
    gains = np.empty(candidates.size)
    for k in range(candidates.size):
        c = candidates[k]
        gain = modular[c]
        for j in range(columns.shape[1]):
            extra = columns[c, j] - best[j]
            if extra > 0:
                gain += column_weights[j] * extra
        gain += weights[_SECTOR] / (sectors[sector[c]] + 1)
        if region[c] >= 0:
            gain += weights[_REGION] / (regions[region[c]] + 1)
        if local[c]:
            gain += local_weight
        new = 0
        for r in range(brought.size):
            if resources[c, r] and not brought[r]:
                new += 1
        gain += weights[_RESOURCE] * new
        gain += weights[_COHESION] * tie[c]
        gains[k] = gain
    if penalty and weights[_REDUNDANCY] != 0:
        gains += _redundancy_delta(
            columns, base, best, exempt, weights[_REDUNDANCY], candidates, members
        )
    return gains


@numba.njit(cache=True)
def _redundancy_delta(
    columns: FloatArray,
    base: FloatArray,
    best: FloatArray,
    exempt: BoolArray,
    weight: float,
    candidates: IntArray,
    members: IntArray,
) -> FloatArray:
    """A newcomer is redundant unless it beats the coalition's best (``best``, the lead's own
    included) somewhere; a member stays needed unless the newcomer matches it on every
    column where it is the sole best holder."""
    delta = np.zeros(candidates.size)
    width = columns.shape[1]
    if weight == 0 or width == 0:
        return delta
    sole = sole_best_mask(columns, base, members)
    for k in range(candidates.size):
        c = candidates[k]
        brings = False
        for j in range(width):
            if columns[c, j] > best[j] + _TIE:
                brings = True
                break
        if not brings and not exempt[c]:
            delta[k] -= weight
        for r in range(members.size):
            m = members[r]
            if exempt[m]:
                continue
            held = False
            matched = True
            for j in range(width):
                if sole[r, j]:
                    held = True
                    if columns[c, j] < columns[m, j] - _TIE:
                        matched = False
                        break
            if held and matched:
                delta[k] -= weight
    return delta


@numba.njit(cache=True)
def _score(
    columns: FloatArray,
    column_weights: FloatArray,
    base: FloatArray,
    modular: FloatArray,
    sector: IntArray,
    base_sectors: IntArray,
    region: IntArray,
    base_regions: IntArray,
    local: BoolArray,
    resources: BoolArray,
    base_resources: BoolArray,
    ties: FloatArray,
    exempt: BoolArray,
    weights: FloatArray,
    members: IntArray,
) -> float:
    total = 0.0
    for m in members:
        total += modular[m]
    for j in range(columns.shape[1]):
        best = base[j]
        for m in members:
            if columns[m, j] > best:
                best = columns[m, j]
        total += column_weights[j] * best
    brought = 0
    for r in range(base_resources.size):
        held = base_resources[r]
        for m in members:
            held = held or resources[m, r]
        if held:
            brought += 1
    total += weights[_RESOURCE] * brought
    pairs = 0.0
    for a in range(members.size):
        for b in range(a + 1, members.size):
            pairs += ties[members[a], members[b]]
    total += weights[_COHESION] * pairs
    if weights[_WANTS_LOCAL] > 0:
        for m in members:
            if local[m]:
                total += weights[_LOCAL]
                break
    sectors = base_sectors.copy()
    regions = base_regions.copy()
    for m in members:
        sectors[sector[m]] += 1
        if region[m] >= 0:
            regions[region[m]] += 1
    for s in sectors:
        total += weights[_SECTOR] * harmonic_number(s)
    for g in regions:
        total += weights[_REGION] * harmonic_number(g)
    if weights[_REDUNDANCY] != 0:
        flags = redundant_flags(columns, base, exempt, members)
        total -= weights[_REDUNDANCY] * flags.sum()
    return float(total)


@numba.njit(cache=True)
def walk_edges(
    cumulative: FloatArray,
    indptr: npt.NDArray[np.integer[Any]],
    position: IntArray,
    target: FloatArray,
) -> IntArray:
    """For each walker at ``position`` with a draw ``target`` in its row's weight range: the
    first edge of its row whose running weight exceeds the draw (the row's last edge if
    rounding put the draw at the end), by binary search within the row.

    The same edge as ``np.searchsorted(cumulative, target, side="right")`` clipped to the
    row, at the cost of the row's length instead of the whole graph's edge count."""
    edges = np.empty(position.size, dtype=np.int64)
    for k in range(position.size):
        low = indptr[position[k]]
        high = indptr[position[k] + 1] - 1
        value = target[k]
        while low < high:
            middle = (low + high) // 2
            if cumulative[middle] > value:
                high = middle
            else:
                low = middle + 1
        edges[k] = low
    return edges


@numba.njit(cache=True)
def submatrix(
    indptr: npt.NDArray[np.integer[Any]],
    indices: npt.NDArray[np.integer[Any]],
    data: FloatArray,
    rows: IntArray,
    columns: IntArray,
) -> FloatArray:
    """The dense block ``matrix[rows][:, columns]`` of a CSR matrix without duplicate
    entries (``columns`` ascending), at the cost of the rows' entries, not of scipy's
    fancy indexing of a large matrix.

    >>> import scipy.sparse as sp
    >>> m = sp.csr_matrix(np.array([[0, 1.0, 2.0], [1.0, 0, 0], [2.0, 0, 0]]))
    >>> submatrix(m.indptr, m.indices, m.data, np.array([0, 2]), np.array([0, 2])).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    block = np.zeros((rows.size, columns.size))
    for a in range(rows.size):
        for e in range(indptr[rows[a]], indptr[rows[a] + 1]):
            column = indices[e]
            slot = np.searchsorted(columns, column)
            if slot < columns.size and columns[slot] == column:
                block[a, slot] = data[e]
    return block


@numba.njit(cache=True)
def warmest_path(
    indptr: npt.NDArray[np.integer[Any]],
    indices: npt.NDArray[np.integer[Any]],
    data: FloatArray,
    source: int,
    target: int,
    max_hops: int,
) -> IntArray:
    """The warmest chain of at most ``max_hops`` ties from ``source`` to ``target`` over a
    CSR matrix with sorted, distinct column indices, as four nodes padded with -1 (all -1:
    none). Fewest ties first; among those the largest sum of tie weights, the first found in
    index order on a tie (what :func:`matcher.engine.proximity.introduction_paths` returns).
    """
    path = np.full(4, -1, dtype=np.int64)
    if source == target:
        path[0] = source
        return path
    source_start, source_end = indptr[source], indptr[source + 1]
    target_start, target_end = indptr[target], indptr[target + 1]
    if source_start == source_end or target_start == target_end:
        return path
    for e in range(source_start, source_end):
        if indices[e] == target:
            path[0], path[1] = source, target
            return path
    if max_hops < 2:
        return path
    best, middle = -np.inf, -1
    i, j = source_start, target_start
    while i < source_end and j < target_end:
        if indices[i] == indices[j]:
            warmth = data[i] + data[j]
            if warmth > best:
                best, middle = warmth, indices[i]
            i += 1
            j += 1
        elif indices[i] < indices[j]:
            i += 1
        else:
            j += 1
    if middle >= 0:
        path[0], path[1], path[2] = source, middle, target
        return path
    if max_hops < 3:
        return path
    near_target = indices[target_start:target_end]
    first, second = -1, -1
    for i in range(source_start, source_end):
        hop = indices[i]
        for e in range(indptr[hop], indptr[hop + 1]):
            slot = np.searchsorted(near_target, indices[e])
            if slot < near_target.size and near_target[slot] == indices[e]:
                warmth = data[i] + data[e] + data[target_start + slot]
                if warmth > best:
                    best, first, second = warmth, hop, indices[e]
    if first >= 0:
        path[0], path[1], path[2], path[3] = source, first, second, target
    return path


def warm_up(
    cumulative: FloatArray,
    walks: sp.csr_matrix,
    matrices: Sequence[sp.csr_matrix] = (),
    groups: Sequence[IntArray] = (),
) -> None:
    """Load (or compile, the first time on a machine) every compiled function, so that no
    request pays for it: called when a recommender is fitted, with its walk graph's running
    edge weights and matrix, the index's sparse matrices a request reads and its group ids
    (country, sector, kind): their array types (a memory-mapped snapshot's are read-only)
    select what is compiled.
    """
    n = 3
    columns = np.array([[1.0, 0.0], [0.0, 0.8], [0.5, 0.5]])
    sector = np.zeros(n, dtype=np.int64)
    region = np.full(n, -1, dtype=np.int64)
    local = np.zeros(n, dtype=np.bool_)
    resources = np.zeros((n, 1), dtype=np.bool_)
    ties = np.zeros((n, n))
    exempt = np.zeros(n, dtype=np.bool_)
    counts = np.zeros(N_SECTORS, dtype=np.int64)
    packed = PackedProblem(
        columns=columns,
        column_weights=np.ones(2),
        cover_weights=np.ones(2),
        base=np.zeros(2),
        modular=np.zeros(n),
        sector=sector,
        base_sectors=counts,
        region=region,
        base_regions=counts,
        local=local,
        resources=resources,
        base_resources=np.zeros(1, dtype=np.bool_),
        ties=ties,
        exempt=exempt,
        weights=np.ones(7),
    )
    state = packed.state([0])
    packed.add(state, 1)
    members = np.array([0, 1], dtype=np.int64)
    packed.gains(state, np.array([2], dtype=np.int64), members, True)
    packed.redundancy_delta(state, np.array([2], dtype=np.int64), members)
    packed.score([0, 1])
    packed.redundant([0, 1])
    objective_parts(
        columns[:, :1].copy(),
        np.ones(1),
        columns[:, 1:].copy(),
        columns,
        np.zeros(2),
        sector,
        counts,
        region,
        counts,
        local,
        resources,
        np.zeros(1, dtype=np.bool_),
        np.zeros((8, n)),
        ties,
        exempt,
        np.ones(17),
        True,
        True,
        True,
        3.0,
        members,
    )
    nothing = np.zeros(0, dtype=np.int64)
    walk_edges(cumulative, np.asarray(walks.indptr), nothing, np.zeros(0))
    warmest_path(
        np.asarray(walks.indptr), np.asarray(walks.indices), np.asarray(walks.data), 0, 0, 3
    )
    in_group(nothing, np.zeros(0), nothing, 0)
    for ids in groups:
        in_group(nothing, np.zeros(0), np.asarray(ids), 0)
    rules = pack_rules(
        n,
        min_size=1,
        max_size=2,
        forced=(),
        conflicts=((0, 1),),
        cuts=((frozenset({0}), 1),),
        required_sectors=frozenset({0}),
        required_kinds=frozenset({0}),
        kind=np.zeros(n, dtype=np.int64),
        require_local=False,
    )
    found, _ = greedy_fill(packed.arrays(), rules, np.zeros(n), nothing)
    local_search(packed.arrays(), rules, found, 20, 12)
    for matrix in matrices:
        submatrix(
            np.asarray(matrix.indptr),
            np.asarray(matrix.indices),
            np.asarray(matrix.data),
            nothing,
            nothing,
        )


@numba.njit(cache=True)
def in_group(
    positions: IntArray, values: FloatArray, group: IntArray, wanted: int
) -> tuple[IntArray, FloatArray]:
    """The entries of ``positions`` (and their ``values``) whose ``group`` id is ``wanted``,
    in order: one pass over a need's holders instead of three numpy passes.

    >>> in_group(np.array([0, 2, 3]), np.array([0.5, 1.0, 0.2]), np.array([7, 7, 8, 7]), 7)
    (array([0, 3]), array([0.5, 0.2]))
    """
    keep = np.empty(positions.size, dtype=np.int64)
    count = 0
    for k in range(positions.size):
        if group[positions[k]] == wanted:
            keep[count] = k
            count += 1
    keep = keep[:count]
    return positions[keep], values[keep]


@dataclass(frozen=True, slots=True)
class PackedRules:
    """The hard constraints of :class:`~matcher.engine.solvers.Rules` as arrays (without
    strict complementarity, which the Python search handles).

    ``cut_members[c]`` marks the members of the ``c``-th no-good cut and ``cut_limit[c]``
    how many of them a coalition may keep; ``required_sectors`` / ``required_kinds`` are
    masks over sector and kind ids.
    """

    min_size: int
    max_size: int
    forced: IntArray
    conflicts: IntArray  # (c, 2)
    cut_members: BoolArray  # (cuts, n)
    cut_limit: IntArray
    required_sectors: BoolArray  # (N_SECTORS,)
    required_kinds: BoolArray  # (kinds,)
    kind: IntArray  # (n,)
    require_local: bool


@numba.njit(cache=True)
def _unmet(
    members: IntArray,
    sector: IntArray,
    local: BoolArray,
    required_sectors: BoolArray,
    required_kinds: BoolArray,
    kind: IntArray,
    require_local: bool,
) -> tuple[BoolArray, BoolArray, bool]:
    sectors = required_sectors.copy()
    kinds = required_kinds.copy()
    lacks_local = require_local
    for m in members:
        sectors[sector[m]] = False
        if kinds.size:
            kinds[kind[m]] = False
        if local[m]:
            lacks_local = False
    return sectors, kinds, lacks_local


@numba.njit(cache=True)
def _feasible(
    size: int,
    members: IntArray,
    conflicts: IntArray,
    cut_members: BoolArray,
    cut_limit: IntArray,
) -> BoolArray:
    """Candidates that may join ``members`` without breaking a conflict or a cut."""
    allowed = np.ones(size, dtype=np.bool_)
    chosen = np.zeros(size, dtype=np.bool_)
    for m in members:
        allowed[m] = False
        chosen[m] = True
    for c in range(conflicts.shape[0]):
        a, b = conflicts[c, 0], conflicts[c, 1]
        if chosen[a]:
            allowed[b] = False
        if chosen[b]:
            allowed[a] = False
    for c in range(cut_limit.size):
        inside = 0
        for m in members:
            if cut_members[c, m]:
                inside += 1
        if inside >= cut_limit[c]:
            for i in range(size):
                if cut_members[c, i]:
                    allowed[i] = False
    return allowed


@numba.njit(cache=True)
def _valid(
    members: IntArray,
    sector: IntArray,
    local: BoolArray,
    min_size: int,
    max_size: int,
    forced: IntArray,
    conflicts: IntArray,
    cut_members: BoolArray,
    cut_limit: IntArray,
    required_sectors: BoolArray,
    required_kinds: BoolArray,
    kind: IntArray,
    require_local: bool,
) -> bool:
    count = members.size
    if count < min_size or count > max_size:
        return False
    for a in range(count):
        for b in range(a + 1, count):
            if members[a] == members[b]:
                return False
    for f in forced:
        if not np.any(members == f):
            return False
    for c in range(conflicts.shape[0]):
        if np.any(members == conflicts[c, 0]) and np.any(members == conflicts[c, 1]):
            return False
    for c in range(cut_limit.size):
        inside = 0
        for m in members:
            if cut_members[c, m]:
                inside += 1
        if inside > cut_limit[c]:
            return False
    sectors, kinds, lacks_local = _unmet(
        members, sector, local, required_sectors, required_kinds, kind, require_local
    )
    return not (np.any(sectors) or np.any(kinds) or lacks_local)


#: Candidates re-evaluated at once by lazy greedy (past the first, unevaluated batch).
LAZY_BATCH = 64

ProblemArrays = tuple[
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    IntArray,
    IntArray,
    IntArray,
    IntArray,
    BoolArray,
    BoolArray,
    BoolArray,
    FloatArray,
    BoolArray,
    FloatArray,
]
RuleArrays = tuple[
    int, int, IntArray, IntArray, BoolArray, IntArray, BoolArray, BoolArray, IntArray, bool
]


@numba.njit(cache=True)
def _problem_score(p: ProblemArrays, members: IntArray) -> float:
    return _score(
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13],
        members,
    )  # fmt: skip


@numba.njit(cache=True)
def _problem_state(p: ProblemArrays, members: IntArray) -> State:
    return _state(p[0], p[2], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], members)


@numba.njit(cache=True)
def _problem_gains(
    p: ProblemArrays, state: State, candidates: IntArray, members: IntArray, penalty: bool
) -> FloatArray:
    return _gains(
        p[0], p[1], p[2], p[3], p[4], p[6], p[8], p[9], p[12], p[13], state, candidates,
        members, penalty,
    )  # fmt: skip


@numba.njit(cache=True)
def _problem_valid(p: ProblemArrays, r: RuleArrays, members: IntArray) -> bool:
    return _valid(members, p[4], p[8], r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])


@numba.njit(cache=True)
def greedy_fill(
    p: ProblemArrays, r: RuleArrays, caps: FloatArray, start: IntArray
) -> tuple[IntArray, bool]:
    """Lazy greedy from ``start`` (the solvers' ``_greedy_fill`` without strict
    complementarity): the coalition, and whether it meets every rule."""
    columns, sector, local, weights = p[0], p[4], p[8], p[13]
    min_size, max_size = r[0], r[1]
    n = columns.shape[0]
    members = start.copy()
    state = _problem_state(p, members)
    bounds = np.full(n, np.inf)
    while members.size < max_size:
        allowed = _feasible(n, members, r[3], r[4], r[5])
        sectors, kinds, lacks_local = _unmet(members, sector, local, r[6], r[7], r[8], r[9])
        needed = max(sectors.sum(), kinds.sum(), 1 if lacks_local else 0)
        if needed > 0:  # requirements first
            for i in range(n):
                if allowed[i]:
                    helps = sectors[sector[i]] or (lacks_local and local[i])
                    if kinds.size:
                        helps = helps or kinds[r[8][i]]
                    allowed[i] = helps
        candidates = np.flatnonzero(allowed)
        if candidates.size == 0:
            break
        order = candidates[np.argsort(-bounds[candidates], kind="mergesort")]
        best_gain, best = -np.inf, -1
        unevaluated = 0
        for i in order:
            if np.isinf(bounds[i]):
                unevaluated += 1
        start_at, step = 0, max(LAZY_BATCH, unevaluated)
        while start_at < order.size:
            batch = order[start_at : start_at + step]
            fresh = _problem_gains(p, state, batch, members, False)
            for k in range(batch.size):
                i = batch[k]
                bounds[i] = fresh[k] - weights[_COHESION] * state[5][i] + caps[i]
            if weights[_REDUNDANCY] != 0:
                fresh = fresh + _redundancy_delta(
                    columns, p[2], state[0], p[12], weights[_REDUNDANCY], batch, members
                )
            top = np.argmax(fresh)
            if fresh[top] > best_gain:
                best_gain, best = fresh[top], batch[top]
            start_at += step
            step = LAZY_BATCH
            if start_at >= order.size or best_gain >= bounds[order[start_at:]].max():
                break
        enough = members.size >= min_size and not (np.any(sectors) or np.any(kinds) or lacks_local)
        if best < 0 or (enough and best_gain <= 0):
            break
        _add(columns, sector, p[6], local, p[9], p[11], state, best)
        members = np.append(members, best)
    return members, _problem_valid(p, r, members)


@numba.njit(cache=True)
def local_search(
    p: ProblemArrays, r: RuleArrays, members: IntArray, max_rounds: int, per_move: int
) -> IntArray:
    """Best-improvement add / drop / swap moves until none improves the score (the solvers'
    ``_local_search`` without strict complementarity, where a move is kept only if valid)."""
    columns, weights, forced = p[0], p[13], r[2]
    min_size, max_size = r[0], r[1]
    n = columns.shape[0]
    current = members.copy()
    current_score = _problem_score(p, current)
    for _ in range(max_rounds):
        best_score = current_score + 1e-9
        best_move = current
        found = False
        for removed in range(-1, current.size):
            drop = -1
            if removed >= 0:
                drop = current[removed]
                if np.any(forced == drop):
                    continue
                rest = np.concatenate((current[:removed], current[removed + 1 :]))
                rest_score = _problem_score(p, rest)
                if rest.size >= min_size and rest_score > best_score and _problem_valid(p, r, rest):
                    best_score, best_move, found = rest_score, rest, True
            else:
                rest, rest_score = current, current_score
            if rest.size >= max_size:
                continue
            allowed = _feasible(n, rest, r[3], r[4], r[5])
            if drop >= 0:
                allowed[drop] = False
            entrants = np.flatnonzero(allowed)
            if entrants.size == 0:
                continue
            state = _problem_state(p, rest)
            gains = _problem_gains(p, state, entrants, rest, False)
            if weights[_REDUNDANCY] != 0:
                # the penalty only lowers a gain: price it for the best upper bounds only
                shortlist = np.argsort(-gains, kind="mergesort")[: 2 * per_move]
                entrants = entrants[shortlist]
                gains = gains[shortlist] + _redundancy_delta(
                    columns, p[2], state[0], p[12], weights[_REDUNDANCY], entrants, rest
                )
            for k in np.argsort(-gains, kind="mergesort")[:per_move]:
                if rest_score + gains[k] <= best_score:
                    break
                moved = np.append(rest, entrants[k])
                if _problem_valid(p, r, moved):
                    best_score, best_move, found = rest_score + gains[k], moved, True
                    break
        if not found:
            break
        current, current_score = best_move, _problem_score(p, best_move)
    return current


def pack_rules(
    size: int,
    *,
    min_size: int,
    max_size: int,
    forced: Sequence[int],
    conflicts: Sequence[tuple[int, int]],
    cuts: Sequence[tuple[frozenset[int], int]],
    required_sectors: frozenset[int],
    required_kinds: frozenset[int],
    kind: IntArray | None,
    require_local: bool,
) -> RuleArrays:
    """Hard constraints over ``size`` candidates as the compiled search takes them (see
    :class:`~matcher.engine.solvers.Rules`; a cut ``(members, d)`` keeps at most
    ``len(members) - d`` of them)."""
    cut_members = np.zeros((len(cuts), size), dtype=np.bool_)
    cut_limit = np.zeros(len(cuts), dtype=np.int64)
    for c, (members, difference) in enumerate(cuts):
        cut_members[c, sorted(members)] = True
        cut_limit[c] = len(members) - difference
    sectors = np.zeros(N_SECTORS, dtype=np.bool_)
    sectors[sorted(required_sectors)] = True
    kinds = np.zeros(0, dtype=np.bool_)
    kind_ids = np.zeros(size, dtype=np.int64)
    if required_kinds and kind is not None:
        kind_ids = np.ascontiguousarray(kind, dtype=np.int64)
        kinds = np.zeros(max(int(kind_ids.max(initial=0)), *required_kinds) + 1, dtype=np.bool_)
        kinds[sorted(required_kinds)] = True
    return (
        int(min_size),
        int(max_size),
        np.asarray(forced, dtype=np.int64).reshape(-1),
        np.asarray(conflicts, dtype=np.int64).reshape(-1, 2),
        cut_members,
        cut_limit,
        sectors,
        kinds,
        kind_ids,
        bool(require_local),
    )
