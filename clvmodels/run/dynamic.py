"""The time-varying covariates of a configured run: their settings and the panel the
prepare step builds once (Bachmann, Meierer & Näf 2021, "The role of time-varying
contextual factors in latent attrition models for customer base analysis", Marketing
Science 40(4)).

:class:`DynamicSettings` is resolved from ``data.dynamic_covariates`` by
:func:`clvmodels.run.settings.resolve`; :func:`dynamic_panel` reads the long table
(:func:`clvmodels.data.dynamic_table.read_dynamic_covariates`) and/or makes the calendar
(:func:`clvmodels.data.calendar.calendar_table_for`) from the earliest first purchase to
the end of the longest horizon the run predicts over — the CLV horizon or the holdout —
and lays them out per customer and period with the log
(:func:`clvmodels.data.dynamic.panel_from_log`).  A table ending before that horizon is
refused here, in the data layer's words, before any model is fitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.calendar import TABLE_ATTR, calendar_table_for, check_horizon_days, parse_day
from clvmodels.data.dynamic import DynamicPanel, panel_from_log
from clvmodels.data.dynamic_table import read_dynamic_covariates
from clvmodels.data.sources import describe_source
from clvmodels.data.transactions import integer_ids
from clvmodels.errors import ConfigError, DataError
from clvmodels.units import days_per_unit


@dataclass(frozen=True)
class DynamicSettings:
    """``data.dynamic_covariates``, resolved.

    Attributes
    ----------
    source
        The long table (a path or ``builtin:NAME``), or ``None`` (calendar only).
    columns
        The table's covariate columns (``None``: every other column).
    id_column, period_column
        The table's customer and period columns.
    calendar
        Keywords of :func:`clvmodels.data.calendar.calendar_covariates` (plain values;
        ``None``: no calendar).
    horizon
        The CLV horizon in time units; the panel covers it and the holdout.
    wanted
        ``models.<key>.dynamic_covariates.<process>`` -> the covariates it names, to
        check against the data and to keep only those.
    """

    source: str | None
    columns: tuple[str, ...] | None = None
    id_column: str = "customer_id"
    period_column: str = "period_start"
    calendar: Mapping[str, Any] | None = None
    horizon: float = 52.0
    wanted: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Every covariate a model uses, in order of first mention."""
        return list(dict.fromkeys(c for names in self.wanted.values() for c in names))


def dynamic_panel(
    settings: DynamicSettings,
    log: Any,
    summary: pd.DataFrame,
    summary_options: Mapping[str, Any],
    time_unit: str,
    *,
    horizon_key: str = "clv.horizon",
    source_key: str = "data.dynamic_covariates.source",
    calendar_key: str = "data.dynamic_covariates.calendar",
    holdout: bool = True,
) -> tuple[DynamicPanel, dict[str, Any]]:
    """The panel of the summary's customers and its ``manifest.json`` record.

    Parameters
    ----------
    settings, log, summary, summary_options, time_unit
        The resolved ``data.dynamic_covariates``, the transaction log, its summary and
        the options it was made with, and their time unit.
    horizon_key, source_key, calendar_key : str
        Name the horizon, the long table and the calendar in messages (config keys in a
        run, command-line flags in ``clvmodels predict``).
    holdout : bool
        The panel also covers the summary's holdout (``duration_holdout``) when longer
        than the horizon.

    Raises
    ------
    ConfigError
        A model names a covariate the tables do not have; a horizon that is infinite or
        reaches past the calendar's last day
        (:func:`~clvmodels.data.calendar.check_horizon_days`).
    DataError
        As :func:`~clvmodels.data.dynamic_table.read_dynamic_covariates` and
        :func:`~clvmodels.data.dynamic.panel_from_log`; covariates ending before the
        end of the longest horizon
        (:meth:`~clvmodels.data.dynamic.DynamicPanel.check_horizon`).
    """
    meta = summary.attrs.get("clvmodels", {})
    calibration_end = meta.get("calibration_end") or meta["observation_end"]
    horizon = float(settings.horizon)
    check_horizon_days(
        parse_day(calibration_end, "calibration end"), horizon, time_unit, horizon_key
    )
    named = f"{horizon_key} {horizon:g} {time_unit}"
    if holdout and "duration_holdout" in summary and len(summary):
        longest = float(summary["duration_holdout"].max())
        if longest > horizon:
            named = f"the holdout ({longest:g} {time_unit}, longer than {horizon_key} {horizon:g})"
            horizon = longest
    tables = _tables(settings, summary, calibration_end, horizon, time_unit, calendar_key)
    have = [c for t in tables for c in t.columns if c not in ("customer_id", "period_start")]
    for key, names in settings.wanted.items():
        unknown = [c for c in names if c not in have]
        if unknown:
            raise ConfigError(
                f"{key}: {unknown[0]!r} is not a dynamic covariate of the data "
                f"(covariates: {', '.join(have)})"
            )
    panel = panel_from_log(log, summary, tables, names=settings.names, **summary_options)
    source = calendar_key if settings.source is None else f"{source_key} {settings.source}"
    panel.check_horizon(horizon, name=named, source_name=source)  # before any fit
    return panel, _record(settings, panel, horizon)


