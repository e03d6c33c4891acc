"""Sources: DataFrame, builtin:NAME, CSV, CSV.gz, Parquet file and directory."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from clvmodels.data import describe_source, register_source
from clvmodels.data.sources import read_source_pandas
from clvmodels.errors import DataError

TX = pd.DataFrame(
    {
        "customer_id": [1, 1, 2],
        "date": ["2020-01-01", "2020-01-05", "2020-01-02"],
        "amount": [10.0, 5.0, 7.5],
    }
)


def _count(source) -> int:
    con = duckdb.connect()
    register_source(con, source, "src")
    return con.execute("SELECT count(*) FROM src").fetchone()[0]


def test_describe_source():
    assert describe_source(TX) == "DataFrame"
    assert describe_source("builtin:cdnow_sample") == "builtin:cdnow_sample"
    assert describe_source("data/tx.csv") == "data/tx.csv"


@pytest.mark.parametrize("suffix", ["csv", "csv.gz", "parquet", "dir"])
def test_every_file_kind_is_readable(tmp_path, suffix):
    if suffix == "dir":
        path = tmp_path / "parts"
        path.mkdir()
        TX.iloc[:2].to_parquet(path / "a.parquet")
        TX.iloc[2:].to_parquet(path / "b.parquet")
    else:
        path = tmp_path / f"tx.{suffix}"
        TX.to_parquet(path) if suffix == "parquet" else TX.to_csv(path, index=False)
    assert _count(path) == 3
    assert _count(str(path)) == 3
    frame, name = read_source_pandas(path)
    assert len(frame) == 3 and name == str(path)


def test_builtin_and_frame_sources():
    assert _count("builtin:cdnow_sample") == 6919
    assert _count(TX) == 3


def test_missing_file_names_path(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        _count(path)


def test_empty_file_names_path(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: file is empty"):
        _count(path)


def test_unsupported_extension(tmp_path):
    path = tmp_path / "tx.xlsx"
    path.write_text("x")
    with pytest.raises(DataError, match=r"tx\.xlsx: unsupported file type"):
        _count(path)


def test_directory_without_parquet(tmp_path):
    with pytest.raises(DataError, match=r"no \.parquet files"):
        _count(tmp_path)


def test_corrupt_parquet_is_a_data_error(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_text("not parquet at all")
    with pytest.raises(DataError, match=r"bad\.parquet: cannot read parquet"):
        _count(path)


def test_unknown_builtin():
    with pytest.raises(DataError, match="unknown built-in"):
        _count("builtin:nope")
