"""Reading a data source: a DataFrame, ``"builtin:NAME"``, a CSV/Parquet path or a SQL query.

A *source* is one of

* a :class:`pandas.DataFrame`;
* ``"builtin:NAME"``, a data set shipped with clvmodels (see
  :data:`clvmodels.data.builtin.BUILTIN_DATASETS`);
* a path (``str`` or :class:`os.PathLike`) to a ``.csv``, ``.csv.gz`` or ``.parquet``
  file, or to a Parquet dataset: a folder of Parquet files, nested or hive-partitioned,
  Spark output included (:mod:`clvmodels.data.parquet`);
* a :class:`clvmodels.data.sql.SqlSource`, the rows of a SQL query (loaded into DuckDB
  batch by batch, see :mod:`clvmodels.data.sql`).

:func:`register_source` makes a source visible to DuckDB as a view without loading
files into pandas; :func:`read_source_pandas` loads it into pandas (used by the plain
pandas reference engine).  CSV files are read with every column as text, so that
dates and amounts are validated by clvmodels with a message naming the line, rather
than failing inside the CSV reader (:mod:`clvmodels.data.transactions`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import duckdb
import pandas as pd

from clvmodels.data.builtin import get_builtin, load_builtin
from clvmodels.data.csvfile import MAX_LINE_BYTES, check_csv_file, csv_line_problem
from clvmodels.data.parquet import parquet_dataset_files, parquet_scan
from clvmodels.data.sql import SqlSource, read_sql_frame, register_sql
from clvmodels.data.sql.types import quote_ident, quote_literal
from clvmodels.errors import DataError, clip

Source = Union[pd.DataFrame, str, os.PathLike, SqlSource]  # noqa: UP007 (readable alias)

_BUILTIN_PREFIX = "builtin:"
_NAME_LIMIT = 100  # a longer path is named by its end in messages


def describe_source(source: Source) -> str:
    """Name a source for messages: the path as given (its last 100 characters, after
    ``...``, when longer), ``"builtin:NAME"``, ``"DataFrame"``, or for SQL its key and
    masked URL (``data.source (postgresql://u:***@host/db)``)."""
    if isinstance(source, pd.DataFrame):
        return "DataFrame"
    if isinstance(source, SqlSource):
        return source.describe()
    if isinstance(source, str | os.PathLike):
        text = str(os.fspath(source))
        return text if len(text) <= _NAME_LIMIT else "..." + text[3 - _NAME_LIMIT :]
    return type(source).__name__


def source_kind(source: Source) -> tuple[str, object]:
    """Classify a file, frame or built-in source, checking that it can be read.

    Returns
    -------
    (kind, value)
        ``("frame", DataFrame)``, ``("builtin", name)``, or ``("csv", path)`` /
        ``("parquet", path)`` (a file, or a folder holding Parquet files) as a
        :class:`pathlib.Path`.

    Raises
    ------
    DataError
        Another type of source (a :class:`SqlSource` is not classified here), an
        unknown built-in name, an unsupported file type, a missing or empty file, a
        path the system refuses (too long), a folder without Parquet files, a CSV file
        that is not UTF-8 text, has a line 1 over
        :data:`~clvmodels.data.csvfile.MAX_LINE_BYTES` or a header name given twice
        (:func:`~clvmodels.data.csvfile.check_csv_file`).
    """
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
    path, name = Path(text), describe_source(source)
    try:
        is_dir = path.is_dir()
    except OSError as exc:  # e.g. a name too long for the file system
        raise DataError(f"{name}: cannot read: {exc.strerror}") from None
    if is_dir:
        parquet_dataset_files(path)  # raises DataError when it holds no Parquet file
        return "parquet", path
    lower = path.name.lower()
    if lower.endswith((".csv", ".csv.gz")):
        kind = "csv"
    elif lower.endswith(".parquet"):
        kind = "parquet"
    else:
        raise DataError(
            f"{name}: unsupported file type; expected .csv, .csv.gz, .parquet "
            "or a directory of .parquet files"
        )
    if not path.exists():
        raise DataError(f"{name}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{name}: file is empty")
    if kind == "csv":
        check_csv_file(path, name)
    return kind, path


def duckdb_error_line(exc: BaseException) -> str:
    """First line of a DuckDB error message (at most 200 characters), for a one-line
    DataError."""
    text = str(exc).strip()
    return clip(text.splitlines()[0], 200) if text else type(exc).__name__


def register_source(
    con: duckdb.DuckDBPyConnection, source: Source, view: str, *, delimiter: str | None = None
) -> str:
    """Make ``source`` queryable on ``con`` as the view ``view``.

    Files are scanned by DuckDB (``read_csv`` with ``header=true, all_varchar=true``, and
    ``delim=delimiter`` when given, else DuckDB's detection; ``read_parquet``);
    DataFrames and built-in data sets are registered in place.

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
    kind, value = source_kind(source)
    if kind == "frame":
        con.register(view, value)
        return name
    if kind == "builtin":
        con.register(view, load_builtin(str(value)))
        return name
    path = Path(str(value))
    if kind == "csv":
        delim = "" if delimiter is None else f", delim={quote_literal(delimiter)}"
        scan = (
            f"read_csv({quote_literal(str(path))}, header=true, all_varchar=true, "
            f"max_line_size={MAX_LINE_BYTES}{delim})"
        )
    else:
        scan = parquet_scan(path)
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(view)} AS SELECT * FROM {scan}")
        con.execute(f"SELECT * FROM {quote_ident(view)} LIMIT 0")
    except duckdb.Error as exc:
        problem = csv_line_problem(path, exc) if kind == "csv" else None
        problem = problem or f"cannot read {kind}: {duckdb_error_line(exc)}"
        raise DataError(f"{name}: {problem}") from None
    return name


def source_columns(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    """Column names of a registered view mapped to their DuckDB type names."""
    rows = con.execute(f"DESCRIBE SELECT * FROM {quote_ident(view)}").fetchall()
    return {str(row[0]): str(row[1]) for row in rows}


def read_source_pandas(
    source: Source, *, delimiter: str | None = None
) -> tuple[pd.DataFrame, str]:
    """Load ``source`` into pandas; CSV columns are read as strings, split at
    ``delimiter`` (default ``","``).

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
    kind, value = source_kind(source)
    if kind == "frame":
        return value, name  # type: ignore[return-value]
    if kind == "builtin":
        return load_builtin(str(value)), name
    path = Path(str(value))
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep=delimiter or ",")
        elif path.is_dir():
            frame = _read_dataset_pandas(path)
        else:
            frame = pd.read_parquet(path)
    except UnicodeDecodeError as exc:  # past the first bytes check_csv_file looked at
        raise DataError(f"{name}: {csv_line_problem(path, exc)}") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        first = clip((str(exc).splitlines() or [type(exc).__name__])[0], 200)
        raise DataError(f"{name}: cannot read {kind}: {first}") from None
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
