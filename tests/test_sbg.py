"""Tests of the shifted-beta-geometric model (clvmodels.models.sbg)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from clvmodels.backends.mle import fit_mle
from clvmodels.models import sbg
from clvmodels.models._special import hyp2f1_unit
from clvmodels.models.ops import numpy_ops, pytensor_ops

# Fader & Hardie (2007), "How to project customer retention", J. Interactive Marketing
# 21(1), 76-90, Table 1: customers of a 1,000-customer cohort still active after
# k = 0..12 renewals (years 1..13), for the "regular" and "high end" segments.
FH2007_ALIVE = {
    "regular": [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173],
    "high_end": [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394],
}
# FH2007, estimates from years 1-7 (k = 0..7) of each segment.
FH2007_ESTIMATES = {
    "regular": {"alpha": 0.704, "beta": 1.182},
    "high_end": {"alpha": 0.668, "beta": 3.806},
}
# Maximised log-likelihoods at those estimates, computed here (regression values).
FH2007_LOGLIK = {"regular": -1680.265, "high_end": -1611.158}

PARAM_GRID = np.logspace(-4, 4, 5)  # 1e-4 ... 1e4
positive = st.floats(min_value=1e-3, max_value=1e3)


def _discounted_survival_sum(n, alpha, beta, discount, terms=20_000):
    """Brute-force DERL: Σ_{k≥0} S(n+1+k)/S(n) (1+d)^{-k}, truncated far in the tail."""
    k = np.arange(terms, dtype=float)
    s_ratio = np.exp(special.betaln(alpha, beta + n + 1 + k) - special.betaln(alpha, beta + n))
    return float(np.sum(s_ratio * np.exp(-k * np.log1p(discount))))


@pytest.fixture(scope="module")
def loglik_and_grad():
    """Per-row log-likelihood and its gradient in the log-parameters, compiled once."""
    import pytensor
    import pytensor.tensor as pt

    log_a, log_b, tenure, churned = (pt.dvector(n) for n in ("la", "lb", "tenure", "churned"))
    ll = sbg.log_likelihood(
        pt.exp(log_a), pt.exp(log_b), tenure=tenure, churned=churned, xp=pytensor_ops()
    )
    grads = pytensor.grad(ll.sum(), [log_a, log_b])
    return pytensor.function([log_a, log_b, tenure, churned], [ll, *grads])


@pytest.mark.parametrize("segment", ["regular", "high_end"])
def test_sbg_estimates_fader_hardie_2007(segment):
    data, weights = sbg.cohort_to_rows(FH2007_ALIVE[segment][:8])
    result = fit_mle(sbg.SPEC, data, weights)
    for name, value in FH2007_ESTIMATES[segment].items():
        assert round(result.params[name], 3) == value
    assert result.log_likelihood == pytest.approx(FH2007_LOGLIK[segment], abs=1e-3)
    assert all(np.isfinite(v) and v > 0 for v in result.std_err.values())


@pytest.mark.parametrize("segment", ["regular", "high_end"])
def test_sbg_projection_years_8_to_12_fader_hardie_2007(segment):
    """FH2007 (Figure of actual vs projected survival): fitted on years 1-7, the
    projections track the holdout years closely.  MAPE: regular 1.5 %, high end 2.8 %."""
    params = FH2007_ESTIMATES[segment]
    actual = np.array(FH2007_ALIVE[segment][8:13], dtype=float)
    projected = sbg.projected_survivors(np.arange(8, 13), 1000, **params)
    errors = np.abs(projected - actual) / actual
    assert errors.max() < 0.05
    assert errors.mean() < 0.03


def test_sbg_retention_rate_fader_hardie_2007_regular():
    """r(t) = (β + t − 1)/(α + β + t − 1) equals S(t)/S(t−1) and rises towards 1."""
    t = np.arange(1, 13)
    params = FH2007_ESTIMATES["regular"]
    r = sbg.retention_rate(t, **params)
    ratio = sbg.survival(t, **params) / sbg.survival(t - 1, **params)
    np.testing.assert_allclose(r, ratio, rtol=1e-12)
    assert r[0] == pytest.approx(1.182 / (0.704 + 1.182))
    assert np.all(np.diff(r) > 0)


@pytest.mark.parametrize(
    ("alpha", "beta", "n", "discount"),
    [
        (0.704, 1.182, 0, 0.1),
        (0.668, 3.806, 4, 0.1),
        (0.05, 2.0, 0, 0.1),
        (3.0, 0.5, 10, 0.25),
        (1e-4, 1e4, 100, 0.1),
        (1e4, 1e-4, 0, 0.1),
        (1e2, 1e4, 1e4, 0.1),
        (0.5, 1.5, 3, 0.01),
    ],
)
def test_sbg_derl_matches_discounted_survival_sum_fader_hardie_2010(alpha, beta, n, discount):
    """FH2010 eq. (6) equals the brute-force discounted sum of the survival curve."""
    terms = 20_000 if discount >= 0.05 else 200_000
    expected = _discounted_survival_sum(n, alpha, beta, discount, terms)
    got = sbg.derl(n, alpha=alpha, beta=beta, discount=discount)
    assert got == pytest.approx(expected, rel=1e-6)


def test_sbg_derl_increases_with_renewals_fader_hardie_2010():
    """FH2010: with heterogeneity, customers who have renewed more are worth more."""
    d = sbg.derl(np.arange(0, 12), alpha=0.704, beta=1.182, discount=0.1)
    assert np.all(np.diff(d) > 0)
    assert np.all(d < 11.0)  # bounded by (1 + d)/d


def test_sbg_hyp2f1_unit_matches_scipy_where_scipy_is_accurate():
    b = np.array([0.5, 1.0, 2.0, 5.0, 10.0, 3.3])
    a = np.array([0.3, 1.0, 2.0, 0.7, 3.0, 12.0])
    z = np.array([1 / 1.1, 0.5, 0.0, 0.8, 1 / 1.25, 0.3])
    np.testing.assert_allclose(
        hyp2f1_unit(b, a, z), special.hyp2f1(1.0, b, b + a, z), rtol=1e-12
    )


def test_sbg_expected_lifetime_matches_survival_sum():
    """E[T] = Σ_{t≥0} S(t) = (α + β − 1)/(α − 1) for α > 1; infinite for α ≤ 1."""
    t = np.arange(0, 2_000_000, dtype=float)
    brute = np.sum(sbg.survival(t, alpha=3.0, beta=2.0))
    assert sbg.expected_lifetime(alpha=3.0, beta=2.0) == pytest.approx(brute, rel=1e-6)
    assert np.all(np.isinf(sbg.expected_lifetime(alpha=np.array([0.704, 1.0]), beta=1.182)))


def test_sbg_cohort_loglik_equals_sum_over_expanded_customers():
    data, weights = sbg.cohort_to_rows(FH2007_ALIVE["regular"][:8])
    assert weights.sum() == 1000
    compressed = np.sum(weights * sbg.log_likelihood(0.7, 1.2, **data))
    expanded_rows = {k: np.repeat(v, weights.astype(int)) for k, v in data.items()}
    expanded = np.sum(sbg.log_likelihood(0.7, 1.2, **expanded_rows))
    assert compressed == pytest.approx(expanded, rel=1e-13)
    # the cohort likelihood of FH2007: lost_t · log P(T = t) + alive_7 · log S(7)
    alive = np.array(FH2007_ALIVE["regular"][:8], dtype=float)
    t = np.arange(1, 8)
    by_hand = np.sum(-np.diff(alive) * np.log(sbg.churn_probability(t, alpha=0.7, beta=1.2)))
    by_hand += alive[-1] * np.log(sbg.survival(7, alpha=0.7, beta=1.2))
    assert compressed == pytest.approx(by_hand, rel=1e-12)


def test_sbg_parameter_recovery_from_simulated_cohort():
    truth = {"alpha": 0.8, "beta": 2.5}
    sim = sbg.simulate(10_000, **truth, n_periods=8, rng=np.random.default_rng(7))
    result = fit_mle(sbg.SPEC, sim)
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 3 * result.std_err[name]


def test_sbg_simulated_survival_matches_model():
    truth = {"alpha": 0.704, "beta": 1.182}
    sim = sbg.simulate(200_000, **truth, n_periods=12, rng=np.random.default_rng(3))
    t = np.arange(1, 13)
    empirical = np.array([np.mean(sim["lifetime"] > k) for k in t])
    np.testing.assert_allclose(empirical, sbg.survival(t, **truth), atol=5e-3)


@settings(max_examples=60, deadline=None)
@given(alpha=positive, beta=positive, t=st.integers(min_value=1, max_value=5000))
def test_sbg_probabilities_in_unit_interval_and_monotone(alpha, beta, t):
    s = sbg.survival(np.array([t - 1, t, t + 1]), alpha=alpha, beta=beta)
    assert np.all((s >= 0) & (s <= 1))
    assert s[0] >= s[1] >= s[2]
    p = sbg.churn_probability(t, alpha=alpha, beta=beta)
    assert 0 <= p <= 1
    assert p == pytest.approx(s[0] - s[1], rel=1e-6, abs=1e-11)  # S differences cancel
    r = sbg.retention_rate(np.array([t, t + 1]), alpha=alpha, beta=beta)
    assert np.all((r >= 0) & (r <= 1)) and r[1] >= r[0]
    n0 = 1000.0
    proj = sbg.projected_survivors(np.array([t, t + 1]), n0, alpha=alpha, beta=beta)
    assert proj[0] >= proj[1]


@settings(max_examples=40, deadline=None)
@given(alpha=positive, beta=positive, n=st.integers(min_value=0, max_value=1000))
def test_sbg_derl_bounds(alpha, beta, n):
    d = sbg.derl(np.array([n, n + 1]), alpha=alpha, beta=beta, discount=0.1)
    retention = sbg.retention_rate(n + 1, alpha=alpha, beta=beta)
    assert retention * (1 - 1e-12) <= d[0] <= 11.0 * (1 + 1e-12)
    assert d[1] >= d[0] * (1 - 1e-12)  # later renewals: more loyal on average


def test_sbg_has_no_rate_parameters():
    """Discrete time: periods cannot be rescaled, so no parameter carries time units."""
    assert sbg.SPEC.rate_params == ()
    assert sbg.SPEC.param_names == ("alpha", "beta")


@settings(max_examples=30, deadline=None)
@given(alpha=positive, beta=positive)
def test_sbg_numpy_and_pytensor_loglik_agree(loglik_and_grad, alpha, beta):
    tenure = np.array([0, 1, 2, 5, 7, 7, 100, 10_000], dtype=float)
    churned = np.array([0, 1, 1, 1, 1, 0, 0, 1], dtype=float)
    ones = np.ones_like(tenure)
    ll_pt, *_ = loglik_and_grad(np.log(alpha) * ones, np.log(beta) * ones, tenure, churned)
    ll_np = sbg.log_likelihood(alpha, beta, tenure=tenure, churned=churned)
    # A log-likelihood near 0 is a difference of gammaln terms of size ~|gammaln(α+β+t)|;
    # the two libraries' gammaln may differ by an ulp of those terms.
    ulps = 1e-15 * (1.0 + np.abs(special.gammaln(alpha + beta + tenure)))
    np.testing.assert_array_less(np.abs(ll_pt - ll_np), 1e-10 * np.abs(ll_np) + ulps)


def test_sbg_loglik_broadcasts_over_parameter_draws():
    tenure = np.array([1.0, 3.0, 7.0])
    churned = np.array([1.0, 1.0, 0.0])
    alpha = np.array([[0.5], [0.7]])
    ll = sbg.log_likelihood(alpha, 1.2, tenure=tenure, churned=churned)
    assert ll.shape == (2, 3)
    np.testing.assert_allclose(ll[1], sbg.log_likelihood(0.7, 1.2, tenure=tenure, churned=churned))


def test_sbg_stress_grid_finite(loglik_and_grad):
    """Tenures 0..10,000, both row types, alpha and beta over 1e-4..1e4: no NaN/inf."""
    tenure = np.array([0, 1, 2, 10, 100, 1000, 10_000], dtype=float)
    combos = np.array(list(itertools.product(PARAM_GRID, PARAM_GRID, tenure, [0.0, 1.0])))
    a, b, t, c = combos.T
    keep = ~((c == 1.0) & (t == 0.0))  # a churned row has tenure >= 1
    a, b, t, c = a[keep], b[keep], t[keep], c[keep]
    ll, ga, gb = loglik_and_grad(np.log(a), np.log(b), t, c)
    assert np.all(np.isfinite(ll)) and np.all(ll <= 1e-9)  # log S(0) = 0 up to rounding
    assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gb))
    assert np.all(np.isfinite(sbg.log_likelihood(a, b, tenure=t, churned=c, xp=numpy_ops)))
    for fn in (sbg.survival, sbg.retention_rate, sbg.churn_probability):
        values = fn(np.maximum(t, 1.0), alpha=a, beta=b)
        assert np.all(np.isfinite(values)) and np.all((values >= 0) & (values <= 1))
    assert np.all(np.isfinite(sbg.projected_survivors(t, 1000, alpha=a, beta=b)))
    derl = sbg.derl(t, alpha=a, beta=b, discount=0.1)
    assert np.all(np.isfinite(derl)) and np.all((derl >= 0) & (derl <= 11.0 + 1e-9))
    life = sbg.expected_lifetime(alpha=a, beta=b)
    assert np.all(np.isfinite(life[a > 1])) and np.all(np.isinf(life[a <= 1]))
    sim = sbg.simulate(len(a), alpha=1e-4, beta=1e4, n_periods=10_000, rng=np.random.default_rng(0))
    assert np.all(np.isfinite(sim["tenure"]))
