"""The messages of bad input tables: a missing column, the first offending row.

Every table the data layer checks (transaction logs, summaries, survival and
subscription tables) reports a problem the same way: the source's name, the column, and
where the first bad value is, e.g. ``data.csv: column 'T' row 3: not positive (value
-1.0)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from clvmodels.errors import DataError, clip, echo


def require_columns(
    name: str, wanted: Mapping[str, str | None] | Iterable[str], present: Iterable[str]
) -> None:
    """Raise a :class:`DataError` for the first column of ``wanted`` not in ``present``.

    Parameters
    ----------
    name
        The source's name, first in the message.
    wanted
        Column names, or a mapping role -> column name (``None``: the role is not used)
        whose role the message names (``missing column 'ts' (the date column)``).
    present
        The columns the table has, listed in the message.
    """
    present = list(present)
    pairs = wanted.items() if isinstance(wanted, Mapping) else ((None, c) for c in wanted)
    for role, column in pairs:
        if column is not None and column not in present:
            which = f" (the {role} column)" if role is not None else ""
            raise DataError(
                f"{name}: missing column {echo(column)}{which}; "
                f"columns present: {column_list(present)}"
            )


def column_list(columns: Iterable[object], limit: int = 160) -> str:
    """Column names for a message, ``a, b, c``: each name cut to 40 characters, and the
    list cut after ``limit`` characters with how many columns there are in all."""
    names = [clip(str(column), 40) for column in columns]
    text = ", ".join(names)
    if len(text) <= limit:
        return text
    return f"{clip(text, limit)} ({len(names):,} columns)"


def fail_first_row(
    mask: np.ndarray,
    name: str,
    column: str,
    problem: str,
    values: pd.Series,
    ids: pd.Series | None = None,
) -> None:
    """Raise a :class:`DataError` at the first row where ``mask`` is true, if any:
    ``{name}: column {column!r} row {pos}: {problem} (value {values[pos]!r})``, with
    ``(customer_id '{ids[pos]}')`` after the row when ``ids`` (the customer ids, aligned
    with ``values``) are given: an id as text, so that an id read from a file and the
    same id in a DataFrame read alike."""
    if np.any(mask):
        pos = int(np.flatnonzero(mask)[0])
        who = "" if ids is None else f" (customer_id {echo(str(_plain(ids.iloc[pos])))})"
        raise DataError(
            f"{name}: column {echo(column)} row {pos}{who}: {problem} "
            f"(value {echo(_plain(values.iloc[pos]))})"
        )


def _plain(value: object) -> object:
    """A NumPy scalar as the Python number it holds (``-5.0``, not ``np.float64(-5.0)``),
    a whole float as an integer (``-2``, whether read from text or an integer column)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value
