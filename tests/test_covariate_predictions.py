"""Predictions, values and counterfactuals of models with covariates.

Expected values: the models' own functions evaluated customer by customer with each
customer's parameters ``θ_i = θ₀ exp(±γ′z_i)`` (Fader & Hardie 2007, note 019: a
customer's predictions are the plain model's with her own parameters), and the plain
model itself where every covariate is at its reference level.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from clvmodels.clv import ValueSettings, binary_covariates, covariate_lift, customer_values
from clvmodels.errors import DataError, FitError
from clvmodels.estimators import BGNBD, SBG, GammaGamma, ParetoNBD
from clvmodels.models import bgnbd, gamma_gamma, sbg
from clvmodels.models.links import linked_params
from clvmodels.results import FitResult

TRUTH = {"alpha": 0.5, "a": -0.4, "b": 0.3, "gamma": -0.1}


def _customers(n: int = 1500, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for member in (0, 1):
        T = rng.integers(27, 40, n).astype(float)
        d = bgnbd.simulate(
            n,
            r=0.25,
            alpha=4.0 * math.exp(-TRUTH["alpha"] * member),
            a=0.8 * math.exp(TRUTH["a"] * member),
            b=2.5 * math.exp(TRUTH["b"] * member),
            T=T,
            rng=rng,
        )
        g = gamma_gamma.simulate(
            n,
            p=6.0,
            q=4.0,
            gamma=15.0 * math.exp(TRUTH["gamma"] * member),
            frequency=d["frequency"],
            rng=rng,
        )
        frame = pd.DataFrame({k: d[k] for k in ("frequency", "recency", "T")})
        frame["monetary_value"] = g["monetary_value"]
        frame["member"] = bool(member)
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    data["channel"] = rng.choice(["app", "store", "web"], len(data))
    data["customer_id"] = np.arange(len(data)) + 100
    return data


@pytest.fixture(scope="module")
def fitted():
    data = _customers()
    purchase = BGNBD(covariates={"purchase": ["member", "channel"], "dropout": ["member"]})
    spend = GammaGamma(covariates={"spend": ["member"]})
    return data, purchase.fit(data), spend.fit(data)


def _own(model, data: pd.DataFrame, row: int) -> dict[str, float]:
    """Customer ``row``'s parameters computed by hand from the coefficients."""
    params = dict(model.params_)
    member = float(data["member"].iloc[row])
    channel = data["channel"].iloc[row]
    z = {
        "member": member,
        "channel[store]": float(channel == "store"),
        "channel[web]": float(channel == "web"),
    }
    out = {}
    for name in model.module.SPEC.param_names:
        shift = sum(params[k] * z[k.split(":", 1)[1]] for k in params if k.startswith(name + ":"))
        sign = {"alpha": -1.0}.get(name, 1.0)
        out[name] = params[name] * math.exp(sign * shift)
    return out


def test_predictions_equal_the_plain_model_with_each_customers_own_parameters(fitted):
    data, purchase, spend = fitted
    rows = [0, 1, 7, 1600, 2999]
    settings = ValueSettings(horizon=52.0, interval=None, time_unit="W")
    values = customer_values(purchase, data, settings, spend=spend)
    for row in rows:
        own = _own(purchase, data, row)
        x, tx, T = (float(data[c].iloc[row]) for c in ("frequency", "recency", "T"))
        alive = bgnbd.probability_alive(x, tx, T, **own)
        dert = bgnbd.discounted_expected_residual_transactions(
            x, tx, T, **own, delta=settings.delta, horizon=52.0
        )
        m = float(data["monetary_value"].iloc[row])
        per_order = gamma_gamma.conditional_expected_average_order_value(
            x if m > 0 else 0.0, m, **_own(spend, data, row)
        )
        assert values["p_alive"].iloc[row] == pytest.approx(float(alive), rel=1e-12)
        assert values["dert"].iloc[row] == pytest.approx(float(dert), rel=1e-9)
        assert values["clv"].iloc[row] == pytest.approx(float(per_order * dert), rel=1e-9)
    p_alive = purchase.predict_p_alive(data.iloc[rows])
    np.testing.assert_allclose(p_alive, values["p_alive"].iloc[rows], rtol=1e-12)


