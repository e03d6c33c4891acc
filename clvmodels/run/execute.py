"""The main job: one configured run, in a straight line.

``execute(settings)`` runs the steps in order — prepare the data
(:mod:`~clvmodels.run.prepare`), fit every configured model (:mod:`~clvmodels.run.fit`),
then the tables (:mod:`~clvmodels.run.tables`, :mod:`~clvmodels.run.cohorts`): evaluate
the purchase models on the holdout, refit on the whole window if configured, check the
posterior predictions, value every customer.  :func:`clvmodels.run.write.write_run`
then writes the run folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from clvmodels.evaluation import has_holdout
from clvmodels.evaluation.challenger import NAME as CHALLENGER
from clvmodels.progress import SILENT, Progress
from clvmodels.run import tables
from clvmodels.run.backtest import run_backtest
from clvmodels.run.cohorts import cohort_tables
from clvmodels.run.fit import fit_models, params_payload
from clvmodels.run.prepare import prepare_data
from clvmodels.run.prepared import PreparedData
from clvmodels.run.result import RunResult
from clvmodels.run.seed import seed_metrics
from clvmodels.run.settings import RunSettings


class _Timed:
    """A :class:`~clvmodels.progress.Progress` that records how long each step took
    (``manifest.json`` ``steps_seconds``; a step inside another is recorded as
    ``outer / inner``) and shows it on ``progress``; ``timed(name, fn, *args)`` runs
    ``fn(*args)`` as the step ``name``."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}
        self._names: list[str] = []

    @property
    def interactive(self) -> bool:
        return self.progress.interactive

    @contextmanager
    def step(self, name: str, *, sampler: bool = False) -> Iterator[None]:
        self._names.append(name)
        key = " / ".join(self._names)
        started = time.perf_counter()
        try:
            with self.progress.step(name, sampler=sampler):
                yield
        finally:
            self._names.pop()
        self.timings[key] = round(time.perf_counter() - started, 3)

    def __call__(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        with self.step(name):
            return fn(*args)


def execute(settings: RunSettings, progress: Progress = SILENT) -> RunResult:
    """Run every step of a configured run, each a step of ``progress`` (each model's fit
    its own, :func:`~clvmodels.run.fit.fit_models`)."""
    timed = _Timed(progress)
    own = partial(prepare_data, regularity=True)  # the run's data: its regularity is shown
    prepared = timed("load and summarize data", own, settings.data)
    fitted = fit_models(settings.models, prepared, timed)
    result = RunResult(settings, prepared, fitted, payload=params_payload(fitted))
    result.timings = timed.timings
    result.seed_metrics = seed_metrics(settings, prepared)
    if prepared.individual is not None:
        result.tables.update(
            timed("value cohorts and project survival", cohort_tables, settings, prepared, fitted)
        )
    elif settings.valuation.purchase_model is not None:
        _customer_tables(result, timed)
    result.new_customers = tables.new_customer_values(settings, prepared, result.final)
    result.acquisition = tables.acquisition(settings, result.seed_metrics, result.new_customers)
    if "predictions" in result.tables and prepared.summary is not None:
        result.tables.update(tables.customer_actions(result.tables["predictions"], prepared))
    groups = tables.group_effects(result.final)
    if groups is not None:
        result.tables["group_effects"] = groups
    return result


def _customer_tables(result: RunResult, timed: _Timed) -> None:
    """Evaluation, refit, posterior predictive checks, covariate tables and the
    per-customer predictions of a non-contractual run."""
    settings, prepared, fitted = result.settings, result.prepared, result.fitted
    values_from = _evaluate(result, timed) if has_holdout(prepared.summary) else prepared
    if result.choice is None:
        result.choice = tables.model_choice(settings, None, fitted)
    key = result.choice.model
    for name, model in tables.continuous_purchase_models(fitted).items():
        if model.is_dynamic and model.result_.draws is not None:
            result.notes.setdefault("not_available", {})[f"ppc_{name}"] = (
                "no posterior predictive check for a model with time-varying covariates"
            )
        elif model.result_.draws is not None and prepared.summary is not None:
            result.tables[f"ppc_{name}"] = timed(
                f"posterior predictive check {name}",
                tables.posterior_predictive_table,
                settings,
                prepared.summary,
                name,
                model,
            )
    final = result.final
    extra = None
    effects = tables.covariate_effects(final)
    if effects is not None:
        result.tables["covariate_effects"] = effects
        what_if = timed(
            "counterfactual CLV per binary covariate",
            tables.counterfactuals,
            settings,
            values_from,
            final,
            key,
        )
        if what_if is not None:
            result.tables["covariate_lift"] = what_if.lift
            extra = what_if.per_customer
    dynamic = tables.dynamic_effects(final, prepared.dynamic, settings.value.horizon)
    if dynamic is not None:
        result.tables["dynamic_effects"] = dynamic
    sampled = values_from.distributed is not None
    result.tables["predictions"] = timed(
        "predict the sample's customers" if sampled else "predict every customer",
        tables.predictions_table,
        settings,
        values_from,
        final,
        key,
        extra,
    )
    result.grids = tables.history_grids(settings, prepared, final, key)
    if sampled:  # every customer, scored when written
        from clvmodels.run.spark import score_run

        result.distributed = score_run(
            settings,
            values_from.distributed,
            tables.purchase_model(key, final),
            tables.spend_model(final),
            tables.fallback_spend(settings, values_from),
        )


def _evaluate(result: RunResult, timed: _Timed) -> PreparedData:
    """The holdout evaluation's tables and verdict, and with ``split.refit`` the refit
    on the whole window; returns the data the customers are valued on."""
    settings, prepared = result.settings, result.prepared
    others = {}
    if settings.evaluation.challenger:
        outcome = timed("train the challenger", tables.challenger, settings.data, prepared)
        result.notes["challenger"] = outcome.note
        if outcome.forecast is not None:
            others[CHALLENGER] = outcome.forecast
    evaluation = timed(
        "evaluate on the holdout",
        tables.holdout_evaluation,
        settings,
        prepared,
        result.fitted,
        others,
    )
    result.tables["evaluation"] = evaluation.table
    result.tables["conditional_expectations"] = evaluation.conditional_expectations.reset_index()
    if evaluation.tracking is not None:
        result.tables["tracking"] = evaluation.tracking
    result.verdict = evaluation.verdict
    if evaluation.notes:
        result.notes.setdefault("not_available", {}).update(evaluation.notes)
    result.choice = tables.model_choice(settings, evaluation.table, result.fitted)
    for name in ("calibration", "pit"):
        table = getattr(evaluation, name)
        if table is not None:
            result.tables[name] = table
    if settings.evaluation.backtest is not None:
        backtest = run_backtest(settings, prepared, timed)
        result.tables["backtest"] = backtest.per_origin
        result.tables["backtest_summary"] = backtest.summary
        result.notes["backtest"] = {
            "origins": list(dict.fromkeys(backtest.per_origin["origin"])),
            "holdout_ends": list(dict.fromkeys(backtest.per_origin["holdout_end"])),
        }
    if settings.whole_window is None:
        return prepared
    whole = timed("summarize the whole window", prepare_data, settings.whole_window)
    result.refit = timed("refit on the whole window", fit_models, settings.models, whole, timed)
    refit_payload = params_payload(result.refit)
    result.payload.update({f"{k}@whole_window": v for k, v in refit_payload.items()})
    return whole
