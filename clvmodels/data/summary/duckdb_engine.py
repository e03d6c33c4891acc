"""The DuckDB engine of the transaction summary: SQL over CSV, Parquet, pandas and SQL rows.

The log is never loaded into pandas: DuckDB scans the source once through the view of
:func:`clvmodels.data.transactions.transactions_view` and sorts it by customer and day
on every core, within a bounded memory (:func:`duckdb_connection`; a larger sort
spills to disk).  The sorted rows stream back as Arrow batches of whole customers,
which :mod:`~clvmodels.data.summary.sorted_log` aggregates to customer-days and
customers, calibration and holdout together; only the per-customer aggregates are
kept, and :func:`clvmodels.data.summarize_transactions` turns them into the summary
columns.  Bad rows are noticed in the same pass; only then is the log read again, to
name the first one (:func:`raise_first_bad_row`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from clvmodels.data.csvfile import csv_line_problem
from clvmodels.data.sources import Source, describe_source, duckdb_error_line, is_csv_source
from clvmodels.data.sql import SqlSource, rows_fingerprint
from clvmodels.data.summary.rules import (
    BAD_ROW_KINDS,
    SummaryOptions,
    after_obs_problem,
    bad_row_checks,
    daily_series,
    summary_counts,
)
from clvmodels.data.summary.sorted_log import (
    MISSING_DAY,
    PER_COLUMNS,
    Totals,
    aggregate_batch,
    has_bad_rows,
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

_SORT_BYTES_PER_ROW = {"integer": 30, "text": 60}
"""DuckDB's memory per log row of a customer bucket's sort, by the type of the ids: a log
whose rows need more than ``memory_limit`` is cut into buckets.  With the default 4 GB,
10^8 rows of a synthetic log (10^7 customers) sort in one bucket with integer ids (the
whole process peaked at 3.8 GB, nothing spilled; 19.0 s against 20.3 s in the four
buckets of a former 150 bytes a row) and in two with 10-character text ids (4.6 GB, 0.1
GB spilled; 60 s against 74 s in four; one bucket spilled 1.4 GB, 5.1 GB, 53 s).  A
sort beyond the limit spills to ``temp_directory`` rather than failing."""

_INTEGER_TYPES = {
    f"{sign}{size}"
    for sign in ("", "u")
    for size in ("tinyint", "smallint", "integer", "bigint", "hugeint")
}

# Memory per log row in Python: bounds the batches held at once (:func:`_batch_rows`).
_BYTES_PER_ROW = 150

_BATCH_ROWS = 1 << 19
"""Rows per batch of the sorted log at most (whole customers are carried to the next
batch); fewer with many threads (:func:`_batch_rows`).  Twenty batches of 10^7 rows
share the threads more evenly than five, and their arrays stay in the cache and in
memory the process already holds: 10^7 rows are summarised in 1.05 s instead of 1.3 s
(10^8: 13.7 s instead of 13.3 s, the sorts dominate)."""

_MIN_BATCH_ROWS = 1 << 16

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
        A sort larger than this spills to ``temp_directory`` instead of failing;
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


def _customer_buckets(con: duckdb.DuckDBPyConnection, rows: int) -> int:
    """How many customer buckets to aggregate one after the other (1 for most logs), for
    a log of ``rows`` rows (:func:`_source_rows`) whose sort needs
    :data:`_SORT_BYTES_PER_ROW` for its type of ids."""
    integer = con.sql("SELECT cid FROM clv_rows").types[0].id in _INTEGER_TYPES
    per_row = _SORT_BYTES_PER_ROW["integer" if integer else "text"]
    return max(1, -(-rows * per_row // _memory_limit(con)))


def _source_rows(con: duckdb.DuckDBPyConnection, source: Source) -> int:
    """The rows of the log: counted, or for a CSV file an upper bound from its size."""
    if isinstance(source, pd.DataFrame):
        return len(source)
    if is_csv_source(source):
        size = os.path.getsize(os.fspath(source))
        gzip = os.fspath(source).lower().endswith(".gz")
        return size * (5 if gzip else 1) // 16  # >= 16 bytes a CSV line; gzip ~5:1
    return int(con.execute("SELECT count(*) FROM clv_rows_src").fetchall()[0][0])


def _batch_rows(con: duckdb.DuckDBPyConnection, workers: int) -> int:
    """Rows per batch: the ``workers + 1`` batches held at once take at most a quarter
    of DuckDB's memory limit (:data:`_BYTES_PER_ROW` each), between 2^16 rows and
    :data:`_BATCH_ROWS`."""
    share = _memory_limit(con) // (4 * (workers + 1) * _BYTES_PER_ROW)
    return min(_BATCH_ROWS, max(_MIN_BATCH_ROWS, share))


def _memory_limit(con: duckdb.DuckDBPyConnection) -> int:
    """DuckDB's memory limit on ``con``, in bytes."""
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    return _memory_bytes(str(limit))


