"""The Bayesian backend: one likelihood definition for both backends, sampling, MAP,
priors, diagnostics, persistence.

Expected values: the NumPy log-likelihood (for the PyMC model's likelihood term), the
maximum-likelihood fit on CDNOW of Fader, Hardie & Lee (2005) (for posterior means),
and round trips.  Heavy fits (4 chains x 1,000 draws, simulation coverage) are `slow`.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.backends import bayes, nuts
from clvmodels.backends.compress import compress_rows
from clvmodels.backends.mle import log_likelihood_numpy
from clvmodels.backends.priors import default_priors
from clvmodels.config import parse_config
from clvmodels.errors import ConfigError
from clvmodels.models import model_spec
from clvmodels.results import FitResult

GRID_DATA = {
    "bgnbd": {"frequency": [0, 1, 5, 40], "recency": [0, 3.0, 20.5, 30.0], "T": [10, 20, 30, 31]},
    "mbgnbd": {"frequency": [0, 1, 5, 40], "recency": [0, 3.0, 20.5, 30.0], "T": [10, 20, 30, 31]},
    "paretonbd": {
        "frequency": [0, 2, 7, 40],
        "recency": [0, 3.0, 20.5, 30.0],
        "T": [9, 20, 30, 31],
    },
    "bgbb": {"frequency": [0, 1, 3, 6], "recency": [0, 2, 5, 6], "n": [6, 6, 6, 6]},
    "gamma_gamma": {"frequency": [1, 2, 5, 30], "monetary_value": [10.0, 35.5, 120.0, 7.0]},
    "sbg": {"tenure": [0, 1, 4, 7, 7], "churned": [1, 1, 1, 0, 1]},
}


@pytest.mark.parametrize("portable", [False, True], ids=["fused", "portable"])
@pytest.mark.parametrize("key", list(GRID_DATA))
def test_pymc_likelihood_term_equals_the_numpy_likelihood_on_a_grid(key, portable):
    spec = model_spec(key)
    data = {k: np.asarray(v, dtype=float) for k, v in GRID_DATA[key].items()}
    weights = np.arange(1.0, len(next(iter(data.values()))) + 1.0)
    unique, uw = compress_rows(data, weights)
    start = spec.initial_params(unique, uw)
    priors = default_priors(spec, start)
    model = bayes.build_model(spec, unique, uw, priors, portable=portable)
    # the likelihood term with the parameters' value variables in place of the priors'
    # random variables, as PyMC's log-posterior uses it
    (potential,) = model.replace_rvs_by_values(model.potentials)
    term = model.compile_fn(potential, inputs=model.value_vars, on_unused_input="ignore")
    for scale in itertools.product((0.1, 1.0, 7.0), repeat=2):
        params = {k: float(start[k]) * scale[i % 2] for i, k in enumerate(spec.param_names)}
        point = {f"{k}_log__": math.log(v) for k, v in params.items()}
        expected = log_likelihood_numpy(spec, params, data, weights)
        assert float(term(point)) == pytest.approx(expected, rel=1e-10)


def _short_nuts(key, data, *, draws, seed, **options):
    """A short 2-chain run; its R-hat may exceed the 1.01 of a production run, so the
    tests check what they need instead of letting the warning fail them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bayes.ConvergenceWarning)
        return clvmodels.fit(
            key,
            data,
            backend="bayes",
            chains=2,
            draws=draws,
            tune=draws,
            seed=seed,
            cores=1,
            **options,
        )


@pytest.fixture(scope="module")
def cdnow_bayes(cdnow_summary):
    return _short_nuts("bgnbd", cdnow_summary, draws=300, seed=1, ess_floor=50)


def test_short_nuts_run_on_cdnow_centres_on_the_mle_fader_hardie_lee_2005(
    cdnow_bayes, cdnow_summary
):
    result = cdnow_bayes.result_
    mle = clvmodels.fit("bgnbd", cdnow_summary).result_
    assert result.backend == "bayes" and result.n_obs == 2357
    assert result.diagnostics["draws_shape"] == [2, 300]
    for k in ("r", "alpha", "a", "b"):
        assert abs(result.params[k] - mle.params[k]) < 2 * result.std_err[k], k
        assert result.diagnostics["parameters"][k]["r_hat"] < 1.05
    summary = cdnow_bayes.summary(0.9)
    assert {"hdi_lower", "hdi_upper", "r_hat", "ess_bulk", "ess_tail"} <= set(summary.columns)
    assert (summary["hdi_lower"] < summary["estimate"]).all()
    assert (summary["estimate"] < summary["hdi_upper"]).all()


