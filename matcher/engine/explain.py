"""Explains a solution as a coalition a broker can check: what each member adds, and the gaps.

Per member (DESIGN.md 5.2): the needs it covers and how well, the wanted activity types it
brings, its marginal gain (the objective without it subtracted from the objective with it),
its warm-introduction path to the lead, its integrity findings, and the evidence behind each
covered need (a stated capability with its source, or one inferred from partnerships with
the rule and the partnerships), and, when the request has words and the index text profiles,
the member's past partnership most similar to the initiative (name, year, countries, cosine).
Per coalition: the score and its parts, and each need covered under ``gap_below`` with the
best eligible partner to fill it. The same facts, with taxonomy labels, become each member's
``reasons`` in sentences (:mod:`matcher.engine.reasons`): what it covers and from where, who
introduces it, and an earlier rejection for the same lead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher.domain.model import (
    ActivityType,
    Coalition,
    CoalitionMember,
    Gap,
    Initiative,
)
from matcher.domain.taxonomy import MatchCredits, match_credit
from matcher.engine.index import KINDS, Index
from matcher.engine.objective import Problem, evaluate
from matcher.engine.pool import Gates
from matcher.engine.problem import Formulation, located_factors
from matcher.engine.proximity import WalkGraph, introduction_paths
from matcher.engine.reasons import (
    Introduction,
    PastPartnership,
    Rejection,
    Support,
    member_reasons,
)
from matcher.engine.solvers import Solution
from matcher.engine.text import initiative_text

__all__ = ["Explainer", "Identity", "covers"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who an organisation is, in the words a broker knows it by: shown next to its id."""

    id: str
    name: str
    kind: str
    country: str | None

    def to_dict(self) -> dict[str, str | None]:
        """``{"id", "name", "kind", "country"}``."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "country": self.country}


class Explainer:
    """Turns solutions over a :class:`~matcher.engine.problem.Formulation` into coalitions.

    Parameters
    ----------
    index : Index
    graph : WalkGraph
        The collaboration graph, for introduction paths.
    gates : Gates
        For members' findings, and to propose only eligible partners for a gap.
    credits : MatchCredits, keyword-only
        How much a related capability code serves a need (as in the pool).
    gap_below : float, keyword-only
        The coverage under which a need is reported as a gap.
    """

    def __init__(
        self,
        index: Index,
        graph: WalkGraph,
        gates: Gates,
        *,
        credits: MatchCredits,
        gap_below: float,
    ) -> None:
        self.index = index
        self.graph = graph
        self.gates = gates
        self.credits = credits
        self.gap_below = gap_below
        self._credit: dict[tuple[str, str], float] = {}

    def identity(self, position: int) -> Identity:
        """The id, name, kind and country of the organisation at index ``position``."""
        index = self.index
        org_id = index.org_ids[position]
        return Identity(
            org_id,
            index.records.names[position],
            KINDS[int(index.kind[position])].value,
            index.country[position],
        )

    def coalition(
        self,
        formulation: Formulation,
        solution: Solution,
        *,
        rejected: Mapping[str, Rejection] | None = None,
    ) -> Coalition:
        """The explained coalition of ``solution`` (slots of ``formulation.problem``).

        Parameters
        ----------
        formulation : Formulation
            What was solved.
        solution : Solution
        rejected : mapping of str to Rejection, keyword-only
            The earlier rejections for this lead, by member id: told in the member's reasons.

        Returns
        -------
        Coalition
            Members in the solver's order; ``score`` is the sum of ``score_parts``.
        """
        index = self.index
        problem = formulation.problem
        pool = formulation.pool.positions
        members = list(solution.members)
        parts = evaluate(problem, members)
        total = sum(parts.values())
        positions = [int(pool[k]) for k in members]
        paths = introduction_paths(self.graph, formulation.lead, positions)
        wanted = sorted(formulation.initiative.activity_types)
        result_members = []
        for k, position in zip(members, positions, strict=True):
            rest = [m for m in members if m != k]
            gain = total - sum(evaluate(problem, rest).values())
            activity_types = frozenset(
                ActivityType(a) for j, a in enumerate(wanted) if problem.activity[k, j] > 0
            )
            org_id = index.org_ids[position]
            who = self.identity(position)
            covered = covers(problem, k, formulation.need_codes)
            path = paths.get(position, ())
            result_members.append(
                CoalitionMember(
                    id=org_id,
                    name=who.name,
                    kind=who.kind,
                    country=who.country,
                    covers=covered,
                    activity_types=activity_types,
                    marginal_gain=round(gain, 9),
                    path_to_lead=tuple(index.org_ids[p] for p in path),
                    flags=self.gates.findings(org_id),
                    evidence=tuple(
                        self.evidence(position, formulation.need_codes)
                        + self.past_work(position, formulation.initiative)
                    ),
                    reasons=tuple(
                        member_reasons(
                            who.name,
                            self.supports(position, covered),
                            self.introduction(
                                position,
                                formulation.lead,
                                [p for p in positions if p != position],
                                path,
                            ),
                            lead=self.identity(formulation.lead).name,
                            activities=[
                                self._label("activity_types", a.value)
                                for a in sorted(activity_types)
                            ],
                            rejection=(rejected or {}).get(org_id),
                        )
                    ),
                )
            )
        return Coalition(
            members=tuple(result_members),
            score=total,
            score_parts=parts,
            gaps=tuple(self.gaps(formulation, members)),
            solver=solution.solver,
            optimality_gap=round(solution.gap, 9),
        )

    def gaps(self, formulation: Formulation, members: Sequence[int]) -> list[Gap]:
        """The needs ``members`` (slots) cover under ``gap_below``, each with the best partner.

        The best partner is the eligible organisation (not the lead, not a member, through
        every gate) of largest located coverage of the need; ties go to the lower position.

        Parameters
        ----------
        formulation : Formulation
        members : sequence of int
            Slots of ``formulation.problem``.

        Returns
        -------
        list of Gap
            In the order of the initiative's needs.
        """
        index = self.index
        problem = formulation.problem
        pool = formulation.pool.positions
        gated = formulation.pool.gated
        lead, initiative = formulation.lead, formulation.initiative
        gaps = []
        chosen = np.asarray(members, dtype=np.int64)
        member_positions = {int(pool[k]) for k in members}
        for j, code in enumerate(formulation.need_codes):
            coverage = float(problem.base_cover[j])
            if chosen.size:
                coverage = max(coverage, float(problem.cover[chosen, j].max()))
            if coverage >= self.gap_below:
                continue
            positions, values = formulation.need_vectors[j]
            scaled = values * located_factors(index, initiative, code, positions)
            best_id, best_name, best_value = None, "", 0.0
            for k in _largest_first(scaled):
                p, v = int(positions[k]), float(scaled[k])
                if v <= 0:
                    break
                if p == lead or p in member_positions or p in gated:
                    continue
                if self.gates.exclusion(p, lead, initiative) is not None:
                    continue
                best_id, best_name, best_value = index.org_ids[p], self.identity(p).name, v
                break
            gaps.append(Gap(code, round(coverage, 6), best_id, round(best_value, 6), best_name))
        return gaps

    def evidence(self, position: int, need_codes: Sequence[str]) -> list[str]:
        """Why the organisation at ``position`` covers each need it covers, in words.

        For each need, the held capability that serves it best (strength × credit): stated
        (``need: code at strength s (source)``) or inferred from history (``need: inferred
        code (rules; partnerships ...)``, at most five partnerships).

        Parameters
        ----------
        position : int
            An index position.
        need_codes : sequence of str
            Capability codes of the needs.

        Returns
        -------
        list of str
            One line per need the organisation serves, in the needs' order.
        """
        index = self.index
        org_id = index.org_ids[position]
        reasons: list[str] = []
        held = self._held(position)
        for need in need_codes:
            code = self._best_held(need, held)
            if code is None:
                continue
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

    def supports(self, position: int, covered: Mapping[str, float]) -> list[Support]:
        """What the organisation at ``position`` covers of each need in ``covered`` (codes
        to coverage), with labels and where each comes from: the § of the stated
        capability, or the rules and partnerships (most recent first, two named) of an
        inferred one.

        Parameters
        ----------
        position : int
            An index position.
        covered : mapping of str to float
            Need codes and the coverage the member brings (:func:`covers`).

        Returns
        -------
        list of Support
            In the order of ``covered``.
        """
        index = self.index
        org_id = index.org_ids[position]
        held = self._held(position)
        supports = []
        for need, value in covered.items():
            code = self._best_held(need, held)
            if code is None:
                continue
            rules = [e for e in index.evidence.get(position, ()) if e.capability == code]
            label = self._label("capabilities", need)
            held_label = self._label("capabilities", code) if code != need else None
            if rules:
                records = index.records
                rows = {records.partnership_row(p) for e in rules for p in e.partnerships}
                recent = self._most_recent(r for r in rows if r is not None)
                supports.append(
                    Support(
                        label,
                        value,
                        held=held_label,
                        grounds=tuple(sorted({self._ground(e.rule) for e in rules})),
                        partnerships=tuple(self._past(p) for p in recent[:2]),
                        more_partnerships=max(0, len(recent) - 2),
                    )
                )
            else:
                source = index.capability_sources.get(org_id, {}).get(code, "")
                supports.append(Support(label, value, held=held_label, source=source))
        return supports

    def introduction(
        self, position: int, lead: int, fellows: Sequence[int], path: Sequence[int]
    ) -> Introduction | None:
        """Who can introduce the organisation at ``position``: the lead if they worked
        together, else the first fellow member that did, else the one before it on its
        introduction ``path`` from the lead; each with their most recent shared partnership.
        ``None`` when nobody links it.

        Parameters
        ----------
        position, lead : int
            Index positions of the member and the lead.
        fellows : sequence of int
            Index positions of the other members.
        path : sequence of int
            The member's introduction path, from the lead to it (empty when none).
        """
        if position == lead:  # the lead as an implementer (allow_lead_as_implementer)
            return Introduction(self.identity(lead).name, "lead itself")
        for other, relation in [(lead, "lead"), *((f, "member") for f in fellows)]:
            shared = self._shared(other, position)
            if shared:
                return Introduction(self.identity(other).name, relation, self._past(shared[0]))
        if len(path) > 2:
            introducer = path[-2]
            shared = self._shared(introducer, position)
            return Introduction(
                self.identity(introducer).name,
                "intermediary",
                self._past(shared[0]) if shared else None,
                via=tuple(self.identity(p).name for p in path[1:-2]),
            )
        return None

    def past_work(self, position: int, initiative: Initiative) -> list[str]:
        """The organisation's past partnership most similar to the initiative's words, as one
        line (``past work: "NAME" (YEAR, COUNTRIES), similarity 0.62``); none without words
        on either side.

        Parameters
        ----------
        position : int
            An index position.
        initiative : Initiative

        Returns
        -------
        list of str
            At most one line.
        """
        text_index = self.index.text
        text = initiative_text(initiative)
        if text_index is None or not text:
            return []
        found = text_index.closest_partnership(position, text_index.encode_query(text))
        if found is None or found[1] <= 0:
            return []
        partnership = self.index.records.partnership(found[0])
        if partnership is None:
            return []
        where = ", ".join(
            str(part)
            for part in (partnership.start_year, "/".join(sorted(partnership.countries)))
            if part
        )
        return [
            f'past work: "{partnership.name}"'
            + (f" ({where})" if where else "")
            + f", similarity {found[1]:.2f}"
        ]

    def _best_held(self, need: str, held: Mapping[str, float]) -> str | None:
        """The held code serving ``need`` best (strength × credit), ``None`` if none does."""
        best = max(
            ((self._credit_of(need, code) * strength, code) for code, strength in held.items()),
            default=(0.0, ""),
        )
        return best[1] if best[0] > 0 else None

    def _label(self, vocabulary: str, code: str) -> str:
        """The taxonomy label of ``code`` (the code itself if the vocabulary lacks it)."""
        terms = getattr(self.index.taxonomies, vocabulary)
        return terms[code].label if code in terms else code

    def _ground(self, rule: str) -> str:
        """An inference rule in words: ``role:funder`` → ``its role as funder``."""
        what, _, code = rule.partition(":")
        if what == "role":
            return f"its role as {self._label('roles', code).lower()}"
        if what == "activity":
            return f"its part in {self._label('activity_types', code).lower()}"
        if what == "kind":
            label = self._label("kinds", code).lower()
            return f"being {'an' if label[:1] in 'aeiou' else 'a'} {label}"
        return rule

    def _held(self, position: int) -> dict[str, float]:
        """The capability codes the organisation at ``position`` holds, with their strength
        (its row of ``capability_rows``, read without scipy's indexing)."""
        index = self.index
        matrix = index.capability_rows
        start, end = matrix.indptr[position : position + 2].tolist()
        codes = index.capability_codes
        return {
            codes[c]: v
            for c, v in zip(
                matrix.indices[start:end].tolist(), matrix.data[start:end].tolist(), strict=True
            )
        }

    def _most_recent(self, rows: Iterable[int]) -> list[int]:
        """Partnership ``rows`` most recent first (by start year; undated last, then id)."""
        records = self.index.records
        chosen = list(rows)
        years = records.start_years(np.asarray(chosen, dtype=np.int64)).tolist()
        ids = [records.partnership_ids[j] for j in chosen]
        order = sorted(range(len(chosen)), key=lambda k: (-years[k], ids[k]))
        return [chosen[k] for k in order]

    def _shared(self, a: int, b: int) -> list[int]:
        """The partnership rows the organisations at ``a`` and ``b`` shared, most recent
        first (none unless they have a tie in the collaboration matrix)."""
        if a == b or self._tie(a, b) <= 0:
            return []
        records = self.index.records
        common = np.intersect1d(records.partnership_rows_of(a), records.partnership_rows_of(b))
        return self._most_recent(common.tolist())

    def _tie(self, a: int, b: int) -> float:
        """``collaboration[a, b]``, read from row ``a`` without scipy's indexing."""
        matrix = self.index.collaboration
        start, end = matrix.indptr[a : a + 2].tolist()
        hits = np.flatnonzero(matrix.indices[start:end] == b)
        return float(matrix.data[start + hits].sum()) if hits.size else 0.0

    def _past(self, row: int) -> PastPartnership:
        """The partnership at ``row`` as :class:`~matcher.engine.reasons.PastPartnership`."""
        partnership = self.index.records.partnership_at(row)
        countries = self.index.taxonomies.countries
        return PastPartnership(
            partnership.name,
            partnership.start_year,
            tuple(
                countries[c].name if c in countries else c for c in sorted(partnership.countries)
            ),
        )

    def _credit_of(self, need: str, code: str) -> float:
        """:func:`~matcher.domain.taxonomy.match_credit` of ``code`` for ``need``, memoised."""
        key = (need, code)
        credit = self._credit.get(key)
        if credit is None:
            vocabulary = self.index.taxonomies.capabilities
            credit = match_credit(vocabulary, need, code, self.credits)
            self._credit[key] = credit
        return credit


def _largest_first(values: npt.NDArray[np.float64], head: int = 64) -> Iterator[int]:
    """Indices of ``values`` from the largest value down, ties by the lower index: the
    ``head`` largest (and all that tie with the last of them) sorted first, the rest only if
    the caller reads that far, so a caller that stops early never sorts them all.

    >>> list(_largest_first(np.array([0.5, 0.9, 0.5, 0.1]), head=2))
    [1, 0, 2, 3]
    """
    if values.size > head:
        threshold = np.partition(values, values.size - head)[values.size - head]
        top = np.flatnonzero(values >= threshold)
        yield from top[np.argsort(-values[top], kind="stable")].tolist()
        rest = np.flatnonzero(values < threshold)
        yield from rest[np.argsort(-values[rest], kind="stable")].tolist()
    else:
        yield from np.argsort(-values, kind="stable").tolist()


def covers(problem: Problem, slot: int, need_codes: Sequence[str]) -> dict[str, float]:
    """The needs the candidate at ``slot`` covers, with its coverage rounded to 6 digits.

    Parameters
    ----------
    problem : Problem
    slot : int
        A row of ``problem.cover``.
    need_codes : sequence of str
        The needs' codes, one per column of ``problem.cover``.

    Returns
    -------
    dict of str to float
        Only needs covered above 0, in the needs' order.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> problem = SimpleNamespace(cover=np.array([[0.5, 0.0, 1 / 3]]))
    >>> covers(problem, 0, ["funding", "research", "training"])
    {'funding': 0.5, 'training': 0.333333}
    """
    return {
        code: round(float(problem.cover[slot, j]), 6)
        for j, code in enumerate(need_codes)
        if problem.cover[slot, j] > 0
    }
