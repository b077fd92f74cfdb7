r"""Who joins this partial coalition: a ranker learned from history, without labels.

The question is the broker's "who should join?": given a lead, the members already locked in
and the initiative's themes (and countries, if any), which organisation is most likely to be
the next partner. :class:`AffinityModel` answers it with a gradient-boosted classifier over
signals of many kinds, learned *self-supervised* from the history it is given:

1. **pseudo split.** The last start year :math:`s` of the history (and, with ``folds=2``
   or while the examples hold fewer than ``min_positives`` positives, the ones before as
   well) becomes a pseudo test year: an index is built from the
   partnerships that start before :math:`s` only, exactly as the real index is built from
   the partnerships before the real split year.
2. **queries.** Each partnership starting in :math:`s` with at least ``min_size`` members gives
   ``hidden_per_partnership`` *completion* queries (the lead and all members but one given,
   the hidden one to find) and one *cold* query (only the lead given, every member to find),
   each with the partnership's themes, countries and words.
3. **examples.** Each query's bounded candidate set (:meth:`AffinityRanker.candidates`) is
   labelled 1 for the organisations to find and 0 otherwise (negatives subsampled to
   ``negatives_per_query``), described by the features of :data:`FEATURES`.
4. **fit.** A :class:`sklearn.ensemble.HistGradientBoostingClassifier` (logistic loss) learns
   :math:`P(\text{joins} \mid \text{features})`; its log-odds rank the candidates.

Nothing of the partnerships after the history is ever seen, and the pseudo queries' own
partnerships never touch the index their features come from.

The features of a candidate :math:`c` for the given members :math:`G` (the lead :math:`\ell`
and the locked members), themes :math:`T` and countries :math:`C` ("team" partnerships are
those of two or more members; :math:`X` is the organisation × team-partnership incidence,
:math:`n_o` an organisation's team partnerships, :math:`|p|` a partnership's size):

* *proximity in the collaboration graph*: personalised PageRank from :math:`G` (absolute,
  relative to the best candidate's, and as a within-query percentile) and from :math:`\ell`
  alone [1]_, Adamic-Adar from :math:`G` [2]_; the number and share of given members
  :math:`c` already worked with, the partnerships it shared with them (raw, recency-weighted,
  on :math:`T`) and with the lead, in partnerships the lead led, and with the given members of
  its own country; years since the last one;
* *co-occurrence (item-kNN, random walks on the bipartite graph)*: two-step
  :math:`\frac{1}{|G|}\sum_{g \in G}\sum_{p \ni g, c} \frac{1}{n_g |p|}` (on all and on
  on-theme partnerships) and four-step transition probabilities [3]_, the cosine
  :math:`\sum_g |P_g \cap P_c| / \sqrt{n_g n_c}` and the confidence
  :math:`\sum_g |P_g \cap P_c| / n_g` [4]_; the largest overlap :math:`|p \cap G|` of a
  partnership of :math:`c` (raw, as a share of :math:`G`, and as a Jaccard index), and the
  resource allocation :math:`\sum_{p \ni c} |p \cap G| / |p|`; cosine of :math:`c`'s
  32-dimensional SVD embedding of :math:`D^{-1/2} X D^{-1/2}` with :math:`G`'s centroid and
  with its closest given member;
* *popularity and activity*: all and team partnerships, the share it led, recency-weighted
  activity, last year's, years since its first and last, number of distinct partners;
* *theme history*: recency-weighted non-lead memberships on :math:`T` (absolute, relative,
  percentile, and as a share of its activity), and its country's share of them;
* *activity in the target countries*: its history partnerships (any size, any role) in
  :math:`C` (log, relative to the best candidate's, percentile); the ``pool_local`` most
  active there join the candidates;
* *words* (when the index holds text profiles, :mod:`matcher.engine.text`, and the query a
  title or description): the cosine of :math:`c`'s profile with the query's text, relative
  to the best candidate's and as a within-query percentile; the ``pool_text`` nearest
  profiles join the candidates. Training queries carry their partnership's title and
  description, matched against profiles built from the pseudo-history only;
* *complementarity with the given members*: its kind (categorical), the lead's kind, the
  share of :math:`G` of its kind and the share of :math:`G`'s past partners of its kind and
  of its country; whether its country or region is already in :math:`G`, is the lead's, or
  is a target country; how many given members and countries there are, the lead's activity.

References
----------
.. [1] Fogaras, Rácz, Csalogány, Sarlós. Towards scaling fully personalized PageRank.
   Internet Mathematics 2(3), 2005.
.. [2] Adamic, Adar. Friends and neighbors on the Web. Social Networks 25(3), 2003.
.. [3] Cooper, Lee, Radford, Shardlow. Random walks in recommender systems: exact
   computation and simulations. WWW 2014 (P3 / RP3-beta).
.. [4] Sarwar, Karypis, Konstan, Riedl. Item-based collaborative filtering recommendation
   algorithms. WWW 2001.

Examples
--------
A lead ``a`` that worked with ``b`` and ``c`` three times, ``b`` and ``c`` who always worked
together, and two newcomers; who joins ``a`` and ``b`` next?

>>> from matcher.domain.dataset import Dataset
>>> from matcher.engine.index import IndexConfig, build_index
>>> from matcher.domain.model import Membership, Organisation, Partnership
>>> from matcher.engine.proximity import WalkGraph
>>> from matcher.formats.taxonomy_io import load_taxonomies
>>> orgs = [Organisation(o, o.upper(), "ngo", country="FR") for o in "abcde"]
>>> parts = [Partnership(f"p{y}", "P", start_year=y, themes=["education"])
...     for y in (2001, 2002, 2003)]
>>> members = [Membership(p.id, o, "lead" if o == "a" else "member")
...     for p in parts for o in "abc"]
>>> members += [Membership("q", "d", "lead"), Membership("q", "e", "member")]
>>> parts.append(Partnership("q", "Q", start_year=2003, themes=["health"]))
>>> dataset = Dataset.build(organisations=orgs, partnerships=parts, memberships=members,
...     taxonomies=load_taxonomies())
>>> index = build_index(dataset)
>>> ranker = AffinityModel.heuristic().ranker(index, WalkGraph.from_matrix(index.collaboration))
>>> positions, scores = ranker.rank(AffinityQuery("a", ("b",), frozenset({"education"})))
>>> [index.org_ids[p] for p in positions][:1]
['c']
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from matcher.domain.arrays import FloatArray, IntArray
from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import NotFoundError, PartnerMatchError, ValidationError
from matcher.domain.model import Role, choose_lead
from matcher.engine.index import KINDS, Index, IndexConfig, build_index
from matcher.engine.proximity import WalkGraph, adamic_adar, personalised_pagerank
from matcher.engine.text import EmbeddingCache, partnership_text

if TYPE_CHECKING:
    from sklearn.ensemble import (  # type: ignore[import-untyped]
        HistGradientBoostingClassifier,
    )

__all__ = [
    "FEATURES",
    "CATEGORICAL",
    "AffinityQuery",
    "HistoryProfile",
    "AffinityRanker",
    "AffinityModel",
    "NotFittedError",
    "history_before",
    "profile_of",
]


#: The features, in the order of the columns the classifier sees.
FEATURES: tuple[str, ...] = (
    "ppr",
    "ppr_relative",
    "ppr_lead",
    "adamic_adar",
    "given_tied",
    "given_tied_share",
    "shared",
    "shared_recent",
    "shared_with_lead",
    "shared_on_theme",
    "overlap_max",
    "overlap_share",
    "overlap_jaccard",
    "resource_allocation",
    "years_since_shared",
    "partner_country_share",
    "cooccurrence",
    "cooccurrence_4",
    "cosine",
    "confidence",
    "local_tie",
    "lead_led_with",
    "cooccurrence_on_theme",
    "embedding_centroid",
    "embedding_max",
    "years_since_first",
    "last_year_activity",
    "rank_ppr",
    "rank_cooccurrence",
    "rank_cosine",
    "rank_given_tied",
    "rank_theme",
    "partner_kind_share",
    "partnerships",
    "multi",
    "led_share",
    "recent_activity",
    "years_since_last",
    "partners",
    "theme",
    "theme_relative",
    "theme_share",
    "theme_recent",
    "country_theme",
    "country_theme_share",
    "country_activity",
    "country_activity_relative",
    "rank_country_activity",
    "kind",
    "lead_kind",
    "same_kind_share",
    "country_in_given",
    "new_country",
    "region_in_given",
    "lead_country",
    "target_country",
    "given",
    "given_countries",
    "lead_multi",
    "text_similarity",
    "text_relative",
    "rank_text",
)

#: The columns of the words' features (zero without text).
_TEXT_COLUMNS = [FEATURES.index(name) for name in ("text_similarity", "text_relative", "rank_text")]

#: The weights of the words' relative similarity added to the log-odds that
#: :meth:`AffinityModel.fit` chooses among on held-out history when the trees cannot learn
#: the words' features (too few positives).
TEXT_WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)

#: Features the classifier treats as categories (organisation kinds).
CATEGORICAL: tuple[str, ...] = ("kind", "lead_kind")

#: Weights of the hand-set score of :meth:`AffinityModel.heuristic` (no learning).
_HEURISTIC: dict[str, float] = {
    "ppr_relative": 2.0,
    "adamic_adar": 0.5,
    "given_tied_share": 2.0,
    "theme_relative": 1.0,
    "recent_activity": 0.3,
}


class NotFittedError(PartnerMatchError):
    """The affinity model was used before :meth:`AffinityModel.fit`."""


@dataclass(frozen=True, slots=True)
class AffinityQuery:
    """A partial coalition: its lead, its locked members and the initiative's context.

    Parameters
    ----------
    lead : str
    members : tuple of str
        The members already in, besides the lead.
    themes, countries : frozenset of str
        The initiative's themes and target countries.
    text : str
        Its title and description (matched against the organisations' text profiles when
        the index has them).
    """

    lead: str
    members: tuple[str, ...] = ()
    themes: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    text: str = ""


@dataclass(frozen=True, slots=True)
class HistoryProfile:
    """What the features need from history beyond the :class:`~matcher.engine.index.Index`.

    Built by :func:`profile_of` from the index's own dataset, so it never sees more history
    than the index. Only partnerships of two or more members count here ("team"
    partnerships): a single-member grant says nothing of whom one joins.

    Attributes
    ----------
    now : int
        One after the latest start year of the history: the year queries are asked in.
    incidence : scipy.sparse.csr_matrix
        Organisation × team partnership, 1 for a member.
    recency : ndarray
        Per team partnership, :math:`0.5^{(now - 1 - year) / h}`.
    sizes, years : ndarray
        Per team partnership, its number of members and its start year.
    partnership_theme : scipy.sparse.csc_matrix
        Team partnership × theme, 1 where the partnership is on the theme.
    theme : scipy.sparse.csc_matrix
        Organisation × theme, recency-weighted non-lead memberships of team partnerships on it.
    theme_count : scipy.sparse.csc_matrix
        Organisation × theme, the number of team partnerships on it.
    multi, led, recent : ndarray
        Per organisation: team partnerships, how many it led, their recency-weighted sum.
    last : ndarray of int
        Start year of its latest team partnership (``now - 10`` for none).
    partners : ndarray of int
        Distinct organisations it shared a team partnership with.
    country_id : ndarray of int
        Index into ``countries``; -1 for none.
    activity_countries : tuple of str
        The countries history partnerships took place in (their ``countries``).
    country_activity : scipy.sparse.csc_matrix
        Organisation × activity country, the number of history partnerships (of any size)
        in that country it was a member of.
    country_theme : ndarray
        Country × theme, the sum of ``theme`` over the country's organisations.
    """

    now: int
    incidence: sp.csr_matrix
    recency: FloatArray
    sizes: FloatArray
    years: IntArray
    partnership_theme: sp.csc_matrix
    theme: sp.csc_matrix
    theme_count: sp.csc_matrix
    multi: FloatArray
    led: FloatArray
    recent: FloatArray
    last: IntArray
    partners: FloatArray
    countries: tuple[str, ...]
    country_id: IntArray
    country_theme: FloatArray
    first: IntArray
    led_by: IntArray
    embedding: FloatArray
    activity_countries: tuple[str, ...]
    country_activity: sp.csc_matrix


def history_before(dataset: Dataset, year: int) -> Dataset:
    """The same organisations with only the partnerships that start before ``year``.

    Partnerships without a start year are dropped (they cannot be placed in time). Flags,
    conflicts and explicit capabilities are kept: they describe organisations, not history.

    >>> from matcher.domain.model import Organisation, Partnership, Membership
    >>> from matcher.formats.taxonomy_io import load_taxonomies
    >>> d = Dataset.build(organisations=[Organisation("a", "A", "ngo")],
    ...     partnerships=[Partnership("p", "P", start_year=2001),
    ...                   Partnership("q", "Q", start_year=2002)],
    ...     memberships=[Membership("p", "a"), Membership("q", "a")],
    ...     taxonomies=load_taxonomies())
    >>> sorted(history_before(d, 2002).partnerships)
    ['p']
    """
    kept = {
        pid: p
        for pid, p in dataset.partnerships.items()
        if p.start_year is not None and p.start_year < year
    }
    return Dataset.build(
        organisations=dataset.organisations.values(),
        capabilities=dataset.capabilities,
        partnerships=kept.values(),
        memberships=[m for m in dataset.memberships if m.partnership_id in kept],
        flags=dataset.flags,
        conflicts=dataset.conflicts,
        taxonomies=dataset.taxonomies,
    )


def profile_of(index: Index, *, half_life: float = 2.0) -> HistoryProfile:
    """Build the :class:`HistoryProfile` of ``index`` from its own dataset.

    Parameters
    ----------
    index : Index
    half_life : float
        Years after which a partnership counts half in the recency-weighted figures.

    Returns
    -------
    HistoryProfile

    Notes
    -----
    O(memberships + team partnerships × themes) time.
    """
    dataset = index.dataset
    n = index.size
    groups: dict[str, list[tuple[int, Role]]] = defaultdict(list)
    for row in dataset.memberships:
        groups[row.partnership_id].append((index.position[row.org_id], row.role))
    starts = [p.start_year for p in dataset.partnerships.values() if p.start_year is not None]
    now = (max(starts) + 1) if starts else index.reference_year
    theme_position = {code: j for j, code in enumerate(index.theme_codes)}
    rows: list[int] = []
    cols: list[int] = []
    recency: list[float] = []
    years: list[int] = []
    theme_rows: list[int] = []
    theme_cols: list[int] = []
    theme_values: list[float] = []
    pt_rows: list[int] = []
    pt_cols: list[int] = []
    led = np.zeros(n)
    led_by: list[int] = []
    for pid, partnership in dataset.partnerships.items():
        group = {i: role for i, role in groups.get(pid, [])}
        if len(group) < 2:
            continue
        column = len(recency)
        year = partnership.start_year or partnership.end_year or now - 1
        weight = 0.5 ** (max(0, now - 1 - year) / half_life)
        recency.append(weight)
        years.append(year)
        leads = [i for i, role in group.items() if role is Role.LEAD]
        led_by.append(min(leads) if leads else -1)
        theme_js = [theme_position[t] for t in partnership.themes if t in theme_position]
        pt_rows.extend([column] * len(theme_js))
        pt_cols.extend(theme_js)
        for i, role in group.items():
            rows.append(i)
            cols.append(column)
            if role is Role.LEAD:
                led[i] += 1
                continue
            for j in theme_js:
                theme_rows.append(i)
                theme_cols.append(j)
                theme_values.append(weight)
    m = len(recency)
    incidence = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, m))
    incidence.sum_duplicates()
    recency_array = np.asarray(recency, dtype=np.float64)
    year_array = np.asarray(years, dtype=np.int64)
    shape = (n, len(index.theme_codes))
    theme = sp.csc_matrix((theme_values, (theme_rows, theme_cols)), shape=shape)
    theme.sum_duplicates()
    theme_count = sp.csc_matrix((np.ones(len(theme_rows)), (theme_rows, theme_cols)), shape=shape)
    theme_count.sum_duplicates()
    partnership_theme = sp.csc_matrix(
        (np.ones(len(pt_rows)), (pt_rows, pt_cols)), shape=(m, len(index.theme_codes))
    )
    multi = np.asarray(incidence.sum(axis=1)).ravel()
    recent = np.asarray(incidence @ recency_array).ravel()
    last = np.full(n, now - 10, dtype=np.int64)
    first = np.full(n, now, dtype=np.int64)
    if m:
        coo = incidence.tocoo()
        np.maximum.at(last, coo.row, year_array[coo.col])
        np.minimum.at(first, coo.row, year_array[coo.col])
    embedding = _embedding(incidence, multi_counts=np.asarray(incidence.sum(axis=1)).ravel())
    co = incidence @ incidence.T
    partners = np.diff(co.indptr).astype(np.float64) - (multi > 0)
    countries = tuple(sorted(index.by_country))
    country_position = {c: k for k, c in enumerate(countries)}
    country_id = np.array(
        [country_position.get(c, -1) if c else -1 for c in index.country], dtype=np.int64
    )
    has_country = country_id >= 0
    indicator = sp.csr_matrix(
        (np.ones(int(has_country.sum())), (country_id[has_country], np.flatnonzero(has_country))),
        shape=(len(countries), n),
    )
    country_theme = np.asarray((indicator @ theme).todense(), dtype=np.float64)
    if not countries:  # one row of zeros, so that lookups at 0 stay valid
        country_theme = np.zeros((1, len(index.theme_codes)))
    activity_countries, country_activity = _country_activity(index)
    return HistoryProfile(
        now=now,
        incidence=incidence,
        recency=recency_array,
        sizes=np.asarray(incidence.sum(axis=0), dtype=np.float64).ravel(),
        years=year_array,
        partnership_theme=partnership_theme,
        theme=theme,
        theme_count=theme_count,
        multi=multi,
        led=led,
        recent=recent,
        last=last,
        partners=np.maximum(partners, 0.0),
        countries=countries,
        country_id=country_id,
        country_theme=country_theme,
        first=first,
        led_by=np.asarray(led_by, dtype=np.int64),
        embedding=embedding,
        activity_countries=activity_countries,
        country_activity=country_activity,
    )


def _country_activity(index: Index) -> tuple[tuple[str, ...], sp.csc_matrix]:
    """The countries of the history partnerships and the organisation × country count of
    the partnerships each organisation was a member of there (all sizes, every role)."""
    dataset = index.dataset
    countries = tuple(sorted({c for p in dataset.partnerships.values() for c in p.countries if c}))
    column = {c: j for j, c in enumerate(countries)}
    rows: list[int] = []
    cols: list[int] = []
    for m in dataset.memberships:
        for country in dataset.partnerships[m.partnership_id].countries:
            if country in column:
                rows.append(index.position[m.org_id])
                cols.append(column[country])
    matrix = sp.csc_matrix((np.ones(len(rows)), (rows, cols)), shape=(index.size, len(countries)))
    matrix.sum_duplicates()
    return countries, matrix


def _embedding(incidence: sp.csr_matrix, *, multi_counts: FloatArray, dim: int = 32) -> FloatArray:
    """Unit-length organisation vectors from a truncated SVD of the normalised incidence.

    The rows of :math:`U_k \\Sigma_k` for :math:`D_o^{-1/2} X D_p^{-1/2} = U \\Sigma V^\\top`,
    normalised. Deterministic, so that an evaluation gives the same figures run after run:
    from the eigen-decomposition of the smaller Gram matrix (LAPACK, one thread) when a side
    has at most :data:`_DENSE_EMBEDDING_LIMIT` rows, else a randomized SVD with a fixed seed
    (one BLAS thread). ARPACK (``svds``), used before, moved the vectors by about 1e-4 from
    call to call, and the learned model's rankings with them. Singular values tied with the
    first one left out are left out too: the basis of a group of equal singular values is
    arbitrary, and only a group kept whole gives the same cosines whatever basis is chosen.
    """
    n, m = incidence.shape
    if min(n, m) <= dim + 1 or incidence.nnz == 0:
        return np.zeros((n, 0))
    sizes = np.asarray(incidence.sum(axis=0), dtype=np.float64).ravel()
    left = sp.diags(1.0 / np.sqrt(np.maximum(multi_counts, 1.0)))
    right = sp.diags(1.0 / np.sqrt(np.maximum(sizes, 1.0)))
    normalised = (left @ incidence @ right).tocsr()
    # imported before the limit: a library loaded inside it would escape it
    from sklearn.utils.extmath import randomized_svd  # type: ignore[import-untyped]

    with threadpool_limits(limits=1, user_api="blas"):
        if min(n, m) <= _DENSE_EMBEDDING_LIMIT:
            if m <= n:  # A^T A = V S^2 V^T, and U S = A V
                values, basis = np.linalg.eigh((normalised.T @ normalised).toarray())
                order = np.argsort(-values, kind="stable")[: dim + 1]
                vectors = np.asarray(normalised @ basis[:, order])
            else:  # A A^T = U S^2 U^T
                values, basis = np.linalg.eigh((normalised @ normalised.T).toarray())
                order = np.argsort(-values, kind="stable")[: dim + 1]
                vectors = basis[:, order] * np.sqrt(np.maximum(values[order], 0.0))[None, :]
            sigma = np.sqrt(np.maximum(values[order], 0.0))
        else:
            u, sigma, _ = randomized_svd(normalised, dim + 1, n_iter=7, random_state=0)
            vectors = u * sigma[None, :]
    kept = sigma[:dim] > sigma[dim] * (1.0 + 1e-9) + 1e-12
    vectors = vectors[:, :dim][:, kept]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: FloatArray = np.where(norms > 0, vectors / np.maximum(norms, 1e-12), 0.0)
    return result


#: Up to this many organisations or team partnerships (the smaller side), the graph
#: embedding comes from a dense eigen-decomposition (exact); above, from a randomized SVD.
_DENSE_EMBEDDING_LIMIT = 1000


def _percentile(values: FloatArray) -> FloatArray:
    """Share of the other values strictly below each value (ties share their rank)."""
    if values.size <= 1:
        return np.zeros(values.size)
    ordered = np.sort(values)
    below = np.searchsorted(ordered, values, side="left")
    result: FloatArray = below / (values.size - 1)
    return result


def _top(values: FloatArray, count: int, among: IntArray | None = None) -> IntArray:
    """Positions of the ``count`` largest positive ``values`` (optionally ``among`` some)."""
    if among is None:
        among = np.flatnonzero(values > 0)
    else:
        among = among[values[among] > 0]
    if among.size > count:
        among = among[np.argpartition(-values[among], count - 1)[:count]]
    return among.astype(np.int64)


@dataclass
class _Signals:
    """Per-query vectors over all organisations, shared by candidate generation and features."""

    given: IntArray
    lead: int
    ppr: FloatArray
    ppr_lead: FloatArray
    adamic_adar: FloatArray
    theme: FloatArray
    theme_count: FloatArray
    shared: sp.csr_matrix  # given × organisations: shared team partnerships
    shared_recent: FloatArray
    theme_columns: IntArray
    overlap: FloatArray  # per team partnership: given members in it
    on_theme: FloatArray  # per team partnership: 1 if on a query theme
    partner_country: FloatArray  # per country: share of the given members' partners
    partner_kind: FloatArray  # per kind: share of the given members' partners
    cooccurrence: FloatArray  # two bipartite steps from the given members
    cooccurrence_4: FloatArray  # four
    cosine: FloatArray  # item-kNN cosine, summed over the given members
    confidence: FloatArray  # sum over given members of P(c | g)
    lead_led: FloatArray  # per team partnership: 1 if the lead led it
    cooccurrence_on_theme: FloatArray
    centroid: FloatArray
    country_activity: FloatArray  # history partnerships in the query's countries
    text_query: npt.NDArray[np.float32] | None = None  # the query's unit text vector
    text_nearest: IntArray | None = None  # positions of the nearest text profiles


def _text_features(index: Index, s: _Signals, c: IntArray) -> dict[str, FloatArray]:
    """The words' features of candidates ``c``: zero without text on either side."""
    if index.text is None or s.text_query is None:
        zeros = np.zeros(c.size)
        return {"text_similarity": zeros, "text_relative": zeros, "rank_text": zeros}
    similarity = np.maximum(index.text.similarity(s.text_query, c).astype(np.float64), 0.0)
    best = float(similarity.max()) if similarity.size else 0.0
    return {
        "text_similarity": similarity,
        "text_relative": similarity / best if best > 0 else np.zeros(c.size),
        "rank_text": _percentile(similarity),
    }


