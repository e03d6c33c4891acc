"""Pareto/GGG: the customer-level latent variables and their full conditionals.

Platzer & Reutterer (2016), "Ticking away the moments: timing regularity helps to better
predict customer activity", Marketing Science 35(5), 779–799 (the model and its MCMC
scheme, implemented in BTYDplus as ``pggg.mcmc.DrawParameters``).

Customer ``i`` buys with Gamma(``k``, rate ``kλ``) inter-transaction times (mean ``1/λ``,
coefficient of variation ``1/√k``), ``λ ~ Gamma(r, α)``, ``k ~ Gamma(t, γ)``, until her
lifetime ``τ ~ Exponential(μ)``, ``μ ~ Gamma(s, β)``.  Observed: ``x`` repeat purchases,
the last at ``t_x``, window ``T``, and ``litt`` = Σ log of the ``x`` inter-transaction
times (time 0 is the first purchase).

The sampler here differs from BTYDplus in two exact ways that make every step a direct
draw or a cheap one-dimensional slice:

* ``μ`` is integrated out: the lifetime is then ``τ ~ Pareto(s, β)`` (Lomax, survival
  ``(β/(β+τ))^s``), the distribution of the Pareto/NBD (Schmittlein, Morrison &
  Colombo 1987);
* the censored gap is augmented: ``g`` is the (unobserved) ``(x+1)``-th
  inter-transaction time, which must end after ``min(τ, T)``.  Given ``g`` the data
  hold ``x + 1`` complete Gamma gaps, so ``λ | k, g`` is conjugate,
  ``Gamma(r + (x+1)k, α + k(t_x + g))``; ``k | λ, g`` is a log-concave-ish 1-d slice;
  ``g | k, λ, τ`` is a Gamma truncated to ``(min(τ,T) − t_x, ∞)`` (inverse CDF); and
  ``τ | g`` is the Pareto truncated to ``(t_x, t_x + g)`` when that ends before ``T``, to
  ``(t_x, ∞)`` otherwise (inverse CDF).

Integrating ``g`` out again gives the model's likelihood, so the chain targets the
posterior of Platzer & Reutterer.  As ``g`` ties λ and τ to its last value, each sweep
also moves λ and τ with ``g`` integrated out (independence Metropolis–Hastings from
their complete-gap and prior conditionals, accepted with the ratio of the censored
gap's survival ``Q(k, kλ(min(τ,T) − t_x))``).  The last section gives the future
purchases of a customer in a given latent state (:func:`future_given_state`).

State arrays are flat (one element per customer and chain, or per customer and
hyperparameter draw); hyperparameters broadcast against them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from clvmodels.models.slice_sampling import slice_sample

LOG_K_BOUNDS = (-10.0, 10.0)
"""Support of ``log k`` in the sampler (k from 4.5e-5 to 22,000: beyond any data)."""

REJECTION_ROUNDS = 6
"""Rounds of rejection sampling in :func:`truncated_gamma` before the inverse CDF."""
MU_SAMPLES = 8
"""Draws of the remaining dropout rate per latent state in the lifetime DERT."""
_NEGLIGIBLE = 1e-12  # a future purchase whose survival weight is below this ends a path
_TAIL_Q = 1e-280  # below this upper-tail mass the truncated Gamma uses its exponential tail


@dataclass
class Histories:
    """The data of the customers a latent chain runs on (flat, equal-length arrays)."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    litt: np.ndarray

    @classmethod
    def of(
        cls, frequency: Any, recency: Any, T: Any, litt: Any, shape: tuple[int, ...]
    ) -> Histories:
        """Histories broadcast to ``shape`` (e.g. ``(chains, rows)`` or ``(draws, rows)``)
        and flattened."""
        arrays = (np.asarray(v, dtype=float) for v in (frequency, recency, T, litt))
        return cls(*(np.broadcast_to(a, shape).ravel().copy() for a in arrays))


@dataclass
class LatentState:
    """Latent variables of every element: purchase rate ``lam`` (λ), regularity ``k``,
    censored gap ``gap`` (g), lifetime ``tau`` (τ) and ``alive`` (τ > T)."""

    lam: np.ndarray
    k: np.ndarray
    gap: np.ndarray
    tau: np.ndarray
    alive: np.ndarray


