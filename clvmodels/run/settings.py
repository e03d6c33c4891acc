"""A configured run's settings, resolved from its :class:`~clvmodels.config.RunConfig`
once.

:func:`resolve` is the only place in the run layer that reads the configuration: it turns
every block into the plain, typed settings the steps receive — where the data come from
and how they are summarised, which models are fitted with which options, the time unit,
the value settings, which purchase model values the customers and why.  Below it nobody
sees a ``RunConfig``, and no step works anything out of the configuration again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from clvmodels.clv import ValueSettings, resolve_horizon
from clvmodels.config import MetricsConfig, ModelConfig, RunConfig, SparkConfig, SqlSourceConfig
from clvmodels.config.checks import SAMPLER_KEYS
from clvmodels.config.dynamic import calendar_options
from clvmodels.config.effects import grouped_parameters, model_backend, model_covariates
from clvmodels.config.schema import to_plain
from clvmodels.data import SqlSource, describe_source
from clvmodels.data.builtin import get_builtin
from clvmodels.errors import ConfigError
from clvmodels.evaluation import SeedLevel
from clvmodels.models import model_info
from clvmodels.run.dynamic import DynamicSettings

Source = str | SqlSource
"""A configured source as the data layer takes it: a path, ``builtin:NAME`` or a SQL
query."""


@dataclass(frozen=True)
class CovariateTable:
    """``data.covariates``: the customer table and its columns."""

    source: Source
    name: str
    columns: tuple[str, ...]
    id_column: str
    reference: Mapping[str, str]


@dataclass(frozen=True)
class DataSettings:
    """Where the data come from and how they become canonical frames.

    Attributes
    ----------
    kind
        ``transactions``, ``summary``, ``survival`` or ``subscriptions``.
    source, name
        The source and its description for messages.
    time_unit
        The data's time unit.
    engine
        ``duckdb``, ``pandas`` or ``spark`` (transactions).
    summary_options
        Keyword options of :func:`clvmodels.data.summarize_transactions` (transactions).
    resources
        DuckDB's ``memory_limit``, ``threads`` and ``temp_directory``.
    columns
        ``data.columns``: role -> the user's column name (summary, survival,
        subscriptions).
    observation_end, calibration_periods
        Of subscription data.
    covariates
        The customer covariate table, if any.
    dynamic
        The time-varying covariates (``data.dynamic_covariates``), if any.
    spark
        The ``spark:`` block (``engine: spark``; its defaults when not given): a frozen
        block of plain values, taken as it is.
    """

    kind: str
    source: Source
    name: str
    time_unit: str
    engine: str = "duckdb"
    summary_options: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Any] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    observation_end: Any = None
    calibration_periods: int | None = None
    covariates: CovariateTable | None = None
    dynamic: DynamicSettings | None = None
    spark: SparkConfig | None = None


@dataclass(frozen=True)
class ModelPlan:
    """One configured model: its key, backend and backend options, its covariates per
    process (with their reference levels), its time-varying covariates per process, the
    parameters sharing a coefficient (``constraints``), the L2 penalty of the
    coefficients (a number or ``"auto"``) and the column whose levels are pooled
    (``group``, a hierarchical model; ``grouped`` its pooled parameters, ``None``: all)."""

    key: str
    backend: str
    options: Mapping[str, Any]
    covariates: Mapping[str, list[str]] = field(default_factory=dict)
    reference: Mapping[str, str] = field(default_factory=dict)
    by_cohort: bool = True
    dynamic_covariates: Mapping[str, list[str]] = field(default_factory=dict)
    constraints: tuple[tuple[str, ...], ...] = ()
    penalty: float | str | None = None
    group: str | None = None
    grouped: tuple[str, ...] | None = None

    def estimator_kwargs(self, progress: bool = False) -> dict[str, Any]:
        """The keyword arguments of the model's estimator (``progress``: the Bayesian
        sampler's progress bar)."""
        kwargs: dict[str, Any] = {"backend": self.backend, **self.options}
        if self.backend == "bayes":
            kwargs["progress"] = progress
        if self.covariates:
            kwargs["covariates"] = dict(self.covariates)
            kwargs["reference"] = dict(self.reference)
        if self.dynamic_covariates:
            kwargs["dynamic_covariates"] = dict(self.dynamic_covariates)
        if self.constraints:
            kwargs["constraints"] = [list(c) for c in self.constraints]
        if self.penalty is not None:
            kwargs["penalty"] = self.penalty
        if self.group is not None:
            kwargs["hierarchy"] = {"group": self.group}
            if self.grouped is not None:
                kwargs["hierarchy"]["parameters"] = list(self.grouped)
        return kwargs


