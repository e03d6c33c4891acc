"""Collapse identical customer rows into weights.

Customers with the same history contribute the same likelihood term, so the
likelihood of ``n`` customers equals the weighted likelihood of their distinct rows
(lifetimes called this "compressing" the data).  Fit cost then grows with the
number of distinct histories, not with the number of customers.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from clvmodels.errors import FitError
from clvmodels.models.spec import ModelSpec


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
    group, unique = factorize_rows(columns)
    totals = np.bincount(group, weights=w, minlength=len(unique[0]))
    return dict(zip(names, unique, strict=True)), totals


def factorize_rows(columns: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group equal rows of equal-length columns without sorting the rows.

    Each column is hash-factorized (O(n)) into codes that follow the order of its
    values; the codes are combined into one integer key per row, which is grouped by
    counting when the key space is small (at most ``max(4n, 2^20)`` combinations, the
    usual case for a summary recorded in days) and by hashing otherwise.

    Returns
    -------
    (group, distinct)
        ``group[i]`` is the group of row ``i``, groups numbered in lexicographic order of
        the distinct rows; ``distinct`` holds the distinct rows column by column, so
        ``[d[group] for d in distinct]`` gives back the columns.
    """
    n = len(columns[0])
    codes_list, sizes = [], []
    for col in columns:
        codes, uniques = pd.factorize(col, sort=True)
        codes = codes.astype(np.int64, copy=False)
        if len(codes) and codes.min() < 0:  # NaN (code −1) becomes a value of its own
            codes = np.where(codes < 0, len(uniques), codes)
        codes_list.append(codes)
        sizes.append(int(codes.max(initial=0)) + 1)
    if math.prod(sizes) <= max(4 * n, 1 << 20):
        key = np.ravel_multi_index(codes_list, sizes) if len(sizes) > 1 else codes_list[0]
        occupied = np.bincount(key, minlength=math.prod(sizes)) > 0
        rank = np.cumsum(occupied) - 1
        group = rank[key]
    else:
        key = codes_list[0]
        for codes, size in zip(codes_list[1:], sizes[1:], strict=True):
            if key.max(initial=0) > np.iinfo(np.int64).max // (size + 1):
                key, _ = pd.factorize(key, sort=True)  # re-densify, keeping the order
            key = key * size + codes
        group, _ = pd.factorize(key, sort=True)
    n_groups = int(group.max(initial=-1)) + 1
    at = np.empty(n_groups, dtype=np.int64)
    at[group] = np.arange(n)  # any row of a group will do: its rows are equal
    return group, [np.asarray(col)[at] for col in columns]


def run_starts(index: np.ndarray, groups: int) -> np.ndarray | None:
    """Where each run of ``index`` starts, when ``index`` is ``0, …, 0, 1, …, groups − 1``
    in order, each group one run (the pairs of a compressed data set's leading columns,
    whose rows :func:`factorize_rows` sorts); else None.  A gather by such an index has
    ``np.add.reduceat`` over the runs as its gradient: five times faster than
    ``np.bincount``, whose additions into one group wait on each other."""
    if index.size == 0 or index[0] != 0 or index[-1] != groups - 1:
        return None
    if np.any(index[1:] < index[:-1]):  # compared, not differenced: unsigned cannot wrap
        return None
    starts = np.flatnonzero(np.diff(index, prepend=-1))
    return starts if len(starts) == groups else None


def fingerprint_rows(data: Mapping[str, np.ndarray], weights: np.ndarray) -> str:
    """Stable fingerprint of (compressed) training data: SHA-256 prefix of the arrays."""
    digest = hashlib.sha256()
    for name in sorted(data):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(data[name], dtype=float).tobytes())
    digest.update(np.ascontiguousarray(weights, dtype=float).tobytes())
    return digest.hexdigest()[:16]


def prepare_rows(
    spec: ModelSpec,
    data: Mapping[str, np.ndarray],
    weights: np.ndarray | None,
    extra: tuple[str, ...] = (),
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The model's data columns (and the ``extra`` ones, e.g. a covariate pattern) as
    float arrays and the weights (ones by default), with the rows the model does not
    use dropped (``spec.row_mask``)."""
    missing = [c for c in (*spec.data_columns, *extra) if c not in data]
    if missing:
        raise FitError(f"{spec.key}: data lacks column(s) {', '.join(missing)}")
    arrays = {c: np.asarray(data[c], dtype=float) for c in (*spec.data_columns, *extra)}
    n = len(arrays[spec.data_columns[0]])
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if spec.row_mask is not None:
        keep = np.asarray(spec.row_mask(arrays), dtype=bool)
        arrays = {c: a[keep] for c, a in arrays.items()}
        w = w[keep]
    return arrays, w
