"""Text profiles: encoders behind one interface, float16 embeddings, the cache, nearest-profile
search, and no leakage of test partnerships' words into an evaluation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import ValidationError
from matcher.domain.model import (
    Initiative,
    Membership,
    Organisation,
    Partnership,
    Role,
    choose_lead,
)
from matcher.domain.taxonomy import Taxonomies
from matcher.engine.evaluation import assert_no_leakage, build_cases, split_history
from matcher.engine.index import IndexConfig, build_index
from matcher.engine.recommend import CoalitionRecommender
from matcher.engine.text import (
    EmbeddingCache,
    ProfileSearch,
    SentenceEncoder,
    TextIndex,
    TfidfEncoder,
    build_text_index,
    make_encoder,
)
from tests.engine_fixtures import led_teams


def words(taxonomies: Taxonomies) -> Dataset:
    """Three organisations with distinct past work; ``d`` has no partnership and no words.
    History: 2001-2002; test: 2003 (``p-test``, whose words must never reach a profile)."""
    orgs = [
        Organisation("a", "Alpha", "ngo", description="Rural schools and teacher training."),
        Organisation("b", "Beta", "company"),
        Organisation("c", "Gamma", "foundation"),
        Organisation("d", "Delta", "ngo"),
    ]
    parts = [
        Partnership(
            "p-schools",
            "Schools for working children",
            start_year=2001,
            description="Getting child labourers into primary schools in Uttar Pradesh.",
        ),
        Partnership(
            "p-water",
            "Clean water supply",
            start_year=2002,
            description="Drinking water pumps and sanitation for villages.",
        ),
        Partnership(
            "p-test",
            "Zebra quokka observatory",
            start_year=2003,
            description="Zebra quokka zebra quokka monitoring.",
        ),
    ]
    members = [
        *led_teams({"p-schools": ["a", "b"], "p-water": ["c", "b"]}),
        Membership("p-test", "c", "funder"),
        Membership("p-test", "a"),
        Membership("p-test", "b"),
    ]
    return Dataset.build(
        organisations=orgs, partnerships=parts, memberships=members, taxonomies=taxonomies
    )


@pytest.fixture
def dataset(taxonomies: Taxonomies) -> Dataset:
    return words(taxonomies)


def tfidf_index(dataset: Dataset) -> TextIndex:
    index = build_index(dataset, IndexConfig(text_encoder="tfidf"))
    assert index.text is not None
    return index.text


# ---- profiles and the common interface -----------------------------------------------------


def test_profiles_are_a_plain_float16_array_one_row_per_organisation(dataset: Dataset) -> None:
    text = tfidf_index(dataset)
    assert isinstance(text.embeddings, np.ndarray)
    assert text.embeddings.dtype == np.float16
    assert text.embeddings.shape == (4, text.dimensions)
    norms = np.linalg.norm(text.embeddings.astype(np.float32), axis=1)
    assert norms[:3] == pytest.approx([1.0, 1.0, 1.0], abs=1e-2)
    assert norms[3] == 0.0  # no description, no partnership: no profile


def test_a_profile_holds_the_organisation_and_its_partnerships_words(dataset: Dataset) -> None:
    text = tfidf_index(dataset)
    query = text.encode_query("drinking water and sanitation pumps")
    positions, sims = text.nearest(query, 3)
    assert [dataset_ids(dataset)[p] for p in positions][:1] == ["c"]
    assert list(sims) == sorted(sims, reverse=True)
    schools = text.encode_query("child labourers into primary schools")
    assert dataset_ids(dataset)[int(text.nearest(schools, 1)[0][0])] == "a"


def dataset_ids(dataset: Dataset) -> list[str]:
    return list(dataset.organisations)


def test_the_closest_past_partnership_is_named(dataset: Dataset) -> None:
    text = tfidf_index(dataset)
    b = dataset_ids(dataset).index("b")
    found = text.closest_partnership(b, text.encode_query("water pumps for villages"))
    assert found is not None and found[0] == "p-water"
    assert text.closest_partnership(3, text.encode_query("water")) is None  # d: no history


def test_an_empty_query_finds_nothing(dataset: Dataset) -> None:
    text = tfidf_index(dataset)
    assert not np.any(text.encode_query("   "))
    positions, sims = text.nearest(text.encode_query(""), 5)
    assert positions.size == 0 and sims.size == 0


def test_an_unknown_encoder_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="Unknown text encoder 'bert'"):
        make_encoder("bert")


def test_the_tfidf_encoder_must_be_fitted_first() -> None:
    with pytest.raises(ValidationError, match="before fit"):
        TfidfEncoder().encode(["water"])


# ---- the cache: only changed texts are embedded ----------------------------------------------


class CountingEncoder:
    """A deterministic fake encoder that counts the texts it encodes."""

    name = "counting"
    fingerprint = "counting:1"

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def fit(self, texts: object) -> CountingEncoder:
        return self

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded += list(texts)
        rows = np.zeros((len(texts), 8), dtype=np.float32)
        for i, text in enumerate(texts):
            rows[i, sum(map(ord, text)) % 8] = 1.0
        return rows


def test_a_rebuild_embeds_only_the_texts_that_changed(dataset: Dataset) -> None:
    encoder = CountingEncoder()
    ids = dataset_ids(dataset)
    first = build_text_index(dataset, ids, encoder)
    assert first.encoded == 4  # three partnerships and Alpha's description
    changed = dataclasses.replace(
        dataset,
        partnerships={
            **dataset.partnerships,
            "p-water": dataclasses.replace(
                dataset.partnerships["p-water"], description="Wells and latrines."
            ),
        },
    )
    encoder.encoded.clear()
    second = build_text_index(changed, ids, encoder, cache=first.cache)
    assert second.encoded == 1
    assert encoder.encoded == ["Clean water supply. Wells and latrines."]
    assert np.array_equal(first.embeddings[0], second.embeddings[0])  # a: unchanged


def test_the_cache_drops_vectors_of_another_encoder() -> None:
    cache = EmbeddingCache()
    cache.embed(CountingEncoder(), ["one", "two"])
    assert len(cache) == 2
    other = CountingEncoder()
    other.fingerprint = "counting:2"
    cache.embed(other, ["three"])
    assert len(cache) == 1


# ---- search ----------------------------------------------------------------------------------


def test_the_graph_search_finds_what_brute_force_finds() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[7] = 0.0  # an organisation without words is never returned
    exact = ProfileSearch(vectors.astype(np.float16), exact_limit=10_000)
    graph = ProfileSearch(vectors.astype(np.float16), exact_limit=100)
    assert (exact.method, graph.method) == ("exact", "hnsw")
    recalls = []
    for query in vectors[:50]:
        truth, _ = exact.nearest(query, 10)
        found, sims = graph.nearest(query, 10)
        assert 7 not in found
        assert list(sims) == sorted(sims, reverse=True)
        recalls.append(len(set(truth) & set(found)) / 10)
    assert np.mean(recalls) >= 0.95


# ---- evaluation: no leakage through words, the documented lead --------------------------------


def test_evaluation_profiles_hold_history_partnerships_only(dataset: Dataset) -> None:
    split = split_history(dataset, 2003)
    index = build_index(split.history, IndexConfig(text_encoder="tfidf"))
    assert_no_leakage(index, split)
    assert index.text is not None
    assert set(index.text.partnership_ids) == {"p-schools", "p-water"}
    # Alpha's own description may describe later work: it is dropped from the history
    assert split.history.organisations["a"].description == ""
    # the test partnership's words reach no profile: other words there change nothing
    altered = dataclasses.replace(
        dataset,
        partnerships={
            **dataset.partnerships,
            "p-test": dataclasses.replace(
                dataset.partnerships["p-test"], name="Schools", description="Water pumps."
            ),
        },
    )
    again = build_index(split_history(altered, 2003).history, IndexConfig(text_encoder="tfidf"))
    assert again.text is not None
    assert np.array_equal(index.text.embeddings, again.text.embeddings)


def test_a_text_index_holding_a_test_partnership_is_refused(dataset: Dataset) -> None:
    split = split_history(dataset, 2003)
    leaky = build_index(dataset, IndexConfig(text_encoder="tfidf"))
    clean = build_index(split.history)
    assert leaky.text is not None
    mixed = dataclasses.replace(clean, text=leaky.text)
    with pytest.raises(ValidationError, match="'p-test' is in the index"):
        assert_no_leakage(mixed, split)


def test_a_partnership_without_a_lead_is_led_by_its_funder(dataset: Dataset) -> None:
    split = split_history(dataset, 2003)
    cases, skipped = build_cases(dataset, split, min_size=3)
    assert [(c.partnership_id, c.lead, c.lead_rule) for c in cases] == [("p-test", "c", "funder")]
    assert cases[0].text == "Zebra quokka observatory. Zebra quokka zebra quokka monitoring."
    assert skipped["no_lead"] == 0


@pytest.mark.parametrize(
    ("rows", "lead"),
    [
        ([("b", Role.MEMBER), ("a", Role.LEAD), ("c", Role.CONVENER)], "a"),
        ([("b", Role.FUNDER), ("c", Role.CONVENER)], "c"),
        ([("z", Role.IMPLEMENTER), ("b", Role.FUNDER), ("a", Role.FUNDER)], "a"),
        ([("z", Role.IMPLEMENTER), ("y", Role.MEMBER)], "z"),
        ([], None),
    ],
)
def test_the_lead_is_chosen_the_documented_way(
    rows: list[tuple[str, Role]], lead: str | None
) -> None:
    assert choose_lead(rows) == lead


def test_one_text_is_encoded_on_one_blas_thread_and_a_batch_on_the_configured_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    from matcher.engine import text as text_module

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    seen: list[set[int]] = []

    class Model:
        def encode(self, texts: list[str]) -> np.ndarray:
            seen.append(blas_threads())
            return np.ones((len(texts), 512), dtype=np.float32)

    monkeypatch.setattr(text_module, "_load_use", lambda: Model())
    # the limiter knows the BLAS libraries loaded when it was first made; other tests may
    # have loaded more since (scipy's own)
    text_module._blas_limits.cache_clear()
    encoder = SentenceEncoder(threads=2)
    with threadpool_limits(limits=3, user_api="blas"):
        encoder.encode(["a request's words"])
        encoder.encode(["one profile", "another"])
        assert blas_threads() == {3}  # the caller's setting is back
    assert seen == [{1}, {2}]


# ---- the multilingual sentence encoder (loads a model: slow) -----------------------------------


@pytest.fixture(scope="module")
def sentence_encoder() -> SentenceEncoder:
    return SentenceEncoder()


@pytest.mark.slow
def test_the_sentence_encoder_matches_french_and_english_meanings(
    sentence_encoder: SentenceEncoder,
) -> None:
    vectors = sentence_encoder.encode(
        [
            "Eliminating child labour and getting working children into school",
            "Éliminer le travail des enfants et scolariser les enfants qui travaillent",
            "Drinking water pumps and sanitation for villages",
        ]
    )
    assert vectors.shape == (3, 512)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1, 1, 1], abs=1e-3)
    same, other = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert same > 0.6 > other


@pytest.mark.slow
def test_both_encoders_give_the_same_api(dataset: Dataset) -> None:
    for name in ("tfidf", "use"):
        index = build_index(dataset, IndexConfig(text_encoder=name))
        text = index.text
        assert text is not None and text.encoder.name == name
        assert text.embeddings.dtype == np.float16
        query = text.encode_query(
            "pompes à eau potable et assainissement" if name == "use" else "water pumps"
        )
        positions, _ = text.nearest(query, 1)
        assert dataset_ids(dataset)[int(positions[0])] == "c", name


# ---- the engine reads the words ---------------------------------------------------------------

YOUTH_EN = "Documentaries on music television where young Asians speak out on social issues."
YOUTH_FR = (
    "Un documentaire pour la télévision musicale où les jeunes d'Asie parlent des questions "
    "sociales qui les concernent."
)


@pytest.fixture(scope="module")
def seed_tfidf() -> CoalitionRecommender:
    from matcher.formats.datadir import read_data_directory
    from matcher.formats.taxonomy_io import default_taxonomy_dir

    seed = read_data_directory(default_taxonomy_dir().parent / "seed")
    return CoalitionRecommender().fit(build_index(seed, IndexConfig(text_encoder="tfidf")))


def rank_of(recommender: CoalitionRecommender, org_id: str, description: str) -> int:
    initiative = Initiative(lead="unicef", themes=frozenset({"youth"}), description=description)
    ranked = [c.id for c in recommender.complete(initiative, [], k=70)]
    return ranked.index(org_id)


def test_a_description_matching_an_organisations_past_work_ranks_it_higher(
    seed_tfidf: CoalitionRecommender,
) -> None:
    # MTV Asia made the documentaries of the Speak Your Mind campaign (§51)
    assert rank_of(seed_tfidf, "mtv-asia", YOUTH_EN) < rank_of(seed_tfidf, "mtv-asia", "")


def test_mission_fit_is_a_score_part_and_the_parts_still_add_up(
    seed_tfidf: CoalitionRecommender,
) -> None:
    initiative = Initiative(lead="unicef", themes=frozenset({"youth"}), description=YOUTH_EN)
    result = seed_tfidf.recommend(initiative)
    assert result.coalitions
    for coalition in result.coalitions:
        assert coalition.score_parts["mission_fit"] > 0
        assert coalition.score == pytest.approx(sum(coalition.score_parts.values()), abs=1e-9)
    lines = [e for m in result.coalitions[0].members for e in m.evidence if "past work" in e]
    assert any('"Speak Your Mind youth campaign in Asia' in line for line in lines)


def test_a_request_without_words_is_answered_as_without_text_profiles(
    seed_tfidf: CoalitionRecommender,
) -> None:
    plain = CoalitionRecommender().fit(build_index(seed_tfidf.index_.dataset))
    initiative = Initiative(lead="unicef", themes=frozenset({"youth"}), count=3)
    with_text = seed_tfidf.recommend(initiative).to_dict()
    without = plain.recommend(initiative).to_dict()
    assert with_text == without
    assert all(c["score_parts"]["mission_fit"] == 0.0 for c in with_text["coalitions"])


@pytest.mark.slow
def test_a_french_description_finds_the_english_past_work_with_the_sentence_encoder() -> None:
    from matcher.formats.datadir import read_data_directory
    from matcher.formats.taxonomy_io import default_taxonomy_dir

    seed = read_data_directory(default_taxonomy_dir().parent / "seed")
    recommender = CoalitionRecommender().fit(build_index(seed, IndexConfig(text_encoder="use")))
    assert rank_of(recommender, "mtv-asia", YOUTH_FR) < rank_of(recommender, "mtv-asia", "")
