"""Special functions shared by several models, each evaluated where SciPy's is not
reliable.

* :func:`beta_average_expected` — ``E_p[(1 − (1 + p s)^(−r)) / p]`` for ``p ~ Beta(a,
  b)``, the Gauss hypergeometric expression behind every expectation of the BG/NBD and
  MBG/NBD models (Fader, Hardie & Lee 2005, "Counting your customers the easy way",
  Marketing Science 24(2), eq. 7; cited as FHL 2005), with series, closed-form and
  quadrature branches, to 1e-10 relative for every positive input;
* :func:`hyp2f1_unit` — ``2F1(1, b; b + a; z)`` on ``0 ≤ z < 1``, behind the sBG's DERL
  and the BG/BB's DERT.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate, special

from clvmodels.models.ops import as_floats

# ---------------------------------------------------------------------------------------
# E[X(t)] of the BG/NBD family: the Beta average of h(p)
# ---------------------------------------------------------------------------------------

_SERIES_TERMS = 40
_SERIES_RATIO = 0.5  # series only where each term is at most half the one before
_SERIES_ERROR = 1e-17  # ... and the terms left out are below this, relative
_AGREE = 1e-9  # the two hypergeometric forms must agree to this relative difference
_CANCEL = 1e3  # reject the closed form when (a+b−1)/(a−1) · (1 − Q) loses 3 digits
_S_MAX, _B_MAX = 999.0, 100.0  # closed form only for z = s/(1+s) ≤ 0.999 and b ≤ 100
_A_NEAR_ONE = 1e-4  # (a + b − 1)/(a − 1) · (1 − Q) is 0/0 at a = 1
_R_MAX = 300.0  # beyond, SciPy's hyp2f1 loses up to 1e-10 in both forms alike (and up to
# 1e-6 for r > 1000; checked against the quadrature on 300,000 log-uniform draws)
_INTEGER_GAP = 1e-9  # c − r − b = a − 1 − r this close to an integer: SciPy's hyp2f1 takes
# its degenerate (logarithmic) branch near z = 1 and both forms err alike, by up to 1e-3
# relative (e.g. r = a = 23.7, b = 100, t/α = 11.9; checked against mpmath)
_NARROW = 100.0  # ab/(a+b) above this (sd of logit p below 0.1): quadrature, no hyp2f1
_DROP = 50.0  # the quadrature covers the logits where the Beta density is ≥ e^−50 × its mode
_PANELS = (4, 8, 16, 32, 64, 128)  # composite 8-node rules tried in turn
_QUAD_AGREE = 1e-11  # two successive rules must agree to this relative difference
_CHUNK = 1 << 21  # rows × nodes evaluated at once (16 MB per array)


def beta_average_expected(s: Any, r: Any, a: Any, b: Any) -> np.ndarray:
    """``E_p[(1 − (1 + p s)^(−r)) / p]`` for ``p ~ Beta(a, b)``: E[X(t)] at ``s = t/α``.

    This is FHL 2005 eq. (7), ``(a+b−1)/(a−1) · [1 − (α/(α+t))^r 2F1(r, b; a+b−1;
    t/(α+t))]``, evaluated to 1e-10 relative or better for every positive input
    (elementwise):

    1. the series ``Σ_k (−1)^(k+1) (r)_k / k! · s^k E[p^(k−1)]`` (40 terms) where each
       term is at most half the one before and the terms left out are below 1e-17 of
       the sum (``s ≲ 1/r``), which avoids the cancellation in ``1 − …`` for small ``t``;
    2. the closed form twice, with ``2F1(r, b; c; z)`` (eq. 7) and with its Euler
       transform ``(1−z)^(c−r−b) 2F1(c−r, a−1; c; z)`` (Abramowitz & Stegun 15.3.3),
       ``c = a+b−1``, ``z = t/(α+t)``, but only where SciPy's ``hyp2f1`` was found
       accurate: ``z ≤ 0.999``, ``b ≤ 100``, ``r ≤ 300``, ``ab/(a+b) < 100``, both forms
       finite and agreeing to 1e-9, ``a`` not within 1e-4 of 1, ``a − 1 − r`` not an
       integer (SciPy's degenerate branch) and the factor ``(a+b−1)/(a−1) · (1 − Q)``
       losing fewer than 3 digits.  Outside these limits both forms can be wrong alike
       (by up to 2.6e-6 at ``z → 1`` and large ``b``; 1e-7 where they agree to 1e-9);
       inside, they are within 2e-11 of the quadrature on 300,000 log-uniform draws of
       ``(s, r, a, b)`` (``s`` up to 1e5, ``r`` to 5,000, ``a, b`` to 1e8);
    3. elsewhere — e.g. wherever ``a`` and ``b`` both exceed ~200 and the Beta is
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
    tame = (
        (a[rest] * b[rest] / (a[rest] + b[rest]) < _NARROW)
        & (s[rest] <= _S_MAX)
        & (b[rest] <= _B_MAX)
    )
    wide = rest[tame]
    value, ok = _closed_form(s[wide], r[wide], a[wide], b[wide])
    out[wide[ok]] = value[ok]

    hard = np.concatenate([rest[~tame], wide[~ok]])
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
    with np.errstate(divide="ignore"):
        log_tail = (
            special.gammaln(r + n + 1.0) - special.gammaln(r + 1.0) - math.lgamma(n + 2.0)
            + n * np.log(s) + math.log(2.0)
        )
    return (s * np.maximum((r + 1.0) / 2.0, 1.0) <= _SERIES_RATIO) & (
        log_tail <= math.log(_SERIES_ERROR)
    )


def _series(s: np.ndarray, r: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = np.zeros_like(s)
    coef = np.ones_like(s)  # (r)_k / k! · s^k · (−1)^(k+1), built up term by term
    moment = np.ones_like(s)  # E[p^(k−1)] = (a)_(k−1) / (a+b)_(k−1)
    for k in range(1, _SERIES_TERMS + 1):
        coef = coef * (r + k - 1) / k * s * (1.0 if k == 1 else -1.0)
        if k > 1:
            moment = moment * (a + k - 2) / (a + b + k - 2)
        total = total + coef * moment
    return total


def _closed_form(
    s: np.ndarray, r: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    c = a + b - 1.0
    z = s / (1.0 + s)
    log1p_s = np.log1p(s)
    with np.errstate(all="ignore"):  # invalid candidates are detected and rejected below
        f_direct = special.hyp2f1(r, b, c, z)
        f_euler = special.hyp2f1(c - r, a - 1.0, c, z)
        q_direct = np.exp(np.log(f_direct) - r * log1p_s)
        q_euler = np.exp(np.log(f_euler) - (a - 1.0) * log1p_s)
        e_direct = c / (a - 1.0) * -np.expm1(np.log(q_direct))
        e_euler = c / (a - 1.0) * -np.expm1(np.log(q_euler))
        scale = np.maximum(np.abs(e_direct), np.abs(e_euler))
        abs_gap = np.abs(1.0 - q_direct)
        ok = (
            np.isfinite(e_direct)
            & np.isfinite(e_euler)
            & (f_direct > 0)
            & (f_euler > 0)
            & (np.abs(e_direct - e_euler) <= _AGREE * scale)
            & (np.abs(a - 1.0) > _A_NEAR_ONE)
            & (r <= _R_MAX)
            & (np.abs(a - 1.0 - r - np.round(a - 1.0 - r)) > _INTEGER_GAP)
            & (q_direct * np.maximum(1.0, 0.01 / np.abs(a - 1.0)) < _CANCEL * abs_gap)
            & (e_direct > 0)
            & (e_direct <= r * s * (1.0 + 1e-9))  # E[X(t)] ≤ E[N(t)] = r t / α
        )
    return np.where(ok, e_direct, np.nan), ok


def _tails(s: Any, r: Any, a: Any, b: Any) -> tuple[Any, Any, Any, Any]:
    """The Beta integral of ``h`` below ``p_L`` and above ``p_R`` in closed form, the
    Beta mass there, and the logits of ``p_L`` and ``p_R``."""
    # Below p_L, h(p) = r s (1 − (r+1) p s / 2 + O((p s r)^2)) to 1e-12 relative.
    p_left = np.minimum(1e-6 / ((r + 2.0) * s), 0.5)
    mass_left = special.betainc(a, b, p_left)
    tail_left = r * s * (
        mass_left - (r + 1.0) * s / 2.0 * a / (a + b) * special.betainc(a + 1.0, b, p_left)
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
    s: np.ndarray, r: np.ndarray, a: np.ndarray, b: np.ndarray, window: dict[str, np.ndarray],
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
