"""Transactions -> one row per customer (frequency, recency, T, monetary value).

The summary follows Fader, Hardie & Lee (2005a), "Counting your customers the easy
way: an alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284, section 2
(the ``(X = x, t_x, T)`` of a customer): ``frequency`` is the number of *repeat*
purchases, ``recency`` the time from the first to the last purchase, ``T`` the time from
the first purchase to the end of the calibration window.  ``monetary_value`` is the mean
value of the repeat purchases, the input of the Gamma-Gamma spend model (Fader, Hardie &
Lee 2005b, "RFM and CLV: using iso-value curves for customer base analysis", Journal of
Marketing Research 42(4), 415-430, which uses only customers with a repeat purchase).

Two engines give identical results: ``"duckdb"`` (SQL over CSV/Parquet/pandas, the one to
use) and ``"pandas"`` (a plain groupby reference for tests and the benchmark).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd

from clvmodels.data.sources import (
    Source,
    describe_source,
    duckdb_error_line,
    is_csv_source,
    row_label,
)
from clvmodels.data.sql import FINGERPRINT_ATTR, SqlSource, rows_fingerprint
from clvmodels.data.summary_rules import (
    NET_TOLERANCE,
    NONPOSITIVE_PROBLEM,
    DateLike,
    after_obs_problem,
    check_window,
    counts_template,
    daily_series,
    no_customers_error,
    summary_meta,
    summary_options,
)
from clvmodels.data.transactions import (
    integer_ids,
    load_transactions_pandas,
    raise_first_bad_row,
    transactions_view,
)
from clvmodels.errors import ConfigError, DataError
from clvmodels.machine import usable_cores


def summarize_transactions(
    source: Source,
    *,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str | None = "amount",
    time_unit: Literal["D", "W"] = "W",
    observation_end: DateLike = None,
    calibration_end: DateLike = None,
    merge_same_day: bool = True,
    nonpositive: Literal["net", "drop", "keep", "error"] = "net",
    after_observation_end: Literal["error", "drop"] = "error",
    engine: Literal["duckdb", "pandas"] = "duckdb",
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
) -> pd.DataFrame:
    """Summarise a transaction log into one row per customer.

    Definitions follow Fader, Hardie & Lee (2005), Marketing Science 24(2), section 2.
    Times are whole calendar days (timestamps are truncated to dates) expressed in
    ``time_unit``: ``"D"`` days or ``"W"`` weeks (days / 7).

    Parameters
    ----------
    source : DataFrame, "builtin:NAME" or path
        See :mod:`clvmodels.data.sources`.
    customer_id, date, amount : str
        Column names.  ``amount=None``: no spend data (the money columns are omitted).
    time_unit : {"D", "W"}
    observation_end : date-like, optional
        Last day of the data; default the last date in the log.
    calibration_end : date-like, optional
        Last day of the calibration window; later purchases up to ``observation_end``
        become the holdout columns.
    merge_same_day : bool
        All transactions of a customer on one day form one purchase whose amount is
        their sum (default).  ``False``: every row is a purchase; the first purchase is
        then the smallest amount of the first day.
    nonpositive : {"net", "drop", "keep", "error"}
        Amounts <= 0.  ``"net"`` (default, needs ``merge_same_day``): amounts are netted
        within the customer-day, and a day holding a return (negative amount) whose net
        is <= 0 (up to 1e-9 of its gross) is not a purchase occasion.  A day of only
        zero-value lines (a free item) remains a purchase occasion of value 0: the
        purchase-occasion counts of Fader, Hardie & Lee (2005) on CDNOW include the 8
        zero-dollar customers of the sample.  ``"drop"``: rows with amount <= 0 are
        dropped first.  ``"keep"``: they are purchases like any other.  ``"error"``:
        raise on the first such row.
    after_observation_end : {"error", "drop"}
        What to do with transactions after ``observation_end``.
    engine : {"duckdb", "pandas"}
        ``"pandas"`` is a slower reference implementation with the same results.
    memory_limit, threads, temp_directory
        Resources of the DuckDB engine (see :func:`duckdb_connection`): a memory
        limit beyond which its hash tables spill to ``temp_directory`` (default
        ``"4GB"``, a fresh temporary folder) and its worker threads (default every
        usable core).  The results do not depend on them.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``customer_id``, with columns

        - ``frequency``: number of repeat purchases (purchase occasions after the first)
          in the calibration window (first purchase, calibration_end];
        - ``recency``: time from the first to the last purchase in that window;
        - ``T``: time from the first purchase to ``calibration_end`` (or
          ``observation_end`` without a split);
        - ``monetary_value``: mean value of the repeat purchases, 0.0 when
          ``frequency`` is 0 (the Gamma-Gamma model only uses rows with frequency > 0);
        - ``revenue``: total spend in the window, first purchase included;
        - ``first_purchase``: date of the first purchase;
        - with ``calibration_end``: ``frequency_holdout`` (purchases in
          (calibration_end, observation_end]), ``revenue_holdout`` and
          ``duration_holdout`` (observation_end - calibration_end).

        Customers whose first purchase is after ``calibration_end``, and customers left
        without any purchase, are excluded.  ``df.attrs["clvmodels"]`` holds
        ``time_unit``, ``observation_end``, ``calibration_end`` (ISO strings) and
        ``counts`` of rows and customers dropped or merged by each rule, and
        ``repeat_transactions_per_day`` (``{"day": [...], "count": [...]}``, days since
        1970-01-01, zero days omitted): the repeat purchases of these customers per
        calendar day up to ``observation_end``, for the tracking curve; for a SQL
        source, ``input_fingerprint`` (:func:`clvmodels.data.sql.rows_fingerprint`).

    Raises
    ------
    DataError
        Missing columns, no rows, missing ids, unparseable dates, non-numeric amounts,
        bad options, ``calibration_end`` after ``observation_end``, transactions after
        ``observation_end`` (with ``after_observation_end="error"``).
    """
    if engine not in ("duckdb", "pandas"):
        raise DataError(f"engine: {engine!r} is not 'duckdb' or 'pandas'")
    options = summary_options(
        customer_id=customer_id,
        date=date,
        amount=amount,
        time_unit=time_unit,
        observation_end=observation_end,
        calibration_end=calibration_end,
        merge_same_day=merge_same_day,
        nonpositive=nonpositive,
        after_observation_end=after_observation_end,
    )
    options["resources"] = {
        "memory_limit": memory_limit,
        "threads": threads,
        "temp_directory": temp_directory,
    }
    run = _summarize_duckdb if engine == "duckdb" else _summarize_pandas
    per, counts, obs, daily, fingerprint = run(source, options)
    check_window(options, obs)
    if len(per) == 0:
        raise no_customers_error(describe_source(source), options, obs, counts)
    frame = _finish(per, options, obs, amount is not None)
    counts["customers"] = len(frame)
    frame.attrs["clvmodels"] = summary_meta(options, obs, counts, daily)
    if fingerprint is not None:
        frame.attrs["clvmodels"]["input_fingerprint"] = fingerprint
    return frame


_EPOCH = pd.Timestamp("1970-01-01")


def _finish(
    per: pd.DataFrame, options: dict[str, Any], obs: pd.Timestamp, with_money: bool
) -> pd.DataFrame:
    """Per-customer aggregates of either engine -> the summary columns, same arithmetic.

    ``per`` has ``cid, first_day, last_day`` (days since 1970-01-01, last purchase in
    the calibration window), ``n_cal, revenue, first_a, n_hold, rev_hold``.
    """
    unit = float(options["unit_days"])
    cal = options["cal"] if options["cal"] is not None else obs
    cal_day = (cal - _EPOCH).days
    first_day = per["first_day"].to_numpy(dtype="int64")
    frequency = per["n_cal"].to_numpy(dtype="int64") - 1
    revenue = per["revenue"].to_numpy(dtype="float64")
    repeat_value = revenue - per["first_a"].to_numpy(dtype="float64")
    out = pd.DataFrame(
        {
            "customer_id": integer_ids(per["cid"].reset_index(drop=True)),
            "frequency": frequency,
            "recency": (per["last_day"].to_numpy(dtype="int64") - first_day) / unit,
            "T": (cal_day - first_day) / unit,
            "monetary_value": np.where(frequency > 0, repeat_value / np.maximum(frequency, 1), 0.0),
            "revenue": revenue,
            "first_purchase": (
                np.datetime64("1970-01-01", "D") + first_day.astype("timedelta64[D]")
            ).astype("datetime64[ns]"),
        }
    )
    if options["cal"] is not None:
        out["frequency_holdout"] = per["n_hold"].to_numpy(dtype="int64")
        out["revenue_holdout"] = per["rev_hold"].to_numpy(dtype="float64")
        out["duration_holdout"] = float((obs - cal).days) / unit
    if not with_money:
        out = out.drop(columns=["monetary_value", "revenue", "revenue_holdout"], errors="ignore")
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


DEFAULT_MEMORY_LIMIT = "4GB"


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


def _summarize_duckdb(source: Source, o: dict[str, Any]):
    with duckdb_connection(**o["resources"]) as con:
        try:
            name = transactions_view(
                con, source, customer_id=o["customer_id"], date=o["date"], amount=o["amount"]
            )
            per, counts, obs, daily = _duckdb_aggregate(con, source, name, o)
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
            raise DataError(f"{describe_source(source)}: {duckdb_error_line(exc)}") from None


# Memory per log row of one customer bucket: bounds the customer-day hash table (~100
# bytes a row, the table of its customer-days as much again) within ``memory_limit``.
_BYTES_PER_ROW = 150


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


def _duckdb_aggregate(con: duckdb.DuckDBPyConnection, source: Source, name: str, o: dict[str, Any]):
    """The per-customer aggregates.

    Customers are split into buckets (by a hash of their id) so that the customer-day
    table of one bucket fits in DuckDB's memory limit; most logs make one bucket.  Per
    bucket: one pass over the log to customer-days (``clv_days``, with each day's
    purchase flag ``k`` and calibration flag ``c``), then the counts (one ungrouped
    pass), the customers and the repeat purchases per day.  Bad rows are reported
    once every bucket is counted, by :func:`raise_first_bad_row` in file order.
    """
    buckets = _customer_buckets(con, source)
    totals = np.zeros(10, dtype=np.int64)
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
    (
        rows_in,
        bad_ids,
        bad_dates,
        bad_amounts,
        n_nonpositive,
        n_dropped,
        n_after,
        n_kept,
        n_days,
        n_gone,
    ) = (int(v) for v in totals)
    mode = o["nonpositive"]
    if rows_in == 0:
        raise DataError(f"{name}: no rows")
    checks = [
        (bad_ids, "cid IS NULL", "cid", o["customer_id"], "customer id is missing or blank"),
        (bad_dates, "d IS NULL", "d", o["date"], "cannot parse {raw!r} as a date"),
        (
            bad_amounts,
            "a IS NULL OR NOT isfinite(a)",
            "a",
            o["amount"],
            "amount {raw!r} is not a finite number",
        ),
    ]
    if mode == "error":
        checks.append((n_nonpositive, "a <= 0", "a", o["amount"], NONPOSITIVE_PROBLEM))
    for count, condition, role, column, problem in checks:
        if count:
            raise_first_bad_row(
                con, source, name, condition=condition, role=role, column=column, problem=problem
            )
    obs = o["obs"] if o["obs"] is not None else pd.Timestamp(last_day)
    cal = o["cal"] if o["cal"] is not None else obs
    if n_after and o["after"] == "error":
        condition = f"d > DATE '{obs.date().isoformat()}'"
        condition += " AND a > 0" if mode == "drop" else ""
        raise_first_bad_row(
            con,
            source,
            name,
            condition=condition,
            role="d",
            column=o["date"],
            problem=after_obs_problem(n_after, obs),
        )
    counts = counts_template()
    counts.update(
        rows_in=rows_in,
        nonpositive_rows_dropped=n_dropped,
        rows_after_observation_end_dropped=n_after,
        rows_merged_same_day=(n_kept - n_days) if o["merge"] else 0,
        nonpositive_days_dropped=n_gone,
        customers_without_purchases=without,
    )
    cal_day = (cal - _EPOCH).days
    counts["customers_first_purchase_after_calibration"] = con.execute(
        f"SELECT count(*) FROM clv_customers WHERE first_day > {cal_day}"
    ).fetchone()[0]
    # sorted here (in parallel) so that the final stable sort by id finds little to do
    per = con.execute(
        f"SELECT * FROM clv_customers WHERE first_day <= {cal_day} ORDER BY cid"
    ).df()
    # repeat purchases per day: every purchase day but each customer's first
    first_days = per["first_day"].to_numpy(dtype="int64")
    base = int(first_days.min()) if len(first_days) else 0
    firsts = np.bincount(first_days - base)
    daily = [
        (day, n - (int(firsts[day - base]) if 0 <= day - base < len(firsts) else 0))
        for day, n in purchases.items()
    ]
    return per, counts, obs, daily_series(daily)


def _aggregate_bucket(con: duckdb.DuckDBPyConnection, o: dict[str, Any], where: str):
    """Counts, last date, customers and purchases per day of the customers in ``where``.

    The customers with a purchase are left in the table ``clv_per``.  Returns
    ``(counts, last_date, without, purchases)``: ``counts`` in the order unpacked by
    :func:`_duckdb_aggregate`; ``without`` how many customers have no purchase;
    ``purchases`` ``(day, n)`` pairs counting the purchase days of the customers whose
    first purchase is in the calibration window.
    """
    mode, net = o["nonpositive"], o["nonpositive"] == "net"
    kept = " FILTER (WHERE a > 0)" if mode == "drop" else ""
    # Without observation_end it is the last date, so no day is after it; without
    # calibration_end it is observation_end.  Either filter is then always true.
    obs_sql = "true" if o["obs"] is None else f"d <= DATE '{o['obs'].date().isoformat()}'"
    cal_sql = "true" if o["cal"] is None else f"d <= DATE '{o['cal'].date().isoformat()}'"
    gone = f"(lo < 0 AND a <= {NET_TOLERANCE} * gross)" if net else "false"
    # a missing amount: count(a) < count(*); a non-finite one makes the sum non-finite
    bad = "count(*) - count(a) + CASE WHEN isfinite(sum(a)) THEN 0 ELSE 1 END"
    with_lo = net or mode == "error" or not o["merge"]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE clv_days AS SELECT *, n > 0 AND {obs_sql} "
        f"AND NOT {gone} AS k, {cal_sql} AS c FROM (SELECT cid, d, count(*) AS n_rows, "
        f"{bad} AS n_bad, count(*){kept} AS n, sum(a){kept} AS a"
        + (f", min(a){kept} AS lo" if with_lo else "")
        + (", sum(abs(a)) AS gross" if net else "")
        + f" FROM clv_rows{where} GROUP BY cid, d)"
    )
    *counts, last_day = con.execute(
        "SELECT coalesce(sum(n_rows), 0), count_if(cid IS NULL), count_if(d IS NULL), "
        "coalesce(sum(n_bad), 0), "
        + ("count_if(lo <= 0)" if with_lo else "0")
        + ", coalesce(sum(n_rows - n), 0), "
        f"coalesce(sum(n) FILTER (WHERE NOT {obs_sql}), 0), "
        f"coalesce(sum(n) FILTER (WHERE {obs_sql}), 0), count_if(n > 0 AND {obs_sql}), "
        f"count_if(n > 0 AND {obs_sql} AND {gone}), max(d) FROM clv_days"
    ).fetchone()
    occ, first_value = ("1", "a") if o["merge"] else ("n", "lo")
    split = o["cal"] is not None
    holdout = (
        f", sum(CASE WHEN c THEN 0 ELSE {occ} END) AS n_hold, "
        "coalesce(sum(CASE WHEN c THEN NULL ELSE a END), 0.0) AS rev_hold"
        if split
        else ", 0 AS n_hold, 0.0 AS rev_hold"
    )
    # CASE rather than FILTER: one aggregate pass with fewer selection vectors
    con.execute(
        "CREATE OR REPLACE TEMP TABLE clv_per AS SELECT cid, "
        "min(d) - DATE '1970-01-01' AS first_day, "
        "max(CASE WHEN c THEN d END) - DATE '1970-01-01' AS last_day, "
        f"sum(CASE WHEN c THEN {occ} END) AS n_cal, sum(CASE WHEN c THEN a END) AS revenue, "
        f"arg_min({first_value}, d) AS first_a{holdout} FROM clv_days WHERE k GROUP BY cid"
    )
    without = con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT cid FROM clv_days WHERE NOT k) "
        "WHERE cid NOT IN (SELECT cid FROM clv_per)"
    ).fetchone()[0]
    # the customers whose first purchase is after calibration_end buy in the holdout only
    early = (
        " AND (c OR cid NOT IN (SELECT cid FROM clv_per WHERE first_day > "
        f"DATE '{o['cal'].date().isoformat()}' - DATE '1970-01-01'))"
        if split
        else ""
    )
    purchases = con.execute(
        f"SELECT d - DATE '1970-01-01', sum({occ}) FROM clv_days WHERE k{early} GROUP BY d"
    ).fetchall()
    counts = np.array([0 if c is None else c for c in counts], dtype=np.int64)
    return counts, last_day, without, purchases


def _summarize_pandas(source: Source, o: dict[str, Any]):
    name, tx = load_transactions_pandas(
        source, customer_id=o["customer_id"], date=o["date"], amount=o["amount"]
    )
    is_csv = is_csv_source(source)

    def fail_at(mask: pd.Series, column: str, problem: str) -> None:
        pos = int(np.flatnonzero(mask.to_numpy())[0])
        row = tx.iloc[pos]
        text = problem.format(cid=row["cid"], d=row["d"].date(), a=row["a"])
        where = row_label(name, pos, is_file_csv=is_csv)
        raise DataError(f"{name}: column {column!r} {where}: {text}")

    counts = counts_template()
    counts["rows_in"] = len(tx)
    np_mode = o["nonpositive"]
    if np_mode == "error" and (tx["a"] <= 0).any():
        fail_at(tx["a"] <= 0, o["amount"], NONPOSITIVE_PROBLEM)
    keep = tx["a"] > 0 if np_mode == "drop" else pd.Series(True, index=tx.index)
    obs = o["obs"] if o["obs"] is not None else pd.Timestamp(tx["d"].max())
    cal = o["cal"] if o["cal"] is not None else obs
    after = keep & (tx["d"] > obs)
    counts["nonpositive_rows_dropped"] = int((~keep).sum())
    if after.any() and o["after"] == "error":
        fail_at(after, o["date"], after_obs_problem(int(after.sum()), obs))
    counts["rows_after_observation_end_dropped"] = int(after.sum())
    rows = tx.loc[keep & ~after]
    if o["merge"]:
        days = (
            rows.assign(gross=rows["a"].abs(), has_return=rows["a"] < 0)
            .groupby(["cid", "d"], as_index=False, sort=False)
            .agg(a=("a", "sum"), gross=("gross", "sum"), has_return=("has_return", "any"))
        )
        gone = pd.Series(False, index=days.index)
        if np_mode == "net":
            gone = days["has_return"] & (days["a"] <= NET_TOLERANCE * days["gross"])
        counts["rows_merged_same_day"] = len(rows) - len(days)
        counts["nonpositive_days_dropped"] = int(gone.sum())
        occ = days.loc[~gone, ["cid", "d", "a"]]
    else:
        occ = rows[["cid", "d", "a"]]
    # first purchase: earliest day; without merging, the smallest amount of that day
    occ = occ.sort_values(["cid", "d", "a"], kind="stable")
    in_cal = occ["d"] <= cal
    per = occ.groupby("cid", sort=True).agg(first_d=("d", "first"), first_a=("a", "first"))
    cal_occ = occ.loc[in_cal].groupby("cid")
    per["n_cal"] = cal_occ.size()
    per["last_d"] = cal_occ["d"].max()
    per["revenue"] = cal_occ["a"].sum()
    hold = occ.loc[~in_cal].groupby("cid")
    per["n_hold"] = hold.size()
    per["rev_hold"] = hold["a"].sum()
    per = per.fillna({"n_hold": 0, "rev_hold": 0.0}).reset_index()
    counts["customers_without_purchases"] = tx["cid"].nunique() - len(per)
    late = per["first_d"] > cal
    counts["customers_first_purchase_after_calibration"] = int(late.sum())
    per = per.loc[~late]
    per = per.assign(
        first_day=(per["first_d"] - _EPOCH).dt.days, last_day=(per["last_d"] - _EPOCH).dt.days
    )
    # repeat transactions per day: every occasion but each kept customer's first one
    kept = occ[occ["cid"].isin(per["cid"])]
    first_rows = ~kept["cid"].duplicated()
    daily = kept.loc[~first_rows].groupby("d").size()
    pairs = [((d - _EPOCH).days, int(n)) for d, n in daily.items()]
    return per, counts, obs, daily_series(pairs), tx.attrs.get(FINGERPRINT_ATTR)


def validate_summary(
    df: pd.DataFrame, *, source_name: str = "DataFrame", columns: dict[str, str] | None = None
) -> pd.DataFrame:
    """Check a pre-summarised frame ``frequency, recency, T[, monetary_value][, count]``.

    The discrete-time form of the BG/BB (Fader, Hardie & Shang 2010) is accepted too:
    ``frequency, recency, n[, count]`` with ``n`` the number of transaction
    opportunities and ``recency`` the opportunity of the last transaction (whole numbers,
    ``frequency ≤ recency ≤ n``).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per customer (or per identical customers, weighted by ``count``), in
        the notation of Fader, Hardie & Lee (2005): ``frequency`` = x, ``recency`` = t_x,
        ``T``.  An optional ``customer_id`` column is kept.
    source_name : str
        Name used in messages (a path or "DataFrame").
    columns : dict, optional
        Renaming map from the frame's column names to the canonical ones,
        e.g. ``{"x": "frequency", "t_x": "recency"}``.

    Returns
    -------
    pandas.DataFrame
        Canonical columns (floats; ``frequency`` and ``count`` int64) with
        ``customer_id`` (0..n-1 when absent) first.

    Raises
    ------
    DataError
        Naming the column and the first offending row: missing column, non-numeric or
        NaN value, frequency not a non-negative integer, recency < 0, T <= 0,
        recency > T, recency != 0 when frequency == 0, count not a positive integer.
    """
    frame = df.rename(columns=columns) if columns else df
    if len(frame) == 0:
        raise DataError(f"{source_name}: no rows")
    present = list(frame.columns)
    optional = [c for c in ("monetary_value", "count") if c in present]
    span = "n" if "n" in present and "T" not in present else "T"
    for column in ("frequency", "recency", span):
        if column not in present:
            raise DataError(
                f"{source_name}: missing column {column!r}; columns present: "
                f"{', '.join(map(str, present))}"
            )
    values: dict[str, np.ndarray] = {}

    def fail(mask: np.ndarray, column: str, problem: str) -> None:
        if np.any(mask):
            pos = int(np.flatnonzero(mask)[0])
            raise DataError(
                f"{source_name}: column {column!r} row {pos}: "
                f"{problem} (value {frame[column].iloc[pos]!r})"
            )

    for column in ["frequency", "recency", span, *optional]:
        raw = frame[column]
        numeric = (
            pd.to_numeric(raw, errors="coerce")
            if not pd.api.types.is_bool_dtype(raw)
            else pd.Series(np.nan, index=raw.index)
        )
        array = numeric.to_numpy(dtype="float64", na_value=np.nan)
        fail(~np.isfinite(array), column, "not a finite number")
        values[column] = array
    freq, rec, big_t = values["frequency"], values["recency"], values[span]
    fail((freq < 0) | (freq != np.round(freq)), "frequency", "not a non-negative integer")
    fail(rec < 0, "recency", "negative")
    fail(big_t <= 0, span, "not positive")
    fail(rec > big_t + 1e-9, "recency", f"greater than {span}")
    if span == "n":
        fail(big_t != np.round(big_t), "n", "not a whole number of opportunities")
        fail(rec != np.round(rec), "recency", "not a whole opportunity number")
        fail(freq > rec, "frequency", "greater than recency (the last opportunity bought)")
        values["n"] = big_t.astype("int64")
    fail((freq == 0) & (rec != 0), "recency", "must be 0 when frequency is 0")
    if "count" in values:
        count = values["count"]
        fail((count <= 0) | (count != np.round(count)), "count", "not a positive integer")
        values["count"] = count.astype("int64")
    values["frequency"] = freq.astype("int64")
    ids = (
        frame["customer_id"].to_numpy()
        if "customer_id" in present
        else np.arange(len(frame), dtype="int64")
    )
    return pd.DataFrame({"customer_id": ids, **values})
