"""What a user asks of the engine: an answer or a verified way out, best first, with names."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.domain.dataset import Dataset
from matcher.domain.model import Initiative
from matcher.engine.index import build_index
from matcher.engine.recommend import CoalitionRecommender, EngineConfig
from matcher.engine.solvers import milp
from matcher.formats.datadir import read_data_directory
from matcher.formats.generate import generate_directory
from matcher.formats.initiative_files import read_initiatives
from matcher.formats.taxonomy_io import default_taxonomy_dir

SEED = default_taxonomy_dir().parent / "seed"


@pytest.fixture(scope="module")
def seed() -> Dataset:
    return read_data_directory(SEED)


@pytest.fixture(scope="module")
def engine(seed: Dataset) -> CoalitionRecommender:
    return CoalitionRecommender().fit(build_index(seed))


def _demo() -> list[Initiative]:
    return [e.initiative for e in read_initiatives(SEED / "initiatives") if e.initiative]


@pytest.mark.parametrize("initiative", _demo(), ids=lambda i: i.id)
def test_every_demo_initiative_gets_coalitions_or_a_verified_relaxation(
    engine: CoalitionRecommender, initiative: Initiative
) -> None:
    result = engine.recommend(initiative)
    scores = [c.score for c in result.coalitions]
    assert scores == sorted(scores, reverse=True)
    if result.coalitions:
        assert all(m.name and m.kind for c in result.coalitions for m in c.members)
        return
    assert result.infeasible
    for conflict in result.infeasible:
        assert conflict.relaxations, conflict.reason
        for relaxation in conflict.relaxations:
            changes = {c.path: c.relaxed for c in relaxation.change}
            relaxed = _apply(initiative, changes)
            again = engine.recommend(relaxed)
            assert len(again.coalitions) == relaxation.coalitions
            assert again.coalitions[0].score == pytest.approx(relaxation.best_score)
            assert [m.id for m in again.coalitions[0].members] == [
                m["id"] for m in relaxation.members
            ]


def _apply(initiative: Initiative, changes: dict[str, object]) -> Initiative:
    constraints = initiative.constraints
    values = {
        path.removeprefix("constraints."): value
        for path, value in changes.items()
        if path.startswith("constraints.")
    }
    for name in ("include", "required_sectors", "required_kinds"):
        if name in values:
            values[name] = frozenset(values[name])  # type: ignore[arg-type]
    return dataclasses.replace(
        initiative,
        constraints=dataclasses.replace(constraints, **values),  # type: ignore[arg-type]
        complementarity=changes.get("complementarity", initiative.complementarity),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("lead", ["unicef", "undp", "ilo", "itau"])
@pytest.mark.parametrize("need", ["funding", "training", "local_presence", "research"])
def test_a_lead_and_one_need_is_never_answered_with_nothing(
    engine: CoalitionRecommender, lead: str, need: str
) -> None:
    initiative = Initiative.from_mapping(
        {"lead": lead, "countries": ["BR"], "needs": [{"capability": need}]}
    )
    result = engine.recommend(initiative)
    assert result.coalitions, result.infeasible


def test_the_first_coalition_is_the_milp_optimum_on_a_small_pool(seed: Dataset) -> None:
    engine = CoalitionRecommender(config=EngineConfig(pool_size=30)).fit(build_index(seed))
    for initiative in _demo():
        formulation = engine.formulate(initiative)
        if formulation.pool.blocked:
            continue
        result = engine.recommend(initiative)
        if not result.coalitions:
            continue
        optimum = milp(formulation.problem, formulation.rules, time_limit=30.0)
        assert result.coalitions[0].score == pytest.approx(optimum.score, abs=1e-9)
        assert result.coalitions[0].optimality_gap == 0.0


def test_the_lead_and_members_come_with_names(engine: CoalitionRecommender) -> None:
    body = engine.recommend(_demo()[1]).to_dict()
    assert body["lead"] == {
        "id": "unicef",
        "name": "United Nations Children's Fund (UNICEF)",
        "kind": "un_entity",
        "country": None,
    }
    member = body["coalitions"][0]["members"][0]
    assert {"id", "name", "kind", "country"} <= set(member)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> CoalitionRecommender:
    folder = tmp_path_factory.mktemp("generated") / "orgs-400"
    generate_directory(400, folder, seed=7)
    return CoalitionRecommender().fit(build_index(read_data_directory(folder)))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_requests_on_generated_data_come_best_first_and_never_empty(
    generated: CoalitionRecommender, data: st.DataObject
) -> None:
    index = generated.index_
    codes = sorted(index.capability_codes)
    lead = data.draw(st.sampled_from(index.org_ids), label="lead")
    needs = data.draw(st.lists(st.sampled_from(codes), min_size=1, max_size=4, unique=True))
    body: dict[str, object] = {
        "lead": lead,
        "needs": [{"capability": code} for code in needs],
        "complementarity": data.draw(st.sampled_from(["strict", "prefer", "off", None])),
        "count": data.draw(st.integers(1, 4)),
    }
    country = index.country[index.position[lead]]
    if country and data.draw(st.booleans(), label="local"):
        body["countries"] = [country]
    result = generated.recommend(Initiative.from_mapping(body))
    scores = [c.score for c in result.coalitions]
    assert scores == sorted(scores, reverse=True)
    for coalition in result.coalitions:
        assert coalition.score == pytest.approx(sum(coalition.score_parts.values()))
        assert all(m.name for m in coalition.members)
    if body["complementarity"] != "strict":
        # a lead and needs, with the default sizes: never nothing while candidates exist
        assert result.coalitions or result.pool_size == 0, result.infeasible
