"""Step 3 of a run: the tables users export and the report shows.

``predictions`` (one row per customer, sorted by CLV), the holdout ``evaluation`` with
its conditional expectations and tracking curve, the covariate effects and
counterfactual lifts, the posterior predictive checks, the value of subscription
cohorts with their survival projections, the seed marketing metrics, and the grids of
predictions over purchase histories behind the heat maps.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from clvmodels.clv import (
    HistoryGrid,
    binary_covariates,
    covariate_lift,
    customer_values,
    dynamic_customer_values,
    history_grid,
)
from clvmodels.clv.arrays import PatternLink
from clvmodels.clv.new_customers import (
    NewCustomerValue,
    acquisition_advice,
    new_customer_value,
    new_subscriber_value,
)
from clvmodels.data.dynamic import DynamicPanel
from clvmodels.errors import ConfigError
from clvmodels.estimators import Estimator
from clvmodels.estimators.dynamic import rate_multipliers
from clvmodels.evaluation import (
    HoldoutEvaluation,
    SeedBaseline,
    evaluate_holdout,
    posterior_predictive_counts,
    rfm_table,
)
from clvmodels.evaluation.challenger import ChallengerOutcome, forecast_holdout
from clvmodels.evaluation.holdout import Forecast
from clvmodels.evaluation.selection import ModelChoice, choose_model
from clvmodels.models import model_info
from clvmodels.report.lead import customer_actions as action_lists
from clvmodels.run.prepare import prepare_data
from clvmodels.run.prepared import PreparedData
from clvmodels.run.settings import DataSettings, RunSettings, with_window
from clvmodels.units import units_per_year

SUMMARY_COLUMNS = ("customer_id", "frequency", "recency", "T", "n", "litt", "monetary_value")
HOLDOUT_COLUMNS = ("frequency_holdout", "revenue_holdout")


def spend_model(fitted: dict[str, Estimator]) -> Estimator | None:
    """The fitted spend model (Gamma-Gamma), if any."""
    return next((m for k, m in fitted.items() if model_info(k).role == "spend"), None)


def continuous_purchase_models(fitted: dict[str, Estimator]) -> dict[str, Estimator]:
    """The fitted continuous-time purchase models, in the configured order."""
    return {
        k: m
        for k, m in fitted.items()
        if model_info(m.model_key).is_purchase and not model_info(m.model_key).discrete
    }


def fallback_spend(settings: RunSettings, prepared: PreparedData) -> float:
    """Spend per order without a spend model: the calibration average order value of
    every customer, or ``clv.price`` without amounts."""
    aov = prepared.average_order_value
    return aov if aov is not None else settings.valuation.price


def _summary(prepared: PreparedData) -> pd.DataFrame:
    if prepared.summary is None:
        raise ConfigError("customer predictions need transaction or summary data")
    return prepared.summary


def model_choice(
    settings: RunSettings, table: pd.DataFrame | None, fitted: dict[str, Estimator]
) -> ModelChoice:
    """The model that values the customers: with ``auto`` the best evaluated purchase
    model on ``clv.select_by``; otherwise the configured (or first) one, compared with the
    best; without a holdout (``table`` ``None``) the configured or first one."""
    valuation = settings.valuation
    fallback = ModelChoice(str(valuation.purchase_model), valuation.how)
    if table is None:
        return fallback
    spend = spend_model(fitted)
    rows = {
        f"{key}+gamma_gamma" if spend is not None else key: key
        for key in continuous_purchase_models(fitted)
    }
    configured = None if valuation.how == "auto" else valuation.purchase_model
    choice = choose_model(table, rows, valuation.select_by, configured, valuation.how)
    if choice is None:
        return ModelChoice(str(valuation.purchase_model), valuation.how, valuation.select_by)
    return choice


def purchase_model(key: str | None, fitted: dict[str, Estimator]) -> Estimator:
    """The fitted model ``key`` that values the customers."""
    if key is None or key not in fitted:
        raise ConfigError(
            "clv: predicting customer value needs a purchase model under models:; "
            "gamma_gamma alone models spend only"
        )
    return fitted[key]


def predictions_table(
    settings: RunSettings,
    prepared: PreparedData,
    fitted: dict[str, Estimator],
    key: str,
    extra: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per customer: history, covariates, P(alive), expected purchases and
    spend, CLV with its interval, the counterfactual CLVs (``extra``, on the summary's
    index), the seed formula's CLV (``baseline_clv``: its own lifespan, undiscounted;
    ``baseline_clv_horizon``: the model's horizon and discounting, :func:`seed_comparison`),
    RFM score and segment (and holdout actuals after a
    split), sorted by CLV, highest first."""
    summary = _summary(prepared)
    model = purchase_model(key, fitted)
    value = customer_values
    if model.is_dynamic:  # DECT over the horizon with the future covariates (clv.dynamic)
        value = partial(dynamic_customer_values, panel=prepared.dynamic)
    values = value(
        model,
        summary,
        settings.value,
        spend=spend_model(fitted),
        fallback_spend=fallback_spend(settings, prepared),
    )
    columns = [c for c in SUMMARY_COLUMNS if c in summary.columns]
    if settings.data.covariates is not None:
        columns += [c for c in settings.data.covariates.columns if c in summary.columns]
    # the values are indexed by customer_id, in the summary's row order
    table = summary[columns].copy().join(values.set_axis(summary.index))
    if extra is not None:
        table = table.join(extra.set_axis(summary.index))
    if "revenue" in summary.columns and "T" in summary.columns:
        seed = settings.seed
        baseline = SeedBaseline(
            seed.level, seed.lifespan_years, settings.time_unit, seed.segments
        ).fit(summary)
        terms = settings.value
        table["baseline_clv"] = baseline.clv(terms.margin).to_numpy()
        table["baseline_clv_horizon"] = baseline.clv_on_horizon(
            float(terms.horizon), terms.discount_rate, terms.margin
        ).to_numpy()
        rfm = rfm_table(summary, settings.seed.segments)
        table["rfm_score"] = rfm["rfm_score"].to_numpy()
        table["rfm_segment"] = rfm["rfm_segment"].astype(str).to_numpy()
    for column in HOLDOUT_COLUMNS:
        if column in summary.columns:
            table[column] = summary[column].to_numpy()
    table = table.sort_values("clv", ascending=False, kind="stable").reset_index(drop=True)
    table.attrs = dict(values.attrs)  # the total CLV and its interval (customer_values)
    return table


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


