"""Equality constraints on covariate coefficients in the maximum-likelihood backend
(CLVTools' ``names.cov.constr``): ``constraints=[["a", "b"]]`` makes the BG/NBD's ``a``
and ``b`` share one coefficient per covariate, ``a_i = a₀ e^(γ′z_i)``,
``b_i = b₀ e^(γ′z_i)``.

Expected values: the same model built by hand — each customer's parameters computed
with NumPy, the shared column entering once, the log-likelihood of
:func:`~clvmodels.backends.mle.log_likelihood_numpy` maximised with
``scipy.optimize.minimize`` (BFGS on finite differences) — and the definitions of AIC
and of :meth:`~clvmodels.results.FitResult.parameter_draws`.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from clvmodels.backends.design import CovariateLinks
from clvmodels.backends.mle import fit_mle, log_likelihood_numpy
from clvmodels.errors import FitError
from clvmodels.models import bgnbd
from clvmodels.models.links import linked_params

NAMES = ("member", "young")
PROCESSES = {"purchase": ("member",), "dropout": ("member", "young")}
TRUTH = {
    "r": 0.8,
    "alpha": 6.0,
    "a": 0.7,
    "b": 2.5,
    "alpha:member": 0.4,
    "a:member": -0.5,
    "b:member": -0.5,
    "a:young": 0.3,
    "b:young": 0.3,
}


def _simulated(n: int = 1500, seed: int = 18) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """BG/NBD customers whose ``a`` and ``b`` move with one coefficient per covariate."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, (n, 2)).astype(float)
    own = linked_params(bgnbd.SPEC, TRUTH, dict(zip(NAMES, z.T, strict=True)))
    params = {k: np.broadcast_to(v, (n,)) for k, v in own.items()}
    T = rng.integers(26, 79, n).astype(float)
    sim = bgnbd.simulate_customers(n, params, T, rng, dropout_at_start=False)
    return {c: sim[c] for c in ("frequency", "recency", "T")}, z


def _by_hand(x: np.ndarray, data: dict[str, np.ndarray], z: np.ndarray) -> float:
    """The constrained model's log-likelihood: ``x`` = (log r, log α, log a, log b,
    γ_α, γ_member, γ_young), the shared ``γ`` moving ``a`` and ``b`` alike."""
    r, alpha, a, b = np.exp(x[:4])
    shift = np.exp(x[5] * z[:, 0] + x[6] * z[:, 1])
    params = {"r": r, "alpha": alpha * np.exp(-x[4] * z[:, 0]), "a": a * shift, "b": b * shift}
    return log_likelihood_numpy(bgnbd.SPEC, params, data)


@pytest.fixture(scope="module")
def tied_fit():
    data, z = _simulated()
    links = CovariateLinks.build(bgnbd.SPEC, NAMES, z, PROCESSES, [["a", "b"]])
    return data, z, fit_mle(bgnbd.SPEC, data, covariates=links)


def test_tied_fit_equals_the_hand_built_model_with_the_shared_column_once(tied_fit):
    data, z, result = tied_fit
    assert result.param_names == ("r", "alpha", "a", "b", "alpha:member", "a:member", "a:young")
    assert result.coefficients == ("alpha:member", "a:member", "a:young")
    assert result.tied == {"b:member": "a:member", "b:young": "a:young"}
    estimate = result._coordinates()
    # the same log-likelihood at the estimate ...
    np.testing.assert_allclose(result.log_likelihood, _by_hand(estimate, data, z), rtol=1e-12)
    # ... and the same maximum, found independently from the fit without covariates
    plain = fit_mle(bgnbd.SPEC, data).params
    start = np.concatenate([np.log([plain[k] for k in bgnbd.SPEC.param_names]), np.zeros(3)])
    # (BFGS on finite differences of a sum of 1500 terms stops at "precision loss")
    hand = optimize.minimize(lambda x: -_by_hand(x, data, z), start, method="BFGS")
    np.testing.assert_allclose(estimate, hand.x, atol=2e-5)
    assert result.log_likelihood >= -hand.fun - 1e-7
    # the standard errors: the inverse Hessian of the hand-built log-likelihood (a step of
    # 1e-3: at 1e-4 rounding leaves up to 3e-3 of noise in the small off-diagonal terms)
    step = 1e-3
    hess = np.empty((7, 7))
    for i in range(7):
        e = np.zeros(7)
        e[i] = step
        for j in range(7):
            f = np.zeros(7)
            f[j] = step
            hess[i, j] = (
                _by_hand(estimate + e + f, data, z)
                - _by_hand(estimate + e - f, data, z)
                - _by_hand(estimate - e + f, data, z)
                + _by_hand(estimate - e - f, data, z)
            ) / (4 * step**2)
    np.testing.assert_allclose(result.cov_log, np.linalg.inv(-hess), rtol=2e-3, atol=1e-8)


def test_tied_coefficients_hold_their_source_value_and_count_once_in_aic(tied_fit):
    _, _, result = tied_fit
    assert result.params["b:member"] == result.params["a:member"]
    assert result.params["b:young"] == result.params["a:young"]
    assert result.cov_log.shape == (7, 7)
    assert result.n_params == 7  # 4 model parameters and 3 free coefficients, not 5
    assert result.aic == pytest.approx(-2 * result.log_likelihood + 2 * 7, rel=1e-15)
    table = result.summary()
    assert "b:member" not in table.index  # no estimate of its own


def test_tied_coefficient_draws_are_their_source_draws(tied_fit):
    _, _, result = tied_fit
    draws = result.parameter_draws(300, np.random.default_rng(7))
    np.testing.assert_array_equal(draws["b:member"], draws["a:member"])
    np.testing.assert_array_equal(draws["b:young"], draws["a:young"])
    assert np.std(draws["a:member"]) > 0


def test_constrained_fit_recovers_the_simulated_shared_effects_within_three_standard_errors(
    tied_fit,
):
    """The data were simulated with ``a`` and ``b`` sharing their effects (TRUTH)."""
    _, _, result = tied_fit
    for name in result.param_names:
        gap = abs(result.params[name] - TRUTH[name]) / result.std_err[name]
        assert gap < 3.0, (name, result.params[name], TRUTH[name], result.std_err[name])


def test_the_tied_fit_saves_and_reloads_with_its_constraint(tied_fit, tmp_path):
    _, _, result = tied_fit
    result.save(tmp_path / "tied.json")
    again = type(result).load(tmp_path / "tied.json")
    assert again.tied == result.tied
    assert again.params["b:young"] == result.params["a:young"]


def test_a_constraint_of_opposite_signs_is_refused():
    _, z = _simulated(50)
    with pytest.raises(FitError, match=r"constraints \[alpha, a\]: .*opposite signs"):
        CovariateLinks.build(bgnbd.SPEC, NAMES, z, PROCESSES, [["alpha", "a"]])
