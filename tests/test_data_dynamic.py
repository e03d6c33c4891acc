"""The dynamic-covariate data layer: long tables, the per-period panel, its future.

Expected values are worked by hand from the definitions in clvmodels/data/dynamic.py
(periods [s, s + 7 days), day points, calibration end = the calibration_end date), and
the row sums come from the transaction summary of the CDNOW sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clvmodels.data import load_builtin, summarize_transactions
from clvmodels.data.calendar import calendar_table_for
from clvmodels.data.dynamic import build_panel, panel_from_log
from clvmodels.data.dynamic_table import check_dynamic_table, read_dynamic_covariates
from clvmodels.errors import ConfigError, DataError

D = np.datetime64


def _weeks(first: str, n: int) -> list[str]:
    return [str(D(first) + np.timedelta64(7 * k, "D")) for k in range(n)]


def _promo() -> pd.DataFrame:
    """Customer-level table: 0042 from 2025-01-06, 7 from 01-13, 0100 from 01-20; all to 02-03."""
    rows = [
        ("0042", day, v) for day, v in zip(_weeks("2025-01-06", 5), [1, 2, 3, 4, 5], strict=True)
    ]
    rows += [
        ("7", day, v) for day, v in zip(_weeks("2025-01-13", 4), [10, 20, 30, 40], strict=True)
    ]
    rows += [("0100", day, v) for day, v in zip(_weeks("2025-01-20", 3), [0, 1, 0], strict=True)]
    return pd.DataFrame(rows, columns=["customer_id", "period_start", "promo"]).astype(str)


def _price() -> pd.DataFrame:
    """Population-wide table from 2024-12-30 to 2025-02-10 (7 weeks)."""
    return pd.DataFrame({"period_start": _weeks("2024-12-30", 7), "price": np.arange(7) / 10 + 1})


def _hand_panel(**kwargs):
    """Three customers, calibration end Thursday 2025-01-23 (mid-period)."""
    ids = ["0042", "7", "0100"]
    first = np.array(["2025-01-08", "2025-01-15", "2025-01-20"], dtype="datetime64[D]")
    repeats = (
        np.array([0, 0, 2]),
        np.array(["2025-01-13", "2025-01-22", "2025-01-23"], dtype="datetime64[D]"),
    )
    tables = kwargs.pop("tables", None)
    if tables is None:
        tables = [
            read_dynamic_covariates(_promo(), time_unit="W"),
            read_dynamic_covariates(_price(), time_unit="W"),
        ]
    return build_panel(ids, first, repeats, "2025-01-23", "W", tables, **kwargs)


def test_hand_worked_weekly_panel():
    panel = _hand_panel()
    assert list(panel.customer_ids) == ["0042", "7", "0100"]
    assert list(panel.period_starts.astype(str)) == _weeks("2025-01-06", 5)
    assert panel.n_calibration == 3 and panel.calibration_end == D("2025-01-23")
    # 0042: born Wed 01-08 (5 days of week 1), repeats Mon 01-13 and Wed 01-22, T = 15 days
    # 7: born Wed 01-15, no repeat; 0100: born Mon 01-20, repeat on the calibration end day
    np.testing.assert_allclose(
        panel.exposure * 7, [[5, 7, 3], [0, 5, 3], [0, 0, 3]], rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        panel.before * 7, [[5, 7, 2], [0, 0, 0], [0, 0, 3]], rtol=0, atol=1e-12
    )
    np.testing.assert_array_equal(panel.counts, [[0, 1, 1], [0, 0, 0], [0, 0, 1]])
    assert panel.names == ("promo", "price")
    # 7 has no row for 01-06 (before her birth): her first value is repeated there
    np.testing.assert_array_equal(
        panel.values["promo"], [[1, 2, 3, 4, 5], [10, 10, 20, 30, 40], [0, 0, 0, 1, 0]]
    )
    np.testing.assert_allclose(panel.values["price"], [[1.1, 1.2, 1.3, 1.4, 1.5]])
    promo, price = panel.calibration_values(["promo", "price"])
    assert promo.shape == (3, 3) and price.shape == (1, 3)


def test_future_lengths_and_values_by_hand():
    panel = _hand_panel()
    lengths, (price, promo) = panel.future(2, ["price", "promo"])
    # (01-23, 02-06]: 4 days of the week of 01-20, the week of 01-27, 3 days of 02-03
    np.testing.assert_allclose(lengths * 7, [4, 7, 3], rtol=0, atol=1e-12)
    np.testing.assert_allclose(price, [[1.3, 1.4, 1.5]])
    np.testing.assert_array_equal(promo[:, 0], [3, 20, 0])
    lengths, _ = panel.future(4 / 7)  # ends on 01-27, a period start: no zero-length period
    np.testing.assert_allclose(lengths * 7, [4])
    assert panel.future(0)[0].shape == (0,)
    lengths, _ = panel.future(2 + 4 / 7)  # up to the end of the last period given
    assert len(lengths) == 3


def test_future_beyond_the_given_periods_says_how_far_each_reaches():
    panel = _hand_panel()  # calibration end 2025-01-23; last period 2025-02-03..02-09
    # 3 weeks = 21 days after 01-23: to the start of 02-13, in the week of 02-10; the
    # covariates cover 18 days (to the start of 02-10): at most 18 / 7 weeks
    with pytest.raises(DataError) as err:
        panel.future(3)
    assert str(err.value) == (
        "dynamic covariates: the horizon 3 W ends 21 days after the calibration end "
        "2025-01-23, at the start of 2025-02-13 (in the period starting 2025-02-10), but "
        "the covariates end 18 days after it, at the start of 2025-02-10 (their last period "
        "starts 2025-02-03); give covariate values up to the period starting 2025-02-10, or "
        "a horizon of at most 2.57143 W"
    )
    assert panel.check_horizon(18 / 7) == pytest.approx(18 / 7)
    with pytest.raises(
        DataError,
        match=r"^promo.csv: clv.horizon 2.6 W ends 18.2 days after the calibration end "
        r"2025-01-23, during 2025-02-10 \(in the period starting 2025-02-10\)",
    ):
        panel.check_horizon(2.6, name="clv.horizon 2.6 W", source_name="promo.csv")
    with pytest.raises(ConfigError, match="horizon -1 is not a number >= 0"):
        panel.future(-1)
    with pytest.raises(ConfigError, match="a lifetime horizon needs covariate values for ever"):
        panel.future(float("inf"))


def test_subset_keeps_shared_rows():
    panel = _hand_panel().subset(np.array([2, 0]))
    assert list(panel.customer_ids) == ["0100", "0042"]
    assert panel.values["promo"].shape == (2, 5) and panel.values["price"].shape == (1, 5)
    np.testing.assert_array_equal(panel.counts, [[0, 0, 1], [0, 1, 1]])
    assert _hand_panel().subset(np.array([False, True, False])).n_customers == 1


def test_names_choose_and_order_covariates():
    assert _hand_panel(names=["price"]).names == ("price",)
    with pytest.raises(DataError, match="no covariate 'nope'"):
        _hand_panel(names=["nope"])
    with pytest.raises(ConfigError, match="no covariate 'nope'"):
        _hand_panel().calibration_values(["nope"])
    with pytest.raises(DataError, match="covariate 'price' is listed twice in names"):
        _hand_panel(names=["price", "promo", "price"])


def test_cdnow_row_sums_equal_the_summary():
    options = {"time_unit": "W", "calibration_end": "1997-09-30", "observation_end": "1998-06-30"}
    log = load_builtin("cdnow_sample")
    summary = summarize_transactions(log, **options)
    calendar = calendar_table_for(
        summary["first_purchase"], "1997-09-30", 39, "W", seasonality="month"
    )
    panel = panel_from_log(log, summary, [calendar], **options)
    assert list(panel.customer_ids) == list(summary["customer_id"].astype(str))
    np.testing.assert_array_equal(panel.counts.sum(axis=1), summary["frequency"])
    np.testing.assert_allclose(panel.before.sum(axis=1), summary["recency"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(panel.exposure.sum(axis=1), summary["T"], rtol=0, atol=1e-12)
    # the grid starts on the earliest first purchase, 1997-01-01 (a Wednesday)
    assert panel.period_starts[0] == D("1997-01-01") and panel.n_calibration == 39
    lengths, _ = panel.future(39)
    assert lengths.sum() == pytest.approx(39, abs=1e-12)
    other = dict(options, calibration_end="1997-08-31")
    with pytest.raises(DataError, match=r"panel_from_log: customer .* in the summary but"):
        panel_from_log(log, summary, [calendar], **other)


def test_zero_padded_ids_survive_a_csv_file(tmp_path):
    path = tmp_path / "promo.csv"
    _promo().to_csv(path, index=False)
    table = read_dynamic_covariates(path, time_unit="W")
    assert set(table["customer_id"]) == {"0042", "7", "0100"}
    panel = _hand_panel(tables=[table, read_dynamic_covariates(_price(), time_unit="W")])
    assert panel.values["promo"][0, 0] == 1
    parquet = tmp_path / "promo.parquet"
    _promo().to_parquet(parquet)
    assert set(read_dynamic_covariates(parquet, time_unit="W")["customer_id"]) == {
        "0042",
        "7",
        "0100",
    }


def test_booleans_read_as_one_and_zero():
    table = pd.DataFrame({"period_start": _weeks("2025-01-06", 3), "on": ["TRUE", "false", "1"]})
    out = read_dynamic_covariates(table, time_unit="W")
    assert list(out["on"]) == [1.0, 0.0, 1.0]


def _csv(tmp_path, text: str):
    path = tmp_path / "dyn.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customer_id,x\n1,2\n", r"dyn.csv: missing column 'period_start'"),
        (
            "period_start,x\n2025-01-06,1\n2025-13-40,2\n",
            r"dyn.csv: column 'period_start' line 3: cannot parse '2025-13-40' as a date",
        ),
        ("period_start,x\n2025-01-06,1\n2025-01-13,abc\n", r"column 'x' line 3: 'abc' is not a"),
        ("period_start,x\n2025-01-06,inf\n", r"column 'x' line 2: 'inf' is not a finite number"),
        ("period_start,x\n2025-01-06,\n", r"column 'x' line 2: missing value"),
        (
            "customer_id,period_start,x\n0042,2025-01-06,1\n0042,2025-01-06,2\n",
            r"dyn.csv: customer 0042 has two rows for the period starting 2025-01-06 "
            r"\(the second at line 3\)",
        ),
        (
            "period_start,x\n2025-03-03,1\n2025-03-17,2\n",
            r"dyn.csv: period 2025-03-10 missing between 2025-03-03 and 2025-03-17",
        ),
        (
            "period_start,x\n2025-03-03,1\n2025-03-12,2\n",
            r"column 'period_start' line 3: period 2025-03-12 is off the weekly grid of "
            r"2025-03-03 \(line 2\)",
        ),
        (
            "customer_id,period_start,x\n1,2025-03-03,1\n1,2025-03-17,1\n2,2025-03-10,1\n",
            r"dyn.csv: customer 1 has no row for the period 2025-03-10 between 2025-03-03 "
            r"and 2025-03-17",
        ),
        ("period_start,x\n2025-03-03 10:00,1\n", r"line 2: '2025-03-03 10:00' is not a day"),
        ("customer_id,period_start,x\n,2025-03-03,1\n", r"column 'customer_id' line 2: missing"),
        ("period_start\n2025-03-03\n", r"no covariate column besides"),
    ],
)
def test_table_errors_name_file_line_and_column(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        read_dynamic_covariates(_csv(tmp_path, text), time_unit="W")


def test_chosen_columns_and_units():
    table = pd.DataFrame({"period_start": _weeks("2025-01-06", 2), "a": [1, 2], "b": [3, 4]})
    assert list(read_dynamic_covariates(table, time_unit="W", columns=["b"]).columns) == [
        "period_start",
        "b",
    ]
    with pytest.raises(DataError, match="missing column 'c'"):
        read_dynamic_covariates(table, time_unit="W", columns=["c"])
    with pytest.raises(DataError, match="covariate column 'b' is listed twice"):
        read_dynamic_covariates(table, time_unit="W", columns=["b", "a", "b"])
    with pytest.raises(DataError, match="time_unit: 'M'"):
        read_dynamic_covariates(table, time_unit="M")
    daily = pd.DataFrame({"period_start": ["2025-01-06", "2025-01-07"], "a": [1, 2]})
    assert len(read_dynamic_covariates(daily, time_unit="D")) == 2


def test_a_customer_without_her_birth_period_is_named():
    promo = _promo()
    promo = promo.loc[~((promo["customer_id"] == "0042") & (promo["period_start"] == "2025-01-06"))]
    with pytest.raises(
        DataError,
        match=r"^DataFrame: customer 0042 has no dynamic covariates for the period starting "
        r"2025-01-06$",
    ):
        _hand_panel(tables=[read_dynamic_covariates(promo, time_unit="W")])
    absent = _promo().loc[lambda t: t["customer_id"] != "7"]
    with pytest.raises(
        DataError, match="customer 7 has no dynamic covariates for the period starting 2025-01-13"
    ):
        _hand_panel(tables=[absent])
    short = _promo().loc[
        lambda t: ~((t["customer_id"] == "0100") & (t["period_start"] >= "2025-02-03"))
    ]
    with pytest.raises(
        DataError,
        match="customer 0100 has no dynamic covariates for the period starting 2025-02-03",
    ):
        _hand_panel(tables=[short])
    late_price = _price().iloc[2:]  # from 2025-01-13: after 0042's birth period
    with pytest.raises(
        DataError,
        match="customer 0042 has no dynamic covariates for the period starting 2025-01-06",
    ):
        _hand_panel(tables=[late_price])


def test_table_errors_when_building():
    price = _price()
    with pytest.raises(
        DataError,
        match=r"end with the period starting 2025-01-13, before the "
        r"calibration end 2025-01-23",
    ):
        _hand_panel(tables=[price.iloc[:3]])
    with pytest.raises(
        DataError,
        match=r"^dynamic covariates\[1\]: covariate 'price' is also in dynamic covariates\[0\]",
    ):
        _hand_panel(tables=[price, price.copy()])
    calendar = calendar_table_for(["2025-01-06"], "2025-01-23", 2, "W", holidays=["2025-01-01"])
    with pytest.raises(
        DataError,
        match=r"^calendar covariates: covariate 'holiday' is also in prices.csv; give each",
    ):
        _hand_panel(
            tables=[
                check_dynamic_table(_price().assign(holiday=0.0), "prices.csv", time_unit="W"),
                calendar,
            ]
        )
    shifted = price.assign(period_start=_weeks("2025-01-01", 7), other=1.0).drop(columns="price")
    with pytest.raises(DataError, match="not on the grid of"):
        _hand_panel(tables=[price, shifted])
    with pytest.raises(DataError, match="give a list"):
        _hand_panel(tables=[])
    first = np.array(["2025-02-01"], dtype="datetime64[D]")
    with pytest.raises(DataError, match="after the calibration end 2025-01-23"):
        build_panel(["1"], first, ([], []), "2025-01-23", "W", [price])
    with pytest.raises(DataError, match="outside her calibration window"):
        build_panel(
            ["1"],
            np.array(["2025-01-08"], dtype="datetime64[D]"),
            ([0], np.array(["2025-01-24"], dtype="datetime64[D]")),
            "2025-01-23",
            "W",
            [price],
        )


def test_canonical_table_is_checked_again():
    table = check_dynamic_table(_price(), "price.csv", time_unit="W")
    assert table.attrs["clvmodels_dynamic"]["source"] == "price.csv"
    assert table["period_start"].dtype == "datetime64[ns]"


@given(
    births=st.lists(st.integers(0, 60), min_size=1, max_size=5),
    extra=st.lists(st.integers(0, 60), max_size=10),
    cal_after=st.integers(0, 30),
    phase=st.integers(0, 6),
    unit=st.sampled_from(["D", "W"]),
    horizon=st.floats(0, 5),
)
def test_row_sums_are_T_recency_frequency(births, extra, cal_after, phase, unit, horizon):
    base = D("2025-01-01")
    cal = max(births) + cal_after
    first = base + np.array(births).astype("timedelta64[D]")
    who = np.array([k % len(births) for k in range(len(extra))], dtype="int64")
    days = np.minimum(np.array(births)[who] + np.array(extra, dtype="int64"), cal)
    step = 7 if unit == "W" else 1
    n = (cal + phase) // step + 5 + 2  # up to a horizon of 5 units past the calibration end
    table = pd.DataFrame(
        {"period_start": base - np.timedelta64(phase, "D") + step * np.arange(n), "x": 1.0}
    )
    panel = build_panel(
        [str(k) for k in range(len(births))],
        first,
        (who, base + days.astype("timedelta64[D]")),
        base + np.timedelta64(cal, "D"),
        unit,
        [table],
    )
    T = (cal - np.array(births)) / step
    last = np.array(births)
    np.maximum.at(last, who, days)
    np.testing.assert_allclose(panel.exposure.sum(axis=1), T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        panel.before.sum(axis=1), (last - np.array(births)) / step, rtol=0, atol=1e-12
    )
    np.testing.assert_array_equal(panel.counts.sum(axis=1), np.bincount(who, minlength=len(births)))
    assert (panel.exposure >= 0).all() and (panel.before <= panel.exposure + 1e-15).all()
    lengths, (x,) = panel.future(horizon)
    assert lengths.sum() == pytest.approx(horizon, abs=1e-12)
    assert x.shape == (1, len(lengths))
