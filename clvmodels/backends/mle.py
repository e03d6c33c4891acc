"""Maximum-likelihood backend.

The model's log-likelihood (written once against :mod:`clvmodels.models.ops`) is
differentiated automatically in the log-parameters, so the optimiser gets exact
gradients: taped on NumPy (:mod:`clvmodels.backends.tape`, nothing to compile) without
covariates, as a compiled PyTensor graph with them.  Identical customers are collapsed into weights
first, and terms the likelihood marks with ``xp.distinct`` are evaluated once per
distinct value pair (:mod:`clvmodels.backends.distinct`), so an evaluation costs little
more than a pass over the distinct histories.  L-BFGS-B brings the parameters close to
the optimum and Newton steps on the exact gradient finish it.  Standard errors come
from the observed information — the Hessian of the log-likelihood in the
log-parameters, by central differences of the exact gradient — and intervals are formed
on the log scale, so they stay positive.  Covariate coefficients tied by a constraint are
estimated once, and an L2 penalty on the coefficients, given or chosen by
cross-validation, is maximised with the log-likelihood (:mod:`clvmodels.backends.penalty`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize

from clvmodels.backends.compiled import CompiledLikelihood
from clvmodels.backends.compress import prepare_rows
from clvmodels.backends.design import CovariateLinks, FitRows
from clvmodels.backends.information import (
    LOG_BOUND,
    Objective,
    edge_within_reach,
    hold_at_edge,
    invert_information,
    negative_mean,
    polish,
    undetermined,
)
from clvmodels.backends.penalty import (
    AUTO,
    CrossValidation,
    check_penalty,
    cross_validate,
    fold_weights,
    no_maximum_error,
    penalised,
    penalty_grid,
)
from clvmodels.backends.tape import TapedLikelihood
from clvmodels.errors import FitError
from clvmodels.machine import one_blas_thread
from clvmodels.models.ops import numpy_ops
from clvmodels.models.spec import ModelSpec
from clvmodels.results import FitResult, from_coordinates

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
    penalty: float | str | None = None,
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
        Coefficients a constraint ties to another (``covariates.tied``) are not
        estimated: the fit runs in the free coordinates ``φ`` (``θ = E φ``,
        :meth:`~clvmodels.backends.design.CovariateLinks.expansion`), and a tied
        coefficient is in ``params`` with its source's value but not in
        ``param_names`` (``FitResult.tied``).
    penalty
        L2 penalty ``λ`` on the estimated coefficients: the fit maximises
        ``ℓ − λ Σ_j γ_j²`` (:mod:`clvmodels.backends.penalty`), or with ``"auto"``
        chooses ``λ`` by 5-fold cross-validation over customers first
        (:func:`~clvmodels.backends.penalty.cross_validate`).  The covariance is then
        the inverse observed information of the *penalised* log-likelihood: the
        Laplace approximation of the posterior of the Bayesian model with
        ``γ_j ~ Normal(0, 1/√(2λ))`` priors (flat on the rest), whose mode the estimate
        is; ``log_likelihood`` is the unpenalised ``ℓ`` at the estimate and
        ``diagnostics["penalty"]`` records ``λ`` and how it was chosen.

    Returns
    -------
    FitResult
        With ``cov_log`` the inverse observed information of the log-parameters.  When
        the log-likelihood rises toward a limit the model declares
        (``spec.extra["edge_limits"]``, e.g. the GGompertz/NBD's Pareto/NBD limit
        ``b → 0``), the vanishing parameter is held at its lower edge, with no variance,
        and ``diagnostics["held_at_edge"]`` says so
        (:func:`~clvmodels.backends.information.hold_at_edge`).

    Raises
    ------
    FitError
        When the data do not pin down every parameter — an estimate at the edge of the
        parameter space, or an observed information that is singular, ill-conditioned
        or not positive definite (:func:`~clvmodels.backends.information.undetermined`;
        one message for every model, :func:`~clvmodels.results.undetermined_error`;
        with covariates on the parameters involved it names them and suggests a
        constraint or the penalty, :func:`~clvmodels.backends.penalty.no_maximum_error`)
        — or when the optimiser does not converge.
    """
    started = time.perf_counter()
    check_penalty(spec.key, penalty)
    problem = _Problem.of(spec, data, weights, covariates)
    rows = problem.rows
    first = spec.initial_params(rows.model_columns, rows.weights) if init is None else init
    starts: list[Start] = [dict(first), {k: 1.0 for k in spec.param_names}]
    record: dict[str, Any] | None = None
    if penalty == AUTO:
        cv = problem.cross_validate(starts, max_iter)
        candidates = [(cv.grid[i], cv.starts[i]) for i in cv.ranked()] or [(cv.grid[0], None)]
    else:
        candidates = [(float(penalty or 0.0), None)]
        record = None if penalty is None else {"l2": float(penalty), "chosen_by": "given"}
    for l2, warm in candidates:
        fit = problem.estimate(
            rows.weights, l2, starts if warm is None else [warm, *starts], max_iter
        )
        if not fit.loose:
            break
    else:
        raise problem.no_maximum(fit, penalty)
    if penalty == AUTO:
        record = cv.diagnostics(l2)
    objective = problem.objective(rows.weights, l2)
    names, coefficients, theta = problem.names, problem.coefficients, fit.theta
    value, grad = objective(theta)
    grad = fit.to_log.T @ grad  # the gradient in the coordinates of the fit (at the edge)
    grad_norm = check_convergence(
        spec, names, coefficients, theta, value, grad, rows.n_obs, fit.best
    )
    cov_log, hessian_ok = invert_information(fit.hess)
    cov_log = fit.to_log @ cov_log @ fit.to_log.T
    diagnostics = {
        "optimizer": "L-BFGS-B (exact gradient by "
        + ("reverse-mode autodiff on NumPy)" if covariates is None else "PyTensor autodiff)"),
        "iterations": int(sum(a.nit for a in fit.attempts)),
        "function_evaluations": int(sum(a.nfev for a in fit.attempts)),
        "starts": len(fit.attempts),
        "max_abs_gradient_per_customer": grad_norm,
        "hessian_positive_definite": hessian_ok,
        "converged": True,
        **({"held_at_edge": fit.held} if fit.held else {}),
        **({"penalty": record | {"penalised_log_likelihood": value}} if record else {}),
        "seconds": round(time.perf_counter() - started, 4),
    }
    return FitResult(
        model=spec.key,
        backend="mle",
        param_names=names,
        params=problem.params(theta),
        log_likelihood=problem.log_likelihood(rows.weights, theta),
        n_obs=rows.n_obs,
        n_unique=len(rows.weights),
        cov_log=cov_log,
        diagnostics=diagnostics,
        time_unit=time_unit,
        data_fingerprint=rows.fingerprint(),
        coefficients=coefficients,
        tied={} if covariates is None else dict(covariates.tied),
    )


