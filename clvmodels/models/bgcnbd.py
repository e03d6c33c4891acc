"""BG/CNBD-k model of Reutterer, Platzer & Schröder (2021).

"Leveraging purchase regularity for predicting customer behavior the easy way",
International Journal of Research in Marketing 38(1), 194–215 (cited as RPS 2021),
building on Platzer & Reutterer (2016), "Ticking away the moments: timing regularity
helps to better predict customer activity", Marketing Science 35(5), 779–799.

The BG/NBD (:mod:`clvmodels.models.bgnbd`) with Erlang-k inter-purchase times: while
active a customer's purchase gaps are sums of ``k`` exponential phases of rate ``λ ~
Gamma(r, alpha)`` (mean gap ``k/λ``; the convention of RPS 2021 and BTYDplus, so
``k = 1`` is exactly the BG/NBD), and after every repeat purchase she drops out for good
with probability ``p ~ Beta(a, b)``.  The data are ``frequency`` (``x``), ``recency``
(``t_x``), ``T`` and ``litt`` (Σ log of the ``x`` inter-purchase times, the first from
time 0), in the time unit of ``1/alpha``.

``k`` is a whole number held fixed: :func:`spec_for` declares the model at one ``k``;
the estimator profiles the likelihood over ``k``.  Predictions take the fitted
parameters including ``k`` (a float such as ``2.0``).  At ``k = 1`` every prediction is
the BG/NBD's own function; for ``k > 1`` they are exact sums and quadratures over the
active customer's posterior (:mod:`clvmodels.models._erlang`, which states them), to
1e-10 relative (the lifetime DERT) or better.  BTYDplus approximates the conditional
expectation for ``k > 1``; these do not.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from clvmodels.models import bgnbd, discount, mbgnbd, predictive
from clvmodels.models._erlang import (
    active_expected,
    active_expected_grid,
    active_pmf,
    erlang_log_likelihood,
    erlang_probability_alive,
    erlang_purchase_times,
    order,
    posterior,
    summarise,
)
from clvmodels.models._erlang_lifetime import active_discounted_lifetime
from clvmodels.models.ops import Ops, numpy_ops
from clvmodels.models.spec import ModelSpec

REFERENCE = (
    "Reutterer, T., Platzer, M. & Schröder, N. (2021). Leveraging purchase regularity for "
    "predicting customer behavior the easy way. International Journal of Research in "
    "Marketing 38(1), 194-215."
)


def log_likelihood(
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    *,
    frequency: Any,
    recency: Any,
    T: Any,
    litt: Any,
    k: int = 1,
    xp: Ops = numpy_ops,
) -> Any:
    """Per-customer log-likelihood of the BG/CNBD-k model (RPS 2021, appendix):
    :func:`erlang_log_likelihood` without dropout at time 0.  At
    ``k = 1`` it is the BG/NBD's (FHL 2005 eq. 6)."""
    return erlang_log_likelihood(
        k,
        r,
        alpha,
        a,
        b,
        frequency=frequency,
        recency=recency,
        T=T,
        litt=litt,
        dropout_at_zero=False,
        xp=xp,
    )


def initial_params(data: Mapping[str, np.ndarray], weights: np.ndarray) -> dict[str, float]:
    """The BG/NBD's start (:func:`clvmodels.models.bgnbd.initial_params`), the start of
    ``spec_for(1)``; ``spec_for(k)`` divides ``alpha`` by ``k`` (:func:`_start`)."""
    return bgnbd.initial_params(data, weights)


def _start(data: Mapping[str, np.ndarray], weights: np.ndarray, *, k: int) -> dict[str, float]:
    """The BG/NBD's start with ``alpha / k``: the same mean purchase rate ``r/(kα)``."""
    first = bgnbd.initial_params(data, weights)
    return {**first, "alpha": first["alpha"] / k}


def cnbd_spec(k: int, key: str, name: str, log_lik: Any, reference: str) -> ModelSpec:
    """The declaration of a CNBD-k model at Erlang order ``k``."""
    k = order(k)
    return ModelSpec(
        key=key,
        name=name if k == 1 else name.replace("-k", f"-{k}"),
        param_names=("r", "alpha", "a", "b"),
        rate_params=("alpha",),
        data_columns=("frequency", "recency", "T", "litt"),
        log_likelihood=functools.partial(log_lik, k=k),
        initial_params=functools.partial(_start, k=k),
        reference=reference,
        extra={"k": k},
    )


