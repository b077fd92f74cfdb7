"""The import rules of the tree: layers point one way, and no module imports itself back.

The layers, lowest first (CONVENTIONS.md, "The house"): ``matcher.domain`` ← ``matcher.formats``
and ``matcher.integrity`` ← ``matcher.engine`` and ``matcher.storage`` ← ``matcher.usecases`` ←
``service``. A module may import its own layer's package and any lower layer; packages of one
layer are independent of each other. Every import counts, including those inside functions: an
import deferred to dodge a circle is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_MATCHER = ("service", "scripts", "flask", "click")
LAYERS: dict[str, int] = {
    "matcher.domain": 0,
    "matcher.formats": 1,
    "matcher.integrity": 1,
    "matcher.engine": 2,
    "matcher.storage": 2,
    "matcher.usecases": 3,
    "service": 4,
}


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of ``matcher`` and ``service`` by dotted name (migrations left out)."""
    paths = [*(root / "matcher").rglob("*.py"), *(root / "service").rglob("*.py")]
    return {
        _module_name(p, root): p
        for p in sorted(paths)
        if "migrations" not in p.relative_to(root).parts
    }


def _imports(path: Path, module: str) -> set[str]:
    """The dotted names ``module`` (at ``path``) imports, relative imports resolved.

    ``from a import b`` yields ``a.b``: a submodule, or else a name of ``a`` (the graph then
    counts ``a``).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _import_graph(modules: dict[str, Path]) -> nx.DiGraph:
    """Module → the project modules it imports (a name of a package counts as the package)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        for name in _imports(path, module):
            if name in modules:
                target = name
            elif name.rpartition(".")[0] in modules and name.rpartition(".")[0] != module:
                target = name.rpartition(".")[0]
            else:
                continue
            if target != module:
                graph.add_edge(module, target)
    return graph


def _layer_of(module: str) -> tuple[str, int] | None:
    for package, rank in sorted(LAYERS.items(), key=lambda item: -len(item[0])):
        if module == package or module.startswith(package + "."):
            return package, rank
    return None


def _layer_violations(graph: nx.DiGraph) -> list[str]:
    violations = []
    for source, target in sorted(graph.edges):
        source_layer, target_layer = _layer_of(source), _layer_of(target)
        if source_layer is None or target_layer is None or source_layer == target_layer:
            continue
        if target_layer[1] >= source_layer[1]:
            violations.append(f"{source} imports {target}")
    return violations


def _cycles(graph: nx.DiGraph) -> list[list[str]]:
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def _package_modules(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return _project_modules(tmp_path)


MODULES = _project_modules()


@pytest.mark.parametrize(
    "path", sorted((ROOT / "matcher").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_matcher_module_imports_no_entry_point_or_framework(path: Path) -> None:
    module = _module_name(path)
    offending = {
        name for name in _imports(path, module) if name.split(".")[0] in FORBIDDEN_IN_MATCHER
    }
    assert offending == set()


def test_no_module_of_matcher_or_service_takes_part_in_an_import_circle() -> None:
    assert _cycles(_import_graph(MODULES)) == []


def test_imports_point_from_higher_layers_to_lower_ones_only() -> None:
    assert _layer_violations(_import_graph(MODULES)) == []


def test_every_matcher_module_belongs_to_a_layer() -> None:
    unplaced = [m for m in MODULES if m.startswith("matcher.") and _layer_of(m) is None]
    assert unplaced == []


def test_the_import_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import flask\nfrom service.cli import main\n")
    assert _imports(sample, "sample") == {"flask", "service.cli.main"}


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        pytest.param(
            {
                "service/__init__.py": "",
                "service/app.py": "from service.api import blueprint\n",
                "service/api.py": "def f():\n    from service.app import services\n",
            },
            ["service.api", "service.app"],
            id="hidden-in-a-function",
        ),
        pytest.param(
            {
                "service/__init__.py": "",
                "service/pages/__init__.py": "from . import views\n",
                "service/pages/views.py": "from ..pages import helpers\n",
                "service/pages/helpers.py": "from .views import x\n",
            },
            ["service.pages.helpers", "service.pages.views"],
            id="through-relative-imports",
        ),
    ],
)
def test_the_circle_check_sees_a_circle_hidden_in_a_function_or_made_of_relative_imports(
    tmp_path: Path, files: dict[str, str], cycle: list[str]
) -> None:
    modules = _package_modules(tmp_path, files)
    assert _cycles(_import_graph(modules)) == [cycle]


def test_the_layer_check_sees_a_lower_layer_importing_a_higher_one(tmp_path: Path) -> None:
    modules = _package_modules(
        tmp_path,
        {
            "matcher/__init__.py": "",
            "matcher/domain/__init__.py": "",
            "matcher/domain/model.py": "from matcher.engine.index import Index\n",
            "matcher/engine/__init__.py": "",
            "matcher/engine/index.py": "from matcher.domain.model import Organisation\n",
            "matcher/formats/__init__.py": "",
            "matcher/formats/a.py": "from matcher.integrity.b import x\n",
            "matcher/integrity/__init__.py": "",
            "matcher/integrity/b.py": "x = 1\n",
        },
    )
    assert _layer_violations(_import_graph(modules)) == [
        "matcher.domain.model imports matcher.engine.index",
        "matcher.formats.a imports matcher.integrity.b",
    ]
