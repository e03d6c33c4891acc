"""The schema of the ``data:`` and ``spark:`` blocks of a run configuration (typed, frozen
dataclasses; re-exported by :mod:`clvmodels.config.schema`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class SqlSourceConfig:
    """``data.source: {sql: ..., url: ...}`` — the rows of a SQL query
    (:mod:`clvmodels.data.sql`); ``url_env`` names an environment variable holding the URL
    instead, and ``${NAME}`` in ``url`` is replaced from the environment.

    Attributes
    ----------
    sql
        The query (one ``SELECT``/``WITH`` statement), sent as written.
    url
        SQLAlchemy database URL, e.g. ``postgresql://user:${PGPASS_VAR}@host:5432/db``;
        ``${NAME}`` is read from the environment. One of ``url`` and ``url_env`` is required.
    url_env
        Name of an environment variable holding the whole URL (instead of ``url``).
    """

    sql: str
    url: str | None = None
    url_env: str | None = None


@dataclass(frozen=True)
class CovariatesConfig:
    """``data.covariates:`` — a customer attribute table (one row per customer) whose
    columns become time-invariant covariates (:mod:`clvmodels.data.covariates`).

    Numeric columns enter as they are, true/false columns as 0/1, other columns as one 0/1
    column per level except the reference level.

    Attributes
    ----------
    source
        Customer table: ``builtin:NAME``, a ``.csv`` or ``.parquet`` file, or a SQL query
        ``{sql, url}`` / ``{sql, url_env}`` like ``data.source``; one row per customer.
    columns
        Its columns to use as covariates (required with a source).
    id_column
        The table's customer id column.
    reference
        Reference level per categorical column, e.g. ``{channel: app}`` (default: the first
        level in sorted order).
    """

    source: str | SqlSourceConfig
    columns: list[str]
    id_column: str = "customer_id"
    reference: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CalendarConfig:
    """``data.dynamic_covariates.calendar:`` — population-wide calendar covariates
    (:func:`clvmodels.data.calendar.calendar_covariates`): month or quarter dummies, a
    high-season share, one column per campaign, a holiday flag.

    Each covariate is the share of the period's days.

    Attributes
    ----------
    seasonality
        ``month`` (columns ``month_02`` … ``month_12``) or ``quarter`` (``quarter_2`` …
        ``quarter_4``); null: none.
    high_season
        Months of the high season, e.g. ``[11, 12]`` (column ``high_season``).
    campaigns
        Campaign windows ``[{name, start, end}, ...]``, one column per name (a name given
        again adds windows).
    holidays
        Holiday dates (column ``holiday`` = 1 in a period holding one).
    """

    seasonality: Literal["month", "quarter"] | None = None
    high_season: list[int] | None = None
    campaigns: list[dict[str, Any]] | None = None
    holidays: list[dt.date] | None = None


@dataclass(frozen=True)
class DynamicCovariatesConfig:
    """``data.dynamic_covariates:`` — time-varying covariates per customer (or for
    everybody) and calendar period: a long table (``source``; :mod:`clvmodels.data.
    dynamic_table`) and/or calendar covariates (``calendar``).

    Transactions only, ``data.time_unit`` D or W (one period is one day or week; Bachmann,
    Meierer & Naef 2021). They must cover the calibration window and the longest horizon
    the run predicts over; a table ending sooner is refused.

    Attributes
    ----------
    source
        Long table (``.csv``, ``.parquet``): ``[customer_id,] period_start, <covariates>``,
        one row per period of one time unit (and per customer when it has the id column)
        from each first purchase to the end of the longest horizon; null: none.
    columns
        The table's covariates to use (default: every other column).
    id_column
        The table's customer id column.
    period_column
        The table's period start column.
    calendar
        Calendar covariates every customer shares.
    """

    source: str | None = None
    columns: list[str] | None = None
    id_column: str = "customer_id"
    period_column: str = "period_start"
    calendar: CalendarConfig | None = None


@dataclass(frozen=True)
class DataConfig:
    """``data:`` — where the input comes from and how to read it.

    Attributes
    ----------
    source
        ``builtin:NAME`` (``cdnow_sample``, ``cdnow_master``, ``retention_fh2007``,
        ``donations_fhs2010``, ``loyalty_store``), a ``.csv``, ``.csv.gz`` or ``.parquet``
        file or a folder of Parquet files (nested/hive-partitioned folders, Spark output), or
        a SQL query ``{sql: ..., url: ...}``. A relative path is read from the working
        directory, else from the config file's folder.
    kind
        ``transactions`` (one row per purchase), ``summary`` (one row per customer:
        frequency, recency, T, optionally monetary_value and count; BG/BB: frequency, recency,
        n),
        ``survival`` (cohort table: cohort, period, alive) or ``subscriptions`` (one row per
        subscriber: start and end dates, or tenure and churned).
    columns
        Map the roles to your column names (default: identity). transactions:
        customer_id, date, amount, and optionally product (distinct products per customer
        give the upsell ratio; duckdb and pandas engines); summary: frequency, recency, T,
        monetary_value, count, customer_id, n; survival: cohort, period, alive;
        subscriptions: customer_id, start, end, tenure, churned, cohort.
    time_unit
        Time unit of recency, T and horizons: ``D`` or ``W`` for transactions; ``D``, ``W``,
        ``M``, ``Y`` for subscriptions.
    merge_same_day
        One purchase per customer and day (amounts summed).
    nonpositive
        Refund policy for amounts ≤ 0: ``net`` (within the customer-day; a refund day is no
        purchase), ``net_across_days`` (refund days subtracted from the customer's spend),
        ``drop``, ``keep`` (negative purchases) or ``error``.
    after_observation_end
        ``error`` or ``drop`` (counted) for transactions after ``split.observation_end``.
    timezone
        IANA time zone whose calendar days count: timestamps with an offset are converted
        to it, naive ones and dates taken as local to it.
    date_format
        strptime-style format of text dates, e.g. ``%d/%m/%Y`` (``%Y %m %d %H %M %S %f %z
        %%``); null: ISO ``yyyy-mm-dd[ hh:mm:ss]``.
    decimal
        Decimal separator of text amounts: ``.`` or ``,`` (then ``.`` only as a thousands
        separator: ``1.234,50``).
    delimiter
        CSV delimiter (one character); null: the one of ``,`` ``;`` tab ``|`` the header line
        holds most often.
    engine
        ``duckdb`` (SQL, reads files directly, fast), ``pandas`` (plain reference
        implementation) or ``spark`` (Apache Spark; settings in the ``spark:`` block).
    covariates
        Time-invariant customer covariates from a customer table; null: none.
    dynamic_covariates
        Time-varying covariates per customer and period; null: none.
    duckdb_memory_limit
        DuckDB memory limit (``500MB``, ``16GB``, ...; null: ``4GB``): a log too big for it
        is summarised in customer buckets one after the other, and hash tables beyond it
        spill to disk.
    duckdb_threads
        DuckDB worker threads (null: every core this process may use).
    duckdb_temp_directory
        Where DuckDB spills (null: a fresh temporary folder, removed afterwards).
    """

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
    """``spark:`` — the Spark session of ``data.engine: spark`` (:mod:`clvmodels.spark`).

    Attributes
    ----------
    master
        Spark master URL (``local[N]``, ``spark://host:7077``, ``yarn``, ...).
    app_name
        Spark application name.
    config
        Spark options, e.g. ``{spark.driver.memory: 8g, spark.sql.shuffle.partitions: 64}``
        (values passed as strings).
    evaluation_sample
        Customers (uniform random sample) behind the evaluation, plots and report on the
        driver.
    sample_seed
        Seed of that sample.
    """

    master: str = "local[*]"
    app_name: str = "clvmodels"
    config: dict[str, str | int | float | bool] = field(default_factory=dict)
    evaluation_sample: int = 1_000_000
    sample_seed: int = 0
