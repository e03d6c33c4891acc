"""Parquet datasets (a folder of files): nested, hive-partitioned and Spark-written folders,
schemas that differ between files, column pruning, and no pandas read on the DuckDB path.

Expected values: the summary of the same log given as one Parquet file (itself checked
against the pandas reference engine and published CDNOW figures elsewhere).
"""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import clvmodels.data.parquet as parquet
import clvmodels.data.sources as sources
import clvmodels.data.summary.pandas_engine as pandas_engine
import clvmodels.data.transactions as transactions
from clvmodels.data import summarize_transactions
from clvmodels.data.transactions import transactions_view
from clvmodels.errors import DataError

SPLIT = {"calibration_end": "2021-06-30", "observation_end": "2021-12-31"}


def _log(n: int = 3000, customers: int = 200, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 365, size=n)
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, customers, size=n),
            "date": (np.datetime64("2021-01-01") + days.astype("timedelta64[D]")).astype(
                "datetime64[ns]"
            ),
            "amount": np.round(rng.lognormal(3.0, 0.8, size=n), 2)
            * np.where(rng.random(n) < 0.05, -1.0, 1.0),
        }
    )


def _split(log: pd.DataFrame, k: int) -> list[pd.DataFrame]:
    bounds = np.linspace(0, len(log), k + 1).astype(int)
    return [log.iloc[a:b] for a, b in itertools.pairwise(bounds)]


def _expected(tmp_path, log: pd.DataFrame, **kwargs) -> pd.DataFrame:
    path = tmp_path / "single.parquet"
    log.to_parquet(path, index=False)
    return summarize_transactions(path, **SPLIT, **kwargs)


def _assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-12)
    assert got.attrs["clvmodels"] == want.attrs["clvmodels"]


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_hive_partitioned_folder_equals_the_single_file(tmp_path, engine):
    log = _log()
    want = _expected(tmp_path, log)
    folder = tmp_path / "tx"
    dated = log.assign(year=log["date"].dt.year, month=log["date"].dt.month)
    for (year, month), part in dated.groupby(["year", "month"]):
        target = folder / f"year={year}" / f"month={month:02d}"
        target.mkdir(parents=True)
        part.drop(columns=["year", "month"]).to_parquet(target / "part-0.parquet", index=False)
    got = summarize_transactions(folder, engine=engine, **SPLIT)
    _assert_same(got, want)


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_hive_key_is_a_column(tmp_path, engine):
    """The customer id lives only in the folder names (pyarrow's partition_cols)."""
    log = _log(n=600, customers=12)
    want = _expected(tmp_path, log)
    folder = tmp_path / "by_customer"
    log.to_parquet(folder, partition_cols=["customer_id"], index=False)
    assert "customer_id" not in pq.read_schema(next(folder.rglob("*.parquet"))).names
    got = summarize_transactions(folder, engine=engine, **SPLIT)
    _assert_same(got, want)


def _spark_folder(folder, log: pd.DataFrame) -> None:
    """What Spark's df.write.parquet leaves: part files, checksums, markers, leftovers."""
    folder.mkdir()
    for k, part in enumerate(_split(log, 3)):
        name = f"part-{k:05d}-6f1c2d3e-0000-4000-8000-000000000000-c000.snappy.parquet"
        part.to_parquet(folder / name, index=False, compression="snappy")
        (folder / f".{name}.crc").write_bytes(b"crc32c not parquet")
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "._SUCCESS.crc").write_bytes(b"crc")
    leftovers = folder / "_temporary" / "0"
    leftovers.mkdir(parents=True)
    (leftovers / "part-00000.parquet").write_bytes(b"half-written by a failed task")
    (folder / ".hidden.parquet").write_bytes(b"editor swap file")
    (folder / "notes.txt").write_text("not data")


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_spark_folder_skips_markers_checksums_and_hidden_files(tmp_path, engine):
    log = _log()
    want = _expected(tmp_path, log)
    folder = tmp_path / "spark_out"
    _spark_folder(folder, log)
    names = [p.name[:10] for p in parquet.parquet_dataset_files(folder)]
    assert names == ["part-00000", "part-00001", "part-00002"]
    _assert_same(summarize_transactions(folder, engine=engine, **SPLIT), want)


def test_hive_file_without_suffix_is_read_by_its_magic_bytes(tmp_path):
    log = _log(n=200)
    folder = tmp_path / "hive_table"
    folder.mkdir()
    log.to_parquet(folder / "000000_0", index=False)
    (folder / "000001_0").write_text("plain text without a suffix is not data")
    assert [p.name for p in parquet.parquet_dataset_files(folder)] == ["000000_0"]


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_files_with_different_columns_are_matched_by_name(tmp_path, engine):
    log = _log()
    want = _expected(tmp_path, log)
    folder = tmp_path / "evolving" / "2021"
    folder.mkdir(parents=True)
    first, second = log.iloc[:1000], log.iloc[1000:]
    first.to_parquet(folder / "a.parquet", index=False)
    # a later file: other column order, an extra column, int32 ids (schema evolution)
    second[["amount", "date", "customer_id"]].assign(
        coupon="X", customer_id=second["customer_id"].astype("int32")
    ).to_parquet(tmp_path / "evolving" / "b.parquet", index=False)
    got = summarize_transactions(tmp_path / "evolving", engine=engine, **SPLIT)
    _assert_same(got, want)


