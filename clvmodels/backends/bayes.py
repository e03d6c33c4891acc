"""Bayesian backend: PyMC + ArviZ, on the same log-likelihood code as the MLE backend.

The model's likelihood (``spec.log_likelihood`` written against ``xp``) is evaluated
with PyTensor on the *compressed* data — identical customers collapsed into weights,
and the terms marked ``xp.distinct`` evaluated once per distinct value pair — and
enters the PyMC model as one weighted ``pm.Potential``; the posterior therefore costs
the same whatever the number of customers with the same histories.

Priors (default, per parameter θ, all overridable): ``log θ ~ Normal(log θ₀, 2.5)``,
i.e. ``θ ~ LogNormal(log θ₀, 2.5)``, where θ₀ is the model's data-driven starting value
(method of moments, :attr:`ModelSpec.initial_params`).  Reasoning: every parameter of
these models is positive and its scale depends on the data's units (``alpha`` is in
time units, Gamma-Gamma's ``gamma`` in money); centring on θ₀ makes the prior
unit-free, and a standard deviation of 2.5 on the log scale puts 95 % of the prior
mass within a factor of 130 of θ₀ — weak next to any data set worth fitting, but it
keeps the sampler away from the 1e-10 / 1e10 corners where a flat prior lets
unidentified models wander.

Samplers: PyMC's NUTS (default), nutpie when installed (``sampler="nutpie"``), or
``method="map"`` (posterior mode with a Laplace covariance — fast, no draws).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from clvmodels.backends.compress import compress_rows, fingerprint_rows, prepare_rows
from clvmodels.backends.distinct import DistinctColumns
from clvmodels.backends.information import hessian, invert_information
from clvmodels.backends.mle import fit_mle
from clvmodels.errors import ConfigError, FitError
from clvmodels.models.ops import numpy_ops, pytensor_ops
from clvmodels.models.spec import ModelSpec
from clvmodels.results import FitResult

DEFAULT_PRIOR_SIGMA = 2.5
PRIOR_FAMILIES: dict[str, tuple[str, ...]] = {
    "lognormal": ("mu", "sigma"),
    "halfnormal": ("sigma",),
    "gamma": ("alpha", "beta"),
    "exponential": ("lam",),
    "halfcauchy": ("beta",),
    "uniform": ("lower", "upper"),
}
"""Prior distributions a config may name, with their parameters (PyMC's names)."""


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics say the posterior may not be trustworthy."""


def default_priors(spec: ModelSpec, start: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """``{name: {"dist": "lognormal", "mu": log θ₀, "sigma": 2.5}}`` (module docstring)."""
    return {
        k: {
            "dist": "lognormal",
            "mu": math.log(max(float(start[k]), 1e-8)),
            "sigma": DEFAULT_PRIOR_SIGMA,
        }
        for k in spec.param_names
    }


def check_priors(spec: ModelSpec, priors: Mapping[str, Any], where: str = "priors") -> None:
    """Raise :class:`ConfigError` naming the key for an unknown parameter, distribution,
    or a missing/invalid distribution parameter."""
    for name, prior in priors.items():
        path = f"{where}.{name}"
        if name not in spec.param_names:
            raise ConfigError(
                f"{path}: {spec.key} has no parameter {name!r} "
                f"(parameters: {', '.join(spec.param_names)})"
            )
        if not isinstance(prior, Mapping) or "dist" not in prior:
            raise ConfigError(
                f"{path}: expected a mapping like {{dist: lognormal, mu: 0, sigma: 1}}"
            )
        family = str(prior["dist"]).lower()
        if family not in PRIOR_FAMILIES:
            raise ConfigError(
                f"{path}.dist: unknown distribution {prior['dist']!r} "
                f"(choose {', '.join(PRIOR_FAMILIES)})"
            )
        expected = PRIOR_FAMILIES[family]
        given = {k for k in prior if k != "dist"}
        if given != set(expected):
            raise ConfigError(
                f"{path}: {family} takes {', '.join(expected)}; "
                f"got {', '.join(sorted(given)) or 'none'}"
            )
        for key in expected:
            value = prior[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise ConfigError(f"{path}.{key}: expected a number, got {value!r}")
            if key != "mu" and key not in ("lower",) and value <= 0:
                raise ConfigError(f"{path}.{key}: must be positive, got {value}")
        if family == "uniform" and not 0 <= prior["lower"] < prior["upper"]:
            raise ConfigError(f"{path}: uniform needs 0 <= lower < upper")


def _prior_variable(pm: Any, name: str, prior: Mapping[str, Any]) -> Any:
    family = str(prior["dist"]).lower()
    kwargs = {k: float(prior[k]) for k in PRIOR_FAMILIES[family]}
    constructor = {
        "lognormal": pm.LogNormal,
        "halfnormal": pm.HalfNormal,
        "gamma": pm.Gamma,
        "exponential": pm.Exponential,
        "halfcauchy": pm.HalfCauchy,
        "uniform": pm.Uniform,
    }[family]
    return constructor(name, **kwargs)


def build_model(
    spec: ModelSpec,
    unique: Mapping[str, np.ndarray],
    weights: np.ndarray,
    priors: Mapping[str, Mapping[str, Any]],
    *,
    portable: bool = False,
) -> Any:
    """The PyMC model: priors and the weighted log-likelihood of the compressed rows
    (``portable``: PyTensor's own operations only, for nutpie's Numba compilation)."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    # shared variables rather than constants: the same compiled code serves every data set
    columns = {c: pytensor.shared(np.asarray(v, dtype=float), name=c) for c, v in unique.items()}
    distinct = DistinctColumns(columns, constants=unique)
    with pm.Model() as model:
        params = {k: _prior_variable(pm, k, priors[k]) for k in spec.param_names}
        per_row = spec.log_likelihood(**params, **columns, xp=distinct.ops(pytensor_ops(portable)))
        weight = pytensor.shared(np.asarray(weights, dtype=float), name="weight")
        pm.Potential("log_likelihood", pt.sum(weight * per_row))
    return model


def fit_bayes(
    spec: ModelSpec,
    data: Mapping[str, np.ndarray],
    weights: np.ndarray | None = None,
    *,
    priors: Mapping[str, Mapping[str, Any]] | None = None,
    method: str = "nuts",
    sampler: str = "pymc",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    target_accept: float = 0.8,
    seed: int | None = 0,
    progress: bool = False,
    ess_floor: float = 400.0,
    time_unit: str | None = None,
) -> FitResult:
    """Fit ``spec`` by Bayesian inference with PyMC.

    Parameters
    ----------
    spec, data, weights
        As for :func:`clvmodels.backends.mle.fit_mle`.
    priors
        Per-parameter overrides ``{name: {"dist": ..., <params>}}``
        (:data:`PRIOR_FAMILIES`); the others keep :func:`default_priors`.
    method
        ``"nuts"`` (posterior draws) or ``"map"`` (posterior mode + Laplace covariance).
    sampler
        ``"pymc"`` or ``"nutpie"`` (needs the optional ``nutpie`` package).
    draws, tune, chains, cores, target_accept, seed, progress
        Sampler settings; the seed makes runs reproducible.
    ess_floor
        A warning is issued when a parameter's bulk or tail ESS is below it.

    Returns
    -------
    FitResult
        ``params`` = posterior means (MAP: the mode), ``draws`` per parameter (flattened
        over chains; ``diagnostics["draws_shape"]`` = (chains, draws)), R-hat, ESS and
        divergences in ``diagnostics``.
    """
    import pymc as pm

    started = time.perf_counter()
    arrays, w = prepare_rows(spec, data, weights)
    unique, uw = compress_rows(arrays, w)
    if len(uw) == 0 or uw.sum() <= 0:
        raise FitError(f"{spec.key}: no customers to fit on")
    start = spec.initial_params(unique, uw)
    chosen = default_priors(spec, start)
    if priors:
        check_priors(spec, priors)
        chosen.update({k: dict(v) for k, v in priors.items()})
    model = build_model(spec, unique, uw, chosen, portable=method == "nuts" and sampler == "nutpie")
    diagnostics: dict[str, Any] = {"method": method, "priors": chosen}
    if method == "map":
        with model:
            with warnings.catch_warnings():
                # PyMC 6 announces API changes of find_MAP with FutureWarnings; the
                # keywords below pin today's behaviour explicitly
                warnings.simplefilter("ignore", FutureWarning)
                point = pm.find_MAP(progressbar=progress, **_map_seed(pm, seed))
        params = {k: float(point[k]) for k in spec.param_names}
        draws_out = None
        cov_log = _laplace_cov_log(model, spec, point)
        diagnostics["optimizer"] = "PyMC find_MAP (L-BFGS-B) + Laplace covariance"
    elif method == "nuts":
        if sampler not in ("pymc", "nutpie"):
            raise ConfigError(f"sampler: {sampler!r} is not 'pymc' or 'nutpie'")
        if sampler == "nutpie":
            try:
                import nutpie  # noqa: F401
            except ImportError:
                raise ConfigError(
                    "sampler: nutpie is not installed (pip install nutpie, or sampler: pymc)"
                ) from None
        start_kwargs: dict[str, Any] = {}
        if sampler == "pymc":
            start_kwargs, diagnostics["init"] = _nuts_start(
                pm, model, spec, unique, uw, chains, target_accept, seed
            )
        sampling_started = time.perf_counter()
        with model, warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*could not link to a BLAS", UserWarning)
            warnings.filterwarnings("ignore", "QuadPotentialFullAdapt is an experimental")
            idata = pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                cores=cores if cores is not None else min(chains, os.cpu_count() or 1),
                random_seed=seed,
                nuts_sampler=sampler,
                progressbar=progress,
                compute_convergence_checks=False,
                **({} if start_kwargs else {"target_accept": target_accept}),
                **start_kwargs,
            )
        diagnostics["sampling_seconds"] = round(time.perf_counter() - sampling_started, 3)
        posterior = idata.posterior
        draws_out = {
            k: np.asarray(posterior[k].values, dtype=float).reshape(-1) for k in spec.param_names
        }
        params = {k: float(v.mean()) for k, v in draws_out.items()}
        logs = np.log(np.column_stack([draws_out[k] for k in spec.param_names]))
        cov_log = np.atleast_2d(np.cov(logs, rowvar=False))
        diagnostics.update(_sampler_diagnostics(idata, spec, ess_floor))
        diagnostics["draws_shape"] = [int(posterior.sizes["chain"]), int(posterior.sizes["draw"])]
        diagnostics["sampler"] = f"NUTS ({sampler})"
    else:
        raise ConfigError(f"method: {method!r} is not 'nuts' or 'map'")
    ll = float(np.sum(uw * spec.log_likelihood(**params, **unique, xp=numpy_ops)))
    diagnostics["seconds"] = round(time.perf_counter() - started, 3)
    return FitResult(
        model=spec.key,
        backend="bayes",
        param_names=spec.param_names,
        params=params,
        log_likelihood=ll,
        n_obs=float(uw.sum()),
        n_unique=len(uw),
        cov_log=cov_log,
        draws=draws_out,
        diagnostics=diagnostics,
        time_unit=time_unit,
        data_fingerprint=fingerprint_rows(unique, uw),
    )


