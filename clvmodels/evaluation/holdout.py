"""The holdout evaluation of purchase models: every model (with the spend model, when
there is one), each level of the seed baseline and the all-zero reference scored on
the customers' holdout purchases and revenue (:mod:`clvmodels.evaluation.scores`), with
the conditional expectations and the tracking curve of Fader, Hardie & Lee (2005,
"Counting your customers the easy way", figures 3–4).

A model with time-varying covariates (Bachmann, Meierer & Näf 2021) forecasts the holdout
with the covariate values of its periods (:meth:`clvmodels.estimators.purchase.
PurchaseCountModel.predict_dynamic`); it has no predictive count distribution here, so
its probabilistic scores (log score, RPS, Brier, coverages, calibration, PIT) and its
tracking curve are not available, which :attr:`HoldoutEvaluation.notes` says."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.clv import ValueSettings, pattern_inputs, purchase_arrays, spend_per_order
from clvmodels.data.dynamic import DynamicPanel
from clvmodels.errors import ConfigError
from clvmodels.estimators import Estimator
from clvmodels.evaluation import scores
from clvmodels.evaluation.baseline import LEVELS, SeedBaseline, SeedLevel
from clvmodels.evaluation.predictive import Chunk, count_chunks
from clvmodels.evaluation.probabilistic import (
    ScoredCounts,
    calibration_table,
    pit_histogram,
    score_chunks,
)
from clvmodels.units import DAYS_PER_UNIT

HISTORY_COLUMNS = ("frequency", "recency", "T", "n", "litt", "monetary_value")
"""The summary columns the models' predictions may read."""


@dataclass(frozen=True)
class Forecast:
    """One forecaster's holdout forecast of every customer.

    Attributes
    ----------
    expected_purchases, expected_revenue
        Expected holdout purchases and revenue (``None`` without amounts).
    p_alive
        The probability scored by the AUC (P(alive) of a model; ``None`` for baselines).
    counts
        The predictive distribution of the holdout purchases, if the forecaster has one:
        called, it gives the chunks of customers with their count forecasts (and
        simulated holdout revenue), :data:`clvmodels.evaluation.predictive.Chunk`.
    """

    expected_purchases: np.ndarray
    expected_revenue: np.ndarray | None = None
    p_alive: np.ndarray | None = None
    counts: Callable[[], Iterable[Chunk]] | None = None


@dataclass(frozen=True)
class HoldoutEvaluation:
    """Holdout evaluation of a non-contractual run.

    Attributes
    ----------
    table
        One row per forecaster: the metrics of :data:`clvmodels.evaluation.scores.METRICS`
        and the probabilistic scores of the forecasters with a predictive distribution.
    verdict
        The one-line verdict of :func:`clvmodels.evaluation.scores.verdict`.
    conditional_expectations
        Mean holdout purchases by calibration frequency, actual and per forecaster.
    tracking
        Cumulative repeat transactions per period, actual and per model (``None``
        without the daily series of the log).
    calibration
        Predicted vs observed share buying, by decile of the predicted probability, per
        forecaster with a predictive distribution (``model`` column first).
    pit
        The randomised PIT histogram of those forecasters.
    notes
        Forecaster -> why some of its scores are missing (models with time-varying
        covariates: no predictive count distribution).
    """

    table: pd.DataFrame
    verdict: str
    conditional_expectations: pd.DataFrame
    tracking: pd.DataFrame | None = None
    calibration: pd.DataFrame | None = None
    pit: pd.DataFrame | None = None
    notes: Mapping[str, str] = field(default_factory=dict)


NO_PMF = (
    "not available: no predictive count distribution (pmf) for a model with time-varying "
    "covariates, so no log score, RPS, Brier score, coverage, calibration, PIT or "
    "tracking curve; its point forecasts are scored"
)
"""The note of a model with time-varying covariates in :attr:`HoldoutEvaluation.notes`."""


DEFAULT_SEED = SeedLevel()
"""The seed formula's default settings (segment level, 3-year lifespan, quantile cuts)."""


def has_holdout(summary: pd.DataFrame | None) -> bool:
    """True when the summary carries holdout actuals (a calibration/holdout split)."""
    return summary is not None and {"frequency_holdout", "duration_holdout"} <= set(summary)


