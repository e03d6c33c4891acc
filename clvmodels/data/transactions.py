"""The canonical transactions of a log: ``(cid, d, a)`` with validated ids, dates, amounts.

Every engine reads a transaction log into the same three columns before summarising
it: ``cid`` the customer id (missing for a missing or blank id), ``d`` the calendar day
of the transaction (missing for an unparseable date; read by the rules of
:mod:`clvmodels.data.parsing`: an instant's date in the chosen time zone, a naive
timestamp's date as written) and ``a`` its amount (1.0 without an amount column); with
a product column also ``p``, the product as text (for the distinct products per
customer of the upsell ratio).
DuckDB builds them as a view over the source (:func:`transactions_view`, no scan); the
pandas reference engine as a frame (:func:`load_transactions_pandas`); the Spark engine
as Spark columns (:mod:`clvmodels.spark.summary`).  All report a bad row with the texts of
:data:`ROW_PROBLEMS` and :func:`column_type_error`.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from clvmodels.data.checks import require_columns
from clvmodels.data.ids import INTEGER_ID_PATTERN as INTEGER_ID_PATTERN
from clvmodels.data.ids import integer_ids as integer_ids
from clvmodels.data.parsing import (
    DECIMAL_COMMA,
    DEFAULT_FORMATS,
    EARLIEST_DAY,
    LATEST_DAY,
    RANGE_PROBLEM,
    ZONE_GAP,
    ZONE_NAME_TEXT,
    ZONED_TEXT,
    DateFormat,
    ValueFormats,
    csv_delimiter,
)
from clvmodels.data.sources import (
    Source,
    is_csv_source,
    read_source_pandas,
    register_source,
    row_label,
    source_columns,
)
from clvmodels.data.sql import FINGERPRINT_ATTR
from clvmodels.data.sql.types import quote_ident, quote_literal
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


def transaction_columns(
    customer_id: str, date: str, amount: str | None, product: str | None = None
) -> dict[str, str | None]:
    """The columns of a log by role, for :func:`clvmodels.data.checks.require_columns`."""
    return {"customer id": customer_id, "date": date, "amount": amount, "product": product}


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


OUT_OF_RANGE_SQL = f"(d < DATE '{EARLIEST_DAY}' OR d > DATE '{LATEST_DAY}')"
"""The rows of :func:`transactions_view` whose day a summary cannot hold."""

_NAIVE_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")


def transactions_view(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    *,
    customer_id: str,
    date: str,
    amount: str | None,
    view: str = "clv_rows",
    formats: ValueFormats = DEFAULT_FORMATS,
    product: str | None = None,
) -> str:
    """Create the view ``view(raw_cid, raw_d, raw_a, cid, d, a, p)`` over ``source`` (no
    scan).

    ``cid`` is NULL for a missing or blank id, ``d`` NULL for an unparseable date (DATE
    or TIMESTAMP values, or text DuckDB parses as a timestamp, e.g. ISO
    ``yyyy-mm-dd[ hh:mm:ss]``, or text of ``formats.date_format``; days in
    ``formats.timezone`` by the rules of :mod:`clvmodels.data.parsing`; a day outside
    its range is counted by :data:`OUT_OF_RANGE_SQL`), ``a`` NULL or non-finite for a
    bad amount (``amount=None`` gives 1.0; text read with ``formats.decimal``), ``p`` the
    product as trimmed text (:func:`product_text`; NULL without a ``product`` column, for a
    missing or blank one).  Callers
    count those while aggregating and call :func:`raise_first_bad_row` on the error
    path, so that a valid log is read once.

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
    delimiter = csv_delimiter(source, formats.delimiter) if is_csv_source(source) else None
    name = register_source(con, source, raw, delimiter=delimiter)
    types = source_columns(con, raw)
    require_columns(name, transaction_columns(customer_id, date, amount, product), types)
    id_type, d_type = types[customer_id], types[date]
    if any("NULL" in t for t in (id_type, d_type, types.get(amount or customer_id, ""))):
        # an empty DataFrame has untyped columns; say "no rows" rather than "bad type"
        if con.execute(f"SELECT count(*) FROM {quote_ident(raw)}").fetchone()[0] == 0:
            raise DataError(f"{name}: no rows")
    q_id, q_d = quote_ident(customer_id), quote_ident(date)
    day = _day_sql(q_d, d_type, formats)
    if day is None:
        raise column_type_error(name, date, d_type, "d")
    d_expr, day_text = day
    if amount is None:
        a_expr = "1.0::DOUBLE"
    elif types[amount].startswith(_NUMERIC_TYPES):
        a_expr = f"CAST({quote_ident(amount)} AS DOUBLE)"
    elif types[amount] == "VARCHAR":
        a_expr = _amount_sql(f"trim({quote_ident(amount)})", formats.decimal)
    else:
        raise column_type_error(name, amount, types[amount], "a")
    # a blank text id is missing; other ids are used as they are (NULL stays NULL)
    cid = f"CASE WHEN trim({q_id}) = '' THEN NULL ELSE {q_id} END" if id_type == "VARCHAR" else q_id
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_ident(view)} AS SELECT "
        f"{q_id} AS raw_cid, {q_d} AS raw_d, "
        f"{quote_ident(amount) if amount is not None else 'NULL'} AS raw_a, "
        f"{cid} AS cid, {d_expr} AS d, {a_expr} AS a, {_product_sql(product)} AS p "
        f"FROM (SELECT *{day_text} FROM {quote_ident(raw)})"
    )
    return name


