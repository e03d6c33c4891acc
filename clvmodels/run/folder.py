"""Where a run may write, and the run folder itself.

A run replaces only what a previous run wrote.  Before any work is done,
:func:`claim_output` refuses an output that is

* an existing file where a folder is wanted (or a folder where a file is wanted);
* a non-empty folder that is not a clvmodels run folder (no ``manifest.json`` of ours),
  or a run folder holding files no run wrote (``manifest.json`` lists what it wrote);
* the working directory, a folder holding it, a filesystem root or the user's home (or
  a folder holding that);
* a folder holding, or inside a folder holding, the configuration, the input data or a
  model file the command reads;

and takes a lock (:func:`output_lock`) so that a second command writing the same output
at the same time is refused instead of racing the first.

The run folder is written into a hidden temporary sibling, which replaces the previous
run folder only once complete (:class:`clvmodels.atomic.StagedFolder`): a failed or
interrupted run never leaves a half-written folder and never damages the previous good
run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from clvmodels.atomic import StagedFolder
from clvmodels.errors import ConfigError

MANIFEST = "manifest.json"
MARKER = "clvmodels_run"
"""The key of ``manifest.json`` that marks a folder as a clvmodels run folder."""

try:  # POSIX advisory locks; elsewhere an exclusively created lock file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class RunFolder(StagedFolder):
    """Writes a run folder atomically: :meth:`file` paths inside the temporary folder,
    :meth:`commit` to put it in place, :meth:`abort` to drop it."""


def written_files(folder: Path) -> list[str]:
    """The files of a completed run folder, relative and sorted (``manifest.json``'s
    ``files``)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def is_run_manifest(recorded: object) -> bool:
    """Whether a parsed ``manifest.json`` is a clvmodels run's: it has :data:`MARKER`,
    or, written before the marker existed, ``clvmodels_version`` and ``steps_seconds``."""
    if not isinstance(recorded, dict):
        return False
    return MARKER in recorded or {"clvmodels_version", "steps_seconds"} <= recorded.keys()


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds the ``manifest.json`` of a run."""
    manifest = folder / MANIFEST
    try:
        recorded = json.loads(manifest.read_text()) if manifest.is_file() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return is_run_manifest(recorded)


def _resolved(path: Path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(path)))


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _check_place(out: Path, shown: str, reads: Iterable[Path]) -> None:
    """The rules that do not depend on what ``out`` holds."""
    target = _resolved(out)
    if target.parent == target:
        raise ConfigError(f"{shown}: is a filesystem root; choose a folder of its own")
    cwd = _resolved(Path.cwd())
    if _within(cwd, target):
        what = (
            "the working directory" if cwd == target else "a folder holding the working directory"
        )
        raise ConfigError(f"{shown}: is {what}; a run replaces its output, choose a new folder")
    home = _resolved(Path.home())
    if _within(home, target):
        raise ConfigError(f"{shown}: is the home folder or holds it; choose a folder of its own")
    for read in reads:
        source = _resolved(read)
        if source == target:
            raise ConfigError(f"{shown}: is {read}, which this command reads")
        if _within(source, target):
            raise ConfigError(
                f"{shown}: holds {read}, which this command reads; choose another folder"
            )
        if source.is_dir() and _within(target, source):
            raise ConfigError(
                f"{shown}: is inside the input folder {read}; choose a folder outside it"
            )


def check_run_folder(out: str | Path, reads: Iterable[Path] = (), shown: str | None = None) -> None:
    """Raise :class:`ConfigError` (one line naming ``out``) unless a run may replace
    ``out`` (the module docstring); ``reads`` are the files and folders the command
    reads."""
    out = Path(out)
    shown = shown or str(out)
    _check_place(out, shown, reads)
    if out.is_symlink():
        raise ConfigError(f"{shown}: is a symbolic link; give the folder itself")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{shown}: is a file, not a folder; choose a folder for the run")
    if not out.exists() or not any(out.iterdir()):
        return
    if not is_run_folder(out):
        raise ConfigError(
            f"{shown}: is not empty and not a clvmodels run folder (no {MANIFEST} of a run); "
            "choose a new or empty folder"
        )
    files = json.loads((out / MANIFEST).read_text()).get("files")
    foreign = [] if not isinstance(files, list) else sorted(set(written_files(out)) - set(files))
    if foreign:
        names = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ConfigError(
            f"{shown}: holds files no run wrote ({names}); move them out, or choose another folder"
        )


def check_output_file(
    out: str | Path, reads: Iterable[Path] = (), shown: str | None = None
) -> None:
    """Raise :class:`ConfigError` unless a command may write (or replace) the file
    ``out``: not a folder, not a file the command reads, not inside an input folder."""
    out = Path(out)
    shown = shown or str(out)
    target = _resolved(out)
    if out.is_dir():
        raise ConfigError(f"{shown}: is a folder; give a file name (.csv or .parquet)")
    for read in reads:
        source = _resolved(read)
        if source == target:
            raise ConfigError(f"{shown}: is {read}, which this command reads")
        if source.is_dir() and _within(target, source):
            raise ConfigError(
                f"{shown}: is inside the input folder {read}; choose a file outside it"
            )


def check_output_dataset(
    out: str | Path, reads: Iterable[Path] = (), shown: str | None = None
) -> None:
    """Raise :class:`ConfigError` unless a command may write (or replace) the Parquet
    dataset folder ``out``: where it exists, a dataset Spark wrote (``_SUCCESS``)."""
    out = Path(out)
    shown = shown or str(out)
    _check_place(out, shown, reads)
    if out.exists() and not (out.is_dir() and (out / "_SUCCESS").is_file()):
        raise ConfigError(
            f"{shown}: exists and is not a Parquet dataset written by Spark; move it or "
            "choose another folder"
        )


@contextmanager
def output_lock(out: str | Path, shown: str | None = None) -> Iterator[Path]:
    """Hold the lock of output ``out`` while the block runs; another holder makes it a
    :class:`ConfigError` naming ``out`` (as ``shown``).

    The lock is a file of the system's temporary folder named after the output's
    absolute path, so nothing is created beside the output before the work is done, and
    a killed command leaves nothing there (the lock dies with its process).
    """
    path = Path(out)
    key = hashlib.sha256(str(_resolved(path)).encode()).hexdigest()[:20]
    lock = Path(tempfile.gettempdir()) / f"clvmodels-output-{key}.lock"
    handle = _acquire(lock, shown or str(out))
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(handle)


def _acquire(lock: Path, shown: str) -> int:
    busy = ConfigError(
        f"{shown}: another clvmodels command is writing it now; wait for it to finish "
        "or choose another output"
    )
    while True:
        if fcntl is None:  # pragma: no cover - Windows
            try:
                return os.open(lock, os.O_CREAT | os.O_EXCL | os.O_RDWR)
            except FileExistsError:
                raise busy from None
        handle = os.open(lock, os.O_CREAT | os.O_RDONLY, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(handle)
            raise busy from None
        try:  # the lock file may have been removed by its previous holder meanwhile
            same = os.stat(lock).st_ino == os.fstat(handle).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        os.close(handle)