@dataclass(frozen=True)
class Valuation:
    """How the customers are valued.

    Attributes
    ----------
    purchase_model
        The configured purchase model (``clv.purchase_model``), or the first purchase
        model under ``models:`` (``None`` without one); with ``auto`` the model used when
        there is no holdout to choose on.
    how
        ``"configured"``, ``"auto"`` (the best holdout score on ``select_by``) or
        ``"first"``.
    select_by
        The evaluation column models are compared on (``clv.select_by``).
    price
        The value of an order without amounts (or of a subscription period).
    counterfactuals
        The binary covariates to value on and off (``None``: every one).
    seed
        The seed of the posterior predictive check.
    """

    purchase_model: str | None
    how: str
    select_by: str = "log_score_purchases"
    price: float = 1.0
    counterfactuals: tuple[str, ...] | None = None
    seed: int = 0


@dataclass(frozen=True)
class Backtest:
    """``evaluation.backtest``: the calibration ends of a rolling-origin backtest.

    Attributes
    ----------
    origins
        The calibration ends (dates), or their number: the last is the split's
        calibration end, the others ``step`` time units apart before it.
    step
        Time units between origins (default: the holdout length over the number of
        origins).
    holdout
        The holdout length of every origin in time units (default: the split's).
    """

    origins: int | tuple[Any, ...] = 3
    step: float | None = None
    holdout: float | None = None


@dataclass(frozen=True)
class EvaluationSettings:
    """What the holdout evaluation adds to the models' scores: the machine-learning
    challenger (``evaluation.challenger``) and a rolling-origin backtest (``None``:
    the single split)."""

    challenger: bool = True
    backtest: Backtest | None = None


@dataclass(frozen=True)
class RunSettings:
    """Everything a configured run needs, resolved once (:func:`resolve`).

    Attributes
    ----------
    name
        The run's name.
    data
        The data of the run; ``whole_window`` the same without the calibration split
        (``split.refit: true``: refit on the whole window), else ``None``.
    models
        The models to fit, in the configured order.
    value
        Horizon, discounting, margin, interval of the customer values.
    valuation
        Which purchase model values the customers, and the price.
    seed
        The seed formula's level and lifespan, and how the RFM segments are cut.
    marketing
        Inputs of the seed marketing metrics (the ``metrics:`` block, plain values).
    output_dir, formats
        Where the run folder goes and the extra formats of predictions.
    evaluation
        The challenger and the backtest of the holdout evaluation.
    record
        The resolved configuration as ``config.yaml`` holds it.
    """

    name: str
    data: DataSettings
    models: tuple[ModelPlan, ...]
    value: ValueSettings
    valuation: Valuation
    seed: SeedLevel
    marketing: MetricsConfig
    output_dir: Path
    formats: tuple[str, ...] = ("csv",)
    whole_window: DataSettings | None = None
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)
    record: Mapping[str, Any] = field(default_factory=dict)

    @property
    def time_unit(self) -> str:
        """The data's time unit."""
        return self.data.time_unit

    def read_paths(self) -> list[Path]:
        """The files and folders the run reads (its data, the customer table, the
        built-in files), which no output may replace."""
        sources = [self.data.source]
        if self.data.covariates is not None:
            sources.append(self.data.covariates.source)
        if self.data.dynamic is not None and self.data.dynamic.source is not None:
            sources.append(self.data.dynamic.source)
        return [local_path(s) for s in sources if not isinstance(s, SqlSource)]

    def plan(self, key: str) -> ModelPlan:
        """The plan of model ``key``."""
        return next(p for p in self.models if p.key == key)


