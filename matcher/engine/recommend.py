"""Recommends complementary coalitions for an initiative, with reasons a broker can check.

The pipeline: proximity from the lead (and any required members) by personalised PageRank;
a bounded candidate pool (the best holders of each need, the most experienced in each wanted
activity type, the closest in the graph, those sharing the initiative's themes, local
organisations and members of required sectors and kinds); hard gates, each exclusion with
its reason; the objective of :mod:`matcher.engine.objective` over the pool; the solvers of
:mod:`matcher.engine.solvers` for several distinct coalitions; explanations per member and per
coalition (DESIGN.md 5.2).

Examples
--------
>>> from matcher.formats.datadir import read_data_directory
>>> from matcher.engine.index import build_index
>>> from matcher.formats.taxonomy_io import default_taxonomy_dir
>>> seed = read_data_directory(default_taxonomy_dir().parent / "seed")
>>> recommender = CoalitionRecommender().fit(build_index(seed))
>>> initiative = Initiative.from_mapping({"lead": "unicef", "countries": ["BR"],
...     "needs": [{"capability": "funding"}, {"capability": "local_presence"}], "count": 2})
>>> result = recommender.recommend(initiative)
>>> len(result.coalitions), all(c.score == sum(c.score_parts.values()) for c in result.coalitions)
(2, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.domain.exceptions import PartnerMatchError, UnknownReferenceError, ValidationError
from matcher.domain.model import (
    ActivityType,
    Coalition,
    CoalitionMember,
    Exclusion,
    Flag,
    Gap,
    Initiative,
    Kind,
)
from matcher.domain.taxonomy import MatchCredits, match_credit
from matcher.engine.affinity import AffinityModel, AffinityQuery
from matcher.engine.index import ACTIVITY_TYPES, KINDS, SECTORS, Index
from matcher.engine.objective import N_REGIONS, N_SECTORS, TERMS, Problem, Weights, evaluate
from matcher.engine.proximity import (
    SparseScores,
    WalkGraph,
    adamic_adar_scores,
    introduction_paths,
    walk_scores,
)
from matcher.engine.solvers import InfeasibleError, Rules, Solution, top_k
from matcher.integrity.screening import ScreeningPolicy, screen_all

__all__ = [
    "EngineConfig",
    "NotFittedError",
    "Recommendation",
    "Completion",
    "coalition_dict",
    "CoalitionRecommender",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class NotFittedError(PartnerMatchError):
    """The recommender was used before :meth:`CoalitionRecommender.fit`."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Every knob of the engine, with its default.

    Pool sizes bound what the solver sees whatever the graph's size; ``difference`` is the
    number of members each next coalition must change; ``gap_below`` is the coverage under
    which a need is reported as a gap; ``complementary`` requires every member to be the best
    holder of some need or wanted activity type (§80: complementary skills).
    ``affinity_gain_weight`` and ``affinity_rerank`` govern :meth:`CoalitionRecommender.complete`
    with a learned affinity model: the ``affinity_rerank`` most likely joiners are re-ranked by
    log-odds of joining + ``affinity_gain_weight`` × objective gain.
    """

    weights: Weights = field(default_factory=Weights)
    credits: MatchCredits = field(default_factory=MatchCredits)
    pool_per_need: int = 30
    pool_per_activity: int = 10
    pool_proximity: int = 40
    pool_adamic_adar: int = 20
    pool_theme: int = 30
    pool_local: int = 30
    pool_required: int = 15
    pool_size: int = 200
    walks: int = 1000
    walk_steps: int = 100
    restart: float = 0.15
    difference: int = 1
    solver: str = "auto"
    milp_time_limit: float = 0.0
    gap_below: float = 0.5
    complementary: bool = True
    screening: ScreeningPolicy = field(default_factory=ScreeningPolicy)
    seed: int = 0
    affinity_gain_weight: float = 0.25
    affinity_rerank: int = 100


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Ranked coalitions for an initiative, and the candidates gates left out."""

    initiative: Initiative
    coalitions: tuple[Coalition, ...]
    excluded: tuple[Exclusion, ...]
    pool_size: int
    infeasible: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of DESIGN.md 5.2."""
        return {
            "initiative": self.initiative.id,
            "coalitions": [coalition_dict(c) for c in self.coalitions],
            "excluded": [{"id": e.id, "gate": e.gate, "reason": e.reason} for e in self.excluded],
            "pool_size": self.pool_size,
            "infeasible": list(self.infeasible),
        }


@dataclass(frozen=True, slots=True)
class Completion:
    """A candidate for one more seat in a partial coalition."""

    id: str
    gain: float
    score_parts: Mapping[str, float]
    covers: Mapping[str, float]
    path_to_lead: tuple[str, ...]
    reasons: tuple[str, ...]


def coalition_dict(coalition: Coalition) -> dict[str, Any]:
    """The JSON form of one coalition (DESIGN.md 5.2)."""
    return {
        "members": [
            {
                "id": m.id,
                "covers": dict(m.covers),
                "activity_types": sorted(a.value for a in m.activity_types),
                "marginal_gain": m.marginal_gain,
                "path_to_lead": list(m.path_to_lead),
                "flags": [
                    {
                        "category": f.category,
                        "level": f.level.value,
                        "note": f.note,
                        **({"dismissed_by": f.dismissed_by} if f.dismissed else {}),
                    }
                    for f in m.flags
                ],
                "evidence": list(m.evidence),
            }
            for m in coalition.members
        ],
        "score": coalition.score,
        "score_parts": dict(coalition.score_parts),
        "gaps": [
            {
                "need": g.need,
                "coverage": g.coverage,
                "best_partner": g.best_partner,
                "best_partner_coverage": g.best_partner_coverage,
            }
            for g in coalition.gaps
        ],
        "solver": coalition.solver,
        "optimality_gap": coalition.optimality_gap,
    }


@dataclass
class _Context:
    """Everything one request computes before solving."""

    initiative: Initiative
    lead: int
    forced: list[int]
    ppr: SparseScores
    need_codes: list[str]
    need_vectors: list[tuple[IntArray, FloatArray]]
    pool: IntArray
    excluded: list[Exclusion]
    gated: set[int]
    problem: Problem
    rules: Rules


class CoalitionRecommender:
    """Complementary coalitions from an :class:`~matcher.engine.index.Index`.

    Parameters
    ----------
    config : EngineConfig, keyword-only

    Attributes
    ----------
    index_ : Index
        Set by :meth:`fit`.
    graph_ : WalkGraph
        The collaboration graph prepared for walks and paths.
    """

    def __init__(self, *, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self._need_cache: dict[str, tuple[IntArray, FloatArray]] = {}

    def fit(self, index: Index, affinity: AffinityModel | None = None) -> CoalitionRecommender:
        """Attach an index (built from history) and prepare what no request changes: the
        walk graph, the holders of every capability code, and the most experienced
        organisations per activity type and per theme.

        ``affinity``, a fitted :class:`~matcher.engine.affinity.AffinityModel` (trained on the same
        history, never on later partnerships), makes :meth:`complete` rank by the learned
        likelihood of joining; without it :meth:`complete` ranks by the objective's gain."""
        self.index_ = index
        self.graph_ = WalkGraph.from_matrix(index.collaboration)
        self.affinity_ = affinity.ranker(index, self.graph_) if affinity is not None else None
        self._need_cache = {}
        self._need_top_cache: dict[str, IntArray] = {}
        self._credit_cache: dict[tuple[str, str], float] = {}
        active_of = {index.org_ids[i]: int(index.active[i]) for i in np.flatnonzero(index.active)}
        self.screening_ = screen_all(
            index.dataset.organisations.values(), index.flags_of, active_of, self.config.screening
        )
        self._screened_out_ = {
            index.position[org_id]: Exclusion(
                org_id, "; ".join(result.reasons), ", ".join(result.gates)
            )
            for org_id, result in self.screening_.items()
            if result.excluded
        }
        self._penalised_ = np.zeros(index.size)
        for org_id, result in self.screening_.items():
            if result.penalised:
                self._penalised_[index.position[org_id]] = 1.0
        experience = np.log1p(index.partnerships)
        self._activity_top_ = [
            self._top(
                np.arange(index.size, dtype=np.int64),
                index.activity[:, k].astype(np.float64) * experience,
                self.config.pool_per_activity,
                positive=True,
            )
            for k in range(len(ACTIVITY_TYPES))
        ]
        for code in index.capability_codes:  # every need's holders, once per index
            self._need_top(code)
        by_theme = index.theme_by_column
        self._theme_top_ = []
        for column in range(len(index.theme_codes)):
            holders = by_theme.indices[by_theme.indptr[column] : by_theme.indptr[column + 1]]
            holders = holders.astype(np.int64)
            self._theme_top_.append(
                self._top(holders, experience[holders] + 0.1, self.config.pool_theme)
            )
        return self

    def proximity(self, seeds: Sequence[int]) -> SparseScores:
        """Personalised PageRank from ``seeds`` (index positions) of the organisations the
        walks reach (the others score 0)."""
        config = self.config
        return walk_scores(
            self.graph_,
            seeds,
            alpha=config.restart,
            walks=config.walks,
            max_steps=config.walk_steps,
            seed=config.seed,
        )

    def common_neighbours(self, seeds: Sequence[int]) -> SparseScores:
        """Adamic-Adar with ``seeds`` of the organisations two ties away: friends of friends,
        weighted."""
        return adamic_adar_scores(self.graph_, seeds)

    def _need_top(self, code: str) -> IntArray:
        """The best holders of a need (query-independent, cached)."""
        cached = self._need_top_cache.get(code)
        if cached is None:
            index = self._fitted()
            positions, values = self.need_coverage(code)
            cached = self._top(
                positions,
                values + 0.01 * np.log1p(index.partnerships[positions]),
                self.config.pool_per_need,
            )
            self._need_top_cache[code] = cached
        return cached

    def _fitted(self) -> Index:
        index: Index | None = getattr(self, "index_", None)
        if index is None:
            raise NotFittedError("Call fit(index) before recommending")
        return index

    # ---- inputs -------------------------------------------------------------------------

    def _check(self, initiative: Initiative) -> None:
        index = self._fitted()
        taxonomies = index.taxonomies
        if initiative.lead not in index.position:
            raise UnknownReferenceError(
                f"Organisation {initiative.lead!r} not found", field="lead", value=initiative.lead
            )
        for name in ("include", "exclude"):
            for org_id in sorted(getattr(initiative.constraints, name)):
                if org_id not in index.position:
                    raise UnknownReferenceError(
                        f"Organisation {org_id!r} not found",
                        field=f"constraints.{name}",
                        value=org_id,
                    )
        for theme in sorted(initiative.themes):
            taxonomies.themes.check(theme, "themes")
        for need in initiative.needs:
            taxonomies.capabilities.check(need.capability, "needs")

    def need_coverage(self, code: str) -> tuple[IntArray, FloatArray]:
        """Organisations covering capability ``code``, with their coverage in (0, 1].

        Coverage is the best over the organisation's capabilities of strength × taxonomy
        credit (:func:`~matcher.domain.taxonomy.match_credit`): descendants serve fully,
        ancestors and siblings in part.
        """
        cached = self._need_cache.get(code)
        if cached is not None:
            return cached
        index = self._fitted()
        vocabulary = index.taxonomies.capabilities
        related = {code, *vocabulary.descendants(code), *vocabulary.ancestors(code)}
        parent = vocabulary.parent(code)
        if parent is not None:
            related.update(vocabulary.children(parent))
        matrix = index.capability
        positions: list[IntArray] = []
        values: list[FloatArray] = []
        for other in sorted(related):
            credit = match_credit(vocabulary, code, other, self.config.credits)
            column = index.capability_position.get(other)
            if credit <= 0 or column is None:
                continue
            start, end = matrix.indptr[column], matrix.indptr[column + 1]
            positions.append(matrix.indices[start:end].astype(np.int64))
            values.append(matrix.data[start:end] * credit)
        if positions:
            all_positions = np.concatenate(positions)
            all_values = np.concatenate(values)
            order = np.lexsort((-all_values, all_positions))
            all_positions, all_values = all_positions[order], all_values[order]
            first = np.ones(all_positions.size, dtype=bool)
            first[1:] = all_positions[1:] != all_positions[:-1]
            result = (all_positions[first], np.minimum(all_values[first], 1.0))
        else:
            result = (np.zeros(0, dtype=np.int64), np.zeros(0))
        self._need_cache[code] = result
        return result

    # ---- candidate pool and gates ----------------------------------------------------------

    def _gate(self, i: int, lead: int, initiative: Initiative) -> Exclusion | None:
        """The hard gate that keeps organisation ``i`` out of this initiative, if any."""
        index = self._fitted()
        org_id = index.org_ids[i]
        if i == lead and not initiative.constraints.allow_lead_as_implementer:
            return Exclusion(
                org_id,
                "the lead itself: a broker is not proposed as implementer of its own "
                "initiative (§78) unless the request allows it",
                "lead",
            )
        if org_id in initiative.constraints.exclude:
            return Exclusion(org_id, "excluded by the request", "request")
        screened_out = self._screened_out_.get(i)
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

    def gate(self, initiative: Initiative, org_id: str) -> Exclusion | None:
        """The hard gate that keeps ``org_id`` out of coalitions for ``initiative``, if any:
        the same gates :meth:`recommend` applies to its candidates.

        Raises
        ------
        UnknownReferenceError
            If the lead or ``org_id`` is not in the index.
        """
        index = self._fitted()
        for name, value in (("lead", initiative.lead), ("org_id", org_id)):
            if value not in index.position:
                raise UnknownReferenceError(
                    f"Organisation {value!r} not found", field=name, value=value
                )
        return self._gate(index.position[org_id], index.position[initiative.lead], initiative)

    @staticmethod
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

    def _context(self, initiative: Initiative) -> _Context:
        self._check(initiative)
        index = self._fitted()
        config = self.config
        lead = index.position[initiative.lead]
        forced = [index.position[o] for o in sorted(initiative.constraints.include)]
        ppr = self.proximity([lead, *forced])
        shared = self.common_neighbours([lead, *forced])
        need_codes = [need.capability for need in initiative.needs]
        need_vectors = [self.need_coverage(code) for code in need_codes]
        ppr_top = float(ppr.max(initial=0.0)) or 1.0
        theme_columns = [
            index.theme_codes.index(t) for t in sorted(initiative.themes) if t in index.theme_codes
        ]

        def relevance(positions: IntArray) -> FloatArray:
            """Coverage of the needs + proximity + theme overlap: to rank within a pool."""
            value = ppr[positions] / ppr_top
            for holders, coverage in need_vectors:
                slot = np.minimum(np.searchsorted(holders, positions), max(holders.size - 1, 0))
                if holders.size:
                    value = value + np.where(holders[slot] == positions, coverage[slot], 0.0)
            if theme_columns:
                value = value + 0.2 * (index.theme[positions][:, theme_columns].sum(axis=1).A1 > 0)
            result: FloatArray = value
            return result

        chosen: list[IntArray] = [np.asarray(forced, dtype=np.int64)]
        if initiative.constraints.allow_lead_as_implementer:
            chosen.append(np.asarray([lead], dtype=np.int64))
        for code in need_codes:
            chosen.append(self._need_top(code))
        for activity in sorted(initiative.activity_types):
            chosen.append(self._activity_top_[ACTIVITY_TYPES.index(activity)])
        chosen.append(self._top(*ppr.nonzero(), config.pool_proximity))
        chosen.append(self._top(*shared.nonzero(), config.pool_adamic_adar))
        for column in theme_columns:
            chosen.append(self._theme_top_[column])

        def add_group(popular: IntArray, ids: IntArray, wanted: int, count: int) -> None:
            """The group's most popular organisations and its best holders of each need."""
            chosen.append(popular[:count])
            for holders, coverage in need_vectors:
                inside = ids[holders] == wanted
                chosen.append(self._top(holders[inside], coverage[inside], count))

        for country in sorted(initiative.countries):
            if country in index.country_lookup:
                add_group(
                    index.by_country[country],
                    index.country_id,
                    index.country_lookup[country],
                    config.pool_local,
                )
        for sector in sorted(initiative.constraints.required_sectors):
            sector_id = SECTORS.index(sector)
            add_group(index.by_sector[sector_id], index.sector, sector_id, config.pool_required)
        for kind in sorted(initiative.constraints.required_kinds):
            kind_id = KINDS.index(kind)
            add_group(index.by_kind[kind_id], index.kind, kind_id, config.pool_required)

        candidates = np.unique(np.concatenate(chosen)).astype(np.int64)
        excluded: list[Exclusion] = []
        gated: set[int] = set()
        explicitly = [index.position[o] for o in sorted(initiative.constraints.exclude)]
        kept: list[int] = []
        for i in sorted(set(candidates.tolist()) | set(explicitly)):
            exclusion = self._gate(i, lead, initiative)
            if exclusion is None:
                kept.append(i)
            elif i != lead:
                gated.add(i)
                excluded.append(exclusion)
        for i in forced:
            if i in gated:
                raise ValidationError(
                    f"Organisation {index.org_ids[i]!r} is required but "
                    f"{next(e.reason for e in excluded if e.id == index.org_ids[i])}",
                    field="constraints.include",
                    value=index.org_ids[i],
                )
        pool = np.asarray(kept, dtype=np.int64)
        if pool.size > config.pool_size:
            keep = set(forced)
            ranked = pool[np.argsort(-relevance(pool), kind="stable")]
            for i in ranked.tolist():
                if len(keep) >= config.pool_size:
                    break
                keep.add(i)
            pool = np.asarray(sorted(keep), dtype=np.int64)
        problem = self._problem(initiative, lead, pool, ppr, need_vectors)
        rules = self._rules(initiative, lead, pool, forced)
        return _Context(
            initiative,
            lead,
            forced,
            ppr,
            need_codes,
            need_vectors,
            pool,
            excluded,
            gated,
            problem,
            rules,
        )

    def _problem(
        self,
        initiative: Initiative,
        lead: int,
        pool: IntArray,
        ppr: SparseScores,
        need_vectors: Sequence[tuple[IntArray, FloatArray]],
    ) -> Problem:
        index = self._fitted()
        n = pool.size
        cover = np.zeros((n, len(need_vectors)))
        base_cover = np.zeros(len(need_vectors))
        # a need is what the initiative lacks: the lead's own capabilities do not cover it
        for j, (positions, values) in enumerate(need_vectors):
            slot = np.searchsorted(pool, positions)
            inside = slot < n
            inside[inside] &= pool[slot[inside]] == positions[inside]
            cover[slot[inside], j] = values[inside] * self._located_factors(
                initiative, initiative.needs[j].capability, positions[inside]
            )
        wanted = [ACTIVITY_TYPES.index(a) for a in sorted(initiative.activity_types)]
        activity = index.activity[pool][:, wanted].astype(np.float64)
        base_activity = index.activity[lead, wanted].astype(np.float64)
        sector = index.sector[pool]
        base_sectors = np.bincount([index.sector[lead]], minlength=N_SECTORS)
        region = index.region_id[pool]
        base_regions = np.zeros(N_REGIONS, dtype=np.int64)
        if index.region_id[lead] >= 0:
            base_regions[index.region_id[lead]] = 1
        local = np.array(
            [index.country[i] in initiative.countries for i in pool.tolist()], dtype=bool
        )
        fit = np.zeros(n)
        target_regions = _regions_of(index, initiative)
        if initiative.countries:
            for k, i in enumerate(pool.tolist()):
                if index.country[i] in initiative.countries:
                    fit[k] = 1.0
                elif index.country[i] is None or index.region[i] in target_regions:
                    fit[k] = 0.5

        alignment = self._alignment(initiative, pool)
        pool_ppr = ppr[pool]
        top = float(pool_ppr.max(initial=0.0))
        proximity = pool_ppr / top if top > 0 else np.zeros(n)
        ties = np.minimum(index.collaboration[pool][:, pool].toarray(), 1.0)
        np.fill_diagonal(ties, 0.0)
        to_lead = np.asarray(index.collaboration[[lead]][:, pool].todense()).ravel()
        return Problem(
            cover=cover,
            need_weights=np.asarray([need.weight for need in initiative.needs], dtype=float),
            base_cover=base_cover,
            activity=activity,
            base_activity=base_activity,
            sector=sector,
            base_sector_counts=base_sectors.astype(np.int64),
            region=region,
            base_region_counts=base_regions,
            local=local,
            wants_local=bool(initiative.countries),
            fit=fit,
            resources=index.resources[pool],
            base_resources=index.resources[lead].copy(),
            alignment=alignment,
            proximity=proximity,
            ties=ties,
            novel=(to_lead == 0).astype(np.float64),
            record=index.record[pool].astype(np.float64),
            yellow=self._penalised_[pool],
            max_size=initiative.constraints.max_size,
            weights=self.config.weights,
        )

    def _alignment(self, initiative: Initiative, pool: IntArray) -> FloatArray:
        """Share of the initiative's themes each candidate works on (a shared SDG earns half),
        plus 0.25 for a company with a recorded business motivation (§74)."""
        index = self._fitted()
        alignment = np.zeros(pool.size)
        columns = [index.theme_codes.index(t) for t in sorted(initiative.themes)]
        if columns:
            held = index.theme[pool][:, columns].toarray() > 0
            candidate_sdgs = (index.theme[pool] @ index.theme_sdg).toarray() > 0
            wanted_sdgs = index.theme_sdg[columns].toarray() > 0
            near = ~held & ((candidate_sdgs.astype(int) @ wanted_sdgs.T.astype(int)) > 0)
            alignment = (held.sum(axis=1) + 0.5 * near.sum(axis=1)) / len(columns)
        companies = index.kind[pool] == KINDS.index(Kind.COMPANY)
        alignment = alignment + 0.25 * (companies & index.motivations[pool].any(axis=1))
        result: FloatArray = np.minimum(alignment, 1.0)
        return result

    def _located_factors(
        self, initiative: Initiative, code: str, positions: IntArray
    ) -> FloatArray:
        """What a holder's coverage of ``code`` counts for, per position in ``positions``.

        Local presence is presence *there*: elsewhere it counts a quarter in a target region
        and nothing beyond. Other capabilities travel (factor 1).
        """
        index = self._fitted()
        vocabulary = index.taxonomies.capabilities
        if not initiative.countries or not (
            code == "local_presence" or "local_presence" in vocabulary.ancestors(code)
        ):
            return np.ones(positions.size)
        regions = _regions_of(index, initiative)
        return np.array(
            [
                1.0
                if index.country[p] in initiative.countries
                else 0.25
                if index.region[p] in regions
                else 0.0
                for p in positions.tolist()
            ]
        )

    def _rules(
        self, initiative: Initiative, lead: int, pool: IntArray, forced: Sequence[int]
    ) -> Rules:
        index = self._fitted()
        where = {p: k for k, p in enumerate(pool.tolist())}
        conflicts = []
        for conflict in index.dataset.conflicts:
            a = where.get(index.position[conflict.org_a])
            b = where.get(index.position[conflict.org_b])
            if a is not None and b is not None:
                conflicts.append((a, b))
        lead_sector = int(index.sector[lead])
        lead_kind = int(index.kind[lead])
        required_sectors = frozenset(
            SECTORS.index(s) for s in initiative.constraints.required_sectors
        ) - {lead_sector}
        required_kinds = frozenset(
            KINDS.index(k) for k in initiative.constraints.required_kinds
        ) - {lead_kind}
        return Rules(
            min_size=initiative.constraints.min_size,
            max_size=initiative.constraints.max_size,
            forced=tuple(where[i] for i in forced),
            conflicts=tuple(conflicts),
            required_sectors=required_sectors,
            required_kinds=required_kinds,
            kind=index.kind[pool],
            require_local=initiative.constraints.require_local_partner
            and bool(initiative.countries),
            complementary=self.config.complementary
            and bool(initiative.needs or initiative.activity_types),
        )

    # ---- explanations ----------------------------------------------------------------------

    def _credit(self, need: str, code: str) -> float:
        """:func:`~matcher.domain.taxonomy.match_credit` of ``code`` for ``need``, memoised."""
        key = (need, code)
        credit = self._credit_cache.get(key)
        if credit is None:
            vocabulary = self._fitted().taxonomies.capabilities
            credit = match_credit(vocabulary, need, code, self.config.credits)
            self._credit_cache[key] = credit
        return credit

    def _evidence(self, position: int, need_codes: Sequence[str]) -> list[str]:
        index = self._fitted()
        org_id = index.org_ids[position]
        reasons: list[str] = []
        row = index.capability_rows.getrow(position)
        held = {
            index.capability_codes[c]: float(v) for c, v in zip(row.indices, row.data, strict=True)
        }
        for need in need_codes:
            best = max(
                ((self._credit(need, code) * strength, code) for code, strength in held.items()),
                default=(0.0, ""),
            )
            if best[0] <= 0:
                continue
            code = best[1]
            rules = [e for e in index.evidence.get(position, ()) if e.capability == code]
            if rules:  # the strength comes from history, not from a stated capability
                seen = sorted({p for e in rules for p in e.partnerships})
                why = "; ".join(sorted({e.rule for e in rules}))
                reasons.append(
                    f"{need}: inferred {code} ({why}"
                    + (f"; partnerships {', '.join(seen[:5])}" if seen else "")
                    + ")"
                )
            else:
                source = index.capability_sources.get(org_id, {}).get(code)
                reasons.append(
                    f"{need}: {code} at strength {held[code]:g}"
                    + (f" ({source})" if source else "")
                )
        return reasons

    def _coalition(self, context: _Context, solution: Solution) -> Coalition:
        index = self._fitted()
        problem = context.problem
        members = list(solution.members)
        parts = evaluate(problem, members)
        total = sum(parts.values())
        positions = [int(context.pool[k]) for k in members]
        paths = introduction_paths(self.graph_, context.lead, positions)
        wanted = sorted(context.initiative.activity_types)
        result_members = []
        for k, position in zip(members, positions, strict=True):
            rest = [m for m in members if m != k]
            gain = total - sum(evaluate(problem, rest).values())
            covers = {
                code: round(float(problem.cover[k, j]), 6)
                for j, code in enumerate(context.need_codes)
                if problem.cover[k, j] > 0
            }
            activity_types = frozenset(
                ActivityType(a) for j, a in enumerate(wanted) if problem.activity[k, j] > 0
            )
            org_id = index.org_ids[position]
            result_members.append(
                CoalitionMember(
                    id=org_id,
                    covers=covers,
                    activity_types=activity_types,
                    marginal_gain=round(gain, 9),
                    path_to_lead=tuple(index.org_ids[p] for p in paths.get(position, ())),
                    flags=self._findings(org_id),
                    evidence=tuple(self._evidence(position, context.need_codes)),
                )
            )
        gaps = self._gaps(context, members)
        return Coalition(
            members=tuple(result_members),
            score=total,
            score_parts=parts,
            gaps=tuple(gaps),
            solver=solution.solver,
            optimality_gap=round(solution.gap, 9),
        )

    def _findings(self, org_id: str) -> tuple[Flag, ...]:
        """Stored and derived integrity findings, shown with a member."""
        result = self.screening_.get(org_id)
        return result.findings if result is not None else ()

    def _gaps(self, context: _Context, members: Sequence[int]) -> list[Gap]:
        index = self._fitted()
        problem = context.problem
        gaps = []
        chosen = np.asarray(members, dtype=np.int64)
        member_positions = {int(context.pool[k]) for k in members}
        for j, code in enumerate(context.need_codes):
            coverage = float(problem.base_cover[j])
            if chosen.size:
                coverage = max(coverage, float(problem.cover[chosen, j].max()))
            if coverage >= self.config.gap_below:
                continue
            positions, values = context.need_vectors[j]
            scaled = values * self._located_factors(context.initiative, code, positions)
            best_id, best_value = None, 0.0
            # positions ascend, so a stable sort breaks ties by position
            for k in np.argsort(-scaled, kind="stable").tolist():
                p, v = int(positions[k]), float(scaled[k])
                if v <= 0:
                    break
                if p == context.lead or p in member_positions or p in context.gated:
                    continue
                if self._gate(p, context.lead, context.initiative) is not None:
                    continue
                best_id, best_value = index.org_ids[p], v
                break
            gaps.append(Gap(code, round(coverage, 6), best_id, round(best_value, 6)))
        return gaps

    # ---- public API ------------------------------------------------------------------------

    def recommend(self, initiative: Initiative) -> Recommendation:
        """Up to ``initiative.count`` distinct coalitions, best first, explained.

        Raises
        ------
        NotFoundError
            If the lead or a required or excluded organisation is unknown.
        UnknownCodeError
            If a theme or capability code is unknown.
        ValidationError
            If a required member is barred by a gate.
        """
        context = self._context(initiative)
        try:
            solutions = top_k(
                context.problem,
                context.rules,
                initiative.count,
                difference=self.config.difference,
                method=self.config.solver,
                milp_time_limit=self.config.milp_time_limit,
            )
        except InfeasibleError:
            solutions = []
        coalitions = tuple(self._coalition(context, s) for s in solutions)
        return Recommendation(
            initiative,
            coalitions,
            tuple(context.excluded),
            int(context.pool.size),
            () if coalitions else self._why_infeasible(context),
        )

    def _why_infeasible(self, context: _Context) -> tuple[str, ...]:
        """Which hard constraint no candidate can meet, in words."""
        problem, rules = context.problem, context.rules
        reasons = []
        if problem.size < rules.min_size:
            reasons.append(
                f"only {problem.size} eligible candidates for a minimum size of {rules.min_size}"
            )
        for sector in sorted(rules.required_sectors):
            if not (problem.sector == sector).any():
                reasons.append(
                    f"no eligible candidate of the required sector {SECTORS[sector].value!r}"
                )
        if rules.kind is not None:
            for kind in sorted(rules.required_kinds):
                if not (rules.kind == kind).any():
                    reasons.append(
                        f"no eligible candidate of the required kind {KINDS[kind].value!r}"
                    )
        if rules.require_local and not problem.local.any():
            countries = ", ".join(sorted(context.initiative.countries))
            reasons.append(
                f"no eligible candidate in the target countries ({countries}) for "
                "require_local_partner"
            )
        return tuple(reasons) or ("the constraints together admit no coalition",)

    def complete(
        self, initiative: Initiative, members: Sequence[str], k: int = 10
    ) -> list[Completion]:
        """Rank candidates for one more seat in the partial coalition ``members``.

        Without an affinity model (``fit(index)``), candidates are the objective's pool and
        rank by the gain: the exact change of the objective when the candidate joins.

        With one (``fit(index, affinity=model)``), candidates are the model's bounded set,
        gated like the pool (exclusions, flags, delisting, capacity, conflicts with the lead
        or a locked member); the ``max(k, config.affinity_rerank)`` most likely joiners that
        pass the gates are re-ranked by

        .. math:: \\operatorname{logit} P(\\text{joins}) + w \\, \\Delta f

        with :math:`\\Delta f` the objective's exact gain (over a pool of those candidates and
        the locked members) and :math:`w` = ``config.affinity_gain_weight``, and the first
        ``k`` come back. ``gain`` and ``score_parts`` stay the objective's, and the first
        reason gives the affinity, so a broker sees both how likely a candidate is to join and
        what it adds. The learned likelihood leads because on real consortia (CORDIS H2020) it
        finds the actual joiner far more often than the gain does.
        """
        index = self._fitted()
        for org_id in members:
            if org_id not in index.position:
                raise UnknownReferenceError(
                    f"Organisation {org_id!r} not found", field="members", value=org_id
                )
        locked = sorted(set(members) | initiative.constraints.include)
        constraints = initiative.constraints
        max_size = max(constraints.max_size, len(locked) + 1)
        constraints = dataclasses.replace(
            constraints,
            include=frozenset(locked),
            max_size=max_size,
            min_size=min(constraints.min_size, max_size),
        )
        request = dataclasses.replace(initiative, constraints=constraints, count=1)
        ranker = getattr(self, "affinity_", None)
        if ranker is not None:
            self._check(request)
            config = self.config
            lead = index.position[request.lead]
            locked_positions = sorted({index.position[o] for o in locked})
            conflicting = {
                other
                for org_id in locked
                for conflict in index.conflicts_of.get(org_id, ())
                for other in conflict.pair
            } - set(locked)
            query = AffinityQuery(request.lead, tuple(locked), request.themes, request.countries)
            positions, likelihood = ranker.rank(query)
            kept: list[tuple[int, float]] = []
            wanted = max(k, config.affinity_rerank)
            for position, value in zip(positions.tolist(), likelihood.tolist(), strict=True):
                if index.org_ids[position] in conflicting:
                    continue
                if self._gate(position, lead, request) is not None:
                    continue
                kept.append((position, value))
                if len(kept) >= wanted:
                    break
            pool = np.asarray(sorted({*locked_positions, *(p for p, _ in kept)}), dtype=np.int64)
            need_vectors = [self.need_coverage(need.capability) for need in request.needs]
            need_codes = [need.capability for need in request.needs]
            ppr = self.proximity([lead, *locked_positions])
            problem = self._problem(request, lead, pool, ppr, need_vectors)
            slot = {int(p): i for i, p in enumerate(pool.tolist())}
            current = [slot[p] for p in locked_positions]
            base_parts = evaluate(problem, current)
            base = sum(base_parts.values())
            ranked = []
            for position, value in kept:
                parts = evaluate(problem, [*current, slot[position]])
                gain = sum(parts.values()) - base
                combined = value + config.affinity_gain_weight * gain
                ranked.append((combined, value, gain, position, parts))
            ranked.sort(key=lambda item: (-item[0], index.org_ids[item[3]]))
            chosen = ranked[:k]
            paths = introduction_paths(self.graph_, lead, [item[3] for item in chosen])
            answers = []
            for _, value, gain, position, parts in chosen:
                delta = {t: parts[t] - base_parts[t] for t in TERMS}
                answers.append(
                    Completion(
                        id=index.org_ids[position],
                        gain=round(gain, 9),
                        score_parts={t: round(v, 9) for t, v in delta.items()},
                        covers={
                            code: round(float(problem.cover[slot[position], j]), 6)
                            for j, code in enumerate(need_codes)
                            if problem.cover[slot[position], j] > 0
                        },
                        path_to_lead=tuple(index.org_ids[p] for p in paths.get(position, ())),
                        reasons=(
                            f"affinity: log-odds {value:+.2f} of joining such a coalition "
                            "(learned from history)",
                            *self._evidence(position, need_codes),
                        ),
                    )
                )
            return answers
        context = self._context(request)
        problem = context.problem
        where = {int(p): k for k, p in enumerate(context.pool.tolist())}
        current = [where[index.position[o]] for o in locked]
        base_parts = evaluate(problem, current)
        base = sum(base_parts.values())
        blocked = {b for a, b in context.rules.conflicts if a in current} | {
            a for a, b in context.rules.conflicts if b in current
        }
        results = []
        for candidate in range(problem.size):
            if candidate in current or candidate in blocked:
                continue
            parts = evaluate(problem, [*current, candidate])
            gain = sum(parts.values()) - base
            results.append((gain, candidate, parts))
        results.sort(key=lambda item: (-item[0], index.org_ids[int(context.pool[item[1]])]))
        top = results[:k]
        paths = introduction_paths(
            self.graph_, context.lead, [int(context.pool[c]) for _, c, _ in top]
        )
        completions = []
        for gain, candidate, parts in top:
            position = int(context.pool[candidate])
            delta = {t: parts[t] - base_parts[t] for t in TERMS}
            completions.append(
                Completion(
                    id=index.org_ids[position],
                    gain=round(gain, 9),
                    score_parts={t: round(v, 9) for t, v in delta.items()},
                    covers={
                        code: round(float(problem.cover[candidate, j]), 6)
                        for j, code in enumerate(context.need_codes)
                        if problem.cover[candidate, j] > 0
                    },
                    path_to_lead=tuple(index.org_ids[p] for p in paths.get(position, ())),
                    reasons=tuple(self._evidence(position, context.need_codes)),
                )
            )
        return completions


def _regions_of(index: Index, initiative: Initiative) -> set[str]:
    """The M49 regions of the initiative's target countries."""
    return {
        info.region
        for c in initiative.countries
        if (info := index.taxonomies.countries.get(c)) is not None
    }
