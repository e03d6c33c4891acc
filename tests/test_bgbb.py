"""Tests of the BG/BB model (clvmodels.models.bgbb)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from clvmodels.backends.mle import fit_mle
from clvmodels.data import load_builtin
from clvmodels.models import bgbb
from clvmodels.models.ops import pytensor_ops

# Fader, Hardie & Shang (2010), Marketing Science 29(6), 1086-1108: the 1995 cohort of
# 11,104 first-time donors, 6 annual donation opportunities (1996-2001).
FHS2010_ESTIMATES = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
FHS2010_LOGLIK = -33225.6
FHS2010_PARAMS = {"alpha": 1.2035, "beta": 0.7497, "gamma": 0.6567, "delta": 2.7834}

PARAM_GRID = np.logspace(-4, 4, 5)
positive = st.floats(min_value=1e-2, max_value=1e2)
PARAMS = ("alpha", "beta", "gamma", "delta")


def _load_donations() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """FHS2010 donations data as shipped with clvmodels (frequency, recency, n, count)."""
    frame = load_builtin("donations_fhs2010")
    data = {c: frame[c].to_numpy(float) for c in ("frequency", "recency", "n")}
    return data, frame["count"].to_numpy(float)


@pytest.fixture(scope="module")
def donations():
    return _load_donations()


@pytest.fixture(scope="module")
def donations_fit(donations):
    data, counts = donations
    return fit_mle(bgbb.SPEC, data, counts)


@pytest.fixture(scope="module")
def loglik_and_grad():
    """Per-row log-likelihood and gradient in the log-parameters, data symbolic."""
    import pytensor
    import pytensor.tensor as pt

    logs = [pt.dvector(f"log_{k}") for k in PARAMS]
    x, t_x, n = pt.dvector("x"), pt.dvector("t_x"), pt.dvector("n")
    ll = bgbb.log_likelihood(
        *(pt.exp(v) for v in logs), frequency=x, recency=t_x, n=n, xp=pytensor_ops()
    )
    grads = pytensor.grad(ll.sum(), logs)
    return pytensor.function([*logs, x, t_x, n], [ll, *grads])


def _patterns(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (x, t_x) for n opportunities and the number of 0/1 sequences giving each."""
    xs, txs, counts = [0.0], [0.0], [1.0]
    for t_x in range(1, n + 1):
        for x in range(1, t_x + 1):
            xs.append(x)
            txs.append(t_x)
            counts.append(special.comb(t_x - 1, x - 1))
    return np.array(xs), np.array(txs), np.array(counts)


def test_bgbb_donations_estimates_fader_hardie_shang_2010(donations, donations_fit):
    _, counts = donations
    assert counts.sum() == 11_104
    for name, value in FHS2010_ESTIMATES.items():
        assert round(donations_fit.params[name], 3) == value
    assert round(donations_fit.log_likelihood, 1) == FHS2010_LOGLIK
    assert all(np.isfinite(v) and v > 0 for v in donations_fit.std_err.values())


