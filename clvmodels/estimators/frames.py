"""From a canonical per-customer frame to the arrays a model reads, with the data checks.

Every check names the column and the first offending row, so that a bad summary fails
with one line that says what to fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.errors import DataError


def frame_arrays(
    data: pd.DataFrame, columns: tuple[str, ...], model_key: str
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Numeric arrays of ``columns`` (plus ``count`` weights if present), validated.

    Raises
    ------
    DataError
        Not a DataFrame, no rows, a missing column, a value that is not a finite
        number, or a ``count`` that is not positive.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{model_key}: expected a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        have = ", ".join(map(str, data.columns))
        raise DataError(f"{model_key}: column {missing[0]!r} is missing (have: {have})")
    if len(data) == 0:
        raise DataError(f"{model_key}: the data frame has no rows")
    arrays = {}
    for column in columns:
        values = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raw = data[column].iloc[row]
            shown = repr(raw) if isinstance(raw, str) else str(raw)
            raise DataError(f"column {column!r}: row {row} is {shown}, expected a finite number")
        arrays[column] = values
    weights = None
    if "count" in data.columns:
        weights = pd.to_numeric(data["count"], errors="coerce").to_numpy(dtype=float)
        bad = ~(np.isfinite(weights) & (weights > 0))
        if bad.any():
            raise DataError(f"column 'count': row {int(np.argmax(bad))} must be a positive number")
    return arrays, weights


def check_rfm(arrays: dict[str, np.ndarray]) -> None:
    """The ``(frequency, recency, T)`` of the continuous-time purchase models: whole
    non-negative repeat purchases, ``0 ≤ recency ≤ T``, ``T > 0``."""
    x, tx, big_t = arrays["frequency"], arrays["recency"], arrays["T"]
    first_bad(x < 0, "frequency", "is negative")
    first_bad(x != np.round(x), "frequency", "must be a whole number of repeat purchases")
    first_bad(tx < 0, "recency", "is negative")
    first_bad(big_t <= 0, "T", "must be positive")
    first_bad(tx > big_t * (1 + 1e-9) + 1e-12, "recency", "exceeds T")


def first_bad(mask: np.ndarray, column: str, problem: str) -> None:
    """``DataError`` naming ``column`` and the first row where ``mask`` holds."""
    if np.any(mask):
        raise DataError(f"column {column!r}: row {int(np.argmax(mask))} {problem}")


def frame_time_unit(data: pd.DataFrame) -> str | None:
    """The time unit a summary frame records in ``attrs["clvmodels"]`` (``None`` if none)."""
    meta = data.attrs.get("clvmodels")
    if isinstance(meta, dict):
        unit = meta.get("time_unit")
        return str(unit) if unit is not None else None
    return None
