"""The canonical transactions of a log: ``(cid, d, a)`` with validated ids, dates, amounts.

Every engine reads a transaction log into the same three columns before summarising
it: ``cid`` the customer id (missing for a missing or blank id), ``d`` the calendar day
of the transaction (missing for an unparseable date; time-zone aware timestamps are
taken in UTC) and ``a`` its amount (1.0 without an amount column).  DuckDB builds them as
a view over the source (:func:`transactions_view`, no scan); the pandas reference engine
as a frame (:func:`load_transactions_pandas`); the Spark engine as Spark columns
(:mod:`clvmodels.spark.summary`).  All report a bad row with the texts of
:data:`ROW_PROBLEMS` and :func:`column_type_error`.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from clvmodels.data.checks import require_columns
from clvmodels.data.sources import (
    Source,
    is_csv_source,
    read_source_pandas,
    register_source,
    row_label,
    source_columns,
)
from clvmodels.data.sql import FINGERPRINT_ATTR
from clvmodels.data.sql.types import quote_ident
from clvmodels.errors import DataError, Echoed, echo

ROW_PROBLEMS = {
    "cid": "customer id is missing or blank",
    "d": "cannot parse {raw!r} as a date",
    "a": "amount {raw!r} is not a finite number",
}
"""What is wrong with a row whose ``cid``, ``d`` or ``a`` is bad (``{raw}``: the value as
it stands in the source, shown bounded by :class:`clvmodels.errors.Echoed`)."""

MAX_AMOUNT = 1e15
"""The largest amount (in absolute value) of a row: beyond any transaction, and small
enough that the sums of a log's amounts (up to 2**63 rows) and the squares the spend
model's moments take stay finite; a larger amount is a bad row (:data:`HUGE_AMOUNT`)."""

HUGE_AMOUNT = "amount {raw!r} is beyond ±1e15, larger than any transaction (sums would overflow)"
"""The problem of a row whose amount is beyond :data:`MAX_AMOUNT`."""

_EXPECTED = {"d": "dates (ISO yyyy-mm-dd text, date or timestamp values)", "a": "numbers"}


def column_type_error(name: str, column: str, found: object, role: str) -> DataError:
    """The error of a date (``role="d"``) or amount (``"a"``) column whose type ``found``
    cannot hold dates or numbers."""
    return DataError(f"{name}: column {echo(column)} has type {found}; expected {_EXPECTED[role]}")


def transaction_columns(customer_id: str, date: str, amount: str | None) -> dict[str, str | None]:
    """The columns of a log by role, for :func:`clvmodels.data.checks.require_columns`."""
    return {"customer id": customer_id, "date": date, "amount": amount}


_NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


INTEGER_ID_PATTERN = "[+-]?[0-9]{1,18}"
"""Text ids that all match this (whole) become integers, as ``pandas.read_csv`` would
type them (:func:`integer_ids`)."""


def transactions_view(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    *,
    customer_id: str,
    date: str,
    amount: str | None,
    view: str = "clv_rows",
) -> str:
    """Create the view ``view(raw_cid, raw_d, raw_a, cid, d, a)`` over ``source`` (no scan).

    ``cid`` is NULL for a missing or blank id, ``d`` NULL for an unparseable date (DATE
    or TIMESTAMP values, or text DuckDB parses as a timestamp, e.g. ISO
    ``yyyy-mm-dd[ hh:mm:ss]``; time-zone aware values in UTC), ``a`` NULL or non-finite
    for a bad amount (``amount=None`` gives 1.0).  Callers count those while
    aggregating and call :func:`raise_first_bad_row` on the error path, so that a valid
    log is read once.

    Returns
    -------
    str
        The source's name for messages.

    Raises
    ------
    DataError
        Unreadable source, missing column, a date or amount column of a wrong type.
    """
    raw = view + "_src"
    name = register_source(con, source, raw)
    types = source_columns(con, raw)
    require_columns(name, transaction_columns(customer_id, date, amount), types)
    id_type, d_type = types[customer_id], types[date]
    if any("NULL" in t for t in (id_type, d_type, types.get(amount or customer_id, ""))):
        # an empty DataFrame has untyped columns; say "no rows" rather than "bad type"
        if con.execute(f"SELECT count(*) FROM {quote_ident(raw)}").fetchone()[0] == 0:
            raise DataError(f"{name}: no rows")
    q_id, q_d = quote_ident(customer_id), quote_ident(date)
    if d_type in ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"):
        d_expr = f"CAST({q_d} AS DATE)"
    elif d_type == "TIMESTAMP WITH TIME ZONE":
        con.execute("SET TimeZone = 'UTC'")
        d_expr = f"CAST({q_d} AS DATE)"
    elif d_type == "VARCHAR":
        d_expr = f"CAST(TRY_CAST(trim({q_d}) AS TIMESTAMP) AS DATE)"
    else:
        raise column_type_error(name, date, d_type, "d")
    if amount is None:
        a_expr = "1.0::DOUBLE"
    elif types[amount].startswith(_NUMERIC_TYPES):
        a_expr = f"CAST({quote_ident(amount)} AS DOUBLE)"
    elif types[amount] == "VARCHAR":
        a_expr = f"TRY_CAST(trim({quote_ident(amount)}) AS DOUBLE)"
    else:
        raise column_type_error(name, amount, types[amount], "a")
    # a blank text id is missing; other ids are used as they are (NULL stays NULL)
    cid = f"CASE WHEN trim({q_id}) = '' THEN NULL ELSE {q_id} END" if id_type == "VARCHAR" else q_id
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_ident(view)} AS SELECT "
        f"{q_id} AS raw_cid, {q_d} AS raw_d, "
        f"{quote_ident(amount) if amount is not None else 'NULL'} AS raw_a, "
        f"{cid} AS cid, {d_expr} AS d, {a_expr} AS a FROM {quote_ident(raw)}"
    )
    return name


