"""Tests of the MBG/NBD model (clvmodels.models.mbgnbd).

Batislam, Denizel & Filiztekin (2007) publish estimates for Turkish grocery data only,
which are not available here; the references are therefore lifetimes'
``ModifiedBetaGeoFitter`` (an independent implementation of the same likelihood) on the
CDNOW sample, parameter recovery from simulated data, and identities of the model.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from clvmodels.backends.mle import fit_mle
from clvmodels.data import load_builtin, summarize_transactions
from clvmodels.models import bgnbd, mbgnbd
from clvmodels.models.ops import pytensor_ops

# MBG/NBD maximum on the CDNOW calibration data (FHL2005's data file), computed here with
# fit_mle and equal to lifetimes 0.11.3 ModifiedBetaGeoFitter to 1e-6 (regression values).
CDNOW_MBGNBD = {"r": 0.5248, "alpha": 6.1830, "a": 0.8914, "b": 1.6140}
CDNOW_MBGNBD_LOGLIK = -9582.1

PARAM_GRID = np.logspace(-4, 4, 5)
log_uniform = st.floats(min_value=-2.0, max_value=2.0).map(lambda e: 10.0**e)


@pytest.fixture(scope="module")
def cdnow():
    """CDNOW calibration summary, recency and T rounded to 2 decimals as in FHL2005's file."""
    summary = summarize_transactions(
        load_builtin("cdnow_sample"),
        time_unit="W",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    return {
        "frequency": summary["frequency"].to_numpy(float),
        "recency": np.round(summary["recency"].to_numpy(float), 2),
        "T": np.round(summary["T"].to_numpy(float), 2),
    }


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    return fit_mle(mbgnbd.SPEC, cdnow)


@pytest.fixture(scope="module")
def compiled():
    """Per-row log-likelihood and its gradient in the log-parameters, compiled once."""
    import pytensor
    import pytensor.tensor as pt

    logs = [pt.dvector(f"log_{k}") for k in mbgnbd.SPEC.param_names]
    columns = [pt.dvector(c) for c in mbgnbd.SPEC.data_columns]
    ll = mbgnbd.log_likelihood(
        *[pt.exp(v) for v in logs],
        **dict(zip(mbgnbd.SPEC.data_columns, columns, strict=True)),
        xp=pytensor_ops(),
    )
    grads = pytensor.grad(ll.sum(), logs)
    return pytensor.function([*logs, *columns], [ll, *grads])


def _stress_grid():
    """Every parameter on PARAM_GRID × histories with x up to 1e4, T from 0.01 to 1e4."""
    histories = [(0.0, 0.0, T) for T in (0.01, 1.0, 100.0, 1e4)]
    histories += [
        (x, f * T, T)
        for x, T, f in itertools.product(
            (1.0, 10.0, 1e3, 1e4), (0.01, 1.0, 100.0, 1e4), (0, 0.5, 1)
        )
    ]
    params = np.array(list(itertools.product(PARAM_GRID, repeat=4)))
    hist = np.array(histories)
    p = np.repeat(params, len(hist), axis=0)
    h = np.tile(hist, (len(params), 1))
    return dict(zip(("r", "alpha", "a", "b"), p.T, strict=True)), dict(
        zip(("frequency", "recency", "T"), h.T, strict=True)
    )


# ---- CDNOW: lifetimes agreement (no published MBG/NBD figures for CDNOW) -----------------


def test_mbgnbd_cdnow_estimates_regression_agree_with_lifetimes(cdnow_fit):
    for name, value in CDNOW_MBGNBD.items():
        assert round(cdnow_fit.params[name], 4) == pytest.approx(value), name
    assert round(cdnow_fit.log_likelihood, 1) == pytest.approx(CDNOW_MBGNBD_LOGLIK)


@pytest.fixture(scope="module")
def lifetimes_fit(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    return lifetimes.ModifiedBetaGeoFitter(penalizer_coef=0.0).fit(
        cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )


@pytest.mark.lifetimes
def test_mbgnbd_rowwise_loglik_agrees_with_lifetimes(cdnow, lifetimes_fit):
    params = dict(lifetimes_fit.params_)
    log_params = np.log([params[k] for k in ("r", "alpha", "a", "b")])
    rows = np.arange(0, len(cdnow["T"]), 7)
    ours = mbgnbd.log_likelihood(**params, **{k: v[rows] for k, v in cdnow.items()})
    theirs = [
        -lifetimes_fit._negative_log_likelihood(
            log_params,
            cdnow["frequency"][i : i + 1],
            cdnow["recency"][i : i + 1],
            cdnow["T"][i : i + 1],
            np.ones(1),
            0.0,
        )
        for i in rows
    ]
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)


@pytest.mark.lifetimes
def test_mbgnbd_predictions_agree_with_lifetimes(cdnow, lifetimes_fit):
    p = dict(lifetimes_fit.params_)
    x, tx, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    t = np.array([0.5, 1.0, 10.0, 39.0, 78.0, 500.0])
    np.testing.assert_allclose(
        mbgnbd.expected_purchases(t, **p),
        lifetimes_fit.expected_number_of_purchases_up_to_time(t),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        mbgnbd.conditional_expected_purchases(39.0, x, tx, T, **p),
        lifetimes_fit.conditional_expected_number_of_purchases_up_to_time(39.0, x, tx, T),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        mbgnbd.probability_alive(x, tx, T, **p),
        lifetimes_fit.conditional_probability_alive(x, tx, T),
        rtol=1e-6,
    )
    for n in (0, 1, 2, 5, 12):
        assert mbgnbd.probability_of_purchases(n, 39.0, **p) == pytest.approx(
            lifetimes_fit.probability_of_n_purchases_up_to_time(39.0, n), rel=1e-6
        )


@pytest.mark.lifetimes
def test_mbgnbd_cdnow_fit_agrees_with_lifetimes(cdnow_fit, lifetimes_fit):
    for name in mbgnbd.SPEC.param_names:
        assert cdnow_fit.params[name] == pytest.approx(lifetimes_fit.params_[name], rel=1e-3)


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


# ---- properties ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    r=log_uniform,
    alpha=log_uniform,
    a=log_uniform,
    b=log_uniform,
    x=st.integers(0, 50),
    frac=st.floats(0, 1),
    T=st.floats(0.1, 200),
    t=st.floats(0.01, 200),
)
def test_mbgnbd_probabilities_in_unit_interval(r, alpha, a, b, x, frac, T, t):
    recency = frac * T if x > 0 else 0.0
    alive = mbgnbd.probability_alive(x, recency, T, r=r, alpha=alpha, a=a, b=b)
    pmf = mbgnbd.probability_of_purchases(x, t, r=r, alpha=alpha, a=a, b=b)
    assert 0.0 <= float(alive) <= 1.0
    assert 0.0 <= float(pmf) <= 1.0


