"""The L2 penalty of covariate coefficients in the maximum-likelihood backend,
``ℓ(θ, γ) − λ Σ_j γ_j²``, and its choice by cross-validation (``penalty="auto"``).

Expected values: the definition — ``λ = 0`` is the plain MLE, ``λ → ∞`` the model
without covariates, and the maximum is the posterior mode under ``γ_j ~ Normal(0, σ)``
with ``σ = 1/√(2λ)`` (Hastie, Tibshirani & Friedman 2009, §3.4.1), computed here
independently with ``scipy.optimize`` on the NumPy log-likelihood plus the log prior;
the norm of a penalised estimate does not grow with ``λ`` (compare the two objectives
at the two maxima); a simulation with known effects for the cross-validated choice.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from clvmodels.backends.design import CovariateLinks
from clvmodels.backends.mle import fit_mle, log_likelihood_numpy
from clvmodels.backends.penalty import CrossValidation, fold_weights, penalty_grid
from clvmodels.errors import FitError
from clvmodels.models import bgnbd
from clvmodels.models.links import linked_params

NAMES = ("member", "young")
BOTH = {"purchase": NAMES, "dropout": NAMES}
TRUTH = {
    "r": 0.8,
    "alpha": 6.0,
    "a": 0.7,
    "b": 2.5,
    "alpha:member": 0.4,
    "alpha:young": -0.3,
    "a:member": -0.5,
    "a:young": 0.3,
    "b:member": 0.4,
    "b:young": -0.2,
}
COEFFICIENTS = tuple(k for k in TRUTH if ":" in k)


def _simulated(n: int, seed: int) -> tuple[dict[str, np.ndarray], CovariateLinks]:
    """BG/NBD customers with two binary covariates on both processes (TRUTH)."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, (n, 2)).astype(float)
    own = linked_params(bgnbd.SPEC, TRUTH, dict(zip(NAMES, z.T, strict=True)))
    params = {k: np.broadcast_to(v, (n,)) for k, v in own.items()}
    T = rng.integers(26, 79, n).astype(float)
    sim = bgnbd.simulate_customers(n, params, T, rng, dropout_at_start=False)
    data = {c: sim[c] for c in ("frequency", "recency", "T")}
    return data, CovariateLinks.build(bgnbd.SPEC, NAMES, z, BOTH)


@pytest.fixture(scope="module")
def small():
    return _simulated(600, 11)


def _log_posterior(x: np.ndarray, data: dict[str, np.ndarray], links, sigma: float) -> float:
    """NumPy log-likelihood at coordinates ``x`` (log-parameters, then the coefficients)
    plus independent ``Normal(0, sigma)`` log-priors on the coefficients."""
    params = dict(zip(bgnbd.SPEC.param_names, np.exp(x[:4]), strict=True))
    params |= dict(zip(COEFFICIENTS, x[4:], strict=True))
    z = {c: links.designs["alpha"][links.pattern, j] for j, c in enumerate(NAMES)}
    own = linked_params(bgnbd.SPEC, params, z)
    prior = stats.norm.logpdf(x[4:], 0.0, sigma).sum() if np.isfinite(sigma) else 0.0
    return log_likelihood_numpy(bgnbd.SPEC, own, data) + prior


def test_zero_penalty_equals_the_plain_mle_to_1e_8(small):
    data, links = small
    plain = fit_mle(bgnbd.SPEC, data, covariates=links)
    zero = fit_mle(bgnbd.SPEC, data, covariates=links, penalty=0.0)
    for k in plain.param_names:
        assert zero.params[k] == pytest.approx(plain.params[k], rel=1e-8, abs=1e-8)
    assert zero.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-12)
    assert zero.diagnostics["penalty"]["l2"] == 0.0
    assert zero.diagnostics["penalty"]["chosen_by"] == "given"
    assert "penalty" not in plain.diagnostics


def test_a_huge_penalty_gives_the_fit_without_covariates(small):
    data, links = small
    shrunk = fit_mle(bgnbd.SPEC, data, covariates=links, penalty=1e9)
    without = fit_mle(bgnbd.SPEC, data)
    for k in COEFFICIENTS:
        assert abs(shrunk.params[k]) < 1e-5, k
        assert shrunk.std_err[k] < 1e-4  # the prior's sd 1/sqrt(2e9) = 2.2e-5
    for k in bgnbd.SPEC.param_names:
        assert shrunk.params[k] == pytest.approx(without.params[k], rel=1e-4), k
    assert shrunk.log_likelihood == pytest.approx(without.log_likelihood, rel=1e-8)


