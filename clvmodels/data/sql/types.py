"""Column kinds of a query's result and how they are stored in DuckDB; SQL quoting.

A column of a query has one *kind*, decided before any row is stored: from its
PostgreSQL type OID where the driver reports one (:data:`PG_KINDS`), else from the
first non-null value of the first batch (:func:`value_kind`).  Each kind has one DuckDB
type (:data:`DUCKDB_TYPES`) and one Arrow type (:func:`arrow_batch`): integers ->
BIGINT, numeric/decimal/real/double -> DOUBLE, date -> DATE, timestamp -> TIMESTAMP,
timestamp with time zone -> TIMESTAMPTZ (UTC), boolean -> BOOLEAN, anything else ->
VARCHAR (its text form).  The generic loader (:mod:`clvmodels.data.sql.load`) and the
PostgreSQL ``COPY`` path (:mod:`clvmodels.data.sql.pgcopy`) both create their table with
:func:`create_table`, so either gives the same column types.

:func:`quote_ident` and :func:`quote_literal` are the package's one quoting of SQL
identifiers and string literals (DuckDB and PostgreSQL quote alike).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from clvmodels.errors import DataError

PG_KINDS = {
    16: "bool",
    20: "int",
    21: "int",
    23: "int",
    26: "int",
    700: "float",
    701: "float",
    1700: "float",
    1082: "date",
    1114: "timestamp",
    1184: "timestamptz",
}
"""PostgreSQL type OIDs (``pg_type.oid``, stable across versions) -> column kinds."""

DUCKDB_TYPES = {
    "bool": "BOOLEAN",
    "int": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
    "text": "VARCHAR",
}
"""Column kind -> the DuckDB type it is stored as."""


def quote_ident(name: str) -> str:
    """``name`` as an SQL identifier (double quotes, inner ones doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as an SQL string literal (single quotes, inner ones doubled)."""
    return "'" + text.replace("'", "''") + "'"


def _text(values: Sequence[Any]) -> list[Any]:
    return [v if v is None or isinstance(v, str) else str(v) for v in values]


def _floats(values: Sequence[Any]) -> list[Any]:
    return [None if v is None else float(v) for v in values]


_ARROW: dict[str, tuple[pa.DataType, Callable[[Sequence[Any]], Sequence[Any]]]] = {
    "bool": (pa.bool_(), list),
    "int": (pa.int64(), list),
    "float": (pa.float64(), _floats),
    "date": (pa.date32(), list),
    "timestamp": (pa.timestamp("us"), list),
    "timestamptz": (pa.timestamp("us", tz="UTC"), list),
    "text": (pa.string(), _text),
}


def value_kind(value: Any) -> str:
    """Column kind of a Python value (for drivers without PostgreSQL type codes)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float | decimal.Decimal):
        return "float"
    if isinstance(value, dt.datetime):
        return "timestamptz" if value.tzinfo is not None else "timestamp"
    if isinstance(value, dt.date):
        return "date"
    return "text"


def result_kinds(description: Any, postgres: bool, columns: list[tuple[Any, ...]]) -> list[str]:
    """Kind of every column of a DBAPI cursor ``description``: from the PostgreSQL type
    code, else from the first non-null value of ``columns`` (the first batch, one tuple
    per column; text when there is none)."""
    kinds = []
    for i, item in enumerate(description):
        code = item[1]
        if postgres and isinstance(code, int):
            kinds.append(PG_KINDS.get(code, "text"))
            continue
        first = next((v for v in (columns[i] if columns else ()) if v is not None), None)
        kinds.append("text" if first is None else value_kind(first))
    return kinds


def arrow_batch(
    names: list[str], kinds: list[str], columns: list[tuple[Any, ...]], where: str
) -> pa.Table:
    """One batch of rows (``columns``: one tuple of values per column) as an Arrow table
    with the Arrow type of each column's kind.

    Raises
    ------
    DataError
        A column holds values of another kind than its first batch (``where`` names the
        source).
    """
    arrays = []
    for name, kind, values in zip(names, kinds, columns, strict=True):
        arrow_type, convert = _ARROW[kind]
        try:
            arrays.append(pa.array(convert(values), type=arrow_type))
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            bad = next(v for v in values if v is not None and value_kind(v) != kind)
            raise DataError(
                f"{where}: column {name!r} mixes {DUCKDB_TYPES[kind]} values with "
                f"{type(bad).__name__} values (e.g. {bad!r}); cast it in the query"
            ) from None
    return pa.Table.from_arrays(arrays, names=names)


def check_names(names: list[str], where: str) -> None:
    """Raise :class:`DataError` when the query returns a column name twice."""
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{where}: the query returns column {repeated[0]!r} twice; alias it")


def create_table(
    con: duckdb.DuckDBPyConnection, table: str, names: list[str], kinds: list[str]
) -> None:
    """Create (or replace) the empty temporary table ``table`` with a column of the
    DuckDB type of its kind for each of ``names``."""
    columns = ", ".join(
        f"{quote_ident(n)} {DUCKDB_TYPES[k]}" for n, k in zip(names, kinds, strict=True)
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(table)} ({columns})")
