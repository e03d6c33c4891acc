"""Collapse identical customer rows into weights.

Customers with the same history contribute the same likelihood term, so the
likelihood of ``n`` customers equals the weighted likelihood of their distinct rows
(lifetimes called this "compressing" the data).  Fit cost then grows with the
number of distinct histories, not with the number of customers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np


def compress_rows(
    data: Mapping[str, np.ndarray], weights: np.ndarray | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return the distinct rows of ``data`` and the summed weight of each.

    Parameters
    ----------
    data
        Equal-length 1-D arrays, one per column.
    weights
        Optional per-row weights (e.g. a ``count`` column); default one per row.

    Returns
    -------
    (unique_data, unique_weights)
        Rows in lexicographic order of the columns; weights as float64.
    """
    names = list(data)
    columns = [np.asarray(data[name], dtype=float) for name in names]
    n = len(columns[0]) if columns else 0
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if n == 0:
        return {name: col for name, col in zip(names, columns, strict=True)}, w
    order = np.lexsort(columns[::-1])
    sorted_cols = [col[order] for col in columns]
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for col in sorted_cols:
        change[1:] |= col[1:] != col[:-1]
    group = np.cumsum(change) - 1
    unique = {name: col[change] for name, col in zip(names, sorted_cols, strict=True)}
    return unique, np.bincount(group, weights=w[order])


def fingerprint_rows(data: Mapping[str, np.ndarray], weights: np.ndarray) -> str:
    """Stable fingerprint of (compressed) training data: SHA-256 prefix of the arrays."""
    digest = hashlib.sha256()
    for name in sorted(data):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(data[name], dtype=float).tobytes())
    digest.update(np.ascontiguousarray(weights, dtype=float).tobytes())
    return digest.hexdigest()[:16]
