"""Bayesian backend: PyMC + ArviZ, on the same log-likelihood code as the MLE backend.

The model's likelihood (``spec.log_likelihood`` written against ``xp``) is evaluated
with PyTensor on the *compressed* data — identical customers collapsed into weights,
and the terms marked ``xp.distinct`` evaluated once per distinct value pair — and
enters the PyMC model as one weighted ``pm.Potential``; the posterior therefore costs
the same whatever the number of customers with the same histories.

Priors: weakly informative defaults, centred on the model's data-driven starting
values, overridable per parameter (:mod:`clvmodels.backends.priors`, which states and
argues the defaults).

Covariates (``covariates=``, :class:`~clvmodels.backends.design.CovariateLinks`): a
linked parameter of a customer with covariate pattern ``g`` is ``θ₀ · exp(sign · Z[g] ·
γ)``, built by the same code as in the MLE backend
(:func:`~clvmodels.backends.design.pattern_params`), with a Normal prior on each
coefficient.  A coefficient tied to another by a constraint (``covariates.tied``) has no
variable of its own: it is its source's variable, so only ``covariates.free_names()``
are sampled and reported, and the result's ``params`` and ``tied`` carry the others.

Hierarchical (partially pooled) fits are :mod:`clvmodels.backends.hierarchy`.

Samplers (:data:`SAMPLERS`): our own NUTS over the compiled log posterior, with no PyMC
model (:mod:`clvmodels.backends.hmc`, :mod:`clvmodels.backends.posterior`; the default
where it applies), PyMC's NUTS (started from the Laplace approximation at the MLE,
:mod:`clvmodels.backends.nuts`), nutpie when installed (``sampler="nutpie"``), or
``method="map"`` (posterior mode with a Laplace covariance — fast, no draws).  NUTS
moves in the log of each parameter, except where a model declares a lifetime's (shape,
rate) pair identified only along a ridge (the Pareto/NBD's ``(s, β)``), which it
samples as ``(log s, log(−log S(t*)))`` (:mod:`clvmodels.backends.coordinates`).
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# ConvergenceWarning keeps its documented name bayes.ConvergenceWarning
from clvmodels.backends.convergence import ConvergenceWarning as ConvergenceWarning
from clvmodels.backends.convergence import draws_fit
from clvmodels.backends.coordinates import Coordinates
from clvmodels.backends.design import PATTERN, CovariateLinks, FitRows, pattern_params
from clvmodels.backends.distinct import DistinctColumns
from clvmodels.backends.nuts import laplace_cov_log, nuts_start, own_nuts_draws
from clvmodels.backends.posterior import supports
from clvmodels.backends.priors import check_priors, default_priors, pymc_name
from clvmodels.errors import ConfigError
from clvmodels.machine import one_blas_thread
from clvmodels.models.ops import numpy_ops, pytensor_ops
from clvmodels.models.spec import ModelSpec
from clvmodels.results import FitResult

SAMPLERS = ("auto", "clvmodels", "pymc", "nutpie")
"""NUTS samplers: ``clvmodels`` (ours, :mod:`clvmodels.backends.hmc`), PyMC's, nutpie's;
``auto`` is ours where it applies (:func:`~clvmodels.backends.posterior.supports`), else
PyMC's."""

Fit = tuple[dict[str, float], dict[str, np.ndarray] | None, np.ndarray | None]
"""What a method gives :func:`fit_bayes`: point estimates, draws and ``cov_log``."""


@dataclass(frozen=True)
class _Sampling:
    """The NUTS settings of :func:`fit_bayes`."""

    sampler: str
    draws: int
    tune: int
    chains: int
    cores: int | None
    target_accept: float
    seed: int | None
    progress: bool
    ess_floor: float


