"""Shifted-beta-geometric (sBG) model of contract duration (contractual, discrete time).

Every customer renews at the end of each period with a constant probability
``1 − θ``; the churn probability ``θ`` varies across customers as Beta(alpha, beta)
(Fader & Hardie 2007, "How to project customer retention", Journal of Interactive
Marketing 21(1), 76–90; hereafter FH2007).  ``T`` is the period in which a customer
churns (``T = 1`` means "did not renew at the end of period 1"), so ``S(t) = P(T > t)``
is the probability of having made ``t`` renewals.

Data
----
One row per customer (or per group of identical customers, with weights):

``tenure``
    The number of completed periods (renewals) ``k ≥ 0``, the same for every row
    (the convention of :mod:`clvmodels.data.survival`).  A churned customer with
    ``tenure = k`` did not renew at the end of period ``k + 1`` and contributes
    ``P(T = k + 1)``; a still-active (censored) one contributes ``S(k)``.
``churned``
    1 for churned, 0 for still active.

A cohort table ``alive[0], alive[1], ..., alive[K]`` (``alive[k]`` = customers still
active after ``k`` renewals; ``alive[0]`` the cohort size, e.g. 1000, 631, 468, ... in
FH2007 Table 1) maps onto rows by :func:`cohort_to_rows`:

* ``alive[t−1] − alive[t]`` customers churned in period ``t`` → churned rows with
  ``tenure = t − 1`` for ``t = 1..K``;
* ``alive[K]`` customers are still active → censored rows with ``tenure = K``.

With these weights the likelihood is FH2007's cohort likelihood (their eq. (9) and
appendix): the sum of ``lost_t · log P(T = t)`` plus ``alive[K] · log S(K)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from clvmodels.models._special import hyp2f1_unit
from clvmodels.models.ops import Ops, as_floats, numpy_ops
from clvmodels.models.spec import ModelSpec

REFERENCE = (
    "Fader, P. S. & Hardie, B. G. S. (2007). How to project customer retention. "
    "Journal of Interactive Marketing 21(1), 76-90."
)


def log_likelihood(
    alpha: Any,
    beta: Any,
    *,
    tenure: Any,
    churned: Any,
    xp: Ops = numpy_ops,
) -> Any:
    """Per-row log-likelihood of the sBG model.

    ``log P(T = k + 1) = log B(alpha + 1, beta + k) − log B(alpha, beta)`` for a churned
    row with tenure ``k`` (FH2007 eq. (4)) and
    ``log S(k) = log B(alpha, beta + k) − log B(alpha, beta)`` for a still-active row
    (FH2007 eq. (5)).

    Parameters
    ----------
    alpha, beta
        Beta-distribution parameters of the churn probability (> 0).
    tenure
        Completed periods (renewals) ``k ≥ 0``.
    churned
        1 for a churned row, 0 for a still-active row.
    xp
        Array namespace (:data:`numpy_ops` or :func:`pytensor_ops`).

    Returns
    -------
    array
        Log-likelihood of every row.
    """
    log_norm = xp.betaln(alpha, beta)
    # B(α+1, b) = B(α, b)·α/(α+b): keeps log P(T=1) = log(α/(α+β)) free of cancellation
    b_churn = beta + xp.maximum(tenure, 0.0)  # exactly beta at tenure 0
    ll_churned = xp.log(alpha) - xp.log(alpha + b_churn) + (xp.betaln(alpha, b_churn) - log_norm)
    ll_active = xp.betaln(alpha, beta + tenure) - log_norm
    return xp.where(churned > 0.5, ll_churned, ll_active)


def initial_params(data: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, float]:
    """Start from the first-period churn rate with a moderately heterogeneous beta.

    ``P(T = 1) = alpha / (alpha + beta)`` (FH2007 eq. (4) at ``t = 1``); the share of
    rows observed through period 1 that churned in it (tenure 0) estimates it.  The spread is
    set to ``alpha + beta = 2`` (a U-shaped-to-flat mixing distribution).
    """
    tenure = np.asarray(data["tenure"], dtype=float)
    churned = np.asarray(data["churned"], dtype=float) > 0.5
    w = np.asarray(weights, dtype=float)
    at_risk = w[churned | (tenure >= 1)].sum()
    lost_first = w[churned & (tenure == 0)].sum()
    rate = float(np.clip((lost_first + 0.5) / (at_risk + 1.0), 0.02, 0.98))
    return {"alpha": 2.0 * rate, "beta": 2.0 * (1.0 - rate)}


def cohort_to_rows(alive: ArrayLike) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Rows and weights for a cohort survival table (see the module docstring).

    Parameters
    ----------
    alive
        ``alive[k]`` = number of customers still active after ``k`` renewals,
        ``k = 0..K`` (non-increasing; ``alive[0]`` is the cohort size).

    Returns
    -------
    (data, weights)
        ``data`` with ``tenure`` and ``churned`` (``K`` churned rows then one censored
        row), ``weights`` the number of customers each row stands for.
    """
    alive = np.asarray(alive, dtype=float)
    if alive.ndim != 1 or alive.size < 2:
        raise ValueError("alive must list at least the cohort size and one later count")
    lost = -np.diff(alive)
    if np.any(lost < 0):
        raise ValueError("alive must be non-increasing (customers cannot come back)")
    k = alive.size - 1
    tenure = np.concatenate([np.arange(0, k, dtype=float), [float(k)]])
    churned = np.concatenate([np.ones(k), [0.0]])
    weights = np.concatenate([lost, alive[-1:]])
    return {"tenure": tenure, "churned": churned}, weights