def resolve(config: RunConfig) -> RunSettings:
    """The settings of a configured run (the module docstring)."""
    unit = config.data.time_unit
    # clv: names ValueSettings' other fields as they are (discount_rate, margin, ...)
    shared = {
        f.name: getattr(config.clv, f.name)
        for f in dataclasses.fields(ValueSettings)
        if f.name not in ("horizon", "time_unit")
    }
    value = ValueSettings(
        horizon=resolve_horizon(config.clv.horizon, unit), time_unit=unit, **shared
    )
    if (survey := config.metrics.survey) is not None:  # its path resolved like data.source
        survey = dataclasses.replace(survey, source=str(config.resolve_path(survey.source)))
    whole = None
    if config.split.refit:
        split = dataclasses.replace(config.split, calibration_end=None)
        whole = data_settings(dataclasses.replace(config, split=split))
    return RunSettings(
        name=config.name,
        data=data_settings(config),
        models=tuple(model_plan(config, key) for key in config.models),
        value=value,
        valuation=_valuation(config),
        seed=SeedLevel(
            config.baseline.level, config.baseline.lifespan_years, config.baseline.segments
        ),
        marketing=dataclasses.replace(config.metrics, survey=survey),
        output_dir=config.output_dir,
        formats=tuple(config.output.formats),
        whole_window=whole,
        evaluation=_evaluation(config),
        record=config.to_dict(),
    )


def source(config: RunConfig, value: str | SqlSourceConfig, key: str) -> Source:
    """A configured source as the data layer takes it: a :class:`SqlSource` (named ``key``
    in messages) for a SQL mapping, else the resolved path or ``builtin:NAME``."""
    if isinstance(value, SqlSourceConfig):
        return SqlSource(sql=value.sql, url=value.url, url_env=value.url_env, key=key)
    resolved = config.resolve_path(value)
    assert isinstance(resolved, str)
    return resolved if resolved.startswith("builtin:") else str(resolved)


def local_path(source: str) -> Path:
    """The file or folder of a path source or of a built-in data set."""
    if source.startswith("builtin:"):
        name = get_builtin(source.removeprefix("builtin:")).filename
        return Path(str(resources.files("clvmodels.data") / "files" / name))
    return Path(source)


TRANSACTION_ROLES = ("customer_id", "date", "amount", "product")  # product: optional


def data_settings(config: RunConfig) -> DataSettings:
    """The :class:`DataSettings` of ``config.data`` and ``config.split``."""
    d, split = config.data, config.split
    where = source(config, d.source, "data.source")
    options: dict[str, Any] = {}
    if d.kind == "transactions":
        columns = {role: role for role in TRANSACTION_ROLES[:3]} | dict(d.columns)
        for role in columns:
            if role not in TRANSACTION_ROLES:
                allowed = ", ".join(sorted(TRANSACTION_ROLES))
                raise ConfigError(f"data.columns.{role}: unknown column role (allowed: {allowed})")
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
            "timezone": d.timezone,
            "date_format": d.date_format,
            "decimal": d.decimal,
            "delimiter": d.delimiter,
            "product": columns.get("product"),
        }
    spark = None
    if d.engine == "spark":
        spark = config.spark or SparkConfig()
    return DataSettings(
        kind=d.kind,
        source=where,
        name=describe_source(where),
        time_unit=d.time_unit,
        engine=d.engine,
        summary_options=options,
        resources={
            "memory_limit": d.duckdb_memory_limit,
            "threads": d.duckdb_threads,
            "temp_directory": d.duckdb_temp_directory,
        },
        columns=dict(d.columns),
        observation_end=split.observation_end,
        calibration_periods=split.calibration_periods,
        covariates=_covariate_table(config),
        dynamic=_dynamic(config),
        spark=spark,
    )


def with_window(data: DataSettings, calibration_end: Any, observation_end: Any) -> DataSettings:
    """The same transaction data summarised with another calibration and observation
    end (dates), e.g. a backtest origin or the challenger's training window; the
    transactions after the window's end are left out, as the window is meant to end
    before the log does."""
    options = {
        **data.summary_options,
        "calibration_end": calibration_end,
        "observation_end": observation_end,
        "after_observation_end": "drop",
    }
    return dataclasses.replace(data, summary_options=options, observation_end=observation_end)


def _covariate_table(config: RunConfig) -> CovariateTable | None:
    table = config.data.covariates
    if table is None:
        return None
    where = source(config, table.source, "data.covariates.source")
    return CovariateTable(
        where, describe_source(where), tuple(table.columns), table.id_column, dict(table.reference)
    )


