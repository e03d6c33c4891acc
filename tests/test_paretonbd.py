"""Pareto/NBD: published estimates, lifetimes agreement, recovery, properties, stress grid."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from clvmodels.backends.mle import fit_mle
from clvmodels.models import cohort
from clvmodels.models import paretonbd as pnbd
from clvmodels.models.ops import numpy_ops, pytensor_ops

CDNOW_FHL_2005 = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
COLUMNS = ("frequency", "recency", "T")


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


def _reference_log_likelihood(r, alpha, s, beta, x, t_x, T):
    """Fader & Hardie (2005 note) eq. (18) with the integral done by adaptive quadrature."""
    log_f = lambda tau: -(r + x) * np.log(alpha + tau) - (s + 1) * np.log(beta + tau)  # noqa: E731
    c = log_f(t_x)
    scale = alpha + beta + t_x
    points = t_x + np.array([1e-6, 1e-4, 1e-2, 1.0]) * scale
    points = points[points < T]
    integral = integrate.quad(
        lambda tau: np.exp(log_f(tau) - c), t_x, T, epsrel=1e-12, limit=2000, points=points
    )[0]
    tail = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    body = np.log(s) + c + np.log(integral) if integral > 0 else -np.inf
    const = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return const + np.logaddexp(tail, body)


# ------------------------------------------------------------------ 1. published estimates


def test_paretonbd_cdnow_estimates_fader_hardie_lee_2005(cdnow):
    """Fader, Hardie & Lee (2005, JMR 42(4) "RFM and CLV") and Fader & Hardie's Pareto/NBD
    note: CDNOW, 39 weeks, r=0.55, α=10.58, s=0.61, β=11.67, LL=−9595.0."""
    result = fit_mle(pnbd.SPEC, cdnow)
    for name, published in CDNOW_FHL_2005.items():
        assert round(result.params[name], 2) == published, name
    assert round(result.log_likelihood, 1) == -9595.0


def test_paretonbd_cdnow_log_likelihood_at_published_estimates_fader_hardie_2005(cdnow):
    """LL at the published (rounded) estimates is the published −9595.0."""
    ll = pnbd.log_likelihood(**CDNOW_FHL_2005, **cdnow).sum()
    assert round(ll, 1) == -9595.0


def test_paretonbd_likelihood_equals_numerical_integral_fader_hardie_2005_eq18():
    """Eq. (18) with its integral done by adaptive quadrature, incl. the z > Z_MAX region."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        r, alpha, s, beta = np.exp(rng.uniform(-4, 4, 4))
        x = float(rng.integers(0, 50))
        T = float(np.exp(rng.uniform(-1, 4)))
        t_x = 0.0 if x == 0 else float(T * rng.uniform())
        ours = pnbd.log_likelihood(
            r, alpha, s, beta, frequency=np.array([x]), recency=np.array([t_x]), T=np.array([T])
        )[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            ref = _reference_log_likelihood(r, alpha, s, beta, x, t_x, T)
        assert ours == pytest.approx(ref, rel=1e-8, abs=1e-8), (r, alpha, s, beta, x, t_x, T)


# ----------------------------------------------------------------------- 2. lifetimes


@pytest.mark.lifetimes
@pytest.mark.parametrize(
    "params",
    [
        (0.55, 10.58, 0.61, 11.67),
        (0.55, 11.67, 0.61, 10.58),
        (2.0, 3.0, 1.0, 0.1),
        (0.3, 0.2, 2.0, 30.0),
    ],
)
def test_paretonbd_log_likelihood_matches_lifetimes(cdnow, params):
    from lifetimes import ParetoNBDFitter

    x, t_x, T = (cdnow[k] for k in COLUMNS)
    theirs = ParetoNBDFitter._conditional_log_likelihood(params, x, t_x, T)
    ours = pnbd.log_likelihood(*params, frequency=x, recency=t_x, T=T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)


@pytest.mark.lifetimes
def test_paretonbd_predictions_match_lifetimes(cdnow):
    import pandas as pd
    from lifetimes import ParetoNBDFitter

    fitter = ParetoNBDFitter()
    fitter.params_ = pd.Series(CDNOW_FHL_2005)
    x, t_x, T = (cdnow[k] for k in COLUMNS)
    p = CDNOW_FHL_2005
    np.testing.assert_allclose(
        pnbd.probability_alive(x, t_x, T, **p),
        fitter.conditional_probability_alive(x, t_x, T),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        pnbd.conditional_expected_purchases(39.0, x, t_x, T, **p),
        fitter.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T),
        rtol=1e-6,
    )
    t = np.array([1.0, 10.0, 39.0, 78.0])
    np.testing.assert_allclose(
        pnbd.expected_purchases(t, **p),
        fitter.expected_number_of_purchases_up_to_time(t),
        rtol=1e-6,
    )


