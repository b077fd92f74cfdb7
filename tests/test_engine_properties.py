"""Property tests of the whole recommender on a generated directory (Hypothesis): whatever
the request, every hard constraint holds, scores decompose, answers repeat, and a capability
added never lowers coverage."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from matcher.domain.dataset import Dataset
from matcher.domain.model import Capability, Initiative
from matcher.domain.taxonomy import Taxonomies
from matcher.engine.index import build_index
from matcher.engine.recommend import CoalitionRecommender, EngineConfig
from matcher.formats.datadir import read_data_directory
from matcher.formats.generate import generate_directory
from matcher.integrity.screening import ScreeningPolicy

PROFILE = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, taxonomies: Taxonomies) -> Dataset:
    folder = tmp_path_factory.mktemp("generated") / "orgs"
    generate_directory(400, folder, seed=11)
    return read_data_directory(folder, taxonomies)


@pytest.fixture(scope="module")
def engine(generated: Dataset) -> CoalitionRecommender:
    config = EngineConfig(screening=ScreeningPolicy(as_of=dt.date(2026, 1, 1)))
    return CoalitionRecommender(config=config).fit(build_index(generated))


@st.composite
def requests(draw: st.DrawFn, dataset: Dataset) -> Initiative:
    ids = sorted(dataset.organisations)
    codes = sorted({c.capability for c in dataset.capabilities})
    themes = sorted({t for o in dataset.organisations.values() for t in o.themes})
    countries = sorted({o.country for o in dataset.organisations.values() if o.country})
    lead = draw(st.sampled_from(ids))
    others = [i for i in ids if i != lead]
    include = draw(st.lists(st.sampled_from(others), max_size=1, unique=True))
    exclude = draw(
        st.lists(st.sampled_from([i for i in others if i not in include]), max_size=5, unique=True)
    )
    max_size = draw(st.integers(max(1, len(include)), 5))
    body = {
        "id": "property",
        "lead": lead,
        "themes": draw(st.lists(st.sampled_from(themes), max_size=2, unique=True)),
        "countries": draw(st.lists(st.sampled_from(countries), max_size=2, unique=True)),
        "needs": [
            {"capability": code, "weight": draw(st.sampled_from([0.5, 1.0]))}
            for code in draw(st.lists(st.sampled_from(codes), min_size=1, max_size=4, unique=True))
        ],
        "activity_types": draw(
            st.lists(st.sampled_from(["advocacy", "fundraising", "operational"]), unique=True)
        ),
        "constraints": {
            "min_size": draw(st.integers(1, max_size)),
            "max_size": max_size,
            "include": include,
            "exclude": exclude,
            "required_sectors": draw(
                st.lists(st.sampled_from(["private", "civil_society"]), max_size=1)
            ),
        },
        "count": draw(st.integers(1, 3)),
    }
    return Initiative.from_mapping(body)


@given(data=st.data())
@PROFILE
def test_every_hard_constraint_holds_and_scores_decompose(
    generated: Dataset, engine: CoalitionRecommender, data: st.DataObject
) -> None:
    initiative = data.draw(requests(generated))
    result = engine.recommend(initiative)
    constraints = initiative.constraints
    gated = {e.id for e in result.excluded}
    conflicts = {c.pair for c in generated.conflicts}
    seen: list[set[str]] = []
    for coalition in result.coalitions:
        members = {m.id for m in coalition.members}
        assert constraints.min_size <= len(members) <= constraints.max_size
        assert constraints.include <= members
        assert not members & constraints.exclude
        assert not members & gated
        assert initiative.lead not in members
        assert not any(pair <= members for pair in conflicts)
        sectors = {generated.organisations[m].sector for m in members}
        lead_sector = generated.organisations[initiative.lead].sector
        assert constraints.required_sectors <= sectors | {lead_sector}
        assert sum(coalition.score_parts.values()) == pytest.approx(coalition.score, abs=1e-9)
        for earlier in seen:  # each alternative drops at least `difference` earlier members
            assert len(earlier - members) >= engine.config.difference
        seen.append(members)
    for exclusion in result.excluded:
        assert exclusion.gate and exclusion.reason


@given(data=st.data())
@settings(PROFILE, max_examples=15)
def test_the_same_request_gives_the_same_answer(
    generated: Dataset, engine: CoalitionRecommender, data: st.DataObject
) -> None:
    initiative = data.draw(requests(generated))
    first = engine.recommend(initiative).to_dict()
    again = CoalitionRecommender(config=engine.config).fit(engine.index_).recommend(initiative)
    assert again.to_dict() == first


@settings(PROFILE, max_examples=25)
@given(
    pick=st.tuples(
        st.integers(0, 399),
        st.integers(0, 10_000),
        st.integers(0, 10_000),
        st.sampled_from([0.3, 1.0]),
    )
)
def test_a_capability_added_never_lowers_coverage(
    generated: Dataset, taxonomies: Taxonomies, pick: tuple[int, int, int, float]
) -> None:
    codes = sorted(taxonomies.capabilities)
    org = sorted(generated.organisations)[pick[0]]
    need, added, strength = codes[pick[1] % len(codes)], codes[pick[2] % len(codes)], pick[3]
    existing = {c.capability for c in generated.capabilities if c.org_id == org}
    assume(added not in existing)
    before = _coverage(generated, org, need)
    richer = dataclasses.replace(
        generated, capabilities=(*generated.capabilities, Capability(org, added, strength))
    )
    assert _coverage(richer, org, need) >= before - 1e-12


def _coverage(dataset: Dataset, org: str, need: str) -> float:
    engine = CoalitionRecommender().fit(build_index(dataset))
    positions, values = engine.need_coverage(need)
    where = engine.index_.position[org]
    hits = values[positions == where]
    return float(hits[0]) if hits.size else 0.0


def test_the_generated_directory_has_conflicts_and_flags_to_test(generated: Dataset) -> None:
    assert generated.conflicts and generated.flags
