"""Integrity screening: what flags, Global Compact status, verification age and capacity do
to a candidate, applied *inside* the recommendation as hard gates and score penalties.

The report asks partnerships to protect the UN's integrity (§68, the guidelines on
cooperation with business; §34, the Global Compact principles). Following UN Partner Portal
practice, flags have four levels; a :class:`ScreeningPolicy` maps each to an
:class:`Action`:

============  =========  ==========================================================
level         default    meaning
============  =========  ==========================================================
observation   show       shown with the member, no effect on the choice
yellow        penalise   allowed, shown, and costs ``Weights.flag_penalty`` in the score
escalated     exclude    never proposed; listed in ``excluded`` with the reason
red           exclude    never proposed; listed in ``excluded`` with the reason
============  =========  ==========================================================

``category_actions`` overrides the level for a category (``{"tobacco": Action.EXCLUDE}``
excludes any tobacco flag, whatever its level). A dismissed flag (a reviewer found a false
positive) is shown but has no effect. Besides stored flags, screening derives findings:

* Global Compact ``delisted`` excludes; ``non_communicating`` is a yellow finding (§34-35);
* details last verified more than ``verification_max_age_days`` ago (default five years,
  the Partner Portal's rule) are a yellow finding (§84: track record must be current);
* an organisation already in ``max_active`` active partnerships is excluded (capacity).

Examples
--------
>>> import datetime as dt
>>> from matcher.domain.model import Flag, Organisation
>>> org = Organisation("acme", "Acme", "company", gc_status="non_communicating")
>>> result = screen_organisation(
...     org, [Flag("acme", "corruption", "observation")], active=0,
...     policy=ScreeningPolicy(), today=dt.date(2026, 1, 1))
>>> result.action.value, result.reasons
('penalise', ('Global Compact: not communicating on progress',))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from matcher.domain.model import Flag, FlagLevel, GCStatus, Organisation

__all__ = ["Action", "ScreeningPolicy", "Screening", "screen_organisation", "screen_all"]


class Action(StrEnum):
    """What a finding does to a candidate, from mildest to strongest."""

    SHOW = "show"
    PENALISE = "penalise"
    EXCLUDE = "exclude"

    @property
    def rank(self) -> int:
        """0 (show), 1 (penalise), 2 (exclude)."""
        return list(Action).index(self)


_DEFAULT_LEVEL_ACTIONS: Mapping[FlagLevel, Action] = MappingProxyType(
    {
        FlagLevel.OBSERVATION: Action.SHOW,
        FlagLevel.YELLOW: Action.PENALISE,
        FlagLevel.ESCALATED: Action.EXCLUDE,
        FlagLevel.RED: Action.EXCLUDE,
    }
)

#: Five years, as the UN Partner Portal warns on older verifications.
FIVE_YEARS_DAYS = 5 * 365 + 1


@dataclass(frozen=True, slots=True)
class ScreeningPolicy:
    """The screening rules, with safe defaults (see the module docstring).

    ``as_of`` fixes "today" for verification ages (``None``: the current date), so that a
    report can be reproduced.
    """

    level_actions: Mapping[FlagLevel, Action] = field(
        default_factory=lambda: _DEFAULT_LEVEL_ACTIONS
    )
    category_actions: Mapping[str, Action] = field(default_factory=lambda: MappingProxyType({}))
    delisted: Action = Action.EXCLUDE
    non_communicating: Action = Action.PENALISE
    verification_max_age_days: int | None = FIVE_YEARS_DAYS
    stale_verification: Action = Action.PENALISE
    enforce_capacity: bool = True
    as_of: dt.date | None = None

    def __post_init__(self) -> None:
        missing = set(FlagLevel) - set(self.level_actions)
        if missing:
            raise ValueError(
                f"level_actions must give an action for every level; missing "
                f"{', '.join(sorted(level.value for level in missing))}"
            )
        if self.verification_max_age_days is not None and self.verification_max_age_days < 1:
            raise ValueError("verification_max_age_days must be positive (or None to skip)")

    def flag_action(self, flag: Flag) -> Action:
        """What one stored flag does: its category's override, else its level's action."""
        if flag.dismissed:
            return Action.SHOW
        override = self.category_actions.get(flag.category)
        return override if override is not None else self.level_actions[flag.level]

    def today(self) -> dt.date:
        """The date verification ages are measured at."""
        return self.as_of or dt.date.today()


@dataclass(frozen=True, slots=True)
class Screening:
    """The outcome of screening one organisation.

    ``findings`` are what a reviewer sees next to the member: the stored flags (dismissed
    ones included, marked so) and the derived ones (Global Compact status, stale
    verification). ``reasons`` say why the action is what it is (empty for ``show``) and
    ``gates`` name the rules behind them (``integrity_flag``, ``sanctions``,
    ``global_compact``, ``verification``, ``capacity``).
    """

    org_id: str
    action: Action
    reasons: tuple[str, ...] = ()
    findings: tuple[Flag, ...] = ()
    gates: tuple[str, ...] = ()

    @property
    def excluded(self) -> bool:
        """Whether the organisation may not be proposed."""
        return self.action is Action.EXCLUDE

    @property
    def penalised(self) -> bool:
        """Whether the organisation may be proposed at a cost in the score."""
        return self.action is Action.PENALISE


def _flag_reason(flag: Flag, action: Action, policy: ScreeningPolicy) -> str:
    note = f" ({flag.note})" if flag.note else ""
    if flag.category in policy.category_actions:
        return (
            f"integrity flag {flag.category} (level {flag.level.value}): the policy says "
            f"{action.value} for this category{note}"
        )
    return f"integrity flag at level {flag.level.value}: {flag.category}{note}"


def screen_organisation(
    org: Organisation,
    flags: Sequence[Flag],
    *,
    active: int,
    policy: ScreeningPolicy,
    today: dt.date | None = None,
) -> Screening:
    """Screen one organisation: its flags, Global Compact status, verification and capacity.

    The strongest action wins; the reasons listed are those of that action.
    """
    today = today or policy.today()
    found: list[tuple[Action, str, str]] = []
    findings = list(flags)
    for flag in flags:
        action = policy.flag_action(flag)
        if action is not Action.SHOW:
            gate = "sanctions" if flag.category == "sanctions" else "integrity_flag"
            found.append((action, gate, _flag_reason(flag, action, policy)))
    if org.gc_status is GCStatus.DELISTED:
        found.append((policy.delisted, "global_compact", "delisted from the Global Compact"))
        findings.append(
            Flag(org.id, "global_compact_status", FlagLevel.RED, "delisted from the Global Compact")
        )
    elif org.gc_status is GCStatus.NON_COMMUNICATING:
        found.append(
            (
                policy.non_communicating,
                "global_compact",
                "Global Compact: not communicating on progress",
            )
        )
        findings.append(
            Flag(org.id, "global_compact_status", FlagLevel.YELLOW, "not communicating on progress")
        )
    if (
        policy.verification_max_age_days is not None
        and org.verified_on is not None
        and (today - org.verified_on).days > policy.verification_max_age_days
    ):
        years = (today - org.verified_on).days / 365.25
        note = f"last verified on {org.verified_on.isoformat()}, {years:.1f} years ago"
        found.append((policy.stale_verification, "verification", f"stale verification: {note}"))
        findings.append(Flag(org.id, "verification", FlagLevel.YELLOW, note))
    if policy.enforce_capacity and org.max_active is not None and active >= org.max_active:
        found.append(
            (
                Action.EXCLUDE,
                "capacity",
                f"at capacity: {active} active partnerships, at most {org.max_active}",
            )
        )
    strongest = max((found_[0] for found_ in found), key=lambda a: a.rank, default=Action.SHOW)
    chosen = [(gate, reason) for action, gate, reason in found if action is strongest]
    return Screening(
        org.id,
        strongest,
        tuple(reason for _, reason in chosen),
        tuple(findings),
        tuple(dict.fromkeys(gate for gate, _ in chosen)),
    )


def screen_all(
    organisations: Iterable[Organisation],
    flags_of: Mapping[str, Sequence[Flag]],
    active_of: Mapping[str, int],
    policy: ScreeningPolicy,
) -> dict[str, Screening]:
    """Screen every organisation with something to report; the others are absent (clean).

    Returns
    -------
    dict of str to Screening
        Only organisations with a finding or a non-``show`` action.
    """
    today = policy.today()
    result: dict[str, Screening] = {}
    for org in organisations:
        flags = flags_of.get(org.id, ())
        worth_screening = (
            flags
            or org.gc_status in (GCStatus.DELISTED, GCStatus.NON_COMMUNICATING)
            or org.verified_on is not None
            or org.max_active is not None
        )
        if not worth_screening:
            continue
        screening = screen_organisation(
            org, flags, active=active_of.get(org.id, 0), policy=policy, today=today
        )
        if screening.findings or screening.action is not Action.SHOW:
            result[org.id] = screening
    return result
