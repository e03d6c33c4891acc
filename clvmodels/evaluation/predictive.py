"""Predictive distributions of a fitted model's holdout: purchase counts and revenue.

The count forecast of a purchase model is its conditional pmf
``P(X(T, T + t*) = k | history)`` (each model module's ``conditional_purchase_pmf``),
evaluated once per distinct history (and covariate pattern).  A Bayesian fit gives the
posterior predictive distribution: the pmf averaged over posterior draws.  A maximum
likelihood fit gives the plug-in pmf at the estimate; both carry the process noise of
the model (who buys how often, who drops out), the Bayesian one the parameter
uncertainty too.

Holdout revenue is simulated (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value
curves for customer base analysis", JMR 42(4), and the Gamma-Gamma note of Fader &
Hardie 2013, "The Gamma-Gamma model of monetary value"): a count ``K`` from the count
forecast, the customer's transaction rate of spend ``ν ~ Gamma(q + p x, γ + x m̄)`` (her
posterior given ``x`` repeat purchases of mean ``m̄``; the prior ``Gamma(q, γ)`` without
a positive repeat spend), and the revenue ``Gamma(K p, ν)``, the sum of ``K`` spends
``Gamma(p, ν)``.  Without a spend model every order is worth the fallback spend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.backends.compress import factorize_rows
from clvmodels.clv.arrays import PatternLink, at_patterns
from clvmodels.estimators import Estimator
from clvmodels.evaluation.probabilistic import CountForecast, interval_coverage

TAIL = 1e-9
"""The support of a count forecast grows (doubling) until every customer's tail mass
``P(X ≥ K)`` is below this, or :data:`MAX_SUPPORT` is reached."""
MAX_SUPPORT = 4096
CELLS = 4_000_000
"""Draws × distinct histories × counts evaluated at once (memory bound of a batch)."""


def count_forecast(
    model: Estimator,
    summary: pd.DataFrame,
    horizon: float,
    *,
    largest: int = 0,
    draws: int = 200,
    rng: np.random.Generator | None = None,
) -> CountForecast:
    """The predictive distribution of every customer's purchases in the ``horizon``
    time units after the calibration end (module docstring).

    ``largest`` (the largest count to be scored) is kept inside the support; a Bayesian
    fit averages the pmf over ``draws`` posterior draws (drawn with ``rng``).
    """
    info = model.info
    data = {c: summary[c].to_numpy(float) for c in info.history}
    link = PatternLink.of(model, summary)
    columns = [data[c] for c in info.history]
    if link is not None:
        columns.append(link.codes.astype(float))
    codes, distinct = factorize_rows(columns)
    rows = dict(zip(info.history, distinct[: len(info.history)], strict=True))
    pattern = None if link is None else distinct[-1].astype(np.int64)
    params = _parameters(model, draws, rng or np.random.default_rng(0))
    linked = params if link is None else link.params(params)
    linked = at_patterns(linked, pattern)
    support = max(16, largest + 2)
    while True:
        pmf = _mean_pmf(model.module.conditional_purchase_pmf, support, horizon, rows, linked)
        if support >= MAX_SUPPORT or 1.0 - pmf.sum(axis=1).min() <= TAIL:
            break
        support *= 2
    return CountForecast(pmf[codes])


def _parameters(model: Estimator, draws: int, rng: np.random.Generator) -> dict[str, Any]:
    """The point estimates, or ``(draws, 1)`` posterior draws of a Bayesian fit."""
    if model.result_.draws is None:
        return dict(model.params_)
    sample = model.result_.parameter_draws(draws, rng)
    return {k: np.asarray(v, dtype=float)[:, None] for k, v in sample.items()}


def _mean_pmf(
    pmf: Any, support: int, horizon: float, rows: Mapping[str, np.ndarray], params: dict
) -> np.ndarray:
    """The pmf of every distinct row, averaged over the draws (if any) in batches of at
    most :data:`CELLS` values."""
    n = len(next(iter(rows.values())))
    n_draws = max((np.shape(v)[0] for v in params.values() if np.ndim(v) == 2), default=0)
    if n_draws == 0:
        return pmf(support, horizon, *rows.values(), **params)
    batch = max(1, CELLS // max(1, n * support))
    total = np.zeros((n, support))
    for start in range(0, n_draws, batch):
        part = {
            k: v[start : start + batch] if np.ndim(v) == 2 and np.shape(v)[0] == n_draws else v
            for k, v in params.items()
        }
        total += pmf(support, horizon, *rows.values(), **part).sum(axis=0)
    return total / n_draws


def sample_counts(forecast: CountForecast, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """``(customers, n_draws)`` counts drawn from each customer's forecast (inverse
    CDF; a draw in the tail ``P(X ≥ K)`` counts as ``K``)."""
    cdf = forecast.cdf
    n, support = cdf.shape
    offset = np.arange(n, dtype=float)[:, None]
    # each row's CDF lies in [0, 1]: shifted by the row number, all rows are one sorted
    # sequence, searched at once
    flat = (np.minimum(cdf, 1.0 - 1e-15) + offset).ravel()
    u = rng.random((n, n_draws)) + offset
    index = np.searchsorted(flat, u.ravel(), side="right").reshape(n, n_draws)
    return np.minimum(index - support * np.arange(n)[:, None], support)


def revenue_draws(
    forecast: CountForecast,
    summary: pd.DataFrame,
    *,
    spend: Estimator | None,
    fallback: float,
    n_draws: int = 200,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """``(customers, n_draws)`` simulated holdout revenue (module docstring): counts from
    ``forecast``, spends from the Gamma-Gamma ``spend`` model (posterior draws of a
    Bayesian fit, one per revenue draw), or ``fallback`` per order without one."""
    rng = rng or np.random.default_rng(0)
    counts = sample_counts(forecast, n_draws, rng).astype(float)
    if spend is None:
        return counts * fallback
    x = summary["frequency"].to_numpy(float)
    m = summary["monetary_value"].to_numpy(float)
    params = _parameters(spend, n_draws, rng)
    link = PatternLink.of(spend, summary)
    if link is not None:
        params = at_patterns(link.params(params), link.codes)
    p, q, gamma = (np.asarray(params[k], dtype=float) for k in ("p", "q", "gamma"))
    if p.ndim == 2:  # (draws, customers or 1) -> one parameter draw per revenue draw
        p, q, gamma = (np.broadcast_to(v, (n_draws, len(x))).T for v in (p, q, gamma))
    else:
        p, q, gamma = (np.broadcast_to(v, x.shape)[:, None] for v in (p, q, gamma))
    repeat = ((x > 0) & (m > 0))[:, None]
    shape = q + np.where(repeat, p * x[:, None], 0.0)
    rate = gamma + np.where(repeat, (x * np.where(m > 0, m, 0.0))[:, None], 0.0)
    nu = rng.gamma(shape, 1.0 / rate, size=counts.shape)
    return rng.gamma(counts * p, 1.0 / nu)


def revenue_coverage(
    forecast: CountForecast,
    summary: pd.DataFrame,
    *,
    spend: Estimator | None,
    fallback: float,
    level: float = 0.9,
    n_draws: int = 200,
    rng: np.random.Generator | None = None,
    chunk: int = 20_000,
) -> tuple[float, float]:
    """``(observed, expected)`` coverage of every customer's central ``level`` interval
    of simulated holdout revenue (:func:`revenue_draws`; ``summary`` holds
    ``revenue_holdout``), simulated ``chunk`` customers at a time so that memory stays
    bounded (:func:`clvmodels.evaluation.probabilistic.interval_coverage`)."""
    rng = rng or np.random.default_rng(0)
    actual = summary["revenue_holdout"].to_numpy(float)
    n = len(actual)
    observed = expected = 0.0
    for start in range(0, n, chunk):
        rows = slice(start, min(n, start + chunk))
        part = CountForecast(forecast.pmf[rows])
        draws = revenue_draws(
            part, summary.iloc[rows], spend=spend, fallback=fallback, n_draws=n_draws, rng=rng
        )
        seen, mass = interval_coverage(draws, actual[rows], level)
        observed += seen * len(draws)
        expected += mass * len(draws)
    return observed / n, expected / n
