"""Covariates in the Bayesian backend: the link of Fader & Hardie (2007, note 019),
``α_i = α₀ exp(−γ₁′z_i)``, ``a_i = a₀ exp(γ₂′z_i)``, ``b_i = b₀ exp(γ₃′z_i)``, with
Normal(0, 1) priors on the coefficients.

Expected values: the known effects of simulated data (BG/NBD customers simulated per
covariate group), the maximum-likelihood fit with the same covariates (for posterior
means and the MAP), and round trips.  Runs are short (2 chains × 300 draws).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from clvmodels.backends import bayes
from clvmodels.backends.design import CovariateLinks
from clvmodels.backends.mle import fit_mle
from clvmodels.backends.priors import check_priors
from clvmodels.errors import ConfigError
from clvmodels.models import bgnbd, gamma_gamma
from clvmodels.models.links import linked_params
from clvmodels.results import FitResult

TRUTH = {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}
EFFECT = {"alpha:member": 0.5, "a:member": -0.4, "b:member": 0.3}
COLUMNS = ("frequency", "recency", "T")


def _member_customers(
    n: int, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], CovariateLinks]:
    """``n`` non-members and ``n`` members simulated with their own BG/NBD parameters
    (members buy more often and drop out less), observed for 26-52 whole weeks."""
    frames, member = [], []
    for z in (0.0, 1.0):
        own = linked_params(bgnbd.SPEC, {**TRUTH, **EFFECT}, {"member": np.array(z)})
        params = {k: float(v) for k, v in own.items()}
        T = rng.integers(26, 53, n).astype(float)
        sim = bgnbd.simulate(n, **params, T=T, rng=rng)
        frames.append({c: np.round(sim[c]) for c in COLUMNS})
        member.append(np.full(n, z))
    data = {c: np.concatenate([f[c] for f in frames]) for c in COLUMNS}
    links = CovariateLinks.build(
        bgnbd.SPEC,
        ("member",),
        np.concatenate(member)[:, None],
        {"purchase": ("member",), "dropout": ("member",)},
    )
    return data, links


def _short_nuts(spec, data, **options):
    """2 chains × 300 draws; a short run may warn about ESS, so the tests check R-hat
    themselves instead of letting the warning fail them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bayes.ConvergenceWarning)
        return bayes.fit_bayes(
            spec, data, chains=2, draws=300, tune=300, cores=1, ess_floor=100, **options
        )


@pytest.fixture(scope="module")
def members():
    return _member_customers(4000, np.random.default_rng(2007))


@pytest.fixture(scope="module")
def members_mle(members):
    data, links = members
    return fit_mle(bgnbd.SPEC, data, covariates=links)


@pytest.fixture(scope="module")
def members_nuts(members):
    data, links = members
    return _short_nuts(bgnbd.SPEC, data, covariates=links, seed=3)


def test_nuts_recovers_simulated_member_effects_and_matches_mle(members_nuts, members_mle):
    result = members_nuts
    names = (*bgnbd.SPEC.param_names, *EFFECT)
    assert result.param_names == names and result.coefficients == tuple(EFFECT)
    assert result.diagnostics["init"] == "Laplace approximation at the MLE"
    assert set(result.diagnostics["parameters"]) == set(names)
    assert result.diagnostics["priors"]["a:member"] == {"dist": "normal", "mu": 0.0, "sigma": 1.0}
    sd = result.std_err
    for name, truth in {**TRUTH, **EFFECT}.items():
        assert abs(result.params[name] - truth) < 3 * sd[name], (name, result.params[name])
        assert abs(result.params[name] - members_mle.params[name]) < 0.5 * sd[name], name
        assert result.diagnostics["parameters"][name]["r_hat"] < 1.05, name
    assert (result.draws["a:member"] < 0).mean() > 0.9  # drawn on its own scale, not logged
    # cov_log: log of the positive parameters, coefficients as they are
    assert result.cov_log.shape == (7, 7)
    assert result.cov_log[4, 4] == pytest.approx(np.var(result.draws["alpha:member"], ddof=1))
    assert result.cov_log[0, 0] == pytest.approx(np.var(np.log(result.draws["r"]), ddof=1))
    # the log-likelihood uses each customer's own parameters: close to the maximum
    assert members_mle.log_likelihood - 10 < result.log_likelihood <= members_mle.log_likelihood


def test_bayes_fit_with_covariates_round_trips_through_netcdf(members_nuts, tmp_path):
    path = tmp_path / "bgnbd.nc"
    members_nuts.save(path)
    back = FitResult.load(path)
    assert back.param_names == members_nuts.param_names
    assert back.coefficients == members_nuts.coefficients
    assert back.params == members_nuts.params
    np.testing.assert_array_equal(back.cov_log, members_nuts.cov_log)
    for name in members_nuts.param_names:
        np.testing.assert_array_equal(back.draws[name], members_nuts.draws[name])
    assert back.inference_data().posterior["b:member"].shape == (2, 300)


