"""Public names of a package imported on first use (PEP 562), so that ``import
clvmodels`` and the light commands (``--help``, ``validate``, ``summarize``) load neither
PyMC, PyTensor, ArviZ nor matplotlib until something needs them."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


def names_from(modules: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """``{name: module}`` from ``{module: names}``."""
    return {name: module for module, names in modules.items() for name in names}


def lazy_exports(
    package: str, lazy: Mapping[str, str], extra: tuple[str, ...] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: a name of ``lazy`` is imported
    from its module on first use and kept in the package; a name of ``extra`` is a
    subpackage, imported on first use."""
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        if name in lazy:
            value = getattr(importlib.import_module(lazy[name]), name)
        elif name in extra:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *lazy, *extra})

    return __getattr__, __dir__


def keep_functions(package: str, lazy: Mapping[str, str]) -> None:
    """Keep ``package.<name>`` the function of that name when its submodule of the same
    name is imported (the import system would set the attribute to the module)."""

    class _Package(types.ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if not (name in lazy and isinstance(value, types.ModuleType)):
                super().__setattr__(name, value)

    sys.modules[package].__class__ = _Package