def _tables(
    settings: DynamicSettings,
    summary: pd.DataFrame,
    calibration_end: str,
    horizon: float,
    time_unit: str,
    calendar_key: str,
) -> list[pd.DataFrame]:
    """The long table and/or the calendar (named ``calendar_key`` in messages), the
    calendar on the table's grid up to the end of ``horizon``."""
    tables = []
    if settings.source is not None:
        tables.append(
            read_dynamic_covariates(
                settings.source,
                time_unit=time_unit,
                id_column=settings.id_column,
                period_column=settings.period_column,
                columns=None if settings.columns is None else list(settings.columns),
            )
        )
    if settings.calendar is not None:
        anchor = tables[0]["period_start"].iloc[0] if tables else None
        calendar = calendar_table_for(
            summary["first_purchase"],
            calibration_end,
            horizon,
            time_unit,
            anchor=anchor,
            **settings.calendar,
        )
        calendar.attrs[TABLE_ATTR] = {"source": calendar_key, "time_unit": time_unit}
        tables.append(calendar)
    return tables


def _record(settings: DynamicSettings, panel: DynamicPanel, horizon: float) -> dict[str, Any]:
    """``manifest.json`` ``data.dynamic_covariates``: the table (with its fingerprint),
    the calendar settings, the covariates and the periods the panel spans."""
    record: dict[str, Any] = {"covariates": list(panel.names), "horizon": horizon}
    if settings.source is not None:  # its fingerprint is added by clvmodels.run.write
        record["source"] = describe_source(settings.source)
        if settings.columns is not None:
            record["columns"] = list(settings.columns)
    if settings.calendar is not None:
        record["calendar"] = dict(settings.calendar)
    starts = panel.period_starts
    record["periods"] = {
        "first": str(starts[0]),
        "calibration": int(panel.n_calibration),
        "last": str(starts[-1]),
    }
    return record


