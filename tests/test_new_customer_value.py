"""The value of a customer acquired today (clvmodels.clv.new_customers) against
independent computations: the BG/NBD's E[X(t)] of Fader, Hardie & Lee 2005 eq. 7 and the
Pareto/NBD's of Schmittlein, Morrison & Colombo 1987, both integrated against e^(-δt) by
scipy's quadrature; the sBG's DEL of Fader & Hardie 2010 as the Gauss hypergeometric
function and as its series; the Gamma-Gamma mean of Fader, Hardie & Lee 2005b."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special

from clvmodels.clv import ValueSettings
from clvmodels.clv.new_customers import acquisition_advice, new_customer_value, new_subscriber_value
from clvmodels.errors import ConfigError
from clvmodels.estimators import ESTIMATORS
from clvmodels.results import FitResult

# CDNOW estimates (FHL 2005; SMC 1987 as fitted by FHL 2005 "RFM and CLV"; FHL 2005b)
BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PARETO = {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
SBG = {"alpha": 0.704, "beta": 1.182}  # Fader & Hardie 2007, the 'regular' cohort


def fitted(key: str, params: dict[str, float], unit: str = "W", cov: float | None = None):
    """Model ``key`` with ``params``, as if fitted (``cov``: a diagonal covariance of the
    log-parameters, for intervals)."""
    cov_log = None if cov is None else np.eye(len(params)) * cov
    result = FitResult(
        key, "mle", tuple(params), dict(params), -1.0, 100, 100, cov_log=cov_log, time_unit=unit
    )
    return ESTIMATORS[key].from_result(result)


def settings(**kw) -> ValueSettings:
    return ValueSettings(**{"horizon": 52.0, "interval": None, "time_unit": "W", **kw})


def discounted(expected, delta: float, horizon: float) -> float:
    """∫_0^H e^(−δt) dE[X(t)] = e^(−δH) E[X(H)] + δ ∫_0^H e^(−δt) E[X(t)] dt (parts)."""
    area = integrate.quad(lambda t: math.exp(-delta * t) * expected(t), 0, horizon, epsrel=1e-12)
    return math.exp(-delta * horizon) * expected(horizon) + delta * area[0]


def bgnbd_expected(t: float) -> float:
    """FHL 2005 eq. 7 with scipy's hyp2f1."""
    r, alpha, a, b = BGNBD.values()
    z = t / (alpha + t)
    return (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, z))
    )


def pareto_expected(t: float) -> float:
    """Schmittlein, Morrison & Colombo 1987: E[X(t)] = rβ/(α(s−1)) [1 − (β/(β+t))^(s−1)]."""
    r, alpha, s, beta = PARETO.values()
    return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))


@pytest.mark.parametrize(
    ("key", "params", "expected"),
    [("bgnbd", BGNBD, bgnbd_expected), ("paretonbd", PARETO, pareto_expected)],
)
@pytest.mark.parametrize("horizon", [52.0, 260.0])
def test_dert_of_a_newcomer_equals_quadrature_of_the_unconditional_expectation(
    key, params, expected, horizon
):
    value_settings = settings(horizon=horizon)
    value = new_customer_value(fitted(key, params), value_settings, fallback_spend=10.0)
    assert value.dert == pytest.approx(
        discounted(expected, value_settings.delta, horizon), rel=1e-7
    )
    assert value.expected_repeat_purchases == pytest.approx(expected(horizon), rel=1e-8)


def test_spend_is_the_gamma_gamma_population_mean_fhl_2005b():
    p, q, gamma = GAMMA_GAMMA.values()
    spend = fitted("gamma_gamma", GAMMA_GAMMA)
    value = new_customer_value(fitted("bgnbd", BGNBD), settings(), spend=spend)
    assert value.spend_per_order == pytest.approx(p * gamma / (q - 1), rel=1e-12)


def test_first_order_is_included_and_margin_scales_the_value():
    full = new_customer_value(fitted("bgnbd", BGNBD), settings(), fallback_spend=40.0)
    assert full.includes_first_order
    assert full.first_order == pytest.approx(40.0)
    assert full.clv == pytest.approx(40.0 * (1.0 + full.dert), rel=1e-12)
    third = new_customer_value(fitted("bgnbd", BGNBD), settings(margin=0.3), fallback_spend=40.0)
    assert third.clv == pytest.approx(0.3 * full.clv, rel=1e-12)
    assert third.first_order == pytest.approx(12.0)


