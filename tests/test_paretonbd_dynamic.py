"""Pareto/NBD and BG/NBD with time-varying covariates (Bachmann, Meierer & Näf 2021):
the reductions to the plain models (Fader & Hardie 2005 note; FHL 2005) and to the
static-covariate models (Fader & Hardie 2007, note 019), a brute-force integration of
the individual likelihood over the rates, and predictions."""

from __future__ import annotations

import numpy as np
import pytest
from dynamic_panels import panel
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from clvmodels.models import bgnbd, bgnbd_dynamic, paretonbd
from clvmodels.models import paretonbd_dynamic as dyn

PARETO = {"r": 0.55, "alpha": 10.5, "s": 0.6, "beta": 12.0}
BG = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.43}
P = 20


@pytest.fixture(scope="module")
def customers() -> dict[str, np.ndarray]:
    """60 customers born mid-period, observed to the end of period 20, with purchases
    spread over their lifetimes (calendar periods of one unit)."""
    rng = np.random.default_rng(7)
    n = 60
    birth = rng.uniform(0.0, P - 0.5, n)
    x = rng.integers(0, 12, n)
    x[:15] = 0
    customer = np.repeat(np.arange(n), x)
    time = rng.uniform(size=customer.size) * (P - birth[customer])
    data = panel(birth, float(P), customer, time, P)
    data["season"] = rng.normal(size=(1, P))
    data["member"] = np.repeat(rng.integers(0, 2, n).astype(float)[:, None], P, axis=1)
    return data


def _matrices(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: data[k] for k in ("frequency", "exposure", "before", "counts")}


def _future(n_future: int = 10) -> np.ndarray:
    return np.ones(n_future)


def test_zero_coefficients_equal_pareto_nbd_fader_hardie_2005(customers):
    plain = paretonbd.log_likelihood(
        **PARETO, frequency=customers["frequency"], recency=customers["recency"], T=customers["T"]
    )
    none = dyn.log_likelihood(**PARETO, **_matrices(customers))
    zero = dyn.log_likelihood(
        **PARETO,
        gamma=[0.0],
        delta=[0.0],
        purchase=[customers["season"]],
        dropout=[customers["season"]],
        **_matrices(customers),
    )
    np.testing.assert_allclose(none, plain, rtol=1e-12, atol=0)
    np.testing.assert_allclose(zero, plain, rtol=1e-12, atol=0)


def test_zero_coefficient_predictions_equal_pareto_nbd(customers):
    history = {k: customers[k] for k in ("frequency", "recency", "T")}
    out = dyn.predict(
        **_matrices(customers),
        params=PARETO,
        gamma=[0.0],
        purchase=[customers["season"]],
        future_lengths=_future(),
        future_purchase=[np.ones((1, 10))],
        discount_rate=0.01,
    )
    np.testing.assert_allclose(
        out["p_alive"], paretonbd.probability_alive(**history, **PARETO), rtol=1e-11
    )
    np.testing.assert_allclose(
        out["expected"],
        paretonbd.conditional_expected_purchases(10.0, **history, **PARETO),
        rtol=1e-11,
    )
    dert = paretonbd.discounted_expected_residual_transactions(
        **history, **PARETO, delta=0.01, horizon=10.0
    )
    np.testing.assert_allclose(out["dect"], dert, rtol=1e-9)


def test_predictions_stay_finite_far_along_the_dropout_ridge(customers):
    """``s, β → ∞`` with ``s/β`` fixed is one exponential lifetime (the ridge NUTS walks,
    :mod:`clvmodels.backends.coordinates`): ``C^s`` alone overflows at ``s = 800``."""

    def expected(s: float) -> np.ndarray:
        params = {**PARETO, "s": s, "beta": s / PARETO["s"] * PARETO["beta"]}
        out = dyn.predict(
            **_matrices(customers),
            params=params,
            gamma=[0.3],
            purchase=[customers["season"]],
            future_lengths=_future(),
            future_purchase=[np.ones((1, 10))],
        )
        assert all(np.isfinite(v).all() for v in out.values())
        return out["expected"]

    np.testing.assert_allclose(expected(800.0), expected(8000.0), rtol=2e-3)


