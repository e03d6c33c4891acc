"""Argument checks shared by the seed marketing metrics: every invalid input a user can
cause raises :class:`~clvmodels.errors.DataError` with a one-line message naming the
argument or column."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from clvmodels.errors import DataError

FloatOrArray = float | np.ndarray


def first(values: np.ndarray, mask: np.ndarray) -> float:
    """First element of ``values`` where ``mask`` holds (for error messages)."""
    return float(np.broadcast_to(values, mask.shape)[mask].flat[0])


def numbers(
    value: npt.ArrayLike,
    name: str,
    *,
    minimum: float | None = None,
    strict: bool = False,
    maximum: float | None = None,
) -> np.ndarray:
    """``value`` as a finite float array, checked against ``[minimum, maximum]``.

    ``strict=True`` makes the lower bound exclusive (``> minimum``).
    """
    if isinstance(value, bool | np.bool_):
        raise DataError(f"{name} must be a number; got {value!r}")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be numeric; got {value!r:.60}") from None
    if array.size == 0:
        raise DataError(f"{name} is empty")
    if np.isnan(array).any():
        raise DataError(f"{name} contains NaN")
    if np.isinf(array).any():
        raise DataError(f"{name} must be finite; got {first(array, np.isinf(array))}")
    if minimum is not None:
        bad = array <= minimum if strict else array < minimum
        if bad.any():
            relation = ">" if strict else ">="
            raise DataError(f"{name} must be {relation} {minimum:g}; got {first(array, bad):g}")
    if maximum is not None and (array > maximum).any():
        raise DataError(f"{name} must be <= {maximum:g}; got {first(array, array > maximum):g}")
    return array


def broadcast(**arrays: np.ndarray) -> None:
    """Raise :class:`DataError` if the arrays cannot be broadcast together."""
    try:
        np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{name} {a.shape}" for name, a in arrays.items())
        raise DataError(f"arguments have incompatible shapes: {shapes}") from None


NONNEGATIVE: dict[str, Any] = {"minimum": 0.0}
"""The rule of :func:`numbers` for an argument that must be >= 0."""
POSITIVE: dict[str, Any] = {"minimum": 0.0, "strict": True}
"""The rule for an argument that must be > 0."""
SHARE: dict[str, Any] = {"minimum": 0.0, "maximum": 1.0}
"""The rule for a share in [0, 1]."""
ANY: dict[str, Any] = {}
"""No bound: any finite number."""


def checked(**arguments: tuple[npt.ArrayLike, dict[str, Any]]) -> tuple[np.ndarray, ...]:
    """Every argument (name -> (value, rule of :func:`numbers`)) checked, then checked to
    broadcast together; the arrays in the order given."""
    arrays = {name: numbers(value, name, **rule) for name, (value, rule) in arguments.items()}
    broadcast(**arrays)
    return tuple(arrays.values())


def result(value: np.ndarray) -> FloatOrArray:
    """A Python float for 0-d results, the array otherwise."""
    return float(value) if np.ndim(value) == 0 else value


def series(values: npt.ArrayLike | pd.Series, name: str) -> pd.Series:
    """A non-empty, NaN-free numeric (not boolean) 1-D sequence as a float Series."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.ravel(values))
    if series.empty:
        raise DataError(f"{name} is empty: there are no customers")
    if series.isna().any():
        raise DataError(f"{name} contains NaN")
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        raise DataError(f"{name} must be numeric; got dtype {series.dtype}")
    return series.astype(float)


def whole(series: pd.Series, name: str) -> None:
    """Raise :class:`DataError` unless every value is a whole number."""
    values = series.to_numpy()
    fractional = (np.floor(values) != values) | np.isinf(values)  # NaN too
    if fractional.any():
        raise DataError(
            f"{name} must contain whole numbers; got {values[fractional][0]:g}"
        )
