"""Tests of the MBG/NBD model (clvmodels.models.mbgnbd).

Batislam, Denizel & Filiztekin (2007) publish estimates for Turkish grocery data only,
which are not available here; the references are therefore lifetimes'
``ModifiedBetaGeoFitter`` (an independent implementation of the same likelihood) on the
CDNOW sample, parameter recovery from simulated data, and identities of the model.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special

from clvmodels.backends.mle import fit_mle
from clvmodels.models import bgnbd, cohort, mbgnbd

# MBG/NBD maximum on the CDNOW calibration data (FHL2005's data file), computed here with
# fit_mle and equal to lifetimes 0.11.3 ModifiedBetaGeoFitter to 1e-6 (regression values).
CDNOW_MBGNBD = {"r": 0.5248, "alpha": 6.1830, "a": 0.8914, "b": 1.6140}
CDNOW_MBGNBD_LOGLIK = -9582.1

PARAM_GRID = np.logspace(-4, 4, 5)


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    return fit_mle(mbgnbd.SPEC, cdnow)


# ---- CDNOW: regression values equal to lifetimes (no published MBG/NBD figures for CDNOW) -


def test_mbgnbd_cdnow_estimates_regression_agree_with_lifetimes(cdnow_fit):
    for name, value in CDNOW_MBGNBD.items():
        assert round(cdnow_fit.params[name], 4) == pytest.approx(value), name
    assert round(cdnow_fit.log_likelihood, 1) == pytest.approx(CDNOW_MBGNBD_LOGLIK)


# ---- simulation ----------------------------------------------------------------------------


def test_mbgnbd_parameter_recovery_from_simulated_data():
    truth = {"r": 0.5, "alpha": 4.0, "a": 0.9, "b": 1.6}
    rng = np.random.default_rng(20070301)
    sim = mbgnbd.simulate(10_000, **truth, T=rng.uniform(26.0, 52.0, 10_000), rng=rng)
    result = fit_mle(mbgnbd.SPEC, {k: sim[k] for k in mbgnbd.SPEC.data_columns})
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 3 * result.std_err[name], name


def test_mbgnbd_simulated_frequencies_match_pmf_and_mean():
    p = {"r": 0.7, "alpha": 3.0, "a": 1.5, "b": 4.0}
    rng = np.random.default_rng(11)
    n = 100_000
    sim = mbgnbd.simulate(n, **p, T=20.0, rng=rng)
    expected = float(mbgnbd.expected_purchases(20.0, **p))
    sd = sim["frequency"].std() / n**0.5
    assert sim["frequency"].mean() == pytest.approx(expected, abs=4 * sd)
    for x in range(4):
        prob = float(mbgnbd.probability_of_purchases(x, 20.0, **p))
        assert np.mean(sim["frequency"] == x) == pytest.approx(prob, abs=4 * (prob / n) ** 0.5)
    alive = mbgnbd.probability_alive(sim["frequency"], sim["recency"], sim["T"], **p)
    assert sim["alive"].mean() == pytest.approx(alive.mean(), abs=0.01)
    # dropout at time 0: some customers with no repeat purchase are inactive
    assert not np.all(sim["alive"][sim["frequency"] == 0])


def test_mbgnbd_pmf_sums_to_one_and_mean_is_expectation():
    p = {"r": 0.5248, "alpha": 6.1831, "a": 0.8914, "b": 1.6140}
    x = np.arange(3000)
    pmf = mbgnbd.probability_of_purchases(x, 39.0, **p)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
    assert (x * pmf).sum() == pytest.approx(float(mbgnbd.expected_purchases(39.0, **p)), rel=1e-9)


@pytest.mark.parametrize(
    ("t", "r", "alpha", "a", "b"),
    [
        (39.0, 0.52, 6.2, 0.89, 1.6),
        (1e4, 3.0, 1e-3, 1.0, 2.0),
        (1.0, 0.5, 2.0, 1.0 + 1e-7, 3.0),
        (1e3, 5e3, 0.1, 0.05, 80.0),
    ],
)
def test_mbgnbd_expected_purchases_equals_beta_integral(t, r, alpha, a, b):
    """E[X(t)] = E_p[(1−p)/p · (1 − (α/(α+pt))^r)] by direct integration in p."""

    def integrand(p):
        h = -np.expm1(-r * np.log1p(p * t / alpha)) / p * (1 - p)
        return h * np.exp((a - 1) * np.log(p) + (b - 1) * np.log1p(-p) - special.betaln(a, b))

    points = [alpha / t] if alpha / t < 1 else None
    reference, _ = integrate.quad(integrand, 0.0, 1.0, limit=400, epsrel=1e-12, points=points)
    value = float(mbgnbd.expected_purchases(t, r=r, alpha=alpha, a=a, b=b))
    assert value == pytest.approx(reference, rel=1e-7)


def test_mbgnbd_alive_below_one_without_repeat_purchases():
    """BDF2007: a customer may drop out right after the first purchase."""
    value = mbgnbd.probability_alive(0, 0.0, 30.0, r=1.0, alpha=1.0, a=1.0, b=1.0)
    assert 0.0 < float(value) < 1.0
    # at T = 0 nothing has been observed: P(alive) = E[1 − p] = b / (a + b)
    at_start = mbgnbd.probability_alive(0, 0.0, 0.0, r=1.0, alpha=1.0, a=1.0, b=3.0)
    assert float(at_start) == pytest.approx(0.75)


def test_mbgnbd_differs_from_bgnbd_only_by_time_zero_dropout():
    """With b → ∞ nobody drops out and both models give the Poisson-gamma (NBD) counts."""
    p = {"r": 0.8, "alpha": 3.0, "a": 2.0, "b": 1e9}
    for t in (1.0, 10.0, 100.0):
        nbd = 0.8 * t / 3.0
        assert float(mbgnbd.expected_purchases(t, **p)) == pytest.approx(nbd, rel=1e-6)
        assert float(bgnbd.expected_purchases(t, **p)) == pytest.approx(nbd, rel=1e-6)


# ---- properties (the checks shared with MBG/NBD are in test_bgnbd_family.py) -------------


def test_mbgnbd_loglik_broadcasts_over_parameter_draws(cdnow):
    r = np.array([[0.5], [0.6]])
    ll = mbgnbd.log_likelihood(r, 6.2, 0.89, 1.6, **cdnow)
    assert ll.shape == (2, len(cdnow["T"]))
    np.testing.assert_allclose(ll[1], mbgnbd.log_likelihood(0.6, 6.2, 0.89, 1.6, **cdnow))
    e = mbgnbd.conditional_expected_purchases(
        39.0, cdnow["frequency"], cdnow["recency"], cdnow["T"], r=r, alpha=6.2, a=0.89, b=1.6
    )
    assert e.shape == (2, len(cdnow["T"]))


def test_mbgnbd_tracking_curve_sums_expectations():
    p = {"r": 0.52, "alpha": 6.2, "a": 0.89, "b": 1.6}
    joins = np.array([0.0, 0.0, 3.5, 10.0])
    curve = cohort.expected_cumulative_transactions(
        lambda age: mbgnbd.expected_purchases(age, **p), np.array([5.0, 20.0]), joins
    )
    by_hand = [
        sum(float(mbgnbd.expected_purchases(t - s, **p)) for s in joins if t > s)
        for t in (5.0, 20.0)
    ]
    np.testing.assert_allclose(curve, by_hand, rtol=1e-12)


def test_mbgnbd_spec_declares_paper_notation():
    spec = mbgnbd.SPEC
    assert spec.key == "mbgnbd" and spec.param_names == ("r", "alpha", "a", "b")
    assert spec.rate_params == ("alpha",)
    assert spec.data_columns == ("frequency", "recency", "T")
