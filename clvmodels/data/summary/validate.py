"""A table that is already summarised: one row per customer (or per identical customers).

The continuous-time form is ``frequency, recency, T`` in the notation of Fader, Hardie &
Lee (2005), "Counting your customers the easy way", Marketing Science 24(2), section 2
(``frequency`` = x, ``recency`` = t_x, ``T``); the discrete-time form of the BG/BB
(Fader, Hardie & Shang 2010, "Customer-base analysis in a discrete-time noncontractual
setting", Marketing Science 29(6)) is ``frequency, recency, n`` with ``n`` the number of
transaction opportunities.  Both may carry ``monetary_value`` and a ``count`` of
identical customers.

:func:`check_histories` is the one check of such histories: :func:`validate_summary`
(the command line's ``predict`` and a run on ``data.kind: summary``), every estimator's
``fit`` and ``predict_*`` methods and :func:`clvmodels.clv.customer_values` call it, so a
bad row fails everywhere with the same line, e.g. ``DataFrame: column 'T' row 3
(customer_id 'C7'): not positive (value -5)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from clvmodels.data.checks import fail_first_row, require_columns
from clvmodels.data.transactions import MAX_AMOUNT
from clvmodels.errors import DataError

Fail = Callable[[np.ndarray, str, str], None]
"""``fail(mask, column, problem)``: raise at the first row of ``mask`` (the rules'
reporter)."""

SUMMARY_ROLES = (
    "customer_id",
    "frequency",
    "recency",
    "T",
    "n",
    "monetary_value",
    "litt",
    "count",
)
"""The columns of a summary, by role: what ``columns`` of :func:`validate_summary` maps."""


def validate_summary(
    df: pd.DataFrame,
    *,
    source_name: str = "DataFrame",
    columns: dict[str, str] | None = None,
    new_customers: bool = False,
) -> pd.DataFrame:
    """Check a pre-summarised frame ``frequency, recency, T[, monetary_value][, litt][,
    count]``.

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
    new_customers : bool
        Accept ``T = 0``, customers whose first purchase is on the last day (scored as
        new customers; fits leave them out), as :func:`check_histories`.

    Returns
    -------
    pandas.DataFrame
        Canonical columns (floats; ``frequency`` and ``count`` int64) with
        ``customer_id`` (0..n-1 when absent) first.

    Raises
    ------
    DataError
        An unknown role in ``columns``, or a column it names that is missing or whose
        role's name another column already has; no rows; a bad history
        (:func:`check_histories`).
    """
    frame = _by_role(df, columns or {}, source_name)
    if len(frame) == 0:
        raise DataError(f"{source_name}: no rows")
    present = list(frame.columns)
    span = "n" if "n" in present and "T" not in present else "T"
    require_columns(source_name, ("frequency", "recency", span), present)
    optional = [c for c in ("monetary_value", "litt", "count") if c in present]
    values = check_histories(
        frame,
        ["frequency", "recency", span, *optional],
        source_name=source_name,
        new_customers=new_customers,
    )
    for column in ("frequency", "n", "count"):
        if column in values:
            values[column] = values[column].astype("int64")
    ids = (
        frame["customer_id"].to_numpy()
        if "customer_id" in present
        else np.arange(len(frame), dtype="int64")
    )
    return pd.DataFrame({"customer_id": ids, **values})


def check_histories(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    source_name: str = "DataFrame",
    new_customers: bool = False,
) -> dict[str, np.ndarray]:
    """Check the per-customer histories in ``columns`` of ``frame``; return them as floats.

    The rules of a history (Fader, Hardie & Lee 2005, section 2: x repeat purchases, the
    last at t_x, in (0, T]; Fader, Hardie & Shang 2010 for ``n`` opportunities), each
    applied when its columns are among ``columns``: every value a finite number (not a
    boolean); ``frequency`` a whole number ≥ 0; ``0 ≤ recency ≤ T``; ``T > 0`` — or
    ``T ≥ 0`` with ``new_customers``, the customers whose first purchase is on the last
    day, which predictions value as new customers and fits leave out (their likelihood
    term is 1 whatever the parameters); ``recency`` 0 when ``frequency`` is 0; ``n`` a
    positive whole number with ``frequency ≤ recency ≤ n`` whole; ``count`` a positive
    whole number; ``litt`` (sum of the logs of the inter-transaction times, BTYDplus
    ``elog2cbs``) 0 when ``frequency`` is 0 and at most :func:`litt_bound` (Jensen's
    ``x·ln(t_x/x)``) plus ``1e-6·(1 + x)`` for rounding.

    Parameters
    ----------
    frame
        One row per customer (or per identical customers); an optional
        ``customer_id`` column names the customer in messages.
    columns
        The columns to check and return, all present in ``frame``: some of
        ``frequency, recency, T`` (or ``n``), ``monetary_value``, ``litt``, ``count``.
    source_name
        First in messages: a path, or "DataFrame".
    new_customers
        Accept ``T = 0`` (predictions) rather than require ``T > 0`` (fits).

    Returns
    -------
    dict of numpy.ndarray
        Float arrays of ``columns``.

    Raises
    ------
    DataError
        At the first offending row: ``{source_name}: column 'T' row 3 (customer_id 'C7'):
        not positive (value -5)``.
    """
    ids = frame["customer_id"] if "customer_id" in frame.columns else None
    values: dict[str, np.ndarray] = {}
    for column in columns:
        raw = frame[column]
        if pd.api.types.is_bool_dtype(raw):
            numeric = pd.Series(np.nan, index=raw.index)
        elif pd.api.types.is_numeric_dtype(raw):
            numeric = raw  # numbers already: no converted copy
        else:
            numeric = pd.to_numeric(raw, errors="coerce")
        array = numeric.to_numpy(dtype="float64", na_value=np.nan)
        fail_first_row(~np.isfinite(array), source_name, column, "not a finite number", raw, ids)
        values[column] = array

    def fail(mask: np.ndarray, column: str, problem: str) -> None:
        # the number read, not its text: a file and a DataFrame give the same line (the
        # Series, a copy of the column, made only for a message)
        if np.any(mask):
            fail_first_row(mask, source_name, column, problem, pd.Series(values[column]), ids)

    _check_rules(values, fail, new_customers)
    return values


def _check_rules(values: dict[str, np.ndarray], fail: Fail, new_customers: bool) -> None:
    """The rules of :func:`check_histories` on its finite ``values``."""
    freq, rec = values.get("frequency"), values.get("recency")
    span = "n" if "n" in values else "T"
    big_t = values.get(span)
    if freq is not None:
        fail((freq < 0) | (freq != np.round(freq)), "frequency", "not a non-negative integer")
    if rec is not None:
        fail(rec < 0, "recency", "negative")
    if big_t is not None:
        if new_customers and span == "T":
            fail(big_t < 0, span, "negative")
        else:
            fail(big_t <= 0, span, "not positive")
    if rec is not None and big_t is not None:
        fail(rec > big_t + 1e-9, "recency", f"greater than {span}")
    if span == "n" and big_t is not None:
        fail(big_t != np.round(big_t), "n", "not a whole number of opportunities")
    if span == "n" and rec is not None:
        fail(rec != np.round(rec), "recency", "not a whole opportunity number")
    if span == "n" and rec is not None and freq is not None:
        fail(freq > rec, "frequency", "greater than recency (the last opportunity bought)")
    if freq is not None and rec is not None:
        fail((freq == 0) & (rec != 0), "recency", "must be 0 when frequency is 0")
    if "monetary_value" in values:
        huge = np.abs(values["monetary_value"]) > MAX_AMOUNT
        fail(huge, "monetary_value", "beyond ±1e15, larger than any transaction")
    if "count" in values:
        count = values["count"]
        fail((count <= 0) | (count != np.round(count)), "count", "not a positive integer")
    if "litt" in values and freq is not None:
        litt = values["litt"]
        fail((freq == 0) & (litt != 0), "litt", "must be 0 when frequency is 0")
        if rec is not None and span == "T":
            tolerance = 1e-6 * (1.0 + freq)
            fail(
                litt > litt_bound(freq, rec) + tolerance,
                "litt",
                "greater than frequency·ln(recency/frequency), the largest sum of the logs "
                "of inter-transaction times adding up to recency (Jensen)",
            )


def litt_bound(frequency: np.ndarray, recency: np.ndarray) -> np.ndarray:
    """The largest ``litt`` a history ``(x, t_x)`` allows.

    ``x`` positive gaps adding up to ``t_x`` have ``Σ ln g ≤ x·ln(t_x/x)`` (Jensen's
    inequality, equality for equal gaps).  Without ``merge_same_day`` the zero gaps of
    same-day purchases are left out of ``litt``, so only ``m ≤ x`` gaps count and the
    bound is ``max_{1≤m≤x} m·ln(t_x/m)``: ``x·ln(t_x/x)`` while ``x ≤ t_x/e`` (mean gap
    at least e time units; ``m·ln(t_x/m)`` grows with ``m`` up to ``t_x/e``), else at
    most ``t_x/e``.  0 when ``x`` is 0.
    """
    x = np.asarray(frequency, dtype="float64")
    t_x = np.asarray(recency, dtype="float64")
    regular = (x > 0) & (x <= t_x / math.e)
    jensen = x * np.log(np.where(regular, t_x, 1.0) / np.where(regular, x, 1.0))
    return np.where(x > 0, np.where(regular, jensen, np.maximum(t_x, 0.0) / math.e), 0.0)


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