def future_panel(
    processes: Mapping[str, list[str]],
    model_name: str,
    log: str,
    data: pd.DataFrame,
    *,
    data_name: str,
    table: str | None,
    calendar: Mapping[str, Any] | None,
    calibration_end: str | None,
    horizon: float,
    time_unit: str,
    horizon_name: str = "--horizon",
    calendar_name: str = "--calendar",
) -> DynamicPanel:
    """The panel of ``clvmodels predict`` for a model fitted with time-varying covariates
    ``processes``: the customers of the transaction log ``log`` summarised up to
    ``calibration_end``, with the covariates of the long table ``table`` and/or the
    calendar keywords ``calendar`` (of :func:`clvmodels.data.calendar.calendar_covariates`)
    up to the end of ``horizon``.

    ``data`` is the summary to score, as read from ``data_name``: it needs a
    ``customer_id`` column, and its ``T`` must be the panel's.  Without
    ``calibration_end``, that of ``data`` when its ``first_purchase`` and ``T`` tell one
    (a summary of ``clvmodels summarize`` or ``fit``), else the last day of ``log``.

    Raises
    ------
    ConfigError
        No table nor calendar; as :func:`dynamic_panel` (naming ``horizon_name``,
        ``--dynamic-covariates`` and ``calendar_name``).
    DataError
        ``data`` without ``customer_id``; a customer of ``data`` without purchases in
        ``log`` up to the calibration end, or whose ``T`` differs (messages point at
        ``--calibration-end``).
    """
    from clvmodels.data import summarize_transactions

    if table is None and calendar is None:
        raise ConfigError(
            f"{model_name}: give the covariates' values up to the end of the horizon with "
            "--dynamic-covariates TABLE and/or --calendar FILE"
        )
    if "customer_id" not in data.columns:
        raise DataError(
            f"{data_name}: no customer_id column; {model_name} has time-varying covariates, "
            "whose values and purchase periods are found by customer_id in --transactions"
        )
    given = "--calibration-end"
    if calibration_end is None:
        calibration_end = summary_calibration_end(data, time_unit)
        given = "from DATA's first_purchase and T" if calibration_end else "the end of the log"
    options = {"time_unit": time_unit, "calibration_end": calibration_end}
    summary = summarize_transactions(log, **options)
    settings = DynamicSettings(
        source=table,
        calendar=calendar,
        horizon=horizon,
        wanted={f"{model_name}: dynamic_covariates.{p}": tuple(c) for p, c in processes.items()},
    )
    panel, _ = dynamic_panel(
        settings,
        log,
        summary,
        options,
        time_unit,
        horizon_key=horizon_name,
        source_key="--dynamic-covariates",
        calendar_key=calendar_name,
        holdout=False,
    )
    _check_customers(panel, data, data_name, log, given)
    return panel


def summary_calibration_end(data: pd.DataFrame, time_unit: str) -> str | None:
    """The calibration end (``yyyy-mm-dd``) of a summary with ``first_purchase`` and
    ``T``: ``first_purchase + T`` days, when every customer gives the same whole day;
    else ``None``."""
    if not {"first_purchase", "T"} <= set(data.columns) or len(data) == 0:
        return None
    firsts = pd.to_datetime(data["first_purchase"], errors="coerce", format="ISO8601")
    days = pd.to_numeric(data["T"], errors="coerce").to_numpy("float64") * days_per_unit(time_unit)
    if firsts.isna().any() or not np.isfinite(days).all():
        return None
    whole = np.round(days)
    if np.abs(days - whole).max() > 1e-6:
        return None
    ends = firsts.dt.normalize() + pd.to_timedelta(whole, unit="D")
    if ends.nunique() != 1:
        return None
    return str(ends.iloc[0].date())


def _check_customers(
    panel: DynamicPanel, data: pd.DataFrame, data_name: str, log: str, given: str
) -> None:
    """Every customer of ``data`` in the panel, with the panel's ``T``."""
    ids = integer_ids(data["customer_id"].reset_index(drop=True)).astype(str).to_numpy()
    position = pd.Index(panel.customer_ids).get_indexer(ids)
    cal = f"the calibration end {panel.calibration_end} ({given})"
    hint = "pass --calibration-end with DATA's calibration end (a run's split.calibration_end)"
    if (position < 0).any():
        raise DataError(
            f"{data_name}: customer {ids[position < 0][0]} has no purchase in {log} up to "
            f"{cal}; {hint}"
        )
    found = panel.exposure.sum(axis=1)[position]
    expected = pd.to_numeric(data["T"], errors="coerce").to_numpy("float64")
    off = np.abs(found - expected) > 1e-6
    if off.any():
        k = int(np.flatnonzero(off)[0])
        raise DataError(
            f"{data_name}: customer {ids[k]} has T {expected[k]:g} {panel.time_unit}, but "
            f"{found[k]:g} from her first purchase in {log} to {cal}; {hint}"
        )
