"""Hierarchical (partially pooled) fits of the Bayesian backend.

Expected values: the plain model's log-likelihood (a hierarchy whose groups all sit at
the median is the plain model), the plain Bayesian fit (one group: the same posterior
up to the prior), and simulated customers in 20 groups of very different sizes
(``tests/hierarchy_data.py``, the BG/NBD story simulated step by step): the small
groups' estimates are pulled from their own no-pooling maximum-likelihood estimates
toward the population median (Gelman et al. 2013, *Bayesian Data Analysis*, §5.5).
Runs are short (2 chains × 300 draws or fewer).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytensor
import pytest
from hierarchy_data import grouped_customers

from clvmodels.backends import bayes, hierarchy
from clvmodels.backends.design import CovariateLinks, FitRows
from clvmodels.backends.group_layout import GroupLayout, hierarchical_log_likelihood
from clvmodels.backends.mle import fit_mle
from clvmodels.errors import ConfigError, FitError
from clvmodels.models import bgnbd, gamma_gamma, paretonbd, sbg
from clvmodels.models.groups import group_name, hierarchy_names

REGULAR = (1000, 631, 468, 382, 326, 289, 262, 241)
"""FH2007 Table 1, the "regular" cohort's survivors after 0..7 renewals."""


def _short(fit, *args, **options):
    """A short NUTS run; it may warn about ESS (the tests check what they need)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bayes.ConvergenceWarning)
        return fit(*args, **{"chains": 2, "cores": 1, "ess_floor": 50, **options})


def _labels(n: int, n_groups: int, rng: np.random.Generator) -> np.ndarray:
    return np.array([f"0{k}" for k in rng.integers(0, n_groups, n)])


def _model_data(key, cdnow, cdnow_summary):
    """(spec, data, weights) of every model of the hierarchy tests."""
    if key == "sbg":
        rows, weights = sbg.cohort_to_rows(REGULAR)
        return sbg.SPEC, rows, weights
    if key == "gamma_gamma":
        data = {c: cdnow_summary[c].to_numpy(float) for c in ("frequency", "monetary_value")}
        return gamma_gamma.SPEC, data, None
    return {"bgnbd": bgnbd.SPEC, "paretonbd": paretonbd.SPEC}[key], cdnow, None


@pytest.mark.parametrize("key", ["bgnbd", "paretonbd", "gamma_gamma", "sbg"])
def test_groups_at_the_median_give_the_plain_log_likelihood(key, cdnow, cdnow_summary):
    spec, data, weights = _model_data(key, cdnow, cdnow_summary)
    n = len(next(iter(data.values())))
    labels = _labels(n, 4, np.random.default_rng(1))
    layout = GroupLayout.build(spec, labels, "country")
    rows = FitRows.of(spec, data, weights, layout.links)
    start = spec.initial_params(data, np.ones(n) if weights is None else weights)
    params = {k: 1.3 * v for k, v in start.items()}
    params |= {group_name(k, g): params[k] for k in spec.param_names for g in layout.levels}
    grouped = np.sum(rows.weights * hierarchical_log_likelihood(spec, layout, params, rows))
    plain_rows = FitRows.of(spec, data, weights)
    plain = np.sum(
        plain_rows.weights
        * spec.log_likelihood(
            **{k: params[k] for k in spec.param_names}, **plain_rows.model_columns
        )
    )
    assert grouped == pytest.approx(plain, rel=1e-10, abs=1e-10)


def _member_links(n: int, rng: np.random.Generator, constraints=()) -> CovariateLinks:
    member = (rng.random(n) < 0.4).astype(float)
    processes = {"purchase": ("member",), "dropout": ("member",)}
    return CovariateLinks.build(bgnbd.SPEC, ("member",), member[:, None], processes, constraints)


def test_the_pymc_graph_equals_the_numpy_log_likelihood_with_covariates(cdnow):
    # groups, covariates and a constraint (b:member = a:member) at a point where every
    # group has its own parameters: the PyMC model's likelihood term is the NumPy one
    rng = np.random.default_rng(3)
    n = len(cdnow["T"])
    links = _member_links(n, rng, constraints=[["a", "b"]])
    layout = GroupLayout.build(bgnbd.SPEC, _labels(n, 3, rng), "country", None, links)
    rows = FitRows.of(bgnbd.SPEC, cdnow, None, layout.links)
    priors = hierarchy.hierarchical_priors(bgnbd.SPEC, layout, rows, None)
    model = hierarchy.build_hierarchical_model(bgnbd.SPEC, layout, rows, priors)
    point = {
        "r_log__": math.log(0.25),
        "alpha_log__": math.log(4.0),
        "a_log__": math.log(0.8),
        "b_log__": math.log(2.5),
        "alpha:member": 0.3,
        "a:member": -0.2,
    }
    params = {"alpha:member": 0.3, "a:member": -0.2, "b:member": -0.2}
    for k in bgnbd.SPEC.param_names:
        point[f"sd({k})_log__"] = math.log(0.4)
        point[hierarchy.offset_name(k)] = rng.standard_normal(len(layout.levels))
        for i, g in enumerate(layout.levels):
            z = point[hierarchy.offset_name(k)][i]
            params[group_name(k, g)] = math.exp(point[f"{k}_log__"] + 0.4 * z)
    [term] = model.replace_rvs_by_values(model.potentials)
    pymc_value = pytensor.function(model.value_vars, term, on_unused_input="ignore")(**point)
    numpy_value = np.sum(
        rows.weights * hierarchical_log_likelihood(bgnbd.SPEC, layout, params, rows)
    )
    assert float(pymc_value) == pytest.approx(numpy_value, rel=1e-9)


@pytest.mark.slow  # two NUTS fits (~15 s): a study of the posterior, run by make test-slow
def test_one_group_gives_the_plain_posterior(cdnow):
    # one group: θ[g] has the plain model's likelihood and (almost) its prior; the
    # median and the spread are then known only along θ[g] = θ e^(σz), a thin curved
    # ridge (long trajectories, some divergences: the test runs few draws on 2 cores)
    labels = np.full(len(cdnow["T"]), "all")
    short = {"draws": 150, "tune": 150, "seed": 2, "cores": 2}
    grouped = _short(hierarchy.fit_hierarchical, bgnbd.SPEC, cdnow, groups=labels, **short)
    plain = _short(bayes.fit_bayes, bgnbd.SPEC, cdnow, **short)
    for k in bgnbd.SPEC.param_names:
        assert grouped.params[group_name(k, "all")] == pytest.approx(plain.params[k], rel=0.06)
    assert grouped.hierarchy == {
        "group": "group",
        "levels": ["all"],
        "counts": [2357.0],
        "parameters": ["r", "alpha", "a", "b"],
    }
    names = (*bgnbd.SPEC.param_names, *hierarchy_names(bgnbd.SPEC.param_names, ["all"]))
    assert grouped.param_names == names
    assert set(grouped.draws) == set(names)
    assert grouped.cov_log.shape == (len(names), len(names))
    assert grouped.diagnostics["divergences"] < 60


def _grouped_fit(n: int, groups: int, ratio: float, draws: int):
    """``n`` customers in ``groups`` groups of sizes falling by ``ratio``, alpha varying
    by group, and a short hierarchical fit pooling alpha."""
    data, labels, truth = grouped_customers(n, groups, np.random.default_rng(18), ratio=ratio)
    fit = _short(
        hierarchy.fit_hierarchical,
        bgnbd.SPEC,
        data,
        groups=labels,
        group_column="country",
        parameters=["alpha"],
        draws=draws,
        tune=draws,
        seed=5,
    )
    return data, labels, truth, fit


@pytest.fixture(scope="module")
def twenty_groups():
    """4,000 customers in 20 groups of 640 down to 30, alpha varying by group."""
    return _grouped_fit(4000, 20, 0.85, 300)


@pytest.mark.slow  # a 20-group NUTS fit and 20 MLE fits (~17 s), run by make test-slow
def test_small_groups_shrink_toward_the_population(twenty_groups):
    data, labels, truth, fit = twenty_groups
    assert fit.hierarchy["counts"][0] > 10 * fit.hierarchy["counts"][-1]
    median = math.log(fit.params["alpha"])
    pooled, alone = [], []
    for g in fit.hierarchy["levels"][-5:]:
        mine = labels == g
        try:
            own = fit_mle(bgnbd.SPEC, {c: v[mine] for c, v in data.items()}).params["alpha"]
        except FitError:  # no finite no-pooling estimate: as far as it gets
            own = math.inf
        alone.append(abs(math.log(own) - median))
        pooled.append(abs(math.log(fit.params[group_name("alpha", g)]) - median))
    # on the log scale, the five smallest groups (28-54 customers) sit on average at most
    # 3/4 as far from the median as their own estimates (which move r along with alpha,
    # so a single group may differ)
    assert np.mean(pooled) < 0.75 * np.mean(alone)
    assert sum(p < a for p, a in zip(pooled, alone, strict=True)) >= 4
    # the largest group rests on its own data: its interval holds its true alpha
    interval = fit.conf_int(0.95).loc[group_name("alpha", "g00")]
    assert interval["lower"] < truth["g00"] < interval["upper"]


@pytest.fixture(scope="module")
def five_groups():
    """800 customers in 5 groups: a short fit to read the names from."""
    _, labels, _, fit = _grouped_fit(800, 5, 0.7, 200)
    return labels, fit


def test_the_result_names_every_group_and_spread(five_groups):
    labels, fit = five_groups
    levels = sorted(set(labels.tolist()))
    assert fit.hierarchy["levels"] == levels
    assert fit.hierarchy["parameters"] == ["alpha"]
    assert sum(fit.hierarchy["counts"]) == 800
    assert fit.param_names == (
        "r",
        "alpha",
        "a",
        "b",
        *(group_name("alpha", g) for g in levels),
        "sd(alpha)",
    )
    per = fit.diagnostics["parameters"]
    assert set(per) == set(fit.param_names)
    assert all(per[k]["r_hat"] < 1.05 for k in fit.param_names)


def test_refusals_name_the_problem(cdnow):
    labels = np.full(len(cdnow["T"]), "a")
    with pytest.raises(ConfigError, match=r"method: 'map'.*no mode"):
        hierarchy.fit_hierarchical(bgnbd.SPEC, cdnow, groups=labels, method="map")
    with pytest.raises(FitError, match=r"hierarchy\.parameters: no parameter 'beta'"):
        hierarchy.fit_hierarchical(bgnbd.SPEC, cdnow, groups=labels, parameters=["beta"])
    with pytest.raises(ConfigError, match=r"sd\(r\)"):
        hierarchy.fit_hierarchical(
            bgnbd.SPEC,
            cdnow,
            groups=labels,
            priors={"sd(r)": {"dist": "normal", "mu": 0, "sigma": 1}},
        )


def test_a_constraint_shares_one_coefficient_in_the_plain_bayesian_model(cdnow):
    # b:member = a:member: one variable; the result carries the tied one in params only
    rng = np.random.default_rng(9)
    links = _member_links(len(cdnow["T"]), rng, constraints=[["a", "b"]])
    fit = _short(bayes.fit_bayes, bgnbd.SPEC, cdnow, covariates=links, draws=100, tune=100)
    assert fit.param_names == ("r", "alpha", "a", "b", "alpha:member", "a:member")
    assert fit.tied == {"b:member": "a:member"}
    assert fit.params["b:member"] == fit.params["a:member"]
    assert fit.cov_log.shape == (6, 6)
    draws = fit.parameter_draws(20, rng)
    np.testing.assert_array_equal(draws["b:member"], draws["a:member"])
