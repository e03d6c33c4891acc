"""Priors of the Bayesian backend: the defaults, the families a config may name, and
their validation — importable without PyMC (a config is checked before any fit).

Default, per parameter θ: ``log θ ~ Normal(log θ₀, 2.5)``, i.e. ``θ ~ LogNormal(log θ₀,
2.5)``, where θ₀ is the model's data-driven starting value (method of moments,
:attr:`ModelSpec.initial_params`).  Reasoning: every parameter of these models is
positive and its scale depends on the data's units (``alpha`` is in time units,
Gamma-Gamma's ``gamma`` in money); centring on θ₀ makes the prior unit-free, and a
standard deviation of 2.5 on the log scale puts 95 % of the prior mass within a factor
of 130 of θ₀ — weak next to any data set worth fitting, but it keeps the sampler away
from the 1e-10 / 1e10 corners where a flat prior lets unidentified models wander.

Default, per covariate coefficient: ``γ ~ Normal(0, 1)`` (overridable with the
``normal`` family, the only one a coefficient takes; the positive families are for the
base parameters).  Reasoning: a coefficient is an effect on the log of a positive
parameter, so ``γ = ±2`` already multiplies that parameter by ``e² ≈ 7`` for a one-unit
change of the covariate; Normal(0, 1) puts 95 % of its mass on multipliers between 1/7
and 7 — weakly informative: any effect of a plausible size is left to the data, while a
covariate that (almost) separates customers cannot push its coefficient towards ±30,
where the MLE runs to the edge of the parameter space.  For covariates that are not 0/1
indicators this assumes a unit of the order of their spread (standardise them, or
override the prior).

Coefficients are named ``parameter:covariate`` (``alpha:member``); PyMC refuses ``/``
and a trailing ``:`` in names, so those characters (and ``%``) are percent-encoded in
the PyMC model only (:func:`pymc_name`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import quote

from clvmodels.errors import ConfigError, clip, echo
from clvmodels.models.spec import SEPARATOR, ModelSpec, link_signs

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
_PYMC_CLASSES = {
    "normal": "Normal",
    "lognormal": "LogNormal",
    "halfnormal": "HalfNormal",
    "gamma": "Gamma",
    "exponential": "Exponential",
    "halfcauchy": "HalfCauchy",
    "uniform": "Uniform",
}


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
    linkable = link_signs(spec)

    def is_coefficient(name: str) -> bool:
        if coefficients is None:
            parameter, separator, covariate = name.partition(SEPARATOR)
            return bool(separator and covariate) and parameter in linkable
        return name in coefficients

    for name, prior in priors.items():
        path = f"{where}.{clip(str(name), 40)}"
        coefficient = is_coefficient(name)
        if name not in spec.param_names and not coefficient:
            known = (*spec.param_names, *(coefficients or ()))
            raise ConfigError(
                f"{path}: {spec.key} has no parameter {echo(name)} (parameters: {', '.join(known)})"
            )
        if not isinstance(prior, Mapping) or "dist" not in prior:
            example = "normal, mu: 0, sigma: 1" if coefficient else "lognormal, mu: 0, sigma: 1"
            raise ConfigError(f"{path}: expected a mapping like {{dist: {example}}}")
        family = _check_family(path, name, prior["dist"], coefficient)
        _check_values(path, family, prior)


def _check_family(path: str, name: str, dist: Any, coefficient: bool) -> str:
    """The prior's family, lower-cased, if it is known and suits the parameter."""
    family = str(dist).lower()
    if family not in PRIOR_FAMILIES:
        raise ConfigError(
            f"{path}.dist: unknown distribution {echo(dist)} (choose {', '.join(PRIOR_FAMILIES)})"
        )
    if coefficient and family not in COEFFICIENT_FAMILIES:
        raise ConfigError(
            f"{path}.dist: {family} is for positive parameters; a covariate coefficient "
            f"is any real number (choose {', '.join(COEFFICIENT_FAMILIES)})"
        )
    if not coefficient and family in COEFFICIENT_FAMILIES:
        positive = [f for f in PRIOR_FAMILIES if f not in COEFFICIENT_FAMILIES]
        raise ConfigError(
            f"{path}.dist: {family} is for covariate coefficients; {clip(name, 40)} is positive "
            f"(choose {', '.join(positive)})"
        )
    return family


def _check_values(path: str, family: str, prior: Mapping[str, Any]) -> None:
    """The family's parameters are given, all of them and no others, as valid numbers."""
    expected = PRIOR_FAMILIES[family]
    given = {k for k in prior if k != "dist"}
    if given != set(expected):
        raise ConfigError(
            f"{path}: {family} takes {', '.join(expected)}; "
            f"got {clip(', '.join(sorted(map(str, given))), 80) or 'none'}"
        )
    for key in expected:
        value = prior[key]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise ConfigError(f"{path}.{key}: expected a number, got {echo(value)}")
        if key not in ("mu", "lower") and value <= 0:
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


def prior_variable(pm: Any, name: str, prior: Mapping[str, Any]) -> Any:
    """The PyMC random variable of a checked prior, inside the current model (``pm``:
    the PyMC module, passed in so that this module does not import it)."""
    family, kwargs = _pymc_arguments(prior)
    return getattr(pm, _PYMC_CLASSES[family])(pymc_name(name), **kwargs)


def prior_dist(pm: Any, prior: Mapping[str, Any]) -> Any:
    """The unnamed PyMC distribution of a checked prior (for ``pm.logp`` of a
    deterministic, :mod:`clvmodels.backends.coordinates`)."""
    family, kwargs = _pymc_arguments(prior)
    return getattr(pm, _PYMC_CLASSES[family]).dist(**kwargs)


def _pymc_arguments(prior: Mapping[str, Any]) -> tuple[str, dict[str, float]]:
    """The family of a checked prior and its parameters as PyMC's keywords."""
    family = str(prior["dist"]).lower()
    return family, {k: float(prior[k]) for k in PRIOR_FAMILIES[family]}


def on_log_scale(prior: Mapping[str, Any]) -> bool:
    """Whether PyMC samples a parameter with this prior on the log scale: every family
    of a positive parameter but ``uniform`` (sampled through its interval)."""
    return str(prior["dist"]).lower() not in ("uniform", *COEFFICIENT_FAMILIES)