def test_penalised_estimate_is_the_posterior_mode_of_the_normal_prior_model(small):
    data, links = small
    l2 = 2.0
    sigma = 1.0 / np.sqrt(2.0 * l2)
    result = fit_mle(bgnbd.SPEC, data, covariates=links, penalty=l2)
    plain = fit_mle(bgnbd.SPEC, data).params
    start = np.concatenate([np.log([plain[k] for k in bgnbd.SPEC.param_names]), np.zeros(6)])
    # (BFGS on finite differences stops at "precision loss" close to the optimum)
    mode = optimize.minimize(lambda x: -_log_posterior(x, data, links, sigma), start)
    estimate = result._coordinates()
    np.testing.assert_allclose(estimate, mode.x, atol=2e-5)
    # log_likelihood is the unpenalised one; the record holds the penalised one
    assert result.log_likelihood == pytest.approx(
        _log_posterior(estimate, data, links, np.inf), rel=1e-12
    )
    gamma = estimate[4:]
    assert result.diagnostics["penalty"]["penalised_log_likelihood"] == pytest.approx(
        result.log_likelihood - l2 * gamma @ gamma, rel=1e-12
    )
    # the covariance: the inverse Hessian of the log-posterior (the Laplace approximation)
    step, k = 1e-4, len(estimate)
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            e, f = np.eye(k)[i] * step, np.eye(k)[j] * step
            hess[i, j] = sum(
                s * _log_posterior(estimate + a + b, data, links, sigma)
                for s, a, b in ((1, e, f), (-1, e, -f), (-1, -e, f), (1, -e, -f))
            ) / (4 * step**2)
    np.testing.assert_allclose(result.cov_log, np.linalg.inv(-hess), rtol=2e-3, atol=1e-8)


@settings(max_examples=10, deadline=None)
@given(
    low=st.floats(-2.0, 3.0),
    gap=st.floats(0.1, 2.0),
)
def test_the_norm_of_the_penalised_coefficients_does_not_grow_with_the_penalty(small, low, gap):
    """For ``λ₁ < λ₂``: ``‖γ_λ₂‖ ≤ ‖γ_λ₁‖`` and ``ℓ(γ_λ₂) ≤ ℓ(γ_λ₁)`` (add the two
    optimality inequalities of the maxima); single coefficients may cross zero."""
    data, links = small
    weak, strong = (
        fit_mle(bgnbd.SPEC, data, covariates=links, penalty=10.0**e) for e in (low, low + gap)
    )

    def norm(result):
        return np.linalg.norm([result.params[k] for k in COEFFICIENTS])

    assert norm(strong) <= norm(weak) + 1e-7
    assert strong.log_likelihood <= weak.log_likelihood + 1e-7


def test_fold_weights_split_every_row_over_the_folds_reproducibly():
    weights = np.array([50.0, 1.0, 3.0, 200.0, 7.0])
    held = fold_weights(weights)
    assert held.shape == (5, 5)
    np.testing.assert_array_equal(held.sum(axis=0), weights)
    np.testing.assert_array_equal(held, np.round(held))
    np.testing.assert_array_equal(held, fold_weights(weights))  # a fixed seed
    assert held[:, 3].min() >= 20  # 200 customers: about 40 per fold
    fractional = fold_weights(np.array([0.5, 2.5, 1.25]))
    assert np.all((fractional > 0).sum(axis=0) == 1)  # whole rows to one fold
    np.testing.assert_array_equal(fractional.sum(axis=0), [0.5, 2.5, 1.25])


def test_one_standard_error_rule_on_hand_made_scores():
    """Held-out scores per (penalty, fold), strongest penalty first; the third is the best.
    ``noisy`` differs from it by (−0.0001, 0.002, 0, 0, 0): mean 0.00038, paired standard
    error sd/√5 = 0.000907/2.236 = 0.000405, within one SE; ``steady`` by (2, 2, 4, 0, 2)
    × 1e-4: mean 0.0002, standard error 0.000141/2.236 = 0.0000632, not within."""
    base = np.array([-2.0, -2.1, -1.9, -2.05, -1.95])
    noisy = base - np.array([-0.0001, 0.002, 0.0, 0.0, 0.0])
    steady = base - np.array([2.0, 2.0, 4.0, 0.0, 2.0]) * 1e-4
    failed = np.full(5, -np.inf)
    grid = penalty_grid(10.0)[:5]
    cv = CrossValidation(grid, np.stack([base - 0.5, noisy, base, steady, failed]), (None,) * 5)
    assert cv.best == 2
    np.testing.assert_allclose(cv.paired_se()[1], 0.000405, rtol=2e-3)
    assert cv.one_se == 1  # the strongest penalty within one SE of the best
    assert cv.ranked() == [1, 2, 3, 0]  # the choice, then by mean score
    cv = CrossValidation(grid, np.stack([base - 0.5, steady, base, noisy, failed]), (None,) * 5)
    assert cv.one_se == 2
    record = cv.diagnostics(grid[2])
    assert record["status"] == ["ok"] * 4 + ["no finite maximum"]
    assert record["scores"][4] is None and record["best_l2"] == grid[2]


def test_cross_validated_penalty_recovers_simulated_effects_within_two_standard_errors():
    data, links = _simulated(3000, 5)
    result = fit_mle(bgnbd.SPEC, data, covariates=links, penalty="auto")
    record = result.diagnostics["penalty"]
    assert record["chosen_by"] == "cross-validation"
    assert record["grid"] == list(penalty_grid(3000))
    assert record["l2"] in record["grid"] and record["status"][-1] == "ok"
    for k in COEFFICIENTS:
        gap = abs(result.params[k] - TRUTH[k]) / result.std_err[k]
        assert gap < 2.0, (k, result.params[k], TRUTH[k], result.std_err[k])


def test_a_penalty_that_is_no_number_is_refused(small):
    data, links = small
    for bad in (-1.0, "big", float("nan"), True):
        with pytest.raises(FitError, match="penalty must be a number >= 0 or 'auto'"):
            fit_mle(bgnbd.SPEC, data, covariates=links, penalty=bad)
