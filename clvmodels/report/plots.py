"""Plots of forecasts and diagnostics, in matplotlib's convention: every function takes
``ax=None`` (the current axes of pyplot when not given) and returns the axes it drew on.
They draw tables the run computed and do no model math.

Non-contractual runs: :func:`tracking` (cumulative repeat transactions, actual vs models;
Fader, Hardie & Lee 2005, "Counting your customers the easy way", fig. 3),
:func:`conditional_expectations` (fig. 4), :func:`history_heatmap` of P(alive) or
expected purchases over frequency × recency, :func:`clv_distribution` and
:func:`clv_by_segment`.  Subscription runs: :func:`survival` and :func:`retention` per
cohort, model vs actuals (Fader & Hardie 2007, figs. 1 and 3).  Bayesian fits:
:func:`posterior`, :func:`posterior_predictive`; covariates and segments:
:mod:`clvmodels.report.effect_plots`.  Writing a
run's plots to files is the run layer's job (:mod:`clvmodels.run.figures`).

Every legend has a fixed location: matplotlib's default ``loc="best"`` searches the
plotted data and, when that takes over a second (a CLV histogram of many customers on
a busy machine), warns, which made a run fail under warnings-as-errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clvmodels.clv import HistoryGrid
from clvmodels.report.axes import COLORS
from clvmodels.report.axes import axes_or_current as _axes
from clvmodels.report.formats import plain

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from clvmodels.data.regularity import Regularity


def tracking(
    frame: pd.DataFrame, calibration_end: float | None, unit: str, ax: Axes | None = None
) -> Axes:
    """Cumulative repeat transactions per period (``frame``: ``period``, ``actual`` and
    one column per model), with the end of the calibration period marked."""
    ax = _axes(ax)
    ax.plot(frame["period"], frame["actual"], color="black", lw=2, label="actual")
    models = [c for c in frame.columns if c not in ("period", "actual")]
    for color, name in zip(COLORS, models, strict=False):
        ax.plot(frame["period"], frame[name], color=color, ls="--", label=name)
    if calibration_end is not None:
        ax.axvline(calibration_end, color="grey", lw=1)
        ax.text(calibration_end, ax.get_ylim()[1] * 0.02, " holdout →", color="grey")
    ax.set(
        xlabel=f"time ({unit})",
        ylabel="cumulative repeat transactions",
        title="Tracking: cumulative repeat transactions",
    )
    ax.legend(loc="upper left", frameon=False)
    return ax


def conditional_expectations(frame: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Mean holdout purchases by calibration frequency, actual and predicted."""
    ax = _axes(ax)
    labels = frame["calibration_frequency"].astype(str)
    x = np.arange(len(labels))
    ax.plot(x, frame["actual"], color="black", lw=2, marker="o", label="actual")
    models = [c for c in frame.columns if c not in ("calibration_frequency", "customers", "actual")]
    for color, name in zip(COLORS, models, strict=False):
        ax.plot(x, frame[name], color=color, ls="--", marker=".", label=name)
    ax.set_xticks(x, labels)
    ax.set(
        xlabel="repeat purchases in the calibration period",
        ylabel="mean purchases in the holdout",
        title="Conditional expectations",
    )
    ax.legend(loc="upper left", frameon=False)
    return ax


def history_heatmap(grid: HistoryGrid, what: str, ax: Axes | None = None) -> Axes:
    """P(alive) (``what="p_alive"``) or expected purchases (``"expected_purchases"``) of
    a :class:`~clvmodels.clv.HistoryGrid`, with a colour bar."""
    ax = _axes(ax)
    if what == "p_alive":
        values = grid.p_alive
        title, label = "P(alive) at the end of the calibration period", "P(alive)"
    else:
        values = grid.expected_purchases
        title = f"Expected purchases in the next {grid.horizon:g} periods"
        label = "expected purchases"
    image = ax.pcolormesh(grid.recency, grid.frequency, values, shading="auto", cmap="viridis")
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set(
        xlabel="recency: time of the last purchase",
        ylabel="frequency (repeat purchases)",
        title=f"{title} ({grid.model}, T = {grid.T:.3g})",
    )
    return ax


