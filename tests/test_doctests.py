"""The examples in the docstrings run as doctests.

Every module under clvmodels/ whose source holds an example (a line with ``>>> ``) is
collected by itself, so an example anybody adds is run here without a list to update.
Output is compared with whitespace normalised and ``...`` as a wildcard.
"""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(
    _module_name(path)
    for path in (REPO / "clvmodels").rglob("*.py")
    if ">>> " in path.read_text(encoding="utf-8")
)


def _run_examples(name: str) -> tuple[doctest.TestResults, str]:
    """Run the doctests of module ``name``; returns the results and the failure report."""
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = io.StringIO()
    for test in finder.find(module, name):
        runner.run(test, out=report.write)
    return runner.summarize(verbose=False), report.getvalue()


def test_the_modules_with_examples_are_found():
    """The collection works: the modules known to carry examples are among them."""
    assert {
        "clvmodels.data.builtin",
        "clvmodels.estimators.base",
        "clvmodels.models.bgnbd",
    } <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    results, report = _run_examples(name)
    assert results.attempted > 0, f"{name}: has '>>> ' but no example doctest can find"
    assert results.failed == 0, report
