"""The proper scores of count forecasts (clvmodels.evaluation.probabilistic): values
computed by hand on a two-customer example, and the properties that make them proper
(Gneiting & Raftery 2007; Czado, Gneiting & Held 2009)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.evaluation import probabilistic as pr

# customer A: P(0, 1, 2) = 0.5, 0.3, 0.2 and bought once; B: 0.9, 0.1, 0 and bought nothing
TINY = pr.CountForecast(np.array([[0.5, 0.3, 0.2], [0.9, 0.1, 0.0]]))
BOUGHT = np.array([1, 0])


def test_log_score_by_hand():
    assert pr.log_score(TINY, BOUGHT) == pytest.approx((math.log(0.3) + math.log(0.9)) / 2)


def test_ranked_probability_score_by_hand():
    # A: F = (0.5, 0.8, 1), steps (0, 1, 1): 0.25 + 0.04 + 0; B: F = (0.9, 1, 1), steps 1: 0.01
    assert pr.rps(TINY, BOUGHT) == pytest.approx((0.29 + 0.01) / 2)


def test_brier_score_of_buying_at_least_once_by_hand():
    assert pr.brier_any(TINY, BOUGHT) == pytest.approx((0.5**2 + 0.1**2) / 2)


def test_central_intervals_and_their_coverage_by_hand():
    # 80 %: quantiles 0.1 and 0.9; A: [0, 2] (F(1) = 0.8 < 0.9), B: [0, 0] (F(0) = 0.9)
    lower, upper = pr.central_interval(TINY, 0.8)
    assert lower.tolist() == [0, 0] and upper.tolist() == [2, 0]
    observed, expected = pr.coverage(TINY, BOUGHT, 0.8)
    assert observed == 1.0
    assert expected == pytest.approx((1.0 + 0.9) / 2)


def test_randomized_pit_by_hand():
    v = np.random.default_rng(3).uniform(size=2)
    pit = pr.randomized_pit(TINY, BOUGHT, np.random.default_rng(3))
    np.testing.assert_allclose(pit, [0.5 + 0.3 * v[0], 0.9 * v[1]])


def test_count_scores_names_the_columns_of_the_evaluation_table():
    scores = pr.count_scores(TINY, BOUGHT)
    assert list(scores) == [
        "log_score_purchases",
        "rps_purchases",
        "brier_any_purchase",
        "coverage90_purchases",
        "coverage90_purchases_expected",
        "coverage80_purchases",
        "coverage80_purchases_expected",
    ]


def test_a_count_beyond_the_support_scores_minus_infinity():
    assert pr.log_score(TINY, np.array([3, 0])) == -math.inf


def test_calibration_table_keeps_ties_in_one_group():
    p = np.array([0.1, 0.1, 0.1, 0.1, 0.5, 0.9])
    table = pr.calibration_table(p, np.array([0, 0, 1, 0, 1, 1]), groups=3)
    # thirds by rank: positions 0-1, 2-3, 4-5; the four tied 0.1 stay in the first
    assert table["group"].tolist() == [1, 3]
    assert table["customers"].tolist() == [4, 2]
    assert table["observed"].tolist() == [0.25, 1.0]
    assert table["predicted"].tolist() == pytest.approx([0.1, 0.7])


def test_pit_histogram_shares_sum_to_one():
    table = pr.pit_histogram(np.array([0.05, 0.15, 0.95, 1.0]), bins=10)
    assert table["share"].sum() == pytest.approx(1.0)
    assert table["share"].iloc[-1] == 0.5


def _negative_binomial_rows(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Count distributions of different shapes (negative binomial rows, cut at ``k``)."""
    from scipy import stats

    r = rng.uniform(0.2, 3.0, size=n)
    p = rng.uniform(0.2, 0.9, size=n)
    return stats.nbinom.pmf(np.arange(k)[None, :], r[:, None], p[:, None])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), level=st.sampled_from([0.5, 0.8, 0.9]))
def test_counts_drawn_from_the_forecast_are_covered_as_often_as_it_says(seed, level):
    rng = np.random.default_rng(seed)
    pmf = _negative_binomial_rows(rng, 4000, 80)
    forecast = pr.CountForecast(pmf)
    cdf = np.concatenate([pmf.cumsum(axis=1), np.ones((len(pmf), 1))], axis=1)
    counts = np.argmax(cdf >= rng.uniform(size=(len(pmf), 1)), axis=1)
    observed, expected = pr.coverage(forecast, counts, level)
    assert expected >= level - 1e-9
    assert abs(observed - expected) < 4 * math.sqrt(expected * (1 - expected) / len(counts))
    pit = pr.randomized_pit(forecast, counts, rng)
    assert 0 <= pit.min() and pit.max() <= 1
    assert abs(pit.mean() - 0.5) < 4 * math.sqrt(1 / 12 / len(pit))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_true_distribution_scores_best(seed):
    """Proper scores: the distribution the counts come from beats a perturbed one on
    average (log score higher, RPS and Brier lower)."""
    rng = np.random.default_rng(seed)
    pmf = _negative_binomial_rows(rng, 5000, 80)
    cdf = np.concatenate([pmf.cumsum(axis=1), np.ones((len(pmf), 1))], axis=1)
    counts = np.argmax(cdf >= rng.uniform(size=(len(pmf), 1)), axis=1)
    wrong = np.roll(pmf, 1, axis=0) * 0.5 + pmf * 0.5  # another customer's beliefs mixed in
    true, other = pr.CountForecast(pmf), pr.CountForecast(wrong)
    assert pr.log_score(true, counts) > pr.log_score(other, counts)
    assert pr.rps(true, counts) < pr.rps(other, counts)
    assert pr.brier_any(true, counts) <= pr.brier_any(other, counts) + 1e-3
