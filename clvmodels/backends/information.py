"""Observed information of a fit: the Hessian of the log-likelihood (or log-posterior)
by central differences of its exact gradient, and its inverse, the asymptotic
covariance of the estimates (e.g. Pawitan 2001, *In All Likelihood*, ch. 8).  Shared by
the MLE backend (standard errors) and the Bayesian one (Laplace start of NUTS); the MLE
backend also asks :func:`undetermined` which parameters the data do not pin down."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]
"""``theta -> (value, gradient)`` of a log-likelihood in the log-parameters."""


def hessian(objective: Objective, theta: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Hessian of the log-likelihood by central differences of the exact gradient."""
    k = len(theta)
    hess = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step
        hess[i] = (objective(theta + e)[1] - objective(theta - e)[1]) / (2 * step)
    return (hess + hess.T) / 2


def invert_information(hessian: np.ndarray) -> tuple[np.ndarray, bool]:
    """Covariance ``(−H)^−1`` and whether ``−H`` is positive definite (else NaNs)."""
    information = -hessian
    try:
        eigenvalues = np.linalg.eigvalsh(information)
    except np.linalg.LinAlgError:
        return np.full_like(information, np.nan), False
    if not np.all(np.isfinite(eigenvalues)) or eigenvalues.min() <= 0:
        return np.full_like(information, np.nan), False
    return np.linalg.inv(information), True


PRECISION = float(np.sqrt(np.finfo(float).eps))
"""Relative precision of the observed information (≈ 1.5e-8): central differences of a
gradient that is itself exact only to about this relative error (the special functions
of the likelihoods, e.g. the Gauss hypergeometric function, are not exact to the last
bit).  Scaled to unit diagonal, an eigenvalue of the information below it cannot be
told from zero; the well-determined fits of the test suite (CDNOW, the donations data,
simulations with and without covariates) have their smallest above 1e-3."""

_LOADING = 0.1
"""A parameter takes part in a flat direction when its entry in that (unit) eigenvector
is at least this share of the largest entry."""


def undetermined(information: np.ndarray, theta: np.ndarray, bounds: np.ndarray) -> list[int]:
    """The coordinates of an estimate that the data do not pin down.

    Coordinate ``i`` is undetermined when

    - the estimate is at the edge of the box: ``|θ_i| > bound_i − 1e-3`` (the
      log-likelihood still rises towards the edge, e.g. a heterogeneity that vanishes);
    - it takes part in a direction along which the information, scaled to unit
      diagonal (the correlation form, so that the scale of a covariate does not
      matter), is not positive beyond :data:`PRECISION`: the information is singular
      there, or not positive definite (the estimate is no maximum along it), or holds
      a number that is not finite;
    - otherwise its standard error reaches the edge: ``|θ_i| + se_i > bound_i`` (the
      data cannot tell the estimate from the edge of the parameter space).

    Parameters
    ----------
    information
        The observed information ``−H`` at ``theta`` (estimation coordinates: logs of
        the parameters, covariate coefficients as they are).
    theta
        The estimate.
    bounds
        The box of the estimation: ``|θ_i| ≤ bounds[i]``.

    Returns
    -------
    list of int
        Sorted indices; empty for a well-determined estimate.
    """
    theta, bounds = np.asarray(theta, float), np.asarray(bounds, float)
    loose = set(np.flatnonzero(np.abs(theta) > bounds - 1e-3).tolist())
    if not np.all(np.isfinite(information)):
        return list(range(len(theta)))
    scale = np.sqrt(np.abs(np.diag(information)))
    scale[scale == 0] = 1.0
    eigenvalues, vectors = np.linalg.eigh(information / np.outer(scale, scale))
    flat = vectors[:, eigenvalues < PRECISION]
    if flat.shape[1]:
        share = np.abs(flat) / np.max(np.abs(flat), axis=0)
        loose.update(np.flatnonzero(np.max(share, axis=1) >= _LOADING).tolist())
    else:
        se = np.sqrt(np.diag(np.linalg.inv(information)))
        loose.update(np.flatnonzero(np.abs(theta) + se > bounds).tolist())
    return sorted(loose)
