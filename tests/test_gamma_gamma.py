"""Tests of the Gamma-Gamma spend model (clvmodels.models.gamma_gamma)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from clvmodels.backends.mle import fit_mle
from clvmodels.data import load_builtin, summarize_transactions
from clvmodels.models import gamma_gamma as gg
from clvmodels.models.ops import pytensor_ops

# Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" (and FHL2005, JMR):
# CDNOW sample, 946 repeat buyers in the 39-week calibration period.
FH2013_ESTIMATES = {"p": 6.25, "q": 3.74, "gamma": 15.44}
FH2013_CORRELATION = 0.11  # frequency vs average repeat-transaction value
PARAMS = ("p", "q", "gamma")
PARAM_GRID = np.logspace(-4, 4, 5)
positive = st.floats(min_value=1e-2, max_value=1e2)


@pytest.fixture(scope="module")
def cdnow():
    summary = summarize_transactions(
        load_builtin("cdnow_sample"),
        time_unit="W",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    return {c: summary[c].to_numpy(float) for c in ("frequency", "monetary_value")}


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    return fit_mle(gg.SPEC, cdnow)


@pytest.fixture(scope="module")
def loglik_and_grad():
    import pytensor
    import pytensor.tensor as pt

    logs = [pt.dvector(f"log_{k}") for k in PARAMS]
    x, m = pt.dvector("x"), pt.dvector("m")
    ll = gg.log_likelihood(
        *(pt.exp(v) for v in logs), frequency=x, monetary_value=m, xp=pytensor_ops()
    )
    grads = pytensor.grad(ll.sum(), logs)
    return pytensor.function([*logs, x, m], [ll, *grads])


def test_gamma_gamma_cdnow_estimates_fader_hardie_2013(cdnow_fit):
    assert cdnow_fit.n_obs == 946  # repeat buyers only (row_mask)
    for name, value in FH2013_ESTIMATES.items():
        assert round(cdnow_fit.params[name], 2) == value
    assert cdnow_fit.log_likelihood == pytest.approx(-4055.918, abs=1e-2)  # our value


def test_gamma_gamma_cdnow_frequency_spend_correlation_fader_hardie_2013(cdnow):
    corr = gg.frequency_spend_correlation(cdnow["frequency"], cdnow["monetary_value"])
    assert round(corr, 2) == FH2013_CORRELATION


def test_gamma_gamma_density_integrates_to_one():
    """The density of the mean of x transactions (FH2013) integrates to 1 over m̄."""
    for p, q, gamma, x in [(6.25, 3.74, 15.44, 1), (6.25, 3.74, 15.44, 7), (0.5, 1.5, 2.0, 3)]:

        def density(m, p=p, q=q, gamma=gamma, x=x):
            return np.exp(gg.log_likelihood(p, q, gamma, frequency=x, monetary_value=m))

        total, _ = integrate.quad(density, 0, np.inf, limit=200)
        assert total == pytest.approx(1.0, rel=1e-7)


def test_gamma_gamma_conditional_expectation_is_posterior_mean():
    """E[p/ν | x, m̄] by numerical integration over the posterior of ν (FH2013 eq. (5))."""
    p, q, gamma, x, m = 6.25, 3.74, 15.44, 3.0, 40.0

    def log_kernel(nu):  # prior Gamma(q, γ) × density of m̄ ~ Gamma(px, νx), up to constants
        return (q - 1) * np.log(nu) - gamma * nu + p * x * np.log(nu * x) - nu * x * m

    mode = (q - 1 + p * x) / (gamma + x * m)
    shift = log_kernel(mode)

    def posterior_kernel(nu, power):
        return (p / nu) ** power * np.exp(log_kernel(nu) - shift)

    num, _ = integrate.quad(posterior_kernel, 0, 50 * mode, args=(1,), points=[mode], limit=400)
    den, _ = integrate.quad(posterior_kernel, 0, 50 * mode, args=(0,), points=[mode], limit=400)
    got = gg.conditional_expected_average_order_value(x, m, p=p, q=q, gamma=gamma)
    assert got == pytest.approx(num / den, rel=1e-7)


def test_gamma_gamma_population_mean_and_finiteness():
    assert gg.population_mean_spend(p=6.25, q=3.74, gamma=15.44) == pytest.approx(
        6.25 * 15.44 / 2.74
    )
    q = np.array([0.5, 1.0, 1.5])
    np.testing.assert_array_equal(gg.mean_spend_is_finite(q), [False, False, True])
    mean = gg.population_mean_spend(p=1.0, q=q, gamma=1.0)
    assert np.isinf(mean[0]) and np.isinf(mean[1]) and mean[2] == pytest.approx(2.0)
    # with q <= 1 a repeat buyer's posterior mean still exists when p·x + q > 1
    cond = gg.conditional_expected_average_order_value(
        np.array([0.0, 1.0, 5.0]), np.array([0.0, 10.0, 10.0]), p=0.1, q=0.8, gamma=2.0
    )
    assert np.isinf(cond[0]) and np.isinf(cond[1]) and np.isfinite(cond[2])


def test_gamma_gamma_zero_frequency_gets_population_mean():
    got = gg.conditional_expected_average_order_value(0, 0.0, p=6.25, q=3.74, gamma=15.44)
    assert got == pytest.approx(gg.population_mean_spend(p=6.25, q=3.74, gamma=15.44))


def test_gamma_gamma_parameter_recovery_from_simulation():
    truth = {"p": 6.0, "q": 3.5, "gamma": 15.0}
    rng = np.random.default_rng(21)
    frequency = rng.integers(1, 11, size=10_000)
    sim = gg.simulate(10_000, **truth, frequency=frequency, rng=rng)
    result = fit_mle(gg.SPEC, sim)
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 3 * result.std_err[name]


def test_gamma_gamma_rescaling_money_rescales_gamma_only(cdnow, cdnow_fit):
    """Money × c: gamma × c, p and q unchanged, each row's log-density shifts by −log c."""
    c = 100.0
    params = cdnow_fit.params
    mask = gg.row_mask(cdnow)
    x, m = cdnow["frequency"][mask], cdnow["monetary_value"][mask]
    base = gg.log_likelihood(**params, frequency=x, monetary_value=m)
    scaled = gg.log_likelihood(
        params["p"], params["q"], c * params["gamma"], frequency=x, monetary_value=c * m
    )
    np.testing.assert_allclose(scaled, base - np.log(c), rtol=1e-12, atol=1e-12)
    refit = fit_mle(gg.SPEC, {"frequency": x, "monetary_value": c * m})
    assert refit.params["p"] == pytest.approx(params["p"], rel=1e-5)
    assert refit.params["q"] == pytest.approx(params["q"], rel=1e-5)
    assert refit.params["gamma"] == pytest.approx(c * params["gamma"], rel=1e-5)


