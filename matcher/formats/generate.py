"""Generates realistic synthetic data directories (DESIGN.md 5.1) of any size, for a seed.

A generated directory holds ``organisations.csv``, ``capabilities.csv``, ``partnerships.csv``,
``memberships.csv``, ``flags.csv`` and ``conflicts.csv``; every code comes from the built-in
taxonomies of ``data/taxonomy/``, so the directory reads back with
:func:`~matcher.formats.datadir.read_data_directory` without a problem. The same ``n_orgs`` and
``seed`` give byte-identical files. Everything is vectorised with numpy and pandas: a million
organisations take about 30 s on two cores and under 1 GB of memory
(``scripts/bench_generate.py``).

What "realistic" means here:

Organisations
    Kinds in the proportions of :data:`KIND_SHARES` (companies 35 %, of which 85 % SMEs; NGOs
    20 %; academic and research institutions 15 %; governments and local authorities 10 %;
    foundations 5 %; business associations, trade unions, media and other bodies; UN entities
    and multilateral bodies 0.5 %, at least one UN entity from 100 organisations), allocated
    exactly (largest remainders) and then shuffled. ``sector`` is left empty (it defaults from
    the kind) except for kind ``other``, which names its sector. ``country`` is an ISO alpha-2
    code of ``countries.csv`` (never Antarctica) with Zipf-like weights: a few countries (United
    States, United Kingdom, Germany, France, India, Brazil, ...) are much larger than the rest;
    UN entities and multilateral bodies have no country. 1-3 of the report's themes, weighted by
    popularity and by kind, sometimes with the SDG of the first theme (``sdg4`` for
    ``education``). 1-3 kinds of resource (kind profiles: economic power for companies and
    foundations, political power for governments, convening power for UN entities ...);
    business motivations (§74) for companies only; a Global Compact status for 45 % of large
    companies and 8 % of SMEs (82 % ``active``, 15 % ``non_communicating``, 3 % ``delisted``);
    a ``verified_on`` date for 45 %, mostly recent. A one-sentence ``description`` from the
    kind, the country, the first theme's label and a target group (picked by position, no
    random draw). ``max_active``, ``aliases`` and ``source`` are left empty.

Capabilities
    80 % of organisations have 1-5 capability rows; 20 % have none, so that inference from
    history matters. Codes are drawn without replacement from kind profiles over the top-level
    families of ``capabilities.csv`` (foundations and large companies: ``funding.*``; NGOs:
    ``local_presence.*``, ``service_delivery.*``; academic and research: ``research.*``,
    ``training.*``; UN entities: ``policy_influence.*``, ``partnership_brokering.*``; companies:
    ``technology.*``, ``distribution.*``; media: ``media_reach.*``; ...). Strength follows a
    Beta(5, 2) in (0, 1], rounded to 2 decimals; 60 % of funding capabilities have a
    ``quantity`` in USD (log-normal, 2 significant digits, larger for large companies,
    foundations and multilateral bodies).

Partnerships
    :data:`PARTNERSHIPS_PER_ORGANISATION` (1/3) partnerships per organisation. Their sizes
    follow the CORDIS Horizon 2020 distribution (:data:`CORDIS_H2020_SIZE_HISTOGRAM`: 61 %
    single-beneficiary projects, consortia of 3 or more members with mean 12 and median 10),
    capped at a quarter of the organisations (and at 186, the largest CORDIS project). Start
    years 1995-2025, more in recent years (7 % growth a year); durations of 1-10 years
    (geometric, mean about 3.5), sometimes under a year. Membership is drawn in chronological
    batches by preferential attachment: an organisation joins with probability proportional
    to the number of partnerships it already has plus a base rate (its kind's attractiveness
    times a log-normal fitness), which gives a heavy-tailed degree distribution with UN
    entities, large companies and foundations among the hubs: the top 1 % of organisations
    hold about 15 % of the memberships, and about 60 % of the organisations have no
    partnership at all (their capabilities, if any, are all there is to know). The lead is
    drawn first, weighted by kind (per organisation, UN entities lead by far most often: the
    0.3 % of UN entities lead about 6 % of the partnerships); every other member comes with
    probability 0.5 from the lead's country, 0.3 from its M49 region and 0.2 from anywhere (a
    lead without a country takes the country of a random organisation, or runs a global
    partnership). No organisation appears twice in a partnership. Exactly one ``lead``; the
    others are ``funder``, ``implementer``, ``technical``, ``convener`` or ``member`` depending
    on their kind, funders with a ``contribution_usd`` share of the amount. Themes (1-3,
    biased towards the lead's own), activity types (1-4, by the lead's kind, more for
    consortia), the countries (the home country, sometimes a member's), ``amount_usd`` for
    65 % (grows with the size), and an outcome: running partnerships are ``active``, ended
    ones ``completed``, ``continued``, ``scaled_up`` or ``abandoned``, the more recently
    ended more often still ``unknown``.

Flags and conflicts
    Integrity flags on about 1 % of organisations (categories of ``flag_categories.csv``
    weighted by kind; levels 50 % ``observation``, 30 % ``yellow``, 12 % ``escalated``, 8 %
    ``red``), plus a ``global_compact_status`` flag on every delisted company. Conflicts of
    interest between about 0.1 % as many pairs of distinct organisations as there are
    organisations (at least one), half of them a company and a foundation, never the same
    pair twice.

Identifiers are ``org-000001`` and ``p-000001``, zero-padded to the width of the count (at
least 6 digits); partnership numbers follow their start years.

Examples
--------
>>> import tempfile
>>> from matcher.formats.datadir import read_data_directory
>>> folder = tempfile.mkdtemp()
>>> counts = generate_directory(100, folder, seed=7)
>>> counts["organisations"], counts["partnerships"]
(100, 33)
>>> dataset = read_data_directory(folder)
>>> len(dataset.memberships) == counts["memberships"]
True
>>> sorted(dataset.organisations)[:2]
['org-000001', 'org-000002']

Notes
-----
Time and memory are linear in ``n_orgs``: the preferential attachment runs in at most
:data:`_BATCHES` chronological batches, each a cumulative sum over the organisations and a
binary search per member slot (``O(n log n)`` a batch); weighted draws without replacement
(themes, capabilities, ...) use the Gumbel top-k trick in chunks of :data:`_CHUNK` rows.

References
----------
.. [1] European Commission, CORDIS, "EU research projects under Horizon 2020", export of
   2020-12-14 (projects starting 2014-2018), ``../shared/data/cordis-h2020/``.
.. [2] A.-L. Barabási and R. Albert, "Emergence of scaling in random networks",
   Science 286 (1999) 509-512.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pycountry
from tqdm import tqdm

from matcher.domain.arrays import FloatArray, IntArray
from matcher.domain.model import ActivityType, FlagLevel, Kind, Outcome, Role
from matcher.domain.taxonomy import Taxonomies
from matcher.formats.datadir import FILES
from matcher.formats.datadir_writer import write_tables
from matcher.formats.taxonomy_io import load_taxonomies

__all__ = [
    "CORDIS_H2020_SIZE_HISTOGRAM",
    "KIND_SHARES",
    "PARTNERSHIPS_PER_ORGANISATION",
    "SME_SHARE",
    "generate_directory",
]

TextArray = npt.NDArray[np.object_]

#: Partnerships generated per organisation.
PARTNERSHIPS_PER_ORGANISATION = 1 / 3

#: Share of each organisation kind.
KIND_SHARES: Mapping[str, float] = {
    "company": 0.35,
    "ngo": 0.20,
    "academic": 0.09,
    "research": 0.06,
    "local_authority": 0.06,
    "government": 0.04,
    "foundation": 0.05,
    "business_association": 0.045,
    "media": 0.04,
    "trade_union": 0.025,
    "other": 0.035,
    "un_entity": 0.003,
    "multilateral": 0.002,
}

#: Share of SMEs among companies (the rest are large).
SME_SHARE = 0.85

#: Number of projects of each size (distinct participants) among the 20,073 CORDIS Horizon
#: 2020 projects starting 2014-2018, as ``(size, projects)``. Obtained once with
#: ``pd.read_csv("../shared/data/cordis-h2020/participations.csv").groupby("rcn")["pic"]
#: .nunique().value_counts().sort_index()``: 60.5 % single-beneficiary projects, mean 4.55;
#: projects of 3 or more have mean 11.9 and median 10; the largest has 186.
CORDIS_H2020_SIZE_HISTOGRAM: tuple[tuple[int, int], ...] = (
    (1, 12153), (2, 1553), (3, 480), (4, 351), (5, 387), (6, 405), (7, 415), (8, 432),
    (9, 468), (10, 421), (11, 374), (12, 316), (13, 327), (14, 280), (15, 243), (16, 219),
    (17, 178), (18, 144), (19, 114), (20, 110), (21, 76), (22, 69), (23, 75), (24, 60),
    (25, 50), (26, 45), (27, 37), (28, 32), (29, 29), (30, 32), (31, 17), (32, 17), (33, 13),
    (34, 16), (35, 22), (36, 6), (37, 9), (38, 10), (39, 9), (40, 12), (41, 7), (42, 5),
    (43, 2), (44, 4), (45, 4), (46, 2), (47, 4), (48, 3), (49, 7), (50, 5), (51, 1), (53, 1),
    (54, 1), (55, 1), (56, 3), (57, 1), (59, 1), (60, 1), (61, 1), (62, 1), (67, 1), (71, 1),
    (72, 1), (78, 1), (85, 1), (105, 1), (112, 1), (116, 2), (117, 1), (143, 1), (186, 1),
)  # fmt: skip

_REFERENCE_YEAR = 2025
_FIRST_YEAR = 1995
_YEAR_GROWTH = 1.07
_CHUNK = 100_000
_BATCHES = 100
_MIN_ID_WIDTH = 6
#: Where a non-lead member comes from: the lead's country, its region, anywhere.
_GEOGRAPHY = (0.5, 0.3, 0.2)

# Profiles: the organisation kinds, with large companies apart from SMEs.
_KINDS: tuple[str, ...] = tuple(kind.value for kind in Kind)
_LARGE = "company_large"
_PROFILES: tuple[str, ...] = (*_KINDS, _LARGE)
_PROFILE = {name: index for index, name in enumerate(_PROFILES)}

# The largest countries of a partnership ecosystem, in decreasing weight (1/rank^0.9); the
# others share a flat tail weight.
_TOP_COUNTRIES = (
    "US GB DE FR IN BR CN JP KE ZA NG CA IT ES MX NL CH SE AU ID PH BD PK EG ET UG TZ GH CO AR "
    "BE DK NO KR TH VN TR MA SN PE"
).split()
_COUNTRY_EXPONENT = 0.9
_TAIL_COUNTRY_WEIGHT = 0.012

# Relative attractiveness of a kind as a partner (the base rate of preferential attachment),
# and as a lead.
_ATTRACTIVENESS = {
    "un_entity": 15.0, "multilateral": 6.0, _LARGE: 2.5, "company": 0.6, "foundation": 2.0,
    "ngo": 1.2, "academic": 1.5, "research": 1.3, "government": 1.8, "local_authority": 1.0,
    "business_association": 0.8, "trade_union": 0.6, "media": 0.5, "other": 0.4,
}  # fmt: skip
_LEADERSHIP = {
    "un_entity": 3.0, "multilateral": 1.5, _LARGE: 2.0, "company": 0.5, "foundation": 2.0,
    "ngo": 1.5, "academic": 1.5, "research": 1.5, "government": 2.0, "local_authority": 1.0,
    "business_association": 1.0, "trade_union": 0.5, "media": 0.3, "other": 0.5,
}  # fmt: skip
_FITNESS_SIGMA = 1.0
#: Mean base rate of preferential attachment, in partnerships.
_BASE_RATE = 0.6

_REPORT_THEME_WEIGHTS = {
    "education": 10, "health": 9, "environment": 8, "sustainable_development": 8, "poverty": 7,
    "human_rights": 6, "community_empowerment": 6, "ict": 5, "small_enterprise": 5,
    "population_women": 5, "children_health": 4, "youth": 4, "corporate_citizenship": 4,
    "hiv_aids": 3, "eco_efficiency": 3, "labour_standards": 3, "refugees": 2.5,
    "child_labour": 2, "financing_for_development": 2, "peace_security": 2,
}  # fmt: skip
_THEME_BOOSTS: dict[str, dict[str, float]] = {
    "company": {"corporate_citizenship": 3, "small_enterprise": 2, "ict": 2},
    _LARGE: {"corporate_citizenship": 4, "eco_efficiency": 3, "ict": 2},
    "business_association": {"small_enterprise": 4, "corporate_citizenship": 4},
    "trade_union": {"labour_standards": 8, "child_labour": 4, "human_rights": 2},
    "media": {"youth": 3, "human_rights": 2},
    "academic": {"education": 2, "ict": 2},
    "research": {"environment": 2, "financing_for_development": 2},
    "un_entity": {"sustainable_development": 2, "peace_security": 3, "refugees": 3},
    "multilateral": {"financing_for_development": 6, "hiv_aids": 3},
    "foundation": {"education": 2, "children_health": 3},
}

_RESOURCES: dict[str, dict[str, float]] = {
    "un_entity": {"convening_power": 6, "moral_authority": 5, "development_expertise": 5},
    "multilateral": {"political_power": 5, "convening_power": 4, "economic_power": 4},
    "government": {"political_power": 8, "local_legitimacy": 3, "economic_power": 2},
    "local_authority": {"local_legitimacy": 8, "political_power": 4},
    "company": {"economic_power": 4, "technical_expertise": 5},
    _LARGE: {"economic_power": 8, "technical_expertise": 4, "convening_power": 1},
    "business_association": {"convening_power": 6, "economic_power": 3, "political_power": 2},
    "foundation": {"economic_power": 7, "moral_authority": 4, "convening_power": 2},
    "ngo": {"moral_authority": 5, "local_legitimacy": 5, "development_expertise": 5},
    "trade_union": {"local_legitimacy": 4, "moral_authority": 4, "political_power": 3},
    "media": {"moral_authority": 3, "convening_power": 4},
    "academic": {"technical_expertise": 6, "development_expertise": 3, "moral_authority": 2},
    "research": {"technical_expertise": 6, "development_expertise": 4},
}
_MOTIVATIONS: dict[str, dict[str, float]] = {
    "company": {"supplier_quality": 4, "future_markets": 4, "brand": 2},
    _LARGE: {"brand": 5, "long_term_investment": 5, "stable_business_climate": 3},
}

# Capability profiles: weight of each top-level family (spread evenly over its codes).
_CAPABILITIES: dict[str, dict[str, float]] = {
    "un_entity": {
        "policy_influence": 6, "partnership_brokering": 6, "technical_expertise": 3,
        "local_presence": 2, "funding": 1.5, "research": 1,
    },
    "multilateral": {
        "funding": 6, "policy_influence": 5, "partnership_brokering": 3, "technical_expertise": 2,
    },
    "government": {
        "policy_influence": 6, "funding": 3, "local_presence": 3, "service_delivery": 2,
        "legal_expertise": 1.5,
    },
    "local_authority": {"local_presence": 6, "service_delivery": 4, "policy_influence": 2},
    "company": {
        "technology": 4, "distribution": 4, "technical_expertise": 3, "training": 1.5,
        "service_delivery": 1, "funding": 0.5,
    },
    _LARGE: {
        "funding": 5, "technology": 4, "distribution": 3, "technical_expertise": 3,
        "training": 2, "media_reach": 1,
    },
    "business_association": {
        "partnership_brokering": 4, "policy_influence": 4, "training": 2, "distribution": 1,
    },
    "foundation": {"funding": 10, "partnership_brokering": 2, "research": 1},
    "ngo": {
        "local_presence": 5, "service_delivery": 5, "training": 2, "media_reach": 1.5,
        "legal_expertise": 1.5,
    },
    "trade_union": {
        "legal_expertise": 5, "training": 3, "policy_influence": 3, "local_presence": 2,
    },
    "media": {"media_reach": 10, "technology": 1},
    "academic": {"research": 8, "training": 5, "technical_expertise": 2},
    "research": {"research": 8, "technical_expertise": 4, "training": 2},
}  # fmt: skip
_FUNDING_SCALE = {_LARGE: 5e6, "foundation": 3e6, "multilateral": 3e7, "un_entity": 1e7,
                  "government": 1e7}  # fmt: skip
_DEFAULT_FUNDING_SCALE = 3e5

_ACTIVITY_TYPES: dict[str, dict[str, float]] = {
    "un_entity": {
        "policy_dialogue": 3, "advocacy": 2, "fundraising": 1, "information_learning": 2,
        "operational": 2, "partnership_promotion": 3,
    },
    "multilateral": {"policy_dialogue": 3, "fundraising": 3, "partnership_promotion": 2},
    "government": {"policy_dialogue": 4, "operational": 2},
    "local_authority": {"operational": 4, "policy_dialogue": 1.5},
    "company": {"operational": 3, "fundraising": 1.5, "advocacy": 1.5, "information_learning": 1},
    _LARGE: {"operational": 3, "fundraising": 3, "advocacy": 2},
    "business_association": {"partnership_promotion": 3, "policy_dialogue": 2, "advocacy": 2},
    "foundation": {"fundraising": 5, "partnership_promotion": 2},
    "ngo": {"operational": 4, "advocacy": 3},
    "trade_union": {"advocacy": 3, "policy_dialogue": 3},
    "media": {"advocacy": 5, "information_learning": 2},
    "academic": {"information_learning": 5, "operational": 1},
    "research": {"information_learning": 5, "policy_dialogue": 1.5},
}  # fmt: skip

# Role of a non-lead member, by its profile.
_ROLES = (Role.FUNDER, Role.IMPLEMENTER, Role.TECHNICAL, Role.CONVENER, Role.MEMBER)
_ROLE_SHARES: dict[str, tuple[float, ...]] = {
    "un_entity": (0.15, 0.2, 0.25, 0.3, 0.1),
    "multilateral": (0.45, 0.05, 0.15, 0.25, 0.1),
    "government": (0.35, 0.2, 0.05, 0.2, 0.2),
    "local_authority": (0.1, 0.45, 0.05, 0.1, 0.3),
    "company": (0.15, 0.25, 0.4, 0.0, 0.2),
    _LARGE: (0.45, 0.1, 0.3, 0.0, 0.15),
    "business_association": (0.1, 0.1, 0.15, 0.35, 0.3),
    "foundation": (0.7, 0.05, 0.05, 0.05, 0.15),
    "ngo": (0.05, 0.6, 0.1, 0.05, 0.2),
    "trade_union": (0.0, 0.3, 0.1, 0.2, 0.4),
    "media": (0.0, 0.2, 0.1, 0.1, 0.6),
    "academic": (0.0, 0.15, 0.6, 0.0, 0.25),
    "research": (0.0, 0.15, 0.6, 0.0, 0.25),
    "other": (0.05, 0.3, 0.1, 0.05, 0.5),
}

_ENDED_OUTCOMES = (Outcome.COMPLETED, Outcome.CONTINUED, Outcome.SCALED_UP, Outcome.ABANDONED)
_ENDED_SHARES = (0.45, 0.25, 0.12, 0.18)

_FLAG_LEVELS = (FlagLevel.OBSERVATION, FlagLevel.YELLOW, FlagLevel.ESCALATED, FlagLevel.RED)
_FLAG_LEVEL_SHARES = (0.5, 0.3, 0.12, 0.08)
_FLAG_NOTES = (
    "Noted during due diligence",
    "Reported concern; mitigation plan requested",
    "Under review by the Partnerships Office",
    "Ineligible under the UN guidelines on cooperation with business",
)
_FLAG_SHARE = 0.0085
_COMPANY_FLAGS = {
    "human_rights_abuse": 1, "forced_labour": 0.6, "child_labour": 0.8, "discrimination": 0.8,
    "labour_rights": 1, "environmental_harm": 1.5, "corruption": 1.5, "sanctions": 0.3,
    "weapons": 0.3, "tobacco": 0.4, "conflict_of_interest": 1, "global_compact_status": 0,
    "verification": 1.5, "other_integrity": 0.8,
}  # fmt: skip
_OTHER_FLAGS = {
    **{code: 0.05 for code in ("forced_labour", "weapons", "tobacco", "sanctions")},
    "human_rights_abuse": 0.6, "child_labour": 0.2, "discrimination": 0.8, "labour_rights": 0.5,
    "environmental_harm": 0.4, "corruption": 1.5, "conflict_of_interest": 1.5,
    "global_compact_status": 0, "verification": 2.5, "other_integrity": 1,
}  # fmt: skip
_CONFLICT_SHARE = 0.001
_CORPORATE_FOUNDATION = "Corporate foundation of the company"
_CONFLICT_REASONS = (
    "Shared board members",
    "Supplier relationship",
    "Ongoing litigation between the two",
    "Competitors in the same public tender",
    "One funds the other's core budget",
)

# Synthetic names: a stem of 2-3 syllables inside a template of the kind.
_SYLLABLES = (
    "ka lo ri ve na to mi sa do ru be la zo pe ni ga te vo ma si an el or ul ta ke mo di"
).split()
_NAME_TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "un_entity": (("UN ", " Programme"), ("United Nations ", " Fund"), ("UN ", " Office"),
                  ("UN ", " Institute"), ("UN ", " Commission")),
    "multilateral": (("Global ", " Fund"), ("", " Development Bank"), ("", " Task Force"),
                     ("Intergovernmental ", " Forum")),
    "government": (("Ministry of Health of ", ""), ("Ministry of Education of ", ""),
                   ("Ministry of Environment of ", ""), ("Ministry of Labour of ", ""),
                   ("Development Agency of ", ""), ("Ministry of Foreign Affairs of ", "")),
    "local_authority": (("City of ", ""), ("", " Municipality"), ("", " Province"),
                        ("", " District Council")),
    "company": (("", " Group"), ("", " Industries"), ("", " Technologies"), ("", " Foods"),
                ("", " Energy"), ("", " Logistics"), ("", " Textiles"), ("", " Pharma"),
                ("", " Telecom"), ("", " Bank")),
    "business_association": (("", " Chamber of Commerce"), ("", " Business Council"),
                             ("", " Employers' Federation")),
    "foundation": (("", " Foundation"), ("", " Trust"), ("", " Family Foundation")),
    "ngo": (("", " Action"), ("", " Alliance"), ("Friends of ", ""), ("", " Relief"),
            ("", " Community Network"), ("", " Initiative")),
    "trade_union": (("", " Workers' Union"), ("", " Confederation of Labour"),
                    ("", " Teachers' Union")),
    "media": (("", " Broadcasting"), ("The ", " Times"), ("", " Radio"), ("", " Media Group")),
    "academic": (("University of ", ""), ("", " Institute of Technology"),
                 ("", " State University"), ("", " College")),
    "research": (("", " Research Institute"), ("", " Centre for Policy Studies"),
                 ("", " Institute for Development Research")),
    "other": (("", " Cooperative"), ("", " Society"), ("", " Council")),
}  # fmt: skip
_PARTNERSHIP_NOUNS = (
    "partnership", "initiative", "programme", "alliance", "project", "coalition", "network",
)  # fmt: skip
#: Word banks of the generated descriptions, indexed by position (no random draw, so the
#: other columns stay what they were for a seed).
_TARGET_GROUPS = (
    "rural communities", "women entrepreneurs", "young people", "smallholder farmers",
    "refugees and returnees", "schoolchildren", "local authorities", "health workers",
    "small businesses", "indigenous peoples", "urban slum dwellers", "teachers", "workers",
)  # fmt: skip
_APPROACHES = (
    "training", "microcredit", "awareness campaigns", "research and evaluation",
    "new technology", "policy dialogue", "community mobilisation", "grants",
    "technical assistance", "knowledge sharing", "service delivery",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Vocabularies:
    """The codes drawn from, in alphabetical order (so joined lists come out sorted)."""

    themes: tuple[str, ...]
    report_themes: IntArray  # indices into ``themes`` of the non-SDG themes
    theme_sdg: IntArray  # per report theme: index into ``themes`` of its first SDG, or -1
    theme_labels: tuple[str, ...]
    theme_descriptions: tuple[str, ...]
    capabilities: tuple[str, ...]
    capability_family: tuple[str, ...]
    resources: tuple[str, ...]
    motivations: tuple[str, ...]
    flag_categories: tuple[str, ...]
    countries: tuple[str, ...]
    country_names: tuple[str, ...]
    country_region: IntArray
    country_weight: FloatArray


@dataclass(frozen=True, slots=True)
class _Organisations:
    """What the later stages need to know about the organisations."""

    ids: TextArray
    profile: IntArray
    country: IntArray  # index into the countries, -1 for none
    region: IntArray  # -1 for none
    report_themes: IntArray  # (n, 3) indices into ``_Vocabularies.report_themes``, -1 padded
    base: FloatArray  # base rate of preferential attachment
    gc_status: TextArray


def generate_directory(
    n_orgs: int, out: Path | str, *, seed: int = 0, progress: bool = False
) -> dict[str, int]:
    """Write a synthetic data directory of ``n_orgs`` organisations into ``out``.

    Parameters
    ----------
    n_orgs : int
        Number of organisations, at least 1 (realistic from about 100).
    out : path
        Folder to write to (created if needed); existing interchange files are replaced.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`: the same seed gives identical files.
    progress : bool, default False
        Show a progress bar per stage on stderr.

    Returns
    -------
    dict
        Rows written per file: ``organisations``, ``capabilities``, ``partnerships``,
        ``memberships``, ``flags``, ``conflicts``.

    Raises
    ------
    ValueError
        If ``n_orgs`` is below 1 or ``seed`` is negative.
    """
    if isinstance(n_orgs, bool) or not isinstance(n_orgs, int) or n_orgs < 1:
        raise ValueError(f"n_orgs must be a positive integer, got {n_orgs!r}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed!r}")
    folder = Path(out)
    vocabularies = _vocabularies(load_taxonomies())
    streams = np.random.default_rng(seed).spawn(5)
    counts: dict[str, int] = {}

    def write(name: str, frame: pd.DataFrame) -> None:
        write_tables({f"{name}.csv": frame}, folder)
        counts[name] = len(frame)

    with _bar(progress, "organisations", 8) as bar:
        frame, orgs = _organisations(n_orgs, vocabularies, streams[0], bar)
        write("organisations", frame)
        bar.update()
    del frame
    with _bar(progress, "capabilities", -(-n_orgs // _CHUNK) + 1) as bar:
        write("capabilities", _capabilities(orgs, vocabularies, streams[1], bar))
        bar.update()
    n_partnerships = max(1, round(n_orgs * PARTNERSHIPS_PER_ORGANISATION))
    with _bar(progress, "partnerships", min(_BATCHES, n_partnerships) + 3) as bar:
        partnerships, memberships = _history(orgs, vocabularies, n_partnerships, streams[2], bar)
        write("partnerships", partnerships)
        del partnerships
        bar.update()
        write("memberships", memberships)
        del memberships
        bar.update()
    with _bar(progress, "flags and conflicts", 2) as bar:
        write("flags", _flags(orgs, vocabularies, streams[3]))
        bar.update()
        write("conflicts", _conflicts(orgs, streams[4]))
        bar.update()
    return counts


# Helpers -----------------------------------------------------------------------------------


def _bar(progress: bool, stage: str, total: int) -> tqdm[Any]:
    return tqdm(
        total=total, desc=stage, unit="step", file=sys.stderr, disable=not progress, leave=True
    )


def _vocabularies(taxonomies: Taxonomies) -> _Vocabularies:
    themes = tuple(sorted(taxonomies.themes))
    theme_index = {code: index for index, code in enumerate(themes)}
    report = [code for code in themes if not _is_sdg_theme(code)]
    sdg_of = []
    for code in report:
        sdgs = taxonomies.themes[code].attributes.get("sdg", "").split(";")
        first = f"sdg{sdgs[0].strip()}" if sdgs and sdgs[0].strip() else ""
        sdg_of.append(theme_index.get(first, -1))
    capabilities = tuple(sorted(taxonomies.capabilities))
    rows = [taxonomies.countries[code] for code in sorted(taxonomies.countries)]
    rows = [row for row in rows if row.region != "Antarctica"]
    regions = sorted({row.region for row in rows})
    rank = {code: index + 1 for index, code in enumerate(_TOP_COUNTRIES)}
    weights = [
        rank[row.alpha2] ** -_COUNTRY_EXPONENT if row.alpha2 in rank else _TAIL_COUNTRY_WEIGHT
        for row in rows
    ]
    return _Vocabularies(
        themes=themes,
        report_themes=np.array([theme_index[code] for code in report], dtype=np.int64),
        theme_sdg=np.array(sdg_of, dtype=np.int64),
        theme_labels=tuple(taxonomies.themes[code].label for code in themes),
        theme_descriptions=tuple(taxonomies.themes[code].description for code in themes),
        capabilities=capabilities,
        capability_family=tuple(code.split(".")[0] for code in capabilities),
        resources=tuple(sorted(taxonomies.resources)),
        motivations=tuple(sorted(taxonomies.motivations)),
        flag_categories=tuple(sorted(taxonomies.flag_categories)),
        countries=tuple(row.alpha2 for row in rows),
        country_names=tuple(_country_name(row.alpha2) for row in rows),
        country_region=np.array([regions.index(row.region) for row in rows], dtype=np.int64),
        country_weight=np.array(weights, dtype=np.float64) / sum(weights),
    )


def _is_sdg_theme(code: str) -> bool:
    return code.startswith("sdg") and code[3:].isdigit()


def _country_name(alpha2: str) -> str:
    country = pycountry.countries.get(alpha_2=alpha2)
    if country is None:
        return "Kosovo" if alpha2 == "XK" else alpha2
    return str(getattr(country, "common_name", None) or country.name).split(",")[0]


def _text(values: Sequence[str]) -> TextArray:
    """An object array of strings (``np.array`` would make a fixed-width one)."""
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def _frame(name: str, columns: Mapping[str, TextArray]) -> pd.DataFrame:
    """The rows of interchange file ``name``: every column of its spec, empty where absent."""
    rows = len(next(iter(columns.values())))
    empty = _text([""] * rows)
    return pd.DataFrame({column: columns.get(column, empty) for column in FILES[name].columns})


def _ids(prefix: str, count: int) -> TextArray:
    width = max(_MIN_ID_WIDTH, len(str(count)))
    numbers = pd.Series(np.arange(1, count + 1)).astype(str).str.zfill(width)
    return (prefix + numbers).to_numpy(dtype=object)


def _integers(values: npt.NDArray[Any]) -> TextArray:
    """Integer text of whole numbers."""
    return np.asarray(values, dtype=np.int64).astype(str).astype(object)


def _round_significant(values: FloatArray, digits: int = 2) -> IntArray:
    """Whole numbers rounded to ``digits`` significant digits (2,512,000 -> 2,500,000)."""
    exponent = np.floor(np.log10(np.maximum(values, 1.0))) - (digits - 1)
    scale = 10.0 ** np.maximum(exponent, 0)
    rounded: IntArray = (np.round(values / scale) * scale).astype(np.int64)
    return rounded


def _hundredths(values: FloatArray) -> TextArray:
    """``0.6``-style text of numbers in [0, 1] rounded to 2 decimals."""
    table = _text([repr(h / 100) if h % 100 else str(h // 100) for h in range(101)])
    text: TextArray = table[np.clip(np.round(values * 100), 0, 100).astype(np.int64)]
    return text


def _dates(rng: np.random.Generator, count: int, mean_age_days: float) -> TextArray:
    """ISO dates before mid-reference-year, exponentially more recent, none before 2010."""
    end = np.datetime64(f"{_REFERENCE_YEAR}-06-30")
    span = (end - np.datetime64("2010-01-01")).astype(np.int64)
    age = np.minimum(rng.exponential(mean_age_days, count).astype(np.int64), span)
    dates: TextArray = (end - age.astype("timedelta64[D]")).astype(str).astype(object)
    return dates


def _exact_allocation(shares: Sequence[float], total: int) -> IntArray:
    """Counts proportional to ``shares`` summing to ``total`` (largest remainders)."""
    ideal = np.asarray(shares, dtype=np.float64) / sum(shares) * total
    counts = np.floor(ideal).astype(np.int64)
    short = total - int(counts.sum())
    counts[np.argsort(-(ideal - counts), kind="stable")[:short]] += 1
    return counts


def _log_weights(
    table: Mapping[str, Mapping[str, float]],
    columns: Sequence[str],
    *,
    baseline: float,
    key: Sequence[str] | None = None,
) -> FloatArray:
    """Log-weights, one row per profile: ``table[profile][key[j]]``, else ``baseline``.

    ``key`` maps each column to the name looked up (e.g. a capability's family); a weight of
    0 becomes ``-inf``, which the Gumbel draw never picks.
    """
    names = key if key is not None else columns
    matrix = np.full((len(_PROFILES), len(columns)), float(baseline))
    for row, profile in enumerate(_PROFILES):
        weights = table.get(profile, table.get("company", {}) if profile == _LARGE else {})
        for column, name in enumerate(names):
            matrix[row, column] = weights.get(name, baseline)
    with np.errstate(divide="ignore"):
        logs: FloatArray = np.log(matrix)
    return logs


def _top_k(
    rng: np.random.Generator,
    log_weights: FloatArray,
    rows: IntArray,
    k: IntArray,
    *,
    boost: IntArray | None = None,
    boost_by: float = 1.0,
    bar: tqdm[Any] | None = None,
) -> IntArray:
    """Weighted draws without replacement of ``k[i]`` columns for each row (Gumbel top-k).

    Row ``i`` uses the log-weights ``log_weights[rows[i]]``, with ``log(boost_by)`` added to
    the columns listed in ``boost[i]`` (-1 ignored). Returns an ``(m, max(k))`` array of column
    indices, the heaviest draw first, padded with -1 beyond ``k[i]``.
    """
    width = int(k.max()) if len(k) else 0
    columns = log_weights.shape[1]
    out = np.full((len(rows), width), -1, dtype=np.int64)
    if width == 0:
        return out
    for start in range(0, len(rows), _CHUNK):
        stop = min(start + _CHUNK, len(rows))
        keys = log_weights[rows[start:stop]] + rng.gumbel(size=(stop - start, columns))
        if boost is not None:
            listed = boost[start:stop]
            line, slot = np.nonzero(listed >= 0)
            keys[line, listed[line, slot]] += math.log(boost_by)
        top = np.argpartition(-keys, width - 1, axis=1)[:, :width]
        order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        keep = np.arange(width) < k[start:stop, None]
        out[start:stop] = np.where(keep, top, -1)
        if bar is not None:
            bar.update()
    return out


def _join(codes: Sequence[str], picked: IntArray) -> TextArray:
    """``;``-joined codes of each row of ``picked`` (indices, -1 padded), in code order."""
    count = len(picked)
    if picked.shape[1] == 0:
        return _text([""] * count)
    ordered = np.sort(np.where(picked < 0, len(codes), picked), axis=1)
    table = _text([*codes, ""])
    joined: TextArray = table[ordered[:, 0]]
    for column in range(1, ordered.shape[1]):
        index = ordered[:, column]
        present = index < len(codes)
        joined[present] = joined[present] + ";" + table[index[present]]
    return joined


def _choose(rng: np.random.Generator, shares: FloatArray, rows: IntArray) -> IntArray:
    """One category per item: row ``rows[i]`` of the ``shares`` matrix, by inverse CDF."""
    cumulative = np.cumsum(shares / shares.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random(len(rows))
    picked = (draws[:, None] >= cumulative[rows]).sum(axis=1)
    chosen: IntArray = np.minimum(picked, shares.shape[1] - 1).astype(np.int64)
    return chosen


def _counts(rng: np.random.Generator, shares: Sequence[float], size: int) -> IntArray:
    """``size`` draws of 1..len(shares) with the given shares."""
    return rng.choice(np.arange(1, len(shares) + 1), size=size, p=np.asarray(shares) / sum(shares))


# Organisations -----------------------------------------------------------------------------


def _organisations(
    n: int, vocab: _Vocabularies, rng: np.random.Generator, bar: tqdm[Any]
) -> tuple[pd.DataFrame, _Organisations]:
    kinds = list(KIND_SHARES)
    counts = _exact_allocation([KIND_SHARES[kind] for kind in kinds], n)
    un = kinds.index(Kind.UN_ENTITY.value)
    if n >= 100 and counts[un] == 0:
        counts[un] = 1
        counts[int(np.argmax(counts))] -= 1
    kind_index = np.array([_PROFILE[kind] for kind in kinds], dtype=np.int64)
    kind = rng.permutation(np.repeat(kind_index, counts))
    company = kind == _PROFILE[Kind.COMPANY.value]
    large = company & (rng.random(n) >= SME_SHARE)
    profile = np.where(large, _PROFILE[_LARGE], kind)
    kind_text = _text(_KINDS)[kind]
    size = np.where(company, np.where(large, "large", "sme"), "").astype(object)
    other = kind == _PROFILE[Kind.OTHER.value]
    sectors = _text(["civil_society", "private", "public", "academic", "philanthropic"])
    sector = np.where(other, sectors[rng.choice(5, n, p=[0.5, 0.2, 0.15, 0.1, 0.05])], "")
    bar.update()

    global_kind = np.isin(kind, [_PROFILE["un_entity"], _PROFILE["multilateral"]])
    country = rng.choice(len(vocab.countries), size=n, p=vocab.country_weight)
    country = np.where(global_kind, -1, country)
    region = np.where(country >= 0, vocab.country_region[np.maximum(country, 0)], -1)
    country_text = np.where(country >= 0, _text([*vocab.countries, ""])[country], "")
    bar.update()

    names = _names(rng, kind)
    bar.update()

    report = [vocab.themes[index] for index in vocab.report_themes]
    theme_weights = {
        profile: {code: _REPORT_THEME_WEIGHTS.get(code, 2.0) for code in report}
        for profile in _PROFILES
    }
    for name, boosts in _THEME_BOOSTS.items():
        for code, factor in boosts.items():
            if code in theme_weights[name]:
                theme_weights[name][code] *= factor
    picked = _top_k(
        rng,
        _log_weights(theme_weights, report, baseline=2.0),
        profile,
        _counts(rng, (0.35, 0.4, 0.25), n),
    )
    themes = _themes_with_sdg(rng, vocab, picked, share=0.2)
    bar.update()

    has_resources = rng.random(n) < 0.85
    resources = _top_k(
        rng,
        _log_weights(_RESOURCES, vocab.resources, baseline=0.5),
        profile,
        np.where(has_resources, _counts(rng, (0.4, 0.4, 0.2), n), 0),
    )
    bar.update()

    with_motivations = np.flatnonzero(company & (rng.random(n) < 0.85))
    motivations_picked = _top_k(
        rng,
        _log_weights(_MOTIVATIONS, vocab.motivations, baseline=1.0),
        profile[with_motivations],
        _counts(rng, (0.4, 0.4, 0.2), len(with_motivations)),
    )
    motivations = _text([""] * n)
    motivations[with_motivations] = _join(vocab.motivations, motivations_picked)
    bar.update()

    participates = company & (rng.random(n) < np.where(large, 0.45, 0.08))
    statuses = _text(["active", "non_communicating", "delisted"])
    gc_status = np.where(participates, statuses[rng.choice(3, n, p=[0.82, 0.15, 0.03])], "").astype(
        object
    )
    verified = rng.random(n) < 0.45
    verified_on = _text([""] * n)
    verified_on[verified] = _dates(rng, int(verified.sum()), 600.0)
    bar.update()

    fitness = rng.lognormal(0.0, _FITNESS_SIGMA, n)
    attractiveness = np.array([_ATTRACTIVENESS[p] for p in _PROFILES])[profile] * fitness
    ids = _ids("org-", n)
    frame = _frame(
        "organisations.csv",
        {
            "id": ids,
            "name": names,
            "kind": kind_text,
            "sector": sector,
            "country": country_text,
            "size": size,
            "themes": _join(vocab.themes, themes),
            "resources": _join(vocab.resources, resources),
            "motivations": motivations,
            "gc_status": gc_status,
            "verified_on": verified_on,
            "description": _organisation_descriptions(
                vocab, kind_text, country, vocab.report_themes[picked[:, 0]]
            ),
        },
    )
    orgs = _Organisations(
        ids=ids,
        profile=profile,
        country=country,
        region=region,
        report_themes=np.pad(picked, ((0, 0), (0, 3 - picked.shape[1])), constant_values=-1),
        base=_BASE_RATE * attractiveness / attractiveness.mean(),
        gc_status=gc_status,
    )
    return frame, orgs


def _organisation_descriptions(
    vocab: _Vocabularies, kind_text: TextArray, country: IntArray, theme: IntArray
) -> TextArray:
    """ "A company in Brazil working on Education for young people." (by position)."""
    k = np.arange(len(kind_text))
    kinds = np.char.replace(kind_text.astype(str), "_", " ").astype(object)
    place = np.where(country >= 0, " in " + _text([*vocab.country_names, ""])[country], "")
    group = _text(_TARGET_GROUPS)[(k * 7 + theme) % len(_TARGET_GROUPS)]
    labels = _text(vocab.theme_labels)[theme]
    result: TextArray = "A " + kinds + place + " working on " + labels + " for " + group + "."
    return result


def _partnership_descriptions(vocab: _Vocabularies, primary: IntArray, home: IntArray) -> TextArray:
    """The primary theme's description, a target group, an approach and the place (by
    position)."""
    k = np.arange(len(primary))
    group = _text(_TARGET_GROUPS)[(k * 5 + primary) % len(_TARGET_GROUPS)]
    approach = _text(_APPROACHES)[(k * 3 + k // 11) % len(_APPROACHES)]
    place = np.where(home >= 0, " in " + _text([*vocab.country_names, ""])[home], " worldwide")
    description = _text(vocab.theme_descriptions)[primary]
    result: TextArray = description + ", for " + group + ", through " + approach + place + "."
    return result


def _names(rng: np.random.Generator, kind: IntArray) -> TextArray:
    syllables = [s.capitalize() for s in _SYLLABLES] + _SYLLABLES + _SYLLABLES
    n_syllables = len(_SYLLABLES)
    first = rng.integers(0, n_syllables, len(kind))
    second = rng.integers(0, n_syllables, len(kind))
    third = rng.integers(0, n_syllables + 6, len(kind))  # some stems have 2 syllables
    table = _text(syllables + [""])
    third = np.where(third >= n_syllables, 3 * n_syllables, third + 2 * n_syllables)
    stem = table[first] + table[second + n_syllables] + table[third]
    prefixes: list[str] = []
    suffixes: list[str] = []
    start = np.zeros(len(_KINDS), dtype=np.int64)
    size = np.zeros(len(_KINDS), dtype=np.int64)
    for index, name in enumerate(_KINDS):
        templates = _NAME_TEMPLATES.get(name, (("", ""),))
        start[index], size[index] = len(prefixes), len(templates)
        prefixes += [prefix for prefix, _ in templates]
        suffixes += [suffix for _, suffix in templates]
    template = start[kind] + (rng.random(len(kind)) * size[kind]).astype(np.int64)
    names: TextArray = _text(prefixes)[template] + stem + _text(suffixes)[template]
    return names


def _themes_with_sdg(
    rng: np.random.Generator, vocab: _Vocabularies, picked: IntArray, *, share: float
) -> IntArray:
    """Report themes (indices into ``vocab.themes``), sometimes with the SDG of the first.

    The SDG replaces the third theme of a row that has three, so a row keeps 1-3 themes.
    """
    rows = len(picked)
    themes = np.full((rows, 3), -1, dtype=np.int64)
    if picked.shape[1] == 0:
        return themes
    width = picked.shape[1]
    themes[:, :width] = np.where(picked >= 0, vocab.report_themes[np.maximum(picked, 0)], -1)
    sdg = vocab.theme_sdg[np.maximum(picked[:, 0], 0)]
    add = (rng.random(rows) < share) & (picked[:, 0] >= 0) & (sdg >= 0)
    slot = np.minimum((themes >= 0).sum(axis=1), 2)
    themes[np.flatnonzero(add), slot[add]] = sdg[add]
    return themes


# Capabilities ------------------------------------------------------------------------------


def _capabilities(
    orgs: _Organisations, vocab: _Vocabularies, rng: np.random.Generator, bar: tqdm[Any]
) -> pd.DataFrame:
    n = len(orgs.ids)
    holders = np.flatnonzero(rng.random(n) < 0.8)
    bar.reset(total=-(-len(holders) // _CHUNK) + 1)
    families = list(vocab.capability_family)
    family_size = pd.Series(families).value_counts()[families].to_numpy(dtype=np.float64)
    # Each family's weight is spread evenly over its codes; "other" weighs all families alike.
    log_weights = _log_weights(_CAPABILITIES, vocab.capabilities, baseline=0.2, key=families)
    log_weights = log_weights - np.log(family_size)
    picked = _top_k(
        rng,
        log_weights,
        orgs.profile[holders],
        _counts(rng, (0.3, 0.3, 0.2, 0.12, 0.08), len(holders)),
        bar=bar,
    )
    line, slot = np.nonzero(picked >= 0)
    owner = holders[line]
    code = picked[line, slot]
    rows = len(owner)
    strength = np.maximum(rng.beta(5.0, 2.0, rows), 0.01)
    funding = np.array([family == "funding" for family in families])[code]
    quantified = funding & (rng.random(rows) < 0.6)
    scale = np.array([_FUNDING_SCALE.get(p, _DEFAULT_FUNDING_SCALE) for p in _PROFILES])
    amount = scale[orgs.profile[owner]] * rng.lognormal(0.0, 1.0, rows)
    quantity = np.where(quantified, _integers(_round_significant(amount)), "").astype(object)
    return _frame(
        "capabilities.csv",
        {
            "org_id": orgs.ids[owner],
            "capability": _text(vocab.capabilities)[code],
            "strength": _hundredths(strength),
            "quantity": quantity,
            "unit": np.where(quantified, "USD", "").astype(object),
        },
    )


# Partnerships and memberships --------------------------------------------------------------


def _partnership_sizes(rng: np.random.Generator, count: int, n_orgs: int) -> IntArray:
    sizes = np.array([size for size, _ in CORDIS_H2020_SIZE_HISTOGRAM], dtype=np.int64)
    weights = np.array([projects for _, projects in CORDIS_H2020_SIZE_HISTOGRAM], dtype=float)
    cap = min(int(sizes.max()), max(1, n_orgs // 4))
    drawn: IntArray = np.minimum(rng.choice(sizes, size=count, p=weights / weights.sum()), cap)
    return drawn


@dataclass(frozen=True, slots=True)
class _Groups:
    """Organisations sorted by a group (country or region), with each group's span."""

    order: IntArray
    start: IntArray
    stop: IntArray

    @classmethod
    def of(cls, group: IntArray, n_groups: int) -> _Groups:
        order = np.argsort(group, kind="stable")
        order = order[group[order] >= 0]
        sorted_groups = group[order]
        bounds = np.arange(n_groups + 1)
        edges = np.searchsorted(sorted_groups, bounds, side="left")
        return cls(order=order, start=edges[:-1], stop=edges[1:])

    def draw(self, weights: FloatArray, groups: IntArray, rng: np.random.Generator) -> IntArray:
        """One organisation for each entry of ``groups``, with probability ∝ ``weights``."""
        cumulative = np.cumsum(weights[self.order])
        start, stop = self.start[groups], self.stop[groups]
        low = np.where(start > 0, cumulative[np.maximum(start - 1, 0)], 0.0)
        high = cumulative[np.maximum(stop - 1, 0)]
        position = np.searchsorted(
            cumulative, low + rng.random(len(groups)) * (high - low), side="right"
        )
        return self.order[np.clip(position, start, np.maximum(stop - 1, start))]


def _history(
    orgs: _Organisations,
    vocab: _Vocabularies,
    count: int,
    rng: np.random.Generator,
    bar: tqdm[Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(orgs.ids)
    years = np.arange(_FIRST_YEAR, _REFERENCE_YEAR + 1)
    year_weights = _YEAR_GROWTH ** (years - _FIRST_YEAR)
    start_year = np.sort(rng.choice(years, size=count, p=year_weights / year_weights.sum()))
    sizes = _partnership_sizes(rng, count, n)
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    members, home = _members(orgs, vocab, sizes, offsets, rng, bar)
    slot_partnership = np.repeat(np.arange(count), sizes)
    lead_slot = offsets[:-1]
    leads = members[lead_slot]

    duration = np.minimum(rng.geometric(0.28, count), 10) - (rng.random(count) < 0.1)
    end_year = start_year + np.maximum(duration, 0)
    running = end_year >= _REFERENCE_YEAR
    age = np.maximum(_REFERENCE_YEAR - end_year, 0)
    unrecorded = rng.random(count) < 0.08 + 0.6 * np.exp(-age / 8.0)
    ended = _text([str(outcome) for outcome in _ENDED_OUTCOMES])[
        rng.choice(len(_ENDED_OUTCOMES), size=count, p=_ENDED_SHARES)
    ]
    outcome = np.where(
        running,
        np.where(rng.random(count) < 0.9, str(Outcome.ACTIVE), str(Outcome.UNKNOWN)),
        np.where(unrecorded, str(Outcome.UNKNOWN), ended),
    ).astype(object)

    lead_profile = orgs.profile[leads]
    report = [vocab.themes[index] for index in vocab.report_themes]
    popularity = {code: _REPORT_THEME_WEIGHTS.get(code, 2.0) for code in report}
    picked = _top_k(
        rng,
        _log_weights({profile: popularity for profile in _PROFILES}, report, baseline=2.0),
        lead_profile,
        _counts(rng, (0.4, 0.4, 0.2), count),
        boost=orgs.report_themes[leads],
        boost_by=8.0,
    )
    themes = _themes_with_sdg(rng, vocab, picked, share=0.25)
    primary = vocab.report_themes[picked[:, 0]]

    consortium = sizes >= 3
    n_types = 1 + rng.binomial(3, np.where(consortium, 0.45, 0.15))
    activity_codes = tuple(sorted(str(code) for code in ActivityType))
    activity = _top_k(
        rng,
        _log_weights(_ACTIVITY_TYPES, activity_codes, baseline=0.5),
        lead_profile,
        n_types.astype(np.int64),
    )

    second_slot = np.minimum(lead_slot + 1, offsets[1:] - 1)
    second = orgs.country[members[second_slot]]
    add_second = (sizes >= 2) & (second >= 0) & (second != home) & (rng.random(count) < 0.3)
    countries = np.stack([home, np.where(add_second, second, -1)], axis=1)

    has_amount = rng.random(count) < 0.65
    amount = np.clip(1.5e5 * sizes**0.6 * rng.lognormal(0.0, 1.2, count), 5e3, 5e8)
    amount_int = _round_significant(amount)
    amount_text = np.where(has_amount, _integers(amount_int), "").astype(object)

    nouns = _text(list(_PARTNERSHIP_NOUNS))[rng.integers(0, len(_PARTNERSHIP_NOUNS), count)]
    place = np.where(home >= 0, " in " + _text([*vocab.country_names, ""])[home], " (global)")
    name = _text(vocab.theme_labels)[primary] + " " + nouns + place
    ids = _ids("p-", count)
    partnerships = _frame(
        "partnerships.csv",
        {
            "id": ids,
            "name": name,
            "start_year": _integers(start_year),
            "end_year": _integers(end_year),
            "countries": _join(vocab.countries, countries),
            "themes": _join(vocab.themes, themes),
            "activity_types": _join(activity_codes, activity),
            "amount_usd": amount_text,
            "outcome": outcome,
            "description": _partnership_descriptions(vocab, primary, home),
        },
    )
    bar.update()

    is_lead = np.zeros(len(members), dtype=bool)
    is_lead[lead_slot] = True
    role_shares = np.array([_ROLE_SHARES.get(p, _ROLE_SHARES["other"]) for p in _PROFILES])
    role_index = _choose(rng, role_shares, orgs.profile[members])
    role = np.where(is_lead, str(Role.LEAD), _text([str(r) for r in _ROLES])[role_index])
    funder = (~is_lead) & (role_index == _ROLES.index(Role.FUNDER))
    funders = np.bincount(slot_partnership[funder], minlength=count)
    pays = funder & has_amount[slot_partnership]
    share = rng.uniform(0.5, 1.0, len(members))
    contribution = amount_int[slot_partnership] / np.maximum(funders[slot_partnership], 1) * share
    memberships = _frame(
        "memberships.csv",
        {
            "partnership_id": ids[slot_partnership],
            "org_id": orgs.ids[members],
            "role": role.astype(object),
            "contribution_usd": np.where(
                pays, _integers(_round_significant(contribution)), ""
            ).astype(object),
        },
    )
    return partnerships, memberships


def _members(
    orgs: _Organisations,
    vocab: _Vocabularies,
    sizes: IntArray,
    offsets: IntArray,
    rng: np.random.Generator,
    bar: tqdm[Any],
) -> tuple[IntArray, IntArray]:
    """The member of each slot (lead first) and each partnership's home country (or -1).

    Partnerships are processed in chronological batches; within a batch, the weights are
    ``degree + base`` as they stood at the start of the batch.
    """
    n = len(orgs.ids)
    count = len(sizes)
    n_countries, n_regions = len(vocab.countries), int(vocab.country_region.max()) + 1
    by_country = _Groups.of(orgs.country, n_countries)
    by_region = _Groups.of(orgs.region, n_regions)
    everyone = _Groups.of(np.zeros(n, dtype=np.int64), 1)
    located = np.flatnonzero(orgs.country >= 0)
    leadership = np.array([_LEADERSHIP[p] for p in _PROFILES])[orgs.profile]
    degree = np.zeros(n, dtype=np.float64)
    members = np.empty(int(offsets[-1]), dtype=np.int64)
    home = np.full(count, -1, dtype=np.int64)
    batches = np.linspace(0, count, min(_BATCHES, count) + 1).astype(np.int64)
    for first, last in zip(batches[:-1], batches[1:], strict=True):
        weights = degree + orgs.base
        batch = np.arange(first, last)
        leads = everyone.draw(leadership * weights, np.zeros(len(batch), np.int64), rng)
        batch_home = orgs.country[leads]
        homeless = batch_home < 0
        if len(located):
            global_programme = rng.random(len(batch)) < 0.4
            picked = orgs.country[located[rng.integers(0, len(located), len(batch))]]
            batch_home = np.where(homeless & ~global_programme, picked, batch_home)
        home[batch] = batch_home

        lo, hi = int(offsets[first]), int(offsets[last])
        slot_batch = np.repeat(np.arange(len(batch)), sizes[batch])
        position = np.arange(hi - lo) - (offsets[batch] - lo)[slot_batch]
        chosen = np.empty(hi - lo, dtype=np.int64)
        is_lead = position == 0
        chosen[is_lead] = leads
        others = np.flatnonzero(~is_lead)
        slot_home = batch_home[slot_batch[others]]
        # Geographic level of each slot: 0 the home country, 1 its region, 2 anywhere (3,
        # anywhere uniformly, is reached after repeated clashes).
        level = np.full(hi - lo, 2, dtype=np.int64)
        level[others] = np.where(slot_home < 0, 2, rng.choice(3, len(others), p=_GEOGRAPHY))
        attempt = np.zeros(hi - lo, dtype=np.int64)
        pending = others
        while len(pending):
            chosen[pending] = _draw(
                np.minimum(level[pending] + attempt[pending] // 2, 3),
                batch_home[slot_batch[pending]],
                vocab,
                weights,
                (by_country, by_region, everyone),
                rng,
            )
            attempt[pending] += 1
            # Keep the first of each repeated organisation in a partnership (the lead comes
            # first), draw the others again.
            keys = slot_batch * n + chosen
            order = np.argsort(keys, kind="stable")
            pending = np.sort(order[1:][keys[order[1:]] == keys[order[:-1]]])
        members[lo:hi] = chosen
        degree += np.bincount(chosen, minlength=n)
        bar.update()
    return members, home


def _draw(
    level: IntArray,
    home: IntArray,
    vocab: _Vocabularies,
    weights: FloatArray,
    groups: tuple[_Groups, _Groups, _Groups],
    rng: np.random.Generator,
) -> IntArray:
    """Organisations from the home country (level 0), its region (1), anywhere weighted (2)
    or anywhere uniformly (3)."""
    by_country, by_region, everyone = groups
    out = np.empty(len(level), dtype=np.int64)
    safe_home = np.maximum(home, 0)
    for value, group, key in (
        (0, by_country, safe_home),
        (1, by_region, vocab.country_region[safe_home]),
        (2, everyone, np.zeros(len(level), dtype=np.int64)),
    ):
        selected = np.flatnonzero(level == value)
        if len(selected):
            out[selected] = group.draw(weights, key[selected], rng)
    uniform = np.flatnonzero(level == 3)
    out[uniform] = rng.integers(0, len(weights), len(uniform))
    return out


# Flags and conflicts -----------------------------------------------------------------------


def _flags(orgs: _Organisations, vocab: _Vocabularies, rng: np.random.Generator) -> pd.DataFrame:
    n = len(orgs.ids)
    flagged = np.sort(rng.choice(n, size=max(1, round(n * _FLAG_SHARE)), replace=False))
    company = np.isin(orgs.profile[flagged], [_PROFILE["company"], _PROFILE[_LARGE]])
    shares = np.array(
        [
            [_COMPANY_FLAGS.get(code, 0.5) for code in vocab.flag_categories],
            [_OTHER_FLAGS.get(code, 0.5) for code in vocab.flag_categories],
        ]
    )
    category = _text(vocab.flag_categories)[_choose(rng, shares, np.where(company, 0, 1))]
    level = rng.choice(len(_FLAG_LEVELS), size=len(flagged), p=_FLAG_LEVEL_SHARES)
    levels = _text([str(level) for level in _FLAG_LEVELS])
    notes = _text(list(_FLAG_NOTES))

    delisted = np.flatnonzero(orgs.gc_status == "delisted")
    gc_level = np.where(rng.random(len(delisted)) < 0.6, 1, 2)
    has_gc = "global_compact_status" in vocab.flag_categories
    if not has_gc:
        delisted = delisted[:0]
        gc_level = gc_level[:0]
    return _frame(
        "flags.csv",
        {
            "org_id": np.concatenate([orgs.ids[flagged], orgs.ids[delisted]]),
            "category": np.concatenate(
                [category, _text(["global_compact_status"] * len(delisted))]
            ),
            "level": np.concatenate([levels[level], levels[gc_level]]),
            "note": np.concatenate(
                [notes[level], _text(["Delisted from the Global Compact"] * len(delisted))]
            ),
            "date": np.concatenate(
                [_dates(rng, len(flagged), 1000.0), _dates(rng, len(delisted), 700.0)]
            ),
        },
    )


def _conflicts(orgs: _Organisations, rng: np.random.Generator) -> pd.DataFrame:
    n = len(orgs.ids)
    wanted = max(1, round(n * _CONFLICT_SHARE)) if n >= 2 else 0
    companies = np.flatnonzero(np.isin(orgs.profile, [_PROFILE["company"], _PROFILE[_LARGE]]))
    foundations = np.flatnonzero(orgs.profile == _PROFILE["foundation"])
    reasons = _text([*_CONFLICT_REASONS, _CORPORATE_FOUNDATION])
    found_a: list[IntArray] = []
    found_b: list[IntArray] = []
    found_reason: list[IntArray] = []
    attempts = 0
    while sum(len(a) for a in found_a) < wanted and attempts < 20:
        attempts += 1
        draws = 2 * wanted
        a = rng.integers(0, n, draws)
        b = rng.integers(0, n, draws)
        reason = rng.integers(0, len(_CONFLICT_REASONS), draws)
        if len(companies) and len(foundations):
            corporate = rng.random(draws) < 0.5
            a = np.where(corporate, companies[rng.integers(0, len(companies), draws)], a)
            b = np.where(corporate, foundations[rng.integers(0, len(foundations), draws)], b)
            reason = np.where(corporate, len(_CONFLICT_REASONS), reason)
        found_a.append(np.minimum(a, b))
        found_b.append(np.maximum(a, b))
        found_reason.append(reason)
        pairs = pd.DataFrame({"a": np.concatenate(found_a), "b": np.concatenate(found_b)}).assign(
            reason=np.concatenate(found_reason)
        )
        pairs = pairs[pairs["a"] != pairs["b"]].drop_duplicates(["a", "b"]).head(wanted)
        found_a = [pairs["a"].to_numpy(np.int64)]
        found_b = [pairs["b"].to_numpy(np.int64)]
        found_reason = [pairs["reason"].to_numpy(np.int64)]
    a_index = np.concatenate(found_a) if found_a else np.zeros(0, np.int64)
    b_index = np.concatenate(found_b) if found_b else np.zeros(0, np.int64)
    reason_index = np.concatenate(found_reason) if found_reason else np.zeros(0, np.int64)
    return _frame(
        "conflicts.csv",
        {
            "org_a": orgs.ids[a_index],
            "org_b": orgs.ids[b_index],
            "reason": reasons[reason_index],
        },
    )
