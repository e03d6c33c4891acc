"""The config reference, built from the schema itself so that it cannot drift.

Every block of a run configuration is a dataclass (:mod:`clvmodels.config.schema`), and
every field is described in the numpy ``Attributes`` section of its class docstring:

.. code-block:: text

    Attributes
    ----------
    conversion_rate
        Share of paid clicks that become a first purchase (0.02 = 2 %).

:func:`config_reference` walks the dataclasses from :class:`~clvmodels.config.RunConfig`
down (``data.covariates.source``, ``models.<key>.penalty``) and writes one markdown table
per block: key, type, default and that description.  A field without an entry, or an
entry naming no field, is an error, so a new key cannot reach the documentation
undocumented.  The documentation build (``docs/hooks.py``) serves the result as
``reference/config.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import re
import types
import typing
from typing import Any, Literal

from clvmodels.config.schema import RunConfig
from clvmodels.config.schema_data import SqlSourceConfig

_INTRO = """# Config reference

A run is configured by one YAML file (`clvmodels fit my_run.yaml`).  This page lists every
key of it: its type, its default and what it does.  It is generated from the configuration
schema (`clvmodels/config/schema*.py`) when the documentation is built, so it always
matches the code.  [`configs/template.yaml`](template.md) shows every key with its default
in one file to copy.  Unknown keys and wrong types are errors that name the key path.
"""


def config_reference(root: type = RunConfig) -> str:
    """The config reference as markdown: one table per block of ``root``.

    Parameters
    ----------
    root
        The dataclass of a whole configuration (default :class:`RunConfig`).

    Returns
    -------
    str
        Markdown: a title, the top-level keys, then one section per block in the order
        of the schema (nested blocks after their parent).

    Raises
    ------
    ValueError
        When a field has no entry in its class's ``Attributes`` section, or an entry names
        no field.
    """
    return "\n".join([_INTRO, *_block_sections(root, "", "Top level")])


def _block_sections(cls: type, path: str, title: str) -> list[str]:
    """The section of block ``cls`` at key path ``path``, then those of its sub-blocks."""
    entries = attribute_entries(cls)
    hints = typing.get_type_hints(cls)
    rows, children = [], []
    for f in _public_fields(cls):
        key = f"{path}.{f.name}" if path else f.name
        block, suffix = _block_of(hints[f.name])
        if block is not None:
            child = key + suffix
            children.append((block, child))
            text = f"{entries[f.name]} See [`{child}`](#{_anchor(child)})."
        else:
            text = entries[f.name]
        rows.append(
            f"| `{key}` | {_type_text(hints[f.name])} | {_default_text(f)} | {_cell(text)} |"
        )
    heading = f"## {title} {{ #{_anchor(path or 'top-level')} }}"
    intro = _cell(_summary(cls))
    table = ["| key | type | default | meaning |", "|---|---|---|---|", *rows]
    out = ["\n".join([heading, "", intro, "", *table, ""])]
    for block, child in children:
        out += _block_sections(block, child, f"`{child}`")
    return out


def attribute_entries(cls: type) -> dict[str, str]:
    """The ``Attributes`` entries of a config dataclass's docstring, by field name.

    Raises
    ------
    ValueError
        When a (non-internal) field has no entry, or an entry names no field.
    """
    entries = _parse_attributes(inspect.getdoc(cls) or "")
    names = [f.name for f in _public_fields(cls)]
    missing = [name for name in names if name not in entries]
    if missing:
        raise ValueError(
            f"{cls.__module__}.{cls.__name__}: no entry for {', '.join(missing)} in the "
            "docstring's Attributes section"
        )
    unknown = [name for name in entries if name not in names]
    if unknown:
        raise ValueError(
            f"{cls.__module__}.{cls.__name__}: the Attributes section documents "
            f"{', '.join(unknown)}, which is no field"
        )
    return entries


def _parse_attributes(doc: str) -> dict[str, str]:
    """Entries of the numpy ``Attributes`` section of a dedented docstring."""
    lines = doc.splitlines()
    entries: dict[str, list[str]] = {}
    start = next(
        (
            i + 2
            for i, line in enumerate(lines[:-1])
            if line.strip() == "Attributes" and set(lines[i + 1].strip()) == {"-"}
        ),
        None,
    )
    if start is None:
        return {}
    current = None
    for i in range(start, len(lines)):
        line = lines[i]
        if i + 1 < len(lines) and line.strip() and set(lines[i + 1].strip()) == {"-"}:
            break  # the next section
        if line and not line[0].isspace():
            current = line.split(" :")[0].strip()
            entries[current] = []
        elif current is not None and line.strip():
            entries[current].append(line.strip())
    return {name: _markdown(" ".join(text)) for name, text in entries.items()}


def _public_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]


def _summary(cls: type) -> str:
    """The docstring up to its ``Attributes`` section, as markdown."""
    doc = inspect.getdoc(cls) or ""
    head = doc.split("\nAttributes\n")[0].strip()
    return _markdown(" ".join(line.strip() for line in head.splitlines()))


def _block_of(hint: Any) -> tuple[type | None, str]:
    """The config block a field holds (``X``, ``X | None`` or ``dict[str, X]``) and the
    key-path suffix of its keys."""
    options = [a for a in _union_args(hint) if a is not type(None)]
    for option in options:
        if _is_block(option):
            return option, ""
        if typing.get_origin(option) is dict:
            value = typing.get_args(option)[1]
            if _is_block(value):
                return value, ".<key>"
    return None, ""


def _is_block(hint: Any) -> bool:
    return dataclasses.is_dataclass(hint)


def _union_args(hint: Any) -> tuple[Any, ...]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


_SIMPLE = {str: "text", int: "integer", float: "number", bool: "true/false", dt.date: "date"}


def _type_text(hint: Any) -> str:
    """A type as a reader of YAML sees it: ``number, `lifetime` or null``."""
    parts = [_one_type(a) for a in _union_args(hint)]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _one_type(hint: Any) -> str:
    if hint is type(None):
        return "null"
    if hint in _SIMPLE:
        return _SIMPLE[hint]
    if hint is SqlSourceConfig:
        return "`{sql, url}` query"
    if dataclasses.is_dataclass(hint):
        return "block"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return " / ".join(f"`{_yaml(a)}`" for a in args)
    if origin is list:
        return f"list of {_one_type(args[0]) if args else 'values'}"
    if origin is dict:
        return "mapping"
    if hint is Any:
        return "any"
    return f"`{getattr(hint, '__name__', hint)}`"


def _default_text(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if dataclasses.is_dataclass(value):
        return "its defaults"
    return f"`{_yaml(value)}`"


def _yaml(value: Any) -> str:
    """A default as it is written in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def _markdown(text: str) -> str:
    """reStructuredText inline markup of the docstrings as markdown."""
    text = _ROLE.sub(lambda m: f"`{m.group(1)}`", text)
    return text.replace("``", "`")


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|")


def _anchor(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
