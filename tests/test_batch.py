"""``partnermatch report``: batch match reports over a portfolio, on a process pool or Dask."""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from matcher.usecases.indexing import snapshot_recommender
from service.batch.outputs import csv_bytes, inside, safe_name, spreadsheet_safe
from service.cli import cli
from tests.conftest import REPO_ROOT, SEED_DIR

SEED_INITIATIVES = SEED_DIR / "initiatives"
CSV_FILES = (
    "coalitions.csv",
    "portfolio.csv",
    "partners.csv",
    "needs.csv",
    "pools.csv",
    "errors.csv",
)


def _report(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["report", *map(str, args)])


def _dask_report_like(local: Path, out: Path, *cluster: str) -> Result:
    """The seed report on the Dask engine (``cluster``: its options) into ``out``, checked
    byte-identical in its CSV files to the local pool's report ``local``."""
    result = _report(
        SEED_INITIATIVES,
        "--data",
        SEED_DIR,
        "--out",
        out,
        "--engine",
        "dask",
        *cluster,
        "--max-load",
        "1",
    )
    assert result.exit_code == 0, result.output
    for name in CSV_FILES:
        assert (out / name).read_bytes() == (local / name).read_bytes(), name
    return result


def _seed_snapshot(out: Path) -> Path:
    """The seed's index snapshot, built by ``partnermatch index build`` at ``out``."""
    built = CliRunner().invoke(cli, ["index", "build", "--data", str(SEED_DIR), "--out", str(out)])
    assert built.exit_code == 0, built.output
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _seed_body(name: str) -> dict[str, object]:
    body: dict[str, object] = json.loads(
        (SEED_INITIATIVES / f"{name}.json").read_text(encoding="utf-8")
    )
    return body


def _jsonl(path: Path, bodies: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(body) + "\n" for body in bodies), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def seed_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("seed-report")
    result = _report(
        SEED_INITIATIVES, "--data", SEED_DIR, "--out", out, "--workers", "2", "--max-load", "1"
    )
    return result, out


def test_the_seed_report_runs_and_says_what_it_did(seed_report: tuple[Result, Path]) -> None:
    result, out = seed_report
    assert result.exit_code == 0, result.output
    assert "10 of 10 initiatives reported (10 computed, 0 resumed)" in result.stdout
    assert "assignment (max load 1): 5 initiatives" in result.stdout
    assert f"wrote {out / 'index.html'}" in result.stdout


def test_the_seed_report_recommends_the_coalitions_the_report_describes(
    seed_report: tuple[Result, Path],
) -> None:
    _, out = seed_report
    first = {}
    for row in _rows(out / "coalitions.csv"):
        if row["coalition_rank"] == "1":
            first.setdefault(row["initiative_id"], []).append(row)

    def members(initiative: str) -> list[tuple[str, str, str]]:
        return [
            (r["member_id"], r["coalition_score"], r["need_coverage"]) for r in first[initiative]
        ]

    def covers(initiative: str, member_rank: int) -> dict[str, str]:
        cell = first[initiative][member_rank - 1]["covers"]
        return dict(part.split(":") for part in cell.split(";"))

    # §49: UNICEF + Itau + CENPEC. Needs funding 1, materials 0.8, campaigns 0.6, local
    # presence 0.8: Itau's funding.investment.social serves funding fully, its campaigns
    # match; CENPEC's service_delivery.education is one level above materials (credit 0.5)
    # and its local presence is 0.8 in Brazil: (1 + 0.8*0.5 + 0.6 + 0.8*0.8) / 3.2 = 0.825.
    assert members("i49-edu-quality-brazil") == [
        ("itau", "6.614591", "0.8250"),
        ("cenpec", "6.614591", "0.8250"),
    ]
    itau_covers, cenpec_covers = (
        covers("i49-edu-quality-brazil", 1),
        covers("i49-edu-quality-brazil", 2),
    )
    assert (itau_covers["funding"], itau_covers["media_reach.campaigns"]) == ("1.0000", "1.0000")
    assert cenpec_covers["service_delivery.education.materials"] == "0.5000"
    assert cenpec_covers["local_presence"] == "0.8000"
    # §52: UNDP + Cisco for ICT skills in LDCs (Cisco's explicit ICT and training
    # capabilities cover all three technical needs), with a funder for the rest and UNHCR,
    # the only one with experience in a third wanted activity type: the MILP's proven optimum
    # (the default solver found 6.103 with Cisco and the Levi Strauss Foundation before).
    assert sorted(members("i52-ict-skills-africa-ldc")) == [
        ("cisco", "6.381624", "1.0000"),
        ("statoil", "6.381624", "1.0000"),
        ("unhcr", "6.381624", "1.0000"),
    ]
    cisco_rank = 1 + [r["member_id"] for r in first["i52-ict-skills-africa-ldc"]].index("cisco")
    assert covers("i52-ict-skills-africa-ldc", cisco_rank) == {
        "training.ict_skills": "1.0000",
        "technology.ict.networks": "1.0000",
        "training.trainers": "1.0000",
    }
    # §51: UNICEF + MTV Asia for young people's voice, a foundation's grants beside it.
    assert members("i51-youth-voice-asia") == [
        ("mtv-asia", "6.298316", "1.0000"),
        ("levi-strauss-foundation", "6.298316", "1.0000"),
    ]
    assert covers("i51-youth-voice-asia", 2)["funding.grants"] == "1.0000"
    itau = first["i49-edu-quality-brazil"][0]
    assert (itau["member_name"], itau["sector"], itau["country"], itau["region"]) == (
        "Itau",
        "private",
        "BR",
        "Americas",
    )
    assert itau["path_to_lead"] == "unicef>itau"
    assert itau["activity_types"] == "advocacy;fundraising;operational"


