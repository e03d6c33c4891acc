"""NBD model (Ehrenberg 1959): purchases without dropout, and the NBD purchase-count
building block shared by BG/NBD, MBG/NBD, Pareto/NBD and GGompertz/NBD.

Ehrenberg, A. S. C. (1959), "The pattern of consumer purchases", Journal of the Royal
Statistical Society C (Applied Statistics) 8(1), 26–41.  A customer buys as a Poisson
process with rate ``λ ~ Gamma(r, rate α)`` and never drops out, so ``N(t)``, the repeat
purchases in ``(0, t]``, is negative binomial.  It is the "no churn" reference of the
dropout models: the BG/NBD tends to it as ``b → ∞`` (``p → 0``), the Pareto/NBD as
``s/β → 0``.  Data per customer: ``frequency`` x and ``T``; the recency of the last
purchase carries no information (given ``x``, the purchase times of a Poisson process
on ``(0, T]`` are uniform whatever ``λ``).

Likelihood of the purchase times (no ``1/x!``, as for the other models of the package;
Fader, Hardie & Lee 2005, "Counting your customers the easy way", Marketing Science
24(2) (FHL 2005), eq. 3 with ``p = 0``)::

    L = Γ(r+x) α^r / (Γ(r) (α+T)^(r+x)).

An active customer's rate is ``λ | x, T ~ Gamma(r+x, α+T)``, so every prediction is the
NBD of a new customer at the posterior parameters, with ``P(alive) ≡ 1``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import special

from clvmodels.models import predictive
from clvmodels.models.ops import Ops, numpy_ops
from clvmodels.models.predictive import CELLS_PER_CHUNK
from clvmodels.models.spec import ModelSpec

REFERENCE = (
    "Ehrenberg, A. S. C. (1959). The pattern of consumer purchases. Journal of the Royal "
    "Statistical Society C (Applied Statistics) 8(1), 26-41."
)


def moment_start(data: Mapping[str, np.ndarray], weights: np.ndarray) -> tuple[float, float]:
    """Method-of-moments ``(r, alpha)`` of the Gamma(r, alpha) purchase-rate distribution.

    Over a window of length ``T̄`` (the mean of ``T``) the repeat-purchase count of the
    NBD has mean ``m = r·T̄/α`` and variance ``m + m²/r`` (Ehrenberg 1959; Morrison &
    Schmittlein 1988), so ``r = m² / (v − m)`` and ``α = r·T̄/m``.  Dropout makes these
    biased, but as an optimiser's starting point they roughly halve the number of
    gradient evaluations compared with ``r = 1``.
    """
    w = np.asarray(weights, dtype=float)
    x = np.asarray(data["frequency"], dtype=float)
    mean_t = float(np.average(np.asarray(data["T"], dtype=float), weights=w))
    m = float(np.average(x, weights=w))
    if m <= 0:
        return 1.0, max(mean_t, 1e-6)
    v = float(np.average((x - m) ** 2, weights=w))
    r = float(np.clip(m * m / max(v - m, 1e-3 * m * m), 1e-2, 1e2))
    return r, float(min(r * mean_t / m, 1e6))


def log_pmf(x: np.ndarray, t: np.ndarray, r: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """log P(N(t) = x) for the Gamma(r, α)–Poisson mixture (the negative binomial of
    Ehrenberg 1959): ``Γ(r+x)/(Γ(r) x!) · (α/(α+t))^r (t/(α+t))^x``, the purchase count
    of an always-active customer in FHL 2005 eq. (8)."""
    s = t / alpha
    positive = s > 0
    s_safe = np.where(positive, s, 1.0)
    x_log_z = np.where(positive, x * (np.log(s_safe) - np.log1p(s_safe)), 0.0)
    x_log_z = np.where(positive | (x == 0), x_log_z, -np.inf)
    return (
        special.gammaln(r + x)
        - special.gammaln(r)
        - special.gammaln(x + 1.0)
        - r * np.log1p(s)
        + x_log_z
    )


def log_tail(x: np.ndarray, t: np.ndarray, r: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """log P(N(t) ≥ x) = log I_z(x, r), ``z = t/(α+t)``, for ``x ≥ 1``: the regularised
    incomplete Beta function in place of FHL 2005 eq. (8)'s ``1 − Σ_{j<x} P(N(t) = j)``,
    which cancels catastrophically."""
    s = t / alpha
    z = s / (1.0 + s)
    one_minus_z = 1.0 / (1.0 + s)
    tail = np.where(z < 0.5, special.betainc(x, r, z), special.betaincc(r, x, one_minus_z))
    positive = tail > 0
    return np.where(positive, np.log(np.where(positive, tail, 1.0)), -np.inf)


def log_pmf_counts(K: int, t: Any, r: Any, alpha: Any) -> np.ndarray:
    """``log P(N(t) = k)`` for ``k = 0 … K−1`` along a new last axis (the broadcast shape
    of ``t, r, alpha`` plus ``(K,)``): :func:`log_pmf` on the whole count axis.

    The coefficient ``Γ(r+k)/(Γ(r) k!)`` is built by its recurrence, the cumulative sum
    of ``log((r+j)/(j+1))`` over ``j < k``, whose error grows like ``k·ε``; the difference
    ``gammaln(r+k) − gammaln(r)`` loses ``ε·|log Γ(r)|`` instead (2e-11 at ``r = 1e4``,
    3e-7 at ``r = 1e8``, where the NBD tends to the Poisson of a fit without
    heterogeneity).
    """
    k = np.arange(K, dtype=float)
    t, r, alpha = (np.asarray(v, dtype=float)[..., None] for v in (t, r, alpha))
    steps = np.log(r + k[:-1]) - np.log1p(k[:-1])
    log_coef = np.cumsum(np.concatenate([np.zeros_like(r), steps], axis=-1), axis=-1)
    s = t / alpha
    positive = s > 0
    s_safe = np.where(positive, s, 1.0)
    k_log_z = np.where(positive, k * (np.log(s_safe) - np.log1p(s_safe)), 0.0)
    k_log_z = np.where(positive | (k == 0), k_log_z, -np.inf)  # N(0) = 0
    return log_coef - r * np.log1p(s) + k_log_z


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)
_SURVIVAL_CUT = 40.0  # the lifetime integral stops where P(τ > u) < e^-40 (4e-18)


def stopped_pmf(
    K: int, t: np.ndarray, r: np.ndarray, alpha: np.ndarray, s: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    """``P(N(min(t, τ)) = k)`` for ``k = 0 … K−1``: the NBD count of a customer whose
    lifetime ``τ`` has ``P(τ > u) = (β/(β+u))^s`` — the Pareto/NBD count of a new customer
    (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005, "A note on deriving the
    Pareto/NBD model and related expressions", eqs. 23–26).

    Conditioning on the lifetime, ``P(k) = (β/(β+t))^s NB(k; t) + ∫_0^t s β^s
    (β+u)^−(s+1) NB(k; u) du`` with ``NB(k; u) = P(N(u) = k)`` (:func:`log_pmf_counts`).
    The integral is done by composite 8-node Gauss–Legendre quadrature in
    ``v = log(1 + u/c)``, ``c = min(α/(r+K), β/(s+1))``: linear in ``u`` below the scale
    on which either factor varies, logarithmic above it, where ``NB(k; u)`` is a peak of
    width ``σ = (1/k + 1/r)^½`` in ``log u``.  The panels are no wider than ``σ`` at
    ``k = K−1`` (nor 1), nor than ``2/g``, ``g`` the largest log-slope in ``v`` of the
    lifetime density (``g ≤ s + 2``, and ``g ≲ 42`` for any ``s`` because the integral
    stops where ``P(τ > u) < e^-40``).  An 8-node rule integrates a Gaussian over one
    standard deviation, or ``e^(−g v)`` over ``2/g``, to ~1e-15 relative.  Checked against
    adaptive quadrature (SciPy's ``quad_vec``, rel. 1e-13, with break points) on 300
    draws of every argument log-uniform on ``[e^-3, e^7]``, ``K`` up to 200: largest
    absolute error 3e-15 (``tests/test_predictive_pmf.py``, a ``slow`` test).

    Parameters
    ----------
    K
        Number of counts.
    t, r, alpha, s, beta
        1-d arrays of equal length ``m`` (``t ≥ 0`` finite, the others positive).

    Returns
    -------
    numpy.ndarray
        ``(m, K)``.
    """
    c = np.minimum(alpha / (r + K), beta / (s + 1.0))
    u_end = np.minimum(t, beta * np.expm1(np.minimum(_SURVIVAL_CUT / s, 700.0)))
    v_end = np.log1p(u_end / c)
    sigma = np.minimum(np.sqrt(1.0 / max(K - 1, 1) + 1.0 / r), 1.0)
    slope = (s + 1.0) * (c + u_end) / (beta + u_end)
    width = np.minimum(sigma, 2.0 / slope)
    panels = 2 ** np.ceil(np.log2(np.maximum(np.ceil(v_end / width), 1.0))).astype(np.int64)
    out = np.exp(-s[:, None] * np.log1p(t / beta)[:, None] + log_pmf_counts(K, t, r, alpha))
    for n_panels in np.unique(panels):
        unit = ((np.arange(n_panels)[:, None] + (_GL_NODES + 1.0) / 2.0) / n_panels).ravel()
        weights = np.tile(_GL_WEIGHTS / (2.0 * n_panels), n_panels)
        group = np.flatnonzero(panels == n_panels)
        chunk = max(1, CELLS_PER_CHUNK // (unit.size * K))
        for rows in (group[i : i + chunk] for i in range(0, group.size, chunk)):
            cr, sr, br = c[rows, None], s[rows, None], beta[rows, None]
            u = cr * np.expm1(v_end[rows, None] * unit)
            # lifetime density times du/dv = c + u, in logs; the panel widths in ``weights``
            log_density = np.log(sr / br) - (sr + 1.0) * np.log1p(u / br) + np.log(cr + u)
            log_nb = log_pmf_counts(K, u, r[rows, None], alpha[rows, None])
            terms = np.exp(log_density[..., None] + log_nb)
            out[rows] += v_end[rows, None] * np.einsum("mnk,n->mk", terms, weights)
    return out


# ---------------------------------------------------------------------------------------
# the NBD model: likelihood (written once against ``xp``: NumPy and PyTensor)
# ---------------------------------------------------------------------------------------


def log_likelihood(r: Any, alpha: Any, *, frequency: Any, T: Any, xp: Ops = numpy_ops) -> Any:
    """Per-customer NBD log-likelihood of the purchase times (module docstring):
    ``log Γ(r+x) − log Γ(r) + r log α − (r+x) log(α+T)`` (FHL 2005 eq. 3 with ``p = 0``,
    integrated over ``λ ~ Gamma(r, α)``).  Evaluated once per distinct ``(x, T)``.

    Parameters
    ----------
    r, alpha
        Shape and rate of the Gamma distribution of purchase rates λ.
    frequency, T
        x and T of every customer.
    xp
        Array namespace (:data:`~clvmodels.models.ops.numpy_ops` or ``pytensor_ops()``).
    """

    def per_pair(x: Any, t: Any) -> Any:
        return xp.gammaln(r + x) - xp.gammaln(r) + r * xp.log(alpha) - (r + x) * xp.log(alpha + t)

    return xp.distinct(per_pair, frequency, T)


def initial_params(data: Mapping[str, np.ndarray], weights: np.ndarray) -> dict[str, float]:
    """Start: the method-of-moments ``r, α`` of :func:`moment_start` (unbiased here: no
    dropout)."""
    r, alpha = moment_start(data, weights)
    return {"r": r, "alpha": alpha}


SPEC = ModelSpec(
    key="nbd",
    name="NBD",
    param_names=("r", "alpha"),
    rate_params=("alpha",),
    data_columns=("frequency", "T"),
    log_likelihood=log_likelihood,
    initial_params=initial_params,
    reference=REFERENCE,
    # as the purchase process of the BG/NBD (Fader & Hardie 2007, note 019): α_i = α₀ e^(−γ′z)
    covariate_links={"purchase": {"alpha": -1.0}},
)

# ---------------------------------------------------------------------------------------
# predictions (plain NumPy/SciPy, broadcasting over customers and parameter draws)
# ---------------------------------------------------------------------------------------


def _floats(*values: Any) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(v, dtype=float) for v in values)


def expected_purchases(t: Any, *, r: Any, alpha: Any) -> np.ndarray:
    """``E[X(t)] = r t / α`` for a new customer (the NBD mean, Ehrenberg 1959)."""
    t, r, alpha = _floats(t, r, alpha)
    return r * t / alpha


def probability_of_purchases(x: Any, t: Any, *, r: Any, alpha: Any) -> np.ndarray:
    """``P(X(t) = x)`` for a new customer: the negative binomial pmf of :func:`log_pmf`."""
    x, t, r, alpha = _floats(x, t, r, alpha)
    return np.exp(log_pmf(x, t, r, alpha))


def probability_alive(frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any) -> np.ndarray:
    """``P(alive) ≡ 1``: NBD customers never drop out (broadcast shape of the arguments)."""
    shape = np.broadcast_shapes(*(np.shape(v) for v in (frequency, recency, T, r, alpha)))
    return np.ones(shape)


def active_expected_purchases(t: Any, frequency: Any, T: Any, *, r: Any, alpha: Any) -> np.ndarray:
    """Expected purchases in ``(T, T+t]`` given ``(x, T)``: ``(r+x) t/(α+T)``, the mean of
    ``λ | x, T ~ Gamma(r+x, α+T)`` (the Gamma prior times the likelihood ``λ^x e^(−λT)``)
    times ``t``."""
    t, x, T_, r, alpha = _floats(t, frequency, T, r, alpha)
    return (r + x) / (alpha + T_) * t


def conditional_expected_purchases(
    t: Any, frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any
) -> np.ndarray:
    """``E[X(T, T+t) | x, t_x, T] = (r+x) t/(α+T)``: :func:`active_expected_purchases`
    (``P(alive) = 1``), broadcast with ``recency``, which it does not depend on."""
    alive = probability_alive(frequency, recency, T, r=r, alpha=alpha)
    return alive * active_expected_purchases(t, frequency, T, r=r, alpha=alpha)


def conditional_purchase_pmf(
    K: int, t: Any, frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any
) -> np.ndarray:
    """``P(X(T, T+t) = k | x, t_x, T)`` for ``k = 0 … K−1``: the negative binomial at the
    posterior ``(r+x, α+T)`` (:func:`log_pmf_counts`).  Arguments and result as
    :func:`clvmodels.models.bgnbd.conditional_purchase_pmf` (without ``a, b``)."""
    predictive.count_grid(K)
    x, T_ = _floats(frequency, T)
    alive = probability_alive(frequency, recency, T, r=r, alpha=alpha) * np.ones(np.shape(t))
    active = np.exp(log_pmf_counts(K, t, np.asarray(r) + x, np.asarray(alpha) + T_))
    return predictive.with_dead(alive, active)


def discounted_active_purchases(
    frequency: Any, T: Any, *, r: Any, alpha: Any, delta: float, horizon: float = math.inf
) -> np.ndarray:
    """Discounted expected purchases after ``T``: ``(r+x)/(α+T) · ∫_0^H e^(−δt) dt =
    (r+x)/(α+T) · (1 − e^(−δH))/δ`` (``H`` at ``δ = 0``), in closed form (exact; the
    lifetime cut of :mod:`clvmodels.models.discount` is not needed).

    Raises
    ------
    ValueError
        As :func:`clvmodels.models.discount.discounted_purchases`: ``δ < 0``, ``H ≤ 0``,
        or an infinite horizon without discounting (infinitely many purchases).
    """
    if not delta >= 0:
        raise ValueError(f"delta must be >= 0, got {delta}")
    if math.isinf(horizon) and delta == 0:
        raise ValueError("an infinite horizon needs a positive discount rate")
    if not horizon > 0:
        raise ValueError(f"horizon must be > 0, got {horizon}")
    window = horizon if delta == 0 else -math.expm1(-delta * horizon) / delta
    return active_expected_purchases(window, frequency, T, r=r, alpha=alpha)


def discounted_expected_residual_transactions(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    r: Any,
    alpha: Any,
    delta: float,
    horizon: float = math.inf,
) -> np.ndarray:
    """DERT (Fader, Hardie & Lee 2005, "RFM and CLV", JMR 42(4), section DERT) of the NBD:
    :func:`discounted_active_purchases` (``P(alive) = 1``), broadcast with ``recency``."""
    alive = probability_alive(frequency, recency, T, r=r, alpha=alpha)
    return alive * discounted_active_purchases(
        frequency, T, r=r, alpha=alpha, delta=delta, horizon=horizon
    )


def simulate(
    n_customers: int, *, r: float, alpha: float, T: Any, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Draw customers from the NBD: ``λ ~ Gamma(r, rate α)``, ``x ~ Poisson(λT)`` and the
    last of ``x`` uniform purchase times on ``(0, T]``, ``T·U^(1/x)``.

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T`` and ``alive`` (always true).
    """
    T = np.broadcast_to(np.asarray(T, dtype=float), (n_customers,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, size=n_customers)
    frequency = rng.poisson(lam * T).astype(float)
    last = T * rng.uniform(size=n_customers) ** (1.0 / np.maximum(frequency, 1.0))
    recency = np.where(frequency > 0, last, 0.0)
    return {"frequency": frequency, "recency": recency, "T": T, "alive": np.ones(n_customers, bool)}


def simulate_purchase_times(
    *, r: Any, alpha: Any, T: Any, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat purchase times of customers, each with her own ``r, alpha`` (covariate
    links): ``λ_i ~ Gamma(r_i, rate α_i)``, ``x_i ~ Poisson(λ_i T_i)`` purchases at sorted
    uniform times on ``(0, T_i]`` (a Poisson process given its count).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``customer`` index (int64) and ``time`` of every repeat purchase, sorted by
        customer, then time (as :func:`clvmodels.models.bgnbd.simulate_purchase_times`).
    """
    T_arr = np.atleast_1d(np.asarray(T, dtype=float))
    r, alpha, T_arr = (
        np.broadcast_to(np.asarray(v, dtype=float), T_arr.shape).ravel() for v in (r, alpha, T_arr)
    )
    counts = rng.poisson(rng.gamma(r, 1.0 / alpha) * T_arr)
    customer = np.repeat(np.arange(T_arr.size), counts).astype(np.int64)
    time = T_arr[customer] * (1.0 - rng.random(customer.size))  # uniform on (0, T]
    order = np.lexsort((time, customer))
    return customer[order], time[order]
