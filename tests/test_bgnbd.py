"""Tests of the BG/NBD model (clvmodels.models.bgnbd)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from clvmodels.backends.mle import fit_mle
from clvmodels.data import load_builtin, summarize_transactions
from clvmodels.models import bgnbd
from clvmodels.models.ops import numpy_ops, pytensor_ops

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science
# 24(2), 275-284: CDNOW sample, 2,357 customers, 39-week calibration period, weeks.
FHL2005_ESTIMATES = {"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4259}
FHL2005_LOGLIK = -9582.4
# FHL2005 section 5: expected purchases in the next 39 weeks of the customer with
# x = 2, t_x = 30.43, T = 38.86.
FHL2005_CONDITIONAL = 1.226

PARAM_GRID = np.logspace(-4, 4, 5)  # 1e-4 ... 1e4, every parameter
log_uniform = st.floats(min_value=-2.0, max_value=2.0).map(lambda e: 10.0**e)


@pytest.fixture(scope="module")
def cdnow():
    """CDNOW calibration summary with recency and T rounded to 2 decimals of a week, as in
    the data file of FHL2005 (the builtin summary then equals it row for row)."""
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
    return fit_mle(bgnbd.SPEC, cdnow)


@pytest.fixture(scope="module")
def compiled():
    """Per-row log-likelihood and its gradient in the log-parameters, compiled once."""
    import pytensor
    import pytensor.tensor as pt

    logs = [pt.dvector(f"log_{k}") for k in bgnbd.SPEC.param_names]
    columns = [pt.dvector(c) for c in bgnbd.SPEC.data_columns]
    ll = bgnbd.log_likelihood(
        *[pt.exp(v) for v in logs],
        **dict(zip(bgnbd.SPEC.data_columns, columns, strict=True)),
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


# ---- published values -------------------------------------------------------------------


def test_bgnbd_cdnow_estimates_fader_hardie_lee_2005(cdnow_fit):
    """r, alpha, a agree to the 4 published decimals.  The exact maximum has
    b = 2.42575 (lifetimes finds the same), 1.5e-4 below the published 2.4259 — Excel
    Solver's stopping slack — so the tolerance is 2e-4, i.e. 2 units of the last digit."""
    for name, value in FHL2005_ESTIMATES.items():
        assert cdnow_fit.params[name] == pytest.approx(value, abs=2e-4), name
    for name in ("r", "alpha", "a"):
        assert round(cdnow_fit.params[name], 4) == pytest.approx(FHL2005_ESTIMATES[name]), name
    assert round(cdnow_fit.log_likelihood, 1) == pytest.approx(FHL2005_LOGLIK)


def test_bgnbd_cdnow_loglik_at_published_estimates_fader_hardie_lee_2005(cdnow):
    total = bgnbd.log_likelihood(**FHL2005_ESTIMATES, **cdnow).sum()
    assert total == pytest.approx(FHL2005_LOGLIK, abs=0.05)


def test_bgnbd_conditional_expectation_fader_hardie_lee_2005(cdnow_fit):
    for params in (FHL2005_ESTIMATES, cdnow_fit.params):
        value = bgnbd.conditional_expected_purchases(39.0, 2, 30.43, 38.86, **params)
        assert round(float(value), 3) == FHL2005_CONDITIONAL


