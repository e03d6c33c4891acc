"""The DuckDB engine of the transaction summary: SQL over CSV, Parquet, pandas and SQL rows.

The log is never loaded into pandas: DuckDB scans the source through the view of
:func:`clvmodels.data.transactions.transactions_view`, aggregates it to customer-days
and then to customers, within a bounded memory (:func:`duckdb_connection`).  Only the
per-customer aggregates come back to Python, where
:func:`clvmodels.data.summarize_transactions` turns them into the summary columns.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from clvmodels.data.csvfile import csv_line_problem
from clvmodels.data.sources import Source, describe_source, duckdb_error_line, is_csv_source
from clvmodels.data.sql import SqlSource, rows_fingerprint
from clvmodels.data.summary.rules import (
    BAD_ROW_KINDS,
    LOG_GAP_SCALE,
    NET_TOLERANCE,
    NETTING,
    SummaryOptions,
    after_obs_problem,
    bad_row_checks,
    daily_series,
    summary_counts,
)
from clvmodels.data.transactions import (
    MAX_AMOUNT,
    OUT_OF_RANGE_SQL,
    raise_first_bad_row,
    transactions_view,
)
from clvmodels.errors import ConfigError, DataError
from clvmodels.machine import usable_cores

DEFAULT_MEMORY_LIMIT = "4GB"

# Memory per log row of one customer bucket: bounds the customer-day hash table (~100
# bytes a row, the table of its customer-days as much again) within ``memory_limit``.
_BYTES_PER_ROW = 150

# What _aggregate_bucket totals over the customer-days, in its order.
_TOTALS = (
    "rows_in",
    *BAD_ROW_KINDS,
    "dropped",
    "after",
    "kept",
    "days",
    "gone",
)

# the condition of each kind of bad row (clvmodels.data.summary.rules.bad_row_checks)
_BAD_ROWS = {
    "id": "cid IS NULL",
    "date": "d IS NULL",
    "range": OUT_OF_RANGE_SQL,
    "amount": "a IS NULL OR NOT isfinite(a)",
    "huge": f"abs(a) > {MAX_AMOUNT}",
    "nonpositive": "a <= 0",
}


@contextlib.contextmanager
def duckdb_connection(
    memory_limit: str | None = None, threads: int | None = None, temp_directory: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with bounded resources, closed on exit.

    Parameters
    ----------
    memory_limit : str, optional
        DuckDB ``memory_limit`` (e.g. ``"4GB"``; default :data:`DEFAULT_MEMORY_LIMIT`).
        Hash tables larger than this spill to ``temp_directory`` instead of failing;
        the process's peak memory is about this plus the result frames.
    threads : int, optional
        Worker threads (default: the cores this process may use).
    temp_directory : str, optional
        Where DuckDB spills; default a fresh folder in the system temporary
        directory, deleted on exit.

    Raises
    ------
    ConfigError
        A memory size or thread count DuckDB does not accept.
    """
    owned = None if temp_directory is not None else tempfile.mkdtemp(prefix="clvmodels-duckdb-")
    settings = {
        "memory_limit": memory_limit or DEFAULT_MEMORY_LIMIT,
        "threads": threads if threads is not None else usable_cores(),
        "temp_directory": temp_directory or owned,
    }
    try:
        if isinstance(settings["threads"], bool) or int(settings["threads"]) < 1:
            raise ConfigError(f"threads: must be a whole number >= 1, got {threads!r}")
        try:
            con = duckdb.connect(config=settings)
        except (duckdb.Error, TypeError, ValueError) as exc:
            raise ConfigError(
                f"memory_limit {settings['memory_limit']!r}, threads {settings['threads']!r}, "
                f"temp_directory {settings['temp_directory']!r}: DuckDB refuses them: "
                f"{duckdb_error_line(exc)}"
            ) from None
        # no progress bar on stderr; in Jupyter without ipywidgets DuckDB refuses the setting
        with contextlib.suppress(duckdb.Error):
            con.execute("SET enable_progress_bar = false")
        try:
            yield con
        finally:
            con.close()
    finally:
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)


