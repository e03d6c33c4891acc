"""Observed information of a fit: the Hessian of the log-likelihood (or log-posterior)
by central differences of its exact gradient, and its inverse, the asymptotic
covariance of the estimates (e.g. Pawitan 2001, *In All Likelihood*, ch. 8).  Shared by
the MLE backend (standard errors) and the Bayesian one (Laplace start of NUTS)."""

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
