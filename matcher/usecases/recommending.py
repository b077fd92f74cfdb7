"""Use cases of the recommendation engine: one request on a dataset, and its text form."""

from __future__ import annotations

from matcher.domain.dataset import Dataset
from matcher.domain.model import Initiative
from matcher.engine.index import build_index
from matcher.engine.recommend import CoalitionRecommender, EngineConfig, Recommendation

__all__ = ["recommend", "format_recommendation"]


def recommend(
    dataset: Dataset, initiative: Initiative, config: EngineConfig | None = None
) -> Recommendation:
    """Build the index of ``dataset`` and recommend coalitions for ``initiative``."""
    engine = CoalitionRecommender(config=config).fit(build_index(dataset))
    return engine.recommend(initiative)


def format_recommendation(result: Recommendation) -> str:
    """A recommendation as text a broker reads in a terminal."""
    initiative = result.initiative
    lines = [
        f"Initiative {initiative.id} (lead {initiative.lead}): {len(result.coalitions)} "
        f"coalition(s) from a pool of {result.pool_size} candidates"
    ]
    for reason in result.infeasible:
        lines.append(f"  no coalition: {reason}")
    for rank, coalition in enumerate(result.coalitions, start=1):
        lines.append("")
        lines.append(
            f"#{rank}  score {coalition.score:.3f}  ({coalition.solver}, within "
            f"{coalition.optimality_gap or 0:.1%} of the optimum at most)"
        )
        for member in coalition.members:
            covers = ", ".join(f"{need} {value:.2f}" for need, value in member.covers.items())
            path = " > ".join(member.path_to_lead) if member.path_to_lead else "no introduction"
            flags = ", ".join(f"{f.category} ({f.level.value})" for f in member.flags)
            lines.append(f"  {member.id:<28} +{member.marginal_gain:.3f}  covers: {covers or '-'}")
            lines.append(f"  {'':<28} via: {path}" + (f"  flags: {flags}" if flags else ""))
        parts = ", ".join(
            f"{term} {value:+.3f}" for term, value in coalition.score_parts.items() if value
        )
        lines.append(f"  parts: {parts}")
        for gap in coalition.gaps:
            best = (
                f"best to fill it: {gap.best_partner} ({gap.best_partner_coverage:.2f})"
                if gap.best_partner
                else "nobody eligible covers it"
            )
            lines.append(f"  gap: {gap.need} covered {gap.coverage:.2f}; {best}")
    if result.excluded:
        lines.append("")
        lines.append("Excluded by hard gates:")
        lines.extend(f"  {e.id}: {e.reason}" for e in result.excluded)
    return "\n".join(lines)