def summarize_duckdb(
    source: Source,
    options: SummaryOptions,
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
) -> tuple[pd.DataFrame, dict[str, int], pd.Timestamp, dict[str, list[int]], str | None]:
    """The per-customer aggregates of ``source`` (see
    :func:`clvmodels.data.summary.pandas_engine.summarize_pandas` for what is returned),
    on a connection of :func:`duckdb_connection` with these resources.

    Raises
    ------
    DataError
        Bad rows, or DuckDB fails (out of memory: say which resource to raise).
    """
    with duckdb_connection(memory_limit, threads, temp_directory) as con:
        try:
            name = transactions_view(
                con,
                source,
                customer_id=options.customer_id,
                date=options.date,
                amount=options.amount,
                formats=options.formats,
                product=options.product,
            )
            per, counts, obs, daily = _aggregate(con, source, name, options)
            fingerprint = None
            if isinstance(source, SqlSource):  # rows as loaded, hashed where they are
                fingerprint = rows_fingerprint(con, source, "clv_rows_src")
            return per, counts, obs, daily, fingerprint
        except duckdb.OutOfMemoryException as exc:
            raise DataError(
                f"{describe_source(source)}: {duckdb_error_line(exc)} (raise memory_limit, "
                "or give temp_directory a disk with more room)"
            ) from None
        except duckdb.Error as exc:
            # a CSV line past those check_csv_file looked at: too long, or not UTF-8
            path = Path(os.fspath(source)) if is_csv_source(source) else None
            problem = (path and csv_line_problem(path, exc)) or duckdb_error_line(exc)
            raise DataError(f"{describe_source(source)}: {problem}") from None


