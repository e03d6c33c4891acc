"""What a run configuration must satisfy beyond its types: choices that depend on each
other (a lifetime horizon needs discounting, covariates need a customer table, Spark
reads files), model keys, priors, SQL source keys and how a log's text is read (time
zone, date format, decimal separator, delimiter).  Every error names the key path.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from clvmodels.backends.priors import check_priors
from clvmodels.clv.settings import MIN_DRAWS
from clvmodels.config.dynamic import check_dynamic
from clvmodels.config.effects import check_effects, model_backend, model_covariates
from clvmodels.config.schema import RunConfig
from clvmodels.config.schema_data import DataConfig, SqlSourceConfig
from clvmodels.config.schema_models import ModelConfig
from clvmodels.data.parsing import ValueFormats
from clvmodels.data.sql import SqlSource
from clvmodels.data.survey import check_survey_columns
from clvmodels.errors import ConfigError, DataError, echo
from clvmodels.evaluation.scores import SELECTABLE
from clvmodels.models import model_info, model_keys, model_spec
from clvmodels.units import TRANSACTION_UNITS


def check_semantics(config: RunConfig) -> None:
    """Raise :class:`ConfigError` naming the key path for the first rule ``config``
    breaks (the module docstring)."""
    unknown = [k for k in config.models if k not in model_keys()]
    if unknown:
        raise ConfigError(
            f"models.{unknown[0]}: unknown model; choose from {', '.join(model_keys())}"
        )
    data, split = config.data, config.split
    _check_sql_source(data.source, "data.source")
    if data.covariates is not None:
        _check_sql_source(data.covariates.source, "data.covariates.source")
    _check_paths(config)
    if data.kind == "transactions" and data.time_unit not in TRANSACTION_UNITS:
        units = " or ".join(TRANSACTION_UNITS)
        raise ConfigError(f"data.time_unit: transactions need {units}, got {echo(data.time_unit)}")
    _check_reading(data)
    if data.nonpositive in ("net", "net_across_days") and not data.merge_same_day:
        raise ConfigError(
            f"data.nonpositive: {data.nonpositive!r} nets returns within a day and needs "
            "data.merge_same_day: true; use 'drop', 'keep' or 'error' instead"
        )
    if (
        split.calibration_end is not None
        and split.observation_end is not None
        and split.calibration_end > split.observation_end
    ):
        raise ConfigError(
            f"split.calibration_end: {split.calibration_end} is after "
            f"split.observation_end {split.observation_end}"
        )
    if split.calibration_periods is not None and split.calibration_periods < 1:
        raise ConfigError("split.calibration_periods: must be a positive whole number")
    for key, model in config.models.items():
        if model.max_iter < 1:
            raise ConfigError(f"models.{key}.max_iter: must be positive")
        _check_model_options(key, model)
        _check_bayes(key, model)
    if config.baseline.lifespan_years <= 0:
        raise ConfigError("baseline.lifespan_years: must be positive")
    _check_clv(config)
    _check_backtest(config)
    check_dynamic(config)
    _check_covariates(config)
    check_effects(config, {key: model_covariates(config, key) for key in config.models})
    _check_spark(config)
    _check_mlflow(config)
    rate = config.metrics.conversion_rate
    if rate is not None and not 0 <= rate <= 1:
        raise ConfigError("metrics.conversion_rate: must be within [0, 1]")
    if config.metrics.survey is not None:
        check_survey_columns(config.metrics.survey.columns)
    ratio = config.metrics.ltv_cac_ratio
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not ratio > 0:
        raise ConfigError(f"metrics.ltv_cac_ratio: {ratio!r} is not a positive number, such as 3")
    if not config.name or any(c in config.name for c in "/\\"):
        raise ConfigError(f"name: {echo(config.name)} must be a non-empty name without slashes")


def _check_paths(config: RunConfig) -> None:
    """The file paths of the config are ones the system accepts (no name too long for
    it), so that no command fails on them later with an internal error."""
    paths = {"data.source": config.data.source, "output.dir": config.output.dir}
    if config.metrics.survey is not None:
        paths["metrics.survey.source"] = config.metrics.survey.source
    if config.data.covariates is not None:
        paths["data.covariates.source"] = config.data.covariates.source
    if config.data.dynamic_covariates is not None:
        paths["data.dynamic_covariates.source"] = config.data.dynamic_covariates.source
    for key, value in paths.items():
        if not isinstance(value, str) or value.startswith("builtin:"):
            continue
        try:
            Path(value).exists()
        except OSError as exc:
            raise ConfigError(f"{key}: {echo(value)}: {exc.strerror}") from None


def _check_sql_source(value: str | SqlSourceConfig, path: str) -> None:
    """The keys of a SQL source (sql, exactly one of url and url_env); nothing connects."""
    if isinstance(value, SqlSourceConfig):
        SqlSource(sql=value.sql, url=value.url, url_env=value.url_env, key=path)


def _check_reading(data: DataConfig) -> None:
    """``data.timezone``, ``date_format``, ``decimal``, ``delimiter``: valid values
    (:class:`clvmodels.data.parsing.ValueFormats`), set only for a transaction log."""
    try:
        ValueFormats(data.timezone, data.date_format, data.decimal, data.delimiter)
    except DataError as exc:  # its message starts with the key
        raise ConfigError(f"data.{exc}") from None
    if data.kind == "transactions":
        return
    defaults = ValueFormats()
    for key in ("timezone", "date_format", "decimal", "delimiter"):
        if getattr(data, key) != getattr(defaults, key):
            raise ConfigError(f"data.{key}: reads transaction logs; data.kind is {echo(data.kind)}")


SAMPLER_KEYS = ("draws", "tune", "chains", "seed", "ess_floor", "thin")
"""The ``models.paretoggg`` keys of its Gibbs sampler (it takes no PyMC option)."""


def _check_model_options(key: str, model: ModelConfig) -> None:
    """A model's own keys (``k``, ``max_k``, ``thin``) only where the model has them,
    within range; a backend the model can be fitted with."""
    path = f"models.{key}"
    info = model_info(key)
    backend = model_backend(key, model)
    if backend not in info.backends:
        raise ConfigError(
            f"{path}.backend: the {info.name} has no closed-form likelihood and is fitted "
            f"with backend: {' or '.join(info.backends)} only"
        )
    defaults = ModelConfig()
    for name in ("k", "max_k", "thin"):
        value = getattr(model, name)
        if value != getattr(defaults, name) and name not in info.options:
            owners = [k for k in model_keys() if name in model_info(k).options]
            raise ConfigError(f"{path}.{name}: only {', '.join(owners)} take {name}")
        if value is not None and not 1 <= value <= 100:
            raise ConfigError(f"{path}.{name}: must be a whole number from 1 to 100")
    if "thin" in info.options:  # the Pareto/GGG's own sampler takes no PyMC option
        for name in ("priors", "method", "sampler", "target_accept", "init"):
            if getattr(model, name) != getattr(defaults, name):
                raise ConfigError(
                    f"{path}.{name}: the {info.name}'s sampler takes {', '.join(SAMPLER_KEYS)} only"
                )


def _check_bayes(key: str, model: ModelConfig) -> None:
    path = f"models.{key}"
    if model_backend(key, model) != "bayes":
        if model.priors is not None:
            raise ConfigError(f"{path}.priors: priors need backend: bayes")
        return
    for name in ("draws", "tune", "chains"):
        if getattr(model, name) < 1:
            raise ConfigError(f"{path}.{name}: must be a positive whole number")
    if not 0.5 <= model.target_accept < 1:
        raise ConfigError(
            f"{path}.target_accept: must be within [0.5, 1), got {model.target_accept}"
        )
    if model.priors:
        # coefficient names (parameter:covariate) are checked against the data at fit time
        check_priors(model_spec(key), model.priors, where=f"{path}.priors", coefficients=None)


def _check_covariates(config: RunConfig) -> None:
    table = config.data.covariates
    if table is not None:
        if not table.columns:
            raise ConfigError("data.covariates.columns: list at least one column")
        twice = [c for i, c in enumerate(table.columns) if c in table.columns[:i]]
        if twice:
            raise ConfigError(f"data.covariates.columns: column {twice[0]!r} is listed twice")
        unknown = sorted(set(table.reference) - set(table.columns))
        if unknown:
            raise ConfigError(
                f"data.covariates.reference.{unknown[0]}: not one of data.covariates.columns"
            )
        if config.data.kind == "survival":
            raise ConfigError(
                "data.covariates: a survival table has no customers to join covariates to; "
                "use data.kind: subscriptions (one row per subscriber)"
            )
    for key, model in config.models.items():
        if model.covariates is None:
            continue
        path = f"models.{key}.covariates"
        if table is None:
            raise ConfigError(f"{path}: needs a customer table under data.covariates")
        processes = model_spec(key).covariate_links
        for process, columns in model.covariates.items():
            if process not in processes:
                known = ", ".join(processes) or "none"
                raise ConfigError(
                    f"{path}.{process}: {key} has no such process taking covariates "
                    f"(processes: {known})"
                )
            for column in columns:
                if column not in table.columns:
                    raise ConfigError(
                        f"{path}.{process}: {echo(column)} is not one of data.covariates.columns "
                        f"({', '.join(table.columns)})"
                    )
    for key, model in config.models.items():
        if table is not None and model.covariates is None and not model_spec(key).covariate_links:
            raise ConfigError(
                f"models.{key}: the {model_info(key).name} takes no covariates; set "
                f"models.{key}.covariates: {{}} to fit it without them"
            )
    wanted = config.clv.counterfactuals or []
    if wanted and table is None:
        raise ConfigError("clv.counterfactuals: needs covariates (data.covariates)")
    for column in wanted:
        if table is not None and column not in table.columns:
            raise ConfigError(
                f"clv.counterfactuals: {echo(column)} is not one of data.covariates.columns"
            )


def _check_spark(config: RunConfig) -> None:
    data, spark = config.data, config.spark
    if data.engine != "spark":
        if spark is not None:
            raise ConfigError("spark: a spark block needs data.engine: spark")
        return
    if data.kind != "transactions":
        raise ConfigError(
            f"data.engine: spark summarises transaction logs; data.kind is {echo(data.kind)}"
        )
    if data.covariates is not None:
        raise ConfigError("data.covariates: not supported with data.engine: spark yet")
    if "product" in data.columns:
        raise ConfigError("data.columns.product: the spark engine counts no products; use duckdb")
    if isinstance(data.source, SqlSourceConfig):
        raise ConfigError(
            "data.source: a SQL query is read by the duckdb engine; with data.engine: spark "
            "give the files Spark should read (e.g. the query's result exported as Parquet)"
        )
    if spark is not None and spark.evaluation_sample < 1:
        raise ConfigError(
            f"spark.evaluation_sample: must be a positive number of customers, "
            f"got {spark.evaluation_sample}"
        )


def _check_mlflow(config: RunConfig) -> None:
    """``output.mlflow``: MLflow installed (checked before anything is fitted), names set."""
    tracking = config.output.mlflow
    if tracking is None:
        return
    for key in ("tracking_uri", "experiment"):
        value = getattr(tracking, key)
        if value is not None and not value.strip():
            raise ConfigError(f"output.mlflow.{key}: empty; give a value or leave the key out")
    if importlib.util.find_spec("mlflow") is None:
        raise ConfigError(
            "output.mlflow: MLflow is not installed; pip install clvmodels[mlflow] "
            "(or remove output.mlflow)"
        )


def _check_clv(config: RunConfig) -> None:
    clv = config.clv
    if isinstance(clv.horizon, float) and not clv.horizon > 0:
        raise ConfigError(
            f"clv.horizon: must be positive (time units) or lifetime, got {clv.horizon}"
        )
    if not 0 <= clv.discount_rate < 10:
        raise ConfigError(
            f"clv.discount_rate: a yearly rate such as 0.10 is expected, got {clv.discount_rate}"
        )
    if clv.horizon == "lifetime" and clv.discount_rate == 0:
        raise ConfigError("clv.horizon: lifetime needs a positive clv.discount_rate")
    if not 0 < clv.margin <= 1:
        raise ConfigError(f"clv.margin: must be within (0, 1], got {clv.margin}")
    if clv.interval is not None and not 0 < clv.interval < 1:
        raise ConfigError(
            f"clv.interval: a probability such as 0.9 is expected, got {clv.interval}"
        )
    if clv.draws < MIN_DRAWS:
        raise ConfigError(
            f"clv.draws: at least {MIN_DRAWS} draws are needed for an interval, got {clv.draws}"
        )
    if clv.threads is not None and clv.threads < 1:
        raise ConfigError(
            f"clv.threads: must be at least 1 (or null: all cores), got {clv.threads}"
        )
    if not clv.price > 0:
        raise ConfigError(f"clv.price: must be positive, got {clv.price}")
    purchase = model_keys("purchase")
    if clv.select_by not in SELECTABLE:
        raise ConfigError(
            f"clv.select_by: {echo(clv.select_by)} is not a score of the evaluation "
            f"(choose {', '.join(SELECTABLE)})"
        )
    if clv.purchase_model == "auto":
        if not any(model_info(k).is_purchase for k in config.models):
            raise ConfigError("clv.purchase_model: auto needs a purchase model under models:")
    elif clv.purchase_model is not None:
        if clv.purchase_model not in purchase:
            raise ConfigError(
                f"clv.purchase_model: {echo(clv.purchase_model)} is not a purchase model "
                f"(choose auto, {', '.join(purchase)})"
            )
        if clv.purchase_model not in config.models:
            raise ConfigError(
                f"clv.purchase_model: {clv.purchase_model} is not configured under models:"
            )


def _check_backtest(config: RunConfig) -> None:
    backtest = config.evaluation.backtest
    if backtest is None:
        return
    path = "evaluation.backtest"
    if config.data.kind != "transactions" or config.data.engine == "spark":
        raise ConfigError(
            f"{path}: refits on transaction logs (data.kind: transactions, engine duckdb or pandas)"
        )
    if isinstance(backtest.origins, int):
        if backtest.origins < 1:
            raise ConfigError(f"{path}.origins: must be at least 1, got {backtest.origins}")
        if config.split.calibration_end is None:
            raise ConfigError(
                f"{path}.origins: a number of origins counts back from "
                "split.calibration_end, which is not set; give a list of dates"
            )
    elif not backtest.origins:
        raise ConfigError(f"{path}.origins: list at least one calibration end")
    for name in ("step", "holdout"):
        value = getattr(backtest, name)
        if value is not None and not value > 0:
            raise ConfigError(f"{path}.{name}: must be a positive number of time units")
    if backtest.holdout is None and config.split.calibration_end is None:
        raise ConfigError(f"{path}.holdout: needed without split.calibration_end")
