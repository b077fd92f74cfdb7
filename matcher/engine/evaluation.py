r"""Hold-out evaluation of "who should join?" on history, against baselines.

How the cases are built (:func:`split_history`, :func:`build_cases`)
--------------------------------------------------------------------
* **history** is every partnership that starts before the split year; **test** every one that
  starts in it or later and has at least ``min_size`` distinct members. Partnerships without a
  start year are in neither.
* The index (and the affinity model's training) see the history alone: the history dataset
  holds all organisations (the registry: kind, country, flags) but only the history
  partnerships and their memberships; declared organisation themes and the organisations'
  own descriptions are dropped unless asked for, because a data directory may derive them
  from the whole history (the CORDIS converter does for themes). The text profiles
  (:mod:`matcher.engine.text`) are built from this history alone: the titles and
  descriptions of history partnerships. :func:`assert_no_leakage` checks that neither the
  index nor its text profiles contain a test partnership.
* One case per test partnership. Its **lead** is the documented choice
  (:func:`~matcher.domain.model.choose_lead`): its member of role ``lead`` (the first by id
  if several; the others are ordinary members), else its convener, else its funder, else its
  first member listed; ``details["leads"]`` counts which rule chose it. A partnership with
  more than 51 members is skipped: the product's coalitions have at most 50 partners besides
  the lead. ``max_cases`` keeps a uniform sample (by the seed).
* **completion**: one non-lead member, drawn uniformly (by the seed), is hidden; the lead and
  the other members are given as locked members, with the partnership's themes, countries,
  title and description. The ranking is over every organisation seen in history (at least
  one history membership) except the given ones. Metrics: recall@k (a hit), reciprocal rank,
  NDCG@k of the hidden member.
* **cold**: only the lead, the themes, the countries and the title and description are
  given; the relevant items are all the non-lead members. Metrics: recall@k (share of them
  in the top k), reciprocal rank of the first, NDCG@k (binary relevance).
* **ubiquitous organisations** (``ubiquitous_share``): an organisation in at least that share
  of the history partnerships (a funder that sits in nearly every one) is trivially found;
  it is left out of the relevant items and of every ranking, and ``details`` names it.
* A relevant organisation unseen in history cannot be ranked: it counts as a miss (rank
  infinite) for every method alike; ``details`` report how many there were, and the
  ``ceiling``: the recall@k a perfect ranking of the organisations seen in history would
  reach (per case, min(relevant seen, k) / relevant, averaged).
* Every method returns a score per organisation; ties (and organisations a method leaves out,
  such as those outside the product's bounded candidate set) are ordered by popularity (the
  number of history partnerships), then by index position: the same fall-back for all.

Methods compared
----------------
``method`` is the product itself: :meth:`matcher.engine.recommend.CoalitionRecommender.complete`
(with the learned :class:`matcher.engine.affinity.AffinityModel`), its first ``depth`` answers in
order, then the fall-back. Baselines, each computed in the same run on the same cases:

* ``random``: a uniform random order (by the seed);
* ``popularity``: number of history partnerships;
* ``theme_popularity``: history partnerships on the query's themes;
* ``country_popularity``: history partnerships in the query's countries;
* ``adamic_adar``: Adamic-Adar index with the given members [1]_;
* ``ppr``: personalised PageRank from the given members [2]_;
* ``text_tfidf`` (when the history's descriptions say something, at least
  :data:`MIN_DESCRIBING_WORDS` describing words each on average): cosine of TF-IDF vectors
  (character n-grams) of the query's title and description and of each organisation's
  history text (the titles and descriptions of its history partnerships, concatenated) [4]_,
  also with ``--no-text``.

With ``text_encoder`` set and such descriptions in the history, the product sees the words
(text profiles in its index, the text features of the affinity model); without
(``--no-text``, or data whose descriptions are boilerplate, such as CORDIS's record numbers
and amounts) it runs as before and ``details["text"]`` says why.

Each metric is a mean over cases with a percentile bootstrap 95% interval [3]_: the same
``resamples`` resamples of the cases (by the seed) serve every method.

References
----------
.. [1] Adamic, Adar. Friends and neighbors on the Web. Social Networks 25(3), 2003.
.. [2] Haveliwala. Topic-sensitive PageRank. WWW 2002.
.. [3] Efron, Tibshirani. An Introduction to the Bootstrap. Chapman & Hall, 1993.
.. [4] Salton, Buckley. Term-weighting approaches in automatic text retrieval. Information
   Processing & Management 24(5), 1988.

Examples
--------
>>> recall_at_k(["a", "b", "c"], {"c", "d"}, 3)
0.5
>>> reciprocal_rank(["a", "b", "c"], {"c", "d"})
0.3333333333333333
>>> round(ndcg_at_k(["a", "b", "c"], {"b"}, 2), 4)
0.6309
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.domain.arrays import FloatArray, IntArray
from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import ValidationError
from matcher.domain.model import LEAD_ROLES, Initiative, Role, choose_lead
from matcher.engine.affinity import AffinityModel, history_before
from matcher.engine.index import Index, IndexConfig, build_index
from matcher.engine.proximity import WalkGraph, adamic_adar, personalised_pagerank
from matcher.engine.recommend import CoalitionRecommender, EngineConfig
from matcher.engine.text import describing_words, partnership_text, tfidf_vectorizer

__all__ = [
    "BASELINES",
    "TEXT_BASELINES",
    "Case",
    "Split",
    "split_history",
    "assert_no_leakage",
    "build_cases",
    "recall_at_k",
    "reciprocal_rank",
    "ndcg_at_k",
    "metrics_from_ranks",
    "ranks_of",
    "bootstrap_interval",
    "evaluate",
    "run_evaluation",
    "render_text",
]


#: The baselines, in the order they are reported.
BASELINES: tuple[str, ...] = (
    "random",
    "popularity",
    "theme_popularity",
    "country_popularity",
    "adamic_adar",
    "ppr",
)
#: The baselines that read words, reported after the others when the history has text.
TEXT_BASELINES: tuple[str, ...] = ("text_tfidf",)

#: Descriptions with fewer describing words each (:func:`~matcher.engine.text.describing_words`)
#: are boilerplate, not words about the work: the run goes without text.
MIN_DESCRIBING_WORDS = 3.0

#: At most this many members besides the lead in a coalition (Constraints.max_size).
_MAX_PARTNERS = 50


@dataclass(frozen=True, slots=True)
class Case:
    """One test partnership turned into a query.

    ``hidden`` is the completion task's hidden member; ``members`` all non-lead members (the
    cold task's relevant set); ``given`` the completion task's locked members.
    """

    partnership_id: str
    lead: str
    members: tuple[str, ...]
    hidden: str
    themes: frozenset[str]
    countries: frozenset[str] = frozenset()
    title: str = ""
    description: str = ""
    lead_rule: str = "lead"

    @property
    def text(self) -> str:
        """The title and description, as the product reads an initiative's words."""
        return f"{self.title}. {self.description}" if self.description else self.title

    @property
    def given(self) -> tuple[str, ...]:
        """Locked members of the completion query: every member but the hidden one."""
        return tuple(m for m in self.members if m != self.hidden)


