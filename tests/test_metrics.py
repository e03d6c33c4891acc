"""Seed marketing metrics against hand-worked examples and their published definitions.

Every expected value is worked out by hand in a comment next to the assertion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.errors import DataError
from clvmodels.metrics import (
    RFM_SEGMENTS,
    average_order_value,
    churn_rate,
    clv_minus_cac,
    customer_acquisition_cost,
    customer_retention_rate,
    customer_value,
    ltv_to_cac,
    max_cost_per_click,
    net_promoter_score,
    purchase_frequency,
    repeat_purchase_rate,
    rfm_scores,
    seed_metrics,
    segment_values,
    simple_clv,
)


@pytest.fixture
def summary() -> pd.DataFrame:
    """Six customers, time in months.

    ==  =========  =======  ==  =======  ======  ===  =============
    id  frequency  recency  T   revenue  orders  AOV  T - recency
    ==  =========  =======  ==  =======  ======  ===  =============
    a   0          0        9   20       1       20   9
    b   1          4        10  60       2       30   6
    c   2          6        10  210      3       70   4
    d   4          10       11  125      5       25   1
    e   9          8        8   100      10      10   0
    f   3          3        10  60       4       15   7
    ==  =========  =======  ==  =======  ======  ===  =============
    """
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f"],
            "frequency": [0, 1, 2, 4, 9, 3],
            "recency": [0.0, 4.0, 6.0, 10.0, 8.0, 3.0],
            "T": [9.0, 10.0, 10.0, 11.0, 8.0, 10.0],
            "monetary_value": [0.0, 30.0, 70.0, 25.0, 10.0, 15.0],
            "revenue": [20.0, 60.0, 210.0, 125.0, 100.0, 60.0],
        }
    )


def scores_by_id(rfm: pd.DataFrame) -> dict[str, tuple[int, int, int, int, str]]:
    return {
        row.customer_id: (row.r_score, row.f_score, row.m_score, row.rfm_score, row.rfm_segment)
        for row in rfm.itertuples()
    }


# ------------------------------------------------------------------ scalar metrics


def test_aov_pf_customer_value_simple_clv_hand_worked_example():
    # A store: revenue 10,000 from 250 orders by 100 customers over one year.
    # AOV = 10,000 / 250 = 40
    assert average_order_value(10_000, 250) == pytest.approx(40.0)
    # purchase frequency = 250 / 100 = 2.5 orders per customer per year
    assert purchase_frequency(250, 100) == pytest.approx(2.5)
    # customer value = 40 * 2.5 = 100 per year
    assert customer_value(40.0, 2.5) == pytest.approx(100.0)
    # simple CLV = 100 * 3 (default lifespan) = 300; with 5 years 100 * 5 = 500
    assert simple_clv(100.0) == pytest.approx(300.0)
    assert simple_clv(100.0, lifespan_years=5) == pytest.approx(500.0)


def test_scalar_metrics_return_python_float_for_scalars():
    assert type(average_order_value(10, 4)) is float
    assert type(simple_clv(np.float64(2.0))) is float


def test_scalar_metrics_broadcast_array_likes():
    # [100/4, 90/3] = [25, 30]; one order count broadcasts: [100/5, 90/5] = [20, 18]
    np.testing.assert_allclose(average_order_value([100, 90], [4, 3]), [25.0, 30.0])
    np.testing.assert_allclose(average_order_value(pd.Series([100, 90]), 5), [20.0, 18.0])
    # lifespans [1, 2, 3] years at 100 per year: [100, 200, 300]
    np.testing.assert_allclose(simple_clv(100.0, np.array([1.0, 2.0, 3.0])), [100, 200, 300])


def test_cac_and_clv_comparisons_hand_worked_example():
    # 5,000 spent on marketing brought 125 new customers: CAC = 5,000 / 125 = 40
    assert customer_acquisition_cost(5_000, 125) == pytest.approx(40.0)
    # CLV 300: net value 300 - 40 = 260, LTV:CAC = 300 / 40 = 7.5 (above the 3:1 target)
    assert clv_minus_cac(300.0, 40.0) == pytest.approx(260.0)
    assert ltv_to_cac(300.0, 40.0) == pytest.approx(7.5)
    # a customer worth less than they cost: 30 - 40 = -10, ratio 30 / 40 = 0.75
    assert clv_minus_cac(30.0, 40.0) == pytest.approx(-10.0)
    assert ltv_to_cac(30.0, 40.0) == pytest.approx(0.75)


def test_max_cost_per_click_break_even_definition():
    # CLV 300, 2% of clicks convert: a click is worth 300 * 0.02 = 6
    assert max_cost_per_click(300.0, 0.02) == pytest.approx(6.0)
    # the bounds of a probability: never converts -> 0, always converts -> CLV
    assert max_cost_per_click(300.0, 0.0) == 0.0
    assert max_cost_per_click(300.0, 1.0) == pytest.approx(300.0)


def test_crr_hand_worked_example():
    # S = 200 at the start, N = 50 new, E = 220 at the end:
    # CRR = (220 - 50) / 200 * 100 = 170 / 200 * 100 = 85 %
    assert customer_retention_rate(220, 50, 200) == pytest.approx(85.0)
    # nobody left and nobody joined: (200 - 0) / 200 * 100 = 100 %
    assert customer_retention_rate(200, 0, 200) == pytest.approx(100.0)


def test_churn_hand_worked_example_is_100_minus_crr():
    # Same period: 200 - 170 retained = 30 lost; churn = 30 / 200 * 100 = 15 % = 100 - 85
    assert churn_rate(200, 30) == pytest.approx(15.0)
    assert churn_rate(200, 30) == pytest.approx(100.0 - customer_retention_rate(220, 50, 200))


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(1, 10_000),
    lost_share=st.floats(0, 1),
    new=st.integers(0, 10_000),
)
def test_churn_plus_crr_is_100_without_other_movements(start, lost_share, new):
    # churn_rate docstring: E - N = S - lost, so churn + CRR = 100
    lost = round(lost_share * start)
    end = start - lost + new
    total = churn_rate(start, lost) + customer_retention_rate(end, new, start)
    assert total == pytest.approx(100.0)


def test_repeat_purchase_rate_hand_worked_example():
    # orders per customer [1, 1, 2, 3, 1, 5, 1, 2]: 4 of 8 ordered twice or more -> 0.5
    assert repeat_purchase_rate([1, 1, 2, 3, 1, 5, 1, 2]) == pytest.approx(0.5)
    # as a fraction: nobody came back -> 0, everybody did -> 1
    assert repeat_purchase_rate([1, 1, 1]) == 0.0
    assert repeat_purchase_rate(pd.Series([2, 4])) == 1.0


def test_nps_hand_worked_example():
    # 10 answers [10, 9, 9, 8, 7, 7, 6, 5, 3, 10]:
    # promoters (9-10): 10, 9, 9, 10 -> 4 = 40 %; passives (7-8): 8, 7, 7 -> 3;
    # detractors (0-6): 6, 5, 3 -> 3 = 30 %; NPS = 40 - 30 = 10
    assert net_promoter_score([10, 9, 9, 8, 7, 7, 6, 5, 3, 10]) == pytest.approx(10.0)


def test_nps_definition_reichheld_2003():
    # Reichheld (2003): promoters answer 9-10, passives 7-8, detractors 0-6.
    assert net_promoter_score([9, 10]) == pytest.approx(100.0)  # all promoters
    assert net_promoter_score([7, 8]) == 0.0  # passives count in the total only
    assert net_promoter_score([0, 6]) == pytest.approx(-100.0)  # all detractors
    # one of each answer 0..10: (2 promoters - 7 detractors) / 11 * 100 = -500 / 11
    assert net_promoter_score(range(11)) == pytest.approx(-500.0 / 11.0)
    # integer-valued floats (e.g. a float column) are whole answers
    assert net_promoter_score(np.array([9.0, 6.0, 8.0, 10.0])) == pytest.approx(25.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10), min_size=1, max_size=50))
def test_nps_lies_between_minus_100_and_100(scores):
    assert -100.0 <= net_promoter_score(scores) <= 100.0


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: average_order_value(-1.0, 10), "revenue"),
        (lambda: average_order_value(100.0, 0), "orders"),
        (lambda: average_order_value([1.0, np.nan], 2), "revenue"),
        (lambda: average_order_value("lots", 2), "revenue"),
        (lambda: purchase_frequency(10, 0), "customers"),
        (lambda: purchase_frequency(-1, 10), "orders"),
        (lambda: customer_value(-5.0, 2.0), "aov"),
        (lambda: customer_value(5.0, -2.0), "purchase_frequency"),
        (lambda: simple_clv(100.0, 0.0), "lifespan_years"),
        (lambda: simple_clv(100.0, -3.0), "lifespan_years"),
        (lambda: simple_clv(-100.0), "customer_value"),
        (lambda: customer_acquisition_cost(-1.0, 10), "marketing_spend"),
        (lambda: customer_acquisition_cost(100.0, 0), "new_customers"),
        (lambda: clv_minus_cac(100.0, -1.0), "cac"),
        (lambda: clv_minus_cac(np.inf, 1.0), "clv"),
        (lambda: ltv_to_cac(100.0, 0.0), "cac"),
        (lambda: max_cost_per_click(100.0, 1.5), "conversion_rate"),
        (lambda: max_cost_per_click(100.0, -0.1), "conversion_rate"),
        (lambda: customer_retention_rate(100, 10, 0), "customers_start"),
        (lambda: customer_retention_rate(100, 120, 200), "new_customers"),
        (lambda: customer_retention_rate(300, 10, 200), "customers_end - new_customers"),
        (lambda: customer_retention_rate(-1, 0, 200), "customers_end"),
        (lambda: churn_rate(0, 0), "customers_start"),
        (lambda: churn_rate(100, 101), "customers_lost"),
        (lambda: churn_rate(100, -1), "customers_lost"),
        (lambda: repeat_purchase_rate([]), "orders_per_customer"),
        (lambda: repeat_purchase_rate([1, 2.5]), "orders_per_customer"),
        (lambda: repeat_purchase_rate([1, -2]), "orders_per_customer"),
        (lambda: repeat_purchase_rate([1, None]), "orders_per_customer"),
        (lambda: net_promoter_score([]), "scores"),
        (lambda: net_promoter_score([9, 11]), "scores"),
        (lambda: net_promoter_score([-1, 9]), "scores"),
        (lambda: net_promoter_score([9, 7.5]), "scores"),
        (lambda: net_promoter_score([9, np.nan]), "scores"),
        (lambda: net_promoter_score(["9", "10"]), "scores"),
        (lambda: net_promoter_score([True, False]), "scores"),
        (lambda: average_order_value([1.0, 2.0], [1.0, 2.0, 3.0]), "revenue"),
    ],
)
def test_invalid_scalar_arguments_raise_data_error_naming_the_argument(call, names):
    with pytest.raises(DataError, match=names) as raised:
        call()
    assert isinstance(raised.value, ValueError)
    assert "\n" not in str(raised.value)


# ------------------------------------------------------------------- seed metrics


def test_seed_metrics_hand_worked_example(summary):
    metrics = seed_metrics(summary, window_years=1.0)
    # customers = 6; orders = sum(frequency + 1) = 1 + 2 + 3 + 5 + 10 + 4 = 25
    # revenue = 20 + 60 + 210 + 125 + 100 + 60 = 575
    # AOV = 575 / 25 = 23; purchase frequency = 25 / 6 = 4.1667 over the 1-year window
    # customer value per year = 23 * 25 / 6 = 95.8333; simple CLV = 95.8333 * 3 = 287.5
    # repeat purchase rate: everyone but a has frequency >= 1 -> 5 / 6
    expected = {
        "customers": 6.0,
        "orders": 25.0,
        "revenue": 575.0,
        "average_order_value": 23.0,
        "purchase_frequency": 25.0 / 6.0,
        "purchase_frequency_per_year": 25.0 / 6.0,
        "customer_value_per_year": 23.0 * 25.0 / 6.0,
        "simple_clv": 287.5,
        "repeat_purchase_rate": 5.0 / 6.0,
    }
    assert list(metrics.index) == list(expected)
    assert metrics.dtype == np.float64
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value), name


def test_seed_metrics_scales_with_window_and_lifespan(summary):
    metrics = seed_metrics(summary, window_years=0.5, lifespan_years=2.0)
    # the same 25 orders in half a year: 25 / 6 / 0.5 = 8.3333 orders per customer per year
    # customer value per year = 23 * 8.3333 = 191.667; simple CLV = 191.667 * 2 = 383.333
    assert metrics["purchase_frequency"] == pytest.approx(25.0 / 6.0)
    assert metrics["purchase_frequency_per_year"] == pytest.approx(50.0 / 6.0)
    assert metrics["customer_value_per_year"] == pytest.approx(23.0 * 50.0 / 6.0)
    assert metrics["simple_clv"] == pytest.approx(23.0 * 50.0 / 6.0 * 2.0)


def test_seed_metrics_does_not_modify_the_summary(summary):
    before = summary.copy()
    seed_metrics(summary, window_years=1.0)
    rfm_scores(summary)
    pd.testing.assert_frame_equal(summary, before)


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"window_years": 0.0}, "window_years"),
        ({"window_years": -1.0}, "window_years"),
        ({"window_years": 1.0, "lifespan_years": 0.0}, "lifespan_years"),
    ],
)
def test_seed_metrics_rejects_nonpositive_periods(summary, kwargs, names):
    with pytest.raises(DataError, match=names):
        seed_metrics(summary, **kwargs)


def test_seed_metrics_rejects_bad_summaries(summary):
    with pytest.raises(DataError, match="'revenue'"):
        seed_metrics(summary.drop(columns="revenue"), window_years=1.0)
    with pytest.raises(DataError, match="no customers"):
        seed_metrics(summary.iloc[:0], window_years=1.0)
    with pytest.raises(DataError, match=r"total revenue is -[0-9,.]+: their refunds exceed"):
        seed_metrics(summary.assign(revenue=-summary["revenue"]), window_years=1.0)
    with pytest.raises(DataError, match=r"'frequency'.*whole"):
        seed_metrics(summary.assign(frequency=summary["frequency"] + 0.5), window_years=1.0)
    with pytest.raises(DataError, match=r"'customer_id'.*duplicate"):
        seed_metrics(summary.assign(customer_id="a"), window_years=1.0)
    with pytest.raises(DataError, match="must be a pandas DataFrame"):
        seed_metrics(summary.to_dict(), window_years=1.0)


# --------------------------------------------------------------------------- RFM


@pytest.mark.parametrize(
    ("bins", "low", "middle", "top"),
    [
        # range [3, 6], parts of width 1: 3 low, 4 middle, 5-6 top
        (2, [3], [4], [5, 6]),
        # range [3, 9], parts of width 2: 3-4 low, 5-6 middle, 7-9 top
        (3, [3, 4], [5, 6], [7, 8, 9]),
        # range [3, 15], parts of width 4: 3-6 low, 7-10 middle, 11-15 top
        (5, [3, 4, 5, 6], [7, 8, 9, 10], [11, 12, 13, 14, 15]),
    ],
)
def test_rfm_segment_rule_from_docstring(bins, low, middle, top):
    # every total a customer can reach: r + f + m with each score in 1..bins
    grid = np.arange(1, bins + 1)
    n = bins**3
    r, f, m = (a.ravel() for a in np.meshgrid(grid, grid, grid, indexing="ij"))
    frame = pd.DataFrame(
        {
            "customer_id": range(n),
            "recency": (r - 1).astype(float),  # T - recency = bins - r
            "T": [float(bins - 1)] * n,
            "frequency": f - 1,
            "revenue": (m * f).astype(float),  # average order value = m
        }
    )
    rfm = rfm_scores(frame, bins=bins)
    np.testing.assert_array_equal(rfm["r_score"], r)
    np.testing.assert_array_equal(rfm["f_score"], f)
    np.testing.assert_array_equal(rfm["m_score"], m)
    by_segment = rfm.groupby("rfm_segment", observed=True)["rfm_score"].unique()
    assert sorted(by_segment["low"]) == low
    assert sorted(by_segment["middle"]) == middle
    assert sorted(by_segment["top"]) == top


def test_rfm_range_method_hand_worked_example(summary):
    rfm = rfm_scores(summary, method="range", bins=3)
    # R on T - recency = [9, 6, 4, 1, 0, 7], range [0, 9] in parts of width 3; a smaller gap
    #   scores higher and a boundary goes up: 7-9 -> 1 (a, f), 6 (b) and 4 (c) -> 2,
    #   0-1 -> 3 (d, e)
    # F on frequency = [0, 1, 2, 4, 9, 3], range [0, 9], edges 3 and 6:
    #   0, 1, 2 -> 1 (a, b, c); 3 (boundary), 4 -> 2 (f, d); 9 -> 3 (e)
    # M on AOV = [20, 30, 70, 25, 10, 15], range [10, 70], edges 30 and 50:
    #   10, 15, 20, 25 -> 1 (e, f, a, d); 30 (boundary) -> 2 (b); 70 -> 3 (c)
    # totals: a 1+1+1=3 low, b 2+1+2=5 middle, c 2+1+3=6 middle, d 3+2+1=6 middle,
    #         e 3+3+1=7 top, f 1+2+1=4 low
    assert scores_by_id(rfm) == {
        "a": (1, 1, 1, 3, "low"),
        "b": (2, 1, 2, 5, "middle"),
        "c": (2, 1, 3, 6, "middle"),
        "d": (3, 2, 1, 6, "middle"),
        "e": (3, 3, 1, 7, "top"),
        "f": (1, 2, 1, 4, "low"),
    }
    assert list(rfm.columns) == [
        "customer_id",
        "r_score",
        "f_score",
        "m_score",
        "rfm_score",
        "rfm_segment",
    ]
    for column in ("r_score", "f_score", "m_score", "rfm_score"):
        assert rfm[column].dtype == np.int64
    assert list(rfm["rfm_segment"].cat.categories) == list(RFM_SEGMENTS)
    assert rfm["rfm_segment"].cat.ordered
    pd.testing.assert_index_equal(rfm.index, summary.index)


def test_rfm_quantile_method_hand_worked_example(summary):
    rfm = rfm_scores(summary, method="quantile", bins=3)
    # n = 6, bins = 3: score = floor((rank - 1/2) / 6 * 3) + 1, so ranks 1, 2 -> 1;
    #   3, 4 -> 2; 5, 6 -> 3 (two customers per score)
    # R, worst (largest T - recency) first: a 9, f 7, b 6, c 4, d 1, e 0
    #   -> a 1, f 1, b 2, c 2, d 3, e 3
    # F, fewest first: a 0, b 1, c 2, f 3, d 4, e 9 -> a 1, b 1, c 2, f 2, d 3, e 3
    # M, lowest AOV first: e 10, f 15, a 20, d 25, b 30, c 70
    #   -> e 1, f 1, a 2, d 2, b 3, c 3
    # totals: a 1+1+2=4 low, b 2+1+3=6 middle, c 2+2+3=7 top, d 3+3+2=8 top,
    #         e 3+3+1=7 top, f 1+2+1=4 low
    # (unlike the range method, the outliers e (F) and c (M) no longer push the others
    #  into the bottom score)
    assert scores_by_id(rfm) == {
        "a": (1, 1, 2, 4, "low"),
        "b": (2, 1, 3, 6, "middle"),
        "c": (2, 2, 3, 7, "top"),
        "d": (3, 3, 2, 8, "top"),
        "e": (3, 3, 1, 7, "top"),
        "f": (1, 2, 1, 4, "low"),
    }


def test_rfm_quantile_ties_share_a_score_hand_worked_example():
    # frequency [0, 0, 0, 2, 5, 7]: the three zeros share the average rank (1+2+3)/3 = 2
    # score = floor((rank - 1/2) / 6 * 3) + 1: rank 2 -> floor(0.75) + 1 = 1,
    #   rank 4 -> floor(1.75) + 1 = 2, rank 5 -> floor(2.25) + 1 = 3, rank 6 -> 3
    frame = pd.DataFrame(
        {
            "customer_id": range(6),
            "frequency": [0, 0, 0, 2, 5, 7],
            "recency": [0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            "T": [1.0] * 6,
            "revenue": [10.0, 10.0, 10.0, 30.0, 60.0, 80.0],
        }
    )
    rfm = rfm_scores(frame, method="quantile")
    assert list(rfm["f_score"]) == [1, 1, 1, 2, 3, 3]
    # T - recency = [1, 1, 1, 0, 0, 0]: two tie groups with average ranks 2 (worst) and 5
    #   rank 2 -> 1, rank 5 -> 3
    assert list(rfm["r_score"]) == [1, 1, 1, 3, 3, 3]


@pytest.mark.parametrize("method", ["range", "quantile"])
def test_rfm_one_customer_gets_the_middle_score(summary, method):
    # a constant variable -> middle score bins // 2 + 1:
    # bins = 3: 2 each, total 6 -> middle (5-6);
    # bins = 4: 3 each, total 9; [3, 12] in parts of width 3: 3-5 low, 6-8 middle, 9-12 top
    rfm = rfm_scores(summary.iloc[[3]], method=method)
    assert scores_by_id(rfm) == {"d": (2, 2, 2, 6, "middle")}
    rfm4 = rfm_scores(summary.iloc[[3]], method=method, bins=4)
    assert scores_by_id(rfm4) == {"d": (3, 3, 3, 9, "top")}


@pytest.mark.parametrize("method", ["range", "quantile"])
def test_rfm_identical_customers_all_get_the_middle_score(method):
    frame = pd.DataFrame(
        {
            "customer_id": ["x", "y", "z", "w"],
            "frequency": [2] * 4,
            "recency": [5.0] * 4,
            "T": [8.0] * 4,
            "revenue": [90.0] * 4,
        }
    )
    rfm = rfm_scores(frame, method=method)
    assert (rfm[["r_score", "f_score", "m_score"]] == 2).all().all()
    assert (rfm["rfm_segment"] == "middle").all()


@pytest.mark.parametrize("column", ["frequency", "recency", "T", "revenue", "customer_id"])
def test_rfm_nan_raises_data_error_naming_the_column(summary, column):
    frame = summary.astype({column: object}) if column == "customer_id" else summary.copy()
    frame.loc[2, column] = np.nan
    with pytest.raises(DataError, match=rf"'{column}'.*NaN"):
        rfm_scores(frame)


@pytest.mark.parametrize("column", ["customer_id", "frequency", "recency", "T", "revenue"])
def test_rfm_missing_column_raises_data_error_naming_it(summary, column):
    with pytest.raises(DataError, match=f"missing column '{column}'"):
        rfm_scores(summary.drop(columns=column))


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"bins": 1}, "bins"),
        ({"bins": 0}, "bins"),
        ({"bins": 2.5}, "bins"),
        ({"bins": True}, "bins"),
        ({"method": "kmeans"}, "method"),
    ],
)
def test_rfm_invalid_arguments_raise_data_error(summary, kwargs, names):
    with pytest.raises(DataError, match=names):
        rfm_scores(summary, **kwargs)


def test_rfm_inconsistent_summary_raises_data_error(summary):
    with pytest.raises(DataError, match="'recency' exceeds column 'T'"):
        rfm_scores(summary.assign(recency=summary["T"] + 1.0))
    with pytest.raises(DataError, match="'revenue' contains NaN"):
        rfm_scores(summary.assign(revenue=np.nan))
    with pytest.raises(DataError, match="no customers"):
        rfm_scores(summary.iloc[:0])


def test_a_customer_whose_refunds_exceed_the_purchases_has_seed_metrics_and_the_lowest_m(
    summary,
):
    """Revenue net of refunds (data.nonpositive: net_across_days or keep) may be negative
    for a customer: the seed metrics use the total, RFM scores it lowest."""
    refunded = summary.assign(revenue=summary["revenue"].where(summary.index != 2, -50.0))
    metrics = seed_metrics(refunded, window_years=1.0)
    assert metrics["revenue"] == pytest.approx(refunded["revenue"].sum())
    scores = rfm_scores(refunded)
    assert scores["m_score"].iloc[2] == 1 and rfm_scores(summary)["m_score"].iloc[2] == 3


summaries = st.integers(1, 25).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "frequency": st.lists(st.integers(0, 30), min_size=n, max_size=n),
            "recency_share": st.lists(st.floats(0, 1), min_size=n, max_size=n),
            "T": st.lists(st.floats(0.5, 100), min_size=n, max_size=n),
            "revenue": st.lists(st.floats(0, 1e4), min_size=n, max_size=n),
        }
    )
)


def summary_from(draw: dict[str, list]) -> pd.DataFrame:
    t = np.array(draw["T"])
    return pd.DataFrame(
        {
            "customer_id": range(len(t)),
            "frequency": draw["frequency"],
            "recency": np.array(draw["recency_share"]) * t,
            "T": t,
            "revenue": draw["revenue"],
        }
    )


@settings(max_examples=100, deadline=None)
@given(draw=summaries, bins=st.integers(2, 6), method=st.sampled_from(["range", "quantile"]))
def test_rfm_scores_lie_in_1_to_bins_and_segments_follow_the_score(draw, bins, method):
    rfm = rfm_scores(summary_from(draw), method=method, bins=bins)
    scores = rfm[["r_score", "f_score", "m_score"]].to_numpy()
    assert scores.min() >= 1
    assert scores.max() <= bins
    # segments are monotone in the total score
    order = rfm.sort_values("rfm_score")
    assert order["rfm_segment"].cat.codes.is_monotonic_increasing


@settings(max_examples=100, deadline=None)
@given(draw=summaries, seed=st.integers(0, 2**32 - 1))
def test_rfm_quantile_scores_do_not_depend_on_row_order(draw, seed):
    frame = summary_from(draw)
    shuffled = frame.sample(frac=1.0, random_state=np.random.default_rng(seed))
    expected = rfm_scores(frame, method="quantile").set_index("customer_id").sort_index()
    got = rfm_scores(shuffled, method="quantile").set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(got, expected)


# ---------------------------------------------------------------- segment values


def test_segment_values_hand_worked_example(summary):
    rfm = rfm_scores(summary, method="range")
    table = segment_values(summary.join(rfm.drop(columns="customer_id")), "revenue")
    # segments from test_rfm_range_method_hand_worked_example:
    # low    a 20, f 60            -> 2 customers, total 80, mean 40
    # middle b 60, c 210, d 125    -> 3 customers, total 395, mean 131.667
    # top    e 100                 -> 1 customer, total 100, mean 100
    assert list(table.index) == ["low", "middle", "top"]
    assert table.index.name == "rfm_segment"
    assert list(table.columns) == ["customers", "mean_revenue", "total_revenue"]
    assert list(table["customers"]) == [2, 3, 1]
    np.testing.assert_allclose(table["total_revenue"], [80.0, 395.0, 100.0])
    np.testing.assert_allclose(table["mean_revenue"], [40.0, 395.0 / 3.0, 100.0])


def test_segment_values_keeps_empty_segments_and_plain_string_labels():
    # labels read back from a CSV are plain strings; nobody is "low"
    frame = pd.DataFrame({"rfm_segment": ["top", "middle", "top"], "clv": [10.0, 4.0, 30.0]})
    table = segment_values(frame, "clv")
    # low: 0 customers, total 0, mean undefined; middle: 4; top: 10 + 30 = 40, mean 20
    assert list(table["customers"]) == [0, 1, 2]
    np.testing.assert_allclose(table["total_clv"], [0.0, 4.0, 40.0])
    assert np.isnan(table.loc["low", "mean_clv"])
    np.testing.assert_allclose(table["mean_clv"].iloc[1:], [4.0, 20.0])


def test_segment_values_rejects_bad_input():
    frame = pd.DataFrame({"rfm_segment": ["top", "low"], "clv": [1.0, np.nan]})
    with pytest.raises(DataError, match=r"'clv'.*NaN"):
        segment_values(frame, "clv")
    with pytest.raises(DataError, match="missing column 'revenue'"):
        segment_values(frame, "revenue")
    with pytest.raises(DataError, match="missing column 'rfm_segment'"):
        segment_values(frame.drop(columns="rfm_segment"), "clv")
    with pytest.raises(DataError, match=r"'rfm_segment'.*'gold'"):
        segment_values(frame.assign(rfm_segment=["gold", "low"], clv=1.0), "clv")
    with pytest.raises(DataError, match=r"'rfm_segment'.*numeric"):
        segment_values(frame, "rfm_segment")


def test_rfm_quantile_bin_sizes_without_ties_hand_worked_example():
    # n = 7, bins = 3: floor((rank - 1/2) / 7 * 3) = floor((2 * rank - 1) * 3 / 14)
    # ranks 1..7 -> 3/14, 9/14, 15/14, 21/14, 27/14, 33/14, 39/14 -> 0, 0, 1, 1, 1, 2, 2
    frame = pd.DataFrame(
        {
            "customer_id": range(7),
            "frequency": [6, 0, 5, 1, 4, 2, 3],
            "recency": [1.0] * 7,
            "T": [2.0] * 7,
            "revenue": [7.0] * 7,
        }
    )
    rfm = rfm_scores(frame, method="quantile")
    assert list(rfm["f_score"]) == [3, 1, 3, 1, 2, 2, 2]