def build_model(
    spec: ModelSpec,
    unique: Mapping[str, np.ndarray],
    weights: np.ndarray,
    priors: Mapping[str, Mapping[str, Any]],
    *,
    portable: bool = False,
    covariates: CovariateLinks | None = None,
    coordinates: Coordinates | None = None,
) -> Any:
    """The PyMC model: priors and the weighted log-likelihood of the compressed rows
    (``portable``: PyTensor's own operations only, for nutpie's Numba compilation), in
    the sampling ``coordinates`` (default: the log of each parameter, the coefficients
    as they are; :mod:`clvmodels.backends.coordinates`).

    With ``covariates``, the rows carry their covariate pattern in a :data:`PATTERN`
    column (``covariates.pattern`` is not used), ``priors`` name every coefficient too,
    and each linked parameter is ``θ₀ · exp(sign · Z[g] · γ)`` per row
    (:func:`~clvmodels.backends.design.pattern_params`, as in the MLE backend); the
    variables are named by :func:`~clvmodels.backends.priors.pymc_name`.
    """
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    # shared variables rather than constants: the same compiled code serves every data set
    columns = {c: pytensor.shared(np.asarray(v, dtype=float), name=c) for c, v in unique.items()}
    row_key = None if covariates is None else PATTERN
    distinct = DistinctColumns(columns, constants=unique, row_key=row_key)
    coefficients = {} if covariates is None else covariates.coefficients_by_parameter()
    tied = {} if covariates is None else covariates.tied
    if coordinates is None:  # the log scale
        coordinates = Coordinates.of(spec, coefficients=free_coefficients(covariates))
    xp = pytensor_ops(portable)
    with pm.Model() as model:
        variables = coordinates.variables(pm, priors)
        params = {k: variables[k] for k in spec.param_names}
        if covariates is not None:
            designs = {
                p: pytensor.shared(np.asarray(covariates.designs[p], dtype=float), name=f"Z[{p}]")
                for p in coefficients
            }
            gammas = {
                p: [variables[tied.get(c, c)] for c in group] for p, group in coefficients.items()
            }
            index = pt.cast(columns[PATTERN], "int64")
            params = pattern_params(params, covariates.signs, gammas, designs, index, xp)
        model_columns = {c: v for c, v in columns.items() if c != PATTERN}
        per_row = spec.log_likelihood(**params, **model_columns, xp=distinct.ops(xp))
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
    sampler: str = "auto",
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
        (:data:`~clvmodels.backends.priors.PRIOR_FAMILIES`; covariate coefficients take
        ``normal`` only); the others keep :func:`~clvmodels.backends.priors.default_priors`.
    method
        ``"nuts"`` (posterior draws) or ``"map"`` (posterior mode + Laplace covariance).
    sampler
        ``"auto"`` (ours where it applies, else PyMC's), ``"clvmodels"`` (our own NUTS
        over the compiled likelihood: no PyMC model, no PyMC import; fits without
        covariates, with priors on the log scale and no hazard pair), ``"pymc"`` or
        ``"nutpie"`` (needs the optional ``nutpie`` package).
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
        divergences in ``diagnostics``; ``cov_log`` of the log of each positive
        parameter and the coefficients as they are (NUTS may move in other coordinates,
        ``diagnostics["hazard_coordinates"]``, :mod:`clvmodels.backends.coordinates`).
    """
    started = time.perf_counter()
    if method not in ("nuts", "map"):
        raise ConfigError(f"method: {method!r} is not 'nuts' or 'map'")
    _check_sampler(sampler)
    rows = FitRows.of(spec, data, weights, covariates)
    coefficients = free_coefficients(covariates)
    chosen = _chosen_priors(spec, rows, coefficients, priors)
    # NUTS moves in straightened coordinates; the mode of ``map`` stays the log-scale one
    coordinates = Coordinates.of(spec, rows if method == "nuts" else None, coefficients, chosen)
    diagnostics: dict[str, Any] = {"method": method, "priors": chosen, **coordinates.describe()}
    settings = _Sampling(
        sampler, draws, tune, chains, cores, target_accept, seed, progress, ess_floor
    )
    if method == "nuts" and _own_sampler(sampler, chosen, covariates, coordinates):
        fitted = _fit_own(spec, rows, chosen, settings, diagnostics)
        if fitted is not None:
            return _result(spec, rows, covariates, fitted, diagnostics, time_unit, started)
    if sampler in ("auto", "clvmodels"):
        settings = dataclasses.replace(settings, sampler="pymc")
    model = build_model(
        spec,
        rows.rows,
        rows.weights,
        chosen,
        portable=method == "nuts" and settings.sampler == "nutpie",
        covariates=covariates,
        coordinates=coordinates,
    )
    if method == "map":
        fitted = _fit_map(model, spec, coefficients, seed, progress, diagnostics)
    else:
        fitted = _fit_nuts(model, spec, rows, covariates, coordinates, settings, diagnostics)
    return _result(spec, rows, covariates, fitted, diagnostics, time_unit, started)


def _own_sampler(
    sampler: str,
    priors: Mapping[str, Mapping[str, Any]],
    covariates: CovariateLinks | None,
    coordinates: Coordinates,
) -> bool:
    """Whether our own NUTS samples this fit: ``sampler`` is ``clvmodels`` or ``auto``
    and the fit is one it samples (:func:`~clvmodels.backends.posterior.supports`);
    ``ConfigError`` when ``clvmodels`` was asked for a fit it does not sample."""
    if sampler not in ("auto", "clvmodels"):
        return False
    if supports(priors, covariates, bool(coordinates.hazards)):
        return True
    if sampler == "clvmodels":
        raise ConfigError(
            "sampler: clvmodels samples fits without covariates, with priors on the log "
            "scale and no hazard pair (choose sampler: pymc)"
        )
    return False


def _fit_own(
    spec: ModelSpec,
    rows: FitRows,
    priors: Mapping[str, Mapping[str, Any]],
    settings: _Sampling,
    diagnostics: dict[str, Any],
) -> Fit | None:
    """Posterior draws by our own NUTS (:mod:`clvmodels.backends.hmc`) from the Laplace
    approximation (:func:`~clvmodels.backends.nuts.own_nuts_draws`); None when that has
    no start (the caller then samples with PyMC)."""
    cores = settings.cores if settings.cores is not None else os.cpu_count() or 1
    sampled = own_nuts_draws(
        spec,
        rows,
        priors,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=cores,
        target_accept=settings.target_accept,
        seed=settings.seed,
    )
    if sampled is None:
        return None
    draws, divergences, mean_steps, seconds = sampled
    diagnostics["sampling_seconds"] = round(seconds, 3)
    diagnostics["init"] = "Laplace approximation at the MLE"
    diagnostics["sampler"] = "NUTS (clvmodels)"
    return draws_fit(draws, spec.key, (), settings.ess_floor, diagnostics, divergences, mean_steps)


def _result(
    spec: ModelSpec,
    rows: FitRows,
    covariates: CovariateLinks | None,
    fitted: Fit,
    diagnostics: dict[str, Any],
    time_unit: str | None,
    started: float,
) -> FitResult:
    """The result of a Bayesian fit, with the log-likelihood at the point estimates."""
    params, draws_out, cov_log = fitted
    coefficients = free_coefficients(covariates)
    tied = {} if covariates is None else dict(covariates.tied)
    params = {**params, **{k: params[source] for k, source in tied.items()}}
    per_row = _row_params(spec, params, covariates, rows.pattern)
    values = spec.log_likelihood(**per_row, **rows.model_columns, xp=numpy_ops)
    diagnostics["seconds"] = round(time.perf_counter() - started, 3)
    return FitResult(
        model=spec.key,
        backend="bayes",
        param_names=(*spec.param_names, *coefficients),
        params=params,
        log_likelihood=float(np.sum(rows.weights * values)),
        n_obs=rows.n_obs,
        n_unique=len(rows.weights),
        cov_log=cov_log,
        draws=draws_out,
        diagnostics=diagnostics,
        time_unit=time_unit,
        data_fingerprint=rows.fingerprint(),
        coefficients=coefficients,
        tied=tied,
    )


def free_coefficients(covariates: CovariateLinks | None) -> tuple[str, ...]:
    """The coefficients a Bayesian fit samples: every one but those tied to another
    (:meth:`~clvmodels.backends.design.CovariateLinks.free_names`)."""
    return () if covariates is None else covariates.free_names()


def _chosen_priors(
    spec: ModelSpec,
    rows: FitRows,
    coefficients: tuple[str, ...],
    priors: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, dict[str, Any]]:
    """The default priors (centred on the data-driven start) with ``priors`` applied,
    after checking them (:mod:`clvmodels.backends.priors`)."""
    start = spec.initial_params(rows.model_columns, rows.weights)
    chosen = default_priors(spec, start, coefficients)
    if priors:
        check_priors(spec, priors, coefficients=coefficients)
        chosen.update({k: dict(v) for k, v in priors.items()})
    return chosen


def _fit_map(
    model: Any,
    spec: ModelSpec,
    coefficients: tuple[str, ...],
    seed: int | None,
    progress: bool,
    diagnostics: dict[str, Any],
) -> Fit:
    """The posterior mode (PyMC's ``find_MAP``) with the Laplace covariance there."""
    import pymc as pm

    with model:
        with warnings.catch_warnings():
            # PyMC 6 announces API changes of find_MAP with FutureWarnings; the
            # keywords below pin today's behaviour explicitly
            warnings.simplefilter("ignore", FutureWarning)
            with one_blas_thread():  # SciPy's L-BFGS-B: OpenBLAS spins for tiny solves
                point = pm.find_MAP(progressbar=progress, **_map_seed(pm, seed))
    params = {k: float(point[pymc_name(k)]) for k in (*spec.param_names, *coefficients)}
    cov_log = laplace_cov_log(model, spec, point, coefficients)
    diagnostics["optimizer"] = "PyMC find_MAP (L-BFGS-B) + Laplace covariance"
    return params, None, cov_log


def _fit_nuts(
    model: Any,
    spec: ModelSpec,
    rows: FitRows,
    covariates: CovariateLinks | None,
    coordinates: Coordinates,
    settings: _Sampling,
    diagnostics: dict[str, Any],
) -> Fit:
    """Posterior draws by NUTS (PyMC's, from the Laplace start, or nutpie's); their
    means, their covariance in the sampler's coordinates, and the sampler diagnostics."""
    import pymc as pm

    start_kwargs: dict[str, Any] = {}
    if settings.sampler == "pymc":
        start_kwargs, diagnostics["init"] = nuts_start(
            pm,
            model,
            spec,
            rows,
            settings.chains,
            settings.target_accept,
            settings.seed,
            covariates,
            coordinates,
        )
    sampling_started = time.perf_counter()
    idata = sample_nuts(
        model,
        settings.draws,
        settings.tune,
        settings.chains,
        settings.cores,
        settings.seed,
        settings.progress,
        nuts_sampler=settings.sampler,
        **({} if start_kwargs else {"target_accept": settings.target_accept}),
        **start_kwargs,
    )
    diagnostics["sampling_seconds"] = round(time.perf_counter() - sampling_started, 3)
    coefficients = free_coefficients(covariates)
    diagnostics["sampler"] = f"NUTS ({settings.sampler})"
    return posterior_fit(idata, spec, coefficients, settings.ess_floor, diagnostics)


def sample_nuts(
    model: Any,
    draws: int,
    tune: int,
    chains: int,
    cores: int | None,
    seed: int | None,
    progress: bool,
    **options: Any,
) -> Any:
    """PyMC's ``pm.sample`` on ``model`` (``cores`` default: one per chain, at most the
    machine's), without its convergence checks (:func:`draws_fit` makes ours)
    and without its notices that say nothing about the posterior; ``options`` go to
    ``pm.sample`` (the start, the step, ``nuts_sampler``, ``target_accept``)."""
    import pymc as pm

    cores = cores if cores is not None else min(chains, os.cpu_count() or 1)
    with model, warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*could not link to a BLAS", UserWarning)
        warnings.filterwarnings("ignore", "QuadPotentialFullAdapt is an experimental")
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=seed,
            progressbar=progress,
            compute_convergence_checks=False,
            **options,
        )


