"""Plots of covariate and segment effects, in matplotlib's convention (``ax=None``, the
axes returned): :func:`covariate_effects` (each covariate's effect on the interpretable
quantity), :func:`group_effects` (hierarchical segments), :func:`covariate_lift`
(counterfactual CLV, flag on vs off) and :func:`rate_multipliers` (time-varying
covariates).  They draw tables the run computed and do no model math.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from clvmodels.report.axes import COLORS
from clvmodels.report.axes import axes_or_current as _axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def rate_multipliers(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """The seasonal (time-varying covariate) effect: per calendar period, the factor on
    the purchase and dropout rates with its interval, through the calibration and the
    horizon (table of :func:`clvmodels.estimators.dynamic.rate_multipliers`; log scale,
    1 = no effect; the dashed line is the calibration end)."""
    ax = _axes(ax)
    for i, ((model, process), rows) in enumerate(table.groupby(["model", "process"], sort=False)):
        when = pd.to_datetime(rows["period_start"])
        color = COLORS[i % len(COLORS)]
        ax.step(
            when, rows["multiplier"], where="post", color=color, label=f"{model}: {process} rate"
        )
        ax.fill_between(when, rows["lower"], rows["upper"], step="post", color=color, alpha=0.2)
    horizon = table.loc[table["part"] == "horizon", "period_start"]
    if len(horizon):
        ax.axvline(pd.to_datetime(horizon).min(), color="black", lw=0.8, ls="--")
    ax.axhline(1.0, color="black", lw=0.8, ls=":")
    ax.set_yscale("log")
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    ax.yaxis.set_major_locator(LogLocator(base=2.0))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.legend(loc="upper left", fontsize="small")
    ax.set(
        xlabel="period",
        ylabel="factor on the rate: exp(γ′x(t))",
        title="Time-varying covariates: rate factor per period (calibration | horizon)",
    )
    return ax


def covariate_effects(effects: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Forest plot: what one unit of each covariate multiplies the interpretable quantity
    of its process by (purchase rate, dropout probability or lifetime, spend per order,
    churn probability; ``effect_factor`` of
    :func:`clvmodels.estimators.effects.effects_table`), with its interval (log scale;
    1 = no effect).  Tables without those columns (older run folders) show the factor on
    the parameter."""
    ax = _axes(ax)
    interpretable = "effect_factor" in effects and effects["effect_factor"].notna().any()
    if interpretable:
        rows = effects[effects["effect_factor"].notna()]
        rows = rows.drop_duplicates(["model", "process", "covariate"]).iloc[::-1]
        labels = [
            f"{m}: {c}\n→ {q}"
            for m, c, q in zip(
                rows["model"], rows["covariate"], rows["effect_quantity"], strict=True
            )
        ]
        columns = ("effect_factor", "effect_factor_lower", "effect_factor_upper")
        xlabel = "× per unit of the covariate (1 = no effect)"
    else:
        rows = effects.iloc[::-1]
        labels = [f"{m}: {c}" for m, c in zip(rows["model"], rows["coefficient"], strict=True)]
        columns = ("factor", "factor_lower", "factor_upper")
        xlabel = "factor on the parameter: exp(sign · γ)"
    y = np.arange(len(rows))
    factor, lower, upper = (rows[c].to_numpy(float) for c in columns)
    err = np.vstack([factor - lower, upper - factor])
    ax.errorbar(factor, y, xerr=np.nan_to_num(err), fmt="o", color=COLORS[0], capsize=3)
    for x, yy in zip(factor, y, strict=True):
        ax.annotate(
            f"{x:.2f}×",
            (x, yy),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            fontsize="small",
        )
    ax.axvline(1.0, color="black", lw=0.8, ls=":")
    ax.set_xscale("log")
    span = np.concatenate([lower, upper, factor, [1.0]])
    span = span[np.isfinite(span)]
    ticks = (0.25, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0)
    ticks = [t for t in ticks if span.min() / 1.1 <= t <= span.max() * 1.1]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, labels, fontsize="small")
    ax.set(xlabel=xlabel, title="Covariate effects (above 1 = more)")
    return ax


