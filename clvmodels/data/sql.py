"""A SQL query against a database as a data source: ``data.source: {sql: ..., url: ...}``.

The query runs through SQLAlchemy 2 (``postgresql://`` uses psycopg 3 unless psycopg2 is
installed) on a server-side cursor (``stream_results``), and its rows are fetched in
batches of :attr:`SqlSource.batch_rows` (100,000) and appended, as pyarrow record
batches, to a DuckDB table; the DuckDB summary then runs on that table exactly as on a
file.  Python memory holds one batch at a time, and no pandas frame of the whole log is
built by the DuckDB engine.  PostgreSQL through psycopg 3 takes a faster path with the
same result: ``COPY (query) TO STDOUT`` as CSV, read by DuckDB
(:mod:`clvmodels.data.pgcopy`).  (DuckDB's own ``postgres`` scanner extension would read
PostgreSQL directly, but it is downloaded at run time from DuckDB's extension server,
which this project cannot rely on, and the PyPI builds of it lag DuckDB's releases.)

Column types follow the database's: integers -> BIGINT, numeric/decimal/real/double ->
DOUBLE, date -> DATE, timestamp -> TIMESTAMP, timestamp with time zone -> TIMESTAMPTZ
(UTC), boolean -> BOOLEAN, anything else -> VARCHAR (its text form).

Connection strings never appear in clear: every message shows the URL as SQLAlchemy's
``render_as_string(hide_password=True)`` (``postgresql://user:***@host:5432/db``), and
driver errors are cut to one line with the password (and ``PGPASSWORD``) replaced by
``***`` even when the driver echoes it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import hashlib
import os
import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from clvmodels.errors import ConfigError, DataError

INSTALL_HINT = "pip install 'clvmodels[sql]'"
_ENV_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# scheme://user:password@ as SQLAlchemy's URL pattern reads it (the password has no '@')
_CREDENTIALS = re.compile(r"^(?P<head>[^:/?#]+://[^:/@]*):(?P<password>[^@]*)@")
_QUERY_PASSWORD = re.compile(r"([?&][A-Za-z_]*password=)[^&]*", re.IGNORECASE)


@dataclass(frozen=True, repr=False)
class SqlSource:
    """The rows of a SQL query, read through SQLAlchemy.

    Parameters
    ----------
    sql : str
        The query (one ``SELECT``/``WITH``/``VALUES`` statement; a trailing ``;`` is
        ignored).  It is sent to the database as written (no bind parameters).
    url : str, optional
        SQLAlchemy database URL, e.g. ``postgresql://clv@db.example:5432/shop``.
        ``${NAME}`` references are replaced by environment variables when connecting, so
        a password can stay out of the config: ``postgresql://clv:${CLV_DB_PASSWORD}@...``.
        libpq's own ``PGPASSWORD`` and ``PGPASSFILE`` (``~/.pgpass``) work as well.
    url_env : str, optional
        Name of an environment variable holding the whole URL (instead of ``url``).
    key : str
        Where the source was configured, for messages (``data.source`` from a config).
    batch_rows : int
        Rows fetched per round trip and appended to DuckDB per batch (the generic path;
        the PostgreSQL ``COPY`` path streams without batches of rows).
    """

    sql: str
    url: str | None = None
    url_env: str | None = None
    key: str = dataclasses.field(default="SqlSource", compare=False)
    batch_rows: int = dataclasses.field(default=100_000, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.sql, str) or not _statement(self.sql):
            raise ConfigError(f"{self.key}.sql: give the query as a non-empty string")
        if (self.url is None) == (self.url_env is None):
            raise ConfigError(f"{self.key}: give exactly one of url or url_env")
        for name in ("url", "url_env"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"{self.key}.{name}: expected a non-empty string")
        if self.url_env is not None and not _ENV_NAME.fullmatch(self.url_env):
            raise ConfigError(
                f"{self.key}.url_env: {self.url_env!r} is not an environment variable name"
            )
        if isinstance(self.batch_rows, bool) or not isinstance(self.batch_rows, int):
            raise ConfigError(f"{self.key}.batch_rows: expected a whole number")
        if self.batch_rows < 1:
            raise ConfigError(f"{self.key}.batch_rows: must be positive")

    def __repr__(self) -> str:
        where = f"url_env={self.url_env!r}" if self.url_env else f"url={mask_url(self.url)!r}"
        return f"SqlSource(sql={self.sql!r}, {where})"

    def resolved_url(self) -> str:
        """The URL with ``${NAME}`` references expanded (the secret: never print it).

        Raises
        ------
        ConfigError
            A referenced environment variable is not set.
        """
        if self.url_env is not None:
            value = os.environ.get(self.url_env)
            if value is None or not value.strip():
                raise ConfigError(
                    f"{self.key}.url_env: environment variable {self.url_env} is not set"
                )
            return expand_env(value.strip(), f"{self.key}.url_env ({self.url_env})")
        assert self.url is not None
        return expand_env(self.url.strip(), f"{self.key}.url")

    def masked_url(self) -> str:
        """The expanded URL with its password shown as ``***``."""
        return mask_url(self.resolved_url())

    def describe(self) -> str:
        """``key (masked URL)``, the source's name in messages."""
        try:
            shown = self.masked_url()
        except ConfigError:
            shown = f"${{{self.url_env}}}" if self.url_env else mask_url(self.url or "")
        return f"{self.key} ({shown})"


