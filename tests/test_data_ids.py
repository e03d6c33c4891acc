"""Customer ids are kept as the user wrote them (docs/guide/safety.md: ids are text unless the
file stores integers): zero-padded ids stay zero-padded in every engine and in the run
folder, integer Parquet ids stay integers, and a quoted id holding a newline is one
customer, never split."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from clvmodels.cli import main
from clvmodels.data import load_builtin, summarize_transactions

LOG = (
    "customer_id,date,amount\n"
    "007,2020-01-01,10\n"
    "007,2020-02-01,12\n"
    "042,2020-01-03,5\n"
    "7,2020-01-04,8\n"
    '"a\nb",2020-01-05,9\n'
    '"a\nb",2020-03-05,4\n'
)


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_zero_padded_and_multiline_ids_are_kept_whole_in_csv(tmp_path, engine):
    path = tmp_path / "tx.csv"
    path.write_text(LOG)
    summary = summarize_transactions(str(path), time_unit="D", engine=engine)
    assert sorted(summary["customer_id"]) == ["007", "042", "7", "a\nb"]
    by_id = summary.set_index("customer_id")
    assert by_id.loc["007", "frequency"] == 1 and by_id.loc["a\nb", "frequency"] == 1


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_parquet_keeps_text_ids_text_and_integer_ids_integers(tmp_path, engine):
    frame = pd.DataFrame(
        {
            "customer_id": ["007", "007", "42"],
            "date": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-01-02"]),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    text = tmp_path / "text.parquet"
    frame.to_parquet(text)
    summary = summarize_transactions(str(text), time_unit="D", engine=engine)
    assert sorted(summary["customer_id"]) == ["007", "42"]
    integers = tmp_path / "int.parquet"
    frame.assign(customer_id=[9007199254740993, 9007199254740993, 42]).to_parquet(integers)
    summary = summarize_transactions(str(integers), time_unit="D", engine=engine)
    assert pd.api.types.is_integer_dtype(summary["customer_id"])
    assert sorted(summary["customer_id"]) == [42, 9007199254740993]  # beyond float precision


def test_the_run_folder_keeps_zero_padded_ids(tmp_path: Path):
    log = load_builtin("cdnow_sample")
    log["customer_id"] = log["customer_id"].map(lambda i: f"{i:05d}")  # 00001 ... 02357
    log.to_csv(tmp_path / "tx.csv", index=False)
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: ids\ndata: {source: tx.csv, time_unit: W}\nmodels: {bgnbd: {}}\n"
        "clv: {interval: null}\n"
    )
    assert main(["fit", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    for name in ("predictions.csv", "summary.csv"):
        table = pd.read_csv(tmp_path / "run" / name, dtype={"customer_id": str})
        assert set(table["customer_id"]) == set(log["customer_id"])


def test_a_customer_table_with_zero_padded_ids_joins_the_same_customers(tmp_path):
    from clvmodels.data.covariates import aligned_rows
    from clvmodels.data.sources import read_table

    (tmp_path / "customers.csv").write_text("customer_id,member\n007,1\n042,0\n")
    table = read_table(str(tmp_path / "customers.csv"))
    rows, ids = aligned_rows(table, pd.Series(["042", "007"]), "customers.csv", "customer_id")
    assert ids.tolist() == ["042", "007"]
    assert rows["member"].astype(int).tolist() == [0, 1]
