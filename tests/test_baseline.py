"""The seed baseline (AOV × purchase frequency × lifespan), on hand-worked summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.errors import DataError
from clvmodels.evaluation import SeedBaseline

WEEKS_PER_YEAR = 365.25 / 7


def _summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "frequency": [0, 2, 4, 1],
            "recency": [0.0, 10.0, 20.0, 5.0],
            "T": [10.0, 20.0, 20.0, 200.0],
            "revenue": [10.0, 60.0, 250.0, 40.0],
        }
    )


def test_base_level_rate_is_repeat_purchases_per_observed_week():
    model = SeedBaseline("base", lifespan_years=3.0, time_unit="W").fit(_summary())
    rate = 7 / 250  # Σ frequency / Σ T
    aov = 360 / 11  # Σ revenue / Σ (frequency + 1)
    forecast = model.predict(39.0)
    lifespan = 3 * WEEKS_PER_YEAR  # 156.5 weeks; customer 4 (T = 200) has outlived it
    np.testing.assert_allclose(forecast["expected_purchases"], rate * np.array([39, 39, 39, 0.0]))
    np.testing.assert_allclose(forecast["expected_revenue"], forecast["expected_purchases"] * aov)
    assert lifespan < 200
    np.testing.assert_allclose(model.clv(margin=0.5), 0.5 * aov * rate * WEEKS_PER_YEAR * 3)


def test_customer_level_uses_each_customers_own_rate_and_order_value():
    model = SeedBaseline("customer", lifespan_years=3.0, time_unit="W").fit(_summary())
    np.testing.assert_allclose(model.rates_, [0.0, 0.1, 0.2, 1 / 200])
    np.testing.assert_allclose(model.aov_, [10.0, 20.0, 50.0, 20.0])
    np.testing.assert_allclose(model.predict(10.0)["expected_purchases"], [0.0, 1.0, 2.0, 0.0])


def test_segment_level_shares_rates_within_rfm_segments():
    summary = _summary()
    model = SeedBaseline("segment", time_unit="W").fit(summary)
    from clvmodels.metrics import rfm_scores

    segments = rfm_scores(summary)["rfm_segment"].astype(str).to_numpy()
    for segment in set(segments):
        members = segments == segment
        x, T = summary["frequency"][members].sum(), summary["T"][members].sum()
        np.testing.assert_allclose(model.rates_.to_numpy()[members], x / T)


def test_bad_level_and_missing_revenue_are_clear_errors():
    with pytest.raises(DataError, match="level"):
        SeedBaseline("cohort")
    with pytest.raises(DataError, match="revenue"):
        SeedBaseline().fit(_summary().drop(columns="revenue"))
