"""Transactions -> one row per customer, computed by Apache Spark.

The same summary as :func:`clvmodels.data.summarize_transactions` (Fader, Hardie & Lee
2005, section 2; see :mod:`clvmodels.data.summary`) with the same options, rules, counts
and metadata, computed from a Spark DataFrame so that the log never has to fit in one
machine's memory.  The per-customer frame stays distributed (persisted); only the
counts and the daily repeat-transaction series come to the driver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from clvmodels.data.checks import require_columns
from clvmodels.data.parsing import EARLIEST_DAY, LATEST_DAY
from clvmodels.data.summary.rules import (
    BAD_ROW_KINDS,
    LOG_GAP_SCALE,
    MONEY_COLUMNS,
    NET_TOLERANCE,
    NETTING,
    SummaryOptions,
    after_obs_problem,
    bad_row_checks,
    check_window,
    daily_series,
    no_customers_error,
    summary_counts,
    summary_meta,
)
from clvmodels.data.transactions import (
    INTEGER_ID_PATTERN,
    MAX_AMOUNT,
    column_type_error,
    transaction_columns,
)
from clvmodels.errors import DataError, Echoed, echo
from clvmodels.spark.parsing import amount_column, day_column
from clvmodels.spark.session import (
    quiet_pandas_conversion,
    quoted_name,
    read_spark_source,
    spark_session,
)

_INTEGER_TYPES = ("tinyint", "smallint", "int", "bigint")
_NUMERIC_TYPES = (*_INTEGER_TYPES, "float", "double", "decimal")
_INT_PATTERN = f"^{INTEGER_ID_PATTERN}$"  # text ids that all match become integers


@dataclass
class SparkSummary:
    """A distributed per-customer summary.

    Attributes
    ----------
    frame
        One row per customer (persisted), with the columns of the pandas summary
        (``first_purchase`` as a Spark date).
    meta
        What ``summary.attrs["clvmodels"]`` holds for the other engines: time unit,
        observation and calibration ends, counts, repeat transactions per day.
    """

    frame: DataFrame
    meta: dict[str, Any]

    @property
    def customers(self) -> int:
        """Number of customers (rows of :attr:`frame`)."""
        return int(self.meta["counts"]["customers"])

    def to_pandas(self, frame: DataFrame | None = None) -> pd.DataFrame:
        """The summary (or ``frame``, some of its rows) as the pandas summary of the
        DuckDB engine: sorted by ``customer_id``, the same dtypes, ``attrs["clvmodels"]``."""
        with quiet_pandas_conversion():
            out = (self.frame if frame is None else frame).toPandas()
        out["frequency"] = out["frequency"].astype("int64")
        out["first_purchase"] = pd.to_datetime(out["first_purchase"]).astype("datetime64[ns]")
        if "frequency_holdout" in out:
            out["frequency_holdout"] = out["frequency_holdout"].astype("int64")
        out = out.sort_values("customer_id", kind="stable").reset_index(drop=True)
        out.attrs["clvmodels"] = self.meta
        return out

    def sample(self, size: int, seed: int = 0) -> pd.DataFrame:
        """A uniform random sample of at most ``size`` customers as a pandas summary.

        Customers are ranked by a seeded hash of their id, so the sample depends on
        ``seed`` and the ids only (not on partitioning); all customers when there are
        at most ``size``.
        """
        if self.customers <= size:
            return self.to_pandas()
        rank = (
            F.pmod(F.xxhash64(F.col("customer_id"), F.lit(int(seed))), F.lit(1_000_000_007)) / 1e9
        )
        ranked = self.frame.withColumn("_rank", rank)
        share = min(1.0, 1.2 * size / self.customers + 1e-3)
        chosen = ranked.filter(F.col("_rank") < share).orderBy("_rank", "customer_id").limit(size)
        if chosen.count() < size:  # the hash left too few under the cut: rank everyone
            chosen = ranked.orderBy("_rank", "customer_id").limit(size)
        return self.to_pandas(chosen.drop("_rank"))


def summarize_transactions_spark(
    source: Any, *, spark: SparkSession | None = None, **options: Any
) -> SparkSummary:
    """Summarise a transaction log with Spark: one row per customer.

    Options, rules, counts and results are those of
    :func:`clvmodels.data.summarize_transactions` (see its documentation), so the
    collected frame equals the DuckDB engine's summary.  Dates, time zones and amounts
    are read by the rules of :mod:`clvmodels.data.parsing`, as DuckDB reads them (ISO
    ``yyyy-mm-dd[ hh:mm:ss]`` or ``yyyy/mm/dd`` text or ``date_format``; an instant's
    date in ``timezone``, a naive timestamp's date as written), whatever the session's
    time zone.

    A Spark DataFrame keeps no row order, so errors about a row cannot say which line
    of the file it is: they quote one offending row and say how many there are
    (``column 'date', one of 3 such rows: cannot parse 'x' as a date``) instead of
    ``line N`` / ``row N``.

    Parameters
    ----------
    source
        A Spark DataFrame or a source of :func:`clvmodels.spark.read_spark_source`.
    spark
        The session (default: the active one, or a new local session).
    **options
        The keywords of the DuckDB engine's summary (``customer_id``, ``date``,
        ``amount``, ``time_unit``, ``observation_end``, ``calibration_end``,
        ``merge_same_day``, ``nonpositive``, ``after_observation_end``, ``timezone``,
        ``date_format``, ``decimal``, ``delimiter``), each one documented in
        :class:`clvmodels.data.SummaryOptions`.

    Returns
    -------
    SparkSummary
        The distributed per-customer frame (persisted) and the metadata.

    Raises
    ------
    TypeError
        A keyword that is no summary option.
    DataError
        As :func:`clvmodels.data.summarize_transactions`.
    """
    o = SummaryOptions.from_keywords("summarize_transactions_spark", options)
    if o.product is not None:  # never ignored silently
        raise DataError("product: the Spark engine does not count products; use duckdb or pandas")
    session = spark or SparkSession.getActiveSession() or spark_session()
    frame, name = read_spark_source(session, source, delimiter=o.delimiter)
    rows = _canonical_rows(frame, name, o)
    days = _customer_days(rows, o).persist()
    per = None
    try:
        per, counts, obs, daily = _aggregate(rows, days, name, o)
        return _finish(per, name, o, obs, counts, daily)
    except BaseException:
        if per is not None:
            per.unpersist()
        raise
    finally:
        days.unpersist()


def _canonical_rows(frame: DataFrame, name: str, o: SummaryOptions) -> DataFrame:
    """``raw_cid, raw_d, raw_a, cid, d, a``, as
    :func:`clvmodels.data.transactions.transactions_view` makes them."""
    types = dict(frame.dtypes)
    require_columns(name, transaction_columns(o.customer_id, o.date, o.amount), types)
    raw_id, raw_d = F.col(quoted_name(o.customer_id)), F.col(quoted_name(o.date))
    id_type, d_type = types[o.customer_id], types[o.date]
    if id_type == "string":
        cid = F.when(F.trim(raw_id) != "", raw_id)
    elif id_type in _INTEGER_TYPES:
        cid = raw_id.cast("bigint")
    else:
        cid = raw_id
    day = day_column(frame, quoted_name(o.date), d_type, o.formats)
    if day is None:
        raise column_type_error(name, o.date, d_type, "d")
    frame, d = day
    if o.amount is None:
        raw_a, a = F.lit(None).cast("string"), F.lit(1.0)
    else:
        raw_a = F.col(quoted_name(o.amount))
        a_type = types[o.amount]
        if a_type.startswith(_NUMERIC_TYPES):
            a = raw_a.cast("double")
        elif a_type == "string":
            a = amount_column(quoted_name(o.amount), o.decimal)
        else:
            raise column_type_error(name, o.amount, a_type, "a")
    return frame.select(
        raw_id.alias("raw_cid"),
        raw_d.alias("raw_d"),
        raw_a.alias("raw_a"),
        cid.alias("cid"),
        d.alias("d"),
        a.alias("a"),
    )


def _finite(a: Column) -> Column:
    return a.isNotNull() & ~F.isnan(a) & ~a.isin(float("inf"), float("-inf"))


def _bad_rows(kind: str) -> Column:
    """The rows of a kind of bad row (:func:`clvmodels.data.summary.rules.bad_row_checks`)."""
    cid, d, a = F.col("cid"), F.col("d"), F.col("a")
    return {
        "id": cid.isNull(),
        "date": d.isNull(),
        "range": _out_of_range(d),
        "amount": ~_finite(a),
        "huge": F.abs(a) > F.lit(MAX_AMOUNT),
        "nonpositive": a <= 0,
    }[kind]


def _out_of_range(d: Column) -> Column:
    """Days a summary cannot hold (:data:`clvmodels.data.parsing.EARLIEST_DAY` ..)."""
    return (d < F.lit(EARLIEST_DAY)) | (d > F.lit(LATEST_DAY))


def _customer_days(rows: DataFrame, o: SummaryOptions) -> DataFrame:
    """One row per customer-day: ``n_rows``, bad amounts, kept rows ``n``, their sum
    ``a`` and minimum ``lo`` (positive amounts only with ``nonpositive="drop"``), the
    gross ``sum(|a|)`` for netting, and nonpositive rows for ``nonpositive="error"``."""
    a = F.col("a")
    mode = o.nonpositive_rule
    kept = a if mode != "drop" else F.when(a > 0, a)
    aggregates = [
        F.count(F.lit(1)).alias("n_rows"),
        F.count(F.when(~_finite(a), 1)).alias("n_bad"),
        F.count(F.when(_bad_rows("huge"), 1)).alias("n_huge"),
        F.count(kept).alias("n"),
        F.sum(kept).alias("a"),
        F.min(kept).alias("lo"),
    ]
    if mode in NETTING:
        aggregates.append(F.sum(F.abs(a)).alias("gross"))
    if mode == "error":
        aggregates.append(F.count(F.when(a <= 0, 1)).alias("n_np"))
    return rows.groupBy("cid", "d").agg(*aggregates)


def _raise_first(
    rows: DataFrame,
    name: str,
    condition: Column,
    role: str,
    column: str | None,
    problem: str,
    n: int,
) -> None:
    """Raise the DataError of one row matching ``condition`` (``role``: whose raw value
    ``{raw}`` quotes: ``cid``, ``d`` or ``a``)."""
    found = rows.filter(condition).select(f"raw_{role}", "cid", "d", "a").first()
    if found is None:
        return
    raw, cid, d, a = found
    where = f"one of {n:,} such rows" if n > 1 else "one row"
    text = problem.format(raw=Echoed(raw), cid=Echoed(cid), d=d, a=Echoed(a))
    raise DataError(f"{name}: column {echo(column)}, {where}: {text}")


def _aggregate(rows: DataFrame, days: DataFrame, name: str, o: SummaryOptions):
    """The per-customer aggregates (persisted), counts, observation end and daily repeat
    purchases; raises on the first kind of bad row found."""
    c = F.col
    stats = [  # the rows, the last day, then the bad rows in BAD_ROW_KINDS order
        F.coalesce(F.sum("n_rows"), F.lit(0)),
        F.max("d"),
        F.coalesce(F.sum(F.when(c("cid").isNull(), c("n_rows"))), F.lit(0)),
        F.coalesce(F.sum(F.when(c("d").isNull(), c("n_rows"))), F.lit(0)),
        F.coalesce(F.sum(F.when(_out_of_range(c("d")), c("n_rows"))), F.lit(0)),
        F.coalesce(F.sum("n_bad"), F.lit(0)),
        F.coalesce(F.sum("n_huge"), F.lit(0)),
        F.coalesce(F.sum("n_np"), F.lit(0)) if o.nonpositive_rule == "error" else F.lit(0),
    ]
    rows_in, last_day, *bad = days.agg(*stats).first()
    if rows_in == 0:
        raise DataError(f"{name}: no rows")
    for check in bad_row_checks(o, dict(zip(BAD_ROW_KINDS, bad, strict=True))):
        where = _bad_rows(check.kind)
        _raise_first(rows, name, where, check.role, check.column, check.problem, check.count)
    obs, cal = o.window(last_day)
    obs_d, cal_d = F.lit(obs.date()), F.lit(cal.date())
    per, occ, use = _per_customer(days, o, obs_d, cal_d)
    totals = per.agg(
        *[
            F.coalesce(F.sum(f"c_{k}"), F.lit(0))
            for k in ("dropped", "after", "kept", "days", "gone")
        ],
        F.count(F.lit(1)),
        F.count("first_d"),
        F.count(F.when(c("first_d") > cal_d, 1)),
    ).first()
    n_dropped, n_after, n_kept, n_days, n_gone, n_customers, n_purchasers, n_late = totals
    if n_after and o.after_observation_end == "error":
        per.unpersist()
        late = (c("d") > obs_d) & (c("a") > 0 if o.nonpositive_rule == "drop" else F.lit(True))
        problem = after_obs_problem(int(n_after), obs)
        _raise_first(rows, name, late, "d", o.date, problem, int(n_after))
    counts = summary_counts(
        o,
        rows_in=rows_in,
        rows_dropped=n_dropped,
        rows_after=n_after,
        rows_kept=n_kept,
        days_kept=n_days,
        days_gone=n_gone,
        customers_without_purchases=n_customers - n_purchasers,
        customers_late=n_late,
        customers=n_purchasers - n_late,
    )
    kept = days.filter(use).select("cid", "d", occ.alias("occ"))
    purchasers = per.filter(c("first_d") <= cal_d)  # with a purchase by calibration_end
    # repeat transactions per day: every occasion but each kept customer's first one
    repeats = (
        kept.join(purchasers.select("cid", "first_d"), "cid")
        .groupBy("d")
        .agg((F.sum("occ") - F.count(F.when(c("d") == c("first_d"), 1))).alias("n"))
        .select(F.datediff("d", F.lit("1970-01-01").cast("date")).alias("day"), "n")
    )
    daily = daily_series([(row["day"], row["n"]) for row in repeats.collect()])
    return per, counts, obs, daily


def _per_customer(
    days: DataFrame, o: SummaryOptions, obs_d: Column, cal_d: Column
) -> tuple[DataFrame, Column, Column]:
    """In one pass over the customer-days: each customer's aggregates (``first_d,
    last_d, n_cal, revenue, first_a, log_gaps, n_gaps, n_hold, rev_hold, refunds,
    refunds_hold``, persisted) and their share of the counts (``c_*``).  Also returns a
    day's purchase occasions and whether a day is a purchase occasion, as columns.
    ``log_gaps``/``n_gaps``: the sum of ln(days between consecutive purchase days in the
    calibration window, fixed point :data:`LOG_GAP_SCALE`) and their number (zero gaps
    of same-day rows cannot occur: the rows are customer-days)."""
    c = F.col
    net = o.nonpositive_rule in NETTING
    gone = (c("lo") < 0) & (c("a") <= F.lit(NET_TOLERANCE) * c("gross")) if net else F.lit(False)
    kept_day = (c("n") > 0) & (c("d") <= obs_d)
    use = kept_day & ~gone  # the purchase occasions
    # the refund days, whose amounts nonpositive="net_across_days" subtracts
    refund = kept_day & gone if o.nonpositive_rule == "net_across_days" else F.lit(False)
    # purchase occasions per day and the value of a first purchase on that day
    occ, first_value = (F.lit(1), c("a")) if o.merge_same_day else (c("n"), c("lo"))
    in_cal, in_hold = use & (c("d") <= cal_d), use & (c("d") > cal_d)
    gap = F.datediff(c("d"), c("prev_d"))  # days since the previous purchase day (> 0)
    fixed_log = F.floor(F.ln(gap) * F.lit(float(LOG_GAP_SCALE))).cast("bigint")
    per = (
        _previous_purchase_day(days, use)
        .groupBy("cid")
        .agg(
            F.min(F.when(use, c("d"))).alias("first_d"),
            F.max(F.when(in_cal, c("d"))).alias("last_d"),
            F.sum(F.when(in_cal, occ)).alias("n_cal"),
            F.sum(F.when(in_cal, c("a"))).alias("revenue"),
            F.min_by(F.when(use, first_value), F.when(use, c("d"))).alias("first_a"),
            F.coalesce(F.sum(F.when(in_cal & (gap > 0), fixed_log)), F.lit(0)).alias("log_gaps"),
            F.count(F.when(in_cal & (gap > 0), 1)).alias("n_gaps"),
            F.coalesce(F.sum(F.when(in_hold, occ)), F.lit(0)).alias("n_hold"),
            F.coalesce(F.sum(F.when(in_hold, c("a"))), F.lit(0.0)).alias("rev_hold"),
            F.coalesce(F.sum(F.when(refund & (c("d") <= cal_d), c("a"))), F.lit(0.0)).alias(
                "refunds"
            ),
            F.coalesce(F.sum(F.when(refund & (c("d") > cal_d), c("a"))), F.lit(0.0)).alias(
                "refunds_hold"
            ),
            F.sum(c("n_rows") - c("n")).alias("c_dropped"),
            F.coalesce(F.sum(F.when(c("d") > obs_d, c("n"))), F.lit(0)).alias("c_after"),
            F.coalesce(F.sum(F.when(c("d") <= obs_d, c("n"))), F.lit(0)).alias("c_kept"),
            F.count(F.when(kept_day, 1)).alias("c_days"),
            F.count(F.when(kept_day & gone, 1)).alias("c_gone"),
        )
        .persist()
    )
    return per, occ, use


def _previous_purchase_day(days: DataFrame, use: Column) -> DataFrame:
    """``days`` with ``prev_d``, the customer's last purchase day (``use``) before the
    row's day (null for the first): one window pass over each customer's days."""
    before = Window.partitionBy("cid").orderBy("d").rowsBetween(Window.unboundedPreceding, -1)
    previous = F.last(F.when(use, F.col("d")), ignorenulls=True).over(before)
    return days.withColumn("prev_d", previous)


def _finish(
    per: DataFrame,
    name: str,
    o: SummaryOptions,
    obs: pd.Timestamp,
    counts: dict[str, int],
    daily: dict[str, list[int]],
) -> SparkSummary:
    """The summary columns from the per-customer aggregates (the arithmetic of the
    pandas-side columns of :func:`clvmodels.data.summarize_transactions`)."""
    check_window(o, obs)
    c = F.col
    unit = float(o.unit_days)
    _, cal = o.window(obs)
    frequency = (c("n_cal") - 1).cast("bigint")
    purchases, refunds = c("revenue").cast("double"), c("refunds").cast("double")
    # the refunds spread over the window's purchases in proportion to their value
    share = F.when((refunds < 0) & (purchases > 0), (purchases + refunds) / purchases).otherwise(
        1.0
    )
    columns = {
        "customer_id": c("cid"),
        "frequency": frequency,
        "recency": F.datediff("last_d", "first_d").cast("double") / unit,
        "T": F.datediff(F.lit(cal.date()), "first_d").cast("double") / unit,
        "monetary_value": F.when(
            frequency > 0,
            (purchases - c("first_a")) * share / F.greatest(frequency, F.lit(1)).cast("double"),
        ).otherwise(0.0),
        "revenue": purchases + refunds,
        # litt_from_gaps: Σ ln(gap / unit) = Σ ln(gap days) - n ln(unit)
        "litt": c("log_gaps").cast("double") / float(LOG_GAP_SCALE)
        - c("n_gaps").cast("double") * math.log(unit),
        "first_purchase": c("first_d"),
    }
    if o.calibration_end is not None:
        columns["frequency_holdout"] = c("n_hold").cast("bigint")
        columns["revenue_holdout"] = c("rev_hold").cast("double") + c("refunds_hold")
        columns["duration_holdout"] = F.lit(float((obs - cal).days) / unit)
    if o.amount is None:
        for money in MONEY_COLUMNS:
            columns.pop(money, None)
    if counts["customers"] == 0:
        raise no_customers_error(name, o, obs, {**counts, "customers": 0})
    frame = per.filter(F.col("first_d") <= F.lit(cal.date()))
    frame = frame.select(*[value.alias(key) for key, value in columns.items()])
    return SparkSummary(_integer_ids(frame), summary_meta(o, obs, counts, daily))


def _integer_ids(frame: DataFrame) -> DataFrame:
    """Text ids that are all integers as Python writes them as bigint, like
    :func:`clvmodels.data.transactions.integer_ids`."""
    if dict(frame.dtypes)["customer_id"] != "string":
        return frame
    ids = F.trim(F.col("customer_id"))
    as_int = F.expr("try_cast(trim(customer_id) AS bigint)")
    other, distinct, total = frame.agg(
        F.count(F.when(~ids.rlike(_INT_PATTERN) | as_int.isNull(), 1)),
        F.countDistinct(as_int),
        F.count(F.lit(1)),
    ).first()
    if other or distinct != total:
        return frame
    return frame.withColumn("customer_id", as_int)
