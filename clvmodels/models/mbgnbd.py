"""MBG/NBD model of Batislam, Denizel & Filiztekin (2007).

"Empirical validation and comparison of models for customer base analysis",
International Journal of Research in Marketing 24(3), 201–209 (cited as BDF 2007), with
the corrections of Wagner & Hoppe (2008), "Erratum on the MBG/NBD model", IJRM 25(3),
225–226.

As the BG/NBD model (:mod:`clvmodels.models.bgnbd`) — purchase rate ``λ ~ Gamma(r,
alpha)``, dropout probability ``p ~ Beta(a, b)`` — except that a customer may also drop
out at time 0, right after the first purchase.  A customer with no repeat purchase is
therefore not surely active, and the number of repeat purchases made before dropping out
satisfies ``P(J ≥ j) = (1−p)^j`` instead of ``(1−p)^(j−1)``.

Every MBG/NBD expectation reduces to the BG/NBD one with ``b`` shifted, so the stable
evaluation of :func:`clvmodels.models._special.beta_average_expected` is reused.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from scipy import special

from clvmodels.models import bgnbd, nbd, predictive
from clvmodels.models._special import beta_average_expected
from clvmodels.models.ops import Ops, numpy_ops

REFERENCE = (
    "Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and "
    "comparison of models for customer base analysis. International Journal of Research "
    "in Marketing 24(3), 201-209; erratum Wagner, U. & Hoppe, D. (2008), IJRM 25(3), 225-226."
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
    xp: Ops = numpy_ops,
) -> Any:
    """Per-customer log-likelihood of the MBG/NBD model (BDF 2007 appendix A).

    Given ``λ`` and ``p`` a customer either is active throughout, with probability
    ``(1−p)^(x+1) λ^x e^(−λT)``, or dropped out right after the last (or the first)
    purchase, ``p (1−p)^x λ^x e^(−λ t_x)``.  Integrating over the Gamma and Beta
    distributions,

    ``L = B(a, b+x+1)/B(a, b) · Γ(r+x) α^r / Γ(r) · [(α+T)^−(r+x)
    + a/(b+x) · (α+t_x)^−(r+x)]``,

    the BG/NBD likelihood (FHL 2005 eq. 6) without its ``x > 0`` indicator and with
    exponent ``x+1`` on ``(1−p)``.  Evaluated in log space as ``A1 + A2 + log(exp(A3) +
    exp(A4))`` (Hardie's stable form of the BG/NBD likelihood).

    Parameters
    ----------
    r, alpha
        Shape and rate of the Gamma distribution of the purchase rate λ.
    a, b
        Parameters of the Beta distribution of the dropout probability p.
    frequency, recency, T
        ``x``, ``t_x`` and ``T`` of each customer.
    xp
        Array namespace (:data:`~clvmodels.models.ops.numpy_ops` or PyTensor).

    Returns
    -------
    array
        Log-likelihood of every customer.
    """

    def at_x(x: Any) -> Any:  # A1 + A2: depends on x only
        a1 = xp.gammaln(r + x) - xp.gammaln(r) + r * xp.log(alpha)
        a2 = (xp.gammaln(a + b) + xp.gammaln(b + x + 1.0) - xp.gammaln(b)
              - xp.gammaln(a + b + x + 1.0))
        return a1 + a2

    def at_t(x: Any, t: Any) -> Any:  # A1 + A2 + A3: depends on (x, T) only
        return xp.distinct(at_x, x) - (r + x) * xp.log(alpha + t)

    def at_tx(x: Any, t_x: Any) -> Any:  # A1 + A2 + A4: depends on (x, t_x) only
        return at_t(x, t_x) + xp.log(a) - xp.log(b + x)

    return xp.logaddexp(
        xp.distinct(at_t, frequency, T), xp.distinct(at_tx, frequency, recency)
    )


SPEC = dataclasses.replace(
    bgnbd.SPEC, key="mbgnbd", name="MBG/NBD", log_likelihood=log_likelihood, reference=REFERENCE
)
"""The BG/NBD's declaration with the MBG/NBD likelihood: the same parameters, rate
parameter, data columns, starting point (:func:`clvmodels.models.bgnbd.initial_params`)
and covariate links (Fader & Hardie 2007, note 019: ``α`` on purchases, ``a`` and ``b``
on dropout)."""


def expected_purchases(t: Any, *, r: Any, alpha: Any, a: Any, b: Any) -> np.ndarray:
    """Expected number of repeat purchases of a new customer in ``(0, t]``.

    BDF 2007, appendix A: ``E[X(t)] = b/(a−1) · [1 − (α/(α+t))^r 2F1(r, b+1; a+b;
    t/(α+t))]``.  Given ``λ, p`` the expectation is ``(1−p)/p · (1 − e^(−λpt))``, i.e.
    ``(1−p)`` times the BG/NBD one, so ``E[X(t)] = b/(a+b) · E_BG/NBD[X(t) | r, α, a,
    b+1]``, evaluated stably by :func:`clvmodels.models._special.beta_average_expected`.
    """
    b = np.asarray(b, dtype=float)
    s = np.asarray(t, dtype=float) / np.asarray(alpha, dtype=float)
    return b / (np.asarray(a, dtype=float) + b) * beta_average_expected(s, r, a, b + 1.0)


def probability_of_purchases(x: Any, t: Any, *, r: Any, alpha: Any, a: Any, b: Any) -> np.ndarray:
    """``P(X(t) = x)`` for a new customer, in log space.

    Derived as FHL 2005 eq. (8) with the MBG/NBD dropout process: given ``λ, p``,
    ``P(X(t) = x) = (1−p)^(x+1) P(N(t) = x) + p (1−p)^x P(N(t) ≥ x)`` (``N`` the
    purchases of an always-active customer); integrating over ``p``,

    ``P = B(a, b+x+1)/B(a, b) · NB(x; r, α/(α+t)) + B(a+1, b+x)/B(a, b) · I_z(x, r)``,

    ``z = t/(α+t)``, ``I_z(0, r) = 1``.  (The same expression as the ``Γ``-sum form of
    Batislam et al.'s erratum by Wagner & Hoppe 2008, with the finite sum replaced by the
    regularised incomplete Beta function.)
    """
    x, t, r, alpha, a, b = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (x, t, r, alpha, a, b))
    )
    log_beta = special.betaln(a, b)
    x_pos = np.maximum(x, 1.0)
    log_first = special.betaln(a, b + x + 1.0) - log_beta + nbd.log_pmf(x, t, r, alpha)
    log_tail = np.where(x > 0, nbd.log_tail(x_pos, t, r, alpha), 0.0)
    log_second = special.betaln(a + 1.0, b + x) - log_beta + log_tail
    return np.minimum(np.exp(np.logaddexp(log_first, log_second)), 1.0)


def probability_alive(
    frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any, a: Any, b: Any
) -> np.ndarray:
    """Probability that a customer with history ``(x, t_x, T)`` is still active.

    BDF 2007, appendix A: ``P(alive) = 1 / (1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x))``
    — below 1 also for ``x = 0`` — evaluated as a logistic function of the log-odds.
    """
    x, recency, T, r, alpha, a, b = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (frequency, recency, T, r, alpha, a, b))
    )
    log_odds_dead = (
        np.log(a) - np.log(b + x) + (r + x) * np.log1p((T - recency) / (alpha + recency))
    )
    return special.expit(-log_odds_dead)


def conditional_expected_purchases(
    t: Any, frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any, a: Any, b: Any
) -> np.ndarray:
    """Expected repeat purchases in ``(T, T+t]`` given the history ``(x, t_x, T)``.

    BDF 2007, appendix A, as corrected by Wagner & Hoppe (2008):
    ``(a+b+x)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(α+T+t))]
    · P(alive)``.  An active customer's posterior is ``λ ~ Gamma(r+x, α+T)``,
    ``p ~ Beta(a, b+x+1)`` and from now on she drops out only after purchases, so the
    bracket is the BG/NBD ``E[X(t)]`` at ``(r+x, α+T, a, b+x+1)``.
    """
    alive = probability_alive(frequency, recency, T, r=r, alpha=alpha, a=a, b=b)
    return alive * active_expected_purchases(t, frequency, T, r=r, alpha=alpha, a=a, b=b)


def active_expected_purchases(
    t: Any, frequency: Any, T: Any, *, r: Any, alpha: Any, a: Any, b: Any
) -> np.ndarray:
    """Expected repeat purchases in ``(T, T+t]`` of a customer known to be active at ``T``:
    the BG/NBD one at ``b + 1`` (see :func:`conditional_expected_purchases`).  Depends on
    ``(x, T)`` only."""
    return bgnbd.active_expected_purchases(
        t, frequency, T, r=r, alpha=alpha, a=a, b=np.asarray(b, dtype=float) + 1.0
    )


def conditional_purchase_pmf(
    K: int, t: Any, frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any, a: Any,
    b: Any,
) -> np.ndarray:
    """``P(X(T, T+t) = k | x, t_x, T)`` for ``k = 0 … K−1``: the predictive distribution of
    a customer's repeat purchases in ``(T, T+t]``.

    ``P = (1 − P(alive)) · 1{k = 0} + P(alive) · P(k | alive)`` with ``P(alive)`` of BDF
    2007 appendix A (:func:`probability_alive`).  An active customer's likelihood term is
    ``(1−p)^(x+1) λ^x e^(−λT)`` (:func:`log_likelihood`), so ``p ~ Beta(a, b+x+1)``, and
    from ``T`` on she drops out only right after purchases, as a BG/NBD customer: ``P(k |
    alive)`` is the BG/NBD one at ``b + 1``
    (:func:`clvmodels.models.bgnbd.active_purchase_pmf`, which states the formula).  Its
    mean is :func:`conditional_expected_purchases`.  Arguments and result as
    :func:`clvmodels.models.bgnbd.conditional_purchase_pmf`.
    """
    alive = probability_alive(frequency, recency, T, r=r, alpha=alpha, a=a, b=b)
    active = bgnbd.active_purchase_pmf(
        K, t, frequency, T, r=r, alpha=alpha, a=a, b=np.asarray(b, dtype=float) + 1.0
    )
    return predictive.with_dead(alive, active)


def discounted_active_purchases(
    frequency: Any, T: Any, *, r: Any, alpha: Any, a: Any, b: Any, delta: float,
    horizon: float = math.inf,
) -> np.ndarray:
    """Discounted expected purchases after ``T`` of an active customer: the BG/NBD one at
    ``b + 1`` (her posterior is a new BG/NBD customer at ``(r+x, α+T, a, b+x+1)``, see
    :func:`conditional_expected_purchases`).  Depends on ``(x, T)`` only."""
    return bgnbd.discounted_active_purchases(
        frequency, T, r=r, alpha=alpha, a=a, b=np.asarray(b, dtype=float) + 1.0,
        delta=delta, horizon=horizon,
    )


def discounted_expected_residual_transactions(
    frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any, a: Any, b: Any,
    delta: float, horizon: float = math.inf,
) -> np.ndarray:
    """DERT at continuous rate ``δ`` over ``horizon``: ``P(alive) ·``
    :func:`discounted_active_purchases` (numerical; no closed form)."""
    alive = probability_alive(frequency, recency, T, r=r, alpha=alpha, a=a, b=b)
    active = discounted_active_purchases(
        frequency, T, r=r, alpha=alpha, a=a, b=b, delta=delta, horizon=horizon
    )
    return alive * active


def simulate(
    n_customers: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: Any,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Draw customers from the MBG/NBD model.

    ``λ ~ Gamma(r, rate α)``, ``p ~ Beta(a, b)``; potential purchases form a Poisson
    process of rate λ on ``(0, T]``; the customer drops out at time 0 with probability
    ``p`` and right after each repeat purchase with probability ``p``.

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T`` and the latent ``alive`` flag (active at ``T``).
    """
    params = {"r": r, "alpha": alpha, "a": a, "b": b}
    return bgnbd.simulate_customers(n_customers, params, T, rng, dropout_at_start=True)