@pytest.mark.lifetimes
@pytest.mark.slow
def test_paretonbd_cdnow_fit_matches_lifetimes(cdnow):
    from lifetimes import ParetoNBDFitter

    x, t_x, T = (cdnow[k] for k in COLUMNS)
    fitter = ParetoNBDFitter().fit(
        x, t_x, T, initial_params=[0.5, 10.0, 0.6, 11.0], tol=1e-10, maxiter=20000
    )
    ours = fit_mle(pnbd.SPEC, cdnow).params
    for name in ("r", "alpha", "s", "beta"):
        assert ours[name] == pytest.approx(fitter.params_[name], rel=1e-3)


# ------------------------------------------------------------------- 3. parameter recovery


def test_paretonbd_parameter_recovery_simulated():
    truth = {"r": 0.8, "alpha": 6.0, "s": 0.9, "beta": 12.0}
    rng = np.random.default_rng(20250611)
    sim = pnbd.simulate(10_000, **truth, T=rng.uniform(20.0, 60.0, 10_000), rng=rng)
    result = fit_mle(pnbd.SPEC, {k: sim[k] for k in COLUMNS})
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 3 * result.std_err[name], name


def test_paretonbd_simulate_matches_expected_purchases():
    """Mean simulated frequency ≈ E[X(T)] (SMC 1987 eq. 17)."""
    p = {"r": 0.8, "alpha": 6.0, "s": 0.9, "beta": 12.0}
    sim = pnbd.simulate(200_000, **p, T=30.0, rng=np.random.default_rng(3))
    expected = pnbd.expected_purchases(30.0, **p)
    assert sim["frequency"].mean() == pytest.approx(expected, rel=0.02)
    assert np.all((sim["recency"] >= 0) & (sim["recency"] <= sim["T"]))
    assert np.all(sim["recency"][sim["frequency"] == 0] == 0)


# ----------------------------------------------------------------------- 4. properties

positive = st.floats(1e-2, 1e2)


@settings(max_examples=25, deadline=None)
@given(
    r=positive,
    alpha=positive,
    s=positive,
    beta=positive,
    t=st.floats(0.0, 100.0),
    x=st.integers(0, 20),
    T=st.floats(0.1, 100.0),
    frac=st.floats(0.0, 1.0),
)
def test_paretonbd_probabilities_in_unit_interval(r, alpha, s, beta, t, x, T, frac):
    p = {"r": r, "alpha": alpha, "s": s, "beta": beta}
    t_x = 0.0 if x == 0 else frac * T
    alive = pnbd.probability_alive(x, t_x, T, **p)
    assert 0.0 <= alive <= 1.0
    pmf = pnbd.probability_of_purchases(np.arange(0, 30), t, **p)
    assert np.all((pmf >= 0.0) & (pmf <= 1.0))
    assert pmf.sum() <= 1.0 + 1e-8


@settings(max_examples=50, deadline=None)
@given(
    r=positive,
    alpha=positive,
    s=positive,
    beta=positive,
    x=st.integers(0, 20),
    T=st.floats(0.1, 100.0),
    frac=st.floats(0.0, 1.0),
)
def test_paretonbd_expectations_non_decreasing_in_t(r, alpha, s, beta, x, T, frac):
    p = {"r": r, "alpha": alpha, "s": s, "beta": beta}
    t = np.linspace(0.0, 200.0, 41)
    assert np.all(np.diff(pnbd.expected_purchases(t, **p)) >= 0)
    t_x = 0.0 if x == 0 else frac * T
    assert np.all(np.diff(pnbd.conditional_expected_purchases(t, x, t_x, T, **p)) >= 0)