def group_effects(groups: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Forest plot of a hierarchical fit: each group's parameter relative to the
    population median (1 = a typical group; log scale), with its interval, and the
    population median's own interval as a band per parameter.

    ``groups`` is :func:`clvmodels.estimators.groups.group_table` with a ``model`` column
    (:func:`clvmodels.run.tables.group_effects`)."""
    ax = _axes(ax)
    labels: list[str] = []
    y = 0
    blocks = groups[groups["kind"] != "spread"].groupby(["model", "parameter"], sort=False)
    for i, ((model, parameter), block) in enumerate(blocks):
        population = block[block["kind"] == "population"].iloc[0]
        median = float(population["estimate"])
        rows = block[block["kind"] == "group"].iloc[::-1]
        ys = np.arange(y, y + len(rows))
        ratio = rows["estimate"].to_numpy(float) / median
        err = np.vstack(
            [
                ratio - rows["lower"].to_numpy(float) / median,
                rows["upper"].to_numpy(float) / median - ratio,
            ]
        )
        color = COLORS[i % len(COLORS)]
        ax.fill_betweenx(
            [ys[0] - 0.5, ys[-1] + 0.5],
            float(population["lower"]) / median,
            float(population["upper"]) / median,
            color=color,
            alpha=0.12,
            lw=0,
        )
        ax.errorbar(
            ratio, ys, xerr=err, fmt="o", color=color, capsize=3, label=f"{model}: {parameter}"
        )
        labels += [
            f"{parameter}[{g}] (n={n:,.0f})"
            for g, n in zip(rows["group"], rows["customers"], strict=True)
        ]
        y += len(rows)
    ax.axvline(1.0, color="black", lw=0.8, ls=":")
    ax.set_xscale("log")
    low, high = ax.get_xlim()
    grid = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.4, 2.0, 3.0, 5.0, 10.0)
    ticks = [t for t in grid if low <= t <= high]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(np.arange(y), labels)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    ax.set(
        xlabel="group's parameter / population median (band: the median's interval)",
        title="Segments: each group's parameters against the population",
    )
    return ax


def covariate_lift(lift: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Mean CLV per customer with each binary covariate on and off (all customers), and
    the interval of the difference: the run's ``covariate_lift.csv`` (a ``covariate``
    column per row) or the ``lift`` frame of one covariate that
    :func:`clvmodels.clv.covariate_lift` returns (indexed by group)."""
    ax = _axes(ax)
    if "group" not in lift:
        lift = lift.reset_index()
    rows = lift[lift["group"] == "all"]
    if "covariate" not in rows:
        rows = rows.assign(covariate="flag")
    x = np.arange(len(rows))
    on, off = rows["clv_on"].to_numpy(float), rows["clv_off"].to_numpy(float)
    ax.bar(x - 0.2, off, width=0.4, color=COLORS[1], label="flag off")
    ax.bar(x + 0.2, on, width=0.4, color=COLORS[0], label="flag on")
    if "lift_lower" in rows:
        low = off + rows["lift_lower"].to_numpy(float)
        high = off + rows["lift_upper"].to_numpy(float)
        ax.errorbar(
            x + 0.2,
            on,
            yerr=np.vstack([on - low, high - on]),
            fmt="none",
            color="black",
            capsize=4,
            label="interval of the lift",
        )
    ax.set_xticks(x, rows["covariate"])
    ax.set_ylim(0, 1.25 * float(np.nanmax(np.append(on, off))))
    ax.set(ylabel="mean CLV per customer", title="Counterfactual CLV: every customer on vs off")
    ax.legend(loc="upper left", frameon=False, ncol=3, fontsize="small")
    return ax