def _customer_buckets(con: duckdb.DuckDBPyConnection, source: Source) -> int:
    """How many customer buckets to aggregate one after the other (1 for most logs)."""
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    budget = _memory_bytes(str(limit))
    if isinstance(source, pd.DataFrame):
        rows = len(source)
    elif is_csv_source(source):
        size = os.path.getsize(os.fspath(source))
        gzip = os.fspath(source).lower().endswith(".gz")
        rows = size * (5 if gzip else 1) // 16  # >= 16 bytes a CSV line; gzip ~5:1
    else:
        rows = con.execute("SELECT count(*) FROM clv_rows_src").fetchone()[0]
    return max(1, -(-int(rows) * _BYTES_PER_ROW // budget))


def _memory_bytes(text: str) -> int:
    """DuckDB's memory setting (``"3.7 GiB"``) in bytes."""
    number, unit = text.split()
    scale = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    return int(float(number) * scale.get(unit, 1))


def _aggregate(con: duckdb.DuckDBPyConnection, source: Source, name: str, o: SummaryOptions):
    """The per-customer aggregates, counts, observation end and daily repeat purchases.

    Customers are split into buckets (by a hash of their id) so that the customer-day
    table of one bucket fits in DuckDB's memory limit; most logs make one bucket.  Bad
    rows are reported once every bucket is counted, by :func:`raise_first_bad_row` in
    file order.
    """
    totals, last_day, without, purchases = _bucket_totals(con, o, _customer_buckets(con, source))
    if totals["rows_in"] == 0:
        raise DataError(f"{name}: no rows")
    for check in bad_row_checks(o, totals):
        raise_first_bad_row(
            con,
            source,
            name,
            condition=_BAD_ROWS[check.kind],
            role=check.role,
            column=check.column,
            problem=check.problem,
        )
    obs, cal = o.window(last_day)
    if totals["after"] and o.after_observation_end == "error":
        condition = f"d > DATE '{obs.date().isoformat()}'"
        condition += " AND a > 0" if o.nonpositive_rule == "drop" else ""
        problem = after_obs_problem(totals["after"], obs)
        raise_first_bad_row(
            con, source, name, condition=condition, role="d", column=o.date, problem=problem
        )
    cal_day = (cal - pd.Timestamp("1970-01-01")).days
    late = con.execute(
        f"SELECT count(*) FROM clv_customers WHERE first_day > {cal_day}"
    ).fetchone()[0]
    counts = summary_counts(
        o,
        rows_in=totals["rows_in"],
        rows_dropped=totals["dropped"],
        rows_after=totals["after"],
        rows_kept=totals["kept"],
        days_kept=totals["days"],
        days_gone=totals["gone"],
        customers_without_purchases=without,
        customers_late=late,
    )
    # sorted here (in parallel) so that the final stable sort by id finds little to do
    per = con.execute(f"SELECT * FROM clv_customers WHERE first_day <= {cal_day} ORDER BY cid").df()
    if o.product is not None:
        per = _with_products(con, per, cal)
    return per, counts, obs, _repeats_per_day(per, purchases)


def _with_products(con: duckdb.DuckDBPyConnection, per: pd.DataFrame, cal: pd.Timestamp):
    """``per`` with ``products``: the distinct products of each customer's rows with a
    positive amount up to ``cal`` (0 without one; the rule of
    :class:`~clvmodels.data.summary.rules.SummaryOptions`)."""
    counts = con.execute(
        "SELECT cid, count(DISTINCT p) AS products FROM clv_rows WHERE p IS NOT NULL "
        f"AND a > 0 AND d <= DATE '{cal.date().isoformat()}' GROUP BY cid"
    ).df()
    found = pd.Series(counts["products"].to_numpy(), index=counts["cid"].to_numpy())
    products = found.reindex(per["cid"].to_numpy(), fill_value=0).astype("int64")
    return per.assign(products=products.to_numpy())


def _bucket_totals(con: duckdb.DuckDBPyConnection, o: SummaryOptions, buckets: int):
    """Aggregate the customers bucket by bucket into the table ``clv_customers``.

    Returns ``(totals, last_day, without, purchases)``: the :data:`_TOTALS` summed over
    the buckets, the last date of the log, the customers without a purchase, and the
    purchase occasions per day (days since 1970-01-01) of the customers whose first
    purchase is in the calibration window.
    """
    totals = np.zeros(len(_TOTALS), dtype=np.int64)
    last_day, without, purchases = None, 0, {}
    for bucket in range(buckets):
        where = "" if buckets == 1 else f" WHERE hash(cid) % {buckets} = {bucket}"
        counts, last, n_without, days = _aggregate_bucket(con, o, where)
        # every bucket's customers end up in clv_customers
        con.execute(
            "CREATE OR REPLACE TEMP TABLE clv_customers AS SELECT * FROM clv_per"
            if bucket == 0
            else "INSERT INTO clv_customers SELECT * FROM clv_per"
        )
        totals += counts
        without += n_without
        last_day = last if last_day is None or (last is not None and last > last_day) else last_day
        for day, n in days:
            purchases[day] = purchases.get(day, 0) + int(n)
    return dict(zip(_TOTALS, (int(v) for v in totals), strict=True)), last_day, without, purchases


def _repeats_per_day(per: pd.DataFrame, purchases: dict[int, int]) -> dict[str, list[int]]:
    """Repeat purchases per day: every purchase day but each customer's first."""
    first_days = per["first_day"].to_numpy(dtype="int64")
    base = int(first_days.min()) if len(first_days) else 0
    firsts = np.bincount(first_days - base)
    daily = [
        (day, n - (int(firsts[day - base]) if 0 <= day - base < len(firsts) else 0))
        for day, n in purchases.items()
    ]
    return daily_series(daily)


def _aggregate_bucket(con: duckdb.DuckDBPyConnection, o: SummaryOptions, where: str):
    """Totals, last date, customers and purchases per day of the customers in ``where``.

    The customers with a purchase are left in the table ``clv_per``.  Returns
    ``(totals, last_date, without, purchases)``: ``totals`` in the order of
    :data:`_TOTALS`; ``without`` how many customers have no purchase; ``purchases``
    ``(day, n)`` pairs counting the purchase days of the customers whose first purchase
    is in the calibration window.
    """
    mode, net = o.nonpositive_rule, o.nonpositive_rule in NETTING
    obs, cal = o.observation_end, o.calibration_end
    kept = " FILTER (WHERE a > 0)" if mode == "drop" else ""
    # Without observation_end it is the last date, so no day is after it; without
    # calibration_end it is observation_end.  Either filter is then always true.
    obs_sql = "true" if obs is None else f"d <= DATE '{obs.date().isoformat()}'"
    cal_sql = "true" if cal is None else f"d <= DATE '{cal.date().isoformat()}'"
    gone = f"(lo < 0 AND a <= {NET_TOLERANCE} * gross)" if net else "false"
    # a missing amount: count(a) < count(*); a non-finite one makes the sum non-finite.
    # Amounts are added with fsum (compensated, Kahan-Babuska): a plain sum depends on
    # the order DuckDB's threads meet a customer's rows and changed the last bits of
    # revenue from run to run
    bad = "count(*) - count(a) + CASE WHEN isfinite(sum(a)) THEN 0 ELSE 1 END"
    with_lo = net or mode == "error" or not o.merge_same_day
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE clv_days AS SELECT *, n > 0 AND {obs_sql} "
        f"AND NOT {gone} AS k, {cal_sql} AS c"
        # the refund days, whose amount nonpositive="net_across_days" subtracts
        + (f", n > 0 AND {obs_sql} AND {gone} AS r" if mode == "net_across_days" else "")
        + " FROM (SELECT cid, d, count(*) AS n_rows, "
        f"{bad} AS n_bad, count(*) FILTER (WHERE {_BAD_ROWS['huge']}) AS n_huge, "
        f"count(*){kept} AS n, fsum(a){kept} AS a"
        + (f", min(a){kept} AS lo" if with_lo else "")
        + (", sum(abs(a)) AS gross" if net else "")
        + f" FROM clv_rows{where} GROUP BY cid, d)"
    )
    *totals, last_day = con.execute(
        "SELECT coalesce(sum(n_rows), 0), count_if(cid IS NULL), count_if(d IS NULL), "
        f"count_if({OUT_OF_RANGE_SQL}), coalesce(sum(n_bad), 0), coalesce(sum(n_huge), 0), "
        + ("count_if(lo <= 0)" if with_lo else "0")
        + ", coalesce(sum(n_rows - n), 0), "
        f"coalesce(sum(n) FILTER (WHERE NOT {obs_sql}), 0), "
        f"coalesce(sum(n) FILTER (WHERE {obs_sql}), 0), count_if(n > 0 AND {obs_sql}), "
        f"count_if(n > 0 AND {obs_sql} AND {gone}), max(d) FROM clv_days"
    ).fetchone()
    occ = _customers_table(con, o)
    without = con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT cid FROM clv_days WHERE NOT k) "
        "WHERE cid NOT IN (SELECT cid FROM clv_per)"
    ).fetchone()[0]
    # the customers whose first purchase is after calibration_end buy in the holdout only
    early = (
        " AND (c OR cid NOT IN (SELECT cid FROM clv_per WHERE first_day > "
        f"DATE '{cal.date().isoformat()}' - DATE '1970-01-01'))"
        if cal is not None
        else ""
    )
    purchases = con.execute(
        f"SELECT d - DATE '1970-01-01', sum({occ}) FROM clv_days WHERE k{early} GROUP BY d"
    ).fetchall()
    totals = np.array([0 if t is None else t for t in totals], dtype=np.int64)
    return totals, last_day, without, purchases


