"""Our own NUTS (``sampler="clvmodels"``, the default where it applies) and its parts.

Expected values: PyMC's log posterior of the same model (the density sampled), exact
moments of a Gaussian target (the transition), ArviZ's R-hat and ESS (the diagnostics),
and PyMC's own NUTS on CDNOW (Fader, Hardie & Lee 2005) for the posterior means (slow).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import clvmodels
from clvmodels.backends import bayes, convergence, hmc
from clvmodels.backends.compress import compress_rows
from clvmodels.backends.mle import log_likelihood_numpy
from clvmodels.backends.posterior import compiled_log_likelihood, log_posterior
from clvmodels.backends.priors import default_priors
from clvmodels.errors import ConfigError
from clvmodels.models import model_spec

BGNBD_DATA = {
    "frequency": np.array([0, 1, 2, 5, 0, 1, 7, 3], dtype=float),
    "recency": np.array([0, 3.0, 10.5, 28.0, 0, 20.0, 30.0, 12.0]),
    "T": np.array([10, 20, 30, 31, 31, 25, 32, 30], dtype=float),
}
PRIOR_SETS = {
    "default": {},
    "other_families": {
        "r": {"dist": "gamma", "alpha": 2.0, "beta": 3.0},
        "alpha": {"dist": "exponential", "lam": 0.1},
        "a": {"dist": "halfnormal", "sigma": 2.0},
        "b": {"dist": "halfcauchy", "beta": 5.0},
    },
}


@pytest.mark.parametrize("prior_set", list(PRIOR_SETS))
def test_log_posterior_equals_pymc_model_logp_and_gradient(prior_set):
    spec = model_spec("bgnbd")
    weights = np.array([3.0, 1, 2, 1, 5, 1, 1, 2])
    unique, uw = compress_rows(BGNBD_DATA, weights)
    priors = default_priors(spec, spec.initial_params(unique, uw))
    priors.update(PRIOR_SETS[prior_set])
    model = bayes.build_model(spec, unique, uw, priors)
    logp = model.compile_logp()
    dlogp = model.compile_dlogp()
    ours = log_posterior(spec, unique, uw, priors)
    rng = np.random.default_rng(3)
    for u in rng.normal([-0.5, 1.0, 0.0, 1.0], 0.7, size=(4, 4)):
        point = {f"{k}_log__": u[i] for i, k in enumerate(spec.param_names)}
        value, grad = ours(u)
        # the same terms, summed in another order by another compiled graph
        assert value == pytest.approx(float(logp(point)), rel=1e-8)
        np.testing.assert_allclose(grad, dlogp(point), rtol=1e-8, atol=1e-10)


GRID_DATA = {
    "bgnbd": BGNBD_DATA,
    "mbgnbd": BGNBD_DATA,
    "bgbb": {"frequency": [0, 1, 3, 6, 3], "recency": [0, 2, 5, 6, 6], "n": [6, 6, 6, 6, 6]},
    "gamma_gamma": {"frequency": [1, 2, 5, 30, 2], "monetary_value": [10.0, 35.5, 120, 7, 9]},
    "sbg": {"tenure": [0, 1, 4, 7, 7], "churned": [1, 1, 1, 0, 1]},
}


@pytest.mark.parametrize("key", list(GRID_DATA))
def test_lifted_compiled_likelihood_equals_the_numpy_likelihood(key):
    spec = model_spec(key)
    data = {k: np.asarray(v, dtype=float) for k, v in GRID_DATA[key].items()}
    weights = np.arange(1.0, len(next(iter(data.values()))) + 1.0)
    unique, uw = compress_rows(data, weights)
    compiled = compiled_log_likelihood(spec, unique, uw)
    start = spec.initial_params(unique, uw)
    for scale in (0.3, 1.0, 4.0):
        params = {k: float(v) * scale for k, v in start.items()}
        u = np.log([params[k] for k in spec.param_names])
        value, grad = compiled(u)
        assert value == pytest.approx(log_likelihood_numpy(spec, params, data, weights), 1e-9)
        step = 1e-6
        for i in range(len(u)):  # central differences of the NumPy likelihood
            shifted = [
                {k: math.exp(u[j] + (j == i) * s) for j, k in enumerate(spec.param_names)}
                for s in (step, -step)
            ]
            up, down = (log_likelihood_numpy(spec, p, data, weights) for p in shifted)
            assert grad[i] == pytest.approx((up - down) / (2 * step), rel=1e-5, abs=1e-6)


def test_nuts_draws_have_the_moments_of_a_known_gaussian():
    cov = np.array([[1.0, 1.2, 0.0], [1.2, 4.0, 0.0], [0.0, 0.0, 0.25]])
    precision = np.linalg.inv(cov)

    def density(q):
        return float(-0.5 * q @ precision @ q), -precision @ q

    starts = [np.full(3, 2.0), np.full(3, -2.0)]
    chains = hmc.sample_chains(density, starts, np.eye(3), 3000, 500, 0.8, 5, cores=1)
    draws = np.concatenate([c.draws for c in chains])
    # standard errors with ESS >= 2,000 per coordinate (NUTS on a Gaussian): means
    # within 4 of them, variances within 5 % x 4
    standard_errors = np.sqrt(np.diag(cov) / 2000)
    assert np.all(np.abs(draws.mean(axis=0)) < 4 * standard_errors)
    np.testing.assert_allclose(np.cov(draws, rowvar=False), cov, atol=0.2 * np.diag(cov).max())
    assert all(c.step_size > 0.5 and c.n_steps.mean() < 8 for c in chains)
    assert not any(c.diverging.any() for c in chains)


def test_chains_draw_the_same_numbers_on_one_core_or_two():
    def density(q):
        return float(-0.5 * q @ q), -q

    starts = [np.zeros(2), np.ones(2), -np.ones(2)]
    one = hmc.sample_chains(density, starts, np.eye(2), 50, 160, 0.8, 9, cores=1)
    two = hmc.sample_chains(density, starts, np.eye(2), 50, 160, 0.8, 9, cores=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a.draws, b.draws)


def test_metric_windows_follow_stans_schedule():
    assert hmc.metric_windows(1000) == [100, 150, 250, 450, 950]
    assert hmc.metric_windows(149) == []


@pytest.mark.parametrize("shape", [(4, 200), (2, 101), (3, 9)])
def test_rhat_and_ess_equal_arviz(shape):
    import arviz as az

    rng = np.random.default_rng(sum(shape))
    x = np.cumsum(rng.standard_normal(shape), axis=1) * 0.2 + rng.standard_normal(shape)
    x[0, :3] = x[0, 3]  # ties, as rejected NUTS proposals make
    assert convergence.rhat(x) == pytest.approx(float(az.rhat(x)), rel=1e-12)
    assert convergence.ess_bulk(x) == pytest.approx(float(az.ess(x, method="bulk")), rel=1e-9)
    assert convergence.ess_tail(x) == pytest.approx(float(az.ess(x, method="tail")), rel=1e-9)


def _fit(frame, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bayes.ConvergenceWarning)
        return clvmodels.fit("bgnbd", frame, backend="bayes", seed=2, **options).result_


def test_default_sampler_is_ours_and_falls_back_to_pymc_where_it_does_not_apply(
    cdnow_summary,
):
    ours = _fit(cdnow_summary, draws=100, tune=100, chains=2, cores=1)
    assert ours.diagnostics["sampler"] == "NUTS (clvmodels)"
    assert ours.diagnostics["draws_shape"] == [2, 100]
    assert set(ours.diagnostics["parameters"]) == {"r", "alpha", "a", "b"}
    uniform = {"a": {"dist": "uniform", "lower": 0.01, "upper": 10.0}}
    with pytest.raises(ConfigError, match="sampler: clvmodels samples fits without"):
        _fit(cdnow_summary, sampler="clvmodels", priors=uniform, draws=10, tune=10)
    with pytest.raises(ConfigError, match="sampler: 'stan' is not one of"):
        _fit(cdnow_summary, sampler="stan")


def _mcse(draws: np.ndarray, chains: int) -> float:
    x = draws.reshape(chains, -1)
    return float(np.std(draws) / math.sqrt(convergence.ess_bulk(x)))


@pytest.mark.slow
def test_posterior_means_agree_with_pymc_nuts_on_cdnow_fader_hardie_lee_2005(cdnow_summary):
    options = {"draws": 1000, "tune": 1000, "chains": 4, "cores": 2}
    ours = _fit(cdnow_summary, sampler="clvmodels", **options)
    pymc = _fit(cdnow_summary, sampler="pymc", **options)
    for k in ("r", "alpha", "a", "b"):
        d = ours.diagnostics["parameters"][k]
        assert d["r_hat"] <= 1.01 and d["ess_bulk"] >= 1000
        error = math.hypot(_mcse(ours.draws[k], 4), _mcse(pymc.draws[k], 4))
        assert abs(ours.params[k] - pymc.params[k]) < 4 * error
        assert np.std(ours.draws[k]) == pytest.approx(np.std(pymc.draws[k]), rel=0.08)
