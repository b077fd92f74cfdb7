"""The ``partnermatch`` command line (DESIGN.md 5.3).

Exit codes: 0 on success, 1 when the work failed (with the reason on stderr), 2 on bad
usage, including a sub-command that is not implemented yet.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
from tqdm import tqdm

from matcher.domain.dataset import RECORD_KINDS, Dataset
from matcher.domain.exceptions import DataDirectoryError, PartnerMatchError, ValidationError
from matcher.domain.model import Initiative
from matcher.domain.taxonomy import Taxonomies
from matcher.engine.evaluation import render_text, run_evaluation
from matcher.formats.cordis import convert_cordis_directory
from matcher.formats.datadir import read_data_directory
from matcher.formats.generate import generate_directory
from matcher.formats.iati import IatiXmlError, convert_iati, iati_sources
from matcher.formats.taxonomy_io import load_taxonomies
from matcher.integrity.sanctions import DEFAULT_THRESHOLD, parse_consolidated_list
from matcher.storage.catalog import SqlCatalog
from matcher.storage.repository import ImportReport
from matcher.storage.sql import SqlRepository, open_repository
from matcher.usecases.decisions import load_history
from matcher.usecases.directories import export_directory, import_directory, load_dataset
from matcher.usecases.drafting import draft_note
from matcher.usecases.indexing import build_index_snapshot, snapshot_recommender
from matcher.usecases.recommending import format_recommendation, recommend
from matcher.usecases.screening import dismiss_flag, screen_sanctions

__all__ = ["cli", "main", "default_database_url"]

#: Imports writing more rows than this show a progress bar.
PROGRESS_THRESHOLD = 5_000
#: IATI conversions reading more bytes than this show a progress bar.
IATI_PROGRESS_BYTES = 20_000_000


def default_database_url() -> str:
    """``$PARTNERMATCH_DATABASE_URL``, else a SQLite file under ``./var/``."""
    return os.environ.get("PARTNERMATCH_DATABASE_URL") or "sqlite:///var/partnermatch.db"


def _db_option(function: Any) -> Any:
    return click.option(
        "--db",
        "database_url",
        default=default_database_url,
        show_default="$PARTNERMATCH_DATABASE_URL or sqlite:///var/partnermatch.db",
        help="Database URL.",
    )(function)


def _data_option(function: Any) -> Any:
    """``--data``: read the organisations from a data directory rather than the database."""
    return click.option(
        "--data",
        "data_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Read organisations from a data directory instead of the database.",
    )(function)


def _snapshot_option(help_text: str) -> Callable[[Any], Any]:
    """``--snapshot``: answer from an index snapshot folder; ``help_text`` says how."""
    return click.option(
        "--snapshot",
        "snapshot_path",
        type=click.Path(file_okay=False, path_type=Path),
        help=help_text,
    )


def _format_option(function: Any) -> Any:
    """``--format json|text`` (text by default)."""
    return click.option(
        "--format", "output_format", type=click.Choice(["json", "text"]), default="text"
    )(function)


def _text_encoder_option(
    choices: Sequence[str], *, default: str, help_text: str
) -> Callable[[Any], Any]:
    """``--text-encoder``: which text encoder reads the words (``none``: no words)."""
    return click.option(
        "--text-encoder",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help=help_text,
    )


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _rejected(err: DataDirectoryError, directory: object, consequence: str = "") -> NoReturn:
    """Every problem of a rejected data directory on stderr, then the count; exit 1."""
    for problem in err.problems:
        click.echo(problem, err=True)
    _fail(f"{directory} rejected: {len(err.problems)} problem(s){consequence}")


def _echo_written(counts: Mapping[str, int], out: Path) -> None:
    """The rows written per file of a data directory, then where it is."""
    for name, count in counts.items():
        click.echo(f"  {name.replace('_', ' '):<34}{count:>8}")
    click.echo(f"wrote {out}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="partnermatch")
def cli() -> None:
    """Suggest complementary partner coalitions for multi-stakeholder partnerships."""


def _progress_bar() -> Callable[[str, int, int], None]:
    """A tqdm bar on stderr, shown only for imports of more than a few thousand rows."""
    state: dict[str, Any] = {}

    def update(table: str, rows: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = tqdm(
                total=total, unit="row", file=sys.stderr, disable=total < PROGRESS_THRESHOLD
            )
        state["bar"].set_description(table)
        state["bar"].update(rows)
        if state["bar"].n >= total:
            state["bar"].close()

    return update


def _embedding_bar() -> Callable[[int, int], None]:
    """A progress bar on stderr for embedding texts, shown once there are many."""
    bar: tqdm[Any] | None = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if total < 1000:
            return
        if bar is None:
            bar = tqdm(total=total, desc="embedding texts", unit="text", file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def _print_summary(directory: Path | str, summary: dict[str, Any]) -> None:
    click.echo(f"{directory}: valid")
    counts = {key: summary[key] for key in (*RECORD_KINDS, "countries", "capability_codes_used")}
    for key, value in counts.items():
        click.echo(f"  {key.replace('_', ' '):<22}{value:>8}")
    for key in ("by_kind", "by_sector", "by_outcome"):
        breakdown = ", ".join(f"{name} {count}" for name, count in summary[key].items())
        click.echo(f"  {key.replace('_', ' '):<22}{breakdown}")


def _print_report(report: ImportReport, database_url: str) -> None:
    verb = "would change" if report.dry_run else "imported into"
    click.echo(f"{verb} {database_url}:")
    click.echo(f"  {'table':<16}{'inserted':>10}{'updated':>10}{'unchanged':>10}{'deleted':>10}")
    for name, counts in report.tables.items():
        click.echo(
            f"  {name:<16}{counts.inserted:>10}{counts.updated:>10}{counts.unchanged:>10}"
            f"{counts.deleted:>10}"
        )


def _repository(database_url: str) -> SqlRepository:
    return open_repository(database_url, load_taxonomies())


def _dataset(taxonomies: Taxonomies, data_dir: Path | None, database_url: str) -> Dataset:
    """The organisations and history of ``data_dir`` when given, else of the database."""
    repository = None if data_dir is not None else _repository(database_url)
    return load_dataset(taxonomies, data_dir=data_dir, repository=repository)


@cli.command("import")
@click.argument(
    "directories", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path)
)
@_db_option
@click.option("--dry-run", is_flag=True, help="Validate and count changes; write nothing.")
def import_command(directories: tuple[Path, ...], database_url: str, dry_run: bool) -> None:
    """Validate and load data directories, all or nothing.

    Several DIRECTORIES are merged first: organisations sharing an id or a registry
    identifier (the `identifiers` column) are one, under the id of the first directory.
    """
    directory = ", ".join(str(folder) for folder in directories)
    try:
        result = import_directory(
            _repository(database_url),
            directories,
            load_taxonomies(),
            actor=f"cli:{getpass.getuser()}",
            dry_run=dry_run,
            progress=_progress_bar(),
        )
    except DataDirectoryError as err:
        _rejected(err, directory, ", nothing imported")
    except PartnerMatchError as err:
        _fail(str(err))
    _print_summary(directory, result.summary)
    if result.merges:
        click.echo(f"merged {len(result.merges)} organisation(s) sharing an id or identifier:")
        for merge in result.merges:
            click.echo(f"  {merge.merged} -> {merge.kept} ({merge.reason})")
    _print_report(result.report, database_url)


@cli.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@_db_option
@click.option(
    "--spreadsheet-safe",
    is_flag=True,
    help="Prefix with ' the cells a spreadsheet would run as formulas (=, +, -, @): for "
    "opening in Excel or LibreOffice, not for importing back.",
)
def export_command(directory: Path, database_url: str, spreadsheet_safe: bool) -> None:
    """Write the database back as a data directory (byte-faithful interchange by default)."""
    try:
        counts = export_directory(
            _repository(database_url),
            directory,
            load_taxonomies(),
            spreadsheet_safe=spreadsheet_safe,
        )
    except (PartnerMatchError, OSError) as err:
        _fail(str(err))
    click.echo(f"exported {database_url} to {directory}:")
    for key, value in counts.items():
        click.echo(f"  {key:<22}{value:>8}")


@cli.command("recommend")
@click.argument("initiative_file", type=click.Path(dir_okay=False, path_type=Path))
@_data_option
@_db_option
@_snapshot_option("Answer from an index snapshot (partnermatch index build), memory-mapped.")
@click.option("--count", type=click.IntRange(1, 50), help="Number of coalitions.")
@_format_option
def recommend_command(
    initiative_file: Path,
    data_dir: Path | None,
    database_url: str,
    snapshot_path: Path | None,
    count: int | None,
    output_format: str,
) -> None:
    """Coalitions for one initiative."""
    if snapshot_path is not None and data_dir is not None:
        raise click.UsageError("give --snapshot or --data, not both")
    try:
        body = json.loads(initiative_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        _fail(f"cannot read {initiative_file}: {err}")
    except json.JSONDecodeError as err:
        _fail(f"{initiative_file} is not valid JSON: {err}")
    try:
        if count is not None and isinstance(body, dict):
            body = {**body, "count": count}
        initiative = Initiative.from_mapping(body)
        if snapshot_path is not None:
            result = snapshot_recommender(snapshot_path).recommend(initiative)
        elif data_dir is not None:
            taxonomies = load_taxonomies()
            result = recommend(load_dataset(taxonomies, data_dir=data_dir), initiative)
        else:  # the database: with the reviewers' decisions, as the service recommends
            taxonomies = load_taxonomies()
            repository = _repository(database_url)
            history = load_history(repository, SqlCatalog(repository.engine, taxonomies))
            result = recommend(history.dataset, initiative, rejections=history.rejections)
    except DataDirectoryError as err:
        _rejected(err, data_dir)
    except ValidationError as err:
        where = f" (at {err.field})" if err.field else ""
        _fail(f"{initiative_file}: {err}{where}")
    except PartnerMatchError as err:
        _fail(str(err))
    if output_format == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_recommendation(result))


@cli.command("draft")
@click.argument("note", type=click.File("r", encoding="utf-8"))
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Recognise the lead among this data directory's organisations.",
)
@click.option(
    "--db",
    "database_url",
    help="Recognise the lead among this database's organisations.",
)
@_text_encoder_option(
    ("use", "none"),
    default="use",
    help_text="use: also suggest terms close in meaning to a sentence (below acceptance).",
)
@_format_option
def draft_command(
    note: Any,
    data_dir: Path | None,
    database_url: str | None,
    text_encoder: str,
    output_format: str,
) -> None:
    """A concept note (English or French; - for standard input) into a draft initiative."""
    text = note.read()
    if not text.strip():
        _fail(f"{note.name}: the note is empty")
    try:
        taxonomies = load_taxonomies()
        organisations = None
        if data_dir is not None or database_url:
            dataset = _dataset(taxonomies, data_dir, str(database_url))
            taxonomies, organisations = dataset.taxonomies, dataset.organisations
        draft = draft_note(
            text,
            taxonomies,
            organisations,
            text_encoder=None if text_encoder == "none" else text_encoder,
        )
    except DataDirectoryError as err:
        _rejected(err, data_dir)
    except PartnerMatchError as err:
        _fail(str(err))
    if output_format == "json":
        click.echo(json.dumps(draft.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(f"language: {draft.language}")
    click.echo(json.dumps(draft.initiative, indent=2, ensure_ascii=False))
    click.echo("suggestions (confidence, field, value, phrase):")
    for s in draft.suggestions:
        phrase = " ".join(s.phrase.split())
        click.echo(f"  {s.confidence:.2f}  {s.field:<15} {s.value:<45} {phrase[:60]!r}")


@cli.command("evaluate")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--split-year", type=int, required=True, help="First test year.")
@click.option("--k", type=click.IntRange(1), default=10, show_default=True)
@click.option("--min-size", type=click.IntRange(2), default=3, show_default=True)
@click.option("--max-cases", type=click.IntRange(1), help="A sample of N test cases.")
@click.option("--seed", type=int, default=0, show_default=True)
@_text_encoder_option(
    ("use", "tfidf"), default="use", help_text="How the product reads the partnerships' words."
)
@click.option(
    "--no-text", is_flag=True, help="The product without words (the baselines keep them)."
)
@click.option(
    "--ubiquitous-share",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="Leave out organisations in at least this share of history partnerships (0: none).",
)
@_format_option
def evaluate_command(
    data_dir: Path,
    split_year: int,
    k: int,
    min_size: int,
    max_cases: int | None,
    seed: int,
    text_encoder: str,
    no_text: bool,
    ubiquitous_share: float,
    output_format: str,
) -> None:
    """Hold-out evaluation on history, with baselines."""
    try:
        dataset = read_data_directory(data_dir)
        summary, details = run_evaluation(
            dataset,
            split_year=split_year,
            k=k,
            min_size=min_size,
            max_cases=max_cases,
            seed=seed,
            text_encoder=None if no_text else text_encoder,
            ubiquitous_share=ubiquitous_share,
            progress=_embedding_bar(),
        )
    except DataDirectoryError as err:
        _rejected(err, data_dir)
    except (PartnerMatchError, OSError) as err:
        _fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    if output_format == "json":
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(render_text(summary, details))


@cli.command("serve")
@_db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Threads per worker (requests are CPU-bound: prefer more workers).",
)
@click.option(
    "--snapshot-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("PARTNERMATCH_SNAPSHOT_DIR") or None,
    show_default="$PARTNERMATCH_SNAPSHOT_DIR, else none: each worker builds its own index",
    help="Serve memory-mapped index snapshots kept here, one per data version.",
)
def serve_command(
    database_url: str,
    host: str,
    port: int,
    workers: int,
    threads: int,
    snapshot_dir: Path | None,
) -> None:
    """The HTTP API under gunicorn (Ctrl-C or SIGTERM stops it)."""
    from service.server import serve

    try:
        _repository(database_url)  # migrate once, before the workers start
    except PartnerMatchError as err:
        _fail(str(err))
    click.echo(f"serving {database_url} on http://{host}:{port} with {workers} worker(s)")
    config: dict[str, Any] = {"DATABASE_URL": database_url}
    if snapshot_dir is not None:
        config["SNAPSHOT_DIR"] = str(snapshot_dir)
    serve(config, host=host, port=port, workers=workers, threads=threads)


@cli.group("index")
def index_group() -> None:
    """The index snapshot: the recommendation index written once, memory-mapped by readers."""


@index_group.command("build")
@_data_option
@_db_option
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Snapshot folder to write."
)
@click.option("--force", is_flag=True, help="Replace a snapshot already at --out.")
@_text_encoder_option(
    ("use", "tfidf", "none"),
    default="none",
    help_text="Embed the organisations' words into the snapshot (see README, Words).",
)
def index_build_command(
    data_dir: Path | None, database_url: str, out: Path, force: bool, text_encoder: str
) -> None:
    """Build the index and write it as a snapshot folder (written aside, then renamed)."""
    from matcher.engine.index import IndexConfig

    if out.exists() and not force:
        _fail(f"{out} already exists; use --force to replace it")
    try:
        taxonomies = load_taxonomies()
        repository = None if data_dir is not None else _repository(database_url)
        manifest = build_index_snapshot(
            taxonomies,
            out,
            data_dir=data_dir,
            repository=repository,
            config=IndexConfig(text_encoder=None if text_encoder == "none" else text_encoder),
            replace=force,
            text_progress=_embedding_bar(),
        )
    except DataDirectoryError as err:
        _rejected(err, data_dir)
    except PartnerMatchError as err:
        _fail(str(err))
    version = manifest["data_version"]
    click.echo(
        f"{out}: snapshot of {manifest['organisations']} organisations and "
        f"{manifest['partnerships']} partnerships"
        + (f" at data version {version}" if version is not None else "")
        + f", {manifest['bytes'] / 2**20:.1f} MiB in {len(manifest['arrays'])} arrays "
        f"(read {manifest['read_seconds']:.1f} s, index {manifest['index_seconds']:.1f} s, "
        f"write {manifest['write_seconds']:.1f} s)"
    )


@cli.command("report")
@click.argument("initiatives", type=click.Path(path_type=Path))
@_data_option
@_db_option
@_snapshot_option(
    "Recommend from an index snapshot (memory-mapped; the local pool's forked workers "
    "share its pages, Dask workers open it by its path, so they must see it)."
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", help="Dask scheduler address, with --engine dask.")
@click.option(
    "--workers",
    type=click.IntRange(1),
    help="Worker processes (default: the CPUs available; with --scheduler, the cluster's).",
)
@click.option(
    "--count", type=click.IntRange(1, 50), help="Coalitions per initiative (default: its own)."
)
@click.option(
    "--max-load",
    type=click.IntRange(1),
    help="Also choose one coalition per initiative, no partner in more than L of them.",
)
@click.option("--resume", is_flag=True, help="Skip initiatives whose outputs already exist.")
@click.option(
    "--concentration-threshold",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.25,
    show_default=True,
    help="Flag partners recommended to more than this share of the initiatives.",
)
@click.option(
    "--figures/--no-figures",
    default=True,
    show_default=True,
    help="Draw the coalition pictures and heat-maps (SVG).",
)
def report_command(
    initiatives: Path,
    data_dir: Path | None,
    database_url: str,
    snapshot_path: Path | None,
    out: Path,
    engine: str,
    scheduler: str | None,
    workers: int | None,
    count: int | None,
    max_load: int | None,
    resume: bool,
    concentration_threshold: float,
    figures: bool,
) -> None:
    """Batch match reports over a portfolio of initiatives.

    INITIATIVES is a folder of initiative JSON files, a JSON-lines file or a CSV file (see
    docs/batch-reports.md). Writes a report per initiative and the portfolio view
    (index.html, portfolio.csv, coalitions.csv, ...) into --out.
    """
    from matcher.engine.index import build_index
    from matcher.engine.recommend import CoalitionRecommender
    from matcher.formats.initiative_files import read_initiatives
    from service.batch import ReportOptions, run_report

    if scheduler and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")
    try:
        if snapshot_path is not None:
            recommender = snapshot_recommender(snapshot_path)
        else:
            dataset = _dataset(load_taxonomies(), data_dir, database_url)
            recommender = CoalitionRecommender().fit(build_index(dataset))
        entries = read_initiatives(initiatives, recommender.index_.taxonomies)
        if not entries:
            _fail(f"{initiatives}: no initiatives found")
        options = ReportOptions(
            out=out,
            engine=engine,
            scheduler=scheduler,
            workers=workers,
            count=count,
            max_load=max_load,
            resume=resume,
            concentration_threshold=concentration_threshold,
            figures=figures,
            snapshot=snapshot_path,
        )
        summary = run_report(entries, recommender, options, log=lambda line: click.echo(line))
    except DataDirectoryError as err:
        _rejected(err, data_dir)
    except (PartnerMatchError, OSError, TimeoutError) as err:
        _fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    rate = summary.computed / summary.compute_seconds if summary.compute_seconds > 0 else 0.0
    click.echo(
        f"{summary.succeeded} of {summary.initiatives} initiatives reported "
        f"({summary.computed} computed, {summary.resumed} resumed) in "
        f"{summary.compute_seconds:.1f} s ({rate:.1f}/s) after a {summary.startup_seconds:.1f} s "
        f"start-up; portfolio view {summary.portfolio_seconds:.1f} s"
    )
    if summary.assignment is not None:
        assignment = summary.assignment
        how = "proven optimal" if assignment.optimal else f"gap {assignment.gap:.1%} to the bound"
        click.echo(
            f"assignment (max load {max_load}): {assignment.assigned} initiatives, total score "
            f"{assignment.total_score:.3f} by {assignment.method}, {how}"
        )
    click.echo(f"wrote {out / 'index.html'}")
    if summary.failed:
        for initiative_id, _, reason in summary.errors[:5]:
            click.echo(f"{initiative_id}: {reason}", err=True)
        _fail(
            f"{summary.failed} of {summary.initiatives} initiatives failed; "
            f"see {out / 'errors.csv'}"
        )


@cli.command("screen")
@click.option(
    "--sanctions",
    "sanctions_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
    help="UN Security Council consolidated list (XML).",
)
@_db_option
@click.option(
    "--threshold",
    type=click.FloatRange(50, 100),
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="Lowest name similarity (0-100) that counts as a match.",
)
@click.option("--dry-run", is_flag=True, help="List the matches; write no flag.")
def screen_command(
    sanctions_file: Path, database_url: str, threshold: float, dry_run: bool
) -> None:
    """Screen organisation names and aliases against the UN sanctions list.

    New matches become `sanctions` flags at level escalated (excluded from recommendations);
    matches dismissed by a reviewer stay dismissed.
    """
    try:
        entries = parse_consolidated_list(sanctions_file)
        result = screen_sanctions(
            _repository(database_url),
            entries,
            threshold=threshold,
            actor=f"cli:{getpass.getuser()}",
            dry_run=dry_run,
        )
    except PartnerMatchError as err:
        _fail(str(err))
    for match in result.matches:
        click.echo(
            f"{match.org_id}: {match.org_name_matched!r} ~ {match.entry_reference} "
            f"{match.entry_name_matched!r} ({match.kind}) score {match.score:.1f}"
        )
    verb = "would flag" if dry_run else "flagged"
    click.echo(
        f"{len(entries)} list entries, {len(result.matches)} match(es): {verb} "
        f"{len(result.flagged)} new, {result.already_flagged} already flagged, "
        f"{result.dismissed} dismissed earlier (kept dismissed)"
    )


@cli.command("dismiss")
@click.argument("org_id")
@click.argument("source")
@click.option("--by", required=True, help="Who dismisses the flag (kept with it).")
@click.option("--reason", default="", help="Why it is a false positive.")
@_db_option
def dismiss_command(org_id: str, source: str, by: str, reason: str, database_url: str) -> None:
    """Dismiss a flag as a false positive (SOURCE as shown, e.g. un-sanctions:QDe.001)."""
    try:
        flag = dismiss_flag(_repository(database_url), org_id, source, by=by, reason=reason)
    except PartnerMatchError as err:
        _fail(str(err))
    click.echo(f"dismissed {flag.category} flag of {org_id} ({source}) by {by}")


@cli.command("generate")
@click.option("--orgs", type=click.IntRange(1), required=True, help="Number of organisations.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
def generate_command(orgs: int, out: Path, seed: int) -> None:
    """A synthetic data directory of any size."""
    try:
        counts = generate_directory(orgs, out, seed=seed, progress=True)
    except OSError as err:
        _fail(str(err))
    _echo_written(counts, out)


@cli.command("cordis")
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def cordis_command(src: Path, out: Path) -> None:
    """Convert CORDIS Horizon 2020 participations into a data directory."""
    try:
        counts = convert_cordis_directory(src, out)
    except DataDirectoryError as err:
        _fail("; ".join(err.problems))
    except OSError as err:
        _fail(str(err))
    _echo_written(counts, out)


@cli.command("iati")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option(
    "--publishers",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The IATI Registry's publishers.json: adds its organisations, lets refs find them.",
)
@click.option(
    "--open-licences-only",
    is_flag=True,
    help="Keep only the activities of publishers with an open licence (needs --publishers).",
)
def iati_command(
    sources: tuple[Path, ...], out: Path, publishers: Path | None, open_licences_only: bool
) -> None:
    """Convert IATI activity XML (files, folders, .xml.gz) into a data directory.

    Writes the interchange files into --out, with merges.csv (identity merges and
    conflicts), problems.csv (what was skipped, left out or unknown) and sources.csv (the
    reporting organisations and their licences).
    """
    if open_licences_only and publishers is None:
        raise click.UsageError("--open-licences-only needs --publishers")
    files = iati_sources(sources)
    total = sum(path.stat().st_size for path in files)
    bar = tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        file=sys.stderr,
        disable=total < IATI_PROGRESS_BYTES,
        desc="iati",
    )
    try:
        with bar:
            report = convert_iati(
                files,
                out,
                publishers=publishers,
                open_licences_only=open_licences_only,
                progress=bar.update,
            )
    except (IatiXmlError, OSError) as err:
        _fail(str(err))
    _echo_written(report.counts(), out)


@cli.group("keys")
def keys_group() -> None:
    """API keys."""


@keys_group.command("create")
@click.option("--role", type=click.Choice(["broker", "reviewer", "admin"]), required=True)
@click.option("--name", default="", help="Whose key it is (shown in the audit log).")
@_db_option
def keys_create_command(role: str, name: str, database_url: str) -> None:
    """Create an API key and print it: it is shown once, only its digest is kept."""
    from matcher.storage.catalog import SqlCatalog
    from matcher.usecases.apikeys import key_digest, new_key
    from service.config import resolve_secret_key

    try:
        repository = _repository(database_url)
        secret = resolve_secret_key(
            os.environ.get("PARTNERMATCH_SECRET_KEY"),
            os.environ.get("PARTNERMATCH_SECRET_KEY_FILE", "var/secret_key"),
        )
        key = new_key()
        SqlCatalog(repository.engine, repository.taxonomies).add_key(
            key.id,
            key_digest(key.token, secret.encode()),
            role=role,
            name=name,
            actor=f"cli:{getpass.getuser()}",
        )
    except PartnerMatchError as err:
        _fail(str(err))
    click.echo(key.token)
    click.echo(f"key {key.id} ({role}{', ' + name if name else ''}): keep it safe", err=True)


@keys_group.command("revoke")
@click.argument("key_id")
@_db_option
def keys_revoke_command(key_id: str, database_url: str) -> None:
    """Revoke an API key by its id (the part after ``pm_``)."""
    from matcher.storage.catalog import SqlCatalog

    try:
        repository = _repository(database_url)
        SqlCatalog(repository.engine, repository.taxonomies).revoke_key(
            key_id, actor=f"cli:{getpass.getuser()}"
        )
    except PartnerMatchError as err:
        _fail(str(err))
    click.echo(f"revoked {key_id}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return its exit code."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="partnermatch",
            standalone_mode=True,
        )
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
