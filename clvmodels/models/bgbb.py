"""Beta-geometric/beta-Bernoulli (BG/BB) model (noncontractual, discrete time).

At each of ``n`` transaction opportunities an alive customer transacts with
probability ``p``; before each opportunity an alive customer dies with probability
``θ``.  Across customers ``p ~ Beta(alpha, beta)`` and ``θ ~ Beta(gamma, delta)``
(Fader, Hardie & Shang 2010, "Customer-base analysis in a discrete-time
noncontractual setting", Marketing Science 29(6), 1086–1108; hereafter FHS2010).

Data (one row per customer, or per group with weights): ``frequency`` ``x`` = number
of opportunities with a transaction, ``recency`` ``t_x`` = the last such opportunity
(0 if none), ``n`` = number of opportunities observed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from clvmodels.models import predictive
from clvmodels.models._special import hyp2f1_unit
from clvmodels.models.ops import Ops, as_floats, numpy_ops
from clvmodels.models.spec import ModelSpec

REFERENCE = (
    "Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis in a "
    "discrete-time noncontractual setting. Marketing Science 29(6), 1086-1108."
)


def log_likelihood(
    alpha: Any,
    beta: Any,
    gamma: Any,
    delta: Any,
    *,
    frequency: Any,
    recency: Any,
    n: Any,
    xp: Ops = numpy_ops,
) -> Any:
    """Per-row log-likelihood of the BG/BB model (FHS2010 eq. (5)).

    ``L = B(α+x, β+n−x)/B(α,β) · B(γ, δ+n)/B(γ,δ)
    + Σ_{i=0}^{n−t_x−1} B(α+x, β+t_x−x+i)/B(α,β) · B(γ+1, δ+t_x+i)/B(γ,δ)``.

    The first term is "alive at every opportunity", the sum runs over the opportunity
    ``t_x + i + 1`` at which the customer died.

    Implementation of the data-dependent sum: the terms decrease in ``i`` (both beta
    functions decrease in their second argument), so the sum is computed as
    ``T_0 · Σ_i exp(log T_i − log T_0)`` with every ratio in ``(0, 1]`` — stable for
    any gap.  ``i`` runs over a grid ``0 .. max(n − t_x) − 1`` (a leading axis) and
    terms beyond each row's own gap are masked out; the grid is built with the array
    library's ``arange`` and reduced with ``.sum(axis=0)``, the only calls beyond the
    :class:`~clvmodels.models.ops.Ops` namespace (they exist alike on NumPy arrays and
    PyTensor tensors, so ``n`` and ``recency`` may be symbolic).  Time and memory are
    ``O(rows × max(n − t_x))``: immaterial for the usual handful of opportunities,
    ~10⁴ × rows for the extreme gaps of the stress tests.

    Parameters
    ----------
    alpha, beta
        Beta parameters of the transaction probability ``p``.
    gamma, delta
        Beta parameters of the dropout probability ``θ``.
    frequency, recency, n
        ``x``, ``t_x`` and ``n`` (``0 ≤ x ≤ t_x ≤ n``, ``t_x = 0`` iff ``x = 0``).
    xp
        Array namespace (:data:`numpy_ops` or :func:`pytensor_ops`).

    Returns
    -------
    array
        Log-likelihood of every row.
    """
    # a pandas Series as its values: the sum's grid broadcasts against plain arrays
    x, t_x, n = (v.to_numpy(dtype=float) if hasattr(v, "to_numpy") else v
                 for v in (frequency, recency, n))
    log_norm = xp.betaln(alpha, beta) + xp.betaln(gamma, delta)
    log_alive = xp.betaln(alpha + x, beta + n - x) + xp.betaln(gamma, delta + n) - log_norm

    gap = n - t_x  # number of terms in the sum (0: transacted at the last opportunity)
    nd = max(_ndim(v) for v in (alpha, beta, gamma, delta, x, t_x, n))
    steps = _offsets(xp, gap)[(slice(None),) + (None,) * nd]
    log_first = xp.betaln(alpha + x, beta + t_x - x) + xp.betaln(gamma + 1.0, delta + t_x)
    log_terms = (
        xp.betaln(alpha + x, beta + t_x - x + steps)
        + xp.betaln(gamma + 1.0, delta + t_x + steps)
        - log_first
    )
    ratios = xp.where(steps < gap, xp.exp(log_terms), 0.0)
    total = ratios.sum(axis=0)  # ≥ 1 where gap ≥ 1, 0 where gap = 0
    has_sum = gap > 0.5
    log_dead = log_first - log_norm + xp.log(xp.where(has_sum, total, 1.0))
    return xp.where(has_sum, xp.logaddexp(log_alive, log_dead), log_alive)


def initial_params(data: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, float]:
    """Start from the pooled transaction rate and a modest dropout rate.

    ``alpha/(alpha+beta)`` is set to the share of observed opportunities up to the
    last transaction that had one (``x / t_x``, pooled), ``gamma/(gamma+delta)`` to
    0.2, both with a total of 2 (diffuse heterogeneity).
    """
    x = np.asarray(data["frequency"], dtype=float)
    t_x = np.asarray(data["recency"], dtype=float)
    w = np.asarray(weights, dtype=float)
    rate = float(np.clip((np.sum(w * x) + 0.5) / (np.sum(w * t_x) + 1.0), 0.05, 0.95))
    return {"alpha": 2.0 * rate, "beta": 2.0 * (1.0 - rate), "gamma": 0.4, "delta": 1.6}


def probability_alive(
    frequency: ArrayLike,
    recency: ArrayLike,
    n: ArrayLike,
    *,
    alpha: ArrayLike,
    beta: ArrayLike,
    gamma: ArrayLike,
    delta: ArrayLike,
) -> np.ndarray:
    """P(alive at opportunity ``n + 1`` | x, t_x, n) (FHS2010, section 4).

    ``B(α+x, β+n−x)/B(α,β) · B(γ, δ+n+1)/B(γ,δ) / L(α,β,γ,δ | x, t_x, n)``.
    """
    x, t_x, n, a, b, g, d = as_floats(frequency, recency, n, alpha, beta, gamma, delta)
    log_num = (
        special.betaln(a + x, b + n - x)
        - special.betaln(a, b)
        + special.betaln(g, d + n + 1.0)
        - special.betaln(g, d)
    )
    return np.minimum(np.exp(log_num - _loglik(x, t_x, n, a, b, g, d)), 1.0)


def expected_transactions(
    n_star: ArrayLike,
    *,
    alpha: ArrayLike,
    beta: ArrayLike,
    gamma: ArrayLike,
    delta: ArrayLike,
) -> np.ndarray:
    """Expected transactions of a new customer in the first ``n*`` opportunities.

    ``E[X(n*)] = α/(α+β) · δ/(γ−1) · [1 − Γ(γ+δ)Γ(1+δ+n*) / (Γ(γ+δ+n*)Γ(1+δ))]``
    (FHS2010, section 3), evaluated stably through ``γ = 1``.
    """
    n_star, a, b, g, d = as_floats(n_star, alpha, beta, gamma, delta)
    return a / (a + b) * np.exp(_log_alive_opportunities(0.0, n_star, g, d))


def conditional_expected_transactions(
    n_star: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    n: ArrayLike,
    *,
    alpha: ArrayLike,
    beta: ArrayLike,
    gamma: ArrayLike,
    delta: ArrayLike,
) -> np.ndarray:
    """Expected transactions in opportunities ``n+1 .. n+n*`` given (x, t_x, n).

    FHS2010 eq. (13)::

        1/L · B(α+x+1, β+n−x)/B(α,β) · δ/(γ−1) · Γ(γ+δ)/Γ(1+δ)
            · [Γ(1+δ+n)/Γ(γ+δ+n) − Γ(1+δ+n+n*)/Γ(γ+δ+n+n*)]

    written as ``1/L · B(α+x+1, β+n−x)/B(α,β) · Σ_{t=n+1}^{n+n*} B(γ, δ+t)/B(γ,δ)``
    and evaluated stably through ``γ = 1``.
    """
    n_star, x, t_x, n, a, b, g, d = as_floats(
        n_star, frequency, recency, n, alpha, beta, gamma, delta
    )
    log_p = special.betaln(a + x + 1.0, b + n - x) - special.betaln(a, b)
    log_l = _loglik(x, t_x, n, a, b, g, d)
    return np.exp(log_p - log_l + _log_alive_opportunities(n, n + n_star, g, d))


def conditional_purchase_pmf(
    K: int,
    n_star: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    n: ArrayLike,
    *,
    alpha: ArrayLike,
    beta: ArrayLike,
    gamma: ArrayLike,
    delta: ArrayLike,
) -> np.ndarray:
    """``P(X(n, n+n*) = k | x, t_x, n)`` for ``k = 0 … K−1``: the predictive distribution
    of a customer's transactions at opportunities ``n+1 … n+n*``.

    The customer is alive through opportunity ``n`` with probability ``π = B(α+x, β+n−x)/
    B(α,β) · B(γ, δ+n)/B(γ,δ) / L`` (the first term of the likelihood, FHS2010 eq. 5,
    over ``L``); otherwise she has died and transacts no more.  Given alive through
    ``n``, ``p ~ Beta(α+x, β+n−x)`` and ``θ ~ Beta(γ, δ+n)``, independent.  She dies before
    each later opportunity with probability ``θ``, so the number ``l`` of the next ``n*``
    opportunities at which she is alive has ``P(l) = B(γ+1, δ+n+l)/B(γ, δ+n)`` for
    ``l < n*`` (alive at ``l``, dies before the next) and ``P(n*) = B(γ, δ+n+n*)/B(γ,
    δ+n)``; given ``l`` her count is beta-binomial, ``C(l, k) B(α+x+k, β+n−x+l−k)/
    B(α+x, β+n−x)``.  Hence

    ``P(k) = (1 − π) 1{k = 0} + π Σ_{l=k}^{n*} P(l) · C(l, k) B(α+x+k, β+n−x+l−k)/
    B(α+x, β+n−x)``,

    the likelihood's enumeration over the opportunity of death (FHS2010 eq. 5) carried
    past ``n``.  Every term is positive and computed in log space.  ``P(0)`` is
    ``L(x, t_x, n+n*) / L(x, t_x, n)`` (no transaction after ``n`` is the history
    ``(x, t_x, n+n*)``) and the mean is :func:`conditional_expected_transactions`
    (FHS2010 eq. 13).

    Parameters
    ----------
    K
        Number of counts (``K = n* + 1`` covers them all).
    n_star
        Number of future opportunities, whole ``≥ 0``.
    frequency, recency, n
        ``x, t_x, n`` of each customer.
    alpha, beta, gamma, delta
        Model parameters: numbers or arrays, e.g. ``(draws, 1)`` against ``(n,)``
        customers.

    Returns
    -------
    numpy.ndarray
        The broadcast shape of ``n_star``, the history and the parameters, plus ``(K,)``.
    """
    x, t_x, n, a, b, g, d = as_floats(frequency, recency, n, alpha, beta, gamma, delta)
    log_alive = (
        special.betaln(a + x, b + n - x) - special.betaln(a, b)
        + special.betaln(g, d + n) - special.betaln(g, d) - _loglik(x, t_x, n, a, b, g, d)
    )
    k = predictive.count_grid(K)
    n_star = np.asarray(n_star, dtype=float)
    if np.any(n_star < 0) or np.any(n_star != np.round(n_star)):
        raise ValueError("n_star must hold whole numbers >= 0")
    active = predictive.per_distinct(
        _active_pmf, k.size, n_star, a + x, b + n - x, g, d + n,
        cells_per_row=(int(n_star.max(initial=0.0)) + 1) * k.size,
    )
    return predictive.with_dead(np.minimum(np.exp(log_alive), 1.0), active)


def _active_pmf(
    K: int, n_star: np.ndarray, a: np.ndarray, b: np.ndarray, g: np.ndarray, d: np.ndarray
) -> np.ndarray:
    """``P(k | alive through n)`` of :func:`conditional_purchase_pmf` for 1-d rows of
    ``(n*, α+x, β+n−x, γ, δ+n)``: ``(m, K)``."""
    k = np.arange(K, dtype=float)
    lives = np.arange(int(n_star.max(initial=0.0)) + 1, dtype=float)[:, None]
    n_star, a, b, g, d = (v[:, None, None] for v in (n_star, a, b, g, d))
    log_lives = np.where(
        lives < n_star, special.betaln(g + 1.0, d + lives), special.betaln(g, d + lives)
    ) - special.betaln(g, d)
    inside = (k <= lives) & (lives <= n_star)
    misses = np.where(inside, lives - k, 0.0)
    log_count = (
        special.gammaln(lives + 1.0) - special.gammaln(k + 1.0) - special.gammaln(misses + 1.0)
        + special.betaln(a + k, b + misses) - special.betaln(a, b)
    )
    terms = np.where(inside, np.exp(log_lives + log_count), 0.0)
    return terms.sum(axis=1)


def dert(
    frequency: ArrayLike,
    recency: ArrayLike,
    n: ArrayLike,
    *,
    alpha: ArrayLike,
    beta: ArrayLike,
    gamma: ArrayLike,
    delta: ArrayLike,
    discount: ArrayLike,
    horizon: float = math.inf,
) -> np.ndarray:
    """Discounted expected residual transactions (FHS2010 eq. (14)).

    ``DERT = B(α+x+1, β+n−x)/B(α,β) · B(γ, δ+n+1)/(B(γ,δ)(1+d))
    · 2F1(1, δ+n+1; γ+δ+n+1; 1/(1+d)) / L(α,β,γ,δ | x, t_x, n)``.

    Convention: a transaction at opportunity ``n + k`` (``k ≥ 1``) is discounted by
    ``(1 + d)^{−k}`` — the first future opportunity is one period away.  Multiply by
    the value of a transaction to get the residual value of the customer.

    With a finite ``horizon`` of ``H`` opportunities the sum stops at ``n + H``:
    ``Σ_{k=1}^{H} (1+d)^{−k} (E[k] − E[k−1])`` with ``E[k]`` from
    :func:`conditional_expected_transactions` (exact, no closed form needed).
    """
    if math.isfinite(horizon):
        steps = np.arange(1, int(horizon) + 1, dtype=float)
        if len(steps) == 0:
            raise ValueError(f"horizon must be at least one opportunity, got {horizon}")
        rows = np.broadcast_arrays(*as_floats(frequency, recency, n))
        params = {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta}
        cumulative = conditional_expected_transactions(
            steps, rows[0][..., None], rows[1][..., None], rows[2][..., None],
            **{k: np.asarray(v, dtype=float)[..., None] for k, v in params.items()},
        )
        increments = np.diff(cumulative, axis=-1, prepend=0.0)
        factors = (1.0 + float(np.asarray(discount))) ** -steps
        return increments @ factors
    x, t_x, n, a, b, g, d, disc = as_floats(
        frequency, recency, n, alpha, beta, gamma, delta, discount
    )
    log_num = (
        special.betaln(a + x + 1.0, b + n - x)
        - special.betaln(a, b)
        + special.betaln(g, d + n + 1.0)
        - special.betaln(g, d)
        - np.log1p(disc)
    )
    series = hyp2f1_unit(d + n + 1.0, g, 1.0 / (1.0 + disc))
    return np.exp(log_num - _loglik(x, t_x, n, a, b, g, d)) * series


def simulate(
    n_customers: int,
    *,
    alpha: float,
    beta: float,
    gamma: float,
    delta: float,
    n_periods: ArrayLike,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Simulate customers observed for ``n_periods`` transaction opportunities.

    Each customer draws ``p ~ Beta(α, β)``, ``θ ~ Beta(γ, δ)`` and dies just before
    opportunity ``D ~ Geometric(θ)``, so is alive at ``a = min(D − 1, n)``
    opportunities, each a Bernoulli(p) transaction.  The last transaction is found by
    counting the trailing non-transactions ``g ~ Geometric(p) − 1``: if ``g ≥ a`` there
    is none, else ``t_x = a − g`` and ``x = 1 + Binomial(t_x − 1, p)``.

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``n`` (the data columns), ``p``, ``theta`` and
        ``alive`` (alive at opportunity ``n + 1`` — one more death draw, FHS2010).
    """
    n = np.broadcast_to(np.asarray(n_periods, dtype=float), (n_customers,)).copy()
    p = np.clip(rng.beta(alpha, beta, size=n_customers), 1e-300, 1.0)
    theta = np.clip(rng.beta(gamma, delta, size=n_customers), 1e-300, 1.0)
    death = _geometric(theta, rng)
    alive_opportunities = np.minimum(death - 1.0, n)
    trailing = _geometric(p, rng) - 1.0
    buys = trailing < alive_opportunities
    recency = np.where(buys, alive_opportunities - trailing, 0.0)
    inner = np.maximum(recency - 1.0, 0.0).astype(np.int64)
    frequency = np.where(buys, 1.0 + rng.binomial(inner, p), 0.0)
    return {
        "frequency": frequency,
        "recency": recency,
        "n": n,
        "p": p,
        "theta": theta,
        "alive": (death > n + 1.0).astype(float),
    }