Start = Mapping[str, float] | np.ndarray
"""A start of the optimiser: natural parameters by name (coefficients 0 unless named),
or a vector of estimation coordinates."""


@dataclass(frozen=True)
class _Estimate:
    """One optimisation: the estimate ``theta`` (estimation coordinates), the Hessian
    ``hess`` in the coordinates of the fit and ``to_log`` from those to the estimation
    coordinates (the identity unless parameters are ``held`` at an edge), the optimiser
    runs, and the coordinates ``loose`` that the data do not pin down (then no
    estimate)."""

    theta: np.ndarray
    hess: np.ndarray
    to_log: np.ndarray
    held: dict[str, str]
    best: optimize.OptimizeResult
    attempts: list[optimize.OptimizeResult]
    loose: list[int]


@dataclass(frozen=True)
class _Problem:
    """A fit's rows and coordinates: ``names`` the estimated parameters (the model's,
    then the free coefficients), ``expansion`` the map ``E`` to every coefficient
    (``None`` without tied ones)."""

    spec: ModelSpec
    rows: FitRows
    covariates: CovariateLinks | None
    names: tuple[str, ...]
    coefficients: tuple[str, ...]
    expansion: np.ndarray | None
    likelihood: TapedLikelihood | CompiledLikelihood
    last: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(
        cls,
        spec: ModelSpec,
        data: Mapping[str, np.ndarray],
        weights: np.ndarray | None,
        covariates: CovariateLinks | None,
    ) -> _Problem:
        rows = FitRows.of(spec, data, weights, covariates)
        coefficients = () if covariates is None else covariates.free_names()
        n_base = len(spec.param_names)
        tied = covariates is not None and bool(covariates.tied)
        expansion = covariates.expansion(n_base) if tied else None
        likelihood = _weighted(spec, rows.rows, covariates)
        names = (*spec.param_names, *coefficients)
        return cls(spec, rows, covariates, names, coefficients, expansion, likelihood)

    def objective(self, weights: np.ndarray, l2: float) -> Objective:
        """The penalised log-likelihood of rows weighted ``weights``, in ``φ``."""
        n_base = len(self.spec.param_names)
        return penalised(self._remembered(weights), self.expansion, n_base, l2)

    def _remembered(self, weights: np.ndarray) -> Objective:
        """The likelihood's objective for ``weights``, which answers a repeated point from
        the last evaluation: the optimiser ends where the Newton polish starts, and the
        result reads the value and gradient at the estimate once more.  Keyed by the
        weights array itself: no caller changes one in place (each fold has its own)."""
        objective = self.likelihood.objective(weights)

        def evaluate(theta: np.ndarray) -> tuple[float, np.ndarray]:
            key = np.asarray(theta, dtype=float).tobytes()
            seen = self.last.get("point")
            if seen is not None and seen[0] is weights and seen[1] == key:
                return seen[2], seen[3].copy()
            value, grad = objective(theta)
            self.last["point"] = (weights, key, value, np.array(grad, dtype=float))
            return value, grad

        return evaluate

    def value(self, weights: np.ndarray, l2: float) -> Callable[[np.ndarray], float]:
        """The penalised log-likelihood's value alone, in ``φ`` (no gradient: cheaper
        where only values are compared, :func:`edge_within_reach`)."""
        if self.coefficients:  # covariates: penalty and tied coefficients apply
            objective = self.objective(weights, l2)
            return lambda phi: objective(phi)[0]
        return self.likelihood.value(weights)

    def log_likelihood(self, weights: np.ndarray, phi: np.ndarray) -> float:
        """The unpenalised log-likelihood of rows weighted ``weights`` at ``φ``."""
        return float(self.objective(weights, 0.0)(phi)[0])

    def params(self, phi: np.ndarray) -> dict[str, float]:
        """Every parameter by name, tied coefficients included."""
        out = {k: float(v) for k, v in from_coordinates(self.names, self.coefficients, phi).items()}
        tied = {} if self.covariates is None else self.covariates.tied
        return out | {k: out[source] for k, source in tied.items()}

    def estimate(
        self, weights: np.ndarray, l2: float, starts: list[Start], max_iter: int
    ) -> _Estimate:
        """Maximise the penalised log-likelihood from ``starts``, polish and check it
        (the linear algebra on one BLAS thread: :func:`~clvmodels.machine.one_blas_thread`)."""
        spec, names, n_obs = self.spec, self.names, float(weights.sum())
        objective = self.objective(weights, l2)
        with one_blas_thread():
            best, attempts = optimise(spec, objective, starts, self.coefficients, n_obs, max_iter)
            theta, hess = polish(objective, best.x, n_obs)
            limits = np.array([hi for _, hi in bounds(spec, self.coefficients)])
            loose = undetermined(-hess, theta, limits) or edge_within_reach(
                self.value(weights, l2), -hess, theta, limits
            )
            to_log, held = np.eye(len(theta)), {}
            if loose:
                at_edge = hold_at_edge(spec, names, objective, theta, loose, n_obs)
                if at_edge is not None:
                    (theta, hess, to_log, held), loose = at_edge, []
        return _Estimate(theta, hess, to_log, held, best, attempts, loose)

    def cross_validate(self, starts: list[Start], max_iter: int) -> CrossValidation:
        """Score the penalties of :func:`penalty_grid` by cross-validation over customers
        (``FitError`` when a fold holds out fewer than 10 customers)."""
        weights = self.rows.weights
        held = fold_weights(weights)
        if held.sum(axis=1).min() < 10:
            raise FitError(
                f"{self.spec.key}: penalty 'auto' holds out a fifth of the customers in turn "
                f"and needs more than {self.rows.n_obs:g}; give the penalty as a number"
            )

        def fit(train: np.ndarray, l2: float, warm: np.ndarray | None) -> np.ndarray | None:
            try:
                found = self.estimate(
                    train, l2, starts if warm is None else [warm, *starts], max_iter
                )
            except FitError:
                return None
            grad = found.to_log.T @ self.objective(train, l2)(found.theta)[1]
            ok = not found.loose and np.max(np.abs(grad)) / float(train.sum()) <= 1e-4
            return found.theta if ok else None

        return cross_validate(
            fit, self.log_likelihood, weights, penalty_grid(self.rows.n_obs), held
        )

    def no_maximum(self, fit: _Estimate, penalty: float | str | None) -> FitError:
        """The error of a fit whose data do not pin down ``fit.loose``
        (:func:`~clvmodels.backends.penalty.no_maximum_error`); the estimates ran to the
        edge when one is beyond a third of its bound (a coefficient beyond ±10, a
        parameter beyond e^±7.7)."""
        limits = np.array([hi for _, hi in bounds(self.spec, self.coefficients)])
        edge = bool(np.any(np.abs(fit.theta[fit.loose]) >= limits[fit.loose] / 3))
        loose = [self.names[i] for i in fit.loose]
        return no_maximum_error(self.spec.key, loose, self.covariates, edge=edge, penalty=penalty)


