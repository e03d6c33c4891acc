"""Special functions shared by several models, each evaluated where SciPy's is not
reliable.

* :func:`beta_average_expected` — ``E_p[(1 − (1 + p s)^(−r)) / p]`` for ``p ~ Beta(a,
  b)``, the Gauss hypergeometric expression behind every expectation of the BG/NBD and
  MBG/NBD models (Fader, Hardie & Lee 2005, "Counting your customers the easy way",
  Marketing Science 24(2), eq. 7; cited as FHL 2005), with two series, closed-form and
  quadrature branches, to 1e-10 relative for every positive input;
* :func:`hyp2f1_unit` — ``2F1(1, b; b + a; z)`` on ``0 ≤ z < 1``, behind the sBG's DERL
  and the BG/BB's DERT.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from clvmodels.models.ops import as_floats

# ---------------------------------------------------------------------------------------
# E[X(t)] of the BG/NBD family: the Beta average of h(p)
# ---------------------------------------------------------------------------------------

_SERIES_TERMS = 40
_SERIES_RATIO = 0.5  # series only where each term is at most half the one before
_SERIES_ERROR = 1e-17  # ... and the terms left out are below this, relative
_CANCEL = 1e3  # reject the closed form when (a+b−1)/(a−1) · (1 − Q) loses 3 digits
_S_MAX, _B_MAX = 999.0, 100.0  # closed form only for z = s/(1+s) ≤ 0.999 and b ≤ 100
_A_NEAR_ONE = 1e-4  # (a + b − 1)/(a − 1) · (1 − Q) is 0/0 at a = 1
_R_MAX = 300.0  # beyond, SciPy's hyp2f1 loses up to 1e-10 in both forms alike (and up to
# 1e-6 for r > 1000; checked against the quadrature on 300,000 log-uniform draws)
_INTEGER_GAP = 1e-4  # c − r − b = a − 1 − r this close to an integer: SciPy's hyp2f1 takes
# its degenerate (logarithmic) branch near z = 1 and errs by up to 1e-3 relative (r = a =
# 23.7, b = 100, t/α = 11.9; against mpmath), 4e-5 within 1e-7, 1e-9 within 1e-4 of one
_NARROW = 100.0  # ab/(a+b) above this (sd of logit p below 0.1): quadrature, no hyp2f1
_DROP = 50.0  # the quadrature covers the logits where the Beta density is ≥ e^−50 × its mode
_PANELS = (4, 8, 16, 32, 64, 128)  # composite 8-node rules tried in turn
_QUAD_AGREE = 1e-11  # two successive rules must agree to this relative difference
_CHUNK = 1 << 21  # rows × nodes evaluated at once (16 MB per array)
_NEAR_ONE = 1e-2  # |a − 1| up to this: straight to the positive series (_z_series)
_Z_SERIES_S_MAX = 32.0  # the positive series for s ≤ 32 (z ≤ 0.97, at most ~1,100 terms)
_Z_SERIES_A_MAX = 2.0  # ... and a ≤ 2 (a term ratio (k + a − 1)/(k + 1) · z ≤ z)
_Z_SERIES_TERMS = 4096  # terms summed at most
_Z_SERIES_TAIL = 1e-14  # stop when the terms left out are below this, relative
_Z_SERIES_ROUNDING = 4.0 * np.finfo(float).eps  # rounding per factor of a term
_Z_SERIES_ACCEPT = 1e-11  # accept where the rounding bound is below this, relative


def beta_average_expected(s: Any, r: Any, a: Any, b: Any) -> np.ndarray:
    """``E_p[(1 − (1 + p s)^(−r)) / p]`` for ``p ~ Beta(a, b)``: E[X(t)] at ``s = t/α``.

    This is FHL 2005 eq. (7), ``(a+b−1)/(a−1) · [1 − (α/(α+t))^r 2F1(r, b; a+b−1;
    t/(α+t))]``, evaluated to 1e-10 relative or better for every positive input
    (elementwise):

    1. the series ``Σ_k (−1)^(k+1) (r)_k / k! · s^k E[p^(k−1)]`` (40 terms) where each
       term is at most half the one before and the terms left out are below 1e-17 of
       the sum (``s ≲ 1/r``), which avoids the cancellation in ``1 − …`` for small ``t``;
    2. where ``a`` is within 1e-2 of 1 and ``s ≤ 32``, eq. (7) rewritten as a series of
       positive terms in ``z = t/(α+t)`` with the ``0/0`` at ``a = 1`` removed
       analytically (:func:`_z_series`; ~1e-13 against mpmath);
    3. elsewhere eq. (7) with SciPy's ``hyp2f1(r, b; c; z)``, ``c = a+b−1``, where it was
       found accurate: ``z ≤ 0.999``, ``b ≤ 100``, ``r ≤ 300``, ``ab/(a+b) < 100``,
       ``a`` not within 1e-4 of 1, ``a − 1 − r`` not within 1e-4 of an integer (SciPy's
       degenerate branch errs by up to 4e-5 within 1e-7 of one, 1e-9 within 1e-4) and
       the factor ``(a+b−1)/(a−1) · (1 − Q)`` losing fewer than 3 digits.  Within these
       limits it is within 7e-11 of the quadrature on 115,000 log-uniform draws of
       ``(s, r, a, b)`` (``s`` to 999, ``r`` to 300, ``a`` to 1e4, ``b`` to 100), 4.6e-11
       on 35,000 CDNOW-like posterior draws, 5e-11 on 60,000 draws near the integer
       branch; rare cells at ``z → 0.999`` with ``b ~ 100`` err by up to 1e-9.  (Until
       issue 22 the Euler transform ``(1−z)^(c−r−b) 2F1(c−r, a−1; c; z)`` (Abramowitz &
       Stegun 15.3.3) was computed as well and both had to agree to 1e-9: it caught no
       error that these limits do not, and rejected a quarter of the good cells.)
       Where this is rejected and ``s ≤ 32``, ``a ≤ 2``: the series of branch 2;
    4. elsewhere — e.g. wherever ``a`` and ``b`` both exceed ~200 and the Beta is
       narrow — quadrature of the Beta integral in ``y = logit(p)`` over the window
       where the density is within ``e^−50`` of its mode, with the density computed
       relative to its mode (:func:`_log_density_drop`) and normalised by its own
       quadrature, never through ``a log p + b log q − log B(a, b)`` (whose rounding,
       ~1e-16 × 1e8, set a 5e-7 floor at ``a, b ~ 1e8``); the parts below ``p_L`` and
       above ``1 − 1e-10`` in closed form (``h`` linear in ``p`` there); composite
       8-node Gauss–Legendre rules of 4, 8, … 128 panels until two agree to 1e-11,
       vectorised; adaptive quadrature (QUADPACK) element by element if none do.  About
       1e-13 relative against mpmath (``tests/test_numerics_stress.py``).

    Parameters are broadcast against each other; ``s ≥ 0``.
    """
    s, r, a, b = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(s, r, a, b))
    shape = s.shape
    s, r, a, b = (v.ravel() for v in (s, r, a, b))
    out = np.full(s.shape, np.nan)

    small = _series_converges(s, r)
    out[small] = _series(s[small], r[small], a[small], b[small])

    rest = np.flatnonzero(~small)
    near = (np.abs(a[rest] - 1.0) <= _NEAR_ONE) & (s[rest] <= _Z_SERIES_S_MAX)
    rest, near = rest[~near], rest[near]
    tame = (
        (a[rest] * b[rest] / (a[rest] + b[rest]) < _NARROW)
        & (s[rest] <= _S_MAX)
        & (b[rest] <= _B_MAX)
    )
    wide = rest[tame]
    value, ok = _closed_form(s[wide], r[wide], a[wide], b[wide])
    out[wide[ok]] = value[ok]

    rest = np.concatenate([rest[~tame], wide[~ok]])
    again = (s[rest] <= _Z_SERIES_S_MAX) & (a[rest] <= _Z_SERIES_A_MAX)
    positive = np.concatenate([near, rest[again]])
    value, ok = _z_series(s[positive], r[positive], a[positive], b[positive])
    out[positive[ok]] = value[ok]

    hard = np.concatenate([rest[~again], positive[~ok]])
    if hard.size:
        value, ok = _logit_quadrature(s[hard], r[hard], a[hard], b[hard])
        out[hard[ok]] = value[ok]
        for i in hard[~ok]:
            out[i] = _quadrature(float(s[i]), float(r[i]), float(a[i]), float(b[i]))
    return out.reshape(shape)


def _series_converges(s: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Where the 40-term series is accurate: term ratios ``(r+k)/(k+1) · s · E[p^k] /
    E[p^(k−1)] ≤ s · max((r+1)/2, 1) ≤ 1/2`` (so the sum is at least half its first term)
    and the first term left out, at most ``(r+1)_40 / 41! · s^40`` times the first,
    below 1e-17 / 2."""
    n = _SERIES_TERMS
    out = s * np.maximum((r + 1.0) / 2.0, 1.0) <= _SERIES_RATIO
    rows = np.flatnonzero(out)  # the Gamma functions only where the ratios allow
    with np.errstate(divide="ignore"):
        log_tail = (
            special.gammaln(r[rows] + n + 1.0)
            - special.gammaln(r[rows] + 1.0)
            - math.lgamma(n + 2.0)
            + n * np.log(s[rows])
            + math.log(2.0)
        )
    out[rows] = log_tail <= math.log(_SERIES_ERROR)
    return out


