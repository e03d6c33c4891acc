"""Compiled PyTensor functions kept on disk across processes, keyed by their graph.

A fresh process that fits a model pays for building the gradient graph, rewriting it
(``Pareto/NBD``: several seconds, most of its first fit) and linking it to the C code
PyTensor keeps in its own compile directory.  A pickled
:class:`pytensor.compile.function.types.Function` holds the rewritten graph, so loading
it skips the gradient and the rewrites and only links again (PyTensor's compile
directory then supplies the C modules).

Safety:

* the key is a SHA-256 of a canonical text of the graph *before* differentiation —
  every node's operation with its properties, every input's type and name, every
  constant's bytes, and the source of every operation defined outside PyTensor — and
  of the versions and settings the compiled function depends on (Python, NumPy, SciPy,
  PyTensor, clvmodels, PyTensor's linker, optimizer and compiler flags), so a changed
  graph or library never loads a stale function; a graph that cannot be written down
  canonically (a shared variable, an object printed with its memory address) is not
  cached;
* files live in a per-user cache folder (:func:`cache_dir`), never in a run folder;
* a file is written to a temporary name and renamed into place, so concurrent
  processes see either no file or a whole one; each file records its own key;
* a file that cannot be read, or holds something else, is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import pickle
import platform
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from clvmodels._version import __version__

FORMAT = 1
"""Version of the file layout; part of every key."""

CACHE_DIR_VARIABLE = "CLVMODELS_CACHE_DIR"
"""Environment variable naming the cache folder; set to the empty string to turn the
cache off."""


def cache_dir() -> Path | None:
    """The folder of the compiled functions: ``$CLVMODELS_CACHE_DIR`` if set (``None``,
    no cache, when it is empty), else ``clvmodels/compiled`` in the user's cache folder
    (``%LOCALAPPDATA%`` on Windows, ``~/Library/Caches`` on macOS,
    ``$XDG_CACHE_HOME`` or ``~/.cache`` elsewhere)."""
    given = os.environ.get(CACHE_DIR_VARIABLE)
    if given is not None:
        return Path(given).expanduser() if given else None
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "clvmodels" / "compiled"


def graph_key(name: str, inputs: Sequence[Any], outputs: Sequence[Any]) -> str | None:
    """SHA-256 key of the function ``inputs -> outputs`` named ``name`` (see the module
    docstring), or ``None`` when the graph cannot be written down canonically."""
    try:
        text = _graph_text(inputs, outputs)
    except _NotCanonical:
        return None
    digest = hashlib.sha256()
    for part in (f"format {FORMAT}", name, *_environment(), text):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def value_and_gradient(name: str, inputs: Sequence[Any], total: Any, wrt: Any) -> Any:
    """The compiled PyTensor function ``inputs -> (total, ∂total/∂wrt)`` named ``name``:
    loaded when an earlier process compiled the same graph, else compiled and stored."""
    import pytensor
    from pytensor.compile.function.types import Function

    def build() -> Function:
        grad = pytensor.grad(total, wrt)
        return pytensor.function(list(inputs), [total, grad], on_unused_input="ignore", name=name)

    key = graph_key(name, inputs, [total])
    with warnings.catch_warnings():
        # The likelihood graphs are elementwise sums: no BLAS operation is involved (the
        # warning may come when compiling or when linking a loaded function).
        warnings.filterwarnings("ignore", ".*could not link to a BLAS", UserWarning)
        return cached(key, build, accept=lambda found: isinstance(found, Function))


def load(key: str) -> Any | None:
    """The object stored under ``key``, or ``None`` (no cache, no file, or a file that
    cannot be read or was stored under another key)."""
    path = _path(key)
    if path is None or not path.is_file():
        return None
    try:
        with path.open("rb") as file:
            stored_format, stored_key, obj = pickle.load(file)
    except Exception:  # any file that cannot be loaded (truncated, corrupt, stale) is a miss
        return None
    if stored_format != FORMAT or stored_key != key:
        return None
    return obj


def store(key: str, obj: Any) -> bool:
    """Write ``obj`` under ``key`` atomically; whether it was written (a cache that
    cannot be written is skipped: it never fails a fit)."""
    path = _path(key)
    if path is None:
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:16]}.", suffix=".tmp")
    except OSError:
        return False
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as file:
            pickle.dump((FORMAT, key, obj), file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except (OSError, pickle.PicklingError, RecursionError, TypeError, AttributeError):
        temporary.unlink(missing_ok=True)
        return False
    return True


def cached(key: str | None, build: Callable[[], Any], accept: Callable[[Any], bool]) -> Any:
    """The object stored under ``key`` if ``accept`` takes it, else ``build()``, stored."""
    if key is None:
        return build()
    found = load(key)
    if found is not None and accept(found):
        return found
    obj = build()
    store(key, obj)
    return obj


def _path(key: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"{key}.pkl"


def _environment() -> list[str]:
    """Versions and settings a compiled function depends on."""
    import numpy
    import pytensor
    import scipy



    config = pytensor.config
    return [
        f"python {sys.version}",
        f"machine {platform.machine()} {platform.system()}",
        f"numpy {numpy.__version__} scipy {scipy.__version__} pytensor {pytensor.__version__}",
        f"clvmodels {__version__}",
        f"mode {config.mode} linker {config.linker} optimizer {config.optimizer}",
        f"floatX {config.floatX} cxx {config.cxx} flags {config.gcc__cxxflags}",
    ]


class _NotCanonical(Exception):
    """The graph cannot be written down canonically: it is not cached."""


def _graph_text(inputs: Sequence[Any], outputs: Sequence[Any]) -> str:
    """One line per input, constant and node in topological order, operations with their
    properties (:class:`_NotCanonical` for a graph with another root, e.g. a shared
    variable, or an object printed with its memory address)."""
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import io_toposort

    names: dict[Any, str] = {}
    lines = []
    for i, var in enumerate(inputs):
        names[var] = f"i{i}"
        lines.append(f"i{i} input {var.type} {var.name}")
    sources: set[str] = set()
    for node in io_toposort(list(inputs), list(outputs)):
        args = []
        for var in node.inputs:
            if var not in names:
                if not isinstance(var, Constant):
                    raise _NotCanonical(var)
                names[var] = f"c{len(names)}"
                lines.append(f"{names[var]} constant {var.type} {_data_hash(var.data)}")
            args.append(names[var])
        lines.append(f"n{len(lines)} {_op_text(node.op, sources)}({', '.join(args)})")
        for j, out in enumerate(node.outputs):
            names[out] = f"n{len(lines) - 1}.{j}"
    lines.append("outputs " + ", ".join(names.get(out, "?") for out in outputs))
    lines.extend(sorted(sources))
    text = "\n".join(lines)
    if " at 0x" in text:
        raise _NotCanonical(text)
    return text


def _op_text(op: Any, sources: set[str]) -> str:
    """The operation's class and properties; the source hash of any class involved that
    PyTensor does not define is added to ``sources``."""
    props = [(p, getattr(op, p)) for p in getattr(op, "__props__", ())]
    for obj in (op, *(value for _, value in props)):
        module = type(obj).__module__
        if not module.startswith(("pytensor.", "builtins", "numpy")):
            sources.add(f"source {module}.{type(obj).__qualname__} {_source_hash(type(obj))}")
    described = ", ".join(f"{p}={value!r}" for p, value in props)
    return f"{type(op).__module__}.{type(op).__qualname__}[{described}]"


def _source_hash(cls: type) -> str:
    """SHA-256 of the file defining ``cls`` (:class:`_NotCanonical` without one)."""
    try:
        return hashlib.sha256(Path(inspect.getfile(cls)).read_bytes()).hexdigest()
    except (OSError, TypeError) as error:
        raise _NotCanonical(cls) from error


def _data_hash(data: Any) -> str:
    import numpy as np

    array = np.ascontiguousarray(data)
    return f"{array.dtype}{array.shape}:{hashlib.sha256(array.tobytes()).hexdigest()}"
