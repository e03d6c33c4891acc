"""Collapse identical customer rows into weights.

Customers with the same history contribute the same likelihood term, so the
likelihood of ``n`` customers equals the weighted likelihood of their distinct rows
(lifetimes called this "compressing" the data).  Fit cost then grows with the
number of distinct histories, not with the number of customers.

Each column is hashed once (Arrow's ``dictionary_encode``) and only its distinct values
are sorted; the rows are then grouped by one combined integer key, counted in a table
when the combinations are few (times in days: 10^6 customers in 25–30 ms) and hashed
otherwise.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from clvmodels.errors import FitError
from clvmodels.models.spec import ModelSpec
from clvmodels.units import DAYS_PER_UNIT


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
    encoded = [_Encoded.of(column) for column in columns]
    sizes = [len(e.values) for e in encoded]
    if w is None and math.prod(sizes) <= _counting_limit(n):  # the counts are the totals
        _, counts, present, distinct = _counted(encoded, sizes)
        return dict(zip(names, distinct, strict=True)), counts[present].astype(float)
    group, distinct = _factorized(encoded, columns)
    totals = np.bincount(group, weights=w, minlength=len(distinct[0]))
    return dict(zip(names, distinct, strict=True)), totals.astype(float)


def factorize_rows(columns: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group equal rows of equal-length columns without sorting the rows.

    Each column is hash-factorized (O(n), :class:`_Encoded`) into codes that follow the
    order of its values (equal numbers share a code: ``0.0`` and ``−0.0``; every NaN,
    NaT or None is one value, sorted last); the codes are combined into one integer key
    per row, which is grouped by counting when the key space is small (at most
    ``max(4n, 2^20)`` combinations, the usual case for a summary recorded in days) and
    by hashing otherwise.

    Returns
    -------
    (group, distinct)
        ``group[i]`` is the group of row ``i``, groups numbered in lexicographic order of
        the distinct rows; ``distinct`` holds the distinct rows column by column, so
        ``[d[group] for d in distinct]`` gives back the columns.
    """
    return _factorized([_Encoded.of(column) for column in columns], columns)


