"""Gamma-Gamma model of the average transaction value (spend per transaction).

A customer's transaction values are Gamma(p, ν) (shape ``p``, rate ``ν``), so the
mean of ``x`` of them is Gamma(p·x, ν·x); across customers ``ν ~ Gamma(q, γ)``
(shape ``q``, rate ``γ``).  Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value
curves for customer base analysis", Journal of Marketing Research 42(4), 415–430
(hereafter FHL2005), and Fader & Hardie (2013), "The Gamma-Gamma model of monetary
value", note 025 at brucehardie.com (hereafter FH2013).

Data: ``frequency`` ``x`` = number of repeat transactions and ``monetary_value`` ``m̄``
= their mean value.  Only repeat buyers (``x > 0``) carry information
(:data:`SPEC` ``row_mask``); their ``m̄`` must be positive — the estimator layer
rejects rows with ``x > 0`` and ``m̄ ≤ 0``.

Units: ``gamma`` is in money units (``p`` and ``q`` are unit-free), so expressing the
values in cents instead of dollars multiplies ``gamma`` by 100 and leaves ``p, q``
unchanged; the log-likelihood of a row changes by the Jacobian ``−log c``.

The model assumes the spend per transaction is independent of the number of
transactions; :func:`frequency_spend_correlation` measures how far the data are from
that (FH2013 report a correlation of 0.11 on CDNOW; the estimator layer warns above
``|0.3|``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from clvmodels.models.ops import Ops, as_floats, numpy_ops
from clvmodels.models.spec import ModelSpec

REFERENCE = (
    "Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value "
    "curves for customer base analysis. Journal of Marketing Research 42(4), 415-430; "
    "Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value."
)


def log_likelihood(
    p: Any,
    q: Any,
    gamma: Any,
    *,
    frequency: Any,
    monetary_value: Any,
    xp: Ops = numpy_ops,
) -> Any:
    """Per-row log-density of the mean transaction value ``m̄`` of ``x`` transactions.

    FH2013 (the density of ``m̄`` after integrating ``ν`` out)::

        f(m̄ | p, q, γ; x) = Γ(px + q) / (Γ(px) Γ(q)) · γ^q m̄^{px−1} x^{px}
                             / (γ + m̄ x)^{px + q}

    Defined for repeat buyers only (``x > 0``, ``m̄ > 0``); other rows are dropped by
    :data:`SPEC` ``row_mask``.  ``(γ + m̄x)^{−(px+q)}`` is evaluated as
    ``−(px+q)·[log(m̄x) + log1p(γ/(m̄x))]``-style pieces so that neither large money
    amounts nor large ``γ`` overflow.

    Parameters
    ----------
    p, q, gamma
        Shape of the transaction values, shape and rate of the customers' ``ν``.
    frequency, monetary_value
        ``x > 0`` and ``m̄ > 0``.
    xp
        Array namespace (:data:`numpy_ops` or :func:`pytensor_ops`).

    Returns
    -------
    array
        Log-density of every row.
    """
    px = p * frequency
    total = monetary_value * frequency  # x · m̄, the total repeat spend
    log_total = xp.log(total)
    log_gamma = xp.log(gamma)
    log_sum = xp.logaddexp(log_gamma, log_total)  # log(γ + x m̄)

    def log_norm(x: Any) -> Any:  # depends on x only: evaluated per distinct x in a fit
        return xp.gammaln(p * x + q) - xp.gammaln(p * x) - xp.gammaln(q)

    return (
        xp.distinct(log_norm, frequency)
        + q * (log_gamma - log_sum)
        + px * (log_total - log_sum)
        - xp.log(monetary_value)
    )


def row_mask(data: dict[str, np.ndarray]) -> np.ndarray:
    """Rows the likelihood is defined on: repeat buyers (``frequency > 0``)."""
    return np.asarray(data["frequency"], dtype=float) > 0


def initial_params(data: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, float]:
    """Method-of-moments start on the repeat buyers.

    Taking ``m̄`` as a single Gamma(p, ν) draw with ``ν ~ Gamma(q, γ)``:
    ``E[m̄] = pγ/(q − 1)``.  We fix ``q = 4`` (a moderately dispersed population), take
    ``p`` from the squared coefficient of variation of ``m̄`` (``CV² ≈ 1/p`` ignoring
    the spread of ``ν``) clipped to ``[0.5, 50]``, and solve ``γ`` from the mean.
    """
    x = np.asarray(data["frequency"], dtype=float)
    m = np.asarray(data["monetary_value"], dtype=float)
    w = np.asarray(weights, dtype=float)
    keep = (x > 0) & (m > 0)
    if not np.any(keep) or w[keep].sum() <= 0:
        return {"p": 1.0, "q": 4.0, "gamma": 1.0}
    m, w = m[keep], w[keep]
    mean = float(np.average(m, weights=w))
    var = float(np.average((m - mean) ** 2, weights=w))
    cv2 = var / mean**2 if mean > 0 else 1.0
    p = float(np.clip(1.0 / max(cv2, 1e-12), 0.5, 50.0))
    q = 4.0
    return {"p": p, "q": q, "gamma": mean * (q - 1.0) / p}


def mean_spend_is_finite(q: ArrayLike) -> np.ndarray:
    """Whether the population mean spend per transaction ``pγ/(q − 1)`` exists (``q > 1``).

    For ``q ≤ 1`` the customers' rates ``ν`` have so much mass near 0 that the mean
    spend per transaction is infinite: :func:`population_mean_spend` returns ``inf``
    and the estimator layer reports the fit as unusable for value predictions.
    """
    return np.asarray(q, dtype=float) > 1.0


def population_mean_spend(*, p: ArrayLike, q: ArrayLike, gamma: ArrayLike) -> np.ndarray:
    """Mean spend per transaction of a randomly chosen customer, ``E[p/ν] = pγ/(q − 1)``.

    (FH2013, the mean of the customers' mean transaction value.)  ``inf`` for ``q ≤ 1``,
    see :func:`mean_spend_is_finite`.
    """
    p, q, gamma = as_floats(p, q, gamma)
    finite = q > 1.0
    q_safe = np.where(finite, q, 2.0)
    return np.where(finite, p * gamma / (q_safe - 1.0), np.inf)


def conditional_expected_average_order_value(
    frequency: ArrayLike,
    monetary_value: ArrayLike,
    *,
    p: ArrayLike,
    q: ArrayLike,
    gamma: ArrayLike,
) -> np.ndarray:
    """Expected spend per transaction of a customer with ``x`` repeat transactions of mean ``m̄``.

    FH2013 eq. (5) / FHL2005: the posterior mean ``E[p/ν | x, m̄] = p(γ + x m̄)/(px + q − 1)``,
    i.e. the weighted average ``(q − 1)/(px + q − 1) · pγ/(q − 1) + px/(px + q − 1) · m̄``
    of the population mean and the customer's own mean.  It is evaluated in the
    first form, which stays finite for ``q ≤ 1`` as long as ``px + q > 1`` (the data
    make the posterior mean exist); where ``px + q ≤ 1`` it is ``inf``.  Customers
    with ``x = 0`` get the population mean :func:`population_mean_spend`.
    """
    x, m, p, q, gamma = as_floats(frequency, monetary_value, p, q, gamma)
    m = np.where(x > 0, m, 0.0)
    denom = p * x + q - 1.0
    finite = denom > 0.0
    denom_safe = np.where(finite, denom, 1.0)
    return np.where(finite, p * (gamma + x * m) / denom_safe, np.inf)


def frequency_spend_correlation(
    frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike | None = None
) -> float:
    """Pearson correlation of frequency and mean spend among repeat buyers.

    The Gamma-Gamma model assumes the two are independent (FH2013 check this on
    CDNOW and find 0.11).  Returns ``nan`` when fewer than two repeat buyers or no
    variation.
    """
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    keep = x > 0
    x, m, w = x[keep], m[keep], w[keep]
    if x.size < 2 or w.sum() <= 0:
        return float("nan")
    dx = x - np.average(x, weights=w)
    dm = m - np.average(m, weights=w)
    sxx, smm = np.sum(w * dx * dx), np.sum(w * dm * dm)
    if sxx <= 0 or smm <= 0:
        return float("nan")
    return float(np.sum(w * dx * dm) / np.sqrt(sxx * smm))


def simulate(
    n_customers: int,
    *,
    p: float,
    q: float,
    gamma: float,
    frequency: ArrayLike,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Simulate the mean value of ``frequency`` repeat transactions per customer.

    ``ν ~ Gamma(q, rate γ)``; the mean of ``x`` Gamma(p, rate ν) values is
    Gamma(px, rate νx).  ``monetary_value`` is 0 where ``frequency`` is 0.

    Returns
    -------
    dict
        ``frequency``, ``monetary_value`` (the data columns) and ``nu`` (the true rate;
        the true mean spend is ``p / nu``).
    """
    x = np.broadcast_to(np.asarray(frequency, dtype=float), (n_customers,)).copy()
    nu = rng.gamma(q, 1.0 / gamma, size=n_customers)
    nu = np.maximum(nu, 1e-300)
    shape = np.where(x > 0, p * x, 1.0)
    mean = rng.gamma(shape, 1.0 / (nu * np.maximum(x, 1.0)))
    return {"frequency": x, "monetary_value": np.where(x > 0, mean, 0.0), "nu": nu}


SPEC = ModelSpec(
    key="gamma_gamma",
    name="Gamma-Gamma spend model",
    param_names=("p", "q", "gamma"),
    rate_params=(),
    data_columns=("frequency", "monetary_value"),
    log_likelihood=log_likelihood,
    initial_params=initial_params,
    reference=REFERENCE,
    row_mask=row_mask,
    # γ_i = γ₀ e^(δ′z): the expected spend per order pγ_i/(q − 1) scales by e^(δ′z)
    covariate_links={"spend": {"gamma": 1.0}},
)
