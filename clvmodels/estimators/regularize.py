"""Constraints and the L2 penalty of covariate coefficients, as a fit's backend takes them.

The penalised log-likelihood of the maximum-likelihood backend is

    ℓ_λ(θ, γ) = ℓ(θ, γ) − λ Σ_j γ_j²

over the estimated coefficients ``γ_j`` (a coefficient shared by a constraint counts
once; the model's own parameters are not penalised).  It is the log-posterior of
independent ``γ_j ~ Normal(0, σ²)`` priors with ``σ = 1/√(2λ)`` and flat priors on the
rest, so its maximum is the posterior mode of that Bayesian model (e.g. Hastie,
Tibshirani & Friedman 2009, *The Elements of Statistical Learning*, 2nd ed., §3.4.1):
the Bayesian backend's default coefficient prior ``Normal(0, 1)`` corresponds to
``λ = 0.5``, and ``penalty=λ`` with ``backend="bayes"`` sets exactly that prior.
``penalty="auto"`` chooses ``λ`` by cross-validation over customers
(:func:`clvmodels.backends.penalty.choose_penalty`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from clvmodels.backends.design import CovariateLinks
from clvmodels.backends.penalty import AUTO, check_penalty
from clvmodels.errors import FitError


def penalty_sigma(penalty: float) -> float:
    """``σ = 1/√(2λ)``: the standard deviation of the Normal prior whose posterior mode
    is the L2-penalised estimate with penalty ``λ`` (module docstring)."""
    return 1.0 / math.sqrt(2.0 * penalty)


def check_regularization(
    key: str,
    constraints: Sequence[Sequence[str]] | None,
    penalty: float | str | None,
    has_covariates: bool,
) -> None:
    """Refuse a penalty that is neither a number ``≥ 0`` nor ``"auto"``, and
    constraints or a penalty on a fit without covariate coefficients."""
    check_penalty(key, penalty)
    if has_covariates:
        return
    if constraints:
        raise FitError(f"{key}: constraints tie covariate coefficients, but the fit has none")
    if penalty is not None:
        raise FitError(f"{key}: penalty shrinks covariate coefficients, but the fit has none")


def penalty_options(
    key: str,
    backend: str,
    penalty: float | str | None,
    options: Mapping[str, Any],
    links: CovariateLinks | None,
) -> dict[str, Any]:
    """The backend options with the penalty: the MLE backend's ``penalty`` option, or
    for the Bayesian backend the Normal prior of every estimated coefficient that
    ``options["priors"]`` does not set itself (module docstring).

    Raises
    ------
    FitError
        ``"auto"`` or ``0`` with the Bayesian backend (no prior corresponds to them).
    """
    check_regularization(key, None, penalty, links is not None)
    if penalty is None:
        return dict(options)
    if backend != "bayes":
        return {**options, "penalty": penalty}
    if penalty == AUTO or float(penalty) == 0:
        raise FitError(
            f"{key}: penalty {penalty!r} has no Bayesian counterpart; with backend bayes give "
            "a number lambda > 0 (the coefficients' prior becomes Normal(0, 1/sqrt(2 lambda))) "
            "or set their priors"
        )
    assert links is not None  # checked above
    sigma = penalty_sigma(float(penalty))
    priors = dict(options.get("priors") or {})
    for name in links.free_names():
        priors.setdefault(name, {"dist": "normal", "mu": 0.0, "sigma": sigma})
    return {**options, "priors": priors}