@functools.cache
def spec_for(k: int) -> ModelSpec:
    """The BG/CNBD-k model at Erlang order ``k`` (one object per ``k``: the MLE backend
    caches its compiled graph per spec); ``extra={"k": k}``."""
    return cnbd_spec(k, "bgcnbd", "BG/CNBD-k", log_likelihood, REFERENCE)


SPEC = spec_for(1)

# ---------------------------------------------------------------------------------------
# predictions shared with the MBG/CNBD-k (``dropout_at_zero``)
# ---------------------------------------------------------------------------------------


def _base(dropout_at_zero: bool) -> ModuleType:
    """The ``k = 1`` model: BG/NBD, or MBG/NBD with dropout at time 0."""
    return mbgnbd if dropout_at_zero else bgnbd


def _new(
    k: int, r: Any, alpha: Any, a: Any, b: Any, dropout_at_zero: bool, **columns: Any
) -> tuple[tuple[int, ...], dict[str, np.ndarray]]:
    """The posterior of a new customer (``x = t_x = T = 0``) who is active at time 0
    (``p ~ Beta(a, b+1)`` for the MBG variant, given she did not drop out at 0)."""
    extra = 1.0 if dropout_at_zero else 0.0
    return posterior(k, 0.0, 0.0, 0.0, r, alpha, a, b, extra=extra, **columns)


def expected_purchases_of(
    t: Any, *, k: Any, r: Any, alpha: Any, a: Any, b: Any, dropout_at_zero: bool
) -> np.ndarray:
    """``E[X(t)]`` of a new customer: the active one's (:func:`active_expected`)
    times ``P(active after time 0) = b/(a+b)`` for the MBG variant."""
    k = order(k)
    if k == 1:
        return _base(dropout_at_zero).expected_purchases(t, r=r, alpha=alpha, a=a, b=b)
    shape, post = _new(k, r, alpha, a, b, dropout_at_zero, t=t)
    out = active_expected(k, post).reshape(shape)
    return out * _start_alive(a, b, dropout_at_zero)


def _start_alive(a: Any, b: Any, dropout_at_zero: bool) -> Any:
    """``P(no dropout at time 0)``: ``b/(a+b)`` for the MBG variant, else 1."""
    if not dropout_at_zero:
        return 1.0
    return np.asarray(b, dtype=float) / (np.asarray(a, dtype=float) + np.asarray(b, dtype=float))


def probability_of_purchases_of(
    x: Any, t: Any, *, k: Any, r: Any, alpha: Any, a: Any, b: Any, dropout_at_zero: bool
) -> np.ndarray:
    """``P(X(t) = x)`` of a new customer: the active customer's count distribution
    (:func:`active_pmf`), mixed with the dropout at time 0 for the MBG variant
    (``P = b/(a+b) · P(x | active) + a/(a+b) · 1{x = 0}``)."""
    k = order(k)
    if k == 1:
        return _base(dropout_at_zero).probability_of_purchases(x, t, r=r, alpha=alpha, a=a, b=b)
    shape, post = _new(k, r, alpha, a, b, dropout_at_zero, t=t, count=x)
    count = post["count"].astype(np.int64)
    pmf = active_pmf(int(count.max(initial=0)) + 1, k, post)
    active = np.take_along_axis(pmf, count[:, None], axis=1)[:, 0].reshape(shape)
    alive = _start_alive(a, b, dropout_at_zero)
    return alive * active + (1.0 - alive) * (np.asarray(x) == 0)


def probability_alive_of(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    k: Any,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    dropout_at_zero: bool,
) -> np.ndarray:
    """``P(alive | x, t_x, T)`` (:func:`erlang_probability_alive`)."""
    k = order(k)
    if k == 1:
        return _base(dropout_at_zero).probability_alive(
            frequency, recency, T, r=r, alpha=alpha, a=a, b=b
        )
    return erlang_probability_alive(k, frequency, recency, T, r, alpha, a, b, dropout_at_zero)


def active_expected_purchases_of(
    t: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    k: Any,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    dropout_at_zero: bool,
) -> np.ndarray:
    """Expected purchases in ``(T, T+t]`` of a customer known to be active at ``T``
    (:func:`active_expected` over her posterior)."""
    k = order(k)
    if k == 1:
        return _base(dropout_at_zero).active_expected_purchases(
            t, frequency, T, r=r, alpha=alpha, a=a, b=b
        )
    shape, post = posterior(
        k, frequency, recency, T, r, alpha, a, b, extra=float(dropout_at_zero), t=t
    )
    return active_expected(k, post).reshape(shape)


