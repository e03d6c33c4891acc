"""Where a command may write, and the run folder itself.

A command replaces only what a clvmodels command wrote.  Before any work is done,
:func:`check_run_folder` refuses an output folder (of ``fit`` and ``summarize``) that is

* an existing file, or a symbolic link;
* a non-empty folder that is not a clvmodels run folder (no ``manifest.json`` of ours),
  or a run folder whose ``manifest.json`` does not list what it wrote (no valid
  ``files``) or that holds files it does not list;
* for ``summarize``, the run folder of ``fit`` (whose models and report it would delete);
* the working directory, a folder holding it, a filesystem root or the user's home (or
  a folder holding that);
* a folder holding, or inside a folder holding, the configuration, the input data or a
  model file the command reads;

and :func:`check_output_file` refuses the output file of ``predict`` that is not
``.csv``/``.parquet``, a folder, a symbolic link, directly in a filesystem root, a file
the command reads or inside an input folder, or that exists (unless ``overwrite``).
The command then holds the lock of its output (:func:`clvmodels.locks.output_lock`), so
that a second command writing the same output at the same time is refused instead of
racing the first.

The run folder is written into a hidden temporary sibling, which replaces the previous
run folder only once complete (:class:`clvmodels.atomic.StagedFolder`): a failed or
interrupted run never leaves a half-written folder and never damages the previous good
run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from clvmodels.atomic import StagedFolder
from clvmodels.errors import ConfigError
from clvmodels.locks import real_path

MANIFEST = "manifest.json"
MARKER = "clvmodels_run"
"""The key of ``manifest.json`` that marks a folder as a clvmodels run folder."""
COMMAND = "command"
"""The key of ``manifest.json`` naming the command that wrote the folder (``fit`` or
``summarize``; ``fit`` when missing, as before the key existed)."""
PREDICTION_FORMATS = (".csv", ".parquet")


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


def run_manifest(folder: Path) -> dict[str, Any] | None:
    """The parsed ``manifest.json`` of the run in ``folder``, None when it holds none."""
    manifest = folder / MANIFEST
    try:
        recorded = json.loads(manifest.read_text()) if manifest.is_file() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return recorded if is_run_manifest(recorded) else None


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds the ``manifest.json`` of a run."""
    return run_manifest(folder) is not None


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _check_place(out: Path, shown: str, reads: Iterable[Path]) -> None:
    """The rules of an output folder that do not depend on what ``out`` holds."""
    target = real_path(out)
    if target.parent == target:
        raise ConfigError(f"{shown}: is a filesystem root; choose a folder of its own")
    cwd = real_path(Path.cwd())
    if _within(cwd, target):
        what = (
            "the working directory" if cwd == target else "a folder holding the working directory"
        )
        raise ConfigError(f"{shown}: is {what}; a run replaces its output, choose a new folder")
    home = real_path(Path.home())
    if _within(home, target):
        raise ConfigError(f"{shown}: is the home folder or holds it; choose a folder of its own")
    _check_reads(target, shown, reads, "folder")


def _check_reads(target: Path, shown: str, reads: Iterable[Path], kind: str) -> None:
    """``target`` (the real path of the output, a ``kind``) is none of the ``reads``,
    holds none of them and lies in no folder of them."""
    for read in reads:
        source = real_path(read)
        if source == target:
            raise ConfigError(f"{shown}: is {read}, which this command reads")
        if _within(source, target):
            raise ConfigError(
                f"{shown}: holds {read}, which this command reads; choose another folder"
            )
        if source.is_dir() and _within(target, source):
            raise ConfigError(
                f"{shown}: is inside the input folder {read}; choose a {kind} outside it"
            )


def check_run_folder(
    out: str | Path, reads: Iterable[Path] = (), shown: str | None = None, command: str = "fit"
) -> None:
    """Raise :class:`ConfigError` (one line naming ``out``) unless ``command`` (``fit``
    or ``summarize``) may replace the folder ``out`` (the module docstring); ``reads``
    are the files and folders the command reads."""
    out = Path(out)
    shown = shown or str(out)
    _check_place(out, shown, reads)
    if out.is_symlink():
        raise ConfigError(f"{shown}: is a symbolic link; give the folder itself")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{shown}: is a file, not a folder; choose a folder for the run")
    if not out.exists() or not any(out.iterdir()):
        return
    recorded = run_manifest(out)
    if recorded is None:
        raise ConfigError(
            f"{shown}: is not empty and not a clvmodels run folder (no {MANIFEST} of a run); "
            "choose a new or empty folder"
        )
    files = recorded.get("files")
    if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
        raise ConfigError(
            f"{shown}: its {MANIFEST} has no valid list of the files a run wrote (files), so "
            "what it holds may not be a run's; move it out, or choose another folder"
        )
    foreign = sorted(set(written_files(out)) - set(files))
    if foreign:
        names = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ConfigError(
            f"{shown}: holds files no run wrote ({names}); move them out, or choose another folder"
        )
    if command == "summarize" and recorded.get(COMMAND, "fit") != "summarize":
        raise ConfigError(
            f"{shown}: holds a run of clvmodels fit, whose models and report summarize would "
            "replace; choose another folder"
        )


def check_output_file(
    out: str | Path, reads: Iterable[Path] = (), shown: str | None = None, overwrite: bool = False
) -> None:
    """Raise :class:`ConfigError` unless ``predict`` may write the file ``out``: a
    ``.csv`` or ``.parquet`` name, not a folder or a symbolic link, not directly in a
    filesystem root, none of the ``reads`` and in no folder of them, and new unless
    ``overwrite`` (``--overwrite``)."""
    out = Path(out)
    shown = shown or str(out)
    if out.is_symlink():
        raise ConfigError(f"{shown}: is a symbolic link; give the file itself")
    if out.is_dir():
        raise ConfigError(f"{shown}: is a folder; give a file name (.csv or .parquet)")
    if out.suffix not in PREDICTION_FORMATS:
        raise ConfigError(f"{shown}: give a file name ending in .csv or .parquet")
    target = real_path(out)
    if target.parent.parent == target.parent:
        raise ConfigError(f"{shown}: is in a filesystem root; choose a folder of its own")
    _check_reads(target, shown, reads, "file")
    if out.exists() and not overwrite:
        raise ConfigError(
            f"{shown}: exists; predict replaces an existing file only with --overwrite"
        )
