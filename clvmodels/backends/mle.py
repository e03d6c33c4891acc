"""Maximum-likelihood backend.

The model's log-likelihood (written once against :mod:`clvmodels.models.ops`) is built
as a PyTensor graph on the log-parameters and differentiated automatically, so the
optimiser gets exact gradients.  Identical customers are collapsed into weights
first, and terms the likelihood marks with ``xp.distinct`` are evaluated once per
distinct value pair (:mod:`clvmodels.backends.distinct`), so an evaluation costs little
more than a pass over the distinct histories.  L-BFGS-B brings the parameters close to
the optimum and Newton steps on the exact gradient finish it.  Standard errors come
from the observed information — the Hessian of the log-likelihood in the
log-parameters, by central differences of the exact gradient — and intervals are formed
on the log scale, so they stay positive.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import numpy as np
from scipy import optimize

from clvmodels.backends.compress import prepare_rows
from clvmodels.backends.design import PATTERN, CovariateLinks, FitRows, pattern_params
from clvmodels.backends.distinct import DistinctColumns
from clvmodels.backends.information import (
    Objective,
    hessian,
    invert_information,
    undetermined,
)
from clvmodels.errors import FitError
from clvmodels.models.ops import numpy_ops, pytensor_ops
from clvmodels.models.spec import ModelSpec
from clvmodels.results import FitResult, from_coordinates, undetermined_error

LOG_BOUND = 23.0  # parameters are kept within exp(±23) ≈ [1e-10, 1e10]
COEF_BOUND = 30.0  # covariate coefficients within ±30 (an effect of e^30 is no estimate)


def fit_mle(
    spec: ModelSpec,
    data: Mapping[str, np.ndarray],
    weights: np.ndarray | None = None,
    *,
    init: Mapping[str, float] | None = None,
    max_iter: int = 1000,
    time_unit: str | None = None,
    covariates: CovariateLinks | None = None,
) -> FitResult:
    """Fit ``spec`` by maximum likelihood.

    Parameters
    ----------
    spec
        The model declaration (``clvmodels.models.<model>.SPEC``).
    data
        Arrays for ``spec.data_columns`` (one element per customer or per group).
    weights
        Number of customers each row stands for (default one).
    init
        Starting values; default ``spec.initial_params`` of the data.
    max_iter
        Iteration limit of the optimiser.
    time_unit
        Time unit of the data, recorded in the result.
    covariates
        Covariates on some parameters (:class:`~clvmodels.backends.design.CovariateLinks`);
        their coefficients join the result's ``param_names`` as ``parameter:covariate``
        (``FitResult.coefficients``), starting from 0 at the fit without covariates.

    Returns
    -------
    FitResult
        With ``cov_log`` the inverse observed information of the log-parameters.  When
        the log-likelihood rises toward a limit the model declares
        (``spec.extra["edge_limits"]``, e.g. the GGompertz/NBD's Pareto/NBD limit
        ``b → 0``), the vanishing parameter is held at its lower edge, with no variance,
        and ``diagnostics["held_at_edge"]`` says so (:func:`_hold_at_edge`).

    Raises
    ------
    FitError
        When the data do not pin down every parameter — an estimate at the edge of the
        parameter space, or an observed information that is singular, ill-conditioned
        or not positive definite (:func:`~clvmodels.backends.information.undetermined`;
        one message for every model, :func:`~clvmodels.results.undetermined_error`) —
        or when the optimiser does not converge.
    """
    started = time.perf_counter()
    rows = FitRows.of(spec, data, weights, covariates)
    objective = _objective(spec, rows.rows, rows.weights, covariates)
    coefficients = () if covariates is None else covariates.coefficient_names()
    names = (*spec.param_names, *coefficients)
    first = spec.initial_params(rows.model_columns, rows.weights) if init is None else init
    starts = [dict(first), {k: 1.0 for k in spec.param_names}]
    best, attempts = optimise(spec, objective, starts, coefficients, rows.n_obs, max_iter)
    theta, hess = polish(objective, best.x, rows.n_obs)
    ll, grad = objective(theta)
    loose = undetermined(-hess, theta, np.array([hi for _, hi in bounds(spec, coefficients)]))
    held: dict[str, str] = {}
    to_log = np.eye(len(theta))
    if loose:
        theta, hess, to_log, held = _hold_at_edge(spec, names, objective, theta, loose, rows.n_obs)
        ll, grad = objective(theta)
        grad = to_log.T @ grad  # the gradient in the coordinates of the fit at the edge
    grad_norm = check_convergence(spec, names, coefficients, theta, ll, grad, rows.n_obs, best)
    cov_log, hessian_ok = invert_information(hess)
    cov_log = to_log @ cov_log @ to_log.T
    diagnostics = {
        "optimizer": "L-BFGS-B (exact gradient by PyTensor autodiff)",
        "iterations": int(sum(a.nit for a in attempts)),
        "function_evaluations": int(sum(a.nfev for a in attempts)),
        "starts": len(attempts),
        "max_abs_gradient_per_customer": grad_norm,
        "hessian_positive_definite": hessian_ok,
        "converged": True,
        **({"held_at_edge": held} if held else {}),
        "seconds": round(time.perf_counter() - started, 4),
    }
    return FitResult(
        model=spec.key,
        backend="mle",
        param_names=names,
        params={k: float(v) for k, v in from_coordinates(names, coefficients, theta).items()},
        log_likelihood=float(ll),
        n_obs=rows.n_obs,
        n_unique=len(rows.weights),
        cov_log=cov_log,
        diagnostics=diagnostics,
        time_unit=time_unit,
        data_fingerprint=rows.fingerprint(),
        coefficients=coefficients,
    )


def _hold_at_edge(
    spec: ModelSpec,
    names: tuple[str, ...],
    objective: Objective,
    theta: np.ndarray,
    loose: list[int],
    n_obs: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, str]]:
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
    ``log(q/h)``) and, per held parameter, a note for the diagnostics.

    Raises
    ------
    FitError
        :func:`~clvmodels.results.undetermined_error` when the model declares no such
        limit for the loose coordinates or the refit is not well determined either.
    """
    limits = dict(spec.extra.get("edge_limits", {}))
    held = [names.index(h) for h in limits if names.index(h) in loose]
    partners = {names.index(q): names.index(h) for h in limits for q in limits[h]}
    if not held or not set(loose) <= {*held, *partners}:
        raise undetermined_error(spec.key, [names[i] for i in loose])
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
        lambda phi: _neg_mean(reduced, phi, n_obs),
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
        raise undetermined_error(spec.key, [names[i] for i in loose])
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


