"""``data.engine: spark`` in a configured run: what runs in Spark, what on the driver.

:func:`prepare_spark` summarises the log in Spark and keeps the per-customer summary
distributed (:class:`DistributedSummary`, the ``distributed`` field of
:class:`clvmodels.run.prepared.PreparedData`); the run's ``summary`` is a uniform random
sample of at most ``spark.evaluation_sample`` customers in pandas, on which the
evaluation, plots and report are computed.  Models are fitted on the compressed rows of
the whole summary (:meth:`DistributedSummary.fit_rows`); every customer is scored by
Spark (:func:`score_run`) and written as a Parquet dataset (:class:`DistributedOutputs`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from clvmodels.estimators import Estimator
from clvmodels.run.fit import NEW_AT_END
from clvmodels.run.prepared import PreparedData
from clvmodels.run.settings import DataSettings, RunSettings
from clvmodels.spark.models import compressed_rows, score_customers, write_parquet
from clvmodels.spark.session import spark_session
from clvmodels.spark.summary import SparkSummary, summarize_transactions_spark

SAMPLE_USE = "evaluation, conditional expectations, plots, report tables, sample CSVs"


@dataclass
class DistributedSummary:
    """The whole per-customer summary of a Spark run, kept in Spark."""

    summary: SparkSummary
    master: str
    _totals: dict[str, float] | None = None

    @property
    def frame(self) -> DataFrame:
        """The distributed per-customer frame."""
        return self.summary.frame

    def write(self, path: Path) -> Path:
        """Write the whole summary as the Parquet dataset ``path`` (which must not
        exist; ``clvmodels summarize`` writes it into its staged folder)."""
        return write_parquet(self.frame, path)

    def fit_rows(self, columns: tuple[str, ...], *, spend: bool, meta: dict[str, Any]):
        """Unique rows of ``columns`` with ``count``, for a fit on the driver.

        ``spend``: the Gamma-Gamma's rows, without repeat buyers whose mean repeat spend
        is not positive (counted in ``meta["counts"]["spend_fit_excluded_nonpositive"]``,
        as :func:`clvmodels.run.fit.spend_rows` does for the other engines); with a ``T``
        column, without the customers whose first purchase is on the last day
        (:data:`clvmodels.run.fit.NEW_AT_END`).
        """
        where = None
        counts = meta.setdefault("counts", {})
        if spend:
            bad = (F.col("frequency") > 0) & ~(F.col("monetary_value") > 0)
            counts["spend_fit_excluded_nonpositive"] = int(self.frame.filter(bad).count())
            where = ~bad
        if "T" in columns:  # new customers on the last day tell a fit nothing
            new = F.col("T") <= 0
            counts[NEW_AT_END] = int(self.frame.filter(new).count())
            where = ~new if where is None else where & ~new
        rows = compressed_rows(self.frame, columns, where=where)
        rows.attrs["clvmodels"] = {"time_unit": self.summary.meta["time_unit"]}
        return rows

    def totals(self) -> dict[str, float]:
        """``customers``, ``orders`` (sum of frequency + 1), ``revenue``,
        ``repeat_customers`` (frequency >= 1) and ``max_T`` of the whole summary."""
        if self._totals is not None:
            return self._totals
        c = F.col
        revenue = F.sum("revenue") if "revenue" in self.frame.columns else F.lit(None)
        row = self.frame.agg(
            F.count(F.lit(1)).alias("customers"),
            F.sum(c("frequency") + 1).alias("orders"),
            revenue.alias("revenue"),
            F.count(F.when(c("frequency") >= 1, 1)).alias("repeat_customers"),
            F.max("T").alias("max_T"),
        ).first()
        self._totals = {k: (None if v is None else float(v)) for k, v in row.asDict().items()}
        return self._totals

    def average_order_value(self) -> float | None:
        """Calibration average order value of every customer (None without amounts)."""
        totals = self.totals()
        if totals["revenue"] is None:
            return None
        return totals["revenue"] / totals["orders"]


@dataclass
class DistributedOutputs:
    """What Spark writes into a run folder: ``predictions.parquet/`` (every customer)
    and ``summary.parquet/`` (the whole per-customer summary)."""

    predictions: DataFrame
    summary: DataFrame

    def write(self, folder: Path) -> dict[str, float]:
        """Write both datasets into ``folder``; returns the seconds each took."""
        timings = {}
        for name, frame in (("predictions", self.predictions), ("summary", self.summary)):
            started = time.perf_counter()
            write_parquet(frame, folder / f"{name}.parquet")
            timings[f"write {name}.parquet (spark)"] = round(time.perf_counter() - started, 3)
        return timings


def prepare_spark(settings: DataSettings) -> PreparedData:
    """Summarise the configured log in Spark: the run's prepared data, whose ``summary``
    is the sample and ``distributed`` the whole summary."""
    spark = settings.spark
    assert spark is not None  # resolved with engine spark
    session = spark_session(spark.master, spark.app_name, dict(spark.config))
    source = settings.source
    assert isinstance(source, str)  # a SQL source with engine spark is a config error
    summary = summarize_transactions_spark(source, spark=session, **settings.summary_options)
    sample = summary.sample(spark.evaluation_sample, spark.sample_seed)
    meta = dict(summary.meta)
    meta["engine"] = "spark"
    meta["spark"] = {"master": session.sparkContext.master, "version": session.version}
    meta["sample"] = {
        "customers": len(sample),
        "of": summary.customers,
        "seed": spark.sample_seed,
        "used_for": SAMPLE_USE,
    }
    if len(sample) < summary.customers:
        # the log's repeat transactions per day are the population's: no tracking curve
        meta.pop("repeat_transactions_per_day", None)
        meta["sample"]["omitted"] = "tracking (population totals against a sample)"
    sample.attrs["clvmodels"] = meta
    distributed = DistributedSummary(summary, session.sparkContext.master)
    return PreparedData(
        "transactions",
        source,
        summary=sample,
        meta=meta,
        average_order_value=distributed.average_order_value(),
        distributed=distributed,
    )


def score_run(
    settings: RunSettings,
    distributed: DistributedSummary,
    purchase: Estimator,
    spend: Estimator | None,
    fallback_spend: float,
) -> DistributedOutputs:
    """Every customer's predictions (lazy, computed when written), with the run's value
    settings and models, as :func:`clvmodels.run.tables.predictions_table` values them."""
    scores = score_customers(
        distributed.frame, purchase, settings.value, spend=spend, fallback_spend=fallback_spend
    )
    return DistributedOutputs(scores, distributed.frame)