class AffinityRanker:
    """An :class:`AffinityModel` bound to one index: ranks candidates for queries on it.

    Built by :meth:`AffinityModel.ranker`; holds the index's :class:`HistoryProfile`.
    """

    def __init__(self, model: AffinityModel, index: Index, graph: WalkGraph) -> None:
        self.model = model
        self.index = index
        self.graph = graph
        self.profile = profile_of(index, half_life=model.half_life)

    # ---- signals, candidates and features --------------------------------------------------

    def _positions(self, query: AffinityQuery) -> tuple[int, IntArray]:
        index = self.index
        for org_id in (query.lead, *query.members):
            if org_id not in index.position:
                raise NotFoundError(f"Organisation {org_id!r} not found")
        lead = index.position[query.lead]
        members = sorted({index.position[o] for o in query.members} - {lead})
        return lead, np.asarray([lead, *members], dtype=np.int64)

    def signals(self, query: AffinityQuery) -> _Signals:
        """Compute the per-query vectors (proximities, theme activity, shared partnerships)."""
        model, index, profile = self.model, self.index, self.profile
        lead, given = self._positions(query)
        seed = model.random_state
        ppr = personalised_pagerank(self.graph, given.tolist(), walks=model.walks, seed=seed)
        if given.size > 1:
            ppr_lead = personalised_pagerank(self.graph, [lead], walks=model.walks, seed=seed)
        else:
            ppr_lead = ppr
        columns = np.asarray(
            sorted(index.theme_codes.index(t) for t in query.themes if t in index.theme_codes),
            dtype=np.int64,
        )
        if columns.size:
            theme = np.asarray(profile.theme[:, columns].sum(axis=1)).ravel()
            theme_count = np.asarray(profile.theme_count[:, columns].sum(axis=1)).ravel()
        else:
            theme = np.zeros(index.size)
            theme_count = np.zeros(index.size)
        rows = profile.incidence[given]
        shared = (rows @ profile.incidence.T).tocsr()
        overlap = np.asarray(rows.sum(axis=0), dtype=np.float64).ravel()
        inc = profile.incidence
        per_org = 1.0 / np.maximum(profile.multi, 1.0)
        per_team = 1.0 / np.maximum(profile.sizes, 1.0)
        step1 = np.asarray(rows.T @ per_org[given], dtype=np.float64).ravel()
        cooccurrence = np.asarray(inc @ (step1 * per_team)).ravel() / given.size
        step3 = np.asarray(inc.T @ (cooccurrence * per_org)).ravel()
        cooccurrence_4 = np.asarray(inc @ (step3 * per_team)).ravel()
        root = 1.0 / np.sqrt(np.maximum(profile.multi, 1.0))
        cosine = np.asarray(inc @ np.asarray(rows.T @ root[given]).ravel()).ravel() * root
        confidence = np.asarray(inc @ step1).ravel()
        lead_led = (profile.led_by == lead).astype(np.float64)
        shared_recent = np.asarray(profile.incidence @ (overlap * profile.recency)).ravel()
        partners = np.asarray(shared.sum(axis=0), dtype=np.float64).ravel()
        partners[given] = 0.0
        total = float(partners.sum())
        known = profile.country_id >= 0
        partner_country = np.bincount(
            profile.country_id[known],
            weights=partners[known],
            minlength=max(len(profile.countries), 1),
        ) / max(total, 1e-12)
        partner_kind = np.bincount(index.kind, weights=partners, minlength=len(KINDS)) / max(
            total, 1e-12
        )
        if columns.size:
            on_theme = (
                np.asarray(profile.partnership_theme[:, columns].sum(axis=1)).ravel() > 0
            ).astype(np.float64)
        else:
            on_theme = np.zeros(profile.sizes.size)
        return _Signals(
            given=given,
            lead=lead,
            ppr=ppr,
            ppr_lead=ppr_lead,
            adamic_adar=adamic_adar(self.graph, given.tolist()),
            theme=theme,
            theme_count=theme_count,
            shared=shared,
            shared_recent=shared_recent,
            theme_columns=columns,
            overlap=overlap,
            on_theme=on_theme,
            partner_country=partner_country,
            partner_kind=partner_kind,
            cooccurrence=cooccurrence,
            cooccurrence_4=cooccurrence_4,
            cosine=cosine,
            confidence=confidence,
            lead_led=lead_led,
            cooccurrence_on_theme=np.asarray(inc @ (step1 * per_team * on_theme)).ravel()
            / given.size,
            centroid=profile.embedding[given].mean(axis=0)
            if profile.embedding.shape[1]
            else np.zeros(0),
            country_activity=self._country_activity(query),
            **self._text_signals(query),
        )

    def _country_activity(self, query: AffinityQuery) -> FloatArray:
        """Per organisation, its history partnerships in the query's countries."""
        profile = self.profile
        columns = [j for j, c in enumerate(profile.activity_countries) if c in query.countries]
        if not columns:
            return np.zeros(self.index.size)
        return np.asarray(profile.country_activity[:, columns].sum(axis=1)).ravel()

    def _text_signals(self, query: AffinityQuery) -> dict[str, Any]:
        """The query's text vector and its nearest profiles (nothing without text)."""
        text = self.index.text
        if text is None or not query.text.strip():
            return {}
        vector = text.encode_query(query.text)
        nearest, _ = text.nearest(vector, self.model.pool_text)
        return {"text_query": vector, "text_nearest": nearest}

    def candidates(self, query: AffinityQuery, signals: _Signals | None = None) -> IntArray:
        """The bounded candidate set of a query (sorted positions, given members excluded).

        The union of the ``pool_graph`` closest by personalised PageRank, by Adamic-Adar and
        by recent shared partnerships; the ``pool_theme`` most active on the themes; the
        ``pool_local`` most active on them in the lead's, the given members' and the target
        countries; the ``pool_popular`` most active overall recently; and the ``pool_text``
        whose text profiles are nearest the query's text; the ``pool_local`` with the most
        history partnerships in the target countries.

        Notes
        -----
        At most ``3 pool_graph + pool_theme + 2 pool_local + pool_popular + pool_text``
        organisations, whatever the index's size.
        """
        model, index, profile = self.model, self.index, self.profile
        s = signals if signals is not None else self.signals(query)
        parts = [
            _top(s.ppr, model.pool_graph),
            _top(s.adamic_adar, model.pool_graph),
            _top(s.shared_recent, model.pool_direct),
            _top(s.theme, model.pool_theme),
            _top(profile.recent, model.pool_popular),
        ]
        if s.text_nearest is not None:
            parts.append(s.text_nearest)
        if query.countries:
            parts.append(_top(s.country_activity, model.pool_local))
        countries = {index.country[int(g)] for g in s.given} | set(query.countries)
        local = [
            index.by_country[c] for c in sorted(c for c in countries if c) if c in index.by_country
        ]
        if local:
            parts.append(
                _top(s.theme + 0.01 * profile.recent, model.pool_local, np.concatenate(local))
            )
        found = np.unique(np.concatenate(parts))
        return np.setdiff1d(found, s.given).astype(np.int64)

    def features(
        self, query: AffinityQuery, candidates: IntArray, signals: _Signals | None = None
    ) -> FloatArray:
        """The :data:`FEATURES` matrix of ``candidates`` (rows) for ``query``.

        Notes
        -----
        O(candidates × features) after the signals, which cost one bounded walk set, a
        two-hop Adamic-Adar and a sparse product over the given members' partnerships.
        """
        index, profile = self.index, self.profile
        s = signals if signals is not None else self.signals(query)
        c = candidates
        n_given = float(s.given.size)
        tied_matrix = s.shared[:, c]
        country = profile.country_id[c]
        known = country >= 0
        given_tied = np.asarray((tied_matrix > 0).sum(axis=0), dtype=np.float64).ravel()
        shared = np.asarray(tied_matrix.sum(axis=0), dtype=np.float64).ravel()
        shared_lead = np.asarray(tied_matrix[0].todense(), dtype=np.float64).ravel()
        team = profile.incidence[c]
        with_given = team.multiply(s.overlap[None, :]).tocsr()
        overlap_max = np.asarray(with_given.max(axis=1).todense(), dtype=np.float64).ravel()
        jaccard = s.overlap / np.maximum(profile.sizes + n_given - s.overlap, 1.0)
        overlap_jaccard = np.asarray(
            team.multiply(jaccard[None, :]).max(axis=1).todense(), dtype=np.float64
        ).ravel()
        resource = np.asarray(team @ (s.overlap / np.maximum(profile.sizes, 1.0))).ravel()
        on_theme = np.asarray(team @ (s.overlap * s.on_theme)).ravel()
        last_shared = np.asarray(
            team.multiply((profile.years * (s.overlap > 0))[None, :]).max(axis=1).todense(),
            dtype=np.float64,
        ).ravel()
        years_since_shared = np.where(last_shared > 0, profile.now - last_shared, 10.0)
        tied_dense = np.asarray(tied_matrix.todense(), dtype=np.float64)
        same_country_given = (country[None, :] == profile.country_id[s.given][:, None]) & (
            country[None, :] >= 0
        )
        local_tie = (tied_dense * same_country_given).sum(axis=0)
        if profile.embedding.shape[1]:
            vectors = profile.embedding[c]
            norm = float(np.linalg.norm(s.centroid))
            centroid_cos = vectors @ s.centroid / max(norm, 1e-12)
            given_cos = (vectors @ profile.embedding[s.given].T).max(axis=1)
        else:
            centroid_cos = np.zeros(c.size)
            given_cos = np.zeros(c.size)
        ppr = s.ppr[c]
        top_ppr = float(ppr.max(initial=0.0))
        theme = s.theme[c]
        top_theme = float(theme.max(initial=0.0))
        multi = profile.multi[c]
        given_kinds = index.kind[s.given]
        kind = index.kind[c]
        same_kind = (kind[:, None] == given_kinds[None, :]).mean(axis=1)
        given_country = profile.country_id[s.given]
        country_in_given = np.where(
            known, (country[:, None] == given_country[None, :]).sum(axis=1), 0
        ).astype(np.float64)
        given_region = index.region_id[s.given]
        region = index.region_id[c]
        region_in_given = np.where(
            region >= 0, (region[:, None] == given_region[None, :]).sum(axis=1), 0
        ).astype(np.float64)
        if s.theme_columns.size:
            country_theme = np.where(
                known,
                profile.country_theme[np.maximum(country, 0)][:, s.theme_columns].sum(axis=1),
                0.0,
            )
            theme_total = profile.country_theme[:, s.theme_columns].sum()
        else:
            country_theme = np.zeros(c.size)
            theme_total = 0.0
        lead_country = profile.country_id[s.lead]
        targets = {index.country[int(i)] for i in c} & set(query.countries)
        target = np.array([index.country[int(i)] in targets for i in c], dtype=np.float64)
        n_countries = float(np.unique(given_country[given_country >= 0]).size)
        activity = s.country_activity[c]
        top_activity = float(activity.max(initial=0.0))
        columns = {
            "ppr": np.log1p(1000.0 * ppr),
            "ppr_relative": ppr / top_ppr if top_ppr > 0 else np.zeros(c.size),
            "ppr_lead": np.log1p(1000.0 * s.ppr_lead[c]),
            "adamic_adar": s.adamic_adar[c],
            "given_tied": given_tied,
            "given_tied_share": given_tied / n_given,
            "shared": np.log1p(shared),
            "shared_recent": np.log1p(s.shared_recent[c]),
            "shared_with_lead": np.log1p(shared_lead),
            "shared_on_theme": np.log1p(on_theme),
            "overlap_max": overlap_max,
            "overlap_share": overlap_max / n_given,
            "overlap_jaccard": overlap_jaccard,
            "resource_allocation": resource,
            "years_since_shared": years_since_shared,
            "partner_country_share": np.where(
                known, s.partner_country[np.maximum(country, 0)], 0.0
            ),
            "partner_kind_share": s.partner_kind[kind],
            "cooccurrence": 1000.0 * s.cooccurrence[c],
            "cooccurrence_4": 1000.0 * s.cooccurrence_4[c],
            "cosine": s.cosine[c],
            "confidence": s.confidence[c],
            "local_tie": np.log1p(local_tie),
            "lead_led_with": np.asarray(team @ s.lead_led).ravel(),
            "cooccurrence_on_theme": 1000.0 * s.cooccurrence_on_theme[c],
            "embedding_centroid": centroid_cos,
            "embedding_max": given_cos,
            "years_since_first": (profile.now - profile.first[c]).astype(np.float64),
            "last_year_activity": np.asarray(
                team @ (profile.years == profile.now - 1).astype(np.float64)
            ).ravel(),
            "rank_ppr": _percentile(ppr),
            "rank_cooccurrence": _percentile(s.cooccurrence[c]),
            "rank_cosine": _percentile(s.cosine[c]),
            "rank_given_tied": _percentile(given_tied),
            "rank_theme": _percentile(theme),
            "partnerships": np.log1p(index.partnerships[c].astype(np.float64)),
            "multi": np.log1p(multi),
            "led_share": profile.led[c] / np.maximum(multi, 1.0),
            "recent_activity": np.log1p(profile.recent[c]),
            "years_since_last": (profile.now - profile.last[c]).astype(np.float64),
            "partners": np.log1p(profile.partners[c]),
            "theme": np.log1p(theme),
            "theme_relative": theme / top_theme if top_theme > 0 else np.zeros(c.size),
            "theme_share": s.theme_count[c] / np.maximum(multi, 1.0),
            "theme_recent": np.log1p(s.theme_count[c]),
            "country_theme": np.log1p(country_theme),
            "country_theme_share": country_theme / max(float(theme_total), 1e-12),
            "country_activity": np.log1p(activity),
            "country_activity_relative": activity / top_activity
            if top_activity > 0
            else np.zeros(c.size),
            "rank_country_activity": _percentile(activity),
            "kind": kind.astype(np.float64),
            "lead_kind": np.full(c.size, float(index.kind[s.lead])),
            "same_kind_share": same_kind,
            "country_in_given": country_in_given,
            "new_country": (known & (country_in_given == 0)).astype(np.float64),
            "region_in_given": region_in_given,
            "lead_country": (known & (country == lead_country)).astype(np.float64),
            "target_country": target,
            "given": np.full(c.size, n_given),
            "given_countries": np.full(c.size, n_countries),
            "lead_multi": np.full(c.size, math.log1p(float(profile.multi[s.lead]))),
            **_text_features(index, s, c),
        }
        return np.column_stack([columns[name] for name in FEATURES]).astype(np.float64)

    # ---- ranking ---------------------------------------------------------------------------

    def rank(
        self, query: AffinityQuery, *, limit: int | None = None
    ) -> tuple[IntArray, FloatArray]:
        """Candidates best first, with their scores (log-odds of joining).

        Parameters
        ----------
        query : AffinityQuery
        limit : int, optional
            Keep only the best ``limit``.

        Returns
        -------
        positions : ndarray of int
            Index positions of the candidates, best first (ties by position).
        scores : ndarray of float
            Their scores, non-increasing.

        Raises
        ------
        NotFoundError
            If the lead or a member is not in the index.
        """
        signals = self.signals(query)
        candidates = self.candidates(query, signals)
        if candidates.size == 0:
            return candidates, np.zeros(0)
        scores = self.model.decision(self.features(query, candidates, signals))
        order = np.lexsort((candidates, -scores))
        if limit is not None:
            order = order[:limit]
        return candidates[order], scores[order]


