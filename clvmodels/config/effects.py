"""What the keys shaping a model's covariate effects and segments must satisfy:
``models.<key>.constraints`` (parameters sharing one coefficient per covariate),
``models.<key>.penalty`` (``{l2: <lambda> | auto}``) and ``models.<key>.hierarchy``
(``{group: <column>}``, partial pooling across the groups, Bayesian).  Every error
names the key path; the rules are those the estimators enforce
(:func:`clvmodels.backends.design.tie_coefficients`,
:mod:`clvmodels.estimators.regularize`), checked before any data are read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from clvmodels.config.schema import RunConfig
from clvmodels.config.schema_models import ModelConfig
from clvmodels.errors import ConfigError, echo
from clvmodels.models import model_info, model_keys, model_spec

COHORT = "cohort"
"""The group column every subscription or survival table has (the sBG's cohorts)."""


def model_backend(key: str, model: ModelConfig) -> str:
    """The backend of ``models.<key>``: as configured, else the model's default (``mle``;
    ``bayes`` for the Pareto/GGG, which has no closed-form likelihood)."""
    return model.backend or model_info(key).backends[0]


def model_covariates(config: RunConfig, key: str) -> dict[str, list[str]]:
    """The covariates of model ``key`` per process: ``models.<key>.covariates``, or with
    ``data.covariates`` and no such key every covariate on every process of the model
    but the model's ``hierarchy`` group (none for a model with time-varying covariates,
    which takes no others)."""
    model = config.models[key]
    if model.covariates is not None:
        return {p: list(c) for p, c in model.covariates.items() if c}
    if config.data.covariates is None or model.dynamic_covariates:
        return {}
    group = (model.hierarchy or {}).get("group")
    columns = [c for c in config.data.covariates.columns if c != group]
    if not columns:
        return {}
    return {process: columns for process in model_spec(key).covariate_links}


def grouped_parameters(hierarchy: Mapping[str, Any] | None) -> tuple[str, ...] | None:
    """The parameters a ``models.<key>.hierarchy`` pools (``None``: every one of the
    model's)."""
    if hierarchy is None or "parameters" not in hierarchy:
        return None
    return tuple(hierarchy["parameters"])


def check_effects(config: RunConfig, covariates: dict[str, dict[str, list[str]]]) -> None:
    """Check every model's ``constraints``, ``penalty`` and ``hierarchy`` (module
    docstring); ``covariates`` are the covariates of each model per process, as the
    run resolves them."""
    for key, model in config.models.items():
        chosen = covariates.get(key, {})
        if model.constraints is not None:
            _check_constraints(key, model, chosen)
        if model.penalty is not None:
            check_penalty(key, model.penalty, model_backend(key, model), bool(chosen))
        if model.hierarchy is not None:
            _check_hierarchy(config, key, model, chosen)


def _check_constraints(key: str, model: ModelConfig, chosen: dict[str, list[str]]) -> None:
    path = f"models.{key}.constraints"
    spec = model_spec(key)
    signs = {p: s for links in spec.covariate_links.values() for p, s in links.items()}
    processes = {p: process for process, links in spec.covariate_links.items() for p in links}
    if model.dynamic_covariates:
        raise ConfigError(f"{path}: constraints tie customer covariates; this model has none")
    seen: set[str] = set()
    for i, group in enumerate(model.constraints or []):
        where = f"{path}[{i}]"
        if not isinstance(group, list) or len(set(map(str, group))) < 2:
            raise ConfigError(f"{where}: list at least two different parameters, e.g. [a, b]")
        for name in group:
            if name not in signs:
                raise ConfigError(
                    f"{where}: {echo(name)} takes no covariates in the "
                    f"{model_info(key).name} (parameters that do: {', '.join(signs) or 'none'})"
                )
            if not chosen.get(processes[name]):
                raise ConfigError(
                    f"{where}: {name} has no covariates (set models.{key}.covariates."
                    f"{processes[name]})"
                )
            if name in seen:
                raise ConfigError(f"{where}: {name} is in another constraint too")
        seen.update(group)
        if len({signs[p] for p in group}) > 1:
            raise ConfigError(
                f"{where}: the covariate links of {', '.join(group)} have opposite signs, "
                "so one coefficient cannot move them alike"
            )
        common = set.intersection(*(set(chosen[processes[p]]) for p in group))
        if not common:
            raise ConfigError(f"{where}: {', '.join(group)} share no covariate")


def check_penalty(key: str, penalty: Any, backend: str, has_covariates: bool) -> None:
    """``{l2: <lambda> | auto}``: a number ``>= 0`` or ``auto`` (MLE only), on a model
    with covariates."""
    path = f"models.{key}.penalty"
    if not isinstance(penalty, dict) or set(penalty) != {"l2"}:
        raise ConfigError(f"{path}: expected {{l2: <lambda>}} or {{l2: auto}}, got {penalty!r}")
    value = penalty["l2"]
    if value != "auto" and (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigError(f"{path}.l2: must be a number >= 0 or auto, got {echo(value)}")
    if not has_covariates:
        raise ConfigError(
            f"{path}: the penalty shrinks covariate coefficients; set models.{key}.covariates"
        )
    if backend == "bayes" and (value == "auto" or value == 0):
        raise ConfigError(
            f"{path}.l2: {value} has no Bayesian counterpart; give lambda > 0 (the "
            "coefficients' prior becomes Normal(0, 1/sqrt(2 lambda))) or set their priors"
        )


def _check_hierarchy(
    config: RunConfig, key: str, model: ModelConfig, chosen: dict[str, list[str]]
) -> None:
    path = f"models.{key}.hierarchy"
    hierarchy = model.hierarchy or {}
    if (
        not {"group"} <= set(hierarchy) <= {"group", "parameters"}
        or not isinstance(hierarchy["group"], str)
    ):
        raise ConfigError(
            f"{path}: expected {{group: <column>}} (optionally with parameters: [...]), "
            f"got {hierarchy!r}"
        )
    group = hierarchy["group"]
    if not model_info(key).hierarchical:
        names = ", ".join(model_info(k).name for k in model_keys() if model_info(k).hierarchical)
        raise ConfigError(f"{path}: the {model_info(key).name} has no hierarchy; {names} do")
    names = model_spec(key).param_names
    grouped = hierarchy.get("parameters", names)
    if not isinstance(grouped, list | tuple) or not grouped:
        raise ConfigError(f"{path}.parameters: list the parameters to pool, e.g. [alpha, b]")
    unknown = [p for p in grouped if p not in names]
    if unknown:
        raise ConfigError(
            f"{path}.parameters: {echo(unknown[0])} is not a parameter of the "
            f"{model_info(key).name} ({', '.join(names)})"
        )
    if model_backend(key, model) != "bayes":
        raise ConfigError(
            f"{path}: partial pooling is Bayesian; set models.{key}.backend: bayes"
        )
    if model.dynamic_covariates:
        raise ConfigError(f"{path}: not supported together with dynamic_covariates")
    if any(group in columns for columns in chosen.values()):
        raise ConfigError(
            f"{path}.group: {group!r} is also a covariate of {key}; a column is either a "
            "covariate or the groups, not both"
        )
    table = config.data.covariates
    columns = [] if table is None else list(table.columns)
    if model_info(key).role == "retention" and group == COHORT:
        return
    if group not in columns:
        where = "cohort or " if model_info(key).role == "retention" else ""
        raise ConfigError(
            f"{path}.group: {group!r} must be {where}a column of the customer table "
            f"(data.covariates.columns: {', '.join(columns) or 'none'})"
        )