def model_forecasts(
    summary: pd.DataFrame,
    models: Mapping[str, Estimator],
    spend: Estimator | None,
    fallback_spend: float,
    time_unit: str,
    rng: np.random.Generator,
    dynamic: DynamicPanel | None = None,
) -> dict[str, Forecast]:
    """The holdout forecasts of the continuous-time purchase ``models`` (named
    ``<key>+gamma_gamma`` with a spend model): expected purchases and P(alive), revenue
    as expected purchases × the Gamma-Gamma spend per order of ``spend`` (or
    ``fallback_spend`` without it), the predictive distribution of the holdout count and
    simulated holdout revenue (:mod:`clvmodels.evaluation.predictive`); a model with
    time-varying covariates forecasts with the covariates of ``dynamic``, without a count
    distribution."""
    horizon = float(summary["duration_holdout"].iloc[0])
    data = {c: summary[c].to_numpy(float) for c in summary.columns if c in HISTORY_COLUMNS}
    if spend is None:
        spend_values = spend_per_order(None, data, fallback_spend)
    else:
        spend_values = spend_per_order(*pattern_inputs(spend, summary, data), 1.0)
    with_revenue = "revenue_holdout" in summary
    settings = ValueSettings(horizon=horizon, time_unit=time_unit, interval=None)
    out = {}
    for key, model in models.items():
        name = f"{key}+gamma_gamma" if spend is not None else key
        if model.is_dynamic:
            frame = model.predict_dynamic(summary, horizon, dynamic=dynamic)
            expected = frame["expected_purchases"].to_numpy()
            revenue = expected * spend_values if with_revenue else None
            out[name] = Forecast(expected, revenue, frame["p_alive"].to_numpy())
            continue
        params, rows = pattern_inputs(model, summary, data)
        arrays = purchase_arrays(key, params, rows, settings, with_dert=False)
        expected = arrays["expected_purchases"]
        simulate = {"spend": spend, "fallback": fallback_spend} if with_revenue else None
        counts = partial(count_chunks, model, summary, horizon, rng=rng, revenue=simulate)
        revenue = expected * spend_values if with_revenue else None
        out[name] = Forecast(expected, revenue, arrays["p_alive"], counts)
    return out


def baseline_forecasts(
    summary: pd.DataFrame, time_unit: str, seed: SeedLevel
) -> dict[str, Forecast]:
    """The seed formula at each level, and the all-zero reference."""
    horizon = float(summary["duration_holdout"].iloc[0])
    out = {}
    if "revenue" in summary.columns:
        for level in LEVELS:
            baseline = SeedBaseline(level, seed.lifespan_years, time_unit, seed.segments)
            baseline = baseline.fit(summary)
            forecast = baseline.predict(horizon)
            out[baseline.name] = Forecast(
                forecast["expected_purchases"].to_numpy(), forecast["expected_revenue"].to_numpy()
            )
    zeros = np.zeros(len(summary))
    out[scores.ZERO_FORECAST] = Forecast(zeros, zeros if "revenue_holdout" in summary else None)
    return out


def score(
    forecast: Forecast,
    actual_purchases: np.ndarray,
    actual_revenue: np.ndarray | None,
    rng: np.random.Generator,
) -> tuple[dict[str, float], ScoredCounts | None]:
    """Every score of one forecaster (NaN where a score does not apply), and the scores
    of its count forecasts with what the calibration table and PIT need (``None``
    without count forecasts)."""
    revenue = forecast.expected_revenue if actual_revenue is not None else None
    out = scores.score_forecast(
        actual_purchases, actual_revenue, forecast.expected_purchases, revenue, forecast.p_alive
    )
    if forecast.counts is None:
        return out, None
    scored = score_chunks(forecast.counts(), actual_purchases, rng, actual_revenue)
    return out | scored.scores, scored


