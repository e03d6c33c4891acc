"""Like-for-like seed comparison: the seed formula on the model's horizon and discounting
(``baseline_clv_horizon``), and RFM segments of usable size (equal-count thirds by
default, equal-width thirds on request)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from clvmodels.errors import DataError
from clvmodels.evaluation import SeedBaseline
from clvmodels.metrics import rfm_scores, rfm_segments
from clvmodels.units import units_per_year


def _one_customer(rate_per_week: float = 0.1, aov: float = 20.0) -> pd.DataFrame:
    """A customer with ``rate_per_week`` repeat purchases a week over 100 weeks (10 repeat
    purchases) and every order worth ``aov``: rate = 10 / 100, AOV = revenue / 11."""
    repeats = rate_per_week * 100.0
    return pd.DataFrame(
        {
            "customer_id": ["c"],
            "frequency": [repeats],
            "recency": [90.0],
            "T": [100.0],
            "revenue": [aov * (repeats + 1.0)],
        }
    )


def test_seed_on_the_models_horizon_hand_worked_example():
    # rate 0.1 a week, AOV 20; 52 weeks at 10 % a year, continuous:
    # δ = ln(1.1) × 7 / 365.25 = 0.0018266 a week, δH = 0.094984,
    # (1 − e^{−δH}) / δ = 49.6068 discounted weeks, value = 20 × 0.1 × 49.6068 = 99.2136
    seed = SeedBaseline("customer", time_unit="W").fit(_one_customer())
    assert seed.clv_on_horizon(52.0, 0.10).iloc[0] == pytest.approx(99.2136, abs=1e-4)
    # undiscounted: 20 × 0.1 × 52 = 104; a margin of 30 % keeps 31.2
    assert seed.clv_on_horizon(52.0, 0.0).iloc[0] == pytest.approx(104.0)
    assert seed.clv_on_horizon(52.0, 0.0, margin=0.3).iloc[0] == pytest.approx(31.2)
    # the seed's own figure: 20 × 0.1 × 52.18 weeks a year × 3 years, undiscounted
    assert seed.clv().iloc[0] == pytest.approx(20 * 0.1 * 365.25 / 7 * 3)


def test_a_lifetime_horizon_takes_the_seed_lifespan():
    # lifespan 3 years = 156.5357 weeks: 20 × 0.1 × (1 − e^{−0.0018266 × 156.5357}) / δ
    # = 20 × 0.1 × 136.1454 = 272.2907
    seed = SeedBaseline("customer", time_unit="W").fit(_one_customer())
    assert seed.clv_on_horizon(math.inf, 0.10).iloc[0] == pytest.approx(272.2907, abs=1e-4)


@settings(max_examples=50, deadline=None)
@given(
    horizon=st.floats(1.0, 500.0),
    rate=st.floats(0.0, 0.9),
    unit=st.sampled_from(["D", "W"]),
)
def test_seed_on_the_horizon_is_the_integral_of_discounted_purchases(horizon, rate, unit):
    # ∫_0^H AOV × rate × e^{−δt} dt by quadrature, δ the continuous rate of the DERT
    seed = SeedBaseline("customer", time_unit=unit).fit(_one_customer(0.1))
    delta = math.log1p(rate) / units_per_year(unit)
    integral, _ = quad(lambda t: 20.0 * 0.1 * math.exp(-delta * t), 0.0, horizon)
    assert seed.clv_on_horizon(horizon, rate).iloc[0] == pytest.approx(integral, rel=1e-9)


def test_bad_horizon_or_rate_is_a_clear_error():
    seed = SeedBaseline("customer", time_unit="W").fit(_one_customer())
    with pytest.raises(DataError, match="horizon must be > 0"):
        seed.clv_on_horizon(0.0, 0.1)
    with pytest.raises(DataError, match="discount_rate must be a yearly rate"):
        seed.clv_on_horizon(52.0, 12.0)


# ------------------------------------------------------------------------ segments


def _skewed_base(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A CDNOW-like base: 60 % one-time buyers, a long tail of frequent ones."""
    frequency = np.where(rng.random(n) < 0.6, 0, rng.geometric(0.3, n))
    T = rng.integers(27, 40, n).astype(float)
    recency = np.where(frequency > 0, rng.random(n) * T, 0.0)
    revenue = (frequency + 1) * rng.gamma(2.0, 15.0, n)
    return pd.DataFrame(
        {"customer_id": range(n), "frequency": frequency, "recency": recency, "T": T}
    ).assign(revenue=revenue)


def test_quantile_segments_are_thirds_where_equal_width_leaves_the_top_nearly_empty():
    base = _skewed_base(3000, np.random.default_rng(1))
    quantile = rfm_segments(base)["rfm_segment"].value_counts()
    # 3,000 customers: 1,000 each, up to customers tied on the ranking key at a cut
    assert set(quantile.index) == {"low", "middle", "top"}
    assert (abs(quantile - 1000) <= 5).all()
    equal_width = rfm_segments(base, method="equal_width")["rfm_segment"].value_counts()
    assert equal_width["top"] < 300  # the range thirds of a skewed base
    pd.testing.assert_frame_equal(
        rfm_segments(base, method="equal_width"), rfm_scores(base, method="range")
    )


