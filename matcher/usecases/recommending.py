"""Use cases of the recommendation engine: one request on a dataset, and its text form."""

from __future__ import annotations

from collections.abc import Iterable

from matcher.domain.dataset import Dataset
from matcher.domain.model import Initiative
from matcher.engine.index import build_index
from matcher.engine.reasons import Rejection, needs_sentence, share_sentence, solver_sentence
from matcher.engine.recommend import CoalitionRecommender, EngineConfig, Recommendation

__all__ = ["recommend", "format_recommendation"]


def recommend(
    dataset: Dataset,
    initiative: Initiative,
    config: EngineConfig | None = None,
    *,
    rejections: Iterable[Rejection] = (),
) -> Recommendation:
    """Build the index of ``dataset`` and recommend coalitions for ``initiative`` (with the
    reviewers' earlier ``rejections``, see :mod:`matcher.usecases.decisions`)."""
    engine = CoalitionRecommender(config=config).fit(build_index(dataset), rejections=rejections)
    return engine.recommend(initiative)


def format_recommendation(result: Recommendation) -> str:
    """A recommendation as text a broker reads in a terminal: names first, ids in brackets;
    each coalition's score with its scale (its share of the best possible, the needs it
    covers) and the solver's answer in words, each member with its reasons."""
    initiative = result.initiative
    lead = result.lead
    lead_text = f"{lead.name} [{lead.id}]" if lead is not None else initiative.lead
    lines = [
        f"Initiative {initiative.id} (lead {lead_text}): {len(result.coalitions)} "
        f"coalition(s) from a pool of {result.pool_size} candidates"
    ]
    for item in result.infeasible:
        lines.append(f"  no coalition: {item.reason}")
        for relaxation in item.relaxations:
            names = ", ".join(str(m.get("name", m["id"])) for m in relaxation.members)
            lines.append(
                f"    try: {relaxation.description} -> {relaxation.coalitions} coalition(s), "
                f"best score {relaxation.best_score:.3f}: {names}"
            )
        if not item.relaxations and item.constraints:
            lines.append("    no relaxation of these constraints gives a coalition")
    for rank, coalition in enumerate(result.coalitions, start=1):
        lines.append("")
        share = share_sentence(coalition.optimality_gap)
        covered = len(initiative.needs) - len(coalition.gaps)
        lines.append(
            f"#{rank}  score {coalition.score:.2f}"
            + (f", {share}" if share is not None else "")
            + f"; {needs_sentence(covered, len(initiative.needs))}"
        )
        lines.append(
            f"    {solver_sentence(coalition.solver, coalition.optimality_gap, first=rank == 1)}"
            f" (solver {coalition.solver})"
        )
        for member in coalition.members:
            covers = ", ".join(f"{need} {value:.2f}" for need, value in member.covers.items())
            path = " > ".join(member.path_to_lead) if member.path_to_lead else "no introduction"
            flags = ", ".join(f"{f.category} ({f.level.value})" for f in member.flags)
            where = ", ".join(x for x in (member.kind, member.country) if x)
            lines.append(
                f"  {member.name or member.id} [{member.id}] ({where})  "
                f"+{member.marginal_gain:.3f}  covers: {covers or '-'}"
            )
            lines.append(f"      via: {path}" + (f"  flags: {flags}" if flags else ""))
            lines.extend(f"      {reason}" for reason in member.reasons)
        parts = ", ".join(
            f"{term} {value:+.3f}" for term, value in coalition.score_parts.items() if value
        )
        lines.append(f"  parts: {parts}")
        for gap in coalition.gaps:
            best = (
                f"best to fill it: {gap.best_partner_name or gap.best_partner} "
                f"[{gap.best_partner}] ({gap.best_partner_coverage:.2f})"
                if gap.best_partner
                else "nobody eligible covers it"
            )
            lines.append(f"  gap: {gap.need} covered {gap.coverage:.2f}; {best}")
    if result.excluded:
        lines.append("")
        lines.append("Excluded by hard gates:")
        lines.extend(f"  {e.id}: {e.reason}" for e in result.excluded)
    return "\n".join(lines)
