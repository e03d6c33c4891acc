"""The MLE backend on a small model with a known answer, and the result type."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.backends.compress import compress_rows, fingerprint_rows
from clvmodels.backends.mle import fit_mle
from clvmodels.errors import FitError, ModelLoadError
from clvmodels.models.spec import ModelSpec
from clvmodels.results import FitResult


def _exponential_loglik(lam, *, duration, xp):
    """Exponential durations with rate ``lam``: log f = log lam - lam * duration."""
    return xp.log(lam) - lam * duration


EXPONENTIAL = ModelSpec(
    key="exponential",
    name="exponential (test model)",
    param_names=("lam",),
    rate_params=(),
    data_columns=("duration",),
    log_likelihood=_exponential_loglik,
    initial_params=lambda data, w: {"lam": 1.0},
    reference="textbook: the MLE of an exponential rate is 1 / mean",
)


def test_exponential_mle_equals_textbook_closed_form():
    rng = np.random.default_rng(1)
    duration = rng.exponential(2.0, size=500)
    result = fit_mle(EXPONENTIAL, {"duration": duration})
    lam_hat = 1 / duration.mean()
    assert result.params["lam"] == pytest.approx(lam_hat, rel=1e-9)
    # observed information of log(lam) is n, so se(lam) = lam / sqrt(n)
    assert result.std_err["lam"] == pytest.approx(lam_hat / np.sqrt(500), rel=1e-5)
    assert result.log_likelihood == pytest.approx(
        500 * np.log(lam_hat) - lam_hat * duration.sum(), rel=1e-12
    )
    interval = result.conf_int(0.95)
    assert 0 < interval.loc["lam", "lower"] < lam_hat < interval.loc["lam", "upper"]
    assert result.aic == pytest.approx(-2 * result.log_likelihood + 2)


def test_weights_equal_expanded_rows():
    duration = np.array([0.5, 1.0, 1.0, 1.0, 3.0])
    expanded = fit_mle(EXPONENTIAL, {"duration": duration})
    weighted = fit_mle(EXPONENTIAL, {"duration": np.array([0.5, 1.0, 3.0])}, np.array([1, 3, 1]))
    assert weighted.params["lam"] == pytest.approx(expanded.params["lam"], rel=1e-12)
    assert weighted.log_likelihood == pytest.approx(expanded.log_likelihood, rel=1e-12)
    assert weighted.n_obs == expanded.n_obs == 5
    assert weighted.n_unique == 3
    assert weighted.data_fingerprint == expanded.data_fingerprint


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_compress_rows_preserves_every_row(rows):
    a = np.array([r[0] for r in rows], dtype=float)
    b = np.array([r[1] for r in rows], dtype=float)
    unique, weights = compress_rows({"a": a, "b": b})
    assert weights.sum() == len(rows)
    pairs = set(zip(unique["a"], unique["b"], strict=True))
    assert len(pairs) == len(weights)
    for (ua, ub), w in zip(zip(unique["a"], unique["b"], strict=True), weights, strict=True):
        assert w == sum(1 for r in rows if r == (ua, ub))
    shuffled = np.random.default_rng(0).permutation(len(rows))
    u2, w2 = compress_rows({"a": a[shuffled], "b": b[shuffled]})
    assert fingerprint_rows(unique, weights) == fingerprint_rows(u2, w2)


def test_unidentified_model_is_a_clear_error():
    # all durations zero: the rate runs off to infinity
    with pytest.raises(FitError, match="edge of the parameter space"):
        fit_mle(EXPONENTIAL, {"duration": np.zeros(10)})


def test_missing_column_is_a_clear_error():
    with pytest.raises(FitError, match="lacks column"):
        fit_mle(EXPONENTIAL, {"other": np.ones(3)})


def test_result_json_round_trip(tmp_path):
    result = fit_mle(EXPONENTIAL, {"duration": np.array([1.0, 2.0, 4.0])}, time_unit="W")
    path = tmp_path / "m.json"
    result.save(path)
    loaded = FitResult.load(path)
    assert loaded.params == result.params
    assert loaded.time_unit == "W"
    np.testing.assert_allclose(loaded.cov_log, result.cov_log)
    assert loaded.summary().equals(result.summary())


def test_loading_other_version_is_refused(tmp_path):
    result = fit_mle(EXPONENTIAL, {"duration": np.array([1.0, 2.0])})
    payload = result.to_dict()
    payload["clvmodels_version"] = "9.0.0"
    path = tmp_path / "old.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(ModelLoadError, match="incompatible"):
        FitResult.load(path)
    path.write_text("{not json")
    with pytest.raises(ModelLoadError, match="not a readable JSON"):
        FitResult.load(path)


def test_parameter_draws_are_positive_and_centred():
    rng = np.random.default_rng(3)
    result = fit_mle(EXPONENTIAL, {"duration": rng.exponential(1.0, 2000)})
    draws = result.parameter_draws(4000, np.random.default_rng(0))
    assert np.all(draws["lam"] > 0)
    assert np.median(draws["lam"]) == pytest.approx(result.params["lam"], rel=0.01)


def test_a_fit_evaluates_no_point_twice_in_a_row(monkeypatch):
    # the optimiser ends where the Newton polish starts and the result reads the value
    # at the estimate again: those repeats come from the last evaluation
    from clvmodels.backends import tape

    seen: list[bytes] = []
    objective = tape.TapedLikelihood.objective

    def spy(self, w):
        evaluate = objective(self, w)

        def recorded(theta):
            seen.append(np.asarray(theta, dtype=float).tobytes())
            return evaluate(theta)

        return recorded

    monkeypatch.setattr(tape.TapedLikelihood, "objective", spy)
    duration = np.random.default_rng(2).exponential(2.0, size=300)
    result = fit_mle(EXPONENTIAL, {"duration": duration})
    assert result.params["lam"] == pytest.approx(1 / duration.mean(), rel=1e-9)
    assert all(a != b for a, b in itertools.pairwise(seen))
