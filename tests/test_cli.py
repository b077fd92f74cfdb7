"""The ``partnermatch`` command line: exit codes 0 / 1 / 2 and what it prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from matcher.domain.model import Initiative
from matcher.engine.evaluation import BASELINES, TEXT_BASELINES
from matcher.engine.recommend import coalition_dict
from matcher.formats.taxonomy_io import load_taxonomies
from matcher.storage.catalog import SqlCatalog
from matcher.storage.sql import open_repository
from matcher.usecases.recommending import recommend
from service.cli import cli, main
from tests.pages_support import reject
from tests.test_datadir import VALID, write


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'test.db'}"


def test_import_dry_run_validates_and_summarises_a_directory(
    runner: CliRunner, tmp_path: Path, db: str
) -> None:
    result = runner.invoke(cli, ["import", str(write(tmp_path, VALID)), "--dry-run", "--db", db])
    assert result.exit_code == 0, result.output
    assert f"{tmp_path}: valid" in result.stdout
    assert "  organisations                3" in result.stdout
    assert "  partnerships                 1" in result.stdout
    assert "  by kind               un_entity 1, company 1, local_authority 1" in result.stdout


def test_import_of_a_bad_directory_lists_every_problem_and_exits_1(
    runner: CliRunner, tmp_path: Path, db: str
) -> None:
    folder = write(tmp_path, {**VALID, "capabilities.csv": "org_id,capability\nghost,money\n"})
    result = runner.invoke(cli, ["import", str(folder), "--db", db])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "capabilities.csv:2: capability: unknown capability code 'money'",
        f"error: {folder} rejected: 1 problem(s), nothing imported",
    ]
    assert result.stdout == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["import"],
        ["nonsense"],
        ["keys", "create", "--role", "superuser"],
        ["serve", "--port", "0"],
    ],
)
def test_bad_usage_exits_2(runner: CliRunner, argv: list[str]) -> None:
    assert runner.invoke(cli, argv).exit_code == 2


def test_every_command_of_the_design_is_there() -> None:
    assert set(cli.commands) >= {
        "import",
        "export",
        "recommend",
        "evaluate",
        "serve",
        "report",
        "generate",
        "keys",
        "iati",
    }


def test_main_returns_the_exit_code_instead_of_exiting(tmp_path: Path, db: str) -> None:
    assert main(["import", str(write(tmp_path, VALID)), "--dry-run", "--db", db]) == 0
    assert main(["import", str(tmp_path / "missing"), "--dry-run", "--db", db]) == 1
    assert main(["no-such-command"]) == 2


def test_import_writes_the_database_and_a_second_import_changes_nothing(
    runner: CliRunner, tmp_path: Path, db: str
) -> None:
    folder = write(tmp_path / "dir", VALID)
    first = runner.invoke(cli, ["import", str(folder), "--db", db])
    assert first.exit_code == 0, first.output
    assert "  organisations            3         0         0         0" in first.stdout
    second = runner.invoke(cli, ["import", str(folder), "--db", db])
    assert "  organisations            0         0         3         0" in second.stdout
    assert "  memberships              0         0         3         0" in second.stdout


def test_a_rejected_import_leaves_the_database_unchanged(
    runner: CliRunner, tmp_path: Path, db: str
) -> None:
    good = write(tmp_path / "good", VALID)
    assert runner.invoke(cli, ["import", str(good), "--db", db]).exit_code == 0
    bad = write(
        tmp_path / "bad",
        {**VALID, "organisations.csv": VALID["organisations.csv"] + "new,New,company,ZZ,\n"},
    )
    assert runner.invoke(cli, ["import", str(bad), "--db", db]).exit_code == 1
    out = tmp_path / "export"
    assert runner.invoke(cli, ["export", str(out), "--db", db]).exit_code == 0
    assert "new," not in (out / "organisations.csv").read_text()


def test_import_export_import_round_trips_to_identical_files(
    runner: CliRunner, tmp_path: Path
) -> None:
    seed = Path(__file__).resolve().parent.parent / "data" / "seed"
    first_db = f"sqlite:///{tmp_path / 'a.db'}"
    second_db = f"sqlite:///{tmp_path / 'b.db'}"
    assert runner.invoke(cli, ["import", str(seed), "--db", first_db]).exit_code == 0
    assert runner.invoke(cli, ["export", str(tmp_path / "one"), "--db", first_db]).exit_code == 0
    assert runner.invoke(cli, ["import", str(tmp_path / "one"), "--db", second_db]).exit_code == 0
    assert runner.invoke(cli, ["export", str(tmp_path / "two"), "--db", second_db]).exit_code == 0
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == ["capabilities.csv", "memberships.csv", "organisations.csv", "partnerships.csv"]
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_extensions_flags_and_conflicts_round_trip_through_the_database_unchanged(
    runner: CliRunner, tmp_path: Path
) -> None:
    extended = {
        **VALID,
        "organisations.csv": VALID["organisations.csv"].replace(
            "ikea,IKEA,company,,child_labour", "ikea,IKEA,company,,child_labour;h2020-sc1"
        ),
        "capabilities.csv": VALID["capabilities.csv"] + "la-up,funding.eu,0.5,,,\n",
        "taxonomy/themes.csv": "code,label,parent,sdg\nh2020-sc1,Health (H2020),health,3\n",
        "taxonomy/capabilities.csv": "code,label,parent\nfunding.eu,EU grants,funding\n",
        "flags.csv": (
            "org_id,category,level,note,date\nikea,labour_rights,yellow,a report,2024-05-01\n"
        ),
        "conflicts.csv": "org_a,org_b,reason\nla-up,ikea,a lawsuit\n",
    }
    source = write(tmp_path / "source", extended)
    for n, (folder, out) in enumerate(((source, "one"), (tmp_path / "one", "two"))):
        db = f"sqlite:///{tmp_path / f'{n}.db'}"
        assert runner.invoke(cli, ["import", str(folder), "--db", db]).exit_code == 0
        assert runner.invoke(cli, ["export", str(tmp_path / out), "--db", db]).exit_code == 0
    one, two = tmp_path / "one", tmp_path / "two"
    names = sorted(str(p.relative_to(one)) for p in one.rglob("*.csv"))
    assert names == [
        "capabilities.csv",
        "conflicts.csv",
        "flags.csv",
        "memberships.csv",
        "organisations.csv",
        "partnerships.csv",
        "taxonomy/capabilities.csv",
        "taxonomy/themes.csv",
    ]
    for name in names:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    assert (one / "taxonomy/capabilities.csv").read_text() == (
        "code,label,parent,description,source,label_fr\nfunding.eu,EU grants,funding,,,\n"
    )
    assert (one / "taxonomy/themes.csv").read_text() == (
        "code,label,parent,sdg,description,source,label_fr\nh2020-sc1,Health (H2020),health,3,,,\n"
    )
    assert (one / "conflicts.csv").read_text() == "org_a,org_b,reason\nikea,la-up,a lawsuit\n"


def test_an_unreachable_database_fails_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        cli, ["import", str(write(tmp_path, VALID)), "--db", "postgresql+psycopg://x@127.0.0.1:9/x"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Migrating postgresql+psycopg://x@127.0.0.1:9/x failed")


def test_cordis_conversion_of_a_folder_without_the_files_fails_with_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(cli, ["cordis", str(tmp_path), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1
    assert "participations.csv" in result.stderr


def test_generate_writes_a_directory_that_imports(
    runner: CliRunner, tmp_path: Path, db: str
) -> None:
    out = tmp_path / "generated"
    result = runner.invoke(cli, ["generate", "--orgs", "150", "--out", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "  organisations" + " " * 26 + "150" in result.stdout
    assert runner.invoke(cli, ["import", str(out), "--db", db]).exit_code == 0


SEED_DIR = Path(__file__).resolve().parent.parent / "data" / "seed"


def test_recommend_prints_json_in_the_shape_of_the_design(runner: CliRunner) -> None:
    initiative = SEED_DIR / "initiatives" / "i49-edu-quality-brazil.json"
    result = runner.invoke(
        cli, ["recommend", str(initiative), "--data", str(SEED_DIR), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) >= {"coalitions", "excluded"}
    coalition = body["coalitions"][0]
    assert set(coalition) >= {"members", "score", "score_parts", "gaps", "solver", "optimality_gap"}
    assert set(coalition["members"][0]) >= {
        "id",
        "covers",
        "activity_types",
        "marginal_gain",
        "path_to_lead",
        "flags",
    }
    assert coalition["score"] == sum(coalition["score_parts"].values())
    assert "itau" in {m["id"] for m in coalition["members"]}


def test_recommend_text_shows_each_member_with_what_it_covers(runner: CliRunner) -> None:
    initiative = SEED_DIR / "initiatives" / "i49-edu-quality-brazil.json"
    result = runner.invoke(
        cli, ["recommend", str(initiative), "--data", str(SEED_DIR), "--count", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "#1  score" in result.stdout
    assert "covers: funding 1.00" in result.stdout
    assert "via: unicef > itau" in result.stdout


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"lead": "ghost"}', "Organisation 'ghost' not found"),
        (
            '{"lead": "unicef", "needs": [{"capability": "funding", "weight": -1}]}',
            "weight must be positive, got -1 (at needs.0.weight)",
        ),
    ],
)
def test_recommend_rejects_bad_initiatives_with_one_line(
    runner: CliRunner, tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "initiative.json"
    path.write_text(body)
    result = runner.invoke(cli, ["recommend", str(path), "--data", str(SEED_DIR)])
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.slow
def test_evaluate_prints_the_json_of_the_issue(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "generated"
    assert (
        runner.invoke(
            cli, ["generate", "--orgs", "400", "--out", str(data), "--seed", "2"]
        ).exit_code
        == 0
    )
    result = runner.invoke(
        cli,
        [
            "evaluate",
            "--data",
            str(data),
            "--split-year",
            "2020",
            "--max-cases",
            "20",
            "--k",
            "5",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["cases"] > 0
    for task in ("completion", "cold"):
        assert set(body[task]["method"]) == {"recall@5", "mrr", "ndcg@5"}
        # every baseline, those reading words too: generated partnerships have descriptions
        assert set(body[task]["baselines"]) == {*BASELINES, *TEXT_BASELINES}
        value = body[task]["method"]["recall@5"]
        assert value["ci95"][0] <= value["value"] <= value["ci95"][1]


def test_evaluate_of_a_missing_directory_fails_with_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(
        cli, ["evaluate", "--data", str(tmp_path / "none"), "--split-year", "2017"]
    )
    assert result.exit_code == 1
    assert "not a directory" in result.stderr


def test_recommend_from_the_database_tells_the_reviewers_decisions(
    runner: CliRunner, db: str
) -> None:
    assert runner.invoke(cli, ["import", str(SEED_DIR), "--db", db]).exit_code == 0
    initiative_file = SEED_DIR / "initiatives" / "i49-edu-quality-brazil.json"
    body = json.loads(initiative_file.read_text(encoding="utf-8"))
    taxonomies = load_taxonomies()
    repository = open_repository(db, taxonomies)
    catalog = SqlCatalog(repository.engine, taxonomies)
    catalog.save_initiative(body["id"], body, create=True, actor="test")
    initiative = Initiative.from_mapping({**body, "count": 1})
    coalition = recommend(repository.load_dataset(), initiative).coalitions[0]
    proposal = catalog.create_proposal(body["id"], coalition_dict(coalition), actor="test")
    reject(catalog, proposal.id, "capacity")
    repository.engine.dispose()
    result = runner.invoke(
        cli,
        ["recommend", str(initiative_file), "--db", db, "--count", "3", "--format", "text"],
    )
    assert result.exit_code == 0, result.output
    note = f": capacity (proposal {proposal.id})."
    told = [line.strip() for line in result.stdout.splitlines() if note in line]
    assert told and all(line.startswith("Rejected for this lead on") for line in told)
    # the same directory without the database's decisions says nothing of it
    plain = runner.invoke(
        cli, ["recommend", str(initiative_file), "--data", str(SEED_DIR), "--format", "text"]
    )
    assert plain.exit_code == 0 and "Rejected for this lead" not in plain.stdout
