"""Spark sessions and sources: a transaction log as a Spark DataFrame.

A source is what :mod:`clvmodels.data.sources` accepts — a pandas DataFrame,
``"builtin:NAME"``, a ``.csv``/``.csv.gz``/``.parquet`` file or a directory of Parquet
files — or a Spark DataFrame.  CSV files are read with every column as text (as the
DuckDB engine does), so dates and amounts are validated by clvmodels.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.errors import AnalysisException, PySparkRuntimeError
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from clvmodels.data.builtin import load_builtin
from clvmodels.data.parsing import csv_delimiter
from clvmodels.data.sources import describe_source, source_kind
from clvmodels.errors import ConfigError, DataError
from clvmodels.machine import usable_cores

# PySpark 4.x warns on every pandas conversion under pandas 3 (which works for what we use)
_PANDAS3_NOTE = "PySpark does not yet fully support pandas"

DEFAULT_OPTIONS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.executorEnv.PYTHONWARNINGS": f"ignore:{_PANDAS3_NOTE}:FutureWarning",
    # pandas writes nanosecond timestamps, which Spark reads only as longs
    "spark.sql.legacy.parquet.nanosAsLong": "true",
}


def spark_session(
    master: str = "local[*]",
    app_name: str = "clvmodels",
    options: Mapping[str, Any] | None = None,
) -> SparkSession:
    """Get or start a Spark session for clvmodels.

    The session's time zone is UTC (time-zone aware timestamps become UTC dates, as in
    the DuckDB engine) unless ``options`` sets ``spark.sql.session.timeZone``.  Python
    workers run this interpreter (``PYSPARK_PYTHON`` is set to it when unset), so they
    import the same clvmodels, NumPy and pandas.

    Parameters
    ----------
    master
        Spark master URL: ``local[*]`` (every core of this machine), ``local[2]``,
        ``spark://host:7077``, ``yarn``...
    app_name
        Application name shown by Spark.
    options
        Spark configuration (``{"spark.driver.memory": "4g", ...}``); values are passed
        as strings (``true``/``false`` for booleans).  With a local master,
        ``spark.sql.shuffle.partitions`` defaults to 4 per core instead of Spark's 200.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    defaults = dict(DEFAULT_OPTIONS)
    cores = _local_cores(master)
    if cores is not None:  # Spark's 200 shuffle partitions cost minutes on a laptop
        defaults["spark.sql.shuffle.partitions"] = str(4 * cores)
    for key, value in {**defaults, **dict(options or {})}.items():
        builder = builder.config(key, _option_text(value))
    try:
        return builder.getOrCreate()
    except PySparkRuntimeError as exc:  # no Java, or the JVM did not start
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"spark: cannot start Spark ({first}); Spark needs Java 17 or later "
            "(java on PATH or JAVA_HOME)"
        ) from None


def _local_cores(master: str) -> int | None:
    """Cores of a ``local``, ``local[N]`` or ``local[*]`` master (None for a cluster)."""
    text = master.strip()
    if text == "local":
        return 1
    if not (text.startswith("local[") and text.endswith("]")):
        return None
    inner = text[len("local[") : -1].split(",")[0]
    if inner == "*":
        return usable_cores()
    return max(1, int(inner)) if inner.isdigit() else None


