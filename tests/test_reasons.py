"""Reasons in words, numbers with their scale, and the reviewers' decisions fed back to the
engine: sentences on a hand-checked dataset, the rejection penalty, and an approved proposal
as a partnership of the history."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import numpy as np
import pytest

from matcher.domain.dataset import Dataset
from matcher.domain.model import (
    Capability,
    Initiative,
    Membership,
    Organisation,
    Partnership,
    Role,
)
from matcher.domain.taxonomy import Taxonomies
from matcher.engine.index import build_index
from matcher.engine.objective import Weights
from matcher.engine.reasons import Rejection, share_of_best, solver_sentence
from matcher.engine.recommend import CoalitionRecommender, EngineConfig
from matcher.storage.catalog import InitiativeRecord, ProposalRecord, ReviewRecord
from matcher.usecases.decisions import proposal_partnership, rejections, with_decisions

MARCH_2 = dt.date(2026, 3, 2)


def alliance_dataset(taxonomies: Taxonomies) -> Dataset:
    """UNICEF led a 2003 alliance in Brazil with Itau (social investment, §49); Itau worked
    with CENPEC (local presence 0.8, §49) in 2001; CENPEC 2 is as local, a little less; UNDP
    is another lead."""
    return Dataset.build(
        taxonomies=taxonomies,
        organisations=[
            Organisation("unicef", "UNICEF", "un_entity"),
            Organisation("undp", "UNDP", "un_entity"),
            Organisation("itau", "Itau", "company", country="BR"),
            Organisation("cenpec", "CENPEC", "ngo", country="BR"),
            Organisation("cenpec2", "CENPEC 2", "ngo", country="BR"),
        ],
        capabilities=[
            Capability("itau", "funding.investment.social", 1.0, source="§49"),
            Capability("cenpec", "local_presence", 0.8, source="§49"),
            Capability("cenpec2", "local_presence", 0.7, source="§50"),
        ],
        partnerships=[
            Partnership("p1", "Brazil education alliance", 2003, countries=frozenset({"BR"})),
            Partnership("p2", "Itau and CENPEC schools", 2001, countries=frozenset({"BR"})),
        ],
        memberships=[
            Membership("p1", "unicef", "lead"),
            Membership("p1", "itau", "funder"),
            Membership("p2", "itau", "funder"),
            Membership("p2", "cenpec", "implementer"),
        ],
    )


def request(lead: str = "unicef", **constraints: Any) -> Initiative:
    return Initiative.from_mapping(
        {
            "lead": lead,
            "countries": ["BR"],
            "needs": [{"capability": "funding"}, {"capability": "local_presence"}],
            "count": 1,
            "constraints": {"min_size": 2, "max_size": 2, **constraints},
        }
    )


@pytest.fixture
def dataset(taxonomies: Taxonomies) -> Dataset:
    return alliance_dataset(taxonomies)


def engine(
    dataset: Dataset, *found: Rejection, weight: float | None = None
) -> CoalitionRecommender:
    weights = Weights() if weight is None else Weights(rejected=weight)
    config = EngineConfig(weights=weights)
    return CoalitionRecommender(config=config).fit(build_index(dataset), rejections=found)


def test_each_member_is_explained_in_sentences_built_from_its_evidence(dataset: Dataset) -> None:
    coalition = engine(dataset).recommend(request()).coalitions[0]
    reasons = {m.id: list(m.reasons) for m in coalition.members}
    assert reasons == {
        "itau": [
            "Itau covers funding fully through social investment (§49).",
            'UNICEF worked with Itau in "Brazil education alliance" (Brazil, 2003).',
        ],
        "cenpec": [
            "CENPEC covers local presence largely (§49).",
            'Itau, a fellow member, worked with CENPEC in "Itau and CENPEC schools" '
            "(Brazil, 2001).",
        ],
    }


def test_an_inferred_capability_names_its_grounds_and_partnerships(
    dataset: Dataset, taxonomies: Taxonomies
) -> None:
    # without the stated capability, Itau's funding comes from its role as funder (twice)
    bare = dataclasses.replace(
        dataset, capabilities=tuple(c for c in dataset.capabilities if c.org_id != "itau")
    )
    coalition = engine(bare).recommend(request()).coalitions[0]
    itau = next(m for m in coalition.members if m.id == "itau")
    assert itau.reasons[0].startswith("Itau covers funding partly, as shown by its role as funder")
    assert '"Brazil education alliance" (Brazil, 2003)' in itau.reasons[0]
    assert '"Itau and CENPEC schools" (Brazil, 2001)' in itau.reasons[0]
    # the most recent first
    assert itau.reasons[0].index("2003") < itau.reasons[0].index("2001")


def test_reasons_use_labels_never_codes(dataset: Dataset) -> None:
    coalition = engine(dataset).recommend(request()).coalitions[0]
    for member in coalition.members:
        for sentence in member.reasons:
            assert not re.search(r"\b[a-z]+[._][a-z_.]+\b", sentence), sentence


def test_a_rejected_member_costs_the_rejected_weight_for_that_lead_only(
    dataset: Dataset,
) -> None:
    before = engine(dataset).recommend(request()).coalitions[0]
    assert {m.id for m in before.members} == {"itau", "cenpec"}
    rejected = Rejection("unicef", "cenpec", MARCH_2, "conflict_of_interest", 7)
    after = engine(dataset, rejected).recommend(request()).coalitions[0]
    assert {m.id for m in after.members} == {"itau", "cenpec2"}  # ranks lower: gone
    # the same member for another lead: untouched
    other = engine(dataset, rejected).recommend(request("undp")).coalitions[0]
    assert {m.id for m in other.members} == {"itau", "cenpec"}
    assert other.score_parts["rejected"] == 0.0
    # kept in by the request: the penalty shows, exactly, and the reason says why
    forced = engine(dataset, rejected).recommend(request(include=["cenpec"])).coalitions[0]
    assert forced.score_parts["rejected"] == -1.0
    assert forced.score == sum(forced.score_parts.values())
    plain = engine(dataset).recommend(request(include=["cenpec"])).coalitions[0]
    assert forced.score == pytest.approx(plain.score - 1.0)
    cenpec = next(m for m in forced.members if m.id == "cenpec")
    assert cenpec.reasons[-1] == (
        "Rejected for this lead on 2026-03-02: conflict of interest (proposal 7)."
    )
    assert all("Rejected" not in r for m in other.members for r in m.reasons)


def test_the_rejection_penalty_is_configurable(dataset: Dataset) -> None:
    rejected = Rejection("unicef", "cenpec", MARCH_2, "capacity", 3)
    off = engine(dataset, rejected, weight=0.0).recommend(request()).coalitions[0]
    assert {m.id for m in off.members} == {"itau", "cenpec"}
    heavy = engine(dataset, rejected, weight=2.5).recommend(request(include=["cenpec"]))
    assert heavy.coalitions[0].score_parts["rejected"] == -2.5


def test_the_latest_rejection_of_a_member_for_a_lead_is_the_one_told(dataset: Dataset) -> None:
    older = Rejection("unicef", "cenpec", dt.date(2025, 1, 5), "capacity", 1)
    newer = Rejection("unicef", "cenpec", MARCH_2, "integrity_concern", 4)
    coalition = engine(dataset, newer, older).recommend(request(include=["cenpec"])).coalitions[0]
    cenpec = next(m for m in coalition.members if m.id == "cenpec")
    assert cenpec.reasons[-1].startswith("Rejected for this lead on 2026-03-02: integrity concern")
    assert coalition.score_parts["rejected"] == -1.0  # once per member, however many times


@pytest.mark.parametrize(
    ("gap", "first", "share", "sentence"),
    [
        (0.0, True, 1.0, "Proven the best coalition possible for this request."),
        (
            0.1234,
            True,
            0.87,
            "The best of the coalitions considered; at most 13% below the best possible.",
        ),
        (
            0.2,
            False,
            0.8,
            "An alternative to the first coalition; at most 20% below the best possible.",
        ),
    ],
)
def test_the_solver_line_and_the_share_of_the_best_agree(
    gap: float, first: bool, share: float, sentence: str
) -> None:
    assert share_of_best(gap) == share
    assert solver_sentence("greedy+local_search", gap, first=first) == sentence


# ---- decisions as history ------------------------------------------------------------------


def _review(proposal: int, decision: str, reason: str, when: dt.datetime) -> ReviewRecord:
    return ReviewRecord(proposal, proposal, "reviewer:r", decision, reason, "", when)


def _proposal(
    number: int, status: str, members: dict[str, dict[str, float]], *reviews: ReviewRecord
) -> ProposalRecord:
    coalition = {"members": [{"id": m, "covers": covers} for m, covers in members.items()]}
    return ProposalRecord(
        number,
        "edu",
        tuple(sorted(members)),
        1.0,
        coalition,
        status,
        "broker:b",
        2,
        dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
        tuple(reviews),
    )


def _initiative(lead: str = "unicef") -> InitiativeRecord:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    body = {
        "lead": lead,
        "title": "Schools in Brazil",
        "countries": ["BR"],
        "themes": ["education"],
        "activity_types": ["operational"],
        "constraints": {"budget_usd": 250000.0},
    }
    return InitiativeRecord("edu", lead, "Schools in Brazil", body, 1, when, when)


APPROVED_ON = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def test_an_approved_proposal_becomes_an_active_partnership_with_roles(
    dataset: Dataset,
) -> None:
    proposal = _proposal(
        12,
        "approved",
        {"itau": {"funding": 1.0}, "cenpec2": {"local_presence": 0.7}},
        _review(12, "approve", "complementary_fit", APPROVED_ON),
    )
    partnership, memberships = proposal_partnership(
        proposal, _initiative(), dataset.taxonomies.capabilities
    )
    assert partnership.id == "proposal-12"
    assert partnership.name == "Schools in Brazil"
    assert partnership.start_year == 2026
    assert partnership.outcome is not None and partnership.outcome.value == "active"
    assert partnership.source == "proposal 12"
    assert partnership.countries == frozenset({"BR"}) and partnership.amount_usd == 250000.0
    assert {(m.org_id, m.role) for m in memberships} == {
        ("unicef", Role.LEAD),
        ("itau", Role.FUNDER),
        ("cenpec2", Role.IMPLEMENTER),
    }
    # at the next index build: UNICEF now knows CENPEC 2 through it
    history = with_decisions(dataset, [(proposal, _initiative())])
    assert "proposal-12" in history.partnerships
    index = build_index(history)
    a, b = index.position["unicef"], index.position["cenpec2"]
    assert index.collaboration[a, b] > 0
    assert build_index(dataset).collaboration[a, b] == 0
    coalition = (
        CoalitionRecommender().fit(index).recommend(request(include=["cenpec2"])).coalitions[0]
    )
    member = next(m for m in coalition.members if m.id == "cenpec2")
    assert member.reasons[1] == 'UNICEF worked with CENPEC 2 in "Schools in Brazil" (Brazil, 2026).'


def test_a_rejection_is_remembered_per_lead_and_member_until_an_approval() -> None:
    rejected = _proposal(
        3,
        "rejected",
        {"itau": {}, "cenpec": {}},
        _review(3, "reject", "conflict_of_interest", APPROVED_ON),
    )
    found = rejections([(rejected, _initiative())])
    assert found == [
        Rejection("unicef", "cenpec", MARCH_2, "conflict_of_interest", 3),
        Rejection("unicef", "itau", MARCH_2, "conflict_of_interest", 3),
    ]
    later = _proposal(
        5,
        "approved",
        {"itau": {"funding": 1.0}},
        _review(5, "approve", "complementary_fit", APPROVED_ON + dt.timedelta(days=3)),
    )
    assert [r.member for r in rejections([(rejected, _initiative()), (later, _initiative())])] == [
        "cenpec"
    ]
    # another lead's approval lifts nothing
    elsewhere = rejections([(rejected, _initiative()), (later, _initiative("undp"))])
    assert [r.member for r in elsewhere] == ["cenpec", "itau"]


def test_both_solvers_see_the_rejection_penalty_and_scores_still_decompose() -> None:
    from itertools import combinations

    from matcher.engine.objective import Problem, evaluate, score
    from matcher.engine.solvers import Rules, solve

    # slot 0 covers the need best (4 x 0.7) but was rejected for this lead: 2.8 - 1 < 4 x 0.6
    plain = Problem.toy(cover=[[0.7], [0.6], [0.3]], need_weights=[1.0], max_size=1)
    problem = dataclasses.replace(plain, rejected=np.array([1.0, 0.0, 0.0]))
    rules = Rules(min_size=1, max_size=1)
    assert set(solve(plain, rules, method="milp").members) == {0}
    best = max(
        (frozenset(c) for k in (1,) for c in combinations(range(3), k)),
        key=lambda c: score(problem, sorted(c)),
    )
    assert best == {1}
    for method in ("greedy", "milp"):
        solution = solve(problem, rules, method=method)
        assert set(solution.members) == best, method
    parts = evaluate(problem, [0])
    assert parts["rejected"] == -1.0
    assert sum(parts.values()) == score(problem, [0])
    assert problem.modular()[0] == pytest.approx(problem.modular()[1] - 1.0)


def test_the_lead_in_its_own_coalition_is_not_told_as_a_new_partner(dataset: Dataset) -> None:
    funder = dataclasses.replace(
        dataset, capabilities=(*dataset.capabilities, Capability("unicef", "funding", 1.0))
    )
    initiative = Initiative.from_mapping(
        {
            "lead": "unicef",
            "needs": [{"capability": "funding"}],
            "count": 1,
            "constraints": {
                "min_size": 1,
                "max_size": 1,
                "exclude": ["itau"],
                "allow_lead_as_implementer": True,
            },
        }
    )
    coalition = engine(funder).recommend(initiative).coalitions[0]
    assert [m.id for m in coalition.members] == ["unicef"]
    assert coalition.members[0].reasons[1] == (
        "UNICEF is the lead itself, here also as an implementer."
    )
