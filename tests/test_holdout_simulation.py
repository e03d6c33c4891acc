"""Simulated holdout outcomes and survivors' forecasts (clvmodels.evaluation.predictive,
clvmodels.evaluation.survival): counts drawn from a count forecast follow it, holdout
revenue follows the Gamma-Gamma model (Fader & Hardie 2013, "The Gamma-Gamma model of
monetary value"), survivors' scores by hand (Fader & Hardie 2007, eq. 3), and the
backtest's summary by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clvmodels.errors import ConfigError
from clvmodels.estimators import BGNBD, GammaGamma
from clvmodels.evaluation import survivor_scores
from clvmodels.evaluation.backtest import origin_dates, rolling_backtest, summarize_backtest
from clvmodels.evaluation.predictive import count_forecast, revenue_draws, sample_counts
from clvmodels.evaluation.probabilistic import CountForecast
from clvmodels.models import bgnbd
from clvmodels.results import FitResult


def test_counts_drawn_from_a_forecast_follow_its_pmf_and_the_tail_counts_as_the_support():
    pmf = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.6]])  # second row: tail P(X >= 3) = 0.1
    counts = sample_counts(CountForecast(pmf), 200_000, np.random.default_rng(1))
    first = np.bincount(counts[0], minlength=4) / counts.shape[1]
    second = np.bincount(counts[1], minlength=4) / counts.shape[1]
    np.testing.assert_allclose(first, [0.5, 0.3, 0.2, 0.0], atol=0.004)
    np.testing.assert_allclose(second, [0.1, 0.2, 0.6, 0.1], atol=0.004)


def _gamma_gamma(p: float, q: float, gamma: float) -> GammaGamma:
    result = FitResult(
        model="gamma_gamma",
        backend="mle",
        param_names=("p", "q", "gamma"),
        params={"p": p, "q": q, "gamma": gamma},
        log_likelihood=0.0,
        n_obs=1,
        n_unique=1,
    )
    return GammaGamma.from_result(result)


def test_simulated_revenue_has_the_gamma_gamma_mean_and_no_revenue_without_purchases():
    p, q, gamma = 6.25, 3.74, 15.44  # CDNOW, Fader & Hardie (2013)
    summary = pd.DataFrame({"frequency": [0.0, 3.0], "monetary_value": [0.0, 40.0]})
    twice = CountForecast(np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]))  # exactly 2 orders
    draws = revenue_draws(
        twice, summary, spend=_gamma_gamma(p, q, gamma), fallback=0.0, n_draws=100_000
    )
    # E[spend | x, m] = (γ + x m)p / (p x + q − 1) (Fader & Hardie 2013, eq. 5)
    expected = [(gamma * p / (q - 1)), (gamma + 3 * 40.0) * p / (p * 3 + q - 1)]
    np.testing.assert_allclose(draws.mean(axis=1), 2 * np.array(expected), rtol=0.02)
    never = CountForecast(np.array([[1.0, 0.0], [1.0, 0.0]]))
    zero = revenue_draws(never, summary, spend=_gamma_gamma(p, q, gamma), fallback=0.0)
    assert not zero.any()


def test_without_a_spend_model_each_order_is_worth_the_fallback():
    pmf = CountForecast(np.array([[0.0, 0.0, 0.0, 1.0]]))
    draws = revenue_draws(pmf, pd.DataFrame({"frequency": [1.0]}), spend=None, fallback=7.5)
    assert (draws == 22.5).all()


def test_survivor_scores_by_hand():
    # 10 alive after 1 period; the curve says S(2)/S(1) = 0.5: Binomial(10, 0.5); 4 alive
    scores = survivor_scores(np.array([20.0, 10.0, 4.0]), np.array([1.0, 0.5, 0.25]), 1)
    assert scores["log_score_survivors"] == pytest.approx(math.log(stats.binom.pmf(4, 10, 0.5)))
    lower, upper = stats.binom.ppf([0.05, 0.95], 10, 0.5)
    assert scores["coverage90_survivors"] == float(lower <= 4 <= upper)
    mass = stats.binom.cdf(upper, 10, 0.5) - stats.binom.cdf(lower - 1, 10, 0.5)
    assert scores["coverage90_survivors_expected"] == pytest.approx(mass)
    assert "brier_any_survivors" not in scores


def test_survivor_scores_over_posterior_draws_average_the_binomial_pmfs():
    curves = np.array([[1.0, 0.5, 0.2], [1.0, 0.5, 0.3]])  # two draws: shares 0.4 and 0.6
    scores = survivor_scores(np.array([20.0, 10.0, 5.0]), curves, 1)
    pmf = (stats.binom.pmf(5, 10, 0.4) + stats.binom.pmf(5, 10, 0.6)) / 2
    assert scores["log_score_survivors"] == pytest.approx(math.log(pmf))


def test_backtest_origins_end_at_the_last_one_step_apart():
    dates = origin_dates(dt.date(1997, 9, 30), 3, 28)
    assert dates == [dt.date(1997, 8, 5), dt.date(1997, 9, 2), dt.date(1997, 9, 30)]
    with pytest.raises(ConfigError, match="at least one origin"):
        origin_dates(dt.date(1997, 9, 30), 0, 28)


def test_backtest_summary_is_the_mean_and_spread_over_origins_by_hand():
    scores = {dt.date(2020, 1, 1): (1.0, 4.0), dt.date(2020, 2, 1): (3.0, 8.0)}

    def evaluate_at(origin: dt.date) -> pd.DataFrame:
        a, b = scores[origin]
        return pd.DataFrame({"model": ["m1", "m2"], "score": [a, b]})

    result = rolling_backtest(list(scores), evaluate_at, holdout=2, time_unit="W")
    assert result.per_origin["origin"].tolist() == ["2020-01-01"] * 2 + ["2020-02-01"] * 2
    assert result.per_origin["holdout_end"].iloc[0] == "2020-01-15"
    summary = result.summary.set_index("model")
    assert summary.loc["m1", "mean"] == 2.0 and summary.loc["m2", "mean"] == 6.0
    assert summary.loc["m1", "sd"] == pytest.approx(math.sqrt(2.0))
    assert summary.loc["m2", ["min", "max", "origins"]].tolist() == [4.0, 8.0, 2]
    assert summarize_backtest(result.per_origin).equals(result.summary)


def test_a_backtest_origin_whose_holdout_outruns_the_log_is_refused():
    with pytest.raises(ConfigError, match="after the end of the log 2020-01-10"):
        rolling_backtest(
            [dt.date(2020, 1, 1)],
            lambda origin: pd.DataFrame({"model": ["m"]}),
            holdout=2,
            time_unit="W",
            log_end=dt.date(2020, 1, 10),
        )


def test_a_bayesian_count_forecast_is_the_pmf_averaged_over_posterior_draws():
    draws = {
        "r": np.array([0.24, 0.3, 0.2]),
        "alpha": np.array([4.4, 5.0, 4.0]),
        "a": np.array([0.79, 0.7, 0.9]),
        "b": np.array([2.4, 2.0, 2.8]),
    }
    result = FitResult(
        model="bgnbd",
        backend="bayes",
        param_names=("r", "alpha", "a", "b"),
        params={k: float(v.mean()) for k, v in draws.items()},
        log_likelihood=0.0,
        n_obs=3,
        n_unique=3,
        draws=draws,
    )
    model = BGNBD.from_result(result)
    summary = pd.DataFrame({"frequency": [0.0, 2.0, 2.0], "recency": [0.0, 20.0, 20.0]})
    summary["T"] = 39.0
    # three draws asked of three: a permutation, so the average is over all of them
    got = count_forecast(model, summary, 39.0, draws=3, rng=np.random.default_rng(0))
    by_draw = [
        bgnbd.conditional_purchase_pmf(
            got.pmf.shape[1],
            39.0,
            summary["frequency"],
            summary["recency"],
            39.0,
            **{k: v[j] for k, v in draws.items()},
        )
        for j in range(3)
    ]
    np.testing.assert_allclose(got.pmf, np.mean(by_draw, axis=0), rtol=1e-12)
    np.testing.assert_allclose(got.pmf.sum(axis=1), 1.0, atol=1e-9)


def test_challenger_features_keep_a_categorical_covariate_as_categories():
    from clvmodels.evaluation.challenger import features

    summary = pd.DataFrame(
        {
            "frequency": [1.0, 0.0],
            "recency": [3.0, 0.0],
            "T": [5.0, 5.0],
            "channel": ["app", "web"],
            "member": [True, False],
        }
    )
    frame = features(summary, ["channel", "member"])
    assert isinstance(frame["cov:channel"].dtype, pd.CategoricalDtype)
    assert list(frame["cov:channel"].cat.categories) == ["app", "web"]
    assert frame["cov:member"].tolist() == [1.0, 0.0]


def test_scores_from_chunks_of_customers_equal_the_scores_of_the_whole(cdnow_summary, monkeypatch):
    from clvmodels.evaluation import predictive
    from clvmodels.evaluation.probabilistic import count_scores, score_chunks

    model = BGNBD().fit(cdnow_summary)
    actual = cdnow_summary["frequency_holdout"].to_numpy(float)
    whole = count_scores(count_forecast(model, cdnow_summary, 39.0, chunk=10**6), actual)
    monkeypatch.setattr(predictive, "CELLS", 2_000)  # parts of ~40 customers
    chunks = predictive.count_chunks(model, cdnow_summary, 39.0, chunk=500)
    scored = score_chunks(chunks, actual, np.random.default_rng(0))
    for name, value in whole.items():
        assert scored.scores[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    assert np.isfinite(scored.pit).all() and np.isfinite(scored.p_any).all()
