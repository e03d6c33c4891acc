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
use; :mod:`~clvmodels.data.summary.duckdb_engine`) and ``"pandas"`` (a plain groupby
reference for tests and the benchmark; :mod:`~clvmodels.data.summary.pandas_engine`).
The options and the rules every engine follows, the Spark engine's included, are in
:mod:`~clvmodels.data.summary.rules`; :func:`validate_summary` checks a table that is
already summarised (:mod:`~clvmodels.data.summary.validate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from clvmodels.data.sources import Source, describe_source
from clvmodels.data.summary.duckdb_engine import (
    DEFAULT_MEMORY_LIMIT,
    duckdb_connection,
    summarize_duckdb,
)
from clvmodels.data.summary.pandas_engine import summarize_pandas
from clvmodels.data.summary.rules import (
    MONEY_COLUMNS,
    SummaryOptions,
    check_window,
    litt_from_gaps,
    no_customers_error,
    summary_meta,
)
from clvmodels.data.summary.validate import check_histories, validate_summary
from clvmodels.data.transactions import integer_ids
from clvmodels.errors import ConfigError, DataError

TABLE_FORMATS = (".csv", ".parquet")
"""The file extensions a per-customer table is written as (:func:`write_table`)."""

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "TABLE_FORMATS",
    "SummaryOptions",
    "check_histories",
    "duckdb_connection",
    "summarize_transactions",
    "validate_summary",
    "with_ids_first",
    "write_table",
]


def summarize_transactions(
    source: Source,
    *,
    engine: Literal["duckdb", "pandas"] = "duckdb",
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Summarise a transaction log into one row per customer.

    Definitions follow Fader, Hardie & Lee (2005), Marketing Science 24(2), section 2.
    Times are whole calendar days expressed in ``time_unit``: ``"D"`` days or ``"W"``
    weeks (days / 7); a timestamp's day is its date in ``timezone`` (instants converted,
    naive timestamps as written; :mod:`clvmodels.data.parsing`).

    Parameters
    ----------
    source : DataFrame, "builtin:NAME", path or SqlSource
        See :mod:`clvmodels.data.sources`.
    engine : {"duckdb", "pandas"}
        ``"pandas"`` is a slower reference implementation with the same results.
    memory_limit, threads, temp_directory
        Resources of the DuckDB engine (see :func:`duckdb_connection`): a memory
        limit beyond which its sort spills to ``temp_directory`` (default
        ``"4GB"``, a fresh temporary folder) and its worker threads (default every
        usable core).  The results do not depend on them.
    **options
        The summary options ``customer_id, date, amount, time_unit, observation_end,
        calibration_end, merge_same_day, nonpositive, after_observation_end, timezone,
        date_format, decimal, delimiter, product``, as keywords: their defaults and meaning are
        documented once, in :class:`clvmodels.data.SummaryOptions`.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``customer_id``, with columns

        - ``customer_id``: the ids as written (text stays text, ``"007"`` stays
          ``"007"``; ids that are all plain integers become integers), the first column
          as in ``summary.csv``; the row index is a plain range.  Every per-customer
          output of the API is indexed by these ids
          (:func:`clvmodels.estimators.frames.customer_index`);
        - ``frequency``: number of repeat purchases (purchase occasions after the first)
          in the calibration window (first purchase, calibration_end];
        - ``recency``: time from the first to the last purchase in that window;
        - ``T``: time from the first purchase to ``calibration_end`` (or
          ``observation_end`` without a split);
        - ``monetary_value``: mean value of the repeat purchases, 0.0 when
          ``frequency`` is 0 (the Gamma-Gamma model only uses rows with frequency > 0);
        - ``revenue``: total spend in the window, first purchase included;
        - ``litt``: the sum of the logs of the inter-transaction times (in
          ``time_unit``) of the repeat purchases in the window, 0 when ``frequency``
          is 0 (the ``litt`` of BTYDplus ``elog2cbs``; the sufficient statistic of the
          Erlang-k gaps of the BG/CNBD-k, MBG/CNBD-k and Pareto/GGG).  Times are whole
          days, so without ``merge_same_day`` the zero gaps of purchases on one day are
          skipped (their log is -inf); with it there are none;
        - ``first_purchase``: date of the first purchase;
        - with ``product``: ``products``, the distinct products bought in the
          calibration window (the upsell ratio's input; :class:`SummaryOptions`);
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
    TypeError
        A keyword that is no summary option.
    DataError
        Missing columns, no rows, missing ids, unparseable dates (or not matching
        ``date_format``), days outside 1677-09-22..2262-04-11, non-numeric amounts,
        bad options, ``calibration_end`` after ``observation_end``, transactions after
        ``observation_end`` (with ``after_observation_end="error"``).
    """
    if engine not in ("duckdb", "pandas"):
        raise DataError(f"engine: {engine!r} is not 'duckdb' or 'pandas'")
    o = SummaryOptions.from_keywords("summarize_transactions", options)
    if engine == "pandas":
        aggregates = summarize_pandas(source, o)
    else:
        aggregates = summarize_duckdb(
            source, o, memory_limit=memory_limit, threads=threads, temp_directory=temp_directory
        )
    return _summary(source, o, *aggregates)


def _summary(
    source: Source,
    o: SummaryOptions,
    per: pd.DataFrame,
    counts: dict[str, int],
    obs: pd.Timestamp,
    daily: dict[str, list[int]],
    fingerprint: str | None,
) -> pd.DataFrame:
    """The summary of an engine's per-customer aggregates, with its metadata."""
    check_window(o, obs)
    if len(per) == 0:
        raise no_customers_error(describe_source(source), o, obs, counts)
    frame = _summary_columns(per, o, obs)
    counts["customers"] = len(frame)
    frame.attrs["clvmodels"] = summary_meta(o, obs, counts, daily)
    if fingerprint is not None:
        frame.attrs["clvmodels"]["input_fingerprint"] = fingerprint
    return frame


def _summary_columns(per: pd.DataFrame, o: SummaryOptions, obs: pd.Timestamp) -> pd.DataFrame:
    """Per-customer aggregates of either engine -> the summary columns, same arithmetic
    (that of :func:`clvmodels.spark.summary.summarize_transactions_spark` too).

    ``per`` has ``cid, first_day, last_day`` (days since 1970-01-01, last purchase in
    the calibration window), ``n_cal, revenue, first_a, n_hold, rev_hold`` and
    ``refunds, refunds_hold`` (<= 0; ``nonpositive="net_across_days"``), ``log_gaps,
    n_gaps`` (sum of ln(days between consecutive purchase days in the calibration
    window), their number).  Refunds are added to the revenue of their period and scale
    the mean repeat purchase by the window's net revenue over its purchases
    (:class:`SummaryOptions`).  ``litt`` is ``log_gaps - n_gaps·ln(days per unit)``.
    """
    unit = float(o.unit_days)
    _, cal = o.window(obs)
    cal_day = (cal - pd.Timestamp("1970-01-01")).days
    first_day = _values(per, "first_day", "int64")
    frequency = _values(per, "n_cal", "int64") - 1
    purchases = _values(per, "revenue", "float64")
    repeat_value = purchases - _values(per, "first_a", "float64")
    revenue, revenue_holdout = purchases, _values(per, "rev_hold", "float64")
    if "refunds" in per:  # nonpositive="net_across_days" (the DuckDB engine gives no zeros)
        refunds = _values(per, "refunds", "float64")
        revenue = purchases + refunds
        # the refunds spread over the window's purchases in proportion to their value
        scaled = (refunds < 0) & (purchases > 0)
        repeat_value *= np.divide(revenue, purchases, out=np.ones_like(revenue), where=scaled)
        revenue_holdout = revenue_holdout + _values(per, "refunds_hold", "float64")
    columns = {
        "customer_id": integer_ids(per["cid"].reset_index(drop=True)),
        "frequency": frequency,
        "recency": (_values(per, "last_day", "int64") - first_day) / unit,
        "T": (cal_day - first_day) / unit,
        "monetary_value": np.where(frequency > 0, repeat_value / np.maximum(frequency, 1), 0.0),
        "revenue": revenue,
        "litt": litt_from_gaps(per["log_gaps"], per["n_gaps"], unit),
        "first_purchase": (
            np.datetime64("1970-01-01", "D") + first_day.astype("timedelta64[D]")
        ).astype("datetime64[ns]"),
    }
    if o.calibration_end is not None:
        columns["frequency_holdout"] = _values(per, "n_hold", "int64")
        columns["revenue_holdout"] = revenue_holdout
        columns["duration_holdout"] = np.full(len(per), float((obs - cal).days) / unit)
    if "products" in per:  # SummaryOptions.product: distinct products, calibration window
        columns["products"] = _values(per, "products", "int64")
    if o.amount is None:
        columns = {k: v for k, v in columns.items() if k not in MONEY_COLUMNS}
    ids = columns["customer_id"]
    if not ids.is_monotonic_increasing:  # the engines give runs of sorted ids
        order = ids.argsort(kind="stable").to_numpy()
        columns = {k: np.asarray(v)[order] for k, v in columns.items() if k != "customer_id"}
        columns = {"customer_id": ids.take(order).reset_index(drop=True), **columns}
    # copy=False: one block per column, not a consolidated copy (~1 GB at 10^7 customers);
    # read-only columns (Arrow memory) are copied, so that users may change the summary
    return pd.DataFrame({k: _own(v) for k, v in columns.items()}, copy=False)


def _values(per: pd.DataFrame, name: str, dtype: str) -> np.ndarray:
    """The column ``name`` of an engine's ``per`` as a NumPy array of ``dtype``: the
    column's own values when they are of that type (``per`` is discarded after, so the
    summary may hold them: no copy of 10^7 values; ``to_numpy`` would give a read-only
    view), else converted."""
    return np.asarray(per[name].array, dtype=dtype)


def _own(column: Any) -> Any:
    """``column`` as values a frame may change in place: read-only values (Arrow
    memory) are copied."""
    if isinstance(column, pd.Series):
        if isinstance(column.dtype, np.dtype) and not np.asarray(column.array).flags.writeable:
            return column.to_numpy(copy=True)
        return column
    return column if column.flags.writeable else column.copy()


def with_ids_first(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``customer_id`` as its first column and a plain row index: the
    shape of every per-customer file.  A frame indexed by ``customer_id`` (the Python
    API's per-customer frames) gets its index back as that column; a table without ids
    is returned as it is (with its index dropped)."""
    if table.index.name == "customer_id" and "customer_id" not in table.columns:
        table = table.reset_index()
    else:
        table = table.reset_index(drop=True)
    if "customer_id" in table.columns:
        table = table[["customer_id", *[c for c in table.columns if c != "customer_id"]]]
    return table


def write_table(table: pd.DataFrame, path: str | Path, *, shown: str | None = None) -> Path:
    """Write a per-customer table (a summary, predictions) as CSV or Parquet, chosen by
    the extension of ``path``, with ``customer_id`` as its first column
    (:func:`with_ids_first`).

    DuckDB writes the file (``COPY ... TO``, on every core; CSV text as pandas writes it:
    shortest round-trip floats, dates as ``yyyy-mm-dd``, missing values empty); a table
    with a column it would write otherwise (booleans, timestamps with a time of day in
    CSV, mixed objects) is written by pandas.  Text ids stay text: a Parquet file stores
    them as strings (``"007"`` is read back as ``"007"``); a CSV file holds them as
    written (read it with ``dtype={"customer_id": str}`` to keep leading zeros).  Money is
    never rounded.  The file is written under a temporary name in its folder and
    renamed into place (:func:`clvmodels.atomic.replace`): a failed write leaves no file
    and any previous one as it was.

    Raises
    ------
    ConfigError
        An extension other than ``.csv`` and ``.parquet`` (``shown`` names the path in
        the message, e.g. ``--out s.xlsx``).
    """
    from clvmodels.atomic import replace

    path = Path(path)
    if path.suffix not in TABLE_FORMATS:
        raise ConfigError(unknown_extension(shown or str(path), path.suffix))
    table = with_ids_first(table)
    select = copy_select(table, path.suffix)
    if select is not None:
        return replace(path, lambda tmp: _copy(table, select, tmp, path.suffix))
    if path.suffix == ".parquet":
        return replace(path, lambda tmp: table.to_parquet(tmp, index=False))
    return replace(path, lambda tmp: table.to_csv(tmp, index=False))


def copy_select(table: pd.DataFrame, suffix: str) -> str | None:
    """The ``SELECT`` list with which DuckDB writes ``table`` as pandas would (a
    ``.csv`` or ``.parquet`` file), or None when a column needs pandas: numbers and
    text as they are; naive timestamps as nanosecond timestamps in Parquet, and in CSV
    as dates when every one is a midnight (the text pandas writes)."""
    from clvmodels.data.sql.types import quote_ident

    items = []
    for name in table.columns:
        column, quoted = table[name], quote_ident(str(name))
        kind = column.dtype.kind
        if kind in "iuf" or (kind != "M" and _is_text(column)):
            items.append(quoted)
        elif kind == "M" and getattr(column.dtype, "tz", None) is None:
            if suffix == ".parquet":
                items.append(f"CAST({quoted} AS TIMESTAMP_NS) AS {quoted}")
            elif (column.dropna() == column.dropna().dt.normalize()).all():
                items.append(f"CAST({quoted} AS DATE) AS {quoted}")
            else:
                return None
        else:
            return None
    return ", ".join(items) if items else None


def _is_text(column: pd.Series) -> bool:
    """A column of strings (pandas' string dtype, or objects that are all strings)."""
    if pd.api.types.is_string_dtype(column.dtype) and column.dtype != object:
        return True
    return column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) == "string"


def _copy(table: pd.DataFrame, select: str, tmp: Path, suffix: str) -> None:
    """DuckDB's ``COPY (SELECT select FROM table) TO tmp`` as CSV or Parquet."""
    from clvmodels.data.sql.types import quote_literal

    form = "FORMAT parquet" if suffix == ".parquet" else "FORMAT csv, HEADER true"
    with duckdb_connection() as con:
        con.register("clv_table", table)
        con.execute(f"COPY (SELECT {select} FROM clv_table) TO {quote_literal(str(tmp))} ({form})")


def unknown_extension(shown: str, suffix: str) -> str:
    """The one-line message for an output file of an unknown extension."""
    kind = f"unknown extension {suffix!r}" if suffix else "no extension"
    return f"{shown}: {kind}; give a file name ending in {' or '.join(TABLE_FORMATS)}"
