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

Covariates (``covariates=``, :class:`~clvmodels.backends.mle.CovariateLinks`): a linked
parameter of a customer with covariate pattern ``g`` is ``θ₀ · exp(sign · Z[g] · γ)``,
as in the MLE backend, and each coefficient has the default prior ``γ ~ Normal(0, 1)``
(overridable with the ``normal`` family, the only one a coefficient takes; the positive
families are for the base parameters).  Reasoning: a coefficient is an effect on the log
of a positive parameter, so ``γ = ±2`` already multiplies that parameter by ``e² ≈ 7`` for
a one-unit change of the covariate; Normal(0, 1) puts 95 % of its mass on multipliers
between 1/7 and 7 — weakly informative: any effect of a plausible size is left to the
data, while a covariate that (almost) separates customers cannot push its coefficient
towards ±30, where the MLE runs to the edge of the parameter space.  For covariates
that are not 0/1 indicators this assumes a unit of the order of their spread
(standardise them, or override the prior).
Coefficients are named ``parameter:covariate`` (``alpha:member``) in the model and in
the result; PyMC refuses ``/`` and a trailing ``:`` in names, so those characters (and
``%``) are percent-encoded in the PyMC model only (:func:`pymc_name`).

Samplers: PyMC's NUTS (default), nutpie when installed (``sampler="nutpie"``), or
``method="map"`` (posterior mode with a Laplace covariance — fast, no draws).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import quote

import numpy as np

from clvmodels.backends.compress import compress_rows, fingerprint_rows, prepare_rows
from clvmodels.backends.distinct import DistinctColumns
from clvmodels.backends.information import hessian, invert_information
from clvmodels.backends.mle import PATTERN, CovariateLinks, fit_mle
from clvmodels.errors import ConfigError, FitError
from clvmodels.models.ops import numpy_ops, pytensor_ops
from clvmodels.models.spec import ModelSpec
from clvmodels.results import FitResult