def bounds(spec: ModelSpec, coefficients: tuple[str, ...]) -> list[tuple[float, float]]:
    """Box of the optimiser: log-parameters within ±LOG_BOUND, coefficients ±COEF_BOUND."""
    return [(-LOG_BOUND, LOG_BOUND)] * len(spec.param_names) + [(-COEF_BOUND, COEF_BOUND)] * len(
        coefficients
    )


def optimise(
    spec: ModelSpec,
    objective: Objective,
    starts: Sequence[Start],
    coefficients: tuple[str, ...],
    n_obs: float,
    max_iter: int,
) -> tuple[optimize.OptimizeResult, list[optimize.OptimizeResult]]:
    """L-BFGS-B from each start in turn until one converges: the best result and all
    attempts.  Coefficients start from 0 unless a start names them; a start given as a
    vector is in the estimation coordinates (a warm start)."""
    best = None
    attempts = []
    box = bounds(spec, coefficients)
    for start in starts:
        if isinstance(start, np.ndarray):
            theta0 = np.clip(start, [lo for lo, _ in box], [hi for _, hi in box])
        else:
            theta0 = np.log([max(float(start[k]), 1e-8) for k in spec.param_names])
            theta0 = np.concatenate([theta0, [float(start.get(k, 0.0)) for k in coefficients]])
        with one_blas_thread():  # OpenBLAS would spin its threads for a 4 × 4 solve
            res = optimize.minimize(
                lambda th: negative_mean(objective, th, n_obs),
                theta0,
                jac=True,
                method="L-BFGS-B",
                bounds=box,
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
    return _weighted(spec, data, covariates).objective(w)


def _weighted(
    spec: ModelSpec,
    data: dict[str, np.ndarray],
    covariates: CovariateLinks | None = None,
) -> TapedLikelihood | CompiledLikelihood:
    """The log-likelihood of ``data`` for any weights: the function and its inputs are
    prepared once, and every set of weights (a cross-validation fold) reuses them.

    Without covariates the value and gradient are taped on NumPy
    (:mod:`clvmodels.backends.tape`: nothing to compile, so a fresh process fits at
    once); with covariates the compiled PyTensor graph of
    :mod:`clvmodels.backends.compiled` is used."""
    if covariates is None:
        return TapedLikelihood(spec.log_likelihood, spec.param_names, data)
    return CompiledLikelihood(spec, data, covariates)


def _converged(res: optimize.OptimizeResult) -> bool:
    return bool(res.success) and np.isfinite(res.fun)


def _fmt(names: tuple[str, ...], coefficients: tuple[str, ...], theta: np.ndarray) -> str:
    return ", ".join(
        f"{k}={v:.4g}" for k, v in from_coordinates(names, coefficients, theta).items()
    )