@settings(max_examples=50, deadline=None)
@given(
    r=positive,
    alpha=positive,
    s=positive,
    beta=positive,
    x=st.integers(0, 50),
    T=st.floats(0.1, 100.0),
    frac=st.floats(0.0, 1.0),
    c=st.floats(0.01, 100.0),
)
def test_paretonbd_time_rescaling_changes_only_rate_params(r, alpha, s, beta, x, T, frac, c):
    """Times × c and (α, β) × c: log L changes by the Jacobian −x·log c per customer."""
    t_x = 0.0 if x == 0 else frac * T
    data = {"frequency": np.array([x]), "recency": np.array([t_x]), "T": np.array([T])}
    scaled = {"frequency": np.array([x]), "recency": np.array([c * t_x]), "T": np.array([c * T])}
    ll = pnbd.log_likelihood(r, alpha, s, beta, **data)
    ll_c = pnbd.log_likelihood(r, c * alpha, s, c * beta, **scaled)
    np.testing.assert_allclose(ll_c, ll - x * np.log(c), rtol=1e-9, atol=1e-9)
    p, pc = (
        {"r": r, "alpha": alpha, "s": s, "beta": beta},
        {"r": r, "alpha": c * alpha, "s": s, "beta": c * beta},
    )
    np.testing.assert_allclose(
        pnbd.conditional_expected_purchases(5.0, x, t_x, T, **p),
        pnbd.conditional_expected_purchases(5.0 * c, x, c * t_x, c * T, **pc),
        rtol=1e-8,
    )


def _grid_data():
    rows = []
    for x, T in itertools.product([0.0, 1.0, 100.0, 10_000.0], [0.01, 1.0, 100.0, 10_000.0]):
        for frac in [0.0] if x == 0 else [0.0, 0.5, 1.0]:
            rows.append((x, frac * T, T))
    return np.array(rows)


@pytest.fixture(scope="module")
def pytensor_eval():
    """Compiled log-likelihood and its gradient w.r.t. per-element parameters."""
    import pytensor
    import pytensor.tensor as pt

    params = [pt.dvector(name) for name in ("r", "alpha", "s", "beta")]
    data = [pt.dvector(name) for name in COLUMNS]
    ll = pnbd.log_likelihood(*params, **dict(zip(COLUMNS, data, strict=True)), xp=pytensor_ops())
    grads = pytensor.grad(ll.sum(), params)
    return pytensor.function([*params, *data], [ll, *grads])


def test_paretonbd_numpy_and_pytensor_agree(pytensor_eval):
    rng = np.random.default_rng(11)
    n = 2000
    r, alpha, s, beta = np.exp(rng.uniform(-4, 4, (4, n)))
    x = rng.integers(0, 200, n).astype(float)
    T = np.exp(rng.uniform(-2, 6, n))
    t_x = np.where(x > 0, T * rng.uniform(size=n), 0.0)
    ours = pnbd.log_likelihood(r, alpha, s, beta, frequency=x, recency=t_x, T=T, xp=numpy_ops)
    graph = pytensor_eval(r, alpha, s, beta, x, t_x, T)[0]
    np.testing.assert_allclose(graph, ours, rtol=1e-10)


# ----------------------------------------------------------------------- 5. stress grid


@pytest.fixture(scope="module")
def stress_grid():
    values = np.logspace(-4, 4, 5)
    params = np.array(list(itertools.product(values, repeat=4)))  # 625 × 4
    rows = _grid_data()
    p = np.repeat(params, len(rows), axis=0)
    d = np.tile(rows, (len(params), 1))
    return {"r": p[:, 0], "alpha": p[:, 1], "s": p[:, 2], "beta": p[:, 3]}, {
        k: d[:, i] for i, k in enumerate(COLUMNS)
    }


def test_paretonbd_stress_grid_log_likelihood_and_gradient_finite(stress_grid, pytensor_eval):
    params, data = stress_grid
    ll_np = pnbd.log_likelihood(**params, **data)
    assert np.all(np.isfinite(ll_np))
    ll, *grads = pytensor_eval(*params.values(), *data.values())
    assert np.all(np.isfinite(ll))
    for g in grads:
        assert np.all(np.isfinite(g))