def _product_sql(product: str | None) -> str:
    """SQL of the product of a row: its text, trimmed, NULL when missing or blank."""
    if product is None:
        return "NULL::VARCHAR"
    return f"NULLIF(trim(CAST({quote_ident(product)} AS VARCHAR)), '')"


def product_text(raw: pd.Series) -> pd.Series:
    """Pandas twin of :func:`_product_sql`: the products as trimmed text, missing for a
    missing or blank one.  Products are only compared (distinct products per customer),
    so a code like ``17`` is the text ``"17"``; a missing product counts as none."""
    text = raw.astype(str).str.strip().where(raw.notna())
    return text.where(text != "")


def _day_sql(q_d: str, d_type: str, formats: ValueFormats) -> tuple[str, str] | None:
    """The SQL of the day of the date column ``q_d`` (DuckDB type ``d_type``) and of the
    extra column it reads from (``""`` or ``", <text> AS clv_day_text"``); None for a
    type that holds no dates."""
    zone = quote_literal(formats.timezone)
    if d_type in _NAIVE_TYPES:
        return f"CAST({q_d} AS DATE)", ""
    if d_type == "TIMESTAMP WITH TIME ZONE":
        return f"CAST(timezone({zone}, {q_d}) AS DATE)", ""
    if d_type != "VARCHAR":
        return None
    text = f"trim({q_d})"
    if formats.dates is not None:
        text = _iso_sql(text, formats.dates)
    t = "clv_day_text"
    gapless = f"regexp_replace({t}, {quote_literal(ZONE_GAP)}, '\\1')"
    day = (
        f"CASE WHEN regexp_matches({t}, {quote_literal(ZONED_TEXT)}) "
        f"THEN CAST(timezone({zone}, TRY_CAST({gapless} AS TIMESTAMPTZ)) AS DATE) "
        f"WHEN regexp_matches({t}, {quote_literal(ZONE_NAME_TEXT)}) THEN NULL "
        f"ELSE CAST(TRY_CAST({t} AS TIMESTAMP) AS DATE) END"
    )
    return day, f", {text} AS {t}"


def _iso_sql(text: str, fmt: DateFormat) -> str:
    """SQL of the ISO text of ``text`` read with ``fmt`` (NULL when it does not match)."""
    pattern = quote_literal(fmt.pattern)
    parts = []
    for piece in fmt.iso:
        if isinstance(piece, str):
            parts.append(quote_literal(piece))
            continue
        group, width = piece
        found = f"regexp_extract({text}, {pattern}, {group})"
        parts.append(f"lpad({found}, {width}, '0')" if width else found)
    return f"CASE WHEN regexp_full_match({text}, {pattern}) THEN concat({', '.join(parts)}) END"


def _amount_sql(text: str, decimal: str) -> str:
    """SQL of the amount of the trimmed text ``text`` (NULL when it is no number)."""
    if decimal == ".":
        return f"TRY_CAST({text} AS DOUBLE)"
    point = f"replace(replace({text}, '.', ''), ',', '.')"
    return (
        f"CASE WHEN regexp_full_match({text}, {quote_literal(DECIMAL_COMMA)}) "
        f"THEN TRY_CAST({point} AS DOUBLE) END"
    )


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


