"""DuckDB engine resources: customer buckets, memory limit, threads, spill folder.

Expected values: the same summary computed in one bucket with default resources (the
one-bucket DuckDB engine is checked against the pandas reference engine in
tests/test_data_summary_engines.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clvmodels.data.summary.duckdb_engine as duckdb_engine
from clvmodels.data import summarize_transactions
from clvmodels.errors import ConfigError, DataError


def _log(n: int = 4000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 120, size=n)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in rng.integers(0, 300, size=n)],
            "date": (np.datetime64("2021-01-01") + days.astype("timedelta64[D]")).astype(
                "datetime64[ns]"
            ),
            "amount": rng.integers(-5, 40, size=n).astype(float),
        }
    )


@pytest.mark.parametrize(
    "options",
    [
        {"calibration_end": "2021-03-01"},
        {
            "calibration_end": "2021-02-01",
            "observation_end": "2021-04-01",
            "after_observation_end": "drop",
        },
        {},
        {"nonpositive": "drop", "merge_same_day": False, "calibration_end": "2021-03-01"},
        {"nonpositive": "keep", "time_unit": "D"},
    ],
)
def test_many_customer_buckets_equal_one(monkeypatch, options):
    log = _log()
    want = summarize_transactions(log, **options)
    monkeypatch.setattr(duckdb_engine, "_customer_buckets", lambda con, rows: 7)
    got = summarize_transactions(log, **options)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    assert got.attrs == want.attrs


def test_a_log_split_into_buckets_counts_its_rows_once(monkeypatch, tmp_path):
    path = tmp_path / "tx.parquet"
    _log().to_parquet(path)
    want = summarize_transactions(path)
    counted = []

    def source_rows(con, source):
        counted.append(source)
        return real(con, source)

    real = duckdb_engine._source_rows
    monkeypatch.setattr(duckdb_engine, "_source_rows", source_rows)
    monkeypatch.setattr(duckdb_engine, "_memory_limit", lambda con: 4000 * 50 // 3)
    got = summarize_transactions(path)
    assert len(counted) == 1  # a Parquet file is scanned to count its rows: once
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


def test_buckets_follow_the_memory_limit_and_the_type_of_the_ids(tmp_path):
    import duckdb

    limits = {}

    def buckets(rows: int, memory: str, ids: str = "text") -> int:
        path = tmp_path / f"tx-{rows}-{ids}.parquet"
        log = _log(n=rows)
        if ids == "integer":
            log["customer_id"] = log["customer_id"].str[1:].astype("int64")
        log.to_parquet(path)
        con = duckdb.connect(config={"memory_limit": memory})
        con.execute(f"CREATE VIEW clv_rows_src AS SELECT * FROM read_parquet('{path}')")
        con.execute("CREATE VIEW clv_rows AS SELECT customer_id AS cid FROM clv_rows_src")
        limits[memory] = duckdb_engine._memory_limit(con)
        return duckdb_engine._customer_buckets(con, duckdb_engine._source_rows(con, path))

    assert buckets(1_000, "1GB") == 1
    assert 1 < buckets(20_000, "1MB") < buckets(100_000, "1MB")
    assert buckets(100_000, "2MB") < buckets(100_000, "1MB")
    # integer ids sort in half the memory of text ids (_SORT_BYTES_PER_ROW: 30 vs 60)
    per_row, limit = duckdb_engine._SORT_BYTES_PER_ROW, limits["1MB"]
    assert buckets(100_000, "1MB", "integer") == -(-100_000 * per_row["integer"] // limit)
    assert buckets(100_000, "1MB") == -(-100_000 * per_row["text"] // limit)
    assert per_row["integer"] < per_row["text"]


@pytest.mark.parametrize(
    ("column", "row", "bad"), [("date", 2500, pd.NaT), ("customer_id", 1700, None)]
)
def test_bad_row_is_reported_alike_in_buckets(monkeypatch, column, row, bad):
    log = _log().astype({"customer_id": object})
    log.loc[row, column] = bad  # a missing id goes to the first of the id ranges
    with pytest.raises(DataError) as one:
        summarize_transactions(log)
    monkeypatch.setattr(duckdb_engine, "_customer_buckets", lambda con, rows: 5)
    with pytest.raises(DataError) as five:
        summarize_transactions(log)
    assert str(one.value) == str(five.value)
    assert f"row {row}" in str(one.value)


@pytest.mark.parametrize("ids", ["text", "integers", "skewed"])
def test_bucket_filters_take_every_row_once_in_id_order(ids):
    import duckdb

    rng = np.random.default_rng(5)
    cid = rng.integers(-50, 5000, size=20_000)
    if ids == "skewed":  # one customer holds most rows: fewer, uneven buckets
        cid[rng.random(cid.size) < 0.8] = 17
    frame = pd.DataFrame({"cid": cid.astype(str) if ids == "text" else cid})
    frame.loc[[3, 999], "cid"] = None
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute("CREATE VIEW clv_rows AS SELECT * FROM frame")
    filters = duckdb_engine._bucket_filters(con, 6, len(frame))
    assert 2 <= len(filters) <= 6
    parts = [
        con.execute(f"SELECT cid FROM clv_rows{where} ORDER BY cid").df()["cid"]
        for where in filters
    ]
    assert sum(len(part) for part in parts) == len(frame)
    assert sum(part.isna().sum() for part in parts) == 2
    ordered = pd.concat([part.dropna() for part in parts], ignore_index=True)
    assert ordered.is_monotonic_increasing
    assert (
        ordered.value_counts()
        .sort_index()
        .equals(frame["cid"].dropna().value_counts().sort_index())
    )


def test_a_sample_without_ids_makes_one_bucket():
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE VIEW clv_rows AS SELECT NULL::VARCHAR AS cid FROM range(5000)")
    assert duckdb_engine._bucket_filters(con, 4, 5000) == [""]


def test_blank_ids_in_buckets_are_reported(monkeypatch):
    log = _log().assign(customer_id="")
    monkeypatch.setattr(duckdb_engine, "_customer_buckets", lambda con, rows: 3)
    with pytest.raises(DataError, match="row 0: customer id is missing or blank"):
        summarize_transactions(log)


def test_batches_shrink_with_many_threads():
    import duckdb

    con = duckdb.connect(config={"memory_limit": "4GB"})
    few, many = duckdb_engine._batch_rows(con, 2), duckdb_engine._batch_rows(con, 64)
    assert few == duckdb_engine._BATCH_ROWS
    assert duckdb_engine._MIN_BATCH_ROWS <= many < few
    assert 65 * many * duckdb_engine._BYTES_PER_ROW <= 4 * 2**30 / 4


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_a_summary_can_be_changed_in_place(engine):
    summary = summarize_transactions(_log(), engine=engine, calibration_end="2021-03-01")
    for column in summary.columns:
        summary.loc[0, column] = summary.loc[1, column]
    assert summary.iloc[0].equals(summary.iloc[1])


def test_resources_do_not_change_the_result(tmp_path):
    log = _log()
    want = summarize_transactions(log, calibration_end="2021-03-01")
    spill = tmp_path / "spill"
    got = summarize_transactions(
        log, calibration_end="2021-03-01", memory_limit="200MB", threads=1, temp_directory=spill
    )
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"memory_limit": "lots"}, r"memory_limit 'lots'.*DuckDB refuses"),
        ({"threads": 0}, r"threads: must be a whole number >= 1, got 0"),
    ],
)
def test_bad_resources_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        summarize_transactions(_log(n=50), **options)


def test_config_keys_reach_the_duckdb_engine(tmp_path):
    from clvmodels.config import parse_config
    from clvmodels.run.prepare import prepare_data
    from clvmodels.run.settings import resolve

    data = {"source": "builtin:cdnow_sample", "duckdb_threads": 1}
    spill = tmp_path / "spill"
    ok = parse_config(
        {
            "name": "x",
            "data": {**data, "duckdb_memory_limit": "300MB", "duckdb_temp_directory": str(spill)},
        }
    )
    assert len(prepare_data(resolve(ok).data).summary) == 2357
    bad = parse_config({"name": "x", "data": {**data, "duckdb_memory_limit": "lots"}})
    with pytest.raises(ConfigError, match="memory_limit 'lots'"):
        prepare_data(resolve(bad).data)