def _memory_bytes(text: str) -> int:
    """DuckDB's memory setting (``"3.7 GiB"``) in bytes."""
    number, unit = text.split()
    scale = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    return int(float(number) * scale.get(unit, 1))


def _aggregate(con: duckdb.DuckDBPyConnection, source: Source, name: str, o: SummaryOptions):
    """The per-customer aggregates, counts, observation end and daily repeat purchases.

    Customers are split into buckets (ranges of ids, :func:`_bucket_filters`) so that
    the sort of one bucket fits in DuckDB's memory limit; most logs make one bucket.  Each bucket is
    read once, sorted by customer and day, and aggregated batch by batch of
    whole customers (:mod:`~clvmodels.data.summary.sorted_log`): customer-days,
    calibration and holdout in one pass, on as many threads as DuckDB has (NumPy lets
    go of the GIL; the parts stay in the order of the log).  A batch holding a bad row
    stops the summary with the first bad row of the log, by :func:`raise_first_bad_row`
    in file order.
    """
    rows = _source_rows(con, source)  # counted once: a file's rows are scanned to count
    buckets = _customer_buckets(con, rows)
    workers = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    batch_rows = _batch_rows(con, workers)
    totals, parts = Totals(), []
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="clvmodels-summary") as pool:
        for where in _bucket_filters(con, buckets, rows):
            stream = _bucket_parts(con, where, o, pool, workers, batch_rows)
            for result in stream:
                if result is None:  # a bad row
                    stream.close()  # the connection is free for the look-up
                    _raise_first_bad_row(con, source, name, o)
                part, batch_totals = result
                totals.add(batch_totals)
                if part is not None:
                    parts.append(part)
    if totals.rows_in == 0:
        raise DataError(f"{name}: no rows")
    obs, cal = o.window(pd.Timestamp("1970-01-01") + pd.Timedelta(days=totals.last_day))
    if totals.after and o.after_observation_end == "error":
        condition = f"d > DATE '{obs.date().isoformat()}'"
        condition += " AND a > 0" if o.nonpositive_rule == "drop" else ""
        problem = after_obs_problem(totals.after, obs)
        raise_first_bad_row(
            con, source, name, condition=condition, role="d", column=o.date, problem=problem
        )
    counts = summary_counts(
        o,
        rows_in=totals.rows_in,
        rows_dropped=totals.dropped,
        rows_after=totals.after,
        rows_kept=totals.kept,
        days_kept=totals.days,
        days_gone=totals.gone,
        customers_without_purchases=totals.without,
        customers_late=totals.late,
    )
    per = _per_frame(parts)
    if o.product is not None:
        per = _with_products(con, per, cal)
    return per, counts, obs, daily_series(list(totals.repeats.items()))


_BOUND_SAMPLE = 100_000
"""Rows of the seeded sample whose id quantiles cut the customer buckets."""


