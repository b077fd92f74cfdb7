"""Recommends complementary coalitions for an initiative, with reasons a broker can check.

:class:`CoalitionRecommender` orchestrates the engine's steps, each a module of one purpose:
proximity from the lead (and any required members) by personalised PageRank
(:mod:`matcher.engine.proximity`); a bounded candidate pool (the best holders of each need, the
most experienced in each wanted activity type, the closest in the graph, those sharing the
initiative's themes, local organisations and members of required sectors and kinds) and the
hard gates, each exclusion with its reason (:mod:`matcher.engine.pool`); the objective of
:mod:`matcher.engine.objective` and the hard constraints over the pool
(:mod:`matcher.engine.problem`); the solvers of :mod:`matcher.engine.solvers` for several
distinct coalitions; explanations per member and per coalition (:mod:`matcher.engine.explain`,
DESIGN.md 5.2), or why no coalition exists (:mod:`matcher.engine.diagnosis`). Completing a
partial coalition ranks candidates for one more seat (:mod:`matcher.engine.completion`).

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

import copy
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matcher.domain.arrays import FloatArray, IntArray
from matcher.domain.exceptions import PartnerMatchError, UnknownReferenceError, ValidationError
from matcher.domain.model import COMPLEMENTARITY, Coalition, Exclusion, Initiative, Kind, Sector
from matcher.domain.taxonomy import MatchCredits
from matcher.engine.affinity import AffinityModel, AffinityQuery, AffinityRanker
from matcher.engine.compiled import warm_up
from matcher.engine.completion import (
    Completion,
    Seat,
    open_slots,
    rank_by_affinity,
    rank_by_gain,
)
from matcher.engine.diagnosis import Constraint, Infeasibility, Outcome, diagnose
from matcher.engine.explain import Explainer, Identity, covers
from matcher.engine.index import KINDS, SECTORS, Index
from matcher.engine.objective import Problem, Weights
from matcher.engine.pool import (
    CandidateSources,
    Gates,
    PoolSizes,
    admit_joiners,
    build_pool,
)
from matcher.engine.problem import Formulation, build_problem, build_rules
from matcher.engine.proximity import (
    SparseScores,
    WalkGraph,
    adamic_adar_scores,
    introduction_paths,
    walk_scores,
)
from matcher.engine.reasons import Rejection
from matcher.engine.solvers import InfeasibleError, Rules, Solution, top_k
from matcher.engine.text import initiative_text
from matcher.integrity.screening import ScreeningPolicy

__all__ = [
    "EngineConfig",
    "NotFittedError",
    "Rejection",
    "Recommendation",
    "Completion",
    "coalition_dict",
    "CoalitionRecommender",
]


class NotFittedError(PartnerMatchError):
    """The recommender was used before :meth:`CoalitionRecommender.fit`."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Every knob of the engine, with its default.

    Pool sizes bound what the solver sees whatever the graph's size; ``difference`` is the
    number of members each next coalition must change; ``gap_below`` is the coverage under
    which a need is reported as a gap. ``complementarity`` (§80: complementary skills) is
    the default for requests that do not say: ``prefer`` costs each member that is the sole
    best holder of no need or wanted activity type the ``redundancy`` weight, ``strict``
    forbids such members, ``off`` ignores it. When the pool has at most
    ``milp_max_candidates`` candidates the first coalition is also solved by the exact MILP
    (at most ``milp_node_limit`` nodes, a limit independent of the machine's load, and
    ``milp_budget`` seconds, a safety cap), so small requests are answered exactly and
    larger ones by greedy and local search;
    ``milp_time_limit`` > 0 gives the MILP that much per coalition whatever the pool's size.
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
    pool_text: int = 30
    pool_size: int = 200
    walks: int = 1000
    walk_steps: int = 100
    restart: float = 0.15
    difference: int = 1
    solver: str = "auto"
    milp_time_limit: float = 0.0
    milp_budget: float = 30.0
    milp_max_candidates: int = 60
    milp_node_limit: int = 2000
    gap_below: float = 0.5
    complementarity: str = "prefer"
    screening: ScreeningPolicy = field(default_factory=ScreeningPolicy)
    seed: int = 0
    affinity_gain_weight: float = 0.25
    affinity_rerank: int = 100

    def __post_init__(self) -> None:
        if self.complementarity not in COMPLEMENTARITY:
            raise ValidationError(
                f"complementarity must be one of {', '.join(COMPLEMENTARITY)}, "
                f"got {self.complementarity!r}",
                field="complementarity",
                value=self.complementarity,
            )

    @property
    def pool_sizes(self) -> PoolSizes:
        """The ``pool_*`` knobs, as :mod:`matcher.engine.pool` takes them."""
        return PoolSizes(
            per_need=self.pool_per_need,
            per_activity=self.pool_per_activity,
            proximity=self.pool_proximity,
            adamic_adar=self.pool_adamic_adar,
            theme=self.pool_theme,
            local=self.pool_local,
            required=self.pool_required,
            total=self.pool_size,
            text=self.pool_text,
        )


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Ranked coalitions for an initiative, and the candidates gates left out."""

    initiative: Initiative
    coalitions: tuple[Coalition, ...]
    excluded: tuple[Exclusion, ...]
    pool_size: int
    infeasible: tuple[Infeasibility, ...] = ()
    lead: Identity | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of DESIGN.md 5.2."""
        return {
            "initiative": self.initiative.id,
            "lead": self.lead.to_dict() if self.lead is not None else {"id": self.initiative.lead},
            "coalitions": [coalition_dict(c) for c in self.coalitions],
            "excluded": [{"id": e.id, "gate": e.gate, "reason": e.reason} for e in self.excluded],
            "pool_size": self.pool_size,
            "infeasible": [i.to_dict() for i in self.infeasible],
        }


