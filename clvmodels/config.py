"""Run configuration: YAML parsed safely into typed, validated dataclasses.

Unknown keys and wrong types are errors that name the key path
(``error: configs/x.yaml: data.time_unit: expected one of D, W, got 'M'``).
Every key and its default is documented in README.md and ``configs/template.yaml``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from clvmodels.errors import ConfigError

MODEL_KEYS = ("bgnbd", "paretonbd", "mbgnbd", "bgbb", "gamma_gamma", "sbg")


@dataclass(frozen=True)
class SqlSourceConfig:
    """``data.source: {sql: ..., url: ...}`` — the rows of a SQL query
    (:mod:`clvmodels.data.sql`); ``url_env`` names an environment variable holding the URL
    instead, and ``${NAME}`` in ``url`` is replaced from the environment."""

    sql: str
    url: str | None = None
    url_env: str | None = None


@dataclass(frozen=True)
class CovariatesConfig:
    """``data.covariates:`` — a customer attribute table (one row per customer) whose
    columns become time-invariant covariates (:mod:`clvmodels.data.covariates`)."""

    source: str | SqlSourceConfig
    columns: list[str]
    id_column: str = "customer_id"
    reference: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DataConfig:
    """``data:`` — where the input comes from and how to read it."""

    source: str | SqlSourceConfig
    kind: Literal["transactions", "summary", "survival", "subscriptions"] = "transactions"
    columns: dict[str, str] = field(default_factory=dict)
    time_unit: Literal["D", "W", "M", "Y"] = "W"
    merge_same_day: bool = True
    nonpositive: Literal["net", "drop", "keep", "error"] = "net"
    after_observation_end: Literal["error", "drop"] = "error"
    engine: Literal["duckdb", "pandas", "spark"] = "duckdb"
    covariates: CovariatesConfig | None = None
    duckdb_memory_limit: str | None = None
    duckdb_threads: int | None = None
    duckdb_temp_directory: str | None = None


@dataclass(frozen=True)
class SparkConfig:
    """``spark:`` — the Spark session of ``data.engine: spark`` (:mod:`clvmodels.spark`)."""

    master: str = "local[*]"
    app_name: str = "clvmodels"
    config: dict[str, str | int | float | bool] = field(default_factory=dict)
    evaluation_sample: int = 1_000_000
    sample_seed: int = 0


@dataclass(frozen=True)
class SplitConfig:
    """``split:`` — calibration/holdout split and the end of observation."""

    calibration_end: dt.date | None = None
    observation_end: dt.date | None = None
    calibration_periods: int | None = None
    refit: bool = False


@dataclass(frozen=True)
class ModelConfig:
    """``models.<key>:`` — options of one model."""

    backend: Literal["mle", "bayes"] = "mle"
    init: dict[str, float] | None = None
    max_iter: int = 1000
    by_cohort: bool = True
    priors: dict[str, dict[str, Any]] | None = None
    method: Literal["nuts", "map"] = "nuts"
    sampler: Literal["pymc", "nutpie"] = "pymc"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.8
    seed: int = 0
    ess_floor: float = 400.0
    covariates: dict[str, list[str]] | None = None


@dataclass(frozen=True)
class OutputConfig:
    """``output:`` — where results go."""

    dir: str | None = None
    formats: list[Literal["csv", "parquet"]] = field(default_factory=lambda: ["csv"])


@dataclass(frozen=True)
class MetricsConfig:
    """``metrics:`` — inputs of the seed marketing metrics printed by ``summarize``."""

    marketing_spend: float | None = None
    conversion_rate: float | None = None


@dataclass(frozen=True)
class ClvConfig:
    """``clv:`` — how future purchases are valued (see :mod:`clvmodels.clv`)."""

    horizon: float | Literal["lifetime"] | None = None
    discount_rate: float = 0.10
    margin: float = 1.0
    interval: float | None = 0.9
    draws: int = 200
    seed: int = 0
    threads: int | None = None
    purchase_model: str | None = None
    price: float = 1.0
    counterfactuals: list[str] | None = None


@dataclass(frozen=True)
class BaselineConfig:
    """``baseline:`` — the seed formula AOV × purchase frequency × lifespan."""

    lifespan_years: float = 3.0
    level: Literal["base", "segment", "customer"] = "segment"


@dataclass(frozen=True)
class RunConfig:
    """A whole run."""

    name: str
    data: DataConfig
    split: SplitConfig = field(default_factory=SplitConfig)
    models: dict[str, ModelConfig] = field(default_factory=dict)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    clv: ClvConfig = field(default_factory=ClvConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    spark: SparkConfig | None = None
    base_dir: Path = field(default=Path("."), metadata={"internal": True})

    @property
    def output_dir(self) -> Path:
        """Resolved output folder (``output.dir`` or ``reports/<name>``)."""
        return Path(self.output.dir) if self.output.dir else Path("reports") / self.name

    def resolve_path(self, value: str | SqlSourceConfig) -> str | SqlSourceConfig:
        """A relative data path is read relative to the working directory if it exists
        there, else relative to the config file's folder (a SQL source is returned as
        it is)."""
        if isinstance(value, SqlSourceConfig):
            return value
        if value.startswith("builtin:") or Path(value).is_absolute() or Path(value).exists():
            return value
        candidate = self.base_dir / value
        return str(candidate) if candidate.exists() else value

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of the resolved configuration (for ``config.yaml`` in a run); a
        password in a SQL source URL becomes ``***`` unless it is a ``${NAME}`` reference."""
        return _to_plain(self)


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run configuration.

    Raises
    ------
    ConfigError
        One line naming the file, the key path and the problem.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    config = parse_config(raw, source=str(path))
    return dataclasses.replace(config, base_dir=path.resolve().parent)


