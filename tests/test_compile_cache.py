"""The on-disk cache of compiled likelihood functions (clvmodels.backends.compile_cache):
keyed by the graph, per user, atomic, and a corrupt file is rebuilt."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from clvmodels.backends import compile_cache
from clvmodels.backends.compiled import CompiledLikelihood, compiled
from clvmodels.backends.design import FitRows
from clvmodels.backends.tape import TapedLikelihood
from clvmodels.models import bgnbd

pytensor = pytest.importorskip("pytensor")
pt = pytensor.tensor

GRAPH = """
import pytensor.tensor as pt
from clvmodels.models.logaddexp_op import logaddexp
theta = pt.dvector("theta")
duration = pt.dvector("duration")
lam = pt.exp(theta[0])
total = pt.sum(logaddexp(pt.log(lam) - lam * duration, pt.gammaln(duration + {c})))
inputs = [theta, duration]
"""


def _graph(constant: float = 1.0) -> tuple[list, object]:
    """A small likelihood graph (with the fused logaddexp op defined in clvmodels)."""
    scope: dict = {}
    exec(GRAPH.format(c=constant), scope)
    return scope["inputs"], scope["total"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(compile_cache.CACHE_DIR_VARIABLE, str(folder))
    return folder


def test_key_is_the_same_for_the_same_graph_and_changes_with_it():
    inputs, total = _graph()
    key = compile_cache.graph_key("f", inputs, [total])
    assert key is not None
    again = _graph()
    assert compile_cache.graph_key("f", again[0], [again[1]]) == key
    assert compile_cache.graph_key("g", inputs, [total]) != key
    changed = _graph(constant=2.0)
    assert compile_cache.graph_key("f", changed[0], [changed[1]]) != key
    theta, duration = pt.dvector("theta"), pt.dvector("duration")
    other_op = pt.sum(pt.log(pt.exp(theta[0])) - pt.exp(theta[0]) * duration)
    assert compile_cache.graph_key("f", [theta, duration], [other_op]) != key
    renamed = pt.dvector("durations")
    assert compile_cache.graph_key("f", [theta, renamed], [pt.sum(renamed * theta[0])]) != (
        compile_cache.graph_key("f", [theta, duration], [pt.sum(duration * theta[0])])
    )


def test_key_changes_with_the_source_of_an_op_defined_outside_pytensor(monkeypatch):
    inputs, total = _graph()
    key = compile_cache.graph_key("f", inputs, [total])
    monkeypatch.setattr(compile_cache, "_source_hash", lambda cls: f"edited {cls.__name__}")
    assert compile_cache.graph_key("f", inputs, [total]) != key


def test_key_is_the_same_in_another_process():
    """Two fresh processes building the same graph agree on its key (the key also holds
    PyTensor's compiler flags, which importing PyMC changes: each process here imports
    the same modules, so the flags are the same)."""
    code = GRAPH.format(c=1.0) + (
        "from clvmodels.backends.compile_cache import graph_key\n"
        "print(graph_key('f', inputs, [total]))\n"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(keys) == 1 and len(keys.pop()) == 64


def test_graph_with_a_shared_variable_is_not_cached(cache):
    theta = pt.dvector("theta")
    scale = pytensor.shared(np.array(2.0), name="scale")
    assert compile_cache.graph_key("f", [theta], [pt.sum(theta * scale)]) is None


def test_second_build_loads_the_stored_function_with_identical_values(cache, monkeypatch):
    inputs, total = _graph()
    first = compile_cache.value_and_gradient("f", inputs, total, inputs[0])
    assert len(list(cache.glob("*.pkl"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("compiled again instead of loading the stored function")

    monkeypatch.setattr(pytensor, "function", refuse)
    inputs, total = _graph()  # a new process builds the same graph anew
    second = compile_cache.value_and_gradient("f", inputs, total, inputs[0])
    theta, duration = np.array([0.3]), np.array([0.5, 1.0, 4.0])
    for a, b in zip(first(theta, duration), second(theta, duration), strict=True):
        np.testing.assert_array_equal(a, b)


def test_corrupt_or_foreign_file_is_ignored_and_rebuilt(cache):
    inputs, total = _graph()
    key = compile_cache.graph_key("f", inputs, [total])
    cache.mkdir(parents=True)
    (cache / f"{key}.pkl").write_bytes(b"\x80\x05 not a pickle")
    fn = compile_cache.value_and_gradient("f", inputs, total, inputs[0])
    assert float(fn(np.array([0.0]), np.array([1.0]))[0]) == pytest.approx(np.logaddexp(-1.0, 0.0))
    assert compile_cache.load(key) is not None  # rebuilt and stored whole
    (cache / f"{'0' * 64}.pkl").write_bytes((cache / f"{key}.pkl").read_bytes())
    assert compile_cache.load("0" * 64) is None  # stored under another key


def test_concurrent_stores_leave_one_whole_file(cache):
    key = "1" * 64
    payloads = [np.full(200_000, float(i)) for i in range(8)]
    threads = [threading.Thread(target=compile_cache.store, args=(key, p)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = compile_cache.load(key)
    assert found.shape == (200_000,) and np.all(found == found[0])
    assert [p.name for p in cache.iterdir()] == [f"{key}.pkl"]  # no temporary files left


def test_cache_folder_is_per_user_never_the_working_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(compile_cache.CACHE_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = compile_cache.cache_dir()
    if sys.platform.startswith("linux"):
        assert folder == tmp_path / "xdg" / "clvmodels" / "compiled"
    monkeypatch.delenv("XDG_CACHE_HOME")
    folder = compile_cache.cache_dir()
    assert folder.is_absolute() and Path.home() in folder.parents
    monkeypatch.setenv(compile_cache.CACHE_DIR_VARIABLE, "")
    assert compile_cache.cache_dir() is None
    assert compile_cache.store("2" * 64, 1) is False
    assert os.listdir(tmp_path) == []


def test_bgnbd_objective_is_identical_compiled_stored_and_loaded(cdnow, monkeypatch, tmp_path):
    # the compiled path serves the fits with covariates; without them a fit is taped
    rows = FitRows.of(bgnbd.SPEC, cdnow)
    theta = np.log([0.243, 4.414, 0.793, 2.426])
    results = []
    for folder in ("", str(tmp_path / "cache"), str(tmp_path / "cache")):
        monkeypatch.setenv(compile_cache.CACHE_DIR_VARIABLE, folder)
        compiled.cache_clear()  # a fresh process, as far as the compiled function goes
        likelihood = CompiledLikelihood(bgnbd.SPEC, rows.rows)
        results.append(likelihood.objective(rows.weights)(theta))
    compiled.cache_clear()
    (stored,) = (tmp_path / "cache").glob("*.pkl")
    loaded = compile_cache.load(stored.stem)
    assert all(container.data is None for container in loaded.input_storage)  # no data kept
    for value, grad in results[1:]:
        assert value == results[0][0]
        np.testing.assert_array_equal(grad, results[0][1])
    taped = TapedLikelihood(bgnbd.log_likelihood, bgnbd.SPEC.param_names, rows.rows)
    assert taped.objective(rows.weights)(theta)[0] == pytest.approx(results[0][0], rel=1e-12)