def test_paretonbd_stress_grid_predictions_finite(stress_grid):
    params, data = stress_grid
    x, t_x, T = (data[k] for k in COLUMNS)
    outputs = {
        "probability_alive": pnbd.probability_alive(x, t_x, T, **params),
        "conditional_expected_purchases": pnbd.conditional_expected_purchases(
            T, x, t_x, T, **params
        ),
        "expected_purchases": pnbd.expected_purchases(T, **params),
        "dert": pnbd.discounted_expected_residual_transactions(x, t_x, T, **params, delta=0.0027),
        "probability_of_purchases": pnbd.probability_of_purchases(x, T, **params),
    }
    for name, value in outputs.items():
        assert np.all(np.isfinite(value)), name
        assert np.all(value >= 0), name


# ------------------------------------------------------------------------- DERT, pmf


def test_paretonbd_dert_equals_discounted_integral_fader_hardie_lee_2005_eq2():
    """DERT (FHL 2005 JMR eq. 2) = ∫_0^∞ δ e^(−δt) E[X(T, T+t) | x, t_x, T] dt (by parts)."""
    p = CDNOW_FHL_2005
    for (x, t_x, T), delta in itertools.product(
        [(0, 0.0, 39.0), (2, 30.4, 38.9), (10, 12.0, 39.0)], [0.0027, 0.05, 1.0]
    ):
        dert = pnbd.discounted_expected_residual_transactions(x, t_x, T, **p, delta=delta)
        integrand = lambda t, d=delta, x=x, t_x=t_x, T=T: (  # noqa: E731
            d * np.exp(-d * t) * pnbd.conditional_expected_purchases(t, x, t_x, T, **p)
        )
        brute = integrate.quad(integrand, 0, np.inf, epsrel=1e-11, limit=500)[0]
        assert float(dert) == pytest.approx(brute, rel=1e-6)


def test_paretonbd_pmf_against_mixture_integral_fader_hardie_2005():
    """P(X(t)=x): sums to one, has mean E[X(t)], and matches a 2-D quadrature of the mixture."""
    p = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    x = np.arange(0, 400)
    pmf = pnbd.probability_of_purchases(x, 39.0, **p)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-6)
    assert (x * pmf).sum() == pytest.approx(pnbd.expected_purchases(39.0, **p), rel=1e-5)

    def nb(k, tau):
        return np.exp(
            special.gammaln(p["r"] + k)
            - special.gammaln(p["r"])
            - special.gammaln(k + 1)
            + p["r"] * np.log(p["alpha"] / (p["alpha"] + tau))
            + (k * np.log(tau / (p["alpha"] + tau)) if k > 0 else 0.0)
        )

    for k in (0, 1, 5):
        dead = integrate.quad(
            lambda tau, k=k: (
                nb(k, tau) * p["s"] * p["beta"] ** p["s"] * (p["beta"] + tau) ** (-p["s"] - 1)
            ),
            0,
            39.0,
            epsrel=1e-12,
        )[0]
        alive = nb(k, 39.0) * (p["beta"] / (p["beta"] + 39.0)) ** p["s"]
        assert pmf[k] == pytest.approx(alive + dead, rel=1e-8)


def test_paretonbd_expected_cumulative_transactions_is_cohort_sum():
    p = CDNOW_FHL_2005
    joins = np.array([0.0, 0.0, 3.5, 10.0])
    t = np.array([5.0, 20.0])
    expected = [sum(pnbd.expected_purchases(tt - j, **p) for j in joins if tt > j) for tt in t]
    curve = cohort.expected_cumulative_transactions(
        lambda age: pnbd.expected_purchases(age, **p), t, joins
    )
    np.testing.assert_allclose(curve, expected)


def test_paretonbd_tricomi_u_matches_scipy_hyperu_where_reliable():
    """U(1, 2−s; z) by quadrature vs scipy.special.hyperu for moderate s (A&S 13.2.5)."""
    rng = np.random.default_rng(5)
    s = np.exp(rng.uniform(-6, np.log(20), 2000))
    z = np.exp(rng.uniform(-10, 6, 2000))
    np.testing.assert_allclose(pnbd._hyperu_1(s, z), special.hyperu(1.0, 2.0 - s, z), rtol=1e-6)