def _bucket_filters(con: duckdb.DuckDBPyConnection, buckets: int, rows: int) -> list[str]:
    """The ``WHERE`` clauses of the customer buckets over ``clv_rows``: consecutive
    ranges of ids with about equal numbers of rows (quantiles of a seeded sample of
    about :data:`_BOUND_SAMPLE` of the log's ``rows``, an estimate), in the order DuckDB
    sorts ids, so that the buckets' customers come out sorted; missing ids go to the
    first bucket (to be reported).  One bucket reads everything, as when the sample
    holds no id."""
    if buckets == 1:
        return [""]
    levels = [k / buckets for k in range(1, buckets)]
    share = min(100.0, 100.0 * _BOUND_SAMPLE / max(rows, 1))  # blocks of rows, not each row
    con.execute(  # the bounds stay in DuckDB: any id type, no round trip through Python
        "CREATE OR REPLACE TEMP TABLE clv_bounds AS SELECT lo, row_number() OVER (ORDER BY lo) "
        f"AS k FROM (SELECT DISTINCT unnest(quantile_disc(cid, {levels})) AS lo FROM "
        f"(SELECT cid FROM clv_rows WHERE cid IS NOT NULL USING SAMPLE {share:.6f}% (system, 1)))"
    )
    count = int(con.execute("SELECT count(*) FROM clv_bounds").fetchall()[0][0])
    if count == 0:
        return [""]
    cut = "(SELECT lo FROM clv_bounds WHERE k = {})".format
    filters = [f" WHERE cid IS NULL OR cid < {cut(1)}"]
    filters += [f" WHERE cid >= {cut(k)} AND cid < {cut(k + 1)}" for k in range(1, count)]
    return [*filters, f" WHERE cid >= {cut(count)}"]


def _bucket_parts(
    con: duckdb.DuckDBPyConnection,
    where: str,
    o: SummaryOptions,
    pool: ThreadPoolExecutor,
    workers: int,
    batch_rows: int,
) -> Iterator[tuple[dict[str, object] | None, Totals] | None]:
    """The aggregates and totals of each batch of ``clv_rows{where}``, in order,
    computed by ``pool`` with at most ``workers + 1`` batches of about ``batch_rows``
    rows held at once (None for a batch with a bad row: close the stream, and the
    connection is free)."""
    batches = _sorted_batches(con, where, batch_rows)
    waiting: deque[Future] = deque()
    try:
        for batch in batches:
            waiting.append(pool.submit(_batch_part, *batch, o))
            if len(waiting) > workers:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()
    finally:
        for future in waiting:
            future.cancel()
        batches.close()


def _batch_part(
    cid: pa.Array, d: np.ndarray, a: np.ndarray, o: SummaryOptions
) -> tuple[dict[str, object] | None, Totals] | None:
    """One batch's aggregates and totals, or None when it holds a bad row."""
    if has_bad_rows(cid, d, a, o):
        return None
    totals = Totals()
    return aggregate_batch(cid, d, a, o, totals), totals


def _sorted_batches(
    con: duckdb.DuckDBPyConnection, where: str, batch_rows: int
) -> Iterator[tuple[pa.Array, np.ndarray, np.ndarray]]:
    """``(cid, d, a)`` of ``clv_rows{where}`` sorted by customer and day, in
    batches of whole customers: ``d`` days since 1970-01-01 (:data:`MISSING_DAY` when
    missing), ``a`` the amount (NaN when missing)."""
    reader = con.sql(
        f"SELECT cid, coalesce(CAST(d - DATE '1970-01-01' AS INTEGER), {MISSING_DAY}) AS d, "
        f"coalesce(a, 'NaN'::DOUBLE) AS a FROM clv_rows{where} ORDER BY cid, d"
    ).to_arrow_reader(batch_rows)
    try:
        yield from _whole_customers(reader, batch_rows)
    finally:
        reader.close()