def quoted_name(name: str) -> str:
    """``name`` as a Spark SQL identifier (any column name, dots and backticks included)."""
    return "`" + str(name).replace("`", "``") + "`"


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@contextlib.contextmanager
def quiet_pandas_conversion() -> Iterator[None]:
    """Silence PySpark's note that it does not fully support pandas 3 (driver side)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS3_NOTE, category=FutureWarning)
        # PySpark's own astype(copy=False) calls, deprecated by pandas 3
        warnings.filterwarnings("ignore", message="The copy keyword", module="pyspark")
        yield


def read_spark_source(
    spark: SparkSession, source: Any, *, delimiter: str | None = None
) -> tuple[DataFrame, str]:
    """A source as a Spark DataFrame, with its name for messages.

    Parameters
    ----------
    spark
        The session to read with.
    source
        A Spark DataFrame, a pandas DataFrame, ``"builtin:NAME"``, or a path to a CSV
        (``.csv``, ``.csv.gz``; header row, every column read as text) or Parquet file,
        or a directory of Parquet files.
    delimiter
        The CSV delimiter; default :func:`clvmodels.data.parsing.csv_delimiter`'s choice
        from the header line, as the other engines read it.

    Raises
    ------
    DataError
        Unknown built-in name, missing/empty file, unsupported file type, unreadable file.
    """
    if isinstance(source, DataFrame):
        return source, "Spark DataFrame"
    name = describe_source(source)
    kind, value = source_kind(source)
    if kind == "frame":
        return pandas_to_spark(spark, value), name  # type: ignore[arg-type]
    if kind == "builtin":
        return pandas_to_spark(spark, load_builtin(str(value))), name
    path = str(Path(str(value)).resolve())
    try:
        if kind == "csv":
            sep = csv_delimiter(path, delimiter)
            frame = spark.read.csv(path, header=True, inferSchema=False, sep=sep)
        elif kind == "parquet":
            frame = _nanosecond_timestamps(spark, spark.read.parquet(path), path, name)
        else:
            raise DataError(
                f"{name}: the Spark engine reads DataFrames, builtin:NAME, CSV and Parquet, "
                f"not {kind} sources"
            )
    except AnalysisException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{name}: cannot read {kind}: {first}") from None
    return frame, name


def _nanosecond_timestamps(
    spark: SparkSession, frame: DataFrame, path: str, name: str
) -> DataFrame:
    """Nanosecond Parquet timestamps (what pandas writes), which Spark reads as longs
    with ``spark.sql.legacy.parquet.nanosAsLong``, as Spark timestamps (microseconds):
    ``timestamp`` (an instant) when the file says they are in UTC, ``timestamp_ntz``
    (a wall-clock time, naive in pandas) when not."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(Path(path).glob("*.parquet")) if Path(path).is_dir() else [Path(path)]
    schema = pq.read_schema(files[0])
    nanos = {
        f.name: f.type.tz is not None
        for f in schema
        if pa.types.is_timestamp(f.type) and f.type.unit == "ns" and f.name in frame.columns
    }
    if not nanos:
        return frame
    if spark.conf.get("spark.sql.legacy.parquet.nanosAsLong", "false").lower() != "true":
        raise DataError(
            f"{name}: column {next(iter(nanos))!r} holds nanosecond timestamps, which Spark "
            "reads only "
            "with spark.sql.legacy.parquet.nanosAsLong=true (set by clvmodels' spark_session)"
        )
    for column, is_instant in nanos.items():
        micros = f"floor({quoted_name(column)} / 1000)"
        stamp = F.timestamp_micros(F.expr(micros)) if is_instant else _wall_clock(micros)
        frame = frame.withColumn(column, stamp)
    return frame


def _wall_clock(micros: str) -> Column:
    """The ``timestamp_ntz`` ``micros`` (SQL) microseconds after 1970-01-01 00:00, whatever
    the session's time zone."""
    return F.expr(f"timestampadd(MICROSECOND, {micros}, TIMESTAMP_NTZ'1970-01-01 00:00:00')")


def pandas_to_spark(spark: SparkSession, frame: pd.DataFrame) -> DataFrame:
    """A pandas frame as a Spark DataFrame; naive datetimes become ``timestamp_ntz``
    (the same wall-clock times, whatever the session's time zone), time-zone aware ones
    ``timestamp`` instants."""
    if len(frame) == 0:
        raise DataError("DataFrame: no rows")
    columns, naive = {}, []
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_dtype(values) and not isinstance(
            values.dtype, pd.DatetimeTZDtype
        ):
            values = values.dt.tz_localize("UTC")  # as an instant, then its UTC wall clock
            naive.append(column)
        columns[column] = values
    with quiet_pandas_conversion():
        out = spark.createDataFrame(pd.DataFrame(columns, index=frame.index))
    for column in naive:
        out = out.withColumn(column, _wall_clock(f"unix_micros({quoted_name(column)})"))
    return out