def _customers_table(con: duckdb.DuckDBPyConnection, o: SummaryOptions) -> str:
    """Aggregate the purchase days (``k``) of ``clv_days`` into the table ``clv_per`` of
    customers (``cid, first_day, last_day, n_cal, revenue, first_a, n_hold, rev_hold,
    log_gaps, n_gaps, refunds, refunds_hold``: the refund days ``r`` of
    ``nonpositive="net_across_days"`` in and after the calibration window, else 0);
    returns the SQL of a day's purchase occasions (1, or its rows without merging).

    ``log_gaps`` is the sum of ln(days between consecutive purchase days) in the
    calibration window (fixed point, :data:`LOG_GAP_SCALE`) and ``n_gaps`` their
    number (one window pass, ``lag`` over each customer's purchase days): ``clv_days``
    has one row per customer-day, so the zero gaps of same-day purchases without
    ``merge_same_day`` are skipped."""
    occ, first_value = ("1", "a") if o.merge_same_day else ("n", "lo")
    holdout = (
        f", sum(CASE WHEN c THEN 0 ELSE {occ} END) AS n_hold, "
        "coalesce(fsum(CASE WHEN c THEN NULL ELSE a END), 0.0) AS rev_hold"
        if o.calibration_end is not None
        else ", 0 AS n_hold, 0.0 AS rev_hold"
    )
    # CASE rather than FILTER: one aggregate pass with fewer selection vectors
    purchases = (
        "SELECT cid, min(d) - DATE '1970-01-01' AS first_day, "
        "max(CASE WHEN c THEN d END) - DATE '1970-01-01' AS last_day, "
        f"sum(CASE WHEN c THEN {occ} END) AS n_cal, fsum(CASE WHEN c THEN a END) AS revenue, "
        f"arg_min({first_value}, d) AS first_a{holdout}, "
        f"coalesce(sum(CASE WHEN c THEN floor(ln(gap) * {LOG_GAP_SCALE})::BIGINT END), 0)"
        "::BIGINT AS log_gaps, "
        "count(CASE WHEN c THEN gap END) AS n_gaps "
        "FROM (SELECT *, d - lag(d) OVER (PARTITION BY cid ORDER BY d) AS gap "
        "FROM clv_days WHERE k) GROUP BY cid"
    )
    if o.nonpositive_rule != "net_across_days":
        table = f"SELECT *, 0.0::DOUBLE AS refunds, 0.0::DOUBLE AS refunds_hold FROM ({purchases})"
    else:
        refunds = (
            "SELECT cid, fsum(CASE WHEN c THEN a ELSE 0.0 END) AS refunds, "
            "fsum(CASE WHEN c THEN 0.0 ELSE a END) AS refunds_hold FROM clv_days WHERE r "
            "GROUP BY cid"
        )
        table = (
            "SELECT p.*, coalesce(f.refunds, 0.0) AS refunds, coalesce(f.refunds_hold, 0.0) "
            f"AS refunds_hold FROM ({purchases}) p LEFT JOIN ({refunds}) f ON p.cid = f.cid"
        )
    con.execute(f"CREATE OR REPLACE TEMP TABLE clv_per AS {table}")
    return occ
