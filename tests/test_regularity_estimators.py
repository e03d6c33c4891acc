"""The regularity models end to end: the BG/CNBD-k's profile likelihood over ``k``
(issue 16 acceptance), the fixed ``k`` through save/load, NBD and MBG/CNBD-k through
the estimator API.

Expected values come from the simulation's own truth: transaction logs are drawn here
from the model's definition (Reutterer, Platzer & Schröder 2021, section 2: Erlang-k
gaps between purchases, dropout after each repeat purchase with a Beta-distributed
probability) independently of :mod:`clvmodels.models.bgcnbd`'s simulator, then go
through the same summary and evaluation as a user's log.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clvmodels as clv
from clvmodels.data import summarize_transactions
from clvmodels.errors import FitError
from clvmodels.evaluation import evaluate_holdout

START = pd.Timestamp("2024-01-01")
CALIBRATION_WEEKS = 52
HOLDOUT_WEEKS = 52


def erlang_log(n: int, k: int, seed: int, *, mean_gap_weeks: float = 4.0) -> pd.DataFrame:
    """A transaction log of ``n`` customers with Erlang-``k`` gaps (mean gap ~Gamma
    around ``mean_gap_weeks``), BG dropout ``p ~ Beta(1, 6)`` after each repeat
    purchase; customers join in the first 13 weeks, times in whole days."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(3.0, 1.0 / (3.0 * mean_gap_weeks), size=n)  # purchases per week
    p = rng.beta(1.0, 6.0, size=n)
    join = rng.uniform(0.0, 13.0, size=n)
    end = CALIBRATION_WEEKS + HOLDOUT_WEEKS
    ids, times = [np.arange(n)], [join]
    clock, alive = join.copy(), np.ones(n, dtype=bool)
    while alive.any():
        clock = clock + rng.gamma(k, 1.0 / (k * rate))
        alive &= clock < end
        ids.append(np.flatnonzero(alive))
        times.append(clock[alive])
        alive &= rng.random(n) >= p  # drops out right after this repeat purchase
    customer = np.concatenate(ids)
    days = np.floor(np.concatenate(times) * 7.0)
    return pd.DataFrame(
        {
            "customer_id": customer.astype(str),
            "date": START + pd.to_timedelta(days, unit="D"),
            "amount": 10.0,
        }
    )


def summary_of(log: pd.DataFrame) -> pd.DataFrame:
    """Weekly summary with a 52-week calibration and a 52-week holdout."""
    calibration_end = START + pd.Timedelta(weeks=CALIBRATION_WEEKS)
    observation_end = calibration_end + pd.Timedelta(weeks=HOLDOUT_WEEKS)
    return summarize_transactions(
        log,
        time_unit="W",
        calibration_end=str(calibration_end.date()),
        observation_end=str(observation_end.date()),
    )


def scores_of(summary: pd.DataFrame, models: dict) -> pd.DataFrame:
    """The holdout evaluation table of ``models`` (indexed by model name)."""
    table = evaluate_holdout(summary, models, time_unit="W").table
    return table.set_index("model") if "model" in table.columns else table


@pytest.fixture(scope="module")
def erlang4() -> pd.DataFrame:
    return summary_of(erlang_log(3000, 4, seed=4))


def test_profile_likelihood_recovers_erlang_order_4_from_simulated_log(erlang4):
    model = clv.fit("bgcnbd", erlang4, max_k=5)
    profile = model.result_.diagnostics["k_profile"]
    assert model.params_["k"] == 4.0
    assert max(profile, key=profile.get) == "4"
    assert model.result_.fixed == ("k",)
    assert model.result_.n_params == 5  # r, alpha, a, b and the profiled k
    table = model.summary()
    assert table.loc["k", "estimate"] == 4.0 and table.loc["k", "std_err"] == 0.0


def test_erlang_model_beats_bgnbd_on_holdout_scores_of_simulated_erlang4_log(erlang4):
    models = {"bgcnbd": clv.fit("bgcnbd", erlang4, k=4), "bgnbd": clv.fit("bgnbd", erlang4)}
    table = scores_of(erlang4, models)
    log_score = table["log_score_purchases"]
    total = table["total_purchases_error"].abs()
    assert log_score["bgcnbd"] > log_score["bgnbd"]
    assert total["bgcnbd"] < total["bgnbd"]