def _whole_customers(
    reader: pa.RecordBatchReader, batch_rows: int
) -> Iterator[tuple[pa.Array, np.ndarray, np.ndarray]]:
    """The batches of ``reader`` gathered to about ``batch_rows`` rows and cut at a
    customer boundary (see :func:`_sorted_batches`).

    The last customer of a batch may go on in the next one, so its rows are held over.
    When they are followed by one batch of the reader, the rows up to the end of the
    customer straddling the two are yielded as a batch of their own (a small copy), and
    the rest of the reader's batch as it is: no other row is copied (copying every batch
    into one array cost 0.18 s per 10^7 rows)."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        if rows < batch_rows:
            continue
        table = pa.Table.from_batches(pending)
        cid = table.column(0)
        # the last customer may go on in the next batch (a missing id ends the summary)
        last = 0 if cid.null_count else _last_run_start(cid)
        if last == 0:
            continue
        seam = _held_over_end(pending, last)
        if seam:
            yield _arrays(table.slice(0, seam))
        yield _arrays(table.slice(seam, last - seam))
        pending = table.slice(last).to_batches()
        rows = len(table) - last
    if rows:
        yield _arrays(pa.Table.from_batches(pending))


def _held_over_end(pending: list[pa.RecordBatch], last: int) -> int:
    """Where the rows of the customer that straddles the two batches of ``pending``
    (the rows held over, then one batch of the reader) end, when that customer is not
    the last (``last``, the start of the last customer's run); else 0 (no seam)."""
    if len(pending) != 2 or pending[0].num_rows == 0:
        return 0
    held, batch = pending[0].column(0), pending[1].column(0)
    same = pc.equal(batch, held[len(held) - 1]).to_numpy(zero_copy_only=False)
    end = pending[0].num_rows + (int(np.argmin(same)) if not same.all() else len(same))
    return end if end < last else 0


def _last_run_start(cid: pa.ChunkedArray) -> int:
    """Where the run of the last id of ``cid`` (sorted, no nulls) starts: a binary search
    in integer ids, a comparison of the last chunks' text ids."""
    last = cid[len(cid) - 1]
    offset = len(cid)
    for chunk in reversed(cid.chunks):
        offset -= len(chunk)
        if pa.types.is_integer(chunk.type):
            start = int(np.searchsorted(chunk.to_numpy(), last.as_py()))
        else:
            same = pc.equal(chunk, last).to_numpy(zero_copy_only=False)
            start = len(chunk) - int(np.argmin(same[::-1])) if not same.all() else 0
        if start > 0:
            return offset + start
    return 0


def _arrays(table: pa.Table) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The columns of a batch: ids as one Arrow array, days and amounts as NumPy
    (without a copy when the batch is one piece of the reader's)."""
    cid, d, a = (_one_array(table.column(k)) for k in range(3))
    return cid, d.to_numpy(), a.to_numpy()


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array: its only chunk as it is, else the chunks copied into one."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _raise_first_bad_row(con, source: Source, name: str, o: SummaryOptions) -> None:
    """Raise the first bad row of the log: every kind of :func:`bad_row_checks`, in its
    order, looked up in the rows (file order), as a single pass over the log reports."""
    for check in bad_row_checks(o, dict.fromkeys(BAD_ROW_KINDS, 1)):
        raise_first_bad_row(
            con,
            source,
            name,
            condition=_BAD_ROWS[check.kind],
            role=check.role,
            column=check.column,
            problem=check.problem,
        )


def _per_frame(parts: list[dict[str, object]]) -> pd.DataFrame:
    """The per-customer aggregates of every batch as one frame (``cid`` first)."""
    if not parts:
        return pd.DataFrame(columns=["cid", *PER_COLUMNS])
    ids = pa.chunked_array([part["cid"] for part in parts])
    if pa.types.is_integer(ids.type):  # NumPy's own copy: writable, as a summary's column
        cid = pd.Series(np.concatenate([chunk.to_numpy() for chunk in ids.chunks]), copy=False)
    else:
        cid = ids.combine_chunks().to_pandas()
    names = [column for column in PER_COLUMNS if column in parts[0]]
    columns = {column: np.concatenate([part[column] for part in parts]) for column in names}
    # copy=False: one block per column; consolidating them copied ~100 MB per 10^6 customers
    return pd.DataFrame({"cid": cid, **columns}, copy=False)


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
