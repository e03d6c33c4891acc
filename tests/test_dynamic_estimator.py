"""Estimators with time-varying covariates on a simulated seasonal store: parameter
recovery (the simulation's true values inside the fit's intervals), predictions against
the simulated future, persistence, the effects table and the one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dynamic_panels import panel

from clvmodels import estimators
from clvmodels.data.dynamic import DynamicPanel
from clvmodels.errors import ConfigError, DataError, FitError
from clvmodels.models import paretonbd_dynamic

TRUTH = {"r": 1.0, "alpha": 6.0, "s": 0.8, "beta": 30.0}
EFFECTS = {"purchase:high_season": 0.7, "purchase:campaign": 1.1, "dropout:high_season": -0.6}
P, F, N = 78, 26, 1500
END = P - 3.0 / 7.0  # the calibration end: a Friday, 4 days into the last period
FIRST = np.datetime64("2023-01-02")


def _calendar() -> dict[str, np.ndarray]:
    week = np.arange(P + F)
    high = np.isin(week % 52, np.arange(44, 52)).astype(float)
    campaign = np.isin(week % 52, (10, 11)).astype(float)
    return {"high_season": high[None, :], "campaign": campaign[None, :]}


@pytest.fixture(scope="module")
def store() -> dict:
    """1,500 customers joining at the start of one of the first 26 weeks."""
    rng = np.random.default_rng(2024)
    birth = rng.integers(0, 26, N).astype(float)
    calendar = _calendar()
    idx = (birth[:, None] + np.arange(P + F)[None, :]).astype(int)
    high = np.concatenate([calendar["high_season"][0], np.zeros(P + F)])
    camp = np.concatenate([calendar["campaign"][0], np.zeros(P + F)])
    b = np.exp(0.7 * high[idx] + 1.1 * camp[idx])
    d = np.exp(-0.6 * high[idx])
    customer, time, _ = paretonbd_dynamic.simulate(
        N, **TRUTH, purchase_rate=b, dropout_rate=d, rng=rng
    )
    data = panel(birth, END, customer, time, P)
    ids = np.array([f"C{i:05d}" for i in range(N)])
    future = (time > END - birth[customer]) & (time <= END + F - birth[customer])
    dynamic = DynamicPanel(
        customer_ids=ids,
        time_unit="W",
        period_starts=FIRST + 7 * np.arange(P + F).astype("timedelta64[D]"),
        n_calibration=P,
        calibration_end=FIRST + np.timedelta64(7 * (P - 1) + 4, "D"),
        exposure=data["exposure"],
        before=data["before"],
        counts=data["counts"],
        values=calendar,
    )
    summary = pd.DataFrame(
        {"customer_id": ids, **{k: data[k] for k in ("frequency", "recency", "T")}}
    )
    return {"panel": dynamic, "summary": summary, "future": np.bincount(customer[future],
                                                                        minlength=N)}


@pytest.fixture(scope="module")
def fitted(store) -> estimators.ParetoNBD:
    model = estimators.ParetoNBD(
        dynamic_covariates={"purchase": ["high_season", "campaign"], "dropout": ["high_season"]}
    )
    return model.fit(store["summary"], time_unit="W", dynamic=store["panel"])


def test_fit_recovers_the_simulated_effects_within_three_standard_errors(fitted):
    estimate, error = fitted.params_, fitted.result_.std_err
    for name, true in {**TRUTH, **EFFECTS}.items():
        if name in TRUTH:  # intervals of the positive parameters are on the log scale
            assert abs(np.log(estimate[name] / true)) < 3 * error[name] / estimate[name], name
        else:
            assert abs(estimate[name] - true) < 3 * error[name], name
    assert fitted.result_.dynamic_covariates == {
        "purchase": ["high_season", "campaign"], "dropout": ["high_season"]
    }


def test_predictions_match_the_simulated_future(fitted, store):
    out = fitted.predict_dynamic(store["summary"], float(F), dynamic=store["panel"],
                                 discount_rate=0.10)
    assert list(out.columns) == ["p_alive", "expected_purchases", "dect"]
    assert out["p_alive"].between(0, 1).all()
    assert (out["dect"] <= out["expected_purchases"]).all()
    assert out["expected_purchases"].sum() == pytest.approx(store["future"].sum(), rel=0.1)
    same = fitted.predict_purchases(store["summary"], float(F), dynamic=store["panel"])
    np.testing.assert_allclose(same, out["expected_purchases"])


def test_saved_model_predicts_the_same(fitted, store, tmp_path):
    fitted.save(tmp_path / "model.json")
    loaded = estimators.ParetoNBD.load(tmp_path / "model.json")
    assert loaded.is_dynamic
    a = fitted.predict_p_alive(store["summary"], dynamic=store["panel"])
    b = loaded.predict_p_alive(store["summary"], dynamic=store["panel"])
    np.testing.assert_array_equal(a, b)


def test_effects_table_states_the_factor_on_each_rate(fitted):
    table = fitted.covariate_effects()
    row = table.loc["purchase:high_season"]
    assert row["parameter"] == "purchase rate"
    assert row["factor"] == pytest.approx(np.exp(row["estimate"]))
    assert row["mean_factor_lower"] < row["mean_factor"] < row["mean_factor_upper"]
    assert table.loc["dropout:high_season", "process"] == "dropout"


def test_discount_rate_is_yearly_as_in_the_config(fitted, store):
    """0.10 a year is log(1.1)·7/365.25 per week, continuously (models.discount)."""
    from clvmodels.estimators.dynamic import predict_dynamic

    out = fitted.predict_dynamic(store["summary"], 20.0, dynamic=store["panel"],
                                 discount_rate=0.10)
    delta = np.log(1.1) * 7 / 365.25
    low = predict_dynamic(fitted.result_, store["summary"], store["panel"], 20.0, delta)
    np.testing.assert_allclose(out["dect"], low["dect"])


def test_bgnbd_takes_time_varying_purchase_covariates(store):
    model = estimators.BGNBD(dynamic_covariates={"purchase": ["high_season", "campaign"]})
    model.fit(store["summary"], dynamic=store["panel"])
    assert model.params_["purchase:campaign"] > 0.5
    with pytest.raises(ConfigError, match="purchase only"):
        estimators.BGNBD(dynamic_covariates={"dropout": ["high_season"]}).fit(
            store["summary"], dynamic=store["panel"]
        )


def test_one_line_errors(fitted, store):
    summary, dynamic = store["summary"], store["panel"]
    with pytest.raises(FitError, match="pass the panel"):
        estimators.ParetoNBD(dynamic_covariates={"purchase": ["campaign"]}).fit(summary)
    with pytest.raises(DataError, match="no covariate 'holiday'"):
        estimators.ParetoNBD(dynamic_covariates={"purchase": ["holiday"]}).fit(
            summary, dynamic=dynamic
        )
    shifted = summary.assign(T=summary["T"] + 1.0)
    with pytest.raises(DataError, match=r"customer C00000: .* give T"):
        estimators.ParetoNBD(dynamic_covariates={"purchase": ["campaign"]}).fit(
            shifted, dynamic=dynamic
        )
    beyond = r"ends .* days after the calibration end .* but the covariates end"
    with pytest.raises(DataError, match=beyond):
        fitted.predict_dynamic(summary, float(F + 2), dynamic=dynamic)
    with pytest.raises(FitError, match="pass their panel"):
        fitted.predict_p_alive(summary)
    with pytest.raises(FitError, match="would ignore the time-varying covariates"):
        fitted.expected_purchases(10.0)
    with pytest.raises(FitError, match="would ignore the time-varying covariates"):
        fitted.tracking_curve([1.0, 2.0], [0.0])
    with pytest.raises(FitError, match="no time-varying covariates"):
        estimators.MBGNBD(dynamic_covariates={"purchase": ["campaign"]}).fit(
            summary, dynamic=dynamic
        )
    with pytest.raises(DataError, match="has no rows"):
        fitted.predict_p_alive(summary.assign(customer_id="nobody"), dynamic=dynamic)


@pytest.mark.filterwarnings("ignore::clvmodels.backends.bayes.ConvergenceWarning")
def test_bayesian_fit_samples_the_same_likelihood(store, tmp_path):
    """NUTS on 150 customers: draws of every parameter and coefficient, sampler
    diagnostics, predictions averaged over the draws, and a netCDF round trip."""
    rows = store["summary"].index[:150]
    summary = store["summary"].loc[rows]
    dynamic = store["panel"].subset(np.arange(150))
    model = estimators.ParetoNBD(
        "bayes", dynamic_covariates={"purchase": ["high_season"]}, draws=80, tune=80,
        chains=2, cores=1, seed=3, ess_floor=10,
    )
    model.fit(summary, dynamic=dynamic)
    result = model.result_
    assert set(result.draws) == {"r", "alpha", "s", "beta", "purchase:high_season"}
    assert result.diagnostics["draws_shape"] == [2, 80]
    assert result.backend == "bayes"
    mle = estimators.ParetoNBD(dynamic_covariates={"purchase": ["high_season"]})
    mle.fit(summary, dynamic=dynamic)
    effect = result.draws["purchase:high_season"]
    assert np.quantile(effect, 0.005) < mle.params_["purchase:high_season"] < np.quantile(
        effect, 0.995
    )
    out = model.predict_dynamic(summary, 10.0, dynamic=dynamic)
    assert out["p_alive"].between(0, 1).all()
    model.save(tmp_path / "model.nc")
    loaded = estimators.ParetoNBD.load(tmp_path / "model.nc")
    assert loaded.result_.dynamic_covariates == {"purchase": ["high_season"]}
    np.testing.assert_allclose(
        loaded.predict_dynamic(summary, 10.0, dynamic=dynamic)["dect"], out["dect"]
    )


def test_rate_factor_of_a_whole_period_has_the_effects_table_interval(fitted, store):
    from clvmodels.estimators.dynamic import rate_multipliers

    table = rate_multipliers(fitted.result_, store["panel"], float(F))
    effects = fitted.covariate_effects().loc["dropout:high_season"]
    week = table[(table["process"] == "dropout") & np.isclose(table["multiplier"],
                                                               effects["factor"])]
    assert len(week) > 0
    np.testing.assert_allclose(week["lower"], effects["factor_lower"], rtol=1e-9)
    np.testing.assert_allclose(week["upper"], effects["factor_upper"], rtol=1e-9)
    assert set(table["part"]) == {"calibration", "horizon"}
