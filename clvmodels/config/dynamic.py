"""What the keys of time-varying covariates must satisfy (Bachmann, Meierer & Näf 2021,
"The role of time-varying contextual factors in latent attrition models for customer
base analysis", Marketing Science 40(4)): ``data.dynamic_covariates`` (a long table
and/or a calendar) and ``models.<key>.dynamic_covariates`` (covariates per process).

Every error is one line naming the key.  The covariate names a model asks for are
checked here when the config alone tells them (the calendar's columns, a table's
``columns``); the names of a table read without ``columns`` are checked when the run
reads it (:mod:`clvmodels.run.dynamic`).
"""

from __future__ import annotations

import dataclasses
import importlib
import math

from clvmodels.config.schema import RunConfig
from clvmodels.config.schema_data import CalendarConfig
from clvmodels.config.schema_models import ModelConfig
from clvmodels.data.calendar import calendar_covariates, check_horizon_days, parse_day
from clvmodels.errors import ConfigError, echo
from clvmodels.models import model_info, model_keys

DATA_KEY = "data.dynamic_covariates"


def calendar_options(calendar: CalendarConfig) -> dict[str, object]:
    """The keywords of :func:`clvmodels.data.calendar.calendar_covariates` that are set."""
    return {
        f.name: getattr(calendar, f.name)
        for f in dataclasses.fields(calendar)
        if getattr(calendar, f.name) is not None
    }


def calendar_names(calendar: CalendarConfig, time_unit: str) -> list[str]:
    """The covariate columns the calendar makes (its settings checked on one period)."""
    options = calendar_options(calendar)
    if not options:
        raise ConfigError(
            f"{DATA_KEY}.calendar: no covariate asked for; give seasonality, high_season, "
            "campaigns or holidays"
        )
    try:
        table = calendar_covariates("2001-01-01", 1, time_unit, **options)
    except ConfigError as exc:  # its message starts with calendar.<key>
        raise ConfigError(f"{DATA_KEY}.{exc}") from None
    return [c for c in table.columns if c != "period_start"]


def known_names(config: RunConfig) -> list[str] | None:
    """The dynamic covariates the data will have, or ``None`` when a table's columns are
    only known once it is read."""
    block = config.data.dynamic_covariates
    assert block is not None
    names = [] if block.calendar is None else calendar_names(block.calendar, config.data.time_unit)
    if block.source is not None:
        if block.columns is None:
            return None
        names += block.columns
    return names


def check_dynamic(config: RunConfig) -> None:
    """Raise :class:`ConfigError` naming the key for the first rule the dynamic
    covariate keys break (module docstring)."""
    block = config.data.dynamic_covariates
    if block is not None:
        _check_data(config)
    names = None if block is None else known_names(config)
    for key, model in config.models.items():
        if model.dynamic_covariates is not None:
            _check_model(config, key, model, names)
    if block is not None and not any(m.dynamic_covariates for m in config.models.values()):
        raise ConfigError(
            f"{DATA_KEY}: no model uses them; set models.<key>.dynamic_covariates "
            "(paretonbd, bgnbd)"
        )


def _check_data(config: RunConfig) -> None:
    data = config.data
    block = data.dynamic_covariates
    assert block is not None
    if data.kind != "transactions":
        raise ConfigError(
            f"{DATA_KEY}: need a transaction log (data.kind: transactions) to place "
            f"purchases in calendar periods; data.kind is {echo(data.kind)}"
        )
    if data.engine == "spark":
        raise ConfigError(f"{DATA_KEY}: not supported with data.engine: spark")
    if data.time_unit not in ("D", "W"):
        raise ConfigError(
            f"data.time_unit: dynamic covariates change per day or week (D or W), "
            f"got {echo(data.time_unit)}"
        )
    if block.source is None and block.calendar is None:
        raise ConfigError(f"{DATA_KEY}: give a source (a long table), a calendar, or both")
    if block.source is None and block.columns is not None:
        raise ConfigError(f"{DATA_KEY}.columns: chooses columns of a source, which is not set")
    if block.columns is not None:
        if not block.columns:
            raise ConfigError(f"{DATA_KEY}.columns: list at least one column")
        twice = [c for i, c in enumerate(block.columns) if c in block.columns[:i]]
        if twice:
            raise ConfigError(f"{DATA_KEY}.columns: column {echo(twice[0])} is listed twice")
    horizon = config.clv.horizon
    if horizon == "lifetime" or (isinstance(horizon, float) and not math.isfinite(horizon)):
        raise ConfigError(
            "clv.horizon: lifetime needs covariate values for ever; with "
            f"{DATA_KEY} give a number of time units covered by them"
        )
    if config.split.calibration_end is not None and isinstance(horizon, float) and horizon > 0:
        end = parse_day(config.split.calibration_end, "split.calibration_end")
        check_horizon_days(end, horizon, data.time_unit, "clv.horizon")


def _check_model(config: RunConfig, key: str, model: ModelConfig, names: list[str] | None) -> None:
    path = f"models.{key}.dynamic_covariates"
    info = model_info(key)
    if info.dynamic is None:
        owners = [k for k in model_keys() if model_info(k).dynamic is not None]
        raise ConfigError(
            f"{path}: the {info.name} takes no time-varying covariates "
            f"(models that do: {', '.join(owners)})"
        )
    if config.data.dynamic_covariates is None:
        raise ConfigError(f"{path}: needs {DATA_KEY} (a source and/or a calendar)")
    if model.covariates:
        raise ConfigError(
            f"{path}: not together with models.{key}.covariates; put customer-level "
            "covariates in the dynamic covariate table (a column constant over time)"
        )
    for name, allowed in (("method", ("nuts",)), ("sampler", ("auto", "pymc"))):
        if getattr(model, name) not in allowed:
            raise ConfigError(
                f"models.{key}.{name}: a model with dynamic_covariates samples with "
                "method: nuts, sampler: pymc"
            )
    processes = importlib.import_module(info.dynamic).PROCESSES
    chosen = [c for columns in model.dynamic_covariates.values() for c in columns]
    if not chosen:
        raise ConfigError(f"{path}: list at least one covariate of a process")
    for process, columns in model.dynamic_covariates.items():
        where = f"{path}.{process}"
        if process not in processes:
            raise ConfigError(
                f"{where}: the {info.name} has no such process taking time-varying "
                f"covariates (processes: {', '.join(processes)})"
            )
        twice = [c for i, c in enumerate(columns) if c in columns[:i]]
        if twice:
            raise ConfigError(f"{where}: covariate {echo(twice[0])} is listed twice")
        unknown = [c for c in columns if names is not None and c not in names]
        if unknown:
            raise ConfigError(
                f"{where}: {echo(unknown[0])} is not a dynamic covariate of the data "
                f"(covariates: {', '.join(names or []) or 'none'})"
            )
