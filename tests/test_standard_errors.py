"""Standard errors and intervals of the maximum-likelihood fits on CDNOW (Fader, Hardie &
Lee 2005: 2,357 customers, 39 calibration weeks), checked against an independent
implementation: lifetimes' ``summary`` (BG/NBD, Gamma-Gamma: the inverse Hessian of its
own likelihood in the parameters) and, where lifetimes reports none (Pareto/NBD), the
inverse of a finite-difference Hessian of lifetimes' Pareto/NBD log-likelihood.

At the maximum the observed information in the parameters and in their logarithms give
the same standard errors by the delta method (the gradient term vanishes), so ours,
computed on the log scale, must equal lifetimes' up to the accuracy of the Hessians.
Our intervals are formed on the log scale, ``θ · exp(±z · se/θ)``, and stay positive.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import clvmodels

pytestmark = pytest.mark.lifetimes
lifetimes = pytest.importorskip("lifetimes")


@pytest.fixture(scope="module")
def summary(cdnow_summary):
    frame = cdnow_summary.copy()
    frame["recency"] = frame["recency"].round(2)  # as in the paper's data file
    frame["T"] = frame["T"].round(2)
    return frame


_FITS: dict[str, object] = {}


def _ours(model: str, summary):
    """Our fit's parameter table (each model fitted once per session)."""
    if model not in _FITS:
        _FITS[model] = clvmodels.fit(model, summary).summary(0.95)
    return _FITS[model]


def test_bgnbd_standard_errors_equal_lifetimes_summary_on_cdnow(summary):
    theirs = lifetimes.BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    ours = _ours("bgnbd", summary)
    for name in ("r", "alpha", "a", "b"):
        assert ours.loc[name, "estimate"] == pytest.approx(
            theirs.summary.loc[name, "coef"], rel=1e-4
        )
        assert ours.loc[name, "std_err"] == pytest.approx(
            theirs.summary.loc[name, "se(coef)"], rel=2e-3
        )


def test_gamma_gamma_standard_errors_equal_lifetimes_summary_on_cdnow(summary):
    repeat = summary[summary["frequency"] > 0]
    theirs = lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    ours = _ours("gamma_gamma", summary)
    for name, their_name in (("p", "p"), ("q", "q"), ("gamma", "v")):
        assert ours.loc[name, "estimate"] == pytest.approx(
            theirs.summary.loc[their_name, "coef"], rel=1e-4
        )
        assert ours.loc[name, "std_err"] == pytest.approx(
            theirs.summary.loc[their_name, "se(coef)"], rel=2e-3
        )


def _inverse_hessian_std_errors(log_likelihood, theta: np.ndarray, step: float = 1e-4):
    """Standard errors of ``θ`` from a central-difference Hessian of ``log_likelihood``
    in ``log θ`` (an implementation independent of ours)."""
    k = len(theta)
    log_theta = np.log(theta)
    hessian = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):  # symmetric: the upper triangle
            total = 0.0
            for si, sj, sign in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
                point = log_theta.copy()
                point[i] += si * step
                point[j] += sj * step
                total += sign * log_likelihood(np.exp(point))
            hessian[i, j] = hessian[j, i] = total / (4 * step * step)
    covariance_log = np.linalg.inv(-hessian)
    return theta * np.sqrt(np.diag(covariance_log))


def test_paretonbd_standard_errors_equal_the_inverse_hessian_of_lifetimes_likelihood(summary):
    fitter = lifetimes.ParetoNBDFitter
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))

    def log_likelihood(params: np.ndarray) -> float:
        return float(np.sum(fitter._conditional_log_likelihood(params, x, t_x, T)))

    ours = _ours("paretonbd", summary)
    theta = ours.loc[["r", "alpha", "s", "beta"], "estimate"].to_numpy()
    expected = _inverse_hessian_std_errors(log_likelihood, theta)
    np.testing.assert_allclose(ours["std_err"].to_numpy(), expected, rtol=2e-3)


@pytest.mark.parametrize("model", ["bgnbd", "paretonbd", "gamma_gamma"])
def test_intervals_are_log_scale_wald_intervals_of_the_standard_errors(summary, model):
    ours = _ours(model, summary)
    z = stats.norm.ppf(0.975)
    spread = np.exp(z * ours["std_err"] / ours["estimate"])
    np.testing.assert_allclose(ours["lower"], ours["estimate"] / spread, rtol=1e-10)
    np.testing.assert_allclose(ours["upper"], ours["estimate"] * spread, rtol=1e-10)
    assert (ours["lower"] > 0).all()
