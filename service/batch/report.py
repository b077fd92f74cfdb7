"""A batch report over a portfolio: run every initiative on an engine, write each one's files
atomically as it completes, then the portfolio view.

Output folder::

    index.html, balance.svg     the portfolio view
    portfolio.csv               one row per initiative: status, coverage, assignment
    coalitions.csv              one row per member per recommended coalition
    partners.csv                how often each partner is recommended (concentration)
    needs.csv                   needs no candidate covers (portfolio gaps)
    pools.csv                   initiatives of different leads that need the same partners
    errors.csv                  initiatives that failed, with the reason
    initiatives/<name>/         report.html, report.md, coalition-<k>.svg, coverage.svg,
                                result.json (written last: the initiative is done)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from matcher.engine.portfolio import (
    Assignment,
    assign_coalitions,
    balance,
    cross_agency_pools,
    partner_concentration,
    portfolio_gaps,
)
from matcher.engine.recommend import CoalitionRecommender
from matcher.formats.initiative_files import InitiativeEntry
from service.batch.engines import chunk_size, chunked, open_engine
from service.batch.outputs import csv_bytes, inside, remove_partial_files, safe_name, write_atomic
from service.batch.render import REPORT_HTML, render_portfolio
from service.batch.work import (
    RESULT_FILE,
    RESULT_VERSION,
    Outcome,
    ReportSettings,
    Task,
    fingerprint,
)

__all__ = [
    "INITIATIVES_FOLDER",
    "ReportOptions",
    "ReportSummary",
    "run_report",
    "COALITION_COLUMNS",
    "PORTFOLIO_COLUMNS",
]

INITIATIVES_FOLDER = "initiatives"
#: Partners and pools listed on the portfolio page (the CSV files hold all of them).
_PAGE_ROWS = 50

COALITION_COLUMNS = (
    "initiative_id",
    "lead",
    "lead_name",
    "coalition_rank",
    "coalition_score",
    "need_coverage",
    "solver",
    "optimality_gap",
    "member_rank",
    "member_id",
    "member_name",
    "kind",
    "sector",
    "country",
    "region",
    "marginal_gain",
    "covers",
    "activity_types",
    "path_to_lead",
    "flags",
    "assigned",
)
PORTFOLIO_COLUMNS = (
    "initiative_id",
    "title",
    "lead",
    "lead_name",
    "status",
    "coalitions",
    "top_score",
    "need_coverage",
    "gaps",
    "uncovered_needs",
    "assigned_rank",
    "assigned_score",
    "report",
    "reason",
)


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """How to run a batch report; see ``partnermatch report --help``."""

    out: Path
    engine: str = "local"
    scheduler: str | None = None
    workers: int | None = None
    count: int | None = None
    max_load: int | None = None
    resume: bool = False
    concentration_threshold: float = 0.25
    figures: bool = True
    chunk: int | None = None
    progress: bool = True
    #: The index snapshot the recommender was opened from: Dask workers open it by this path.
    snapshot: Path | None = None


@dataclass(slots=True)
class ReportSummary:
    """What a run did, and how long each part took."""

    initiatives: int
    succeeded: int
    failed: int
    resumed: int
    computed: int
    workers: int
    startup_seconds: float
    compute_seconds: float
    portfolio_seconds: float
    assignment: Assignment | None = None
    errors: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(slots=True)
class _Initiative:
    """One portfolio entry as the run sees it."""

    position: int
    id: str
    source: str
    folder: str
    result: dict[str, Any] | None = None
    error: str | None = None


def run_report(
    entries: Sequence[InitiativeEntry],
    recommender: CoalitionRecommender,
    options: ReportOptions,
    *,
    log: Callable[[str], None] | None = None,
) -> ReportSummary:
    """Report on every entry (those with a problem go straight to ``errors.csv``), then
    write the portfolio view. Initiatives already done are skipped with ``resume``."""
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    remove_partial_files(out)
    settings = ReportSettings(count=options.count, figures=options.figures)
    portfolio = [
        _Initiative(position, entry.id, entry.source, safe_name(entry.id), error=entry.problem)
        for position, entry in enumerate(entries)
    ]
    tasks: list[Task] = []
    resumed = 0
    for item, entry in zip(portfolio, entries, strict=True):
        if entry.initiative is None:
            continue
        task = Task(
            item.position, item.folder, entry.initiative, fingerprint(entry.initiative, settings)
        )
        previous = _finished(out, task) if options.resume else None
        if previous is not None:
            item.result = previous
            resumed += 1
        else:
            tasks.append(task)

    started = time.perf_counter()
    startup = 0.0
    workers = 0
    if tasks:
        engine = open_engine(
            options.engine,
            recommender,
            workers=options.workers,
            scheduler=options.scheduler,
            snapshot=options.snapshot,
        )
        with engine:
            startup = engine.startup_seconds
            workers = engine.workers
            if log:
                log(f"{engine.name} engine: {workers} worker(s) ready in {startup:.1f} s")
            size = options.chunk or chunk_size(len(tasks), workers)
            bar = tqdm(
                total=len(tasks),
                unit="initiative",
                file=sys.stderr,
                disable=None if options.progress else True,
            )
            with bar:
                for outcomes in engine.run(chunked(tasks, size), settings):
                    for outcome in outcomes:
                        _store(out, portfolio[outcome.position], outcome)
                    bar.update(len(outcomes))
            compute = time.perf_counter() - started - startup
    else:
        compute = 0.0

    started = time.perf_counter()
    assignment = _write_portfolio(out, portfolio, options)
    errors = [(item.id, item.source, item.error) for item in portfolio if item.error is not None]
    return ReportSummary(
        initiatives=len(portfolio),
        succeeded=sum(item.result is not None for item in portfolio),
        failed=len(errors),
        resumed=resumed,
        computed=len(tasks),
        workers=workers,
        startup_seconds=startup,
        compute_seconds=max(compute, 0.0),
        portfolio_seconds=time.perf_counter() - started,
        assignment=assignment,
        errors=errors,
    )


def _folder(out: Path, name: str) -> Path:
    return inside(out, INITIATIVES_FOLDER, name)


def _finished(out: Path, task: Task) -> dict[str, Any] | None:
    """The stored result of a task done by an earlier run with the same inputs, if whole."""
    folder = _folder(out, task.folder)
    try:
        result = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(result, dict)
        or result.get("version") != RESULT_VERSION
        or result.get("fingerprint") != task.fingerprint
        or result.get("id") != task.initiative.id
    ):
        return None
    if not all((folder / name).is_file() for name in result.get("files", [])):
        return None
    return result


def _store(out: Path, item: _Initiative, outcome: Outcome) -> None:
    """Write an outcome's files, ``result.json`` last; forget a stale result on failure."""
    folder = _folder(out, outcome.folder)
    if outcome.result is None:
        (folder / RESULT_FILE).unlink(missing_ok=True)
        item.error = outcome.error
        return
    for name, data in sorted(outcome.files.items()):
        write_atomic(inside(folder, name), data)
    for leftover in folder.iterdir():  # e.g. pictures of an earlier run with more coalitions
        if leftover.is_file() and leftover.name not in outcome.files:
            leftover.unlink()
    result_bytes = json.dumps(outcome.result, ensure_ascii=False, indent=1).encode("utf-8")
    write_atomic(folder / RESULT_FILE, result_bytes)
    item.result = outcome.result


