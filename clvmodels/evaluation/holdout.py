"""The holdout evaluation of purchase models: every model (with the spend model, when
there is one), each level of the seed baseline and the all-zero reference scored on
the customers' holdout purchases and revenue (:mod:`clvmodels.evaluation.scores`), with
the conditional expectations and the tracking curve of Fader, Hardie & Lee (2005,
"Counting your customers the easy way", figures 3–4)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.clv import ValueSettings, pattern_inputs, purchase_arrays, spend_per_order
from clvmodels.errors import ConfigError
from clvmodels.estimators import Estimator
from clvmodels.evaluation import scores
from clvmodels.evaluation.baseline import LEVELS, SeedBaseline
from clvmodels.units import DAYS_PER_UNIT

HISTORY_COLUMNS = ("frequency", "recency", "T", "n", "monetary_value")
"""The summary columns the models' predictions may read."""


@dataclass(frozen=True)
class HoldoutEvaluation:
    """Holdout evaluation of a non-contractual run.

    Attributes
    ----------
    table
        One row per forecaster, the metrics of :data:`clvmodels.evaluation.scores.METRICS`.
    verdict
        The one-line verdict of :func:`clvmodels.evaluation.scores.verdict`.
    conditional_expectations
        Mean holdout purchases by calibration frequency, actual and per forecaster.
    tracking
        Cumulative repeat transactions per period, actual and per model (``None``
        without the daily series of the log).
    """

    table: pd.DataFrame
    verdict: str
    conditional_expectations: pd.DataFrame
    tracking: pd.DataFrame | None = None


@dataclass(frozen=True)
class SeedLevel:
    """The seed formula's settings: the level whose forecasts enter the conditional
    expectations, and the customer lifespan in years."""

    level: str = "segment"
    lifespan_years: float = 3.0


def has_holdout(summary: pd.DataFrame | None) -> bool:
    """True when the summary carries holdout actuals (a calibration/holdout split)."""
    return summary is not None and {"frequency_holdout", "duration_holdout"} <= set(summary)


def evaluate_holdout(
    summary: pd.DataFrame,
    models: Mapping[str, Estimator],
    *,
    time_unit: str,
    spend: Estimator | None = None,
    average_order_value: float | None = None,
    seed: SeedLevel = SeedLevel(),
    daily_repeats: Mapping[str, Any] | None = None,
    observation_end: str | None = None,
) -> HoldoutEvaluation:
    """Score the continuous-time purchase ``models`` (key -> fitted estimator, in the
    order of the table) on the holdout of ``summary``.

    Revenue forecasts multiply the expected purchases by the Gamma-Gamma spend per order
    of ``spend`` or, without it, by ``average_order_value``.  ``daily_repeats`` (the
    summary's ``repeat_transactions_per_day``) and ``observation_end`` give the tracking
    curve.
    """
    if not has_holdout(summary):
        raise ConfigError("evaluation needs a calibration/holdout split (split.calibration_end)")
    horizon = float(summary["duration_holdout"].iloc[0])
    actual_p = summary["frequency_holdout"].to_numpy(float)
    actual_r = summary["revenue_holdout"].to_numpy(float) if "revenue_holdout" in summary else None
    data = {c: summary[c].to_numpy(float) for c in summary.columns if c in HISTORY_COLUMNS}
    if spend is None:
        aov = average_order_value if average_order_value is not None else 1.0
        spend_values = spend_per_order(None, data, aov)
    else:
        spend_values = spend_per_order(*pattern_inputs(spend, summary, data), 1.0)
    results: dict[str, dict[str, float]] = {}
    predicted: dict[str, np.ndarray] = {}
    settings = ValueSettings(horizon=horizon, time_unit=time_unit, interval=None)
    for key, model in models.items():
        params, rows = pattern_inputs(model, summary, data)
        arrays = purchase_arrays(key, params, rows, settings, with_dert=False)
        expected = arrays["expected_purchases"]
        revenue = expected * spend_values if actual_r is not None else None
        name = f"{key}+gamma_gamma" if spend is not None else key
        results[name] = scores.score_forecast(
            actual_p, actual_r, expected, revenue, arrays["p_alive"]
        )
        predicted[key] = expected
    if "revenue" in summary.columns:
        for level in LEVELS:
            baseline = SeedBaseline(level, seed.lifespan_years, time_unit).fit(summary)
            forecast = baseline.predict(horizon)
            results[baseline.name] = scores.score_forecast(
                actual_p,
                actual_r,
                forecast["expected_purchases"].to_numpy(),
                forecast["expected_revenue"].to_numpy(),
            )
            if level == seed.level:
                predicted[baseline.name] = forecast["expected_purchases"].to_numpy()
    zeros = np.zeros(len(summary))
    results[scores.ZERO_FORECAST] = scores.score_forecast(
        actual_p, actual_r, zeros, None if actual_r is None else zeros
    )
    table = scores.evaluation_table(results)
    conditional = scores.conditional_expectations(
        summary["frequency"].to_numpy(float), actual_p, predicted
    )
    tracking = tracking_table(summary, models, time_unit, daily_repeats, observation_end)
    return HoldoutEvaluation(table, scores.verdict(table), conditional, tracking)


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
