"""Helpers of ``clvmodels predict`` (scoring customers with a saved model): the saved
models, the covariate columns a model was fitted with, and the customer ids next to the
scores."""

from __future__ import annotations

from typing import Any

from clvmodels.clv.settings import MIN_DRAWS
from clvmodels.errors import ConfigError, DataError
from clvmodels.units import DAYS_PER_UNIT


def load_models(
    model_file: str, spend_file: str | None, order_value: float | None
) -> tuple[Any, Any]:
    """The saved purchase model and the saved Gamma-Gamma (``None`` without
    ``--spend-model``) of ``clvmodels predict``, after checking each is what it should be
    and that ``--order-value`` does not come with a spend model."""
    from clvmodels.estimators import GammaGamma, load_model
    from clvmodels.models import model_info, model_keys

    model = load_model(model_file)
    if not model_info(model.model_key).is_purchase:
        raise ConfigError(
            f"{model_file}: a {model.model_key} model does not predict purchases; give a "
            f"{', '.join(model_keys('purchase'))} model (and --spend-model for Gamma-Gamma)"
        )
    spend = load_model(spend_file) if spend_file else None
    if spend is not None and not isinstance(spend, GammaGamma):
        raise ConfigError(f"{spend_file}: not a gamma_gamma model")
    if spend is not None and order_value is not None:
        raise ConfigError("--order-value: not with --spend-model, which values each order")
    return model, spend


def with_covariate_columns(
    frame: Any, raw: Any, models: list[Any], data_name: str, covariates: str | None
) -> Any:
    """The summary with the covariate columns the models were fitted with (and the
    group column of a hierarchical model): from the table ``covariates``
    (``--covariates``, joined on customer_id) or else from the data file ``data_name``
    itself (``raw``, as read)."""
    from clvmodels.data import read_table
    from clvmodels.data.covariates import aligned_rows

    needed: list[str] = []
    for model in models:
        encoding = None if model is None else model.result_.covariate_encoding
        needed += [c for c in (encoding or {}).get("columns", []) if c not in needed]
        group = None if model is None else (model.result_.hierarchy or {}).get("group")
        if group is not None and group not in needed:
            needed.append(group)
    if not needed:
        return frame
    frame = frame.copy()
    if covariates:
        if "customer_id" not in frame.columns:
            raise ConfigError(
                f"{data_name}: --covariates are joined on customer_id, which it lacks"
            )
        table = read_table(covariates)
        rows, _ = aligned_rows(table, frame["customer_id"].to_numpy(), covariates, "customer_id")
        source, name = rows, covariates
    else:
        source, name = raw.reset_index(drop=True), data_name
    missing = [c for c in needed if c not in source.columns]
    if missing:
        hint = "" if covariates else "; give them with --covariates FILE"
        raise ConfigError(
            f"{name}: no column {missing[0]!r}, a covariate (or the hierarchy's group) "
            f"the model was fitted with{hint}"
        )
    for column in needed:
        frame[column] = source[column].to_numpy()
    return frame


def with_ids(frame: Any, values: Any) -> Any:
    """Customer ids (when given) next to the predictions, sorted by CLV (by DERT when
    there is no CLV: no spend model nor order value)."""
    table = values.reset_index(drop=True)
    if "customer_id" in frame.columns:
        from clvmodels.data.transactions import integer_ids

        ids = integer_ids(frame["customer_id"].reset_index(drop=True))
        table.insert(0, "customer_id", ids.to_numpy())
    by = next((c for c in ("clv", "dert", "dect", "p_alive") if c in table.columns), None)
    if by is None:
        return table
    return table.sort_values(by, ascending=False, kind="stable").reset_index(drop=True)


SPEND_COLUMNS = ("clv", "expected_spend")
"""The value columns (and their ``_sd``, ``_lower``, ``_upper``) that need a spend per
order: ``clvmodels predict`` leaves them out without ``--spend-model`` or
``--order-value``."""


def without_spend(values: Any) -> Any:
    """``values`` without the columns that need a spend per order (:data:`SPEND_COLUMNS`)."""
    dropped = [c for c in values.columns if c.rpartition("_")[0] in SPEND_COLUMNS]
    return values.drop(columns=[*dropped, *(c for c in SPEND_COLUMNS if c in values.columns)])


TRANSACTION_COLUMNS = ("date", "amount", "order_date", "timestamp", "order_id")
"""Column names that mark a transaction log (one row per purchase) among the columns
of a file given to ``clvmodels predict`` as a per-customer summary."""


