"""Why a member sits in a coalition, in words a reviewer reads: sentences from the evidence.

The explainer (:mod:`matcher.engine.explain`) gathers the facts the engine already computed,
with taxonomy labels in place of codes: what the member covers and from where (a stated
capability with its §, or one inferred from its roles and activity types in past
partnerships), who introduces it (the lead or a fellow member it worked with, or whoever
links it to the lead) and any earlier rejection for the same lead. :func:`member_reasons`
turns them into one or two English sentences, plus the rejection note. Plain data in, plain
strings out: nothing here reads the index.

Examples
--------
>>> alliance = PastPartnership("Brazil education alliance", 2003, ("Brazil",))
>>> supports = [
...     Support("Funding", 1.0, held="Social investment", source="§49"),
...     Support("Teaching materials", 0.5, held="Education services",
...             grounds=("its part in operational activities",), partnerships=(alliance,)),
... ]
>>> for line in member_reasons("CENPEC", supports,
...                            Introduction("UNICEF", "lead", alliance), lead="UNICEF"):
...     print(line)
CENPEC covers funding fully through social investment (§49); and teaching materials largely \
through education services, as shown by its part in operational activities in "Brazil \
education alliance" (Brazil, 2003).
UNICEF worked with CENPEC in "Brazil education alliance" (Brazil, 2003).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "PastPartnership",
    "Support",
    "Introduction",
    "Rejection",
    "coverage_word",
    "member_reasons",
    "percent_below",
    "share_of_best",
    "share_sentence",
    "solver_sentence",
    "needs_sentence",
]


@dataclass(frozen=True, slots=True)
class PastPartnership:
    """A partnership of the history as a reviewer recognises it: name, year, countries."""

    name: str
    year: int | None = None
    countries: tuple[str, ...] = ()

    def phrase(self) -> str:
        """``"NAME" (Country, Country, YEAR)``; at most three countries named.

        >>> PastPartnership("Alliance", 1994, ("Brazil",)).phrase()
        '"Alliance" (Brazil, 1994)'
        >>> PastPartnership("Forum", None, ("A", "B", "C", "D")).phrase()
        '"Forum" (A, B, C and 1 more)'
        """
        countries = list(self.countries[:3])
        if len(self.countries) > 3:
            countries[-1] += f" and {len(self.countries) - 3} more"
        where = [*countries, *([str(self.year)] if self.year else [])]
        return f'"{self.name}"' + (f" ({', '.join(where)})" if where else "")


@dataclass(frozen=True, slots=True)
class Support:
    """One need a member covers: the need's label, how much it covers (0-1), the label of
    the capability it holds when that is not the need itself, and where that comes from:
    the § of a stated capability (``source``), or the grounds of an inferred one (``its
    role as funder``, ``its part in advocacy``) with the partnerships that show it."""

    need: str
    coverage: float
    held: str | None = None
    source: str = ""
    grounds: tuple[str, ...] = ()
    partnerships: tuple[PastPartnership, ...] = ()
    more_partnerships: int = 0


@dataclass(frozen=True, slots=True)
class Introduction:
    """Who can introduce a member: ``introducer`` (a name) is the ``lead``, a fellow
    ``member`` or an ``intermediary`` outside the coalition, with the past partnership they
    share with the member; ``via`` names those between an intermediary and the lead. The
    relation ``lead itself`` is for the lead sitting in its own coalition as an implementer."""

    introducer: str
    relation: str
    partnership: PastPartnership | None = None
    via: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejection:
    """A reviewer rejected a proposal of ``lead``'s initiative in which ``member`` sat.

    ``reason_code`` is the review's reason (``conflict_of_interest``); ``proposal`` the
    proposal's number.

    >>> Rejection("unicef", "itau", dt.date(2026, 3, 2), "conflict_of_interest", 7).note()
    'Rejected for this lead on 2026-03-02: conflict of interest (proposal 7).'
    """

    lead: str
    member: str
    decided_on: dt.date
    reason_code: str
    proposal: int | None = None

    def note(self) -> str:
        """The sentence a reviewer reads next to the member."""
        reason = self.reason_code.replace("_", " ").strip() or "no reason given"
        number = f" (proposal {self.proposal})" if self.proposal is not None else ""
        return f"Rejected for this lead on {self.decided_on.isoformat()}: {reason}{number}."


def coverage_word(value: float) -> str:
    """How much of a need a coverage in [0, 1] is, in a word: ``fully`` from 0.995,
    ``largely`` from 0.5 (where a need stops being a gap), else ``partly``.

    >>> [coverage_word(v) for v in (1.0, 0.5, 0.133)]
    ['fully', 'largely', 'partly']
    """
    if value >= 0.995:
        return "fully"
    if value >= 0.5:
        return "largely"
    return "partly"


def _lower_first(text: str) -> str:
    """A label inside a sentence: ``Funding`` → ``funding``, acronyms kept (``ICT``)."""
    if len(text) > 1 and text[:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def _and(items: Sequence[str], separator: str = ", ") -> str:
    """``a``, ``a and b``, ``a, b and c``; with ``"; "`` between long items, ``a; and b``.

    >>> _and(["a", "b", "c"]), _and(["a", "b"], "; ")
    ('a, b and c', 'a; and b')
    """
    if len(items) <= 1:
        return "".join(items)
    last = "; and " if separator == "; " else " and "
    return separator.join(items[:-1]) + last + items[-1]


def _support_phrase(support: Support) -> str:
    """One need in words: ``funding fully through social investment (§49)``."""
    text = f"{_lower_first(support.need)} {coverage_word(support.coverage)}"
    if support.held:
        text += f" through {_lower_first(support.held)}"
    if support.source:
        text += f" ({support.source})"
    if support.grounds:
        text += f", as shown by {_and(list(support.grounds))}"
        if support.partnerships:
            shown = [p.phrase() for p in support.partnerships]
            if support.more_partnerships:
                shown.append(f"{support.more_partnerships} more")
            text += f" in {_and(shown)}"
    return text


def member_reasons(
    name: str,
    supports: Sequence[Support],
    introduction: Introduction | None,
    *,
    lead: str,
    activities: Sequence[str] = (),
    rejection: Rejection | None = None,
) -> list[str]:
    """Why ``name`` is a member, as sentences: what it covers and from where, then who
    introduces it, then (if any) the earlier rejection for this lead.

    Parameters
    ----------
    name : str
        The member's name.
    supports : sequence of Support
        The needs it covers, in the order to tell them.
    introduction : Introduction or None
        Who can introduce it; ``None`` when nothing in the history links it to the lead.
    lead : str, keyword-only
        The lead's name.
    activities : sequence of str, keyword-only
        Labels of the wanted activity types it brings (told when it covers no need).
    rejection : Rejection or None, keyword-only

    Returns
    -------
    list of str
        Two sentences, three with a rejection.

    Examples
    --------
    >>> member_reasons("UNA-USA", [], None, lead="UNICEF", activities=["Advocacy"])
    ['UNA-USA covers none of the needs itself; it brings advocacy.', \
'Nothing in the history links it to UNICEF or the other members: a new partner (§21).']
    """
    if supports:
        first = f"{name} covers {_and([_support_phrase(s) for s in supports], '; ')}."
    elif activities:
        first = (
            f"{name} covers none of the needs itself; it brings "
            f"{_and([_lower_first(a) for a in activities])}."
        )
    else:
        first = (
            f"{name} covers none of the needs itself; it is here for the sector, region or "
            "resources it adds (see the score's parts)."
        )
    reasons = [first, _introduction_sentence(name, introduction, lead)]
    if rejection is not None:
        reasons.append(rejection.note())
    return reasons


def _introduction_sentence(name: str, introduction: Introduction | None, lead: str) -> str:
    """Who introduces ``name``, in one sentence."""
    if introduction is None:
        return (
            f"Nothing in the history links it to {lead} or the other members: a new partner (§21)."
        )
    who, where = introduction.introducer, introduction.partnership
    if introduction.relation == "lead itself":
        return f"{name} is the lead itself, here also as an implementer."
    together = f" in {where.phrase()}" if where is not None else ""
    if introduction.relation == "lead":
        return f"{who} worked with {name}{together}."
    if introduction.relation == "member":
        return f"{who}, a fellow member, worked with {name}{together}."
    chain = " → ".join([lead, *introduction.via, who, name])
    return f"{who} can introduce {name} to {lead}: they worked together{together} ({chain})."


# ---- numbers with their scale ---------------------------------------------------------------


def percent_below(gap: float) -> int:
    """An optimality gap (``(bound - score) / |bound|``) as whole percent, rounded up: the
    most the score can be below the best possible, never understated.

    >>> percent_below(0.0), percent_below(0.12001), percent_below(0.13)
    (0, 13, 13)
    """
    return max(0, min(100, math.ceil(gap * 100 - 1e-9)))


def share_of_best(optimality_gap: float | None) -> float | None:
    """The score as a share of the best possible for the request, at least: ``1 - gap``
    in whole percent (so that it and :func:`percent_below` add up to 100); ``None`` without
    a bound (a coalition scored as given).

    The solvers' bound is an upper bound on the best coalition the request admits, so
    score / bound, the share, is a lower bound on score / best.

    >>> share_of_best(0.0), share_of_best(0.19866), share_of_best(None)
    (1.0, 0.8, None)
    """
    if optimality_gap is None:
        return None
    return (100 - percent_below(optimality_gap)) / 100


def share_sentence(optimality_gap: float | None) -> str | None:
    """The score's scale in words: ``at least 87% of the best possible``, ``100% of the best
    possible`` when proven; ``None`` without a bound.

    >>> share_sentence(0.13), share_sentence(0.0), share_sentence(None)
    ('at least 87% of the best possible', '100% of the best possible', None)
    """
    share = share_of_best(optimality_gap)
    if share is None or optimality_gap is None:
        return None
    if optimality_gap <= 1e-9:
        return "100% of the best possible"
    return f"at least {share:.0%} of the best possible"


def solver_sentence(solver: str, optimality_gap: float | None, *, first: bool | None) -> str:
    """What the solver's answer means, in a reviewer's words.

    Parameters
    ----------
    solver : str
        ``milp``, ``greedy+local_search``, ... or ``given`` (members chosen by hand).
    optimality_gap : float or None
    first : bool or None, keyword-only
        Whether this is the engine's first coalition for the request (``None``: not known,
        as for a stored proposal).

    Examples
    --------
    >>> solver_sentence("greedy+local_search", 0.13, first=True)
    'The best of the coalitions considered; at most 13% below the best possible.'
    >>> solver_sentence("milp", 0.0, first=True)
    'Proven the best coalition possible for this request.'
    >>> solver_sentence("given", None, first=None)
    'Scored as given: the members were chosen by hand, not searched for.'
    """
    if solver == "given":
        return "Scored as given: the members were chosen by hand, not searched for."
    if optimality_gap is None:
        return f"Found by {solver or 'an unknown solver'}; no bound on the best possible."
    below = percent_below(optimality_gap)
    if optimality_gap <= 1e-9:
        if first is False:
            return "As good as the best possible for this request (a tie, proven)."
        return "Proven the best coalition possible for this request."
    bound = f"at most {below}% below the best possible."
    if first:
        return f"The best of the coalitions considered; {bound}"
    if first is False:
        return f"An alternative to the first coalition; {bound}"
    return f"Not proven the best; {bound}"


def needs_sentence(covered: int, total: int) -> str:
    """``covers 3 of 4 needs``: a need counts when the coalition covers it at least halfway
    (it is not a gap).

    >>> needs_sentence(4, 4), needs_sentence(1, 1), needs_sentence(0, 0)
    ('covers 4 of 4 needs', 'covers 1 of 1 need', 'no needs to cover')
    """
    if total == 0:
        return "no needs to cover"
    return f"covers {covered} of {total} need{'s' if total != 1 else ''}"
