"""Partial derivatives of the Gauss hypergeometric function for the taped gradient.

``∂/∂z 2F1(a, b; c; z) = (ab/c) 2F1(a+1, b+1; c+1; z)`` (Abramowitz & Stegun 15.2.1).
The derivatives in the parameters have no closed form; they are summed from the
hypergeometric series ``Σ_k t_k`` with ``t_{k+1} = t_k (a+k)(b+k) / ((c+k)(k+1)) · z``
(A&S 15.1.1), whose terms have ``∂ log t_k/∂a = Σ_{j<k} 1/(a+j)`` (likewise ``b``) and
``∂ log t_k/∂c = −Σ_{j<k} 1/(c+j)``.  The series converges geometrically for ``0 ≤ z < 1``
(the Pareto/NBD likelihood uses it for ``z ≤ 0.75`` only); rows it does not settle within
:data:`MAX_TERMS` terms get central differences of SciPy's ``hyp2f1`` instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

MAX_TERMS = 2000
"""Most series terms summed for a row before it falls back to central differences."""

_TOLERANCE = 1e-17
"""A row's series stops once its latest term, weighted by its log-derivatives, is below
this fraction of the sums."""


def hyp2f1_partials(
    a: Any, b: Any, c: Any, z: Any, *, wanted: tuple[bool, bool, bool, bool]
) -> tuple[np.ndarray | None, ...]:
    """``(∂F/∂a, ∂F/∂b, ∂F/∂c, ∂F/∂z)`` of ``F = 2F1(a, b; c; z)``, broadcast together;
    ``None`` for the arguments not ``wanted``."""
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, c, z)))
    out: list[np.ndarray | None] = [None, None, None, None]
    if wanted[3]:
        out[3] = a * b / c * special.hyp2f1(a + 1.0, b + 1.0, c + 1.0, z)
    if any(wanted[:3]):
        sums = _series_partials(a.ravel(), b.ravel(), c.ravel(), z.ravel(), wanted[:3])
        for i in range(3):
            if wanted[i]:
                out[i] = sums[i].reshape(a.shape)
    return tuple(out)


_CHECK_EVERY = 8
"""Terms summed between two convergence checks (a check costs several array passes)."""


def _series_partials(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, z: np.ndarray, wanted: tuple[bool, ...]
) -> list[np.ndarray]:
    """The parameter derivatives (those ``wanted`` of ``a, b, c``) of the series, row by
    row (1-d inputs); rows not settled within :data:`MAX_TERMS` terms, or with ``z``
    outside ``[0, 1)`` (where the alternating series cancels), get central differences."""
    n = a.size
    which = [i for i in range(3) if wanted[i]]
    result = [np.zeros(n) for _ in range(3)]
    rows = np.flatnonzero((z >= 0.0) & (z < 1.0))  # for z < 0 the series cancels
    params = [v[rows] for v in (a, b, c)]
    z_ = z[rows]
    term, total = np.ones(rows.size), np.ones(rows.size)
    logd = {i: np.zeros(rows.size) for i in which}  # ∂ log t_k / ∂(a, b, c)
    sums = {i: np.zeros(rows.size) for i in which}
    sign = (1.0, 1.0, -1.0)
    for k in range(MAX_TERMS):
        for i in which:
            logd[i] += sign[i] / (params[i] + k)
        term *= (params[0] + k) * (params[1] + k) / ((params[2] + k) * (k + 1.0)) * z_
        total += term
        for i in which:
            sums[i] += term * logd[i]
        if k % _CHECK_EVERY != _CHECK_EVERY - 1:
            continue
        size = np.abs(term) * (1.0 + sum(np.abs(logd[i]) for i in which))
        scale = np.abs(total) + sum(np.abs(sums[i]) for i in which)
        done = size <= _TOLERANCE * scale
        if done.any():
            for i in which:
                result[i][rows[done]] = sums[i][done]
            keep = ~done
            rows, z_, term, total = rows[keep], z_[keep], term[keep], total[keep]
            params = [v[keep] for v in params]
            logd = {i: v[keep] for i, v in logd.items()}
            sums = {i: v[keep] for i, v in sums.items()}
            if rows.size == 0:
                return result
    slow = np.union1d(np.flatnonzero(~((z >= 0.0) & (z < 1.0))), rows)
    for i, diff in enumerate(_central_differences(a[slow], b[slow], c[slow], z[slow])):
        result[i][slow] = diff
    return result


def _central_differences(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, z: np.ndarray
) -> list[np.ndarray]:
    """Central differences of SciPy's ``hyp2f1`` in ``a``, ``b`` and ``c``."""
    out = []
    for i in range(3):
        args = [a, b, c]
        h = 1e-6 * np.maximum(1.0, np.abs(args[i]))
        up, down = list(args), list(args)
        up[i], down[i] = args[i] + h, args[i] - h
        out.append((special.hyp2f1(*up, z) - special.hyp2f1(*down, z)) / (2.0 * h))
    return out