def initial_state(data: Histories, hyper: Mapping[str, Any]) -> LatentState:
    """A start consistent with the data: λ its posterior mean ignoring regularity and
    dropout, ``k`` the prior mean ``t/γ``, alive, the next purchase one mean gap after
    ``T``."""
    r, alpha, t, gamma = (np.asarray(hyper[p], dtype=float) for p in ("r", "alpha", "t", "gamma"))
    lam = np.broadcast_to((r + data.x) / (alpha + data.T), data.x.shape).copy()
    k = np.broadcast_to(np.clip(t / gamma, 0.1, 50.0), data.x.shape).copy()
    gap = data.T - data.t_x + 1.0 / lam
    tau = data.T + 1.0 / lam
    return LatentState(lam, k, gap, tau, np.ones(data.x.shape, dtype=bool))


def draw_lambda(
    state: LatentState, data: Histories, r: Any, alpha: Any, rng: np.random.Generator
) -> None:
    """λ | k, g ~ Gamma(r + (x+1)k, α + k(t_x + g)) (conjugate; module docstring)."""
    shape = r + (data.x + 1.0) * state.k
    rate = alpha + state.k * (data.t_x + state.gap)
    state.lam = rng.gamma(shape, 1.0) / rate


def k_log_density(
    log_k: np.ndarray, lam: Any, n: Any, log_sum: Any, total: Any, t: Any, gamma: Any
) -> np.ndarray:
    """log p(log k | λ, gaps) up to a constant: ``n`` Gamma(k, kλ) gaps with Σ log =
    ``log_sum`` and Σ = ``total``, prior Gamma(t, γ) on k, Jacobian of ``log k``."""
    k = np.exp(log_k)
    value = (
        n * (k * np.log(k * lam) - special.gammaln(k))
        + (k - 1.0) * log_sum
        - k * lam * total
        + t * log_k
        - gamma * k
    )
    inside = (log_k > LOG_K_BOUNDS[0]) & (log_k < LOG_K_BOUNDS[1])
    return np.where(inside, value, -np.inf)


def draw_k(
    state: LatentState, data: Histories, t: Any, gamma: Any, rng: np.random.Generator
) -> None:
    """k | λ, g by one slice-sampling update of ``log k`` (Neal 2003), all elements at once."""
    n = data.x + 1.0
    log_sum = data.litt + np.log(state.gap)
    total = data.t_x + state.gap
    size = n.size
    t_, gamma_ = (np.broadcast_to(np.asarray(v, dtype=float), (size,)) for v in (t, gamma))

    def log_density(values: np.ndarray, where: np.ndarray) -> np.ndarray:
        return k_log_density(
            values,
            state.lam[where],
            n[where],
            log_sum[where],
            total[where],
            t_[where],
            gamma_[where],
        )

    state.k = np.exp(slice_sample(log_density, np.log(state.k), 1.0, rng))


