"""NBD model (Ehrenberg 1959, no dropout): CDNOW fit, brute-force likelihood, reductions
of the BG/NBD and Pareto/NBD, predictions against simulation, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special, stats

from clvmodels.backends.mle import fit_mle
from clvmodels.models import bgnbd, discount, nbd, paretonbd
from clvmodels.models.ops import numpy_ops, pytensor_ops

COLUMNS = ("frequency", "recency", "T")
P = {"r": 0.7, "alpha": 9.0}


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    """CDNOW 1/10th sample, 39-week calibration period, weeks (2,357 customers)."""
    from clvmodels.data import load_builtin, summarize_transactions

    frame = summarize_transactions(
        load_builtin("cdnow_sample"),
        time_unit="W",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    return {k: frame[k].to_numpy(dtype=float) for k in COLUMNS}


# ------------------------------------------------------------------ 1. CDNOW estimates


def test_nbd_cdnow_fit_mle_matches_direct_scipy_optimisation(cdnow):
    """fit_mle against an independent Nelder–Mead maximisation of the closed-form
    likelihood written out here: r = 0.38477, α = 12.0720, LL = −9763.658."""
    x, T = cdnow["frequency"], cdnow["T"]

    def negative(theta):
        r, alpha = np.exp(theta)
        terms = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        return -np.sum(terms - (r + x) * np.log(alpha + T))

    direct = optimize.minimize(
        negative,
        [0.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 5000},
    )
    result = fit_mle(nbd.SPEC, cdnow)
    np.testing.assert_allclose(
        [result.params["r"], result.params["alpha"]], np.exp(direct.x), rtol=1e-6
    )
    assert result.log_likelihood == pytest.approx(-direct.fun, abs=1e-6)
    assert round(result.params["r"], 5) == 0.38477
    assert round(result.params["alpha"], 4) == 12.0720
    assert round(result.log_likelihood, 3) == -9763.658
    assert np.all(np.isfinite(result.cov_log))


# ------------------------------------------------------------------ 2. likelihood


def test_nbd_likelihood_equals_integral_over_lambda_ehrenberg_1959():
    """L = ∫ λ^x e^(−λT) Gamma(λ; r, α) dλ by adaptive quadrature."""
    for r, alpha, x, T in [(0.4, 12.0, 0.0, 30.0), (2.5, 3.0, 7.0, 20.0), (0.1, 0.5, 40.0, 5.0)]:
        density = stats.gamma(r, scale=1.0 / alpha).pdf
        integral = integrate.quad(
            lambda lam, x=x, T=T, density=density: lam**x * math.exp(-lam * T) * density(lam),
            0,
            np.inf,
            epsrel=1e-12,
            limit=500,
        )[0]
        ours = nbd.log_likelihood(r, alpha, frequency=np.array([x]), T=np.array([T]))[0]
        assert ours == pytest.approx(math.log(integral), abs=1e-8)


def test_nbd_is_the_bgnbd_limit_b_to_infinity_fader_hardie_lee_2005():
    """BG/NBD (FHL 2005 eq. 6) with p ~ Beta(1, b), b → ∞ (no dropout): the NBD, up to
    O(x/b).  (b = 1e8: beyond ~1e9 the BG/NBD's log B(a, b+x) − log B(a, b) loses
    digits to cancellation, 4e-3 at b = 1e12.)"""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, 200).astype(float)
    T = rng.uniform(1, 50, 200)
    # the dropped-after-t_x term is a/(b+x−1)·((α+T)/(α+t_x))^(r+x) times the NBD one:
    # negligible at b = 1e8 for histories with t_x ≥ T/2 and x ≤ 5
    t_x = np.where(x > 0, T * rng.uniform(0.5, 1.0, size=200), 0.0)
    ours = nbd.log_likelihood(**P, frequency=x, T=T)
    limit = bgnbd.log_likelihood(**P, a=1.0, b=1e8, frequency=x, recency=t_x, T=T)
    np.testing.assert_allclose(limit, ours, atol=1e-6)
    cond = bgnbd.conditional_expected_purchases(10.0, x, t_x, T, **P, a=1.0, b=1e8)
    np.testing.assert_allclose(
        cond, nbd.conditional_expected_purchases(10.0, x, t_x, T, **P), rtol=1e-6
    )


def test_nbd_is_the_paretonbd_limit_without_dropout_schmittlein_1987():
    """Pareto/NBD with a vanishing dropout rate (s → 0): the NBD likelihood."""
    x = np.array([0.0, 2.0, 9.0])
    T = np.array([30.0, 25.0, 39.0])
    t_x = np.array([0.0, 10.0, 38.0])
    ours = nbd.log_likelihood(**P, frequency=x, T=T)
    limit = paretonbd.log_likelihood(**P, s=1e-12, beta=1.0, frequency=x, recency=t_x, T=T)
    np.testing.assert_allclose(limit, ours, atol=1e-9)


def test_nbd_numpy_and_pytensor_agree():
    import pytensor
    import pytensor.tensor as pt

    r, alpha = pt.dscalar("r"), pt.dscalar("alpha")
    x, T = pt.dvector("x"), pt.dvector("T")
    graph = nbd.log_likelihood(r, alpha, frequency=x, T=T, xp=pytensor_ops())
    fn = pytensor.function([r, alpha, x, T], [graph, *pytensor.grad(graph.sum(), [r, alpha])])
    xs, Ts = np.array([0.0, 3.0, 1e4]), np.array([1e-3, 20.0, 1e4])
    value, *grads = fn(0.3, 5.0, xs, Ts)
    np.testing.assert_allclose(
        value, nbd.log_likelihood(0.3, 5.0, frequency=xs, T=Ts, xp=numpy_ops), rtol=1e-12
    )
    assert np.all(np.isfinite(grads))


# ------------------------------------------------------------------ 3. predictions


def test_nbd_predictions_match_simulation():
    """Mean count, P(X = 0) and the conditional expectation of the holdout against
    simulated purchase times (calibration 30, holdout 20)."""
    rng = np.random.default_rng(7)
    n, T_cal, t = 100_000, 30.0, 20.0
    customer, time = nbd.simulate_purchase_times(**P, T=np.full(n, T_cal + t), rng=rng)
    calibration = time <= T_cal
    x = np.bincount(customer[calibration], minlength=n).astype(float)
    holdout = np.bincount(customer[~calibration], minlength=n).astype(float)
    assert x.mean() == pytest.approx(float(nbd.expected_purchases(T_cal, **P)), rel=0.02)
    assert np.mean(x == 0) == pytest.approx(
        float(nbd.probability_of_purchases(0.0, T_cal, **P)), abs=0.005
    )
    for k in (0, 1, 3):
        group = x == k
        predicted = nbd.conditional_expected_purchases(t, k, 0.0, T_cal, **P)
        assert holdout[group].mean() == pytest.approx(float(predicted), rel=0.04)


def test_nbd_simulate_summaries_match_purchase_times():
    rng = np.random.default_rng(2)
    sim = nbd.simulate(50_000, **P, T=30.0, rng=rng)
    assert sim["alive"].all()
    assert sim["frequency"].mean() == pytest.approx(P["r"] * 30.0 / P["alpha"], rel=0.03)
    buyers = sim["frequency"] > 0
    # the last of x uniform times on (0, T]: E[t_x | x] = T x/(x+1)
    expected = 30.0 * sim["frequency"][buyers] / (sim["frequency"][buyers] + 1.0)
    assert sim["recency"][buyers].mean() == pytest.approx(expected.mean(), rel=0.01)


def test_nbd_conditional_pmf_sums_to_one_and_has_the_conditional_mean():
    x = np.array([0.0, 4.0, 20.0])
    t_x, T = np.array([0.0, 12.0, 29.0]), np.array([30.0, 30.0, 30.0])
    pmf = nbd.conditional_purchase_pmf(400, 26.0, x, t_x, T, **P)
    assert pmf.shape == (3, 400)
    np.testing.assert_allclose(pmf.sum(axis=-1), 1.0, atol=1e-12)
    mean = pmf @ np.arange(400.0)
    np.testing.assert_allclose(
        mean, nbd.conditional_expected_purchases(26.0, x, t_x, T, **P), rtol=1e-10
    )


def test_nbd_predictions_broadcast_over_parameter_draws():
    draws = {"r": np.array([[0.5], [0.7]]), "alpha": np.array([[8.0], [9.0]])}
    x, t_x, T = np.array([0.0, 1.0, 5.0]), np.array([0.0, 3.0, 20.0]), np.full(3, 30.0)
    assert nbd.probability_alive(x, t_x, T, **draws).shape == (2, 3)
    assert nbd.conditional_expected_purchases(5.0, x, t_x, T, **draws).shape == (2, 3)
    assert nbd.conditional_purchase_pmf(4, 5.0, x, t_x, T, **draws).shape == (2, 3, 4)
    dert = nbd.discounted_expected_residual_transactions(x, t_x, T, **draws, delta=0.01)
    assert dert.shape == (2, 3)


def test_nbd_dert_closed_form_equals_discount_quadrature():
    """(r+x)/(α+T)·(1 − e^(−δH))/δ against discount.discounted_purchases of the linear
    E(t) = (r+x) t/(α+T)."""
    x, T = np.array([0.0, 3.0, 12.0]), np.array([39.0, 20.0, 5.0])
    rate = (P["r"] + x) / (P["alpha"] + T)
    for horizon in (52.0, math.inf):
        numeric = discount.discounted_purchases(
            lambda t: rate[:, None] * t, np.full(3, 1.0), 0.002, horizon
        )
        ours = nbd.discounted_expected_residual_transactions(
            x, x, T, **P, delta=0.002, horizon=horizon
        )
        np.testing.assert_allclose(ours, numeric, rtol=1e-9)
    undiscounted = nbd.discounted_active_purchases(x, T, **P, delta=0.0, horizon=10.0)
    np.testing.assert_allclose(undiscounted, rate * 10.0)
    with pytest.raises(ValueError, match="infinite horizon"):
        nbd.discounted_active_purchases(x, T, **P, delta=0.0)


def test_nbd_parameter_recovery_from_simulator():
    rng = np.random.default_rng(11)
    sim = nbd.simulate(20_000, r=0.6, alpha=5.0, T=rng.uniform(20, 52, 20_000), rng=rng)
    result = fit_mle(nbd.SPEC, sim)
    se = result.std_err  # on the parameter scale: within 4 standard errors
    assert abs(result.params["r"] - 0.6) < 4 * se["r"]
    assert abs(result.params["alpha"] - 5.0) < 4 * se["alpha"]


# ------------------------------------------------------------------ 4. properties


@settings(max_examples=60, deadline=None)
@given(
    r=st.floats(1e-3, 1e3),
    alpha=st.floats(1e-3, 1e3),
    x=st.integers(0, 500),
    T=st.floats(1e-2, 1e3),
    t=st.floats(0.0, 1e3),
    c=st.floats(0.01, 100.0),
)
def test_nbd_properties(r, alpha, x, T, t, c):
    """Probabilities in [0, 1]; P(alive) = 1; expectations non-decreasing in t;
    rescaling time by c changes α only (α → cα)."""
    p = {"r": r, "alpha": alpha}
    prob = nbd.probability_of_purchases(float(x), t, **p)
    assert 0.0 <= prob <= 1.0
    assert nbd.probability_alive(x, 0.0, T, **p) == 1.0
    e1 = nbd.conditional_expected_purchases(t, x, 0.0, T, **p)
    e2 = nbd.conditional_expected_purchases(t + 1.0, x, 0.0, T, **p)
    assert e2 >= e1 >= 0.0
    pc = {"r": r, "alpha": c * alpha}
    ll = nbd.log_likelihood(**p, frequency=np.array([x]), T=np.array([T]))
    llc = nbd.log_likelihood(**pc, frequency=np.array([x]), T=np.array([c * T]))
    # the likelihood of purchase times has the density's Jacobian c^-x
    np.testing.assert_allclose(llc, ll - x * math.log(c), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        nbd.conditional_expected_purchases(c * t, x, 0.0, c * T, **pc), e1, rtol=1e-9
    )


@pytest.mark.slow
def test_nbd_covariate_on_alpha_recovered():
    """α_i = α₀ e^(−γ z) (the BG/NBD purchase link): two simulated groups, γ = 0.5;
    every estimate within 3 standard errors."""
    from clvmodels.backends.design import CovariateLinks
    from clvmodels.models.links import linked_params

    truth = {"r": 0.6, "alpha": 5.0, "alpha:member": 0.5}
    rng = np.random.default_rng(2012)
    frames, pattern = [], []
    for member in (0, 1):
        own = linked_params(nbd.SPEC, truth, {"member": np.array(member)})
        params = {k: float(v) for k, v in own.items()}
        frames.append(nbd.simulate(6000, **params, T=rng.uniform(20, 52, 6000), rng=rng))
        pattern.append(np.full(6000, member))
    data = {c: np.concatenate([f[c] for f in frames]) for c in COLUMNS}
    links = CovariateLinks(
        pattern=np.concatenate(pattern),
        designs={"alpha": np.array([[0.0], [1.0]])},
        names={"alpha": ("member",)},
        signs={"alpha": -1.0},
    )
    result = fit_mle(nbd.SPEC, data, covariates=links)
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 3 * result.std_err[name], name
