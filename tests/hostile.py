"""The harness of the hostile-input corpus (tests/test_hostile_*.py): a case builds its
files in a fresh folder, which is also the working directory, runs the command line and
must end with exit 2, one line on stderr that starts with ``error:`` and names the
problem, no traceback, and not a byte created, changed or deleted anywhere in the case's
folder (the checksum of the whole tree is the same before and after)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clvmodels.cli import main


@dataclass(frozen=True)
class Case:
    """Files to create (relative path -> text or bytes), the arguments (``{tmp}`` is
    the case folder) and the pattern of the error line."""

    files: dict[str, str | bytes]
    argv: tuple[str, ...]
    error: str
    setup: Callable[[Path], None] | None = None


def _tree(folder: Path) -> dict[str, str]:
    """Relative path -> checksum of every file and folder below ``folder``."""
    tree = {}
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        tree[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return tree


def check_case(case: Case, tmp_path: Path, capsys) -> None:
    """Run ``case`` in ``tmp_path / "case"`` and check the module docstring's rules."""
    work = tmp_path / "case"
    work.mkdir()
    for relative, content in case.files.items():
        path = work / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    if case.setup is not None:
        case.setup(work)
    before = _tree(tmp_path)
    argv = [a.replace("{tmp}", str(work)) for a in case.argv]
    cwd = Path.cwd()
    os.chdir(work)
    try:
        code = main([*argv, "--quiet"] if argv[0] in ("fit", "summarize", "predict") else argv)
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and len(lines[0]) < 400
    assert re.search(case.error, lines[0]), lines[0]
    assert _tree(tmp_path) == before
