"""CLV per customer: formula, spend policy, intervals, chunking, subscriptions.

Expected values: the model modules' own DERT and spend functions (the CLV layer must
combine them as margin × spend × DERT), Fader & Hardie (2010) DERL for the sBG, and
invariances (chunk size, margin).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels import clv
from clvmodels.errors import DataError
from clvmodels.models import bgnbd, discount, gamma_gamma, sbg


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
    monkeypatch.setattr(clv, "_CELLS_PER_CHUNK", 40 * 7)  # chunks of 7 customers
    chunked = clv.customer_values(purchase, frame, settings, spend=spend)
    pd.testing.assert_frame_equal(whole, chunked)
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
