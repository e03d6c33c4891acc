"""The notebooks in notebooks/: every one executes top to bottom (nbclient), so none can
rot, and each is stored *with* its outputs — tables, printed results and every plot as a
PNG image — so that it reads on a code host and in the documentation site, which renders
the stored outputs without running them.  ``make notebooks``
(``scripts/make_notebooks.py``) writes them from their source and executes them.

The stored outputs need not equal fresh ones byte for byte (timings, sampler messages);
what is checked is that every code cell that shows something when run has its output
stored, and every plot is an image.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
MAX_BYTES = 250_000  # a stored notebook: small tables, plots at modest dpi

DRAWS_PLOT = re.compile(r"\b(Figure|subplots)\(|\bplt\.|report\.plots\b")
"""A code cell that draws: a matplotlib figure, pyplot, or a plot of clvmodels.report.plots."""

CONVERGENCE = re.compile(r"ConvergenceWarning|posterior may not be reliable")
"""What a Bayesian fit prints when its chains fail their own checks (R-hat, ESS)."""


def _texts(cell):
    """Everything a cell shows as text: streams, plain-text results, error messages."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            yield output.get("text", "")
        elif output.get("output_type") == "error":
            yield f"{output.get('ename')}: {output.get('evalue')}"
        else:
            yield output.get("data", {}).get("text/plain", "")


def _has_image(cell) -> bool:
    return any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


def _problems(notebook, where: str) -> list[str]:
    """Errors, plots that are not images and convergence warnings of ``notebook``."""
    problems = []
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        label = f"{where} cell {number}"
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            problems.append(f"{label}: error output {list(_texts(cell))[-1][:200]}")
        if DRAWS_PLOT.search(cell.source) and not _has_image(cell):
            problems.append(f"{label}: draws a plot but shows no image/png")
        if any(CONVERGENCE.search(text) for text in _texts(cell)):
            problems.append(f"{label}: the sampler's convergence checks failed")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_and_is_stored_with_its_outputs(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    stored = nbformat.read(path, as_version=4)
    fresh = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        fresh, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    assert _problems(fresh, "executed") == []
    assert _problems(stored, "stored") == []
    assert any(cell.get("outputs") for cell in fresh.cells if cell.cell_type == "code")
    unsaved = [
        number
        for number, (now, kept) in enumerate(zip(fresh.cells, stored.cells, strict=True))
        if now.cell_type == "code" and now.get("outputs") and not kept.get("outputs")
    ]
    assert unsaved == [], f"{path.name}: stored without the outputs of code cells {unsaved}"


def test_stored_notebooks_are_small_and_free_of_run_metadata():
    nbformat = pytest.importorskip("nbformat")
    for path in NOTEBOOKS:
        assert path.stat().st_size < MAX_BYTES, path.name
        notebook = nbformat.read(path, as_version=4)
        assert set(notebook.metadata) == {"kernelspec"}, path.name
        assert not any("execution" in cell.metadata for cell in notebook.cells), path.name


def test_stored_notebooks_are_the_cells_of_make_notebooks():
    """The notebooks' source is scripts/make_notebooks.py: a notebook edited by hand
    (or a script edited without ``make notebooks``) fails here."""
    pytest.importorskip("nbformat")
    import nbformat

    spec = importlib.util.spec_from_file_location(
        "make_notebooks", REPO / "scripts/make_notebooks.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert {p.name for p in NOTEBOOKS} == set(script.NOTEBOOKS)
    for path in NOTEBOOKS:
        stored = nbformat.read(path, as_version=4)
        source = script.build(script.NOTEBOOKS[path.name])
        assert [(c.cell_type, c.source) for c in stored.cells] == [
            (c.cell_type, c.source) for c in source.cells
        ], path.name


def test_there_are_the_documented_notebooks():
    assert {p.name for p in NOTEBOOKS} == {
        "loyalty_program.ipynb",
        "quickstart_noncontractual.ipynb",
        "subscriptions.ipynb",
        "uncertainty_bayesian.ipynb",
    }
