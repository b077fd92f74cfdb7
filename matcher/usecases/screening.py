"""Use cases of integrity screening: screen the stored organisations against the UN Security
Council consolidated sanctions list, and dismiss a false positive.

A match becomes a ``sanctions`` flag at level ``escalated`` (excluded by the default
:class:`~matcher.integrity.screening.ScreeningPolicy`) whose ``source`` names the list entry,
so that re-screening recognises it: a flag a reviewer dismissed stays dismissed, with who and when.
Each writes in one transaction (through the repository's import) and leaves an audit entry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from matcher.domain.exceptions import NotFoundError, ValidationError
from matcher.domain.model import Flag, FlagLevel
from matcher.integrity.sanctions import DEFAULT_THRESHOLD, SanctionsEntry, SanctionsMatch, screen
from matcher.storage.repository import AuditEntry, Repository

__all__ = ["SANCTIONS_SOURCE", "SanctionsScreening", "screen_sanctions", "dismiss_flag"]

#: Prefix of the ``source`` of flags raised by sanctions screening.
SANCTIONS_SOURCE = "un-sanctions:"


@dataclass(frozen=True, slots=True)
class SanctionsScreening:
    """What one screening run found and did."""

    matches: tuple[SanctionsMatch, ...]
    flagged: tuple[Flag, ...]  # new flags written by this run
    already_flagged: int  # matches with an open flag from an earlier run
    dismissed: int  # matches a reviewer had dismissed: kept dismissed
    dry_run: bool = False


def _source(match: SanctionsMatch) -> str:
    return f"{SANCTIONS_SOURCE}{match.entry_reference}"


def screen_sanctions(
    repository: Repository,
    entries: Sequence[SanctionsEntry],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    actor: str = "system",
    today: dt.date | None = None,
    dry_run: bool = False,
) -> SanctionsScreening:
    """Screen every stored organisation's name and aliases; flag new matches."""
    today = today or dt.date.today()
    dataset = repository.load_dataset()
    organisations = [(o.id, o.name, o.aliases) for o in dataset.organisations.values()]
    matches = tuple(screen(organisations, entries, threshold=threshold))
    existing = {(f.org_id, f.source): f for f in dataset.flags if f.category == "sanctions"}
    new: list[Flag] = []
    already = dismissed = 0
    for match in matches:
        earlier = existing.get((match.org_id, _source(match)))
        if earlier is not None:
            dismissed += earlier.dismissed
            already += not earlier.dismissed
            continue
        new.append(
            Flag(
                match.org_id,
                "sanctions",
                FlagLevel.ESCALATED,
                note=(
                    f"{match.org_name_matched!r} matches UN sanctions list entry "
                    f"{match.entry_reference} {match.entry_name_matched!r} ({match.kind}), "
                    f"score {match.score:.1f}"
                ),
                date=today,
                source=_source(match),
            )
        )
    if new and not dry_run:
        repository.import_dataset(
            dataclasses.replace(dataset, flags=(*dataset.flags, *new)), actor=actor
        )
        repository.record_audit(
            AuditEntry(
                actor,
                "screen_sanctions",
                "flags",
                "sanctions",
                {
                    "matches": len(matches),
                    "flagged": [[f.org_id, f.source] for f in new],
                    "threshold": threshold,
                },
            )
        )
    return SanctionsScreening(matches, tuple(new), already, dismissed, dry_run)


def dismiss_flag(
    repository: Repository,
    org_id: str,
    source: str,
    *,
    by: str,
    reason: str = "",
    today: dt.date | None = None,
) -> Flag:
    """Mark the flag of ``org_id`` raised by ``source`` as a false positive (kept, with who
    and when).

    Raises
    ------
    NotFoundError
        If the organisation has no open flag from that source.
    ValidationError
        If ``by`` is empty.
    """
    if not by.strip():
        raise ValidationError("Say who dismisses the flag", field="by", value=by)
    today = today or dt.date.today()
    dataset = repository.load_dataset()
    flags = list(dataset.flags)
    for k, flag in enumerate(flags):
        if flag.org_id == org_id and flag.source == source and not flag.dismissed:
            note = f"{flag.note}; dismissed: {reason}" if reason else flag.note
            flags[k] = dataclasses.replace(flag, dismissed_by=by, dismissed_on=today, note=note)
            break
    else:
        raise NotFoundError(f"Organisation {org_id!r} has no open flag from {source!r}")
    repository.import_dataset(dataclasses.replace(dataset, flags=tuple(flags)), actor=by)
    repository.record_audit(
        AuditEntry(by, "dismiss_flag", "organisation", org_id, {"source": source, "reason": reason})
    )
    return flags[k]
