"""Use cases: what the entry points (CLI, API, batch scripts) ask of the domain.

Each takes a repository and plain arguments and returns plain results, so the command line
and the HTTP API share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matcher.datadir import read_data_directory
from matcher.datadir_writer import write_data_directory
from matcher.dataset import Dataset
from matcher.index import build_index
from matcher.model import Initiative
from matcher.recommend import CoalitionRecommender, EngineConfig, Recommendation
from matcher.storage.repository import ImportReport, ProgressCallback, Repository
from matcher.taxonomy import Taxonomies

__all__ = [
    "ImportResult",
    "import_directory",
    "export_directory",
    "load_dataset",
    "recommend",
    "format_recommendation",
]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The validated directory's summary and what the import did."""

    summary: dict[str, Any]
    report: ImportReport


def import_directory(
    repository: Repository,
    folder: Path | str,
    taxonomies: Taxonomies,
    *,
    actor: str = "system",
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Validate a data directory, then upsert it in one transaction (unless ``dry_run``).

    Raises
    ------
    DataDirectoryError
        With every problem found; nothing is written.
    """
    dataset = read_data_directory(folder, taxonomies)
    report = repository.import_dataset(dataset, actor=actor, dry_run=dry_run, progress=progress)
    return ImportResult(summary=dataset.summary(), report=report)


def export_directory(
    repository: Repository, folder: Path | str, taxonomies: Taxonomies
) -> dict[str, int]:
    """Write everything stored as a data directory; return the row counts per table."""
    dataset = repository.load_dataset()
    write_data_directory(dataset, folder, taxonomies)
    summary = dataset.summary()
    return {
        key: summary[key]
        for key in (
            "organisations",
            "capabilities",
            "partnerships",
            "memberships",
            "flags",
            "conflicts",
        )
    }


def load_dataset(
    taxonomies: Taxonomies,
    *,
    data_dir: Path | str | None = None,
    repository: Repository | None = None,
) -> Dataset:
    """The dataset from a data directory, else from a repository."""
    if data_dir is not None:
        return read_data_directory(data_dir, taxonomies)
    if repository is None:
        raise ValueError("Give a data directory or a repository")
    return repository.load_dataset()


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
