"""What every model module declares, so that backends and estimators stay generic."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ModelSpec:
    """Declaration of one probability model.

    Attributes
    ----------
    key
        Registry key used in configs and ``clvmodels.fit`` (``"bgnbd"``, ...).
    name
        Human-readable name.
    param_names
        Parameter names in the paper's notation, in a fixed order.
    rate_params
        Parameters measured in units of time (scale parameters of rate distributions).
        Rescaling time by ``c`` multiplies exactly these by ``c``.
    data_columns
        Columns of the canonical per-customer frame the likelihood reads.
    log_likelihood
        ``log_likelihood(**params, **data, xp=ops) -> per-row log-likelihood``, written
        once against :class:`clvmodels.models.ops.Ops` (NumPy and PyTensor).
    initial_params
        ``initial_params(data: dict[str, np.ndarray], weights) -> dict[str, float]``:
        a data-driven starting point for the optimiser.
    row_mask
        Optional ``row_mask(data) -> bool array`` selecting the rows the likelihood is
        defined on (Gamma-Gamma keeps repeat buyers only); other rows are ignored.
    reference
        Citation of the paper the likelihood comes from.
    covariate_links
        Which parameters carry time-invariant covariates, per process (``purchase``,
        ``dropout``, ``spend``, ``churn``): ``{process: {parameter: sign}}``, the parameter
        of a customer with covariates ``z`` being ``θ₀ · exp(sign · γ′z)`` (Fader & Hardie
        2007, note 019, for the purchase and dropout processes).
    hazard_pairs
        ``(shape, rate, time column)`` of each Gamma mixture of exponential rates whose
        shape and rate the data identify only along a ridge (the Pareto/NBD dropout;
        the shape precedes the rate in ``param_names``);
        the Bayesian backend samples them in straighter coordinates
        (:mod:`clvmodels.backends.coordinates`).
    """

    key: str
    name: str
    param_names: tuple[str, ...]
    rate_params: tuple[str, ...]
    data_columns: tuple[str, ...]
    log_likelihood: Callable[..., Any]
    initial_params: Callable[[Mapping[str, np.ndarray], np.ndarray], dict[str, float]]
    reference: str
    row_mask: Callable[[Mapping[str, np.ndarray]], np.ndarray] | None = None
    covariate_links: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    hazard_pairs: tuple[tuple[str, str, str], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


SEPARATOR = ":"
"""Between a parameter and a covariate in a coefficient's name (``alpha:loyalty_member``)."""


def coefficient_name(parameter: str, covariate: str) -> str:
    """``parameter:covariate``, the name of a covariate coefficient."""
    return f"{parameter}{SEPARATOR}{covariate}"


def split_coefficient(name: str) -> tuple[str, str]:
    """``(parameter, covariate)`` of a coefficient name (covariates may contain ``:``)."""
    parameter, _, covariate = name.partition(SEPARATOR)
    return parameter, covariate


def link_signs(spec: ModelSpec) -> dict[str, float]:
    """The sign of the link of every parameter that may carry covariates."""
    return {p: float(s) for links in spec.covariate_links.values() for p, s in links.items()}


def process_of(spec: ModelSpec, parameter: str) -> str:
    """The process (``purchase``, ``dropout``, ``spend``, ``churn``) a parameter belongs to."""
    for process, links in spec.covariate_links.items():
        if parameter in links:
            return process
    raise KeyError(f"{spec.key}: parameter {parameter!r} takes no covariates")
