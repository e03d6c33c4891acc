"""The predictive distribution of a customer's future purchase count, as every purchase
model builds it.

Each purchase model (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB) splits a customer with history
``h`` into *dead* — she never buys again — and *alive*, with the posterior of her latent
rates given that she is alive, so that

    ``P(X = k | h) = (1 − P(alive | h)) · 1{k = 0} + P(alive | h) · P(X = k | alive, h)``

(e.g. Fader, Hardie & Lee 2005, "Counting your customers the easy way", Marketing
Science 24(2), eq. 10 for the mean; the same split gives the whole distribution).  Each
model module supplies both factors in its ``conditional_purchase_pmf``; this module holds
what they share: the count axis ``k = 0 … K−1`` (:func:`count_grid`), the mixture with
the dead (:func:`with_dead`), and the evaluation of an expensive active-customer pmf once
per distinct row of its arguments in memory-bounded chunks (:func:`per_distinct`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

CELLS_PER_CHUNK = 1 << 20
"""Largest number of float64 values (8 MiB) per array a chunk of :func:`per_distinct`
(or of the quadrature of :func:`clvmodels.models.nbd.stopped_pmf`) may hold."""


def count_grid(K: Any) -> np.ndarray:
    """``0., 1., …, K−1.``: the counts a pmf of ``K`` columns covers (``K ≥ 1`` whole).

    Raises
    ------
    ValueError
        If ``K`` is not a whole number of at least 1.
    """
    if isinstance(K, bool) or not isinstance(K, int | np.integer) or K < 1:
        raise ValueError(f"K must be a whole number >= 1, got {K!r}")
    return np.arange(int(K), dtype=float)


def with_dead(alive: Any, active: np.ndarray) -> np.ndarray:
    """``(1 − P(alive)) · 1{k = 0} + P(alive) · active[..., k]`` (module docstring).

    ``alive`` broadcasts against ``active[..., 0]``; the result has their broadcast shape
    plus the count axis.
    """
    alive = np.asarray(alive, dtype=float)[..., None]
    out = alive * active
    out[..., 0] += 1.0 - alive[..., 0]
    return out


def per_distinct(
    fn: Callable[..., np.ndarray], K: int, *columns: Any, cells_per_row: int
) -> np.ndarray:
    """``fn(K, *rows)`` for every element of the broadcast ``columns``, evaluated once per
    distinct combination of their values.

    ``fn`` takes 1-d float arrays of equal length ``m`` and returns ``(m, K)``; it is
    called on chunks of at most :data:`CELLS_PER_CHUNK` ``/ cells_per_row`` distinct rows
    (``cells_per_row``: the values ``fn`` holds per row).  Returns the broadcast shape
    of ``columns`` plus ``(K,)``.
    """
    arrays = np.broadcast_arrays(*(np.asarray(c, dtype=float) for c in columns))
    shape = arrays[0].shape
    table = np.stack([a.ravel() for a in arrays], axis=1)
    distinct, where = np.unique(table, axis=0, return_inverse=True)
    out = np.empty((len(distinct), K))
    chunk = max(1, CELLS_PER_CHUNK // max(int(cells_per_row), 1))
    for start in range(0, len(distinct), chunk):
        rows = distinct[start : start + chunk]
        out[start : start + chunk] = fn(K, *rows.T)
    return out[where.ravel()].reshape(*shape, K)
