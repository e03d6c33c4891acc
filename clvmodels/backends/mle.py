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
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy import optimize

from clvmodels.backends.compress import (
    compress_rows,
    factorize_rows,
    fingerprint_rows,
    prepare_rows,
)
from clvmodels.backends.distinct import DistinctColumns
from clvmodels.backends.information import Objective, hessian, invert_information
from clvmodels.errors import FitError
from clvmodels.models.ops import numpy_ops, pytensor_ops
from clvmodels.models.spec import ModelSpec
from clvmodels.results import FitResult, from_coordinates

LOG_BOUND = 23.0  # parameters are kept within exp(±23) ≈ [1e-10, 1e10]
PATTERN = "pattern"
"""Data column holding each row's covariate pattern (an integer code) in a fit with
covariates; the design matrices are given per pattern."""

COEF_BOUND = 30.0  # covariate coefficients within ±30 (an effect of e^30 is no estimate)


@dataclass(frozen=True)
class CovariateLinks:
    """Covariates on some parameters of a model, for :func:`fit_mle`.

    Parameter ``name`` of a customer with covariate pattern ``g`` is
    ``name₀ · exp(sign · Z[g] · γ)`` (Fader & Hardie 2007, note 019: ``α_i = α₀ exp(−γ₁′z_i)``
    on the purchase rate's scale, ``a_i = a₀ exp(γ₂′z_i)``, ``b_i = b₀ exp(γ₃′z_i)`` on
    the BG/NBD dropout, ``β_i = β₀ exp(−γ₂′z_i)`` on the Pareto/NBD dropout).

    Attributes
    ----------
    pattern
        Covariate pattern (integer code) of every data row.
    designs
        Per linked parameter: the design matrix, one row per pattern.
    names
        Per linked parameter: the names of its design columns.
    signs
        Per linked parameter: the sign of the link (−1 for scale parameters of rates).
    """

    pattern: np.ndarray
    designs: Mapping[str, np.ndarray]
    names: Mapping[str, tuple[str, ...]]
    signs: Mapping[str, float]

    @classmethod
    def build(
        cls,
        spec: ModelSpec,
        names: tuple[str, ...],
        matrix: np.ndarray,
        processes: Mapping[str, tuple[str, ...]],
    ) -> CovariateLinks:
        """Links from a customer design matrix (``names`` its columns, one row per data
        row) and the covariates chosen per process (e.g. ``{"purchase": ("member",),
        "dropout": ("member", "age")}``); the parameters of each process and the signs
        come from ``spec.covariate_links``.

        Raises
        ------
        FitError
            A process the model does not have, a covariate not among ``names``, or one
            with the same value for every customer (an all-zero covariate, say: its
            coefficient is not identified).
        """
        designs: dict[str, np.ndarray] = {}
        chosen: dict[str, tuple[str, ...]] = {}
        signs: dict[str, float] = {}
        matrix = np.asarray(matrix, dtype=float)
        pattern, distinct = factorize_rows(list(matrix.T))
        rows = np.column_stack(distinct)
        for process, covariates in processes.items():
            if process not in spec.covariate_links:
                known = ", ".join(spec.covariate_links) or "none"
                raise FitError(
                    f"{spec.key}: no {process!r} process takes covariates (processes: {known})"
                )
            unknown = [c for c in covariates if c not in names]
            if unknown:
                raise FitError(
                    f"{spec.key}: no covariate {unknown[0]!r} (have: {', '.join(names)})"
                )
            columns = [names.index(c) for c in covariates]
            for c, j in zip(covariates, columns, strict=True):
                if len(matrix) and np.ptp(matrix[:, j]) == 0:
                    raise FitError(
                        f"{spec.key}: covariate {c!r} has the same value for every customer; "
                        "its coefficient cannot be told apart from the baseline parameter"
                    )
            for param, sign in spec.covariate_links[process].items():
                designs[param] = rows[:, columns]
                chosen[param] = tuple(covariates)
                signs[param] = float(sign)
        return cls(np.asarray(pattern).reshape(-1), designs, chosen, signs)

    def coefficient_names(self) -> tuple[str, ...]:
        """``parameter:covariate`` for every coefficient, in θ order."""
        return tuple(f"{p}:{c}" for p in self.designs for c in self.names[p])

    def spec(self) -> tuple[tuple[str, float, int], ...]:
        """The ``links`` argument of :func:`_compiled`."""
        return tuple((p, float(self.signs[p]), len(self.names[p])) for p in self.designs)


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
        Covariates on some parameters; their coefficients join the result's
        ``param_names`` as ``parameter:covariate`` (``FitResult.coefficients``), starting
        from 0 at the fit without covariates.

    Returns
    -------
    FitResult
        With ``cov_log`` the inverse observed information of the log-parameters.

    Raises
    ------
    FitError
        When the optimiser does not converge, or the data cannot identify the model.
    """
    started = time.perf_counter()
    extra: tuple[str, ...] = ()
    if covariates is not None:
        data = {**data, PATTERN: np.asarray(covariates.pattern, dtype=float)}
        extra = (PATTERN,)
    arrays, w = prepare_rows(spec, data, weights, extra)
    unique, uw = compress_rows(arrays, w)
    n_obs = float(uw.sum())
    if n_obs <= 0 or len(uw) == 0:
        raise FitError(f"{spec.key}: no customers to fit on")
    objective = _objective(spec, unique, uw, covariates)
    coefficient_names = () if covariates is None else covariates.coefficient_names()
    names = (*spec.param_names, *coefficient_names)

    base = {c: v for c, v in unique.items() if c != PATTERN}
    starts = [dict(init)] if init is not None else [spec.initial_params(base, uw)]
    starts.append({k: 1.0 for k in spec.param_names})
    best = None
    attempts = []
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(spec.param_names)
    bounds += [(-COEF_BOUND, COEF_BOUND)] * len(coefficient_names)
    for start in starts:
        theta0 = np.log([max(float(start[k]), 1e-8) for k in spec.param_names])
        theta0 = np.concatenate([theta0, [float(start.get(k, 0.0)) for k in coefficient_names]])
        res = optimize.minimize(
            lambda th: _neg_mean(objective, th, n_obs),
            theta0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            # moderate tolerances: L-BFGS-B only has to get close, the Newton
            # polish below finishes quadratically
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
    theta, hess = _polish(objective, best.x, n_obs)
    ll, grad = objective(theta)
    estimate = _fmt(names, coefficient_names, theta)
    at_bound = [
        name
        for (name, t), (_, hi) in zip(zip(names, theta, strict=True), bounds, strict=True)
        if abs(t) > hi - 1e-3
    ]
    if at_bound:
        raise FitError(
            f"{spec.key}: parameter(s) {', '.join(at_bound)} ran to the edge of the "
            f"parameter space (estimate {estimate}); the data do not identify "
            "the model — try another model, more data, or the Bayesian backend with priors"
        )
    grad_norm = float(np.max(np.abs(grad)) / n_obs)
    if not np.isfinite(ll) or grad_norm > 1e-4:
        raise FitError(
            f"{spec.key}: the optimiser did not converge ({best.message}; max |gradient| per "
            f"customer {grad_norm:.2g} at {estimate}); try init=... near a "
            "plausible value, max_iter higher, or check the data"
        )
    cov_log, hessian_ok = invert_information(hess)
    diagnostics = {
        "optimizer": "L-BFGS-B (exact gradient by PyTensor autodiff)",
        "iterations": int(sum(a.nit for a in attempts)),
        "function_evaluations": int(sum(a.nfev for a in attempts)),
        "starts": len(attempts),
        "max_abs_gradient_per_customer": grad_norm,
        "hessian_positive_definite": hessian_ok,
        "converged": True,
        "seconds": round(time.perf_counter() - started, 4),
    }
    return FitResult(
        model=spec.key,
        backend="mle",
        param_names=names,
        params={k: float(v) for k, v in from_coordinates(names, coefficient_names, theta).items()},
        log_likelihood=float(ll),
        n_obs=n_obs,
        n_unique=len(uw),
        cov_log=cov_log,
        diagnostics=diagnostics,
        time_unit=time_unit,
        data_fingerprint=fingerprint_rows(unique, uw),
        coefficients=coefficient_names,
    )


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
    with covariate pattern ``g`` equal ``exp(θ_name + sign · Z_name[g] · γ_name)``, with
    ``γ_name`` the next ``k`` entries of ``θ`` after the log-parameters and ``Z_name``
    (patterns × k) an input of the function after the data columns.  The rows then
    need a :data:`PATTERN` column, which joins every distinct key.
    """
    import pytensor
    import pytensor.tensor as pt

    theta = pt.dvector("theta")
    params = {k: pt.exp(theta[i]) for i, k in enumerate(param_names)}
    inputs = {c: pt.dvector(c) for c in columns}
    designs = []
    if links:
        index = pt.cast(inputs[PATTERN], "int64")
        offset = len(param_names)
        for name, sign, k in links:
            design = pt.dmatrix(f"Z[{name}]")
            shift = pt.dot(design, theta[offset : offset + k])[index]
            params[name] = pt.exp(theta[param_names.index(name)] + sign * shift)
            designs.append(design)
            offset += k
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
            [theta, weight, *inputs.values(), *designs, *distinct.inputs()],
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


def _polish(objective: Objective, theta: np.ndarray, n_obs: float) -> tuple[np.ndarray, np.ndarray]:
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
