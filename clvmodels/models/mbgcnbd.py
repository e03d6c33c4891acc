"""MBG/CNBD-k model of Reutterer, Platzer & Schröder (2021).

"Leveraging purchase regularity for predicting customer behavior the easy way",
International Journal of Research in Marketing 38(1), 194–215 (cited as RPS 2021).

The MBG/NBD (Batislam, Denizel & Filiztekin 2007; :mod:`clvmodels.models.mbgnbd`) with
Erlang-k inter-purchase times, or the BG/CNBD-k (:mod:`clvmodels.models.bgcnbd`, whose
docstring states the convention: phase rate ``λ ~ Gamma(r, alpha)``, mean gap ``k/λ``)
with a dropout also at time 0, right after the first purchase, with probability ``p ~
Beta(a, b)``.  So a customer without repeat purchases is not surely active, and an
active customer's dropout probability has the posterior ``Beta(a, b + x + 1)``.  At
``k = 1`` every function is the MBG/NBD's; the shared math is
:mod:`clvmodels.models._erlang`.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from clvmodels.models import bgcnbd
from clvmodels.models._erlang import (
    erlang_log_likelihood,
    erlang_purchase_times,
    order,
)
from clvmodels.models.ops import Ops, numpy_ops
from clvmodels.models.spec import ModelSpec

REFERENCE = bgcnbd.REFERENCE


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
    """Per-customer log-likelihood of the MBG/CNBD-k model (RPS 2021, appendix):
    :func:`erlang_log_likelihood` with dropout at time 0 (``B(a,
    b+x+1)`` and the dead term ``a/(b+x)`` also at ``x = 0``).  At ``k = 1`` it is the
    MBG/NBD's (BDF 2007, appendix A)."""
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
        dropout_at_zero=True,
        xp=xp,
    )


initial_params = bgcnbd.initial_params


@functools.cache
def spec_for(k: int) -> ModelSpec:
    """The MBG/CNBD-k model at Erlang order ``k`` (one object per ``k``);
    ``extra={"k": k}``."""
    return bgcnbd.cnbd_spec(k, "mbgcnbd", "MBG/CNBD-k", log_likelihood, REFERENCE)


SPEC = spec_for(1)


def expected_purchases(t: Any, *, k: Any, r: Any, alpha: Any, a: Any, b: Any) -> np.ndarray:
    """Expected repeat purchases of a new customer in ``(0, t]``: ``b/(a+b)`` times an
    active customer's (:func:`clvmodels.models.bgcnbd.expected_purchases_of`)."""
    return bgcnbd.expected_purchases_of(t, k=k, r=r, alpha=alpha, a=a, b=b, dropout_at_zero=True)


def probability_of_purchases(
    x: Any, t: Any, *, k: Any, r: Any, alpha: Any, a: Any, b: Any
) -> np.ndarray:
    """``P(X(t) = x)`` of a new customer (BTYDplus's ``mbgcnbd.pmf``):
    :func:`clvmodels.models.bgcnbd.probability_of_purchases_of`."""
    return bgcnbd.probability_of_purchases_of(
        x, t, k=k, r=r, alpha=alpha, a=a, b=b, dropout_at_zero=True
    )


def probability_alive(
    frequency: Any, recency: Any, T: Any, *, k: Any, r: Any, alpha: Any, a: Any, b: Any
) -> np.ndarray:
    """``P(alive)`` (RPS 2021; BTYDplus's ``mbgcnbd.PAlive``), below 1 also at ``x = 0``."""
    return bgcnbd.probability_alive_of(
        frequency, recency, T, k=k, r=r, alpha=alpha, a=a, b=b, dropout_at_zero=True
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
    """Expected purchases in ``(T, T+t]`` of a customer known to be active at ``T``."""
    return bgcnbd.active_expected_purchases_of(
        t, frequency, recency, T, k=k, r=r, alpha=alpha, a=a, b=b, dropout_at_zero=True
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
    :func:`active_expected_purchases` (exact for every ``k``)."""
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
    (:func:`clvmodels.models.bgcnbd.conditional_purchase_pmf_of`)."""
    return bgcnbd.conditional_purchase_pmf_of(
        K, t, frequency, recency, T, k=k, r=r, alpha=alpha, a=a, b=b, dropout_at_zero=True
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
    (:func:`clvmodels.models.bgcnbd.discounted_active_purchases_of`)."""
    return bgcnbd.discounted_active_purchases_of(
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
        dropout_at_zero=True,
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
    """Draw customers from the MBG/CNBD-k model (dropout also at time 0): ``frequency``,
    ``recency``, ``T``, ``litt`` and the latent ``alive`` flag."""
    return bgcnbd.simulate_customers(
        n_customers, k=k, r=r, alpha=alpha, a=a, b=b, T=T, rng=rng, dropout_at_zero=True
    )


def simulate_purchase_times(
    *, k: Any, r: Any, alpha: Any, a: Any, b: Any, T: Any, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The repeat purchase times of customers (dropout also at time 0):
    ``(customer, time)`` as :func:`clvmodels.models.bgcnbd.simulate_purchase_times`."""
    customer, time, _ = erlang_purchase_times(order(k), r, alpha, a, b, T, rng, True)
    return customer, time
