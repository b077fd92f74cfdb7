"""Property tests of the solvers against brute force on random small problems (Hypothesis).

Every returned coalition meets every hard constraint; the MILP finds the true optimum;
greedy never beats it; greedy's reported bound is a true upper bound; the score is exactly
the sum of its parts.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.engine.objective import N_REGIONS, N_SECTORS, Problem, Weights, evaluate, score
from matcher.engine.solvers import InfeasibleError, Rules, greedy, milp


@st.composite
def problems(draw: st.DrawFn) -> tuple[Problem, Rules]:
    n = draw(st.integers(3, 8))
    needs = draw(st.integers(1, 3))
    activities = draw(st.integers(0, 2))
    resources = 3
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    levels = np.array([0.0, 0.25, 0.5, 1.0])
    cover = levels[rng.integers(0, 4, size=(n, needs))]
    activity = levels[rng.integers(0, 4, size=(n, activities))]
    ties = sp.random(n, n, density=0.3, random_state=rng, format="csr")
    ties = sp.triu(ties, k=1)
    ties = (ties + ties.T).toarray()
    max_size = draw(st.integers(2, 4))
    problem = Problem(
        cover=cover,
        need_weights=rng.choice([0.5, 1.0], size=needs),
        base_cover=np.zeros(needs),
        activity=activity,
        base_activity=levels[rng.integers(0, 3, size=activities)],
        sector=rng.integers(0, N_SECTORS, size=n),
        base_sector_counts=np.bincount([0], minlength=N_SECTORS),
        region=rng.integers(-1, N_REGIONS, size=n),
        base_region_counts=np.zeros(N_REGIONS, dtype=np.int64),
        local=rng.random(n) < 0.4,
        wants_local=bool(rng.random() < 0.7),
        fit=rng.choice([0.0, 0.5, 1.0], size=n),
        resources=rng.random((n, resources)) < 0.3,
        base_resources=rng.random(resources) < 0.3,
        alignment=rng.random(n),
        proximity=rng.random(n),
        ties=ties,
        novel=(rng.random(n) < 0.5).astype(float),
        record=rng.uniform(-1, 1, size=n),
        yellow=(rng.random(n) < 0.2).astype(float),
        max_size=max_size,
        weights=Weights(),
        mission=rng.random(n) if rng.random() < 0.7 else None,
    )
    forced = tuple(sorted(set(rng.choice(n, size=draw(st.integers(0, 1)), replace=False).tolist())))
    pairs = [
        tuple(sorted(rng.choice(n, size=2, replace=False).tolist()))
        for _ in range(draw(st.integers(0, 2)))
    ]
    cut = tuple(sorted(set(rng.choice(n, size=min(n, 3), replace=False).tolist())))
    rules = Rules(
        min_size=draw(st.integers(1, 2)),
        max_size=max_size,
        forced=forced,
        conflicts=tuple(pairs),  # type: ignore[arg-type]
        required_sectors=frozenset(draw(st.sets(st.integers(1, N_SECTORS - 1), max_size=1))),
        required_kinds=frozenset(draw(st.sets(st.integers(0, 2), max_size=1))),
        kind=rng.integers(0, 3, size=n),
        require_local=draw(st.booleans()),
        cuts=((frozenset(cut), 1),) if draw(st.booleans()) else (),
        complementary=draw(st.booleans()),
    )
    return problem, rules


def coverage(problem: Problem, members: list[int]) -> float:
    value = 0.0
    if members:
        value += float(problem.need_weights @ problem.cover[members].max(axis=0))
        if problem.base_activity.size:
            value += float(
                np.maximum(problem.base_activity, problem.activity[members].max(axis=0)).sum()
            )
    elif problem.base_activity.size:
        value += float(problem.base_activity.sum())
    return value


def valid(problem: Problem, rules: Rules, members: list[int]) -> bool:
    chosen = set(members)
    if not rules.min_size <= len(chosen) <= rules.max_size:
        return False
    if not set(rules.forced) <= chosen:
        return False
    if any(a in chosen and b in chosen for a, b in rules.conflicts):
        return False
    if any(len(chosen & cut) > len(cut) - d for cut, d in rules.cuts):
        return False
    if not rules.required_sectors <= {int(problem.sector[i]) for i in chosen}:
        return False
    assert rules.kind is not None
    if not rules.required_kinds <= {int(rules.kind[i]) for i in chosen}:
        return False
    if rules.require_local and not any(problem.local[i] for i in chosen):
        return False
    if rules.complementary:
        total = coverage(problem, members)
        for i in members:
            if (
                i not in rules.forced
                and coverage(problem, [m for m in members if m != i]) >= total - 1e-12
            ):
                return False
    return True


def brute_force(problem: Problem, rules: Rules) -> float | None:
    best = None
    for size in range(rules.min_size, rules.max_size + 1):
        for members in itertools.combinations(range(problem.size), size):
            if valid(problem, rules, list(members)):
                value = score(problem, list(members))
                best = value if best is None else max(best, value)
    return best


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_solvers_respect_constraints_and_the_milp_is_exact(case: tuple[Problem, Rules]) -> None:
    problem, rules = case
    optimum = brute_force(problem, rules)
    if optimum is None:
        with pytest.raises(InfeasibleError):
            milp(problem, rules)
        with pytest.raises(InfeasibleError):
            greedy(problem, rules)
        return
    exact = milp(problem, rules)
    assert valid(problem, rules, list(exact.members))
    assert exact.score == pytest.approx(optimum, abs=1e-7)
    assert exact.bound >= optimum - 1e-7
    try:
        heuristic = greedy(problem, rules)
    except InfeasibleError:
        return  # greedy may miss a feasible coalition; it never returns an invalid one
    assert valid(problem, rules, list(heuristic.members))
    assert heuristic.score <= optimum + 1e-9
    assert heuristic.bound >= optimum - 1e-7  # the reported bound is a true upper bound
    assert heuristic.gap >= 0


@settings(max_examples=60, deadline=None)
@given(problems())
def test_score_parts_add_up_to_the_score(case: tuple[Problem, Rules]) -> None:
    problem, _ = case
    members = list(range(min(problem.size, problem.max_size)))
    parts = evaluate(problem, members)
    assert sum(parts.values()) == score(problem, members)