@dataclass(frozen=True, slots=True)
class Split:
    """A temporal split: the history dataset and the test partnerships' ids."""

    year: int
    history: Dataset
    test: tuple[str, ...]


def split_history(
    dataset: Dataset,
    year: int,
    *,
    declared_themes: bool = False,
    declared_descriptions: bool = False,
) -> Split:
    """Split ``dataset`` at ``year``: history before it, test from it on.

    Parameters
    ----------
    dataset : Dataset
    year : int
    declared_themes : bool
        Keep the organisations' declared themes in the history (off by default: they may
        summarise later partnerships).
    declared_descriptions : bool
        Keep the organisations' own descriptions (off by default, for the same reason).

    Returns
    -------
    Split
        ``test`` sorted by id.
    """
    history = history_before(dataset, year)
    if not (declared_themes and declared_descriptions):
        history = dataclasses.replace(
            history,
            organisations={
                org_id: dataclasses.replace(
                    org,
                    themes=org.themes if declared_themes else frozenset(),
                    description=org.description if declared_descriptions else "",
                )
                for org_id, org in history.organisations.items()
            },
        )
    test = tuple(
        sorted(
            pid
            for pid, p in dataset.partnerships.items()
            if p.start_year is not None and p.start_year >= year
        )
    )
    return Split(year, history, test)


