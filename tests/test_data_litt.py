"""The summary column ``litt``: the sum of the logs of a customer's inter-transaction times
in the calibration window (BTYDplus ``elog2cbs``; Platzer & Reutterer 2016), and its
checks in pre-summarised tables.  The DuckDB and pandas engines are held equal on random
logs by tests/test_data_summary_engines.py (every column, litt included), the Spark
engine by tests/test_spark.py (the whole frame, exactly)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.data import load_builtin, summarize_transactions, validate_summary
from clvmodels.data.summary.validate import litt_bound
from clvmodels.errors import DataError

ENGINES = ("duckdb", "pandas")
CDNOW_CAL = "1997-09-30"  # configs/cdnow.yaml: 39-week calibration (Fader, Hardie & Lee 2005)


def _hand_litt(log: pd.DataFrame, end: str, unit_days: float) -> pd.Series:
    """litt by hand, as BTYDplus elog2cbs defines it: distinct purchase days up to
    ``end``, their differences in the unit, the sum of their logs per customer."""
    days = log.loc[log["date"] <= pd.Timestamp(end), ["customer_id", "date"]].drop_duplicates()
    days = days.sort_values(["customer_id", "date"])
    gaps = days.groupby("customer_id")["date"].diff().dt.days / unit_days
    return np.log(gaps).groupby(days["customer_id"]).sum()  # NaN gaps (first) add 0


@pytest.mark.parametrize("engine", ENGINES)
def test_cdnow_litt_matches_hand_computed_elog2cbs_and_earlier_total(engine):
    log = load_builtin("cdnow_sample")
    summary = summarize_transactions(
        log, engine=engine, time_unit="W", calibration_end=CDNOW_CAL, observation_end="1998-06-30"
    )
    expected = _hand_litt(log, CDNOW_CAL, 7.0)
    got = summary.set_index("customer_id")["litt"]
    np.testing.assert_allclose(got.to_numpy(), expected.loc[got.index].to_numpy(), atol=1e-10)
    assert int(summary["frequency"].sum()) == 2457
    # the total an earlier implementation found, now reproduced by hand above
    assert summary["litt"].sum() == pytest.approx(2909.5047, abs=1e-4)
    assert list(summary.columns).index("litt") == list(summary.columns).index("revenue") + 1
    assert (summary.loc[summary["frequency"] == 0, "litt"] == 0).all()


@pytest.mark.parametrize("engine", ENGINES)
def test_litt_of_a_small_log_in_weeks_and_days(engine):
    log = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 2, 3, 3],
            # customer 1: gaps of 7 and 14 days, then a holdout purchase; 2: one purchase;
            # 3: two purchases on one day
            "date": pd.to_datetime(
                [
                    *("2021-01-01", "2021-01-08", "2021-01-22", "2021-03-01"),
                    *("2021-01-05", "2021-01-10", "2021-01-10"),
                ]
            ),
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        }
    )
    weeks = summarize_transactions(log, engine=engine, calibration_end="2021-02-01")
    assert weeks["litt"].tolist() == pytest.approx([math.log(2.0), 0.0, 0.0], abs=1e-11)
    days = summarize_transactions(log, engine=engine, calibration_end="2021-02-01", time_unit="D")
    assert days["litt"].tolist() == pytest.approx([math.log(7 * 14), 0.0, 0.0], abs=1e-11)
    # one purchase per row: customer 3 has a repeat purchase at gap 0, which is skipped
    rows = summarize_transactions(
        log, engine=engine, calibration_end="2021-02-01", merge_same_day=False, nonpositive="keep"
    )
    assert rows["frequency"].tolist() == [2, 0, 1]
    assert rows["litt"].tolist() == pytest.approx([math.log(2.0), 0.0, 0.0], abs=1e-11)


@pytest.mark.parametrize("engine", ENGINES)
def test_litt_without_amounts_stays(engine):
    log = pd.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "date": pd.to_datetime(["2021-01-01", "2021-01-15", "2021-02-26"]),
        }
    )
    summary = summarize_transactions(log, engine=engine, amount=None)
    assert "litt" in summary and "revenue" not in summary
    assert summary["litt"].iloc[0] == pytest.approx(math.log(2.0) + math.log(6.0), abs=1e-11)


def test_cdnow_summary_with_litt_validates():
    summary = summarize_transactions("builtin:cdnow_sample", calibration_end=CDNOW_CAL)
    out = validate_summary(summary[["customer_id", "frequency", "recency", "T", "litt"]])
    np.testing.assert_array_equal(out["litt"].to_numpy(), summary["litt"].to_numpy())


days = st.lists(
    st.tuples(st.integers(1, 4), st.integers(0, 60)), min_size=1, max_size=30
)  # (customer, day) pairs: repeated days test the zero gaps


@settings(max_examples=40, deadline=None)
@given(rows=days, merge=st.booleans(), unit=st.sampled_from(["D", "W"]))
def test_every_summary_passes_the_litt_checks(rows, merge, unit):
    """The engines' litt is within the bound validate_summary applies, merged or not."""
    log = pd.DataFrame(
        {
            "customer_id": [c for c, _ in rows],
            "date": pd.Timestamp("2022-01-01") + pd.to_timedelta([d for _, d in rows], unit="D"),
        }
    )
    summary = summarize_transactions(
        log, amount=None, merge_same_day=merge, nonpositive="keep", time_unit=unit
    )
    validate_summary(summary[["frequency", "recency", "T", "litt"]], new_customers=True)


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(0.01, 100.0), min_size=1, max_size=20),
    zeros=st.integers(0, 10),
)
def test_litt_bound_holds_for_any_gaps_and_skipped_zero_gaps(gaps, zeros):
    """Jensen: x positive gaps summing to t_x have Σ ln g <= x ln(t_x/x); with zero gaps
    skipped (x counts them, litt does not) the bound's relaxation still holds."""
    x, t_x = len(gaps), float(np.sum(gaps))
    litt = float(np.sum(np.log(gaps)))
    assert litt <= x * math.log(t_x / x) + 1e-9
    assert litt <= float(litt_bound(np.array([x + zeros]), np.array([t_x]))[0]) + 1e-9
    if zeros == 0:  # no zero gaps: the bound is Jensen's when the mean gap is >= e
        bound = float(litt_bound(np.array([x]), np.array([t_x]))[0])
        assert bound >= x * math.log(t_x / x) - 1e-9
        if t_x / x >= math.e:
            assert bound == pytest.approx(x * math.log(t_x / x))


