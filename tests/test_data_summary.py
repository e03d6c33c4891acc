"""summarize_transactions: published CDNOW figures, lifetimes, options and counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.data import load_builtin, summarize_transactions
from clvmodels.errors import DataError

ENGINES = ["duckdb", "pandas"]
FHL_SPLIT = {"calibration_end": "1997-09-30", "observation_end": "1998-06-30"}


def _tx(rows):
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


@pytest.mark.parametrize("engine", ENGINES)
def test_cdnow_calibration_summary_matches_fader_hardie_lee_2005(engine):
    # Fader, Hardie & Lee (2005), Marketing Science 24(2), section 2 and Figure 1:
    # 2,357 customers, 1,411 make no repeat purchase in the 39-week calibration period,
    # 2,457 repeat purchases in all; the first customer has x = 2, t_x = 30.43, T = 38.86.
    s = summarize_transactions("builtin:cdnow_sample", time_unit="W", engine=engine, **FHL_SPLIT)
    assert len(s) == 2357
    assert (s["frequency"] == 0).sum() == 1411
    assert s["frequency"].sum() == 2457
    first = s.iloc[0]
    assert first["customer_id"] == 4
    assert first["frequency"] == 2
    assert round(first["recency"], 2) == 30.43
    assert round(first["T"], 2) == 38.86
    assert (s["duration_holdout"] == 39.0).all()
    counts = s.attrs["clvmodels"]["counts"]
    assert counts["rows_in"] == 6919
    assert counts["nonpositive_days_dropped"] == 0  # the 8 zero-dollar days stay purchases


@pytest.mark.parametrize("engine", ENGINES)
def test_cdnow_zero_dollar_customers_dropped_with_nonpositive_drop(engine):
    # The sample's 8 zero-dollar lines are each a customer's only purchase.
    s = summarize_transactions(
        "builtin:cdnow_sample", nonpositive="drop", engine=engine, **FHL_SPLIT
    )
    assert len(s) == 2349
    assert (s["frequency"] == 0).sum() == 1403
    assert s["frequency"].sum() == 2457
    counts = s.attrs["clvmodels"]["counts"]
    assert counts["nonpositive_rows_dropped"] == 8
    assert counts["customers_without_purchases"] == 8


@pytest.mark.lifetimes
def test_cdnow_calibration_summary_matches_lifetimes_cdnow_customers_summary_csv():
    # lifetimes 0.11.3 datasets/cdnow_customers_summary.csv: the FHL (2005) calibration
    # summary in weeks, two decimals; its ID is the sample id (column 2 of
    # CDNOW_sample.txt), i.e. the order in which customers first appear in the file.
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("lifetimes")
    if spec is None or spec.origin is None:
        pytest.skip("lifetimes not installed")
    path = Path(spec.origin).parent / "datasets" / "cdnow_customers_summary.csv"
    ref = pd.read_csv(path)
    order = load_builtin("cdnow_sample")["customer_id"].drop_duplicates()
    ours = summarize_transactions("builtin:cdnow_sample", **FHL_SPLIT)
    ours = ours.set_index("customer_id").loc[order.to_numpy()]
    assert len(ref) == len(ours)
    np.testing.assert_array_equal(ref["frequency"], ours["frequency"])
    np.testing.assert_allclose(ref["recency"], ours["recency"], atol=0.005 + 1e-12)
    np.testing.assert_allclose(ref["T"], ours["T"], atol=0.005 + 1e-12)


@pytest.mark.lifetimes
def test_cdnow_daily_summary_matches_lifetimes_calibration_and_holdout_data():
    utils = pytest.importorskip("lifetimes.utils")
    tx = load_builtin("cdnow_sample")
    ref = utils.calibration_and_holdout_data(
        tx,
        "customer_id",
        "date",
        calibration_period_end="1997-09-30",
        observation_period_end="1998-06-30",
        freq="D",
        monetary_value_col="amount",
    )
    ours = summarize_transactions(tx, time_unit="D", **FHL_SPLIT).set_index("customer_id")
    pairs = {
        "frequency_cal": "frequency",
        "recency_cal": "recency",
        "T_cal": "T",
        "monetary_value_cal": "monetary_value",
        "frequency_holdout": "frequency_holdout",
        "duration_holdout": "duration_holdout",
    }
    for theirs, mine in pairs.items():
        np.testing.assert_allclose(
            ref[theirs].to_numpy(), ours[mine].to_numpy(), rtol=1e-12, atol=1e-9, err_msg=mine
        )


@pytest.mark.parametrize("engine", ENGINES)
def test_hand_worked_example(engine):
    tx = _tx(
        [
            (7, "2020-01-01", 10.0),
            (7, "2020-01-01", 5.0),  # one purchase of 15
            (7, "2020-01-08", 20.0),  # repeat 1
            (7, "2020-01-15", 30.0),
            (7, "2020-01-15", -30.0),  # bought and returned: gone
            (7, "2020-01-29", 40.0),  # holdout
            (3, "2020-01-10", 8.0),  # one-off
            (5, "2020-01-25", 9.0),  # first purchase after split
        ]
    )
    s = summarize_transactions(
        tx, calibration_end="2020-01-22", observation_end="2020-01-29", time_unit="D", engine=engine
    )
    assert s["customer_id"].tolist() == [3, 7]
    c7 = s.iloc[1]
    assert (c7["frequency"], c7["recency"], c7["T"]) == (1, 7.0, 21.0)
    assert (c7["monetary_value"], c7["revenue"]) == (20.0, 35.0)
    assert (c7["frequency_holdout"], c7["revenue_holdout"], c7["duration_holdout"]) == (1, 40, 7)
    assert c7["first_purchase"] == pd.Timestamp("2020-01-01")
    c3 = s.iloc[0]
    assert (c3["frequency"], c3["recency"], c3["T"], c3["monetary_value"]) == (0, 0, 12, 0)
    counts = s.attrs["clvmodels"]["counts"]
    assert counts == {
        "rows_in": 8,
        "nonpositive_rows_dropped": 0,
        "rows_after_observation_end_dropped": 0,
        "rows_merged_same_day": 2,
        "nonpositive_days_dropped": 1,
        "refund_days_netted": 0,
        "customers_without_purchases": 0,
        "customers_first_purchase_after_calibration": 1,
        "customers": 2,
    }
    assert s.attrs["clvmodels"]["calibration_end"] == "2020-01-22"
    assert s.attrs["clvmodels"]["observation_end"] == "2020-01-29"


@pytest.mark.parametrize("engine", ENGINES)
def test_nonpositive_modes(engine):
    tx = _tx(
        [
            (1, "2020-01-01", 10.0),
            (1, "2020-01-02", -4.0),
            (1, "2020-01-03", 6.0),
            (2, "2020-01-01", -1.0),
        ]
    )
    net = summarize_transactions(tx, time_unit="D", engine=engine)
    assert net["customer_id"].tolist() == [1]
    assert net["frequency"].tolist() == [1]
    assert net.attrs["clvmodels"]["counts"]["nonpositive_days_dropped"] == 2
    assert net.attrs["clvmodels"]["counts"]["customers_without_purchases"] == 1
    keep = summarize_transactions(tx, time_unit="D", nonpositive="keep", engine=engine)
    assert keep["frequency"].tolist() == [2, 0]
    assert keep["monetary_value"].tolist() == [1.0, 0.0]
    assert keep["revenue"].tolist() == [12.0, -1.0]
    drop = summarize_transactions(tx, time_unit="D", nonpositive="drop", engine=engine)
    assert drop["frequency"].tolist() == [1]
    assert drop.attrs["clvmodels"]["counts"]["nonpositive_rows_dropped"] == 2
    with pytest.raises(
        DataError,
        match=r"DataFrame: column 'amount' row 1: amount -4.0 <= 0 for "
        r"customer 1 on 2020-01-02",
    ):
        summarize_transactions(tx, nonpositive="error", engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_net_ignores_float_rounding_of_a_full_return(engine):
    tx = _tx(
        [
            (1, "2020-01-01", 5.0),
            (1, "2020-01-09", 10.0),
            (1, "2020-01-09", 9.99),
            (1, "2020-01-09", -19.99),
        ]
    )
    s = summarize_transactions(tx, engine=engine)
    assert s["frequency"].tolist() == [0]


@pytest.mark.parametrize("engine", ENGINES)
def test_without_same_day_merge_every_row_is_a_purchase(engine):
    tx = _tx([(1, "2020-01-01", 10.0), (1, "2020-01-01", 4.0), (1, "2020-01-03", 6.0)])
    s = summarize_transactions(
        tx, time_unit="D", merge_same_day=False, nonpositive="keep", engine=engine
    )
    # first purchase = smallest amount of the first day (4.0); repeats 10 and 6
    assert (s["frequency"].item(), s["monetary_value"].item()) == (2, 8.0)
    with pytest.raises(DataError, match="needs merge_same_day=True"):
        summarize_transactions(tx, merge_same_day=False, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_after_observation_end(engine):
    tx = _tx([(1, "2020-01-01", 1.0), (2, "2020-03-01", 1.0), (1, "2020-02-01", 1.0)])
    with pytest.raises(
        DataError,
        match=r"DataFrame: column 'date' row 1: 2 transactions after observation_end 2020-01-15; "
        r"first: customer 2 on 2020-03-01",
    ):
        summarize_transactions(tx, observation_end="2020-01-15", engine=engine)
    s = summarize_transactions(
        tx, observation_end="2020-01-15", after_observation_end="drop", engine=engine
    )
    assert s["customer_id"].tolist() == [1]
    counts = s.attrs["clvmodels"]["counts"]
    assert counts["rows_after_observation_end_dropped"] == 2
    assert counts["customers_without_purchases"] == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_calibration_after_observation_end(engine):
    tx = _tx([(1, "2020-01-01", 1.0)])
    with pytest.raises(DataError, match="calibration_end: 2020-02-01 is after observation_end"):
        summarize_transactions(tx, calibration_end="2020-02-01", engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_timestamps_truncated_and_amount_none(engine):
    tx = pd.DataFrame(
        {
            "cid": ["a", "a", "b"],
            "ts": pd.to_datetime(["2020-01-01 23:59", "2020-01-08 00:01", "2020-01-02 12:00"]),
        }
    )
    s = summarize_transactions(
        tx, customer_id="cid", date="ts", amount=None, time_unit="W", engine=engine
    )
    assert list(s.columns) == ["customer_id", "frequency", "recency", "T", "litt", "first_purchase"]
    assert s["recency"].tolist() == [1.0, 0.0]
    assert s["T"].tolist() == [1.0, 6 / 7]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        (
            _tx([(1, "2020-01-01", 1.0)]),
            {"date": "day"},
            r"DataFrame: missing column 'day' \(the date column\); columns present: "
            r"customer_id, date, amount",
        ),
        (_tx([]), {}, "DataFrame: no rows"),
        (
            _tx([(1, "2020-01-01", 1.0), (None, "2020-01-02", 1.0)]),
            {},
            "DataFrame: column 'customer_id' row 1: customer id is missing or blank",
        ),
        (
            _tx([("a", "2020-01-01", 1.0), (" ", "2020-01-02", 1.0)]),
            {},
            "DataFrame: column 'customer_id' row 1: customer id is missing or blank",
        ),
        (
            _tx([(1, "2020-01-01", 1.0), (1, "2020-13-01", 1.0)]),
            {},
            "DataFrame: column 'date' row 1: cannot parse '2020-13-01' as a date",
        ),
        (
            _tx([(1, "2020-01-01", "1.5"), (1, "2020-01-02", "abc")]),
            {},
            "DataFrame: column 'amount' row 1: amount 'abc' is not a finite number",
        ),
        (
            _tx([(1, "2020-01-01", 1.0), (1, "2020-01-02", np.nan)]),
            {},
            "DataFrame: column 'amount' row 1: amount .* is not a finite number",
        ),
        (_tx([(1, "2020-01-01", 1.0)]), {"time_unit": "M"}, "time_unit: 'M' is not one of"),
        (_tx([(1, 20200101, 1.0)]), {}, "DataFrame: column 'date' has type"),
    ],
)
def test_validation_errors(engine, frame, kwargs, message):
    with pytest.raises(DataError, match=message):
        summarize_transactions(frame, engine=engine, **kwargs)


@pytest.mark.parametrize("engine", ENGINES)
def test_csv_errors_name_the_file_line(tmp_path, engine):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,amount\n1,2020-01-01,3\n2,01/02/2020x,4\n")
    with pytest.raises(
        DataError,
        match=r"tx\.csv: column 'date' line 3: cannot parse "
        r"'01/02/2020x' as a date",
    ):
        summarize_transactions(path, engine=engine)
    path.write_text("id,date,amount\n")
    with pytest.raises(DataError, match=r"tx\.csv: missing column 'customer_id'"):
        summarize_transactions(path, engine=engine)
    path.write_text("customer_id,date,amount\n")
    with pytest.raises(DataError, match=r"tx\.csv: no rows"):
        summarize_transactions(path, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_file_sources_equal_frame_source(tmp_path, engine):
    tx = load_builtin("cdnow_sample")
    csv, parquet = tmp_path / "tx.csv.gz", tmp_path / "tx.parquet"
    tx.to_csv(csv, index=False)
    tx.to_parquet(parquet)
    expected = summarize_transactions(tx, engine=engine, **FHL_SPLIT)
    for source in (csv, parquet):
        got = summarize_transactions(source, engine=engine, **FHL_SPLIT)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
        assert got.attrs == expected.attrs


def test_repeat_transactions_per_day_add_up_to_the_summary_counts_cdnow():
    """The tracking-curve actuals: per-day repeat purchases of the summarised customers
    sum to their calibration and holdout frequencies (FHL 2005: 2,457 in calibration)."""
    summary = summarize_transactions(
        load_builtin("cdnow_sample"),
        time_unit="W",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    daily = summary.attrs["clvmodels"]["repeat_transactions_per_day"]
    days, counts = np.array(daily["day"]), np.array(daily["count"])
    cal = (np.datetime64("1997-09-30") - np.datetime64("1970-01-01")).astype(int)
    assert counts[days <= cal].sum() == summary["frequency"].sum() == 2457
    assert counts[days > cal].sum() == summary["frequency_holdout"].sum()
    assert np.all(np.diff(days) > 0) and np.all(counts > 0)


def test_options_are_declared_once_and_an_unknown_keyword_is_an_error():
    """The fourteen options are the fields of SummaryOptions, each documented in its
    docstring, which summarize_transactions's docstring points to."""
    from dataclasses import fields

    from clvmodels.data import SummaryOptions

    names = [f.name for f in fields(SummaryOptions)]
    assert names == [
        "customer_id",
        "date",
        "amount",
        "time_unit",
        "observation_end",
        "calibration_end",
        "merge_same_day",
        "nonpositive",
        "after_observation_end",
        "timezone",
        "date_format",
        "decimal",
        "delimiter",
        "product",
    ]
    doc = SummaryOptions.__doc__ or ""
    assert all(name in doc for name in names)
    assert "SummaryOptions" in (summarize_transactions.__doc__ or "")
    log = _tx([(1, "2020-01-01", 1.0)])
    with pytest.raises(TypeError, match=r"summarize_transactions\(\) .* 'calibration'.*"):
        summarize_transactions(log, calibration="2020-01-01")
    with pytest.raises(DataError, match="nonpositive: 'net' nets amounts within a day"):
        SummaryOptions(merge_same_day=False)
    options = SummaryOptions(observation_end="2020-03-01 17:30", calibration_end="2020-02-01")
    assert options.observation_end == pd.Timestamp("2020-03-01")
    assert options.window("2020-01-05") == (pd.Timestamp("2020-03-01"), pd.Timestamp("2020-02-01"))
