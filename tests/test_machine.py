"""What the process may use of the machine (clvmodels/machine.py): its cores, glibc's
allocator keeping freed memory for the next arrays, one BLAS thread for the optimiser,
work shared with forked children.

The page-fault counts come from ``getrusage`` (minor faults: pages the process touched for
the first time), in a child process each, so the allocator settings of one case never
leak into another or into the test session."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time

import pytest

from clvmodels import machine
from clvmodels.machine import one_blas_thread, share_work, usable_cores

FORKS = pytest.mark.skipif(
    "fork" not in mp.get_all_start_methods(), reason="the platform does not fork"
)

GLIBC = (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")

CHILD = """
import json, resource
import numpy as np
from clvmodels.machine import keep_freed_memory

kept = keep_freed_memory()

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):  # a likelihood evaluation's pattern: whole-size temporaries
        a = np.ones(1 << 20)
        b = a * 2.0
        c = b + a
        del a, b, c
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults()  # the heap grows once
print(json.dumps({"kept": kept, "again": keep_freed_memory(), "faults": faults()}))
"""


def _child(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    for name in ("CLVMODELS_MALLOC", "GLIBC_TUNABLES"):
        clean.pop(name, None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_usable_cores_are_at_least_one_and_at_most_the_machine():
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt only")
def test_freed_memory_is_kept_so_repeated_arrays_touch_no_new_pages():
    kept = _child()
    assert kept["kept"] and kept["again"]
    # 10 rounds of three 8 MB arrays: 60,000 pages if each were fresh
    assert kept["faults"] < 500
    default = _child(CLVMODELS_MALLOC="default")
    assert not default["kept"]
    assert default["faults"] > 10 * kept["faults"] + 5000  # glibc's default trims them


@pytest.mark.parametrize(
    "env",
    [
        {"CLVMODELS_MALLOC": "default"},
        {"MALLOC_TRIM_THRESHOLD_": "1048576"},
        {"MALLOC_MMAP_THRESHOLD_": "131072"},
        {"MALLOC_TOP_PAD_": "0"},
        {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1048576"},
    ],
)
def test_the_users_own_allocator_settings_are_left_alone(env):
    assert _child(**env)["kept"] is False


def _blas_threads() -> set[int]:
    from threadpoolctl import threadpool_info

    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


@pytest.fixture
def two_blas_threads():
    """Every BLAS library at two threads, whatever the machine (set from the main thread,
    and given back after)."""
    import scipy.optimize  # noqa: F401  (SciPy's BLAS loaded, as in a fit)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):
        assert _blas_threads() == {2}
        yield


def test_one_blas_thread_inside_the_block_and_the_counts_given_back_after(two_blas_threads):
    with one_blas_thread():
        assert _blas_threads() == {1}
        with one_blas_thread():  # nested: the same limit
            assert _blas_threads() == {1}
        assert _blas_threads() == {1}
    assert _blas_threads() == {2}


def test_a_block_in_another_thread_leaves_the_counts_as_they_are(two_blas_threads):
    # OpenBLAS ignores a count set from another thread once the main thread set one: a
    # limit set there could stay for good, so only the main thread limits
    seen = {}

    def fit_in_a_thread():
        with one_blas_thread():
            seen["inside"] = _blas_threads()

    with one_blas_thread():  # the main thread has set a count
        pass
    thread = threading.Thread(target=fit_in_a_thread)
    thread.start()
    thread.join(10)
    assert seen["inside"] == {2}
    assert _blas_threads() == {2}


def test_the_mle_optimiser_runs_on_one_blas_thread(two_blas_threads, monkeypatch, cdnow_summary):
    import clvmodels
    from clvmodels.backends import mle

    seen = []
    minimize = mle.optimize.minimize

    def recording(*args, **kwargs):
        seen.append(_blas_threads())
        return minimize(*args, **kwargs)

    monkeypatch.setattr(mle.optimize, "minimize", recording)
    clvmodels.fit("bgnbd", cdnow_summary)
    assert seen and all(threads == {1} for threads in seen)
    assert _blas_threads() == {2}


def _pid() -> int:
    return os.getpid()


@FORKS
def test_shared_work_comes_back_in_order_with_every_other_task_done_by_a_child():
    here = os.getpid()
    pids = share_work([_pid] * 5, workers=2)
    assert pids[0::2] == [here] * 3
    assert len(set(pids[1::2])) == 1 and pids[1] != here


def test_one_worker_does_every_task_here():
    assert share_work([_pid] * 3, workers=1) == [os.getpid()] * 3
    assert share_work([], workers=2) == []


@FORKS
def test_a_task_failing_in_the_child_is_run_again_here_and_raises_its_error(tmp_path):
    ran = tmp_path / "ran"

    def fails() -> None:
        with ran.open("a") as out:
            out.write(f"{os.getpid()}\n")
        raise ValueError("the task's own error")

    with pytest.raises(ValueError, match="the task's own error"):
        share_work([_pid, fails], workers=2)
    pids = ran.read_text().split()
    assert len(pids) == 2 and pids[1] == str(os.getpid()) != pids[0]


@FORKS
def test_a_child_that_dies_has_its_share_done_here():
    here = os.getpid()

    def dies() -> int:
        if os.getpid() != here:
            os._exit(3)
        return os.getpid()

    assert share_work([_pid, dies, _pid, dies], workers=2) == [here] * 4


@FORKS
def test_a_child_that_does_not_answer_is_stopped_and_its_share_done_here(monkeypatch):
    monkeypatch.setattr(machine, "CHILD_MIN_WAIT", 0.5)
    here = os.getpid()

    def hangs() -> int:
        if os.getpid() != here:
            time.sleep(120)
        return os.getpid()

    started = time.monotonic()
    assert share_work([_pid, hangs], workers=2) == [here, here]
    assert time.monotonic() - started < 30
    assert not mp.active_children()


@FORKS
def test_a_result_that_does_not_pickle_is_made_here():
    here = os.getpid()
    results = share_work([_pid, lambda: (os.getpid(), lambda: None)], workers=2)
    assert results[0] == here and results[1][0] == here


@FORKS
def test_an_error_in_this_process_share_leaves_no_child_behind():
    def fails() -> None:
        raise KeyError("here")

    def sleeps() -> int:
        time.sleep(120)
        return 0

    started = time.monotonic()
    with pytest.raises(KeyError):
        share_work([fails, sleeps], workers=2)
    assert time.monotonic() - started < 30
    assert not mp.active_children()