def survival(t: ArrayLike, *, alpha: ArrayLike, beta: ArrayLike) -> np.ndarray:
    """``S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)`` (FH2007 eq. (5)).

    The probability of having made ``t`` renewals; ``S(0) = 1``.
    """
    t, alpha, beta = as_floats(t, alpha, beta)
    return np.exp(special.betaln(alpha, beta + t) - special.betaln(alpha, beta))


def churn_probability(t: ArrayLike, *, alpha: ArrayLike, beta: ArrayLike) -> np.ndarray:
    """``P(T = t) = B(alpha + 1, beta + t − 1) / B(alpha, beta)``, ``t ≥ 1`` (FH2007 eq. (4))."""
    t, alpha, beta = as_floats(t, alpha, beta)
    return np.exp(special.betaln(alpha + 1.0, beta + (t - 1.0)) - special.betaln(alpha, beta))


def retention_rate(t: ArrayLike, *, alpha: ArrayLike, beta: ArrayLike) -> np.ndarray:
    """``r(t) = S(t) / S(t − 1) = (beta + t − 1) / (alpha + beta + t − 1)``, ``t ≥ 1``.

    The retention rate of the cohort at the ``t``-th renewal opportunity, increasing in
    ``t`` through the sorting of the heterogeneous cohort (FH2007 eq. (8)).
    """
    t, alpha, beta = as_floats(t, alpha, beta)
    return (beta + t - 1.0) / (alpha + beta + t - 1.0)


def projected_survivors(
    t: ArrayLike, n0: ArrayLike, *, alpha: ArrayLike, beta: ArrayLike
) -> np.ndarray:
    """Expected number of a cohort of ``n0`` customers still active after ``t`` renewals."""
    return np.asarray(n0, dtype=float) * survival(t, alpha=alpha, beta=beta)


def expected_lifetime(*, alpha: ArrayLike, beta: ArrayLike) -> np.ndarray:
    """Mean number of periods a new customer stays, ``E[T]``.

    ``E[T | θ] = 1/θ`` and ``E[1/θ] = (alpha + beta − 1) / (alpha − 1)`` for θ ~
    Beta(alpha, beta).  For ``alpha ≤ 1`` the mixing density puts so much mass near
    ``θ = 0`` (customers who practically never churn) that ``E[1/θ]`` diverges: the
    mean lifetime is infinite and ``inf`` is returned.  Use :func:`derl` with a
    discount rate, which is finite for every ``alpha > 0``.
    """
    alpha, beta = as_floats(alpha, beta)
    safe = np.where(alpha > 1.0, alpha, 2.0)
    return np.where(alpha > 1.0, (safe + beta - 1.0) / (safe - 1.0), np.inf)