def assert_no_leakage(index: Index, split: Split) -> None:
    """Raise if the index or its text profiles hold a test partnership or a membership of
    one.

    Raises
    ------
    ValidationError
        Naming the first leaked partnership.
    """
    leaked = sorted(set(index.dataset.partnerships) & set(split.test))
    leaked += sorted(
        {m.partnership_id for m in index.dataset.memberships if m.partnership_id in split.test}
    )
    if index.text is not None:
        leaked += sorted(set(index.text.partnership_ids) & set(split.test))
    if leaked:
        raise ValidationError(
            f"Test partnership {leaked[0]!r} is in the index", field="index", value=leaked[0]
        )


def build_cases(
    dataset: Dataset,
    split: Split,
    *,
    min_size: int = 3,
    max_cases: int | None = None,
    seed: int = 0,
) -> tuple[list[Case], dict[str, int]]:
    """The test cases of ``split`` (see the module docstring), and what was skipped.

    Returns
    -------
    cases : list of Case
        Sorted by partnership id.
    skipped : dict of str to int
        ``too_small`` and ``too_large`` counts of test partnerships left out (``no_lead`` is
        0: every partnership has a lead by :func:`~matcher.domain.model.choose_lead`).
    """
    members: dict[str, list[tuple[str, Role]]] = defaultdict(list)
    test = set(split.test)
    for m in dataset.memberships:
        if m.partnership_id in test:
            members[m.partnership_id].append((m.org_id, m.role))
    skipped = {"too_small": 0, "no_lead": 0, "too_large": 0}
    eligible: list[tuple[str, str, tuple[str, ...], str]] = []
    for pid in split.test:
        rows = members.get(pid, [])
        orgs = sorted({o for o, _ in rows})
        if len(orgs) < min_size:
            skipped["too_small"] += 1
            continue
        if len(orgs) - 1 > _MAX_PARTNERS:
            skipped["too_large"] += 1
            continue
        lead = choose_lead(rows)
        assert lead is not None  # the partnership has members
        rule = next((role.value for role in LEAD_ROLES if (lead, role) in rows), "first_member")
        eligible.append((pid, lead, tuple(o for o in orgs if o != lead), rule))
    rng = np.random.default_rng(seed)
    if max_cases is not None and len(eligible) > max_cases:
        picked = np.sort(rng.choice(len(eligible), max_cases, replace=False))
        eligible = [eligible[i] for i in picked.tolist()]
    cases = []
    for pid, lead, others, rule in eligible:
        hidden = others[int(rng.integers(len(others)))]
        partnership = dataset.partnerships[pid]
        cases.append(
            Case(
                pid,
                lead,
                others,
                hidden,
                partnership.themes,
                partnership.countries,
                title=partnership.name,
                description=partnership.description,
                lead_rule=rule,
            )
        )
    return cases, skipped


# ---- metrics ---------------------------------------------------------------------------------


def metrics_from_ranks(ranks: Sequence[float], relevant: int, k: int) -> tuple[float, float, float]:
    r"""Recall@k, reciprocal rank and NDCG@k from the 0-based ranks of the relevant items.

    .. math::

        \mathrm{recall@k} = |\{r < k\}| / R, \quad
        \mathrm{RR} = 1 / (\min r + 1), \quad
        \mathrm{NDCG@k} = \frac{\sum_{r < k} 1 / \log_2(r + 2)}
                              {\sum_{i < \min(R, k)} 1 / \log_2(i + 2)}

    with :math:`R` the number of relevant items; an unrankable item has rank ``inf``.

    >>> metrics_from_ranks([0.0, math.inf], 2, 10)
    (0.5, 1.0, 0.6131471927654584)
    """
    if relevant <= 0:
        return 0.0, 0.0, 0.0
    hits = [r for r in ranks if r < k]
    recall = len(hits) / relevant
    best = min(ranks, default=math.inf)
    rr = 0.0 if math.isinf(best) else 1.0 / (best + 1.0)
    dcg = sum(1.0 / math.log2(r + 2.0) for r in hits)
    ideal = sum(1.0 / math.log2(i + 2.0) for i in range(min(relevant, k)))
    return recall, rr, dcg / ideal


def _ranks_in_list(ranking: Sequence[str], relevant: Collection[str]) -> list[float]:
    where = {item: r for r, item in enumerate(dict.fromkeys(ranking))}
    return [float(where.get(item, math.inf)) for item in set(relevant)]