class TrajectoryCache:
    """Remember the log density and gradient at the points of the current trajectory.

    PyMC's NUTS starts every iteration by evaluating the log density and its gradient
    at the current position (``CpuLeapfrogIntegrator.compute_state``), although that
    position is one of the points the previous trajectory has just evaluated.  With
    the three to seven leapfrog steps per iteration of a well-adapted sampler, this
    repeated evaluation is 15-25 % of the work.  This wrapper around the integrator's
    ``(q, point_map_info) -> (logp, gradient)`` function answers that call from the
    trajectory's own evaluations (the values are the same numbers: the draws are
    bit-for-bit identical, tested) and forgets the trajectory at each such hit.
    """

    def __init__(self, func: Any, max_points: int = 2048) -> None:
        self._func = func
        self._max_points = max_points
        self._seen: dict[bytes, tuple[Any, np.ndarray]] = {}

    def __call__(self, q: np.ndarray, point_map_info: Any) -> tuple[Any, np.ndarray]:
        key = np.asarray(q).tobytes()
        hit = self._seen.get(key)
        if hit is not None:  # the start of the next iteration
            self._seen.clear()
            return hit[0], hit[1].copy()
        logp, grad = self._func(q, point_map_info)
        if len(self._seen) >= self._max_points:
            self._seen.clear()
        self._seen[key] = (logp, np.array(grad, copy=True))
        return logp, grad


