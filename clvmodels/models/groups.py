"""Names of the parameters of a hierarchical (partially pooled) model.

In a hierarchical fit every model parameter ``θ`` listed as grouped has one value per
group ``g`` (a level of a customer column, e.g. ``country``) drawn from a population
distribution on the log scale (Gelman et al. 2013, *Bayesian Data Analysis*, 3rd ed.,
ch. 5; Gelman & Hill 2007, ch. 12)::

    log θ_g ~ Normal(μ_θ, σ_θ)

so small groups borrow strength from large ones.  The fitted quantities are named

- ``θ``: the population median ``exp(μ_θ)`` — the parameter of a customer of an unknown
  or a new group, and the one every function of the plain model receives;
- ``θ[g]``: group ``g``'s parameter (:func:`group_name`);
- ``sd(θ)``: the population's spread ``σ_θ`` on the log scale (:func:`spread_name`).

Covariate coefficients keep their names (``parameter:covariate``); a customer's
parameter is her group's ``θ[g]`` times the covariate link.
"""

from __future__ import annotations

from collections.abc import Sequence

GROUP_OPEN, GROUP_CLOSE = "[", "]"


def group_name(parameter: str, level: str) -> str:
    """``θ[g]``: the name of group ``level``'s value of ``parameter``."""
    return f"{parameter}{GROUP_OPEN}{level}{GROUP_CLOSE}"


def spread_name(parameter: str) -> str:
    """``sd(θ)``: the name of the population's spread of ``parameter`` (log scale)."""
    return f"sd({parameter})"


def hierarchy_names(parameters: Sequence[str], levels: Sequence[str]) -> tuple[str, ...]:
    """Every group value (``θ[g]``, parameter by parameter, groups in ``levels`` order),
    then every spread (``sd(θ)``): the names a hierarchical fit adds to the model's own
    parameters (which hold the population medians)."""
    values = tuple(group_name(p, str(g)) for p in parameters for g in levels)
    return values + tuple(spread_name(p) for p in parameters)
