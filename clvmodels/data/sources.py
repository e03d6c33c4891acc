"""Reading a data source: a DataFrame, ``"builtin:NAME"``, a CSV/Parquet path or a SQL query.

A *source* is one of

* a :class:`pandas.DataFrame`;
* ``"builtin:NAME"``, a data set shipped with clvmodels (see
  :data:`clvmodels.data.builtin.BUILTIN_DATASETS`);
* a path (``str`` or :class:`os.PathLike`) to a ``.csv``, ``.csv.gz`` or ``.parquet``
  file, or to a Parquet dataset: a folder of Parquet files, nested or hive-partitioned,
  Spark output included (:func:`parquet_dataset_files`, :func:`parquet_scan`);
* a :class:`clvmodels.data.sql.SqlSource`, the rows of a SQL query (loaded into DuckDB
  batch by batch, see :mod:`clvmodels.data.sql`).

:func:`register_source` makes a source visible to DuckDB as a view without loading
files into pandas; :func:`read_source_pandas` loads it into pandas (used by the plain
pandas reference engine).  CSV files are read with every column as text, so that
dates and amounts are validated by clvmodels with a message naming the line, rather
than failing inside the CSV reader.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Union

import duckdb
import numpy as np
import pandas as pd

from clvmodels.data.builtin import get_builtin, load_builtin
from clvmodels.data.sql import FINGERPRINT_ATTR, SqlSource, read_sql_frame, register_sql
from clvmodels.data.sql.types import quote_ident, quote_literal
from clvmodels.errors import DataError

Source = Union[pd.DataFrame, str, os.PathLike, SqlSource]  # noqa: UP007 (readable alias)

_BUILTIN_PREFIX = "builtin:"


def describe_source(source: Source) -> str:
    """Name a source for messages: the path as given, ``"builtin:NAME"``, ``"DataFrame"``,
    or for SQL its key and masked URL (``data.source (postgresql://u:***@host/db)``)."""
    if isinstance(source, pd.DataFrame):
        return "DataFrame"
    if isinstance(source, SqlSource):
        return source.describe()
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    return type(source).__name__


def _source_kind(source: Source) -> tuple[str, object]:
    """Classify a source as ("frame", df), ("builtin", name), ("csv"|"parquet", path)."""
    if isinstance(source, pd.DataFrame):
        return "frame", source
    if not isinstance(source, str | os.PathLike):
        raise DataError(
            f"{type(source).__name__}: unsupported source type; give a DataFrame, "
            "'builtin:NAME' or a path to a .csv, .csv.gz or .parquet file"
        )
    text = os.fspath(source)
    if isinstance(text, str) and text.startswith(_BUILTIN_PREFIX):
        name = text[len(_BUILTIN_PREFIX) :]
        get_builtin(name)  # raises DataError listing the known names
        return "builtin", name
    path = Path(text)
    if path.is_dir():
        parquet_dataset_files(path)  # raises DataError when it holds no Parquet file
        return "parquet", path
    lower = path.name.lower()
    if lower.endswith((".csv", ".csv.gz")):
        kind = "csv"
    elif lower.endswith(".parquet"):
        kind = "parquet"
    else:
        raise DataError(
            f"{text}: unsupported file type; expected .csv, .csv.gz, .parquet "
            "or a directory of .parquet files"
        )
    if not path.exists():
        raise DataError(f"{text}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{text}: file is empty")
    return kind, path


_PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
_PARQUET_MAGIC = b"PAR1"
_HIVE_PART = re.compile(r"[^=]+=[^=]*")


def _is_parquet_file(path: Path) -> bool:
    """A data file of a dataset: a Parquet suffix, or no suffix and the Parquet magic
    bytes (Hive writes ``000000_0``-style names)."""
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return True
    if "." in name:
        return False  # .crc, .json, .txt, ...: side files of the writer
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == _PARQUET_MAGIC
    except OSError:
        return False


def parquet_dataset_files(folder: Path) -> list[Path]:
    """The data files of a Parquet dataset folder, in path order.

    Files are found in every subfolder (nested and hive-partitioned layouts such as
    ``year=2024/month=01/part-0.parquet``).  Names starting with ``_`` or ``.`` are
    skipped at any level, as Spark, Hive and Arrow do (``_SUCCESS``,
    ``_common_metadata``, ``.part-0.crc``, ``_temporary/``), and so are files with a
    suffix other than ``.parquet``, ``.parq`` or ``.pq``; a file without a suffix is
    data when it starts with the Parquet magic bytes.

    Raises
    ------
    DataError
        The folder holds no such file.
    """
    files: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        files += [
            Path(root) / n
            for n in sorted(names)
            if not n.startswith(("_", ".")) and _is_parquet_file(Path(root) / n)
        ]
    if not files:
        raise DataError(
            f"{folder}: directory contains no .parquet files (in any subfolder; names "
            "starting with _ or . are skipped)"
        )
    return files


def parquet_scan(path: Path) -> str:
    """DuckDB ``read_parquet`` of a file or a dataset folder (no data read).

    A folder's files (:func:`parquet_dataset_files`) are read as one table: columns are
    matched by name across files (``union_by_name``; a column missing from a file is
    NULL there) and the ``key=value`` folders of a hive-partitioned dataset become
    columns (typed by DuckDB: ``year=2024`` an integer, ``day=2024-01-31`` a date).
    DuckDB reads only the columns and row groups a query needs.
    """
    if not path.is_dir():
        return f"read_parquet({quote_literal(str(path))})"
    files = parquet_dataset_files(path)
    listed = ", ".join(quote_literal(str(f)) for f in files)
    hive = "true" if _is_hive(path, files) else "false"
    return f"read_parquet([{listed}], union_by_name = true, hive_partitioning = {hive})"


def _is_hive(folder: Path, files: list[Path]) -> bool:
    """True if every file sits below ``key=value`` folders (hive partitioning).

    Raises
    ------
    DataError
        Some files are in ``key=value`` folders and others are not.
    """
    hive = [
        bool(parts) and all(_HIVE_PART.fullmatch(p) for p in parts)
        for parts in (f.relative_to(folder).parent.parts for f in files)
    ]
    if any(hive) and not all(hive):
        odd = files[hive.index(False)]
        raise DataError(
            f"{folder}: mixes hive-partitioned files (in key=value folders) with files "
            f"outside them, e.g. {odd.relative_to(folder)}"
        )
    return all(hive)


def duckdb_error_line(exc: BaseException) -> str:
    """First line of a DuckDB error message, for a one-line DataError."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def register_source(con: duckdb.DuckDBPyConnection, source: Source, view: str) -> str:
    """Make ``source`` queryable on ``con`` as the view ``view``.

    Files are scanned by DuckDB (``read_csv`` with ``header=true, all_varchar=true``;
    ``read_parquet``); DataFrames and built-in data sets are registered in place.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection to register the view on.
    source : DataFrame, str or os.PathLike
        See the module docstring.
    view : str
        Name of the view to create (replaced if it exists).

    Returns
    -------
    str
        The source's name for messages (:func:`describe_source`).

    Raises
    ------
    DataError
        Missing or empty file, unsupported extension, unreadable file, unknown
        built-in name; for SQL, see :func:`clvmodels.data.sql.load_sql`.
    """
    if isinstance(source, SqlSource):
        return register_sql(con, source, view)
    name = describe_source(source)
    kind, value = _source_kind(source)
    if kind == "frame":
        con.register(view, value)
        return name
    if kind == "builtin":
        con.register(view, load_builtin(str(value)))
        return name
    path = Path(str(value))
    if kind == "csv":
        scan = f"read_csv({quote_literal(str(path))}, header=true, all_varchar=true)"
    else:
        scan = parquet_scan(path)
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(view)} AS SELECT * FROM {scan}")
        con.execute(f"SELECT * FROM {quote_ident(view)} LIMIT 0")
    except duckdb.Error as exc:
        raise DataError(f"{name}: cannot read {kind}: {duckdb_error_line(exc)}") from None
    return name


def source_columns(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    """Column names of a registered view mapped to their DuckDB type names."""
    rows = con.execute(f"DESCRIBE SELECT * FROM {quote_ident(view)}").fetchall()
    return {str(row[0]): str(row[1]) for row in rows}


def read_source_pandas(source: Source) -> tuple[pd.DataFrame, str]:
    """Load ``source`` into pandas; CSV columns are read as strings.

    Returns
    -------
    (DataFrame, str)
        The data and the source's name for messages.

    Raises
    ------
    DataError
        As :func:`register_source`.
    """
    if isinstance(source, SqlSource):  # the fingerprint of its rows in attrs
        return read_sql_frame(source), source.describe()
    name = describe_source(source)
    kind, value = _source_kind(source)
    if kind == "frame":
        return value, name  # type: ignore[return-value]
    if kind == "builtin":
        return load_builtin(str(value)), name
    path = Path(str(value))
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif path.is_dir():
            frame = _read_dataset_pandas(path)
        else:
            frame = pd.read_parquet(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{name}: cannot read {kind}: {str(exc).splitlines()[0]}") from None
    return frame, name


def _read_dataset_pandas(folder: Path) -> pd.DataFrame:
    """A Parquet dataset folder in pandas, through the same scan as the DuckDB engine
    (same files, union by name, hive columns), so both engines see the same rows."""
    con = duckdb.connect()
    try:
        return con.execute(f"SELECT * FROM {parquet_scan(folder)}").df()
    except duckdb.Error as exc:
        raise ValueError(duckdb_error_line(exc)) from None
    finally:
        con.close()


def read_table(source: Source) -> pd.DataFrame:
    """A summary, survival or subscription table in pandas, with empty CSV cells missing.

    Unlike :func:`read_source_pandas` (which keeps CSV cells as text for the transaction
    validators), blank cells become missing values, so an empty ``end`` date means
    "still active".

    Raises
    ------
    DataError
        As :func:`register_source`, or when the table has no rows.
    """
    frame, name = read_source_pandas(source)
    if len(frame) == 0:
        raise DataError(f"{name}: the table is empty")
    text = frame.select_dtypes(include=["object", "string"]).columns
    if len(text):
        frame = frame.copy()
        for column in text:
            frame[column] = frame[column].mask(frame[column].astype(str).str.strip() == "")
    return frame


def row_label(name: str, position: int, *, is_file_csv: bool) -> str:
    """Say where row ``position`` (0-based data row) is: ``line N`` in a CSV, else ``row N``."""
    if is_file_csv:
        return f"line {position + 2}"  # line 1 is the header
    return f"row {position}"


def is_csv_source(source: Source) -> bool:
    """True if ``source`` is a CSV file path (rows are then reported as file lines)."""
    if isinstance(source, pd.DataFrame) or not isinstance(source, str | os.PathLike):
        return False
    return Path(os.fspath(source)).name.lower().endswith((".csv", ".csv.gz"))


# --- canonical transactions: (cid, d, a) with validated ids, dates and amounts ---------

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


# Text ids that all match this become integers (as pandas.read_csv would make them).
_INT_PATTERN = "[+-]?[0-9]{1,18}"


def _missing_columns(name: str, wanted: dict[str, str | None], present: list[str]) -> None:
    for role, column in wanted.items():
        if column is not None and column not in present:
            raise DataError(
                f"{name}: missing column {column!r} (the {role} column); "
                f"columns present: {', '.join(map(str, present))}"
            )


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
    _missing_columns(
        name, {"customer id": customer_id, "date": date, "amount": amount}, list(types)
    )
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
        raise DataError(
            f"{name}: column {date!r} has type {d_type}; expected dates "
            "(ISO yyyy-mm-dd text, date or timestamp values)"
        )
    if amount is None:
        a_expr = "1.0::DOUBLE"
    elif types[amount].startswith(_NUMERIC_TYPES):
        a_expr = f"CAST({quote_ident(amount)} AS DOUBLE)"
    elif types[amount] == "VARCHAR":
        a_expr = f"TRY_CAST(trim({quote_ident(amount)}) AS DOUBLE)"
    else:
        raise DataError(f"{name}: column {amount!r} has type {types[amount]}; expected numbers")
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
    text = problem.format(raw=raw, cid=cid, d=d, a=a)
    raise DataError(f"{name}: column {column!r} {where}: {text}")


def integer_ids(ids: pd.Series) -> pd.Series:
    """Text ids that all look like integers (and stay distinct) as int64, else as given.

    Applied to the distinct ids of a summary by both engines, like ``pandas.read_csv``
    would type an id column.
    """
    if pd.api.types.is_numeric_dtype(ids) or pd.api.types.is_bool_dtype(ids) or len(ids) == 0:
        return ids
    stripped = ids.astype(str).str.strip()
    if not stripped.str.fullmatch(_INT_PATTERN).all():
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
    _missing_columns(
        name, {"customer id": customer_id, "date": date, "amount": amount}, list(frame.columns)
    )
    if len(frame) == 0:
        raise DataError(f"{name}: no rows")
    is_csv = is_csv_source(source)

    def fail(mask: np.ndarray, column: str, problem: str) -> None:
        if mask.any():
            pos = int(np.flatnonzero(mask)[0])
            raw = frame[column].iloc[pos]
            where = row_label(name, pos, is_file_csv=is_csv)
            raise DataError(f"{name}: column {column!r} {where}: {problem.format(raw=raw)}")

    ids = frame[customer_id]
    textual_ids = not pd.api.types.is_numeric_dtype(ids) and not pd.api.types.is_bool_dtype(ids)
    bad = ids.isna().to_numpy()
    if textual_ids:
        bad = bad | (ids.astype(str).str.strip() == "").to_numpy()
    fail(bad, customer_id, "customer id is missing or blank")

    raw_d = frame[date]
    if isinstance(raw_d.dtype, pd.DatetimeTZDtype):
        days = raw_d.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_datetime64_dtype(raw_d):
        days = raw_d
    elif pd.api.types.is_string_dtype(raw_d) or raw_d.dtype == object:
        days = pd.to_datetime(raw_d.astype(str).str.strip(), errors="coerce", format="ISO8601")
        days = days.where(raw_d.notna())
    else:
        raise DataError(
            f"{name}: column {date!r} has type {raw_d.dtype}; expected dates "
            "(ISO yyyy-mm-dd text, date or timestamp values)"
        )
    days = days.dt.normalize()
    fail(days.isna().to_numpy(), date, "cannot parse {raw!r} as a date")

    if amount is None:
        values = pd.Series(1.0, index=frame.index)
    else:
        raw_a = frame[amount]
        if pd.api.types.is_bool_dtype(raw_a):
            raise DataError(f"{name}: column {amount!r} has type bool; expected numbers")
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
            "amount {raw!r} is not a finite number",
        )

    tx = pd.DataFrame(
        {"cid": ids.to_numpy(), "d": days.to_numpy(), "a": values.to_numpy(dtype="float64")}
    )
    if FINGERPRINT_ATTR in frame.attrs:
        tx.attrs[FINGERPRINT_ATTR] = frame.attrs[FINGERPRINT_ATTR]
    return name, tx