def posterior_fit(
    idata: Any,
    spec: ModelSpec,
    coefficients: tuple[str, ...],
    ess_floor: float,
    diagnostics: dict[str, Any],
    names: tuple[str, ...] | None = None,
) -> Fit:
    """:func:`draws_fit` of a sampled PyMC model: ``names`` (default: the model's
    parameters, then ``coefficients``) are variables of ``idata.posterior`` named by
    :func:`~clvmodels.backends.priors.pymc_name`."""
    names = (*spec.param_names, *coefficients) if names is None else tuple(names)
    draws = {k: np.asarray(idata.posterior[pymc_name(k)].values, dtype=float) for k in names}
    stats = idata.sample_stats
    divergences = int(np.asarray(stats["diverging"].values).sum())
    steps = float(np.mean(stats["n_steps"].values)) if "n_steps" in stats else None
    return draws_fit(draws, spec.key, coefficients, ess_floor, diagnostics, divergences, steps)


def _check_sampler(sampler: str) -> None:
    """``ConfigError`` unless ``sampler`` is one of :data:`SAMPLERS` (nutpie installed)."""
    if sampler not in SAMPLERS:
        raise ConfigError(f"sampler: {sampler!r} is not one of {', '.join(SAMPLERS)}")
    if sampler == "nutpie":
        try:
            import nutpie  # noqa: F401
        except ImportError:
            raise ConfigError(
                "sampler: nutpie is not installed (pip install nutpie, or sampler: pymc)"
            ) from None


