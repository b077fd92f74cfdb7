"""Gathers a request's bounded candidate pool and keeps out, with the reason, whom a gate bars.

A pool is the union of a few sources, each bounded whatever the directory's size: the best
holders of each need (taxonomy-aware), the most experienced in each wanted activity type, the
closest in the graph (personalised PageRank) and friends of friends (Adamic-Adar), the most
experienced on each of the initiative's themes, the organisations whose text profiles are
nearest the initiative's title and description (:mod:`matcher.engine.text`), and, per target
country, required sector and required kind, the group's most popular organisations and its
best holders of each need. The
sources that no request changes are prepared once per index (:class:`CandidateSources`).

Hard gates (:class:`Gates`) then keep out the lead (§78), the organisations the request
excludes, those integrity screening excludes (:mod:`matcher.integrity.screening`) and those
with a declared conflict of interest with the lead, each as an
:class:`~matcher.domain.model.Exclusion` naming its gate. A pool over ``PoolSizes.total`` keeps
the required members and the most relevant of the others (coverage of the needs, proximity,
shared themes, similar words).

Examples
--------
>>> from matcher.formats.datadir import read_data_directory
>>> from matcher.engine.index import build_index
>>> from matcher.formats.taxonomy_io import default_taxonomy_dir
>>> index = build_index(read_data_directory(default_taxonomy_dir().parent / "seed"))
>>> sizes = PoolSizes(per_need=3, per_activity=2, proximity=5, adamic_adar=5, theme=3,
...                   local=3, required=2, total=8)
>>> sources = CandidateSources(index, credits=MatchCredits(), sizes=sizes)
>>> positions, coverage = sources.need_coverage("funding")
>>> bool(positions.size > 0), bool(((0 < coverage) & (coverage <= 1)).all())
(True, True)
>>> gates = Gates(index, ScreeningPolicy())
>>> initiative = Initiative.from_mapping({"lead": "unicef", "needs": [{"capability": "funding"}],
...     "constraints": {"exclude": ["undp"]}})
>>> lead = index.position["unicef"]
>>> gates.exclusion(index.position["undp"], lead, initiative)
Exclusion(id='undp', reason='excluded by the request', gate='request')
>>> pool = build_pool(initiative, sources, gates, lead=lead, forced=(),
...     proximity=SparseScores.from_dense(np.zeros(index.size)),
...     common=SparseScores.from_dense(np.zeros(index.size)),
...     need_vectors=[sources.need_coverage("funding")])
>>> pool.positions.size <= sizes.total, lead in pool.positions, [e.id for e in pool.excluded]
(True, False, ['undp'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher.domain.arrays import FloatArray, IntArray
from matcher.domain.model import ActivityType, Exclusion, Flag, Initiative
from matcher.domain.taxonomy import MatchCredits
from matcher.engine.compiled import in_group, submatrix
from matcher.engine.coverage import capability_coverage
from matcher.engine.index import ACTIVITY_TYPES, KINDS, SECTORS, Index
from matcher.engine.proximity import SparseScores
from matcher.engine.text import initiative_text
from matcher.integrity.screening import Screening, ScreeningPolicy, screen_all

__all__ = [
    "PoolSizes",
    "CandidateSources",
    "Gates",
    "CandidatePool",
    "build_pool",
    "admit_joiners",
]


@dataclass(frozen=True, slots=True)
class PoolSizes:
    """How many candidates each source brings, and the most the pool keeps (``total``).

    ``local`` and ``required`` bound each group (a target country, a required sector or
    kind): its most popular organisations, and its best holders of each need. ``popular``
    brings the most experienced organisations of all, whatever the request: a lead without
    ties asking for a need nobody states still gets candidates. ``text`` is the number of
    nearest text profiles (none without words).
    """

    per_need: int
    per_activity: int
    proximity: int
    adamic_adar: int
    theme: int
    local: int
    required: int
    total: int
    popular: int = 10
    text: int = 0


class CandidateSources:
    """The candidate sources no request changes, prepared once per index.

    Parameters
    ----------
    index : Index
    credits : MatchCredits, keyword-only
        How much a related capability code serves a need.
    sizes : PoolSizes, keyword-only

    Notes
    -----
    Construction computes the holders of every capability code in the index, the most
    experienced organisations per activity type and per theme (experience: log(1 +
    partnerships)). Coverage vectors come from the snapshot's table (``index.coverage``,
    memory-mapped and shared by every worker) when it was computed with the same credits;
    otherwise each is computed on first use and kept.
    """

    def __init__(self, index: Index, *, credits: MatchCredits, sizes: PoolSizes) -> None:
        self.index = index
        self.credits = credits
        self.sizes = sizes
        self._coverage: dict[str, tuple[IntArray, FloatArray]] = {}
        self._need_top: dict[str, IntArray] = {}
        experience = np.log1p(index.partnerships)
        self._popular = _top(
            np.arange(index.size, dtype=np.int64), experience, sizes.popular, positive=True
        )
        self._activity_top = [
            _top(
                np.arange(index.size, dtype=np.int64),
                index.activity[:, k].astype(np.float64) * experience,
                sizes.per_activity,
                positive=True,
            )
            for k in range(len(ACTIVITY_TYPES))
        ]
        for code in index.capability_codes:  # every need's holders, once per index
            self.need_top(code)
        by_theme = index.theme_by_column
        self._theme_top: list[IntArray] = []
        for column in range(len(index.theme_codes)):
            holders = by_theme.indices[by_theme.indptr[column] : by_theme.indptr[column + 1]]
            holders = holders.astype(np.int64)
            self._theme_top.append(_top(holders, experience[holders] + 0.1, sizes.theme))

    def need_coverage(self, code: str) -> tuple[IntArray, FloatArray]:
        """Organisations covering capability ``code``, with their coverage in (0, 1].

        Coverage is the best over the organisation's capabilities of strength × taxonomy
        credit (:func:`~matcher.domain.taxonomy.match_credit`): descendants serve fully,
        ancestors and siblings in part.

        Parameters
        ----------
        code : str
            A capability code of the index's taxonomy.

        Returns
        -------
        positions : ndarray of int64
            Index positions, ascending.
        coverage : ndarray of float64
            Aligned with ``positions``.
        """
        table = self.index.coverage
        if table is not None and table.credits == self.credits:
            stored = table.get(code)
            if stored is not None:
                return stored
        cached = self._coverage.get(code)
        if cached is None:
            index = self.index
            cached = capability_coverage(
                index.capability,
                index.capability_position,
                index.taxonomies.capabilities,
                code,
                self.credits,
            )
            self._coverage[code] = cached
        return cached

    def need_top(self, code: str) -> IntArray:
        """The ``sizes.per_need`` best holders of need ``code`` (coverage, then experience):
        index positions, in no particular order."""
        cached = self._need_top.get(code)
        if cached is None:
            positions, values = self.need_coverage(code)
            cached = _top(
                positions,
                values + 0.01 * np.log1p(self.index.partnerships[positions]),
                self.sizes.per_need,
            )
            self._need_top[code] = cached
        return cached

    def activity_top(self, activity: ActivityType) -> IntArray:
        """The ``sizes.per_activity`` most experienced organisations in ``activity`` (index
        positions, in no particular order)."""
        return self._activity_top[ACTIVITY_TYPES.index(activity)]

    def theme_top(self, column: int) -> IntArray:
        """The ``sizes.theme`` most experienced organisations on the theme at ``column`` of
        ``index.theme_codes`` (index positions, in no particular order)."""
        return self._theme_top[column]

    def gather(
        self,
        initiative: Initiative,
        *,
        lead: int,
        forced: Sequence[int],
        proximity: SparseScores,
        common: SparseScores,
        need_vectors: Sequence[tuple[IntArray, FloatArray]],
    ) -> IntArray:
        """Every candidate some source brings for ``initiative``, before the gates.

        Parameters
        ----------
        initiative : Initiative
        lead : int, keyword-only
            The lead's index position.
        forced : sequence of int, keyword-only
            Index positions of the required members.
        proximity, common : SparseScores, keyword-only
            Personalised PageRank and Adamic-Adar from the lead and the required members.
        need_vectors : sequence of (positions, coverage), keyword-only
            :meth:`need_coverage` of each of the initiative's needs, in order.

        Returns
        -------
        ndarray of int64
            Index positions, ascending and distinct.
        """
        index, sizes = self.index, self.sizes
        chosen: list[IntArray] = [np.asarray(forced, dtype=np.int64)]
        if initiative.constraints.allow_lead_as_implementer:
            chosen.append(np.asarray([lead], dtype=np.int64))
        for need in initiative.needs:
            chosen.append(self.need_top(need.capability))
        for activity in sorted(initiative.activity_types):
            chosen.append(self.activity_top(activity))
        chosen.append(_top(*proximity.nonzero(), sizes.proximity))
        chosen.append(_top(*common.nonzero(), sizes.adamic_adar))
        chosen.append(self._popular)
        for column in _theme_columns(index, initiative):
            chosen.append(self.theme_top(column))
        query = _text_query(index, initiative)
        if query is not None and index.text is not None and sizes.text > 0:
            chosen.append(index.text.nearest(query, sizes.text)[0])

        def add_group(popular: IntArray, ids: IntArray, wanted: int, count: int) -> None:
            """The group's most popular organisations and its best holders of each need."""
            chosen.append(popular[:count])
            for holders, coverage in need_vectors:
                chosen.append(_top(*in_group(holders, coverage, np.asarray(ids), wanted), count))

        for country in sorted(initiative.countries):
            if country in index.country_lookup:
                add_group(
                    index.by_country[country],
                    index.country_id,
                    index.country_lookup[country],
                    sizes.local,
                )
        for sector in sorted(initiative.constraints.required_sectors):
            sector_id = SECTORS.index(sector)
            add_group(index.by_sector[sector_id], index.sector, sector_id, sizes.required)
        for kind in sorted(initiative.constraints.required_kinds):
            kind_id = KINDS.index(kind)
            add_group(index.by_kind[kind_id], index.kind, kind_id, sizes.required)
        candidates: IntArray = np.unique(np.concatenate(chosen)).astype(np.int64)
        return candidates