@settings(max_examples=60, deadline=None)
@given(
    r=log_uniform,
    alpha=log_uniform,
    a=log_uniform,
    b=log_uniform,
    x=st.integers(0, 50),
    frac=st.floats(0, 1),
    T=st.floats(0.1, 200),
)
def test_mbgnbd_expectations_non_decreasing_in_t(r, alpha, a, b, x, frac, T):
    t = np.logspace(-2, 3, 40)
    p = {"r": r, "alpha": alpha, "a": a, "b": b}
    e = mbgnbd.expected_purchases(t, **p)
    c = mbgnbd.conditional_expected_purchases(t, x, frac * T if x > 0 else 0.0, T, **p)
    for values in (e, c):
        assert np.all(np.isfinite(values)) and np.all(values >= 0)
        assert np.all(np.diff(values) >= -1e-9 * values[1:])


@settings(max_examples=60, deadline=None)
@given(
    r=log_uniform,
    alpha=log_uniform,
    a=log_uniform,
    b=log_uniform,
    x=st.integers(0, 50),
    frac=st.floats(0, 1),
    T=st.floats(0.1, 200),
    c=st.floats(0.01, 100),
)
def test_mbgnbd_time_rescaling_changes_only_alpha(r, alpha, a, b, x, frac, T, c):
    """Rescaling time by c multiplies alpha by c; the log-likelihood changes by the
    Jacobian −x·log c, predictions not at all."""
    tx = frac * T if x > 0 else 0.0
    data = {"frequency": np.array([x], float), "recency": np.array([tx]), "T": np.array([T])}
    scaled = {"frequency": data["frequency"], "recency": c * data["recency"], "T": c * data["T"]}
    ll = mbgnbd.log_likelihood(r, alpha, a, b, **data)
    ll_scaled = mbgnbd.log_likelihood(r, c * alpha, a, b, **scaled)
    np.testing.assert_allclose(ll_scaled, ll - x * np.log(c), rtol=1e-9, atol=1e-9)
    p, q = {"r": r, "alpha": alpha, "a": a, "b": b}, {"r": r, "alpha": c * alpha, "a": a, "b": b}
    assert mbgnbd.probability_alive(x, c * tx, c * T, **q) == pytest.approx(
        float(mbgnbd.probability_alive(x, tx, T, **p)), rel=1e-9, abs=1e-300
    )
    assert mbgnbd.conditional_expected_purchases(5 * c, x, c * tx, c * T, **q) == pytest.approx(
        float(mbgnbd.conditional_expected_purchases(5.0, x, tx, T, **p)), rel=1e-8, abs=1e-300
    )