def parse_config(raw: Any, source: str = "config") -> RunConfig:
    """Validate an already-parsed mapping into a :class:`RunConfig`."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: the config must be a mapping of keys, got {_kind(raw)}")
    try:
        config = _build(RunConfig, raw, "")
        _check_semantics(config)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return config


def _check_semantics(config: RunConfig) -> None:
    unknown = [k for k in config.models if k not in MODEL_KEYS]
    if unknown:
        raise ConfigError(
            f"models.{unknown[0]}: unknown model; choose from {', '.join(MODEL_KEYS)}"
        )
    data, split = config.data, config.split
    _check_sql_source(data.source, "data.source")
    if data.covariates is not None:
        _check_sql_source(data.covariates.source, "data.covariates.source")
    if data.kind in ("transactions",) and data.time_unit not in ("D", "W"):
        raise ConfigError(f"data.time_unit: transactions need D or W, got {data.time_unit!r}")
    if data.nonpositive == "net" and not data.merge_same_day:
        raise ConfigError(
            "data.nonpositive: 'net' nets returns within a day and needs "
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
        _check_bayes(key, model)
    if config.baseline.lifespan_years <= 0:
        raise ConfigError("baseline.lifespan_years: must be positive")
    _check_clv(config)
    _check_covariates(config)
    _check_spark(config)
    rate = config.metrics.conversion_rate
    if rate is not None and not 0 <= rate <= 1:
        raise ConfigError("metrics.conversion_rate: must be within [0, 1]")
    if not config.name or any(c in config.name for c in "/\\"):
        raise ConfigError(f"name: {config.name!r} must be a non-empty name without slashes")


def _check_sql_source(value: str | SqlSourceConfig, path: str) -> None:
    """The keys of a SQL source (sql, exactly one of url and url_env); nothing connects."""
    if isinstance(value, SqlSourceConfig):
        from clvmodels.data.sql import SqlSource

        SqlSource(sql=value.sql, url=value.url, url_env=value.url_env, key=path)


def _check_bayes(key: str, model: ModelConfig) -> None:
    path = f"models.{key}"
    if model.backend != "bayes":
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
        from clvmodels.backends.priors import check_priors
        from clvmodels.models import model_spec

        # coefficient names (parameter:covariate) are checked against the data at fit time
        check_priors(model_spec(key), model.priors, where=f"{path}.priors", coefficients=None)


def model_covariates(config: RunConfig, key: str) -> dict[str, list[str]]:
    """The covariates of model ``key`` per process: ``models.<key>.covariates``, or with
    ``data.covariates`` and no such key every covariate on every process of the model."""
    from clvmodels.models import model_spec

    chosen = config.models[key].covariates
    if chosen is not None:
        return {p: list(c) for p, c in chosen.items() if c}
    if config.data.covariates is None:
        return {}
    columns = list(config.data.covariates.columns)
    return {process: columns for process in model_spec(key).covariate_links}


def _check_covariates(config: RunConfig) -> None:
    from clvmodels.models import model_spec

    table = config.data.covariates
    if table is not None:
        if not table.columns:
            raise ConfigError("data.covariates.columns: list at least one column")
        if len(set(table.columns)) != len(table.columns):
            raise ConfigError("data.covariates.columns: a column is listed twice")
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
                        f"{path}.{process}: {column!r} is not one of data.covariates.columns "
                        f"({', '.join(table.columns)})"
                    )
    if table is not None and "bgbb" in config.models and config.models["bgbb"].covariates is None:
        raise ConfigError(
            "models.bgbb: the BG/BB takes no covariates; set models.bgbb.covariates: {} "
            "to fit it without them"
        )
    wanted = config.clv.counterfactuals or []
    if wanted and table is None:
        raise ConfigError("clv.counterfactuals: needs covariates (data.covariates)")
    for column in wanted:
        if table is not None and column not in table.columns:
            raise ConfigError(
                f"clv.counterfactuals: {column!r} is not one of data.covariates.columns"
            )


def _check_spark(config: RunConfig) -> None:
    data, spark = config.data, config.spark
    if data.engine != "spark":
        if spark is not None:
            raise ConfigError("spark: a spark block needs data.engine: spark")
        return
    if data.kind != "transactions":
        raise ConfigError(
            f"data.engine: spark summarises transaction logs; data.kind is {data.kind!r}"
        )
    if data.covariates is not None:
        raise ConfigError("data.covariates: not supported with data.engine: spark yet")
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
    if clv.draws < 20:
        raise ConfigError(
            f"clv.draws: at least 20 draws are needed for an interval, got {clv.draws}"
        )
    if clv.threads is not None and clv.threads < 1:
        raise ConfigError(
            f"clv.threads: must be at least 1 (or null: all cores), got {clv.threads}"
        )
    if not clv.price > 0:
        raise ConfigError(f"clv.price: must be positive, got {clv.price}")
    purchase = ("bgnbd", "paretonbd", "mbgnbd", "bgbb")
    if clv.purchase_model is not None:
        if clv.purchase_model not in purchase:
            raise ConfigError(
                f"clv.purchase_model: {clv.purchase_model!r} is not a purchase model "
                f"(choose {', '.join(purchase)})"
            )
        if clv.purchase_model not in config.models:
            raise ConfigError(
                f"clv.purchase_model: {clv.purchase_model} is not configured under models:"
            )


# ---------------------------------------------------------------------- generic builder
def _build(cls: type, raw: Any, path: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {_kind(raw)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for key in raw:
        if key not in fields:
            allowed = ", ".join(fields)
            raise ConfigError(f"{_join(path, str(key))}: unknown key (allowed: {allowed})")
    values = {}
    for name, f in fields.items():
        key_path = _join(path, name)
        if name in raw:
            values[name] = _coerce(hints[name], raw[name], key_path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key_path}: required key is missing")
    return cls(**values)


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _coerce(inner[0], value, path)
        mappings = [a for a in inner if dataclasses.is_dataclass(a)]
        if isinstance(value, Mapping) and len(mappings) == 1:
            return _build(mappings[0], value, path)  # its own errors name the bad key
        for option in inner:
            try:
                return _coerce(option, value, path)
            except ConfigError:
                continue
        expected = " or ".join(_describe(option) for option in inner)
        raise ConfigError(f"{path}: expected {expected}, got {value!r}")
    if tp is Any:
        return value
    if value is None:
        raise ConfigError(f"{path}: a value is required, got null")
    if origin is Literal:
        if value not in args:
            choices = ", ".join(str(a) for a in args)
            raise ConfigError(f"{path}: expected one of {choices}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {_kind(value)}")
        key_type, value_type = args
        return {
            _coerce(key_type, k, path): _coerce(value_type, v, _join(path, str(k)))
            for k, v in value.items()
        }
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {_kind(value)}")
        return [_coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected a whole number, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    if tp is dt.date:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise ConfigError(f"{path}: expected a date like 1997-09-30, got {value!r}")
    raise ConfigError(f"{path}: unsupported type {tp!r}")  # pragma: no cover


def _to_plain(value: Any) -> Any:
    if isinstance(value, SqlSourceConfig):
        from clvmodels.data.sql import mask_config_url

        url = None if value.url is None else mask_config_url(value.url)
        return {"sql": value.sql, "url": url, "url_env": value.url_env}
    if dataclasses.is_dataclass(value):
        return {
            f.name: _to_plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.metadata.get("internal")
        }
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _describe(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return " or ".join(str(a) for a in typing.get_args(tp))
    if dataclasses.is_dataclass(tp):
        return "a mapping of its keys"
    return {float: "a number", int: "a whole number", str: "a string", bool: "true or false"}.get(
        tp, str(tp)
    )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"
