"""Subscriptions -> survival rows and cohort tables; cohort tables -> weighted rows."""

from __future__ import annotations

import pandas as pd
import pytest

from clvmodels.data import (
    load_builtin,
    survival_from_subscriptions,
    survival_to_individual,
    validate_survival_table,
)
from clvmodels.errors import DataError


def test_fader_hardie_2007_regular_cohort_seven_calibration_years():
    # FH (2007) fit the sBG to years 1..7 of Table 1: 1000 - 241 churned, 241 censored.
    table = load_builtin("retention_fh2007")
    rows = survival_to_individual(table.loc[table["cohort"] == "regular"], calibration_periods=7)
    assert rows["count"].sum() == 1000
    churned = rows.loc[rows["churned"]]
    assert churned["tenure"].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert churned["count"].tolist() == [369, 163, 86, 56, 37, 27, 21]
    censored = rows.loc[~rows["churned"]]
    assert censored[["tenure", "count"]].values.tolist() == [[7, 241]]


def test_table_to_individual_both_cohorts_all_periods():
    rows = survival_to_individual(load_builtin("retention_fh2007"))
    assert rows.groupby("cohort")["count"].sum().to_dict() == {"high_end": 1000, "regular": 1000}
    assert rows.loc[~rows["churned"], "count"].tolist() == [394, 173]


def test_hand_worked_table_round_trip():
    table = pd.DataFrame({"cohort": "c", "period": [0, 1, 2], "alive": [10, 6, 5]})
    rows = survival_to_individual(table)
    assert rows.values.tolist() == [["c", 0, True, 4], ["c", 1, True, 1], ["c", 2, False, 5]]
    with pytest.raises(DataError, match="calibration_periods: 3 but cohort 'c' has periods"):
        survival_to_individual(table, calibration_periods=3)


def test_subscriptions_with_dates_yearly():
    subs = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "start": ["2020-01-15", "2020-03-01", "2020-06-01", "2021-02-01", "2020-02-01"],
            "end": ["2021-01-20", None, "2020-12-01", None, "2022-02-01"],
        }
    )
    individual, table = survival_from_subscriptions(
        subs, customer_id="id", start="start", end="end", observation_end="2022-06-30"
    )
    assert individual["tenure"].tolist() == [1, 2, 0, 1, 2]
    assert individual["churned"].tolist() == [True, False, True, False, True]
    assert individual["cohort"].tolist() == ["2020", "2020", "2020", "2021", "2020"]
    # every 2020 member could be seen for 2 whole years by 2022-06-30; 2021 for 1
    assert table.values.tolist() == [
        ["2020", 0, 4],
        ["2020", 1, 3],
        ["2020", 2, 2],
        ["2021", 0, 1],
        ["2021", 1, 1],
    ]


def test_subscriptions_monthly_cohorts_and_calendar_months():
    subs = pd.DataFrame(
        {"id": [1, 2], "start": ["2020-01-31", "2020-01-05"], "end": ["2020-02-29", "2020-03-05"]}
    )
    individual, table = survival_from_subscriptions(
        subs, customer_id="id", start="start", end="end", time_unit="M"
    )
    assert individual["tenure"].tolist() == [0, 2]
    assert individual["cohort"].tolist() == ["2020-01", "2020-01"]
    assert table["alive"].tolist() == [2, 1]  # horizon: 2020-01-31 -> 2020-03-05 = 1 month


def test_subscriptions_from_tenure_and_flag():
    subs = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "tenure": [0, 3, 2, 5],
            "lost": [True, False, 1, 0],
            "segment": ["a", "a", "a", "b"],
        }
    )
    individual, table = survival_from_subscriptions(
        subs, customer_id="id", tenure="tenure", churned="lost", cohort="segment"
    )
    assert individual["churned"].tolist() == [True, False, True, False]
    # cohort a is observed for 3 periods (its active member), cohort b for 5
    assert table.loc[table["cohort"] == "a", "alive"].tolist() == [3, 2, 2, 1]
    assert table.loc[table["cohort"] == "b", "alive"].tolist() == [1] * 6


def test_churn_flags_read_from_csv_text_are_understood(tmp_path):
    # a CSV keeps cells as text: true/false, 1/0 and pandas' 1.0/0.0 all mean churned or not
    from clvmodels.data import read_table

    path = tmp_path / "subs.csv"
    path.write_text("id,tenure,lost\n1,0,true\n2,3,False\n3,2,1\n4,5,0\n5,1,1.0\n6,4,0.0\n")
    individual, _ = survival_from_subscriptions(
        read_table(str(path)), customer_id="id", tenure="tenure", churned="lost"
    )
    assert individual["churned"].tolist() == [True, False, True, False, True, False]


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        (
            pd.DataFrame({"id": [1, 2], "start": ["2020-01-01", "bad"]}),
            {"start": "start"},
            r"column 'start' row 1: cannot parse 'bad' as a date",
        ),
        (
            pd.DataFrame({"id": [1], "start": ["2020-01-01"], "end": ["2019-01-01"]}),
            {"start": "start", "end": "end"},
            r"column 'end' row 0: end before start",
        ),
        (
            pd.DataFrame({"id": [1], "tenure": [-1], "lost": [True]}),
            {"tenure": "tenure", "churned": "lost"},
            r"column 'tenure' row 0: not a non-negative",
        ),
        (
            pd.DataFrame({"id": [1], "tenure": [1], "lost": ["maybe"]}),
            {"tenure": "tenure", "churned": "lost"},
            r"column 'lost' row 0: not a boolean",
        ),
        (pd.DataFrame({"id": [1]}), {"start": "begin"}, r"missing column 'begin'"),
        (pd.DataFrame({"id": [1]}), {}, r"give either start"),
        (
            pd.DataFrame({"id": [1], "start": ["2020-01-01"]}),
            {"start": "start", "time_unit": "Q"},
            r"time_unit: 'Q'",
        ),
    ],
)
def test_subscription_errors(frame, kwargs, message):
    with pytest.raises(DataError, match=message):
        survival_from_subscriptions(frame, customer_id="id", **kwargs)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pd.DataFrame({"cohort": "c", "period": [1, 2], "alive": [5, 4]}), "period 0 is missing"),
        (
            pd.DataFrame({"cohort": "c", "period": [0, 2], "alive": [5, 4]}),
            r"row 1: periods must be consecutive 0..n \(got 0 then 2\)",
        ),
        (
            pd.DataFrame({"cohort": "c", "period": [0, 1], "alive": [5, 6]}),
            r"column 'alive' cohort 'c' row 1: alive rises from 5 to 6",
        ),
        (
            pd.DataFrame({"cohort": "c", "period": [0, 1], "alive": [5, 2.5]}),
            r"column 'alive' row 1: not a non-negative integer",
        ),
        (pd.DataFrame({"cohort": "c", "period": [0, 1]}), r"missing column 'alive'"),
    ],
)
def test_survival_table_errors(table, message):
    with pytest.raises(DataError, match=message):
        validate_survival_table(table, "retention.csv")


def test_survival_table_sorted_and_typed():
    table = pd.DataFrame({"cohort": [2, 2, 1], "period": [1, 0, 0], "alive": [3.0, 4, 2]})
    out = validate_survival_table(table)
    assert out.values.tolist() == [["1", 0, 2], ["2", 0, 4], ["2", 1, 3]]
    assert out["alive"].dtype == "int64"
