"""The covariate effects of a fit as a presentation table.

A coefficient ``γ`` of parameter ``θ`` (``θ_i = θ₀ · exp(sign · γ z_i)``, Fader & Hardie
2007, note 019; :mod:`clvmodels.models.links`) is reported with its interval and with
what a one-unit change of the covariate does to the parameter and, where that parameter
scales a rate or the spend, to the mean of that quantity.
"""

from __future__ import annotations

import math

import pandas as pd

from clvmodels.models.links import link_signs, process_of, split_coefficient
from clvmodels.models.spec import ModelSpec
from clvmodels.results import FitResult

_MEAN_OF = {"purchase": "mean purchase rate", "dropout": "mean dropout rate"}


def effects_table(spec: ModelSpec, result: FitResult, level: float = 0.95) -> pd.DataFrame:
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

    Time-varying coefficients (``result.dynamic_covariates``, named
    ``process:covariate``) act on the rate itself: while the covariate is one unit
    higher the purchase (dropout) rate is ``e^γ`` times higher (Bachmann, Meierer & Näf
    2021), so ``factor`` and ``mean_factor`` are both ``e^γ`` and ``parameter`` names
    the rate.

    A coefficient shared through a constraint (``result.tied``) has a row for every
    parameter it moves, with the same estimate and interval; ``shared_with`` names the
    other parameters' coefficients.  ``penalty`` is the L2 penalty ``λ`` the estimate was
    shrunk with (``NaN`` without one; :mod:`clvmodels.estimators.regularize`), and
    ``penalty_chosen_by`` says how (``given`` or ``cross-validation``).
    """
    signs = {**link_signs(spec), **{p: 1.0 for p in result.dynamic_covariates or {}}}
    interval = result.conf_int(level)
    std_err = result.std_err
    rows = []
    sources = {**{k: k for k in result.coefficients}, **result.tied}
    names = [n for k in result.coefficients for n in (k, *_tied_to(result, k))]
    penalty = (result.diagnostics.get("penalty") or {}).get("l2", math.nan)
    chosen_by = (result.diagnostics.get("penalty") or {}).get("chosen_by", "")
    for name in names:
        source = sources[name]
        parameter, covariate = split_coefficient(name)
        sign = signs[parameter]
        dynamic = parameter in (result.dynamic_covariates or {})
        process = parameter if dynamic else process_of(spec, parameter)
        gamma, lo, hi = (
            result.params[source],
            interval.loc[source, "lower"],
            interval.loc[source, "upper"],
        )
        bounds = sorted((math.exp(sign * lo), math.exp(sign * hi)))
        row = {
            "parameter": parameter,
            "covariate": covariate,
            "process": process,
            "estimate": gamma,
            "std_err": std_err[source],
            "lower": lo,
            "upper": hi,
            "factor": math.exp(sign * gamma),
            "factor_lower": bounds[0],
            "factor_upper": bounds[1],
            "quantity": "",
            "mean_factor": math.nan,
            "mean_factor_lower": math.nan,
            "mean_factor_upper": math.nan,
            "shared_with": ", ".join(n for n in names if sources[n] == source and n != name),
            "penalty": float(penalty),
            "penalty_chosen_by": chosen_by,
        }
        if dynamic:
            row["parameter"] = f"{parameter} rate"
            row["quantity"] = f"{parameter} rate (while the covariate is 1)"
            row["mean_factor"] = row["factor"]
            row["mean_factor_lower"], row["mean_factor_upper"] = bounds
        elif parameter in spec.rate_params:  # the scale of a rate: the mean moves inversely
            row["quantity"] = _MEAN_OF.get(process, f"mean {process} rate")
            row["mean_factor"] = 1.0 / row["factor"]
            row["mean_factor_lower"], row["mean_factor_upper"] = 1 / bounds[1], 1 / bounds[0]
        elif process == "spend":
            row["quantity"] = "mean spend per order"
            row["mean_factor"] = row["factor"]
            row["mean_factor_lower"], row["mean_factor_upper"] = bounds
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index(names, name="coefficient"))
    table.attrs["level"] = level
    return table


def _tied_to(result: FitResult, source: str) -> list[str]:
    """The coefficients a constraint ties to ``source``."""
    return [k for k, v in result.tied.items() if v == source]
