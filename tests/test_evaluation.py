"""Evaluation metrics on hand-worked examples (expected values computed by hand below)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from clvmodels import evaluation


def test_errors_and_total_error_hand_worked():
    scores = evaluation.score_forecast(
        np.array([0.0, 2.0, 4.0]),
        np.array([0.0, 20.0, 40.0]),
        np.array([1.0, 2.0, 1.0]),
        np.array([10.0, 20.0, 10.0]),
    )
    assert scores["mae_purchases"] == pytest.approx((1 + 0 + 3) / 3)
    assert scores["rmse_purchases"] == pytest.approx(math.sqrt((1 + 0 + 9) / 3))
    assert scores["total_purchases_error"] == pytest.approx((4 - 6) / 6)
    assert scores["mae_revenue"] == pytest.approx(40 / 3)
    assert scores["total_revenue_error"] == pytest.approx((40 - 60) / 60)
    assert math.isnan(scores["auc_alive"])  # no P(alive) given


def test_top_share_averages_over_tied_predictions():
    actual = np.array([10.0, 0.0, 5.0, 5.0])
    predicted = np.array([3.0, 3.0, 1.0, 0.0])
    # top 25 % = one customer out of the tied pair (10, 0): on average 5 of 20
    assert evaluation.top_share(actual, predicted, 0.25) == pytest.approx(0.25)
    assert evaluation.top_share(actual, predicted, 0.50) == pytest.approx(0.50)
    assert evaluation.top_share(actual, predicted, 0.75) == pytest.approx(0.75)
    # a flat forecast captures exactly its share of customers, whatever the row order
    flat = np.zeros(4)
    assert evaluation.top_share(actual, flat, 0.25) == pytest.approx(0.25)
    assert evaluation.top_share(actual[::-1], flat, 0.25) == pytest.approx(0.25)


def test_normalized_gini_is_one_for_the_truth_zero_for_flat_and_negative_reversed():
    actual = np.array([0.0, 1.0, 3.0, 10.0])
    assert evaluation.normalized_gini(actual, actual) == pytest.approx(1.0)
    assert evaluation.normalized_gini(actual, np.ones(4)) == pytest.approx(0.0, abs=1e-12)
    assert evaluation.normalized_gini(actual, -actual) == pytest.approx(-1.0)


def test_auc_counts_concordant_pairs_and_ties_one_half():
    positive = np.array([True, False, True, False])
    # pairs (pos, neg): (0.9, 0.8) yes, (0.9, 0.1) yes, (0.3, 0.8) no, (0.3, 0.1) yes
    assert evaluation.auc(np.array([0.9, 0.8, 0.3, 0.1]), positive) == pytest.approx(0.75)
    assert evaluation.auc(np.full(4, 0.5), positive) == pytest.approx(0.5)
    assert math.isnan(evaluation.auc(np.ones(2), np.array([True, True])))


def test_spearman_is_nan_for_a_constant_forecast():
    assert math.isnan(evaluation.spearman(np.array([1.0, 2.0, 3.0]), np.zeros(3)))
    assert evaluation.spearman(np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 9.0])) == 1.0


def test_conditional_expectations_groups_seven_and_more_fader_hardie_lee_2005_fig4():
    frequency = np.array([0, 0, 1, 7, 12])
    actual = np.array([0.0, 1.0, 2.0, 4.0, 8.0])
    table = evaluation.conditional_expectations(frequency, actual, {"m": actual + 1})
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table.loc["0", "actual"] == pytest.approx(0.5)
    assert table.loc["7+", "actual"] == pytest.approx(6.0)
    assert table.loc["7+", "m"] == pytest.approx(7.0)
    assert table.loc["3", "customers"] == 0 and math.isnan(table.loc["3", "actual"])


def test_tracking_curve_accumulates_daily_actuals_at_period_ends():
    # two repeat purchases on day 3, one on day 9; weekly periods from day 0
    frame = evaluation.tracking_curve(
        np.array([1.0, 2.0]), np.array([3, 9]), np.array([2, 1]), 0, 7.0, {"m": np.array([1, 2])}
    )
    assert frame["actual"].tolist() == [2.0, 3.0]
    assert frame["m"].tolist() == [1.0, 2.0]


def test_constant_retention_rate_is_one_minus_churns_per_decision():
    rows = pd.DataFrame({"tenure": [2, 3], "churned": [1, 0], "count": [1, 2]})
    # decisions: 1 × (2 + 1) + 2 × 3 = 9, churns 1
    assert evaluation.constant_retention_rate(rows) == pytest.approx(8 / 9)


def test_verdict_names_winners_and_warns_when_zero_beats_a_model_on_mae():
    table = evaluation.evaluation_table(
        {
            "good": {"mae_revenue": 1.0, "rmse_revenue": 2.0, "top10_revenue_share": 0.3},
            "bad": {"mae_revenue": 5.0, "rmse_revenue": 9.0, "top10_revenue_share": 0.5},
            evaluation.ZERO_FORECAST: {"mae_revenue": 3.0, "rmse_revenue": 8.0},
        }
    )
    line = evaluation.verdict(table)
    assert "good on 2 of 3 metrics (mae_revenue, rmse_revenue)" in line
    assert "bad on 1 of 3 metrics (top10_revenue_share)" in line
    assert "lower MAE than bad" in line
    assert list(table.columns[:1]) == ["model"]