@settings(max_examples=60, deadline=None)
@given(
    p=positive,
    q=st.floats(min_value=1.01, max_value=1e2),
    gamma=positive,
    x=st.integers(1, 10_000),
    m=st.floats(min_value=1e-2, max_value=1e4),
)
def test_gamma_gamma_conditional_mean_is_weighted_average(p, q, gamma, x, m):
    got = gg.conditional_expected_average_order_value(x, m, p=p, q=q, gamma=gamma)
    population = gg.population_mean_spend(p=p, q=q, gamma=gamma)
    weight = p * x / (p * x + q - 1)
    assert got == pytest.approx((1 - weight) * population + weight * m, rel=1e-9)
    lo, hi = min(population, m), max(population, m)
    assert lo * (1 - 1e-12) <= got <= hi * (1 + 1e-12)
    more = gg.conditional_expected_average_order_value(x, 2 * m, p=p, q=q, gamma=gamma)
    assert more > got


def test_gamma_gamma_has_no_time_parameters():
    assert gg.SPEC.rate_params == ()
    assert gg.SPEC.row_mask is not None


@settings(max_examples=30, deadline=None)
@given(p=positive, q=positive, gamma=positive)
def test_gamma_gamma_numpy_and_pytensor_loglik_agree(loglik_and_grad, p, q, gamma):
    x = np.array([1, 2, 5, 10, 100, 10_000], dtype=float)
    m = np.array([0.01, 5.0, 30.0, 1e3, 1e4, 17.0])
    ones = np.ones_like(x)
    ll_pt, *_ = loglik_and_grad(*(np.log(v) * ones for v in (p, q, gamma)), x, m)
    ll_np = gg.log_likelihood(p, q, gamma, frequency=x, monetary_value=m)
    ulps = 1e-15 * (1.0 + np.abs(special.gammaln(p * x + q)))
    np.testing.assert_array_less(np.abs(ll_pt - ll_np), 1e-10 * np.abs(ll_np) + 10 * ulps)


def test_gamma_gamma_stress_grid_finite(loglik_and_grad):
    """x up to 10,000, m̄ from 0.01 to 10,000, every parameter over 1e-4..1e4."""
    x_values = [1.0, 2.0, 10.0, 100.0, 10_000.0]
    m_values = [0.01, 1.0, 100.0, 10_000.0]
    grid = np.array(list(itertools.product(PARAM_GRID, PARAM_GRID, PARAM_GRID, x_values, m_values)))
    p, q, gamma, x, m = grid.T
    ll, *grads = loglik_and_grad(np.log(p), np.log(q), np.log(gamma), x, m)
    assert np.all(np.isfinite(ll))
    assert all(np.all(np.isfinite(gr)) for gr in grads)
    assert np.all(np.isfinite(gg.log_likelihood(p, q, gamma, frequency=x, monetary_value=m)))
    cond = gg.conditional_expected_average_order_value(x, m, p=p, q=q, gamma=gamma)
    assert np.all(np.isfinite(cond[p * x + q > 1])) and np.all(cond > 0)
    mean = gg.population_mean_spend(p=p, q=q, gamma=gamma)
    assert np.all(np.isfinite(mean[q > 1])) and np.all(np.isinf(mean[q <= 1]))
    sim = gg.simulate(len(p), p=1e-4, q=1e4, gamma=1e-4, frequency=x, rng=np.random.default_rng(1))
    assert np.all(np.isfinite(sim["monetary_value"]))


@pytest.mark.lifetimes
def test_gamma_gamma_agrees_with_lifetimes(cdnow, cdnow_fit):
    from lifetimes import GammaGammaFitter

    mask = gg.row_mask(cdnow)
    x, m = cdnow["frequency"][mask], cdnow["monetary_value"][mask]
    params = cdnow_fit.params
    log_params = np.log([params[k] for k in PARAMS])
    ours = gg.log_likelihood(**params, frequency=x, monetary_value=m)
    theirs = np.array(
        [
            -GammaGammaFitter._negative_log_likelihood(
                log_params, x[i : i + 1], m[i : i + 1], np.ones(1), 0.0
            )
            for i in range(len(x))
        ]
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)

    fitter = GammaGammaFitter(penalizer_coef=0.0).fit(x, m)
    for ours_name, theirs_name in zip(PARAMS, ("p", "q", "v"), strict=True):
        assert params[ours_name] == pytest.approx(fitter.params_[theirs_name], rel=1e-3)
    fitter.params_[:] = [params[k] for k in PARAMS]
    np.testing.assert_allclose(
        gg.conditional_expected_average_order_value(x, m, **params),
        fitter.conditional_expected_average_profit(x, m),
        rtol=1e-6,
    )
