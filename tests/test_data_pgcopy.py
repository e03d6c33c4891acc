"""The PostgreSQL ``COPY`` fast path of SQL sources (clvmodels/data/sql/pgcopy.py).

The expected values come from the generic path (SQLAlchemy rows -> Arrow batches) on the
same server and query: the DuckDB table loaded by ``COPY ... TO STDOUT (FORMAT csv)``
must equal it value for value and type for type.  Uses the ``pg_server`` fixture
(tests/pgserver.py), skipped with the reason where the server cannot run.
"""

from __future__ import annotations

import tempfile

import duckdb
import pytest

from clvmodels.data import SqlSource, summarize_transactions
from clvmodels.data.sql import load, pgcopy
from clvmodels.errors import DataError

EVERY_TYPE = """
CREATE TABLE every_type (
    k int, small smallint, big bigint, o oid, n numeric(12, 4), r real, f float8,
    d date, t timestamp, tz timestamptz, b boolean, s text, v varchar(20), c char(3),
    nm name, u uuid
);
INSERT INTO every_type VALUES
    (1, 1, 9007199254740993, 4000000000, 12345678.1234, 1.1, 0.1, '2024-02-29',
     '2024-01-01 10:00:00.5', '2024-01-01 23:30-05', true, '', 'a,"b"', 'x', 'nm',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
    (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL),
    (3, -32768, -9223372036854775808, 0, -0.0001, 3.4e38, 'NaN', '0001-01-01',
     '1999-12-31 23:59:59.999999', '1900-01-01 00:00+00:53:28', false,
     E'two\\nlines,\\r\\n"quoted" ''x''', '\\N', '', '', NULL),
    (4, 32767, 9223372036854775807, 1, 99999999.9999, -1.5e-38, '-Infinity', '9999-12-31',
     '2024-06-30 00:00', '2024-06-30 12:00+05:30', NULL, 'ünï ☃ "', ' ', NULL, NULL, NULL),
    (5, 0, 0, 0, 0, 'Infinity', 1e308, '2000-01-01', '2000-01-01', '2000-01-01 00:00+00',
     true, ',', '""', '"', 'n,', NULL);
"""


@pytest.fixture(scope="module")
def every_type(pg_server):
    import psycopg

    with psycopg.connect(pg_server.url()) as con:
        con.execute("DROP TABLE IF EXISTS every_type")
        con.execute(EVERY_TYPE)
    return pg_server


def _load(source: SqlSource, *, fast: bool, monkeypatch) -> tuple[list, list]:
    """Rows (ordered by their first column) and DuckDB column types of the loaded table,
    by the COPY path (``fast``, asserted taken) or the generic one."""
    taken: list[bool] = []
    load_by_copy = pgcopy.load_by_copy

    def spy(*args):
        taken.append(load_by_copy(*args))
        return taken[-1]

    with monkeypatch.context() as patch:
        patch.setattr(pgcopy, "load_by_copy", spy)
        if not fast:
            patch.setattr(pgcopy, "applies", lambda url: False)
        con = duckdb.connect()
        try:
            load.load_sql(con, source, "t")
            con.execute("SET TimeZone = 'UTC'")
            rows = con.execute('SELECT * FROM "t" ORDER BY 1').fetchall()
            types = con.execute('SELECT column_name, column_type FROM (DESCRIBE "t")').fetchall()
        finally:
            con.close()
    assert taken == ([True] if fast else [])
    return rows, types


def _same(a: list, b: list) -> bool:
    """Row lists equal, NaN equal to NaN."""
    return repr(a) == repr(b)


def test_copy_table_equals_the_generic_path_for_every_type(every_type, monkeypatch):
    source = SqlSource(sql="SELECT * FROM every_type", url=every_type.url())
    rows, types = _load(source, fast=True, monkeypatch=monkeypatch)
    expected_rows, expected_types = _load(source, fast=False, monkeypatch=monkeypatch)
    assert types == expected_types
    assert [t for _, t in types] == [
        *["BIGINT"] * 4,
        *["DOUBLE"] * 3,
        "DATE",
        "TIMESTAMP",
        "TIMESTAMP WITH TIME ZONE",
        "BOOLEAN",
        *["VARCHAR"] * 5,
    ]
    assert _same(rows, expected_rows)
    by_key = {row[0]: row for row in rows}
    assert by_key[1][11] == "" and by_key[2][11] is None  # empty string is not NULL
    assert by_key[3][11] == "two\nlines,\r\n\"quoted\" 'x'" and by_key[3][12] == "\\N"
    assert by_key[1][9].isoformat() == "2024-01-02T04:30:00+00:00"