def test_discounting_lowers_only_the_repeat_purchases():
    model = fitted("paretonbd", PARETO)
    plain = new_customer_value(model, settings(discount_rate=0.0), fallback_spend=1.0)
    steep = new_customer_value(model, settings(discount_rate=0.5), fallback_spend=1.0)
    assert steep.dert < plain.dert
    assert steep.first_order == plain.first_order
    assert plain.dert == pytest.approx(pareto_expected(52.0), rel=1e-7)  # no discount: E[X(H)]


def test_sbg_new_subscriber_against_fader_hardie_2010_del():
    alpha, beta = SBG.values()
    value_settings = settings(time_unit="Y", horizon=3.0, discount_rate=0.1, margin=0.5)
    value = new_subscriber_value(fitted("sbg", SBG, unit="Y"), value_settings, price=100.0)
    d = value_settings.period_discount
    closed = special.hyp2f1(1.0, beta, alpha + beta, 1.0 / (1.0 + d))  # DEL, first payment included
    t = np.arange(20_000)
    log_terms = special.betaln(alpha, beta + t) - special.betaln(alpha, beta) - t * np.log1p(d)
    series = np.exp(log_terms).sum()
    assert closed == pytest.approx(series, rel=1e-6)
    assert value.clv == pytest.approx(0.5 * 100.0 * closed, rel=1e-10)
    assert value.first_order == pytest.approx(50.0)
    survival = np.exp(special.betaln(alpha, beta + np.arange(1, 4)) - special.betaln(alpha, beta))
    assert value.expected_repeat_purchases == pytest.approx(survival.sum(), rel=1e-12)
    assert value.horizon is None  # DEL: the whole remaining lifetime, whatever the horizon


def test_the_time_unit_comes_from_the_model_and_a_mismatch_is_refused():
    """Issue 19: ValueSettings without a unit takes the model's (horizon one year of it);
    a weekly model valued in days is refused, as customer_values does."""
    model = fitted("bgnbd", BGNBD)
    default = new_customer_value(model, ValueSettings(interval=None), fallback_spend=30.0)
    year = new_customer_value(model, settings(horizon=365.25 / 7), fallback_spend=30.0)
    assert default.clv == pytest.approx(year.clv, rel=1e-12)
    with pytest.raises(ConfigError, match=r"time_unit: 'D', but the bgnbd model .* 'W'"):
        new_customer_value(model, settings(time_unit="D", horizon=365.0), fallback_spend=30.0)
    sbg = fitted("sbg", SBG, unit="Y")
    with pytest.raises(ConfigError, match=r"time_unit: 'W', but the sbg model .* 'Y'"):
        new_subscriber_value(sbg, settings())


def test_interval_brackets_the_value_and_shrinks_with_the_covariance():
    model = fitted("bgnbd", BGNBD, cov=1e-3)
    value = new_customer_value(model, settings(interval=0.9, draws=200), fallback_spend=30.0)
    assert value.clv_lower < value.clv < value.clv_upper
    tight = fitted("bgnbd", BGNBD, cov=1e-6)
    narrow = new_customer_value(tight, settings(interval=0.9, draws=200), fallback_spend=30.0)
    assert narrow.clv_upper - narrow.clv_lower < (value.clv_upper - value.clv_lower) / 10


def test_acquisition_advice_by_hand():
    advice = acquisition_advice(
        90.0, conversion_rate=0.02, marketing_spend=5000.0, new_customers=100
    )
    assert advice["max_acquisition_cost"] == pytest.approx(30.0)  # 90 / 3
    assert advice["max_cost_per_click"] == pytest.approx(0.6)  # 30 × 2 %
    assert advice["break_even_cost_per_click"] == pytest.approx(1.8)  # 90 × 2 %
    assert advice["cac"] == pytest.approx(50.0)
    assert advice["actual_ltv_to_cac"] == pytest.approx(1.8)
    plain = acquisition_advice(90.0, ltv_cac_ratio=4.5)
    assert plain["max_acquisition_cost"] == pytest.approx(20.0)
    assert plain["max_cost_per_click"] is None and plain["cac"] is None


def test_refusals_name_the_problem():
    with pytest.raises(ConfigError, match="not a purchase model"):
        new_customer_value(fitted("gamma_gamma", GAMMA_GAMMA), settings(), fallback_spend=1.0)
    with pytest.raises(ConfigError, match="spend model or an average order value"):
        new_customer_value(fitted("bgnbd", BGNBD), settings())
    with pytest.raises(ConfigError, match="ltv_cac_ratio"):
        acquisition_advice(10.0, ltv_cac_ratio=0.0)
