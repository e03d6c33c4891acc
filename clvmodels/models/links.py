"""Customer-specific parameters from time-invariant covariates (the exponential link).

Fader & Hardie (2007), "Incorporating time-invariant covariates into the Pareto/NBD and
BG/NBD models" (note 019), make the scale parameters customer-specific::

    α_i = α₀ exp(−γ₁′z_i)          purchase rate (BG/NBD, Pareto/NBD, MBG/NBD)
    a_i = a₀ exp(γ₂′z_i),  b_i = b₀ exp(γ₃′z_i)   BG/NBD dropout
    β_i = β₀ exp(−γ₂′z_i)          Pareto/NBD dropout

and a customer's likelihood and predictions are the plain model's with her own
parameters.  Which parameters of a model carry covariates, and with which sign, is
declared in ``ModelSpec.covariate_links``; a fitted coefficient is named
``parameter:covariate`` (``alpha:loyalty_member``).  This module is the prediction side
of that link; the backends build the same expression in PyTensor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.models.spec import ModelSpec

SEPARATOR = ":"


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


def linked_params(
    spec: ModelSpec,
    params: Mapping[str, Any],
    design: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    """Each customer's parameters: ``θ_i = θ₀ · exp(sign · Σ_c γ_{θ:c} z_ic)``.

    Parameters
    ----------
    spec
        The model (its ``covariate_links`` give the signs).
    params
        Baseline parameters and coefficients (``parameter:covariate``): scalars, or
        arrays of shape ``(draws, 1)`` for a batch of parameter draws.
    design
        The covariate values per design column (each of shape ``(rows,)``).

    Returns
    -------
    dict
        The model's parameters only: those without covariates unchanged, the linked
        ones of shape ``(rows,)`` (scalar parameters) or ``(draws, rows)``.

    Raises
    ------
    KeyError
        A coefficient of a parameter without a link, or of a covariate not in ``design``.
    """
    signs = link_signs(spec)
    out = {k: v for k, v in params.items() if SEPARATOR not in k}
    shift: dict[str, Any] = {}
    for name, gamma in params.items():
        if SEPARATOR not in name:
            continue
        parameter, covariate = split_coefficient(name)
        if parameter not in signs:
            raise KeyError(f"{spec.key}: parameter {parameter!r} takes no covariates")
        if covariate not in design:
            raise KeyError(f"{spec.key}: no values of covariate {covariate!r}")
        term = np.asarray(gamma, dtype=float) * np.asarray(design[covariate], dtype=float)
        shift[parameter] = shift.get(parameter, 0.0) + term
    for parameter, total in shift.items():
        out[parameter] = np.asarray(out[parameter], dtype=float) * np.exp(signs[parameter] * total)
    return out


_MEAN_OF = {"purchase": "mean purchase rate", "dropout": "mean dropout rate"}


def effects_table(spec: ModelSpec, result: Any, level: float = 0.95) -> pd.DataFrame:
    """The covariate coefficients of a fit, with what each does to its parameter.

    Columns: ``parameter``, ``covariate``, ``process``, ``estimate`` (γ), ``std_err``,
    ``lower``/``upper`` (interval at ``level``: Wald for MLE fits, equal-tailed for
    posterior draws), ``factor`` (``exp(sign·γ)``: what a one-unit covariate multiplies
    the parameter by, with ``factor_lower``/``factor_upper``) and, where the parameter
    is the scale of a rate or of the spend, ``mean_factor``: the factor on the mean of
    that quantity (``quantity``; bounds ``mean_factor_lower``/``mean_factor_upper``).
    A rate ``λ ~ Gamma(r, α)`` has mean ``r/α``, so ``α_i = α₀ e^(−γz)`` multiplies the
    mean purchase rate by ``e^(γz)``; the Gamma-Gamma's mean spend per order
    ``pγ/(q−1)`` scales with ``γ``.
    """
    signs = link_signs(spec)
    interval = result.conf_int(level)
    std_err = result.std_err
    rows = []
    for name in result.coefficients:
        parameter, covariate = split_coefficient(name)
        sign = signs[parameter]
        process = process_of(spec, parameter)
        gamma, lo, hi = (
            result.params[name],
            interval.loc[name, "lower"],
            interval.loc[name, "upper"],
        )
        bounds = sorted((math.exp(sign * lo), math.exp(sign * hi)))
        row = {
            "parameter": parameter,
            "covariate": covariate,
            "process": process,
            "estimate": gamma,
            "std_err": std_err[name],
            "lower": lo,
            "upper": hi,
            "factor": math.exp(sign * gamma),
            "factor_lower": bounds[0],
            "factor_upper": bounds[1],
            "quantity": "",
            "mean_factor": math.nan,
            "mean_factor_lower": math.nan,
            "mean_factor_upper": math.nan,
        }
        if parameter in spec.rate_params:  # the scale of a rate: the mean moves inversely
            row["quantity"] = _MEAN_OF.get(process, f"mean {process} rate")
            row["mean_factor"] = 1.0 / row["factor"]
            row["mean_factor_lower"], row["mean_factor_upper"] = 1 / bounds[1], 1 / bounds[0]
        elif process == "spend":
            row["quantity"] = "mean spend per order"
            row["mean_factor"] = row["factor"]
            row["mean_factor_lower"], row["mean_factor_upper"] = bounds
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index(list(result.coefficients), name="coefficient"))
    table.attrs["level"] = level
    return table
