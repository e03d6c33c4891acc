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

import pandas as pd

from clvmodels.data.calendar import calendar_table_for
from clvmodels.data.dynamic import DynamicPanel, panel_from_log
from clvmodels.data.dynamic_table import read_dynamic_covariates
from clvmodels.data.sources import describe_source
from clvmodels.errors import ConfigError


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
) -> tuple[DynamicPanel, dict[str, Any]]:
    """The panel of the summary's customers and its ``manifest.json`` record.

    Raises
    ------
    ConfigError
        A model names a covariate the tables do not have.
    DataError
        As :func:`~clvmodels.data.dynamic_table.read_dynamic_covariates` and
        :func:`~clvmodels.data.dynamic.panel_from_log`; covariates ending before the
        end of the longest horizon (:meth:`~clvmodels.data.dynamic.DynamicPanel.future`).
    """
    meta = summary.attrs.get("clvmodels", {})
    calibration_end = meta.get("calibration_end") or meta["observation_end"]
    horizon = float(settings.horizon)
    if "duration_holdout" in summary and len(summary):
        horizon = max(horizon, float(summary["duration_holdout"].max()))
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
        tables.append(
            calendar_table_for(
                summary["first_purchase"],
                calibration_end,
                horizon,
                time_unit,
                anchor=anchor,
                **settings.calendar,
            )
        )
    have = [c for t in tables for c in t.columns if c not in ("customer_id", "period_start")]
    for key, names in settings.wanted.items():
        unknown = [c for c in names if c not in have]
        if unknown:
            raise ConfigError(
                f"{key}: {unknown[0]!r} is not a dynamic covariate of the data "
                f"(covariates: {', '.join(have)})"
            )
    panel = panel_from_log(log, summary, tables, names=settings.names, **summary_options)
    panel.future(horizon, [])  # the data layer's error when the covariates end too soon
    return panel, _record(settings, panel, horizon)


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
    *,
    table: str | None,
    calendar: Mapping[str, Any] | None,
    calibration_end: str | None,
    horizon: float,
    time_unit: str,
) -> DynamicPanel:
    """The panel of ``clvmodels predict`` for a model fitted with time-varying covariates
    ``processes``: the customers of the transaction log ``log`` summarised up to
    ``calibration_end`` (default its last day), with the covariates of the long table
    ``table`` and/or the calendar keywords ``calendar`` (of
    :func:`clvmodels.data.calendar.calendar_covariates`) up to the end of ``horizon``."""
    from clvmodels.data import summarize_transactions

    if table is None and calendar is None:
        raise ConfigError(
            f"{model_name}: give the covariates' values up to the end of the horizon with "
            "--dynamic-covariates TABLE and/or --calendar FILE"
        )
    options = {"time_unit": time_unit, "calibration_end": calibration_end}
    summary = summarize_transactions(log, **options)
    settings = DynamicSettings(
        source=table,
        calendar=calendar,
        horizon=horizon,
        wanted={f"{model_name}: dynamic_covariates.{p}": tuple(c) for p, c in processes.items()},
    )
    panel, _ = dynamic_panel(settings, log, summary, options, time_unit)
    return panel