@pytest.mark.parametrize(
    ("litt", "message"),
    [
        ([0.0, 0.5, 0.0], r"data\.csv: column 'litt' row 1 .*must be 0 when frequency is 0"),
        ([0.0, 0.0, 3.0], r"data\.csv: column 'litt' row 2 .*greater than frequency·ln"),
        ([np.nan, 0.0, 0.0], r"data\.csv: column 'litt' row 0 .*not a finite number"),
        ([np.inf, 0.0, 0.0], r"data\.csv: column 'litt' row 0 .*not a finite number"),
    ],
)
def test_validate_summary_litt_errors_name_file_row_and_column(litt, message):
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "frequency": [2, 0, 2],
            "recency": [4.0, 0.0, 4.0],
            "T": [10.0, 10.0, 10.0],
            "litt": litt,
        }
    )
    with pytest.raises(DataError, match=message) as info:
        validate_summary(frame, source_name="data.csv")
    assert "\n" not in str(info.value)


def test_validate_summary_accepts_jensen_equality_and_renamed_litt():
    # two equal gaps of 2 weeks: litt = 2 ln 2 = x ln(t_x / x), the bound itself
    frame = pd.DataFrame(
        {"x": [2, 0], "t_x": [4.0, 0.0], "T.cal": [10.0, 8.0], "logs": [2 * math.log(2), 0.0]}
    )
    roles = {"frequency": "x", "recency": "t_x", "T": "T.cal", "litt": "logs"}
    out = validate_summary(frame, columns=roles)
    assert out["litt"].tolist() == [2 * math.log(2), 0.0]
