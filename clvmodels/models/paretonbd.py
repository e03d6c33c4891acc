"""Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

While alive a customer buys as a Poisson process with rate ``λ ~ Gamma(r, rate α)``;
the unobserved lifetime is exponential with rate ``μ ~ Gamma(s, rate β)``.  Data per
customer: ``frequency`` x (repeat purchases), ``recency`` t_x (time of the last one) and
``T`` (time since the first purchase).

Likelihood (Fader & Hardie 2005, "A note on deriving the Pareto/NBD model and related
expressions", eqs. 18–22)::

    L = Γ(r+x) α^r β^s / Γ(r) · [ A(T) + s ∫_{t_x}^{T} (α+τ)^-(r+x) (β+τ)^-(s+1) dτ ],
    A(y) = (α+y)^-(r+x) (β+y)^-s.

Numerics.  Write J(y) = ∫_y^∞ (α+τ)^-(r+x) (β+τ)^-(s+1) dτ = A(y) G(y) / (r+s+x).  With
z = |α−β| / (max(α, β) + y) the note's 2F1 (eq. 20: 2F1(r+s+x, s+1; r+s+x+1; z) for
α ≥ β, 2F1(r+s+x, r+x; r+s+x+1; z) for α < β) is rewritten with Euler's transformation
2F1(a, b; c; z) = (1−z)^(c−a−b) 2F1(c−a, c−b; c; z) (Abramowitz & Stegun 15.3.3) into

    α ≥ β:  G = 2F1(1, r+x; r+s+x+1; z)
    α < β:  G = (α+y)/(β+y) · 2F1(1, s+1; r+s+x+1; z),

series of positive terms bounded by 1/(1−z): no overflow for any x.  These are used only
where z ≤ Z_MAX = 0.75.  Close to z = 1 both SciPy's 2F1 (NaN when c−a−b is a large
integer, e.g. s = 100) and PyTensor's series gradient of 2F1 (up to 10^6 terms) fail,
so the part of the integral with z > Z_MAX, τ ∈ [t_x, y*) where y* solves z(y*) = Z_MAX,
is integrated numerically (composite Gauss–Legendre in log(min(α, β) + τ), truncated
where the integrand has fallen by e^-50) — for the rows that have such a part only
(``Ops.subset_apply``), so typical fits, where α and β are of similar size, never pay
for it.  Then

    L ∝ [A(T) − s J(max(T, y*))] + s ∫_{t_x}^{min(T, y*)} ... dτ + s J(max(t_x, y*)),

three non-negative terms combined in log space (A(T) ≥ s J(T) ≥ s J(max(T, y*))).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import special

from clvmodels.models import discount, nbd, predictive
from clvmodels.models.ops import Ops, numpy_ops
from clvmodels.models.spec import ModelSpec

Z_MAX = 0.75
"""Largest 2F1 argument used; beyond it the likelihood integral is done by quadrature."""

_PANELS, _NODES_PER_PANEL = 12, 8
_gl_x, _gl_w = np.polynomial.legendre.leggauss(_NODES_PER_PANEL)
_QUAD_X = ((np.arange(_PANELS)[:, None] + (_gl_x[None, :] + 1.0) / 2.0) / _PANELS).ravel()
_QUAD_W = np.tile(_gl_w / (2.0 * _PANELS), _PANELS)
_CUT = 50.0  # truncate the quadrature where the integrand has fallen by exp(-_CUT)


def _log_g(xp: Ops, r: Any, alpha: Any, s: Any, beta: Any, x: Any, y: Any) -> Any:
    """log G(y) (module docstring), valid where z(y) ≤ Z_MAX.

    The two cases differ only in the second 2F1 parameter and a prefactor, so these are
    selected first and 2F1 (and its series gradient) is evaluated once per row.
    """
    a_ge_b = alpha >= beta
    big = xp.maximum(alpha, beta)
    z = xp.where(a_ge_b, alpha - beta, beta - alpha) / (big + y)  # abs: slope 0 at α = β
    b = xp.where(a_ge_b, r + x, s + 1.0)
    log_prefactor = xp.where(a_ge_b, 0.0, xp.log(alpha + y) - xp.log(beta + y))
    return log_prefactor + xp.log(xp.hyp2f1(xp.ones_like(z), b, r + s + x + 1.0, z))


def _log_quadrature(
    xp: Ops, r: Any, alpha: Any, s: Any, beta: Any, x: Any, lo: Any, hi: Any
) -> tuple[Any, Any]:
    """log ∫_lo^hi (α+τ)^-(r+x) (β+τ)^-(s+1) dτ over the region z > Z_MAX.

    Returns ``(log_integral, applicable)``; where not applicable (empty range) the
    value is a finite dummy.
    """
    a_ge_b = alpha >= beta
    small = xp.minimum(alpha, beta)
    big = xp.maximum(alpha, beta)
    d = xp.maximum(big - small, 1e-300)
    e_small = xp.where(a_ge_b, s + 1.0, r + x)
    e_big = xp.where(a_ge_b, r + x, s + 1.0)
    u0 = xp.log(small + lo)
    u_hi = xp.log(small + xp.maximum(hi, lo))
    u_star = xp.log(d * ((1.0 - Z_MAX) / Z_MAX))
    u_cut_small = u0 + _CUT / e_small
    u_cut_big = xp.log((big + lo) * xp.expm1(xp.minimum(_CUT / e_big, 40.0)) + small + lo)
    u1 = xp.minimum(xp.minimum(u_hi, u_star), xp.minimum(u_cut_small, u_cut_big))
    applicable = u1 > u0
    width = xp.where(applicable, u1 - u0, 1.0)

    def log_integrand(u: Any, e_small: Any, e_big: Any, log_d: Any) -> Any:
        # in u = log(min(α, β) + τ), Jacobian included
        return (1.0 - e_small) * u - e_big * xp.logaddexp(log_d, u)

    log_d = xp.log(d)
    h0 = log_integrand(u0, e_small, e_big, log_d)
    nodes = u0[..., None] + width[..., None] * _QUAD_X
    h = log_integrand(nodes, e_small[..., None], e_big[..., None], log_d[..., None])
    rel = xp.exp(h - h0[..., None]) @ _QUAD_W
    return h0 + xp.log(width) + xp.log(rel), applicable


def _log_const(xp: Ops, r: Any, alpha: Any, s: Any, beta: Any, x: Any) -> Any:
    """log of Γ(r+x) α^r β^s / Γ(r)."""
    return xp.gammaln(r + x) - xp.gammaln(r) + r * xp.log(alpha) + s * xp.log(beta)


def log_likelihood(
    r: Any,
    alpha: Any,
    s: Any,
    beta: Any,
    *,
    frequency: Any,
    recency: Any,
    T: Any,
    xp: Ops = numpy_ops,
) -> Any:
    """Per-customer Pareto/NBD log-likelihood.

    Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related
    expressions", eqs. (18)–(22), evaluated as described in the module docstring.

    Parameters
    ----------
    r, alpha
        Shape and rate of the Gamma distribution of purchase rates λ.
    s, beta
        Shape and rate of the Gamma distribution of dropout rates μ.
    frequency, recency, T
        x, t_x and T of every customer.
    xp
        Array namespace (:data:`~clvmodels.models.ops.numpy_ops` or ``pytensor_ops()``).

    Returns
    -------
    array
        log L per customer.
    """
    big = xp.maximum(alpha, beta)
    y_star = xp.abs(alpha - beta) / Z_MAX - big  # z(y) > Z_MAX exactly for y < y*
    log_s = xp.log(s)

    def log_const(x: Any) -> Any:  # depends on x only: once per distinct x
        return xp.distinct(lambda x: _log_const(xp, r, alpha, s, beta, x), x)

    def log_a(x: Any, y: Any) -> Any:
        return -(r + x) * xp.log(alpha + y) - s * xp.log(beta + y)

    def log_sj(x: Any, y: Any) -> Any:  # log s·J(max(y, y*))
        y = xp.maximum(y, y_star)
        return (log_s - xp.log(r + s + x) + log_a(x, y)
                + _log_g(xp, r, alpha, s, beta, x, y))

    def at_t(x: Any, t: Any) -> Any:  # log of const · [A(T) − s J(max(T, y*))]
        head = log_a(x, t)
        return log_const(x) + head + xp.log1mexp(log_sj(x, t) - head)

    def at_tx(x: Any, t_x: Any) -> Any:  # log of const · s J(max(t_x, y*))
        return log_const(x) + log_sj(x, t_x)

    # each term depends on (x, T) or on (x, t_x) only: evaluated per distinct pair
    two = xp.logaddexp(xp.distinct(at_t, frequency, T), xp.distinct(at_tx, frequency, recency))

    def add_quadrature(r: Any, alpha: Any, s: Any, beta: Any, x: Any, t_x: Any, hi: Any,
                       two: Any) -> Any:
        log_q, use_q = _log_quadrature(xp, r, alpha, s, beta, x, t_x, hi)
        log_sq = _log_const(xp, r, alpha, s, beta, x) + xp.log(s) + log_q
        return xp.where(use_q, xp.logaddexp(two, log_sq), two)

    # the quadrature term exists only where z > Z_MAX on [t_x, T] (alpha and beta far
    # apart relative to t_x); it is evaluated for those rows only
    hi = xp.minimum(T, y_star)
    return xp.subset_apply(
        recency < hi, add_quadrature, two, r, alpha, s, beta, frequency, recency, hi, two
    )


def initial_params(data: Mapping[str, np.ndarray], weights: np.ndarray) -> dict[str, float]:
    """Start: method-of-moments ``r, α`` of the NBD counts
    (:func:`clvmodels.models.nbd.moment_start`), ``s = 1`` and ``β`` = mean ``T``."""
    w = np.asarray(weights, dtype=float)
    r, alpha = nbd.moment_start(data, weights)
    mean_t = float(np.average(np.asarray(data["T"], dtype=float), weights=w))
    return {"r": r, "alpha": alpha, "s": 1.0, "beta": max(mean_t, 1e-3)}


# ----------------------------------------------------------------------------- predictions


def _ratio_power_integral(c: np.ndarray, log1p_u: np.ndarray) -> np.ndarray:
    """(1 − (1+u)^-c) / c, with its limit log(1+u) at c = 0, stable in log1p(u)."""
    tiny = np.abs(c) < 1e-10
    c_safe = np.where(tiny, 1.0, c)
    return np.where(tiny, log1p_u, -np.expm1(-c_safe * log1p_u) / c_safe)


def expected_purchases(t: Any, *, r: Any, alpha: Any, s: Any, beta: Any) -> np.ndarray:
    """E[X(t)] for a new customer.

    Schmittlein, Morrison & Colombo (1987), eq. (17); Fader & Hardie (2005 note) eq. (27):
    ``E[X(t)] = rβ/(α(s−1)) · [1 − (β/(β+t))^(s−1)]``, with limit ``(rβ/α) log(1+t/β)`` at
    s = 1.
    """
    t, r, alpha, s, beta = (np.asarray(v, dtype=float) for v in (t, r, alpha, s, beta))
    return r * beta / alpha * _ratio_power_integral(s - 1.0, np.log1p(t / beta))


def probability_alive(
    frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any, s: Any, beta: Any
) -> np.ndarray:
    """P(alive at T | x, t_x, T).

    Fader & Hardie (2005 note), eq. (34): ``Γ(r+x) α^r β^s / (Γ(r) (α+T)^(r+x) (β+T)^s L)``.
    """
    x = np.asarray(frequency, dtype=float)
    r, alpha, s, beta = (np.asarray(v, dtype=float) for v in (r, alpha, s, beta))
    log_l = log_likelihood(r, alpha, s, beta, frequency=x, recency=recency, T=T)
    T = np.asarray(T, dtype=float)
    log_num = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + s * np.log(beta)
        - (r + x) * np.log(alpha + T)
        - s * np.log(beta + T)
    )
    return np.minimum(np.exp(log_num - log_l), 1.0)


def conditional_expected_purchases(
    t: Any, frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any, s: Any, beta: Any
) -> np.ndarray:
    """E[X(T, T+t) | x, t_x, T].

    Fader & Hardie (2005 note), eq. (41):
    ``P(alive) · (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)]``.
    """
    alive = probability_alive(frequency, recency, T, r=r, alpha=alpha, s=s, beta=beta)
    return alive * active_expected_purchases(t, frequency, T, r=r, alpha=alpha, s=s, beta=beta)


def active_expected_purchases(
    t: Any, frequency: Any, T: Any, *, r: Any, alpha: Any, s: Any, beta: Any
) -> np.ndarray:
    """Expected repeat purchases in ``(T, T+t]`` of a customer known to be active at ``T``:
    ``(r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)]`` (eq. 41 without its
    ``P(alive)`` factor).  Depends on ``(x, T)`` only."""
    x = np.asarray(frequency, dtype=float)
    T_ = np.asarray(T, dtype=float)
    t = np.asarray(t, dtype=float)
    r, alpha, s, beta = (np.asarray(v, dtype=float) for v in (r, alpha, s, beta))
    rate = (r + x) / (alpha + T_) * (beta + T_)
    return rate * _ratio_power_integral(s - 1.0, np.log1p(t / (beta + T_)))


def discounted_active_purchases(
    frequency: Any, T: Any, *, r: Any, alpha: Any, s: Any, beta: Any, delta: float,
    horizon: float = math.inf,
) -> np.ndarray:
    """Discounted expected purchases after ``T`` of a customer known to be active.

    An active customer's posterior is a new Pareto/NBD customer at ``(r+x, α+T, s, β+T)``
    whose purchase rate while alive is ``(r+x)/(α+T)`` and whose survival to ``T+t`` is
    ``((β+T)/(β+T+t))^s``, so ``D = (r+x)/(α+T) ∫_0^H e^(−δt) ((β+T)/(β+T+t))^s dt``.
    Over the whole lifetime this is ``(r+x)/(α+T) · (β+T) · U(1, 2−s; δ(β+T))`` (Fader,
    Hardie & Lee 2005, "RFM and CLV: using iso-value curves for customer base analysis",
    JMR 42(4), eq. 2, divided by P(alive), with Kummer's transformation
    ``U(s, s; z) = z^(1−s) U(1, 2−s; z)``, A&S 13.1.29; :func:`_hyperu_1`); over a
    finite horizon shorter than the lifetime cut (``δH < 50``) it is integrated
    numerically (:func:`clvmodels.models.discount.discounted_purchases`, on the time
    scale ``(β+T)/(s+1)`` of the survival's bend; on ``β+T`` before issue 20, which
    erred by up to 9e-3 at large ``s``).  Both are within 1e-9 of mpmath on the stress
    grid of ``tests/test_numerics_stress.py`` (in fact ~1e-12).  Depends on ``(x, T)``
    only.  Broadcasts its arguments; the result has their shape.
    """
    shape = np.broadcast_shapes(*(np.shape(v) for v in (frequency, T, r, alpha, s, beta)))
    x, T_, r, alpha, s, beta = (
        np.atleast_1d(v).astype(float).ravel()
        for v in np.broadcast_arrays(frequency, T, r, alpha, s, beta)
    )
    rate = (r + x) / (alpha + T_)
    scale = beta + T_
    if delta * horizon >= discount.LIFETIME_CUT:  # as discount.discounted_purchases does
        return (rate * scale * _hyperu_1(s, delta * scale)).reshape(shape)

    def expected(t: np.ndarray) -> np.ndarray:
        log1p_u = np.log1p(t / scale[:, None])
        return (rate * scale)[:, None] * _ratio_power_integral((s - 1.0)[:, None], log1p_u)

    # E bends where the survival ((β+T)/(β+T+t))^s does, at t ≈ (β+T)/(s+1).  No credit
    # for spread-out bends (σ = 0, the most nodes): with s < 1, E grows as a power of t
    # over many e-folds, which the BG/NBD-fitted count would resolve only to ~1e-11.
    bend = scale / (s + 1.0)
    return discount.discounted_purchases(expected, bend, delta, horizon).reshape(shape)


def discounted_expected_residual_transactions(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    r: Any,
    alpha: Any,
    s: Any,
    beta: Any,
    delta: Any,
    horizon: float = math.inf,
) -> np.ndarray:
    """DERT: expected purchases after ``T`` discounted at continuous rate ``δ`` per time
    unit, over ``horizon`` time units (the whole lifetime by default).

    Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base
    analysis", JMR 42(4), eq. (2):
    ``α^r β^s δ^(s−1) Γ(r+x+1) Ψ(s, s; δ(β+T)) / (Γ(r) (α+T)^(r+x+1) L)``, Ψ = Tricomi's
    U, evaluated as ``P(alive) ·`` :func:`discounted_active_purchases`; U(1, 2−s; z) =
    ∫_0^∞ e^(−zt) (1+t)^(−s) dt is computed by quadrature (:func:`_hyperu_1`, which
    explains why not ``scipy.special.hyperu``).
    """
    alive = probability_alive(frequency, recency, T, r=r, alpha=alpha, s=s, beta=beta)
    active = discounted_active_purchases(
        frequency, T, r=r, alpha=alpha, s=s, beta=beta, delta=float(delta), horizon=horizon
    )
    return alive * active


def _hyperu_1(s: Any, z: Any, n_nodes: int = 512) -> np.ndarray:
    """U(1, 2−s; z) = ∫_0^∞ e^(−zt) (1+t)^(−s) dt (A&S 13.2.5), z > 0.

    Gauss–Legendre quadrature in v = log(1+t), where the log-integrand
    −z(e^v − 1) − (s−1)v is concave, truncated where it has fallen e^-60 below its peak
    (accurate to ~1e-13 against adaptive quadrature).  ``scipy.special.hyperu`` was
    checked and is not used: NaN for large integer s (s = 100, z ≈ 0.3), denormal
    garbage (~1e-317) for s ≳ 400 with small z, and ~3e-8 relative error near z ≈ 10.
    """
    s, z = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(z, dtype=float))
    c = np.maximum(1.0 - s, 0.0)  # s < 1: the integrand first rises, peak at log(c/z)
    v_peak = np.log(np.maximum(c / z, 1.0))
    v_end = np.log1p((60.0 + 2.0 * c * (v_peak + 60.0)) / z) + v_peak
    v_end = np.where(s > 1.0, np.minimum(v_end, 60.0 / np.maximum(s - 1.0, 1e-300)), v_end)
    unit_x, unit_w = discount.unit_rule(n_nodes)
    v = v_end[..., None] * unit_x
    log_f = -z[..., None] * np.expm1(v) - (s[..., None] - 1.0) * v
    return v_end * np.exp(special.logsumexp(log_f, b=unit_w, axis=-1))


def probability_of_purchases(
    x: Any, t: Any, *, r: Any, alpha: Any, s: Any, beta: Any, n_nodes: int = 256
) -> np.ndarray:
    """P(X(t) = x) for a new customer.

    Fader & Hardie (2005 note), section 4 (eqs. 23–26): conditioning on the death time,
    ``P(X(t)=x) = NB(x; t) (β/(β+t))^s + ∫_0^t NB(x; τ) s β^s (β+τ)^-(s+1) dτ`` with
    ``NB(x; τ) = Γ(r+x)/(Γ(r) x!) (α/(α+τ))^r (τ/(α+τ))^x``.  The note's closed form of
    the integral subtracts nearly equal sums of 2F1 terms; here the integral is computed
    by Gauss–Legendre quadrature in the death-time CDF w = 1 − (β/(β+τ))^s, on which the
    integrand NB(x; τ(w)) is bounded by one.
    """
    x, t, r, alpha, s, beta = (np.asarray(v, dtype=float) for v in (x, t, r, alpha, s, beta))
    log_nb_const = special.gammaln(r + x) - special.gammaln(r) - special.gammaln(x + 1.0)

    def log_nb(tau: np.ndarray) -> np.ndarray:
        tau_safe = np.maximum(tau, 1e-300)
        log_ratio = np.log(tau_safe) - np.log(alpha + tau)
        log_term = np.where(x > 0, x * log_ratio, 0.0)
        return log_nb_const + r * (np.log(alpha) - np.log(alpha + tau)) + log_term

    log_surv = -s * np.log1p(t / beta)
    alive_part = np.exp(log_nb(t) + log_surv)
    f_t = -np.expm1(log_surv)  # P(death before t)
    gx, gw = np.polynomial.legendre.leggauss(n_nodes)
    w = f_t[..., None] * (gx + 1.0) / 2.0
    tau = beta[..., None] * np.expm1(-np.log1p(-w) / s[..., None])
    xe, re, ae, ce = (v[..., None] for v in (x, r, alpha, log_nb_const))
    tau_safe = np.maximum(tau, 1e-300)
    log_ratio = np.log(tau_safe) - np.log(ae + tau)
    log_nb_nodes = ce + re * (np.log(ae) - np.log(ae + tau)) + np.where(xe > 0, xe * log_ratio, 0)
    dead_part = f_t * (np.exp(log_nb_nodes) @ (gw / 2.0))
    return np.clip(alive_part + dead_part, 0.0, 1.0)


def conditional_purchase_pmf(
    K: int, t: Any, frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any, s: Any,
    beta: Any,
) -> np.ndarray:
    """``P(X(T, T+t) = k | x, t_x, T)`` for ``k = 0 … K−1``: the predictive distribution of
    a customer's repeat purchases in ``(T, T+t]``.

    Fader & Hardie (2014), "Deriving the conditional PMF of the Pareto/NBD model" (note
    028): ``P = (1 − P(alive)) · 1{k = 0} + P(alive) · P(X(t) = k | r+x, α+T, s, β+T)``.
    Given alive at ``T`` the customer's rates are independent, ``λ ~ Gamma(r+x, α+T)``
    and ``μ ~ Gamma(s, β+T)`` (the alive term of the likelihood, Fader & Hardie 2005
    note eq. 18, is ``λ^x e^(−λT) · e^(−μT)``), and her remaining lifetime is again
    exponential: she buys like a new customer with those parameters, whose count
    :func:`active_purchase_pmf` gives.  ``P(alive)`` is eq. (34) (:func:`probability_alive`).
    Its mean is eq. (41) (:func:`conditional_expected_purchases`).  Arguments and result
    as :func:`clvmodels.models.bgnbd.conditional_purchase_pmf`, with ``s, beta`` in place
    of ``a, b`` (``t`` finite).
    """
    alive = probability_alive(frequency, recency, T, r=r, alpha=alpha, s=s, beta=beta)
    active = active_purchase_pmf(K, t, frequency, T, r=r, alpha=alpha, s=s, beta=beta)
    return predictive.with_dead(alive, active)


def active_purchase_pmf(
    K: int, t: Any, frequency: Any, T: Any, *, r: Any, alpha: Any, s: Any, beta: Any
) -> np.ndarray:
    """``P(X(T, T+t) = k | alive at T, x, T)`` for ``k = 0 … K−1``: the count of a new
    customer with parameters ``(r+x, α+T, s, β+T)`` (Fader & Hardie 2005 note, eqs.
    23–26), by the quadrature of :func:`clvmodels.models.nbd.stopped_pmf` (absolute
    error ~1e-15), once per distinct ``(t, r+x, α+T, s, β+T)``.  Depends on ``(x, T)``,
    not on ``t_x``."""
    k = predictive.count_grid(K)
    x, T_ = (np.asarray(v, dtype=float) for v in (frequency, T))
    return predictive.per_distinct(
        nbd.stopped_pmf, k.size, t, np.asarray(r) + x, np.asarray(alpha) + T_, s,
        np.asarray(beta) + T_, cells_per_row=k.size,
    )


def simulate(
    n_customers: int,
    *,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    T: Any,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Simulate customers from the Pareto/NBD generative story (SMC 1987, section 2).

    λ ~ Gamma(r, rate α), μ ~ Gamma(s, rate β), lifetime τ ~ Exp(μ); purchases form a
    Poisson process with rate λ on [0, min(τ, T)].  The last purchase of n uniform
    purchase times on [0, m] is m·U^(1/n).

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T`` and the latent ``alive`` (τ > T).
    """
    T = np.broadcast_to(np.asarray(T, dtype=float), (n_customers,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, size=n_customers)
    mu = rng.gamma(s, 1.0 / beta, size=n_customers)
    lifetime = rng.exponential(1.0, size=n_customers) / np.maximum(mu, 1e-300)
    active = np.minimum(lifetime, T)
    frequency = rng.poisson(lam * active)
    u = rng.uniform(size=n_customers)
    with np.errstate(divide="ignore"):
        last = active * u ** (1.0 / np.maximum(frequency, 1))
    recency = np.where(frequency > 0, last, 0.0)
    return {
        "frequency": frequency.astype(float),
        "recency": recency,
        "T": T,
        "alive": lifetime > T,
    }


SPEC = ModelSpec(
    key="paretonbd",
    name="Pareto/NBD",
    param_names=("r", "alpha", "s", "beta"),
    rate_params=("alpha", "beta"),
    data_columns=("frequency", "recency", "T"),
    log_likelihood=log_likelihood,
    initial_params=initial_params,
    reference=(
        "Schmittlein, Morrison & Colombo (1987), Management Science 33(1); likelihood from "
        "Fader & Hardie (2005), 'A note on deriving the Pareto/NBD model and related "
        "expressions'"
    ),
    # Fader & Hardie (2007), note 019: α_i = α₀ e^(−γ₁′z), β_i = β₀ e^(−γ₂′z)
    covariate_links={"purchase": {"alpha": -1.0}, "dropout": {"beta": -1.0}},
    # lifetime ~ Pareto(s, β): the data pin down its survival to about T, not s and β
    hazard_pairs=(("s", "beta", "T"),),
)
