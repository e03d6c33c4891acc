"""Observed information of a fit: the Hessian of the log-likelihood (or log-posterior)
by central differences of its exact gradient, and its inverse, the asymptotic
covariance of the estimates (e.g. Pawitan 2001, *In All Likelihood*, ch. 8).  Shared by
the MLE backend (standard errors, Newton steps that finish an estimate: :func:`polish`)
and the Bayesian one (Laplace start of NUTS); the MLE backend also asks
:func:`undetermined` which parameters the data do not pin down, and
:func:`hold_at_edge` whether they run to a limit the model declares."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import optimize

from clvmodels.models.spec import ModelSpec

LOG_BOUND = 23.0  # parameters are kept within exp(±23) ≈ [1e-10, 1e10]

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


EDGE_DROP = 1.92
"""Half the 95 % quantile of χ²(1): a log-likelihood within this of the estimate's
cannot be told from it by a likelihood-ratio test at the 5 % level."""


def edge_within_reach(
    log_likelihood: Callable[[np.ndarray], float],
    information: np.ndarray,
    theta: np.ndarray,
    bounds: np.ndarray,
) -> list[int]:
    """The coordinates of a flat direction that runs to the edge of the box without a
    significant loss of likelihood.

    :func:`undetermined` asks the curvature at the estimate; a long, slowly rising or
    nearly flat ridge (the BG/NBD's ``a`` and ``b`` growing together toward a
    homogeneous dropout probability: ``a = 1e6``, ``b = 4e6`` with standard errors of
    the same size) can have a positive definite information and standard errors that
    stop short of the edge.  Along the flattest direction of the scaled information,
    the estimate is moved to the edge of the box both ways; when the log-likelihood
    there is within :data:`EDGE_DROP` of the estimate's (a likelihood-ratio test
    cannot reject the edge at the 5 % level), the coordinates taking part in that
    direction (loading at least :data:`_LOADING` of the largest) are returned.

    Parameters
    ----------
    log_likelihood
        The (penalised) log-likelihood's value in estimation coordinates (no gradient
        is needed).
    information, theta, bounds
        As for :func:`undetermined`.
    """
    theta, bounds = np.asarray(theta, float), np.asarray(bounds, float)
    scale = np.sqrt(np.abs(np.diag(information)))
    scale[scale == 0] = 1.0
    _, vectors = np.linalg.eigh(information / np.outer(scale, scale))
    direction = vectors[:, 0] / scale
    peak = log_likelihood(theta)
    for sign in (1.0, -1.0):
        step = sign * direction
        moving = np.abs(step) > 1e-12
        room = (np.sign(step[moving]) * bounds[moving] - theta[moving]) / step[moving]
        edge = theta + float(np.min(room)) * step
        value = log_likelihood(edge)
        if np.isfinite(value) and value > peak - EDGE_DROP:
            share = np.abs(vectors[:, 0]) / np.max(np.abs(vectors[:, 0]))
            return np.flatnonzero(share >= _LOADING).tolist()
    return []


def polish(objective: Objective, theta: np.ndarray, n_obs: float) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps on the exact gradient to remove L-BFGS-B's last slack.

    Returns the parameters and the Hessian there; the Hessian is recomputed only after
    a step larger than 1e-3 on the log scale (a smaller step changes it by about as
    much relatively, which Newton's iteration absorbs and the standard errors do not
    notice), so a converged fit costs one Hessian, not two.
    """
    theta = np.asarray(theta, dtype=float)
    value, grad = objective(theta)
    hess = hessian(objective, theta)
    for _ in range(8):
        if np.max(np.abs(grad)) / n_obs < 1e-10:
            break
        try:
            step = np.linalg.solve(hess, -grad)
        except np.linalg.LinAlgError:
            break
        candidate = np.clip(theta + step, -LOG_BOUND, LOG_BOUND)
        new_value, new_grad = objective(candidate)
        if not np.isfinite(new_value) or new_value < value - 1e-9 * abs(value):
            break
        theta, value, grad = candidate, new_value, new_grad
        if np.max(np.abs(step)) > 1e-3:
            hess = hessian(objective, theta)
    return theta, hess


def hold_at_edge(
    spec: ModelSpec,
    names: tuple[str, ...],
    objective: Objective,
    theta: np.ndarray,
    loose: list[int],
    n_obs: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, str]] | None:
    """Refit with the parameters the model declares vanishable held at their lower edge.

    ``spec.extra["edge_limits"]`` maps a parameter ``h`` to partners ``q`` such that the
    model has a limit as ``h → 0`` with every ``q/h`` fixed (GGompertz/NBD: ``b → 0``
    with ``β/b`` fixed is the Pareto/NBD).  When the undetermined coordinates (``loose``)
    are such parameters and their partners only, the log-likelihood rises along that
    ridge to the limit model: ``h`` is held at ``exp(−LOG_BOUND)``, where the model
    equals its limit to ~1e-10 relative, and the others, with ``log(q/h)`` in place of
    ``log q``, are estimated.  Returns the estimate in log-parameters, the Hessian in
    the coordinates of the refit, the linear map from those to the log-parameters (for
    the gradient and the covariance: ``h`` has no variance, ``log q`` that of
    ``log(q/h)``) and, per held parameter, a note for the diagnostics; ``None`` when
    the model declares no such limit for the loose coordinates or the refit is not
    well determined either.
    """
    limits = dict(spec.extra.get("edge_limits", {}))
    held = [names.index(h) for h in limits if names.index(h) in loose]
    partners = {names.index(q): names.index(h) for h in limits for q in limits[h]}
    if not held or not set(loose) <= {*held, *partners}:
        return None
    free = [i for i in range(len(theta)) if i not in held]
    to_log = np.eye(len(theta))[:, free]  # θ = to_log @ φ + offset
    offset = np.zeros(len(theta))
    offset[held] = -LOG_BOUND
    for q, h in partners.items():
        if h in held:
            offset[q] = -LOG_BOUND
    phi0 = theta[free] - offset[free]

    def reduced(phi: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = objective(to_log @ phi + offset)
        return value, to_log.T @ gradient

    res = optimize.minimize(
        lambda phi: negative_mean(reduced, phi, n_obs),
        phi0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-2 * LOG_BOUND, 2 * LOG_BOUND)] * len(free),
        options={"ftol": 1e-12, "gtol": 1e-6, "maxcor": 20},
    )
    phi, hess = polish(reduced, res.x, n_obs)
    interior = objective(theta)[0]
    if undetermined(-hess, phi, np.full(len(free), 2 * LOG_BOUND)) or reduced(phi)[0] < (
        interior - 1e-9 * abs(interior)
    ):  # not a ridge to the limit: the edge fits worse than the interior estimate
        return None
    theta = to_log @ phi + offset
    notes = {
        names[h]: f"held at exp(-{LOG_BOUND:g}): the log-likelihood rises toward its limit "
        f"{names[h]} -> 0 with "
        + ", ".join(
            f"{names[q]}/{names[h]} = {math.exp(theta[q] - theta[h]):.6g}"
            for q, hq in partners.items()
            if hq == h
        )
        for h in held
    }
    return theta, hess, to_log, notes


def negative_mean(
    objective: Objective, theta: np.ndarray, n_obs: float
) -> tuple[float, np.ndarray]:
    """``−objective / n_obs`` (value and gradient), what the optimiser minimises; ``inf``
    where the objective is not finite."""
    value, grad = objective(theta)
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        return math.inf, np.zeros_like(theta)
    return -value / n_obs, -grad / n_obs
