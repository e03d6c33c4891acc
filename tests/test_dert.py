"""Discounted expected residual transactions (DERT) against brute-force discounted sums.

Expected values: Stieltjes sums ``Σ e^(−δ t_mid) [E(t_k) − E(t_{k−1})]`` on a fine grid of
each model's own conditional expectation, the closed forms where the literature has
them (Pareto/NBD: Fader, Hardie & Lee 2005, "RFM and CLV", eq. 2; BG/BB: Fader, Hardie &
Shang 2010, eq. 14), and for the BG/NBD an independent double integral of the posterior
mean of ``λ / (δ + pλ)`` (the discounted number of purchases of an active customer with
purchase rate λ and dropout probability p: ``Σ_k (1−p)^(k−1) (λ/(λ+δ))^k``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from clvmodels.models import bgbb, bgnbd, discount, mbgnbd, paretonbd

HISTORIES = [(0, 0.0, 38.86), (2, 30.43, 38.86), (7, 35.0, 39.0), (1, 2.0, 32.0), (30, 38.0, 38.5)]
BGNBD = {"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4259}  # FHL 2005, CDNOW
PARETO = {"r": 0.5533, "alpha": 10.5776, "s": 0.6061, "beta": 11.6650}  # FHL 2005, CDNOW
DELTA = discount.continuous_rate(0.15, "W")


def test_discount_rates_convert_a_yearly_rate_exactly():
    per_week = discount.continuous_rate(0.10, "W")
    assert math.exp(-per_week * 365.25 / 7) == pytest.approx(1 / 1.10, rel=1e-12)
    assert (1 + discount.period_rate(0.10, "M")) ** 12 == pytest.approx(1.10, rel=1e-12)
    assert discount.period_rate(0.10, "Y") == pytest.approx(0.10, rel=1e-12)


def _stieltjes(conditional, horizon: float, steps: int) -> float:
    """Σ e^(−δ t_mid) ΔE on a grid fine near 0 and coarse far out (t = H·u²)."""
    u = np.linspace(0.0, 1.0, steps + 1)
    t = horizon * u**2
    e = conditional(t[1:])
    increments = np.diff(np.concatenate(([0.0], e)))
    mid = (t[1:] + t[:-1]) / 2
    return float(np.sum(np.exp(-DELTA * mid) * increments))


@pytest.mark.parametrize("module", [bgnbd, mbgnbd], ids=["bgnbd", "mbgnbd"])
@pytest.mark.parametrize("history", HISTORIES)
@pytest.mark.parametrize("horizon", [52.0, 520.0])
def test_bgnbd_family_dert_equals_brute_force_discounted_sum(module, history, horizon):
    x, t_x, T = history
    got = module.discounted_expected_residual_transactions(
        x, t_x, T, **BGNBD, delta=DELTA, horizon=horizon
    )
    brute = _stieltjes(
        lambda t: module.conditional_expected_purchases(t, x, t_x, T, **BGNBD), horizon, 40_000
    )
    assert float(got) == pytest.approx(brute, rel=1e-6)


@pytest.mark.parametrize("history", HISTORIES[:3])
def test_bgnbd_lifetime_dert_equals_posterior_integral_of_discounted_count(history):
    x, t_x, T = history
    r, alpha, a, b = BGNBD.values()
    shape, rate = r + x, alpha + T

    log_norm = shape * math.log(rate) - math.lgamma(shape)
    upper = stats.gamma(shape, scale=1 / rate).ppf(1 - 1e-15)

    def given_p(p: float) -> float:
        # E_λ[λ / (δ + pλ)] for λ ~ Gamma(r+x, α+T)
        value, _ = integrate.quad(
            lambda lam: (
                lam
                / (DELTA + p * lam)
                * math.exp(log_norm + (shape - 1) * math.log(lam) - rate * lam)
            ),
            0,
            upper,
            epsabs=0,
            epsrel=1e-11,
            limit=400,
        )
        return value

    log_beta = special.betaln(a, b + x)
    reference, _ = integrate.quad(
        lambda p: (
            given_p(p) * math.exp((a - 1) * math.log(p) + (b + x - 1) * math.log1p(-p) - log_beta)
        ),
        0,
        1,
        epsabs=0,
        epsrel=1e-10,
        limit=400,
        points=[1e-6, 1e-3, 0.1],
    )
    alive = bgnbd.probability_alive(x, t_x, T, **BGNBD)
    got = bgnbd.discounted_expected_residual_transactions(x, t_x, T, **BGNBD, delta=DELTA)
    assert float(got) == pytest.approx(float(alive) * reference, rel=1e-6)


@pytest.mark.parametrize("history", HISTORIES)
def test_paretonbd_finite_horizon_dert_equals_brute_force_and_tends_to_closed_form(history):
    x, t_x, T = history
    finite = paretonbd.discounted_expected_residual_transactions(
        x, t_x, T, **PARETO, delta=DELTA, horizon=104.0
    )
    brute = _stieltjes(
        lambda t: paretonbd.conditional_expected_purchases(t, x, t_x, T, **PARETO), 104.0, 40_000
    )
    assert float(finite) == pytest.approx(brute, rel=1e-6)
    lifetime = paretonbd.discounted_expected_residual_transactions(x, t_x, T, **PARETO, delta=DELTA)
    very_long = paretonbd.discounted_expected_residual_transactions(
        x, t_x, T, **PARETO, delta=DELTA, horizon=1e9
    )
    assert float(very_long) == pytest.approx(float(lifetime), rel=1e-6)


def test_bgbb_finite_horizon_dert_sums_discounted_increments_fader_hardie_shang_2010():
    params = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}  # FHS 2010
    x, t_x, n = np.array([0.0, 3.0, 6.0]), np.array([0.0, 4.0, 6.0]), np.array([6.0, 6.0, 6.0])
    d = 0.1
    lifetime = bgbb.dert(x, t_x, n, **params, discount=d)
    np.testing.assert_allclose(
        bgbb.dert(x, t_x, n, **params, discount=d, horizon=3000), lifetime, rtol=1e-9
    )
    e1 = bgbb.conditional_expected_transactions(1, x, t_x, n, **params)
    e2 = bgbb.conditional_expected_transactions(2, x, t_x, n, **params)
    np.testing.assert_allclose(
        bgbb.dert(x, t_x, n, **params, discount=d, horizon=2),
        e1 / (1 + d) + (e2 - e1) / (1 + d) ** 2,
        rtol=1e-12,
    )


def test_discounted_purchases_of_a_poisson_stream_is_rate_over_delta():
    """E(t) = λt (never drops out): ∫_0^H e^(−δt) λ dt = λ(1 − e^(−δH))/δ."""
    lam = np.array([0.5, 2.0])
    for horizon in (10.0, 500.0, math.inf):
        got = discount.discounted_purchases(
            lambda t: lam[:, None] * t, np.array([1.0, 30.0]), 0.01, horizon
        )
        expected = lam * -special.expm1(-0.01 * horizon) / 0.01
        np.testing.assert_allclose(got, expected, rtol=1e-9)
    with pytest.raises(ValueError, match="infinite horizon"):
        discount.discounted_purchases(lambda t: t, np.ones(1), 0.0)


@pytest.mark.parametrize("horizon", [13.0, 52.0, 260.0, 2000.0, math.inf])
def test_discounted_purchases_node_rule_matches_a_200_node_rule(monkeypatch, horizon):
    """The node count grows with the range of log time and with δ·t_end; on random
    BG/NBD inputs (weekly data, 10 % a year) the rule agrees with a 200-node rule to
    1e-10."""
    rng = np.random.default_rng(7)
    n = 2000
    x = rng.integers(0, 60, n).astype(float)
    T = rng.uniform(1.0, 80.0, n)
    params = {
        "r": np.exp(rng.uniform(-2, 2, n)),
        "alpha": np.exp(rng.uniform(-1, 4, n)),
        "a": np.exp(rng.uniform(-2, 1.5, n)),
        "b": np.exp(rng.uniform(-1, 3, n)),
    }
    delta = discount.continuous_rate(0.10, "W")
    got = bgnbd.discounted_active_purchases(x, T, **params, delta=delta, horizon=horizon)
    monkeypatch.setattr(discount, "quadrature_nodes", lambda span, spread, discounting: 200)
    reference = bgnbd.discounted_active_purchases(x, T, **params, delta=delta, horizon=horizon)
    np.testing.assert_allclose(got, reference, rtol=1e-10)


def test_discounted_purchases_undiscounted_is_the_expectation_at_the_horizon():
    """δ = 0 over a finite horizon: D(H) = E(H), no quadrature."""
    got = discount.discounted_purchases(lambda t: 3.0 * t, np.array([1.0, 5.0]), 0.0, 10.0)
    np.testing.assert_array_equal(got, [30.0, 30.0])