@settings(max_examples=40, deadline=None)
@given(r=log_uniform, alpha=log_uniform, a=log_uniform, b=log_uniform)
def test_mbgnbd_numpy_and_pytensor_loglik_agree(compiled, r, alpha, a, b):
    _, data = _stress_grid()
    n = 52  # the histories of one parameter combination
    data = {k: v[:n] for k, v in data.items()}
    logs = [np.full(n, np.log(v)) for v in (r, alpha, a, b)]
    ll_pt = compiled(*logs, *data.values())[0]
    ll_np = mbgnbd.log_likelihood(r, alpha, a, b, **data)
    np.testing.assert_allclose(ll_pt, ll_np, rtol=1e-10, atol=1e-10)


def test_mbgnbd_loglik_broadcasts_over_parameter_draws(cdnow):
    r = np.array([[0.5], [0.6]])
    ll = mbgnbd.log_likelihood(r, 6.2, 0.89, 1.6, **cdnow)
    assert ll.shape == (2, len(cdnow["T"]))
    np.testing.assert_allclose(ll[1], mbgnbd.log_likelihood(0.6, 6.2, 0.89, 1.6, **cdnow))
    e = mbgnbd.conditional_expected_purchases(
        39.0, cdnow["frequency"], cdnow["recency"], cdnow["T"], r=r, alpha=6.2, a=0.89, b=1.6
    )
    assert e.shape == (2, len(cdnow["T"]))


# ---- stress grid ---------------------------------------------------------------------------


def test_mbgnbd_stress_grid_loglik_and_gradient_finite(compiled):
    params, data = _stress_grid()
    ll_np = mbgnbd.log_likelihood(**params, **data)
    ll, *grads = compiled(*[np.log(v) for v in params.values()], *data.values())
    assert np.all(np.isfinite(ll_np))
    assert np.all(np.isfinite(ll)) and all(np.all(np.isfinite(g)) for g in grads)
    np.testing.assert_allclose(ll, ll_np, rtol=1e-10, atol=1e-8)


def test_mbgnbd_stress_grid_predictions_finite():
    params, data = _stress_grid()
    x, tx, T = data["frequency"], data["recency"], data["T"]
    alive = mbgnbd.probability_alive(x, tx, T, **params)
    assert np.all((alive >= 0) & (alive <= 1))
    pmf = mbgnbd.probability_of_purchases(x, T, **params)
    assert np.all((pmf >= 0) & (pmf <= 1))
    grid = {k: v[::52] for k, v in params.items()}
    for t in (0.01, 1e4):
        e = mbgnbd.expected_purchases(t, **grid)
        assert np.all(np.isfinite(e)) and np.all(e >= 0)
    pick = slice(None, None, 13)
    c = mbgnbd.conditional_expected_purchases(
        1e4, x[pick], tx[pick], T[pick], **{k: v[pick] for k, v in params.items()}
    )
    assert np.all(np.isfinite(c)) and np.all(c >= 0)


def test_mbgnbd_tracking_curve_sums_expectations():
    p = {"r": 0.52, "alpha": 6.2, "a": 0.89, "b": 1.6}
    joins = np.array([0.0, 0.0, 3.5, 10.0])
    curve = mbgnbd.expected_cumulative_transactions(np.array([5.0, 20.0]), joins, **p)
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