def raise_first_bad_row(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    name: str,
    *,
    condition: str,
    role: str,
    column: str,
    problem: str,
    view: str = "clv_rows",
) -> None:
    """Raise a DataError for the first row of ``view`` matching ``condition``.

    ``role`` is ``cid``, ``d`` or ``a``: whose raw value to quote; ``column`` its name.
    ``problem`` may use ``{raw}`` (the raw value of ``column``), ``{cid}``, ``{d}``
    and ``{a}``.  Rows are numbered in file order (0-based rows of a frame, file lines
    of a CSV).  Does nothing if no row matches.
    """
    found = con.execute(
        f"SELECT rn - 1, raw_{role}, cid, d, a FROM (SELECT row_number() OVER () AS rn, * "
        f"FROM {quote_ident(view)}) WHERE {condition} ORDER BY rn LIMIT 1"
    ).fetchone()
    if found is None:
        return
    pos, raw, cid, d, a = found
    where = row_label(name, int(pos), is_file_csv=is_csv_source(source))
    text = problem.format(raw=Echoed(raw), cid=Echoed(cid), d=d, a=Echoed(a))
    raise DataError(f"{name}: column {echo(column)} {where}: {text}")


def integer_ids(ids: pd.Series) -> pd.Series:
    """Text ids that all look like integers (and stay distinct) as int64, else as given.

    Applied to the distinct ids of a summary by both engines, like ``pandas.read_csv``
    would type an id column.
    """
    if pd.api.types.is_numeric_dtype(ids) or pd.api.types.is_bool_dtype(ids) or len(ids) == 0:
        return ids
    stripped = ids.astype(str).str.strip()
    if not stripped.str.fullmatch(INTEGER_ID_PATTERN).all():
        return ids
    as_int = stripped.astype("int64")
    return as_int if as_int.is_unique else ids


def load_transactions_pandas(
    source: Source, *, customer_id: str, date: str, amount: str | None
) -> tuple[str, pd.DataFrame]:
    """Pandas twin of :func:`transactions_view`: a frame ``cid, d, a``.

    Same rules and messages; ``d`` is datetime64 at midnight.
    """
    frame, name = read_source_pandas(source)
    require_columns(name, transaction_columns(customer_id, date, amount), frame.columns)
    if len(frame) == 0:
        raise DataError(f"{name}: no rows")
    is_csv = is_csv_source(source)

    def fail(mask: np.ndarray, column: str, problem: str) -> None:
        if mask.any():
            pos = int(np.flatnonzero(mask)[0])
            raw = Echoed(frame[column].iloc[pos])
            where = row_label(name, pos, is_file_csv=is_csv)
            raise DataError(f"{name}: column {echo(column)} {where}: {problem.format(raw=raw)}")

    ids = frame[customer_id]
    textual_ids = not pd.api.types.is_numeric_dtype(ids) and not pd.api.types.is_bool_dtype(ids)
    bad = ids.isna().to_numpy()
    if textual_ids:
        bad = bad | (ids.astype(str).str.strip() == "").to_numpy()
    fail(bad, customer_id, ROW_PROBLEMS["cid"])

    raw_d = frame[date]
    if isinstance(raw_d.dtype, pd.DatetimeTZDtype):
        days = raw_d.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_datetime64_dtype(raw_d):
        days = raw_d
    elif pd.api.types.is_string_dtype(raw_d) or raw_d.dtype == object:
        days = pd.to_datetime(raw_d.astype(str).str.strip(), errors="coerce", format="ISO8601")
        days = days.where(raw_d.notna())
    else:
        raise column_type_error(name, date, raw_d.dtype, "d")
    days = days.dt.normalize()
    fail(days.isna().to_numpy(), date, ROW_PROBLEMS["d"])

    if amount is None:
        values = pd.Series(1.0, index=frame.index)
    else:
        raw_a = frame[amount]
        if pd.api.types.is_bool_dtype(raw_a):
            raise column_type_error(name, amount, "bool", "a")
        if pd.api.types.is_numeric_dtype(raw_a):
            values = raw_a.astype("float64")
        else:
            values = (
                pd.to_numeric(raw_a.astype(str).str.strip(), errors="coerce")
                .where(raw_a.notna())
                .astype("float64")
            )
        fail(
            ~np.isfinite(values.to_numpy(dtype="float64", na_value=np.nan)),
            amount,
            ROW_PROBLEMS["a"],
        )
        fail((values.abs() > MAX_AMOUNT).to_numpy(), amount, HUGE_AMOUNT)

    tx = pd.DataFrame(
        {"cid": ids.to_numpy(), "d": days.to_numpy(), "a": values.to_numpy(dtype="float64")}
    )
    if FINGERPRINT_ATTR in frame.attrs:
        tx.attrs[FINGERPRINT_ATTR] = frame.attrs[FINGERPRINT_ATTR]
    return name, tx
