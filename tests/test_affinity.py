"""The learned "who joins" model: profile, candidates, features, fit and the estimator API."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import NotFoundError, ValidationError
from matcher.domain.model import Initiative, Membership, Organisation, Partnership
from matcher.domain.taxonomy import Taxonomies
from matcher.engine.affinity import (
    FEATURES,
    AffinityModel,
    AffinityQuery,
    NotFittedError,
    history_before,
    profile_of,
)
from matcher.engine.index import IndexConfig, build_index
from matcher.engine.proximity import WalkGraph
from matcher.engine.recommend import CoalitionRecommender
from tests.engine_fixtures import led_teams

THEMES = ("education", "health", "environment")
COUNTRIES = ("FR", "DE", "IT")


def clustered(
    taxonomies: Taxonomies, *, years: tuple[int, ...] = (2001, 2002, 2003, 2004)
) -> Dataset:
    """Six clubs of five organisations; each year every club runs two partnerships on its
    theme, led by its first member, with three or four of its members."""
    organisations = [
        Organisation(
            f"c{club}m{member}",
            f"Club {club} member {member}",
            "academic" if member % 2 else "company",
            country=COUNTRIES[club % 3],
        )
        for club in range(6)
        for member in range(5)
    ]
    partnerships = []
    memberships = []
    rng = np.random.default_rng(7)
    for year in years:
        for club in range(6):
            for run in range(2):
                pid = f"p{year}c{club}r{run}"
                partnerships.append(
                    Partnership(pid, pid, start_year=year, themes=[THEMES[club % 3]])
                )
                others = rng.permutation([1, 2, 3, 4])[: 3 + run].tolist()
                memberships.append(Membership(pid, f"c{club}m0", "lead"))
                memberships += [Membership(pid, f"c{club}m{m}") for m in others]
    return Dataset.build(
        organisations=organisations,
        partnerships=partnerships,
        memberships=memberships,
        taxonomies=taxonomies,
    )


def small_model(**params: object) -> AffinityModel:
    defaults: dict[str, object] = {
        "max_iter": 20,
        "min_samples_leaf": 2,
        "walks": 300,
        "negatives_per_query": 20,
    }
    defaults.update(params)
    return AffinityModel(**defaults)  # type: ignore[arg-type]


def triangle(taxonomies: Taxonomies) -> Dataset:
    """``a`` led three partnerships with ``b`` and ``c``; ``d`` and ``e`` worked together once."""
    orgs = [Organisation(o, o.upper(), "ngo", country="FR") for o in "abcde"]
    parts = [
        Partnership(f"p{y}", "P", start_year=y, themes=["education"]) for y in (2001, 2002, 2003)
    ]
    members = [Membership(p.id, o, "lead" if o == "a" else "member") for p in parts for o in "abc"]
    parts.append(Partnership("q", "Q", start_year=2003, themes=["health"]))
    members += [Membership("q", "d", "lead"), Membership("q", "e", "member")]
    return Dataset.build(
        organisations=orgs, partnerships=parts, memberships=members, taxonomies=taxonomies
    )


def test_profile_counts_only_team_partnerships_and_non_lead_theme_memberships(
    taxonomies: Taxonomies,
) -> None:
    dataset = triangle(taxonomies)
    solo = Partnership("solo", "Solo", start_year=2003, themes=["education"])
    dataset = Dataset.build(
        organisations=dataset.organisations.values(),
        partnerships=[*dataset.partnerships.values(), solo],
        memberships=[*dataset.memberships, Membership("solo", "b", "lead")],
        taxonomies=taxonomies,
    )
    index = build_index(dataset)
    profile = profile_of(index)
    at = index.position
    assert profile.now == 2004
    assert profile.multi[at["b"]] == 3  # the single-member grant does not count
    assert profile.led[at["a"]] == 3
    education = index.theme_codes.index("education")
    assert profile.theme_count[at["b"], education] == 3
    assert profile.theme_count[at["a"], education] == 0  # leads are not counted as joiners
    assert profile.partners[at["a"]] == 2
    assert profile.last[at["e"]] == 2003


def test_heuristic_ranks_the_organisation_that_always_joined_first(
    taxonomies: Taxonomies,
) -> None:
    index = build_index(triangle(taxonomies))
    ranker = AffinityModel.heuristic().ranker(index)
    positions, scores = ranker.rank(AffinityQuery("a", ("b",), frozenset({"education"})))
    assert index.org_ids[int(positions[0])] == "c"
    assert list(scores) == sorted(scores, reverse=True)
    assert index.position["a"] not in positions and index.position["b"] not in positions


def test_candidates_exclude_the_given_members_and_respect_the_bounds(
    taxonomies: Taxonomies,
) -> None:
    index = build_index(clustered(taxonomies))
    model = AffinityModel.heuristic(
        pool_graph=2, pool_direct=2, pool_theme=2, pool_local=2, pool_popular=2
    )
    ranker = model.ranker(index)
    query = AffinityQuery("c0m0", ("c0m1",), frozenset({"education"}))
    candidates = ranker.candidates(query)
    assert candidates.size <= 2 * 6
    assert not set(candidates.tolist()) & {index.position["c0m0"], index.position["c0m1"]}
    assert ranker.features(query, candidates).shape == (candidates.size, len(FEATURES))


def test_features_are_finite(taxonomies: Taxonomies) -> None:
    index = build_index(clustered(taxonomies))
    ranker = AffinityModel.heuristic().ranker(index)
    for query in (
        AffinityQuery("c1m0"),
        AffinityQuery("c1m0", ("c1m2", "c3m1"), frozenset({"health"}), frozenset({"DE"})),
    ):
        features = ranker.features(query, ranker.candidates(query))
        assert np.isfinite(features).all()


def test_unknown_organisation_is_not_found(taxonomies: Taxonomies) -> None:
    index = build_index(triangle(taxonomies))
    ranker = AffinityModel.heuristic().ranker(index)
    with pytest.raises(NotFoundError, match="'zz'"):
        ranker.rank(AffinityQuery("zz"))


def test_history_before_keeps_organisations_and_drops_later_partnerships(
    taxonomies: Taxonomies,
) -> None:
    dataset = clustered(taxonomies)
    history = history_before(dataset, 2003)
    assert {p.start_year for p in history.partnerships.values()} == {2001, 2002}
    assert {m.partnership_id for m in history.memberships} <= set(history.partnerships)
    assert len(history.organisations) == len(dataset.organisations)


def test_fitted_model_puts_club_members_first(taxonomies: Taxonomies) -> None:
    dataset = clustered(taxonomies)
    model = small_model().fit(history_before(dataset, 2004))
    # few positives: the older pseudo test year 2002 joins 2003 (2001 has no history before it)
    assert model.training_["folds"] == [2003, 2002]
    assert model.training_["positives"] > 0
    index = build_index(history_before(dataset, 2004), IndexConfig(reference_year=2004))
    ranker = model.ranker(index)
    positions, _ = ranker.rank(AffinityQuery("c2m0", ("c2m1", "c2m2"), frozenset({"environment"})))
    top = {index.org_ids[int(p)] for p in positions[:2]}
    assert top == {"c2m3", "c2m4"}


def test_older_pseudo_years_join_only_while_positives_are_few(taxonomies: Taxonomies) -> None:
    history = history_before(clustered(taxonomies), 2004)
    few = small_model().fit(history).training_
    enough = small_model(min_positives=1).fit(history).training_
    capped = small_model(max_folds=1).fit(history).training_
    assert few["folds"] == [2003, 2002] and few["positives"] < 1000
    assert enough["folds"] == capped["folds"] == [2003]
    assert enough["positives"] == capped["positives"] < few["positives"]


def test_fit_never_reads_partnerships_after_the_history(taxonomies: Taxonomies) -> None:
    dataset = clustered(taxonomies)
    history = history_before(dataset, 2004)
    later = {pid for pid, p in dataset.partnerships.items() if p.start_year == 2004}
    assert later and not later & set(history.partnerships)
    model = small_model().fit(history)
    assert all(year < 2004 for year in model.training_["folds"])


def test_same_random_state_gives_the_same_scores(taxonomies: Taxonomies) -> None:
    dataset = history_before(clustered(taxonomies), 2004)
    index = build_index(dataset)
    graph = WalkGraph.from_matrix(index.collaboration)
    query = AffinityQuery("c4m0", ("c4m3",), frozenset({"health"}))
    first = small_model(random_state=3).fit(dataset).ranker(index, graph).rank(query)
    second = small_model(random_state=3).fit(dataset).ranker(index, graph).rank(query)
    assert np.array_equal(first[0], second[0])
    assert np.allclose(first[1], second[1])


def test_using_the_model_before_fit_raises(taxonomies: Taxonomies) -> None:
    index = build_index(triangle(taxonomies))
    with pytest.raises(NotFittedError):
        AffinityModel().ranker(index)
    with pytest.raises(NotFittedError):
        AffinityModel().decision(np.zeros((1, len(FEATURES))))


def test_fit_needs_two_years_of_history(taxonomies: Taxonomies) -> None:
    dataset = clustered(taxonomies, years=(2001,))
    with pytest.raises(ValidationError, match="two start years"):
        small_model().fit(dataset)


def test_hyper_parameters_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        AffinityModel(2)  # type: ignore[misc]
    assert AffinityModel(walks=10).get_params()["walks"] == 10


def test_complete_with_affinity_ranks_the_club_member_first_and_keeps_the_gain(
    taxonomies: Taxonomies,
) -> None:
    dataset = history_before(clustered(taxonomies), 2004)
    index = build_index(dataset)
    recommender = CoalitionRecommender().fit(index, affinity=AffinityModel.heuristic())
    initiative = Initiative(lead="c5m0", themes=frozenset({"environment"}))
    completions = recommender.complete(initiative, ["c5m1", "c5m2", "c5m3"], k=3)
    assert completions[0].id == "c5m4"
    assert completions[0].reasons[0].startswith("affinity:")
    assert completions[0].gain == pytest.approx(sum(completions[0].score_parts.values()), abs=1e-6)
    without = CoalitionRecommender().fit(index).complete(initiative, ["c5m1"], k=3)
    assert all(not c.reasons or not c.reasons[0].startswith("affinity:") for c in without)


def test_complete_with_affinity_honours_exclusions(taxonomies: Taxonomies) -> None:
    dataset = history_before(clustered(taxonomies), 2004)
    recommender = CoalitionRecommender().fit(
        build_index(dataset), affinity=AffinityModel.heuristic()
    )
    initiative = Initiative.from_mapping({"lead": "c5m0", "constraints": {"exclude": ["c5m4"]}})
    completions = recommender.complete(initiative, ["c5m1", "c5m2", "c5m3"], k=5)
    assert "c5m4" not in {c.id for c in completions}


def donors(taxonomies: Taxonomies) -> Dataset:
    """``a`` ran projects in Mali with ``b`` (twice) and ``c``, and one in Senegal with ``d``;
    ``e`` worked with ``d`` in Senegal, and alone in Mali."""
    orgs = [Organisation(o, o.upper(), "government", country="NO") for o in "abcde"]
    parts = [
        Partnership("p1", "P1", start_year=2001, countries=["ML"]),
        Partnership("p2", "P2", start_year=2002, countries=["ML"]),
        Partnership("p3", "P3", start_year=2002, countries=["ML"]),
        Partnership("p4", "P4", start_year=2002, countries=["SN"]),
        Partnership("p5", "P5", start_year=2002, countries=["SN"]),
        Partnership("p6", "P6", start_year=2002, countries=["ML"]),
    ]
    members = led_teams(
        {
            "p1": ["a", "b"],
            "p2": ["a", "b"],
            "p3": ["a", "c"],
            "p4": ["a", "d"],
            "p5": ["d", "e"],
            "p6": ["e"],
        }
    )
    return Dataset.build(
        organisations=orgs, partnerships=parts, memberships=members, taxonomies=taxonomies
    )


def test_a_candidate_s_activity_in_the_target_countries_is_a_feature(
    taxonomies: Taxonomies,
) -> None:
    index = build_index(donors(taxonomies))
    ranker = AffinityModel.heuristic().ranker(index)
    candidates = np.asarray([index.position[o] for o in "bcde"], dtype=np.int64)
    column = FEATURES.index("country_activity")

    def activity(countries: set[str]) -> list[float]:
        query = AffinityQuery("a", countries=frozenset(countries))
        return ranker.features(query, candidates)[:, column].round(6).tolist()

    # partnerships in Mali: b 2, c 1, d 0, e 1 (alone: any size counts); in Senegal: d 2, e 1
    assert activity({"ML"}) == [round(float(np.log1p(v)), 6) for v in (2, 1, 0, 1)]
    assert activity({"SN"}) == [round(float(np.log1p(v)), 6) for v in (0, 0, 2, 1)]
    assert activity(set()) == [0.0, 0.0, 0.0, 0.0]
    # and the most active there are among the candidates
    found = ranker.candidates(AffinityQuery("a", countries=frozenset({"SN"})))
    assert index.position["e"] in found.tolist()


def test_training_queries_carry_the_partnership_s_countries(taxonomies: Taxonomies) -> None:
    dataset = donors(taxonomies)
    index = build_index(history_before(dataset, 2002))
    model = small_model()
    queries = list(model._training_queries(dataset, 2002, index, np.random.default_rng(0)))
    assert queries and all(query.countries for query, _ in queries)
    assert {query.countries for query, _ in queries} == {frozenset({"ML"}), frozenset({"SN"})}


def test_the_held_out_weight_of_the_words_is_added_to_the_log_odds(
    taxonomies: Taxonomies,
) -> None:
    dataset = history_before(clustered(taxonomies), 2004)
    model = small_model().fit(dataset)
    assert model.training_["text_weight"] == model.text_weight_ == 0.0  # no words, no weight
    index = build_index(dataset, IndexConfig(reference_year=2004))
    ranker = model.ranker(index)
    query = AffinityQuery("c0m0", ("c0m1",), frozenset({"education"}))
    rows = ranker.features(query, ranker.candidates(query))
    rows[:, FEATURES.index("text_relative")] = np.linspace(0.0, 1.0, rows.shape[0])
    before = model.decision(rows)
    model.text_weight_ = 2.0
    after = model.decision(rows)
    assert np.allclose(after - before, 2.0 * rows[:, FEATURES.index("text_relative")])


@pytest.mark.parametrize("shape", [(300, 120), (1500, 1200)])
def test_the_graph_embedding_is_the_same_call_after_call(shape: tuple[int, int]) -> None:
    """Exact (eigen-decomposition) below the dense limit, seeded randomized SVD above: the
    same vectors every call, and below the limit the cosines of the full SVD's rows."""
    import scipy.sparse as sp

    from matcher.engine.affinity import _embedding

    incidence = sp.random(*shape, density=0.01, random_state=3, format="csr")
    incidence.data[:] = 1.0
    counts = np.asarray(incidence.sum(axis=1)).ravel()
    first = _embedding(incidence, multi_counts=counts)
    assert np.array_equal(first, _embedding(incidence, multi_counts=counts))
    assert 0 < first.shape[1] <= 32
    if shape[1] <= 1000:
        sizes = np.asarray(incidence.sum(axis=0)).ravel()
        dense = incidence.toarray() / np.sqrt(np.maximum(counts, 1))[:, None]
        dense = dense / np.sqrt(np.maximum(sizes, 1))[None, :]
        u, sigma, _ = np.linalg.svd(dense, full_matrices=False)
        rows = u[:, : first.shape[1]] * sigma[: first.shape[1]]
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        rows = np.where(norms > 1e-9, rows / np.maximum(norms, 1e-12), 0.0)  # 0: no partner
        assert np.allclose(first @ first.T, rows @ rows.T, atol=1e-8)
