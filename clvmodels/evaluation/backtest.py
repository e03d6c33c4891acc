"""Rolling-origin backtests: the holdout evaluation repeated at several calibration ends.

At every origin (calibration end) ``c_j`` the log is summarised with the calibration
window ending at ``c_j`` and a holdout of the same length ``H`` after it, every model is
refitted on that window and scored on that holdout with the metrics of
:func:`clvmodels.evaluation.evaluate_holdout` (Tashman 2000, "Out-of-sample tests of
forecasting accuracy: an analysis and review", International Journal of Forecasting
16(4): rolling origins with a fixed horizon).  The spread of a metric over the origins
says how much a single split's verdict can be trusted.

:func:`backtest` is the Python API on a transaction log; a configured run
(``evaluation.backtest``) goes through :func:`rolling_backtest` with its own data and
fitting steps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clvmodels import metrics
from clvmodels.data import summarize_transactions
from clvmodels.errors import ConfigError
from clvmodels.estimators import Estimator
from clvmodels.evaluation.challenger import NAME as CHALLENGER
from clvmodels.evaluation.challenger import forecast_holdout
from clvmodels.evaluation.holdout import evaluate_holdout
from clvmodels.units import days_per_unit


@dataclass(frozen=True)
class BacktestResult:
    """A backtest's scores.

    Attributes
    ----------
    per_origin
        One row per origin and forecaster: ``origin`` (the calibration end),
        ``holdout_end``, ``model`` and the columns of the evaluation table.
    summary
        One row per forecaster and metric: ``mean``, ``sd`` (over origins, ``ddof=1``;
        NaN with one origin), ``min``, ``max`` and the number of ``origins`` it was
        scored at.
    """

    per_origin: pd.DataFrame
    summary: pd.DataFrame


def origin_dates(last: dt.date, count: int, step_days: float) -> list[dt.date]:
    """``count`` calibration ends, the last one ``last``, ``step_days`` apart."""
    if count < 1:
        raise ConfigError(f"backtest: at least one origin is needed, got {count}")
    step = dt.timedelta(days=round(step_days))
    if count > 1 and step.days < 1:
        raise ConfigError("backtest: origins must be at least one day apart")
    return [last - step * (count - 1 - j) for j in range(count)]


def holdout_end(origin: dt.date, holdout: float, time_unit: str) -> dt.date:
    """The end of the holdout of ``holdout`` time units after ``origin``."""
    return origin + dt.timedelta(days=round(holdout * days_per_unit(time_unit)))


def rolling_backtest(
    origins: Sequence[dt.date],
    evaluate_at: Callable[[dt.date], pd.DataFrame],
    *,
    holdout: float,
    time_unit: str,
    log_end: dt.date | None = None,
) -> BacktestResult:
    """Evaluate at every origin (``evaluate_at(origin)`` gives that origin's evaluation
    table) and summarise; an origin whose holdout would end after ``log_end`` (the end
    of the log) is an error, since its holdout would count purchases nobody recorded."""
    origins = sorted(origins)
    for origin in origins:
        end = holdout_end(origin, holdout, time_unit)
        if log_end is not None and end > log_end:
            raise ConfigError(
                f"backtest: the origin {origin} with a holdout of {holdout:g} {time_unit} "
                f"ends {end}, after the end of the log {log_end}"
            )
    tables = []
    for origin in origins:
        table = evaluate_at(origin)
        end = holdout_end(origin, holdout, time_unit)
        tables.append(table.assign(origin=origin.isoformat(), holdout_end=end.isoformat()))
    per_origin = pd.concat(tables, ignore_index=True)
    first = ["origin", "holdout_end", "model"]
    per_origin = per_origin[[*first, *[c for c in per_origin.columns if c not in first]]]
    return BacktestResult(per_origin, summarize_backtest(per_origin))


def summarize_backtest(per_origin: pd.DataFrame) -> pd.DataFrame:
    """Mean, spread and range of every metric of every forecaster over the origins
    (:class:`BacktestResult` ``summary``), forecasters in their first order."""
    metric_columns = [c for c in per_origin.columns if c not in ("origin", "holdout_end", "model")]
    long = per_origin.melt(id_vars=["model"], value_vars=metric_columns, var_name="metric")
    long = long.dropna(subset=["value"])
    grouped = long.groupby(["model", "metric"], sort=False)["value"]
    summary = grouped.agg(["mean", "std", "min", "max", "count"]).reset_index()
    summary = summary.rename(columns={"std": "sd", "count": "origins"})
    order = {m: i for i, m in enumerate(dict.fromkeys(per_origin["model"]))}
    metric_order = {m: i for i, m in enumerate(metric_columns)}
    keys = summary["model"].map(order) * len(metric_order) + summary["metric"].map(metric_order)
    return summary.iloc[np.argsort(keys.to_numpy(), kind="stable")].reset_index(drop=True)


def backtest(
    transactions: Any,
    models: Mapping[str, Estimator],
    *,
    origins: Sequence[Any],
    holdout: float,
    time_unit: str = "W",
    spend: Estimator | None = None,
    challenger: bool = True,
    progress: Callable[[str], None] | None = None,
    **summary_options: Any,
) -> BacktestResult:
    """Rolling-origin backtest of purchase ``models`` on a transaction log.

    Parameters
    ----------
    transactions
        The log, as :func:`clvmodels.data.summarize_transactions` takes it (DataFrame,
        path, ``builtin:NAME``, SQL source).
    models
        Name -> an (unfitted) estimator of a continuous-time purchase model; refitted
        (a fresh copy, :meth:`~clvmodels.estimators.base.Estimator.clone`) at every
        origin.
    origins
        The calibration ends (dates or ISO strings).
    holdout
        The holdout length, in ``time_unit``.
    spend
        An (unfitted) Gamma-Gamma estimator valuing the purchases, refitted likewise.
    challenger
        Also train and score the machine-learning challenger at each origin.
    progress
        Called with a line per origin (e.g. ``print``).
    **summary_options
        Further options of :func:`~clvmodels.data.summarize_transactions`
        (``customer_id``, ``date``, ``amount``, ``merge_same_day``, ``nonpositive``).
    """
    for name in ("calibration_end", "observation_end", "time_unit"):
        if name in summary_options:
            raise ConfigError(f"backtest: {name} is set by the backtest, not as an option")

    def window(calibration_end: dt.date, observation_end: dt.date) -> pd.DataFrame:
        return summarize_transactions(
            transactions,
            calibration_end=calibration_end,
            observation_end=observation_end,
            time_unit=time_unit,
            after_observation_end="drop",
            **summary_options,
        )

    def evaluate_at(origin: dt.date) -> pd.DataFrame:
        if progress is not None:
            progress(f"backtest: origin {origin} ({holdout:g} {time_unit} holdout)")
        summary = window(origin, holdout_end(origin, holdout, time_unit))
        rows = summary.loc[summary["T"] > 0]  # new on the last day: no information
        fitted = {name: model.clone().fit(rows) for name, model in models.items()}
        spend_fit = None
        if spend is not None:
            repeat = rows.loc[(rows["frequency"] > 0) & (rows["monetary_value"] > 0)]
            spend_fit = spend.clone().fit(repeat)
        others = {}
        if challenger:
            outcome = forecast_holdout(summary, window, origin, time_unit)
            if outcome.forecast is not None:
                others[CHALLENGER] = outcome.forecast
        aov = None
        if "revenue" in summary:
            orders = float((summary["frequency"] + 1.0).sum())
            aov = float(metrics.average_order_value(float(summary["revenue"].sum()), orders))
        evaluation = evaluate_holdout(
            summary,
            fitted,
            time_unit=time_unit,
            spend=spend_fit,
            average_order_value=aov,
            others=others,
        )
        return evaluation.table

    whole = summarize_transactions(transactions, time_unit=time_unit, **summary_options)
    log_end = dt.date.fromisoformat(whole.attrs["clvmodels"]["observation_end"])
    dates = [dt.date.fromisoformat(str(o)[:10]) for o in origins]
    return rolling_backtest(
        dates, evaluate_at, holdout=holdout, time_unit=time_unit, log_end=log_end
    )