def group_effects(fitted: dict[str, Estimator], level: float = 0.95) -> pd.DataFrame | None:
    """One row per grouped parameter and group (and the population's rows) of every
    hierarchical model (:meth:`~clvmodels.estimators.Estimator.group_effects`;
    ``None`` without one)."""
    tables = [
        model.group_effects(level).reset_index().assign(model=name)
        for name, model in fitted.items()
        if model.result_.hierarchy
    ]
    if not tables:
        return None
    table = pd.concat(tables, ignore_index=True)
    return table[["model", *[c for c in table.columns if c != "model"]]]


@dataclass
class Counterfactuals:
    """Counterfactual CLV per binary covariate (:mod:`clvmodels.clv.counterfactual`)."""

    per_customer: pd.DataFrame
    lift: pd.DataFrame


def dynamic_effects(
    fitted: dict[str, Estimator],
    panel: DynamicPanel | None,
    horizon: float,
    level: float = 0.95,
) -> pd.DataFrame | None:
    """The rate multipliers per calendar period of every model with time-varying
    covariates (:func:`clvmodels.estimators.dynamic.rate_multipliers`), over the
    calibration and the CLV horizon; ``None`` without such a model."""
    frames = [
        rate_multipliers(model.result_, panel, horizon, level).assign(model=name)
        for name, model in fitted.items()
        if model.is_dynamic and panel is not None
    ]
    return pd.concat(frames, ignore_index=True) if frames else None