def test_bgnbd_cdnow_tracking_curve_follows_actual_totals_fhl_2005_figure_3(cdnow_fit):
    """FHL2005 Figure 3: the tracking curve follows cumulative repeat purchases.  Actual
    totals from the data: 2,457 in the calibration period, 4,339 by week 78.  Computed
    here: 2,494 and 4,161 (the holdout 1,667 against 1,882 actual — the BG/NBD
    under-forecasts the CDNOW holdout, as FHL2005's figure shows)."""
    summary = summarize_transactions(
        load_builtin("cdnow_sample"),
        time_unit="W",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    origin = np.datetime64("1997-01-01")
    joins = (summary["first_purchase"].to_numpy("datetime64[D]") - origin).astype(float) / 7.0
    ends = np.array([272.0, 545.0]) / 7.0  # 1997-09-30 and 1998-06-30, in weeks
    curve = bgnbd.expected_cumulative_transactions(ends, joins, **cdnow_fit.params)
    calibration = summary["frequency"].sum()
    assert curve[0] == pytest.approx(calibration, rel=0.02)
    assert curve[1] == pytest.approx(calibration + summary["frequency_holdout"].sum(), rel=0.05)
    by_hand = sum(float(bgnbd.expected_purchases(ends[1] - s, **cdnow_fit.params)) for s in joins)
    assert curve[1] == pytest.approx(by_hand, rel=1e-12)


# ---- agreement with lifetimes --------------------------------------------------------------


@pytest.fixture(scope="module")
def lifetimes_fit(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    return lifetimes.BetaGeoFitter(penalizer_coef=0.0).fit(
        cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )


@pytest.mark.lifetimes
def test_bgnbd_rowwise_loglik_agrees_with_lifetimes(cdnow, lifetimes_fit):
    params = dict(lifetimes_fit.params_)
    log_params = np.log([params[k] for k in ("r", "alpha", "a", "b")])
    rows = np.arange(0, len(cdnow["T"]), 7)
    ours = bgnbd.log_likelihood(**params, **{k: v[rows] for k, v in cdnow.items()})
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
def test_bgnbd_predictions_agree_with_lifetimes(cdnow, lifetimes_fit):
    p = dict(lifetimes_fit.params_)
    x, tx, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    t = np.array([0.5, 1.0, 10.0, 39.0, 78.0, 500.0])
    np.testing.assert_allclose(
        bgnbd.expected_purchases(t, **p),
        lifetimes_fit.expected_number_of_purchases_up_to_time(t),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        bgnbd.conditional_expected_purchases(39.0, x, tx, T, **p),
        lifetimes_fit.conditional_expected_number_of_purchases_up_to_time(39.0, x, tx, T),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        bgnbd.probability_alive(x, tx, T, **p),
        lifetimes_fit.conditional_probability_alive(x, tx, T),
        rtol=1e-6,
    )
    for n in (0, 1, 2, 5, 12):
        assert bgnbd.probability_of_purchases(n, 39.0, **p) == pytest.approx(
            lifetimes_fit.probability_of_n_purchases_up_to_time(39.0, n), rel=1e-6
        )


@pytest.mark.lifetimes
def test_bgnbd_cdnow_fit_agrees_with_lifetimes(cdnow_fit, lifetimes_fit):
    for name in bgnbd.SPEC.param_names:
        assert cdnow_fit.params[name] == pytest.approx(lifetimes_fit.params_[name], rel=1e-3)


# ---- simulation ----------------------------------------------------------------------------


def test_bgnbd_parameter_recovery_from_simulated_data():
    truth = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
    rng = np.random.default_rng(20050201)
    sim = bgnbd.simulate(10_000, **truth, T=rng.uniform(26.0, 52.0, 10_000), rng=rng)
    result = fit_mle(bgnbd.SPEC, {k: sim[k] for k in bgnbd.SPEC.data_columns})
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 3 * result.std_err[name], name


def test_bgnbd_simulated_frequencies_match_pmf_and_mean():
    p = {"r": 0.7, "alpha": 3.0, "a": 1.5, "b": 4.0}
    rng = np.random.default_rng(7)
    n = 100_000
    sim = bgnbd.simulate(n, **p, T=20.0, rng=rng)
    expected = float(bgnbd.expected_purchases(20.0, **p))
    assert sim["frequency"].mean() == pytest.approx(
        expected, abs=4 * sim["frequency"].std() / n**0.5
    )
    for x in range(4):
        prob = float(bgnbd.probability_of_purchases(x, 20.0, **p))
        assert np.mean(sim["frequency"] == x) == pytest.approx(prob, abs=4 * (prob / n) ** 0.5)
    alive = bgnbd.probability_alive(sim["frequency"], sim["recency"], sim["T"], **p)
    assert sim["alive"].mean() == pytest.approx(alive.mean(), abs=0.01)
    assert np.all(sim["recency"] <= sim["T"]) and np.all(sim["recency"][sim["frequency"] == 0] == 0)


def test_bgnbd_pmf_sums_to_one_and_mean_is_expectation():
    p = {"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4259}
    x = np.arange(3000)
    pmf = bgnbd.probability_of_purchases(x, 39.0, **p)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
    assert (x * pmf).sum() == pytest.approx(float(bgnbd.expected_purchases(39.0, **p)), rel=1e-9)


@pytest.mark.parametrize(
    ("t", "r", "alpha", "a", "b"),
    [
        (39.0, 0.24, 4.4, 0.79, 2.4),
        (1e4, 3.0, 1e-3, 1.0, 2.0),
        (1.0, 0.5, 2.0, 1.0 + 1e-7, 3.0),
        (1e3, 5e3, 0.1, 0.05, 80.0),
        (1e-3, 1e4, 1.0, 20.0, 0.3),
    ],
)
def test_bgnbd_expected_purchases_equals_beta_integral_of_eq5(t, r, alpha, a, b):
    """E[X(t)] = E_p[(1 − (α/(α+pt))^r)/p] (FHL2005 eq. 5 averaged over λ and p), by
    direct numerical integration in p — including a = 1, where eq. (7) is 0/0."""

    def integrand(p):
        h = -np.expm1(-r * np.log1p(p * t / alpha)) / p
        return h * np.exp((a - 1) * np.log(p) + (b - 1) * np.log1p(-p) - special.betaln(a, b))

    reference, _ = integrate.quad(
        integrand, 0.0, 1.0, limit=400, epsrel=1e-12, points=[alpha / t] if alpha / t < 1 else None
    )
    assert float(bgnbd.expected_purchases(t, r=r, alpha=alpha, a=a, b=b)) == pytest.approx(
        reference, rel=1e-7
    )


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
def test_bgnbd_probabilities_in_unit_interval(r, alpha, a, b, x, frac, T, t):
    recency = frac * T if x > 0 else 0.0
    alive = bgnbd.probability_alive(x, recency, T, r=r, alpha=alpha, a=a, b=b)
    pmf = bgnbd.probability_of_purchases(x, t, r=r, alpha=alpha, a=a, b=b)
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
def test_bgnbd_expectations_non_decreasing_in_t(r, alpha, a, b, x, frac, T):
    t = np.logspace(-2, 3, 40)
    p = {"r": r, "alpha": alpha, "a": a, "b": b}
    e = bgnbd.expected_purchases(t, **p)
    c = bgnbd.conditional_expected_purchases(t, x, frac * T if x > 0 else 0.0, T, **p)
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
def test_bgnbd_time_rescaling_changes_only_alpha(r, alpha, a, b, x, frac, T, c):
    """Rescaling time by c multiplies alpha by c; the log-likelihood changes by the
    Jacobian −x·log c of the x purchase-time densities, and predictions are unchanged."""
    tx = frac * T if x > 0 else 0.0
    data = {"frequency": np.array([x], float), "recency": np.array([tx]), "T": np.array([T])}
    scaled = {"frequency": data["frequency"], "recency": c * data["recency"], "T": c * data["T"]}
    ll = bgnbd.log_likelihood(r, alpha, a, b, **data)
    ll_scaled = bgnbd.log_likelihood(r, c * alpha, a, b, **scaled)
    np.testing.assert_allclose(ll_scaled, ll - x * np.log(c), rtol=1e-9, atol=1e-9)
    p, q = {"r": r, "alpha": alpha, "a": a, "b": b}, {"r": r, "alpha": c * alpha, "a": a, "b": b}
    assert bgnbd.probability_alive(x, c * tx, c * T, **q) == pytest.approx(
        float(bgnbd.probability_alive(x, tx, T, **p)), rel=1e-9, abs=1e-300
    )
    assert bgnbd.conditional_expected_purchases(5 * c, x, c * tx, c * T, **q) == pytest.approx(
        float(bgnbd.conditional_expected_purchases(5.0, x, tx, T, **p)), rel=1e-8, abs=1e-300
    )


@settings(max_examples=40, deadline=None)
@given(r=log_uniform, alpha=log_uniform, a=log_uniform, b=log_uniform)
def test_bgnbd_numpy_and_pytensor_loglik_agree(compiled, r, alpha, a, b):
    _, data = _stress_grid()
    n = 52  # the histories of one parameter combination
    data = {k: v[:n] for k, v in data.items()}
    logs = [np.full(n, np.log(v)) for v in (r, alpha, a, b)]
    ll_pt = compiled(*logs, *data.values())[0]
    ll_np = bgnbd.log_likelihood(r, alpha, a, b, **data)
    np.testing.assert_allclose(ll_pt, ll_np, rtol=1e-10, atol=1e-10)


def test_bgnbd_loglik_broadcasts_over_parameter_draws(cdnow):
    r = np.array([[0.2], [0.3]])
    ll = bgnbd.log_likelihood(r, 4.4, 0.79, 2.4, **cdnow)
    assert ll.shape == (2, len(cdnow["T"]))
    np.testing.assert_allclose(ll[1], bgnbd.log_likelihood(0.3, 4.4, 0.79, 2.4, **cdnow))
    e = bgnbd.conditional_expected_purchases(
        39.0, cdnow["frequency"], cdnow["recency"], cdnow["T"], r=r, alpha=4.4, a=0.79, b=2.4
    )
    assert e.shape == (2, len(cdnow["T"]))


def test_bgnbd_x_zero_customers_are_alive():
    assert bgnbd.probability_alive(0, 0.0, 30.0, r=1.0, alpha=1.0, a=1.0, b=1.0) == 1.0


# ---- stress grid ---------------------------------------------------------------------------


def test_bgnbd_stress_grid_loglik_and_gradient_finite(compiled):
    params, data = _stress_grid()
    ll_np = bgnbd.log_likelihood(**params, **data)
    ll, *grads = compiled(*[np.log(v) for v in params.values()], *data.values())
    assert np.all(np.isfinite(ll_np))
    assert np.all(np.isfinite(ll)) and all(np.all(np.isfinite(g)) for g in grads)
    np.testing.assert_allclose(ll, ll_np, rtol=1e-10, atol=1e-8)


def test_bgnbd_stress_grid_predictions_finite():
    params, data = _stress_grid()
    x, tx, T = data["frequency"], data["recency"], data["T"]
    alive = bgnbd.probability_alive(x, tx, T, **params)
    assert np.all((alive >= 0) & (alive <= 1))
    pmf = bgnbd.probability_of_purchases(x, T, **params)
    assert np.all((pmf >= 0) & (pmf <= 1))
    # expectations: every parameter combination × t in {0.01, 1e4}
    grid = {k: v[::52] for k, v in params.items()}
    for t in (0.01, 1e4):
        e = bgnbd.expected_purchases(t, **grid)
        assert np.all(np.isfinite(e)) and np.all(e >= 0)
    pick = slice(None, None, 13)  # 4 histories per parameter combination
    c = bgnbd.conditional_expected_purchases(
        1e4, x[pick], tx[pick], T[pick], **{k: v[pick] for k, v in params.items()}
    )
    assert np.all(np.isfinite(c)) and np.all(c >= 0)


def test_bgnbd_spec_declares_paper_notation():
    spec = bgnbd.SPEC
    assert spec.key == "bgnbd" and spec.param_names == ("r", "alpha", "a", "b")
    assert spec.rate_params == ("alpha",)
    assert spec.data_columns == ("frequency", "recency", "T")
    start = spec.initial_params(
        {
            "frequency": np.array([0.0, 2.0]),
            "T": np.array([10.0, 10.0]),
            "recency": np.array([0.0, 5.0]),
        },
        np.ones(2),
    )
    assert set(start) == set(spec.param_names) and all(v > 0 for v in start.values())
    assert numpy_ops.name == "numpy"
