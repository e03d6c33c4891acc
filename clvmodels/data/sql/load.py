"""A query's rows into DuckDB: SQLAlchemy on a server-side cursor, batch by batch.

The query runs through SQLAlchemy 2 (``postgresql://`` uses psycopg 3 unless psycopg2 is
installed) on a server-side cursor (``stream_results``), and its rows are fetched in
batches of :attr:`~clvmodels.data.sql.SqlSource.batch_rows` and appended, as pyarrow
record batches, to a DuckDB table whose column types follow the database's
(:mod:`clvmodels.data.sql.types`).  Python memory holds one batch at a time.
PostgreSQL through psycopg 3 takes a faster path with the same result:
``COPY (query) TO STDOUT`` as CSV, read by DuckDB (:mod:`clvmodels.data.sql.pgcopy`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import duckdb

from clvmodels.data.sql import pgcopy
from clvmodels.data.sql.source import SqlSource, error_line, statement
from clvmodels.data.sql.types import (
    arrow_batch,
    check_names,
    create_table,
    quote_ident,
    result_kinds,
)
from clvmodels.errors import ConfigError, DataError

INSTALL_HINT = "pip install 'clvmodels[sql]'"

FINGERPRINT_ATTR = "clvmodels_input_fingerprint"
"""Key of ``DataFrame.attrs`` under which :func:`read_sql_frame` leaves the rows'
:func:`rows_fingerprint`."""


def _sqlalchemy(key: str) -> Any:
    try:
        import sqlalchemy
    except ImportError:
        raise ConfigError(
            f"{key}: a SQL source needs SQLAlchemy and a database driver: {INSTALL_HINT}"
        ) from None
    return sqlalchemy


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def engine_url(source: SqlSource) -> Any:
    """The SQLAlchemy ``URL`` to connect with: expanded, ``postgres://`` read as
    ``postgresql://``, and plain ``postgresql://`` on psycopg 3 when psycopg2 is absent.

    Raises
    ------
    ConfigError
        SQLAlchemy missing, an unset environment variable, or text that is not a URL.
    """
    sa = _sqlalchemy(source.key)
    raw = source.resolved_url()
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw.removeprefix("postgres://")
    try:
        url = sa.engine.make_url(raw)
    except sa.exc.ArgumentError:
        field = "url_env" if source.url_env else "url"
        raise ConfigError(
            f"{source.key}.{field}: not a database URL such as postgresql://user@host:5432/database"
        ) from None
    if url.drivername == "postgresql" and not _has_module("psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def _driver_error(engine: Any) -> type[BaseException]:
    """The DBAPI module's base ``Error`` (raised unwrapped by a few driver paths)."""
    dbapi = getattr(engine.dialect, "loaded_dbapi", None) or getattr(engine.dialect, "dbapi", None)
    error = getattr(dbapi, "Error", None)
    if isinstance(error, type) and issubclass(error, BaseException):
        return error
    return _NoDriverError


class _NoDriverError(Exception):
    """Stands for the driver's error class when the dialect does not name one."""


def _create_engine(sa: Any, url: Any, source: SqlSource) -> Any:
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args["application_name"] = "clvmodels"
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = 15
    try:
        return sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=connect_args)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "the database driver"
        raise ConfigError(f"{source.key}: {missing} is not installed: {INSTALL_HINT}") from None
    except sa.exc.NoSuchModuleError:
        raise ConfigError(
            f"{source.key}: SQLAlchemy has no dialect for {url.drivername!r} "
            f"(PostgreSQL: postgresql://...; {INSTALL_HINT})"
        ) from None
    except (sa.exc.ArgumentError, TypeError, ValueError) as exc:
        raise ConfigError(f"{source.key}.url: {error_line(exc, url)}") from None