def _nuts_start(
    pm: Any,
    model: Any,
    spec: ModelSpec,
    unique: Mapping[str, np.ndarray],
    weights: np.ndarray,
    chains: int,
    target_accept: float,
    seed: int | None,
) -> tuple[dict[str, Any], str]:
    """Start PyMC's NUTS from the Laplace approximation of the likelihood.

    The maximum-likelihood fit (a fraction of a second even on 1e6 customers) gives the
    mode and the covariance of the log-parameters, which are exactly PyMC's sampling
    coordinates for log-transformed priors.  Each chain starts at its own draw from
    that normal approximation (over-dispersed starts keep R-hat meaningful), and the
    dense mass matrix starts from the covariance instead of the identity, then keeps
    adapting (weight 10, as PyMC's own ``jitter+adapt_full``).  Without this, the early
    warm-up of a large data set, whose posterior is narrow, spends most of its time on
    trajectories of 100+ leapfrog steps; with it, warm-up costs about as much per
    iteration as sampling (measured on 1e6 BG/NBD customers, one chain: 3.9 leapfrog
    steps per warm-up iteration instead of 59, 2.9 per draw).  The integrator also
    reuses the trajectory's evaluations (:class:`TrajectoryCache`).  When the
    likelihood has no well-defined maximum, or a prior does not sample on the log scale
    (``uniform``), PyMC's ``jitter+adapt_full`` is
    used instead.  Returns the keyword arguments for ``pm.sample`` and a label.
    """
    from pymc.step_methods.hmc.quadpotential import QuadPotentialFullAdapt

    fallback = {"init": "jitter+adapt_full", "target_accept": target_accept}
    value_vars = [model.rvs_to_values[model[k]] for k in spec.param_names]
    if any(v.name != f"{k}_log__" for k, v in zip(spec.param_names, value_vars, strict=True)):
        return fallback, "jitter+adapt_full (a prior is not sampled on the log scale)"
    try:
        mle = fit_mle(spec, unique, weights)
    except FitError:
        return fallback, "jitter+adapt_full (no maximum-likelihood start)"
    mean = np.log([mle.params[k] for k in spec.param_names])
    cov = np.asarray(mle.cov_log, dtype=float)
    if not (np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh(cov) > 0)):
        return fallback, "jitter+adapt_full (singular information matrix)"
    rng = np.random.default_rng(None if seed is None else [seed, 7])
    starts = rng.multivariate_normal(mean, cov, size=chains)
    initvals = [dict(zip(spec.param_names, np.exp(row).tolist(), strict=True)) for row in starts]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "QuadPotentialFullAdapt is an experimental")
        potential = QuadPotentialFullAdapt(len(mean), mean, cov, 10, rng=rng)
    with model:
        step = pm.NUTS(vars=value_vars, potential=potential, target_accept=target_accept)
    integrator = getattr(step, "integrator", None)
    if integrator is not None and callable(getattr(integrator, "_logp_dlogp_func", None)):
        integrator._logp_dlogp_func = TrajectoryCache(integrator._logp_dlogp_func)
    return {"step": step, "initvals": initvals}, "Laplace approximation at the MLE"


