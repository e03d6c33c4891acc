"""The rolling-origin backtest of a configured run (``evaluation.backtest``).

At each origin the run's own steps repeat on a shorter window: the data summarised
with that calibration end and a holdout of the same length after it
(:func:`~clvmodels.run.settings.with_window`), every purchase and spend model refitted
(:func:`~clvmodels.run.fit.fit_models`, reusing the compiled likelihoods), the
challenger retrained, and the holdout evaluation
(:func:`~clvmodels.run.tables.holdout_evaluation`); the tables are gathered by
:func:`clvmodels.evaluation.backtest.rolling_backtest`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

from clvmodels.errors import ConfigError
from clvmodels.evaluation.backtest import (
    BacktestResult,
    holdout_end,
    origin_dates,
    rolling_backtest,
)
from clvmodels.evaluation.challenger import NAME as CHALLENGER
from clvmodels.models import model_info
from clvmodels.progress import Progress
from clvmodels.run import tables
from clvmodels.run.fit import fit_models
from clvmodels.run.prepare import prepare_data
from clvmodels.run.prepared import PreparedData
from clvmodels.run.settings import RunSettings, with_window
from clvmodels.units import days_per_unit


class Steps(Progress, Protocol):
    """A :class:`~clvmodels.progress.Progress` that also runs ``fn(*args)`` as the step
    ``name`` with ``steps(name, fn, *args)`` (the run's timed steps,
    :class:`clvmodels.run.execute._Timed`)."""

    def __call__(self, name: str, fn: Callable[..., Any], *args: Any) -> Any: ...


def backtest_origins(settings: RunSettings, prepared: PreparedData) -> tuple[list[dt.date], float]:
    """The origins (calibration ends) of the run's backtest and its holdout length in
    time units: the configured dates, or ``origins`` dates ``step`` apart ending at the
    split's calibration end; the holdout defaults to the split's."""
    config = settings.evaluation.backtest
    assert config is not None and prepared.summary is not None
    holdout = config.holdout
    if holdout is None:
        if "duration_holdout" not in prepared.summary:
            raise ConfigError("evaluation.backtest.holdout: needed without a holdout split")
        holdout = float(prepared.summary["duration_holdout"].iloc[0])
    if not isinstance(config.origins, int):
        return sorted(dt.date.fromisoformat(str(o)[:10]) for o in config.origins), holdout
    end = settings.data.summary_options.get("calibration_end")
    if end is None:
        raise ConfigError("evaluation.backtest.origins: a number of origins needs a split")
    step = config.step if config.step is not None else holdout / config.origins
    last = dt.date.fromisoformat(str(end)[:10])
    days = step * days_per_unit(settings.time_unit)
    return origin_dates(last, config.origins, days), holdout


def run_backtest(settings: RunSettings, prepared: PreparedData, step: Steps) -> BacktestResult:
    """Refit and evaluate the run's models at every origin (module docstring); each
    origin's summary, fits (each model its own step inside), challenger and evaluation
    are steps of ``step``."""
    origins, holdout = backtest_origins(settings, prepared)
    unit = settings.time_unit
    plans = tuple(p for p in settings.models if model_info(p.key).role != "retention")
    log_end = dt.date.fromisoformat(str(prepared.meta["observation_end"])[:10])

    def evaluate_at(origin: dt.date) -> Any:
        end = holdout_end(origin, holdout, unit)
        data = with_window(settings.data, origin, end)
        at = step(f"backtest origin {origin}: summarize", prepare_data, data)
        fitted = step(f"backtest origin {origin}: fit", fit_models, plans, at, step)
        others = {}
        if settings.evaluation.challenger:
            outcome = step(f"backtest origin {origin}: challenger", tables.challenger, data, at)
            if outcome.forecast is not None:
                others[CHALLENGER] = outcome.forecast
        evaluation = step(
            f"backtest origin {origin}: evaluate",
            tables.holdout_evaluation,
            settings,
            at,
            fitted,
            others,
        )
        return evaluation.table

    return rolling_backtest(origins, evaluate_at, holdout=holdout, time_unit=unit, log_end=log_end)
