"""Portfolio algorithms: assignment under a load limit, concentration, gaps, pooling, balance."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.domain.exceptions import ValidationError
from matcher.engine.portfolio import (
    Option,
    assign_coalitions,
    balance,
    cross_agency_pools,
    partner_concentration,
    portfolio_gaps,
)

PARTNERS = ("a", "b", "c", "d")


def _loads(options: Sequence[Sequence[Option]], choice: Sequence[int | None]) -> Counter[str]:
    loads: Counter[str] = Counter()
    for initiative_options, k in zip(options, choice, strict=True):
        if k is not None:
            loads.update(set(initiative_options[k][0]))
    return loads


def _brute_force(options: Sequence[Sequence[Option]], max_load: int) -> tuple[int, float]:
    """The best (initiatives served, total score) over every choice, lexicographically."""
    best = (0, 0.0)
    for choice in itertools.product(*[[None, *range(len(o))] for o in options]):
        if max(_loads(options, choice).values(), default=0) > max_load:
            continue
        served = sum(k is not None for k in choice)
        total = math.fsum(o[k][1] for o, k in zip(options, choice, strict=True) if k is not None)
        if served > best[0] or (served == best[0] and total > best[1]):
            best = (served, total)
    return best


coalition = st.frozensets(st.sampled_from(PARTNERS), min_size=1, max_size=3)
option = st.tuples(coalition, st.floats(min_value=-1.0, max_value=10.0, allow_nan=False))
portfolio = st.lists(st.lists(option, min_size=0, max_size=3), min_size=1, max_size=4)


@settings(max_examples=150, deadline=None)
@given(options=portfolio, max_load=st.integers(min_value=1, max_value=2))
def test_milp_assignment_is_the_brute_force_optimum_and_greedy_never_beats_it(
    options: list[list[Option]], max_load: int
) -> None:
    exact = assign_coalitions(options, max_load, method="milp")
    greedy = assign_coalitions(options, max_load, method="greedy")
    served, total = _brute_force(options, max_load)
    assert exact.method == "milp" and exact.optimal
    assert exact.assigned == served
    assert exact.total_score == pytest.approx(total, abs=1e-6)
    assert (greedy.assigned, greedy.total_score) <= (exact.assigned, exact.total_score + 1e-6)
    for result in (exact, greedy):
        assert max(_loads(options, result.choice).values(), default=0) <= max_load
        assert all(load <= max_load for load in result.loads.values())
        assert dict(result.loads) == dict(_loads(options, result.choice))
        assert result.total_score <= result.bound + 1e-6
        assert result.assigned == sum(k is not None for k in result.choice)


def test_a_partner_limited_to_one_coalition_goes_where_it_is_missed_most() -> None:
    # Cisco in both first choices; the first initiative has a Cisco-free second choice.
    options: list[list[Option]] = [
        [(("cisco", "itau"), 6.0), (("itau", "cenpec"), 5.5)],
        [(("cisco", "undp"), 5.0)],
    ]
    exact = assign_coalitions(options, max_load=1)
    assert exact.choice == (1, 0)
    assert exact.total_score == pytest.approx(10.5)
    assert exact.gap == 0.0 and exact.optimal
    greedy = assign_coalitions(options, max_load=1, method="greedy")
    assert greedy.choice == (0, None)
    assert greedy.assigned == 1
    # LP relaxation: Cisco's row x11 + x21 <= 1 and the first initiative's x11 + x12 <= 1
    # make x12 = x21 = 1 (5.5 + 5) the best, beating any fractional mix (e.g. all halves 8.25)
    assert greedy.bound == pytest.approx(10.5)
    assert greedy.gap == pytest.approx((10.5 - 6.0) / 10.5)


def test_an_initiative_without_options_is_left_unassigned() -> None:
    assignment = assign_coalitions([[], [(("a",), 1.0)]], max_load=1)
    assert assignment.choice == (None, 0)
    assert assignment.assigned == 1


def test_no_options_at_all_assigns_nothing() -> None:
    assignment = assign_coalitions([[], []], max_load=3)
    assert assignment.choice == (None, None)
    assert assignment.total_score == 0.0


@pytest.mark.parametrize("max_load", [0, -1, True, 1.5])
def test_assignment_rejects_a_load_limit_below_one(max_load: object) -> None:
    with pytest.raises(ValidationError, match="max_load"):
        assign_coalitions([[(("a",), 1.0)]], max_load)  # type: ignore[arg-type]


def test_assignment_rejects_an_unknown_method() -> None:
    with pytest.raises(ValidationError, match="Unknown assignment method 'exact'"):
        assign_coalitions([[(("a",), 1.0)]], 1, method="exact")


def test_concentration_counts_initiatives_not_seats_and_flags_above_the_threshold() -> None:
    loads = partner_concentration(
        {
            "edu": [["cisco", "itau"], ["cisco", "cenpec"]],
            "ict": [["cisco"]],
            "health": [["who"]],
            "empty": [],
        },
        threshold=0.5,
    )
    by_partner = {load.partner: load for load in loads}
    assert by_partner["cisco"].initiatives == 2  # twice in "edu" counts once
    assert by_partner["cisco"].first_choice == 2
    assert by_partner["cisco"].share == pytest.approx(2 / 3)  # "empty" has no coalition
    assert by_partner["cisco"].over_threshold
    assert by_partner["cenpec"].first_choice == 0
    assert not by_partner["who"].over_threshold
    assert [load.partner for load in loads] == ["cisco", "itau", "who", "cenpec"]


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.5])
def test_concentration_rejects_a_threshold_outside_zero_one(threshold: float) -> None:
    with pytest.raises(ValidationError, match="threshold"):
        partner_concentration({"a": [["x"]]}, threshold=threshold)


def test_portfolio_gaps_separate_needs_uncovered_everywhere_from_those_uncovered_somewhere() -> (
    None
):
    gaps = portfolio_gaps(
        {
            "a": {"funding": 1.0, "media_reach": 0.0, "training": 0.4},
            "b": {"funding": 0.0, "media_reach": 0.0},
            "c": {"funding": 0.0},
        }
    )
    assert [(g.need, g.asked_by, g.uncovered_in, g.everywhere) for g in gaps] == [
        ("media_reach", ("a", "b"), ("a", "b"), True),
        ("funding", ("a", "b", "c"), ("b", "c"), False),
    ]
    assert gaps[1].best == 1.0
    partial = portfolio_gaps({"a": {"training": 0.4}}, below=0.5)
    assert [(g.need, g.everywhere) for g in partial] == [("training", True)]


def test_pools_join_initiatives_of_different_leads_sharing_partners() -> None:
    pools = cross_agency_pools(
        {"edu": "unicef", "ict": "undp", "youth": "unicef", "water": "unep"},
        {
            "edu": ["cisco", "itau"],
            "ict": ["cisco", "itau"],
            "youth": ["mtv"],  # one lead only: no pool
            "water": ["basf"],
        },
    )
    assert [(p.partners, p.initiatives, p.leads) for p in pools] == [
        (("cisco", "itau"), ("edu", "ict"), ("undp", "unicef"))
    ]


def test_pools_of_one_lead_are_not_cross_agency() -> None:
    pools = cross_agency_pools({"a": "unicef", "b": "unicef"}, {"a": ["x"], "b": ["x"]})
    assert pools == []


def test_balance_counts_seats_with_unknown_values_named() -> None:
    seats = balance(
        [["itau", "cenpec"], ["itau", "gef"]],
        {"itau": "private", "cenpec": "civil_society", "gef": None},
        missing="global",
    )
    assert seats == {"private": 2, "civil_society": 1, "global": 1}
    assert list(seats) == ["private", "civil_society", "global"]
