"""One writer at a time: advisory locks on the outputs of clvmodels commands.

A command holds the lock of what it writes while it runs (:func:`output_lock`): an
*exclusive* lock on its output (the run folder of ``fit`` and ``summarize``, the file of
``predict``) and a *shared* lock on every folder above it.  So two commands writing the
same output, or one writing a folder and another writing inside it, are refused, while
two commands writing different files of one folder run together.

A lock is a file of the system's temporary folder named after the **real path** of the
output (symbolic links and ``..`` resolved, :func:`lock_key`): the same folder reached
through a symlinked parent has the same lock.  Nothing is created beside the output, and
the lock dies with its process (a killed command leaves no stale lock).

:func:`clvmodels.atomic.recover` removes what a crashed write left next to an output
only when :func:`unclaimed` says that no other holder of its lock is writing there now.
On systems without POSIX ``flock`` (Windows) a lock is an exclusively created file and
folders above the output are not locked.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clvmodels.errors import ConfigError

try:  # POSIX advisory locks; elsewhere an exclusively created lock file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_HELD = threading.local()
"""``keys``: the exclusive locks the current thread holds (:func:`output_lock`)."""


def real_path(path: str | Path) -> Path:
    """``path`` with ``~`` expanded, made absolute, symbolic links and ``..`` resolved
    (the part that does not exist yet kept as given)."""
    return Path(os.path.realpath(os.path.expanduser(path)))


def lock_key(path: str | Path) -> str:
    """The key of the lock of ``path``: a digest of its :func:`real_path`."""
    return hashlib.sha256(str(real_path(path)).encode()).hexdigest()[:20]


def _lock_file(key: str) -> Path:
    return Path(tempfile.gettempdir()) / f"clvmodels-output-{key}.lock"


def _held_keys() -> set[str]:
    if not hasattr(_HELD, "keys"):
        _HELD.keys = set()
    return _HELD.keys


@contextmanager
def output_lock(out: str | Path, shown: str | None = None) -> Iterator[Path]:
    """Hold the lock of output ``out`` (exclusive) and of every folder above it
    (shared) while the block runs.

    Raises
    ------
    ConfigError
        One line naming ``out`` (as ``shown``) when another command holds a lock in
        the way: it writes ``out``, a folder holding ``out``, or inside ``out``.
    """
    target = real_path(out)
    busy = ConfigError(
        f"{shown or out}: another clvmodels command is writing there now; wait for it to "
        "finish or choose another output"
    )
    with contextlib.ExitStack() as stack:
        for folder in reversed(target.parents):
            if stack.enter_context(_holding(lock_key(folder), shared=True)) is None:
                raise busy
        key = lock_key(target)
        if stack.enter_context(_holding(key, shared=False)) is None:
            raise busy
        _held_keys().add(key)
        stack.callback(_held_keys().discard, key)
        yield Path(out)


@contextmanager
def unclaimed(path: str | Path) -> Iterator[bool]:
    """Whether no other holder of the lock of ``path`` writes there: True while the
    block runs when the current thread holds it (:func:`output_lock`) or it was free
    (then it is held until the block ends)."""
    key = lock_key(path)
    if key in _held_keys():
        yield True
        return
    with _holding(key, shared=False) as handle:
        yield handle is not None


@contextmanager
def _holding(key: str, shared: bool) -> Iterator[int | None]:
    """The handle of the lock ``key`` held while the block runs, or None when another
    holder is in the way (a shared lock is no lock without ``flock``)."""
    lock = _lock_file(key)
    if fcntl is None:  # pragma: no cover - Windows
        yield from _holding_exclusive_file(lock, shared)
        return
    handle = _acquire(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
    try:
        yield handle
    finally:
        if handle is not None:
            _release(lock, handle)


def _acquire(lock: Path, mode: int) -> int | None:
    while True:
        handle = os.open(lock, os.O_CREAT | os.O_RDONLY, 0o644)
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except OSError:
            os.close(handle)
            return None
        try:  # the lock file may have been removed by its previous holder meanwhile
            same = os.stat(lock).st_ino == os.fstat(handle).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        os.close(handle)


def _release(lock: Path, handle: int) -> None:
    """Let go of the lock; the last holder (one that can make its lock exclusive)
    removes the lock file."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.unlink(missing_ok=True)
    except OSError:
        pass  # another holder still shares it: the file stays
    finally:
        os.close(handle)


def _holding_exclusive_file(lock: Path, shared: bool) -> Iterator[int | None]:  # pragma: no cover
    if shared:
        yield -1
        return
    try:
        handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_RDWR)
    except FileExistsError:
        yield None
        return
    try:
        yield handle
    finally:
        os.close(handle)
        lock.unlink(missing_ok=True)
