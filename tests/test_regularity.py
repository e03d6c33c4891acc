"""The regularity diagnostic: Wheat & Morrison's (1990) M and k, per-customer Gamma shapes
(BTYDplus ``estimateRegularity``), the verdict and its plot."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from scipy.optimize import brentq
from scipy.special import digamma

from clvmodels.data import Regularity, estimate_regularity, load_builtin
from clvmodels.data.regularity import (
    gamma_shape_mle,
    gamma_shapes,
    regularity_from_times,
    wheat_morrison_k,
    wheat_morrison_m,
)
from clvmodels.errors import DataError
from clvmodels.report.plots import regularity_plot

CDNOW_CAL = "1997-09-30"


def _erlang_log(k: int, n_customers: int, n_gaps: int, seed: int) -> tuple[np.ndarray, ...]:
    """Purchase times of customers with Erlang-k gaps, each at her own Gamma(2, 1) rate
    (the heterogeneity the ratio M is free of)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(2.0, 1.0, size=n_customers)
    gaps = rng.gamma(k, 1.0, size=(n_customers, n_gaps)) / (k * rate[:, None])
    times = np.concatenate([np.zeros((n_customers, 1)), np.cumsum(gaps, axis=1)], axis=1)
    ids = np.repeat(np.arange(n_customers), n_gaps + 1)
    return ids, 5.0 + times.ravel()


@pytest.mark.parametrize(("k", "regular"), [(1, False), (2, True), (4, True)])
def test_simulated_erlang_k_gaps_recover_k_within_the_interval(k, regular):
    ids, times = _erlang_log(k, 3000, 2, seed=k)
    result = regularity_from_times(ids, times)
    low, high = result.k_interval
    assert low < k < high
    assert low < result.k < high
    assert result.n_customers == 3000
    assert result.regular is regular
    assert f"k = {result.k:.2f}" in result.verdict


def test_simulated_gamma_shapes_median_recovers_k():
    ids, times = _erlang_log(3, 400, 40, seed=7)
    shapes = gamma_shapes(ids, times, min_gaps=10)
    assert len(shapes) == 400
    # the MLE of a shape from 40 gaps is biased up by about 3/40 (Minka 2002)
    assert np.median(shapes) == pytest.approx(3.0, rel=0.15)
    result = regularity_from_times(ids, times)
    assert result.shapes.n_customers == 400
    assert result.shapes.lower_quartile < result.shapes.median < result.shapes.upper_quartile


def test_gamma_shapes_need_min_gaps():
    ids, times = _erlang_log(2, 50, 5, seed=1)
    assert len(gamma_shapes(ids, times, min_gaps=10)) == 0
    assert len(gamma_shapes(ids, times, min_gaps=5)) == 50
    shapes = regularity_from_times(ids, times).shapes
    assert shapes.n_customers == 0 and math.isnan(shapes.median)


@pytest.mark.parametrize("s", [1e-4, 0.01, 0.3, 1.0, 3.0])
def test_gamma_shape_mle_solves_the_score_equation(s):
    """ln k - digamma(k) = s, solved independently by bracketing."""
    root = brentq(lambda k: math.log(k) - digamma(k) - s, 1e-8, 1e8, xtol=1e-14, rtol=1e-14)
    assert float(gamma_shape_mle(np.array([s]))[0]) == pytest.approx(root, rel=1e-10)
    assert float(gamma_shape_mle(np.array([0.0]))[0]) == math.inf


def test_wheat_morrison_k_inverts_the_beta_variance():
    rng = np.random.default_rng(0)
    for k in (0.7, 1.0, 2.5):
        m = rng.beta(k, k, size=20_000)
        estimate, (low, high) = wheat_morrison_k(m)
        assert low < k < high
        assert estimate == pytest.approx(k, rel=0.08)
    # exact: Var(M) = 1 / (4 (2k + 1))
    m = np.array([0.25, 0.75, 0.25, 0.75])  # sample variance 1/12 -> k = 1
    assert wheat_morrison_k(m)[0] == pytest.approx(1.0)


def test_wheat_morrison_interval_covers_about_95_percent():
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(400):
        _, (low, high) = wheat_morrison_k(rng.beta(2.0, 2.0, size=400))
        hits += low < 2.0 < high
    assert 0.92 <= hits / 400 <= 0.98


