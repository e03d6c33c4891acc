"""The groups of a hierarchical fit as a presentation table.

In a hierarchical fit (:mod:`clvmodels.backends.hierarchy`) every grouped parameter
``θ`` has a population median ``θ``, a spread ``sd(θ)`` of ``log θ_g`` across groups and
one value ``θ[g]`` per group (:mod:`clvmodels.models.groups`).  A small group's ``θ[g]``
is pulled toward the median (partial pooling), a large one's rests on its own data; the
table puts each group's estimate and interval next to the population's, with the
number of customers behind it.
"""

from __future__ import annotations

import pandas as pd

from clvmodels.errors import FitError
from clvmodels.models.groups import group_name, spread_name
from clvmodels.results import FitResult


def group_table(result: FitResult, level: float = 0.95) -> pd.DataFrame:
    """One row per grouped parameter and group, and the population's rows.

    Parameters
    ----------
    result
        A hierarchical fit (``result.hierarchy`` set).
    level
        Level of the equal-tailed posterior intervals.

    Returns
    -------
    DataFrame
        Indexed by the result's parameter names (``θ``, ``θ[g]``, ``sd(θ)``), with
        ``parameter`` (``θ``), ``group`` (the level; empty for the population's rows),
        ``kind`` — ``"population"`` (the median ``θ``), ``"group"`` (``θ[g]``) or
        ``"spread"`` (``sd(θ)``, on the log scale: not comparable with the others) —,
        ``estimate`` (posterior mean), ``std_err`` (posterior sd), ``lower``/``upper``,
        ``customers`` (the group's, or all of them), ``r_hat`` and ``ess_bulk``.
        ``attrs["level"]`` and ``attrs["group"]`` (the customer column) are set.

    Raises
    ------
    FitError
        ``result`` is not a hierarchical fit.
    """
    hierarchy = result.hierarchy
    if not hierarchy:
        raise FitError(f"{result.model}: not a hierarchical fit (no hierarchy groups)")
    summary = result.summary(level)
    levels, counts = list(hierarchy["levels"]), [float(c) for c in hierarchy["counts"]]
    total = float(sum(counts))
    rows: dict[str, tuple[str, str, str, float]] = {}
    for p in hierarchy["parameters"]:
        rows[p] = (p, "", "population", total)
        for g, n in zip(levels, counts, strict=True):
            rows[group_name(p, g)] = (p, g, "group", n)
        rows[spread_name(p)] = (p, "", "spread", total)
    names = list(rows)
    table = pd.DataFrame(
        [rows[n][:3] for n in names],
        columns=["parameter", "group", "kind"],
        index=pd.Index(names, name="name"),
    )
    for column in ("estimate", "std_err", "lower", "upper"):
        table[column] = summary.loc[names, column].to_numpy(float)
    table["customers"] = [rows[n][3] for n in names]
    for column in ("r_hat", "ess_bulk"):
        if column in summary:
            table[column] = summary.loc[names, column].to_numpy(float)
    table.attrs["level"] = level
    table.attrs["group"] = hierarchy["group"]
    return table