def _series(s: np.ndarray, r: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Branch 1 of :func:`beta_average_expected`.  Every 8 terms the rows whose terms
    left out are below 1e-17 of the sum stop: from term ``k`` on the term ratio is at
    most ``ρ = s · max(1, (r+k)/(k+1))``, so they add at most ``|t_k| ρ/(1 − ρ)``."""
    out = np.zeros_like(s)
    rows = np.arange(s.size)
    total = np.zeros_like(s)
    coef = np.ones_like(s)  # (r)_k / k! · s^k · (−1)^(k+1), built up term by term
    moment = np.ones_like(s)  # E[p^(k−1)] = (a)_(k−1) / (a+b)_(k−1)
    for k in range(1, _SERIES_TERMS + 1):
        coef = coef * (r + k - 1) / k * s * (1.0 if k == 1 else -1.0)
        if k > 1:
            moment = moment * (a + k - 2) / (a + b + k - 2)
        total = total + coef * moment
        if k % 8 == 0 and k < _SERIES_TERMS:
            rho = s * np.maximum(1.0, (r + k) / (k + 1.0))
            done = np.abs(coef * moment) * rho <= _SERIES_ERROR * (1.0 - rho) * np.abs(total)
            out[rows[done]] = total[done]
            keep = ~done
            rows, s, r, a, b = rows[keep], s[keep], r[keep], a[keep], b[keep]
            total, coef, moment = total[keep], coef[keep], moment[keep]
    out[rows] = total
    return out


def _closed_form(
    s: np.ndarray, r: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """FHL 2005 eq. (7) with one ``hyp2f1`` per cell, and where it is accurate (see
    :func:`beta_average_expected`, branch 3)."""
    c = a + b - 1.0
    with np.errstate(all="ignore"):  # invalid candidates are detected and rejected below
        f_direct = special.hyp2f1(r, b, c, s / (1.0 + s))
        q_direct = np.exp(np.log(f_direct) - r * np.log1p(s))
        e_direct = c / (a - 1.0) * -np.expm1(np.log(q_direct))
        ok = (
            np.isfinite(e_direct)
            & (f_direct > 0)
            & (np.abs(a - 1.0) > _A_NEAR_ONE)
            & (r <= _R_MAX)
            & (np.abs(a - 1.0 - r - np.round(a - 1.0 - r)) > _INTEGER_GAP)
            & (
                q_direct * np.maximum(1.0, 0.01 / np.abs(a - 1.0))
                < _CANCEL * np.abs(1.0 - q_direct)
            )
            & (e_direct > 0)
            & (e_direct <= r * s * (1.0 + 1e-9))  # E[X(t)] ≤ E[N(t)] = r t / α
        )
    return np.where(ok, e_direct, np.nan), ok


def _z_series(
    s: np.ndarray, r: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """FHL 2005 eq. (7) as a series in ``z = s/(1+s)`` with no ``0/0`` at ``a = 1``:
    ``E = c (1+s)^(−ε) Σ_(k≥1) u_k D_k``, ``u_k = (1+ε)_(k−1)/k! · z^k``, ``D_k = 1 −
    (c−r)_k/(c)_k``, ``ε = a − 1``, ``c = a + b − 1`` (``a ≤ 2``, ``s ≤ 32``).

    Derivation: eq. (7) is ``c/ε · (1 − Q)`` with ``Q = 2F1(r, ε; c; −s) = (1+s)^(−ε)
    2F1(ε, c−r; c; z)`` (Pfaff, Abramowitz & Stegun 15.3.4, twice), and ``1 = (1+s)^(−ε)
    2F1(ε, c; c; z)`` (A&S 15.1.8), so ``1 − Q = (1+s)^(−ε) Σ_k (ε)_k/k! · D_k z^k``,
    where ``(ε)_k = ε (1+ε)_(k−1)`` cancels the ``1/ε`` exactly.  ``D_k`` is summed as
    ``Σ_(j<k) P_j r/(c+j)`` (``P_j = (c−r)_j/(c)_j``, telescoping), so for ``r < c``
    every term is positive and nothing cancels.  Rows are summed in groups by the
    number of terms they need (about ``−32/log z``; ``s ≤ 32`` needs at most ~1,100).
    A row is accepted when the terms left out are below 1e-14 of the sum and the
    rounding bound ``4 u |c| Σ_k k u_k Σ_(j<k) |P_j| r/(c+j)`` is below 1e-11 of the
    value; it fails only where ``r ≫ c`` (terms of both signs).  Against mpmath: 1e-11
    relative at worst (``tests/test_special_kernel.py``).  Returns the values and the
    accepted rows.
    """
    z = s / (1.0 + s)
    need = np.log(_Z_SERIES_TAIL) / np.log(np.where(z > 0.0, z, 0.5)) + np.maximum(r - a - b, 0)
    value, ok = np.full(s.size, np.nan), np.zeros(s.size, dtype=bool)
    group = np.minimum(np.ceil(need / 16.0), 32).astype(int)  # blocks of 16 to 512 terms
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        value[rows], ok[rows] = _z_series_rows(s[rows], r[rows], a[rows], b[rows], 16 * g)
    return value, ok


def _z_series_rows(
    s: np.ndarray, r: np.ndarray, a: np.ndarray, b: np.ndarray, block: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_z_series` for rows needing about ``block`` terms, summed ``block`` at a
    time."""
    eps, c, z = a - 1.0, a + b - 1.0, s / (1.0 + s)
    total, weighted = np.zeros_like(s), np.zeros_like(s)  # Σ u_k D_k and its error bound
    u_last, p_last = np.ones_like(s), np.ones_like(s)  # u_k, P_k of the last term summed
    d_last, d_abs = np.zeros_like(s), np.zeros_like(s)  # D_k and Σ_(j<k) |P_j| r/(c+j)
    active, k = np.arange(s.size), 0
    with np.errstate(all="ignore"):  # overflow (r ≫ c): non-finite, rejected below
        while active.size and k < _Z_SERIES_TERMS:
            j = np.arange(k, k + block, dtype=float)[:, None]  # term k + 1 uses u, P of j
            ea, ca, ra, za = eps[active], c[active], r[active], z[active]
            ratio = (j + ea) / (j + 1.0) * za  # u_(j+1) / u_j
            if k == 0:
                ratio[0] = za  # u_1 = z
            u = u_last[active] * np.cumprod(ratio, axis=0)
            q = ra / (ca + j)  # P_(j+1) = P_j (1 − q_j)
            p = p_last[active] * np.cumprod(1.0 - q, axis=0)
            step = np.vstack([p_last[active][None, :], p[:-1]]) * q  # P_j q_j = D_(j+1) − D_j
            d = d_last[active] + np.cumsum(step, axis=0)
            if np.all(step >= 0.0) and np.array_equal(d_abs[active], d_last[active]):  # r ≤ c
                bound = d
            else:
                bound = d_abs[active] + np.cumsum(np.abs(step), axis=0)
            total[active] += (u * d).sum(axis=0)
            weighted[active] += (u * bound * (j + 1.0)).sum(axis=0)
            u_last[active], p_last[active], d_last[active], d_abs[active] = (
                u[-1],
                p[-1],
                d[-1],
                bound[-1],
            )
            k += block
            # from k ≥ r − c on |P| falls, so |D| ≤ 1 + |P_k|; u falls by ρ a term at least
            rho = za * np.maximum(1.0, (k + ea) / (k + 1.0))
            tail = u[-1] * (1.0 + np.abs(p[-1])) * rho / (1.0 - rho)
            done = (k >= ra - ca) & (rho < 1.0) & (tail <= _Z_SERIES_TAIL * np.abs(total[active]))
            active = active[~(done | ~np.isfinite(total[active]))]
        value = c * np.exp(-eps * np.log1p(s)) * total
        rounding = _Z_SERIES_ROUNDING * np.abs(c) * weighted
    ok = np.isfinite(value) & (value > 0) & (rounding <= _Z_SERIES_ACCEPT * value)
    ok[active] = False  # not converged within _Z_SERIES_TERMS terms
    return np.where(ok, value, np.nan), ok


def _tails(s: Any, r: Any, a: Any, b: Any) -> tuple[Any, Any, Any, Any]:
    """The Beta integral of ``h`` below ``p_L`` and above ``p_R`` in closed form, the
    Beta mass there, and the logits of ``p_L`` and ``p_R``."""
    # Below p_L, h(p) = r s (1 − (r+1) p s / 2 + O((p s r)^2)) to 1e-12 relative.
    p_left = np.minimum(1e-6 / ((r + 2.0) * s), 0.5)
    mass_left = special.betainc(a, b, p_left)
    tail_left = (
        r
        * s
        * (mass_left - (r + 1.0) * s / 2.0 * a / (a + b) * special.betainc(a + 1.0, b, p_left))
    )
    # Above p_R = 1 − q_R: h(1 − q) = h(1) − h'(1) q + O(q²), q_R = 1e-10 exactly.
    q_right = 1e-10
    log1p_s = np.log1p(s)
    h_one = -np.expm1(-r * log1p_s)
    slope = r * s * np.exp(-(r + 1.0) * log1p_s) - h_one  # h'(1)
    mass_right = special.betainc(b, a, q_right)
    tail_right = h_one * mass_right - slope * b / (a + b) * special.betainc(b + 1.0, a, q_right)
    y_left = np.log(p_left) - np.log1p(-p_left)
    y_right = np.full_like(y_left, math.log1p(-q_right) - math.log(q_right))
    return tail_left + tail_right, mass_left + mass_right, y_left, y_right


def _log_density_drop(d: Any, a: Any, b: Any) -> Any:
    """``Λ(d) = log f(y_m) − log f(y_m + d) ≥ 0`` for the density ``f(y) ∝ p^a q^b`` of
    ``y = logit(p)``, ``p ~ Beta(a, b)``, around its mode ``y_m = log(a/b)``.

    ``Λ = (a+b) log(q̄ + p̄ e^d) − a d`` with ``p̄ = a/(a+b)``, ``q̄ = b/(a+b)``, evaluated as
    ``(a+b) log1p(p̄ expm1(d)) − a d`` or as the equal ``(a+b) log1p(q̄ expm1(−d)) + b d``,
    whichever has the smaller ``log1p`` argument.  Nothing of size ``a log p`` is formed,
    so for ``a, b ~ 1e8`` the error is ``~1e-16 · a|d|`` (below 1e-11 over the bulk)
    rather than the ``~1e-8`` of ``a log p + b log q − log B(a, b)``.
    """
    total = a + b
    forward = a / total * np.expm1(d)
    backward = b / total * np.expm1(-d)
    use_forward = np.abs(forward) <= np.abs(backward)
    return np.where(
        use_forward,
        total * np.log1p(np.where(use_forward, forward, 0.0)) - a * d,
        total * np.log1p(np.where(use_forward, 0.0, backward)) + b * d,
    )


def _reach(direction: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The logit offset ``d`` on the side ``direction`` (±1) of the mode where
    ``Λ(d) = 50``: Newton's method on the convex ``Λ`` from five Gaussian standard
    deviations (after the first step the iterates approach the root from outside, so a
    stopped iteration errs on the wide side); ``|y_m + d| ≤ 200``."""
    total = a + b
    y_mode = np.log(a) - np.log(b)
    low, high = -200.0 - y_mode, 200.0 - y_mode
    d = np.clip(direction * 5.0 * np.sqrt(total / (a * b)), low, high)
    for _ in range(12):
        slope = a * b / total * np.expm1(d) / (1.0 + a / total * np.expm1(d))  # Λ'(d)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = (_log_density_drop(d, a, b) - _DROP) / slope
        d = np.clip(np.where(np.isfinite(step), d - step, d), low, high)
    return d


def _logit_window(s: Any, r: Any, a: Any, b: Any) -> dict[str, np.ndarray]:
    """Where :func:`_logit_quadrature` integrates: offsets ``d_lo ≤ d_hi`` from the mode
    ``y_m`` of ``logit(p)`` covering the Beta density down to ``e^−50`` of its mode, cut
    to ``[logit p_L, logit p_R]``; and the closed-form tails beyond the cuts (zero where
    the Beta's range ends inside them)."""
    tails, mass, y_left, y_right = _tails(s, r, a, b)
    y_mode = np.log(a) - np.log(b)
    reach_lo, reach_hi = _reach(-1.0, a, b), _reach(1.0, a, b)
    d_lo = np.maximum(reach_lo, y_left - y_mode)
    d_hi = np.minimum(reach_hi, y_right - y_mode)
    clipped = (reach_lo < y_left - y_mode) | (reach_hi > y_right - y_mode)
    return {
        "y_mode": y_mode,
        "d_lo": d_lo,
        "d_hi": np.maximum(d_hi, d_lo),
        "tails": np.where(clipped, tails, 0.0),
        "mass": np.where(clipped, mass, 0.0),
    }


_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)


def _panel_rule(panels: int) -> tuple[np.ndarray, np.ndarray]:
    """``panels`` composite 8-node Gauss–Legendre panels on ``[0, 1]``."""
    nodes = ((np.arange(panels)[:, None] + (_GL_X[None, :] + 1.0) / 2.0) / panels).ravel()
    return nodes, np.tile(_GL_W / (2.0 * panels), panels)


def _body_average(
    s: np.ndarray,
    r: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    window: dict[str, np.ndarray],
    panels: int,
) -> np.ndarray:
    """``E[h(p) | logit p − y_m ∈ [d_lo, d_hi]]`` with ``panels`` composite 8-node
    Gauss–Legendre panels in ``d``, the density weights ``e^−Λ(d)`` normalised by their
    own sum (no ``log B(a, b)``)."""
    unit_x, unit_w = _panel_rule(panels)
    out = np.empty(s.size)
    step = max(1, _CHUNK // unit_x.size)
    for lo in range(0, s.size, step):
        sl = slice(lo, lo + step)
        width = (window["d_hi"][sl] - window["d_lo"][sl])[:, None]
        d = window["d_lo"][sl, None] + width * unit_x
        density = np.exp(-_log_density_drop(d, a[sl, None], b[sl, None]))
        p = special.expit(window["y_mode"][sl, None] + d)
        h = -np.expm1(-r[sl, None] * np.log1p(p * s[sl, None])) / p
        with np.errstate(invalid="ignore"):  # an empty window (all mass in the tails)
            out[sl] = ((density * h) @ unit_w) / (density @ unit_w)
    return np.where(window["d_hi"] > window["d_lo"], out, 0.0)


def _logit_quadrature(
    s: np.ndarray, r: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The Beta integral of ``h`` by composite Gauss–Legendre rules in ``y = logit(p)``
    over the window of :func:`_logit_window` plus its closed-form tails.  Rules of 4, 8,
    … 128 panels (each at most one logit unit wide to start with) are tried in turn; a
    row is done when two successive rules agree to 1e-11 relative.  Returns the values
    and where they were accepted."""
    window = _logit_window(s, r, a, b)
    length = window["d_hi"] - window["d_lo"]
    first = np.searchsorted(np.array(_PANELS), np.ceil(length), side="left")
    first = np.minimum(first, len(_PANELS) - 2)
    out = np.full(s.size, np.nan)
    done = np.zeros(s.size, dtype=bool)
    previous = np.full(s.size, np.nan)
    for level, panels in enumerate(_PANELS):
        rows = np.flatnonzero(~done & (first <= level))
        if not rows.size:
            continue
        sub = {k: v[rows] for k, v in window.items()}
        body = _body_average(s[rows], r[rows], a[rows], b[rows], sub, panels)
        value = sub["tails"] + (1.0 - sub["mass"]) * body
        with np.errstate(invalid="ignore"):
            agree = np.abs(value - previous[rows]) <= _QUAD_AGREE * np.abs(value)
        agree &= np.isfinite(value) & (value > 0)
        out[rows] = value
        done[rows[agree]] = True
        previous[rows] = value
    return out, done


def _quadrature(s: float, r: float, a: float, b: float) -> float:
    """The Beta integral of ``h`` by adaptive quadrature (QUADPACK) over the window of
    :func:`_logit_window` (scalar; the last resort of :func:`beta_average_expected`)."""
    from scipy import integrate  # imported here: ~0.1 s, and rarely needed

    arrays = (np.array([v], dtype=float) for v in (s, r, a, b))
    window = {k: float(v[0]) for k, v in _logit_window(*arrays).items()}
    d_lo, d_hi, y_mode = window["d_lo"], window["d_hi"], window["y_mode"]
    if not d_hi > d_lo:
        return window["tails"]

    def density(d: float) -> float:
        return math.exp(-float(_log_density_drop(np.float64(d), a, b)))

    def h(d: float) -> float:
        p = float(special.expit(y_mode + d))
        return -math.expm1(-r * math.log1p(p * s)) / p

    spread = math.sqrt((a + b) / (a * b))
    marks = [0.0, -3 * spread, 3 * spread, -math.log(s) - y_mode, -math.log(r * s) - y_mode]
    points = sorted(m for m in marks if d_lo + 1e-9 < m < d_hi - 1e-9)
    options = {"points": points or None, "epsabs": 0.0, "epsrel": 1e-12, "limit": 500}
    top, _ = integrate.quad(lambda d: density(d) * h(d), d_lo, d_hi, **options)
    bottom, _ = integrate.quad(density, d_lo, d_hi, **options)
    return float(window["tails"] + (1.0 - window["mass"]) * top / bottom)


# ---------------------------------------------------------------------------------------
# 2F1(1, b; b + a; z) on the unit interval
# ---------------------------------------------------------------------------------------


def hyp2f1_unit(b: ArrayLike, a: ArrayLike, z: ArrayLike, *, rtol: float = 1e-15) -> np.ndarray:
    """``2F1(1, b; b + a; z)`` for ``a, b > 0`` and ``0 ≤ z < 1``.

    The function behind DERL (sBG) and DERT (BG/BB): it equals ``E[1 / (1 − z U)]`` for
    ``U ~ Beta(b, a)``, so it lies in ``[1, 1 / (1 − z)]``.  Summed directly as its
    power series ``Σ_k (b)_k / (b + a)_k z^k``, whose term ratio is below ``z``; the
    tail after a term ``t_k`` is therefore at most ``t_k · z / (1 − z)``.  The cost is
    about ``log(rtol) / log(z)`` terms (≈ 370 for a 10 % discount rate).  (SciPy's
    ``hyp2f1`` returns NaN or inf for large ``b`` or ``a``, hence this routine.)
    """
    b, a, z = np.broadcast_arrays(*as_floats(b, a, z))
    shape = b.shape
    b, a, z = (np.array(v, dtype=float).ravel() for v in (b, a, z))
    out = np.ones(b.size)
    term = np.ones(b.size)  # the last term summed so far
    active = np.flatnonzero(z > 0.0)
    log_z = np.log(np.where(z > 0.0, z, 0.5))
    k = 0
    block = 256
    while active.size:
        steps = np.arange(k, k + block, dtype=float)[:, None]
        # log(t_{j+1} / t_j) = log((b + j) / (b + a + j)) + log z
        log_ratio = np.log1p(-a[active] / (b[active] + a[active] + steps)) + log_z[active]
        terms = np.exp(np.cumsum(log_ratio, axis=0) + np.log(term[active]))
        out[active] += terms.sum(axis=0)
        term[active] = terms[-1]
        za = z[active]
        done = term[active] * za / (1.0 - za) <= rtol * out[active]
        active = active[~done]
        k += block
    return out.reshape(shape)