def test_a_compressed_summary_gets_the_segments_of_the_customers_it_stands_for():
    """Rows shared by ``count`` customers are ranked and cut by their customers: the
    segments equal those of the expanded summary, customer by customer."""
    rng = np.random.default_rng(7)
    base = _skewed_base(400, rng).round({"recency": 0, "revenue": -1})
    base["T"] = 39.0
    history = ["frequency", "recency", "T", "revenue"]
    compressed = base.groupby(history, as_index=False).size().rename(columns={"size": "count"})
    compressed.insert(0, "customer_id", range(len(compressed)))
    assert len(compressed) < len(base) / 2  # many customers share a row
    per_row = rfm_segments(compressed).set_axis(compressed.index)
    expanded = compressed.loc[compressed.index.repeat(compressed["count"])]
    expected = rfm_segments(expanded.drop(columns="count").assign(customer_id=range(len(expanded))))
    assert list(per_row.loc[expanded.index, "rfm_segment"]) == list(expected["rfm_segment"])
    counts = per_row.groupby("rfm_segment", observed=True).apply(
        lambda rows: compressed.loc[rows.index, "count"].sum()
    )
    assert counts.sum() == 400 and counts.min() > 60  # thirds of customers, up to ties


def test_cdnow_top_segment_holds_hundreds_not_4(cdnow_summary):
    # CDNOW, 2,357 customers: equal-width thirds put 4 on top; thirds of the ranking 786
    clipped = cdnow_summary.assign(revenue=cdnow_summary["revenue"].clip(lower=0.0))
    quantile = rfm_segments(clipped)["rfm_segment"].value_counts()
    assert quantile.to_dict() == {"low": 786, "middle": 785, "top": 786}
    assert rfm_segments(clipped, method="equal_width")["rfm_segment"].value_counts()["top"] == 4


def test_quantile_segments_hand_worked_example():
    # frequency 0 0 0 1 2 5, T 10, recency = frequency (T - recency: 10 10 10 9 8 5),
    # AOV 10 each (M ties everywhere: score 2, percentile 0.5).
    # quantile scores (rfm_scores): F ranks 2 2 2 4 5 6 -> 1 1 1 2 3 3; R the same -> 1 1 1
    #   2 3 3; M 2: rfm_score 4 4 4 6 8 8.
    # ranking key: the three ones tie on everything (average rank 2), then 6 (rank 4),
    # then the two 8s, broken by their percentile sums (rank 5 and 6)
    # tercile floor((rank - 1/2) / 6 × 3): rank 2 -> 0 (low), 4 -> 1 (middle), 5 -> 2, 6 -> 2
    frame = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "frequency": [0, 0, 0, 1, 2, 5],
            "recency": [0.0, 0.0, 0.0, 1.0, 2.0, 5.0],
            "T": [10.0] * 6,
            "revenue": [10.0, 10.0, 10.0, 20.0, 30.0, 60.0],
        }
    )
    table = rfm_segments(frame)
    assert list(table["rfm_score"]) == [4, 4, 4, 6, 8, 8]
    assert list(table["rfm_segment"]) == ["low", "low", "low", "middle", "top", "top"]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 120), seed=st.integers(0, 2**32 - 1))
def test_quantile_segments_follow_the_score_and_ignore_row_order(n, seed):
    rng = np.random.default_rng(seed)
    base = _skewed_base(n, rng)
    table = rfm_segments(base)
    # a higher RFM score never falls in a lower segment
    order = table.sort_values(["rfm_score", "rfm_segment"])
    assert order["rfm_segment"].cat.codes.is_monotonic_increasing
    shuffled = base.sample(frac=1.0, random_state=rng)
    again = rfm_segments(shuffled).set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(again, table.set_index("customer_id").sort_index())


def test_unknown_segment_method_is_a_clear_error():
    with pytest.raises(DataError, match="method must be one of quantile, equal_width"):
        rfm_segments(_skewed_base(5, np.random.default_rng(0)), method="range")
    with pytest.raises(DataError, match="baseline segments must be one of"):
        SeedBaseline(segments="deciles")


# ------------------------------------------------------------------ in a run folder


def test_cdnow_run_compares_on_the_models_horizon_and_says_which(cdnow_run):
    predictions = pd.read_csv(cdnow_run / "predictions.csv")
    manifest = json.loads((cdnow_run / "manifest.json").read_text())
    record = manifest["seed_comparison"]
    assert record["segments"] == "quantile"
    assert record["baseline_clv"] == {
        "horizon_years": 3.0,
        "discounted": False,
        "formula": "margin × AOV × purchases per year × lifespan_years",
    }
    terms = record["baseline_clv_horizon"]
    assert (terms["horizon"], terms["time_unit"], terms["discount_rate"]) == (52.0, "W", 0.10)
    # same rate and AOV per customer: the horizon value is the 3-year one times
    # (1 − e^{−52δ}) / δ over 3 × 52.18 weeks = 49.6068 / 156.5357
    ratio = 49.606784 / (3 * 365.25 / 7)
    np.testing.assert_allclose(
        predictions["baseline_clv_horizon"], predictions["baseline_clv"] * ratio, rtol=1e-6
    )
    sizes = predictions["rfm_segment"].value_counts()
    assert sizes.min() > 700  # thirds of 2,357, not 4 customers on top
    report = (cdnow_run / "report.html").read_text()
    segment_table = report.split("Value by RFM segment")[1].split("</table>")[0]
    assert "mean seed CLV, same terms" in segment_table
    assert "horizon (1.00 years), discounted at 10% a year as the model" in report