DEFAULT_PRIOR_SIGMA = 2.5
DEFAULT_COEFFICIENT_SIGMA = 1.0
PRIOR_FAMILIES: dict[str, tuple[str, ...]] = {
    "normal": ("mu", "sigma"),
    "lognormal": ("mu", "sigma"),
    "halfnormal": ("sigma",),
    "gamma": ("alpha", "beta"),
    "exponential": ("lam",),
    "halfcauchy": ("beta",),
    "uniform": ("lower", "upper"),
}
"""Prior distributions a config may name, with their parameters (PyMC's names);
``normal`` is for covariate coefficients only, the others for the positive parameters."""
COEFFICIENT_FAMILIES = ("normal",)


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics say the posterior may not be trustworthy."""


def default_priors(
    spec: ModelSpec, start: Mapping[str, float], coefficients: Collection[str] = ()
) -> dict[str, dict[str, Any]]:
    """``{name: {"dist": "lognormal", "mu": log θ₀, "sigma": 2.5}}`` per parameter and
    ``{"dist": "normal", "mu": 0, "sigma": 1}`` per covariate coefficient (module
    docstring)."""
    priors: dict[str, dict[str, Any]] = {
        k: {
            "dist": "lognormal",
            "mu": math.log(max(float(start[k]), 1e-8)),
            "sigma": DEFAULT_PRIOR_SIGMA,
        }
        for k in spec.param_names
    }
    for name in coefficients:
        priors[name] = {"dist": "normal", "mu": 0.0, "sigma": DEFAULT_COEFFICIENT_SIGMA}
    return priors


def check_priors(
    spec: ModelSpec,
    priors: Mapping[str, Any],
    where: str = "priors",
    coefficients: Collection[str] | None = (),
) -> None:
    """Raise :class:`ConfigError` naming the key for an unknown parameter, distribution,
    a family that does not suit the parameter, or a missing/invalid distribution
    parameter.

    ``coefficients`` are the names of the fit's covariate coefficients (which take the
    ``normal`` family only, while the positive parameters refuse it); ``None`` when they
    are not known yet (a config checked before its data are read): then every
    ``parameter:covariate`` of a parameter that takes covariates counts as one.
    """
    linkable = {p for links in spec.covariate_links.values() for p in links}

    def is_coefficient(name: str) -> bool:
        if coefficients is None:
            parameter, separator, covariate = name.partition(":")
            return bool(separator and covariate) and parameter in linkable
        return name in coefficients

    for name, prior in priors.items():
        path = f"{where}.{name}"
        coefficient = is_coefficient(name)
        if name not in spec.param_names and not coefficient:
            known = (*spec.param_names, *(coefficients or ()))
            raise ConfigError(
                f"{path}: {spec.key} has no parameter {name!r} (parameters: {', '.join(known)})"
            )
        if not isinstance(prior, Mapping) or "dist" not in prior:
            example = "normal, mu: 0, sigma: 1" if coefficient else "lognormal, mu: 0, sigma: 1"
            raise ConfigError(f"{path}: expected a mapping like {{dist: {example}}}")
        family = str(prior["dist"]).lower()
        if family not in PRIOR_FAMILIES:
            raise ConfigError(
                f"{path}.dist: unknown distribution {prior['dist']!r} "
                f"(choose {', '.join(PRIOR_FAMILIES)})"
            )
        if coefficient and family not in COEFFICIENT_FAMILIES:
            raise ConfigError(
                f"{path}.dist: {family} is for positive parameters; a covariate coefficient "
                f"is any real number (choose {', '.join(COEFFICIENT_FAMILIES)})"
            )
        if not coefficient and family in COEFFICIENT_FAMILIES:
            positive = [f for f in PRIOR_FAMILIES if f not in COEFFICIENT_FAMILIES]
            raise ConfigError(
                f"{path}.dist: {family} is for covariate coefficients; {name} is positive "
                f"(choose {', '.join(positive)})"
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


def pymc_name(name: str) -> str:
    """The PyMC variable name of a parameter or coefficient: ``name`` itself, with the
    characters PyMC refuses (``/`` anywhere, ``:`` at the end) and ``%`` percent-encoded,
    so that distinct names stay distinct (``urllib.parse.unquote`` gives ``name`` back)."""
    encoded = quote(name, safe="".join(chr(c) for c in range(32, 127) if chr(c) not in "/%"))
    if encoded.endswith(":"):
        encoded = encoded[:-1] + "%3A"
    return encoded


def _prior_variable(pm: Any, name: str, prior: Mapping[str, Any]) -> Any:
    family = str(prior["dist"]).lower()
    kwargs = {k: float(prior[k]) for k in PRIOR_FAMILIES[family]}
    constructor = {
        "normal": pm.Normal,
        "lognormal": pm.LogNormal,
        "halfnormal": pm.HalfNormal,
        "gamma": pm.Gamma,
        "exponential": pm.Exponential,
        "halfcauchy": pm.HalfCauchy,
        "uniform": pm.Uniform,
    }[family]
    return constructor(pymc_name(name), **kwargs)


def _coefficients_of(covariates: CovariateLinks) -> dict[str, tuple[str, ...]]:
    """The coefficient names of each linked parameter, in the order of its design columns
    (that of :meth:`CovariateLinks.coefficient_names`)."""
    names = iter(covariates.coefficient_names())
    return {p: tuple(next(names) for _ in covariates.names[p]) for p in covariates.designs}


def _row_params(
    spec: ModelSpec,
    params: Mapping[str, float],
    covariates: CovariateLinks | None,
    pattern: np.ndarray | None,
) -> dict[str, Any]:
    """The model's parameters per data row (NumPy): ``θ₀ · exp(sign · Z[g] · γ)`` for the
    linked ones, ``g`` the row's covariate pattern; scalars without covariates."""
    out: dict[str, Any] = {k: float(params[k]) for k in spec.param_names}
    if covariates is None or pattern is None:
        return out
    index = np.asarray(pattern).astype(np.int64)
    for parameter, names in _coefficients_of(covariates).items():
        gamma = np.array([params[c] for c in names], dtype=float)
        shift = np.asarray(covariates.designs[parameter], dtype=float) @ gamma
        out[parameter] = out[parameter] * np.exp(covariates.signs[parameter] * shift)[index]
    return out