def conditional_purchase_pmf_of(
    K: int,
    t: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    k: Any,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    dropout_at_zero: bool,
) -> np.ndarray:
    """``P(X(T, T+t) = n | x, t_x, T)``, ``n = 0 … K−1``: ``(1 − P(alive)) 1{n=0} +
    P(alive) P(n | alive)`` (:func:`active_pmf`); shapes as
    :func:`clvmodels.models.bgnbd.conditional_purchase_pmf`."""
    k = order(k)
    if k == 1:
        return _base(dropout_at_zero).conditional_purchase_pmf(
            K, t, frequency, recency, T, r=r, alpha=alpha, a=a, b=b
        )
    predictive.count_grid(K)
    alive = probability_alive_of(
        frequency, recency, T, k=k, r=r, alpha=alpha, a=a, b=b, dropout_at_zero=dropout_at_zero
    )
    shape, post = posterior(
        k, frequency, recency, T, r, alpha, a, b, extra=float(dropout_at_zero), t=t
    )
    active = active_pmf(K, k, post).reshape(*shape, K)
    return predictive.with_dead(alive, active)


def discounted_active_purchases_of(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    k: Any,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    delta: float,
    horizon: float = math.inf,
    dropout_at_zero: bool,
) -> np.ndarray:
    """``∫_0^H e^(−δt) dE[X(t) | alive]`` for a customer known to be active at ``T``.

    A lifetime (or a horizon past the discount module's lifetime cut, ``δH ≥ 50``) is
    :func:`active_discounted_lifetime`: closed form over the purchases, one
    quadrature over the rate, vectorised over customers.  A shorter horizon is
    integrated over time by :func:`clvmodels.models.discount.discounted_purchases` with
    the exact ``E[X(t) | alive]`` at all nodes at once (:func:`active_expected_grid`:
    within 1e-10 of the per-purchase incomplete Beta sums it replaced, at ~1/10 of
    their cost), on the time scale
    of the BG/NBD with ``r + kx + k − 1`` (the earliest bend: one phase to go).  That
    rule was fitted to the BG/NBD's smooth ``E[X(t)]``; an Erlang customer's has
    ripples (regular purchases), so it holds 1e-9 relative up to ``k = 5`` but only
    ~1e-7 for very regular heavy buyers (4e-7 at ``k = 10``, ``x = 200``), against a
    rule with six times the nodes.
    """
    k = order(k)
    if k == 1:
        return _base(dropout_at_zero).discounted_active_purchases(
            frequency, T, r=r, alpha=alpha, a=a, b=b, delta=delta, horizon=horizon
        )
    shape, post = posterior(k, frequency, recency, T, r, alpha, a, b, extra=float(dropout_at_zero))
    if not delta >= 0:
        raise ValueError(f"delta must be >= 0, got {delta}")
    if (math.isinf(horizon) and delta > 0) or delta * horizon >= discount.LIFETIME_CUT:
        return active_discounted_lifetime(k, delta, post).reshape(shape)

    def expected(t: np.ndarray) -> np.ndarray:
        return active_expected_grid(k, post, t)

    bend, _ = bgnbd.bend_time(r=post["s"] + k - 1.0, alpha=post["scale"], a=post["a"], b=post["b1"])
    return discount.discounted_purchases(expected, bend, delta, horizon).reshape(shape)


# ---------------------------------------------------------------------------------------
# the BG/CNBD-k's predictions
# ---------------------------------------------------------------------------------------


def expected_purchases(t: Any, *, k: Any, r: Any, alpha: Any, a: Any, b: Any) -> np.ndarray:
    """Expected repeat purchases of a new customer in ``(0, t]`` (RPS 2021; BTYDplus's
    ``bgcnbd.Expectation``), exact: :func:`expected_purchases_of`."""
    return expected_purchases_of(t, k=k, r=r, alpha=alpha, a=a, b=b, dropout_at_zero=False)


def probability_of_purchases(
    x: Any, t: Any, *, k: Any, r: Any, alpha: Any, a: Any, b: Any
) -> np.ndarray:
    """``P(X(t) = x)`` of a new customer (BTYDplus's ``bgcnbd.pmf``):
    :func:`probability_of_purchases_of`."""
    return probability_of_purchases_of(x, t, k=k, r=r, alpha=alpha, a=a, b=b, dropout_at_zero=False)


