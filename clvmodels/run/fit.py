"""Step 2 of a run: fit every configured model, and render the fits as ``params.json``.

Purchase and spend models are fitted on the per-customer summary (the Gamma-Gamma on the
repeat buyers with a positive mean spend), without the customers whose first purchase is
on the last day (:data:`NEW_AT_END`); the sBG on the weighted subscriber rows, once
per cohort (``models.sbg.by_cohort``) or on all cohorts together.  A model with
time-varying covariates also gets the prepared panel (:mod:`clvmodels.run.dynamic`).
With Spark, models are fitted on the distinct rows of the whole distributed summary,
counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from clvmodels.errors import ConfigError
from clvmodels.estimators import ESTIMATORS, Estimator
from clvmodels.models import model_info, model_spec
from clvmodels.progress import SILENT, Progress
from clvmodels.run.prepared import PreparedData
from clvmodels.run.settings import ModelPlan

NEW_AT_END = "customers_new_on_the_last_day_left_out_of_fits"
"""The count of customers whose first purchase is on the last day of the window (``T``
is 0): their likelihood term is 1 whatever the parameters, so the fits leave them out
(the models refuse ``T <= 0``); they are valued as new customers (P(alive) and expected
purchases of a customer just acquired)."""


def fit_models(
    plans: Iterable[ModelPlan], prepared: PreparedData, progress: Progress = SILENT
) -> dict[str, Estimator]:
    """Fit every planned model; keys are model keys (``sbg:<cohort>`` per cohort).

    Each model is the step ``fit <key> (<backend>)`` of ``progress`` (an sBG's cohorts
    one step); a Bayesian sampler draws its progress bar only when
    ``progress.interactive`` (a terminal).
    """
    fitted: dict[str, Estimator] = {}
    for plan in plans:
        kwargs = plan.estimator_kwargs(progress.interactive)
        cls = ESTIMATORS[plan.key]
        with progress.step(f"fit {plan.key} ({plan.backend})", sampler=plan.backend == "bayes"):
            if model_info(plan.key).role == "retention":
                fitted.update(_fit_cohorts(plan, cls, kwargs, prepared))
                continue
            frame = _model_rows(plan.key, prepared)
            if plan.dynamic_covariates:  # the panel's rows are matched by customer_id
                fitted[plan.key] = cls(**kwargs).fit(frame, dynamic=prepared.dynamic)
            else:
                fitted[plan.key] = cls(**kwargs).fit(frame)
    return fitted


def _fit_cohorts(
    plan: ModelPlan, cls: type[Estimator], kwargs: dict[str, Any], prepared: PreparedData
) -> dict[str, Estimator]:
    """The sBG per cohort (``sbg:<cohort>``) or on every subscriber (``sbg``)."""
    if prepared.individual is None:
        raise ConfigError(
            f"models.{plan.key}: needs subscription data (data.kind: survival or subscriptions)"
        )
    if not plan.by_cohort:
        return {plan.key: cls(**kwargs).fit(prepared.individual)}
    return {
        f"{plan.key}:{cohort}": cls(**kwargs).fit(rows)
        for cohort, rows in prepared.individual.groupby("cohort", sort=False)
    }


def _model_rows(key: str, prepared: PreparedData) -> pd.DataFrame:
    """The rows model ``key`` is fitted on, after checking the summary has its columns."""
    info = model_info(key)
    summary = prepared.summary
    if summary is None:
        raise ConfigError(
            f"models.{key}: needs transaction or summary data (data.kind: transactions "
            "or summary), not subscriptions"
        )
    if "litt" in model_spec(key).data_columns and "litt" not in summary.columns:
        raise ConfigError(
            f"models.{key}: the {info.name} needs the summary column 'litt' (the sum of the "
            f"log gaps between purchases), which {prepared.source} lacks; give the "
            "transaction log (data.kind: transactions) or add litt to the summary"
        )
    missing = [c for c in info.history if c not in summary.columns]
    if missing and info.discrete:
        raise ConfigError(
            f"models.{key}: the {info.name} is a discrete-time model and needs a summary "
            f"with columns {', '.join(info.history)} (data.kind: summary)"
        )
    if missing:
        raise ConfigError(
            f"models.{key}: needs columns {', '.join(info.history)} ({missing[0]!r} is missing)"
        )
    spend = info.role == "spend"
    if prepared.distributed is not None:  # unique rows of the whole summary, counted
        return prepared.distributed.fit_rows(
            model_spec(key).data_columns, spend=spend, meta=prepared.meta
        )
    if spend:
        return spend_rows(prepared)
    if "T" not in info.history:
        return summary
    new = (summary["T"] <= 0).to_numpy()
    prepared.counts[NEW_AT_END] = int(new.sum())
    return summary.loc[~new] if new.any() else summary


def spend_rows(prepared: PreparedData) -> pd.DataFrame:
    """The summary without repeat buyers whose mean repeat spend is not positive.

    Refunds netted against purchases (``data.nonpositive``: ``net``, ``net_across_days``
    or ``keep``) can leave a repeat buyer with a mean repeat spend of zero or less,
    outside the Gamma-Gamma's support.  Such customers are left out of the spend fit
    (counted in ``meta["counts"]["spend_fit_excluded_nonpositive"]``) and valued at the
    population mean spend per order, as customers without repeat purchases are.
    """
    summary = prepared.summary
    assert summary is not None
    bad = (summary["frequency"] > 0) & ~(summary["monetary_value"] > 0)
    prepared.counts["spend_fit_excluded_nonpositive"] = int(bad.sum())
    return summary.loc[~bad]


def params_payload(fitted: dict[str, Estimator], level: float = 0.95) -> dict[str, Any]:
    """The ``params.json`` mapping: one entry per fitted model."""
    payload: dict[str, Any] = {}
    for name, estimator in fitted.items():
        result = estimator.result_
        interval = result.conf_int(level)
        payload[name] = {
            "model": result.model,
            "backend": result.backend,
            "params": dict(result.params),
            "log_likelihood": result.log_likelihood,
            "aic": result.aic,
            "bic": result.bic,
            "n_customers": result.n_obs,
            "n_distinct_rows": result.n_unique,
            "std_err": result.std_err,
            "interval": {
                "level": level,
                **{k: [float(lo), float(hi)] for k, (lo, hi) in interval.iterrows()},
            },
            "time_unit": result.time_unit,
            "data_fingerprint": result.data_fingerprint,
            "diagnostics": result.to_dict()["diagnostics"],
        }
    return _finite_json(payload)


def _finite_json(value: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by None."""
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
