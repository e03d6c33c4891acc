"""CLV per customer: formula, spend policy, intervals, chunking, subscriptions.

Expected values: the model modules' own DERT and spend functions (the CLV layer must
combine them as margin × spend × DERT), Fader & Hardie (2010) DERL for the sBG, and
invariances (chunk size, margin).
"""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels import clv
from clvmodels.clv import ValueSettings, customer_values
from clvmodels.errors import ConfigError, DataError
from clvmodels.models import bgnbd, discount, gamma_gamma, model_module, sbg


@pytest.fixture(scope="module")
def fitted(cdnow_summary):
    return clvmodels.fit("bgnbd", cdnow_summary), clvmodels.fit("gamma_gamma", cdnow_summary)


def test_clv_is_margin_times_spend_times_dert(cdnow_summary, fitted):
    purchase, spend = fitted
    settings = clv.ValueSettings(horizon=52.0, discount_rate=0.1, margin=0.3, interval=None)
    values = clv.customer_values(purchase, cdnow_summary, settings, spend=spend)
    x, t_x, T = (cdnow_summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    dert = bgnbd.discounted_expected_residual_transactions(
        x, t_x, T, **purchase.params_, delta=discount.continuous_rate(0.1, "W"), horizon=52.0
    )
    spend_values = gamma_gamma.conditional_expected_average_order_value(
        x, cdnow_summary["monetary_value"].to_numpy(float), **spend.params_
    )
    np.testing.assert_allclose(values["dert"], dert, rtol=1e-12)
    np.testing.assert_allclose(values["clv"], 0.3 * spend_values * dert, rtol=1e-12)
    assert list(values.columns) == [
        "p_alive",
        "expected_purchases",
        "dert",
        "expected_spend",
        "clv",
    ]


def test_interval_brackets_the_estimate_and_does_not_depend_on_chunking(
    cdnow_summary, fitted, monkeypatch
):
    purchase, spend = fitted
    settings = clv.ValueSettings(horizon=52.0, interval=0.9, draws=40, seed=3)
    frame = cdnow_summary.iloc[:300]
    whole = clv.customer_values(purchase, frame, settings, spend=spend)
    monkeypatch.setattr(clv.draws, "CELLS_PER_CHUNK", 40 * 7)  # chunks of 7 customers
    chunked = clv.customer_values(purchase, frame, settings, spend=spend)
    pd.testing.assert_frame_equal(whole, chunked)
    for threads in (1, 3):  # chunks spread over threads: the same numbers
        spread = dataclasses.replace(settings, threads=threads)
        pd.testing.assert_frame_equal(
            whole, clv.customer_values(purchase, frame, spread, spend=spend)
        )
    assert np.all(whole["clv_lower"] <= whole["clv_upper"])
    inside = (whole["clv_lower"] <= whole["clv"]) & (whole["clv"] <= whole["clv_upper"])
    assert inside.mean() > 0.95


def test_repeat_buyer_with_refunded_spend_gets_the_population_mean():
    params = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    data = {"frequency": np.array([0.0, 3.0, 2.0]), "monetary_value": np.array([0.0, 0.0, 40.0])}
    spend = clv.spend_per_order(params, data, fallback=1.0)
    mean = float(gamma_gamma.population_mean_spend(**params))
    assert spend[0] == pytest.approx(mean) and spend[1] == pytest.approx(mean)
    assert np.all(np.isfinite(spend))
    with pytest.raises(DataError, match=r"q = 0\.9"):
        clv.spend_per_order({"p": 6.0, "q": 0.9, "gamma": 15.0}, data, fallback=1.0)
    np.testing.assert_allclose(clv.spend_per_order(None, data, fallback=12.5), 12.5)


def test_lifetime_horizon_exceeds_one_year_and_expected_purchases_use_one_year(
    cdnow_summary, fitted
):
    purchase, spend = fitted
    frame = cdnow_summary.iloc[:50]
    year = clv.customer_values(
        purchase, frame, clv.ValueSettings(horizon=365.25 / 7, interval=None), spend=spend
    )
    life = clv.customer_values(
        purchase, frame, clv.ValueSettings(horizon=math.inf, interval=None), spend=spend
    )
    assert np.all(life["dert"] >= year["dert"])
    np.testing.assert_allclose(life["expected_purchases"], year["expected_purchases"])


def test_subscription_value_is_price_times_derl_fader_hardie_2010():
    rows = pd.DataFrame({"tenure": [7, 7, 3], "churned": [0, 1, 1], "count": [491, 23, 40]})
    model = clvmodels.fit(
        "sbg",
        pd.DataFrame(
            {"tenure": [1, 2, 4, 7], "churned": [1, 1, 1, 0], "count": [131, 126, 60, 491]}
        ),
    )
    settings = clv.ValueSettings(discount_rate=0.1, time_unit="Y", margin=0.5, draws=50)
    table = clv.subscription_values(model, rows, settings, price=100.0)
    assert table["renewals"].tolist() == [7] and table["customers"].tolist() == [491.0]
    derl = float(sbg.derl(7, **model.params_, discount=0.1))
    assert table["clv"].iloc[0] == pytest.approx(50.0 * derl)
    assert table["value"].iloc[0] == pytest.approx(491 * 50.0 * derl)
    assert table["clv_lower"].iloc[0] < table["clv"].iloc[0] < table["clv_upper"].iloc[0]


def _as_posterior(estimator, n_draws: int):
    """The estimator with ``n_draws`` parametric draws standing in for a posterior."""
    posterior = estimator.result_.parameter_draws(n_draws, np.random.default_rng(0))
    fake = copy.copy(estimator)
    fake.result_ = dataclasses.replace(estimator.result_, backend="bayes", draws=posterior)
    return fake


def _draw_by_draw(key, estimator, spend, frame, settings):
    """Reference: the models' own functions called once per parameter draw."""
    module = model_module(key)
    rng = np.random.default_rng(settings.seed)
    draws = estimator.result_.parameter_draws(settings.draws, rng)
    spend_draws = spend.result_.parameter_draws(settings.draws, rng)
    x, t_x = (frame[c].to_numpy(float) for c in ("frequency", "recency"))
    m = frame["monetary_value"].to_numpy(float)
    out = {"p_alive": [], "expected_purchases": [], "clv": []}
    for j in range(settings.draws):
        p = {k: float(v[j]) for k, v in draws.items()}
        g = {k: float(v[j]) for k, v in spend_draws.items()}
        usable = (x > 0) & (m > 0)
        aov = gamma_gamma.conditional_expected_average_order_value(
            np.where(usable, x, 0.0), np.where(usable, m, 0.0), **g
        )
        if key == "bgbb":
            n = frame["n"].to_numpy(float)
            alive = module.probability_alive(x, t_x, n, **p)
            count = module.conditional_expected_transactions(settings.count_horizon, x, t_x, n, **p)
            dert = module.dert(
                x, t_x, n, **p, discount=settings.period_discount, horizon=settings.horizon
            )
        else:
            T = frame["T"].to_numpy(float)
            alive = module.probability_alive(x, t_x, T, **p)
            count = module.conditional_expected_purchases(settings.count_horizon, x, t_x, T, **p)
            dert = module.discounted_expected_residual_transactions(
                x, t_x, T, **p, delta=settings.delta, horizon=settings.horizon
            )
        out["p_alive"].append(alive)
        out["expected_purchases"].append(count)
        out["clv"].append(settings.margin * aov * dert)
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize(
    ("key", "horizon"),
    [
        ("bgnbd", 52.0),
        ("bgnbd", 260.0),
        ("mbgnbd", 52.0),
        ("paretonbd", 52.0),
        ("paretonbd", math.inf),
        ("bgbb", 52.0),
        ("bgbb", math.inf),
    ],
)
def test_posterior_summaries_equal_draw_by_draw_evaluation(
    cdnow_summary, monkeypatch, key, horizon
):
    """Per-customer posterior summaries are computed for many draws at once, in chunks
    of customers and batches of draws; they must equal the models' own functions
    evaluated one draw at a time (mean, sd and interval bounds)."""
    frame = cdnow_summary.iloc[::12].copy()
    if key == "bgbb":  # weekly opportunities: n = T, recency = last purchase week
        frame["n"] = np.floor(frame["T"])
        frame["recency"] = np.minimum(np.ceil(frame["recency"]), frame["n"])
        frame["frequency"] = np.minimum(frame["frequency"], frame["recency"])
    purchase = _as_posterior(clvmodels.fit(key, frame), 30)
    spend = _as_posterior(clvmodels.fit("gamma_gamma", frame), 30)
    settings = clv.ValueSettings(
        horizon=horizon, margin=0.4, interval=0.8, draws=30, seed=5, time_unit="W"
    )
    monkeypatch.setattr(clv.draws, "CELLS_PER_CHUNK", 30 * 40)  # chunks of 40 histories
    monkeypatch.setattr(clv.arrays, "PAIR_CELLS", 64)  # batches of a few draws
    got = clv.customer_values(purchase, frame, settings, spend=spend)
    reference = _draw_by_draw(key, purchase, spend, frame, settings)
    for name, values in reference.items():
        np.testing.assert_allclose(got[name], values.mean(axis=0), rtol=1e-9)
        np.testing.assert_allclose(
            got[f"{name}_sd"], values.std(axis=0, ddof=1), rtol=1e-7, atol=1e-12
        )
        lower, upper = np.quantile(values, [0.1, 0.9], axis=0)
        np.testing.assert_allclose(got[f"{name}_lower"], lower, rtol=1e-9)
        np.testing.assert_allclose(got[f"{name}_upper"], upper, rtol=1e-9)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"margin": 30}, r"^ValueSettings.margin: 30 is not a share of revenue in \(0, 1\]"),
        ({"discount_rate": 10}, r"^ValueSettings.discount_rate: 10 is not a yearly rate"),
        ({"time_unit": "days"}, r"^ValueSettings.time_unit: 'days' is not one of D, W, M, Y"),
        ({"interval": 90}, r"^ValueSettings.interval: 90 is not None or a probability"),
        ({"draws": 1}, r"^ValueSettings.draws: 1 is not a whole number of draws, at least 20"),
        ({"horizon": -1.0}, r"^ValueSettings.horizon: -1.0 is not a positive number"),
    ],
)
def test_value_settings_refuse_what_the_config_refuses(given, message):
    """Issue 19: ``ValueSettings(margin=30)`` was accepted silently."""
    with pytest.raises(ConfigError, match=message):
        ValueSettings(**given)


def test_customer_values_refuse_a_time_unit_other_than_the_models(cdnow_summary, fitted):
    """Issue 19: ``time_unit="D"`` with a weekly model changed total CLV by 4 % silently."""
    model, spend = fitted
    summary = cdnow_summary.head(300)
    assert model.result_.time_unit == "W"
    with pytest.raises(ConfigError, match=r"fitted in time unit 'W'.*time_unit='W'"):
        customer_values(model, summary, ValueSettings(time_unit="D", interval=None), spend=spend)
