"""Hierarchical (partially pooled) fits of the Bayesian backend.

Customers fall into groups ``g`` (the levels of a customer column: countries, channels,
the cohorts of an sBG).  Every grouped model parameter ``θ`` has one value per group,
drawn from a population distribution on the log scale (Gelman et al. 2013, *Bayesian
Data Analysis*, 3rd ed., ch. 5; Gelman & Hill 2007, ch. 12), written non-centred
(Papaspiliopoulos, Roberts & Sköld 2007; Betancourt & Girolami 2015)::

    μ_θ ~ Normal(log θ₀, 2.5)        θ = exp(μ_θ), the population median
    σ_θ ~ HalfNormal(1)              sd(θ), the spread of log θ_g across groups
    z_θ,g ~ Normal(0, 1)
    log θ_g = μ_θ + σ_θ z_θ,g        θ[g]

``θ₀`` is the model's data-driven start, so the median's prior is the plain model's
default prior of ``θ`` (:mod:`clvmodels.backends.priors`) and a ``priors`` entry for
``θ`` overrides it the same way.  The spread's ``HalfNormal(1)`` is weakly informative:
``σ_θ = 1`` already puts typical groups a factor ``e ≈ 2.7`` apart (the middle 95 % of
groups a factor ``e^3.9 ≈ 50``), larger than the differences between the countries or
channels of one business; it keeps ``σ_θ`` from running off when there are few groups,
and ``priors: {"sd(θ)": ...}`` overrides it with any family of a positive parameter.
A customer's parameters are her group's ``θ[g]``, times the covariate link
``exp(sign · Z γ)`` when the model has covariates (:mod:`clvmodels.models.links`).

The likelihood is the plain model's (``spec.log_likelihood``, one code for NumPy and
PyTensor) on rows compressed within each *pattern*: a group and, with covariates, a
covariate pattern (:mod:`clvmodels.backends.group_layout`).  NUTS moves in the log of
the medians and spreads, the coefficients and the offsets as they are (a Pareto/NBD's
``(s, β)`` is not straightened as in the plain model,
:mod:`clvmodels.backends.coordinates`), starting from the plain maximum-likelihood fit
(:func:`hierarchical_start`): the medians and coefficients at the MLE, every group near
the median, small spreads.  The group values ``θ[g]`` are computed from the draws
afterwards (no ``pm.Deterministic``: nothing is evaluated during sampling that the
draws do not need).  In the group values' coordinates the posterior density grows
without bound as ``σ_θ → 0`` with every group at the median (the neck of the funnel):
the joint mode is degenerate and its Laplace approximation meaningless, so there is no
``method="map"``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from clvmodels.backends.bayes import posterior_fit, sample_nuts
from clvmodels.backends.coordinates import Coordinates
from clvmodels.backends.design import PATTERN, CovariateLinks, FitRows
from clvmodels.backends.distinct import DistinctColumns
from clvmodels.backends.group_layout import GroupLayout, hierarchical_log_likelihood
from clvmodels.backends.mle import fit_mle
from clvmodels.backends.nuts import laplace_block, nuts_step
from clvmodels.backends.priors import (
    check_priors,
    default_priors,
    on_log_scale,
    prior_variable,
    pymc_name,
)
from clvmodels.errors import ConfigError, FitError
from clvmodels.models.groups import group_name, spread_name
from clvmodels.models.ops import pytensor_ops
from clvmodels.models.spec import ModelSpec
from clvmodels.results import FitResult

SPREAD_PRIOR: dict[str, Any] = {"dist": "halfnormal", "sigma": 1.0}
"""Default prior of every spread ``sd(θ)`` (module docstring)."""
START_SPREAD = 0.1
"""Every chain starts with this spread: the groups close to the median, so that the
early warm-up sees the pooled model's scale (module docstring)."""


def offset_name(parameter: str) -> str:
    """The PyMC name of the standardised group offsets ``z_θ`` of ``parameter``."""
    return f"z({pymc_name(parameter)})"