def bounds(spec: ModelSpec, coefficients: tuple[str, ...]) -> list[tuple[float, float]]:
    """Box of the optimiser: log-parameters within ±LOG_BOUND, coefficients ±COEF_BOUND."""
    return [(-LOG_BOUND, LOG_BOUND)] * len(spec.param_names) + [(-COEF_BOUND, COEF_BOUND)] * len(
        coefficients
    )


def optimise(
    spec: ModelSpec,
    objective: Objective,
    starts: list[dict[str, float]],
    coefficients: tuple[str, ...],
    n_obs: float,
    max_iter: int,
) -> tuple[optimize.OptimizeResult, list[optimize.OptimizeResult]]:
    """L-BFGS-B from each start in turn until one converges: the best result and all
    attempts.  Coefficients start from 0 unless a start names them."""
    best = None
    attempts = []
    for start in starts:
        theta0 = np.log([max(float(start[k]), 1e-8) for k in spec.param_names])
        theta0 = np.concatenate([theta0, [float(start.get(k, 0.0)) for k in coefficients]])
        res = optimize.minimize(
            lambda th: _neg_mean(objective, th, n_obs),
            theta0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds(spec, coefficients),
            # moderate tolerances: L-BFGS-B only has to get close, the Newton
            # polish finishes quadratically
            options={"maxiter": max_iter, "ftol": 1e-12, "gtol": 1e-6, "maxcor": 20},
        )
        attempts.append(res)
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
        if best is res and _converged(res):
            break
    if best is None or not np.isfinite(best.fun):
        raise FitError(
            f"{spec.key}: the log-likelihood is not finite at any starting point; "
            "check the data (e.g. recency > T, negative values) or pass init=..."
        )
    return best, attempts


def check_convergence(
    spec: ModelSpec,
    names: tuple[str, ...],
    coefficients: tuple[str, ...],
    theta: np.ndarray,
    ll: float,
    grad: np.ndarray,
    n_obs: float,
    best: optimize.OptimizeResult,
) -> float:
    """The largest gradient entry per customer at the estimate, after checking that the
    gradient vanishes there (``FitError`` otherwise)."""
    grad_norm = float(np.max(np.abs(grad)) / n_obs)
    if not np.isfinite(ll) or grad_norm > 1e-4:
        raise FitError(
            f"{spec.key}: the optimiser did not converge ({best.message}; max |gradient| per "
            f"customer {grad_norm:.2g} at {_fmt(names, coefficients, theta)}); try init=... "
            "near a plausible value, max_iter higher, or check the data"
        )
    return grad_norm