def test_bayes_fit_round_trips_through_netcdf(cdnow_bayes, tmp_path):
    path = tmp_path / "bgnbd.nc"
    cdnow_bayes.save(path)
    assert path.read_bytes()[:3] == b"CDF"
    back = clvmodels.load_model(str(path))
    assert back.result_.backend == "bayes"
    np.testing.assert_array_equal(back.result_.draws["r"], cdnow_bayes.result_.draws["r"])
    assert back.result_.data_fingerprint == cdnow_bayes.result_.data_fingerprint
    assert back.params_ == pytest.approx(cdnow_bayes.params_)
    idata = back.result_.inference_data()
    assert idata.posterior["r"].shape == (2, 300)


def test_clv_intervals_use_the_posterior_draws(cdnow_bayes, cdnow_summary):
    from clvmodels.clv import ValueSettings, customer_values

    settings = ValueSettings(horizon=52.0, interval=0.9, draws=50)
    values = customer_values(cdnow_bayes, cdnow_summary.iloc[:100], settings, fallback_spend=35.0)
    assert (values["clv_lower"] <= values["clv_upper"]).all()
    for name in ("p_alive", "expected_purchases", "clv"):
        assert (values[f"{name}_sd"] >= 0).all()
        assert (values[f"{name}_lower"] <= values[name]).all()
        assert (values[name] <= values[f"{name}_upper"]).all()
    assert {"expected_spend_sd", "dert_sd"} <= set(values.columns)
    assert (
        (values["clv_lower"] <= values["clv"]) & (values["clv"] <= values["clv_upper"])
    ).mean() > 0.9


def test_nuts_starts_from_the_laplace_approximation_and_reuses_trajectory_values(
    cdnow_summary, monkeypatch
):
    pymc = {"sampler": "pymc"}  # the trajectory cache serves PyMC's sampler
    cached = _short_nuts("gamma_gamma", cdnow_summary, draws=60, seed=4, **pymc).result_
    assert cached.diagnostics["init"] == "Laplace approximation at the MLE"
    assert cached.diagnostics["mean_tree_size"] >= 1
    # the same run without the cache: bit-for-bit the same draws
    monkeypatch.setattr(nuts, "TrajectoryCache", lambda func: func)
    plain = _short_nuts("gamma_gamma", cdnow_summary, draws=60, seed=4, **pymc).result_
    for k in ("p", "q", "gamma"):
        np.testing.assert_array_equal(cached.draws[k], plain.draws[k])


def test_uniform_prior_falls_back_to_pymc_initialisation(cdnow_summary):
    uniform = {"p": {"dist": "uniform", "lower": 0.5, "upper": 50}}
    result = _short_nuts("gamma_gamma", cdnow_summary, draws=60, seed=4, priors=uniform).result_
    assert result.diagnostics["init"].startswith("jitter+adapt_full (a prior is not sampled")


def test_trajectory_cache_answers_the_start_of_the_next_iteration_once():
    calls = []

    def func(q, info):
        calls.append(q.copy())
        return float(q.sum()), 2 * q

    cache = nuts.TrajectoryCache(func)
    points = [np.array([0.1, 0.2]), np.array([0.3, 0.1]), np.array([0.5, 0.5])]
    for q in points:  # one trajectory
        cache(q, None)
    logp, grad = cache(points[1].copy(), None)  # the next iteration starts at a draw
    assert len(calls) == 3 and logp == pytest.approx(0.4)
    np.testing.assert_array_equal(grad, [0.6, 0.2])
    grad[:] = 0  # the caller may overwrite what it gets
    cache(points[1].copy(), None)  # forgotten with its trajectory: evaluated again
    assert len(calls) == 4


