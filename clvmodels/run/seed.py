"""The marketers' seed metrics of a run: AOV, purchase frequency, the simple CLV and the
metrics around it (:mod:`clvmodels.metrics`), with CAC, LTV:CAC and the maximum cost per
click from ``metrics:`` and the survey's NPS and loyalty index.

Kept apart from :mod:`~clvmodels.run.tables` so that ``clvmodels summarize``, which prints
them, imports neither the estimators nor the evaluation.
"""

from __future__ import annotations

import pandas as pd

from clvmodels import metrics
from clvmodels.data.survey import read_survey, survey_metrics
from clvmodels.errors import ConfigError, DataError
from clvmodels.run.prepared import PreparedData
from clvmodels.run.settings import RunSettings
from clvmodels.units import TRANSACTION_UNITS, units_per_year


def seed_metrics(settings: RunSettings, prepared: PreparedData) -> dict[str, float]:
    """The marketers' seed metrics of a transaction summary (calibration window), with the
    survey's (``metrics.survey``); only the survey's without amounts."""
    summary = prepared.summary
    if summary is None or "revenue" not in summary.columns:
        return survey_seed_metrics(settings)
    return {k: float(v) for k, v in seed_metric_series(settings, prepared).items()}


def seed_metric_series(settings: RunSettings, prepared: PreparedData) -> pd.Series:
    """The seed metrics of :func:`clvmodels.metrics.seed_metrics` (with CAC, LTV:CAC and
    the maximum cost per click when ``metrics:`` gives their inputs)."""
    summary = prepared.summary
    if summary is None:
        raise ConfigError("seed metrics need transaction or summary data")
    unit = settings.time_unit
    if unit not in TRANSACTION_UNITS:
        raise ConfigError(f"data.time_unit: seed metrics need D or W, got {unit!r}")
    if "revenue" not in summary.columns:
        raise DataError("seed metrics need per-customer revenue (an amount column)")
    lifespan = settings.seed.lifespan_years
    if prepared.distributed is not None:  # totals of every customer, not of the sample
        totals = prepared.distributed.totals()
        values = metrics.seed_metrics_from_totals(
            totals["customers"],
            totals["orders"],
            totals["revenue"],
            totals["repeat_customers"],
            window_years=totals["max_T"] / units_per_year(unit),
            lifespan_years=lifespan,
        )
    else:
        window_years = float(summary["T"].max()) / units_per_year(unit)
        values = metrics.seed_metrics(summary, window_years=window_years, lifespan_years=lifespan)
    spend, rate = settings.marketing.marketing_spend, settings.marketing.conversion_rate
    if spend is not None:
        cac = metrics.customer_acquisition_cost(spend, int(values["customers"]))
        values["cac"] = cac
        values["clv_minus_cac"] = metrics.clv_minus_cac(values["simple_clv"], cac)
        values["ltv_to_cac"] = metrics.ltv_to_cac(values["simple_clv"], cac)
    if rate is not None:
        values["max_cost_per_click"] = metrics.max_cost_per_click(values["simple_clv"], rate)
    if "products" in summary.columns:  # data.columns.product
        single = int((summary["products"] == 1).sum())
        values["single_product_customers"] = float(single)
        values["multi_product_customers"] = float((summary["products"] >= 2).sum())
        if single:  # else undefined (metrics.upsell_ratio), and left out
            values["upsell_ratio"] = metrics.upsell_ratio(summary["products"])
    return pd.concat([values, pd.Series(survey_seed_metrics(settings), dtype="float64")])


def survey_seed_metrics(settings: RunSettings) -> dict[str, float]:
    """The NPS and customer loyalty index of ``metrics.survey`` (empty without one;
    :func:`clvmodels.data.survey.survey_metrics`)."""
    survey = settings.marketing.survey
    if survey is None:
        return {}
    return survey_metrics(read_survey(survey.source, survey.columns))