def clv_distribution(
    predictions: pd.DataFrame, ax: Axes | None = None, weights: np.ndarray | None = None
) -> Axes:
    """Histogram of predicted CLV (log scale), with the seed-formula values for scale.

    ``weights``: how many customers each row stands for (a compressed summary's
    ``count``); every row counts once without."""
    ax = _axes(ax)
    values = predictions["clv"].to_numpy(float)
    w = np.ones(len(values)) if weights is None else np.asarray(weights, float)
    keep = values > 0
    positive = values[keep]
    if len(positive):
        low = max(float(np.quantile(positive, 0.005)), positive.max() * 1e-6)
        bins = np.geomspace(low, max(positive.max(), low * 1.01), 50)
        ax.hist(  # one filled outline, not 50 bars: a tenth of the drawing
            np.clip(positive, low, None),
            bins=bins,
            weights=w[keep],
            histtype="stepfilled",
            color=COLORS[0],
            alpha=0.85,
            label="model CLV (horizon, discounted)",
        )
        seed = _seed_column(predictions)
        if seed is not None:
            base = predictions[seed[0]].to_numpy(float)
            if (base > 0).any():
                ax.hist(
                    base[base > 0],
                    bins=bins,
                    weights=w[base > 0],
                    histtype="step",
                    color=COLORS[1],
                    lw=1.5,
                    label=seed[1],
                )
        ax.set_xscale("log")
        from matplotlib.ticker import FuncFormatter, NullFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: plain(v)))
        ax.xaxis.set_minor_formatter(NullFormatter())
        mean = float(np.average(values, weights=w))
        ax.axvline(mean, color="black", ls=":", label="mean model CLV")
    ax.set(xlabel="customer lifetime value", ylabel="customers", title="Distribution of CLV")
    ax.legend(loc="upper right", frameon=False)
    return ax


def _seed_column(predictions: pd.DataFrame) -> tuple[str, str] | None:
    """The seed formula's column beside the model's CLV, and its legend."""
    if "baseline_clv_horizon" in predictions:
        return "baseline_clv_horizon", "seed formula (same horizon, discounted)"
    if "baseline_clv" in predictions:
        return "baseline_clv", "seed formula (its lifespan, undiscounted)"
    return None