def truncated_gamma(
    shape: np.ndarray, rate: np.ndarray, lower: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Gamma(shape, rate) draws conditioned on exceeding ``lower`` (exact).

    By rejection, vectorised, for :data:`REJECTION_ROUNDS` rounds: below the mean
    (``rate·lower < shape``) from the untruncated Gamma, accepted when above ``lower``;
    beyond it from ``lower`` + Exponential(ρ), ``ρ = rate − (shape−1)/lower`` for
    ``shape ≥ 1`` (accepted w.p. ``(1+y/lower)^(shape−1) e^(−(shape−1)y/lower) ≤ 1``),
    ``ρ = rate`` for ``shape < 1`` (accepted w.p. ``(1+y/lower)^(shape−1)``).  The few
    elements left over use the inverse CDF (``gammainccinv``, slow: 1.5 µs a value), or
    the exponential tail where the tail mass underflows.
    """
    shape, rate, lower = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (shape, rate, lower))
    )
    out = np.empty(shape.shape)
    pending = np.arange(shape.size)
    for _ in range(REJECTION_ROUNDS):
        if not pending.size:
            return out
        a, b, low = shape.flat[pending], rate.flat[pending], lower.flat[pending]
        inner = b * low < a
        draw = np.empty(pending.size)
        draw[inner] = rng.gamma(a[inner], 1.0)[...] / b[inner]
        accept = inner & (draw > low)
        outer = ~inner
        big = outer & (a >= 1.0)
        rho = np.where(big, b - (a - 1.0) / np.maximum(low, 1e-300), b)
        y = rng.exponential(size=pending.size) / rho
        draw[outer] = low[outer] + y[outer]
        ratio = np.log1p(y / np.maximum(low, 1e-300)) * (a - 1.0)
        ratio = np.where(big, ratio - (a - 1.0) * y / np.maximum(low, 1e-300), ratio)
        accept |= outer & (np.log(rng.random(pending.size)) < ratio)
        out.flat[pending[accept]] = draw[accept]
        pending = pending[~accept]
    if pending.size:
        a, b, low = shape.flat[pending], rate.flat[pending], lower.flat[pending]
        out.flat[pending] = _inverse_cdf_tail(a, b, low, rng)
    return out


def _inverse_cdf_tail(
    shape: np.ndarray, rate: np.ndarray, lower: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """:func:`truncated_gamma` by inverse CDF (where the tail mass underflows, ``lower``
    plus an exponential with the tail's local rate ``rate − (shape−1)/lower``)."""
    tail = special.gammaincc(shape, rate * lower)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        draw = special.gammainccinv(shape, rng.random(shape.shape) * tail) / rate
    bad = ~(np.isfinite(draw) & (draw >= lower) & (tail > _TAIL_Q))
    if np.any(bad):
        local = np.maximum(
            rate[bad] - (shape[bad] - 1.0) / np.maximum(lower[bad], 1e-300), 0.5 * rate[bad]
        )
        draw[bad] = lower[bad] + rng.exponential(size=int(bad.sum())) / local
    return draw


def draw_gap(state: LatentState, data: Histories, rng: np.random.Generator) -> None:
    """g | k, λ, τ: Gamma(k, kλ) truncated to ``(min(τ, T) − t_x, ∞)``."""
    lower = np.minimum(state.tau, data.T) - data.t_x
    state.gap = truncated_gamma(state.k, state.k * state.lam, np.maximum(lower, 0.0), rng)


def draw_lifetime(
    state: LatentState, data: Histories, s: Any, beta: Any, rng: np.random.Generator
) -> None:
    """τ | g: Pareto(s, β) truncated to ``(t_x, U)``, ``U = t_x + g`` if that is before
    ``T``, else ∞ (inverse of the survival ``(β/(β+τ))^s``, in logs)."""
    end = data.t_x + state.gap
    bounded = end <= data.T
    with np.errstate(divide="ignore"):
        log_ratio = np.where(bounded, s * (np.log(beta + data.t_x) - np.log(beta + end)), -np.inf)
    log_survival = np.log1p(-rng.random(end.shape) * -np.expm1(log_ratio))
    tau = (beta + data.t_x) * np.exp(-log_survival / s) - beta
    state.tau = np.where(bounded, np.minimum(np.maximum(tau, data.t_x), end), tau)
    state.alive = state.tau > data.T


def log_tail(shape: np.ndarray, rate: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """log P(Gamma(shape, rate) > lower); where the probability underflows, the leading
    term of its asymptotic expansion (Abramowitz & Stegun 6.5.32)."""
    y = rate * lower
    q = special.gammaincc(shape, y)
    with np.errstate(divide="ignore"):
        asymptotic = (shape - 1.0) * np.log(y) - y - special.gammaln(shape)
    return np.where(q > _TAIL_Q, np.log(np.maximum(q, _TAIL_Q)), asymptotic)


def draw_lambda_marginal(
    state: LatentState,
    data: Histories,
    r: Any,
    alpha: Any,
    rng: np.random.Generator,
    current: np.ndarray | None = None,
) -> np.ndarray:
    """λ | k, τ with the gap integrated out: an independence Metropolis–Hastings step
    proposing from Gamma(r + xk, α + k t_x) (the complete gaps), accepted with the ratio
    of the censored gap's survival ``P(G > min(τ,T) − t_x)`` (``current``: its log at the
    present state, computed if not given).  Returns its log after the step."""
    lower = np.minimum(state.tau, data.T) - data.t_x
    proposal = rng.gamma(r + data.x * state.k, 1.0) / (alpha + state.k * data.t_x)
    if current is None:
        current = log_tail(state.k, state.k * state.lam, lower)
    proposed = log_tail(state.k, state.k * proposal, lower)
    accept = np.log(rng.random(lower.shape)) < proposed - current
    state.lam = np.where(accept, proposal, state.lam)
    return np.where(accept, proposed, current)


def draw_lifetime_marginal(
    state: LatentState,
    data: Histories,
    s: Any,
    beta: Any,
    rng: np.random.Generator,
    current: np.ndarray | None = None,
) -> np.ndarray:
    """τ | k, λ with the gap integrated out: independence Metropolis–Hastings from the
    Pareto truncated to ``(t_x, ∞)``, accepted with the ratio of the censored gap's
    survival (``current``: its log at the present τ, computed if not given).  Returns
    its log after the step."""
    rate = state.k * state.lam
    if current is None:
        current = log_tail(state.k, rate, np.minimum(state.tau, data.T) - data.t_x)
    log_survival = np.log1p(-rng.random(data.x.shape))
    proposal = (beta + data.t_x) * np.exp(-log_survival / s) - beta
    lower = np.minimum(proposal, data.T) - data.t_x
    proposed = log_tail(state.k, rate, np.maximum(lower, 0.0))
    accept = np.log(rng.random(lower.shape)) < proposed - current
    state.tau = np.where(accept, np.maximum(proposal, data.t_x), state.tau)
    state.alive = state.tau > data.T
    return np.where(accept, proposed, current)


def sweep(
    state: LatentState,
    data: Histories,
    hyper: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    finish: bool = True,
    marginal_rate: bool = True,
) -> None:
    """One Gibbs sweep over every element's latent variables: λ (if ``marginal_rate``)
    and τ with the gap integrated out (Metropolis–Hastings; each costs two regularised
    incomplete Gamma functions per element), then the gap and ``k`` given the others,
    and (``finish``) λ and τ given the gap.  The fit leaves the last two to follow its
    collapsed hyperparameter updates."""
    current = None
    if marginal_rate:
        current = draw_lambda_marginal(state, data, hyper["r"], hyper["alpha"], rng)
    draw_lifetime_marginal(state, data, hyper["s"], hyper["beta"], rng, current)
    draw_gap(state, data, rng)
    draw_k(state, data, hyper["t"], hyper["gamma"], rng)
    if finish:
        draw_lambda(state, data, hyper["r"], hyper["alpha"], rng)
        draw_lifetime(state, data, hyper["s"], hyper["beta"], rng)


def latent_log_likelihood(
    state: LatentState, data: Histories, latent: str, grid: Callable[[np.ndarray], np.ndarray]
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``(values, chains) ↦ Σ_i ℓ_i(values_i)`` per chain, ``ℓ_i`` the log-likelihood of
    customer ``i``'s ``x+1`` gaps as a function of her λ (``latent="lam"``) or k, the
    other held at its current value."""
    n = grid(data.x + 1.0)
    total = grid(data.t_x + state.gap)
    k, lam = grid(state.k), grid(state.lam)
    log_sum = grid(data.litt + np.log(state.gap))
    if latent == "lam":
        return lambda v, where: (n[where] * k[where] * np.log(v) - k[where] * v * total[where]).sum(
            axis=1
        )

    def value(v: np.ndarray, where: np.ndarray) -> np.ndarray:
        ll = lam[where]
        terms = n[where] * (v * np.log(v * ll) - special.gammaln(v)) + v * log_sum[where]
        return (terms - v * ll * total[where]).sum(axis=1)

    return value


def scaled_log_likelihood(
    state: LatentState, data: Histories, latent: str, grid: Callable[[np.ndarray], np.ndarray]
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``ε ↦ Σ_i ℓ_i(e^ε x_i) − ℓ_i(x_i)`` per chain, ``ℓ_i`` the log-likelihood of the
    ``x+1`` gaps of customer ``i`` as a function of her λ (``latent="lam"``) or k."""
    n = grid(data.x + 1.0)
    total = grid(data.t_x + state.gap)
    k, lam = grid(state.k), grid(state.lam)
    if latent == "lam":
        a = (n * k).sum(axis=1)
        b = (k * lam * total).sum(axis=1)
        return lambda eps, where: a[where] * eps - b[where] * np.expm1(eps)
    log_sum = grid(data.litt + np.log(state.gap))
    base = n * (k * np.log(k * lam) - special.gammaln(k)) + k * log_sum - k * lam * total

    def term(eps: np.ndarray, where: np.ndarray) -> np.ndarray:
        kk = k[where] * np.exp(eps)[:, None]
        nn, ll, tt = n[where], lam[where], total[where]
        value = nn * (kk * np.log(kk * ll) - special.gammaln(kk)) + kk * log_sum[where]
        return (value - kk * ll * tt - base[where]).sum(axis=1)

    return term


def alive_given_gap(state: LatentState, data: Histories, s: Any, beta: Any) -> np.ndarray:
    """P(τ > T | g, data): 0 if the augmented next purchase ``t_x + g`` falls before ``T``,
    else the Pareto survival from ``t_x`` to ``T``, ``((β+t_x)/(β+T))^s`` (Rao–Blackwell
    estimate of P(alive))."""
    survive = np.exp(s * (np.log(beta + data.t_x) - np.log(beta + data.T)))
    return np.where(data.t_x + state.gap > data.T, survive, 0.0)


def future_given_state(
    state: Any,
    data: Histories,
    hyper: Mapping[str, np.ndarray],
    count_horizon: float,
    delta: float,
    dert_horizon: float | None,
    n_counts: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """P(alive) and the future quantities of one latent state, per element (P(alive | g)
    exactly; the count along one Gamma renewal path, each purchase weighted by the
    Pareto survival to it; lifetime DERT in closed form given the first future gap,
    ``E_μ[e^(−(δ+μ)g₁) / (1 − (kλ/(kλ+δ+μ))^k)]``, a geometric sum of Gamma Laplace
    transforms with ``μ ~ Gamma(s, β+T)`` sampled :data:`MU_SAMPLES` times): expected
    purchases in ``(T, T + count_horizon]``, DERT (``dert_horizon`` not ``None``) and the
    count pmf of the alive part (``n_counts > 0``); see
    :func:`clvmodels.models.paretoggg.customer_predictions`."""
    s, beta = hyper["s"], hyper["beta"]
    alive = alive_given_gap(state, data, s, beta)
    first = np.maximum(data.t_x + state.gap - data.T, 0.0)
    base = beta + data.T
    ends = [count_horizon]
    finite_dert = dert_horizon is not None and math.isfinite(dert_horizon)
    if finite_dert:
        ends.append(min(dert_horizon, 50.0 / delta) if delta > 0 else dert_horizon)
    path = renewal_path(
        first,
        state.k,
        state.lam,
        s,
        base,
        max(ends),
        rng,
        count_horizon,
        delta if finite_dert else None,
        ends[-1],
        n_counts,
    )
    out = {"p_alive": alive, "expected_purchases": alive * path["count"]}
    if n_counts:
        out["count_pmf"] = alive[:, None] * path["pmf"]
    if dert_horizon is not None:
        if finite_dert:
            out["dert"] = alive * path["discounted"]
        else:
            out["dert"] = alive * lifetime_dert(first, state.k, state.lam, s, base, delta, rng)
    return out


def renewal_path(
    first: np.ndarray,
    k: np.ndarray,
    lam: np.ndarray,
    s: np.ndarray,
    base: np.ndarray,
    end: float,
    rng: np.random.Generator,
    count_horizon: float,
    delta: float | None,
    dert_end: float,
    n_counts: int,
) -> dict[str, np.ndarray]:
    """Along one Gamma(k, kλ) renewal path from ``first``: Σ of the survival weights
    ``w_j = ((base)/(base+S_j))^s`` of the purchases ``S_j ≤ count_horizon`` (= E[count]
    given the path, as ``P(count ≥ j | path) = w_j``), the discounted Σ ``w_j e^(−δ S_j)``
    over ``S_j ≤ dert_end``, and the pmf of the count given the path,
    ``P(j) = w_j − w_(j+1)`` (``w_0 = 1``)."""
    n = first.size
    count = np.zeros(n)
    discounted = np.zeros(n)
    at_least = np.zeros((n, n_counts + 1)) if n_counts else None
    if at_least is not None:
        at_least[:, 0] = 1.0
    clock = first.copy()
    active = np.arange(n)
    j = 1
    while active.size:
        now = clock[active]
        weight = np.exp(s[active] * (np.log(base[active]) - np.log(base[active] + now)))
        in_count = now <= count_horizon
        count[active] += np.where(in_count, weight, 0.0)
        if delta is not None:
            discounted[active] += np.where(now <= dert_end, weight * np.exp(-delta * now), 0.0)
        if at_least is not None and j <= n_counts:
            at_least[active, j] = np.where(in_count, weight, 0.0)
        active = active[(now <= end) & (weight > _NEGLIGIBLE)]
        kk = k[active]
        clock[active] += rng.gamma(kk, 1.0) / (kk * lam[active])
        j += 1
    out = {"count": count, "discounted": discounted}
    if at_least is not None:
        out["pmf"] = at_least[:, :-1] - at_least[:, 1:]
    return out


def lifetime_dert(
    first: np.ndarray,
    k: np.ndarray,
    lam: np.ndarray,
    s: np.ndarray,
    base: np.ndarray,
    delta: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Lifetime DERT of an alive state with first future purchase at ``first``:
    ``E_μ[e^(−θ g₁) / (1 − (kλ/(kλ+θ))^k)]``, ``θ = δ + μ``, ``μ ~ Gamma(s, base)``."""
    if not delta > 0:
        raise ValueError("an infinite horizon needs a positive discount rate")
    mu = rng.gamma(np.broadcast_to(s, (MU_SAMPLES, s.size)), 1.0) / base
    theta = delta + mu
    geometric = -np.expm1(-k * np.log1p(theta / (k * lam)))
    return np.mean(np.exp(-theta * first) / geometric, axis=0)
