"""The light commands import none of the heavy libraries (issue 22, "Lazy imports").

``import clvmodels``, ``clvmodels --help``, ``validate`` and ``summarize`` each run in a
fresh interpreter, which then lists the heavy modules it holds: PyMC, PyTensor, ArviZ,
matplotlib, SciPy's statistics and scikit-learn load only for the commands that use them
(fits, plots, the challenger).  Times are measured by benchmarks, not here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pymc", "pytensor", "arviz", "matplotlib", "scipy.stats", "sklearn")

REPORT = f"""
import sys
heavy = {HEAVY!r}
loaded = sorted(h for h in heavy if h in sys.modules)
print("HEAVY=" + ",".join(loaded), file=sys.stderr)
"""

CLI = (
    "import sys\n"
    "from clvmodels.cli import main\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n" + REPORT + "sys.exit(code)\n"
)


def _heavy_modules(code: str, *args: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running ``code``."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    line = [ln for ln in done.stderr.splitlines() if ln.startswith("HEAVY=")][-1]
    return [name for name in line.removeprefix("HEAVY=").split(",") if name]


def test_the_checker_sees_a_heavy_import():
    assert _heavy_modules("import scipy.stats\n" + REPORT) == ["scipy.stats"]


def test_import_clvmodels_loads_no_heavy_library():
    assert _heavy_modules("import clvmodels\n" + REPORT) == []


def test_the_public_names_load_on_first_use():
    code = (
        "import clvmodels\n"
        "from clvmodels import BGNBD, FitResult, fit, load_model\n"
        "assert clvmodels.BGNBD is BGNBD and BGNBD.model_key == 'bgnbd'\n"
        "assert clvmodels.data.load_builtin is not None\n"
        "assert {'BGNBD', 'fit', 'load_model', 'FitResult', 'data'} <= set(dir(clvmodels))\n"
        "assert set(clvmodels.__all__) <= set(dir(clvmodels))\n"
    ) + REPORT
    assert "pymc" not in _heavy_modules(code)


@pytest.mark.parametrize(
    "package", ["clv", "config", "data", "data.sql", "evaluation", "metrics", "run"]
)
def test_every_name_a_lazy_package_exports_resolves(package):
    code = (
        f"import importlib\n"
        f"module = importlib.import_module('clvmodels.{package}')\n"
        "missing = [n for n in module.__all__ if not hasattr(module, n)]\n"
        "assert not missing, missing\n"
        "assert set(module.__all__) <= set(dir(module))\n"
    ) + REPORT
    _heavy_modules(code)


def test_a_submodule_import_does_not_shadow_the_function_of_its_name():
    code = (
        "import clvmodels.evaluation.backtest, clvmodels.run.execute\n"
        "from clvmodels.evaluation import backtest\n"
        "from clvmodels.run import execute\n"
        "assert callable(backtest) and callable(execute), (backtest, execute)\n"
    ) + REPORT
    _heavy_modules(code)


def test_clvmodels_help_loads_no_heavy_library():
    assert _heavy_modules(CLI, "--help") == []


def test_validate_loads_no_heavy_library():
    assert _heavy_modules(CLI, "validate", "configs/cdnow.yaml") == []


def test_summarize_loads_no_heavy_library(tmp_path):
    out = tmp_path / "summary"
    assert _heavy_modules(CLI, "summarize", "configs/cdnow.yaml", "--out", str(out)) == []
    assert (out / "summary.csv").exists()


def test_summarize_to_a_file_loads_neither_scipy_nor_the_estimators(tmp_path):
    # a bare summary file shows no regularity estimate: SciPy is not needed
    code = CLI.replace(
        REPORT,
        "\nwatched = ('scipy', 'clvmodels.estimators', 'clvmodels.report')\n"
        "loaded = sorted(m for m in watched if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(loaded), file=sys.stderr)\n",
    )
    out = tmp_path / "summary.parquet"
    assert _heavy_modules(code, "summarize", "configs/cdnow.yaml", "--out", str(out)) == []
    assert out.exists()
