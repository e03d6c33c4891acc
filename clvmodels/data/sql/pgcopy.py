"""PostgreSQL fast path of SQL sources: ``COPY (query) TO STDOUT`` as CSV, read by DuckDB.

Used by :func:`clvmodels.data.sql.load.load_sql` for ``postgresql`` URLs on psycopg 3.
The query's columns and their type OIDs come from preparing it (not running it, so
errors are those of the query as written); the rows then stream from the server as CSV
(PostgreSQL's own text form of each value, no Python object per value) into a file in a
temporary folder, and DuckDB's CSV reader loads that file into a table of the generic
path's column types (the same OID map and table,
:mod:`clvmodels.data.sql.types`).  The folder is removed afterwards, also on error.
Text is identical to the generic path's because psycopg reads the same text form: NULL
is an unquoted empty field, an empty string a quoted one (read with
``allow_quoted_nulls=false``), and timestamps with time zone carry their UTC offset, so
the session's ``TimeZone`` (which the query itself may depend on) is left as it is.
``DateStyle`` is set to ISO and ``client_encoding`` to UTF8 when the session has others.

The fast path declines (the generic path runs instead, with identical results) when the
query is not a single ``SELECT``/``WITH``/``VALUES``/``TABLE`` statement, or when a
column has a type that psycopg turns into a Python object whose ``str`` differs from
PostgreSQL's text (interval, json, arrays, time, inet, records...): cast such a column
to ``text`` in the query to keep the fast path.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from typing import Any

import duckdb

from clvmodels.data.sql.types import (
    DUCKDB_TYPES,
    PG_KINDS,
    check_names,
    create_table,
    quote_ident,
    quote_literal,
)
from clvmodels.errors import DataError

# type OIDs that psycopg returns as str equal to PostgreSQL's text form:
# "char", name, text, unknown (literals), bpchar, varchar, uuid
_TEXT_OIDS = frozenset({18, 19, 25, 705, 1042, 1043, 2950})
_ROW_STATEMENTS = ("select", "with", "values", "table")
_BUFFER_BYTES = 1 << 20
_FIRST_WORD = re.compile(r"\(|[A-Za-z]+")


def applies(url: Any) -> bool:
    """Whether ``url`` (a SQLAlchemy URL) is PostgreSQL through psycopg 3."""
    return url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg"


def copy_statement(sql: str) -> str | None:
    """The query without trailing semicolons and comments, ready to go inside ``COPY (...)``;
    None when it is not one ``SELECT``/``WITH``/``VALUES``/``TABLE`` statement (or a
    parenthesised one).

    Quoted strings (``'...'``, ``E'...'``, ``$tag$...$tag$``), quoted identifiers and
    comments (``--``, nested ``/* */``) are skipped when looking for the end.
    """
    end = 0  # just after the last character that belongs to the statement
    top_level_semicolon = False
    i, n = _skip_blanks(sql, 0), len(sql)
    while i < n:
        char = sql[i]
        if char == ";":
            top_level_semicolon = True
            i = _skip_blanks(sql, i + 1)
            continue
        if top_level_semicolon:
            return None  # a second statement
        if char in "'\"":
            escapes = char == "'" and i > 0 and sql[i - 1] in "eE" and not _word_char(sql, i - 2)
            i = _quoted_end(sql, i, char, escapes)
        elif char == "$" and (tag := _dollar_tag(sql, i)) is not None:
            close = sql.find(tag, i + len(tag))
            i = n if close < 0 else close + len(tag)
        else:
            i += 1
        end = i
        i = _skip_blanks(sql, i)
    statement = sql[:end].strip()
    first = _FIRST_WORD.match(sql, _skip_blanks(sql, 0))
    if first is None or first.group(0).lower() not in ("(", *_ROW_STATEMENTS):
        return None
    return statement


def _word_char(text: str, index: int) -> bool:
    return index >= 0 and (text[index].isalnum() or text[index] in "_$")


def _skip_blanks(sql: str, i: int) -> int:
    """The index of the first character from ``i`` on that is not a blank or in a comment."""
    n = len(sql)
    while i < n:
        if sql[i].isspace():
            i += 1
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif sql.startswith("/*", i):
            i = _block_comment_end(sql, i)
        else:
            break
    return i


def _block_comment_end(sql: str, start: int) -> int:
    depth, i = 0, start
    while i < len(sql):
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    return len(sql)


def _quoted_end(sql: str, start: int, quote: str, escapes: bool) -> int:
    i = start + 1
    while i < len(sql):
        if escapes and sql[i] == "\\":
            i += 2
        elif sql[i] == quote:
            if sql.startswith(quote * 2, i):
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return len(sql)


def _dollar_tag(sql: str, start: int) -> str | None:
    """``$tag$`` opening a dollar-quoted string at ``start``, or None (e.g. ``$1``)."""
    if _word_char(sql, start - 1):
        return None
    close = sql.find("$", start + 1)
    if close < 0:
        return None
    tag = sql[start + 1 : close]
    if tag and (tag[0].isdigit() or not all(c.isalnum() or c == "_" for c in tag)):
        return None
    return sql[start : close + 1]


def column_kinds(raw: Any, statement: str, where: str) -> tuple[list[str], list[str]] | None:
    """Names and kinds of the query's columns, or None when a column's type has no exact
    text path (see the module docstring).

    The statement is prepared (unnamed) and described, not run: the server's errors are
    those of the query as written (psycopg's own, raised as the generic path raises them).
    """
    from psycopg import errors, pq

    encoding = raw.info.encoding
    pgconn = raw.pgconn
    prepared = pgconn.prepare(b"", statement.encode(encoding))
    if prepared.status != pq.ExecStatus.COMMAND_OK:
        raise errors.error_from_result(prepared, encoding=encoding)
    described = pgconn.describe_prepared(b"")
    if described.status != pq.ExecStatus.COMMAND_OK:
        raise errors.error_from_result(described, encoding=encoding)
    if described.nfields == 0:
        raise DataError(f"{where}: the query returns no rows (give a SELECT)")
    names = [(described.fname(i) or b"").decode(encoding) for i in range(described.nfields)]
    check_names(names, where)
    kinds = []
    for oid in (described.ftype(i) for i in range(described.nfields)):
        if oid in PG_KINDS:
            kinds.append(PG_KINDS[oid])
        elif oid in _TEXT_OIDS:
            kinds.append("text")
        else:
            return None
    return names, kinds


def load_by_copy(
    con: duckdb.DuckDBPyConnection, raw: Any, sql: str, table: str, where: str
) -> bool:
    """Copy the query's rows into the new DuckDB table ``table``; False (nothing loaded)
    when the fast path does not apply to this query.

    ``raw`` is the psycopg 3 connection.  Driver errors propagate (the caller turns them
    into one-line :class:`~clvmodels.errors.DataError`), as do DuckDB's.
    """
    statement = copy_statement(sql)
    if statement is None:
        return False
    columns = column_kinds(raw, statement, where)
    if columns is None:
        return False
    names, kinds = columns
    _unambiguous_text(raw)
    create_table(con, table, names, kinds)
    types = ", ".join(f"'c{i}': '{DUCKDB_TYPES[kind]}'" for i, kind in enumerate(kinds))
    try:
        with tempfile.TemporaryDirectory(prefix="clvmodels-copy-") as folder:
            path = os.path.join(folder, "rows.csv")
            with open(path, "wb", buffering=_BUFFER_BYTES) as out:
                copy_out(raw, f"COPY (\n{statement}\n) TO STDOUT (FORMAT csv)", out.write)
            con.execute(
                f"INSERT INTO {quote_ident(table)} SELECT * FROM read_csv({quote_literal(path)}, "
                f"columns = {{{types}}}, header = false, auto_detect = false, delim = ',', "
                "quote = '\"', escape = '\"', allow_quoted_nulls = false)"
            )
    except OSError as exc:
        raise DataError(
            f"{where}: cannot write the rows to a temporary file in {tempfile.gettempdir()} "
            f"(set TMPDIR to a folder with space): {exc.strerror or exc}"
        ) from None
    return True


def copy_out(raw: Any, command: str, write: Callable[[Any], Any]) -> None:
    """Run ``COPY ... TO STDOUT`` on the psycopg connection ``raw`` and pass every block of
    data to ``write``.

    Uses psycopg's libpq wrapper (:mod:`psycopg.pq`) directly: ``Copy`` iteration costs
    about twice the client CPU per row (measured, benchmarks/bench_sql.py).  A server
    error is raised as psycopg raises it; if ``write`` (or an interrupt) stops the loop,
    the server is asked to cancel and the rest of the stream is drained, so the
    connection stays usable.
    """
    from psycopg import errors, pq

    encoding = raw.info.encoding
    pgconn = raw.pgconn
    started = pgconn.exec_(command.encode(encoding))
    if started.status != pq.ExecStatus.COPY_OUT:
        raise errors.error_from_result(started, encoding=encoding)
    get_copy_data = pgconn.get_copy_data
    try:
        while True:
            size, data = get_copy_data(0)
            if size < 0:
                break
            write(data)
    except BaseException:
        getattr(raw, "cancel_safe", raw.cancel)()
        while get_copy_data(0)[0] >= 0:
            pass
        while pgconn.get_result() is not None:
            pass
        raise
    finished = pgconn.get_result()
    while pgconn.get_result() is not None:
        pass
    if finished is None or finished.status != pq.ExecStatus.COMMAND_OK:
        raise errors.error_from_result(finished or started, encoding=encoding)


def _unambiguous_text(raw: Any) -> None:
    """ISO dates and UTF-8 text for this session (only where the server's differ)."""
    info = raw.info
    datestyle = info.parameter_status("DateStyle") or ""
    if not datestyle.upper().startswith("ISO"):
        order = datestyle.split(",")[-1].strip() if "," in datestyle else "MDY"
        raw.execute(f"SET DateStyle TO ISO, {order}")
    if (info.parameter_status("client_encoding") or "").upper() not in ("UTF8", "UNICODE"):
        raw.execute("SET client_encoding TO 'UTF8'")
