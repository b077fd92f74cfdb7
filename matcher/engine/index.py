"""The in-memory index a recommendation is served from: compact arrays over organisations.

Built once from a :class:`~matcher.domain.dataset.Dataset` (rebuilt when data change), it holds

* ``capability``: a sparse organisation × capability-code matrix of strengths (CSC, so that the
  organisations offering one code are a column slice). Explicit capabilities are completed
  by a profile inferred from each organisation's history
  (:data:`INFERENCE_RULES`), each inferred entry with its evidence, at a discount
  (``inferred_strength``); a code held both ways counts at the larger strength.
* ``theme``: organisation × theme (the organisation's own themes, and those of its
  partnerships), binary, CSR.
* ``activity``: organisation × the six activity types of §14, the share of the organisation's
  partnerships that used each type (dense, float32).
* ``collaboration``: the symmetric organisation × organisation matrix, weighted by the number of
  shared partnerships and their recency (``0.5 ** (age / half_life_years)``), CSR.
* attribute arrays: kind, sector, country, region, LDC, size, resource and motivation bit
  masks, worst flag level, active partnerships and ``max_active``, track record (§84), number
  of partnerships and how many of them the organisation led.

Examples
--------
>>> from matcher.domain.model import Organisation, Partnership, Membership
>>> from matcher.formats.taxonomy_io import load_taxonomies
>>> taxonomies = load_taxonomies()
>>> dataset = Dataset.build(
...     organisations=[Organisation("a", "A", "un_entity"), Organisation("b", "B", "company")],
...     partnerships=[Partnership("p", "P", start_year=2001, activity_types=["fundraising"])],
...     memberships=[Membership("p", "a", "lead"), Membership("p", "b", "funder")],
...     taxonomies=taxonomies,
... )
>>> index = build_index(dataset)
>>> float(index.collaboration[index.position["a"], index.position["b"]])
1.0
>>> [(e.capability, e.rule) for e in index.evidence[index.position["b"]]][:3]
[('funding', 'role:funder'), ('funding.grants', 'role:funder'), ('funding', 'activity:fundraising')]
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from matcher.domain.arrays import BoolArray, FloatArray, IntArray
from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import SnapshotError
from matcher.domain.model import (
    ActivityType,
    Conflict,
    Flag,
    FlagLevel,
    Kind,
    Organisation,
    Outcome,
    Role,
    Sector,
)
from matcher.domain.taxonomy import Taxonomies
from matcher.engine.coverage import CoverageTable
from matcher.engine.directory import Directory, build_directory
from matcher.engine.proximity import WalkGraph
from matcher.engine.text import EmbeddingCache, TextIndex, build_text_index, make_encoder

__all__ = [
    "IndexConfig",
    "Evidence",
    "INFERENCE_RULES",
    "OUTCOME_RECORD",
    "Index",
    "build_index",
]


ACTIVITY_TYPES: tuple[ActivityType, ...] = tuple(ActivityType)
KINDS: tuple[Kind, ...] = tuple(Kind)
SECTORS: tuple[Sector, ...] = tuple(Sector)
#: The five M49 regions, in the order of ``Index.region_id``.
REGIONS: tuple[str, ...] = ("Africa", "Americas", "Asia", "Europe", "Oceania")

#: Evidence of a capability inferred from history: (what was seen, capability, base strength).
#: Roles, activity types (§14) and kinds map onto the capability taxonomy.
INFERENCE_RULES: Mapping[str, tuple[tuple[str, float], ...]] = MappingProxyType(
    {
        "role:funder": (("funding", 1.0), ("funding.grants", 0.8)),
        "role:implementer": (("service_delivery", 1.0), ("local_presence", 0.6)),
        "role:technical": (("technical_expertise", 1.0), ("technology", 0.6)),
        "role:convener": (("policy_influence.convening", 1.0), ("partnership_brokering", 0.8)),
        "role:lead": (("partnership_brokering", 0.6),),
        "activity:fundraising": (("funding", 0.6), ("funding.fundraising", 0.8)),
        "activity:advocacy": (("media_reach", 0.6), ("media_reach.campaigns", 0.8)),
        "activity:information_learning": (("research", 0.6), ("research.knowledge_sharing", 0.8)),
        "activity:operational": (("service_delivery", 0.6),),
        "activity:policy_dialogue": (("policy_influence", 0.8),),
        "activity:partnership_promotion": (("partnership_brokering", 0.8),),
        "kind:academic": (("research", 0.8), ("training", 0.6)),
        "kind:research": (("research", 0.8), ("research.applied", 0.6)),
        "kind:media": (("media_reach", 0.8),),
        "kind:foundation": (("funding.grants", 0.8),),
        "kind:government": (("policy_influence.regulation", 0.8),),
        "kind:local_authority": (("local_presence.local_government", 0.8),),
        "kind:ngo": (("local_presence.community_networks", 0.6),),
        "kind:un_entity": (
            ("policy_influence.convening", 0.6),
            ("technical_expertise.development", 0.6),
        ),
    }
)

#: Track-record value of a partnership outcome (§84: continued or scaled up vs abandoned).
OUTCOME_RECORD: Mapping[Outcome | None, float] = MappingProxyType(
    {
        Outcome.SCALED_UP: 1.0,
        Outcome.CONTINUED: 0.8,
        Outcome.COMPLETED: 0.5,
        Outcome.ACTIVE: 0.3,
        Outcome.UNKNOWN: 0.0,
        None: 0.0,
        Outcome.ABANDONED: -1.0,
    }
)


@dataclass(frozen=True, slots=True)
class IndexConfig:
    """How the index weighs history.

    Parameters
    ----------
    half_life_years : float
        A shared partnership ``half_life_years`` older than the newest one counts half.
    inferred_strength : float
        Multiplier of inferred capability strengths (explicit ones are trusted more).
    inference_saturation : int
        Number of partnerships of evidence at which an inferred capability is fully credited.
    reference_year : int or None
        "Now" for recency; the latest start or end year in the data when ``None``.
    text_encoder : str or None
        Embed the organisations' words (:mod:`matcher.engine.text`) with this encoder
        (``"use"`` or ``"tfidf"``); ``None`` for an index without text.
    """

    half_life_years: float = 5.0
    inferred_strength: float = 0.5
    inference_saturation: int = 3
    reference_year: int | None = None
    text_encoder: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why an inferred capability was credited: the rule and the partnerships behind it."""

    capability: str
    strength: float
    rule: str
    partnerships: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Index:
    """Compact arrays over organisations; row ``i`` of every array is ``org_ids[i]``."""

    org_ids: Sequence[str]
    position: Mapping[str, int]
    capability_codes: tuple[str, ...]
    capability_position: Mapping[str, int]
    capability: sp.csc_matrix
    capability_rows: sp.csr_matrix
    capability_sources: Mapping[str, Mapping[str, str]]
    inferred: BoolArray
    evidence: Mapping[int, tuple[Evidence, ...]]
    theme_codes: tuple[str, ...]
    theme: sp.csr_matrix
    theme_by_column: sp.csc_matrix
    theme_sdg: sp.csr_matrix
    activity: npt.NDArray[np.float32]
    collaboration: sp.csr_matrix
    kind: IntArray
    sector: IntArray
    country: Sequence[str | None]
    country_id: IntArray
    country_lookup: Mapping[str, int]
    by_country: Mapping[str, IntArray]
    by_sector: tuple[IntArray, ...]
    by_kind: tuple[IntArray, ...]
    region: Sequence[str | None]
    region_id: IntArray
    ldc: BoolArray
    large: BoolArray
    resources: BoolArray
    resource_codes: tuple[str, ...]
    motivations: BoolArray
    motivation_codes: tuple[str, ...]
    worst_flag: IntArray
    flags_of: Mapping[str, tuple[Flag, ...]]
    conflicts_of: Mapping[str, tuple[Conflict, ...]]
    partnerships: IntArray
    led: IntArray
    active: IntArray
    max_active: IntArray
    record: FloatArray
    last_year: IntArray
    reference_year: int
    taxonomies: Taxonomies = field(repr=False, compare=False)
    records: Directory = field(repr=False, compare=False)
    source: Dataset | None = field(default=None, repr=False, compare=False)
    text: TextIndex | None = field(default=None, repr=False, compare=False)
    #: The collaboration matrix prepared for walks, when a snapshot holds it (memory-mapped);
    #: ``None``: the recommender prepares it from ``collaboration`` when fitted.
    walk_graph: WalkGraph | None = field(default=None, repr=False, compare=False)
    #: Every capability code's coverage, when a snapshot holds it (memory-mapped); ``None``:
    #: the candidate sources compute what they read.
    coverage: CoverageTable | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        """Number of organisations."""
        return len(self.org_ids)

    @property
    def dataset(self) -> Dataset:
        """The dataset the index was built from (the evaluation and the learned model read
        its history); an index opened from a snapshot (:mod:`matcher.engine.snapshot`) has
        none, and serving needs none: names, partnerships, flags and conflicts are in
        :attr:`records`.

        Raises
        ------
        SnapshotError
            On an index opened from a snapshot.
        """
        if self.source is None:
            raise SnapshotError(
                "this index was opened from a snapshot and holds no Dataset; "
                "build it from the data (build_index) for evaluation or a learned model"
            )
        return self.source

    def organisation(self, position: int) -> Organisation:
        """The organisation at a row of the index (from :attr:`records`: see
        :meth:`~matcher.engine.directory.Directory.organisation` for the fields it keeps)."""
        return self.records.organisation(position)


