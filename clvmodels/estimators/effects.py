"""The covariate effects of a fit as a presentation table.

A coefficient ``γ`` of parameter ``θ`` (``θ_i = θ₀ · exp(sign · γ z_i)``, Fader & Hardie
2007, note 019; :mod:`clvmodels.models.links`) is reported with its interval and with
what a one-unit change of the covariate does to the parameter and, where that parameter
scales a rate or the spend, to the mean of that quantity; and, for every covariate, what
it does to the quantity a marketer reads (:func:`interpretable_effects`): the purchase
rate, the dropout probability or lifetime, the spend per order, the churn probability.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.errors import FitError
from clvmodels.models.spec import ModelSpec, link_signs, process_of, split_coefficient
from clvmodels.results import FitResult

_MEAN_OF = {"purchase": "mean purchase rate", "dropout": "mean dropout rate"}


def effects_table(
    spec: ModelSpec,
    result: FitResult,
    level: float = 0.95,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
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

    ``effect_quantity``, ``effect_factor`` (with ``effect_factor_lower``/``_upper``) and
    ``effect_in_words`` state the covariate's effect on the interpretable quantity of its
    process (:func:`interpretable_effects`; ``rng`` draws the parameters for the
    interval, a fixed seed when ``None`` so the table is reproducible).
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
    effects = interpretable_effects(spec, result, level, rng or np.random.default_rng(0))
    keys = list(zip(table["process"], table["covariate"], strict=True))
    for column in _NO_EFFECT:
        table[column] = [effects.get(k, _NO_EFFECT)[column] for k in keys]
    table.attrs["level"] = level
    return table


def _tied_to(result: FitResult, source: str) -> list[str]:
    """The coefficients a constraint ties to ``source``."""
    return [k for k, v in result.tied.items() if v == source]


# ------------------------------------------------------------------ interpretable effects
Params = Mapping[str, np.ndarray]
_NO_EFFECT = {
    "effect_quantity": "",
    "effect_factor": math.nan,
    "effect_factor_lower": math.nan,
    "effect_factor_upper": math.nan,
    "effect_in_words": "",
}
_DRAWS = 400


def _median_lifetime_pareto(p: Params) -> np.ndarray:
    """Median lifetime of the Pareto/NBD: ``P(τ > t) = (β/(β+t))^s`` (Schmittlein,
    Morrison & Colombo 1987) gives ``β(2^(1/s) − 1)``, finite for every ``s`` (the mean
    ``β/(s−1)`` needs ``s > 1``)."""
    return p["beta"] * (2.0 ** (1.0 / p["s"]) - 1.0)


def _median_lifetime_gompertz(p: Params) -> np.ndarray:
    """Median lifetime of the Gamma-Gompertz dropout (Bemmaor & Glady 2012):
    ``P(τ > t) = (β/(β + e^(bt) − 1))^s`` gives ``ln(1 + β(2^(1/s) − 1))/b``."""
    return np.log1p(p["beta"] * (2.0 ** (1.0 / p["s"]) - 1.0)) / p["b"]


def _quantity(spec: ModelSpec, process: str) -> tuple[str, str, Callable[[Params], Any]] | None:
    """``(quantity, verb phrase, f(params))`` of a process: the interpretable quantity a
    covariate of ``process`` moves, up to a factor that does not depend on the covariate
    (only ratios of it are reported)."""
    links = set(spec.covariate_links.get(process, {}))
    names = set(spec.param_names)
    if process == "purchase" and links == {"alpha"}:  # rate ~ Gamma(r, α): mean r/α
        return "purchase rate", "buy {f} as often", lambda p: p["r"] / p["alpha"]
    if process == "spend" and links == {"gamma"}:  # Gamma-Gamma mean spend pγ/(q−1)
        return "mean spend per order", "spend {f} as much per order", lambda p: p["gamma"]
    if process == "dropout" and links == {"a", "b"}:  # p ~ Beta(a, b): mean a/(a+b)
        return (
            "dropout probability after a purchase",
            "are {f} as likely to drop out after each purchase",
            lambda p: p["a"] / (p["a"] + p["b"]),
        )
    if process == "dropout" and links == {"beta"} and {"s", "b"} <= names:
        return "median lifetime", "stay {f} as long", _median_lifetime_gompertz
    if process == "dropout" and links == {"beta"} and "s" in names:
        return "median lifetime", "stay {f} as long", _median_lifetime_pareto
    if process == "churn" and links == {"alpha", "beta"}:  # sBG: θ ~ Beta(α, β)
        return (
            "churn probability per period",
            "are {f} as likely to cancel each period",
            lambda p: p["alpha"] / (p["alpha"] + p["beta"]),
        )
    return None


def interpretable_effects(
    spec: ModelSpec, result: FitResult, level: float, rng: np.random.Generator
) -> dict[tuple[str, str], dict[str, Any]]:
    """What one unit of each covariate does to the quantity a marketer reads.

    For every ``(process, covariate)`` of the fit's time-invariant coefficients: the ratio
    ``f(θ with the covariate at 1) / f(θ at 0)`` of the process's interpretable quantity
    ``f`` — mean purchase rate ``r/α`` (Fader & Hardie 2007, note 019), the BG/NBD's mean
    dropout probability ``a/(a+b)`` (Fader, Hardie & Lee 2005, eq. 2), the Pareto/NBD's
    median lifetime, the Gamma-Gamma's mean spend ``pγ/(q−1)``, the sBG's mean churn
    probability ``α/(α+β)`` (Fader & Hardie 2007, eq. 1) — with every coefficient of the
    covariate on the process applied at once (a BG/NBD dropout covariate moves ``a`` and
    ``b``).  The point is the ratio at the estimates; the interval the equal-tailed
    ``level`` interval of the ratio over parameter draws (posterior draws, or the
    parametric bootstrap of an MLE fit: :meth:`FitResult.parameter_draws`); without a
    finite covariance it is ``NaN``.  Time-varying coefficients multiply the rate itself
    by ``e^γ`` while the covariate is 1.

    Returns ``{(process, covariate): {"effect_quantity", "effect_factor",
    "effect_factor_lower", "effect_factor_upper", "effect_in_words"}}``.
    """
    signs = {**link_signs(spec), **{p: 1.0 for p in result.dynamic_covariates or {}}}
    groups: dict[tuple[str, str], list[str]] = {}
    for name in [*result.coefficients, *result.tied]:
        parameter, covariate = split_coefficient(name)
        dynamic = parameter in (result.dynamic_covariates or {})
        process = parameter if dynamic else process_of(spec, parameter)
        groups.setdefault((process, covariate), []).append(name)
    try:
        draws: Params | None = result.parameter_draws(_DRAWS, rng)
    except FitError:
        draws = None
    point = {k: np.asarray(float(v)) for k, v in result.params.items()}
    tail = (1.0 - level) / 2.0
    out = {}
    for (process, covariate), coefficients in groups.items():
        if process in (result.dynamic_covariates or {}):
            what = (f"{process} rate", f"have a {process} rate {{f}} as high", None)
        else:
            what = _quantity(spec, process)
        if what is None:
            continue
        quantity, verb, f = what

        def ratio(p: Params, f=f, coefficients=coefficients) -> np.ndarray:
            shifted = dict(p)
            for c in coefficients:
                parameter = split_coefficient(c)[0]
                factor = np.exp(signs[parameter] * np.asarray(p[c]))
                if f is None:
                    return factor
                shifted[parameter] = np.asarray(p[parameter]) * factor
            return np.asarray(f(shifted) / f(p))

        value = float(ratio(point))
        lo, hi = (
            np.quantile(ratio(draws), [tail, 1.0 - tail]) if draws is not None else (np.nan,) * 2
        )
        out[(process, covariate)] = {
            "effect_quantity": quantity,
            "effect_factor": value,
            "effect_factor_lower": float(lo),
            "effect_factor_upper": float(hi),
            "effect_in_words": _in_words(covariate, verb, value, lo, hi, level),
        }
    return out


def _in_words(covariate: str, verb: str, value: float, lo: float, hi: float, level: float) -> str:
    """``Customers with loyalty_member = 1 (vs 0) buy 1.63× as often (95 % interval
    1.48–1.80×)``; a categorical level ``channel[web]`` reads ``channel = web (vs the
    reference level)``."""
    name, _, rest = covariate.partition("[")
    who = (
        f"Customers with {name} = {rest.rstrip(']')} (vs the reference level)"
        if rest
        else f"Customers with {covariate} = 1 (vs 0)"
    )
    text = f"{who} {verb.format(f=f'{value:.2f}×')}"
    if math.isfinite(lo) and math.isfinite(hi):
        text += f" ({level:.0%} interval {lo:.2f}–{hi:.2f}×)"
    if math.isfinite(lo) and lo <= 1.0 <= hi:
        text += "; the data do not tell this from no effect"
    return text + "."
