"""Writing files and folders so that nobody ever sees a half-written one.

Everything clvmodels writes goes through here: a file or a folder is written under a
hidden temporary name next to its destination and only then put in place — a file by
one atomic rename over the old one, a folder by two renames (the old folder aside, the
new one in) after which the old one is deleted.  If the process dies before that, the
destination is untouched and the hidden temporary is removed by the next write to the
same destination (unless another command holds its lock, :mod:`clvmodels.locks`); a
folder left aside by a crash between the two renames is put back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clvmodels.locks import unclaimed


def temporary_name(path: Path, kind: str = "tmp") -> Path:
    """A hidden, unique sibling of ``path``: ``.NAME.<kind>-<pid>-<ns>``."""
    return path.parent / f".{path.name}.{kind}-{os.getpid()}-{time.time_ns()}"


def recover(path: Path) -> None:
    """Undo what a crashed write to ``path`` left: put back a folder set aside (when
    ``path`` is missing) and remove hidden temporaries and older folders set aside.

    Only when no other holder of the lock of ``path`` is writing it now
    (:func:`clvmodels.locks.unclaimed`): their temporaries are theirs, not a crash's.
    """
    with unclaimed(path) as free:
        if not free:
            return
        parent, name = path.parent, path.name
        aside = sorted(parent.glob(f".{name}.old-*"))
        if aside and not path.exists():
            aside[-1].rename(path)
            aside = aside[:-1]
        for stale in [*aside, *parent.glob(f".{name}.tmp-*")]:
            _remove(stale)


def replace(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Write ``path`` (a file or a folder) by ``write(tmp)``, which must create ``tmp``,
    and put it in place of any previous ``path`` only once ``write`` returned.

    On any error (or interrupt) inside ``write`` the temporary is removed and ``path``
    is as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    tmp = temporary_name(path)
    try:
        write(tmp)
    except BaseException:
        _remove(tmp)
        raise
    return swap(tmp, path)


def write_text(path: str | Path, text: str) -> Path:
    """Write a UTF-8 text file atomically (:func:`replace`)."""
    return replace(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def swap(tmp: Path, path: Path) -> Path:
    """Put the completed ``tmp`` (file or folder) in place of ``path``."""
    if tmp.is_file() and not path.is_dir():
        os.replace(tmp, path)  # atomic, also over an existing file
        return path
    aside = None
    if path.exists() or path.is_symlink():
        aside = temporary_name(path, "old")
        path.rename(aside)
    tmp.rename(path)
    if aside is not None:
        _remove(aside)
    return path


class StagedFolder:
    """A folder whose files are written into a hidden temporary sibling and which
    replaces ``path`` on :meth:`commit` (:func:`swap`); :meth:`abort` drops it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        recover(self.path)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.tmp-", dir=self.path.parent))

    def file(self, relative: str) -> Path:
        """Path of a file inside the (temporary) folder, its parent created."""
        target = self.tmp / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def commit(self) -> Path:
        """Replace ``path`` by the completed folder."""
        os.chmod(self.tmp, 0o755)
        return swap(self.tmp, self.path)

    def abort(self) -> None:
        """Remove the temporary folder (``path`` stays as it was)."""
        _remove(self.tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