def test_netcdf_keeps_coefficient_names_netcdf_cannot_hold_as_they_are(tmp_path):
    """Names with ':' and '[]' are stored as they are; '/', '%', non-ASCII characters and
    trailing blanks are percent-encoded in the file and decoded on load."""
    names = ("r", "alpha", "alpha:channel[web]", "a:région/zone", "b:50%", "b:x ", "b:x")
    rng = np.random.default_rng(0)
    draws = {k: rng.normal(size=8) if ":" in k else rng.gamma(2.0, size=8) for k in names}
    result = FitResult(
        model="bgnbd",
        backend="bayes",
        param_names=names,
        params={k: float(v.mean()) for k, v in draws.items()},
        log_likelihood=-1.0,
        n_obs=10.0,
        n_unique=10,
        draws=draws,
        diagnostics={"draws_shape": [2, 4]},
        coefficients=names[2:],
    )
    assert "alpha:channel[web]" in result.draws_dataset().data_vars
    result.save(tmp_path / "fit.nc")
    back = FitResult.load(tmp_path / "fit.nc")
    assert back.param_names == names and back.coefficients == names[2:]
    assert set(back.draws) == set(names)
    for name in names:
        np.testing.assert_array_equal(back.draws[name], draws[name])


def test_map_with_covariates_matches_mle(members, members_mle):
    data, links = members
    result = bayes.fit_bayes(bgnbd.SPEC, data, covariates=links, method="map")
    assert result.param_names == members_mle.param_names and result.draws is None
    for name in members_mle.param_names:
        se = members_mle.std_err[name]
        assert abs(result.params[name] - members_mle.params[name]) < 0.4 * se, name
        assert result.std_err[name] == pytest.approx(se, rel=0.2), name
    assert result.log_likelihood == pytest.approx(members_mle.log_likelihood, abs=1.0)


@pytest.mark.parametrize(
    ("priors", "message"),
    [
        ({"a:member": {"dist": "lognormal", "mu": 0, "sigma": 1}}, "lognormal is for positive"),
        ({"a:member": {"dist": "normal", "mu": 0, "sigma": 0}}, "sigma: must be positive"),
        ({"a": {"dist": "normal", "mu": 0, "sigma": 1}}, "normal is for covariate coefficients"),
        ({"a:age": {"dist": "normal", "mu": 0, "sigma": 1}}, "has no parameter 'a:age'"),
    ],
)
def test_bad_coefficient_priors_are_one_line_errors_naming_the_key(priors, message):
    coefficients = tuple(EFFECT)
    with pytest.raises(ConfigError, match=message) as info:
        check_priors(bgnbd.SPEC, priors, coefficients=coefficients)
    (key,) = priors
    assert f"priors.{key}" in str(info.value) and "\n" not in str(info.value)


def test_coefficient_priors_before_the_data_are_read_count_any_linked_parameter():
    prior = {"dist": "normal", "mu": 0.0, "sigma": 0.5}
    check_priors(bgnbd.SPEC, {"alpha:member": prior}, coefficients=None)
    with pytest.raises(ConfigError, match="has no parameter 'r:member'"):
        check_priors(bgnbd.SPEC, {"r:member": prior}, coefficients=None)


def test_gamma_gamma_spend_effect_with_a_slash_in_its_name_matches_mle():
    """A covariate named ``web/app`` (PyMC refuses '/' in names) on Gamma-Gamma's scale
    ``gamma`` (members of the group spend e^0.4 ≈ 1.5 times as much)."""
    rng = np.random.default_rng(11)
    n = 1500
    group = rng.integers(0, 2, n).astype(float)
    frequency = rng.integers(1, 8, n).astype(float)
    spend = np.empty(n)
    for z in (0.0, 1.0):
        rows = group == z
        sim = gamma_gamma.simulate(
            int(rows.sum()),
            p=6.0,
            q=4.0,
            gamma=15.0 * math.exp(0.4 * z),
            frequency=frequency[rows],
            rng=rng,
        )
        spend[rows] = sim["monetary_value"]
    data = {"frequency": frequency, "monetary_value": spend}
    links = CovariateLinks.build(
        gamma_gamma.SPEC, ("web/app",), group[:, None], {"spend": ("web/app",)}
    )
    result = _short_nuts(gamma_gamma.SPEC, data, covariates=links, seed=5)
    mle = fit_mle(gamma_gamma.SPEC, data, covariates=links)
    assert result.param_names == ("p", "q", "gamma", "gamma:web/app")
    assert result.diagnostics["parameters"]["gamma:web/app"]["r_hat"] < 1.05
    sd = result.std_err["gamma:web/app"]
    assert abs(result.params["gamma:web/app"] - mle.params["gamma:web/app"]) < 0.5 * sd
    assert abs(result.params["gamma:web/app"] - 0.4) < 3 * sd