def _map_seed(pm: Any, seed: int | None) -> dict[str, Any]:
    """find_MAP's seeding keywords: ``seed`` up to PyMC 5, ``random_seed`` (and an
    explicit ``jitter=False``, the start at the prior's initial point) from PyMC 6."""
    import inspect

    parameters = inspect.signature(pm.find_MAP).parameters
    if "random_seed" in parameters:
        return {"random_seed": seed, "jitter": False, "return_inferencedata": False}
    return {"seed": seed}


def _sampler_diagnostics(idata: Any, spec: ModelSpec, ess_floor: float) -> dict[str, Any]:
    """R-hat, bulk/tail ESS (ArviZ) and divergences; warns naming what to try."""
    import arviz as az

    names = list(spec.param_names)
    rhat = az.rhat(idata, var_names=names)
    bulk = az.ess(idata, var_names=names, method="bulk")
    tail = az.ess(idata, var_names=names, method="tail")
    per_param = {
        k: {"r_hat": float(rhat[k]), "ess_bulk": float(bulk[k]), "ess_tail": float(tail[k])}
        for k in names
    }
    divergences = int(np.asarray(idata.sample_stats["diverging"].values).sum())
    problems = []
    for k, d in per_param.items():
        if not d["r_hat"] <= 1.01:
            problems.append(f"{k}: R-hat {d['r_hat']:.3f} > 1.01")
        if min(d["ess_bulk"], d["ess_tail"]) < ess_floor:
            problems.append(f"{k}: ESS {min(d['ess_bulk'], d['ess_tail']):.0f} < {ess_floor:g}")
    if divergences:
        problems.append(f"{divergences} divergent transitions")
    if problems:
        warnings.warn(
            f"{spec.key}: the posterior may not be reliable ({'; '.join(problems)}); try more "
            "tuning steps and draws (tune, draws), a higher target_accept, or more "
            "informative priors",
            ConvergenceWarning,
            stacklevel=3,
        )
    stats = idata.sample_stats
    steps = float(np.mean(stats["n_steps"].values)) if "n_steps" in stats else None
    return {
        "parameters": per_param,
        "mean_tree_size": None if steps is None else round(steps, 2),
        "divergences": divergences,
        "converged": not problems,
        "problems": problems,
    }


def _laplace_cov_log(model: Any, spec: ModelSpec, point: Mapping[str, Any]) -> np.ndarray | None:
    """Covariance of the log-parameters at the mode: the inverse negative Hessian of the
    log posterior in the sampler's (log-)transformed space; None if a prior is not
    log-transformed (e.g. uniform)."""
    value_vars = model.value_vars
    names = [v.name for v in value_vars]
    if not all(n.endswith("_log__") for n in names):
        return None
    dlogp = model.compile_dlogp(vars=[model[k] for k in spec.param_names])

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        values = {f"{k}_log__": np.asarray(t) for k, t in zip(spec.param_names, theta, strict=True)}
        return 0.0, np.asarray(dlogp(values), dtype=float)

    theta = np.array([math.log(float(point[k])) for k in spec.param_names])
    # d log p / d log θ of the model includes the log-Jacobian; its Hessian is the
    # curvature of the posterior in log θ, which is what the Laplace approximation needs
    cov, ok = invert_information(hessian(objective, theta))
    return cov if ok else None