def test_map_gives_the_posterior_mode_and_a_laplace_covariance(cdnow_summary):
    model = clvmodels.fit("gamma_gamma", cdnow_summary, backend="bayes", method="map")
    mle = clvmodels.fit("gamma_gamma", cdnow_summary)
    assert model.result_.draws is None
    for k in ("p", "q", "gamma"):
        assert model.params_[k] == pytest.approx(mle.params_[k], rel=0.15)
        assert 0 < model.result_.std_err[k] < model.params_[k]


def test_poor_sampling_warns_naming_the_parameter_and_what_to_try(cdnow_summary):
    with pytest.warns(bayes.ConvergenceWarning, match=r"(R-hat|ESS).*try more tuning"):
        clvmodels.fit(
            "sbg",
            pd.DataFrame({"tenure": [1, 2, 7], "churned": [1, 1, 0], "count": [131, 126, 491]}),
            backend="bayes",
            chains=2,
            draws=30,
            tune=10,
            seed=3,
            cores=1,
        )


@pytest.mark.parametrize(
    ("priors", "message"),
    [
        ({"rr": {"dist": "lognormal", "mu": 0, "sigma": 1}}, "has no parameter 'rr'"),
        ({"r": {"dist": "cauchy", "beta": 1}}, "unknown distribution 'cauchy'"),
        ({"r": {"dist": "halfnormal"}}, "halfnormal takes sigma; got none"),
        ({"r": {"dist": "halfnormal", "sigma": -1}}, "sigma: must be positive"),
        ({"r": {"dist": "uniform", "lower": 2, "upper": 1}}, "lower < upper"),
    ],
)
def test_bad_priors_in_a_config_are_one_line_errors_naming_the_key(priors, message):
    raw = {
        "name": "x",
        "data": {"source": "builtin:cdnow_sample"},
        "models": {"bgnbd": {"backend": "bayes", "priors": priors}},
    }
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(raw)
    assert "models.bgnbd.priors" in str(info.value)


def test_config_priors_reach_the_model():
    spec = model_spec("sbg")
    rows = {"tenure": np.array([1.0, 7.0]), "churned": np.array([1.0, 0.0])}
    result = bayes.fit_bayes(
        spec,
        rows,
        np.array([300.0, 700.0]),
        method="map",
        priors={"alpha": {"dist": "gamma", "alpha": 2.0, "beta": 2.0}},
    )
    assert result.diagnostics["priors"]["alpha"] == {"dist": "gamma", "alpha": 2.0, "beta": 2.0}
    assert result.diagnostics["priors"]["beta"]["dist"] == "lognormal"


def test_mle_results_still_save_as_json(tmp_path, cdnow_summary):
    model = clvmodels.fit("bgnbd", cdnow_summary)
    model.save(tmp_path / "m.json")
    assert FitResult.load(tmp_path / "m.json").draws is None


def test_bayesian_run_folder_has_posterior_plots_ppc_and_diagnostics(tmp_path):
    from pathlib import Path

    from clvmodels.cli import main

    repo = Path(__file__).resolve().parents[1]
    text = (repo / "configs/cdnow_bayes.yaml").read_text()
    small = text.replace("draws: 1000", "draws: 150").replace("tune: 1000", "tune: 150")
    small = small.replace("chains: 4", "chains: 2").replace("  draws: 200\n", "  draws: 40\n")
    config = tmp_path / "bayes.yaml"
    config.write_text(small)
    with warnings.catch_warnings():  # a deliberately short run may warn about R-hat/ESS
        warnings.simplefilter("ignore", bayes.ConvergenceWarning)
        assert main(["fit", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    run = tmp_path / "run"
    assert (run / "models/bgnbd.nc").exists() and (run / "models/gamma_gamma.nc").exists()
    for name in ("posterior_bgnbd.png", "posterior_gamma_gamma.png", "ppc_bgnbd.png"):
        assert (run / "plots" / name).stat().st_size > 1000
    ppc = pd.read_csv(run / "ppc_bgnbd.csv")
    assert ppc["observed"].sum() == 2357 and ppc["inside_90"].mean() >= 0.75
    page = (run / "report.html").read_text()
    assert "R-hat" in page and "Posterior predictive check" in page
    predictions = pd.read_csv(run / "predictions.csv")
    assert (predictions["clv_lower"] <= predictions["clv_upper"]).all()