def evaluate_holdout(
    summary: pd.DataFrame,
    models: Mapping[str, Estimator],
    *,
    time_unit: str,
    spend: Estimator | None = None,
    average_order_value: float | None = None,
    seed: SeedLevel = DEFAULT_SEED,
    daily_repeats: Mapping[str, Any] | None = None,
    observation_end: str | None = None,
    others: Mapping[str, Forecast] | None = None,
    rng: np.random.Generator | None = None,
    dynamic: DynamicPanel | None = None,
) -> HoldoutEvaluation:
    """Score the continuous-time purchase ``models`` (key -> fitted estimator, in the
    order of the table), then the ``others`` (e.g. the challenger), the seed formula and
    the zero reference on the holdout of ``summary``; ``daily_repeats`` (the summary's
    ``repeat_transactions_per_day``) and ``observation_end`` give the tracking curve,
    ``rng`` the randomised PIT; ``dynamic`` holds the time-varying covariates of the
    models fitted with them."""
    if not has_holdout(summary):
        raise ConfigError("evaluation needs a calibration/holdout split (split.calibration_end)")
    actual_p = summary["frequency_holdout"].to_numpy(float)
    actual_r = summary["revenue_holdout"].to_numpy(float) if "revenue_holdout" in summary else None
    rng = rng or np.random.default_rng(0)
    fallback = average_order_value if average_order_value is not None else 1.0
    forecasts = {
        **model_forecasts(summary, models, spend, fallback, time_unit, rng, dynamic),
        **(others or {}),
        **baseline_forecasts(summary, time_unit, seed),
    }
    scored = {n: score(f, actual_p, actual_r, rng) for n, f in forecasts.items()}
    table = scores.evaluation_table({n: values for n, (values, _) in scored.items()})
    shown = {
        name.split("+")[0]: f.expected_purchases
        for name, f in forecasts.items()
        if name not in _baseline_names()
    }
    seed_name = SeedBaseline(seed.level).name
    if seed_name in forecasts:  # the configured level of the seed formula, for scale
        shown[seed_name] = forecasts[seed_name].expected_purchases
    conditional = scores.conditional_expectations(
        summary["frequency"].to_numpy(float), actual_p, shown
    )
    plain = {k: m for k, m in models.items() if not m.is_dynamic}
    tracking = tracking_table(summary, plain, time_unit, daily_repeats, observation_end)
    counted = {n: c for n, (_, c) in scored.items() if c is not None}
    calibration, pit = _calibration(counted, actual_p)
    notes = {
        f"{k}+gamma_gamma" if spend is not None else k: NO_PMF
        for k, m in models.items()
        if m.is_dynamic
    }
    return HoldoutEvaluation(
        table, scores.verdict(table), conditional, tracking, calibration, pit, notes
    )


def _baseline_names() -> set[str]:
    return {SeedBaseline(level).name for level in LEVELS} | {scores.ZERO_FORECAST}


def _calibration(
    counted: Mapping[str, ScoredCounts], actual: np.ndarray
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Calibration tables and PIT histograms of the forecasters with a predictive
    distribution (``None`` when none has one)."""
    tables, histograms = [], []
    for name, scored in counted.items():
        tables.append(calibration_table(scored.p_any, actual >= 1).assign(model=name))
        histograms.append(pit_histogram(scored.pit).assign(model=name))
    if not tables:
        return None, None
    first = lambda frame: frame[["model", *[c for c in frame.columns if c != "model"]]]  # noqa: E731
    return first(pd.concat(tables, ignore_index=True)), first(
        pd.concat(histograms, ignore_index=True)
    )


def tracking_table(
    summary: pd.DataFrame,
    models: Mapping[str, Estimator],
    time_unit: str,
    daily_repeats: Mapping[str, Any] | None,
    observation_end: str | None,
) -> pd.DataFrame | None:
    """Cumulative repeat transactions per time unit from the first purchase in the data
    to ``observation_end``, actual and expected under each model (``None`` without
    models, daily series or first-purchase dates)."""
    if not models or daily_repeats is None or observation_end is None:
        return None
    if "first_purchase" not in summary:
        return None
    unit_days = DAYS_PER_UNIT[time_unit]
    first_days = summary["first_purchase"].to_numpy("datetime64[D]").astype("int64")
    origin = int(first_days.min())
    end_day = np.datetime64(observation_end, "D") - np.datetime64(0, "D")
    span = (int(end_day.astype("int64")) - origin) / unit_days
    ends = np.arange(1.0, math.floor(span) + 1.0)
    if len(ends) == 0 or ends[-1] < span:
        ends = np.append(ends, span)
    joins = (first_days - origin) / unit_days
    predicted = {
        key: model.tracking_curve(ends, joins, data=summary) for key, model in models.items()
    }
    return scores.tracking_curve(
        ends,
        np.asarray(daily_repeats["day"]),
        np.asarray(daily_repeats["count"]),
        origin,
        unit_days,
        predicted,
    )
