"""Fitting on a distributed summary and scoring every customer with Spark.

Fitting needs only the distinct rows a model sees: :func:`compressed_rows` groups the
summary by the model's columns in Spark and brings the unique rows, with a ``count``
column, to the driver, where the estimators use ``count`` as weights (the likelihood
of identical customers is the likelihood of one times their number; see
:func:`clvmodels.estimators.frame_arrays`).  Scoring is the other way round: the
fitted models travel to the executors (pickled with the function), and each partition
calls :func:`clvmodels.clv.customer_values` on its pandas batches (``mapInPandas``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from clvmodels import clv
from clvmodels.errors import DataError
from clvmodels.estimators import Estimator
from clvmodels.models import model_info
from clvmodels.spark.session import quiet_pandas_conversion

SCORE_BATCH_ROWS = 200_000  # customers per call of customer_values on an executor


def compressed_rows(
    frame: DataFrame, columns: Sequence[str], *, where: Column | None = None
) -> pd.DataFrame:
    """The distinct rows of ``columns`` with their number of customers, on the driver.

    Parameters
    ----------
    frame
        A distributed per-customer summary (:attr:`clvmodels.spark.SparkSummary.frame`).
    columns
        The model's data columns (``frequency, recency, T``; ``frequency,
        monetary_value`` for the Gamma-Gamma), covariates included.
    where
        Optional filter of the customers to keep.

    Returns
    -------
    pandas.DataFrame
        ``columns`` and ``count`` (int64), sorted by ``columns``.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"summary: column {missing[0]!r} is missing (have: {frame.columns})")
    rows = frame if where is None else frame.filter(where)
    grouped = rows.groupBy(*columns).agg(F.count(F.lit(1)).alias("count"))
    with quiet_pandas_conversion():
        out = grouped.toPandas()
    out["count"] = out["count"].astype("int64")
    return out.sort_values(list(columns), kind="stable").reset_index(drop=True)


def fit_compressed(
    estimator: Estimator,
    frame: DataFrame,
    *,
    time_unit: str | None = None,
    where: Column | None = None,
) -> Estimator:
    """Fit ``estimator`` on the compressed rows of a distributed summary.

    Only the model's columns (and covariates) are grouped; the fit equals a fit on the
    whole summary in pandas.  ``where`` filters customers first (e.g. the spend fit's
    exclusion of nonpositive mean spends).
    """
    columns = list(estimator.module.SPEC.data_columns)
    for process_columns in (estimator.covariates or {}).values():
        columns += [c for c in process_columns if c not in columns]
    rows = compressed_rows(frame, columns, where=where)
    return estimator.fit(rows, time_unit=time_unit)


def value_columns(
    purchase: Estimator,
    settings: clv.ValueSettings,
    spend: Estimator | None,
    fallback_spend: float | None = 1.0,
) -> list[str]:
    """The columns :func:`clvmodels.clv.customer_values` returns for these models and
    settings (evaluated on one made-up customer, on the driver: bad arguments raise
    here rather than inside every executor)."""
    one = pd.DataFrame(
        {"frequency": [1.0], "recency": [1.0], "T": [2.0], "n": [2.0], "monetary_value": [1.0]}
    )
    small = dataclasses.replace(settings, draws=min(settings.draws, 20), threads=1)
    values = clv.customer_values(purchase, one, small, spend=spend, fallback_spend=fallback_spend)
    return list(values.columns)


def score_customers(
    frame: DataFrame,
    purchase: Estimator,
    settings: clv.ValueSettings,
    *,
    spend: Estimator | None = None,
    fallback_spend: float | None = None,
    batch_rows: int = SCORE_BATCH_ROWS,
) -> DataFrame:
    """Per-customer forecasts and value of every customer of a distributed summary.

    Each partition calls :func:`clvmodels.clv.customer_values` on batches of up to
    ``batch_rows`` customers (with one thread: Spark runs one task per core).  Interval
    draws are seeded by ``settings.seed`` and drawn per parameter, so every customer
    gets the same values as in one call over the whole summary, however the data is
    partitioned.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id`` and the value columns of :func:`clvmodels.clv.customer_values`
        (the columns of ``clvmodels predict``), lazily computed.
    """
    if purchase.has_patterns or (spend is not None and spend.has_patterns):
        raise DataError(
            "spark scoring: models with covariates or groups (hierarchy) are not supported yet"
        )
    inputs = ["customer_id", *model_info(purchase.model_key).history]
    if spend is not None:
        inputs.append("monetary_value")
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise DataError(f"spark scoring: the summary lacks column(s) {', '.join(missing)}")
    names = value_columns(purchase, settings, spend, fallback_spend)
    schema = T.StructType(
        [frame.schema["customer_id"], *[T.StructField(n, T.DoubleType()) for n in names]]
    )
    local = dataclasses.replace(settings, threads=settings.threads or 1)

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for chunk in _chunks(batches, batch_rows):
            values = clv.customer_values(
                purchase, chunk, local, spend=spend, fallback_spend=fallback_spend
            )
            yield values[names].reset_index()

    with quiet_pandas_conversion():
        return frame.select(*inputs).mapInPandas(score, schema)


def _chunks(batches: Iterator[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Arrow batches joined into frames of at least ``rows`` rows (the last may be smaller)."""
    held: list[pd.DataFrame] = []
    size = 0
    for batch in batches:
        held.append(batch)
        size += len(batch)
        if size >= rows:
            yield pd.concat(held, ignore_index=True)
            held, size = [], 0
    if held:
        yield pd.concat(held, ignore_index=True)


def write_parquet(frame: DataFrame, path: str | Path) -> Path:
    """Write a Spark DataFrame as a Parquet dataset (a directory of part files)."""
    target = Path(path)
    with quiet_pandas_conversion():
        frame.write.mode("errorifexists").parquet(str(target.resolve()))
    return target