def _factorized(
    encoded: list[_Encoded], columns: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """:func:`factorize_rows` of columns already encoded."""
    sizes = [len(e.values) for e in encoded]
    if math.prod(sizes) > _counting_limit(len(columns[0])):
        return _hashed_groups(encoded, columns)
    key, counts, _, distinct = _counted(encoded, sizes)
    return (np.cumsum(counts > 0) - 1)[key], distinct


def _counted(
    encoded: list[_Encoded], sizes: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """The combined key of every row, the rows of each key (a table over the whole key
    space), the keys present and the distinct rows, column by column, in the order of
    their keys."""
    key = _combined_key(encoded)
    counts = np.bincount(key, minlength=math.prod(sizes))
    present = np.flatnonzero(counts > 0)  # on booleans: 3x flatnonzero(counts)
    where = np.unravel_index(present, sizes)
    return key, counts, present, [e.values[c] for e, c in zip(encoded, where, strict=True)]


@dataclass(frozen=True)
class _Encoded:
    """A column as ``indices`` into its distinct values in order of appearance, ``rank``
    the position of each of those among the sorted distinct ``values``; or, coded by
    arithmetic (:meth:`scaled`), ``indices`` the positions themselves among ``values``
    sorted (some of which may be absent) and ``rank`` None.

    Numbers that :meth:`scaled` cannot code are hashed once by Arrow's
    ``dictionary_encode`` (2× pandas' ``factorize`` on floats) and only the distinct
    values are sorted; other types go to pandas."""

    indices: np.ndarray
    rank: np.ndarray | None  # None: the indices are already sorted codes
    values: np.ndarray

    @classmethod
    def of(cls, column: np.ndarray) -> _Encoded:
        column = np.asarray(column)
        if column.dtype.kind in "fiu" and (scaled := cls.scaled(column)) is not None:
            return scaled
        if column.dtype.kind not in "fiu":
            codes, values = pd.factorize(column, sort=True)
            values = np.asarray(values)
            missing = codes < 0
            if missing.any():  # NaN, NaT, None (code −1): the column's own, a value last
                values = np.append(values, column[missing][:1])
                codes = np.where(missing, len(values) - 1, codes)
            return cls(codes, np.arange(len(values)), values)
        encoded = pc.dictionary_encode(pa.array(column))
        found = encoded.dictionary.to_numpy(zero_copy_only=False)
        order = np.argsort(found, kind="stable")
        ordered = found[order]
        new = np.ones(len(ordered), dtype=bool)
        new[1:] = ordered[1:] != ordered[:-1]  # −0.0 equals 0.0 here
        if column.dtype.kind == "f":
            new[1:] &= ~(np.isnan(ordered[1:]) & np.isnan(ordered[:-1]))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.cumsum(new) - 1
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        return cls(indices, rank, ordered[new])

    @classmethod
    def scaled(cls, column: np.ndarray) -> _Encoded | None:
        """The column coded by arithmetic, without hashing: integers spanning at most
        ``2n`` values as they are, floats when every value is a whole
        number of ``1/d`` for a ``d`` among the days of the time units
        (:data:`~clvmodels.units.DAYS_PER_UNIT`: counts and times in days are whole
        numbers, times in weeks whole sevenths) spanning at most ``2n`` codes; else None.

        A value ``v`` is such a number when ``round(v·d)/d`` gives ``v`` back exactly
        (the division by ``d`` that made it, repeated); then ``v ↦ round(v·d)`` is one to
        one and keeps the order, so its codes sort as the values do (``−0.0`` and
        ``0.0`` share one).  NaN and infinities never pass.  Three passes over the column
        instead of a hash: 10^6 days in weeks in 3 ms, against 10 ms hashed."""
        n = len(column)
        if column.dtype.kind in "iu":
            low, high = (int(column.min()), int(column.max())) if n else (0, -1)
            if high - low >= 2 * n + 1 or high >= np.iinfo(np.int64).max:
                return None  # (the values up to high + 1 must be int64 too)
            codes = column.astype(np.int64)
            codes -= low
            values = np.arange(low, high + 1, dtype=np.int64).astype(column.dtype)
            return cls(codes, None, values)
        with np.errstate(over="ignore", invalid="ignore"):  # such values fail the test
            head = column[:_PROBE]
            d = next((d for d in _SCALES if np.array_equal(np.rint(head * d) / d, head)), 0)
            if not d:
                return None
            whole = np.multiply(column, d, dtype=float)
            np.rint(whole, out=whole)
            if not np.array_equal(whole / d, column):
                return None
        low, high = (float(whole.min()), float(whole.max())) if n else (0.0, -1.0)
        if not (math.isfinite(low) and math.isfinite(high)) or high - low >= 2 * n + 1:
            return None
        codes = np.subtract(whole, low, out=whole).astype(np.int64)
        values = (low + np.arange(int(high - low) + 1)) / d
        return cls(codes, None, values.astype(column.dtype))

    def codes(self, out: np.ndarray | None = None) -> np.ndarray:
        """Each row's position among the sorted distinct values: a new array, or ``out``."""
        if self.rank is not None:
            return np.take(self.rank, self.indices, out=out)
        if out is None:
            return self.indices.copy()
        out[...] = self.indices
        return out


_SCALES = tuple(sorted(set(DAYS_PER_UNIT.values())))
"""Denominators tried by :meth:`_Encoded.scaled` (1, 7, 30.4375, 365.25)."""

_PROBE = 64
"""Leading values on which :meth:`_Encoded.scaled` picks its denominator."""


def _counting_limit(n: int) -> int:
    """Largest key space grouped by counting rather than hashing."""
    return max(4 * n, 1 << 20)


def _combined_key(encoded: list[_Encoded]) -> np.ndarray:
    """One 64-bit integer per row from the columns' sorted codes (mixed radix,
    lexicographic order), gathered into two whole-size buffers only."""
    key = encoded[0].codes()
    code = np.empty_like(key) if len(encoded) > 1 else key
    for column in encoded[1:]:
        key *= len(column.values)
        key += column.codes(out=code)
    return key


def _hashed_groups(
    encoded: list[_Encoded], columns: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """:func:`factorize_rows` of a key space too large to count: the key hashed."""
    key = encoded[0].codes()
    for column in encoded[1:]:
        size = len(column.values)
        if key.max(initial=0) > np.iinfo(np.int64).max // (size + 1):
            key, _ = pd.factorize(key, sort=True)  # re-densify, keeping the order
        key = key * size + column.codes()
    group, _ = pd.factorize(key, sort=True)
    n_groups = int(group.max(initial=-1)) + 1
    at = np.empty(n_groups, dtype=np.int64)
    at[group] = np.arange(len(group))  # any row of a group will do: its rows are equal
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
