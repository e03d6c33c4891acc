"""Expected cumulative repeat transactions of a cohort that joined over time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def expected_cumulative_transactions(
    expected_purchases: Callable[[np.ndarray], np.ndarray],
    t: np.ndarray,
    join_times: np.ndarray,
) -> np.ndarray:
    """Tracking curve: expected cumulative repeat transactions by calendar time ``t``.

    A customer who made the first purchase at calendar time ``s`` contributes
    ``E[X(t - s)]`` for ``t > s`` (Fader, Hardie & Lee 2005, "Counting your customers
    the easy way", section 4, Figure 3).

    Parameters
    ----------
    expected_purchases
        ``E[X(t)]`` for a new customer, vectorised in ``t``.
    t
        Calendar times (same unit and origin as ``join_times``).
    join_times
        First-purchase time of every customer.

    Returns
    -------
    numpy.ndarray
        Expected cumulative repeat transactions, one value per element of ``t``.
    """
    t = np.asarray(t, dtype=float)
    joins, counts = np.unique(np.asarray(join_times, dtype=float), return_counts=True)
    out = np.zeros_like(t)
    for join, count in zip(joins, counts, strict=True):
        age = t - join
        alive = age > 0
        out[alive] += count * expected_purchases(age[alive])
    return out