def _reference_year(dataset: Dataset, config: IndexConfig) -> int:
    if config.reference_year is not None:
        return config.reference_year
    years = [
        year
        for p in dataset.partnerships.values()
        for year in (p.start_year, p.end_year)
        if year is not None
    ]
    return max(years) if years else dt.date.today().year


def build_index(
    dataset: Dataset,
    config: IndexConfig = IndexConfig(),
    *,
    text_cache: EmbeddingCache | None = None,
    text_progress: Callable[[int, int], None] | None = None,
) -> Index:
    """Build the :class:`Index` of ``dataset``.

    Parameters
    ----------
    dataset : Dataset
    config : IndexConfig
    text_cache : EmbeddingCache, optional
        The previous index's (``index.text.cache``): only texts it lacks are embedded.
    text_progress : callable(done, total), optional
        Progress of the embedding, batch by batch.

    Returns
    -------
    Index

    Notes
    -----
    O(organisations + capabilities + memberships + Σ size² over partnerships) time; memory is
    dominated by the sparse matrices.
    """
    taxonomies = dataset.taxonomies
    org_ids = tuple(dataset.organisations)
    position = {org_id: i for i, org_id in enumerate(org_ids)}
    n = len(org_ids)
    reference = _reference_year(dataset, config)

    members: dict[str, list[tuple[int, Role]]] = defaultdict(list)
    for m in dataset.memberships:
        members[m.partnership_id].append((position[m.org_id], m.role))

    # history per organisation
    activity_counts = np.zeros((n, len(ACTIVITY_TYPES)), dtype=np.float64)
    partnerships = np.zeros(n, dtype=np.int64)
    led = np.zeros(n, dtype=np.int64)
    active = np.zeros(n, dtype=np.int64)
    record_sum = np.zeros(n, dtype=np.float64)
    last_year = np.zeros(n, dtype=np.int64)
    theme_rows: list[int] = []
    theme_cols: list[int] = []
    theme_codes = tuple(taxonomies.themes)
    theme_position = {code: j for j, code in enumerate(theme_codes)}
    seen_by_rule: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    role_rule = {role: f"role:{role.value}" for role in Role}
    activity_rule = {activity: f"activity:{activity.value}" for activity in ActivityType}
    pair_rows: list[npt.NDArray[np.int64]] = []
    pair_cols: list[npt.NDArray[np.int64]] = []
    pair_weights: list[npt.NDArray[np.float64]] = []
    activity_index = {a: k for k, a in enumerate(ACTIVITY_TYPES)}

    for pid, partnership in dataset.partnerships.items():
        group = members.get(pid, [])
        if not group:
            continue
        year = partnership.start_year or partnership.end_year or reference
        weight = 0.5 ** (max(0, reference - year) / config.half_life_years)
        is_active = partnership.outcome is Outcome.ACTIVE or (
            partnership.end_year is not None and partnership.end_year >= reference
        )
        outcome_value = OUTCOME_RECORD[partnership.outcome]
        kinds_present = [activity_index[a] for a in partnership.activity_types]
        theme_js = [theme_position[t] for t in partnership.themes if t in theme_position]
        idx = np.fromiter((i for i, _ in group), dtype=np.int64, count=len(group))
        partnerships[idx] += 1
        record_sum[idx] += outcome_value
        last_year[idx] = np.maximum(last_year[idx], year)
        if is_active:
            active[idx] += 1
        for k in kinds_present:
            activity_counts[idx, k] += 1
        activity_rules = [activity_rule[a] for a in partnership.activity_types]
        for i, role in group:
            if role is Role.LEAD:
                led[i] += 1
            seen = seen_by_rule[i]
            seen[role_rule[role]].append(pid)
            for rule in activity_rules:
                seen[rule].append(pid)
            for j in theme_js:
                theme_rows.append(i)
                theme_cols.append(j)
        if len(idx) > 1:
            rows, cols = np.meshgrid(idx, idx, indexing="ij")
            off_diagonal = rows != cols
            pair_rows.append(rows[off_diagonal])
            pair_cols.append(cols[off_diagonal])
            pair_weights.append(np.full(int(off_diagonal.sum()), weight))

    if pair_rows:
        collaboration = sp.csr_matrix(
            (np.concatenate(pair_weights), (np.concatenate(pair_rows), np.concatenate(pair_cols))),
            shape=(n, n),
        )
        collaboration.sum_duplicates()
    else:
        collaboration = sp.csr_matrix((n, n), dtype=np.float64)

    with np.errstate(invalid="ignore", divide="ignore"):
        activity = np.where(
            partnerships[:, None] > 0, activity_counts / np.maximum(partnerships, 1)[:, None], 0.0
        ).astype(np.float32)
        record = np.where(partnerships > 0, record_sum / np.maximum(partnerships, 1), 0.0)

    for org_id, org in dataset.organisations.items():
        i = position[org_id]
        for theme in org.themes:
            if theme in theme_position:
                theme_rows.append(i)
                theme_cols.append(theme_position[theme])
    theme = sp.csr_matrix(
        (np.ones(len(theme_rows)), (theme_rows, theme_cols)), shape=(n, len(theme_codes))
    )
    theme.data[:] = 1.0
    theme.sum_duplicates()
    theme.data = np.minimum(theme.data, 1.0)

    # capabilities: explicit ones, and those inferred from history with their evidence; a
    # code held both ways counts at the larger strength, so that stating a capability never
    # lowers what the history already showed
    capability_codes = tuple(taxonomies.capabilities)
    capability_position = {code: j for j, code in enumerate(capability_codes)}
    strengths: dict[tuple[int, int], float] = {}
    explicit = np.zeros(n, dtype=bool)
    sources: dict[str, dict[str, str]] = defaultdict(dict)
    for c in dataset.capabilities:
        i = position[c.org_id]
        explicit[i] = True
        if c.source:
            sources[c.org_id][c.capability] = c.source
        key = (i, capability_position[c.capability])
        strengths[key] = max(strengths.get(key, 0.0), c.strength)
    evidence: dict[int, tuple[Evidence, ...]] = {}
    by_kind = {kind: _kind_evidence(kind, config) for kind in Kind}
    no_history: dict[str, list[str]] = {}
    for org_id, org in dataset.organisations.items():
        i = position[org_id]
        found = _infer(seen_by_rule.get(i, no_history), config) + by_kind[org.kind]
        kept = tuple(
            item
            for item in found
            if item.strength > strengths.get((i, capability_position[item.capability]), 0.0)
        )
        if kept:
            evidence[i] = kept
            for item in kept:
                key = (i, capability_position[item.capability])
                strengths[key] = max(strengths.get(key, 0.0), item.strength)
    keys = list(strengths)
    capability = sp.coo_matrix(
        (
            [strengths[k] for k in keys],
            ([k[0] for k in keys], [k[1] for k in keys]),
        ),
        shape=(n, len(capability_codes)),
    ).tocsc()
    capability.sum_duplicates()

    resource_codes = tuple(taxonomies.resources)
    motivation_codes = tuple(taxonomies.motivations)
    resources = np.zeros((n, len(resource_codes)), dtype=bool)
    motivations = np.zeros((n, len(motivation_codes)), dtype=bool)
    kinds = np.empty(n, dtype=np.int64)
    sectors = np.empty(n, dtype=np.int64)
    countries: list[str | None] = []
    regions: list[str | None] = []
    ldc = np.zeros(n, dtype=bool)
    large = np.zeros(n, dtype=bool)
    max_active = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    resource_position = {code: j for j, code in enumerate(resource_codes)}
    motivation_position = {code: j for j, code in enumerate(motivation_codes)}
    kind_position = {k: j for j, k in enumerate(KINDS)}
    sector_position = {s: j for j, s in enumerate(SECTORS)}
    for org_id, org in dataset.organisations.items():
        i = position[org_id]
        kinds[i] = kind_position[org.kind]
        sectors[i] = sector_position[org.sector or Sector.CIVIL_SOCIETY]
        countries.append(org.country)
        info = taxonomies.countries.get(org.country) if org.country else None
        regions.append(info.region if info else None)
        ldc[i] = bool(info and info.ldc)
        large[i] = org.size is not None and org.size.value == "large"
        for code in org.resources:
            resources[i, resource_position[code]] = True
        for code in org.motivations:
            motivations[i, motivation_position[code]] = True
        if org.max_active is not None:
            max_active[i] = org.max_active
    country_ids, country_lookup = _country_ids(countries)
    worst_flag = np.zeros(n, dtype=np.int64)
    for flag in dataset.flags:
        i = position[flag.org_id]
        worst_flag[i] = max(worst_flag[i], FlagLevel(flag.level).rank)

    return Index(
        org_ids=org_ids,
        position=MappingProxyType(position),
        capability_codes=capability_codes,
        capability_position=MappingProxyType(capability_position),
        capability=capability,
        capability_rows=capability.tocsr(),
        capability_sources=MappingProxyType(sources),
        inferred=~explicit,
        evidence=MappingProxyType(evidence),
        theme_codes=theme_codes,
        theme=theme,
        theme_by_column=theme.tocsc(),
        theme_sdg=_theme_sdg_matrix(taxonomies, theme_codes),
        activity=activity,
        collaboration=collaboration,
        kind=kinds,
        sector=sectors,
        country=tuple(countries),
        country_id=country_ids,
        country_lookup=MappingProxyType(country_lookup),
        by_country=MappingProxyType(_group_positions(countries, partnerships)),
        by_sector=tuple(
            _by_popularity(np.flatnonzero(sectors == j), partnerships) for j in range(len(SECTORS))
        ),
        by_kind=tuple(
            _by_popularity(np.flatnonzero(kinds == j), partnerships) for j in range(len(KINDS))
        ),
        region=tuple(regions),
        region_id=np.array(
            [REGIONS.index(r) if r in REGIONS else -1 for r in regions], dtype=np.int64
        ),
        ldc=ldc,
        large=large,
        resources=resources,
        resource_codes=resource_codes,
        motivations=motivations,
        motivation_codes=motivation_codes,
        worst_flag=worst_flag,
        flags_of=MappingProxyType(_grouped(dataset.flags, lambda f: (f.org_id,))),
        conflicts_of=MappingProxyType(_grouped(dataset.conflicts, lambda c: (c.org_a, c.org_b))),
        partnerships=partnerships,
        led=led,
        active=active,
        max_active=max_active,
        record=record,
        last_year=last_year,
        reference_year=reference,
        taxonomies=taxonomies,
        records=build_directory(dataset, org_ids, position),
        source=dataset,
        text=(
            build_text_index(
                dataset,
                org_ids,
                make_encoder(config.text_encoder),
                cache=text_cache,
                progress=text_progress,
            )
            if config.text_encoder
            else None
        ),
    )