def test_constant_covariates_equal_static_model_note_019(customers):
    gamma, delta = 0.4, -0.3
    member = customers["member"]
    z = member[:, 0]
    static = {
        "r": PARETO["r"],
        "alpha": PARETO["alpha"] * np.exp(-gamma * z),
        "s": PARETO["s"],
        "beta": PARETO["beta"] * np.exp(-delta * z),
    }
    history = {k: customers[k] for k in ("frequency", "recency", "T")}
    expected = paretonbd.log_likelihood(**static, **history)
    got = dyn.log_likelihood(
        **PARETO,
        gamma=[gamma],
        delta=[delta],
        purchase=[member],
        dropout=[member],
        **_matrices(customers),
    )
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    out = dyn.predict(
        **_matrices(customers),
        params=PARETO,
        gamma=[gamma],
        delta=[delta],
        purchase=[member],
        dropout=[member],
        future_lengths=_future(),
        future_purchase=[member[:, :10]],
        future_dropout=[member[:, :10]],
    )
    np.testing.assert_allclose(
        out["p_alive"], paretonbd.probability_alive(**history, **static), rtol=1e-11
    )
    np.testing.assert_allclose(
        out["expected"],
        paretonbd.conditional_expected_purchases(10.0, **history, **static),
        rtol=1e-11,
    )


def _brute_force_pareto(
    i: int, data: dict[str, np.ndarray], times: np.ndarray, b: np.ndarray, d: np.ndarray
) -> float:
    """The individual likelihood integrated over λ ~ Gamma(r, α), μ ~ Gamma(s, β) by
    adaptive quadrature, with the τ-integral in closed form per period piece."""
    exposure, before = data["exposure"][i], data["before"][i]
    after = exposure - before
    b_t, d_t = (b * exposure).sum(), (d * exposure).sum()
    b0 = (b * before).sum() + np.cumsum(b * after) - b * after
    d0 = (d * before).sum() + np.cumsum(d * after) - d * after
    jac = np.prod(b[times])
    x = len(times)

    def conditional(lam: float, mu: float) -> float:
        k = lam * b + mu * d
        pieces = mu * d * np.exp(-lam * b0 - mu * d0) * -np.expm1(-k * after) / k
        return lam**x * jac * (np.exp(-lam * b_t - mu * d_t) + pieces.sum())

    r, alpha, s, beta = PARETO.values()

    def density(mu: float, lam: float) -> float:
        g_l = np.exp(r * np.log(alpha) + (r - 1) * np.log(lam) - alpha * lam - special.gammaln(r))
        g_m = np.exp(s * np.log(beta) + (s - 1) * np.log(mu) - beta * mu - special.gammaln(s))
        return conditional(lam, mu) * g_l * g_m

    value, _ = integrate.dblquad(density, 0, 5.0, 0, 5.0, epsabs=0, epsrel=1e-9)
    return float(value)


def test_likelihood_equals_brute_force_integration_over_the_rates(customers):
    b = np.exp(0.5 * customers["season"][0])
    d = np.exp(-0.4 * customers["season"][0])
    for i in (0, 33):
        periods = np.repeat(np.arange(P), customers["counts"][i].astype(int))
        got = dyn.log_likelihood(
            **PARETO,
            gamma=[0.5],
            delta=[-0.4],
            purchase=[customers["season"]],
            dropout=[customers["season"]],
            **{k: v[i : i + 1] for k, v in _matrices(customers).items()},
        )[0]
        brute = _brute_force_pareto(i, customers, periods, b, d)
        assert got == pytest.approx(np.log(brute), abs=1e-7), i


def test_bgnbd_zero_coefficients_equal_bgnbd_fhl_2005(customers):
    history = {k: customers[k] for k in ("frequency", "recency", "T")}
    got = bgnbd_dynamic.log_likelihood(
        **BG, gamma=[0.0], purchase=[customers["season"]], **_matrices(customers)
    )
    np.testing.assert_allclose(got, bgnbd.log_likelihood(**BG, **history), rtol=1e-13)
    out = bgnbd_dynamic.predict(
        **_matrices(customers), params=BG, future_lengths=_future(), discount_rate=0.02
    )
    np.testing.assert_allclose(out["p_alive"], bgnbd.probability_alive(**history, **BG))
    np.testing.assert_allclose(
        out["expected"], bgnbd.conditional_expected_purchases(10.0, **history, **BG), rtol=1e-12
    )
    dert = bgnbd.discounted_expected_residual_transactions(
        **history, **BG, delta=0.02, horizon=10.0
    )
    np.testing.assert_allclose(out["dect"], dert, rtol=1e-8)