class AffinityModel:
    """The learned "who joins this partial coalition" ranker (see the module docstring).

    Parameters
    ----------
    folds : int, keyword-only
        Pseudo test years taken from the end of the history (at least this many); each older
        fold's index holds one year less.
    max_folds, min_positives : int, keyword-only
        Older pseudo test years are added, up to ``max_folds`` in all, while the examples
        hold fewer than ``min_positives`` positives: a small history (the IATI sample: 29
        positives from its last year) learns from several years, a large one (CORDIS: about
        10,000 from one) from its last. On the IATI sample, splits 2012-2014, held-out
        history only, this lifted cold recall@10 from 0.37-0.41 to 0.46-0.54.
    min_size : int
        Members a history partnership needs to give training queries.
    hidden_per_partnership : int
        Completion queries per training partnership (each hides another random member).
    cold_queries : bool
        Also train on cold queries (only the lead given).
    negatives_per_query : int
        Negatives kept per query (a uniform sample of the candidates not to find).
    max_partnerships : int or None
        At most this many training partnerships per fold (a uniform sample).
    walks : int
        Walkers of the personalised PageRank.
    pool_graph, pool_theme, pool_local, pool_popular, pool_text : int
        Candidate generation bounds (:meth:`AffinityRanker.candidates`).
    min_text_positives : int
        The words' features are learned only from at least this many positive examples;
        with fewer (a small history) they are left out of the trees (zero in training and
        scoring): on 29 positives (the IATI sample) the learned text features cost a fifth
        of cold recall. The words then reach the ranking through the candidates and, with
        two folds or more, a weight of their relative similarity added to the log-odds,
        chosen among :data:`TEXT_WEIGHTS` on held-out history (trees fitted on the older
        folds, recall@10 on the newest fold's queries; ``text_weight_``).
    half_life : float
        Recency half-life, years.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization : float
        The gradient boosting's hyper-parameters.
    threads : int
        OpenMP threads of the gradient boosting (1 by default: its busy-waiting threads are
        slower than one on a loaded or small machine, and one query's rows are few).
    random_state : int

    Attributes
    ----------
    classifier_ : HistGradientBoostingClassifier
        Set by :meth:`fit`.
    training_ : dict
        What the training saw: folds (pseudo split years), queries, examples, positives, the
        share of positives the candidate generation reached, whether the words' features
        were learned (``text_features``) and the held-out weight of the words
        (``text_weight``).
    uses_text_ : bool
        Whether the words' features were learned (see ``min_text_positives``).
    text_weight_ : float
        The held-out weight of the words when they were not learned (0 otherwise).
    """

    def __init__(
        self,
        *,
        folds: int = 1,
        max_folds: int = 8,
        min_positives: int = 1000,
        min_size: int = 2,
        hidden_per_partnership: int = 1,
        cold_queries: bool = True,
        negatives_per_query: int = 200,
        max_partnerships: int | None = 3000,
        walks: int = 2000,
        pool_graph: int = 300,
        pool_direct: int = 1000,
        pool_theme: int = 300,
        pool_local: int = 150,
        pool_popular: int = 100,
        pool_text: int = 200,
        min_text_positives: int = 200,
        half_life: float = 2.0,
        max_iter: int = 150,
        learning_rate: float = 0.08,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 50,
        l2_regularization: float = 1.0,
        threads: int = 1,
        random_state: int = 0,
    ) -> None:
        self.folds = folds
        self.max_folds = max_folds
        self.min_positives = min_positives
        self.min_size = min_size
        self.hidden_per_partnership = hidden_per_partnership
        self.cold_queries = cold_queries
        self.negatives_per_query = negatives_per_query
        self.max_partnerships = max_partnerships
        self.walks = walks
        self.pool_graph = pool_graph
        self.pool_direct = pool_direct
        self.pool_theme = pool_theme
        self.pool_local = pool_local
        self.pool_popular = pool_popular
        self.pool_text = pool_text
        self.min_text_positives = min_text_positives
        self.half_life = half_life
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.threads = threads
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        """The hyper-parameters, as given to ``__init__``."""
        return {
            name: getattr(self, name)
            for name in (
                "folds",
                "max_folds",
                "min_positives",
                "min_size",
                "hidden_per_partnership",
                "cold_queries",
                "negatives_per_query",
                "max_partnerships",
                "walks",
                "pool_graph",
                "pool_direct",
                "pool_theme",
                "pool_local",
                "pool_popular",
                "pool_text",
                "min_text_positives",
                "half_life",
                "max_iter",
                "learning_rate",
                "max_leaf_nodes",
                "min_samples_leaf",
                "l2_regularization",
                "threads",
                "random_state",
            )
        }

    @classmethod
    def heuristic(cls, **params: Any) -> AffinityModel:
        """A model that needs no fit: a fixed weighted sum of a few features.

        For tiny histories (and examples) where nothing can be learned.
        """
        model = cls(**params)
        model.classifier_ = None
        model.training_ = {"heuristic": dict(_HEURISTIC)}
        return model

    # ---- learning --------------------------------------------------------------------------

    def fit(
        self,
        dataset: Dataset,
        *,
        index_config: IndexConfig | None = None,
        text_cache: EmbeddingCache | None = None,
    ) -> AffinityModel:
        """Learn from ``dataset``'s history alone (see the module docstring).

        Parameters
        ----------
        dataset : Dataset
            The history: nothing after it may be in it.
        index_config : IndexConfig, optional
            How the pseudo-split indexes weigh history (their ``reference_year`` is set to the
            pseudo split year) and embed its words (``text_encoder``).
        text_cache : EmbeddingCache, optional
            Embeddings already computed (the real index's): the pseudo-split index's texts
            are a subset of them.

        Returns
        -------
        AffinityModel
            ``self``.

        Raises
        ------
        ValidationError
            If the history spans fewer than two start years, or gives no positive example.
            A partnership that marks no lead is led by its convener, else its funder, else
            its first member (:func:`~matcher.domain.model.choose_lead`).

        Notes
        -----
        One index build per fold, then O(queries × candidates × features) for the examples
        and the gradient boosting's O(examples × features × max_iter).
        """

        years = sorted(
            {p.start_year for p in dataset.partnerships.values() if p.start_year is not None}
        )
        if len(years) < 2:
            raise ValidationError(
                f"Learning needs history over at least two start years, got {years}",
                field="dataset",
                value=years,
            )
        rng = np.random.default_rng(self.random_state)
        blocks: list[FloatArray] = []
        labels: list[npt.NDArray[np.int8]] = []
        folds: list[int] = []
        block_fold: list[int] = []
        queries = 0
        targets_total = 0
        reached_total = 0
        positives = 0
        for fold in range(min(max(self.folds, self.max_folds), len(years) - 1)):
            if fold >= self.folds and positives >= self.min_positives:
                break
            split = years[-1 - fold]
            config = dataclasses.replace(index_config or IndexConfig(), reference_year=split)
            index = build_index(history_before(dataset, split), config, text_cache=text_cache)
            ranker = AffinityRanker(self, index, WalkGraph.from_matrix(index.collaboration))
            if ranker.profile.incidence.shape[1] == 0:
                break  # no partnership of two before this year: nothing older to learn from
            folds.append(split)
            for query, targets in self._training_queries(dataset, split, index, rng):
                signals = ranker.signals(query)
                candidates = ranker.candidates(query, signals)
                positive = np.isin(candidates, targets)
                targets_total += len(targets)
                reached_total += int(positive.sum())
                negatives = np.flatnonzero(~positive)
                if negatives.size > self.negatives_per_query:
                    negatives = rng.choice(negatives, self.negatives_per_query, replace=False)
                keep = np.sort(np.concatenate([np.flatnonzero(positive), negatives]))
                if keep.size == 0:
                    continue
                blocks.append(ranker.features(query, candidates[keep], signals))
                labels.append(positive[keep].astype(np.int8))
                block_fold.append(len(folds) - 1)
                queries += 1
                positives += int(positive.sum())
        y = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int8)
        if not y.any():
            raise ValidationError(
                "The history gives no positive training example", field="dataset", value=None
            )
        x = np.vstack(blocks)
        self.uses_text_ = (
            bool(x[:, _TEXT_COLUMNS].any()) and int(y.sum()) >= self.min_text_positives
        )
        has_text = bool(x[:, _TEXT_COLUMNS].any())
        if not self.uses_text_:
            x[:, _TEXT_COLUMNS] = 0.0
        self.text_weight_ = 0.0
        if has_text and not self.uses_text_ and len(folds) >= 2:
            self.text_weight_ = self._held_out_text_weight(blocks, labels, block_fold)
        stats: dict[str, Any] = {
            "folds": folds,
            "queries": queries,
            "examples": int(y.size),
            "positives": int(y.sum()),
            "reached": round(reached_total / max(targets_total, 1), 4),
            "text_features": self.uses_text_,
            "text_weight": self.text_weight_,
        }
        self.classifier_: HistGradientBoostingClassifier | None = self._classifier(x, y)
        self.training_: dict[str, Any] = stats
        return self

    def _classifier(self, x: FloatArray, y: npt.NDArray[np.int8]) -> HistGradientBoostingClassifier:
        """The gradient boosting fitted on examples ``x``, labels ``y``."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        classifier = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            categorical_features=[FEATURES.index(name) for name in CATEGORICAL],
            early_stopping=False,
            random_state=self.random_state,
        )
        with threadpool_limits(limits=self.threads):
            classifier.fit(x, y)
        return classifier

    def _held_out_text_weight(
        self,
        blocks: list[FloatArray],
        labels: list[npt.NDArray[np.int8]],
        block_fold: list[int],
    ) -> float:
        """The weight of the words added to the log-odds when too few positives teach the
        trees their features: chosen among :data:`TEXT_WEIGHTS` by recall@10 on the newest
        pseudo test year's queries, scored by trees fitted on the older years only.

        Returns 0 when the older years give no positive, or when no weight beats leaving the
        words out (ties go to the smaller weight).
        """
        older = [j for j, f in enumerate(block_fold) if f > 0]
        newest = [j for j, f in enumerate(block_fold) if f == 0]
        y_old = np.concatenate([labels[j] for j in older]) if older else np.zeros(0)
        if not y_old.any() or not newest:
            return 0.0
        x_old = np.vstack([blocks[j] for j in older])
        x_old[:, _TEXT_COLUMNS] = 0.0
        trees = self._classifier(x_old, y_old.astype(np.int8))
        column = FEATURES.index("text_relative")
        recalls = np.zeros(len(TEXT_WEIGHTS))
        for j in newest:
            rows = blocks[j].copy()
            words = rows[:, column].copy()
            rows[:, _TEXT_COLUMNS] = 0.0
            with threadpool_limits(limits=self.threads):
                base = np.asarray(trees.decision_function(rows), dtype=np.float64)
            targets = labels[j].astype(bool)
            if not targets.any():
                continue
            for w, weight in enumerate(TEXT_WEIGHTS):
                top = np.lexsort((np.arange(base.size), -(base + weight * words)))[:10]
                recalls[w] += targets[top].sum() / targets.sum()
        return float(TEXT_WEIGHTS[int(np.argmax(recalls))])

    def _training_queries(
        self, dataset: Dataset, split: int, index: Index, rng: np.random.Generator
    ) -> Iterable[tuple[AffinityQuery, IntArray]]:
        """Completion and cold queries from the partnerships starting in ``split``."""
        groups: dict[str, list[tuple[str, Role]]] = defaultdict(list)
        for m in dataset.memberships:
            groups[m.partnership_id].append((m.org_id, m.role))
        chosen = sorted(
            pid
            for pid, p in dataset.partnerships.items()
            if p.start_year == split and len({o for o, _ in groups.get(pid, [])}) >= self.min_size
        )
        if self.max_partnerships is not None and len(chosen) > self.max_partnerships:
            picked = rng.choice(len(chosen), self.max_partnerships, replace=False)
            chosen = [chosen[i] for i in sorted(picked.tolist())]
        for pid in chosen:
            partnership = dataset.partnerships[pid]
            members = groups[pid]
            lead = choose_lead(members)
            if lead is None:
                continue
            others = sorted({o for o, _ in members} - {lead})
            text = partnership_text(partnership) if index.text is not None else ""
            for hidden in rng.permutation(len(others))[: self.hidden_per_partnership].tolist():
                given = tuple(o for k, o in enumerate(others) if k != hidden)
                target = np.asarray([index.position[others[hidden]]], dtype=np.int64)
                yield (
                    AffinityQuery(lead, given, partnership.themes, partnership.countries, text),
                    target,
                )
            if self.cold_queries:
                target = np.asarray([index.position[o] for o in others], dtype=np.int64)
                yield (
                    AffinityQuery(lead, (), partnership.themes, partnership.countries, text),
                    target,
                )

    # ---- scoring ---------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "classifier_"):
            raise NotFittedError("Call fit(dataset) before ranking with the affinity model")

    def decision(self, features: FloatArray) -> FloatArray:
        """Scores of feature rows: the classifier's log-odds (or the heuristic's sum).

        Raises
        ------
        NotFittedError
            If called before :meth:`fit` (or :meth:`heuristic`).
        """
        self._check_fitted()
        if features.shape[0] == 0:
            return np.zeros(0)
        words = features[:, FEATURES.index("text_relative")].copy()
        if not getattr(self, "uses_text_", True):
            features = features.copy()
            features[:, _TEXT_COLUMNS] = 0.0
        if self.classifier_ is None:
            weights = np.zeros(len(FEATURES))
            for name, weight in _HEURISTIC.items():
                weights[FEATURES.index(name)] = weight
            result: FloatArray = features @ weights
            return result
        with threadpool_limits(limits=self.threads):
            raw = self.classifier_.decision_function(features)
        scores: FloatArray = np.asarray(raw, dtype=np.float64)
        weight = getattr(self, "text_weight_", 0.0)
        if weight:
            scores = scores + weight * words
        return scores

    def ranker(self, index: Index, graph: WalkGraph | None = None) -> AffinityRanker:
        """Bind the fitted model to an index (built from the same kind of history).

        Raises
        ------
        NotFittedError
            If called before :meth:`fit`.
        """
        self._check_fitted()
        return AffinityRanker(
            self, index, graph if graph is not None else WalkGraph.from_matrix(index.collaboration)
        )