def coalition_dict(coalition: Coalition) -> dict[str, Any]:
    """The JSON form of one coalition (DESIGN.md 5.2)."""
    return {
        "members": [
            {
                "id": m.id,
                "name": m.name,
                "kind": m.kind,
                "country": m.country,
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
                "reasons": list(m.reasons),
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
                "best_partner_name": g.best_partner_name,
                "best_partner_coverage": g.best_partner_coverage,
            }
            for g in coalition.gaps
        ],
        "solver": coalition.solver,
        "optimality_gap": coalition.optimality_gap,
    }


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
    affinity_ : AffinityRanker or None
        The learned "who joins" ranker bound to the index, when :meth:`fit` got a model.
    screening_ : dict of str to Screening
        The integrity screening of every organisation with something to report.
    sources_ : CandidateSources
        The candidate sources no request changes.
    gates_ : Gates
        The hard gates.
    explainer_ : Explainer
        Turns solutions into explained coalitions.
    rejections_ : dict of str to dict of str to Rejection
        By lead id, then member id: the latest rejection of a proposal of that lead's in
        which that member sat (the member costs the ``rejected`` weight for that lead, and
        its reasons say so).
    """

    def __init__(self, *, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()

    def fit(
        self,
        index: Index,
        affinity: AffinityModel | None = None,
        *,
        rejections: Iterable[Rejection] = (),
    ) -> CoalitionRecommender:
        """Attach an index (built from history) and prepare what no request changes: the
        walk graph, the screening, the holders of every capability code, and the most
        experienced organisations per activity type and per theme.

        ``rejections``, the reviewers' earlier rejections (lead, member, date, reason), lower
        a rejected member's score for that lead only, by the ``rejected`` weight of
        :class:`~matcher.engine.objective.Weights`, and are told in its reasons; the latest
        one per lead and member counts.

        ``affinity``, a fitted :class:`~matcher.engine.affinity.AffinityModel` (trained on the same
        history, never on later partnerships), makes :meth:`complete` rank by the learned
        likelihood of joining; without it :meth:`complete` ranks by the objective's gain."""
        config = self.config
        self.index_ = index
        self.graph_ = (
            index.walk_graph
            if index.walk_graph is not None
            else WalkGraph.from_matrix(index.collaboration)
        )
        self.affinity_ = affinity.ranker(index, self.graph_) if affinity is not None else None
        self.gates_ = Gates(index, config.screening)
        self.screening_ = self.gates_.screening
        self.sources_ = CandidateSources(index, credits=config.credits, sizes=config.pool_sizes)
        self.explainer_ = Explainer(
            index, self.graph_, self.gates_, credits=config.credits, gap_below=config.gap_below
        )
        self.rejections_ = _rejections_by_lead(rejections)
        self.warm_up()
        return self

    def with_rejections(self, rejections: Iterable[Rejection]) -> CoalitionRecommender:
        """This fitted recommender with ``rejections`` in place of the ones it was fitted with.

        A rejection changes no index: the copy shares the index, the walk graph, the gates
        and the candidate sources with this one, so it costs nothing to make (the service
        takes a reviewer's rejection this way instead of rebuilding its index).
        """
        self._fitted()
        judged = copy.copy(self)
        judged.rejections_ = _rejections_by_lead(rejections)
        return judged

    def warm_up(self) -> None:
        """Load (or compile, the first time on a machine) the engine's compiled loops
        (:mod:`matcher.engine.compiled`), so that no request pays for it: :meth:`fit` does;
        a process that receives a fitted recommender (unpickled) calls it once."""
        index = self._fitted()
        warm_up(
            self.graph_.cumulative,
            self.graph_.matrix,
            (index.collaboration, index.theme),
            (index.country_id, index.sector, index.kind),
        )

    def rejected(self, lead: str) -> Mapping[str, Rejection]:
        """The members rejected before for ``lead``, with their latest rejection."""
        self._fitted()
        return self.rejections_.get(lead, {})

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

    def need_coverage(self, code: str) -> tuple[IntArray, FloatArray]:
        """Organisations covering capability ``code``, with their coverage in (0, 1].

        Coverage is the best over the organisation's capabilities of strength × taxonomy
        credit (:func:`~matcher.domain.taxonomy.match_credit`): descendants serve fully,
        ancestors and siblings in part.
        """
        self._fitted()
        return self.sources_.need_coverage(code)

    def formulate(self, initiative: Initiative) -> Formulation:
        """What :meth:`recommend` solves for ``initiative``: its gated candidate pool, the
        objective's :class:`~matcher.engine.objective.Problem` and the
        :class:`~matcher.engine.solvers.Rules` over it.

        Raises
        ------
        NotFoundError
            If the lead or a required or excluded organisation is unknown.
        UnknownCodeError
            If a theme or capability code is unknown.
        """
        index = self._fitted()
        _check_references(index, initiative)
        mode = self.complementarity(initiative)
        lead = index.position[initiative.lead]
        forced = tuple(index.position[o] for o in sorted(initiative.constraints.include))
        proximity = self.proximity([lead, *forced])
        common = self.common_neighbours([lead, *forced])
        need_codes = tuple(need.capability for need in initiative.needs)
        need_vectors = tuple(self.need_coverage(code) for code in need_codes)
        pool = build_pool(
            initiative,
            self.sources_,
            self.gates_,
            lead=lead,
            forced=forced,
            proximity=proximity,
            common=common,
            need_vectors=need_vectors,
        )
        problem = self._problem(
            initiative, pool.positions, lead, proximity, need_vectors, forced=forced, mode=mode
        )
        rules = build_rules(
            index,
            initiative,
            pool.positions,
            lead=lead,
            forced=forced,
            complementary=mode == "strict",
        )
        return Formulation(
            initiative, lead, forced, proximity, need_codes, need_vectors, pool, problem, rules
        )

    def complementarity(self, initiative: Initiative) -> str:
        """The complementarity mode for ``initiative``: its own, else the engine's."""
        return initiative.complementarity or self.config.complementarity

    def recommend(self, initiative: Initiative) -> Recommendation:
        """Up to ``initiative.count`` distinct coalitions, best first, explained.

        When the hard constraints admit none, ``infeasible`` says which conflict and the
        relaxations that, re-solved, give coalitions (:mod:`matcher.engine.diagnosis`).

        Raises
        ------
        NotFoundError
            If the lead or a required or excluded organisation is unknown.
        UnknownCodeError
            If a theme or capability code is unknown.
        """
        formulation = self.formulate(initiative)
        solutions = self._solve_formulation(formulation, initiative.count)
        rejected = self.rejected(initiative.lead)
        coalitions = tuple(
            self.explainer_.coalition(formulation, s, rejected=rejected) for s in solutions
        )
        return Recommendation(
            initiative,
            coalitions,
            formulation.pool.excluded,
            int(formulation.pool.positions.size),
            () if coalitions else self._diagnose(formulation),
            self.explainer_.identity(formulation.lead),
        )

    def _solve_formulation(self, formulation: Formulation, count: int) -> list[Solution]:
        """The formulation's coalitions, best first (none while a required member is gated)."""
        if formulation.pool.blocked:
            return []
        return self._solve(formulation.problem, formulation.rules, count)

    def _outcomes(self, initiative: Initiative) -> list[Outcome]:
        """The scores and members of ``initiative``'s coalitions (no explanations): what a
        relaxation is verified with."""
        formulation = self.formulate(initiative)
        pool = formulation.pool.positions
        return [
            Outcome(
                solution.score,
                tuple(self.explainer_.identity(int(pool[k])).to_dict() for k in solution.members),
            )
            for solution in self._solve_formulation(formulation, initiative.count)
        ]

    def _diagnose(self, formulation: Formulation) -> tuple[Infeasibility, ...]:
        """Why ``formulation`` admits no coalition, with verified relaxations."""
        index = self.index_
        problem, rules = formulation.problem, formulation.rules
        initiative = formulation.initiative
        blocked = {e.id: e for e in formulation.pool.blocked}

        def describe(constraint: Constraint) -> str | None:
            """Why this constraint alone cannot be met, where the pool says so."""
            if constraint.path == "constraints.include" and constraint.value in blocked:
                exclusion = blocked[constraint.value]
                name = self.explainer_.identity(index.position[exclusion.id]).name
                return (
                    f"{name} ({exclusion.id}) is required but {exclusion.reason} "
                    f"(gate: {exclusion.gate})"
                )
            if constraint.path == "constraints.min_size" and problem.size < rules.min_size:
                return (
                    f"only {problem.size} eligible candidates for a minimum size of "
                    f"{rules.min_size}"
                )
            if constraint.path == "constraints.required_sectors":
                sector = SECTORS.index(Sector(constraint.value))
                if not (problem.sector == sector).any():
                    return f"no eligible candidate of the required sector {constraint.value!r}"
            if constraint.path == "constraints.required_kinds" and rules.kind is not None:
                kind = KINDS.index(Kind(constraint.value))
                if not (rules.kind == kind).any():
                    return f"no eligible candidate of the required kind {constraint.value!r}"
            if constraint.path == "constraints.require_local_partner" and not problem.local.any():
                countries = ", ".join(sorted(initiative.countries))
                return (
                    f"no eligible candidate in the target countries ({countries}) for "
                    "require_local_partner"
                )
            return None

        return diagnose(
            initiative, self.complementarity(initiative), self._outcomes, describe=describe
        )

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
        request = _with_one_more_seat(initiative, locked)
        if self.affinity_ is not None:
            return self._complete_by_affinity(self.affinity_, request, locked, k)
        formulation = self.formulate(request)
        for exclusion in formulation.pool.blocked:
            raise ValidationError(
                f"Organisation {exclusion.id!r} is required but {exclusion.reason}",
                field="constraints.include",
                value=exclusion.id,
            )
        problem, pool = formulation.problem, formulation.pool.positions
        slot = {int(p): s for s, p in enumerate(pool.tolist())}
        current = [slot[index.position[o]] for o in locked]
        base_parts, seats = rank_by_gain(
            problem,
            current,
            open_slots(problem, formulation.rules, current),
            ids=[index.org_ids[p] for p in pool.tolist()],
            count=k,
        )
        return self._completions(
            problem, pool, formulation.lead, formulation.need_codes, base_parts, seats
        )

    def _fitted(self) -> Index:
        index: Index | None = getattr(self, "index_", None)
        if index is None:
            raise NotFittedError("Call fit(index) before recommending")
        return index

    def _problem(
        self,
        initiative: Initiative,
        pool: IntArray,
        lead: int,
        proximity: SparseScores,
        need_vectors: Sequence[tuple[IntArray, FloatArray]],
        *,
        forced: Sequence[int] = (),
        mode: str | None = None,
    ) -> Problem:
        """The objective's inputs for ``initiative`` over ``pool``, with this engine's
        weights, screening penalties and the lead's earlier rejections."""
        position = self.index_.position
        return build_problem(
            self.index_,
            initiative,
            pool,
            lead=lead,
            proximity=proximity,
            need_vectors=need_vectors,
            penalised=self.gates_.penalised,
            weights=self.config.weights,
            forced=forced,
            complementarity=mode or self.complementarity(initiative),
            rejected=[position[m] for m in self.rejected(initiative.lead) if m in position],
        )

    def _solve(self, problem: Problem, rules: Rules, count: int) -> list[Solution]:
        """Up to ``count`` distinct solutions, best first (none when infeasible)."""
        config = self.config
        try:
            return top_k(
                problem,
                rules,
                count,
                difference=config.difference,
                method=config.solver,
                milp_time_limit=config.milp_time_limit,
                milp_budget=config.milp_budget,
                milp_max_candidates=config.milp_max_candidates,
                milp_node_limit=config.milp_node_limit,
            )
        except InfeasibleError:
            return []

    def _complete_by_affinity(
        self, ranker: AffinityRanker, request: Initiative, locked: Sequence[str], k: int
    ) -> list[Completion]:
        """:meth:`complete` with the learned ranker: the likely joiners the gates admit,
        re-ranked by log-odds + weight × gain over a pool of them and the locked members."""
        index = self.index_
        _check_references(index, request)
        config = self.config
        lead = index.position[request.lead]
        locked_positions = sorted({index.position[o] for o in locked})
        query = AffinityQuery(
            request.lead,
            tuple(locked),
            request.themes,
            request.countries,
            initiative_text(request),
        )
        positions, likelihood = ranker.rank(query)
        joiners = admit_joiners(
            self.gates_,
            request,
            positions.tolist(),
            likelihood.tolist(),
            lead=lead,
            locked=locked,
            count=max(k, config.affinity_rerank),
        )
        pool = np.asarray(sorted({*locked_positions, *(p for p, _ in joiners)}), dtype=np.int64)
        need_codes = tuple(need.capability for need in request.needs)
        need_vectors = [self.need_coverage(code) for code in need_codes]
        proximity = self.proximity([lead, *locked_positions])
        problem = self._problem(request, pool, lead, proximity, need_vectors)
        slot = {int(p): s for s, p in enumerate(pool.tolist())}
        base_parts, seats = rank_by_affinity(
            problem,
            [slot[p] for p in locked_positions],
            [(slot[p], value) for p, value in joiners],
            weight=config.affinity_gain_weight,
            ids=[index.org_ids[p] for p in pool.tolist()],
            count=k,
        )
        return self._completions(problem, pool, lead, need_codes, base_parts, seats)

    def _completions(
        self,
        problem: Problem,
        pool: IntArray,
        lead: int,
        need_codes: Sequence[str],
        base_parts: dict[str, float],
        seats: Sequence[Seat],
    ) -> list[Completion]:
        """The ranked seats, explained: covers, path to the lead, evidence (after the
        affinity, when ranked by it)."""
        index = self.index_
        positions = [int(pool[seat.slot]) for seat in seats]
        paths = introduction_paths(self.graph_, lead, positions)
        completions = []
        for seat, position in zip(seats, positions, strict=True):
            evidence = self.explainer_.evidence(position, need_codes)
            if seat.affinity is not None:
                evidence.insert(0, _affinity_reason(seat.affinity))
            completions.append(
                Completion(
                    id=index.org_ids[position],
                    gain=round(seat.gain, 9),
                    score_parts=seat.score_parts(base_parts),
                    covers=covers(problem, seat.slot, need_codes),
                    path_to_lead=tuple(index.org_ids[p] for p in paths.get(position, ())),
                    reasons=tuple(evidence),
                )
            )
        return completions


