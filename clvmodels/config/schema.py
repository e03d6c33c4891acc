"""The run configuration's schema: typed, frozen dataclasses, one per YAML block.

Every key and its default is documented in README.md and ``configs/template.yaml``;
:func:`clvmodels.config.load_config` builds these from YAML and
:mod:`clvmodels.config.checks` checks what the types cannot say.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from clvmodels.data.sql import mask_config_url


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
class CalendarConfig:
    """``data.dynamic_covariates.calendar:`` — population-wide calendar covariates
    (:func:`clvmodels.data.calendar.calendar_covariates`): month or quarter dummies, a
    high-season share, one column per campaign, a holiday flag."""

    seasonality: Literal["month", "quarter"] | None = None
    high_season: list[int] | None = None
    campaigns: list[dict[str, Any]] | None = None
    holidays: list[dt.date] | None = None


@dataclass(frozen=True)
class DynamicCovariatesConfig:
    """``data.dynamic_covariates:`` — time-varying covariates per customer (or for
    everybody) and calendar period: a long table (``source``; :mod:`clvmodels.data.
    dynamic_table`) and/or calendar covariates (``calendar``)."""

    source: str | None = None
    columns: list[str] | None = None
    id_column: str = "customer_id"
    period_column: str = "period_start"
    calendar: CalendarConfig | None = None


@dataclass(frozen=True)
class DataConfig:
    """``data:`` — where the input comes from and how to read it."""

    source: str | SqlSourceConfig
    kind: Literal["transactions", "summary", "survival", "subscriptions"] = "transactions"
    columns: dict[str, str] = field(default_factory=dict)
    time_unit: Literal["D", "W", "M", "Y"] = "W"
    merge_same_day: bool = True
    nonpositive: Literal["net", "net_across_days", "drop", "keep", "error"] = "net"
    after_observation_end: Literal["error", "drop"] = "error"
    timezone: str = "UTC"
    date_format: str | None = None
    decimal: str = "."
    delimiter: str | None = None
    engine: Literal["duckdb", "pandas", "spark"] = "duckdb"
    covariates: CovariatesConfig | None = None
    dynamic_covariates: DynamicCovariatesConfig | None = None
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

    backend: Literal["mle", "bayes"] | None = None  # None: the model's default (mle; bayes
    # for the Pareto/GGG, which has no closed-form likelihood)
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
    dynamic_covariates: dict[str, list[str]] | None = None  # time-varying, per process
    constraints: list[list[str]] | None = None  # parameters sharing one coefficient
    penalty: dict[str, Any] | None = None  # {l2: <lambda> | auto} on the coefficients
    hierarchy: dict[str, Any] | None = None  # {group: <customer column>}, bayes only
    k: int | None = None  # bgcnbd, mbgcnbd: fixed Erlang order (None: profile likelihood)
    max_k: int = 10  # bgcnbd, mbgcnbd: largest Erlang order the profile tries
    thin: int = 1  # paretoggg: keep every thin-th draw of its Gibbs sampler


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
    select_by: str = "log_score_purchases"
    price: float = 1.0
    counterfactuals: list[str] | None = None


@dataclass(frozen=True)
class BaselineConfig:
    """``baseline:`` — the seed formula AOV × purchase frequency × lifespan."""

    lifespan_years: float = 3.0
    level: Literal["base", "segment", "customer"] = "segment"


@dataclass(frozen=True)
class BacktestConfig:
    """``evaluation.backtest:`` — a rolling-origin backtest: every model refitted at
    several calibration ends (``origins``: a number of them, the last one the split's
    calibration end and the others ``step`` time units apart, or a list of dates), each
    scored on a holdout of ``holdout`` time units (default: the split's)."""

    origins: int | list[dt.date] = 3
    step: float | None = None
    holdout: float | None = None


@dataclass(frozen=True)
class EvaluationConfig:
    """``evaluation:`` — what the holdout evaluation adds to the models' scores."""

    challenger: bool = True
    backtest: BacktestConfig | None = None


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
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
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
        if value.startswith("builtin:") or Path(value).is_absolute() or _exists(Path(value)):
            return value
        candidate = self.base_dir / value
        return str(candidate) if _exists(candidate) else value

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of the resolved configuration (for ``config.yaml`` in a run); a
        password in a SQL source URL becomes ``***`` unless it is a ``${NAME}`` reference."""
        return to_plain(self)


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; False for a path the system refuses (a name too long),
    which the data layer then reports."""
    try:
        return path.exists()
    except OSError:
        return False


def to_plain(value: Any) -> Any:
    """A config value as plain YAML-ready data (dates as ISO strings, a SQL URL with its
    password masked)."""
    if isinstance(value, SqlSourceConfig):
        url = None if value.url is None else mask_config_url(value.url)
        return {"sql": value.sql, "url": url, "url_env": value.url_env}
    if dataclasses.is_dataclass(value):
        return {
            f.name: to_plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.metadata.get("internal")
        }
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
