"""HTML building blocks of the report: escaping, numbers, tables, run-folder tables
(how a number is printed and a column named: :mod:`clvmodels.report.formats`)."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from clvmodels.report.formats import cell, definition, kind, label


def read_table(folder: Path, name: str) -> pd.DataFrame | None:
    """The table ``name`` of the run folder, ``None`` when the run did not write it."""
    path = folder / name
    if not path.exists():
        return None
    columns = pd.read_csv(path, nrows=0).columns
    return pd.read_csv(path, dtype={c: str for c in columns if kind(c) == "id"})


def escape(value: Any) -> str:
    """``value`` as HTML text (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def number(value: Any, key: str = "") -> str:
    """A number as the report prints it, escaped (:func:`clvmodels.report.formats.cell`:
    ``—`` for none, percentages for shares and rates, thousands separators, no
    scientific notation)."""
    return escape(cell(value, key))


def pairs(rows: list[tuple[str, str]]) -> str:
    """A two-column table of labels and (already formatted) values."""
    body = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


MAX_COLUMNS = 8
"""Columns of one table at most: a wider frame becomes several tables that repeat its
leading id columns, so every table fits the page without scrolling."""


def table(frame: pd.DataFrame, max_columns: int = MAX_COLUMNS) -> str:
    """``frame`` as HTML tables that fit the page: human-readable headers
    (:func:`~clvmodels.report.formats.label`, the column's name in ``data-key`` for the
    glossary and its definition as a tooltip), every cell formatted by its column
    (:func:`~clvmodels.report.formats.cell`; ids never as numbers).  A frame wider than
    ``max_columns`` is split into several tables, each repeating the leading id columns."""
    columns = [str(c) for c in frame.columns]
    lead = []
    for c in columns[:2]:
        if kind(c) != "id":
            break
        lead.append(c)
    rest = [c for c in columns if c not in lead]
    width = max(1, max_columns - len(lead))
    parts = max(1, math.ceil(len(rest) / width))
    size = math.ceil(len(rest) / parts) if rest else 0
    chunks = [rest[i : i + size] for i in range(0, len(rest), size)] if rest else [[]]
    return "".join(_one_table(frame, lead + chunk) for chunk in chunks)


def _one_table(frame: pd.DataFrame, columns: list[str]) -> str:
    """One HTML table of ``frame``'s ``columns``."""
    head = "".join(_header(c) for c in columns)
    sub = frame.set_axis([str(c) for c in frame.columns], axis=1)[columns]
    rows = []
    for record in sub.itertuples(index=False):
        cells = "".join(
            f"<td class='{kind(c)}'>{escape(cell(v, c))}</td>"
            for c, v in zip(columns, record, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _header(column: str) -> str:
    meaning = definition(column)
    title = f" title='{escape(meaning)}'" if meaning else ""
    return (
        f"<th class='{kind(column)}' data-key='{escape(column)}'{title}>"
        f"{escape(label(column))}</th>"
    )


def glossary_section(body: str, extra: Iterable[str] = ()) -> str:
    """``<section id="glossary">``: the definition of every column shown in ``body`` (the
    ``data-key`` of its headers) and of the names in ``extra`` (the seed metrics), in
    order of first appearance; empty when none has a definition."""
    keys = dict.fromkeys([*re.findall(r"data-key='([^']+)'", body), *extra])
    entries = []
    for key in keys:
        key = html.unescape(key)
        meaning = definition(key)
        if meaning:
            entries.append(f"<dt>{escape(label(key))}</dt><dd>{escape(meaning)}</dd>")
    if not entries:
        return ""
    return "<section id='glossary'><h2>Glossary</h2><dl>" + "".join(entries) + "</dl></section>"