def check_summary_columns(raw: Any, data_name: str, info: Any, unit: str) -> None:
    """One line saying what to do when ``raw``, the file ``data_name`` given to
    ``clvmodels predict``, is no per-customer summary the model ``info``
    (:class:`~clvmodels.models.ModelInfo`) can score: a transaction log (it lacks the
    model's history columns and has a date or amount column, a date-typed column or a
    customer on several rows: :class:`ConfigError` giving the command that summarises it
    in the model's time ``unit``), or no ``litt`` for the Erlang-k models
    (:class:`DataError`)."""
    import json
    import shlex
    from pathlib import Path

    import pandas as pd

    history = tuple(info.history)
    if "litt" in history and "litt" not in raw.columns and "frequency" in raw.columns:
        raise DataError(
            f"{data_name}: the {info.name} needs the column 'litt' (the sum of the log gaps "
            "between purchases, which clvmodels summarize writes)"
        )
    if all(c in raw.columns for c in history):
        return
    named = [c for c in raw.columns if str(c).lower() in TRANSACTION_COLUMNS]
    dated = [c for c in raw.columns if pd.api.types.is_datetime64_any_dtype(raw[c])]
    repeated = "customer_id" in raw.columns and raw["customer_id"].duplicated().any()
    if not (named or dated or repeated):
        return
    stem = Path(data_name).stem
    config = shlex.quote(f"{stem}.yaml")
    source = json.dumps(data_name)  # a JSON string is a YAML string
    yaml = f"name: {json.dumps(stem)}\\ndata: {{source: {source}, time_unit: {unit}}}\\n"
    raise ConfigError(
        f"{data_name}: a transaction log (one row per purchase; columns "
        f"{', '.join(map(str, raw.columns[:4]))}), not a per-customer summary "
        f"({', '.join(history)}): summarize it first: printf {shlex.quote(yaml)} > {config} "
        f"&& clvmodels summarize {config} --out {shlex.quote(stem + '_summary.csv')}, then "
        f"predict on {stem}_summary.csv"
    )


def predict_settings(
    unit: str,
    *,
    horizon: str | None,
    discount_rate: float,
    margin: float,
    interval: float | None,
    draws: int,
    threads: int | None,
) -> Any:
    """The :class:`~clvmodels.clv.ValueSettings` of ``clvmodels predict``'s options
    (``horizon`` as typed: a number of time units, ``lifetime`` or ``None``: one year)."""
    from clvmodels import clv

    try:
        length = clv.resolve_horizon(horizon, unit)
    except ValueError:
        raise ConfigError(f"--horizon: expected a number or lifetime, got {horizon!r}") from None
    if interval is not None and draws < MIN_DRAWS:
        raise ConfigError(
            f"--draws: at least {MIN_DRAWS} draws are needed for an interval, got {draws}"
        )
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads: must be at least 1, got {threads}")
    return clv.ValueSettings(
        horizon=length,
        discount_rate=discount_rate,
        margin=margin,
        time_unit=unit,
        interval=interval,
        draws=draws,
        threads=threads,
    )


def value_note(spend_model: str | None, order_value: float | None) -> str:
    """The line ``clvmodels predict`` prints about how an order is valued."""
    if spend_model is not None:
        return f"clv = margin x spend per order of the Gamma-Gamma {spend_model} x DERT"
    if order_value is not None:
        return f"clv = margin x --order-value {order_value:g} per order x DERT"
    return (
        "no --spend-model nor --order-value: no clv or expected_spend columns "
        "(give either to value the customers)"
    )


def predict_panel(model: Any, args: Any, raw: Any, settings: Any, calendar: Any) -> Any:
    """The time-varying covariates of a dynamic model over the horizon of ``settings``
    (resolved in the model's time unit by :func:`predict_settings`), from the options
    ``args`` of ``clvmodels predict`` and its ``--calendar`` as read (one line saying
    what to pass when they are missing)."""
    from clvmodels.run.dynamic import future_panel

    processes = model.result_.dynamic_covariates
    if not args.transactions:
        named = "; ".join(f"{p}: {', '.join(c)}" for p, c in processes.items())
        raise ConfigError(
            f"{args.model}: fitted with time-varying covariates ({named}); give "
            "--transactions LOG (the log DATA was summarised from, with --calibration-end) "
            "and their values over the horizon: --dynamic-covariates TABLE and/or --calendar FILE"
        )
    return future_panel(
        processes,
        args.model,
        args.transactions,
        raw,
        data_name=args.data,
        table=args.dynamic_covariates,
        calendar=calendar,
        calibration_end=args.calibration_end,
        horizon=settings.horizon,
        time_unit=settings.time_unit,
        horizon_name="--horizon" if args.horizon else "--horizon (default one year)",
        calendar_name=f"--calendar {args.calendar}",
    )


def model_time_unit(model: Any, given: str | None, name: str) -> str:
    """The time unit ``clvmodels predict`` values in: the one the model file records;
    ``--time-unit`` only for a model that records none, and refused when it differs (a
    weekly model read in days would value every customer wrong)."""
    recorded = model.result_.time_unit
    if given is not None and given not in DAYS_PER_UNIT:
        raise ConfigError(f"--time-unit: {given!r} is not one of {', '.join(DAYS_PER_UNIT)}")
    if recorded is not None and given not in (None, recorded):
        raise ConfigError(
            f"--time-unit {given}: {name} was fitted in time unit {recorded!r}; leave the "
            "option out (it is read from the model file)"
        )
    unit = recorded or given
    if unit is None:
        raise ConfigError(f"{name}: the model file records no time unit; give --time-unit")
    return unit
