"""Calendar covariates; expected shares worked by hand from a calendar."""

from __future__ import annotations

import numpy as np
import pytest

from clvmodels.data.calendar import LAST_DAY, calendar_covariates, calendar_table_for, day_text
from clvmodels.errors import ConfigError


def test_a_week_spanning_two_months_gets_three_and_four_sevenths():
    # Wed 2025-01-29 .. Tue 2025-02-04: 3 days of January, 4 of February
    table = calendar_covariates("2025-01-29", 2, "W", seasonality="month")
    assert list(table.columns) == ["period_start", *(f"month_{m:02d}" for m in range(2, 13))]
    assert table["month_02"].tolist() == pytest.approx([4 / 7, 1.0])
    assert table.drop(columns=["period_start", "month_02"]).to_numpy().sum() == 0
    assert str(table["period_start"].iloc[1].date()) == "2025-02-05"


def test_quarters_high_season_campaigns_and_holidays_by_hand():
    table = calendar_covariates(
        "2025-03-29",  # Sat: 3 days of March (Q1), 4 of April (Q2)
        2,
        "W",
        seasonality="quarter",
        high_season=[4, 12],
        campaigns=[{"name": "spring_sale", "start": "2025-04-01", "end": "2025-04-06"}],
        holidays=["2025-04-06"],
    )
    assert list(table.columns) == [
        "period_start",
        "quarter_2",
        "quarter_3",
        "quarter_4",
        "high_season",
        "spring_sale",
        "holiday",
    ]
    assert table["quarter_2"].tolist() == pytest.approx([4 / 7, 1.0])
    assert table["high_season"].tolist() == pytest.approx([4 / 7, 1.0])
    # campaign 04-01..04-06: 04-01..04-04 in week 1, 04-05..04-06 in week 2
    assert table["spring_sale"].tolist() == pytest.approx([4 / 7, 2 / 7])
    assert table["holiday"].tolist() == [0.0, 1.0]


def test_daily_periods_are_zero_or_one():
    table = calendar_covariates("2025-01-30", 4, "D", seasonality="month", holidays=["2025-02-01"])
    assert table["month_02"].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert table["holiday"].tolist() == [0.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"^calendar: no covariate asked for"),
        ({"seasonality": "week"}, r"^calendar.seasonality: 'week' is not one of month, quarter"),
        ({"high_season": [1, 13]}, r"^calendar.high_season\[1\]: 13 is not a month \(1-12\)"),
        ({"high_season": []}, r"^calendar.high_season: the list of months is empty"),
        ({"high_season": [6, 7, 6]}, r"^calendar.high_season: month 6 is listed twice"),
        ({"campaigns": [{"name": "x", "start": "2025-01-05"}]}, r"campaigns\[0\].end: missing"),
        (
            {"campaigns": [{"name": "x", "start": "2025-01-05", "end": "2025-01-01"}]},
            r"^calendar.campaigns\[0\].end: 2025-01-01 is before its start 2025-01-05",
        ),
        (
            {"campaigns": [{"name": "holiday", "start": "2025-01-05", "end": "2025-01-06"}]},
            r"'holiday' is already a column",
        ),
        (
            {"campaigns": [{"name": "x", "start": "soon", "end": "2025-01-06"}]},
            r"^calendar.campaigns\[0\].start: cannot parse 'soon' as a date",
        ),
        ({"holidays": ["2025-02-30"]}, r"^calendar.holidays\[0\]: cannot parse"),
    ],
)
def test_bad_arguments_are_one_line_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        calendar_covariates("2025-01-06", 3, "W", **kwargs)


def test_bad_grid_arguments():
    with pytest.raises(ConfigError, match="time_unit: 'M'"):
        calendar_covariates("2025-01-06", 3, "M", seasonality="month")
    with pytest.raises(ConfigError, match="n_periods: 0 is not a positive integer"):
        calendar_covariates("2025-01-06", 0, "W", seasonality="month")


def test_table_for_a_run_covers_first_purchase_to_the_horizon():
    firsts = np.array(["1997-01-03", "1997-01-01", "1997-02-10"], dtype="datetime64[D]")
    table = calendar_table_for(firsts, "1997-09-30", 39, "W", seasonality="month")
    starts = table["period_start"].to_numpy("datetime64[D]")
    assert starts[0] == np.datetime64("1997-01-01")  # anchored on the earliest purchase
    # 1997-09-30 + 39 weeks = 1998-06-30, in the period starting Wed 1998-06-24
    assert starts[-1] == np.datetime64("1998-06-24") and len(starts) == 78
    anchored = calendar_table_for(
        firsts, "1997-09-30", 0, "W", anchor="1996-12-30", holidays=["1997-12-25"]
    )
    assert anchored["period_start"].iloc[0].day_name() == "Monday"
    assert str(anchored["period_start"].iloc[-1].date()) == "1997-09-29"


@pytest.mark.parametrize(
    ("horizon", "message"),
    [
        (-1, r"^calendar.horizon: -1 is not a number >= 0$"),
        ("26", r"^calendar.horizon: '26' is not a number >= 0$"),
        (float("inf"), r"^calendar.horizon: a lifetime horizon needs covariate values for ever"),
        (
            5_200_000,
            r"^calendar.horizon: 5200000 W after the calibration end 1997-09-30 is too long "
            r"for the calendar, which ends on 2262-04-11 \(the last day of pandas dates\); "
            r"give at most 13802.4 W$",
        ),
    ],
)
def test_table_for_refuses_a_bad_horizon(horizon, message):
    with pytest.raises(ConfigError, match=message):
        calendar_table_for(["1997-01-01"], "1997-09-30", horizon, "W", seasonality="month")


def test_the_calendar_reaches_the_last_day_of_pandas_dates_and_no_further():
    # 2262-04-11 is pandas' last day (Timestamp.max); 1997-09-30 + 13802 weeks is before it
    assert day_text(LAST_DAY) == "2262-04-11"
    table = calendar_table_for(["1997-09-24"], "1997-09-30", 13802, "W", high_season=[4])
    assert str(table["period_start"].iloc[-1].date()) == "2262-04-02"
    assert table.attrs["clvmodels_dynamic"]["source"] == "calendar covariates"
    with pytest.raises(ConfigError, match=r"^calendar.n_periods: 2 periods from 2262-04-11 start"):
        calendar_covariates("2262-04-11", 2, "W", high_season=[4])


def test_a_campaign_name_given_twice_adds_its_windows_to_one_column():
    table = calendar_covariates(
        "2024-03-04",
        54,
        "W",
        campaigns=[
            {"name": "sale", "start": "2024-03-11", "end": "2024-03-17"},
            {"name": "sale", "start": "2025-03-10", "end": "2025-03-12"},
        ],
    )
    assert list(table.columns) == ["period_start", "sale"]
    assert table["sale"].iloc[1] == 1.0
    assert table["sale"].iloc[53] == pytest.approx(3 / 7)
    assert table["sale"].sum() == pytest.approx(1 + 3 / 7)
