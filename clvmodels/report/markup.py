"""HTML building blocks of the report: escaping, numbers, tables, run-folder tables."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import pandas as pd


def read_table(folder: Path, name: str) -> pd.DataFrame | None:
    """The table ``name`` of the run folder, ``None`` when the run did not write it."""
    path = folder / name
    return pd.read_csv(path) if path.exists() else None


def escape(value: Any) -> str:
    """``value`` as HTML text (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def number(value: Any, key: str = "") -> str:
    """A number as the report prints it: ``—`` for none, percentages for rates (``key``
    ending in ``rate``), thousands separators for large values, four significant digits
    otherwise."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return escape(value)
    value = float(value)
    if math.isnan(value):
        return "—"
    if key.endswith("rate"):
        return f"{value:.1%}"
    if abs(value) >= 1e5 and abs(value) < 1e15:
        return f"{value:,.0f}"
    if value != 0 and (abs(value) >= 1e15 or abs(value) < 1e-3):
        return f"{value:.4g}"
    if float(value).is_integer() and abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.4g}"


def pairs(rows: list[tuple[str, str]]) -> str:
    """A two-column table of labels and (already formatted) values."""
    body = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def table(frame: pd.DataFrame) -> str:
    """``frame`` as an HTML table in a scrolling container."""
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = "".join(
            f"<td>{number(v) if not isinstance(v, str) else escape(v)}</td>" for v in record
        )
        rows.append(f"<tr>{cells}</tr>")
    return (
        f"<div class='wide'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
