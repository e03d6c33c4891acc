"""The coordinates NUTS moves in: the Pareto/NBD's (s, β) sampled as (log s, log w),
w = −log S(t*) = s·log(1 + t*/β) (:mod:`clvmodels.backends.coordinates`).

Expected values: the posterior density of the default log-scale model, carried to the
new coordinates by the change-of-variables formula (log density − log |det ∂z/∂θ|), and
finite differences for the Jacobian.  The sampling itself is checked by the ``slow``
CDNOW fit (tests/test_bayes_published.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import clvmodels
from clvmodels.backends import bayes, nuts
from clvmodels.backends.coordinates import Coordinates, hazard_name
from clvmodels.backends.design import CovariateLinks, FitRows
from clvmodels.backends.priors import default_priors
from clvmodels.models import model_spec

PARETO = model_spec("paretonbd")
DATA = {
    "frequency": np.array([0.0, 2, 7, 40, 0, 1]),
    "recency": np.array([0.0, 3.0, 20.5, 30.0, 0.0, 12.0]),
    "T": np.array([9.0, 20, 30, 31, 38, 25]),
}
# log (r, α, s, β): the CDNOW mode, the ridge's far tail, a small shape, a huge rate
POINTS = [(-0.6, 2.35, -0.5, 2.5), (-0.7, 2.3, 5.5, 9.1), (-0.5, 2.4, -2.0, 0.1), (0, 2, 1, 12)]


def _setup(covariates=None, priors=None):
    rows = FitRows.of(PARETO, DATA, None, covariates)
    coefficients = () if covariates is None else covariates.coefficient_names()
    chosen = default_priors(PARETO, PARETO.initial_params(rows.model_columns, rows.weights),
                            coefficients)
    chosen.update(priors or {})
    return rows, chosen, Coordinates.of(PARETO, rows, coefficients, chosen)


def test_pareto_dropout_is_sampled_as_log_shape_and_log_cumulative_hazard():
    _, _, coordinates = _setup()
    t_star = float(np.mean(DATA["T"]))
    assert coordinates.hazards == {"beta": ("s", pytest.approx(t_star))}
    assert coordinates.value_names() == [
        "r_log__", "alpha_log__", "s_log__", f"{hazard_name('beta')}_log__"
    ]
    z, _ = coordinates.from_log(np.array(POINTS[0]))
    w = coordinates.initvals(z)[hazard_name("beta")]
    assert w == pytest.approx(math.exp(-0.5) * math.log1p(t_star / math.exp(2.5)), rel=1e-13)


@pytest.mark.parametrize("theta", POINTS)
def test_the_jacobian_is_the_derivative_of_the_change_of_coordinates(theta):
    _, _, coordinates = _setup()
    theta = np.array(theta)
    _, jacobian = coordinates.from_log(theta)
    h = 1e-6
    numeric = np.column_stack([
        (coordinates.from_log(theta + h * e)[0] - coordinates.from_log(theta - h * e)[0]) / (2 * h)
        for e in np.eye(len(theta))
    ])
    np.testing.assert_allclose(jacobian, numeric, atol=1e-8)


@pytest.mark.parametrize("with_covariates", [False, True], ids=["plain", "covariates"])
def test_the_posterior_is_the_same_distribution_in_the_new_coordinates(with_covariates):
    links = None
    if with_covariates:
        matrix = np.array([[0.0], [1], [1], [0], [1], [0]])
        links = CovariateLinks.build(PARETO, ("member",), matrix, {"dropout": ("member",)})
    rows, priors, coordinates = _setup(links)
    assert coordinates.hazards
    default = bayes.build_model(PARETO, rows.rows, rows.weights, priors, covariates=links)
    moved = bayes.build_model(
        PARETO, rows.rows, rows.weights, priors, covariates=links, coordinates=coordinates
    )
    logp_default, logp_moved = default.compile_logp(), moved.compile_logp()
    plain = Coordinates(coordinates.names, coordinates.coefficients)
    for point in POINTS:
        theta = np.array([*point, *([0.4] if with_covariates else [])])
        z, jacobian = coordinates.from_log(theta)
        expected = logp_default(dict(zip(plain.value_names(), theta, strict=True)))
        got = logp_moved(dict(zip(coordinates.value_names(), z, strict=True)))
        assert got == pytest.approx(expected - math.log(abs(np.linalg.det(jacobian))), rel=1e-11)


def test_a_uniform_prior_on_the_pair_a_map_fit_and_other_models_keep_the_log_scale():
    uniform = {"beta": {"dist": "uniform", "lower": 0.1, "upper": 500}}
    assert not _setup(priors=uniform)[2].hazards
    rows, priors, _ = _setup()
    assert not Coordinates.of(PARETO, None, (), priors).hazards  # what method="map" asks
    bgnbd = model_spec("bgnbd")
    bg_priors = default_priors(bgnbd, bgnbd.initial_params(rows.model_columns, rows.weights))
    assert not Coordinates.of(bgnbd, rows, (), bg_priors).hazards


def test_nuts_starts_from_the_laplace_approximation_in_the_new_coordinates(cdnow_summary):
    import pymc as pm

    data = {c: cdnow_summary[c].to_numpy(float) for c in PARETO.data_columns}
    rows = FitRows.of(PARETO, data, None, None)
    priors = default_priors(PARETO, PARETO.initial_params(rows.model_columns, rows.weights))
    coordinates = Coordinates.of(PARETO, rows, (), priors)
    model = bayes.build_model(PARETO, rows.rows, rows.weights, priors, coordinates=coordinates)
    kwargs, label = nuts.nuts_start(pm, model, PARETO, rows, 4, 0.8, 7, None, coordinates)
    assert label == "Laplace approximation at the MLE"
    mle = clvmodels.fit("paretonbd", cdnow_summary).params_
    for start in kwargs["initvals"]:
        assert set(start) == {"r", "alpha", "s", hazard_name("beta")}
        # −log S(T̄) at the MLE, within a few Laplace sd (0.07 on CDNOW)
        w_mle = mle["s"] * math.log1p(coordinates.hazards["beta"][1] / mle["beta"])
        assert abs(math.log(start[hazard_name("beta")] / w_mle)) < 0.4
