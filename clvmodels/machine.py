"""What this process may use of the machine."""

from __future__ import annotations

import functools
import os


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
