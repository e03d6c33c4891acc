"""Tests of the BG/CNBD-k and MBG/CNBD-k models (clvmodels.models.bgcnbd, mbgcnbd).

Reutterer, Platzer & Schröder (2021) publish no per-customer values that can be
reproduced here; the references are therefore: the BG/NBD and MBG/NBD at ``k = 1``
(exactly), brute-force numerical integration of the model definition (likelihood),
simulation of the model event by event (every prediction), identities between the
predictions (the pmf's mean is the conditional expectation; the lifetime DERT is the
limit of the finite-horizon one, computed by a different quadrature), parameter
recovery from simulated data, and BTYDplus's CDNOW demo (``k = 1``: no regularity).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from clvmodels.backends.mle import fit_mle
from clvmodels.models import _erlang, _erlang_lifetime, bgcnbd, bgnbd, mbgcnbd, mbgnbd

MODELS = [(bgcnbd, bgnbd, False), (mbgcnbd, mbgnbd, True)]
PARAMS = {"r": 0.85, "alpha": 1.45, "a": 0.79, "b": 2.42}  # BTYDplus's bg-cnbd-k demo
HISTORY = {
    "frequency": np.array([0.0, 1.0, 3.0, 3.0, 12.0, 40.0]),
    "recency": np.array([0.0, 2.5, 10.0, 29.0, 20.0, 31.5]),
    "T": np.array([30.0, 30.0, 30.0, 30.0, 32.0, 32.0]),
}

positive = st.floats(0.05, 20.0)
histories = st.tuples(st.integers(0, 30), st.floats(0.0, 1.0), st.floats(0.5, 60.0)).map(
    lambda v: (float(v[0]), v[1] * v[2] if v[0] > 0 else 0.0, v[2])
)


def _params(r: float, alpha: float, a: float, b: float) -> dict[str, float]:
    return {"r": r, "alpha": alpha, "a": a, "b": b}


# ---- k = 1 is the BG/NBD (MBG/NBD) -----------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(positive, positive, positive, positive, histories, st.floats(0.1, 100.0))
def test_cnbd_at_k1_equals_bgnbd_and_mbgnbd_to_1e12(r, alpha, a, b, history, t):
    p = _params(r, alpha, a, b)
    x, t_x, T = history
    litt = 1.7  # any value: it is multiplied by k − 1 = 0
    for model, base, _ in MODELS:
        ll = model.log_likelihood(**p, frequency=x, recency=t_x, T=T, litt=litt)
        ref = base.log_likelihood(**p, frequency=x, recency=t_x, T=T)
        assert ll == pytest.approx(ref, rel=1e-12, abs=1e-12)
        pk = {**p, "k": 1.0}
        pairs = [
            (model.expected_purchases(t, **pk), base.expected_purchases(t, **p)),
            (model.probability_of_purchases(2, t, **pk), base.probability_of_purchases(2, t, **p)),
            (model.probability_alive(x, t_x, T, **pk), base.probability_alive(x, t_x, T, **p)),
            (
                model.conditional_expected_purchases(t, x, t_x, T, **pk),
                base.conditional_expected_purchases(t, x, t_x, T, **p),
            ),
            (
                model.active_expected_purchases(t, x, t_x, T, **pk),
                base.active_expected_purchases(t, x, T, **p),
            ),
            (
                model.conditional_purchase_pmf(4, t, x, t_x, T, **pk),
                base.conditional_purchase_pmf(4, t, x, t_x, T, **p),
            ),
            (
                model.discounted_expected_residual_transactions(x, t_x, T, **pk, delta=0.01),
                base.discounted_expected_residual_transactions(x, t_x, T, **p, delta=0.01),
            ),
            (
                model.discounted_active_purchases(x, t_x, T, **pk, delta=0.01, horizon=52.0),
                base.discounted_active_purchases(x, T, **p, delta=0.01, horizon=52.0),
            ),
        ]
        for ours, theirs in pairs:
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@settings(max_examples=20, deadline=None)
@given(positive, positive, positive, positive, histories, st.floats(0.1, 100.0))
def test_erlang_sums_at_k1_match_bgnbd_closed_forms(r, alpha, a, b, history, t):
    """The general Erlang code (not the k = 1 shortcut) against the BG/NBD's
    hypergeometric and quadrature evaluations."""
    x, t_x, T = history
    for _, base, mbg in MODELS:
        _, post = _erlang.posterior(1, x, t_x, T, r, alpha, a, b, extra=float(mbg), t=t)
        ref = base.active_expected_purchases(t, x, T, **_params(r, alpha, a, b))
        assert _erlang.active_expected(1, post)[0] == pytest.approx(ref, rel=1e-9, abs=1e-14)
        ref_pmf = bgnbd.active_purchase_pmf(6, t, x, T, r=r, alpha=alpha, a=a, b=b + mbg)
        np.testing.assert_allclose(_erlang.active_pmf(6, 1, post)[0], ref_pmf, atol=1e-12)
        alive = _erlang.erlang_probability_alive(1, x, t_x, T, r, alpha, a, b, mbg)
        ref_alive = base.probability_alive(x, t_x, T, **_params(r, alpha, a, b))
        assert alive == pytest.approx(ref_alive, rel=1e-12)
        lifetime = _erlang_lifetime.active_discounted_lifetime(1, 0.01, post)[0]
        ref_dert = base.discounted_active_purchases(x, T, **_params(r, alpha, a, b), delta=0.01)
        assert lifetime == pytest.approx(ref_dert, rel=1e-8)


# ---- the phase sums against the textbook sums ---------------------------------------------


def _incomplete_beta_expectation(k, s, scale, w, a, b1, t, terms=400):
    """``Σ_n B(a, b1+n−1)/B(a, b1) Σ_j w_j I_z(nk−j, s+j)`` term by term (the module
    docstring's formula; the implementation before issue 16's speed-up)."""
    n = np.arange(1.0, terms + 1.0)[:, None]
    j = np.arange(k, dtype=float)
    z = t / (scale + t)
    tails = special.betainc(n * k - j, s + j, z) @ w
    stay = np.exp(special.betaln(a, b1 + n[:, 0] - 1.0) - special.betaln(a, b1))
    return float(stay @ tails)


def _random_posteriors(rng, n, k, t):
    x = np.floor(rng.exponential(10.0, n)) * (rng.random(n) < 0.8)
    T = rng.uniform(1.0, 100.0, n)
    t_x = np.where(x > 0, T * rng.random(n) ** 0.3, 0.0)
    r, alpha = np.exp(rng.uniform(-2, 2, n)), np.exp(rng.uniform(-1, 4, n))
    a, b = np.exp(rng.uniform(-1.5, 3, n)), np.exp(rng.uniform(-1.5, 3, n))
    return _erlang.posterior(k, x, t_x, T, r, alpha, a, b, extra=float(k % 2), t=t)[1]


@pytest.mark.parametrize("k", [2, 3, 6])
def test_phase_count_sums_match_incomplete_beta_sums_to_1e10(k):
    """``E[X(t) | alive]`` summed over the phase count (one pass, truncated by a
    Chernoff bound) against the per-purchase incomplete Beta sum, on random posteriors
    and windows from 1e-5 to 100 time units (tiny windows: relative accuracy too)."""
    rng = np.random.default_rng(k)
    t = np.exp(rng.uniform(np.log(1e-5), np.log(100.0), 60))
    post = _random_posteriors(rng, 60, k, t)
    new = _erlang.active_expected(k, post)
    for i in range(60):
        cell = [post[c][i] for c in ("s", "scale", "w", "a", "b1")]
        ref = _incomplete_beta_expectation(k, *cell, t[i])
        assert new[i] == pytest.approx(ref, rel=1e-10, abs=1e-300)
    grid = _erlang.active_expected_grid(k, post, np.stack([t, 2.0 * t, t / 3.0], axis=1))
    np.testing.assert_allclose(grid[:, 0], new, rtol=1e-13)


@pytest.mark.parametrize("k", [2, 5])
def test_tail_bound_bounds_what_the_phase_sums_leave_out(k):
    """The Chernoff bound of the truncation is at least the left-out ``E[M 1{M > L}]/k``
    of the largest phase count (``j = k−1`` plus a negative binomial), summed exactly."""
    s, z = np.array([0.5, 4.0, 30.0]), np.array([0.3, 0.8, 0.95])
    for L in (40, 120, 400):
        bound = _erlang._log_tail_bound(k, np.full(3, float(L)), s, z)
        m = np.arange(0, 200_000)
        for i in range(3):
            pmf = stats.nbinom.pmf(m, s[i] + k - 1, 1.0 - z[i])
            left_out = np.sum(np.where(m + k - 1 > L, (m + k - 1) * pmf, 0.0)) / k
            assert left_out <= math.exp(bound[i]) * (1 + 1e-9) or left_out < 1e-300


def test_lifetime_rows_sharing_rate_nodes_equal_rows_alone():
    """The lifetime quadrature shares its rate nodes among rows alike in ``(s, a, b1)``;
    a row's value does not depend on the others (to the rule's accuracy)."""
    rng = np.random.default_rng(7)
    x = np.repeat([0.0, 3.0, 25.0], 4)
    T = rng.uniform(1.0, 150.0, 12)
    t_x = np.where(x > 0, T * rng.random(12), 0.0)
    _, post = _erlang.posterior(3, x, t_x, T, 2.0, 5.0, 1.1, 16.0, extra=0.0)
    together = _erlang_lifetime.active_discounted_lifetime(3, 0.002, post)
    for i in range(12):
        alone = {c: v[i : i + 1] for c, v in post.items()}
        value = _erlang_lifetime.active_discounted_lifetime(3, 0.002, alone)[0]
        assert together[i] == pytest.approx(value, rel=1e-10)


# ---- likelihood ------------------------------------------------------------------------


def _brute_force_likelihood(gaps, T, k, r, alpha, a, b, at_zero):
    """∫∫ Gamma(λ) Beta(p) · Π Erlang-k pdf(gaps) · P(alive or dead at t_x) dp dλ, the
    model definition integrated numerically: SciPy's distributions, adaptive quadrature
    over λ, and a 40-node Gauss–Legendre rule over p (exact: with integer ``a, b`` the
    integrand is a polynomial in p)."""
    gaps = np.asarray(gaps, dtype=float)
    x, t_x = gaps.size, gaps.sum()
    m = 1 if at_zero else 0
    nodes, weights = np.polynomial.legendre.leggauss(40)
    p, weights = (nodes + 1.0) / 2.0, weights / 2.0
    beta = stats.beta.pdf(p, a, b)
    dead = p * (1 - p) ** (x - 1 + m) if (x > 0 or at_zero) else 0.0

    def given_rate(lam):
        density = np.prod(stats.gamma.pdf(gaps, k, scale=1.0 / lam))
        stay = stats.poisson.cdf(k - 1, lam * (T - t_x))
        over_p = np.sum(weights * beta * ((1 - p) ** (x + m) * stay + dead))
        return stats.gamma.pdf(lam, r, scale=1.0 / alpha) * density * over_p

    return integrate.quad(given_rate, 0, np.inf, epsabs=0, epsrel=1e-11, limit=400)[0]


@pytest.mark.parametrize(
    ("k", "gaps"), [(2, []), (2, [0.7, 2.2, 1.1]), (3, [1.5]), (3, [4.0, 3.5, 5.0, 2.0])]
)
def test_likelihood_matches_brute_force_integration_of_the_model(k, gaps):
    T, p = 16.0, {"r": 1.3, "alpha": 2.0, "a": 2.0, "b": 3.0}
    x, t_x = float(len(gaps)), float(np.sum(gaps))
    litt = float(np.sum(np.log(gaps))) if gaps else 0.0
    for model, _, at_zero in MODELS:
        ours = model.log_likelihood(**p, frequency=x, recency=t_x, T=T, litt=litt, k=k)
        ref = _brute_force_likelihood(gaps, T, k, **p, at_zero=at_zero)
        assert ours == pytest.approx(math.log(ref), abs=1e-9)


def _stress_data():
    x = np.array([0.0, 0.0, 1.0, 1.0, 5.0, 200.0, 200.0, 3.0, 1000.0])
    t_x = np.array([0.0, 0.0, 1e-6, 50.0, 50.0, 50.0, 1e-3, 1e-8, 49.0])
    T = np.array([1e-6, 500.0, 50.0, 50.0, 50.0, 50.0, 500.0, 1e-8, 49.0])
    litt = np.where(x > 0, x * np.log(np.maximum(t_x, 1e-12) / np.maximum(x, 1.0)), 0.0)
    return {"frequency": x, "recency": t_x, "T": T, "litt": litt}


STRESS_PARAMS = [
    dict(zip(("r", "alpha", "a", "b"), v, strict=True))
    for v in [
        (1e-3, 1e-3, 1e-3, 1e-3),
        (1e3, 1e-3, 1e3, 1e-3),
        (1e-3, 1e4, 1e-3, 1e4),
        (1e4, 1e4, 1e4, 1e4),
        (0.5, 10.0, 0.8, 2.5),
        (50.0, 1e-2, 1e-2, 1e5),
    ]
]


@pytest.mark.parametrize("k", [1, 2, 5, 12])
def test_likelihood_and_gradient_are_finite_on_a_stress_grid(k):
    """NumPy likelihood and PyTensor gradient (the graph fit_mle differentiates; compiled
    without C code, to keep the test fast)."""
    import pytensor
    import pytensor.tensor as pt

    from clvmodels.models.ops import pytensor_ops

    data = _stress_data()
    theta = pt.dvector("theta")
    for model in (bgcnbd, mbgcnbd):
        spec = model.spec_for(k)
        names = spec.param_names
        symbolic = {n: pt.exp(theta[i]) for i, n in enumerate(names)}
        total = spec.log_likelihood(**symbolic, **data, xp=pytensor_ops()).sum()
        fn = pytensor.function([theta], [total, pt.grad(total, theta)], mode="FAST_COMPILE")
        for params in STRESS_PARAMS:
            ll_np = spec.log_likelihood(**params, **data)
            assert np.all(np.isfinite(ll_np)), (k, params)
            value, grad = fn(np.log([params[n] for n in names]))
            assert np.isfinite(value) and np.all(np.isfinite(grad)), (k, params)
            assert value == pytest.approx(ll_np.sum(), rel=1e-10)


def test_spec_for_is_cached_and_declares_k():
    for model, key in ((bgcnbd, "bgcnbd"), (mbgcnbd, "mbgcnbd")):
        assert model.spec_for(2) is model.spec_for(2)
        assert model.SPEC is model.spec_for(1)
        assert model.spec_for(3).extra == {"k": 3} and model.spec_for(3).key == key
        assert model.SPEC.data_columns == ("frequency", "recency", "T", "litt")
    with pytest.raises(ValueError):
        bgcnbd.expected_purchases(1.0, k=1.5, **PARAMS)


# ---- predictions: identities -----------------------------------------------------------


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("model", [bgcnbd, mbgcnbd])
def test_conditional_pmf_mean_is_the_conditional_expectation(model, k):
    p = {**PARAMS, "k": float(k)}
    h = HISTORY.values()
    pmf = model.conditional_purchase_pmf(400, 26.0, *h, **p)
    np.testing.assert_allclose(pmf.sum(axis=-1), 1.0, atol=1e-12)
    mean = pmf @ np.arange(400.0)
    np.testing.assert_allclose(
        mean, model.conditional_expected_purchases(26.0, *h, **p), rtol=1e-10
    )
    new = model.probability_of_purchases(np.arange(300), 26.0, **p)
    assert new @ np.arange(300.0) == pytest.approx(model.expected_purchases(26.0, **p), rel=1e-10)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("model", [bgcnbd, mbgcnbd])
def test_lifetime_dert_is_the_limit_of_the_finite_horizon_quadrature(model, k):
    """Two different computations: the rate quadrature with the purchases summed in
    closed form (lifetime) and the time quadrature of the exact E[X(t)] (finite)."""
    p = {**PARAMS, "k": float(k)}
    # the history rows plus a heavy, regular buyer (a narrow posterior rate)
    heavy = (200.0, 38.0, 40.0)
    h = [np.append(v[1:5], e) for v, e in zip(HISTORY.values(), heavy, strict=True)]
    delta = 0.1
    lifetime = model.discounted_expected_residual_transactions(*h, **p, delta=delta)
    finite = model.discounted_expected_residual_transactions(
        *h, **p, delta=delta, horizon=49.0 / delta
    )
    np.testing.assert_allclose(finite, lifetime, rtol=1e-9)
    shorter = model.discounted_expected_residual_transactions(*h, **p, delta=delta, horizon=20.0)
    assert np.all(shorter < lifetime)


@settings(max_examples=15, deadline=None)
@given(positive, positive, positive, positive, histories, st.integers(2, 5))
def test_probabilities_are_probabilities_and_expectations_grow(r, alpha, a, b, history, k):
    p = {**_params(r, alpha, a, b), "k": float(k)}
    x, t_x, T = history
    for model in (bgcnbd, mbgcnbd):
        alive = model.probability_alive(x, t_x, T, **p)
        assert 0.0 <= alive <= 1.0
        pmf = model.conditional_purchase_pmf(8, 10.0, x, t_x, T, **p)
        assert np.all(pmf >= 0.0) and pmf.sum() <= 1.0 + 1e-12
        e = model.conditional_expected_purchases(np.array([1.0, 5.0, 25.0]), x, t_x, T, **p)
        assert np.all(np.diff(e) >= 0.0)


@pytest.mark.parametrize("model", [bgcnbd, mbgcnbd])
def test_predictions_broadcast_over_parameter_draws(model):
    rng = np.random.default_rng(3)
    draws = {n: v * rng.uniform(0.8, 1.2, (3, 1)) for n, v in PARAMS.items()}
    p = {**draws, "k": 2.0}
    h = tuple(HISTORY.values())
    rows = len(h[0])
    one = {**{n: v[1, 0] for n, v in draws.items()}, "k": 2.0}
    calls = [
        lambda q: model.conditional_expected_purchases(10.0, *h, **q),
        lambda q: model.probability_alive(*h, **q),
        lambda q: model.probability_of_purchases(h[0], 10.0, **q),
        lambda q: model.discounted_expected_residual_transactions(*h, **q, delta=0.01),
        lambda q: model.discounted_active_purchases(*h, **q, delta=0.01, horizon=20.0),
    ]
    for call in calls:
        out = call(p)
        assert out.shape == (3, rows)
        np.testing.assert_allclose(out[1], call(one), rtol=1e-12)
    assert model.conditional_purchase_pmf(5, 10.0, *h, **p).shape == (3, rows, 5)


@pytest.mark.parametrize("model", [bgcnbd, mbgcnbd])
def test_new_customer_pmf_sums_to_one_as_in_btydplus_unit_tests(model):
    """BTYDplus's tests/testthat/test-(m)bg-cnbd-k.R: ``sum(pmf(params, 2, 0:100)) == 1``
    at ``k = 3, r = 0.85, alpha = 1.45, a = 0.79, b = 2.42``."""
    p = {**PARAMS, "k": 3.0}
    assert model.probability_of_purchases(np.arange(101), 2.0, **p).sum() == pytest.approx(
        1.0, abs=1e-12
    )
    assert model.probability_of_purchases(np.arange(10)[:, None], [28.0, 56.0], **p).shape == (
        10,
        2,
    )


# ---- predictions against simulation ----------------------------------------------------


def _simulate_split(model, k, n, T, horizon, seed):
    """Calibration summaries at ``T`` and purchases in ``(T, T + horizon]`` of customers
    simulated event by event."""
    rng = np.random.default_rng(seed)
    T_all = np.full(n, T)
    customer, time = model.simulate_purchase_times(k=k, **PARAMS, T=T_all + horizon, rng=rng)
    before = time <= T
    summary = _erlang.summarise(customer[before], time[before], T_all)
    return summary, customer[~before], time[~before] - T


@pytest.mark.parametrize(
    ("model", "k"),
    [
        (bgcnbd, 2),
        (mbgcnbd, 3),
        pytest.param(bgcnbd, 3, marks=pytest.mark.slow),
        pytest.param(mbgcnbd, 2, marks=pytest.mark.slow),
    ],
)
def test_conditional_expectation_and_pmf_match_simulation(model, k):
    n, T, t = 25_000, 12.0, 10.0
    summary, customer, _ = _simulate_split(model, k, n, T, t, seed=k)
    actual = np.bincount(customer, minlength=n).astype(float)
    h = (summary["frequency"], summary["recency"], summary["T"])
    p = {**PARAMS, "k": float(k)}
    predicted = model.conditional_expected_purchases(t, *h, **p)
    # by group: no repeat purchase, a recent or a long-ago last purchase (the Erlang phase)
    gap = summary["T"] - summary["recency"]
    groups = [h[0] == 0, (h[0] > 0) & (gap < 2.0), (h[0] > 0) & (gap >= 2.0)]
    for group in groups:
        sd = actual[group].std() * math.sqrt(group.sum())
        assert predicted[group].sum() == pytest.approx(actual[group].sum(), abs=4.5 * sd)
    pmf = model.conditional_purchase_pmf(4, t, *h, **p).sum(axis=0)
    counts = np.bincount(np.minimum(actual, 3).astype(int), minlength=4)[:3]
    assert np.all(np.abs(pmf[:3] - counts) <= 4.5 * np.sqrt(pmf[:3]))


@pytest.mark.parametrize("model", [bgcnbd, mbgcnbd])
def test_new_customer_predictions_and_palive_match_simulation(model):
    k, n, T = 3, 60_000, 15.0
    p = {**PARAMS, "k": float(k)}
    sim = model.simulate(n, k=k, **PARAMS, T=T, rng=np.random.default_rng(5))
    x = sim["frequency"]
    assert x.mean() == pytest.approx(model.expected_purchases(T, **p), abs=4.5 * x.std() / n**0.5)
    probs = model.probability_of_purchases(np.arange(4), T, **p)
    counts = np.bincount(x.astype(int), minlength=4)[:4]
    assert np.all(np.abs(n * probs - counts) <= 4.5 * np.sqrt(n * probs))
    alive = model.probability_alive(x, sim["recency"], sim["T"], **p)
    for group in (x == 0, x > 0):
        sd = math.sqrt(np.sum(alive[group] * (1 - alive[group])))
        assert alive[group].sum() == pytest.approx(sim["alive"][group].sum(), abs=4.5 * sd)


@pytest.mark.parametrize(
    ("model", "n"), [(bgcnbd, 3000), pytest.param(mbgcnbd, 30_000, marks=pytest.mark.slow)]
)
def test_dert_matches_simulated_discounted_purchases(model, n):
    k, T, delta = 2, 10.0, 0.1
    horizon = 300.0  # e^(−30): the simulated sum is the lifetime one
    summary, customer, after = _simulate_split(model, k, n, T, horizon, seed=9)
    h = (summary["frequency"], summary["recency"], summary["T"])
    p = {**PARAMS, "k": float(k)}
    for window in (8.0, math.inf):
        inside = after <= window
        actual = np.bincount(customer[inside], weights=np.exp(-delta * after[inside]), minlength=n)
        predicted = model.discounted_expected_residual_transactions(
            *h, **p, delta=delta, horizon=window
        )
        sd = actual.std() * math.sqrt(n)
        assert predicted.sum() == pytest.approx(actual.sum(), abs=4.5 * sd)


def test_simulated_litt_is_the_sum_of_log_gaps():
    customer = np.array([0, 0, 0, 2])
    time = np.array([1.0, 3.0, 7.0, 0.5])
    out = _erlang.summarise(customer, time, np.array([10.0, 10.0, 10.0]))
    np.testing.assert_allclose(out["litt"], [math.log(1 * 2 * 4), 0.0, math.log(0.5)])
    np.testing.assert_allclose(out["recency"], [7.0, 0.0, 0.5])
    np.testing.assert_allclose(out["frequency"], [3.0, 0.0, 1.0])


# ---- fitting -------------------------------------------------------------------------------

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science
# 24(2): BG/NBD on the CDNOW calibration data, r = 0.243, alpha = 4.414, a = 0.793,
# b = 2.426, log-likelihood -9582.4 — the BG/CNBD-k at k = 1.
FHL2005_CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
FHL2005_CDNOW_LOGLIK = -9582.4


def test_bgcnbd_k1_cdnow_loglik_matches_fhl2005_published(cdnow):
    litt = np.zeros_like(cdnow["frequency"])  # multiplied by k − 1 = 0
    ll = bgcnbd.log_likelihood(**FHL2005_CDNOW, **cdnow, litt=litt, k=1).sum()
    assert ll == pytest.approx(FHL2005_CDNOW_LOGLIK, abs=0.05)


@pytest.mark.slow  # ~6 s per model, most of it compiling the likelihood graph
@pytest.mark.parametrize("model", [bgcnbd, mbgcnbd])
def test_parameter_recovery_at_k2_from_simulated_customers(model):
    rng = np.random.default_rng(20210101)
    n = 10_000
    sim = model.simulate(n, k=2, **PARAMS, T=rng.uniform(24.0, 32.0, n), rng=rng)
    spec = model.spec_for(2)
    result = fit_mle(spec, {c: sim[c] for c in spec.data_columns})
    for name, value in PARAMS.items():
        assert abs(result.params[name] - value) < 3.5 * result.std_err[name], name


@pytest.mark.slow
@pytest.mark.parametrize("model", [bgcnbd, mbgcnbd])
def test_profile_likelihood_over_k_finds_the_simulated_k(model):
    rng = np.random.default_rng(7)
    n = 10_000
    sim = model.simulate(n, k=3, **PARAMS, T=rng.uniform(24.0, 32.0, n), rng=rng)
    data = {c: sim[c] for c in model.SPEC.data_columns}
    profile = [fit_mle(model.spec_for(k), data).log_likelihood for k in (1, 2, 3, 4, 5)]
    assert int(np.argmax(profile)) + 1 == 3


@pytest.mark.slow
def test_cdnow_profile_picks_k1_as_btydplus_demo_and_k1_is_fhl2005(cdnow_summary):
    """BTYDplus's demo("cdnow") fits ``bgcnbd.EstimateParameters`` to the CDNOW sample
    and notes "k=1 -> no regularity detected for CDNow"; at k = 1 the estimates are the
    BG/NBD's published by FHL 2005."""
    data = {c: cdnow_summary[c].to_numpy(float) for c in bgcnbd.SPEC.data_columns}
    fits = [fit_mle(bgcnbd.spec_for(k), data) for k in (1, 2, 3)]
    profile = [f.log_likelihood for f in fits]
    assert profile[0] > profile[1] > profile[2]
    for name, value in FHL2005_CDNOW.items():
        assert round(fits[0].params[name], 3) == pytest.approx(value), name
    assert fits[0].log_likelihood == pytest.approx(FHL2005_CDNOW_LOGLIK, abs=0.05)
