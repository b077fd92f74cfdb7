"""The ``partnermatch`` command line: exit codes 0 / 1 / 2 and what it prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import cli, main
from tests.test_datadir import VALID, write


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_import_dry_run_validates_and_summarises_a_directory(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(cli, ["import", str(write(tmp_path, VALID)), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"{tmp_path}: valid" in result.stdout
    assert "  organisations                3" in result.stdout
    assert "  partnerships                 1" in result.stdout
    assert "  by kind               un_entity 1, company 1, local_authority 1" in result.stdout


def test_import_of_a_bad_directory_lists_every_problem_and_exits_1(
    runner: CliRunner, tmp_path: Path
) -> None:
    folder = write(tmp_path, {**VALID, "capabilities.csv": "org_id,capability\nghost,money\n"})
    result = runner.invoke(cli, ["import", str(folder), "--dry-run"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "capabilities.csv:2: capability: unknown capability code 'money'",
        f"error: {folder} rejected: 1 problem(s), nothing imported",
    ]
    assert result.stdout == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "out"],
        ["serve"],
        ["generate", "--orgs", "100", "--out", "out"],
        ["keys", "create", "--role", "broker"],
    ],
)
def test_commands_of_later_issues_say_so_and_exit_2(runner: CliRunner, argv: list[str]) -> None:
    result = runner.invoke(cli, argv)
    assert result.exit_code == 2
    assert "not implemented yet" in result.stderr


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
    }


def test_main_returns_the_exit_code_instead_of_exiting(tmp_path: Path) -> None:
    assert main(["import", str(write(tmp_path, VALID)), "--dry-run"]) == 0
    assert main(["import", str(tmp_path / "missing"), "--dry-run"]) == 1
    assert main(["no-such-command"]) == 2