def recall_at_k(ranking: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant items in the first ``k`` of ``ranking``.

    >>> recall_at_k(["a", "b"], {"b"}, 1)
    0.0
    """
    return metrics_from_ranks(_ranks_in_list(ranking, relevant), len(set(relevant)), k)[0]


def reciprocal_rank(ranking: Sequence[str], relevant: Collection[str]) -> float:
    """One over the 1-based rank of the first relevant item (0 if none is ranked).

    >>> reciprocal_rank(["a", "b"], {"b"})
    0.5
    """
    return metrics_from_ranks(_ranks_in_list(ranking, relevant), len(set(relevant)), 1)[1]


def ndcg_at_k(ranking: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Normalised discounted cumulative gain at ``k`` with binary relevance.

    >>> ndcg_at_k(["a", "b"], {"a"}, 5)
    1.0
    """
    return metrics_from_ranks(_ranks_in_list(ranking, relevant), len(set(relevant)), k)[2]


def ranks_of(
    scores: FloatArray, targets: Sequence[int], eligible: npt.NDArray[np.bool_], order: IntArray
) -> list[float]:
    """0-based ranks of ``targets`` among the ``eligible`` positions by ``scores``.

    Higher scores first; ties by ``order`` (the fall-back rank of each position, lower
    first). A target that is not eligible gets rank ``inf``.

    >>> scores = np.array([0.5, 0.9, 0.5, 0.1])
    >>> ranks_of(scores, [0, 2, 3], np.array([True, True, True, False]), np.array([1, 0, 2, 3]))
    [1.0, 2.0, inf]
    """
    result = []
    for t in targets:
        if not eligible[t]:
            result.append(math.inf)
            continue
        ahead = (scores > scores[t]) | ((scores == scores[t]) & (order < order[t]))
        result.append(float(np.count_nonzero(ahead & eligible)))
    return result


def bootstrap_interval(
    values: FloatArray, resamples: IntArray, *, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``.

    Parameters
    ----------
    values : ndarray, shape (n,)
    resamples : ndarray of int, shape (B, n)
        Case indices of each resample (shared by every method compared).
    level : float

    >>> rng = np.random.default_rng(0)
    >>> values = np.array([0.0, 1.0, 1.0, 0.0])
    >>> low, high = bootstrap_interval(values, rng.integers(0, 4, size=(1000, 4)))
    >>> 0.0 <= low < 0.5 < high <= 1.0
    True
    """
    if values.size == 0:
        return 0.0, 0.0
    means = values[resamples].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


# ---- the run ---------------------------------------------------------------------------------

Scorer = Callable[[Case, Sequence[int]], FloatArray]


def _baselines(
    index: Index, graph: WalkGraph, *, walks: int, seed: int, text: bool
) -> dict[str, Scorer]:
    themes_of = {pid: p.themes for pid, p in index.dataset.partnerships.items()}
    countries_of = {pid: p.countries for pid, p in index.dataset.partnerships.items()}
    per_theme: dict[str, FloatArray] = defaultdict(lambda: np.zeros(index.size))
    per_country: dict[str, FloatArray] = defaultdict(lambda: np.zeros(index.size))
    for m in index.dataset.memberships:
        for theme in themes_of[m.partnership_id]:
            per_theme[theme][index.position[m.org_id]] += 1.0
        for country in countries_of[m.partnership_id]:
            per_country[country][index.position[m.org_id]] += 1.0
    popularity = index.partnerships.astype(np.float64)
    rng = np.random.default_rng(seed)

    def random(case: Case, given: Sequence[int]) -> FloatArray:
        return rng.random(index.size)

    def by_popularity(case: Case, given: Sequence[int]) -> FloatArray:
        return popularity

    def by_theme(case: Case, given: Sequence[int]) -> FloatArray:
        total = np.zeros(index.size)
        for theme in sorted(case.themes):
            if theme in per_theme:
                total += per_theme[theme]
        return total

    def by_country(case: Case, given: Sequence[int]) -> FloatArray:
        total = np.zeros(index.size)
        for country in sorted(case.countries):
            if country in per_country:
                total += per_country[country]
        return total

    def by_adamic_adar(case: Case, given: Sequence[int]) -> FloatArray:
        return adamic_adar(graph, given)

    def by_ppr(case: Case, given: Sequence[int]) -> FloatArray:
        return personalised_pagerank(graph, given, walks=walks, seed=seed)

    scorers: dict[str, Scorer] = {
        "random": random,
        "popularity": by_popularity,
        "theme_popularity": by_theme,
        "country_popularity": by_country,
        "adamic_adar": by_adamic_adar,
        "ppr": by_ppr,
    }
    if text:
        scorers["text_tfidf"] = _tfidf_scorer(index)
    return scorers


def _tfidf_scorer(index: Index) -> Scorer:
    """The text-only baseline: TF-IDF cosine of the query's words with each organisation's
    history text (its history partnerships' titles and descriptions)."""
    pieces: dict[int, list[str]] = defaultdict(list)
    for m in index.dataset.memberships:
        pieces[index.position[m.org_id]].append(
            partnership_text(index.dataset.partnerships[m.partnership_id])
        )
    documents = [" ".join(pieces.get(i, ())) for i in range(index.size)]
    vectorizer = tfidf_vectorizer()
    matrix = vectorizer.fit_transform(documents)  # rows are unit length

    def by_text(case: Case, given: Sequence[int]) -> FloatArray:
        query = vectorizer.transform([case.text])
        return np.asarray((matrix @ query.T).todense(), dtype=np.float64).ravel()

    return by_text


@dataclass(frozen=True, slots=True)
class _Task:
    name: str
    given: Callable[[Case], tuple[str, ...]]
    relevant: Callable[[Case], tuple[str, ...]]


_TASKS = (
    _Task("completion", lambda case: case.given, lambda case: (case.hidden,)),
    _Task("cold", lambda case: (), lambda case: case.members),
)


def run_evaluation(
    dataset: Dataset,
    *,
    split_year: int,
    k: int = 10,
    min_size: int = 3,
    max_cases: int | None = None,
    seed: int = 0,
    depth: int = 100,
    resamples: int = 1000,
    affinity: AffinityModel | None = None,
    index_config: IndexConfig | None = None,
    engine: EngineConfig | None = None,
    text_encoder: str | None = None,
    ubiquitous_share: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Hold-out evaluation of completion and cold start, with baselines (module docstring);
    return the summary (the JSON object) and the details.

    Parameters
    ----------
    dataset : Dataset
        All of it: the split happens here.
    split_year : int
    k : int
        Cut-off of recall@k and NDCG@k.
    min_size : int
        Members a test partnership needs (lead included).
    max_cases : int, optional
        Evaluate a uniform sample of this many test partnerships (by ``seed``).
    seed : int
        Seeds the sample, the hidden members, the random baseline and the bootstrap.
    depth : int
        Answers asked of the product's ``complete`` per case (the rest by the fall-back).
    resamples : int
        Bootstrap resamples.
    affinity : AffinityModel, optional
        The product's learned model, unfitted (fitted here on the history) or fitted (on this
        history only!); a default one when ``None``.
    index_config : IndexConfig, optional
    text_encoder : str, optional
        ``"use"`` or ``"tfidf"``: the product reads the words (title and description) with
        this encoder, and the TF-IDF text-only baseline runs; ``None`` for no words.
    ubiquitous_share : float
        Leave out organisations in at least this share of history partnerships (0: none).
    engine : EngineConfig, optional
        Configures the product's recommender (its ``walks`` and the seed also serve the
        PageRank baseline).
    progress : callable, optional
        Called with (texts embedded, texts to embed).

    Returns
    -------
    summary : dict
        ``{"cases": N, "completion": {"method": {...}, "baselines": {...}}, "cold": {...}}``,
        each metric ``{"value": v, "ci95": [low, high]}``.
    details : dict
        The split, the counts of skipped partnerships, of leads by the rule that chose them,
        of leads and relevant members unseen in history, whether and how words were used,
        what the affinity model trained on, and the seconds each stage took.

    Notes
    -----
    One index build and one model fit on the history, then per case and task one
    ``complete`` call and the baseline scorings over all organisations:
    O(cases × organisations) for the baselines' ranks.
    """
    if k < 1:
        raise ValidationError(f"k must be at least 1, got {k}", field="k", value=k)
    if min_size < 2:
        raise ValidationError(
            f"min_size must be at least 2, got {min_size}", field="min_size", value=min_size
        )
    timings: dict[str, float] = {}
    started = time.perf_counter()
    split = split_history(dataset, split_year)
    descriptions = [p.description for p in split.history.partnerships.values()]
    described = sum(1 for d in descriptions if d.strip())
    saying = describing_words(descriptions)
    words = saying >= MIN_DESCRIBING_WORDS
    if text_encoder is None:
        text_note = "not asked (--no-text)"
    elif not words:
        text_note = (
            f"the history partnerships' descriptions say nothing of their subject "
            f"({described} with a description, {saying:.1f} describing words each): "
            "evaluated without words"
        )
        text_encoder = None
    else:
        text_note = (
            f"{text_encoder}: profiles from {len(split.history.partnerships)} history "
            f"partnerships ({described} with a description, {saying:.1f} describing words each)"
        )
    config = dataclasses.replace(
        index_config or IndexConfig(), reference_year=split_year, text_encoder=text_encoder
    )
    index = build_index(split.history, config, text_progress=progress)
    assert_no_leakage(index, split)
    cases, skipped = build_cases(dataset, split, min_size=min_size, max_cases=max_cases, seed=seed)
    timings["index"] = time.perf_counter() - started

    started = time.perf_counter()
    model = affinity if affinity is not None else AffinityModel(random_state=seed)
    if not hasattr(model, "classifier_"):
        model.fit(
            split.history,
            index_config=dataclasses.replace(
                index_config or IndexConfig(), text_encoder=text_encoder
            ),
            text_cache=index.text.cache if index.text is not None else None,
        )
    timings["train"] = time.perf_counter() - started

    engine_config = engine if engine is not None else EngineConfig(seed=seed)
    recommender = CoalitionRecommender(config=engine_config).fit(index, affinity=model)
    graph = recommender.graph_
    seen = index.partnerships > 0
    history_size = max(len(split.history.partnerships), 1)
    ubiquitous = (
        np.flatnonzero(index.partnerships >= ubiquitous_share * history_size)
        if ubiquitous_share > 0
        else np.zeros(0, dtype=np.int64)
    )
    ubiquitous_ids = {index.org_ids[int(i)] for i in ubiquitous}
    popularity = index.partnerships.astype(np.float64)
    fallback = np.empty(index.size, dtype=np.int64)
    fallback[np.lexsort((np.arange(index.size), -popularity))] = np.arange(index.size)
    scorers = _baselines(index, graph, walks=engine_config.walks, seed=seed, text=words)
    baselines = [name for name in (*BASELINES, *TEXT_BASELINES) if name in scorers]

    def product(case: Case, given_ids: tuple[str, ...]) -> FloatArray:
        initiative = Initiative(
            lead=case.lead,
            id="evaluation",
            themes=case.themes,
            countries=case.countries,
            title=case.title if text_encoder else "",
            description=case.description if text_encoder else "",
        )
        completions = recommender.complete(initiative, given_ids, k=depth)
        scores = np.zeros(index.size)
        for r, completion in enumerate(completions):
            scores[index.position[completion.id]] = float(depth - r)
        return scores

    methods = ["method", *baselines]
    values: dict[str, dict[str, list[tuple[float, float, float]]]] = {
        task.name: {m: [] for m in methods} for task in _TASKS
    }
    unseen = {task.name: 0 for task in _TASKS}
    ceiling: dict[str, list[float]] = {task.name: [] for task in _TASKS}
    relevant_total = {task.name: 0 for task in _TASKS}
    unknown_lead = 0
    leads_by_rule: dict[str, int] = defaultdict(int)
    time_per = {m: 0.0 for m in methods}
    evaluated = 0
    swap = np.random.default_rng(seed + 1)
    for case in cases:
        leads_by_rule[case.lead_rule] += 1
        if not seen[index.position[case.lead]]:
            unknown_lead += 1
        relevant_ids = [o for o in case.members if o not in ubiquitous_ids]
        if not relevant_ids:
            continue
        evaluated += 1
        if case.hidden in ubiquitous_ids:  # hide a member worth finding instead
            case = dataclasses.replace(
                case, hidden=relevant_ids[int(swap.integers(len(relevant_ids)))]
            )
        for task in _TASKS:
            task_case = (
                case
                if task.name == "completion"
                else dataclasses.replace(case, members=tuple(relevant_ids))
            )
            given_ids = task.given(task_case)
            given = [index.position[case.lead], *(index.position[o] for o in given_ids)]
            eligible = seen.copy()
            eligible[given] = False
            if ubiquitous_ids:
                eligible[ubiquitous] = False
            relevant = [index.position[o] for o in task.relevant(task_case)]
            relevant_total[task.name] += len(relevant)
            unseen[task.name] += int(np.count_nonzero(~seen[relevant]))
            ceiling[task.name].append(min(int(np.count_nonzero(seen[relevant])), k) / len(relevant))
            for name in methods:
                tic = time.perf_counter()
                scores = (
                    product(task_case, given_ids)
                    if name == "method"
                    else scorers[name](task_case, given)
                )
                ranks = ranks_of(scores, relevant, eligible, fallback)
                values[task.name][name].append(metrics_from_ranks(ranks, len(relevant), k))
                time_per[name] += time.perf_counter() - tic

    rng = np.random.default_rng(seed)
    resample_index = rng.integers(0, max(evaluated, 1), size=(resamples, evaluated))
    keys = (f"recall@{k}", "mrr", f"ndcg@{k}")

    def summarise(rows: list[tuple[float, float, float]]) -> dict[str, Any]:
        table = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
        out: dict[str, Any] = {}
        for j, key in enumerate(keys):
            column = table[:, j]
            low, high = bootstrap_interval(column, resample_index)
            value = float(column.mean()) if column.size else 0.0
            out[key] = {"value": round(value, 4), "ci95": [round(low, 4), round(high, 4)]}
        return out

    summary: dict[str, Any] = {"cases": evaluated}
    for task in _TASKS:
        summary[task.name] = {
            "method": summarise(values[task.name]["method"]),
            "baselines": {b: summarise(values[task.name][b]) for b in baselines},
        }
    details: dict[str, Any] = {
        "split_year": split_year,
        "k": k,
        "min_size": min_size,
        "seed": seed,
        "history_partnerships": len(split.history.partnerships),
        "test_partnerships": len(split.test),
        "skipped": skipped,
        "leads": dict(sorted(leads_by_rule.items())),
        "text": text_note,
        "ubiquitous_left_out": sorted(ubiquitous_ids),
        "leads_unseen_in_history": unknown_lead,
        "relevant": relevant_total,
        "relevant_unseen_in_history": unseen,
        "ceiling": {
            name: round(float(np.mean(values)), 4) if values else 0.0
            for name, values in ceiling.items()
        },
        "training": getattr(model, "training_", {}),
        "seconds": {
            **{key: round(v, 2) for key, v in timings.items()},
            **{f"rank:{m}": round(v, 2) for m, v in time_per.items()},
        },
    }
    return summary, details


def evaluate(dataset: Dataset, **settings: Any) -> dict[str, Any]:
    """The summary alone of :func:`run_evaluation` (the same keyword arguments).

    Returns
    -------
    dict
        ``{"cases": N, "completion": {"method": {...}, "baselines": {...}}, "cold": {...}}``,
        each metric ``{"value": v, "ci95": [low, high]}``.
    """
    return run_evaluation(dataset, **settings)[0]


def render_text(summary: Mapping[str, Any], details: Mapping[str, Any] | None = None) -> str:
    """A plain-text table of a summary (and its details) for a person to read."""
    lines = [f"cases: {summary['cases']}"]
    for task in ("completion", "cold"):
        block = summary[task]
        keys = list(block["method"])
        lines.append("")
        lines.append(f"{task}")
        header = f"  {'':<18}" + "".join(f"{key:>26}" for key in keys)
        lines.append(header)
        rows = [("method", block["method"])] + list(block["baselines"].items())
        for name, metrics in rows:
            cells = "".join(
                f"{metrics[key]['value']:>8.4f} [{metrics[key]['ci95'][0]:.4f}, "
                f"{metrics[key]['ci95'][1]:.4f}]"
                for key in keys
            )
            lines.append(f"  {name:<18}{cells}")
        first = keys[0]
        best = max(block["baselines"].items(), key=lambda item: item[1][first]["value"])
        if best[1][first]["value"] > 0:
            ratio = block["method"][first]["value"] / best[1][first]["value"]
            lines.append(f"  {first}: {ratio:.2f}x the best baseline ({best[0]})")
    if details:
        lines.append("")
        for key, value in details.items():
            lines.append(f"{key}: {value}")
    return "\n".join(lines)
