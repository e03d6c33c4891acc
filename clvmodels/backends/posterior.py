"""The log posterior of a Bayesian fit as one NumPy callable, for our own NUTS.

``θ -> (log p(θ | data), ∇)`` with ``θ`` the log of each parameter (PyMC's sampling
coordinates of log-transformed priors, so the density is the same as PyMC's, constants
included — tested): the weighted log-likelihood of the compressed rows, compiled once by
PyTensor from the model's one likelihood (the same graph, and so the same on-disk
compiled function, :mod:`clvmodels.backends.compile_cache`, as the maximum-likelihood
backend's), plus the log prior written out here per family, with the log-Jacobian
``log θ`` of the log transform.  No PyMC model is built: a fresh process neither imports
PyMC nor compiles a model to sample.

The priors in log coordinates, ``u = log θ`` (densities as PyMC parametrises them):

* ``lognormal(μ, σ)``: ``u ~ Normal(μ, σ)``;
* ``gamma(α, β)`` (rate β): ``α log β − log Γ(α) + α u − β e^u``;
* ``exponential(λ)``: ``log λ + u − λ e^u``;
* ``halfnormal(σ)``: ``log 2 − ½ log 2π − log σ − e^{2u}/(2σ²) + u``;
* ``halfcauchy(β)``: ``log 2 − log π − log β − log(1 + e^{2u}/β²) + u``.

``uniform`` is sampled by PyMC through its interval, not on the log scale; a fit with such
a prior, with covariates or with a hazard pair's straightened coordinates uses PyMC's
NUTS (:func:`supports`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.special import gammaln

from clvmodels.backends import compile_cache
from clvmodels.backends.distinct import DistinctColumns
from clvmodels.models.ops import pytensor_ops
from clvmodels.models.spec import ModelSpec

LOG_SCALE_FAMILIES = ("lognormal", "gamma", "exponential", "halfnormal", "halfcauchy")
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def supports(priors: Mapping[str, Mapping[str, Any]], covariates: Any, hazards: bool) -> bool:
    """Whether our NUTS samples this fit: no covariates, no hazard coordinates, every
    prior a family of :data:`LOG_SCALE_FAMILIES`."""
    families = {str(p["dist"]).lower() for p in priors.values()}
    return covariates is None and not hazards and families <= set(LOG_SCALE_FAMILIES)


def log_prior_term(prior: Mapping[str, Any], u: float) -> tuple[float, float]:
    """``log p(u)`` and ``d/du`` of one parameter's prior at ``u = log θ`` (module
    docstring)."""
    family = str(prior["dist"]).lower()
    theta = math.exp(u)
    if family == "lognormal":
        mu, sigma = float(prior["mu"]), float(prior["sigma"])
        z = (u - mu) / sigma
        return -0.5 * z * z - math.log(sigma) - _HALF_LOG_2PI, -z / sigma
    if family == "gamma":
        alpha, beta = float(prior["alpha"]), float(prior["beta"])
        value = alpha * math.log(beta) - float(gammaln(alpha)) + alpha * u - beta * theta
        return value, alpha - beta * theta
    if family == "exponential":
        lam = float(prior["lam"])
        return math.log(lam) + u - lam * theta, 1.0 - lam * theta
    if family == "halfnormal":
        sigma = float(prior["sigma"])
        ratio = (theta / sigma) ** 2
        value = math.log(2.0) - _HALF_LOG_2PI - math.log(sigma) - 0.5 * ratio + u
        return value, 1.0 - ratio
    if family == "halfcauchy":
        beta = float(prior["beta"])
        ratio = (theta / beta) ** 2
        value = math.log(2.0 / math.pi) - math.log(beta) - math.log1p(ratio) + u
        return value, 1.0 - 2.0 * ratio / (1.0 + ratio)
    raise ValueError(f"{family}: not a log-scale prior family")


def compiled_log_likelihood(
    spec: ModelSpec, columns: Mapping[str, np.ndarray], weights: np.ndarray
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``θ -> (Σ w ℓ(θ), ∇)`` on the rows, ``θ`` the log-parameters in
    ``spec.param_names`` order; the terms marked ``xp.distinct`` are evaluated once per
    distinct value pair (:mod:`clvmodels.backends.distinct`)."""
    import pytensor.tensor as pt

    theta = pt.dvector("theta")
    params = {k: pt.exp(theta[i]) for i, k in enumerate(spec.param_names)}
    inputs = {c: pt.dvector(c) for c in columns}
    weight = pt.dvector("weight")
    distinct = DistinctColumns(inputs)
    per_row = spec.log_likelihood(**params, **inputs, xp=distinct.ops(pytensor_ops()))
    total = pt.sum(weight * per_row)
    arguments = [theta, weight, *inputs.values(), *distinct.inputs()]
    fn = compile_cache.value_and_gradient(f"{spec.key}_loglik_grad", arguments, total, theta)
    data = [np.asarray(columns[c], dtype=float) for c in columns]
    values = [np.asarray(weights, dtype=float), *data, *distinct.values(dict(columns))]
    fn.trust_input = True

    def evaluate(u: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = fn(np.asarray(u, dtype=float), *values)
        return float(value), np.asarray(grad, dtype=float)

    return evaluate


def log_posterior(
    spec: ModelSpec,
    columns: Mapping[str, np.ndarray],
    weights: np.ndarray,
    priors: Mapping[str, Mapping[str, Any]],
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``u -> (log p(u | data), ∇)``, ``u`` the log of each parameter of ``spec``; a
    non-finite value is reported as ``-inf`` with a zero gradient (the sampler then
    treats the step as divergent)."""
    likelihood = compiled_log_likelihood(spec, columns, weights)
    chosen = [priors[k] for k in spec.param_names]

    def evaluate(u: np.ndarray) -> tuple[float, np.ndarray]:
        if not np.all(np.abs(u) < 700.0):  # e^u overflows: far outside any posterior
            return -math.inf, np.zeros(len(u))
        value, grad = likelihood(u)
        grad = grad.copy()
        for i, prior in enumerate(chosen):
            lp, dlp = log_prior_term(prior, float(u[i]))
            value += lp
            grad[i] += dlp
        if not (math.isfinite(value) and np.all(np.isfinite(grad))):
            return -math.inf, np.zeros_like(grad)
        return value, grad

    return evaluate