def test_empty_or_non_parquet_folder_is_a_one_line_error(tmp_path):
    empty = tmp_path / "empty"
    (empty / "year=2024").mkdir(parents=True)
    csvs = tmp_path / "csvs"
    csvs.mkdir()
    (csvs / "tx.csv").write_text("customer_id,date,amount\n1,2020-01-01,3\n")
    (csvs / "_SUCCESS").write_text("")
    for folder in (empty, csvs):
        with pytest.raises(DataError, match=r"directory contains no \.parquet files") as info:
            summarize_transactions(folder)
        assert str(folder) in str(info.value) and "\n" not in str(info.value)


def test_mixed_partitioned_and_unpartitioned_files_are_refused(tmp_path):
    log = _log(n=100)
    (tmp_path / "year=2021").mkdir()
    log.to_parquet(tmp_path / "year=2021" / "a.parquet", index=False)
    log.to_parquet(tmp_path / "b.parquet", index=False)
    with pytest.raises(DataError, match=r"mixes hive-partitioned files .* b\.parquet"):
        summarize_transactions(tmp_path)


def test_corrupt_file_in_a_folder_is_a_one_line_error(tmp_path):
    _log(n=100).to_parquet(tmp_path / "a.parquet", index=False)
    (tmp_path / "b.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(DataError) as info:
        summarize_transactions(tmp_path)
    assert str(tmp_path) in str(info.value) and "\n" not in str(info.value)


def test_only_the_three_columns_are_read(tmp_path):
    """DuckDB's plan reads customer_id, date and amount only: a wide text column in
    every file is never decoded (column pruning through our views)."""
    log = _log(n=500).assign(payload="x" * 1000, other=1.5)
    for k, part in enumerate(_split(log, 2)):
        (tmp_path / f"k={k}").mkdir()
        part.to_parquet(tmp_path / f"k={k}" / "p.parquet", index=False)
    con = duckdb.connect()
    transactions_view(con, tmp_path, customer_id="customer_id", date="date", amount="amount")
    plan = "\n".join(
        row[1]
        for row in con.execute(
            "EXPLAIN SELECT cid, d, count(*), sum(a) FROM clv_rows GROUP BY cid, d"
        ).fetchall()
    )
    scan = plan[plan.index("READ_PARQUET") :]
    assert "customer_id" in scan and "date" in scan and "amount" in scan
    assert "payload" not in plan and "other" not in plan and "k" not in scan.split()


def test_duckdb_engine_reads_no_log_into_pandas(tmp_path, monkeypatch):
    log = _log(n=4000, customers=50)
    want = summarize_transactions(log, **SPLIT, engine="pandas")
    folder = tmp_path / "tx"
    folder.mkdir()
    for k, part in enumerate(_split(log, 4)):
        part.to_parquet(folder / f"part-{k}.parquet", index=False)

    def forbidden(*args, **kwargs):
        raise AssertionError("the DuckDB engine read the log with pandas")

    for module, name in [
        (pd, "read_parquet"),
        (pd, "read_csv"),
        (pq, "read_table"),
        (sources, "read_source_pandas"),
        (sources, "_read_dataset_pandas"),
        (transactions, "read_source_pandas"),
        (transactions, "load_transactions_pandas"),
        (pandas_engine, "load_transactions_pandas"),
    ]:
        monkeypatch.setattr(module, name, forbidden)
    lengths: list[int] = []
    original = pd.DataFrame.__init__

    def counting(self, data=None, *args, **kwargs):
        original(self, data, *args, **kwargs)
        lengths.append(len(self))

    monkeypatch.setattr(pd.DataFrame, "__init__", counting)
    got = summarize_transactions(folder, **SPLIT)
    monkeypatch.undo()
    _assert_same(got, want)
    assert lengths and max(lengths) <= log["customer_id"].nunique() < len(log)


def test_fingerprint_covers_data_files_and_their_partition_paths(tmp_path):
    from clvmodels.run.write import input_fingerprint

    log = _log(n=300)
    for year in (2021, 2022):
        (tmp_path / f"year={year}").mkdir()
    log.to_parquet(tmp_path / "year=2021" / "part-0.parquet", index=False)
    before = input_fingerprint(str(tmp_path))
    (tmp_path / "_SUCCESS").write_bytes(b"")
    (tmp_path / "year=2021" / ".part-0.parquet.crc").write_bytes(b"crc")
    assert input_fingerprint(str(tmp_path)) == before  # not data: not fingerprinted
    # the same bytes in another partition are other data
    (tmp_path / "year=2021" / "part-0.parquet").rename(tmp_path / "year=2022" / "part-0.parquet")
    moved = input_fingerprint(str(tmp_path))
    assert moved != before
    path = tmp_path / "year=2022" / "part-0.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1  # one bit anywhere in a file
    path.write_bytes(bytes(data))
    assert input_fingerprint(str(tmp_path)) != moved


def test_bad_row_is_numbered_across_the_files_in_path_order(tmp_path):
    log = _log(n=3000).assign(date=lambda f: f["date"].dt.strftime("%Y-%m-%d"))
    log.loc[2500, "date"] = "not a date"
    for k, part in enumerate(_split(log, 3)):
        (tmp_path / f"month={k + 1:02d}").mkdir()
        part.to_parquet(tmp_path / f"month={k + 1:02d}" / "part-0.parquet", index=False)
    for engine in ("duckdb", "pandas"):
        with pytest.raises(DataError, match=r"column 'date' row 2500: cannot parse 'not a date'"):
            summarize_transactions(tmp_path, engine=engine)
