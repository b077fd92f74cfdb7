"""The compiled loops agree with their definitions: gains are score differences, f(S) is the
objective's, the walks' draw is numpy's ``searchsorted``, blocks are scipy's slices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.engine.compiled import submatrix, walk_edges
from matcher.engine.objective import Problem, pack_problem, redundant_members, score
from matcher.engine.solvers import Rules
from tests.test_solver_properties import problems


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.integers(0, 2**32 - 1))
def test_gains_are_score_differences_and_scores_are_the_objectives(
    case: tuple[Problem, Rules], seed: int
) -> None:
    problem, _ = case
    rng = np.random.default_rng(seed)
    members = sorted(rng.choice(problem.size, size=int(rng.integers(0, 3)), replace=False))
    packed = pack_problem(problem)
    assert packed.score(members) == pytest.approx(score(problem, members), abs=1e-9)
    assert packed.redundant(members) == redundant_members(problem, members)
    others = np.asarray([i for i in range(problem.size) if i not in members], dtype=np.int64)
    state = packed.state(members)
    gains = packed.gains(state, others, np.asarray(members, dtype=np.int64), True)
    expected = [score(problem, [*members, int(i)]) - score(problem, members) for i in others]
    assert gains.tolist() == pytest.approx(expected, abs=1e-9)
    if others.size:
        packed.add(state, int(others[0]))
        joined = packed.state([*members, int(others[0])])
        for mine, theirs in zip(state, joined, strict=True):
            assert np.allclose(mine, theirs)


def test_walk_edges_draw_the_edge_searchsorted_draws() -> None:
    rng = np.random.default_rng(3)
    matrix = sp.random(60, 60, density=0.1, random_state=rng, format="csr")
    matrix = (matrix + matrix.T).tocsr()
    matrix.sort_indices()
    cumulative = np.cumsum(matrix.data)
    rows = np.flatnonzero(np.diff(matrix.indptr) > 0).astype(np.int64)
    position = rng.choice(rows, size=500)
    start = np.where(
        matrix.indptr[position] > 0, cumulative[np.maximum(matrix.indptr[position] - 1, 0)], 0
    )
    total = cumulative[matrix.indptr[position + 1] - 1] - start
    target = start + rng.random(500) * total
    expected = np.minimum(
        np.searchsorted(cumulative, target, side="right"), matrix.indptr[position + 1] - 1
    )
    assert walk_edges(cumulative, matrix.indptr, position, target).tolist() == expected.tolist()


def test_submatrix_is_the_dense_slice() -> None:
    rng = np.random.default_rng(5)
    matrix = sp.random(80, 80, density=0.05, random_state=rng, format="csr")
    rows = rng.choice(80, size=12, replace=False).astype(np.int64)
    columns = np.sort(rng.choice(80, size=20, replace=False)).astype(np.int64)
    block = submatrix(matrix.indptr, matrix.indices, matrix.data, rows, columns)
    assert np.array_equal(block, matrix[rows][:, columns].toarray())