def load_sql(con: duckdb.DuckDBPyConnection, source: SqlSource, table: str) -> str:
    """Run the query and append its rows to the new DuckDB table ``table``, batch by batch
    (PostgreSQL on psycopg 3: by ``COPY``, see :mod:`clvmodels.data.sql.pgcopy`).

    Returns
    -------
    str
        The source's name for messages (:meth:`SqlSource.describe`).

    Raises
    ------
    ConfigError
        Packages missing, URL unset or malformed.
    DataError
        Cannot connect, the query fails or returns no result set, duplicate column names.
        One line, naming the source with its masked URL; no password text.
    """
    sa = _sqlalchemy(source.key)
    url = engine_url(source)
    name = source.describe()
    engine = _create_engine(sa, url, source)
    stage = "cannot connect"
    try:
        with engine.connect() as conn:
            stage = "query failed"
            if pgcopy.applies(url) and pgcopy.load_by_copy(
                con, conn.connection.driver_connection, source.sql, table, name
            ):
                return name
            result = conn.execution_options(
                stream_results=True, yield_per=source.batch_rows, no_parameters=True
            ).exec_driver_sql(statement(source.sql))
            if not result.returns_rows:
                raise DataError(f"{name}: the query returns no rows (give a SELECT)")
            postgres = engine.dialect.name == "postgresql"
            _append_rows(con, result, table, name, postgres, source.batch_rows)
            result.close()
    except (sa.exc.SQLAlchemyError, _driver_error(engine)) as exc:
        raise DataError(f"{name}: {stage}: {error_line(exc, url)}") from None
    except duckdb.Error as exc:
        raise DataError(f"{name}: cannot store the rows in DuckDB: {error_line(exc)}") from None
    finally:
        engine.dispose()
    return name


def _append_rows(
    con: duckdb.DuckDBPyConnection,
    result: Any,
    table: str,
    name: str,
    postgres: bool,
    batch_rows: int,
) -> None:
    names = [str(column) for column in result.keys()]
    check_names(names, name)
    description = result.cursor.description
    kinds: list[str] | None = None
    batch_view = f"{table}_batch"
    for rows in result.yield_per(batch_rows).partitions():
        columns = list(zip(*rows, strict=True)) if rows else []
        if kinds is None:
            kinds = result_kinds(description, postgres, columns)
            create_table(con, table, names, kinds)
        con.register(batch_view, arrow_batch(names, kinds, columns, name))
        try:
            con.execute(f"INSERT INTO {quote_ident(table)} SELECT * FROM {quote_ident(batch_view)}")
        finally:
            con.unregister(batch_view)
    if kinds is None:  # no rows at all: an empty table of the query's columns
        create_table(con, table, names, result_kinds(description, postgres, []))


def register_sql(con: duckdb.DuckDBPyConnection, source: SqlSource, view: str) -> str:
    """Load the query's rows into DuckDB and expose them as the view ``view``.

    Time zone aware values are read in UTC (the connection's ``TimeZone`` is set to UTC).
    Returns the source's name for messages; raises as :func:`load_sql`.
    """
    table = f"{view}_sql"
    name = load_sql(con, source, table)
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_ident(view)} AS SELECT * FROM {quote_ident(table)}"
    )
    return name


def rows_fingerprint(con: duckdb.DuckDBPyConnection, source: SqlSource, view: str) -> str:
    """SHA-256 (16 hex digits) of the masked URL, the query text and an order-independent
    hash of the loaded rows (their count and the sum of DuckDB's per-row hashes)."""
    count, total = con.execute(
        f"SELECT count(*), coalesce(sum(hash(r)), 0) FROM {quote_ident(view)} AS r"
    ).fetchone()
    digest = hashlib.sha256()
    for part in (source.masked_url(), statement(source.sql), f"{count}:{total}"):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def read_sql_frame(source: SqlSource) -> Any:
    """The query's rows as a pandas DataFrame (via DuckDB, so types match the DuckDB
    engine's), with the input fingerprint in ``attrs[FINGERPRINT_ATTR]``."""
    con = duckdb.connect()
    try:
        register_sql(con, source, "clv_sql_rows")
        frame = con.execute('SELECT * FROM "clv_sql_rows"').df()
        frame.attrs[FINGERPRINT_ATTR] = rows_fingerprint(con, source, "clv_sql_rows")
    finally:
        con.close()
    return frame
