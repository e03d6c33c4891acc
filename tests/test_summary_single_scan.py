"""The DuckDB summary in one sorted pass, and its output written by DuckDB.

Expected values: the pandas reference engine (clvmodels.data.summary.pandas_engine, a
plain groupby) on the same rows; for the writer, the table in memory and the text
pandas' ``to_csv`` writes.
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clvmodels.data.summary as summary
import clvmodels.data.summary.duckdb_engine as duckdb_engine
from clvmodels.data import summarize_transactions
from clvmodels.errors import DataError

START = dt.date(2021, 1, 1)


def _log(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "date": pd.to_datetime([START + dt.timedelta(days=r[1]) for r in rows]),
            "amount": [r[2] for r in rows],
        }
    )


def _assert_same(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(ours.columns) == list(ref.columns)
    assert ours.attrs == ref.attrs
    for column in ours.columns:
        if ours[column].dtype.kind == "f":
            np.testing.assert_allclose(ours[column], ref[column], rtol=1e-9, atol=1e-9)
        else:
            assert ours[column].tolist() == ref[column].tolist(), column


# text ids, zero-padded ones among them: sorted as text, kept as text
ids = st.sampled_from(["007", "7", "a", "b", "c10", "c9"])
rows = st.lists(
    st.tuples(ids, st.integers(0, 30), st.integers(-15, 40).map(float)), min_size=1, max_size=60
)


@settings(max_examples=40, deadline=None)
@given(
    data=rows,
    split=st.integers(0, 30),
    nonpositive=st.sampled_from(["net", "net_across_days", "drop", "keep"]),
)
def test_split_in_one_pass_equals_pandas_engine(data, split, nonpositive):
    log = _log(data)
    kwargs = {
        "calibration_end": min(pd.Timestamp(START) + pd.Timedelta(days=split), log["date"].max()),
        "nonpositive": nonpositive,
        "time_unit": "D",
    }
    results = []
    for engine in ("duckdb", "pandas"):
        try:
            results.append(summarize_transactions(log, engine=engine, **kwargs))
        except DataError as exc:  # both engines must fail alike
            results.append(str(exc))
    ours, ref = results
    if isinstance(ours, str) or isinstance(ref, str):
        assert ours == ref
        return
    _assert_same(ours, ref)


def test_refund_day_netted_only_with_net_across_days():
    # customer a: purchases 10 and 30, a refund day netting -25; b buys once
    log = _log([("a", 0, 10.0), ("a", 3, 30.0), ("a", 5, -25.0), ("b", 1, 5.0)])
    for nonpositive in ("net", "net_across_days"):
        ours = summarize_transactions(log, nonpositive=nonpositive, time_unit="D")
        ref = summarize_transactions(log, nonpositive=nonpositive, time_unit="D", engine="pandas")
        _assert_same(ours, ref)
    net = summarize_transactions(log, time_unit="D").set_index("customer_id")
    assert net.loc["a", "revenue"] == 40.0 and net.loc["a", "monetary_value"] == 30.0


def test_customers_cut_across_batches_equal_one_batch(monkeypatch):
    rng = np.random.default_rng(5)
    n = 3000
    log = _log(
        [
            (f"c{k:03d}", int(day), float(amount))
            for k, day, amount in zip(
                rng.integers(0, 200, n),
                rng.integers(0, 90, n),
                rng.integers(-3, 50, n),
                strict=True,
            )
        ]
    )
    options = {"calibration_end": "2021-02-15", "time_unit": "D"}
    want = summarize_transactions(log, engine="pandas", **options)
    monkeypatch.setattr(duckdb_engine, "_BATCH_ROWS", 37)  # many cuts inside a customer
    _assert_same(summarize_transactions(log, **options), want)


@given(
    runs=st.lists(st.integers(1, 9), min_size=1, max_size=12),
    cuts=st.lists(st.integers(0, 60), max_size=5),
    text=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_the_last_customer_starts_where_its_run_starts(runs, cuts, text):
    import pyarrow as pa

    ids = np.repeat(np.arange(len(runs)) * 3, runs)  # sorted, as DuckDB streams them
    values = [f"c{i:04d}" for i in ids] if text else ids.tolist()
    edges = sorted({0, len(values), *[c for c in cuts if c < len(values)]})
    chunks = [values[a:b] for a, b in itertools.pairwise(edges)]
    cid = pa.chunked_array(chunks, type=pa.string() if text else pa.int64())
    assert duckdb_engine._last_run_start(cid) == len(values) - runs[-1]


@given(
    runs=st.lists(st.integers(1, 30), min_size=1, max_size=25),
    batch=st.integers(1, 40),
    wanted=st.integers(1, 60),
    text=st.booleans(),
)
@settings(max_examples=80, deadline=None)
def test_batches_of_whole_customers_give_back_every_row_copying_only_seams(
    runs, batch, wanted, text
):
    import pyarrow as pa

    ids = np.repeat(np.arange(len(runs)) * 3, runs)  # sorted, as DuckDB streams them
    n = len(ids)
    cid = pa.array([f"c{i:04d}" for i in ids] if text else ids)
    days, amounts = pa.array(np.arange(n, dtype=np.int32)), pa.array(np.arange(n) / 4.0)
    table = pa.table({"cid": cid, "d": days, "a": amounts})
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(batch))
    sent = table.to_batches(batch)  # the same buffers: what a yielded piece may share
    out = list(duckdb_engine._whole_customers(reader, wanted))
    # every row once, in order, and no customer split between two batches
    assert np.concatenate([d for _, d, _ in out]).tolist() == list(range(n))
    assert np.concatenate([a for _, _, a in out]).tolist() == (np.arange(n) / 4.0).tolist()
    firsts = [piece[0].as_py() for piece, _, _ in out]
    lasts = [piece[-1].as_py() for piece, _, _ in out]
    assert all(lasts[k] != firsts[k + 1] for k in range(len(out) - 1))
    # a piece that lies within one batch of the reader is that batch's memory, not a copy
    starts = np.cumsum([0, *[len(b) for b in sent]])
    at = 0
    for _, d, _ in out:
        k = int(np.searchsorted(starts, at, side="right")) - 1
        if at + len(d) <= starts[k + 1]:
            base = np.asarray(sent[k].column(1))
            assert np.shares_memory(d, base)
        at += len(d)


@given(
    rows=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from([-2.5, 0.0, 1.0, 7.25])),
        max_size=40,
    )
)
@settings(max_examples=80, deadline=None)
def test_amounts_are_ordered_within_each_customer_day(rows):
    from clvmodels.data.summary.sorted_log import amount_order, day_starts

    table = np.array(rows, dtype=float).reshape(-1, 3)
    cust, d, a = table[:, 0].astype("int64"), table[:, 1].astype("int32"), table[:, 2]
    by_day = np.lexsort((d, cust))  # what DuckDB's ORDER BY cid, d may give
    cust, d, a = cust[by_day], d[by_day], a[by_day]
    want = a[np.lexsort((a, d, cust))]  # ORDER BY cid, d, a
    np.testing.assert_array_equal(amount_order(a, day_starts(cust, d)), want)


def test_bad_row_found_in_the_sorted_pass_is_named_in_file_order():
    log = _log([("a", 0, 1.0), ("b", 1, 2.0), ("a", 2, 3.0), ("b", 3, 4.0)])
    log["amount"] = log["amount"].astype(object)
    log.loc[3, "amount"] = "x"
    log.loc[2, "amount"] = np.inf
    with pytest.raises(DataError, match=r"row 2.*not a finite number"):
        summarize_transactions(log)


def test_zero_padded_ids_stay_text():
    log = _log([("007", 0, 1.0), ("7", 1, 2.0), ("007", 2, 3.0)])
    out = summarize_transactions(log)
    assert out["customer_id"].tolist() == ["007", "7"]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_duckdb_writes_the_table_as_in_memory(tmp_path, suffix):
    log = _log([("007", 0, 1.5), ("a,b", 1, 2.25), ("007", 9, 3.0), ('x"y', 4, 0.1)])
    table = summarize_transactions(log, calibration_end="2021-01-05", time_unit="D")
    assert summary.copy_select(table, suffix) is not None  # DuckDB, not pandas, writes it
    path = summary.write_table(table, tmp_path / f"s{suffix}")
    if suffix == ".parquet":
        pd.testing.assert_frame_equal(pd.read_parquet(path), table, check_exact=True)
    else:
        assert path.read_text() == table.to_csv(index=False)
        back = pd.read_csv(path, dtype={"customer_id": str})
        assert back["customer_id"].tolist() == ["007", "a,b", 'x"y']


def test_columns_duckdb_would_write_otherwise_go_to_pandas(tmp_path):
    table = pd.DataFrame({"customer_id": [1, 2], "alive": [True, False]})
    assert summary.copy_select(table, ".csv") is None
    path = summary.write_table(table, tmp_path / "t.csv")
    assert path.read_text() == table.to_csv(index=False)


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    table = summarize_transactions(_log([("a", 0, 1.0), ("a", 3, 2.0)]))
    target = tmp_path / "s.parquet"
    target.write_bytes(b"old")

    def broken(table, select, tmp, suffix):
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(summary, "_copy", broken)
    with pytest.raises(OSError, match="disk full"):
        summary.write_table(table, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.parquet"]
