"""A table that is already summarised: one row per customer (or per identical customers).

The continuous-time form is ``frequency, recency, T`` in the notation of Fader, Hardie &
Lee (2005), "Counting your customers the easy way", Marketing Science 24(2), section 2
(``frequency`` = x, ``recency`` = t_x, ``T``); the discrete-time form of the BG/BB
(Fader, Hardie & Shang 2010, "Customer-base analysis in a discrete-time noncontractual
setting", Marketing Science 29(6)) is ``frequency, recency, n`` with ``n`` the number of
transaction opportunities.  Both may carry ``monetary_value`` and a ``count`` of
identical customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.data.checks import fail_first_row, require_columns
from clvmodels.data.transactions import MAX_AMOUNT
from clvmodels.errors import DataError

SUMMARY_ROLES = ("customer_id", "frequency", "recency", "T", "n", "monetary_value", "count")
"""The columns of a summary, by role: what ``columns`` of :func:`validate_summary` maps."""


def validate_summary(
    df: pd.DataFrame, *, source_name: str = "DataFrame", columns: dict[str, str] | None = None
) -> pd.DataFrame:
    """Check a pre-summarised frame ``frequency, recency, T[, monetary_value][, count]``.

    The discrete-time form of the BG/BB (Fader, Hardie & Shang 2010) is accepted too:
    ``frequency, recency, n[, count]`` with ``n`` the number of transaction
    opportunities and ``recency`` the opportunity of the last transaction (whole numbers,
    ``frequency ≤ recency ≤ n``).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per customer (or per identical customers, weighted by ``count``), in
        the notation of Fader, Hardie & Lee (2005): ``frequency`` = x, ``recency`` = t_x,
        ``T``.  An optional ``customer_id`` column is kept.
    source_name : str
        Name used in messages (a path or "DataFrame").
    columns : dict, optional
        Where each role is in the frame: role -> the frame's column name, e.g.
        ``{"frequency": "x", "recency": "t_x"}`` (the roles of :data:`SUMMARY_ROLES`;
        ``data.columns`` of a config with ``data.kind: summary``).

    Returns
    -------
    pandas.DataFrame
        Canonical columns (floats; ``frequency`` and ``count`` int64) with
        ``customer_id`` (0..n-1 when absent) first.

    Raises
    ------
    DataError
        An unknown role in ``columns``, or a column it names that is missing or whose
        role's name another column already has; naming the column and the first
        offending row: missing column, non-numeric or NaN value, frequency not a
        non-negative integer, recency < 0, T <= 0, recency > T, recency != 0 when
        frequency == 0, a monetary value beyond ±1e15
        (:data:`~clvmodels.data.transactions.MAX_AMOUNT`), count not a positive integer.
    """
    frame = _by_role(df, columns or {}, source_name)
    if len(frame) == 0:
        raise DataError(f"{source_name}: no rows")
    present = list(frame.columns)
    span = "n" if "n" in present and "T" not in present else "T"
    require_columns(source_name, ("frequency", "recency", span), present)
    optional = [c for c in ("monetary_value", "count") if c in present]
    values = _numbers(frame, ["frequency", "recency", span, *optional], source_name)
    values = _checked(frame, values, span, source_name)
    ids = (
        frame["customer_id"].to_numpy()
        if "customer_id" in present
        else np.arange(len(frame), dtype="int64")
    )
    return pd.DataFrame({"customer_id": ids, **values})


def _by_role(df: pd.DataFrame, columns: dict[str, str], name: str) -> pd.DataFrame:
    """``df`` with the columns named in ``columns`` (role -> column) renamed to their
    roles."""
    unknown = [role for role in columns if role not in SUMMARY_ROLES]
    if unknown:
        raise DataError(
            f"columns: {unknown[0]!r} is not a column role of a summary "
            f"(roles: {', '.join(SUMMARY_ROLES)})"
        )
    require_columns(name, columns, df.columns)
    renamed = {column: role for role, column in columns.items()}
    for role, column in columns.items():
        if role != column and role in df.columns and role not in renamed:
            raise DataError(
                f"{name}: columns maps role {role!r} to column {column!r}, but there is a "
                f"column {role!r} too; drop or rename one of them"
            )
    return df.rename(columns=renamed)


def _numbers(frame: pd.DataFrame, columns: list[str], name: str) -> dict[str, np.ndarray]:
    """``columns`` as float arrays; raises at the first value that is not a finite number
    (booleans included)."""
    values: dict[str, np.ndarray] = {}
    for column in columns:
        raw = frame[column]
        numeric = (
            pd.to_numeric(raw, errors="coerce")
            if not pd.api.types.is_bool_dtype(raw)
            else pd.Series(np.nan, index=raw.index)
        )
        array = numeric.to_numpy(dtype="float64", na_value=np.nan)
        fail_first_row(~np.isfinite(array), name, column, "not a finite number", raw)
        values[column] = array
    return values


def _checked(
    frame: pd.DataFrame, values: dict[str, np.ndarray], span: str, name: str
) -> dict[str, np.ndarray]:
    """The values after the checks of a summary (``span``: ``T``, or ``n`` for the
    discrete-time form), with ``frequency``, ``count`` and ``n`` as int64."""

    def fail(mask: np.ndarray, column: str, problem: str) -> None:
        fail_first_row(mask, name, column, problem, frame[column])

    freq, rec, big_t = values["frequency"], values["recency"], values[span]
    fail((freq < 0) | (freq != np.round(freq)), "frequency", "not a non-negative integer")
    fail(rec < 0, "recency", "negative")
    fail(big_t <= 0, span, "not positive")
    fail(rec > big_t + 1e-9, "recency", f"greater than {span}")
    if span == "n":
        fail(big_t != np.round(big_t), "n", "not a whole number of opportunities")
        fail(rec != np.round(rec), "recency", "not a whole opportunity number")
        fail(freq > rec, "frequency", "greater than recency (the last opportunity bought)")
        values["n"] = big_t.astype("int64")
    fail((freq == 0) & (rec != 0), "recency", "must be 0 when frequency is 0")
    if "monetary_value" in values:
        huge = np.abs(values["monetary_value"]) > MAX_AMOUNT
        fail(huge, "monetary_value", "beyond ±1e15, larger than any transaction")
    if "count" in values:
        count = values["count"]
        fail((count <= 0) | (count != np.round(count)), "count", "not a positive integer")
        values["count"] = count.astype("int64")
    values["frequency"] = freq.astype("int64")
    return values