def _geometric(prob: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Geometric draws on 1, 2, ... by inversion (safe for tiny probabilities)."""
    u = rng.random(prob.shape)
    draws = np.ceil(np.log1p(-u) / np.log1p(-np.minimum(prob, 1.0 - 1e-16)))
    return np.maximum(draws, 1.0)


def _loglik(x, t_x, n, a, b, g, d) -> np.ndarray:
    return np.asarray(
        log_likelihood(a, b, g, d, frequency=x, recency=t_x, n=n, xp=numpy_ops), dtype=float
    )


def _log_alive_opportunities(n0: ArrayLike, n1: ArrayLike, g: np.ndarray, d: np.ndarray):
    """``log Σ_{t=n0+1}^{n1} B(γ, δ+t)/B(γ,δ)``: expected alive opportunities in (n0, n1].

    Closed form ``δ/(γ−1) · Γ(γ+δ)/Γ(1+δ) · [Γ(1+δ+n0)/Γ(γ+δ+n0) −
    Γ(1+δ+n1)/Γ(γ+δ+n1)]`` (FHS2010 eqs. (8), (13)), computed as
    ``δ/(γ−1) · R(n0) · (−expm1(L))`` with ``R(m) = Γ(γ+δ)Γ(1+δ+m)/(Γ(1+δ)Γ(γ+δ+m))``
    and ``L = log R(n1) − log R(n0)``; near ``γ = 1`` a second-order expansion in
    ``γ − 1`` (digamma/trigamma) replaces the 0/0 quotient.
    """
    n0, n1 = as_floats(n0, n1)
    log_r0 = (
        special.gammaln(g + d)
        - special.gammaln(1.0 + d)
        + special.gammaln(1.0 + d + n0)
        - special.gammaln(g + d + n0)
    )
    # L = log R(n1) − log R(n0) = log B(γ+δ+n0, m) − log B(1+δ+n0, m), m = n1 − n0.
    # Its absolute error is ~1e-11 (SciPy's betaln at large arguments), so the result
    # has relative error ~1e-11 / |L|: ~1e-7 in the extreme corner of huge n0, γ ≈ 0
    # and m = 1, far below anything a forecast can resolve.
    m = np.where(n1 > n0, n1 - n0, 1.0)
    log_l = special.betaln(g + d + n0, m) - special.betaln(1.0 + d + n0, m)
    near_one = np.abs(g - 1.0) < 1e-5
    g_safe = np.where(near_one, 2.0, g)
    exact = -np.expm1(log_l) / (g_safe - 1.0)
    # log_l(γ) = (γ−1)·A + (γ−1)²/2·B + O((γ−1)³) around γ = 1
    first = special.digamma(1.0 + d + n0) - special.digamma(1.0 + d + n1)
    second = special.polygamma(1, 1.0 + d + n0) - special.polygamma(1, 1.0 + d + n1)
    eps = g - 1.0
    series = -(first + eps * (second + first**2) / 2.0)
    quotient = np.where(near_one, series, exact)
    positive = (quotient > 0.0) & (n1 > n0)  # empty range: no opportunities
    log_q = np.log(np.where(positive, quotient, 1.0))
    return np.where(positive, np.log(d) + log_r0 + log_q, -np.inf)


def _ndim(value: Any) -> int:
    return int(getattr(value, "ndim", 0))


def _offsets(xp: Ops, gap: Any) -> Any:
    """``0, 1, ..., max(gap) − 1`` in the array library of ``xp`` (gap may be symbolic)."""
    if xp.name == "pytensor":
        import pytensor.tensor as pt

        return pt.arange(pt.ceil(pt.max(gap))).astype("float64")
    return np.arange(np.ceil(np.max(gap)), dtype=float)


SPEC = ModelSpec(
    key="bgbb",
    name="beta-geometric/beta-Bernoulli (BG/BB)",
    param_names=("alpha", "beta", "gamma", "delta"),
    rate_params=(),
    data_columns=("frequency", "recency", "n"),
    log_likelihood=log_likelihood,
    initial_params=initial_params,
    reference=REFERENCE,
)