def expand_env(text: str, key: str) -> str:
    """Replace every ``${NAME}`` in ``text`` by the environment variable ``NAME``.

    Raises
    ------
    ConfigError
        ``key: environment variable NAME is not set``, or a malformed reference.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if not _ENV_NAME.fullmatch(name):
            raise ConfigError(f"{key}: ${{{name}}} is not an environment variable reference")
        found = os.environ.get(name)
        if found is None:
            raise ConfigError(f"{key}: environment variable {name} is not set")
        return found

    return _ENV_REFERENCE.sub(value, text)


def mask_url(url: str | None) -> str:
    """``url`` with its password as ``***`` (SQLAlchemy's ``hide_password`` rendering, and
    ``***`` for query parameters such as libpq's ``?password=``).

    Text that is not a URL SQLAlchemy can parse has everything between ``user:`` and
    ``@`` (and after ``password=``) replaced instead, so a malformed URL is never echoed
    with its secret.
    """
    if not url:
        return ""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:  # SQLAlchemy missing, or not a URL it parses: mask by pattern
        masked = _CREDENTIALS.sub(lambda m: f"{m.group('head')}:***@", url, count=1)
        return _QUERY_PASSWORD.sub(r"\1***", masked)
    hidden = {key: "***" for key in parsed.query if "password" in key.lower()}
    if hidden:
        parsed = parsed.update_query_dict(hidden)
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def mask_config_url(url: str) -> str:
    """``url`` as written in a config, safe to save: a password (before ``@`` or as a
    ``password=`` query parameter) that is a single ``${NAME}`` reference is kept (it is
    no secret), any other password becomes ``***``."""
    match = _CREDENTIALS.match(url)
    if match is not None and not _ENV_REFERENCE.fullmatch(match.group("password")):
        url = _CREDENTIALS.sub(lambda m: f"{m.group('head')}:***@", url, count=1)

    def query_value(found: re.Match[str]) -> str:
        value = found.group(0)[len(found.group(1)) :]
        return found.group(0) if _ENV_REFERENCE.fullmatch(value) else f"{found.group(1)}***"

    return _QUERY_PASSWORD.sub(query_value, url)


def _statement(sql: str) -> str:
    """The query without surrounding blanks and trailing semicolons."""
    return sql.strip().rstrip(";").strip() if isinstance(sql, str) else ""


# --- errors: one line, no secret -------------------------------------------------------


def _secrets(url: Any) -> list[str]:
    """Password texts that must not appear in a message: the URL's (also as a query
    parameter), encoded or not, and libpq's PGPASSWORD."""
    found = []
    query = getattr(url, "query", None) or {}
    in_query = [v for k, v in query.items() if "password" in k.lower()]
    in_query = [item for v in in_query for item in (v if isinstance(v, tuple) else (v,))]
    for password in (getattr(url, "password", None), os.environ.get("PGPASSWORD"), *in_query):
        if password:
            text = str(password)
            found += [text, urllib.parse.quote(text, safe=""), urllib.parse.quote_plus(text)]
    return sorted(set(found), key=len, reverse=True)


def error_line(exc: BaseException, url: Any = None) -> str:
    """A driver or SQLAlchemy error as one line, every password text replaced by ``***``.

    The DBAPI error is preferred to SQLAlchemy's wrapper (which appends a link and the
    statement); a first line ending in ``:`` is joined with the next.
    """
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip() or type(inner).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0]
    if line.endswith(":") and len(lines) > 1:
        line = f"{line} {lines[1]}"
    for secret in _secrets(url):
        line = line.replace(secret, "***")
    return line


