"""Period matrices of simulated customers for the tests of the time-varying covariate
models, built by hand from calendar times (independent of clvmodels.data.dynamic)."""

from __future__ import annotations

import numpy as np


def overlap(lo: np.ndarray, hi: np.ndarray, n_periods: int) -> np.ndarray:
    """Length of ``[lo_i, hi_i]`` within each period ``[j, j+1)``, ``j < n_periods``."""
    edges = np.arange(n_periods + 1.0)
    return np.clip(
        np.minimum(hi[:, None], edges[1:]) - np.maximum(lo[:, None], edges[:-1]), 0, None
    )


def panel(
    birth: np.ndarray, end: float, customer: np.ndarray, time: np.ndarray, n_periods: int
) -> dict[str, np.ndarray]:
    """``frequency, recency, T, exposure, before, counts`` of customers born at calendar
    times ``birth`` and observed to ``end``, with repeat purchases ``time`` (customer
    time) of ``customer``."""
    n = birth.size
    T = end - birth
    keep = time <= T[customer]
    customer, time = customer[keep], time[keep]
    x = np.bincount(customer, minlength=n).astype(float)
    t_x = np.zeros(n)
    np.maximum.at(t_x, customer, time)
    counts = np.zeros((n, n_periods))
    period = np.minimum(np.floor(birth[customer] + time).astype(int), n_periods - 1)
    np.add.at(counts, (customer, period), 1.0)
    return {
        "frequency": x,
        "recency": t_x,
        "T": T,
        "exposure": overlap(birth, birth + T, n_periods),
        "before": overlap(birth, birth + t_x, n_periods),
        "counts": counts,
    }


def seasonal(
    n_periods: int, high: tuple[int, ...] = (44, 45, 46, 47, 48, 49, 50, 51)
) -> np.ndarray:
    """A yearly high-season indicator over weekly periods (weeks ``high`` of each year)."""
    week = np.arange(n_periods) % 52
    return np.isin(week, high).astype(float)
