"""Checks shared by BG/NBD and MBG/NBD (same data, same parameters, same predictions).

Expected values: lifetimes 0.11.3 (``BetaGeoFitter`` and ``ModifiedBetaGeoFitter``, an
independent implementation of each likelihood) on the CDNOW calibration data; the
model's own identities (probabilities in [0, 1], expectations non-decreasing in t, time
rescaling); and the NumPy evaluation of the likelihood for the PyTensor one.  The
model-specific tests (published estimates, simulation) are in test_bgnbd.py and
test_mbgnbd.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clvmodels.backends.mle import fit_mle
from clvmodels.models import bgnbd, mbgnbd
from clvmodels.models.ops import pytensor_ops

MODELS = {"bgnbd": bgnbd, "mbgnbd": mbgnbd}
LIFETIMES_FITTER = {"bgnbd": "BetaGeoFitter", "mbgnbd": "ModifiedBetaGeoFitter"}
PARAM_GRID = np.logspace(-4, 4, 5)  # 1e-4 ... 1e4, every parameter
log_uniform = st.floats(min_value=-2.0, max_value=2.0).map(lambda e: 10.0**e)
both = pytest.mark.parametrize("key", list(MODELS))
PARAMS = {"r": log_uniform, "alpha": log_uniform, "a": log_uniform, "b": log_uniform}
HISTORY = {"x": st.integers(0, 50), "frac": st.floats(0, 1), "T": st.floats(0.1, 200)}


def stress_grid() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every parameter on PARAM_GRID × histories with x up to 1e4, T from 0.01 to 1e4
    (52 histories per parameter combination)."""
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


@pytest.fixture(scope="module")
def compiled():
    """Per-row log-likelihood and its gradient in the log-parameters, compiled once per
    model."""
    import pytensor
    import pytensor.tensor as pt

    out = {}
    for key, module in MODELS.items():
        logs = [pt.dvector(f"log_{k}") for k in module.SPEC.param_names]
        columns = [pt.dvector(c) for c in module.SPEC.data_columns]
        ll = module.log_likelihood(
            *[pt.exp(v) for v in logs],
            **dict(zip(module.SPEC.data_columns, columns, strict=True)),
            xp=pytensor_ops(),
        )
        grads = pytensor.grad(ll.sum(), logs)
        out[key] = pytensor.function([*logs, *columns], [ll, *grads])
    return out


# ---- agreement with lifetimes --------------------------------------------------------------


