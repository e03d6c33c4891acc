"""The shape of the package, checked by parsing it (docs/development.md "How the code is laid out").

Imports flow one way, down the layers below, with no circle — counting imports inside
functions, leaving out those under ``if TYPE_CHECKING:``; only the run layer's settings
(and the CLI) read the configuration; the Spark engine knows nothing of configs or runs;
no module is over 500 lines and no function over 80 (its docstring aside).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "clvmodels"

LAYERS = (
    ("_version", "_lazy", "errors", "units", "machine", "locks", "atomic", "progress"),
    ("models", "data", "metrics"),
    ("backends", "results"),
    ("estimators",),
    ("clv",),
    ("evaluation",),
    ("spark",),
    ("report",),
    ("config",),
    ("run",),
    ("cli", ""),
)
"""Top-level modules and packages, lowest first; a module may import its own layer's
modules or lower ones.  ``""`` is the package's face, ``clvmodels/__init__.py``."""


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


MODULES = _modules()


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for n in ast.walk(node))
    return skipped


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    """The clvmodels modules ``module`` imports anywhere in its code."""
    path, is_package = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_nodes(tree)
    found: set[str | None] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(_resolve(a.name) for a in node.names if a.name.startswith("clvmodels"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("clvmodels"):
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in MODULES else _resolve(target))
    found.discard(None)
    found.discard(module)
    return {f for f in found if f is not None}


GRAPH = {module: _imports(module) for module in MODULES}


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for level, names in enumerate(LAYERS):
        if top in names:
            return level
    raise AssertionError(f"{module}: in no layer of tests/test_architecture.py")


def _cycles() -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return components


def test_the_checker_sees_imports_inside_functions_and_relative_imports():
    assert "clvmodels.run.spark" in GRAPH["clvmodels.run.prepare"]  # inside a function
    assert "clvmodels.run.settings" in GRAPH["clvmodels.run.prepare"]
    assert GRAPH["clvmodels.errors"] == set()


def test_no_import_circles():
    assert _cycles() == []


def test_imports_only_point_down_the_layers():
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _layer(target) > _layer(module)
    )
    assert upward == []


def test_only_the_run_settings_and_the_cli_read_the_configuration():
    readers = sorted(
        module
        for module, targets in GRAPH.items()
        if any(t == "clvmodels.config" or t.startswith("clvmodels.config.") for t in targets)
        and not module.startswith("clvmodels.config")
    )
    assert readers == ["clvmodels.cli", "clvmodels.run.settings"]


def test_the_spark_engine_knows_nothing_of_configs_or_runs():
    for module, targets in GRAPH.items():
        if module.startswith("clvmodels.spark"):
            assert not {t for t in targets if t.startswith(("clvmodels.config", "clvmodels.run"))}


def test_no_private_names_are_imported_from_another_module():
    borrowed = []
    for module, (path, _) in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("clvmodels"):
                private = [
                    a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"
                ]
                borrowed += [f"{module}: {node.module}.{name}" for name in private]
    assert borrowed == []


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function without its docstring (a long docstring is no long function)."""
    total = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        if isinstance(first.value.value, str):
            total -= first.end_lineno - first.lineno + 1
    return total


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_under_500_lines_and_functions_under_80(module):
    path, _ = MODULES[module]
    text = path.read_text()
    lines = len(text.splitlines())
    assert lines <= 500, f"{path.name}: {lines} lines"
    long = [
        f"{node.name} ({_code_lines(node)} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _code_lines(node) > 80
    ]
    assert long == []
