"""From a canonical per-customer frame to the arrays a model reads, with the data checks.

Every check names the column and the first offending row (and its customer id), so that
a bad summary fails with one line that says what to fix — the line the command line's
``predict`` prints for the same row of a file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.data.checks import fail_first_row, require_columns
from clvmodels.data.summary.validate import SUMMARY_ROLES, check_histories
from clvmodels.errors import DataError

SOURCE = "DataFrame"
"""How messages name a frame given to the Python API (a file on the command line is
named by its path)."""
WEIGHT = "count"
"""The column of a compressed summary saying how many customers share a row (their
weight in a fit, and in totals over customers)."""


def row_weights(frame: pd.DataFrame) -> np.ndarray:
    """How many customers each row of ``frame`` stands for: its :data:`WEIGHT` column,
    else 1 per row."""
    return frame[WEIGHT].to_numpy(float) if WEIGHT in frame.columns else np.ones(len(frame))


def frame_arrays(
    data: pd.DataFrame, columns: tuple[str, ...], model_key: str, *, new_customers: bool = False
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Numeric arrays of ``columns`` (plus ``count`` weights if present), validated.

    The per-customer histories (``frequency, recency, T`` or ``n``,
    ``monetary_value``, ``count``) are checked by
    :func:`clvmodels.data.summary.validate.check_histories`, the check of the command
    line's ``predict``, with its messages; other columns (the sBG's ``tenure,
    churned``) must hold finite numbers (booleans count as 0/1).

    Parameters
    ----------
    data
        One row per customer (or per identical customers, with ``count``).
    columns
        The columns the model reads.
    model_key
        The model, named when ``data`` is no DataFrame.
    new_customers
        Accept ``T = 0`` (predictions: customers new on the last day) rather than
        require ``T > 0`` (fits).

    Raises
    ------
    DataError
        Not a DataFrame, a missing column, no rows, or the first bad row.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{model_key}: expected a pandas DataFrame, got {type(data).__name__}")
    require_columns(SOURCE, columns, data.columns)
    if len(data) == 0:
        raise DataError(f"{SOURCE}: no rows")
    weighted = [*columns, "count"] if "count" in data.columns else list(columns)
    history = [c for c in weighted if c in SUMMARY_ROLES]
    arrays = check_histories(data, history, source_name=SOURCE, new_customers=new_customers)
    for column in (c for c in columns if c not in SUMMARY_ROLES):
        values = pd.to_numeric(data[column], errors="coerce").to_numpy(float, na_value=np.nan)
        fail_row(data, ~np.isfinite(values), column, "not a finite number")
        arrays[column] = values
    weights = arrays.pop("count", None)
    return {c: arrays[c] for c in columns}, weights


def fail_row(data: pd.DataFrame, mask: np.ndarray, column: str, problem: str) -> None:
    """A model's own check of ``data``: ``DataError`` at the first row where ``mask``
    holds, worded as :func:`~clvmodels.data.summary.validate.check_histories` words it."""
    ids = data["customer_id"] if "customer_id" in data.columns else None
    fail_first_row(mask, SOURCE, column, problem, data[column], ids)


def frame_time_unit(data: pd.DataFrame) -> str | None:
    """The time unit a summary frame records in ``attrs["clvmodels"]`` (``None`` if none)."""
    meta = data.attrs.get("clvmodels")
    if isinstance(meta, dict):
        unit = meta.get("time_unit")
        return str(unit) if unit is not None else None
    return None


CUSTOMER_ID = "customer_id"
"""The index name of every per-customer frame the Python API returns (and the first
column of every per-customer file)."""


def customer_index(data: pd.DataFrame) -> pd.Index:
    """The index of what is predicted for the customers of ``data``: its column
    ``customer_id`` when it has one (the ids as given: text stays text, ``"007"`` stays
    ``"007"``), else its own index; named ``customer_id`` either way.

    Every per-customer output of the Python API (:func:`clvmodels.clv.customer_values`,
    the estimators' ``predict_*``, ...) is on this index, so ids travel with the numbers
    (a summary of :func:`clvmodels.data.summarize_transactions` holds the ids in the
    column ``customer_id``, as ``summary.csv`` does).
    """
    if CUSTOMER_ID in data.columns:
        return pd.Index(data[CUSTOMER_ID], name=CUSTOMER_ID)
    return data.index.rename(CUSTOMER_ID)