def _hand_m(log: pd.DataFrame, end: str, pair: str) -> np.ndarray:
    """M by hand from the raw log: distinct purchase days up to ``end``, the customer's
    first (or last) two gaps."""
    days = log.loc[log["date"] <= pd.Timestamp(end), ["customer_id", "date"]].drop_duplicates()
    out = []
    for _, group in days.sort_values(["customer_id", "date"]).groupby("customer_id"):
        gaps = np.diff(group["date"].to_numpy()).astype("timedelta64[D]").astype(float)
        if len(gaps) >= 2:
            out.append(
                gaps[0] / (gaps[0] + gaps[1]) if pair == "first" else gaps[-1] / gaps[-2:].sum()
            )
    return np.array(out)


@pytest.mark.parametrize(
    ("pair", "k", "interval"),
    [
        # Wheat & Morrison's first two gaps
        ("first", 1.0132, (0.9022, 1.1432)),
        # BTYDplus's last two gaps: the k = 1.056 (0.93-1.19) an earlier attempt reported
        ("last", 1.0559, (0.9390, 1.1936)),
    ],
)
def test_cdnow_regularity_matches_hand_computed_m_and_is_not_regular(pair, k, interval):
    log = load_builtin("cdnow_sample")
    result = estimate_regularity(log, calibration_end=CDNOW_CAL, pair=pair)
    m = _hand_m(log, CDNOW_CAL, pair)
    assert result.n_customers == len(m) == 507
    np.testing.assert_allclose(np.sort(result.m), np.sort(m), rtol=1e-12)
    variance = np.var(m, ddof=1)
    assert result.k == pytest.approx((1 / (4 * variance) - 1) / 2, rel=1e-12)
    assert result.k == pytest.approx(k, abs=1e-4)
    assert result.k_interval == pytest.approx(interval, abs=1e-4)
    assert not result.regular
    assert "Poisson" in result.verdict


def test_estimate_regularity_reads_sources_with_the_summary_options(tmp_path):
    log = load_builtin("cdnow_sample").rename(columns={"customer_id": "cust", "date": "day"})
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    from_file = estimate_regularity(str(path), customer_id="cust", date="day")
    from_frame = estimate_regularity(log, customer_id="cust", date="day", time_unit="D")
    assert from_file.k == pytest.approx(from_frame.k, rel=1e-12)
    assert isinstance(from_file, Regularity)
    with pytest.raises(TypeError, match="estimate_regularity"):
        estimate_regularity(log, merge=False)


def test_too_few_customers_is_a_data_error():
    log = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2],
            "date": pd.to_datetime(["2021-01-01", "2021-01-05", "2021-01-20", "2021-01-02"]),
            "amount": 1.0,
        }
    )
    with pytest.raises(DataError, match="1 customers have 3 or more purchases"):
        estimate_regularity(log)


def test_regularity_plot_draws_on_the_given_axes_and_returns_them():
    ids, times = _erlang_log(2, 500, 2, seed=3)
    result = regularity_from_times(ids, times)
    ax = Figure().add_subplot()
    assert regularity_plot(result, ax=ax) is ax
    assert len(ax.lines) == 2  # Beta(k, k) and the Poisson reference
    assert len(ax.patches) == 20


histories = st.lists(
    # times on a grid of 1/8: distinct times stay distinct when scaled or shifted
    st.tuples(st.integers(0, 5), st.integers(0, 8000).map(lambda v: v / 8)),
    min_size=3,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(rows=histories, scale=st.floats(0.01, 100.0), shift=st.floats(-50.0, 50.0))
def test_m_is_in_the_unit_interval_and_free_of_time_scale_and_origin(rows, scale, shift):
    ids = np.array([c for c, _ in rows])
    times = np.array([t for _, t in rows])
    for pair in ("first", "last"):
        m = wheat_morrison_m(ids, times, pair=pair)
        assert np.all((m > 0) & (m < 1))
        np.testing.assert_allclose(
            wheat_morrison_m(ids, times * scale, pair=pair), m, rtol=1e-9, atol=1e-12
        )
        shifted = wheat_morrison_m(ids, times + shift, pair=pair)
        assert shifted.shape == m.shape
        np.testing.assert_allclose(shifted, m, rtol=1e-6, atol=1e-9)
        order = np.random.default_rng(0).permutation(len(ids))
        np.testing.assert_array_equal(wheat_morrison_m(ids[order], times[order], pair=pair), m)