def _check_references(index: Index, initiative: Initiative) -> None:
    """Raise if the initiative names an organisation or a code the index does not know."""
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


def _with_one_more_seat(initiative: Initiative, locked: Sequence[str]) -> Initiative:
    """``initiative`` with the ``locked`` members required and room for one more (one
    coalition)."""
    constraints = initiative.constraints
    max_size = max(constraints.max_size, len(locked) + 1)
    constraints = dataclasses.replace(
        constraints,
        include=frozenset(locked),
        max_size=max_size,
        min_size=min(constraints.min_size, max_size),
    )
    return dataclasses.replace(initiative, constraints=constraints, count=1)


def _affinity_reason(log_odds: float) -> str:
    """The first reason of a candidate ranked by the learned affinity."""
    return f"affinity: log-odds {log_odds:+.2f} of joining such a coalition (learned from history)"


def _rejections_by_lead(rejections: Iterable[Rejection]) -> dict[str, dict[str, Rejection]]:
    """By lead, then member: the latest rejection (by date, then proposal number)."""
    by_lead: dict[str, dict[str, Rejection]] = {}
    for rejection in sorted(rejections, key=lambda r: (r.decided_on, r.proposal or 0)):
        by_lead.setdefault(rejection.lead, {})[rejection.member] = rejection
    return by_lead