class Gates:
    """The hard gates, with integrity screening run once per index.

    Parameters
    ----------
    index : Index
    policy : ScreeningPolicy
        What each integrity finding does (:func:`~matcher.integrity.screening.screen_all`).

    Attributes
    ----------
    screening : dict of str to Screening
        The screening of every organisation with something to report.
    penalised : ndarray of float64
        1 at the index position of each organisation screening penalises, else 0 (the
        objective's yellow-flag term).
    """

    def __init__(self, index: Index, policy: ScreeningPolicy) -> None:
        self.index = index
        active_of = {
            index.org_ids[i]: int(index.active[i]) for i in np.flatnonzero(index.active).tolist()
        }
        self.screening: dict[str, Screening] = screen_all(
            index.records.screenable(policy, index.active),
            index.flags_of,
            active_of,
            policy,
        )
        self._screened_out = {
            index.position[org_id]: Exclusion(
                org_id, "; ".join(result.reasons), ", ".join(result.gates)
            )
            for org_id, result in self.screening.items()
            if result.excluded
        }
        self.penalised: FloatArray = np.zeros(index.size)
        for org_id, result in self.screening.items():
            if result.penalised:
                self.penalised[index.position[org_id]] = 1.0

    def exclusion(self, position: int, lead: int, initiative: Initiative) -> Exclusion | None:
        """The gate that keeps the organisation at ``position`` out of ``initiative``, if any.

        Gates, first applicable wins: ``lead`` (the lead itself, unless the request allows
        it), ``request`` (excluded by the request), the screening's gates, and
        ``conflict_of_interest`` (declared with the lead).

        Parameters
        ----------
        position, lead : int
            Index positions of the candidate and of the initiative's lead.
        initiative : Initiative

        Returns
        -------
        Exclusion or None
            None when no gate applies.
        """
        index = self.index
        org_id = index.org_ids[position]
        if position == lead and not initiative.constraints.allow_lead_as_implementer:
            return Exclusion(
                org_id,
                "the lead itself: a broker is not proposed as implementer of its own "
                "initiative (§78) unless the request allows it",
                "lead",
            )
        if org_id in initiative.constraints.exclude:
            return Exclusion(org_id, "excluded by the request", "request")
        screened_out = self._screened_out.get(position)
        if screened_out is not None:
            return screened_out
        for conflict in index.conflicts_of.get(org_id, ()):
            if conflict.pair == frozenset((org_id, index.org_ids[lead])):
                reason = f": {conflict.reason}" if conflict.reason else ""
                return Exclusion(
                    org_id,
                    f"declared conflict of interest with the lead{reason}",
                    "conflict_of_interest",
                )
        return None

    def findings(self, org_id: str) -> tuple[Flag, ...]:
        """Stored and derived integrity findings of ``org_id``, shown with a member.

        Parameters
        ----------
        org_id : str

        Returns
        -------
        tuple of Flag
            Empty for an organisation screening has nothing to say about.
        """
        result = self.screening.get(org_id)
        return result.findings if result is not None else ()


