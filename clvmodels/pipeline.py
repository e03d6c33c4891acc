"""Steps of a configured run, as library functions the CLI and notebooks call.

``prepare_data(config)`` turns the configured source into canonical frames;
``fit_models(config, prepared)`` fits every configured model; ``params_payload``
renders the fits as the ``params.json`` mapping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from clvmodels import data as clvdata
from clvmodels import metrics
from clvmodels.config import ModelConfig, RunConfig, SqlSourceConfig, model_covariates
from clvmodels.data import covariates
from clvmodels.data.sources import Source
from clvmodels.data.sql import FINGERPRINT_ATTR, SqlSource
from clvmodels.errors import ConfigError, DataError
from clvmodels.estimators import ESTIMATORS, Estimator
from clvmodels.models import model_spec
from clvmodels.units import units_per_year

PURCHASE_MODELS = ("bgnbd", "paretonbd", "mbgnbd", "gamma_gamma")


@dataclass
class PreparedData:
    """Canonical frames of a run's input.

    Attributes
    ----------
    kind
        The configured ``data.kind``.
    source
        Description of the source for messages (``builtin:cdnow_sample``, a path; for
        SQL ``data.source (postgresql://user:***@host/db)``).
    summary
        Per-customer summary (transactions and summary inputs).
    survival_table
        Cohort survival counts ``cohort, period, alive`` (survival and subscriptions).
    individual
        Weighted ``cohort, tenure, churned, count`` rows the sBG is fitted on.
    meta
        Counts and settings recorded by the data layer (rows dropped/merged, ...).
    input
        For a SQL source, its ``manifest.json`` record: ``source`` (the masked URL),
        ``query`` and ``fingerprint`` (of the rows as read); empty for files.
    distributed
        With ``data.engine: spark``, the whole per-customer summary kept in Spark
        (:class:`clvmodels.spark.pipeline.DistributedSummary`); ``summary`` is then a
        uniform random sample of it (``spark.evaluation_sample`` customers).
    """

    kind: str
    source: str
    summary: pd.DataFrame | None = None
    survival_table: pd.DataFrame | None = None
    individual: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    input: dict[str, str] = field(default_factory=dict)
    distributed: Any = None


def input_source(config: RunConfig, value: str | SqlSourceConfig, key: str) -> Source:
    """A configured source as the data layer takes it: a :class:`SqlSource` (named ``key``
    in messages) for a SQL mapping, else the resolved path or ``builtin:NAME``."""
    if isinstance(value, SqlSourceConfig):
        return SqlSource(sql=value.sql, url=value.url, url_env=value.url_env, key=key)
    return value if value.startswith("builtin:") else str(config.resolve_path(value))


def _sql_record(source: Source, fingerprint: str | None) -> dict[str, str]:
    if not isinstance(source, SqlSource) or fingerprint is None:
        return {}
    return {"source": source.masked_url(), "query": source.sql, "fingerprint": fingerprint}


def prepare_data(config: RunConfig) -> PreparedData:
    """Load and validate the configured data source into canonical frames."""
    d, split = config.data, config.split
    source = input_source(config, d.source, "data.source")
    name = clvdata.describe_source(source)
    if d.kind == "transactions":
        columns = {"customer_id": "customer_id", "date": "date", "amount": "amount"}
        columns.update(d.columns)
        _only_keys(columns, {"customer_id", "date", "amount"}, "data.columns")
        options = {
            "customer_id": columns["customer_id"],
            "date": columns["date"],
            "amount": columns["amount"] or None,
            "time_unit": d.time_unit,
            "observation_end": split.observation_end,
            "calibration_end": split.calibration_end,
            "merge_same_day": d.merge_same_day,
            "nonpositive": d.nonpositive,
            "after_observation_end": d.after_observation_end,
        }
        if d.engine == "spark":
            try:
                from clvmodels.spark.pipeline import prepare_spark
            except ImportError:
                raise ConfigError(
                    "data.engine: spark needs pyspark: pip install 'clvmodels[spark]'"
                ) from None
            return prepare_spark(config, source, options)
        summary = clvdata.summarize_transactions(
            source,
            **options,
            engine=d.engine,
            memory_limit=d.duckdb_memory_limit,
            threads=d.duckdb_threads,
            temp_directory=d.duckdb_temp_directory,
        )
        meta = dict(summary.attrs.get("clvmodels", {}))
        record = _sql_record(source, meta.pop("input_fingerprint", None))
        summary = _with_covariates(config, summary, name)
        return PreparedData(d.kind, name, summary=summary, meta=meta, input=record)
    frame = clvdata.read_table(source)
    record = _sql_record(source, frame.attrs.get(FINGERPRINT_ATTR))
    if d.kind == "summary":
        summary = clvdata.validate_summary(frame, source_name=name, columns=d.columns or None)
        summary.attrs["clvmodels"] = {"time_unit": d.time_unit, "counts": {"rows_in": len(frame)}}
        meta = summary.attrs["clvmodels"]
        summary = _with_covariates(config, summary, name)
        return PreparedData(d.kind, name, summary=summary, meta=meta, input=record)
    if d.kind == "survival":
        table = clvdata.validate_survival_table(_renamed(frame, d.columns), source_name=name)
    else:
        _individual, table = clvdata.survival_from_subscriptions(
            frame,
            time_unit=d.time_unit,
            observation_end=split.observation_end,
            source_name=name,
            **_subscription_columns(d.columns),
        )
    k = split.calibration_periods
    if d.kind == "subscriptions" and d.covariates is not None:
        individual = _censored(_with_covariates(config, _individual, name), table, k)
    else:
        individual = clvdata.survival_to_individual(table, calibration_periods=k)
    meta = {
        "time_unit": d.time_unit,
        "calibration_periods": k,
        "cohorts": int(table["cohort"].nunique()),
    }
    return PreparedData(
        d.kind, name, survival_table=table, individual=individual, meta=meta, input=record
    )


def _censored(individual: pd.DataFrame, table: pd.DataFrame, k: int | None) -> pd.DataFrame:
    """Per-subscriber ``cohort, tenure, churned, count`` rows (with their covariates) as
    the sBG sees the first ``k`` periods: a subscriber still active after ``k`` renewals
    is censored there (Fader & Hardie 2007, eq. 2), like
    :func:`clvmodels.data.survival_to_individual` does for a cohort table."""
    out = individual.copy()
    out["count"] = 1
    if k is None:
        return out
    lengths = table.groupby("cohort")["period"].max()
    short = lengths[lengths < k]
    if len(short):
        raise DataError(
            f"calibration_periods: {k} but cohort {short.index[0]!r} has periods "
            f"0..{int(short.iloc[0])} only"
        )
    beyond = out["tenure"] >= k
    out.loc[beyond, "tenure"] = k
    out.loc[beyond, "churned"] = False
    return out


def _with_covariates(config: RunConfig, summary: pd.DataFrame, source: str) -> pd.DataFrame:
    """The summary with the configured covariate columns joined on customer id, after
    checking that they encode (one row per customer, no missing value, no constant
    column: :func:`clvmodels.data.covariates.covariate_matrix`)."""
    table_config = config.data.covariates
    if table_config is None:
        return summary
    if "customer_id" not in summary.columns:
        raise DataError(f"{source}: covariates are joined on customer_id, which it lacks")
    table_source = input_source(config, table_config.source, "data.covariates.source")
    path = clvdata.describe_source(table_source)
    table = clvdata.read_table(table_source)
    columns = list(table_config.columns)
    clash = [c for c in columns if c in summary.columns]
    if clash:
        raise DataError(
            f"{path}: covariate column {clash[0]!r} has the name of a summary column; rename it"
        )
    ids = summary["customer_id"].to_numpy()
    covariates.covariate_matrix(
        table,
        ids,
        columns,
        source_name=path,
        reference=table_config.reference,
        id_column=table_config.id_column,
    )
    rows, _ = covariates.aligned_rows(table, ids, path, table_config.id_column)
    joined = summary.copy()
    for column in columns:
        joined[column] = rows[column].to_numpy()
    joined.attrs = summary.attrs
    return joined


def model_options(options: ModelConfig, progress: bool = False) -> dict[str, Any]:
    """Backend keyword arguments of a ``models.<key>`` config block."""
    if options.backend == "bayes":
        kwargs: dict[str, Any] = {
            "method": options.method,
            "sampler": options.sampler,
            "draws": options.draws,
            "tune": options.tune,
            "chains": options.chains,
            "seed": options.seed,
            "target_accept": options.target_accept,
            "ess_floor": options.ess_floor,
            "progress": progress,
        }
        if options.priors:
            kwargs["priors"] = options.priors
        return kwargs
    kwargs = {"max_iter": options.max_iter}
    if options.init is not None:
        kwargs["init"] = options.init
    return kwargs


def fit_models(
    config: RunConfig, prepared: PreparedData, progress: bool = False
) -> dict[str, Estimator]:
    """Fit every model in ``config.models``; keys are model keys (``sbg:<cohort>`` per cohort)."""
    fitted: dict[str, Estimator] = {}
    for key, options in config.models.items():
        kwargs = model_options(options, progress)
        processes = model_covariates(config, key)
        if processes:
            kwargs["covariates"] = processes
            reference = config.data.covariates.reference if config.data.covariates else {}
            kwargs["reference"] = {
                c: v for c, v in reference.items() if any(c in cols for cols in processes.values())
            }
        cls = ESTIMATORS[key]
        if key == "sbg":
            if prepared.individual is None:
                raise ConfigError(
                    "models.sbg: needs subscription data (data.kind: survival or subscriptions)"
                )
            groups = (
                prepared.individual.groupby("cohort", sort=False)
                if options.by_cohort
                else [("all", prepared.individual)]
            )
            for cohort, rows in groups:
                name = f"sbg:{cohort}" if options.by_cohort else "sbg"
                fitted[name] = cls(backend=options.backend, **kwargs).fit(rows)
            continue
        if prepared.summary is None:
            raise ConfigError(
                f"models.{key}: needs transaction or summary data (data.kind: transactions "
                "or summary), not subscriptions"
            )
        if key == "bgbb" and "n" not in prepared.summary.columns:
            raise ConfigError(
                "models.bgbb: the BG/BB is a discrete-time model and needs a summary with "
                "columns frequency, recency, n (data.kind: summary)"
            )
        if key in PURCHASE_MODELS and "T" not in prepared.summary.columns:
            raise ConfigError(f"models.{key}: needs columns frequency, recency, T")
        frame = prepared.summary
        spend = key == "gamma_gamma" and "monetary_value" in frame.columns
        if prepared.distributed is not None:  # unique rows of the whole summary, counted
            frame = prepared.distributed.fit_rows(
                model_spec(key).data_columns, spend=spend, meta=prepared.meta
            )
        elif spend:
            frame = _spend_rows(prepared)
        fitted[key] = cls(backend=options.backend, **kwargs).fit(frame)
    return fitted


def _spend_rows(prepared: PreparedData) -> pd.DataFrame:
    """The summary without repeat buyers whose mean repeat spend is not positive.

    Refunds netted against purchases (``data.nonpositive: net`` or ``keep``) can leave a
    repeat buyer with a mean repeat spend of zero or less, outside the Gamma-Gamma's
    support.  Such customers are left out of the spend fit (counted in
    ``meta["counts"]["spend_fit_excluded_nonpositive"]``) and valued at the population
    mean spend per order, as customers without repeat purchases are.
    """
    summary = prepared.summary
    assert summary is not None
    bad = (summary["frequency"] > 0) & ~(summary["monetary_value"] > 0)
    prepared.meta.setdefault("counts", {})["spend_fit_excluded_nonpositive"] = int(bad.sum())
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


def seed_metrics_for(config: RunConfig, prepared: PreparedData) -> pd.Series:
    """The marketers' seed metrics of a transaction summary (calibration window)."""
    summary = prepared.summary
    if summary is None:
        raise ConfigError("seed metrics need transaction or summary data")
    unit = prepared.meta.get("time_unit", config.data.time_unit)
    if unit not in ("D", "W"):
        raise ConfigError(f"data.time_unit: seed metrics need D or W, got {unit!r}")
    if "revenue" not in summary.columns:
        raise DataError("seed metrics need per-customer revenue (an amount column)")
    lifespan = config.baseline.lifespan_years
    if prepared.distributed is not None:  # totals of every customer, not of the sample
        totals = prepared.distributed.totals()
        values = metrics.seed_metrics_from_totals(
            totals["customers"],
            totals["orders"],
            totals["revenue"],
            totals["repeat_customers"],
            window_years=totals["max_T"] / units_per_year(unit),
            lifespan_years=lifespan,
        )
    else:
        window_years = float(summary["T"].max()) / units_per_year(unit)
        values = metrics.seed_metrics(summary, window_years=window_years, lifespan_years=lifespan)
    if config.metrics.marketing_spend is not None:
        cac = metrics.customer_acquisition_cost(
            config.metrics.marketing_spend, int(values["customers"])
        )
        values["cac"] = cac
        values["clv_minus_cac"] = metrics.clv_minus_cac(values["simple_clv"], cac)
        values["ltv_to_cac"] = metrics.ltv_to_cac(values["simple_clv"], cac)
    if config.metrics.conversion_rate is not None:
        values["max_cost_per_click"] = metrics.max_cost_per_click(
            values["simple_clv"], config.metrics.conversion_rate
        )
    return values


def _renamed(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    mapping = {source: canonical for canonical, source in columns.items()}
    return frame.rename(columns=mapping)


def _subscription_columns(columns: dict[str, str]) -> dict[str, Any]:
    allowed = {"customer_id", "start", "end", "tenure", "churned", "cohort"}
    _only_keys(columns, allowed, "data.columns")
    out: dict[str, Any] = {"customer_id": columns.get("customer_id", "customer_id")}
    for key in ("start", "end", "tenure", "churned", "cohort"):
        out[key] = columns.get(key)
    if out["start"] is None and out["tenure"] is None:
        out["start"], out["end"] = "start", "end"
    return out


def _only_keys(columns: dict[str, Any], allowed: set[str], path: str) -> None:
    for key in columns:
        if key not in allowed:
            names = ", ".join(sorted(allowed))
            raise ConfigError(f"{path}.{key}: unknown column role (allowed: {names})")


def _finite_json(value: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by None."""
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