def build_model(
    spec: ModelSpec,
    unique: Mapping[str, np.ndarray],
    weights: np.ndarray,
    priors: Mapping[str, Mapping[str, Any]],
    *,
    portable: bool = False,
    covariates: CovariateLinks | None = None,
) -> Any:
    """The PyMC model: priors and the weighted log-likelihood of the compressed rows
    (``portable``: PyTensor's own operations only, for nutpie's Numba compilation).

    With ``covariates``, the rows carry their covariate pattern in a :data:`PATTERN`
    column (``covariates.pattern`` is not used), ``priors`` name every coefficient too,
    and each linked parameter is ``θ₀ · exp(sign · Z[g] · γ)`` per row, as in
    :func:`clvmodels.backends.mle._compiled`; the variables are named by :func:`pymc_name`.
    """
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt
    # shared variables rather than constants: the same compiled code serves every data set
    columns = {c: pytensor.shared(np.asarray(v, dtype=float), name=c) for c, v in unique.items()}
    row_key = None if covariates is None else PATTERN
    distinct = DistinctColumns(columns, constants=unique, row_key=row_key)
    coefficients = {} if covariates is None else _coefficients_of(covariates)
    names = [*spec.param_names, *(c for group in coefficients.values() for c in group)]
    with pm.Model() as model:
        variables = {k: _prior_variable(pm, k, priors[k]) for k in names}
        params = {k: variables[k] for k in spec.param_names}
        if covariates is not None:
            index = pt.cast(columns[PATTERN], "int64")
            for parameter, group in coefficients.items():
                gamma = pt.stack([variables[c] for c in group])
                design = pytensor.shared(
                    np.asarray(covariates.designs[parameter], dtype=float), name=f"Z[{parameter}]"
                )
                # an elementwise sum, not a dot product: no BLAS for a (patterns × k) matrix
                shift = pt.sum(design * gamma[None, :], axis=1)[index]
                params[parameter] = params[parameter] * pt.exp(covariates.signs[parameter] * shift)
        model_columns = {c: v for c, v in columns.items() if c != PATTERN}
        per_row = spec.log_likelihood(
            **params, **model_columns, xp=distinct.ops(pytensor_ops(portable))
        )
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
    covariates: CovariateLinks | None = None,
) -> FitResult:
    """Fit ``spec`` by Bayesian inference with PyMC.

    Parameters
    ----------
    spec, data, weights
        As for :func:`clvmodels.backends.mle.fit_mle`.
    priors
        Per-parameter overrides ``{name: {"dist": ..., <params>}}``
        (:data:`PRIOR_FAMILIES`; covariate coefficients take ``normal`` only); the
        others keep :func:`default_priors`.
    method
        ``"nuts"`` (posterior draws) or ``"map"`` (posterior mode + Laplace covariance).
    sampler
        ``"pymc"`` or ``"nutpie"`` (needs the optional ``nutpie`` package).
    draws, tune, chains, cores, target_accept, seed, progress
        Sampler settings; the seed makes runs reproducible.
    ess_floor
        A warning is issued when a parameter's bulk or tail ESS is below it.
    time_unit
        Time unit of the data, recorded in the result.
    covariates
        Covariates on some parameters, as for :func:`~clvmodels.backends.mle.fit_mle`:
        their coefficients join ``param_names`` as ``parameter:covariate``
        (``FitResult.coefficients``), with draws, diagnostics and prior like the others.

    Returns
    -------
    FitResult
        ``params`` = posterior means (MAP: the mode), ``draws`` per parameter (flattened
        over chains; ``diagnostics["draws_shape"]`` = (chains, draws)), R-hat, ESS and
        divergences in ``diagnostics``; ``cov_log`` in the coordinates of the sampler
        (log of each positive parameter, coefficients as they are).
    """
    import pymc as pm

    started = time.perf_counter()
    extra: tuple[str, ...] = ()
    if covariates is not None:
        data = {**data, PATTERN: np.asarray(covariates.pattern, dtype=float)}
        extra = (PATTERN,)
    arrays, w = prepare_rows(spec, data, weights, extra)
    unique, uw = compress_rows(arrays, w)
    if len(uw) == 0 or uw.sum() <= 0:
        raise FitError(f"{spec.key}: no customers to fit on")
    base = {c: v for c, v in unique.items() if c != PATTERN}
    coefficients = () if covariates is None else covariates.coefficient_names()
    names = (*spec.param_names, *coefficients)
    start = spec.initial_params(base, uw)
    chosen = default_priors(spec, start, coefficients)
    if priors:
        check_priors(spec, priors, coefficients=coefficients)
        chosen.update({k: dict(v) for k, v in priors.items()})
    model = build_model(
        spec,
        unique,
        uw,
        chosen,
        portable=method == "nuts" and sampler == "nutpie",
        covariates=covariates,
    )
    diagnostics: dict[str, Any] = {"method": method, "priors": chosen}
    if method == "map":
        with model:
            with warnings.catch_warnings():
                # PyMC 6 announces API changes of find_MAP with FutureWarnings; the
                # keywords below pin today's behaviour explicitly
                warnings.simplefilter("ignore", FutureWarning)
                point = pm.find_MAP(progressbar=progress, **_map_seed(pm, seed))
        params = {k: float(point[pymc_name(k)]) for k in names}
        draws_out = None
        cov_log = _laplace_cov_log(model, spec, point, coefficients)
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
                pm, model, spec, unique, uw, chains, target_accept, seed, covariates
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
            k: np.asarray(posterior[pymc_name(k)].values, dtype=float).reshape(-1) for k in names
        }
        params = {k: float(v.mean()) for k, v in draws_out.items()}
        coordinates = np.column_stack(
            [draws_out[k] if k in coefficients else np.log(draws_out[k]) for k in names]
        )
        cov_log = np.atleast_2d(np.cov(coordinates, rowvar=False))
        diagnostics.update(_sampler_diagnostics(idata, spec, ess_floor, names))
        diagnostics["draws_shape"] = [int(posterior.sizes["chain"]), int(posterior.sizes["draw"])]
        diagnostics["sampler"] = f"NUTS ({sampler})"
    else:
        raise ConfigError(f"method: {method!r} is not 'nuts' or 'map'")
    per_row = _row_params(spec, params, covariates, unique.get(PATTERN))
    ll = float(np.sum(uw * spec.log_likelihood(**per_row, **base, xp=numpy_ops)))
    diagnostics["seconds"] = round(time.perf_counter() - started, 3)
    return FitResult(
        model=spec.key,
        backend="bayes",
        param_names=names,
        params=params,
        log_likelihood=ll,
        n_obs=float(uw.sum()),
        n_unique=len(uw),
        cov_log=cov_log,
        draws=draws_out,
        diagnostics=diagnostics,
        time_unit=time_unit,
        data_fingerprint=fingerprint_rows(unique, uw),
        coefficients=coefficients,
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
    covariates: CovariateLinks | None = None,
) -> tuple[dict[str, Any], str]:
    """Start PyMC's NUTS from the Laplace approximation of the likelihood.

    The maximum-likelihood fit (a fraction of a second even on 1e6 customers) gives the
    mode and the covariance of the log-parameters (and of the covariate coefficients, on
    their own scale), which are exactly PyMC's sampling coordinates for log-transformed
    priors (and normal priors of coefficients).  Each chain starts at its own draw from
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
    coefficients = () if covariates is None else covariates.coefficient_names()
    names = (*spec.param_names, *coefficients)
    value_vars = _sampling_value_vars(model, spec, coefficients)
    if value_vars is None:
        return fallback, "jitter+adapt_full (a prior is not sampled on the log scale)"
    try:
        if covariates is None:
            mle = fit_mle(spec, unique, weights)
        else:  # the compressed rows carry their pattern
            rows = {c: v for c, v in unique.items() if c != PATTERN}
            links = dataclasses.replace(covariates, pattern=unique[PATTERN].astype(np.int64))
            mle = fit_mle(spec, rows, weights, covariates=links)
    except FitError:
        return fallback, "jitter+adapt_full (no maximum-likelihood start)"
    mean = np.array(
        [mle.params[k] if k in coefficients else math.log(mle.params[k]) for k in names]
    )
    cov = np.asarray(mle.cov_log, dtype=float)
    if not (np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh(cov) > 0)):
        return fallback, "jitter+adapt_full (singular information matrix)"
    rng = np.random.default_rng(None if seed is None else [seed, 7])
    starts = rng.multivariate_normal(mean, cov, size=chains)
    initvals = [
        {
            pymc_name(k): float(v) if k in coefficients else math.exp(v)
            for k, v in zip(names, row, strict=True)
        }
        for row in starts
    ]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "QuadPotentialFullAdapt is an experimental")
        potential = QuadPotentialFullAdapt(len(mean), mean, cov, 10, rng=rng)
    with model:
        step = pm.NUTS(vars=value_vars, potential=potential, target_accept=target_accept)
    integrator = getattr(step, "integrator", None)
    if integrator is not None and callable(getattr(integrator, "_logp_dlogp_func", None)):
        integrator._logp_dlogp_func = TrajectoryCache(integrator._logp_dlogp_func)
    return {"step": step, "initvals": initvals}, "Laplace approximation at the MLE"


def _sampling_value_vars(
    model: Any, spec: ModelSpec, coefficients: tuple[str, ...] = ()
) -> list[Any] | None:
    """The value variables of the parameters and then the coefficients, when PyMC samples
    them in the coordinates of ``FitResult.cov_log`` — the log of each parameter
    (``<name>_log__``), each coefficient as it is — else None (e.g. a uniform prior)."""
    value_vars = []
    for name in (*spec.param_names, *coefficients):
        variable = model.rvs_to_values[model[pymc_name(name)]]
        expected = pymc_name(name) if name in coefficients else f"{pymc_name(name)}_log__"
        if variable.name != expected:
            return None
        value_vars.append(variable)
    return value_vars


def _map_seed(pm: Any, seed: int | None) -> dict[str, Any]:
    """find_MAP's seeding keywords: ``seed`` up to PyMC 5, ``random_seed`` (and an
    explicit ``jitter=False``, the start at the prior's initial point) from PyMC 6."""
    import inspect

    parameters = inspect.signature(pm.find_MAP).parameters
    if "random_seed" in parameters:
        return {"random_seed": seed, "jitter": False, "return_inferencedata": False}
    return {"seed": seed}


