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

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.backends.compress import factorize_rows
from clvmodels.clv.arrays import PatternLink, at_patterns
from clvmodels.estimators import Estimator
from clvmodels.evaluation.probabilistic import CountForecast

TAIL = 1e-6
"""The support of a count forecast grows (doubling) until every customer's tail mass
``P(X ≥ K)`` is below this, or :data:`MAX_SUPPORT` is reached: the scores need the
support to hold the actual counts and the central intervals, and what the tail adds to
the ranked probability score, ``Σ_{k≥K} (1 − F(k))²``, is below the tail mass times the
expected excess count."""
MAX_SUPPORT = 4096
CELLS = 4_000_000
"""Draws × distinct histories × counts evaluated at once, and customers × counts of a
forecast handed on at once (the memory bound of a batch: 32 MB)."""


Chunk = tuple[np.ndarray, CountForecast, "np.ndarray | None"]
"""One chunk of a forecaster's holdout forecasts: the customers' positions, their count
forecasts and their simulated holdout revenue ``(customers, draws)`` (``None`` when the
forecaster does not simulate revenue)."""
CHUNK = 20_000
"""Customers per chunk: the forecasts of a chunk are ``CHUNK × K`` probabilities (``K``
the support, often 50–250), and a whole forecast of 10^6 customers would not fit."""


def count_chunks(
    model: Estimator,
    summary: pd.DataFrame,
    horizon: float,
    *,
    draws: int = 200,
    rng: np.random.Generator | None = None,
    revenue: Mapping[str, Any] | None = None,
    chunk: int = CHUNK,
) -> Iterator[Chunk]:
    """The predictive distribution of every customer's purchases in the ``horizon`` time
    units after the calibration end (module docstring), ``chunk`` customers at a time.

    Customers are visited in the order of their histories, so that each is evaluated
    once per distinct history in its chunk; the support of a chunk holds its largest
    ``frequency_holdout`` (when ``summary`` has one) and grows until every tail is below
    :data:`TAIL`.  A Bayesian fit averages the pmf over ``draws`` posterior draws (drawn
    once, with ``rng``).  With ``revenue`` (the keywords ``spend`` and ``fallback`` of
    :func:`revenue_draws`) each chunk carries simulated holdout revenue.
    """
    rng = rng or np.random.default_rng(0)
    info = model.info
    link = PatternLink.of(model, summary)
    columns = [summary[c].to_numpy(float) for c in info.history]
    if link is not None:
        columns.append(link.codes.astype(float))
    params = _parameters(model, draws, rng)
    linked = params if link is None else link.params(params)
    actual = (
        summary["frequency_holdout"].to_numpy(float) if "frequency_holdout" in summary else None
    )
    order = np.lexsort(columns[::-1])
    for start in range(0, len(order), chunk):
        rows = order[start : start + chunk]
        largest = 0 if actual is None else int(actual[rows].max())
        pmf, codes = _chunk_pmf(model, [c[rows] for c in columns], linked, horizon, largest)
        for part in bounded_parts(len(rows), pmf.shape[1]):  # heavy buyers: a wide support
            counts = CountForecast(pmf[codes[part]])
            draws_r = None
            if revenue is not None:
                draws_r = revenue_draws(counts, summary.iloc[rows[part]], rng=rng, **revenue)
            yield rows[part], counts, draws_r


def bounded_parts(n: int, support: int) -> list[slice]:
    """Slices of ``n`` customers holding at most :data:`CELLS` probabilities each at a
    support of ``support`` counts."""
    size = max(1, CELLS // max(1, support))
    return [slice(start, min(n, start + size)) for start in range(0, n, size)]


def count_forecast(
    model: Estimator, summary: pd.DataFrame, horizon: float, **options: Any
) -> CountForecast:
    """The count forecasts of :func:`count_chunks` (``options``: its keywords) for every
    customer at once, in the order of ``summary`` (for a few customers: the matrix is
    ``customers × K``)."""
    parts = list(count_chunks(model, summary, horizon, **options))
    support = max(c.pmf.shape[1] for _, c, _ in parts)
    pmf = np.zeros((len(summary), support))
    for rows, counts, _ in parts:
        pmf[rows, : counts.pmf.shape[1]] = counts.pmf
    return CountForecast(pmf)


def _chunk_pmf(
    model: Estimator,
    columns: list[np.ndarray],
    params: dict[str, Any],
    horizon: float,
    largest: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The pmfs of one chunk's distinct rows (``columns``: the history, then the
    covariate pattern) and each customer's row."""
    history = model.info.history
    codes, distinct = factorize_rows(columns)
    rows = dict(zip(history, distinct[: len(history)], strict=True))
    pattern = distinct[-1].astype(np.int64) if len(distinct) > len(history) else None
    at = at_patterns(params, pattern)
    support = max(16, largest + 2)
    while True:
        pmf = _mean_pmf(model.module.conditional_purchase_pmf, support, horizon, rows, at)
        if support >= MAX_SUPPORT or 1.0 - pmf.sum(axis=1).min() <= TAIL:
            break
        support *= 2
    return pmf, codes


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