_T = TypeVar("_T")


def _grouped(
    items: Sequence[_T], keys: Callable[[_T], tuple[str, ...]]
) -> dict[str, tuple[_T, ...]]:
    groups: dict[str, list[_T]] = defaultdict(list)
    for item in items:
        for key in keys(item):
            groups[key].append(item)
    return {key: tuple(found) for key, found in groups.items()}


def _theme_sdg_matrix(taxonomies: Taxonomies, theme_codes: Sequence[str]) -> sp.csr_matrix:
    """Theme × SDG (columns 1-17; column 0 unused), 1 where the theme maps onto the SDG."""
    rows, cols = [], []
    for j, code in enumerate(theme_codes):
        for sdg in taxonomies.theme_sdgs(code):
            rows.append(j)
            cols.append(sdg)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(theme_codes), 18))


def _by_popularity(positions: IntArray, partnerships: IntArray) -> IntArray:
    """``positions`` ordered by number of partnerships, most first (ties by position)."""
    order = np.lexsort((positions, -partnerships[positions]))
    result: IntArray = positions[order].astype(np.int64)
    return result


def _group_positions(values: Sequence[str | None], partnerships: IntArray) -> dict[str, IntArray]:
    """Positions per value, each group ordered by popularity."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, value in enumerate(values):
        if value is not None:
            groups[value].append(i)
    return {
        key: _by_popularity(np.asarray(found, dtype=np.int64), partnerships)
        for key, found in groups.items()
    }


def _country_ids(countries: Sequence[str | None]) -> tuple[IntArray, dict[str, int]]:
    """A small integer per country code (-1 for none), for vectorised filters."""
    codes = sorted({c for c in countries if c is not None})
    lookup = {code: k for k, code in enumerate(codes)}
    ids = np.array([lookup.get(c, -1) if c else -1 for c in countries], dtype=np.int64)
    return ids, lookup


#: The rules read from an organisation's history (role and activity), in order.
_HISTORY_RULES = tuple(
    (rule, targets) for rule, targets in INFERENCE_RULES.items() if not rule.startswith("kind:")
)


def _infer(seen: Mapping[str, Sequence[str]], config: IndexConfig) -> tuple[Evidence, ...]:
    """The evidence of the history rules an organisation's partnerships ``seen`` (by rule)
    support, each stronger the more partnerships show it."""
    if not seen:
        return ()
    found: list[Evidence] = []
    for rule, targets in _HISTORY_RULES:
        partnership_ids = seen.get(rule)
        if not partnership_ids:
            continue
        support = min(1.0, len(partnership_ids) / config.inference_saturation)
        shown = tuple(partnership_ids)
        for capability, base in targets:
            found.append(
                Evidence(
                    capability=capability,
                    strength=round(base * support * config.inferred_strength, 6),
                    rule=rule,
                    partnerships=shown,
                )
            )
    return tuple(found)


def _kind_evidence(kind: Kind, config: IndexConfig) -> tuple[Evidence, ...]:
    """The evidence every organisation of ``kind`` gets from its kind's rule (if any)."""
    rule = f"kind:{kind.value}"
    return tuple(
        Evidence(
            capability=capability,
            strength=round(base * config.inferred_strength, 6),
            rule=rule,
            partnerships=(),
        )
        for capability, base in INFERENCE_RULES.get(rule, ())
    )