def _row_params(
    spec: ModelSpec,
    params: Mapping[str, float],
    covariates: CovariateLinks | None,
    pattern: np.ndarray | None,
) -> dict[str, Any]:
    """The model's parameters per data row (NumPy): ``θ₀ · exp(sign · Z[g] · γ)`` for the
    linked ones (:func:`~clvmodels.backends.design.pattern_params`), ``g`` the row's
    covariate pattern; scalars without covariates."""
    out: dict[str, Any] = {k: float(params[k]) for k in spec.param_names}
    if covariates is None or pattern is None:
        return out
    # ``params`` holds the tied coefficients too, with their sources' values
    gammas = {
        p: [float(params[c]) for c in group]
        for p, group in covariates.coefficients_by_parameter().items()
    }
    index = np.asarray(pattern).astype(np.int64)
    return pattern_params(out, covariates.signs, gammas, covariates.designs, index)


def _map_seed(pm: Any, seed: int | None) -> dict[str, Any]:
    """find_MAP's seeding keywords: ``seed`` up to PyMC 5, ``random_seed`` (and an
    explicit ``jitter=False``, the start at the prior's initial point) from PyMC 6."""
    import inspect

    parameters = inspect.signature(pm.find_MAP).parameters
    if "random_seed" in parameters:
        return {"random_seed": seed, "jitter": False, "return_inferencedata": False}
    return {"seed": seed}
