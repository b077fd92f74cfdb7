"""Sets up an initiative over its candidate pool for the solvers: a Problem and its Rules.

:func:`build_problem` fills the objective's inputs (:mod:`matcher.engine.objective`) for each
pool candidate: coverage of each need (local presence counted where it is, see
:func:`located_factors`), experience in each wanted activity type, sector, region, presence in
and fit to the target countries, resources, alignment with the themes, proximity to the lead,
similarity of past work to the initiative's words, past ties, novelty, track record and
screening penalty, with the lead's own contribution as
the base. :func:`build_rules` states the hard constraints (size, required members, sectors and
kinds, a local partner, conflicting pairs, complementarity) over pool slots. Both take the
initiative as given, so a caller may set up a modified one (a constraint relaxed) again over
the same pool. :class:`Formulation` keeps the lot, with what an explanation maps back through.

Examples
--------
>>> from matcher.formats.datadir import read_data_directory
>>> from matcher.engine.index import build_index
>>> from matcher.formats.taxonomy_io import default_taxonomy_dir
>>> index = build_index(read_data_directory(default_taxonomy_dir().parent / "seed"))
>>> initiative = Initiative.from_mapping({"lead": "unicef", "countries": ["BR"],
...     "needs": [{"capability": "local_presence"}],
...     "constraints": {"require_local_partner": True}})
>>> pool = np.asarray([index.position[o] for o in ("itau", "us-chamber", "petrochina", "undp")])
>>> located_factors(index, initiative, "local_presence", pool).tolist()  # BR, US, CN, global
[1.0, 0.25, 0.0, 0.0]
>>> located_factors(index, initiative, "funding", pool).tolist()  # funding travels
[1.0, 1.0, 1.0, 1.0]
>>> rules = build_rules(index, initiative, pool, lead=index.position["unicef"], forced=(),
...                     complementary=True)
>>> rules.min_size, rules.max_size, rules.require_local, rules.complementary
(1, 5, True, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from matcher.domain.arrays import BoolArray, FloatArray, IntArray
from matcher.domain.model import Initiative, Kind
from matcher.engine.compiled import submatrix
from matcher.engine.index import ACTIVITY_TYPES, KINDS, REGIONS, SECTORS, Index
from matcher.engine.objective import N_REGIONS, N_SECTORS, Problem, Weights
from matcher.engine.pool import CandidatePool
from matcher.engine.proximity import SparseScores
from matcher.engine.solvers import Rules
from matcher.engine.text import initiative_text

__all__ = ["Formulation", "build_problem", "build_rules", "located_factors"]


@dataclass(frozen=True, slots=True)
class Formulation:
    """An initiative set up for the solvers, and what explanations map back through.

    ``lead`` and ``forced`` are index positions; ``proximity`` is the personalised PageRank
    from them; ``need_vectors[j]`` is the coverage of ``need_codes[j]`` (positions ascending,
    coverage aligned); slot ``k`` of ``problem`` and ``rules`` is index position
    ``pool.positions[k]``.
    """

    initiative: Initiative
    lead: int
    forced: tuple[int, ...]
    proximity: SparseScores
    need_codes: tuple[str, ...]
    need_vectors: tuple[tuple[IntArray, FloatArray], ...]
    pool: CandidatePool
    problem: Problem
    rules: Rules


def build_problem(
    index: Index,
    initiative: Initiative,
    pool: IntArray,
    *,
    lead: int,
    proximity: SparseScores,
    need_vectors: Sequence[tuple[IntArray, FloatArray]],
    penalised: FloatArray,
    weights: Weights,
    forced: Sequence[int] = (),
    complementarity: str = "prefer",
    rejected: Sequence[int] = (),
) -> Problem:
    """The objective's inputs for the candidates at ``pool`` (slot ``k``: ``pool[k]``).

    A need is what the initiative lacks: the lead's own capabilities do not cover it (the
    base coverage is 0); its activity types, sector and region are the base of theirs.

    Parameters
    ----------
    index : Index
    initiative : Initiative
    pool : ndarray of int64
        Index positions of the candidates, ascending.
    lead : int, keyword-only
        The lead's index position.
    proximity : SparseScores, keyword-only
        Personalised PageRank from the lead (and required members); scaled so that the
        closest candidate scores 1.
    need_vectors : sequence of (positions, coverage), keyword-only
        Coverage of each of ``initiative.needs``, in order (positions ascending).
    penalised : ndarray of float64, keyword-only
        1 at the index position of each organisation screening penalises.
    weights : Weights, keyword-only
    forced : sequence of int, keyword-only
        Index positions of the required members: never counted redundant.
    complementarity : {"prefer", "strict", "off"}, keyword-only
        Only ``prefer`` keeps the weight of the ``redundancy`` term (``strict`` makes it a
        rule of :func:`build_rules`, ``off`` drops it).
    rejected : sequence of int, keyword-only
        Index positions of the organisations a reviewer rejected before for this lead: each
        costs the ``rejected`` weight when it sits in the coalition (a per-candidate
        adjustment, so the solvers see it through :meth:`Problem.modular`).

    Returns
    -------
    Problem
    """
    n = pool.size
    if complementarity != "prefer" and weights.redundancy:
        weights = dataclasses.replace(weights, redundancy=0.0)
    exempt = np.isin(pool, np.asarray(forced, dtype=np.int64))
    cover = np.zeros((n, len(need_vectors)))
    base_cover = np.zeros(len(need_vectors))
    # a need is what the initiative lacks: the lead's own capabilities do not cover it
    for j, (positions, values) in enumerate(need_vectors):
        if positions.size == 0:
            continue
        # the pool is small, the holders many: look each candidate up among the holders
        slot = np.minimum(np.searchsorted(positions, pool), positions.size - 1)
        inside = np.flatnonzero(positions[slot] == pool)
        cover[inside, j] = values[slot[inside]] * located_factors(
            index, initiative, initiative.needs[j].capability, pool[inside]
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
    local, near = _located(index, initiative, pool)
    fit = np.zeros(n)
    if initiative.countries:
        nowhere = index.country_id[pool] < 0  # a global body
        fit = np.where(local, 1.0, np.where(nowhere | near, 0.5, 0.0))

    alignment = _alignment(index, initiative, pool)
    pool_ppr = proximity[pool]
    top = float(pool_ppr.max(initial=0.0))
    closeness = pool_ppr / top if top > 0 else np.zeros(n)
    collaboration = index.collaboration
    block = submatrix(
        np.asarray(collaboration.indptr),
        np.asarray(collaboration.indices),
        np.asarray(collaboration.data),
        np.append(pool, lead).astype(np.int64),
        pool,
    )
    ties = np.minimum(block[:n], 1.0)
    np.fill_diagonal(ties, 0.0)
    to_lead = block[n]
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
        proximity=closeness,
        ties=ties,
        novel=(to_lead == 0).astype(np.float64),
        record=index.record[pool].astype(np.float64),
        yellow=penalised[pool],
        max_size=initiative.constraints.max_size,
        weights=weights,
        exempt=exempt,
        mission=_mission(index, initiative, pool),
        rejected=np.isin(pool, np.asarray(rejected, dtype=np.int64)).astype(np.float64)
        if len(rejected)
        else None,
    )


def _mission(index: Index, initiative: Initiative, pool: IntArray) -> FloatArray | None:
    """Cosine (at least 0) of each candidate's text profile with the initiative's words;
    ``None`` when the index has no text or the initiative no words."""
    text = initiative_text(initiative)
    if index.text is None or not text:
        return None
    query = index.text.encode_query(text)
    result: FloatArray = np.maximum(index.text.similarity(query, pool), 0.0).astype(np.float64)
    return result


def build_rules(
    index: Index,
    initiative: Initiative,
    pool: IntArray,
    *,
    lead: int,
    forced: Sequence[int],
    complementary: bool,
) -> Rules:
    """The hard constraints of ``initiative`` over the slots of ``pool``.

    Conflicting pairs are those of the dataset with both in the pool; a sector or kind the
    lead brings is not required again; a local partner is required only with target
    countries, complementarity only with needs or activity types to complement.

    Parameters
    ----------
    index, initiative, pool, lead
        As for :func:`build_problem`.
    forced : sequence of int, keyword-only
        Index positions of the required members (each in ``pool``).
    complementary : bool, keyword-only
        Whether every member must be the sole best holder of some need or activity type.

    Returns
    -------
    Rules
    """
    where = {p: k for k, p in enumerate(pool.tolist())}
    conflicts = []
    pairs = index.records.conflict_pairs
    for a_position, b_position in pairs[np.isin(pairs, pool).all(axis=1)].tolist():
        conflicts.append((where[a_position], where[b_position]))
    lead_sector = int(index.sector[lead])
    lead_kind = int(index.kind[lead])
    required_sectors = frozenset(
        SECTORS.index(s) for s in initiative.constraints.required_sectors
    ) - {lead_sector}
    required_kinds = frozenset(KINDS.index(k) for k in initiative.constraints.required_kinds) - {
        lead_kind
    }
    return Rules(
        min_size=initiative.constraints.min_size,
        max_size=initiative.constraints.max_size,
        forced=tuple(where[i] for i in forced if i in where),
        conflicts=tuple(conflicts),
        required_sectors=required_sectors,
        required_kinds=required_kinds,
        kind=index.kind[pool],
        require_local=initiative.constraints.require_local_partner and bool(initiative.countries),
        complementary=complementary and bool(initiative.needs or initiative.activity_types),
    )


def located_factors(
    index: Index, initiative: Initiative, code: str, positions: IntArray
) -> FloatArray:
    """What a holder's coverage of ``code`` counts for, per position in ``positions``.

    Local presence is presence *there*: elsewhere it counts a quarter in a target region
    and nothing beyond. Other capabilities travel (factor 1).

    Parameters
    ----------
    index : Index
    initiative : Initiative
        Its target countries say where "there" is (none: every factor is 1).
    code : str
        The capability code of a need.
    positions : ndarray of int64
        Index positions of holders.

    Returns
    -------
    ndarray of float64
        1, 0.25 or 0 per position.
    """
    vocabulary = index.taxonomies.capabilities
    if not initiative.countries or not (
        code == "local_presence" or "local_presence" in vocabulary.ancestors(code)
    ):
        return np.ones(positions.size)
    there, near = _located(index, initiative, positions)
    factors: FloatArray = np.where(there, 1.0, np.where(near, 0.25, 0.0))
    return factors


def _located(
    index: Index, initiative: Initiative, positions: IntArray
) -> tuple[BoolArray, BoolArray]:
    """Per position: in a target country; in the region of one (vectorised over the index's
    country and region ids: a need's holders run to tens of thousands)."""
    countries = [index.country_lookup[c] for c in initiative.countries if c in index.country_lookup]
    there: BoolArray = np.isin(index.country_id[positions], countries)
    regions = _regions_of(index, initiative)
    if regions <= set(REGIONS):
        near: BoolArray = np.isin(index.region_id[positions], [REGIONS.index(r) for r in regions])
    else:  # a region outside the five M49 ones has no id: compare names
        near = np.array([index.region[p] in regions for p in positions.tolist()], dtype=bool)
    return there, near


def _alignment(index: Index, initiative: Initiative, pool: IntArray) -> FloatArray:
    """Share of the initiative's themes each candidate works on (a shared SDG earns half),
    plus 0.25 for a company with a recorded business motivation (§74)."""
    alignment = np.zeros(pool.size)
    columns = [index.theme_codes.index(t) for t in sorted(initiative.themes)]
    if columns:
        theme = index.theme
        themes = submatrix(
            np.asarray(theme.indptr),
            np.asarray(theme.indices),
            np.asarray(theme.data),
            pool,
            np.arange(theme.shape[1], dtype=np.int64),
        )
        held = themes[:, columns] > 0
        candidate_sdgs = (themes @ index.theme_sdg.toarray()) > 0
        wanted_sdgs = index.theme_sdg[columns].toarray() > 0
        near = ~held & ((candidate_sdgs.astype(int) @ wanted_sdgs.T.astype(int)) > 0)
        alignment = (held.sum(axis=1) + 0.5 * near.sum(axis=1)) / len(columns)
    companies = index.kind[pool] == KINDS.index(Kind.COMPANY)
    alignment = alignment + 0.25 * (companies & index.motivations[pool].any(axis=1))
    result: FloatArray = np.minimum(alignment, 1.0)
    return result


def _regions_of(index: Index, initiative: Initiative) -> set[str]:
    """The M49 regions of the initiative's target countries."""
    return {
        info.region
        for c in initiative.countries
        if (info := index.taxonomies.countries.get(c)) is not None
    }