def derl(
    n_renewals: ArrayLike, *, alpha: ArrayLike, beta: ArrayLike, discount: ArrayLike
) -> np.ndarray:
    """Discounted expected residual lifetime of a customer who has made ``n`` renewals.

    Fader & Hardie (2010), "Customer-base valuation in a contractual setting: the
    perils of ignoring heterogeneity", Marketing Science 29(1), 85–93, eq. (6)::

        DERL(d | alpha, beta, n) = (beta + n) / (alpha + beta + n)
                                   · 2F1(1, beta + n + 1; alpha + beta + n + 1; 1 / (1 + d))

    Timing convention: the customer is valued just before the decision point of the
    ``(n + 1)``-th renewal; each future renewal is one payment, and the payment at the
    ``(n + 1)``-th renewal is counted undiscounted, the next one discounted once, ...::

        DERL = Σ_{k ≥ 0} P(T > n + 1 + k | T > n) / (1 + d)^k.

    Multiply by the per-period margin to get the residual value of the customer.

    Parameters
    ----------
    n_renewals
        Renewals made so far (``n ≥ 0``).
    alpha, beta
        sBG parameters.
    discount
        Per-period discount rate ``d > 0`` (e.g. 0.1).

    Returns
    -------
    numpy.ndarray
        DERL, between ``P(T > n + 1 | T > n)`` and ``(1 + d) / d``.
    """
    n, alpha, beta, d = as_floats(n_renewals, alpha, beta, discount)
    b = beta + n
    return b / (alpha + b) * hyp2f1_unit(b + 1.0, alpha, 1.0 / (1.0 + d))


def simulate(
    n_customers: int,
    *,
    alpha: float,
    beta: float,
    n_periods: ArrayLike,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Simulate a cohort observed for ``n_periods`` renewal opportunities.

    Each customer draws ``θ ~ Beta(alpha, beta)`` and churns in period
    ``T ~ Geometric(θ)`` (support 1, 2, ...).  Customers with ``T ≤ n_periods`` are
    churned rows (``tenure = T − 1`` completed renewals); the others are still active
    (``tenure = n_periods``).

    Returns
    -------
    dict
        ``tenure``, ``churned`` (the data columns), ``theta`` and the true ``lifetime``.
    """
    horizon = np.broadcast_to(np.asarray(n_periods, dtype=float), (n_customers,))
    theta = rng.beta(alpha, beta, size=n_customers)
    theta = np.clip(theta, 1e-300, 1.0)
    # geometric by inversion: T = ceil(log U / log(1 − θ)), safe for tiny θ
    u = rng.random(n_customers)
    lifetime = np.ceil(np.log1p(-u) / np.log1p(-np.minimum(theta, 1.0 - 1e-16)))
    lifetime = np.maximum(lifetime, 1.0)
    churned = lifetime <= horizon
    tenure = np.where(churned, lifetime - 1.0, horizon)
    return {
        "tenure": tenure,
        "churned": churned.astype(float),
        "theta": theta,
        "lifetime": lifetime,
    }


SPEC = ModelSpec(
    key="sbg",
    name="shifted-beta-geometric (sBG)",
    param_names=("alpha", "beta"),
    rate_params=(),
    data_columns=("tenure", "churned"),
    log_likelihood=log_likelihood,
    initial_params=initial_params,
    reference=REFERENCE,
    # the churn probability θ ~ Beta(α_i, β_i) with α_i = α₀ e^(γ₁′z), β_i = β₀ e^(γ₂′z),
    # as the BG/NBD dropout probability in Fader & Hardie (2007), note 019
    covariate_links={"churn": {"alpha": 1.0, "beta": 1.0}},
)
