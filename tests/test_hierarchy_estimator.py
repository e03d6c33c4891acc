"""Hierarchical estimators: fit with ``hierarchy={"group": column}``, predictions with
each customer's group parameters, group tables, persistence, CLV and the posterior
predictive check.

Expected values: the plain model's functions (:mod:`clvmodels.models.bgnbd`,
:mod:`clvmodels.models.sbg`, :mod:`clvmodels.models.gamma_gamma`) evaluated at a
group's fitted parameters — a customer of group ``g`` is predicted exactly as the plain
model with ``θ[g]``.  Fits are short (2 chains × 200 draws) on small simulated data.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from hierarchy_data import bgnbd_customers

from clvmodels.backends.bayes import ConvergenceWarning
from clvmodels.clv import ValueSettings, customer_values, subscription_values
from clvmodels.clv.arrays import PatternLink
from clvmodels.errors import DataError, FitError
from clvmodels.estimators import BGNBD, NBD, SBG, ClvModelWarning, GammaGamma
from clvmodels.evaluation.ppc import posterior_predictive_counts
from clvmodels.models import bgnbd, gamma_gamma, sbg

SHORT = {"chains": 2, "draws": 200, "tune": 200, "cores": 1, "ess_floor": 20, "seed": 4}
LEVELS = ("01", "02", "10")
"""Group labels that look like numbers: they must stay these strings."""


def _fit(estimator, frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(frame)


def _store(rng: np.random.Generator) -> pd.DataFrame:
    """Customers of three countries whose purchase rates differ (alpha 2, 4, 8), members
    buying 1.5 times as often (``alpha / 1.5``), with a spend per order; ``country``
    holds the strings of :data:`LEVELS`."""
    frames = []
    for level, alpha, n in zip(LEVELS, (2.0, 4.0, 8.0), (400, 200, 60), strict=True):
        T = rng.integers(20, 40, n).astype(float)
        member = rng.random(n) < 0.5
        part = bgnbd_customers(n, 0.7, alpha / np.where(member, 1.5, 1.0), 0.8, 3.0, T, rng)
        part["recency"] = np.round(part["recency"], 1)
        spend = gamma_gamma.simulate(
            n, p=6.0, q=4.0, gamma=15.0, frequency=part["frequency"], rng=rng
        )
        frames.append(
            pd.DataFrame(
                {
                    **part,
                    "monetary_value": spend["monetary_value"],
                    "member": member,
                    "country": level,
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    frame.insert(0, "customer_id", [f"c{i}" for i in range(len(frame))])
    return frame


@pytest.fixture(scope="module")
def store() -> pd.DataFrame:
    return _store(np.random.default_rng(18))


@pytest.fixture(scope="module")
def purchase(store) -> BGNBD:
    model = BGNBD(
        "bayes", hierarchy={"group": "country"}, covariates={"purchase": ["member"]}, **SHORT
    )
    return _fit(model, store)


@pytest.fixture(scope="module")
def spend(store) -> GammaGamma:
    return _fit(GammaGamma("bayes", hierarchy="country", **SHORT), store)


def _own(model, level: str) -> dict[str, float]:
    return {k: model.params_[f"{k}[{level}]"] for k in model.module.SPEC.param_names}


def test_a_customer_is_predicted_with_her_group_parameters(purchase, store):
    # her group's θ[g], and α[g] · exp(−γ) for a member (Fader & Hardie 2007, note 019)
    alive = purchase.predict_p_alive(store)
    expected = purchase.predict_purchases(store, 10.0)
    history = {c: store[c].to_numpy(float) for c in ("frequency", "recency", "T")}
    gamma = purchase.params_["alpha:member"]
    for level, member in itertools.product(LEVELS, (False, True)):
        mine = ((store["country"] == level) & (store["member"] == member)).to_numpy()
        part = {c: v[mine] for c, v in history.items()}
        own = _own(purchase, level)
        own["alpha"] *= np.exp(-gamma * member)
        np.testing.assert_allclose(alive[mine], bgnbd.probability_alive(**part, **own), rtol=1e-12)
        np.testing.assert_allclose(
            expected[mine], bgnbd.conditional_expected_purchases(10.0, **part, **own), rtol=1e-12
        )
    assert purchase.result_.hierarchy["levels"] == list(LEVELS)
    # the groups were simulated with alpha 2, 4, 8: the estimates keep their order
    alphas = [purchase.params_[f"alpha[{g}]"] for g in LEVELS]
    assert alphas == sorted(alphas)
    assert 0.1 < gamma < 0.8  # log 1.5 = 0.41


def test_an_unseen_group_gets_the_population_median_and_a_warning(purchase, store):
    new = store.head(3).assign(country=["01", "99", "1"], member=False)
    with pytest.warns(ClvModelWarning, match=r"country level\(s\) '1', '99' not seen"):
        alive = purchase.predict_p_alive(new)
    history = {c: new[c].to_numpy(float) for c in ("frequency", "recency", "T")}
    median = {k: purchase.params_[k] for k in bgnbd.SPEC.param_names}
    np.testing.assert_allclose(
        alive[1:],
        bgnbd.probability_alive(**{c: v[1:] for c, v in history.items()}, **median),
        rtol=1e-12,
    )
    assert purchase.profile_params() == median
    member = purchase.profile_params({"country": "10", "member": True})
    own = _own(purchase, "10")
    own["alpha"] *= np.exp(-purchase.params_["alpha:member"])
    assert member == pytest.approx(own)


def test_save_and_load_keep_the_groups_and_the_predictions(purchase, store, tmp_path):
    path = tmp_path / "bgnbd.nc"
    purchase.save(path)
    loaded = BGNBD.load(path)
    assert loaded.result_.hierarchy == purchase.result_.hierarchy
    assert set(loaded.result_.draws) == set(purchase.result_.draws)
    pd.testing.assert_series_equal(loaded.predict_p_alive(store), purchase.predict_p_alive(store))


def test_the_group_table_has_a_row_per_group_and_parameter(purchase, spend):
    table = purchase.group_effects(0.9)
    assert len(table) == 4 * (len(LEVELS) + 2)
    groups = table[table["kind"] == "group"]
    assert groups.loc["alpha[02]", "customers"] == 200.0
    assert (groups["lower"] < groups["estimate"]).all()
    assert (groups["estimate"] < groups["upper"]).all()
    assert table.loc["alpha", "customers"] == 660.0
    assert table.attrs == {"level": 0.9, "group": "country"}
    spend_table = spend.group_effects()
    assert sorted(spend_table.loc[spend_table["kind"] == "group", "group"]) == sorted(LEVELS * 3)


def test_spend_predictions_use_the_group_parameters(spend, store):
    predicted = spend.predict_spend(store)
    mine = (store["country"] == "02").to_numpy()
    x, m = store["frequency"].to_numpy(float), store["monetary_value"].to_numpy(float)
    own = _own(spend, "02")
    expected = gamma_gamma.conditional_expected_average_order_value(x[mine], m[mine], **own)
    np.testing.assert_allclose(predicted[mine], expected, rtol=1e-12)


def test_customer_values_use_the_groups_of_both_models(purchase, spend, store):
    settings = ValueSettings(horizon=26.0, time_unit="W", interval=None)
    values = customer_values(purchase, store, settings, spend=spend)
    np.testing.assert_allclose(values["p_alive"], purchase.predict_p_alive(store), rtol=1e-12)
    repeat = store["frequency"].to_numpy() > 0
    np.testing.assert_allclose(
        values["expected_spend"][repeat], spend.predict_spend(store)[repeat], rtol=1e-12
    )
    with_draws = customer_values(
        purchase, store, ValueSettings(horizon=26.0, time_unit="W", draws=50), spend=spend
    )
    assert (with_draws["clv_lower"] <= with_draws["clv_upper"]).all()
    assert with_draws["p_alive"].corr(values["p_alive"]) > 0.99


def test_the_posterior_predictive_check_simulates_each_group(purchase, store):
    rng = np.random.default_rng(1)
    table = posterior_predictive_counts(
        "bgnbd",
        purchase.result_.parameter_draws(40, rng),
        store["T"].to_numpy(float),
        store["frequency"].to_numpy(),
        rng,
        n_draws=40,
        link=PatternLink.of(purchase, store),
    )
    assert table["simulated_mean"].sum() == pytest.approx(len(store))
    assert table["inside_90"].mean() >= 0.5


def test_sbg_cohorts_as_groups():
    rng = np.random.default_rng(7)
    frames = []
    for cohort, alpha in (("2019", 0.7), ("2020", 2.0)):
        rows = sbg.simulate(500, alpha=alpha, beta=1.2, n_periods=6, rng=rng)
        frames.append(
            pd.DataFrame({"tenure": rows["tenure"], "churned": rows["churned"], "cohort": cohort})
        )
    individual = pd.concat(frames, ignore_index=True).assign(count=1.0)
    model = _fit(SBG("bayes", hierarchy="cohort", **SHORT), individual)
    table = model.group_effects()
    assert sorted(table.loc[table["kind"] == "group", "group"]) == ["2019", "2019", "2020", "2020"]
    own = _own(model, "2020")
    survival = model.survival(np.arange(5), profile={"cohort": "2020"})
    np.testing.assert_allclose(survival, sbg.survival(np.arange(5), **own), rtol=1e-12)
    assert model.params_["alpha[2019]"] < model.params_["alpha[2020]"]
    # the residual value of the active subscribers, per renewal count and cohort
    weekly = ValueSettings(interval=0.8, draws=40, time_unit="W")
    values = subscription_values(model, individual, weekly)
    mine = values[values["cohort"] == "2020"]
    d = ValueSettings(time_unit="W").period_discount
    derl = sbg.derl(mine["renewals"].to_numpy(float), discount=d, **own)
    np.testing.assert_allclose(mine["derl"], derl, rtol=1e-12)
    assert (values["clv_lower"] <= values["clv"]).all()


def test_refusals_name_the_problem(store):
    with pytest.raises(FitError, match="hierarchy needs backend='bayes'"):
        BGNBD(hierarchy="country").fit(store)
    with pytest.raises(FitError, match="dynamic_covariates together"):
        BGNBD("bayes", hierarchy="country", dynamic_covariates={"purchase": ["x"]}).fit(store)
    with pytest.raises(DataError, match="no column 'region'"):
        BGNBD("bayes", hierarchy="region").fit(store)
    missing = store.assign(country=store["country"].where(store.index != 5))
    with pytest.raises(DataError, match=r"column 'country' row 5 \(customer_id 'c5'\): missing"):
        BGNBD("bayes", hierarchy="country").fit(missing)
    with pytest.raises(FitError, match="unknown key 'groups'"):
        BGNBD("bayes", hierarchy={"groups": "country"}).fit(store)
    with pytest.raises(FitError, match="nbd: hierarchy is offered for bgnbd"):
        NBD("bayes", hierarchy="country").fit(store)
    with pytest.raises(FitError, match="unknown hierarchical Bayesian option"):
        BGNBD("bayes", hierarchy="country", init={"r": 1.0}).fit(store)


def test_clone_keeps_the_hierarchy():
    model = BGNBD("bayes", hierarchy={"group": "country", "parameters": ["alpha"]}, draws=10)
    twin = model.clone()
    assert twin.hierarchy == model.hierarchy
    assert twin.options == {"draws": 10}