def test_every_initiative_gets_its_pages_pictures_and_status(
    seed_report: tuple[Result, Path],
) -> None:
    _, out = seed_report
    status = {row["initiative_id"]: row for row in _rows(out / "portfolio.csv")}
    assert len(status) == 10
    assert status["i55-small-enterprise-angola"]["status"] == "no coalition"
    assert "require_local_partner" in status["i55-small-enterprise-angola"]["reason"]
    assert status["i49-edu-quality-brazil"]["status"] == "ok"
    assert status["i49-edu-quality-brazil"]["top_score"] == "6.614591"
    folder = out / "initiatives" / "i49-edu-quality-brazil"
    assert sorted(p.name for p in folder.iterdir()) == [
        "coalition-1.svg",
        "coalition-2.svg",
        "coalition-3.svg",
        "coverage.svg",
        "report.html",
        "report.md",
        "result.json",
    ]
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert '<img src="coalition-1.svg"' in page and '<img src="coverage.svg"' in page
    assert "CENPEC" in page and "Excluded candidates" in page
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "![Coalition 1](coalition-1.svg)" in markdown
    assert "| **Itau** (`itau`) |" in markdown
    assert (folder / "coverage.svg").read_bytes().startswith(b"<?xml")
    nothing = out / "initiatives" / "i55-small-enterprise-angola"
    assert (
        "no eligible candidate in the target countries (AO)"
        in (nothing / "report.html").read_text()
    )
    assert _rows(out / "errors.csv") == []


def test_max_load_puts_no_partner_in_more_coalitions_than_allowed(
    seed_report: tuple[Result, Path],
) -> None:
    _, out = seed_report
    rows = _rows(out / "coalitions.csv")
    assigned = [row for row in rows if row["assigned"] == "yes"]
    assert max(Counter(row["member_id"] for row in assigned).values()) == 1
    chosen = {(row["initiative_id"], row["coalition_rank"]) for row in assigned}
    assert len(chosen) == len({initiative for initiative, _ in chosen}) == 5
    portfolio = {row["initiative_id"]: row["assigned_rank"] for row in _rows(out / "portfolio.csv")}
    assert {(i, r) for i, r in portfolio.items() if r} == chosen
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Portfolio assignment (at most 1 coalition(s) per partner)" in page
    assert "proven optimal" in page


def test_the_portfolio_view_counts_partners_balance_and_pools(
    seed_report: tuple[Result, Path],
) -> None:
    _, out = seed_report
    partners = {row["partner"]: row for row in _rows(out / "partners.csv")}
    # Cisco is recommended (in some coalition) to i28 and i52, in the first coalition of both.
    assert (partners["cisco"]["initiatives"], partners["cisco"]["first_choice"]) == ("2", "2")
    assert partners["cisco"]["share"] == "0.2857"  # 2 of the 7 initiatives with a coalition
    assert partners["cisco"]["over_threshold"] == "yes"
    pools = _rows(out / "pools.csv")
    assert all(len(set(row["leads"].split(";"))) >= 2 for row in pools)
    page = (out / "index.html").read_text(encoding="utf-8")
    for heading in ("Coverage per initiative", "Partners across the portfolio", "Portfolio gaps"):
        assert heading in page
    assert "Sector and region balance" in page and '<img src="balance.svg"' in page
    assert "Cross-agency pooling" in page


