"""Small hand-built datasets for the engine tests, where the right answer is checkable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matcher.domain.dataset import Dataset
from matcher.domain.model import (
    Capability,
    Conflict,
    Flag,
    Initiative,
    Membership,
    Organisation,
    Partnership,
    Role,
)
from matcher.domain.taxonomy import Taxonomies

#: What :func:`complementary_dataset`'s lead needs: its three companies cover one each.
THREE_NEEDS = [{"capability": "funding"}, {"capability": "training"}, {"capability": "media_reach"}]


def ask(**fields: object) -> Initiative:
    """An initiative of ``lead`` for :data:`THREE_NEEDS`, one coalition of 1 to 4 members,
    with ``fields`` replacing any of that."""
    body: dict[str, object] = {
        "lead": "lead",
        "needs": THREE_NEEDS,
        "count": 1,
        "constraints": {"min_size": 1, "max_size": 4},
    }
    body.update(fields)
    return Initiative.from_mapping(body)


def led_teams(teams: Mapping[str, Sequence[str]]) -> list[Membership]:
    """The memberships of each partnership's team, its first member the lead and the others
    plain members: a hand-written history, one partnership a line."""
    return [
        Membership(partnership_id, org_id, Role.LEAD if k == 0 else Role.MEMBER)
        for partnership_id, team in teams.items()
        for k, org_id in enumerate(team)
    ]


def complementary_dataset(taxonomies: Taxonomies, **extra: object) -> Dataset:
    """A lead and six companies: one trio covers funding, training and media exactly.

    - ``fund``, ``train``, ``media``: each covers one need fully.
    - ``fund-train``: funding and training at 0.5 each.
    - ``bank2``: funding at 0.4 (dominated by ``fund``).
    - ``noise``: a capability nobody needs.
    """
    organisations = [
        Organisation("lead", "Lead agency", "un_entity"),
        Organisation("fund", "Fund Co", "company"),
        Organisation("train", "Train Co", "company"),
        Organisation("media", "Media Co", "company"),
        Organisation("fund-train", "Both Co", "company"),
        Organisation("bank2", "Second bank", "company"),
        Organisation("noise", "Noise Co", "company"),
    ]
    capabilities = [
        Capability("fund", "funding", 1.0),
        Capability("train", "training", 1.0),
        Capability("media", "media_reach", 1.0),
        Capability("fund-train", "funding", 0.5),
        Capability("fund-train", "training", 0.5),
        Capability("bank2", "funding", 0.4),
        Capability("noise", "research", 1.0),
    ]
    fields: dict[str, object] = {
        "organisations": organisations,
        "capabilities": capabilities,
        "partnerships": [],
        "memberships": [],
        "flags": [],
        "conflicts": [],
    }
    fields.update(extra)
    return Dataset.build(taxonomies=taxonomies, **fields)  # type: ignore[arg-type]


__all__ = [
    "complementary_dataset",
    "led_teams",
    "Capability",
    "Conflict",
    "Flag",
    "Membership",
    "Organisation",
    "Partnership",
]
