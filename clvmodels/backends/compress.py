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
import pyarrow as pa
import pyarrow.compute as pc

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
    w = None if weights is None else np.asarray(weights, dtype=float)
    if n == 0:
        return {name: col for name, col in zip(names, columns, strict=True)}, np.ones(0)
    codes, uniques = _all_value_codes(columns)
    sizes = [len(u) for u in uniques]
    if math.prod(sizes) > _counting_limit(n):
        group, distinct = factorize_rows(columns)
        ones = np.ones(n) if w is None else w
        totals = np.bincount(group, weights=ones, minlength=len(distinct[0]))
        return dict(zip(names, distinct, strict=True)), totals
    # counting: one key per row, no per-row group index needed
    key = _combined_key(codes, sizes)
    counts = np.bincount(key, minlength=math.prod(sizes))
    occupied = np.flatnonzero(counts)
    totals = counts if w is None else np.bincount(key, weights=w, minlength=len(counts))
    where = np.unravel_index(occupied, sizes)
    distinct = [u[c] for u, c in zip(uniques, where, strict=True)]
    return dict(zip(names, distinct, strict=True)), totals[occupied].astype(float)


def factorize_rows(columns: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group equal rows of equal-length columns without sorting the rows.

    Each column is hash-factorized (O(n), :func:`value_codes`) into codes that follow
    the order of its values; the codes are combined into one integer key per row, which
    is grouped by counting when the key space is small (at most ``max(4n, 2^20)``
    combinations, the usual case for a summary recorded in days) and by hashing
    otherwise.

    Returns
    -------
    (group, distinct)
        ``group[i]`` is the group of row ``i``, groups numbered in lexicographic order of
        the distinct rows; ``distinct`` holds the distinct rows column by column, so
        ``[d[group] for d in distinct]`` gives back the columns.
    """
    n = len(columns[0])
    codes, uniques = _all_value_codes(columns)
    sizes = [len(u) for u in uniques]
    if math.prod(sizes) <= _counting_limit(n):
        key = _combined_key(codes, sizes)
        occupied = np.bincount(key, minlength=math.prod(sizes)) > 0
        group = (np.cumsum(occupied) - 1)[key]
        where = np.unravel_index(np.flatnonzero(occupied), sizes)
        return group, [u[c] for u, c in zip(uniques, where, strict=True)]
    key = codes[0].astype(np.int64)
    for column_codes, size in zip(codes[1:], sizes[1:], strict=True):
        if key.max(initial=0) > np.iinfo(np.int64).max // (size + 1):
            key, _ = pd.factorize(key, sort=True)  # re-densify, keeping the order
        key = key * size + column_codes
    group, _ = pd.factorize(key, sort=True)
    n_groups = int(group.max(initial=-1)) + 1
    at = np.empty(n_groups, dtype=np.int64)
    at[group] = np.arange(n)  # any row of a group will do: its rows are equal
    return group, [np.asarray(col)[at] for col in columns]


def value_codes(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, values)``: the sorted distinct values of ``column`` and the position of
    each element among them (``values[codes]`` gives the column back).  Equal numbers
    share a code (``0.0`` and ``−0.0``; every NaN, which sorts last).

    Numbers are hashed once by Arrow's ``dictionary_encode`` (2× pandas' ``factorize``
    on floats); only the distinct values are sorted."""
    column = np.asarray(column)
    if column.dtype.kind not in "fiu":
        codes, values = pd.factorize(column, sort=True)
        codes = codes.astype(np.int64, copy=False)
        if len(codes) and codes.min() < 0:  # NaN (code −1) becomes a value of its own
            codes = np.where(codes < 0, len(values), codes)
            values = np.append(np.asarray(values, dtype=float), np.nan)
        return codes, np.asarray(values)
    encoded = pc.dictionary_encode(pa.array(column))
    found = encoded.dictionary.to_numpy(zero_copy_only=False)
    order = np.argsort(found, kind="stable")
    ordered = found[order]
    new = np.ones(len(ordered), dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]  # −0.0 equals 0.0 here
    if column.dtype.kind == "f":
        new[1:] &= ~(np.isnan(ordered[1:]) & np.isnan(ordered[:-1]))
    rank = np.empty(len(order), dtype=np.int32 if len(order) < 1 << 31 else np.int64)
    rank[order] = np.cumsum(new) - 1
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return rank[indices], ordered[new]


def _counting_limit(n: int) -> int:
    """Largest key space grouped by counting rather than hashing."""
    return max(4 * n, 1 << 20)


def _combined_key(codes: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """One integer per row from per-column codes (mixed radix, lexicographic order),
    64-bit whatever the codes' type."""
    key = codes[0].astype(np.int64)
    for column_codes, size in zip(codes[1:], sizes[1:], strict=True):
        key *= size
        key += column_codes
    return key



def _all_value_codes(columns: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """:func:`value_codes` of every column: the codes, and the values."""
    found = [value_codes(column) for column in columns]
    return [codes for codes, _ in found], [values for _, values in found]


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