def counterfactuals(
    settings: RunSettings, prepared: PreparedData, fitted: dict[str, Estimator], key: str
) -> Counterfactuals | None:
    """CLV with each binary covariate on and off for every customer, and the average
    lift per group with its interval (``clv.counterfactuals``; default every binary
    covariate of the purchase and spend models; ``None`` when there is none)."""
    summary = _summary(prepared)
    purchase, spend = purchase_model(key, fitted), spend_model(fitted)
    binary = binary_covariates([purchase, spend], summary)
    wanted = settings.valuation.counterfactuals
    if wanted is None:
        wanted = tuple(binary)
    for column in wanted:
        if column not in binary:
            raise ConfigError(
                f"clv.counterfactuals: {column!r} is not a binary covariate of "
                f"{purchase.model_key}{' or gamma_gamma' if spend is not None else ''}"
            )
    if not wanted:
        return None
    per_customer, lifts = [], []
    for column in wanted:
        values, lift = covariate_lift(
            purchase,
            summary,
            settings.value,
            column,
            spend=spend,
            fallback_spend=fallback_spend(settings, prepared),
        )
        per_customer.append(values)
        lifts.append(lift.reset_index().assign(covariate=column))
    lift_table = pd.concat(lifts, ignore_index=True)
    lift_table = lift_table[["covariate", *[c for c in lift_table.columns if c != "covariate"]]]
    return Counterfactuals(pd.concat(per_customer, axis=1), lift_table)


def holdout_evaluation(
    settings: RunSettings,
    prepared: PreparedData,
    fitted: dict[str, Estimator],
    others: Mapping[str, Forecast] | None = None,
) -> HoldoutEvaluation:
    """Every continuous-time purchase model, the ``others`` (the challenger), the seed
    formula and the zero reference scored on the holdout
    (:func:`clvmodels.evaluation.evaluate_holdout`)."""
    return evaluate_holdout(
        _summary(prepared),
        continuous_purchase_models(fitted),
        time_unit=settings.time_unit,
        spend=spend_model(fitted),
        average_order_value=prepared.average_order_value,
        seed=settings.seed,
        daily_repeats=prepared.meta.get("repeat_transactions_per_day"),
        observation_end=prepared.meta.get("observation_end"),
        others=others,
        rng=np.random.default_rng(settings.valuation.seed),
        dynamic=prepared.dynamic,
    )


def challenger(data: DataSettings, prepared: PreparedData) -> ChallengerOutcome:
    """The machine-learning challenger trained on the run's own log before the
    calibration end (:func:`clvmodels.evaluation.challenger.forecast_holdout`)."""
    summary = prepared.summary
    end = data.summary_options.get("calibration_end")
    if data.kind != "transactions" or summary is None or end is None:
        return ChallengerOutcome(None, "needs a transaction log with a calibration end")
    if data.engine == "spark":
        return ChallengerOutcome(None, "not trained with the Spark engine")
    data = dataclasses.replace(data, dynamic=None)  # it reads the summaries only

    def window(calibration_end: dt.date, observation_end: dt.date) -> pd.DataFrame:
        early = prepare_data(with_window(data, calibration_end, observation_end)).summary
        assert early is not None
        return early

    covariates = () if data.covariates is None else data.covariates.columns
    end_day = dt.date.fromisoformat(str(end)[:10])
    return forecast_holdout(summary, window, end_day, data.time_unit, covariates)


def posterior_predictive_table(
    settings: RunSettings, summary: pd.DataFrame, key: str, model: Estimator
) -> pd.DataFrame:
    """The posterior predictive check of a Bayesian continuous-time purchase model
    (:func:`clvmodels.evaluation.posterior_predictive_counts`)."""
    result = model.result_
    assert result.draws is not None
    draws = {**result.draws, **{k: result.draws[v] for k, v in result.tied.items()}}
    return posterior_predictive_counts(
        key,
        draws,
        summary["T"].to_numpy(float),
        summary["frequency"].to_numpy(),
        np.random.default_rng(settings.valuation.seed),
        link=PatternLink.of(model, summary),
    )