def _sampler_diagnostics(
    idata: Any, spec: ModelSpec, ess_floor: float, names: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """R-hat, bulk/tail ESS (ArviZ) of ``names`` (default: the model's parameters) and
    divergences; warns naming what to try."""
    import arviz as az

    names = tuple(spec.param_names if names is None else names)
    variables = [pymc_name(k) for k in names]
    rhat = az.rhat(idata, var_names=variables)
    bulk = az.ess(idata, var_names=variables, method="bulk")
    tail = az.ess(idata, var_names=variables, method="tail")
    per_param = {
        k: {"r_hat": float(rhat[v]), "ess_bulk": float(bulk[v]), "ess_tail": float(tail[v])}
        for k, v in zip(names, variables, strict=True)
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


def _laplace_cov_log(
    model: Any, spec: ModelSpec, point: Mapping[str, Any], coefficients: tuple[str, ...] = ()
) -> np.ndarray | None:
    """Covariance at the mode of the log-parameters and the coefficients (as they are):
    the inverse negative Hessian of the log posterior in the sampler's coordinates; None
    if a parameter's prior is not log-transformed (e.g. uniform)."""
    value_vars = _sampling_value_vars(model, spec, coefficients)
    if value_vars is None:
        return None
    names = (*spec.param_names, *coefficients)
    dlogp = model.compile_dlogp(vars=[model[pymc_name(k)] for k in names])
    value_names = [v.name for v in value_vars]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        values = {n: np.asarray(t) for n, t in zip(value_names, theta, strict=True)}
        return 0.0, np.asarray(dlogp(values), dtype=float)

    theta = np.array(
        [
            float(point[pymc_name(k)]) if k in coefficients else math.log(float(point[k]))
            for k in names
        ]
    )
    # d log p / d log θ of the model includes the log-Jacobian; its Hessian is the
    # curvature of the posterior in log θ, which is what the Laplace approximation needs
    cov, ok = invert_information(hessian(objective, theta))
    return cov if ok else None