def log_likelihood_numpy(
    spec: ModelSpec,
    params: Mapping[str, float],
    data: Mapping[str, np.ndarray],
    weights: np.ndarray | None = None,
) -> float:
    """Total log-likelihood evaluated with NumPy (same formula as the fit)."""
    arrays, w = prepare_rows(spec, data, weights)
    values = spec.log_likelihood(**params, **arrays, xp=numpy_ops)
    return float(np.sum(w * values))


def _objective(
    spec: ModelSpec,
    data: dict[str, np.ndarray],
    w: np.ndarray,
    covariates: CovariateLinks | None = None,
) -> Objective:
    """(total log-likelihood, gradient wrt log-parameters and coefficients) on ``data``."""
    links = () if covariates is None else covariates.spec()
    fn, distinct = _compiled(spec.key, spec.log_likelihood, spec.param_names, tuple(data), links)
    designs = (
        [] if covariates is None else [np.asarray(z, float) for z in covariates.designs.values()]
    )
    inputs = [data[c] for c in data] + designs + distinct.values(data)

    def evaluate(th: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = fn(np.asarray(th, dtype=float), w, *inputs)
        return float(value), np.asarray(gradient, dtype=float)

    return evaluate


@cache
def _compiled(
    key: str,
    log_likelihood: Callable[..., Any],
    param_names: tuple[str, ...],
    columns: tuple[str, ...],
    links: tuple[tuple[str, float, int], ...] = (),
) -> tuple[Callable[..., Any], DistinctColumns]:
    """Compile the weighted log-likelihood and its exact gradient with PyTensor, once per
    model and process (the data are inputs of the compiled function, not constants).

    Terms the likelihood marks with ``xp.distinct`` are evaluated once per distinct
    value combination of their columns (:mod:`clvmodels.backends.distinct`); the
    returned registry computes those extra inputs from a data set.

    ``links`` puts covariates on parameters: ``(name, sign, k)`` makes ``name`` of a row
    with covariate pattern ``g`` equal ``exp(θ_name) · exp(sign · Z_name[g] · γ_name)``
    (:func:`~clvmodels.backends.design.pattern_params`), with
    ``γ_name`` the next ``k`` entries of ``θ`` after the log-parameters and ``Z_name``
    (patterns × k) an input of the function after the data columns.  The rows then
    need a :data:`PATTERN` column, which joins every distinct key.
    """
    import pytensor
    import pytensor.tensor as pt

    theta = pt.dvector("theta")
    params = {k: pt.exp(theta[i]) for i, k in enumerate(param_names)}
    inputs = {c: pt.dvector(c) for c in columns}
    designs = {name: pt.dmatrix(f"Z[{name}]") for name, _, _ in links}
    if links:
        offset = len(param_names)
        coefficients = {}
        for name, _, k in links:  # γ_name: the next k entries of θ
            coefficients[name] = [theta[offset + j] for j in range(k)]
            offset += k
        signs = {name: sign for name, sign, _ in links}
        index = pt.cast(inputs[PATTERN], "int64")
        params = pattern_params(params, signs, coefficients, designs, index, pytensor_ops())
    weight = pt.dvector("weight")
    distinct = DistinctColumns(inputs, row_key=PATTERN if links else None)
    model_columns = {c: v for c, v in inputs.items() if c != PATTERN}
    per_row = log_likelihood(**params, **model_columns, xp=distinct.ops(pytensor_ops()))
    total = pt.sum(weight * per_row)
    grad = pytensor.grad(total, theta)
    with warnings.catch_warnings():
        # The likelihood graphs are elementwise sums: no BLAS operation is involved.
        warnings.filterwarnings("ignore", ".*could not link to a BLAS", UserWarning)
        fn = pytensor.function(
            [theta, weight, *inputs.values(), *designs.values(), *distinct.inputs()],
            [total, grad],
            on_unused_input="ignore",
            name=f"{key}_loglik_grad",
        )
    return fn, distinct


def _neg_mean(objective: Objective, theta: np.ndarray, n_obs: float) -> tuple[float, np.ndarray]:
    value, grad = objective(theta)
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        return math.inf, np.zeros_like(theta)
    return -value / n_obs, -grad / n_obs


def _converged(res: optimize.OptimizeResult) -> bool:
    return bool(res.success) and np.isfinite(res.fun)


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


def _fmt(names: tuple[str, ...], coefficients: tuple[str, ...], theta: np.ndarray) -> str:
    return ", ".join(
        f"{k}={v:.4g}" for k, v in from_coordinates(names, coefficients, theta).items()
    )