def history_grids(
    settings: RunSettings, prepared: PreparedData, fitted: dict[str, Estimator], key: str
) -> list[HistoryGrid]:
    """P(alive) and expected purchases over purchase histories of the valuing model, for
    a customer observed as long as the longest-observed one (continuous-time models whose
    predictions read ``frequency, recency, T`` only: the Pareto/GGG's also read the
    customer's regularity, ``litt``, which a frequency × recency grid does not fix)."""
    summary = prepared.summary
    if key is None or key not in fitted or summary is None or "T" not in summary:
        return []
    if model_info(key).discrete or model_info(key).history != ("frequency", "recency", "T"):
        return []
    if fitted[key].is_dynamic:  # a history's future depends on its calendar periods too
        return []
    T = float(summary["T"].max())
    return [history_grid(fitted[key], T, settings.value.count_horizon)]


def new_customer_values(
    settings: RunSettings, prepared: PreparedData, fitted: dict[str, Estimator]
) -> dict[str, NewCustomerValue]:
    """The value of a customer acquired today under every purchase model and every sBG
    (:mod:`clvmodels.clv.new_customers`); models with time-varying covariates are left
    out (a newcomer's future covariates are unknown)."""
    out = {}
    for name, model in fitted.items():
        info = model_info(model.model_key)
        if info.role == "retention":
            price = settings.valuation.price
            out[name] = new_subscriber_value(
                model, settings.value, price=price, individual=prepared.individual
            )
        elif info.is_purchase and not model.is_dynamic:
            out[name] = new_customer_value(
                model,
                settings.value,
                spend=spend_model(fitted),
                fallback_spend=fallback_spend(settings, prepared),
                summary=prepared.summary,
            )
    return out


def acquisition(
    settings: RunSettings, seed: Mapping[str, float], values: Mapping[str, NewCustomerValue]
) -> dict[str, dict[str, float | None]]:
    """Per model, the most a new customer and a click may cost, with the actual CAC
    when ``metrics.marketing_spend`` is given (the window's customers as the new ones;
    :func:`clvmodels.clv.new_customers.acquisition_advice`)."""
    m = settings.marketing
    return {
        name: acquisition_advice(
            value.clv,
            ltv_cac_ratio=m.ltv_cac_ratio,
            conversion_rate=m.conversion_rate,
            marketing_spend=m.marketing_spend,
            new_customers=seed.get("customers"),
        )
        for name, value in values.items()
    }


def customer_actions(predictions: pd.DataFrame, prepared: PreparedData) -> dict[str, pd.DataFrame]:
    """``top_customers`` and ``at_risk_customers`` of the report's first section
    (:func:`clvmodels.report.lead.customer_actions`), past revenue from the summary."""
    return action_lists(predictions, _summary(prepared))


def seed_comparison(settings: RunSettings) -> dict[str, object]:
    """``manifest.json`` ``seed_comparison``: what the seed formula's columns of
    ``predictions.csv`` are, so that the report can say it (horizons in years and time
    units, discounting, margin, and how the RFM segments are cut)."""
    terms, seed, unit = settings.value, settings.seed, settings.time_unit
    lifetime = not math.isfinite(terms.horizon)
    horizon = seed.lifespan_years * units_per_year(unit) if lifetime else float(terms.horizon)
    return {
        "level": seed.level,
        "segments": seed.segments,
        "margin": terms.margin,
        "baseline_clv": {
            "horizon_years": seed.lifespan_years,
            "discounted": False,
            "formula": "margin × AOV × purchases per year × lifespan_years",
        },
        "baseline_clv_horizon": {
            "horizon": horizon,
            "time_unit": unit,
            "horizon_years": horizon / units_per_year(unit),
            "lifetime_as_lifespan": lifetime,
            "discount_rate": terms.discount_rate,
            "discounting": "continuous, as the model's DERT",
            "formula": "margin × AOV × rate × (1 − exp(−δH)) / δ",
        },
    }
