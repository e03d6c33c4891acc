"""Estimator layer: one result type for every model, persistence, weights, user errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clvmodels
from clvmodels.backends.mle import log_likelihood_numpy
from clvmodels.errors import DataError, FitError, ModelLoadError
from clvmodels.estimators import ESTIMATORS, ClvModelWarning
from clvmodels.models import bgbb, bgnbd, gamma_gamma, model_spec, paretonbd, sbg

PARAMS = {
    "bgnbd": {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4},
    "mbgnbd": {"r": 0.52, "alpha": 6.2, "a": 0.89, "b": 1.6},
    "paretonbd": {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7},
    "bgbb": {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.4},
    "sbg": {"alpha": 0.7, "beta": 1.2},
}


def simulated_frame(model: str, n: int, seed: int) -> pd.DataFrame:
    """Customers simulated from the model itself, on a coarse grid so rows repeat."""
    rng = np.random.default_rng(seed)
    if model in ("bgnbd", "mbgnbd", "paretonbd", "gamma_gamma"):
        module = paretonbd if model == "paretonbd" else bgnbd
        params = PARAMS["bgnbd" if model in ("mbgnbd", "gamma_gamma") else model]
        t_weeks = rng.integers(20, 40, size=n).astype(float)
        sim = module.simulate(n, T=t_weeks, rng=rng, **params)
        frame = pd.DataFrame(
            {"frequency": sim["frequency"], "recency": np.floor(sim["recency"]), "T": t_weeks}
        )
        spend = gamma_gamma.simulate(
            n, frequency=frame["frequency"].to_numpy(), rng=rng, **PARAMS["gamma_gamma"]
        )
        frame["monetary_value"] = np.round(spend["monetary_value"] / 5) * 5
        return frame
    if model == "bgbb":
        sim = bgbb.simulate(n, n_periods=6, rng=rng, **PARAMS["bgbb"])
        return pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "n")})
    sim = sbg.simulate(n, n_periods=8, rng=rng, **PARAMS["sbg"])
    return pd.DataFrame({"tenure": sim["tenure"], "churned": sim["churned"]})


@settings(max_examples=12, deadline=None)
@given(model=st.sampled_from(sorted(PARAMS)), seed=st.integers(0, 10_000))
def test_compressed_frame_gives_the_expanded_likelihood(model, seed):
    """Collapsing identical customers into a count column changes nothing (exact)."""
    spec = model_spec(model)
    frame = simulated_frame(model, 300, seed)
    columns = list(spec.data_columns)
    compressed = frame.groupby(columns, as_index=False).size().rename(columns={"size": "count"})
    assert len(compressed) < len(frame)
    expanded_ll = log_likelihood_numpy(
        spec, PARAMS[model], {c: frame[c].to_numpy() for c in columns}
    )
    compressed_ll = log_likelihood_numpy(
        spec,
        PARAMS[model],
        {c: compressed[c].to_numpy() for c in columns},
        compressed["count"].to_numpy(),
    )
    assert compressed_ll == pytest.approx(expanded_ll, rel=1e-12)


@pytest.mark.parametrize("model", sorted(PARAMS))
def test_every_model_fits_saves_and_reloads_identically(model, tmp_path):
    frame = simulated_frame(model, 3000, seed=7)
    fitted = clvmodels.fit(model, frame)
    assert isinstance(fitted, ESTIMATORS[model])
    assert set(fitted.params_) == set(model_spec(model).param_names)
    table = fitted.summary()
    assert list(table.columns) == ["estimate", "std_err", "lower", "upper"]
    assert (table["lower"] > 0).all() and (table["lower"] < table["estimate"]).all()
    path = tmp_path / f"{model}.json"
    fitted.save(path)
    again = clvmodels.load_model(str(path))
    assert type(again) is type(fitted)
    assert again.params_ == fitted.params_
    assert again.result_.data_fingerprint == fitted.result_.data_fingerprint
    pd.testing.assert_frame_equal(again.summary(), table)


def test_reloaded_model_predicts_like_the_fitted_one(tmp_path):
    frame = simulated_frame("bgnbd", 2000, seed=3)
    fitted = clvmodels.fit("bgnbd", frame)
    fitted.save(tmp_path / "m.json")
    again = clvmodels.BGNBD.load(tmp_path / "m.json")
    pd.testing.assert_series_equal(
        again.predict_purchases(frame, 10.0), fitted.predict_purchases(frame, 10.0)
    )
    pd.testing.assert_series_equal(again.predict_p_alive(frame), fitted.predict_p_alive(frame))


def test_loading_a_file_of_another_model_is_refused(tmp_path):
    clvmodels.fit("sbg", simulated_frame("sbg", 500, seed=1)).save(tmp_path / "sbg.json")
    with pytest.raises(ModelLoadError, match="holds a 'sbg' model, not 'bgnbd'"):
        clvmodels.BGNBD.load(tmp_path / "sbg.json")


def test_loading_a_file_of_another_version_is_refused(tmp_path):
    path = tmp_path / "sbg.json"
    clvmodels.fit("sbg", simulated_frame("sbg", 500, seed=1)).save(path)
    payload = json.loads(path.read_text())
    payload["clvmodels_version"] = "0.0.1"
    path.write_text(json.dumps(payload))
    with pytest.raises(ModelLoadError, match="refit the model"):
        clvmodels.load_model(str(path))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"recency": 50.0}, r"'recency' row 0: greater than T \(value 50\)"),
        ({"frequency": -1.0}, r"'frequency' row 0: not a non-negative integer"),
        ({"frequency": 1.5}, r"'frequency' row 0: not a non-negative integer"),
        ({"T": np.nan}, r"'T' row 0: not a finite number \(value nan\)"),
    ],
)
def test_bad_summary_rows_are_named(change, message):
    frame = pd.DataFrame({"frequency": [2.0, 0.0], "recency": [30.0, 0.0], "T": [39.0, 39.0]})
    for column, value in change.items():
        frame.loc[0, column] = value
    with pytest.raises(DataError, match=message):
        clvmodels.fit("bgnbd", frame)


def test_missing_column_is_named():
    with pytest.raises(DataError, match="DataFrame: missing column 'T'"):
        clvmodels.fit("paretonbd", pd.DataFrame({"frequency": [1], "recency": [1]}))


def test_unknown_model_and_backend_are_clear_errors():
    frame = simulated_frame("sbg", 200, seed=2)
    with pytest.raises(FitError, match="unknown model 'bgnb'"):
        clvmodels.fit("bgnb", frame)
    with pytest.raises(FitError, match="unknown backend 'gpu'; use 'mle' or 'bayes'"):
        clvmodels.fit("sbg", frame, backend="gpu")
    with pytest.raises(FitError, match="unknown MLE option"):
        clvmodels.fit("sbg", frame, tolerance=1)
    with pytest.raises(FitError, match="unknown Bayesian option"):
        clvmodels.fit("sbg", frame, backend="bayes", init={"alpha": 1.0})


def test_unknown_option_error_lists_the_allowed_ones():
    """Issue 19: ``random_seed=1`` said only "unknown Bayesian option(s) random_seed"."""
    frame = simulated_frame("sbg", 200, seed=2)
    with pytest.raises(FitError, match=r"random_seed \(allowed: .*chains.*seed.*tune"):
        clvmodels.fit("sbg", frame, backend="bayes", random_seed=1)
    with pytest.raises(FitError, match=r"tolerance \(allowed: init, max_iter\)"):
        clvmodels.fit("sbg", frame, tolerance=1)


def test_gamma_gamma_infinite_mean_spend_is_an_error_not_a_number():
    """Fader & Hardie (2013, Gamma-Gamma note): E[spend] = p·gamma/(q − 1) needs q > 1."""
    frame = pd.DataFrame({"frequency": [1, 2], "monetary_value": [10.0, 20.0]})
    model = clvmodels.GammaGamma.from_result(
        clvmodels.FitResult("gamma_gamma", "mle", ("p", "q", "gamma"),
                            {"p": 2.0, "q": 0.8, "gamma": 5.0}, -1.0, 2, 2)
    )
    with pytest.raises(FitError, match=r"q = 0\.8 <= 1, so the expected spend per order"):
        model.predict_spend(frame)


def test_gamma_gamma_warns_when_frequency_and_spend_correlate():
    rng = np.random.default_rng(0)
    frequency = rng.integers(1, 12, size=800).astype(float)
    # spend grows with x; customers differ in taste, so that the heterogeneity of the
    # spend scale (q, gamma) is pinned down (without it q and gamma run off together)
    taste = rng.gamma(4.0, 1 / 4.0, size=800)
    spend = 5.0 * frequency * taste * rng.gamma(20.0, 1 / 20.0, size=800)
    frame = pd.DataFrame({"frequency": frequency, "monetary_value": spend})
    with pytest.warns(ClvModelWarning, match="correlated"):
        model = clvmodels.fit("gamma_gamma", frame)
    assert model.result_.diagnostics["frequency_spend_correlation"] > 0.3


def test_gamma_gamma_cdnow_correlation_is_reported_without_warning():
    """Fader & Hardie (2013): CDNOW frequency/spend correlation is 0.11 (weak)."""
    from clvmodels.data import load_builtin, summarize_transactions

    summary = summarize_transactions(
        load_builtin("cdnow_sample"), time_unit="W", calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClvModelWarning)
        model = clvmodels.fit("gamma_gamma", summary)
    assert model.result_.diagnostics["frequency_spend_correlation"] == pytest.approx(0.11, abs=0.01)
    assert model.result_.n_obs == 946