@pytest.fixture(scope="module")
def lifetimes_fits(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    return {
        key: getattr(lifetimes, name)(penalizer_coef=0.0).fit(
            cdnow["frequency"], cdnow["recency"], cdnow["T"]
        )
        for key, name in LIFETIMES_FITTER.items()
    }


@pytest.mark.lifetimes
@both
def test_rowwise_loglik_agrees_with_lifetimes(key, cdnow, lifetimes_fits):
    fitter = lifetimes_fits[key]
    params = dict(fitter.params_)
    log_params = np.log([params[k] for k in ("r", "alpha", "a", "b")])
    rows = np.arange(0, len(cdnow["T"]), 7)
    ours = MODELS[key].log_likelihood(**params, **{k: v[rows] for k, v in cdnow.items()})
    theirs = [
        -fitter._negative_log_likelihood(
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
@both
def test_predictions_agree_with_lifetimes(key, cdnow, lifetimes_fits):
    fitter, module = lifetimes_fits[key], MODELS[key]
    p = dict(fitter.params_)
    x, tx, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    t = np.array([0.5, 1.0, 10.0, 39.0, 78.0, 500.0])
    np.testing.assert_allclose(
        module.expected_purchases(t, **p),
        fitter.expected_number_of_purchases_up_to_time(t),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        module.conditional_expected_purchases(39.0, x, tx, T, **p),
        fitter.conditional_expected_number_of_purchases_up_to_time(39.0, x, tx, T),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        module.probability_alive(x, tx, T, **p),
        fitter.conditional_probability_alive(x, tx, T),
        rtol=1e-6,
    )
    for n in (0, 1, 2, 5, 12):
        assert module.probability_of_purchases(n, 39.0, **p) == pytest.approx(
            fitter.probability_of_n_purchases_up_to_time(39.0, n), rel=1e-6
        )


@pytest.mark.lifetimes
@both
def test_cdnow_fit_agrees_with_lifetimes(key, cdnow, lifetimes_fits):
    ours = fit_mle(MODELS[key].SPEC, cdnow)
    for name in MODELS[key].SPEC.param_names:
        assert ours.params[name] == pytest.approx(lifetimes_fits[key].params_[name], rel=1e-3)


# ---- properties ----------------------------------------------------------------------------


@both
@settings(max_examples=60, deadline=None)
@given(**PARAMS, **HISTORY, t=st.floats(0.01, 200))
def test_probabilities_in_unit_interval(key, r, alpha, a, b, x, frac, T, t):
    module = MODELS[key]
    recency = frac * T if x > 0 else 0.0
    alive = module.probability_alive(x, recency, T, r=r, alpha=alpha, a=a, b=b)
    pmf = module.probability_of_purchases(x, t, r=r, alpha=alpha, a=a, b=b)
    assert 0.0 <= float(alive) <= 1.0
    assert 0.0 <= float(pmf) <= 1.0


@both
@settings(max_examples=60, deadline=None)
@given(**PARAMS, **HISTORY)
@example(r=10**1.375, alpha=1.0, a=10**1.375, b=100.0, x=0, frac=0.0, T=1.0)  # found by CI
def test_expectations_non_decreasing_in_t(key, r, alpha, a, b, x, frac, T):
    module = MODELS[key]
    t = np.logspace(-2, 3, 40)
    p = {"r": r, "alpha": alpha, "a": a, "b": b}
    e = module.expected_purchases(t, **p)
    c = module.conditional_expected_purchases(t, x, frac * T if x > 0 else 0.0, T, **p)
    for values in (e, c):
        assert np.all(np.isfinite(values)) and np.all(values >= 0)
        assert np.all(np.diff(values) >= -1e-9 * values[1:])


@both
@settings(max_examples=60, deadline=None)
@given(**PARAMS, **HISTORY, c=st.floats(0.01, 100))
def test_time_rescaling_changes_only_alpha(key, r, alpha, a, b, x, frac, T, c):
    """Rescaling time by c multiplies alpha by c; the log-likelihood changes by the
    Jacobian −x·log c of the x purchase-time densities, and predictions are unchanged."""
    module = MODELS[key]
    tx = frac * T if x > 0 else 0.0
    data = {"frequency": np.array([x], float), "recency": np.array([tx]), "T": np.array([T])}
    scaled = {"frequency": data["frequency"], "recency": c * data["recency"], "T": c * data["T"]}
    ll = module.log_likelihood(r, alpha, a, b, **data)
    ll_scaled = module.log_likelihood(r, c * alpha, a, b, **scaled)
    np.testing.assert_allclose(ll_scaled, ll - x * np.log(c), rtol=1e-9, atol=1e-9)
    p, q = {"r": r, "alpha": alpha, "a": a, "b": b}, {"r": r, "alpha": c * alpha, "a": a, "b": b}
    assert module.probability_alive(x, c * tx, c * T, **q) == pytest.approx(
        float(module.probability_alive(x, tx, T, **p)), rel=1e-9, abs=1e-300
    )
    assert module.conditional_expected_purchases(5 * c, x, c * tx, c * T, **q) == pytest.approx(
        float(module.conditional_expected_purchases(5.0, x, tx, T, **p)), rel=1e-8, abs=1e-300
    )


@both
@settings(max_examples=40, deadline=None)
@given(**PARAMS)
def test_numpy_and_pytensor_loglik_agree(key, compiled, r, alpha, a, b):
    _, data = stress_grid()
    n = 52  # the histories of one parameter combination
    data = {k: v[:n] for k, v in data.items()}
    logs = [np.full(n, np.log(v)) for v in (r, alpha, a, b)]
    ll_pt = compiled[key](*logs, *data.values())[0]
    ll_np = MODELS[key].log_likelihood(r, alpha, a, b, **data)
    np.testing.assert_allclose(ll_pt, ll_np, rtol=1e-10, atol=1e-10)


# ---- stress grid ---------------------------------------------------------------------------


@both
def test_stress_grid_loglik_and_gradient_finite(key, compiled):
    params, data = stress_grid()
    ll_np = MODELS[key].log_likelihood(**params, **data)
    ll, *grads = compiled[key](*[np.log(v) for v in params.values()], *data.values())
    assert np.all(np.isfinite(ll_np))
    assert np.all(np.isfinite(ll)) and all(np.all(np.isfinite(g)) for g in grads)
    np.testing.assert_allclose(ll, ll_np, rtol=1e-10, atol=1e-8)


@both
def test_stress_grid_predictions_finite(key):
    module = MODELS[key]
    params, data = stress_grid()
    x, tx, T = data["frequency"], data["recency"], data["T"]
    alive = module.probability_alive(x, tx, T, **params)
    assert np.all((alive >= 0) & (alive <= 1))
    pmf = module.probability_of_purchases(x, T, **params)
    assert np.all((pmf >= 0) & (pmf <= 1))
    # expectations: every parameter combination × t in {0.01, 1e4}
    grid = {k: v[::52] for k, v in params.items()}
    for t in (0.01, 1e4):
        e = module.expected_purchases(t, **grid)
        assert np.all(np.isfinite(e)) and np.all(e >= 0)
    pick = slice(None, None, 13)  # 4 histories per parameter combination
    c = module.conditional_expected_purchases(
        1e4, x[pick], tx[pick], T[pick], **{k: v[pick] for k, v in params.items()}
    )
    assert np.all(np.isfinite(c)) and np.all(c >= 0)