def test_bgbb_likelihood_sums_to_one_over_all_histories():
    """Σ over every 0/1 history of length n of its probability is 1 (FHS2010 eq. (5))."""
    for n in (1, 2, 6, 11):
        x, t_x, count = _patterns(n)
        ll = bgbb.log_likelihood(
            1.204, 0.750, 0.657, 2.783, frequency=x, recency=t_x, n=np.full_like(x, n)
        )
        assert np.sum(count * np.exp(ll)) == pytest.approx(1.0, rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(a=positive, b=positive, g=positive, d=positive, n=st.integers(1, 9))
def test_bgbb_likelihood_is_a_distribution_property(a, b, g, d, n):
    x, t_x, count = _patterns(n)
    ll = bgbb.log_likelihood(a, b, g, d, frequency=x, recency=t_x, n=np.full_like(x, n))
    assert np.sum(count * np.exp(ll)) == pytest.approx(1.0, rel=1e-10)


def test_bgbb_expected_transactions_matches_history_enumeration():
    """E[X(n)] equals Σ_histories x · P(history) (FHS2010, section 3)."""
    params = FHS2010_PARAMS
    for n in (1, 6, 10):
        x, t_x, count = _patterns(n)
        ll = bgbb.log_likelihood(**params, frequency=x, recency=t_x, n=np.full_like(x, n))
        brute = np.sum(count * x * np.exp(ll))
        assert bgbb.expected_transactions(n, **params) == pytest.approx(brute, rel=1e-10)


@pytest.mark.parametrize("gamma", [0.657, 1.0, 1.0 + 3e-6, 1.0 - 3e-6, 1.0 + 2e-5, 25.0])
def test_bgbb_expected_transactions_stable_through_gamma_one(gamma):
    """δ/(γ−1)[...] has a removable singularity at γ = 1: compare with the direct sum."""
    a, b, d, n_star = 1.2, 0.75, 2.8, np.array([1.0, 5.0, 50.0])
    t = np.arange(1, 51, dtype=float)
    alive = np.exp(special.betaln(gamma, d + t) - special.betaln(gamma, d))
    brute = a / (a + b) * np.cumsum(alive)[n_star.astype(int) - 1]
    got = bgbb.expected_transactions(n_star, alpha=a, beta=b, gamma=gamma, delta=d)
    np.testing.assert_allclose(got, brute, rtol=1e-9)


@pytest.mark.parametrize(
    ("x", "t_x", "n", "params"),
    [
        (0, 0, 6, FHS2010_PARAMS),
        (3, 6, 6, FHS2010_PARAMS),
        (2, 3, 6, FHS2010_PARAMS),
        (1, 1, 6, {"alpha": 0.3, "beta": 5.0, "gamma": 2.0, "delta": 0.4}),
        (50, 80, 100, {"alpha": 1.0, "beta": 1.0, "gamma": 1.0, "delta": 1.0}),
        (5, 9, 10, {"alpha": 1e-3, "beta": 1e3, "gamma": 1e3, "delta": 1e-3}),
    ],
)
def test_bgbb_dert_matches_discounted_sum_fader_hardie_shang_2010(x, t_x, n, params):
    """FHS2010 eq. (14) = Σ_{k≥1} E[transaction at n+k | data] (1+d)^{-k}."""
    discount = 0.1
    k = np.arange(0, 601, dtype=float)
    cumulative = bgbb.conditional_expected_transactions(k, x, t_x, n, **params)
    per_period = np.diff(cumulative)
    brute = np.sum(per_period * np.exp(-k[1:] * np.log1p(discount)))
    got = bgbb.dert(x, t_x, n, **params, discount=discount)
    assert got == pytest.approx(brute, rel=1e-6)


def test_bgbb_parameter_recovery_from_simulation():
    truth = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
    sim = bgbb.simulate(10_000, **truth, n_periods=8, rng=np.random.default_rng(11))
    result = fit_mle(bgbb.SPEC, sim)
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 3 * result.std_err[name]


def test_bgbb_simulation_pattern_frequencies_match_likelihood():
    params = {"alpha": 0.8, "beta": 1.5, "gamma": 0.6, "delta": 2.0}
    sim = bgbb.simulate(200_000, **params, n_periods=4, rng=np.random.default_rng(5))
    x, t_x, count = _patterns(4)
    prob = count * np.exp(bgbb.log_likelihood(**params, frequency=x, recency=t_x, n=4.0))
    observed = np.array(
        [
            np.mean((sim["frequency"] == xi) & (sim["recency"] == ti))
            for xi, ti in zip(x, t_x, strict=True)
        ]
    )
    np.testing.assert_allclose(observed, prob, atol=4e-3)


@settings(max_examples=40, deadline=None)
@given(
    a=positive,
    b=positive,
    g=positive,
    d=positive,
    n=st.integers(1, 200),
    data=st.data(),
)
def test_bgbb_predictions_are_probabilities_and_monotone(a, b, g, d, n, data):
    t_x = data.draw(st.integers(0, n))
    x = 0 if t_x == 0 else data.draw(st.integers(1, t_x))
    params = {"alpha": a, "beta": b, "gamma": g, "delta": d}
    alive = bgbb.probability_alive(x, t_x, n, **params)
    assert 0.0 <= alive <= 1.0
    horizon = np.arange(0, 30, dtype=float)
    cond = bgbb.conditional_expected_transactions(horizon, x, t_x, n, **params)
    assert np.all(np.isfinite(cond)) and cond[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(cond) >= -1e-12 * np.abs(cond[1:]))
    assert np.all(cond <= horizon + 1e-9)  # at most one transaction per opportunity
    new = bgbb.expected_transactions(horizon, **params)
    assert np.all(np.diff(new) >= -1e-12 * np.abs(new[1:])) and np.all(new <= horizon + 1e-9)
    value = bgbb.dert(x, t_x, n, **params, discount=0.1)
    assert 0.0 <= value <= 10.0 * (1 + 1e-9)  # Σ_k (1.1)^{-k} = 10


def test_bgbb_has_no_rate_parameters():
    assert bgbb.SPEC.rate_params == ()
    assert bgbb.SPEC.data_columns == ("frequency", "recency", "n")


@settings(max_examples=25, deadline=None)
@given(a=positive, b=positive, g=positive, d=positive)
def test_bgbb_numpy_and_pytensor_loglik_agree(loglik_and_grad, a, b, g, d):
    x = np.array([0, 1, 1, 3, 6, 2, 40, 0], dtype=float)
    t_x = np.array([0, 1, 6, 5, 6, 9, 100, 0], dtype=float)
    n = np.array([6, 6, 6, 6, 6, 12, 150, 1000], dtype=float)
    ones = np.ones_like(x)
    ll_pt, *_ = loglik_and_grad(*(np.log(v) * ones for v in (a, b, g, d)), x, t_x, n)
    ll_np = bgbb.log_likelihood(a, b, g, d, frequency=x, recency=t_x, n=n)
    ulps = 1e-15 * (1.0 + np.abs(special.gammaln(a + b + g + d + n)))
    np.testing.assert_array_less(np.abs(ll_pt - ll_np), 1e-10 * np.abs(ll_np) + 10 * ulps)


def test_bgbb_loglik_broadcasts_over_parameter_draws(donations):
    data, _ = donations
    alpha = np.array([[1.0], [1.204]])
    ll = bgbb.log_likelihood(alpha, 0.75, 0.657, 2.783, **data)
    assert ll.shape == (2, len(data["n"]))
    np.testing.assert_allclose(ll[1], bgbb.log_likelihood(1.204, 0.75, 0.657, 2.783, **data))


def test_bgbb_stress_grid_finite(loglik_and_grad):
    """n up to 10,000, x and t_x across [0, n], every parameter over 1e-4..1e4.

    The likelihood's sum has ``max(n − t_x)`` terms per row, so rows are evaluated in
    two batches by gap (≤ 100 and up to 10,000) to keep the padded grid small.
    """
    rows = set()
    for n in (1, 7, 100, 10_000):
        for x, t_x in [(0, 0), (1, 1), (1, n), (n, n), (max(n // 2, 1), n), (1, max(n // 2, 1))]:
            rows.add((x, t_x, n))
    rows = np.array(sorted(rows), dtype=float)
    combos = np.array(list(itertools.product(*[PARAM_GRID] * 4)))
    long_gap = rows[:, 2] - rows[:, 1] > 100
    for batch in (rows[~long_gap], rows[long_gap]):
        grid = np.repeat(combos, len(batch), axis=0)
        x, t_x, n = (np.tile(batch[:, j], len(combos)) for j in range(3))
        a, b, g, d = grid.T
        ll, *grads = loglik_and_grad(*np.log(grid.T), x, t_x, n)
        assert np.all(np.isfinite(ll)) and np.all(ll <= 1e-9)
        assert all(np.all(np.isfinite(gr)) for gr in grads)
        params = {"alpha": a, "beta": b, "gamma": g, "delta": d}
        np_ll = bgbb.log_likelihood(a, b, g, d, frequency=x, recency=t_x, n=n)
        assert np.all(np.isfinite(np_ll))
        alive = bgbb.probability_alive(x, t_x, n, **params)
        assert np.all(np.isfinite(alive)) and np.all((alive >= 0) & (alive <= 1))
        n_star = np.where(np.arange(len(x)) % 2 == 0, 1.0, 10_000.0)
        cond = bgbb.conditional_expected_transactions(n_star, x, t_x, n, **params)
        # ≤ n* up to the ~1e-7 relative error of the closed form at n = 10,000, γ = 1e-4
        assert np.all(np.isfinite(cond)) and np.all((cond >= 0) & (cond <= n_star * (1 + 1e-6)))
        new = bgbb.expected_transactions(n_star, **params)
        assert np.all(np.isfinite(new)) and np.all(new >= 0)
        value = bgbb.dert(x, t_x, n, **params, discount=0.1)
        assert np.all(np.isfinite(value)) and np.all((value >= 0) & (value <= 10.0 + 1e-6))


@pytest.mark.lifetimes
def test_bgbb_agrees_with_lifetimes(donations, donations_fit):
    from lifetimes import BetaGeoBetaBinomFitter

    data, counts = donations
    params = donations_fit.params
    theta = tuple(params[k] for k in PARAMS)
    x, t_x, n = data["frequency"], data["recency"], data["n"]
    ours = bgbb.log_likelihood(**params, **data)
    theirs = BetaGeoBetaBinomFitter._loglikelihood(theta, x, t_x, n)
    # lifetimes adds 1e-15 inside the log of the sum term: negligible on these rows
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)

    fitter = BetaGeoBetaBinomFitter(penalizer_coef=0.0)
    fitter.fit(x, t_x, n, weights=counts)
    for k in PARAMS:
        assert params[k] == pytest.approx(fitter.params_[k], rel=1e-3)
    fitter.params_[:] = theta  # predictions at identical parameters
    np.testing.assert_allclose(
        bgbb.conditional_expected_transactions(5, x, t_x, n, **params),
        fitter.conditional_expected_number_of_purchases_up_to_time(5, x, t_x, n),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        bgbb.probability_alive(x, t_x, n, **params),
        fitter.conditional_probability_alive(1, x, t_x, n),
        rtol=1e-6,
    )


def test_log_likelihood_given_pandas_series_equals_arrays():
    """Expected: the same rows as NumPy arrays (a Series' index must not broadcast
    against the sum's grid of opportunities)."""
    import pandas as pd

    rows = pd.DataFrame({"frequency": [0.0, 1, 2, 6], "recency": [0.0, 3, 5, 6], "n": 6.0})
    as_series = bgbb.log_likelihood(**FHS2010_PARAMS, **{c: rows[c] for c in rows})
    as_arrays = bgbb.log_likelihood(**FHS2010_PARAMS, **{c: rows[c].to_numpy() for c in rows})
    np.testing.assert_array_equal(np.asarray(as_series), as_arrays)
