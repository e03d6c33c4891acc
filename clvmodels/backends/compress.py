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
import pandas as pd


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
    # hash-factorize each column (O(n)), combine the codes into one integer key, and
    # group on it; sort only the (few) distinct rows, for a deterministic order
    key = np.zeros(n, dtype=np.int64)
    for col in columns:
        codes, uniques = pd.factorize(col, sort=False)
        if len(uniques) and key.max(initial=0) > np.iinfo(np.int64).max // (len(uniques) + 1):
            key, _ = pd.factorize(key, sort=False)  # re-densify before it could overflow
        key = key * len(uniques) + codes
    group = pd.factorize(key, sort=False)[0]
    n_groups = int(group.max()) + 1
    first = np.full(n_groups, n, dtype=np.int64)
    np.minimum.at(first, group, np.arange(n))
    unique = [col[first] for col in columns]
    order = np.lexsort(unique[::-1])
    totals = np.bincount(group, weights=w, minlength=n_groups)
    return {name: col[order] for name, col in zip(names, unique, strict=True)}, totals[order]


def fingerprint_rows(data: Mapping[str, np.ndarray], weights: np.ndarray) -> str:
    """Stable fingerprint of (compressed) training data: SHA-256 prefix of the arrays."""
    digest = hashlib.sha256()
    for name in sorted(data):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(data[name], dtype=float).tobytes())
    digest.update(np.ascontiguousarray(weights, dtype=float).tobytes())
    return digest.hexdigest()[:16]
