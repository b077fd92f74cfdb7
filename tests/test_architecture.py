"""The domain package imports nothing from the entry points or the web framework."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MATCHER = Path(__file__).resolve().parent.parent / "matcher"
FORBIDDEN = ("service", "scripts", "flask", "click")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("path", sorted(MATCHER.rglob("*.py")), ids=lambda p: p.name)
def test_matcher_module_imports_no_entry_point_or_framework(path: Path) -> None:
    offending = {module for module in _imported_modules(path) if module.split(".")[0] in FORBIDDEN}
    assert offending == set()


def test_the_import_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import flask\nfrom service.cli import main\n")
    assert _imported_modules(sample) == {"flask", "service.cli"}
