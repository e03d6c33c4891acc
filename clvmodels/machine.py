"""What this process may use of the machine."""

from __future__ import annotations

import contextlib
import functools
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity where the OS reports one (Linux),
    else every core."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


MMAP_THRESHOLD = 32 << 20
"""Largest block glibc's ``malloc`` serves from its heap once :func:`keep_freed_memory`
ran (the most its own adaptive threshold reaches); larger ones are mapped apart."""

TRIM_THRESHOLD = 64 << 20
"""Freed memory at the top of the heap that glibc keeps for reuse once
:func:`keep_freed_memory` ran (by default twice the adaptive threshold)."""

_ALLOCATOR_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")
_TUNABLES = "GLIBC_TUNABLES"  # e.g. glibc.malloc.trim_threshold=...: the user's own too


@functools.cache  # once per process: later calls give the first one's answer
def keep_freed_memory() -> bool:
    """Have glibc's ``malloc`` keep freed memory for the next arrays, once per process;
    whether it does.

    A fit evaluates its likelihood a few dozen times, and every evaluation allocates and
    frees the same whole-size NumPy temporaries.  By default glibc returns freed memory
    at the top of its heap beyond twice its adaptive threshold to the system, so each
    evaluation touches fresh pages again: 6,000 page faults (24 MB) per BG/NBD fit of
    10^6 customers, a third of its time on a 2-core VM.  Here arrays up to
    :data:`MMAP_THRESHOLD` come from the heap and up to :data:`TRIM_THRESHOLD` of freed
    memory is kept: no page fault after the first fit.  The settings hold for every
    ``malloc`` arena of the process (glibc gives threads that allocate arenas of their
    own, up to 8 per core), so the process may keep up to that much more memory per
    arena in use: with 8 threads each freeing 20 MB arrays, 421 MB instead of 181 MB.

    Nothing changes off glibc (macOS, Windows, musl), when ``CLVMODELS_MALLOC=default``,
    or when the user set glibc's own ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``
    or ``MALLOC_TOP_PAD_``, or ``glibc.malloc`` tunables in ``GLIBC_TUNABLES``.
    """
    if os.environ.get("CLVMODELS_MALLOC", "").lower() == "default":
        return False
    if any(name in os.environ for name in _ALLOCATOR_VARIABLES):
        return False
    if "glibc.malloc." in os.environ.get(_TUNABLES, ""):
        return False
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""  # "glibc 2.36" on glibc only
    except (AttributeError, ValueError, OSError):
        return False
    if not libc.startswith("glibc"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD)) and bool(
        mallopt(m_trim_threshold, TRIM_THRESHOLD)
    )


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's view of the BLAS libraries loaded now (NumPy's, SciPy's), made
    once: listing the loaded libraries takes milliseconds, a limit through it 0.02 ms."""
    import scipy.optimize  # noqa: F401  (loads SciPy's BLAS, the optimiser's, to be listed)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


_MAIN_THREAD_BLOCKS: list[Any] = []  # the limit of the outermost open block, nested ones


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with one BLAS thread, and give the BLAS libraries their thread
    counts back after it.

    SciPy's L-BFGS-B solves a triangular system of its limited memory (``dtrtrs``) at
    every iteration, and OpenBLAS runs that solve on all its threads even for a 4 × 4
    system: its helper threads wake and then busy-wait for the next call.  During an MLE
    fit they spun on the second core for as long as the fit ran (43 % of a 2-core
    VM's samples under ``perf``): the fit used two cores for the work of one.  The
    optimiser's linear algebra is on matrices of the size of the parameters, so one
    thread loses nothing.

    Only the main thread limits; a block in another thread runs with the libraries'
    counts as they are (OpenBLAS 0.3.31 ignores a count set from another thread once the
    main thread has set one, so a limit set there might never be lifted).  Nested
    blocks share the outermost one's limit.  The libraries limited are those loaded
    when the first block began, SciPy's and NumPy's among them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if not _MAIN_THREAD_BLOCKS:
        _MAIN_THREAD_BLOCKS.append(_blas_controller().limit(limits=1))
    else:
        _MAIN_THREAD_BLOCKS.append(None)
    try:
        yield
    finally:
        limiter = _MAIN_THREAD_BLOCKS.pop()
        if limiter is not None:
            limiter.restore_original_limits()


CHILD_PATIENCE = 10.0
"""How many times as long as this process took for its own share :func:`share_work`
waits for a child's share (and at least :data:`CHILD_MIN_WAIT` seconds) before it stops
the child and does that share itself."""

CHILD_MIN_WAIT = 60.0


def share_work(tasks: Sequence[Callable[[], T]], workers: int) -> list[T]:
    """The results of ``tasks``, in order, with the work shared by up to ``workers``
    processes: this one takes tasks ``0, workers, 2 * workers, ...`` and each of
    ``workers - 1`` forked children one of the other shares, sending its results back
    pickled.

    Where the platform does not fork, or with one worker, this process runs every task.
    A share whose child fails — an error in a task, a child that dies, or one that has not
    answered after :data:`CHILD_PATIENCE` times this process's own time — is run again
    here, so a task's error is raised as if nothing had been forked.  The tasks must
    therefore be safe to run twice (writing the same files, say) and, in a child, must
    not use a lock another thread could hold (printing, a DuckDB connection): a forked
    child has the memory of every thread but runs only one.
    """
    workers = max(1, min(workers, len(tasks)))
    if workers == 1 or "fork" not in mp.get_all_start_methods():
        return [task() for task in tasks]
    context = mp.get_context("fork")
    shares = [list(range(w, len(tasks), workers)) for w in range(workers)]
    children = [_start_child(context, [tasks[i] for i in share]) for share in shares[1:]]
    try:
        started = time.perf_counter()
        results: dict[int, T] = {i: tasks[i]() for i in shares[0]}
        patience = max(CHILD_MIN_WAIT, CHILD_PATIENCE * (time.perf_counter() - started))
        deadline = time.monotonic() + patience
        for share, (process, receive) in zip(shares[1:], children, strict=True):
            answer = _child_answer(receive, deadline)
            _stop(process, receive)
            values = answer if answer is not None else [tasks[i]() for i in share]
            results.update(zip(share, values, strict=True))
    finally:  # an error here (in a task, or Ctrl-C) leaves no child behind
        for process, receive in children:
            _stop(process, receive)
    return [results[i] for i in range(len(tasks))]


def _start_child(context: Any, tasks: list[Callable[[], Any]]) -> tuple[Any, Any]:
    """A forked child running ``tasks`` and sending their results, or ``None`` when one
    fails (the parent runs them again and raises its error)."""
    receive, send = context.Pipe(duplex=False)

    def run() -> None:
        try:
            values = [task() for task in tasks]
        except BaseException:  # the parent runs the share again and raises it
            values = None
        try:
            send.send(values)
        except Exception:  # a result that does not pickle: the parent runs the share
            with contextlib.suppress(Exception):  # or the parent stopped listening
                send.send(None)

    process = context.Process(target=run, daemon=True)
    process.start()
    send.close()
    return process, receive


def _child_answer(receive: Any, deadline: float) -> list[Any] | None:
    """The child's results; ``None`` if it failed, died or missed ``deadline``."""
    try:
        return receive.recv() if receive.poll(max(0.0, deadline - time.monotonic())) else None
    except (EOFError, OSError):  # died before it answered
        return None


def _stop(process: Any, receive: Any) -> None:
    """Close the pipe from a child and let it end (a second at most; then stop it)."""
    receive.close()
    process.join(timeout=1.0)
    if process.is_alive():
        process.kill()
        process.join()