def _brute_force_bgnbd(i: int, data: dict[str, np.ndarray], b: np.ndarray) -> float:
    """The BG/NBD individual likelihood in operational time (FHL 2005 eq. 3) times the
    Jacobian, integrated over λ ~ Gamma(r, α), p ~ Beta(a, b) by adaptive quadrature."""
    r, alpha, a, bb = BG.values()
    periods = np.repeat(np.arange(P), data["counts"][i].astype(int))
    x = len(periods)
    b_t, b_x = (b * data["exposure"][i]).sum(), (b * data["before"][i]).sum()
    jac = np.prod(b[periods])

    def density(p: float, lam: float) -> float:
        alive = (1 - p) ** x * np.exp(-lam * b_t)
        dead = p * (1 - p) ** (x - 1) * np.exp(-lam * b_x) if x > 0 else 0.0
        g_l = np.exp(r * np.log(alpha) + (r - 1) * np.log(lam) - alpha * lam - special.gammaln(r))
        g_p = p ** (a - 1) * (1 - p) ** (bb - 1) / special.beta(a, bb)
        return lam**x * jac * (alive + dead) * g_l * g_p

    value, _ = integrate.dblquad(density, 0, 6.0, 0, 1.0, epsabs=0, epsrel=1e-9)
    return float(value)


def test_bgnbd_likelihood_equals_brute_force_integration(customers):
    gamma = 0.5
    b = np.exp(gamma * customers["season"][0])
    for i in (0, 33):
        got = bgnbd_dynamic.log_likelihood(
            **BG,
            gamma=[gamma],
            purchase=[customers["season"]],
            **{k: v[i : i + 1] for k, v in _matrices(customers).items()},
        )[0]
        assert got == pytest.approx(np.log(_brute_force_bgnbd(i, customers, b)), abs=1e-6), i


def test_bgnbd_refuses_time_varying_dropout(customers):
    with pytest.raises(ValueError, match="purchase process only"):
        bgnbd_dynamic.log_likelihood(
            **BG, delta=[0.1], dropout=[customers["season"]], **_matrices(customers)
        )


@settings(max_examples=25, deadline=None)
@given(
    gamma=st.floats(-1.5, 1.5),
    delta=st.floats(-1.5, 1.5),
    horizon=st.integers(1, 12),
    rate=st.floats(0.0, 0.2),
)
def test_predictions_are_probabilities_and_grow_with_the_horizon(
    customers, gamma, delta, horizon, rate
):
    common = {
        **_matrices(customers),
        "params": PARETO,
        "gamma": [gamma],
        "delta": [delta],
        "purchase": [customers["season"]],
        "dropout": [customers["season"]],
        "discount_rate": rate,
    }
    future = np.cos(np.arange(13.0))[None, :]
    short = dyn.predict(
        **common,
        future_lengths=np.ones(horizon),
        future_purchase=[future[:, :horizon]],
        future_dropout=[future[:, :horizon]],
    )
    long = dyn.predict(
        **common,
        future_lengths=np.ones(horizon + 1),
        future_purchase=[future[:, : horizon + 1]],
        future_dropout=[future[:, : horizon + 1]],
    )
    assert np.all((short["p_alive"] >= 0) & (short["p_alive"] <= 1))
    assert np.all(long["expected"] >= short["expected"])
    assert np.all(short["dect"] <= short["expected"] * (1 + 1e-12))


def test_simulation_matches_expected_purchases_of_a_new_customer():
    rng = np.random.default_rng(11)
    n, periods = 40_000, 30
    customer, _, _ = dyn.simulate(
        n, **PARETO, purchase_rate=np.ones(periods), dropout_rate=np.ones(periods), rng=rng
    )
    mean = customer.size / n
    expected = float(paretonbd.expected_purchases(30.0, **PARETO))
    assert mean == pytest.approx(expected, rel=0.03)