@dataclass(frozen=True, slots=True)
class CandidatePool:
    """The candidates a request's solver sees, and those the gates kept out.

    ``positions`` are index positions, ascending; ``excluded`` holds one
    :class:`~matcher.domain.model.Exclusion` per gated candidate (the lead left out), in
    position order; ``gated`` holds their positions; ``blocked`` the exclusions of required
    members a gate bars (then no coalition meets the request, and they are not in the pool).
    """

    positions: IntArray
    excluded: tuple[Exclusion, ...]
    gated: frozenset[int]
    blocked: tuple[Exclusion, ...] = ()


def build_pool(
    initiative: Initiative,
    sources: CandidateSources,
    gates: Gates,
    *,
    lead: int,
    forced: Sequence[int],
    proximity: SparseScores,
    common: SparseScores,
    need_vectors: Sequence[tuple[IntArray, FloatArray]],
) -> CandidatePool:
    """The gated, bounded candidate pool of ``initiative``.

    The candidates :meth:`CandidateSources.gather` brings, and the organisations the request
    excludes, pass the gates; over ``sources.sizes.total``, the required members stay and the
    most relevant others fill the rest (relevance: proximity / its maximum + coverage of each
    need + 0.2 for sharing a theme + the cosine of its text profile with the initiative's
    words; ties keep position order).

    Parameters
    ----------
    initiative : Initiative
    sources : CandidateSources
    gates : Gates
    lead, forced, proximity, common, need_vectors
        As for :meth:`CandidateSources.gather`, keyword-only.

    Returns
    -------
    CandidatePool
        With ``blocked`` set when a required member is barred by a gate.
    """
    index = sources.index
    candidates = sources.gather(
        initiative,
        lead=lead,
        forced=forced,
        proximity=proximity,
        common=common,
        need_vectors=need_vectors,
    )
    excluded: list[Exclusion] = []
    gated: set[int] = set()
    explicitly = [index.position[o] for o in sorted(initiative.constraints.exclude)]
    kept: list[int] = []
    for i in sorted(set(candidates.tolist()) | set(explicitly)):
        exclusion = gates.exclusion(i, lead, initiative)
        if exclusion is None:
            kept.append(i)
        elif i != lead:
            gated.add(i)
            excluded.append(exclusion)
    required = set(forced)
    blocked = tuple(e for e in excluded if index.position[e.id] in required)
    pool = np.asarray(kept, dtype=np.int64)
    total = sources.sizes.total
    if pool.size > total:
        keep = set(forced) - gated
        relevance = _relevance(index, initiative, pool, proximity, need_vectors)
        ranked = pool[np.argsort(-relevance, kind="stable")]
        for i in ranked.tolist():
            if len(keep) >= total:
                break
            keep.add(i)
        pool = np.asarray(sorted(keep), dtype=np.int64)
    return CandidatePool(pool, tuple(excluded), frozenset(gated), blocked)