def build_hierarchical_model(
    spec: ModelSpec, layout: GroupLayout, rows: FitRows, priors: Mapping[str, Mapping[str, Any]]
) -> Any:
    """The PyMC model (module docstring): the medians and coefficients with their
    priors, a spread and standardised offsets per grouped parameter, and the weighted
    log-likelihood of ``rows`` as one ``pm.Potential``."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    columns = {c: pytensor.shared(np.asarray(v, dtype=float), name=c) for c, v in rows.rows.items()}
    distinct = DistinctColumns(columns, constants=rows.rows, row_key=PATTERN)
    coordinates = Coordinates.of(spec, coefficients=layout.coefficients)
    with pm.Model() as model:
        variables = coordinates.variables(pm, priors)
        base = {k: variables[k] for k in spec.param_names}
        for p in layout.parameters:
            spread = prior_variable(pm, spread_name(p), priors[spread_name(p)])
            z = pm.Normal(offset_name(p), 0.0, 1.0, shape=len(layout.levels))
            base[p] = base[p] * pt.exp(spread * z)  # exp(μ_θ + σ_θ z_θ,g)
        designs = {
            p: pytensor.shared(np.asarray(z, dtype=float), name=f"Z[{p}]")
            for p, z in layout.links.designs.items()
        }
        index = pt.cast(columns[PATTERN], "int64")
        params = layout.row_params(
            spec, base, layout.gammas(variables), index, pytensor_ops(), designs
        )
        model_columns = {c: v for c, v in columns.items() if c != PATTERN}
        per_row = spec.log_likelihood(**params, **model_columns, xp=distinct.ops(pytensor_ops()))
        weight = pytensor.shared(np.asarray(rows.weights, dtype=float), name="weight")
        pm.Potential("log_likelihood", pt.sum(weight * per_row))
    return model


def fit_hierarchical(
    spec: ModelSpec,
    data: Mapping[str, np.ndarray],
    weights: np.ndarray | None = None,
    *,
    groups: Sequence[str] | np.ndarray,
    group_column: str = "group",
    parameters: Sequence[str] | None = None,
    priors: Mapping[str, Mapping[str, Any]] | None = None,
    method: str = "nuts",
    sampler: str = "pymc",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    target_accept: float = 0.9,
    seed: int | None = 0,
    progress: bool = False,
    ess_floor: float = 400.0,
    time_unit: str | None = None,
    covariates: CovariateLinks | None = None,
) -> FitResult:
    """Fit ``spec`` with its parameters partially pooled across groups (module docstring).

    Parameters
    ----------
    spec, data, weights, covariates, time_unit
        As for :func:`clvmodels.backends.bayes.fit_bayes`.
    groups
        The group of every data row: level strings (sorted as strings for the result;
        never converted to numbers).
    group_column
        The name of the customer column the groups come from (recorded in the result).
    parameters
        The parameters drawn per group (default: all of the model's).
    priors
        Overrides of the medians' priors (by the parameter's name, as for the plain
        model), the coefficients' and the spreads' (``"sd(θ)"``; default
        :data:`SPREAD_PRIOR`).
    method, sampler
        ``"nuts"`` with PyMC's sampler only (``"auto"`` or ``"pymc"``; a hierarchical
        posterior has no mode).
    draws, tune, chains, cores, target_accept, seed, progress, ess_floor
        As for :func:`~clvmodels.backends.bayes.fit_bayes` (``target_accept`` 0.9: the
        group offsets' posterior narrows with the spread, which a smaller step follows).

    Returns
    -------
    FitResult
        ``param_names`` = :meth:`GroupLayout.names`, with posterior means in ``params``
        (and the tied coefficients), draws, R-hat and ESS of every one of them,
        ``cov_log`` over them (the log of every positive one, the coefficients as they
        are) and ``hierarchy`` (:meth:`GroupLayout.describe`).
    """
    started = time.perf_counter()
    if method != "nuts":
        raise ConfigError(
            f"method: {method!r}: a hierarchical model is fitted with 'nuts' only (its "
            "posterior density grows without bound as the spreads shrink: no mode to take)"
        )
    if sampler not in ("auto", "pymc"):
        raise ConfigError(f"sampler: {sampler!r}: a hierarchical model is sampled with 'pymc'")
    layout = GroupLayout.build(spec, groups, group_column, parameters, covariates)
    rows = FitRows.of(spec, data, weights, layout.links)
    chosen = hierarchical_priors(spec, layout, rows, priors)
    model = build_hierarchical_model(spec, layout, rows, chosen)
    diagnostics: dict[str, Any] = {"method": method, "priors": chosen}
    start, diagnostics["init"] = hierarchical_start(
        model, spec, layout, rows, chosen, chains, target_accept, seed
    )
    sampling_started = time.perf_counter()
    idata = sample_nuts(model, draws, tune, chains, cores, seed, progress, **start)
    diagnostics["sampling_seconds"] = round(time.perf_counter() - sampling_started, 3)
    diagnostics["sampler"] = "NUTS (pymc)"
    _add_group_draws(idata, layout)
    names = layout.names(spec)
    params, draws_out, cov_log = posterior_fit(
        idata, spec, layout.coefficients, ess_floor, diagnostics, names=names
    )
    params = {**params, **{k: params[s] for k, s in layout.links.tied.items()}}
    values = hierarchical_log_likelihood(spec, layout, params, rows)
    diagnostics["seconds"] = round(time.perf_counter() - started, 3)
    return FitResult(
        model=spec.key,
        backend="bayes",
        param_names=names,
        params=params,
        log_likelihood=float(np.sum(rows.weights * values)),
        n_obs=rows.n_obs,
        n_unique=len(rows.weights),
        cov_log=cov_log,
        draws=draws_out,
        diagnostics=diagnostics,
        time_unit=time_unit,
        data_fingerprint=rows.fingerprint(),
        coefficients=layout.coefficients,
        tied=dict(layout.links.tied),
        hierarchy=layout.describe(rows),
    )


def hierarchical_priors(
    spec: ModelSpec,
    layout: GroupLayout,
    rows: FitRows,
    priors: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, dict[str, Any]]:
    """The priors of every median, coefficient and spread: the defaults (the plain
    model's, centred on the data-driven start; :data:`SPREAD_PRIOR`) with ``priors``
    applied after checking them (a spread takes the families of a positive parameter)."""
    start = spec.initial_params(rows.model_columns, rows.weights)
    chosen = default_priors(spec, start, layout.coefficients)
    spreads = tuple(spread_name(p) for p in layout.parameters)
    chosen.update({s: dict(SPREAD_PRIOR) for s in spreads})
    if priors:
        # the spreads are positive parameters of the hierarchical model
        extended = replace(spec, param_names=(*spec.param_names, *spreads))
        check_priors(extended, priors, coefficients=layout.coefficients)
        chosen.update({k: dict(v) for k, v in priors.items()})
    return chosen


def hierarchical_start(
    model: Any,
    spec: ModelSpec,
    layout: GroupLayout,
    rows: FitRows,
    priors: Mapping[str, Mapping[str, Any]],
    chains: int,
    target_accept: float,
    seed: int | None,
) -> tuple[dict[str, Any], str]:
    """Where each chain starts and the NUTS step (keyword arguments of ``pm.sample``),
    and a label.

    The medians and coefficients start at a draw from the Laplace approximation of the
    plain (pooled) maximum-likelihood fit, the spreads at :data:`START_SPREAD`, the
    offsets at standard normal draws (groups about ``±0.1`` from the median on the log
    scale).  The dense mass matrix starts from that covariance for the medians and
    coefficients and the prior scales elsewhere, then adapts (PyMC's
    ``QuadPotentialFullAdapt``, :func:`clvmodels.backends.nuts.nuts_step`).  With a
    prior not sampled on the log scale (``uniform``) PyMC's ``jitter+adapt_full`` is used.
    """
    import pymc as pm

    coefficients, spreads = layout.coefficients, [spread_name(p) for p in layout.parameters]
    if not all(on_log_scale(priors[k]) for k in (*spec.param_names, *spreads)):
        init = {"init": "jitter+adapt_full", "target_accept": target_accept}
        return init, "jitter+adapt_full (a prior is not sampled on the log scale)"
    names = (*spec.param_names, *coefficients)
    mean, cov, label = _pooled_start(spec, layout, rows, names)
    n_groups, n_grouped = len(layout.levels), len(layout.parameters)
    mean = np.concatenate([mean, np.full(n_grouped, math.log(START_SPREAD))])
    mean = np.concatenate([mean, np.zeros(n_groups * n_grouped)])
    full = np.eye(len(mean))
    full[: len(names), : len(names)] = cov
    full[len(names) : len(names) + n_grouped, len(names) : len(names) + n_grouped] *= 0.25
    rng = np.random.default_rng(None if seed is None else [seed, 7])
    initvals = []
    for _ in range(chains):
        point = rng.multivariate_normal(mean[: len(names)], cov)
        start = {
            pymc_name(k): float(v if k in coefficients else math.exp(v))
            for k, v in zip(names, point, strict=True)
        }
        start |= {pymc_name(s): START_SPREAD for s in spreads}
        start |= {offset_name(p): rng.standard_normal(n_groups) for p in layout.parameters}
        initvals.append(start)
    value_names = [
        *(pymc_name(k) if k in coefficients else f"{pymc_name(k)}_log__" for k in names),
        *(f"{pymc_name(s)}_log__" for s in spreads),
        *(offset_name(p) for p in layout.parameters),
    ]
    sizes = [1] * (len(names) + n_grouped) + [n_groups] * n_grouped
    value_vars, order = _model_order(model, value_names, sizes)
    mean, full = mean[order], full[np.ix_(order, order)]
    step = nuts_step(pm, model, value_vars, mean, full, rng, target_accept)
    return {"step": step, "initvals": initvals}, label


def _model_order(
    model: Any, names: Sequence[str], sizes: Sequence[int]
) -> tuple[list[Any], np.ndarray]:
    """The value variables ``names`` (of ``sizes`` elements each) in the model's order,
    and the permutation of a vector laid out in the order of ``names`` into it.  PyMC's
    NUTS is given its variables in the model's order: with another order its draws do
    not follow the posterior (measured with PyMC 5.28: a BG/NBD group's ``alpha`` drawn
    at 10^6 where its likelihood is 10^4 log-units below the mode)."""
    starts = dict(zip(names, np.cumsum([0, *sizes[:-1]]), strict=True))
    size = dict(zip(names, sizes, strict=True))
    value_vars = [v for v in model.value_vars if v.name in starts]
    order = [np.arange(starts[v.name], starts[v.name] + size[v.name]) for v in value_vars]
    return value_vars, np.concatenate(order)


def _pooled_start(
    spec: ModelSpec, layout: GroupLayout, rows: FitRows, names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, str]:
    """The pooled maximum-likelihood estimate of the medians and coefficients (in
    ``cov_log``'s coordinates) and its covariance; the data-driven start with a
    covariance of 0.1² when the pooled fit fails."""
    links = layout.links.with_pattern(rows.pattern) if layout.has_covariates else None
    try:
        mle = fit_mle(spec, rows.model_columns, rows.weights, covariates=links)
        theta, cov = laplace_block(mle, names, layout.coefficients)
        if np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh(cov) > 0):
            return theta, cov, "pooled maximum-likelihood fit, groups at the median"
    except FitError:
        pass
    start = spec.initial_params(rows.model_columns, rows.weights)
    theta = np.array([0.0 if k in layout.coefficients else math.log(start[k]) for k in names])
    return theta, 0.01 * np.eye(len(names)), "data-driven start, groups at the median"


def _add_group_draws(idata: Any, layout: GroupLayout) -> None:
    """Add ``θ[g] = θ · exp(σ_θ z_θ,g)`` of every group to ``idata.posterior`` (named by
    :func:`~clvmodels.backends.priors.pymc_name`)."""
    posterior = idata.posterior
    for p in layout.parameters:
        median = np.asarray(posterior[pymc_name(p)].values, dtype=float)
        spread = np.asarray(posterior[pymc_name(spread_name(p))].values, dtype=float)
        z = np.asarray(posterior[offset_name(p)].values, dtype=float)
        for i, level in enumerate(layout.levels):
            values = median * np.exp(spread * z[..., i])
            posterior[pymc_name(group_name(p, level))] = (("chain", "draw"), values)
