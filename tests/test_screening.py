"""Integrity screening as hard gates: flags, Global Compact, verification age, capacity,
conflicts of interest and §78, with every exclusion audited."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.domain.dataset import Dataset
from matcher.domain.model import Initiative
from matcher.domain.taxonomy import Taxonomies
from matcher.engine.index import build_index
from matcher.engine.recommend import CoalitionRecommender, EngineConfig
from matcher.integrity.screening import Action, ScreeningPolicy, screen_organisation
from service.cli import cli
from tests.engine_fixtures import (
    Capability,
    Conflict,
    Flag,
    Membership,
    Organisation,
    Partnership,
    complementary_dataset,
)
from tests.engine_fixtures import ask as ask_for_three_needs

TODAY = dt.date(2026, 6, 1)
SANCTIONS_XML = Path(__file__).parent / "data" / "sanctions_test.xml"


def engine(dataset: Dataset, policy: ScreeningPolicy | None = None) -> CoalitionRecommender:
    config = EngineConfig(screening=policy or ScreeningPolicy(as_of=TODAY))
    return CoalitionRecommender(config=config).fit(build_index(dataset))


def ask(**fields: object) -> Initiative:
    return ask_for_three_needs(**{"count": 3, **fields})


def members(result: object) -> list[set[str]]:
    return [{m.id for m in c.members} for c in result.coalitions]  # type: ignore[attr-defined]


def with_orgs(taxonomies: Taxonomies, *changed: Organisation, **extra: object) -> Dataset:
    organisations = dict(complementary_dataset(taxonomies).organisations)
    organisations.update({org.id: org for org in changed})
    return complementary_dataset(taxonomies, organisations=list(organisations.values()), **extra)


# ---- the policy, one organisation at a time ---------------------------------------------


def screened(org: Organisation, *flags: Flag, active: int = 0, **policy: object) -> object:
    return screen_organisation(
        org,
        flags,
        active=active,
        policy=ScreeningPolicy(**policy),  # type: ignore[arg-type]
        today=TODAY,
    )


ACME = Organisation("acme", "Acme", "company")


@pytest.mark.parametrize(
    ("level", "action"),
    [
        ("observation", Action.SHOW),
        ("yellow", Action.PENALISE),
        ("escalated", Action.EXCLUDE),
        ("red", Action.EXCLUDE),
    ],
)
def test_each_flag_level_has_its_default_action(level: str, action: Action) -> None:
    result = screened(ACME, Flag("acme", "corruption", level, note="press report"))
    assert result.action is action  # type: ignore[attr-defined]
    assert result.findings == (Flag("acme", "corruption", level, note="press report"),)  # type: ignore[attr-defined]


def test_a_category_override_beats_the_level() -> None:
    tobacco = Flag("acme", "tobacco", "observation", note="cigarette maker")
    assert screened(ACME, tobacco).action is Action.SHOW  # type: ignore[attr-defined]
    result = screened(ACME, tobacco, category_actions={"tobacco": Action.EXCLUDE})
    assert result.action is Action.EXCLUDE  # type: ignore[attr-defined]
    assert result.reasons == (  # type: ignore[attr-defined]
        "integrity flag tobacco (level observation): the policy says exclude for this "
        "category (cigarette maker)",
    )


def test_a_dismissed_flag_is_shown_but_has_no_effect() -> None:
    dismissed = Flag("acme", "sanctions", "escalated", dismissed_by="reviewer", dismissed_on=TODAY)
    result = screened(ACME, dismissed)
    assert result.action is Action.SHOW  # type: ignore[attr-defined]
    assert result.findings == (dismissed,)  # type: ignore[attr-defined]


def test_global_compact_status_delisted_excludes_and_non_communicating_penalises() -> None:
    delisted = screened(Organisation("acme", "Acme", "company", gc_status="delisted"))
    assert delisted.action is Action.EXCLUDE  # type: ignore[attr-defined]
    assert delisted.gates == ("global_compact",)  # type: ignore[attr-defined]
    quiet = screened(Organisation("acme", "Acme", "company", gc_status="non_communicating"))
    assert quiet.action is Action.PENALISE  # type: ignore[attr-defined]
    assert [f.level.value for f in quiet.findings] == ["yellow"]  # type: ignore[attr-defined]


def test_a_verification_older_than_five_years_is_a_yellow_finding() -> None:
    fresh = Organisation("acme", "Acme", "company", verified_on=dt.date(2021, 7, 1))
    stale = Organisation("acme", "Acme", "company", verified_on=dt.date(2021, 5, 1))
    assert screened(fresh).action is Action.SHOW  # type: ignore[attr-defined]
    result = screened(stale)
    assert result.action is Action.PENALISE  # type: ignore[attr-defined]
    assert result.reasons == (  # type: ignore[attr-defined]
        "stale verification: last verified on 2021-05-01, 5.1 years ago",
    )
    assert screened(stale, verification_max_age_days=None).action is Action.SHOW  # type: ignore[attr-defined]


def test_capacity_excludes_at_max_active() -> None:
    busy = Organisation("acme", "Acme", "company", max_active=2)
    assert screened(busy, active=1).action is Action.SHOW  # type: ignore[attr-defined]
    result = screened(busy, active=2)
    assert result.reasons == ("at capacity: 2 active partnerships, at most 2",)  # type: ignore[attr-defined]
    assert screened(busy, active=2, enforce_capacity=False).action is Action.SHOW  # type: ignore[attr-defined]


def test_the_strongest_action_wins_and_names_its_gates() -> None:
    org = Organisation("acme", "Acme", "company", gc_status="non_communicating")
    result = screened(org, Flag("acme", "sanctions", "red"))
    assert result.action is Action.EXCLUDE  # type: ignore[attr-defined]
    assert result.gates == ("sanctions",)  # type: ignore[attr-defined]


def test_a_policy_without_an_action_for_every_level_is_refused() -> None:
    with pytest.raises(ValueError, match="missing escalated, red, yellow"):
        ScreeningPolicy(level_actions={"observation": Action.SHOW})  # type: ignore[dict-item]


# ---- inside the recommendation ----------------------------------------------------------


def test_a_flagged_partner_that_would_be_first_never_appears_and_is_audited(
    taxonomies: Taxonomies,
) -> None:
    clean = engine(complementary_dataset(taxonomies)).recommend(ask())
    assert all("fund" in coalition for coalition in members(clean)[:1])
    flagged = complementary_dataset(
        taxonomies, flags=[Flag("fund", "human_rights_abuse", "escalated", note="NGO report")]
    )
    result = engine(flagged).recommend(ask())
    assert result.coalitions and all("fund" not in c for c in members(result))
    exclusion = next(e for e in result.excluded if e.id == "fund")
    assert (exclusion.gate, exclusion.reason) == (
        "integrity_flag",
        "integrity flag at level escalated: human_rights_abuse (NGO report)",
    )
    assert result.to_dict()["excluded"][0] == {
        "id": "fund",
        "gate": "integrity_flag",
        "reason": "integrity flag at level escalated: human_rights_abuse (NGO report)",
    }


def test_a_yellow_flag_is_allowed_shown_and_costs_the_documented_penalty(
    taxonomies: Taxonomies,
) -> None:
    clean = engine(complementary_dataset(taxonomies)).recommend(ask(count=1))
    yellow = Flag("fund", "labour_rights", "yellow", note="union complaint")
    result = engine(complementary_dataset(taxonomies, flags=[yellow])).recommend(ask(count=1))
    best, before = result.coalitions[0], clean.coalitions[0]
    assert {m.id for m in best.members} == {m.id for m in before.members}
    fund = next(m for m in best.members if m.id == "fund")
    assert fund.flags == (yellow,)
    penalty = EngineConfig().weights.flag_penalty
    assert best.score_parts["flag_penalty"] == pytest.approx(-penalty)
    assert best.score == pytest.approx(before.score - penalty)


def test_stale_verification_and_non_communication_show_on_the_member(
    taxonomies: Taxonomies,
) -> None:
    dataset = with_orgs(
        taxonomies,
        Organisation("media", "Media Co", "company", verified_on=dt.date(2019, 1, 1)),
        Organisation("train", "Train Co", "company", gc_status="non_communicating"),
    )
    best = engine(dataset).recommend(ask(count=1)).coalitions[0]
    shown = {m.id: [(f.category, f.level.value) for f in m.flags] for m in best.members}
    assert shown == {
        "fund": [],
        "media": [("verification", "yellow")],
        "train": [("global_compact_status", "yellow")],
    }
    assert best.score_parts["flag_penalty"] == pytest.approx(
        -2 * EngineConfig().weights.flag_penalty
    )


def test_over_capacity_partner_is_excluded_with_that_reason(taxonomies: Taxonomies) -> None:
    dataset = with_orgs(
        taxonomies,
        Organisation("train", "Train Co", "company", max_active=1),
        partnerships=[Partnership("p1", "Ongoing", start_year=2024, outcome="active")],
        memberships=[Membership("p1", "train")],
    )
    result = engine(dataset).recommend(ask())
    assert all("train" not in c for c in members(result))
    assert {e.id: e.gate for e in result.excluded} == {"train": "capacity"}


def test_the_lead_is_proposed_as_implementer_only_when_the_request_allows_it(
    taxonomies: Taxonomies,
) -> None:
    dataset = complementary_dataset(taxonomies, capabilities=[Capability("lead", "funding", 1.0)])
    assert all("lead" not in c for c in members(engine(dataset).recommend(ask())))
    allowed = ask(constraints={"min_size": 1, "max_size": 4, "allow_lead_as_implementer": True})
    assert any("lead" in c for c in members(engine(dataset).recommend(allowed)))


@st.composite
def requests(draw: st.DrawFn) -> tuple[list[tuple[str, str]], Initiative]:
    ids = ["fund", "train", "media", "fund-train", "bank2", "noise"]
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(ids), st.sampled_from(ids)).filter(lambda p: p[0] < p[1]),
            max_size=6,
            unique=True,
        )
    )
    needs = draw(
        st.lists(
            st.sampled_from(["funding", "training", "media_reach", "research"]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    max_size = draw(st.integers(1, 5))
    initiative = Initiative.from_mapping(
        {
            "lead": "lead",
            "needs": [{"capability": code} for code in needs],
            "count": draw(st.integers(1, 4)),
            "constraints": {"min_size": 1, "max_size": max_size},
        }
    )
    return pairs, initiative


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=requests())
def test_a_conflict_pair_never_sits_in_one_coalition(
    taxonomies: Taxonomies, case: tuple[list[tuple[str, str]], Initiative]
) -> None:
    pairs, initiative = case
    dataset = complementary_dataset(
        taxonomies, conflicts=[Conflict(a, b, "declared") for a, b in pairs]
    )
    for solver in ("greedy", "milp"):
        recommender = CoalitionRecommender(
            config=EngineConfig(solver=solver, screening=ScreeningPolicy(as_of=TODAY))
        ).fit(build_index(dataset))
        for coalition in members(recommender.recommend(initiative)):
            assert not any(a in coalition and b in coalition for a, b in pairs)


# ---- sanctions screening through the command line ---------------------------------------


def _directory(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "organisations.csv").write_text(
        "id,name,kind,aliases\n"
        "lead,Lead agency,un_entity,\n"
        "nwind,Nortwind Arms Trading Co.,company,\n"
        "gtrade,Global Trading Health Trust,ngo,\n"
        "fund,Fund Co,company,\n"
    )
    (folder / "capabilities.csv").write_text(
        "org_id,capability,strength\nnwind,funding,1.0\nfund,funding,0.8\ngtrade,training,1\n"
    )
    (folder / "partnerships.csv").write_text("id,name\n")
    (folder / "memberships.csv").write_text("partnership_id,org_id\n")
    return folder


def test_screening_flags_the_near_miss_and_a_dismissal_survives_rescreening(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'pm.db'}"
    assert runner.invoke(cli, ["import", str(_directory(tmp_path)), "--db", db]).exit_code == 0
    screen = ["screen", "--sanctions", str(SANCTIONS_XML), "--db", db]

    first = runner.invoke(cli, screen)
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[0].startswith(
        "nwind: 'Nortwind Arms Trading Co.' ~ TSe.001 'NORTHWIND ARMS TRADING COMPANY' (entity)"
    )
    assert "gtrade" not in first.output  # a decoy sharing common words
    assert first.output.splitlines()[-1].endswith(
        "1 match(es): flagged 1 new, 0 already flagged, 0 dismissed earlier (kept dismissed)"
    )
    again = runner.invoke(cli, screen)
    assert "flagged 0 new, 1 already flagged" in again.output

    dismissed = runner.invoke(
        cli,
        [
            *("dismiss", "nwind", "un-sanctions:TSe.001", "--by", "ana"),
            *("--reason", "other firm", "--db", db),
        ],
        catch_exceptions=False,
    )
    assert dismissed.exit_code == 0
    assert dismissed.output == "dismissed sanctions flag of nwind (un-sanctions:TSe.001) by ana\n"
    third = runner.invoke(cli, screen)
    assert "flagged 0 new, 0 already flagged, 1 dismissed earlier (kept dismissed)" in third.output

    exported = tmp_path / "out"
    assert runner.invoke(cli, ["export", str(exported), "--db", db]).exit_code == 0
    flags = (exported / "flags.csv").read_text().splitlines()
    assert len(flags) == 2
    assert "un-sanctions:TSe.001" in flags[1] and ",ana," in flags[1]


def test_a_flag_from_screening_excludes_until_dismissed(tmp_path: Path) -> None:
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'pm.db'}"
    runner.invoke(cli, ["import", str(_directory(tmp_path)), "--db", db])
    runner.invoke(cli, ["screen", "--sanctions", str(SANCTIONS_XML), "--db", db])
    initiative = tmp_path / "ask.json"
    initiative.write_text(
        '{"id": "x", "lead": "lead", "needs": [{"capability": "funding"}], '
        '"constraints": {"min_size": 1, "max_size": 2}, "count": 1}'
    )
    recommend = ["recommend", str(initiative), "--db", db, "--format", "json"]

    body = json.loads(runner.invoke(cli, recommend).output)
    assert [m["id"] for m in body["coalitions"][0]["members"]] == ["fund"]
    assert body["excluded"][0]["gate"] == "sanctions"
    runner.invoke(cli, ["dismiss", "nwind", "un-sanctions:TSe.001", "--by", "ana", "--db", db])
    body = json.loads(runner.invoke(cli, recommend).output)
    assert [m["id"] for m in body["coalitions"][0]["members"]] == ["nwind"]


def test_screen_and_dismiss_fail_with_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'pm.db'}"
    runner.invoke(cli, ["import", str(_directory(tmp_path)), "--db", db])
    bad = tmp_path / "list.xml"
    bad.write_text("not xml")
    result = runner.invoke(cli, ["screen", "--sanctions", str(bad), "--db", db])
    assert result.exit_code == 1 and result.output.startswith("error: ")
    result = runner.invoke(cli, ["dismiss", "fund", "un-sanctions:X", "--by", "ana", "--db", db])
    assert result.exit_code == 1
    assert result.output == "error: Organisation 'fund' has no open flag from 'un-sanctions:X'\n"