def test_a_session_time_zone_the_query_depends_on_is_kept(every_type, monkeypatch):
    # the day of a timestamptz computed in the query follows the session TimeZone, as on
    # the generic path: the fast path does not switch the session to UTC
    url = every_type.url() + "?options=-c%20TimeZone%3DAmerica/New_York"
    source = SqlSource(sql="SELECT k, tz::date AS local_day, tz FROM every_type", url=url)
    rows, _ = _load(source, fast=True, monkeypatch=monkeypatch)
    assert _same(rows, _load(source, fast=False, monkeypatch=monkeypatch)[0])
    assert str(rows[0][1]) == "2024-01-01"  # 23:30 in New York, 04:30 the next day in UTC


@pytest.mark.parametrize(
    "query",
    [
        "SELECT k, s FROM every_type;",
        "SELECT k, s FROM every_type -- the last line is a comment",
        "SELECT k, s FROM every_type; -- done\n;  /* really */",
        "/* leading */ WITH x AS (SELECT k, s FROM every_type) SELECT * FROM x",
        "SELECT k, '--;' AS dashes, $$;'$$ AS dollars, $q$ -- $q$ AS tagged, E'\\';' AS esc, "
        '\'10%\' AS pct, "s" AS "semi;colon" FROM every_type',
        "(SELECT k FROM every_type) UNION ALL (VALUES (10))",
        "TABLE every_type",
    ],
)
def test_semicolons_comments_and_quotes_keep_the_copy_path(every_type, monkeypatch, query):
    source = SqlSource(sql=query, url=every_type.url())
    rows, types = _load(source, fast=True, monkeypatch=monkeypatch)
    expected_rows, expected_types = _load(source, fast=False, monkeypatch=monkeypatch)
    assert _same(rows, expected_rows) and types == expected_types
    assert len(rows) == (6 if "UNION" in query else 5)


def test_copy_statement_finds_one_row_statement():
    assert pgcopy.copy_statement(" SELECT 1 ; ; -- x\n") == "SELECT 1"
    assert pgcopy.copy_statement("select ';' -- ;\n/* a /* nested */ ; */") == "select ';'"
    assert pgcopy.copy_statement("SELECT 1; SELECT 2") is None  # two statements
    assert pgcopy.copy_statement("SHOW TimeZone") is None
    assert pgcopy.copy_statement("-- SELECT\nINSERT INTO t VALUES (1) RETURNING *") is None
    assert (
        pgcopy.copy_statement("SELECT $1, a$b, $x$;$x$ FROM t;") == "SELECT $1, a$b, $x$;$x$ FROM t"
    )


def test_only_postgresql_on_psycopg_takes_the_copy_path():
    from sqlalchemy.engine import make_url

    assert pgcopy.applies(make_url("postgresql+psycopg://u@h/d"))
    assert not pgcopy.applies(make_url("postgresql+psycopg2://u@h/d"))
    assert not pgcopy.applies(make_url("sqlite:///x.db"))


def test_a_column_without_an_exact_text_form_takes_the_generic_path(every_type, monkeypatch):
    calls = {"copy": [], "rows": 0}
    load_by_copy, append_rows = pgcopy.load_by_copy, load._append_rows

    def spy_copy(*args):
        calls["copy"].append(load_by_copy(*args))
        return calls["copy"][-1]

    def spy_rows(*args):
        calls["rows"] += 1
        return append_rows(*args)

    monkeypatch.setattr(pgcopy, "load_by_copy", spy_copy)
    monkeypatch.setattr(load, "_append_rows", spy_rows)
    query = "SELECT k, interval '1 day' AS gap FROM every_type"
    con = duckdb.connect()
    load.load_sql(con, SqlSource(sql=query, url=every_type.url()), "t")
    # Python's str of the timedelta psycopg returns, as before the fast path existed
    assert con.execute('SELECT DISTINCT gap FROM "t"').fetchall() == [("1 day, 0:00:00",)]
    assert calls == {"copy": [False], "rows": 1}