def test_fixed_k_survives_save_and_load(erlang4, tmp_path):
    model = clv.fit("mbgcnbd", erlang4, k=3)
    path = tmp_path / "mbgcnbd.json"
    model.save(path)
    loaded = clv.load_model(path)
    assert loaded.params_["k"] == 3.0 and loaded.result_.fixed == ("k",)
    head = erlang4.head(50)
    np.testing.assert_allclose(
        loaded.predict_p_alive(head).to_numpy(), model.predict_p_alive(head).to_numpy()
    )
    draws = loaded.result_.parameter_draws(5, np.random.default_rng(0))
    assert np.all(draws["k"] == 3.0)


def test_erlang_order_option_is_checked_in_one_line(erlang4):
    with pytest.raises(FitError, match="k must be a whole number"):
        clv.fit("bgcnbd", erlang4, k=2.5)


def test_nbd_predicts_every_customer_alive(erlang4):
    model = clv.fit("nbd", erlang4)
    assert np.all(model.predict_p_alive(erlang4.head(20)).to_numpy() == 1.0)
    assert model.result_.n_params == 2


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 2, 4])
def test_profile_likelihood_acceptance_on_10000_simulated_customers(k):
    """Issue 16 acceptance: on Erlang-2 and Erlang-4 logs of 10^4 customers the profile
    picks the true k and BG/CNBD-k beats BG/NBD on holdout log score and total error;
    on Poisson (k = 1, BG/NBD) data it picks k = 1."""
    summary = summary_of(erlang_log(10_000, k, seed=10 + k))
    model = clv.fit("bgcnbd", summary)
    assert model.params_["k"] == float(k)
    if k > 1:
        table = scores_of(summary, {"bgcnbd": model, "bgnbd": clv.fit("bgnbd", summary)})
        log_score = table["log_score_purchases"]
        assert log_score["bgcnbd"] > log_score["bgnbd"]
        total = table["total_purchases_error"].abs()
        assert total["bgcnbd"] < total["bgnbd"]


@pytest.fixture(scope="module")
def ggg_fit(erlang4):
    small = erlang4.head(800).copy()
    small.attrs = erlang4.attrs
    with pytest.warns(Warning):  # 60 draws are too few for the ESS floor: it says so
        model = clv.fit("paretoggg", small, draws=60, tune=60, chains=2)
    return small, model


def test_pareto_ggg_scores_on_the_holdout_next_to_bgnbd(ggg_fit):
    small, model = ggg_fit
    models = {"paretoggg": model, "bgnbd": clv.fit("bgnbd", small)}
    table = scores_of(small, models)
    assert {"paretoggg", "bgnbd"} <= set(table.index)
    assert np.isfinite(table.loc["paretoggg", "log_score_purchases"])
    assert table.loc["paretoggg", "total_purchases_error"] > -1.0


def test_pareto_ggg_tracking_curve_counts_the_same_simulated_customers(ggg_fit):
    _, model = ggg_fit
    curve = model.expected_purchases(np.array([5.0, 10.0, 20.0, 40.0]))
    assert np.all(np.diff(curve) > 0)
    single = model.expected_purchases(20.0)
    assert curve[2] == pytest.approx(float(single), rel=0.05)


def test_bayesian_erlang_model_samples_the_others_at_the_profiled_k(erlang4):
    """With the Bayesian backend ``k`` is profiled by maximum likelihood and the other
    parameters sampled at it (module docstring of clvmodels.estimators.regularity)."""
    small = erlang4.head(600).copy()
    small.attrs = erlang4.attrs
    with pytest.warns(Warning):  # 50 draws are too few for the ESS floor
        model = clv.fit("bgcnbd", small, backend="bayes", max_k=5, draws=50, tune=50, chains=2)
    assert model.result_.backend == "bayes" and model.result_.fixed == ("k",)
    assert model.params_["k"] == 4.0
    assert len(model.result_.diagnostics["k_profile"]) >= 4
    draws = model.result_.parameter_draws(10, np.random.default_rng(1))
    assert np.all(draws["k"] == 4.0) and np.all(draws["r"] > 0)
