"""Step 3 of a subscription run: the value of each cohort's active subscribers and the
projection of its survival beyond the calibration periods against a constant retention
rate (Fader & Hardie 2007, "How to project customer retention", figure 2)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from clvmodels.clv import subscription_values
from clvmodels.errors import ConfigError
from clvmodels.estimators import Estimator
from clvmodels.evaluation import (
    constant_retention_rate,
    projection_summary,
    survival_projection,
    survivor_scores,
)
from clvmodels.models import model_info
from clvmodels.run.prepared import PreparedData
from clvmodels.run.settings import RunSettings

POSTERIOR_DRAWS = 200
"""Posterior draws the survivors' predictive distribution of a Bayesian sBG averages
over."""


def cohort_tables(
    settings: RunSettings, prepared: PreparedData, fitted: dict[str, Estimator]
) -> dict[str, pd.DataFrame]:
    """Per cohort: value of the active customers (``predictions``), the survival
    projection (``survival_projection``) and its summary per model (``evaluation``);
    the last two only with ``split.calibration_periods`` and a fit per cohort (or one
    hierarchical fit with the cohorts as groups)."""
    if prepared.individual is None or prepared.survival_table is None:
        raise ConfigError("models.sbg: needs subscription data")
    k = settings.data.calibration_periods
    values, projections, rows = [], [], []
    for name, model in fitted.items():
        if model_info(model.model_key).role != "retention":
            continue
        for cohort in _cohorts_of(name, model, prepared.individual):
            individual, table = prepared.individual, prepared.survival_table
            if cohort is not None:
                individual = individual[individual["cohort"].astype(str) == cohort]
                table = table[table["cohort"].astype(str) == cohort]
            value = subscription_values(
                model, individual, settings.value, price=settings.valuation.price
            )
            value = value.drop(columns="cohort", errors="ignore")
            value.insert(0, "cohort", cohort if cohort is not None else "all")
            values.append(value)
            if k is None or cohort is None:
                continue
            projection, evaluation = _projection(model, individual, table, k, name, cohort)
            projection.insert(0, "cohort", cohort)
            projections.append(projection)
            rows += evaluation
    out = {"predictions": pd.concat(values, ignore_index=True)}
    if projections:
        out["survival_projection"] = pd.concat(projections, ignore_index=True)
        out["evaluation"] = pd.DataFrame(rows)
    return out


def _cohorts_of(name: str, model: Estimator, individual: pd.DataFrame) -> list[str | None]:
    """The cohorts a fitted sBG values: its own (``sbg:<cohort>``, a fit per cohort),
    every cohort of the data (one hierarchical fit with the cohorts as its groups), or
    all subscribers together (``None``)."""
    if ":" in name:
        return [name.split(":", 1)[1]]
    if (model.result_.hierarchy or {}).get("group") == "cohort":
        return list(dict.fromkeys(individual["cohort"].astype(str)))
    return [None]


def _projection(
    model: Estimator, individual: pd.DataFrame, table: pd.DataFrame, k: int, name: str, cohort: str
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """A cohort's survival projection and its two evaluation rows (the sBG and the
    constant retention rate, by mean absolute percentage error over the holdout)."""
    alive = table.sort_values("period")["alive"].to_numpy(float)
    survival = model.cohort_survival(np.arange(len(alive)), individual)
    retention = constant_retention_rate(individual)
    projection = survival_projection(alive, survival, retention, k)
    errors = projection_summary(projection)
    periods = errors["holdout_periods"]
    constant = retention ** np.arange(len(alive))
    curves = survival
    if model.result_.draws is not None and not model.has_patterns:
        draws = model.result_.parameter_draws(POSTERIOR_DRAWS, np.random.default_rng(0))
        params = {name: np.asarray(v)[:, None] for name, v in draws.items()}
        curves = model.module.survival(np.arange(len(alive)), **params)
    rows = [
        {
            "model": name,
            "cohort": cohort,
            "holdout_periods": periods,
            "mape": errors["sbg_mape"],
            **survivor_scores(alive, curves, k),
        },
        {
            "model": f"constant_retention:{cohort}",
            "cohort": cohort,
            "holdout_periods": periods,
            "mape": errors["constant_mape"],
            **survivor_scores(alive, constant, k),
            "retention_rate": retention,
        },
    ]
    return projection, rows