def _dynamic(config: RunConfig) -> DynamicSettings | None:
    """``data.dynamic_covariates`` and the covariates each model takes from it."""
    block = config.data.dynamic_covariates
    if block is None:
        return None
    where = None
    if block.source is not None:
        where = source(config, block.source, "data.dynamic_covariates.source")
        assert isinstance(where, str)  # a file path or builtin:NAME (no SQL key)
    wanted = {
        f"models.{key}.dynamic_covariates.{process}": tuple(names)
        for key, model in config.models.items()
        for process, names in (model.dynamic_covariates or {}).items()
        if names
    }
    return DynamicSettings(
        source=where,
        columns=None if block.columns is None else tuple(block.columns),
        id_column=block.id_column,
        period_column=block.period_column,
        calendar=None if block.calendar is None else to_plain(calendar_options(block.calendar)),
        horizon=resolve_horizon(config.clv.horizon, config.data.time_unit),
        wanted=wanted,
    )


def model_plan(config: RunConfig, key: str) -> ModelPlan:
    """The :class:`ModelPlan` of ``models.<key>``."""
    options: ModelConfig = config.models[key]
    processes = model_covariates(config, key)
    table = config.data.covariates
    reference = {} if table is None else table.reference
    used = {c for columns in processes.values() for c in columns}
    return ModelPlan(
        key=key,
        backend=model_backend(key, options),
        options=_backend_options(key, options),
        covariates=processes,
        reference={c: v for c, v in reference.items() if c in used},
        # one hierarchical fit pools the cohorts instead of a fit per cohort
        by_cohort=options.by_cohort and options.hierarchy is None,
        dynamic_covariates={p: list(c) for p, c in (options.dynamic_covariates or {}).items() if c},
        constraints=tuple(tuple(c) for c in options.constraints or ()),
        penalty=None if options.penalty is None else options.penalty["l2"],
        group=None if options.hierarchy is None else options.hierarchy["group"],
        grouped=grouped_parameters(options.hierarchy),
    )


def _backend_options(key: str, options: ModelConfig) -> dict[str, Any]:
    """The estimator's keyword arguments of a ``models.<key>`` block: the backend's
    options and the model's own (``k``, ``max_k``; the Pareto/GGG sampler's)."""
    info = model_info(key)
    own: dict[str, Any] = {}
    if "max_k" in info.options:
        own = {"max_k": options.max_k} if options.k is None else {"k": options.k}
    if "thin" in info.options:
        return {name: getattr(options, name) for name in SAMPLER_KEYS}
    fit = _fit_options(options, model_backend(key, options))
    if options.dynamic_covariates:  # PyMC's NUTS only (config.dynamic checks the keys)
        fit = {k: v for k, v in fit.items() if k not in ("method", "sampler")}
    return own | fit


def _fit_options(options: ModelConfig, backend: str) -> dict[str, Any]:
    """The options of the MLE or PyMC backend in a ``models.<key>`` block."""
    if backend == "bayes":
        kwargs: dict[str, Any] = {
            "method": options.method,
            "sampler": options.sampler,
            "draws": options.draws,
            "tune": options.tune,
            "chains": options.chains,
            "seed": options.seed,
            "target_accept": options.target_accept,
            "ess_floor": options.ess_floor,
        }
        if options.priors:
            kwargs["priors"] = options.priors
        return kwargs
    kwargs = {"max_iter": options.max_iter}
    if options.init is not None:
        kwargs["init"] = options.init
    return kwargs


def _evaluation(config: RunConfig) -> EvaluationSettings:
    """The challenger and the backtest of ``evaluation:``."""
    block = config.evaluation.backtest
    backtest = None
    if block is not None:
        origins = block.origins if isinstance(block.origins, int) else tuple(block.origins)
        backtest = Backtest(origins, block.step, block.holdout)
    return EvaluationSettings(config.evaluation.challenger, backtest)


def _valuation(config: RunConfig) -> Valuation:
    """The purchase model that values the customers (:class:`Valuation`)."""
    c = config.clv
    counterfactuals = None if c.counterfactuals is None else tuple(c.counterfactuals)
    purchase = [k for k in config.models if model_info(k).is_purchase]
    if c.purchase_model not in (None, "auto"):
        key, how = c.purchase_model, "configured"
    else:
        key = purchase[0] if purchase else None
        how = "auto" if c.purchase_model == "auto" else "first"
    return Valuation(key, how, c.select_by, c.price, counterfactuals, c.seed)