def probability_alive(
    frequency: Any, recency: Any, T: Any, *, k: Any, r: Any, alpha: Any, a: Any, b: Any
) -> np.ndarray:
    """``P(alive)`` (RPS 2021; BTYDplus's ``bgcnbd.PAlive``); 1 for ``x = 0``."""
    return probability_alive_of(
        frequency, recency, T, k=k, r=r, alpha=alpha, a=a, b=b, dropout_at_zero=False
    )


def active_expected_purchases(
    t: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    k: Any,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
) -> np.ndarray:
    """Expected purchases in ``(T, T+t]`` of a customer known to be active at ``T``
    (:func:`active_expected_purchases_of`); depends on ``t_x`` through the Erlang phase."""
    return active_expected_purchases_of(
        t, frequency, recency, T, k=k, r=r, alpha=alpha, a=a, b=b, dropout_at_zero=False
    )


def conditional_expected_purchases(
    t: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    k: Any,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
) -> np.ndarray:
    """Expected purchases in ``(T, T+t]`` given ``(x, t_x, T)``: ``P(alive) ×``
    :func:`active_expected_purchases` (exact, where BTYDplus's
    ``bgcnbd.ConditionalExpectedTransactions`` approximates for ``k > 1``)."""
    alive = probability_alive(frequency, recency, T, k=k, r=r, alpha=alpha, a=a, b=b)
    return alive * active_expected_purchases(
        t, frequency, recency, T, k=k, r=r, alpha=alpha, a=a, b=b
    )


def conditional_purchase_pmf(
    K: int,
    t: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    k: Any,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
) -> np.ndarray:
    """``P(X(T, T+t) = n | x, t_x, T)`` for ``n = 0 … K−1``
    (:func:`conditional_purchase_pmf_of`)."""
    return conditional_purchase_pmf_of(
        K, t, frequency, recency, T, k=k, r=r, alpha=alpha, a=a, b=b, dropout_at_zero=False
    )


def discounted_active_purchases(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    k: Any,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    delta: float,
    horizon: float = math.inf,
) -> np.ndarray:
    """Discounted expected purchases after ``T`` of a customer known to be active
    (:func:`discounted_active_purchases_of`)."""
    return discounted_active_purchases_of(
        frequency,
        recency,
        T,
        k=k,
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        delta=delta,
        horizon=horizon,
        dropout_at_zero=False,
    )


def discounted_expected_residual_transactions(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    k: Any,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    delta: float,
    horizon: float = math.inf,
) -> np.ndarray:
    """DERT: ``P(alive) ×`` :func:`discounted_active_purchases`."""
    alive = probability_alive(frequency, recency, T, k=k, r=r, alpha=alpha, a=a, b=b)
    return alive * discounted_active_purchases(
        frequency, recency, T, k=k, r=r, alpha=alpha, a=a, b=b, delta=delta, horizon=horizon
    )


def simulate(
    n_customers: int,
    *,
    k: Any,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: Any,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Draw customers from the BG/CNBD-k model (:func:`erlang_purchase_times`).

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T``, ``litt`` and the latent ``alive`` flag.
    """
    return simulate_customers(
        n_customers, k=k, r=r, alpha=alpha, a=a, b=b, T=T, rng=rng, dropout_at_zero=False
    )


def simulate_customers(
    n_customers: int,
    *,
    k: Any,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: Any,
    rng: np.random.Generator,
    dropout_at_zero: bool,
) -> dict[str, np.ndarray]:
    """The simulator of :func:`simulate` and of the MBG/CNBD-k (``dropout_at_zero``)."""
    T = np.broadcast_to(np.asarray(T, dtype=float), (n_customers,)).copy()
    customer, time, alive = erlang_purchase_times(order(k), r, alpha, a, b, T, rng, dropout_at_zero)
    return {**summarise(customer, time, T), "alive": alive}


def simulate_purchase_times(
    *, k: Any, r: Any, alpha: Any, a: Any, b: Any, T: Any, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The repeat purchase times of customers, each with her own parameters
    (:func:`erlang_purchase_times`; as
    :func:`clvmodels.models.bgnbd.simulate_purchase_times`): ``(customer, time)``."""
    customer, time, _ = erlang_purchase_times(order(k), r, alpha, a, b, T, rng, False)
    return customer, time
