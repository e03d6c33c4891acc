"""SQL sources (``data.source: {sql, url}``) against a real PostgreSQL server on loopback.

The expected values come from the same transaction log passed as a pandas DataFrame: a
query's rows must give exactly the summary of that frame, with either engine.  The server
(tests/pgserver.py, fixture ``pg_server``) is started from Debian's binaries; the tests
that need it are skipped with the reason where it cannot run.  The tests without a server
check the config keys, the masking and the one-line errors.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from clvmodels.cli import main
from clvmodels.config import SqlSourceConfig, parse_config
from clvmodels.data import SqlSource, load_builtin, read_table, summarize_transactions
from clvmodels.data.sql import error_line, mask_config_url, mask_url
from clvmodels.errors import ConfigError, DataError

PASSWORD_ENV = "CLV_TEST_PG_PASSWORD"
START = dt.date(2024, 1, 1)
OPTIONS = dict(
    time_unit="D", calibration_end="2024-09-30", observation_end="2024-12-31", nonpositive="net"
)


def _log(seed: int = 8) -> pd.DataFrame:
    """A year of purchases by 240 customers (first purchases in the first 200 days) with
    same-day repeats, returns and free items; amounts in whole cents, timestamps at UTC-5
    (some fall on the next UTC day)."""
    rng = np.random.default_rng(seed)
    rows = []
    for customer in range(1, 241):
        first = int(rng.integers(0, 200))
        later = np.sort(rng.integers(0, 366 - first, rng.integers(0, 8)))
        for day in first + np.concatenate([[0], later]):
            cents = int(rng.integers(100, 20_000))
            hour = int(rng.integers(0, 24))
            rows.append((customer, int(day), hour, cents))
            if rng.random() < 0.15:  # a second purchase that day
                rows.append((customer, int(day), hour, int(rng.integers(100, 5_000))))
            if rng.random() < 0.06:  # the purchase returned, in full or in part
                rows.append((customer, int(day), hour, -int(cents * rng.choice([1.0, 0.5]))))
            if rng.random() < 0.02:  # a free item
                rows.append((customer, int(day), hour, 0))
    utc_minus_5 = dt.timezone(dt.timedelta(hours=-5))
    return pd.DataFrame(
        {
            "customer_id": np.array([r[0] for r in rows], dtype="int64"),
            "date": pd.to_datetime([START + dt.timedelta(days=r[1]) for r in rows]),
            "ts": pd.to_datetime(
                [
                    dt.datetime.combine(START + dt.timedelta(days=r[1]), dt.time(r[2], 30)).replace(
                        tzinfo=utc_minus_5
                    )
                    for r in rows
                ],
                utc=True,
            ),
            "amount": np.array([r[3] for r in rows], dtype="float64") / 100,
        }
    )


@pytest.fixture(scope="module")
def shop(pg_server):
    """Tables ``tx`` (the log of :func:`_log`), ``customers`` (a made-up membership per
    customer of ``tx``), ``cdnow``, ``donations`` and ``retention`` (``builtin:cdnow_sample``,
    ``builtin:donations_fhs2010``, ``builtin:retention_fh2007``) in the test database."""
    import psycopg

    log = _log()
    with psycopg.connect(pg_server.url()) as con:
        con.execute(
            "CREATE TABLE tx (customer_id bigint, day date, ts timestamptz, "
            "amount numeric(10, 2), note text)"
        )
        with con.cursor().copy("COPY tx (customer_id, day, ts, amount) FROM STDIN") as copy:
            for row in log.itertuples(index=False):
                copy.write_row(
                    (row.customer_id, row.date.date(), row.ts.to_pydatetime(), f"{row.amount:.2f}")
                )
        con.execute(
            "CREATE TABLE customers AS SELECT DISTINCT customer_id, customer_id % 3 = 0 "
            "AS member FROM tx"
        )
        con.execute("CREATE TABLE donations (frequency int, recency int, n int, count int)")
        with con.cursor().copy("COPY donations FROM STDIN") as copy:
            for row in load_builtin("donations_fhs2010").itertuples(index=False):
                copy.write_row(tuple(int(v) for v in row))
        con.execute("CREATE TABLE retention (cohort text, period smallint, alive bigint)")
        with con.cursor().copy("COPY retention FROM STDIN") as copy:
            for row in load_builtin("retention_fh2007").itertuples(index=False):
                copy.write_row((row.cohort, int(row.period), int(row.alive)))
        con.execute("CREATE TABLE cdnow (customer_id integer, date date, amount numeric(8, 2))")
        with con.cursor().copy("COPY cdnow FROM STDIN") as copy:
            for row in load_builtin("cdnow_sample").itertuples(index=False):
                copy.write_row((row.customer_id, row.date.date(), f"{row.amount:.2f}"))
    return log


def _source(server, sql: str, **kwargs) -> SqlSource:
    return SqlSource(sql=sql, url=server.url(), **kwargs)


def _assert_same_summary(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == list(expected.columns)
    for column in got.columns:
        if got[column].dtype.kind == "f":
            np.testing.assert_allclose(got[column], expected[column], rtol=1e-12, err_msg=column)
        else:
            assert got[column].tolist() == expected[column].tolist(), column
            assert got[column].dtype == expected[column].dtype, column
    attrs = dict(got.attrs["clvmodels"])
    assert len(attrs.pop("input_fingerprint")) == 16
    assert attrs == expected.attrs["clvmodels"]


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_summary_of_a_query_equals_the_summary_of_the_same_log_as_a_dataframe(
    pg_server, shop, engine
):
    # batches of 257 rows: the log arrives in a dozen batches
    source = _source(pg_server, "SELECT customer_id, day AS date, amount FROM tx;", batch_rows=257)
    expected = summarize_transactions(shop[["customer_id", "date", "amount"]], **OPTIONS)
    counts = expected.attrs["clvmodels"]["counts"]
    assert counts["rows_merged_same_day"] > 0 and counts["nonpositive_days_dropped"] > 0
    assert "frequency_holdout" in expected.columns
    _assert_same_summary(summarize_transactions(source, engine=engine, **OPTIONS), expected)


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_timestamptz_and_text_ids_from_a_query_equal_the_dataframe_summary(pg_server, shop, engine):
    source = _source(
        pg_server, "SELECT 'c' || customer_id AS cid, ts, amount::float8 AS amount FROM tx"
    )
    frame = pd.DataFrame(
        {"cid": "c" + shop["customer_id"].astype(str), "ts": shop["ts"], "amount": shop["amount"]}
    )
    options = {**OPTIONS, "after_observation_end": "drop"}  # 2024-12-31 evenings are in 2025
    expected = summarize_transactions(frame, customer_id="cid", date="ts", **options)
    got = summarize_transactions(source, customer_id="cid", date="ts", engine=engine, **options)
    _assert_same_summary(got, expected)
    # the UTC day differs from the local day for evening purchases
    local = summarize_transactions(shop[["customer_id", "date", "amount"]], **OPTIONS)
    assert not np.array_equal(got["recency"].to_numpy(), local["recency"].to_numpy())


def test_fingerprint_ignores_row_order_and_sees_a_changed_row(pg_server, shop):
    import psycopg

    query = "SELECT customer_id, day AS date, amount FROM tx_view"

    def fingerprint(view: str) -> str:
        with psycopg.connect(pg_server.url()) as con:
            con.execute(f"DROP VIEW IF EXISTS tx_view; CREATE VIEW tx_view AS {view}")
        summary = summarize_transactions(_source(pg_server, query), **OPTIONS)
        return summary.attrs["clvmodels"]["input_fingerprint"]

    asc = fingerprint("SELECT * FROM tx ORDER BY customer_id, day, amount")
    assert asc == fingerprint("SELECT * FROM tx ORDER BY customer_id DESC, day DESC, amount")
    changed = (
        "SELECT customer_id, day, ts, CASE WHEN customer_id = 7 THEN amount + 1 ELSE amount "
        "END AS amount, note FROM tx"
    )
    assert fingerprint(changed) != asc
    other_query = summarize_transactions(_source(pg_server, query + " WHERE true"), **OPTIONS)
    assert other_query.attrs["clvmodels"]["input_fingerprint"] != asc


def test_rows_stream_from_a_server_side_cursor_in_batches(pg_server, shop, monkeypatch):
    """The generic path (the PostgreSQL COPY path switched off; it is tested in
    tests/test_data_pgcopy.py)."""
    from clvmodels.data.sql import load, pgcopy

    monkeypatch.setattr(pgcopy, "applies", lambda url: False)
    seen: dict[str, list] = {"cursor": [], "batches": []}
    append, batch = load._append_rows, load.arrow_batch

    def spy_append(con, result, *args):
        seen["cursor"].append(type(result.cursor).__name__)
        return append(con, result, *args)

    def spy_batch(names, kinds, columns, where):
        seen["batches"].append(len(columns[0]))
        return batch(names, kinds, columns, where)

    monkeypatch.setattr(load, "_append_rows", spy_append)
    monkeypatch.setattr(load, "arrow_batch", spy_batch)
    query = "SELECT i % 500 AS customer_id, DATE '2024-01-01' + i % 300 AS date FROM "
    source = _source(pg_server, query + "generate_series(1, 25000) AS i", batch_rows=4000)
    summary = summarize_transactions(source, amount=None)
    assert seen["cursor"] == ["ServerCursor"]
    assert seen["batches"] == [4000] * 6 + [1000]
    assert summary.attrs["clvmodels"]["counts"]["rows_in"] == 25000
    assert len(summary) == 500


def test_read_table_types_follow_the_database(pg_server, shop):
    table = read_table(
        _source(
            pg_server,
            "SELECT customer_id, day, ts, amount, note, customer_id % 2 = 0 AS even, "
            "interval '1 day' AS gap, '10%' AS pct, ':x' AS colon FROM tx "
            "WHERE customer_id = 1 AND note IS DISTINCT FROM 'a%%'",
        )
    )
    assert len(table) == int((shop["customer_id"] == 1).sum())
    assert table["customer_id"].dtype == "int64"
    assert table["amount"].dtype == "float64"
    assert pd.api.types.is_datetime64_dtype(table["day"])
    assert str(table["ts"].dt.tz) == "UTC"
    assert table["even"].dtype == bool
    assert table["note"].isna().all()
    assert table["gap"].iloc[0] == "1 day, 0:00:00"
    # the query goes to the driver as written: no bind parameters, no %-placeholders
    assert (table["pct"].iloc[0], table["colon"].iloc[0]) == ("10%", ":x")


# Fader, Hardie & Lee (2005), Marketing Science 24(2): BG/NBD on the CDNOW sample, 39 weeks
FHL2005_ESTIMATES = {"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4259}


def _config(folder: Path, source: dict, **extra) -> Path:
    raw = {
        "name": "sql_cdnow",
        "data": {"source": source, "time_unit": "W", **extra},
        "split": {"calibration_end": "1997-09-30", "observation_end": "1998-06-30"},
        "models": {"bgnbd": {}},
        "clv": {"draws": 20},
    }
    path = folder / "sql.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _env_url(server) -> str:
    return server.url().replace(server.password, "${" + PASSWORD_ENV + "}")


def test_fit_from_a_query_reproduces_fader_hardie_lee_2005_and_writes_no_password(
    pg_server, shop, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(PASSWORD_ENV, pg_server.password)
    sql = "SELECT customer_id, date, amount FROM cdnow"
    config = _config(tmp_path, {"sql": sql, "url": _env_url(pg_server)})
    out = tmp_path / "run"
    assert main(["fit", str(config), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    params = json.loads((out / "params.json").read_text())["models"]["bgnbd"]["params"]
    for name, value in FHL2005_ESTIMATES.items():
        assert params[name] == pytest.approx(value, abs=2e-3), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input"]["source"] == pg_server.url("***")
    assert manifest["input"]["query"] == sql
    assert len(manifest["input"]["fingerprint"]) == 16
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["data"]["source"]["url"] == _env_url(pg_server)  # the reference, not the secret
    secret = pg_server.password.encode()
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 10
    assert [p.name for p in files if secret in p.read_bytes()] == []
    assert pg_server.password not in printed.out + printed.err


@pytest.mark.parametrize(
    ("kind", "table", "builtin"),
    [("summary", "donations", "donations_fhs2010"), ("survival", "retention", "retention_fh2007")],
)
def test_summary_and_survival_tables_from_a_query_equal_the_builtin_ones(
    pg_server, shop, kind, table, builtin
):
    from clvmodels.config import parse_config
    from clvmodels.run.prepare import prepare_data
    from clvmodels.run.settings import resolve

    def prepared(source):
        config = parse_config({"name": "x", "data": {"source": source, "kind": kind}})
        return prepare_data(resolve(config).data)

    got = prepared({"sql": f"SELECT * FROM {table}", "url": pg_server.url()})
    expected = prepared(f"builtin:{builtin}")
    frame = "summary" if kind == "summary" else "survival_table"
    pd.testing.assert_frame_equal(getattr(got, frame), getattr(expected, frame))
    assert got.meta == expected.meta
    assert set(got.input) == {"source", "query", "fingerprint"}


def test_covariates_table_from_a_query(pg_server, shop, tmp_path):
    from clvmodels.config import load_config
    from clvmodels.run.prepare import prepare_data
    from clvmodels.run.settings import resolve

    url = pg_server.url()
    config = _config(
        tmp_path,
        {"sql": "SELECT customer_id, day AS date, amount FROM tx", "url": url},
        covariates={
            "source": {"sql": "SELECT * FROM customers", "url": url},
            "columns": ["member"],
        },
    )
    raw = yaml.safe_load(config.read_text())
    raw["split"] = {"calibration_end": "2024-09-30", "observation_end": "2024-12-31"}
    config.write_text(yaml.safe_dump(raw))
    prepared = prepare_data(resolve(load_config(config)).data)
    summary = prepared.summary
    assert summary["member"].tolist() == (summary["customer_id"] % 3 == 0).tolist()
    assert prepared.source == f"data.source ({pg_server.url('***')})"
    assert prepared.input["source"] == pg_server.url("***")


def test_url_env_and_pgpassword(pg_server, shop, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLV_TEST_PG_URL", pg_server.url())
    config = _config(
        tmp_path,
        {"sql": "SELECT customer_id, date, amount FROM cdnow", "url_env": "CLV_TEST_PG_URL"},
    )
    assert main(["summarize", str(config), "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert f"data.source ({pg_server.url('***')}): 2,357 customers" in out
    assert pg_server.password not in out
    # no password in the URL: libpq takes it from PGPASSWORD
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    bare = pg_server.url().replace(f":{pg_server.password}@", "@")
    query = "SELECT customer_id, date, amount FROM cdnow"
    summary = summarize_transactions(SqlSource(sql=query, url=bare))
    assert len(summary) == 2357


WRONG_PASSWORD = "Wr0ng-Secret-4417"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong password", "cannot connect: connection failed: "),
        ("unreachable port", "cannot connect: connection failed: "),
        ("syntax error", 'query failed: syntax error at or near "SELEC"'),
        ("unknown column", 'query failed: column "nope" does not exist'),
        ("missing role column", "missing column 'amount' (the amount column)"),
    ],
)
def test_database_errors_are_one_line_naming_data_source_without_password(
    pg_server, shop, tmp_path, capsys, case, message
):
    import pgserver

    sql = "SELECT customer_id, date, amount FROM cdnow"
    url = pg_server.url()
    if case == "wrong password":
        url = pg_server.url(WRONG_PASSWORD)
    elif case == "unreachable port":
        url = url.replace(f":{pg_server.port}/", f":{pgserver._free_port()}/")
    elif case == "syntax error":
        sql = "SELEC customer_id FROM tx"
    elif case == "unknown column":
        sql = "SELECT nope FROM tx"
    else:
        sql = "SELECT customer_id, date FROM cdnow"
    config = _config(tmp_path, {"sql": sql, "url": url})
    assert main(["summarize", str(config), "--quiet", "--out", str(tmp_path / "out")]) == 2
    printed = capsys.readouterr()
    lines = printed.err.strip().splitlines()
    assert len(lines) == 1, printed.err
    assert lines[0].startswith("error: data.source (postgresql://clv_test:***@127.0.0.1:")
    assert message in lines[0]
    for secret in (pg_server.password, WRONG_PASSWORD):
        assert secret not in printed.err + printed.out
    assert not (tmp_path / "out").exists()


# --- without a server -------------------------------------------------------------------


def test_missing_environment_variable_is_a_config_error_naming_the_key(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("CLV_TEST_UNSET", raising=False)
    config = _config(tmp_path, {"sql": "SELECT 1", "url": "postgresql://u:${CLV_TEST_UNSET}@h/d"})
    assert main(["summarize", str(config), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        "error: data.source.url: environment variable CLV_TEST_UNSET is not set\n"
    )
    assert main(["validate", str(config)]) == 2
    assert "data.source.url: environment variable CLV_TEST_UNSET" in capsys.readouterr().err
    monkeypatch.setenv("CLV_TEST_UNSET", "pw-of-validate")
    assert main(["validate", str(config)]) == 0
    out = capsys.readouterr().out
    assert "SQL query on postgresql://u:***@h/d (keys and URL checked; not connected)" in out
    assert "pw-of-validate" not in out


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {"sql": "SELECT 1", "url": "postgresql://h/d", "table": "x"},
            "data.source.table: unknown key",
        ),
        ({"sql": "SELECT 1"}, "data.source: give exactly one of url or url_env"),
        ({"sql": "SELECT 1", "url": "a", "url_env": "B"}, "give exactly one of url or url_env"),
        ({"sql": " ; ", "url": "postgresql://h/d"}, "data.source.sql: give the query"),
        ({"url": "postgresql://h/d"}, "data.source.sql: required key is missing"),
        ({"sql": "SELECT 1", "url_env": "not a name"}, "not an environment variable name"),
        (3, "data.source: expected a string or a mapping"),
    ],
)
def test_sql_source_keys_are_checked(source, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"name": "x", "data": {"source": source}})


def test_saved_config_masks_a_literal_password_and_keeps_a_reference():
    config = parse_config(
        {
            "name": "x",
            "data": {"source": {"sql": "SELECT 1", "url": "postgresql://clv:hunter2@db:5432/shop"}},
        }
    )
    assert isinstance(config.data.source, SqlSourceConfig)
    assert config.to_dict()["data"]["source"] == {
        "sql": "SELECT 1",
        "url": "postgresql://clv:***@db:5432/shop",
        "url_env": None,
    }
    assert mask_config_url("postgresql://clv:${PW}@db/shop") == "postgresql://clv:${PW}@db/shop"
    assert mask_config_url("postgresql://clv@db/shop") == "postgresql://clv@db/shop"


def test_masking_of_urls_repr_and_driver_messages(monkeypatch):
    pytest.importorskip("sqlalchemy")
    url = "postgresql://clv:p%40ss@db:5432/shop"
    assert mask_url(url) == "postgresql://clv:***@db:5432/shop"
    assert mask_url("not a url://clv:secret@x") == "not a url://clv:***@x"
    assert mask_url("postgresql://db/shop?password=s3&sslmode=require") == (
        "postgresql://db/shop?password=***&sslmode=require"
    )
    assert (
        mask_config_url("postgresql://db/shop?password=s3") == "postgresql://db/shop?password=***"
    )
    source = SqlSource(sql="SELECT 1", url=url)
    assert "p%40ss" not in repr(source) and "p@ss" not in repr(source)
    monkeypatch.setenv("PGPASSWORD", "libpq-secret")

    class DriverError(Exception):
        pass

    from sqlalchemy.engine import make_url

    echoed = DriverError("FATAL: login with p@ss / p%40ss refused (libpq-secret)\n  DETAIL: x")
    assert error_line(echoed, make_url(url)) == "FATAL: login with *** / *** refused (***)"


def test_missing_packages_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(ConfigError, match=r"pip install 'clvmodels\[sql\]'"):
        summarize_transactions(SqlSource(sql="SELECT 1", url="postgresql://h/d"))


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_a_query_without_rows_is_a_data_error(pg_server, shop, engine):
    source = _source(pg_server, "SELECT customer_id, day AS date, amount FROM tx WHERE false")
    with pytest.raises(
        DataError, match=r"^SqlSource \(postgresql://clv_test:\*\*\*@.*\): no rows$"
    ):
        summarize_transactions(source, engine=engine)


def test_other_databases_types_come_from_the_values(tmp_path):
    """SQLite (Python's own driver) has no PostgreSQL type codes: a column's type is that
    of its first value, and a column mixing types is a one-line error naming it."""
    pytest.importorskip("sqlalchemy")
    import sqlite3

    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (cid INTEGER, d TEXT, a REAL, note)")
        rows = [(1, "2024-01-01", 3.5, None), (1, "2024-02-01", 2.0, 7), (2, "2024-01-03", 1, "x")]
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    url = f"sqlite:///{path}"
    query = "SELECT cid AS customer_id, d AS date, a AS amount FROM t"
    got = summarize_transactions(SqlSource(sql=query, url=url), time_unit="D")
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "amount", "note"])
    expected = summarize_transactions(frame.drop(columns="note"), time_unit="D")
    pd.testing.assert_frame_equal(got, expected)
    with pytest.raises(DataError, match=r"column 'note' mixes BIGINT values with str values"):
        read_table(SqlSource(sql="SELECT note FROM t", url=url))