# --- SQLAlchemy -----------------------------------------------------------------------


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


# --- column types ---------------------------------------------------------------------

# PostgreSQL type OIDs (pg_type.oid, stable across versions) -> our column kinds
_PG_KINDS = {
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
_DUCKDB_TYPES = {
    "bool": "BOOLEAN",
    "int": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
    "text": "VARCHAR",
}


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


def _value_kind(value: Any) -> str:
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


def _kinds(description: Any, postgres: bool, columns: list[tuple[Any, ...]]) -> list[str]:
    """Kind of every column: from the PostgreSQL type code, else from the first non-null
    value of the first batch (text when there is none)."""
    kinds = []
    for i, item in enumerate(description):
        code = item[1]
        if postgres and isinstance(code, int):
            kinds.append(_PG_KINDS.get(code, "text"))
            continue
        first = next((v for v in (columns[i] if columns else ()) if v is not None), None)
        kinds.append("text" if first is None else _value_kind(first))
    return kinds


def _batch(
    names: list[str], kinds: list[str], columns: list[tuple[Any, ...]], where: str
) -> pa.Table:
    arrays = []
    for name, kind, values in zip(names, kinds, columns, strict=True):
        arrow_type, convert = _ARROW[kind]
        try:
            arrays.append(pa.array(convert(values), type=arrow_type))
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            bad = next(v for v in values if v is not None and _value_kind(v) != kind)
            raise DataError(
                f"{where}: column {name!r} mixes {_DUCKDB_TYPES[kind]} values with "
                f"{type(bad).__name__} values (e.g. {bad!r}); cast it in the query"
            ) from None
    return pa.Table.from_arrays(arrays, names=names)


# --- the query into DuckDB ------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def load_sql(con: duckdb.DuckDBPyConnection, source: SqlSource, table: str) -> str:
    """Run the query and append its rows to the new DuckDB table ``table``, batch by batch
    (PostgreSQL on psycopg 3: by ``COPY``, see :mod:`clvmodels.data.pgcopy`).

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
    from clvmodels.data import pgcopy  # it imports the type map from here

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
            ).exec_driver_sql(_statement(source.sql))
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
            kinds = _kinds(description, postgres, columns)
            _create_table(con, table, names, kinds)
        con.register(batch_view, _batch(names, kinds, columns, name))
        try:
            con.execute(f"INSERT INTO {_quote(table)} SELECT * FROM {_quote(batch_view)}")
        finally:
            con.unregister(batch_view)
    if kinds is None:  # no rows at all: an empty table of the query's columns
        _create_table(con, table, names, _kinds(description, postgres, []))


def check_names(names: list[str], where: str) -> None:
    """Raise :class:`DataError` when the query returns a column name twice."""
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{where}: the query returns column {repeated[0]!r} twice; alias it")


def _create_table(
    con: duckdb.DuckDBPyConnection, table: str, names: list[str], kinds: list[str]
) -> None:
    columns = ", ".join(
        f"{_quote(n)} {_DUCKDB_TYPES[k]}" for n, k in zip(names, kinds, strict=True)
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_quote(table)} ({columns})")


def register_sql(con: duckdb.DuckDBPyConnection, source: SqlSource, view: str) -> str:
    """Load the query's rows into DuckDB and expose them as the view ``view``.

    Time zone aware values are read in UTC (the connection's ``TimeZone`` is set to UTC).
    Returns the source's name for messages; raises as :func:`load_sql`.
    """
    table = f"{view}_sql"
    name = load_sql(con, source, table)
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {_quote(view)} AS SELECT * FROM {_quote(table)}")
    return name


def rows_fingerprint(con: duckdb.DuckDBPyConnection, source: SqlSource, view: str) -> str:
    """SHA-256 (16 hex digits) of the masked URL, the query text and an order-independent
    hash of the loaded rows (their count and the sum of DuckDB's per-row hashes)."""
    count, total = con.execute(
        f"SELECT count(*), coalesce(sum(hash(r)), 0) FROM {_quote(view)} AS r"
    ).fetchone()
    digest = hashlib.sha256()
    for part in (source.masked_url(), _statement(source.sql), f"{count}:{total}"):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


FINGERPRINT_ATTR = "clvmodels_input_fingerprint"


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
