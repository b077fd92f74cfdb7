"""Proximity on the collaboration graph: personalised PageRank, Adamic-Adar, introduction paths.

All three work from a few seed organisations (the lead and any locked members) and cost what
the seeds' neighbourhood costs, not what the graph costs: PageRank by a fixed number of
bounded random walks, Adamic-Adar over two hops, introduction paths by meeting in the middle
of the two ends' neighbourhoods.

Examples
--------
>>> import scipy.sparse as sp
>>> line = sp.csr_matrix(([1.0] * 6, ([0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2])), shape=(4, 4))
>>> graph = WalkGraph.from_matrix(line)
>>> scores = personalised_pagerank(graph, [0], walks=2000, seed=1)
>>> bool(scores[1] > scores[2] > scores[3]), round(float(scores.sum()), 6)
(True, 1.0)
>>> adamic_adar(graph, [0]).round(4).tolist()
[0.0, 0.0, 1.4427, 0.0]
>>> introduction_paths(graph, 0, [1, 2, 3], max_hops=2)
{1: (0, 1), 2: (0, 1, 2), 3: ()}
>>> introduction_paths(graph, 0, [3])
{3: (0, 1, 2, 3)}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["WalkGraph", "personalised_pagerank", "adamic_adar", "introduction_paths"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class WalkGraph:
    """The collaboration matrix prepared for walks and paths (built once per index).

    ``cumulative`` holds the running sum of edge weights in CSR order, so that a weighted
    neighbour is drawn with one ``searchsorted`` for a whole batch of walkers.
    """

    matrix: sp.csr_matrix
    cumulative: FloatArray
    row_start: FloatArray
    row_total: FloatArray
    degree: npt.NDArray[np.int64]

    @classmethod
    def from_matrix(cls, matrix: sp.csr_matrix) -> WalkGraph:
        """Prepare a symmetric, non-negative collaboration matrix."""
        matrix = sp.csr_matrix(matrix, dtype=np.float64)
        matrix.sort_indices()
        cumulative = np.cumsum(matrix.data)
        starts = matrix.indptr[:-1]
        if cumulative.size:
            row_start = np.where(starts > 0, cumulative[np.maximum(starts - 1, 0)], 0.0)
        else:  # no ties at all
            row_start = np.zeros(matrix.shape[0])
        row_total = np.asarray(matrix.sum(axis=1)).ravel()
        return cls(
            matrix=matrix,
            cumulative=cumulative,
            row_start=row_start,
            row_total=row_total,
            degree=np.diff(matrix.indptr).astype(np.int64),
        )

    @property
    def size(self) -> int:
        """Number of nodes."""
        return int(self.matrix.shape[0])


def personalised_pagerank(
    graph: WalkGraph,
    seeds: Sequence[int],
    *,
    alpha: float = 0.15,
    walks: int = 1000,
    max_steps: int = 100,
    seed: int = 0,
) -> FloatArray:
    """Personalised PageRank from ``seeds``, estimated by bounded random walks with restart.

    .. math:: \\pi = \\alpha s + (1 - \\alpha) \\pi P

    where ``s`` is uniform over the seeds and ``P`` the weight-normalised collaboration
    matrix. ``walks`` walkers start at the seeds; each step a walker stops with probability
    ``alpha`` (or at a node without ties), else moves to a neighbour drawn in proportion to
    the tie's weight. Every visit counts: the visit frequencies estimate ``pi``.

    Parameters
    ----------
    graph : WalkGraph
    seeds : sequence of int
        Node positions; an empty sequence gives all zeros.
    alpha : float
        Restart probability.
    walks, max_steps : int
        Number of walkers and the longest walk.
    seed : int
        Random seed: the same seed gives the same scores.

    Returns
    -------
    ndarray of float64, shape (n,)
        Scores summing to 1 (all zeros without seeds).

    Notes
    -----
    O(walks × max_steps) whatever the graph's size: about 1 ms per 10,000 walker steps. The
    estimate's error on a node's score is about ``sqrt(score / (walks / alpha))``.

    References
    ----------
    .. [1] Fogaras, Rácz, Csalogány, Sarlós. Towards scaling fully personalized PageRank.
       Internet Mathematics 2(3), 2005.
    """
    scores = np.zeros(graph.size, dtype=np.float64)
    if len(seeds) == 0 or walks <= 0:
        return scores
    rng = np.random.default_rng(seed)
    position = np.asarray(seeds, dtype=np.int64)[np.arange(walks) % len(seeds)]
    visits = [position]
    for _ in range(max_steps):
        alive = (rng.random(position.size) >= alpha) & (graph.row_total[position] > 0)
        position = position[alive]
        if position.size == 0:
            break
        target = graph.row_start[position] + rng.random(position.size) * graph.row_total[position]
        edge = np.searchsorted(graph.cumulative, target, side="right")
        edge = np.minimum(edge, graph.matrix.indptr[position + 1] - 1)
        position = graph.matrix.indices[edge].astype(np.int64)
        visits.append(position)
    counts: FloatArray = np.bincount(np.concatenate(visits), minlength=graph.size).astype(
        np.float64
    )
    counts /= counts.sum()
    return counts


def adamic_adar(graph: WalkGraph, seeds: Sequence[int]) -> FloatArray:
    """Adamic-Adar index of every node with the seeds, summed over seeds.

    .. math:: AA(S, v) = \\sum_{s \\in S} \\sum_{z \\in N(s) \\cap N(v)} 1 / \\log |N(z)|

    Parameters
    ----------
    graph : WalkGraph
    seeds : sequence of int

    Returns
    -------
    ndarray of float64, shape (n,)
        Zero for the seeds themselves and for nodes with no common neighbour.

    Notes
    -----
    Touches only the seeds' neighbours and theirs: O(Σ degree over the two-hop neighbourhood).

    References
    ----------
    .. [1] Adamic, Adar. Friends and neighbors on the Web. Social Networks 25(3), 2003.
    """
    scores = np.zeros(graph.size, dtype=np.float64)
    if len(seeds) == 0:
        return scores
    matrix = graph.matrix
    seed_rows = matrix[np.asarray(seeds, dtype=np.int64)]
    common = np.asarray((seed_rows > 0).sum(axis=0)).ravel()  # how many seeds each z touches
    middle = np.flatnonzero(common)
    degree = graph.degree[middle]
    weights = np.where(degree > 1, 1.0 / np.log(np.maximum(degree, 2)), 0.0) * common[middle]
    hop = matrix[middle]
    hop.data = np.ones_like(hop.data)
    scores = np.asarray(hop.T @ weights).ravel()
    scores[np.asarray(seeds, dtype=np.int64)] = 0.0
    return scores


def introduction_paths(
    graph: WalkGraph, source: int, targets: Sequence[int], *, max_hops: int = 3
) -> dict[int, tuple[int, ...]]:
    """The warmest short chain of past collaborators from ``source`` to each target.

    The path has the fewest introductions (at most ``max_hops`` ties, 1 to 3), and among
    those the largest sum of tie weights (recency-weighted shared partnerships): a warm
    introduction goes through people who worked together often and lately.

    Parameters
    ----------
    graph : WalkGraph
    source : int
    targets : sequence of int
    max_hops : int
        1 (direct ties only), 2 (one intermediary) or 3.

    Returns
    -------
    dict of int to tuple of int
        ``(source, ..., target)`` for each target; ``()`` where no chain of at most
        ``max_hops`` ties exists.

    Notes
    -----
    Meet in the middle: the source's and the target's neighbourhoods are intersected (two
    hops) or joined through the ties between them (three hops), so the cost is that of the
    two neighbourhoods, not of the graph.
    """
    matrix = graph.matrix
    out_start, out_end = matrix.indptr[source], matrix.indptr[source + 1]
    near_source = matrix.indices[out_start:out_end]
    source_weight = matrix.data[out_start:out_end]
    paths: dict[int, tuple[int, ...]] = {}
    for target in targets:
        paths[target] = _path(graph, source, target, near_source, source_weight, max_hops)
    return paths


def _path(
    graph: WalkGraph,
    source: int,
    target: int,
    near_source: npt.NDArray[np.int32],
    source_weight: FloatArray,
    max_hops: int,
) -> tuple[int, ...]:
    if source == target:
        return (source,)
    matrix = graph.matrix
    start, end = matrix.indptr[target], matrix.indptr[target + 1]
    near_target = matrix.indices[start:end]
    target_weight = matrix.data[start:end]
    if near_source.size == 0 or near_target.size == 0:
        return ()
    if np.any(near_source == target):
        return (source, target)
    if max_hops < 2:
        return ()
    common, in_source, in_target = np.intersect1d(
        near_source, near_target, assume_unique=True, return_indices=True
    )
    if common.size:
        best = int(np.argmax(source_weight[in_source] + target_weight[in_target]))
        return (source, int(common[best]), target)
    if max_hops < 3:
        return ()
    # the ties from the source's neighbours that land on the target's neighbours
    starts = matrix.indptr[near_source]
    lengths = matrix.indptr[near_source + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return ()
    edges = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    landing = matrix.indices[edges]
    slot = np.minimum(np.searchsorted(near_target, landing), near_target.size - 1)
    hit = near_target[slot] == landing
    if not hit.any():
        return ()
    row = np.repeat(np.arange(near_source.size), lengths)[hit]
    col = slot[hit]
    warmth = source_weight[row] + matrix.data[edges[hit]] + target_weight[col]
    best = int(np.argmax(warmth))
    return (source, int(near_source[row[best]]), int(near_target[col[best]]), target)