def clv_by_segment(predictions: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Mean model CLV and seed-formula CLV per RFM segment (the seed on the model's
    terms, ``baseline_clv_horizon``, when the predictions have it)."""
    ax = _axes(ax)
    order = ["low", "middle", "top"]
    grouped = predictions.groupby("rfm_segment")
    x = np.arange(len(order))
    model = [grouped["clv"].mean().get(s, np.nan) for s in order]
    ax.bar(x - 0.2, model, width=0.4, color=COLORS[0], label="model CLV")
    seed = _seed_column(predictions)
    if seed is not None:
        base = [grouped[seed[0]].mean().get(s, np.nan) for s in order]
        ax.bar(x + 0.2, base, width=0.4, color=COLORS[1], label=seed[1])
    counts = [int(grouped.size().get(s, 0)) for s in order]
    ax.set_xticks(x, [f"{s}\n({n:,} customers)" for s, n in zip(order, counts, strict=True)])
    ax.set(ylabel="mean CLV per customer", title="CLV by RFM segment")
    ax.legend(loc="upper left", frameon=False)
    return ax


def _per_cohort(projection: pd.DataFrame) -> Any:
    return zip(COLORS, projection.groupby("cohort", sort=False), strict=False)


def survival(projection: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Survivors per period for each cohort: actual, sBG and constant retention."""
    ax = _axes(ax)
    for color, (cohort, rows) in _per_cohort(projection):
        ax.plot(rows["period"], rows["actual"], color=color, lw=2, label=f"{cohort}: actual")
        ax.plot(rows["period"], rows["sbg"], color=color, ls="--", label=f"{cohort}: sBG")
        ax.plot(
            rows["period"],
            rows["constant_retention"],
            color=color,
            ls=":",
            label=f"{cohort}: constant retention",
        )
        ax.axvline(rows.loc[~rows["holdout"], "period"].max(), color="grey", lw=1)
    ax.set(xlabel="period", ylabel="customers still subscribed", title="Survival")
    ax.legend(loc="upper right", frameon=False, fontsize=8)
    return ax


def retention(projection: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Period-on-period retention rates for each cohort: actual and sBG."""
    ax = _axes(ax)
    for color, (cohort, rows) in _per_cohort(projection):
        actual = rows["actual"].to_numpy(float)
        model = rows["sbg"].to_numpy(float)
        t = rows["period"].to_numpy()[1:]
        ax.plot(
            t, actual[1:] / actual[:-1], color=color, lw=2, marker="o", label=f"{cohort}: actual"
        )
        ax.plot(t, model[1:] / model[:-1], color=color, ls="--", label=f"{cohort}: sBG")
    ax.set(xlabel="period", ylabel="retention rate", title="Retention rates")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    return ax


def posterior(draws: dict[str, np.ndarray], shape: list[int], model: str, axes: Any = None) -> Any:
    """Trace (one line per chain) and posterior histogram of every parameter: ``axes`` a
    (parameters × 2) array of axes (default: a new pyplot figure); returns it."""
    names = list(draws)
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(len(names), 2, squeeze=False, figsize=(9.0, 1.9 * len(names)))
    for row, name in enumerate(names):
        chains = np.asarray(draws[name]).reshape(shape)
        for c, chain in enumerate(chains):
            axes[row, 0].plot(chain, lw=0.5, color=COLORS[c % len(COLORS)])
            axes[row, 1].hist(chain, bins=40, histtype="step", color=COLORS[c % len(COLORS)])
        axes[row, 0].set_ylabel(name)
    axes[0, 0].set_title(f"{model}: trace per chain")
    axes[0, 1].set_title("posterior per chain")
    return axes


def posterior_predictive(table: pd.DataFrame, model: str, ax: Axes | None = None) -> Axes:
    """Observed customers per repeat-purchase count vs the posterior predictive range."""
    ax = _axes(ax)
    x = np.arange(len(table))
    ax.bar(x, table["simulated_mean"], color=COLORS[0], alpha=0.35, label="simulated (mean)")
    ax.errorbar(
        x,
        table["simulated_mean"],
        yerr=[
            table["simulated_mean"] - table["simulated_p05"],
            table["simulated_p95"] - table["simulated_mean"],
        ],
        fmt="none",
        color=COLORS[0],
        capsize=3,
        label="simulated 90 % range",
    )
    ax.plot(x, table["observed"], "o", color="black", label="observed")
    ax.set_xticks(x, table["frequency"])
    ax.set(
        xlabel="repeat purchases in the calibration period",
        ylabel="customers",
        title=f"Posterior predictive check ({model})",
    )
    ax.legend(loc="upper right", frameon=False)
    return ax


def calibration(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Predicted against observed share of customers buying in the holdout, by decile
    of the predicted probability, per forecaster (``table``: ``model``, ``predicted``,
    ``observed``, :func:`clvmodels.evaluation.probabilistic.calibration_table`); a
    calibrated forecaster lies on the diagonal."""
    ax = _axes(ax)
    top = float(np.nanmax(table[["predicted", "observed"]].to_numpy(float)))
    ax.plot([0.0, top], [0.0, top], color="grey", lw=1, label="calibrated")
    for color, (name, rows) in zip(COLORS, table.groupby("model", sort=False), strict=False):
        ax.plot(rows["predicted"], rows["observed"], "o-", color=color, ms=4, label=name)
    ax.set(
        xlabel="predicted P(at least one purchase)",
        ylabel="observed share buying",
        title="Calibration by decile of the forecast",
    )
    ax.legend(loc="upper left", frameon=False, fontsize="small")
    return ax


def pit_histogram(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """The randomised PIT histogram per forecaster (``table``: ``model``, ``bin_lower``,
    ``bin_upper``, ``share``): flat at the dashed line when the predictive
    distributions are calibrated; a U shape means too narrow, a hump too wide, a slope
    a biased forecast (Czado, Gneiting & Held 2009, Biometrics 65(4))."""
    ax = _axes(ax)
    groups = list(table.groupby("model", sort=False))
    width = 1.0 / max(1, len(groups))
    for j, (color, (name, rows)) in enumerate(zip(COLORS, groups, strict=False)):
        lower = rows["bin_lower"].to_numpy(float)
        size = rows["bin_upper"].to_numpy(float) - lower
        ax.bar(
            lower + size * width * j,
            rows["share"],
            width=size * width,
            align="edge",
            color=color,
            label=name,
        )
    uniform = float(np.mean(table["bin_upper"] - table["bin_lower"]))
    ax.axhline(uniform, color="black", ls="--", lw=1)
    ax.set(xlabel="PIT value", ylabel="share of customers", title="Randomised PIT histogram")
    ax.legend(loc="upper center", frameon=False, fontsize="small", ncols=2)
    return ax


def regularity_plot(result: Regularity, ax: Axes | None = None) -> Axes:
    """Histogram of Wheat & Morrison's ``M = ITT1 / (ITT1 + ITT2)`` with the Beta(k̂, k̂)
    density it follows under Gamma(k̂) gaps and the flat Beta(1, 1) of exponential gaps
    (a Poisson process); Wheat & Morrison (1990), Journal of Marketing Research 27(1).
    ``result``: :class:`clvmodels.data.regularity.Regularity`."""
    from scipy.stats import beta

    ax = _axes(ax)
    ax.hist(result.m, bins=20, range=(0.0, 1.0), density=True, color="#d9d9d9", label="M")
    grid = np.linspace(0.0025, 0.9975, 200)
    k = result.k
    ax.plot(grid, beta.pdf(grid, k, k), color=COLORS[0], lw=2, label=f"Beta({k:.2f}, {k:.2f})")
    ax.axhline(1.0, color=COLORS[1], ls="--", lw=1, label="Beta(1, 1): Poisson")
    ax.set(
        xlim=(0.0, 1.0),
        xlabel="M = ITT1 / (ITT1 + ITT2)",
        ylabel="density",
        title=f"Purchase regularity: k = {k:.2f} ({result.n_customers:,} customers)",
    )
    ax.legend(loc="upper right", frameon=False, fontsize="small")
    return ax