def load_transactions_pandas(
    source: Source,
    *,
    customer_id: str,
    date: str,
    amount: str | None,
    formats: ValueFormats = DEFAULT_FORMATS,
    product: str | None = None,
) -> tuple[str, pd.DataFrame]:
    """Pandas twin of :func:`transactions_view`: a frame ``cid, d, a``, and ``p`` (the
    product text of :func:`product_text`) with a ``product`` column.

    Same rules and messages; ``d`` is datetime64 at midnight.
    """
    delimiter = csv_delimiter(source, formats.delimiter) if is_csv_source(source) else None
    frame, name = read_source_pandas(source, delimiter=delimiter)
    require_columns(name, transaction_columns(customer_id, date, amount, product), frame.columns)
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

    days = _days_pandas(frame[date], formats)
    if days is None:
        raise column_type_error(name, date, frame[date].dtype, "d")
    days = days.dt.normalize()
    fail(days.isna().to_numpy(), date, formats.date_problem(ROW_PROBLEMS["d"]))
    early, late = pd.Timestamp(EARLIEST_DAY), pd.Timestamp(LATEST_DAY)
    fail(((days < early) | (days > late)).to_numpy(), date, RANGE_PROBLEM)

    if amount is None:
        values = pd.Series(1.0, index=frame.index)
    else:
        raw_a = frame[amount]
        if pd.api.types.is_bool_dtype(raw_a):
            raise column_type_error(name, amount, "bool", "a")
        if pd.api.types.is_numeric_dtype(raw_a):
            values = raw_a.astype("float64")
        else:
            values = _amounts_pandas(raw_a, formats.decimal)
        fail(
            ~np.isfinite(values.to_numpy(dtype="float64", na_value=np.nan)),
            amount,
            formats.amount_problem(ROW_PROBLEMS["a"]),
        )
        fail((values.abs() > MAX_AMOUNT).to_numpy(), amount, HUGE_AMOUNT)

    tx = pd.DataFrame(
        {"cid": ids.to_numpy(), "d": days.to_numpy(), "a": values.to_numpy(dtype="float64")}
    )
    if product is not None:
        tx["p"] = product_text(frame[product]).to_numpy()
    if FINGERPRINT_ATTR in frame.attrs:
        tx.attrs[FINGERPRINT_ATTR] = frame.attrs[FINGERPRINT_ATTR]
    return name, tx


def _days_pandas(raw: pd.Series, formats: ValueFormats) -> pd.Series | None:
    """The naive local timestamps of a date column, as :func:`_day_sql` reads them (NaT
    where unreadable); None for a type that holds no dates."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert(formats.timezone).dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(raw):
        return raw
    if not (pd.api.types.is_string_dtype(raw) or raw.dtype == object):
        return None
    text = raw.astype(str).str.strip()
    # date objects (a Parquet date column) are ISO text; date_format reads strings only
    if formats.dates is not None and pd.api.types.infer_dtype(raw, skipna=True) != "date":
        text = _iso_text(text, formats.dates)
    zoned = text.str.contains(ZONED_TEXT, regex=True, na=False)
    named = text.str.contains(ZONE_NAME_TEXT, regex=True, na=False) & ~zoned

    def parse(values: pd.Series) -> pd.Series:
        return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")

    local = parse(text.where(~zoned & ~named)).dt.tz_localize(None)
    instants = parse(text.where(zoned)).dt.tz_convert(formats.timezone).dt.tz_localize(None)
    return local.where(~zoned, instants).where(raw.notna())


def _iso_text(text: pd.Series, fmt: DateFormat) -> pd.Series:
    """The ISO text of ``text`` read with ``fmt`` (missing where it does not match)."""
    groups = text.str.extract(fmt.pattern)
    out = pd.Series("", index=text.index, dtype=object)
    for piece in fmt.iso:
        if isinstance(piece, str):
            out = out + piece
        else:
            found = groups[piece[0] - 1]
            out = out + (found.str.zfill(piece[1]) if piece[1] else found)
    return out


def _amounts_pandas(raw: pd.Series, decimal: str) -> pd.Series:
    """The amounts of a text column, as :func:`_amount_sql` reads them (NaN where bad)."""
    text = raw.astype(str).str.strip()
    if decimal == ",":
        point = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        text = point.where(text.str.fullmatch(DECIMAL_COMMA, na=False))
    return pd.to_numeric(text, errors="coerce").where(raw.notna()).astype("float64")
