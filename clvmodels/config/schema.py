"""The run configuration's schema: typed, frozen dataclasses, one per YAML block.

Every key is documented in the numpy ``Attributes`` section of its class (the data and
spark blocks live in :mod:`~clvmodels.config.schema_data`, a model's options in
:mod:`~clvmodels.config.schema_models`); :func:`clvmodels.config.reference.config_reference`
turns them into the documentation's config reference, and ``configs/template.yaml`` shows
every key with its default.  :func:`clvmodels.config.load_config` builds these from YAML and
:mod:`clvmodels.config.checks` checks what the types cannot say.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from clvmodels.config.schema_data import DataConfig, SparkConfig, SqlSourceConfig
from clvmodels.config.schema_models import ModelConfig
from clvmodels.data.sql import mask_config_url


@dataclass(frozen=True)
class SplitConfig:
    """``split:`` — calibration/holdout split and the end of observation.

    Attributes
    ----------
    calibration_end
        End of the calibration period (transactions); with it the holdout columns
        ``frequency_holdout``, ``revenue_holdout`` and ``duration_holdout`` are added.
        Null: no split.
    observation_end
        End of observation (null: the last transaction date).
    calibration_periods
        Survival data: fit on the first k periods (null: all periods).
    refit
        After the holdout evaluation, refit on the whole window and predict from that fit
        (its parameters are added to ``params.json``'s ``models`` as
        ``<key>@whole_window``).
    """

    calibration_end: dt.date | None = None
    observation_end: dt.date | None = None
    calibration_periods: int | None = None
    refit: bool = False


@dataclass(frozen=True)
class MlflowConfig:
    """``output.mlflow:`` — log every ``clvmodels fit`` run to MLflow (needs the optional
    ``mlflow`` extra: ``pip install clvmodels[mlflow]``; :mod:`clvmodels.run.tracking`).

    Attributes
    ----------
    tracking_uri
        Where MLflow keeps the runs: a local store (``file:///path/to/mlruns``), a
        database (``sqlite:///mlflow.db``) or a tracking server (``http://host:5000``).
        Null: MLflow's own default (the ``MLFLOW_TRACKING_URI`` environment variable).
    experiment
        The MLflow experiment the runs are logged under, created if missing (null: the
        run's ``name``).
    """

    tracking_uri: str | None = None
    experiment: str | None = None


@dataclass(frozen=True)
class OutputConfig:
    """``output:`` — where results go.

    Attributes
    ----------
    dir
        Output folder (null: ``reports/<name>``).
    formats
        ``csv`` and/or ``parquet``.
    mlflow
        Also log each run to MLflow: its resolved config, parameters with intervals,
        evaluation metrics and the run folder (null: no tracking;
        ``docs/guide/tracking.md``).
    """

    dir: str | None = None
    formats: list[Literal["csv", "parquet"]] = field(default_factory=lambda: ["csv"])
    mlflow: MlflowConfig | None = None


@dataclass(frozen=True)
class SurveyConfig:
    """``metrics.survey:`` — a customer survey behind the Net Promoter Score and the
    customer loyalty index (:mod:`clvmodels.data.survey`; one row per respondent).

    Attributes
    ----------
    source
        Survey file: ``.csv`` or ``.parquet``. A relative path is read from the working
        directory, else from the config file's folder.
    columns
        Map the answers to the file's columns: ``nps`` (0–10 "how likely are you to
        recommend us?", gives the NPS) and/or ``recommend``, ``buy_again``, ``try_other``
        (1–6 answers, all three give the customer loyalty index). A missing answer is
        left out (see ``docs/guide/seed-metrics.md``).
    """

    source: str
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricsConfig:
    """``metrics:`` — inputs of the seed marketing metrics printed by ``summarize``.

    Attributes
    ----------
    marketing_spend
        Total acquisition spend; with it CAC, CLV − CAC and LTV:CAC are shown.
    conversion_rate
        Share of paid clicks (visits) that become a first purchase (0.02 = 2 %); with it the
        report gives the maximum cost-per-click bid (CLV × conversion rate).
    ltv_cac_ratio
        The LTV:CAC ratio to keep (3.0: a new customer may cost a third of her expected
        value, the usual 3:1 rule); the report's maximum acquisition cost is the
        new-customer CLV divided by it.
    survey
        A customer survey file with its answer columns (see ``metrics.survey``): gives the
        NPS and the customer loyalty index; null: none.
    """

    marketing_spend: float | None = None
    conversion_rate: float | None = None
    ltv_cac_ratio: float = 3.0
    survey: SurveyConfig | None = None


@dataclass(frozen=True)
class ClvConfig:
    """``clv:`` — how future purchases are valued (see :mod:`clvmodels.clv`).

    CLV = margin × expected spend per order × discounted expected purchases (DERT); sBG:
    margin × price × discounted expected residual lifetime.

    Attributes
    ----------
    horizon
        Forecast/valuation horizon in ``data.time_unit`` (null: one year), or ``lifetime``
        (no end; needs a positive ``discount_rate``).
    discount_rate
        Effective yearly rate, converted exactly to the time unit (continuous for BG/NBD,
        Pareto/NBD, MBG/NBD; per period for BG/BB, sBG).
    margin
        Share of revenue kept, in (0, 1] (1.0 values revenue).
    interval
        Central interval per customer from parameter draws (null: none).
    draws
        Parameter draws behind the interval (≥ 20).
    seed
        Seed of the draws.
    threads
        Threads computing the per-customer intervals over draws (null: every core; results
        do not depend on it).
    purchase_model
        Purchase model behind ``predictions.csv``: a key, or ``auto`` (the best on the
        holdout by ``select_by``; without a split the first purchase model); null: the first
        configured purchase model.
    select_by
        The ``evaluation.csv`` column ``auto`` chooses by (any score with a better end; not
        the coverages).
    price
        sBG: payment per period; the value of an order when the data have no amounts.
    counterfactuals
        Binary covariates valued on and off per customer, with the lift (null: every binary
        covariate of the models; ``[]``: none).
    """

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
    """``baseline:`` — the seed formula AOV × purchase frequency × lifespan.

    Attributes
    ----------
    lifespan_years
        Lifespan of the seed formula (and of the simple CLV seed metric); 3 years when a
        store is too young to know.
    level
        Level of ``baseline_clv`` in ``predictions.csv``: ``base``, ``segment`` (RFM) or
        ``customer``.
    segments
        How customers are cut into the RFM segments ``low``, ``middle``, ``top`` of the
        segment level, the segment table and chart: ``quantile`` (thirds of equal count,
        ranked by RFM score) or ``equal_width`` (equal-width thirds of the score range, the
        seed's own method; few customers on top of a skewed base).
    """

    lifespan_years: float = 3.0
    level: Literal["base", "segment", "customer"] = "segment"
    segments: Literal["quantile", "equal_width"] = "quantile"


@dataclass(frozen=True)
class BacktestConfig:
    """``evaluation.backtest:`` — a rolling-origin backtest: every model refitted at
    several calibration ends (``origins``: a number of them, the last one the split's
    calibration end and the others ``step`` time units apart, or a list of dates), each
    scored on a holdout of ``holdout`` time units (default: the split's).

    Attributes
    ----------
    origins
        A number of calibration ends (the last the split's) or a list of dates.
    step
        Time units between the calibration ends (null: holdout / origins).
    holdout
        Holdout length of every origin, in time units (null: the split's).
    """

    origins: int | list[dt.date] = 3
    step: float | None = None
    holdout: float | None = None


@dataclass(frozen=True)
class EvaluationConfig:
    """``evaluation:`` — what the holdout evaluation adds to the models' scores.

    Attributes
    ----------
    challenger
        Train the gradient-boosted challenger (scikit-learn) on the window before the
        calibration end and score it next to the models (transaction logs, DuckDB or pandas
        engine).
    backtest
        Rolling-origin backtest; null: the single split.
    """

    challenger: bool = True
    backtest: BacktestConfig | None = None


@dataclass(frozen=True)
class RunConfig:
    """A whole run.

    Attributes
    ----------
    name
        Run name; the default output folder is ``reports/<name>/``.
    data
        Where the input comes from and how to read it.
    split
        Calibration/holdout split and the end of observation.
    models
        Models to fit: a mapping from model key to its options.
    metrics
        Inputs of the seed marketing metrics.
    clv
        How future purchases are valued.
    baseline
        The seed formula marketers use.
    evaluation
        What the holdout evaluation adds.
    output
        Where results go.
    spark
        Spark session of ``data.engine: spark`` (only allowed with it); null: the defaults.
    """

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
