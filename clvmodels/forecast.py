"""Per-customer predictions and the holdout evaluation of a configured run.

``predictions_table`` gives the table users export (one row per customer, sorted by
CLV); ``evaluate`` scores every configured purchase model against the seed baselines
and the all-zero reference on the holdout; ``subscription_tables`` does both for the
sBG.  The CLI's ``fit`` command writes their results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clvmodels import clv, evaluation
from clvmodels.baseline import LEVELS, SeedBaseline, rfm_table
from clvmodels.config import RunConfig
from clvmodels.errors import ConfigError
from clvmodels.estimators import Estimator
from clvmodels.pipeline import PreparedData
from clvmodels.units import DAYS_PER_UNIT

SUMMARY_COLUMNS = ("customer_id", "frequency", "recency", "T", "n", "monetary_value")
HOLDOUT_COLUMNS = ("frequency_holdout", "revenue_holdout")


def value_settings(config: RunConfig, time_unit: str) -> clv.ValueSettings:
    """The run's :class:`clvmodels.clv.ValueSettings` (horizon default: one year)."""
    c = config.clv
    return clv.ValueSettings(
        horizon=clv.resolve_horizon(c.horizon, time_unit),
        discount_rate=c.discount_rate,
        margin=c.margin,
        time_unit=time_unit,
        interval=c.interval,
        draws=c.draws,
        seed=c.seed,
        threads=c.threads,
    )


def purchase_model_key(config: RunConfig, fitted: dict[str, Estimator]) -> str:
    """``clv.purchase_model`` or the first configured purchase model."""
    if config.clv.purchase_model is not None:
        return config.clv.purchase_model
    for key in config.models:
        if key in clv.PURCHASE_KEYS and key in fitted:
            return key
    raise ConfigError(
        "clv: predicting customer value needs a purchase model under models: "
        f"({', '.join(clv.PURCHASE_KEYS)}); gamma_gamma alone models spend only"
    )


def average_order_value(summary: pd.DataFrame) -> float | None:
    """Calibration average order value (all orders), or None without amounts."""
    if "revenue" not in summary.columns:
        return None
    return float(summary["revenue"].sum() / (summary["frequency"] + 1.0).sum())


def run_average_order_value(prepared: PreparedData) -> float | None:
    """The calibration average order value of the run's customers: of the whole
    distributed summary with ``data.engine: spark`` (``summary`` is then a sample)."""
    if prepared.distributed is not None:
        return prepared.distributed.average_order_value()
    return average_order_value(_summary(prepared))