# The portfolio view -----------------------------------------------------------------------


def _number(value: float | None, digits: int = 6) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _write_portfolio(
    out: Path, portfolio: Sequence[_Initiative], options: ReportOptions
) -> Assignment | None:
    done = [item for item in portfolio if item.result is not None]
    results = {item.id: item.result for item in done if item.result is not None}
    facts: dict[str, Mapping[str, Any]] = {}
    for result in results.values():
        facts.update(result["organisations"])

    coalitions = {
        initiative_id: [[m["id"] for m in c["members"]] for c in result["coalitions"]]
        for initiative_id, result in results.items()
    }
    assignment = None
    chosen: dict[str, int] = {}
    if options.max_load is not None:
        ids = list(results)
        assignment = assign_coalitions(
            [
                [
                    (members, c["score"])
                    for members, c in zip(coalitions[i], results[i]["coalitions"], strict=True)
                ]
                for i in ids
            ],
            options.max_load,
        )
        chosen = {i: k + 1 for i, k in zip(ids, assignment.choice, strict=True) if k is not None}

    loads = partner_concentration(coalitions, threshold=options.concentration_threshold)
    gaps = portfolio_gaps({i: r["availability"] for i, r in results.items()})
    first_choices = {
        i: (results[i]["coalitions"][chosen[i] - 1] if i in chosen else results[i]["coalitions"][0])
        for i in results
        if results[i]["coalitions"]
    }
    pools = cross_agency_pools(
        {i: results[i]["lead"] for i in first_choices},
        {i: [m["id"] for m in c["members"]] for i, c in first_choices.items()},
    )
    every_coalition = [members for lists in coalitions.values() for members in lists]
    sectors = balance(every_coalition, {k: v["sector"] for k, v in facts.items()})
    regions = balance(every_coalition, {k: v["region"] for k, v in facts.items()}, missing="global")
    assigned_in: dict[str, int] = dict(assignment.loads) if assignment else {}

    def name(org_id: str) -> str:
        return str(facts.get(org_id, {}).get("name", org_id))

    files: dict[str, bytes] = {}
    files["coalitions.csv"] = csv_bytes(
        COALITION_COLUMNS, _coalition_rows(done, chosen, assignment)
    )
    portfolio_rows = [_portfolio_row(item, chosen, assignment) for item in portfolio]
    files["portfolio.csv"] = csv_bytes(PORTFOLIO_COLUMNS, portfolio_rows)
    files["partners.csv"] = csv_bytes(
        (
            "partner",
            "name",
            "sector",
            "region",
            "initiatives",
            "first_choice",
            "share",
            "over_threshold",
            "assigned_in",
        ),
        [
            (
                load.partner,
                name(load.partner),
                facts.get(load.partner, {}).get("sector") or "",
                facts.get(load.partner, {}).get("region") or "",
                load.initiatives,
                load.first_choice,
                _number(load.share, 4),
                "yes" if load.over_threshold else "no",
                assigned_in.get(load.partner, 0) if assignment else "",
            )
            for load in loads
        ],
    )
    files["needs.csv"] = csv_bytes(
        (
            "need",
            "asked_by",
            "uncovered_in",
            "everywhere",
            "best_available",
            "uncovered_initiatives",
        ),
        [
            (
                gap.need,
                len(gap.asked_by),
                len(gap.uncovered_in),
                "yes" if gap.everywhere else "no",
                _number(gap.best, 4),
                ";".join(gap.uncovered_in),
            )
            for gap in gaps
        ],
    )
    files["pools.csv"] = csv_bytes(
        ("partners", "partner_names", "initiatives", "leads"),
        [
            (
                ";".join(pool.partners),
                ";".join(name(p) for p in pool.partners),
                ";".join(pool.initiatives),
                ";".join(pool.leads),
            )
            for pool in pools
        ],
    )
    errors = [item for item in portfolio if item.error is not None]
    files["errors.csv"] = csv_bytes(
        ("initiative_id", "source", "reason"),
        [(item.id, item.source, item.error) for item in errors],
    )
    view = {
        "total": len(portfolio),
        "succeeded": len(done),
        "with_coalition": sum(bool(r["coalitions"]) for r in results.values()),
        "failed": len(errors),
        "count": options.count,
        "max_load": options.max_load,
        "threshold": options.concentration_threshold,
        "initiatives": [dict(zip(PORTFOLIO_COLUMNS, row, strict=True)) for row in portfolio_rows],
        "partners": [
            {
                "id": load.partner,
                "name": name(load.partner),
                "load": load,
                "assigned": assigned_in.get(load.partner, 0),
            }
            for load in loads[:_PAGE_ROWS]
        ],
        "partners_total": len(loads),
        "over_threshold": [
            {"id": load.partner, "name": name(load.partner), "load": load}
            for load in loads
            if load.over_threshold
        ],
        "gaps_everywhere": [gap for gap in gaps if gap.everywhere],
        "gaps_partial": [gap for gap in gaps if not gap.everywhere][:_PAGE_ROWS],
        "sectors": sectors,
        "regions": regions,
        "assignment": assignment,
        "unassigned": [
            item.id for item in done if assignment is not None and item.id not in chosen
        ],
        "pools": [
            {
                "partners": [name(p) for p in pool.partners],
                "initiatives": pool.initiatives,
                "leads": [name(lead) for lead in pool.leads],
            }
            for pool in pools[:_PAGE_ROWS]
        ],
        "pools_total": len(pools),
        "errors": errors,
    }
    files.update(render_portfolio(view, figures=options.figures))
    for file_name, data in files.items():
        write_atomic(out / file_name, data)
    return assignment