def test_summary_by_copy_equals_the_generic_summary(every_type, monkeypatch):
    query = (
        "SELECT i % 97 AS customer_id, timestamptz '2024-01-01 00:00+00' + i * interval '7 hours'"
        " AS date, (i % 13)::numeric / 4 AS amount FROM generate_series(1, 20000) AS i"
    )
    source = SqlSource(sql=query, url=every_type.url())
    got = summarize_transactions(source, time_unit="D")
    monkeypatch.setattr(pgcopy, "applies", lambda url: False)
    expected = summarize_transactions(source, time_unit="D")
    assert got.equals(expected)
    assert got.attrs == expected.attrs  # the input fingerprint included


def test_an_error_during_copy_is_one_line_and_the_temporary_folder_is_removed(
    every_type, tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    source = SqlSource(
        sql="SELECT i, 1 / (i - 150000) AS x FROM generate_series(1, 200000) AS i",
        url=every_type.url(),
    )
    con = duckdb.connect()
    with pytest.raises(DataError) as raised:
        load.load_sql(con, source, "t")
    message = str(raised.value)
    assert message == f"SqlSource ({every_type.url('***')}): query failed: division by zero"
    assert list(tmp_path.iterdir()) == []
    load.load_sql(con, SqlSource(sql="SELECT * FROM every_type", url=every_type.url()), "t")
    assert con.execute('SELECT count(*) FROM "t"').fetchone() == (5,)
    assert list(tmp_path.iterdir()) == []


def test_repeated_column_names_are_a_data_error_on_the_copy_path(every_type):
    source = SqlSource(sql="SELECT k AS a, s AS a FROM every_type", url=every_type.url())
    with pytest.raises(DataError, match=r"the query returns column 'a' twice; alias it$"):
        load.load_sql(duckdb.connect(), source, "t")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT k FROM every_type WHERE", "syntax error at end of input"),
        ("SELECT nope FROM every_type", 'column "nope" does not exist'),
    ],
)
def test_query_errors_on_the_copy_path_are_those_of_the_query_as_written(
    every_type, monkeypatch, query, message
):
    """The same one-line message as on the generic path (the statement is prepared as
    written, not wrapped)."""
    source = SqlSource(sql=query, url=every_type.url())
    got = []
    for fast in (True, False):
        with monkeypatch.context() as patch:
            if not fast:
                patch.setattr(pgcopy, "applies", lambda url: False)
            with pytest.raises(DataError) as raised:
                load.load_sql(duckdb.connect(), source, "t")
            got.append(str(raised.value))
    assert got[0] == got[1] == f"SqlSource ({every_type.url('***')}): query failed: {message}"


class _FullDisk:
    """A file that fails like a full disk after its first block."""

    def __init__(self, *args, **kwargs):
        self.blocks = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, data):
        self.blocks += 1
        if self.blocks > 1000:
            raise OSError(28, "No space left on device")


def test_a_full_disk_stops_the_copy_with_one_line_and_the_connection_recovers(
    every_type, tmp_path, monkeypatch
):
    import psycopg

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(pgcopy, "open", _FullDisk, raising=False)
    source = SqlSource(sql="SELECT i FROM generate_series(1, 3000000) AS i", url=every_type.url())
    with pytest.raises(DataError) as raised:
        load.load_sql(duckdb.connect(), source, "t")
    assert str(raised.value) == (
        f"SqlSource ({every_type.url('***')}): cannot write the rows to a temporary file in "
        f"{tmp_path} (set TMPDIR to a folder with space): No space left on device"
    )
    assert list(tmp_path.iterdir()) == []
    # the stream was cancelled and drained: the same connection runs the next query
    with psycopg.connect(every_type.url()) as raw:
        with pytest.raises(OSError):
            pgcopy.copy_out(
                raw, "COPY (SELECT generate_series(1, 3000000)) TO STDOUT", _FullDisk().write
            )
        assert raw.execute("SELECT 41 + 1").fetchone() == (42,)


@pytest.mark.parametrize(
    "options",
    [
        "options=-c%20DateStyle%3DSQL,DMY",
        "options=-c%20DateStyle%3DGerman",
        "client_encoding=latin1",
    ],
)
def test_session_date_style_and_encoding_are_made_unambiguous(every_type, monkeypatch, options):
    # row 4 has a character LATIN1 lacks
    query = "SELECT k, d, t, tz, s, v FROM every_type WHERE k <> 4"
    source = SqlSource(sql=query, url=f"{every_type.url()}?{options}")
    rows, types = _load(source, fast=True, monkeypatch=monkeypatch)
    expected = _load(
        SqlSource(sql=query, url=every_type.url()), fast=False, monkeypatch=monkeypatch
    )
    assert _same(rows, expected[0]) and types == expected[1]