def predictions_table(
    config: RunConfig,
    prepared: PreparedData,
    fitted: dict[str, Estimator],
    extra: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per customer: history, covariates, P(alive), expected purchases and
    spend, CLV with its interval, the counterfactual CLVs (``extra``, on the summary's
    index), the seed-baseline CLV, RFM score and segment (and holdout actuals after a
    split), sorted by CLV, highest first."""
    summary = _summary(prepared)
    key = purchase_model_key(config, fitted)
    settings = value_settings(config, prepared.meta.get("time_unit", config.data.time_unit))
    aov = run_average_order_value(prepared)
    spend = fitted.get("gamma_gamma")
    values = clv.customer_values(
        fitted[key],
        summary,
        settings,
        spend=spend,
        fallback_spend=aov if aov is not None else config.clv.price,
    )
    columns = [c for c in SUMMARY_COLUMNS if c in summary.columns]
    if config.data.covariates is not None:
        columns += [c for c in config.data.covariates.columns if c in summary.columns]
    table = summary[columns].copy()
    table = table.join(values)
    if extra is not None:
        table = table.join(extra)
    if "revenue" in summary.columns and "T" in summary.columns:
        baseline = SeedBaseline(
            config.baseline.level, config.baseline.lifespan_years, settings.time_unit
        ).fit(summary)
        table["baseline_clv"] = baseline.clv(settings.margin).to_numpy()
        rfm = rfm_table(summary)
        table["rfm_score"] = rfm["rfm_score"].to_numpy()
        table["rfm_segment"] = rfm["rfm_segment"].astype(str).to_numpy()
    for column in HOLDOUT_COLUMNS:
        if column in summary.columns:
            table[column] = summary[column].to_numpy()
    return table.sort_values("clv", ascending=False, kind="stable").reset_index(drop=True)


@dataclass
class Counterfactuals:
    """Counterfactual CLV per binary covariate (:mod:`clvmodels.counterfactual`)."""

    per_customer: pd.DataFrame
    lift: pd.DataFrame


def covariate_effects(fitted: dict[str, Estimator], level: float = 0.95) -> pd.DataFrame | None:
    """One row per covariate coefficient of every fitted model (``None`` without)."""
    tables = [
        model.covariate_effects(level).reset_index().assign(model=name)
        for name, model in fitted.items()
        if model.has_covariates
    ]
    if not tables:
        return None
    table = pd.concat(tables, ignore_index=True)
    return table[["model", *[c for c in table.columns if c != "model"]]]


def counterfactuals(
    config: RunConfig, prepared: PreparedData, fitted: dict[str, Estimator]
) -> Counterfactuals | None:
    """CLV with each binary covariate on and off for every customer, and the average
    lift per group with its interval (``clv.counterfactuals``; default every binary
    covariate of the purchase and spend models; ``None`` when there is none)."""
    from clvmodels.counterfactual import binary_covariates, covariate_lift

    summary = _summary(prepared)
    key = purchase_model_key(config, fitted)
    spend = fitted.get("gamma_gamma")
    binary = binary_covariates([fitted[key], spend], summary)
    wanted = config.clv.counterfactuals
    if wanted is None:
        wanted = binary
    for column in wanted:
        if column not in binary:
            raise ConfigError(
                f"clv.counterfactuals: {column!r} is not a binary covariate of "
                f"{key}{' or gamma_gamma' if spend is not None else ''}"
            )
    if not wanted:
        return None
    settings = value_settings(config, prepared.meta.get("time_unit", config.data.time_unit))
    aov = average_order_value(summary)
    fallback = aov if aov is not None else config.clv.price
    per_customer, lifts = [], []
    for column in wanted:
        values, lift = covariate_lift(
            fitted[key], summary, settings, column, spend=spend, fallback_spend=fallback
        )
        per_customer.append(values)
        lifts.append(lift.reset_index().assign(covariate=column))
    lift_table = pd.concat(lifts, ignore_index=True)
    lift_table = lift_table[["covariate", *[c for c in lift_table.columns if c != "covariate"]]]
    return Counterfactuals(pd.concat(per_customer, axis=1), lift_table)


@dataclass
class Evaluation:
    """Holdout evaluation of a non-contractual run."""

    table: pd.DataFrame
    verdict: str
    conditional_expectations: pd.DataFrame
    tracking: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def has_holdout(prepared: PreparedData) -> bool:
    """True when the summary carries holdout actuals (a calibration/holdout split)."""
    summary = prepared.summary
    return summary is not None and {"frequency_holdout", "duration_holdout"} <= set(summary)


def evaluate(config: RunConfig, prepared: PreparedData, fitted: dict[str, Estimator]) -> Evaluation:
    """Score every purchase model (with the spend model, when configured), each level of
    the seed baseline and the zero reference on holdout purchases and revenue."""
    summary = _summary(prepared)
    if not has_holdout(prepared):
        raise ConfigError("evaluation needs a calibration/holdout split (split.calibration_end)")
    unit = prepared.meta.get("time_unit", config.data.time_unit)
    horizon = float(summary["duration_holdout"].iloc[0])
    actual_p = summary["frequency_holdout"].to_numpy(float)
    actual_r = summary["revenue_holdout"].to_numpy(float) if "revenue_holdout" in summary else None
    aov = run_average_order_value(prepared)
    spend = fitted.get("gamma_gamma")
    data = {c: summary[c].to_numpy(float) for c in summary.columns if c in SUMMARY_COLUMNS[1:]}
    if spend is None:
        spend_values = clv.spend_per_order(None, data, aov if aov is not None else 1.0)
    else:
        spend_values = clv.spend_per_order(*clv.pattern_inputs(spend, summary, data), 1.0)
    scores: dict[str, dict[str, float]] = {}
    predicted_counts: dict[str, np.ndarray] = {}
    tracking_models: dict[str, Estimator] = {}
    settings = clv.ValueSettings(horizon=horizon, time_unit=unit, interval=None)
    for key in config.models:
        if key not in clv.PURCHASE_KEYS or key not in fitted or key == "bgbb":
            continue
        params, rows = clv.pattern_inputs(fitted[key], summary, data)
        arrays = clv.purchase_arrays(key, params, rows, settings, with_dert=False)
        name = f"{key}+gamma_gamma" if spend is not None else key
        revenue = arrays["expected_purchases"] * spend_values if actual_r is not None else None
        scores[name] = evaluation.score_forecast(
            actual_p, actual_r, arrays["expected_purchases"], revenue, arrays["p_alive"]
        )
        predicted_counts[key] = arrays["expected_purchases"]
        tracking_models[key] = fitted[key]
    if "revenue" in summary.columns:
        for level in LEVELS:
            baseline = SeedBaseline(level, config.baseline.lifespan_years, unit).fit(summary)
            forecast = baseline.predict(horizon)
            scores[baseline.name] = evaluation.score_forecast(
                actual_p,
                actual_r,
                forecast["expected_purchases"].to_numpy(),
                forecast["expected_revenue"].to_numpy(),
            )
            if level == config.baseline.level:
                predicted_counts[baseline.name] = forecast["expected_purchases"].to_numpy()
    zeros = np.zeros(len(summary))
    scores[evaluation.ZERO_FORECAST] = evaluation.score_forecast(
        actual_p, actual_r, zeros, None if actual_r is None else zeros
    )
    table = evaluation.evaluation_table(scores)
    conditional = evaluation.conditional_expectations(
        summary["frequency"].to_numpy(float), actual_p, predicted_counts
    )
    tracking = _tracking(prepared, tracking_models)
    return Evaluation(table, evaluation.verdict(table), conditional, tracking)


def _tracking(prepared: PreparedData, models: dict[str, Estimator]) -> pd.DataFrame | None:
    """Weekly (per time unit) cumulative repeat transactions, actual vs each model."""
    summary = prepared.summary
    daily = prepared.meta.get("repeat_transactions_per_day")
    if not models or daily is None or summary is None or "first_purchase" not in summary:
        return None
    unit_days = DAYS_PER_UNIT[prepared.meta["time_unit"]]
    first_days = summary["first_purchase"].to_numpy("datetime64[D]").astype("int64")
    origin = int(first_days.min())
    end_day = np.datetime64(prepared.meta["observation_end"], "D") - np.datetime64(0, "D")
    span = (int(end_day.astype("int64")) - origin) / unit_days
    ends = np.arange(1.0, math.floor(span) + 1.0)
    if len(ends) == 0 or ends[-1] < span:
        ends = np.append(ends, span)
    joins = (first_days - origin) / unit_days
    predicted = {
        key: model.tracking_curve(ends, joins, data=summary) for key, model in models.items()
    }
    return evaluation.tracking_curve(
        ends, np.asarray(daily["day"]), np.asarray(daily["count"]), origin, unit_days, predicted
    )


def subscription_tables(
    config: RunConfig, prepared: PreparedData, fitted: dict[str, Estimator]
) -> dict[str, Any]:
    """Per cohort: value of the active customers (``predictions``), the survival
    projection beyond the calibration periods against a constant retention rate
    (``projection``) and its summary per model (``evaluation``)."""
    if prepared.individual is None or prepared.survival_table is None:
        raise ConfigError("models.sbg: needs subscription data")
    unit = prepared.meta.get("time_unit", config.data.time_unit)
    settings = value_settings(config, unit)
    k = prepared.meta.get("calibration_periods")
    values, projections, rows = [], [], []
    for name, model in fitted.items():
        if not name.startswith("sbg"):
            continue
        cohort = name.split(":", 1)[1] if ":" in name else None
        individual = prepared.individual
        table = prepared.survival_table
        if cohort is not None:
            individual = individual[individual["cohort"].astype(str) == cohort]
            table = table[table["cohort"].astype(str) == cohort]
        value = clv.subscription_values(model, individual, settings, price=config.clv.price)
        value.insert(0, "cohort", cohort if cohort is not None else "all")
        values.append(value)
        if k is None or cohort is None:
            continue
        alive = table.sort_values("period")["alive"].to_numpy(float)
        survival = model.cohort_survival(np.arange(len(alive)), individual)
        retention = evaluation.constant_retention_rate(individual)
        projection = evaluation.survival_projection(alive, survival, retention, k)
        projection.insert(0, "cohort", cohort)
        projections.append(projection)
        summary = evaluation.projection_summary(projection)
        rows.append(
            {
                "model": name,
                "cohort": cohort,
                "holdout_periods": summary["holdout_periods"],
                "mape": summary["sbg_mape"],
            }
        )
        rows.append(
            {
                "model": f"constant_retention:{cohort}",
                "cohort": cohort,
                "holdout_periods": summary["holdout_periods"],
                "mape": summary["constant_mape"],
                "retention_rate": retention,
            }
        )
    out: dict[str, Any] = {"predictions": pd.concat(values, ignore_index=True)}
    if projections:
        out["projection"] = pd.concat(projections, ignore_index=True)
        out["evaluation"] = pd.DataFrame(rows)
    return out


def _summary(prepared: PreparedData) -> pd.DataFrame:
    if prepared.summary is None:
        raise ConfigError("customer predictions need transaction or summary data")
    return prepared.summary