def admit_joiners(
    gates: Gates,
    initiative: Initiative,
    positions: Sequence[int],
    likelihood: Sequence[float],
    *,
    lead: int,
    locked: Sequence[str],
    count: int,
) -> list[tuple[int, float]]:
    """The first ``count`` of ranked candidates for a seat that pass the gates.

    A candidate is also kept out by a declared conflict of interest with a locked member.

    Parameters
    ----------
    gates : Gates
    initiative : Initiative
    positions, likelihood : sequence
        Index positions, most likely joiner first, and their likelihood.
    lead : int, keyword-only
        The lead's index position.
    locked : sequence of str, keyword-only
        Ids of the members already in the coalition.
    count : int, keyword-only

    Returns
    -------
    list of (position, likelihood)
        In the given order.
    """
    index = gates.index
    conflicting = {
        other
        for org_id in locked
        for conflict in index.conflicts_of.get(org_id, ())
        for other in conflict.pair
    } - set(locked)
    kept: list[tuple[int, float]] = []
    for position, value in zip(positions, likelihood, strict=True):
        if index.org_ids[position] in conflicting:
            continue
        if gates.exclusion(position, lead, initiative) is not None:
            continue
        kept.append((position, value))
        if len(kept) >= count:
            break
    return kept


def _theme_columns(index: Index, initiative: Initiative) -> list[int]:
    """The positions in ``index.theme_codes`` of the initiative's themes (those it knows)."""
    return [index.theme_codes.index(t) for t in sorted(initiative.themes) if t in index.theme_codes]