def test_intervals_with_covariates_equal_draw_by_draw_evaluation(fitted, monkeypatch):
    from clvmodels import clv

    data, purchase, spend = fitted
    sample = data.iloc[::97].reset_index(drop=True)
    monkeypatch.setattr(clv.draws, "CELLS_PER_CHUNK", 200)
    monkeypatch.setattr(clv.arrays, "PAIR_CELLS", 64)
    settings = ValueSettings(horizon=52.0, interval=0.8, draws=40, seed=5, threads=2, time_unit="W")
    values = customer_values(purchase, sample, settings, spend=spend)
    rng = np.random.default_rng(5)
    draws = purchase.result_.parameter_draws(40, rng)
    spend_draws = spend.result_.parameter_draws(40, rng)
    design = {
        "member": sample["member"].to_numpy(float),
        "channel[store]": (sample["channel"] == "store").to_numpy(float),
        "channel[web]": (sample["channel"] == "web").to_numpy(float),
    }
    by_draw = []
    for j in range(40):
        own = linked_params(bgnbd.SPEC, {k: v[j] for k, v in draws.items()}, design)
        own_spend = linked_params(
            gamma_gamma.SPEC, {k: v[j] for k, v in spend_draws.items()}, design
        )
        x, tx, T = (sample[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        dert = bgnbd.discounted_expected_residual_transactions(
            x, tx, T, **own, delta=settings.delta, horizon=52.0
        )
        m = sample["monetary_value"].to_numpy(float)
        usable = (x > 0) & (m > 0)
        per_order = gamma_gamma.conditional_expected_average_order_value(
            np.where(usable, x, 0.0), np.where(usable, m, 0.0), **own_spend
        )
        by_draw.append(per_order * dert)
    by_draw = np.array(by_draw)
    np.testing.assert_allclose(values["clv_lower"], np.quantile(by_draw, 0.1, axis=0), rtol=1e-9)
    np.testing.assert_allclose(values["clv_upper"], np.quantile(by_draw, 0.9, axis=0), rtol=1e-9)


def test_reference_customers_get_exactly_the_plain_models_predictions(fitted):
    data, purchase, _ = fitted
    plain = FitResult(
        model="bgnbd",
        backend="mle",
        param_names=bgnbd.SPEC.param_names,
        params={k: purchase.params_[k] for k in bgnbd.SPEC.param_names},
        log_likelihood=0.0,
        n_obs=1.0,
        n_unique=1,
    )
    reference = data[(~data["member"]) & (data["channel"] == "app")]
    settings = ValueSettings(horizon=52.0, interval=None, time_unit="W")
    with_covariates = customer_values(purchase, reference, settings, fallback_spend=10.0)
    without = customer_values(BGNBD.from_result(plain), reference, settings, fallback_spend=10.0)
    pd.testing.assert_frame_equal(with_covariates, without, check_exact=True)
    assert purchase.expected_purchases(10.0) == BGNBD.from_result(plain).expected_purchases(10.0)


def test_profile_predictions_use_the_profiles_parameters(fitted):
    _, purchase, _ = fitted
    own = _own(purchase, pd.DataFrame({"member": [True], "channel": ["web"]}), 0)
    expected = bgnbd.expected_purchases(np.array([10.0]), **own)
    got = purchase.expected_purchases([10.0], profile={"member": True, "channel": "web"})
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_counterfactual_clv_equals_actual_clv_where_the_flag_already_has_that_value(fitted):
    data, purchase, spend = fitted
    settings = ValueSettings(horizon=52.0, interval=0.9, draws=50, time_unit="W")
    actual = customer_values(purchase, data, settings, spend=spend)
    per_customer, lift = covariate_lift(purchase, data, settings, "member", spend=spend)
    members = data["member"].to_numpy()
    np.testing.assert_allclose(
        per_customer["clv_member_on"][members], actual["clv"][members], rtol=1e-12
    )
    np.testing.assert_allclose(
        per_customer["clv_member_off"][~members], actual["clv"][~members], rtol=1e-12
    )
    difference = (per_customer["clv_member_on"] - per_customer["clv_member_off"]).mean()
    assert lift.loc["all", "lift"] == pytest.approx(difference, rel=1e-12)
    assert lift.loc["with", "customers"] == members.sum()
    assert lift.loc["all", "lift_lower"] < lift.loc["all", "lift"] < lift.loc["all", "lift_upper"]
    assert binary_covariates([purchase, spend], data) == ["member"]
    with pytest.raises(DataError, match="'channel' is not a binary covariate"):
        covariate_lift(purchase, data, settings, "channel", spend=spend)


def test_saved_model_with_covariates_predicts_like_the_fitted_one(fitted, tmp_path):
    data, purchase, _ = fitted
    purchase.save(tmp_path / "m.json")
    loaded = BGNBD.load(tmp_path / "m.json")
    pd.testing.assert_series_equal(loaded.predict_p_alive(data), purchase.predict_p_alive(data))
    with pytest.raises(DataError, match="level 'phone' of column 'channel' was not in the fitted"):
        loaded.predict_p_alive(data.head(3).assign(channel="phone"))
    with pytest.raises(DataError, match="no column 'member'"):
        loaded.predict_p_alive(data.drop(columns="member"))


def test_bad_covariate_choices_are_one_line_errors():
    data = _customers(200)
    with pytest.raises(FitError, match=r"covariates\.spend: the model has no such process"):
        BGNBD(covariates={"spend": ["member"]}).fit(data)
    with pytest.raises(DataError, match="no column 'age'"):
        BGNBD(covariates={"purchase": ["age"]}).fit(data)
    with pytest.raises(DataError, match="single value"):
        BGNBD(covariates={"purchase": ["member"]}).fit(data[data["member"]])
    with pytest.raises(FitError, match=r"covariates\.purchase: expected a list of columns"):
        BGNBD(covariates={"purchase": "member"}).fit(data)


def test_pareto_nbd_tracking_curve_sums_each_patterns_cohort_curve():
    data = _customers(300)
    model = ParetoNBD(covariates={"purchase": ["member"], "dropout": ["member"]}).fit(data)
    joins = np.linspace(0.0, 12.0, len(data))
    t = np.array([10.0, 30.0, 50.0])
    total = model.tracking_curve(t, joins, data=data)
    members = data["member"].to_numpy()
    parts = sum(
        model.tracking_curve(t, joins[mask], profile={"member": flag})
        for flag, mask in ((True, members), (False, ~members))
    )
    np.testing.assert_allclose(total, parts, rtol=1e-12)


def test_sbg_with_a_churn_covariate_recovers_a_simulated_effect():
    rng = np.random.default_rng(11)
    rows = []
    for plan, (alpha, beta) in (("monthly", (0.7, 1.4)), ("annual", (0.7 * math.e, 1.4))):
        sim = sbg.simulate(4000, alpha=alpha, beta=beta, n_periods=8, rng=rng)
        rows.append(
            pd.DataFrame({"tenure": sim["tenure"], "churned": sim["churned"], "plan": plan})
        )
    data = pd.concat(rows, ignore_index=True)
    model = SBG(covariates={"churn": ["plan"]}, reference={"plan": "monthly"}).fit(data)
    effect, se = model.params_["alpha:plan[annual]"], model.result_.std_err["alpha:plan[annual]"]
    assert abs(effect - 1.0) < 3 * se
    annual = model.survival([1, 4], profile={"plan": "annual"})
    monthly = model.survival([1, 4], profile={"plan": "monthly"})
    assert np.all(annual < monthly)  # more churn-prone: a larger alpha means a higher mean churn
