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

Samplers: PyMC's NUTS (default; started from the Laplace approximation at the MLE,
:mod:`clvmodels.backends.nuts`), nutpie when installed (``sampler="nutpie"``), or
``method="map"`` (posterior mode with a Laplace covariance — fast, no draws).  NUTS
moves in the log of each parameter, except where a model declares a lifetime's (shape,
rate) pair identified only along a ridge (the Pareto/NBD's ``(s, β)``), which it
samples as ``(log s, log(−log S(t*)))`` (:mod:`clvmodels.backends.coordinates`).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from clvmodels.backends.coordinates import Coordinates
from clvmodels.backends.design import PATTERN, CovariateLinks, FitRows, pattern_params
from clvmodels.backends.distinct import DistinctColumns
from clvmodels.backends.nuts import laplace_cov_log, nuts_start
from clvmodels.backends.priors import check_priors, default_priors, pymc_name
from clvmodels.errors import ConfigError
from clvmodels.models.ops import numpy_ops, pytensor_ops
from clvmodels.models.spec import ModelSpec
from clvmodels.results import FitResult


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics say the posterior may not be trustworthy."""


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
        (:data:`~clvmodels.backends.priors.PRIOR_FAMILIES`; covariate coefficients take
        ``normal`` only); the others keep :func:`~clvmodels.backends.priors.default_priors`.
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
        divergences in ``diagnostics``; ``cov_log`` of the log of each positive
        parameter and the coefficients as they are (NUTS may move in other coordinates,
        ``diagnostics["hazard_coordinates"]``, :mod:`clvmodels.backends.coordinates`).
    """
    started = time.perf_counter()
    rows = FitRows.of(spec, data, weights, covariates)
    coefficients = free_coefficients(covariates)
    chosen = _chosen_priors(spec, rows, coefficients, priors)
    portable = method == "nuts" and sampler == "nutpie"
    # NUTS moves in straightened coordinates; the mode of ``map`` stays the log-scale one
    coordinates = Coordinates.of(spec, rows if method == "nuts" else None, coefficients, chosen)
    model = build_model(
        spec,
        rows.rows,
        rows.weights,
        chosen,
        portable=portable,
        covariates=covariates,
        coordinates=coordinates,
    )
    diagnostics: dict[str, Any] = {"method": method, "priors": chosen, **coordinates.describe()}
    if method == "map":
        fitted = _fit_map(model, spec, coefficients, seed, progress, diagnostics)
    elif method == "nuts":
        settings = _Sampling(
            sampler, draws, tune, chains, cores, target_accept, seed, progress, ess_floor
        )
        fitted = _fit_nuts(model, spec, rows, covariates, coordinates, settings, diagnostics)
    else:
        raise ConfigError(f"method: {method!r} is not 'nuts' or 'map'")
    return _result(spec, rows, covariates, fitted, diagnostics, time_unit, started)


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

    _check_sampler(settings.sampler)
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
    machine's), without its convergence checks (:func:`sampler_diagnostics` makes ours)
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
    """Posterior means, the draws flattened over chains and their covariance in the
    coordinates of ``cov_log`` (the log of each positive parameter, coefficients as they
    are) of a sampled PyMC model; R-hat, ESS, divergences and the draws' shape go into
    ``diagnostics`` (:func:`sampler_diagnostics`, which warns).  ``names``: the posterior
    variables reported (default: the model's parameters, then ``coefficients``), each a
    variable of ``idata.posterior`` named by :func:`~clvmodels.backends.priors.pymc_name`."""
    names = (*spec.param_names, *coefficients) if names is None else tuple(names)
    posterior = idata.posterior
    draws_out = {
        k: np.asarray(posterior[pymc_name(k)].values, dtype=float).reshape(-1) for k in names
    }
    coordinates = np.column_stack(
        [draws_out[k] if k in coefficients else np.log(draws_out[k]) for k in names]
    )
    diagnostics.update(sampler_diagnostics(idata, spec, ess_floor, names))
    diagnostics["draws_shape"] = [int(posterior.sizes["chain"]), int(posterior.sizes["draw"])]
    params = {k: float(v.mean()) for k, v in draws_out.items()}
    return params, draws_out, np.atleast_2d(np.cov(coordinates, rowvar=False))


def _check_sampler(sampler: str) -> None:
    """``ConfigError`` unless ``sampler`` is PyMC's or an installed nutpie."""
    if sampler not in ("pymc", "nutpie"):
        raise ConfigError(f"sampler: {sampler!r} is not 'pymc' or 'nutpie'")
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


def sampler_diagnostics(
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