def _relevance(
    index: Index,
    initiative: Initiative,
    positions: IntArray,
    proximity: SparseScores,
    need_vectors: Sequence[tuple[IntArray, FloatArray]],
) -> FloatArray:
    """Coverage of the needs + proximity + theme overlap + text similarity: to rank within a
    pool."""
    value = proximity[positions] / (float(proximity.max(initial=0.0)) or 1.0)
    for holders, coverage in need_vectors:
        slot = np.minimum(np.searchsorted(holders, positions), max(holders.size - 1, 0))
        if holders.size:
            value = value + np.where(holders[slot] == positions, coverage[slot], 0.0)
    columns = _theme_columns(index, initiative)
    if columns:
        theme = index.theme
        block = submatrix(
            theme.indptr, theme.indices, theme.data, positions, np.unique(np.asarray(columns))
        )
        value = value + 0.2 * (block.sum(axis=1) > 0)
    query = _text_query(index, initiative)
    if query is not None and index.text is not None:
        value = value + np.maximum(index.text.similarity(query, positions), 0.0)
    result: FloatArray = value
    return result


def _text_query(index: Index, initiative: Initiative) -> npt.NDArray[np.float32] | None:
    """The initiative's words as a vector of the index's text space (``None`` without)."""
    text = initiative_text(initiative)
    if index.text is None or not text:
        return None
    return index.text.encode_query(text)


def _top(
    positions: IntArray, values: FloatArray, count: int, *, positive: bool = False
) -> IntArray:
    """The ``count`` positions of largest value (only values > 0 with ``positive``)."""
    if positive:
        keep_mask = values > 0
        positions, values = positions[keep_mask], values[keep_mask]
    if positions.size <= count:
        return positions
    keep = np.argpartition(-values, count - 1)[:count]
    result: IntArray = positions[keep]
    return result