def _coalition_rows(
    done: Sequence[_Initiative], chosen: Mapping[str, int], assignment: Assignment | None
) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for item in done:
        result = item.result
        assert result is not None
        facts = result["organisations"]
        for coalition in result["coalitions"]:
            if assignment is None:
                assigned = ""
            else:
                assigned = "yes" if chosen.get(item.id) == coalition["rank"] else "no"
            for member_rank, member in enumerate(coalition["members"], start=1):
                org = facts[member["id"]]
                rows.append(
                    (
                        result["id"],
                        result["lead"],
                        facts[result["lead"]]["name"],
                        coalition["rank"],
                        _number(coalition["score"]),
                        _number(coalition["need_coverage"], 4),
                        coalition["solver"],
                        _number(coalition["optimality_gap"]),
                        member_rank,
                        member["id"],
                        org["name"],
                        org["kind"],
                        org["sector"] or "",
                        org["country"] or "",
                        org["region"] or "",
                        _number(member["marginal_gain"]),
                        ";".join(f"{need}:{value:.4f}" for need, value in member["covers"].items()),
                        ";".join(member["activity_types"]),
                        ">".join(member["path_to_lead"]),
                        ";".join(f"{f['category']}:{f['level']}" for f in member["flags"]),
                        assigned,
                    )
                )
    return rows


def _portfolio_row(
    item: _Initiative, chosen: Mapping[str, int], assignment: Assignment | None
) -> tuple[object, ...]:
    result = item.result
    if result is None:
        return (item.id, "", "", "", "failed", "", "", "", "", "", "", "", "", item.error or "")
    coalitions = result["coalitions"]
    top = coalitions[0] if coalitions else None
    rank = chosen.get(item.id)
    uncovered = [need for need, value in result["availability"].items() if value <= 0]
    return (
        result["id"],
        result["title"],
        result["lead"],
        result["organisations"][result["lead"]]["name"],
        "ok" if coalitions else "no coalition",
        len(coalitions),
        _number(top["score"]) if top else "",
        _number(top["need_coverage"], 4) if top else "",
        len(top["gaps"]) if top else "",
        ";".join(uncovered),
        rank if rank is not None else "",
        _number(coalitions[rank - 1]["score"]) if rank is not None else "",
        f"{INITIATIVES_FOLDER}/{item.folder}/{REPORT_HTML}",
        "" if coalitions else "; ".join(i["reason"] for i in result["infeasible"]),
    )
