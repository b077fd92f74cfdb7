"""The recommendation engine on hand-checked cases: exact coalitions, gates, explanations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import NotFoundError, UnknownCodeError, ValidationError
from matcher.domain.taxonomy import Taxonomies
from matcher.engine.index import build_index
from matcher.engine.recommend import CoalitionRecommender, EngineConfig, NotFittedError
from tests.engine_fixtures import (
    THREE_NEEDS,
    Capability,
    Conflict,
    Flag,
    Membership,
    Organisation,
    Partnership,
    ask,
    complementary_dataset,
)


def recommender(dataset: Dataset, **config: object) -> CoalitionRecommender:
    return CoalitionRecommender(config=EngineConfig(**config)).fit(  # type: ignore[arg-type]
        build_index(dataset)
    )


def ids(result: object, rank: int = 0) -> list[str]:
    return sorted(m.id for m in result.coalitions[rank].members)  # type: ignore[attr-defined]


def test_the_only_trio_covering_every_need_is_recommended(taxonomies: Taxonomies) -> None:
    result = recommender(complementary_dataset(taxonomies)).recommend(ask(count=3))
    assert ids(result) == ["fund", "media", "train"]
    best = result.coalitions[0]
    # 4.0 coverage + sector H(1)+H(3) over 5 + novelty 0.25*3/4 - size 0.5*3
    assert best.score == pytest.approx(4.0 + (1 + 11 / 6) / 5 + 0.1875 - 1.5)
    assert best.gaps == ()


def test_alternatives_differ_from_every_earlier_coalition_by_two_members(
    taxonomies: Taxonomies,
) -> None:
    engine = recommender(complementary_dataset(taxonomies), difference=2, solver="milp")
    result = engine.recommend(ask(count=3))
    coalitions = [set(ids(result, k)) for k in range(len(result.coalitions))]
    assert coalitions == [{"fund", "train", "media"}, {"fund-train", "media"}, {"bank2", "train"}]
    for k, later in enumerate(coalitions):
        for earlier in coalitions[:k]:
            assert len(earlier - later) >= 2


def test_by_default_each_alternative_changes_at_least_one_member(
    taxonomies: Taxonomies,
) -> None:
    result = recommender(complementary_dataset(taxonomies), solver="milp").recommend(ask(count=3))
    coalitions = [set(ids(result, k)) for k in range(len(result.coalitions))]
    # the two alternatives tie (each swaps one specialist for the all-rounder): both come back
    assert coalitions[0] == {"fund", "train", "media"}
    assert {frozenset(c) for c in coalitions[1:]} == {
        frozenset({"fund-train", "train", "media"}),
        frozenset({"fund-train", "fund", "media"}),
    }
    assert [c.score for c in result.coalitions] == sorted(
        (c.score for c in result.coalitions), reverse=True
    )


def test_excluding_a_member_brings_in_the_next_best_holder(taxonomies: Taxonomies) -> None:
    result = recommender(complementary_dataset(taxonomies)).recommend(
        ask(constraints={"min_size": 1, "max_size": 4, "exclude": ["fund"]})
    )
    assert ids(result) == ["fund-train", "media", "train"]
    assert [(e.id, e.reason) for e in result.excluded] == [("fund", "excluded by the request")]


def test_every_member_adds_something_the_others_lack(taxonomies: Taxonomies) -> None:
    # bank2 (funding 0.4) and noise (research) never join: nothing of theirs is needed
    result = recommender(complementary_dataset(taxonomies)).recommend(ask(count=3))
    for coalition in result.coalitions:
        assert "noise" not in {m.id for m in coalition.members}
        for member in coalition.members:
            assert member.marginal_gain > 0


def test_required_member_is_always_there(taxonomies: Taxonomies) -> None:
    result = recommender(complementary_dataset(taxonomies)).recommend(
        ask(count=2, constraints={"min_size": 1, "max_size": 4, "include": ["noise"]})
    )
    for coalition in result.coalitions:
        assert "noise" in {m.id for m in coalition.members}


def test_red_flag_and_delisting_exclude_with_a_reason(taxonomies: Taxonomies) -> None:
    dataset = complementary_dataset(
        taxonomies,
        flags=[Flag("fund", "sanctions", "red", note="listed")],
        organisations=[
            *complementary_dataset(taxonomies).organisations.values(),
        ],
    )
    organisations = {**dataset.organisations}
    organisations["train"] = Organisation("train", "Train Co", "company", gc_status="delisted")
    dataset = complementary_dataset(
        taxonomies, organisations=list(organisations.values()), flags=dataset.flags
    )
    result = recommender(dataset).recommend(ask())
    assert {"fund", "train"}.isdisjoint(ids(result))
    reasons = {e.id: e.reason for e in result.excluded}
    assert reasons == {
        "fund": "integrity flag at level red: sanctions (listed)",
        "train": "delisted from the Global Compact",
    }


def test_yellow_flag_is_allowed_but_costs_and_is_shown(taxonomies: Taxonomies) -> None:
    dataset = complementary_dataset(taxonomies, flags=[Flag("media", "tobacco", "yellow")])
    result = recommender(dataset).recommend(ask())
    media = next(m for m in result.coalitions[0].members if m.id == "media")
    assert [f.level.value for f in media.flags] == ["yellow"]
    assert result.coalitions[0].score_parts["flag_penalty"] == pytest.approx(-0.5)


def test_conflicting_pair_never_sits_together(taxonomies: Taxonomies) -> None:
    dataset = complementary_dataset(taxonomies, conflicts=[Conflict("fund", "train", "rivals")])
    result = recommender(dataset).recommend(ask(count=3))
    for coalition in result.coalitions:
        assert not {"fund", "train"} <= {m.id for m in coalition.members}


def test_conflict_with_the_lead_excludes(taxonomies: Taxonomies) -> None:
    dataset = complementary_dataset(taxonomies, conflicts=[Conflict("lead", "media", "§78")])
    result = recommender(dataset).recommend(ask())
    assert {e.id: e.reason for e in result.excluded} == {
        "media": "declared conflict of interest with the lead: §78"
    }


def test_required_sector_and_local_partner_hold(taxonomies: Taxonomies) -> None:
    base = complementary_dataset(taxonomies)
    organisations = [
        *base.organisations.values(),
        Organisation("ngo-br", "Brazilian NGO", "ngo", country="BR"),
    ]
    capabilities = [*base.capabilities, Capability("ngo-br", "local_presence", 1.0)]
    dataset = complementary_dataset(
        taxonomies, organisations=organisations, capabilities=capabilities
    )
    result = recommender(dataset).recommend(
        ask(
            countries=["BR"],
            needs=[*THREE_NEEDS, {"capability": "local_presence"}],
            constraints={
                "min_size": 1,
                "max_size": 5,
                "required_sectors": ["civil_society"],
                "require_local_partner": True,
            },
        )
    )
    assert ids(result) == ["fund", "media", "ngo-br", "train"]
    assert result.coalitions[0].score_parts["local_partner"] == pytest.approx(1.0)


def test_impossible_requirements_are_explained(taxonomies: Taxonomies) -> None:
    result = recommender(complementary_dataset(taxonomies)).recommend(
        ask(
            countries=["AO"],
            constraints={"min_size": 1, "max_size": 4, "require_local_partner": True},
        )
    )
    assert result.coalitions == ()
    [conflict] = result.to_dict()["infeasible"]
    assert conflict["constraints"] == [{"path": "constraints.require_local_partner", "value": True}]
    assert conflict["reason"] == (
        "no eligible candidate in the target countries (AO) for require_local_partner"
    )
    [relaxation] = conflict["relaxations"]
    assert relaxation["change"] == [{"path": "constraints.require_local_partner", "value": False}]
    assert [m["id"] for m in relaxation["members"]] == ["fund", "train", "media"]
    assert relaxation["coalitions"] == 1 and relaxation["best_score"] == pytest.approx(3.5354167)


def test_members_are_explained(taxonomies: Taxonomies) -> None:
    dataset = complementary_dataset(
        taxonomies,
        partnerships=[Partnership("p1", "Earlier work", start_year=2002)],
        memberships=[Membership("p1", "lead", "lead"), Membership("p1", "fund", "funder")],
    )
    result = recommender(dataset).recommend(ask())
    fund = next(m for m in result.coalitions[0].members if m.id == "fund")
    assert dict(fund.covers) == {"funding": 1.0}
    assert fund.path_to_lead == ("lead", "fund")
    assert fund.evidence == ("funding: funding at strength 1",)
    coalition = result.coalitions[0]
    assert coalition.score == sum(coalition.score_parts.values())


def test_inferred_capabilities_cite_their_partnerships(taxonomies: Taxonomies) -> None:
    organisations = [
        Organisation("lead", "Lead", "un_entity"),
        Organisation("donor", "Donor", "foundation"),
    ]
    dataset = Dataset.build(
        organisations=organisations,
        partnerships=[Partnership("p1", "P1", start_year=2001, activity_types=["fundraising"])],
        memberships=[Membership("p1", "lead", "lead"), Membership("p1", "donor", "funder")],
        taxonomies=taxonomies,
    )
    result = recommender(dataset).recommend(
        ask(needs=[{"capability": "funding"}], constraints={"min_size": 1, "max_size": 2})
    )
    donor = result.coalitions[0].members[0]
    assert donor.id == "donor"
    assert donor.evidence == (
        "funding: inferred funding.grants (kind:foundation; role:funder; partnerships p1)",
    )


def test_gaps_name_the_best_partner_to_fill_them(taxonomies: Taxonomies) -> None:
    result = recommender(complementary_dataset(taxonomies)).recommend(
        ask(
            constraints={"min_size": 1, "max_size": 4, "exclude": ["media"]},
            needs=[{"capability": "funding"}, {"capability": "media_reach.campaigns"}],
        )
    )
    gaps = result.coalitions[0].gaps
    assert [(g.need, g.coverage, g.best_partner) for g in gaps] == [
        ("media_reach.campaigns", 0.0, None)
    ]


def test_the_same_request_gives_the_same_answer(taxonomies: Taxonomies) -> None:
    engine = recommender(complementary_dataset(taxonomies))
    first = json.dumps(engine.recommend(ask(count=3)).to_dict(), sort_keys=True)
    second = json.dumps(engine.recommend(ask(count=3)).to_dict(), sort_keys=True)
    assert first == second


def test_greedy_and_milp_agree_on_the_hand_checked_case(taxonomies: Taxonomies) -> None:
    dataset = complementary_dataset(taxonomies)
    greedy = recommender(dataset, solver="greedy").recommend(ask())
    exact = recommender(dataset, solver="milp").recommend(ask())
    assert ids(greedy) == ids(exact) == ["fund", "media", "train"]
    assert greedy.coalitions[0].score == pytest.approx(exact.coalitions[0].score)
    assert exact.coalitions[0].optimality_gap == pytest.approx(0.0, abs=1e-6)


def test_completion_ranks_the_missing_skill_first(taxonomies: Taxonomies) -> None:
    engine = recommender(complementary_dataset(taxonomies))
    ranked = engine.complete(ask(), ["fund", "train"], k=3)
    assert ranked[0].id == "media"
    assert ranked[0].covers == {"media_reach": 1.0}
    assert ranked[0].gain == pytest.approx(sum(ranked[0].score_parts.values()))


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"lead": "ghost"}, NotFoundError, "Organisation 'ghost' not found"),
        ({"constraints": {"exclude": ["ghost"]}}, NotFoundError, "Organisation 'ghost' not found"),
        ({"needs": [{"capability": "money"}]}, UnknownCodeError, "Unknown capability code 'money'"),
        ({"themes": ["fishing"]}, UnknownCodeError, "Unknown theme code 'fishing'"),
    ],
)
def test_bad_requests_name_the_offending_value(
    taxonomies: Taxonomies, fields: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        recommender(complementary_dataset(taxonomies)).recommend(ask(**fields))


def test_a_required_member_barred_by_a_gate_is_explained_with_a_verified_way_out(
    taxonomies: Taxonomies,
) -> None:
    dataset = complementary_dataset(taxonomies, flags=[Flag("fund", "sanctions", "red")])
    result = recommender(dataset).recommend(
        ask(constraints={"min_size": 1, "max_size": 4, "include": ["fund"]})
    )
    assert result.coalitions == ()
    [conflict] = result.to_dict()["infeasible"]
    assert conflict["constraints"] == [{"path": "constraints.include", "value": "fund"}]
    assert conflict["reason"] == (
        "Fund Co (fund) is required but integrity flag at level red: sanctions (gate: sanctions)"
    )
    [relaxation] = conflict["relaxations"]
    assert relaxation["change"] == [{"path": "constraints.include", "value": []}]
    assert "fund" not in {m["id"] for m in relaxation["members"]}


def test_completing_around_a_gated_member_is_a_clear_error(taxonomies: Taxonomies) -> None:
    dataset = complementary_dataset(taxonomies, flags=[Flag("fund", "sanctions", "red")])
    with pytest.raises(ValidationError, match=r"'fund' is required but integrity flag"):
        recommender(dataset).complete(ask(), ["fund"])


def test_using_the_recommender_before_fit_is_an_error() -> None:
    with pytest.raises(NotFittedError):
        CoalitionRecommender().recommend(ask())


def test_the_gaps_best_partner_order_is_the_full_stable_sort_whatever_the_head() -> None:
    from matcher.engine.explain import _largest_first

    rng = np.random.default_rng(7)
    for size in (0, 1, 5, 64, 65, 300):
        values = rng.integers(0, 6, size).astype(np.float64) / 5  # many ties
        full = np.argsort(-values, kind="stable").tolist()
        for head in (1, 3, 64):
            assert list(_largest_first(values, head=head)) == full