def test_hostile_names_render_as_text_and_never_as_formulas(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(SEED_DIR, data, ignore=shutil.ignore_patterns("initiatives", "README.md"))
    organisations = _rows(data / "organisations.csv")
    renamed = {"itau": "<script>alert(1)</script>", "cenpec": '=HYPERLINK("http://x","y")'}
    for row in organisations:
        row["name"] = renamed.get(row["id"], row["name"])
    with (data / "organisations.csv").open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(organisations[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(organisations)
    body = {**_seed_body("i49-edu-quality-brazil"), "title": "@SUM(A1) <b>bold</b>"}
    out = tmp_path / "out"
    result = _report(
        _jsonl(tmp_path / "one.jsonl", [body]), "--data", data, "--out", out, "--workers", "1"
    )
    assert result.exit_code == 0, result.output
    folder = out / "initiatives" / "i49-edu-quality-brazil"
    for page in (folder / "report.html", out / "index.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script>" not in text and "<b>bold</b>" not in text
    html_page = (folder / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_page
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown and "<script>" not in markdown
    assert b"<script>" not in (folder / "coalition-1.svg").read_bytes()
    names = {row["member_id"]: row["member_name"] for row in _rows(out / "coalitions.csv")}
    assert names["cenpec"] == '\'=HYPERLINK("http://x","y")'
    assert _rows(out / "portfolio.csv")[0]["title"] == "'@SUM(A1) <b>bold</b>"


def test_every_csv_cell_a_spreadsheet_would_run_is_escaped() -> None:
    cells = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx", "-0.25", "+3", "plain", ""]
    written = csv_bytes(["=header"], [cells]).decode("utf-8")
    assert list(csv.reader(io.StringIO(written, newline=""))) == [
        ["'=header"],
        ["'=1+1", "'+1+1", "'-1+1", "'@SUM(A1)", "'\tx", "'\rx", "-0.25", "+3", "plain", ""],
    ]
    assert spreadsheet_safe(None) == ""


def test_ids_cannot_lead_a_report_out_of_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    bodies = [
        {**_seed_body("i51-youth-voice-asia"), "id": "..", "count": 1},
        {**_seed_body("i51-youth-voice-asia"), "id": "../../etc", "count": 1},
        {**_seed_body("i51-youth-voice-asia"), "id": "CON", "count": 1},
    ]
    before = {p for p in tmp_path.rglob("*")}
    result = _report(
        _jsonl(tmp_path / "evil.jsonl", bodies), "--data", SEED_DIR, "--out", out, "--no-figures"
    )
    assert result.exit_code == 1  # "../../etc" is no valid id
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(out in p.parents or p == out for p in created - {tmp_path / "evil.jsonl"})
    folders = sorted(p.name for p in (out / "initiatives").iterdir())
    assert folders == [safe_name("CON"), safe_name("..")]
    assert all("." not in name and "/" not in name for name in folders)
    [error] = _rows(out / "errors.csv")
    assert error["initiative_id"] == "evil-2"
    assert "Initiative id '../../etc' is invalid" in error["reason"]
    with pytest.raises(ValueError, match="outside"):
        inside(out, "..", "escaped.html")


def test_a_failing_initiative_goes_to_errors_csv_and_the_others_complete(tmp_path: Path) -> None:
    out = tmp_path / "out"
    bodies = [
        _seed_body("i49-edu-quality-brazil"),
        {**_seed_body("i51-youth-voice-asia"), "colour": "blue"},
        {**_seed_body("i52-ict-skills-africa-ldc"), "lead": "nobody"},
        _seed_body("i57-local-sd-poland"),
    ]
    result = _report(
        _jsonl(tmp_path / "mixed.jsonl", bodies), "--data", SEED_DIR, "--out", out, "--no-figures"
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: 2 of 4 initiatives failed; see {out / 'errors.csv'}"
    )
    assert _rows(out / "errors.csv") == [
        {
            "initiative_id": "i51-youth-voice-asia",
            "source": "mixed.jsonl:2",
            "reason": "mixed.jsonl:2: colour: Unknown field 'colour' in initiative",
        },
        {
            "initiative_id": "i52-ict-skills-africa-ldc",
            "source": "mixed.jsonl:3",
            "reason": "Organisation 'nobody' not found",
        },
    ]
    for done in ("i49-edu-quality-brazil", "i57-local-sd-poland"):
        assert (out / "initiatives" / done / "report.html").exists()
    statuses = [row["status"] for row in _rows(out / "portfolio.csv")]
    assert statuses == ["ok", "failed", "failed", "ok"]


def test_resume_redoes_only_what_a_killed_run_left_unfinished(tmp_path: Path) -> None:
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    args = ["--data", SEED_DIR, "--no-figures", "--max-load", "2"]
    assert _report(SEED_INITIATIVES, "--out", clean, *args).exit_code == 0
    shutil.copytree(clean, killed)
    # A run killed while writing i50: its marker is missing, its page stale, a temporary
    # file left behind, and the portfolio view never written.
    folder = killed / "initiatives" / "i50-child-labour-india"
    (folder / "result.json").unlink()
    (folder / "report.html").write_text("stale")
    (folder / ".report.html.k3j2x.partial").write_text("<html><body>half")
    for name in CSV_FILES:
        (killed / name).unlink()
    result = _report(SEED_INITIATIVES, "--out", killed, "--resume", *args)
    assert result.exit_code == 0, result.output
    assert "(1 computed, 9 resumed)" in result.stdout
    assert not list(killed.rglob("*.partial"))
    assert _tree(killed) == _tree(clean)


def test_resume_redoes_an_initiative_whose_settings_changed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    one = _jsonl(tmp_path / "one.jsonl", [_seed_body("i49-edu-quality-brazil")])
    assert _report(one, "--data", SEED_DIR, "--out", out, "--no-figures").exit_code == 0
    again = _report(
        one, "--data", SEED_DIR, "--out", out, "--no-figures", "--resume", "--count", "1"
    )
    assert "(1 computed, 0 resumed)" in again.stdout
    assert {row["coalition_rank"] for row in _rows(out / "coalitions.csv")} == {"1"}


def test_a_scheduler_without_the_dask_engine_is_bad_usage(tmp_path: Path) -> None:
    result = _report(
        SEED_INITIATIVES, "--data", SEED_DIR, "--out", tmp_path, "--scheduler", "tcp://x:1"
    )
    assert result.exit_code == 2
    assert "--scheduler needs --engine dask" in result.stderr


def test_an_unreadable_portfolio_fails_with_one_line(tmp_path: Path) -> None:
    result = _report(tmp_path / "missing.csv", "--data", SEED_DIR, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr == f"error: {tmp_path / 'missing.csv'}: no such file or folder\n"


def test_a_csv_portfolio_reports_like_the_json_one(tmp_path: Path) -> None:
    portfolio = tmp_path / "fair.csv"
    portfolio.write_text(
        "id,lead,themes,countries,activity_types,needs,max_size,required_sectors,"
        "require_local_partner,count\n"
        "i49-edu-quality-brazil,unicef,education,BR,fundraising;operational;advocacy,"
        "funding:1.0;service_delivery.education.materials:0.8;media_reach.campaigns:0.6;"
        "local_presence:0.8,5,private;civil_society,true,3\n",
        encoding="utf-8",
    )
    result = _report(portfolio, "--data", SEED_DIR, "--out", tmp_path / "out", "--no-figures")
    assert result.exit_code == 0, result.output
    rows = [r for r in _rows(tmp_path / "out" / "coalitions.csv") if r["coalition_rank"] == "1"]
    assert [(r["member_id"], r["coalition_score"]) for r in rows] == [
        ("itau", "6.614591"),
        ("cenpec", "6.614591"),
    ]


def test_a_recommender_from_a_snapshot_ships_as_its_path_and_answers_the_same(
    tmp_path: Path,
) -> None:
    from matcher.domain.model import Initiative
    from service.batch.work import SnapshotRecipe, dump_recommender, load_recommender

    snapshot = _seed_snapshot(tmp_path / "seed.snapshot")
    recommender = snapshot_recommender(snapshot)
    whole = dump_recommender(recommender)
    by_path = dump_recommender(recommender, snapshot=snapshot)
    assert len(by_path) < 10_000 < len(whole)  # the configuration, not the index's arrays
    assert isinstance(pickle.loads(by_path), SnapshotRecipe)
    opened = load_recommender(by_path)
    assert opened is not recommender and opened.config == recommender.config
    initiative = Initiative.from_mapping(_seed_body("i50-child-labour-india"))
    assert opened.recommend(initiative).to_dict() == recommender.recommend(initiative).to_dict()


# Slow: Dask clusters and a real kill ---------------------------------------------------------


@pytest.mark.slow
def test_dask_gives_byte_identical_reports_to_the_local_pool(
    seed_report: tuple[Result, Path], tmp_path: Path
) -> None:
    _, local = seed_report
    out = tmp_path / "dask"
    result = _dask_report_like(local, out, "--workers", "2")
    assert "dask engine: 2 worker(s) ready" in result.stdout
    assert _tree(out) == _tree(local)  # pages and pictures too


@pytest.mark.slow
def test_dask_workers_opening_the_snapshot_give_the_reports_of_the_local_pool(
    tmp_path: Path,
) -> None:
    snapshot = _seed_snapshot(tmp_path / "seed.snapshot")
    reports = {}
    for engine in ("local", "dask"):
        out = tmp_path / engine
        result = _report(
            SEED_INITIATIVES, "--snapshot", snapshot, "--out", out, "--engine", engine,
            "--workers", "2", "--max-load", "1",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        reports[engine] = _tree(out)
    assert reports["dask"] == reports["local"]
    assert any(name.endswith("result.json") for name in reports["local"])


@pytest.mark.slow
def test_an_existing_dask_cluster_is_used_by_address_and_keeps_malloc_trim_unset(
    seed_report: tuple[Result, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dask
    from distributed import Client, LocalCluster

    from service.batch.engines import DaskEngine

    _, local = seed_report
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            local_directory=str(tmp_path / "scratch"),
        ) as cluster,
    ):
        _dask_report_like(local, tmp_path / "dask", "--scheduler", cluster.scheduler_address)
    # The engine's own cluster starts its workers without MALLOC_TRIM_THRESHOLD_, even when
    # this process has it (as an earlier nanny with Dask's defaults would have left it).
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    from matcher.engine.index import build_index
    from matcher.engine.recommend import CoalitionRecommender
    from matcher.formats.datadir import read_data_directory

    recommender = CoalitionRecommender().fit(build_index(read_data_directory(SEED_DIR)))
    with DaskEngine(recommender, workers=2) as engine:
        client: Client = engine.client
        assert set(client.run(os.getenv, "MALLOC_TRIM_THRESHOLD_").values()) == {None}
        assert set(client.run(os.getenv, "OMP_NUM_THREADS").values()) == {"1"}
        assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"


@pytest.mark.slow
def test_resume_after_sigkill_completes_to_the_same_files_as_a_clean_run(tmp_path: Path) -> None:
    bodies = [
        {**_seed_body(path.stem), "id": f"{path.stem}-{copy}"}
        for copy in range(25)
        for path in sorted(SEED_INITIATIVES.glob("*.json"))
    ]
    portfolio = _jsonl(tmp_path / "fair.jsonl", bodies)
    command = [
        sys.executable,
        "-m",
        "service.cli",
        "report",
        str(portfolio),
        "--data",
        str(SEED_DIR),
    ]
    options = ["--no-figures", "--workers", "2", "--max-load", "3"]
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [*command, "--out", str(killed), *options],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(list(killed.glob("initiatives/*/result.json"))) < 30:
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not (killed / "coalitions.csv").exists()
    done_before = len(list(killed.glob("initiatives/*/result.json")))
    assert 30 <= done_before < len(bodies)
    resumed = _report(portfolio, "--data", SEED_DIR, "--out", killed, "--resume", *options)
    assert resumed.exit_code == 0, resumed.output
    assert f"({len(bodies) - done_before} computed, {done_before} resumed)" in resumed.stdout
    clean = tmp_path / "clean"
    assert _report(portfolio, "--data", SEED_DIR, "--out", clean, *options).exit_code == 0
    assert not list(killed.rglob("*.partial"))
    assert _tree(killed) == _tree(clean)
