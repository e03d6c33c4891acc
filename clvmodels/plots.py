"""Plots of a run, drawn with matplotlib's object API (no pyplot state, no backend
switch: safe inside notebooks) and saved as PNG.

Non-contractual runs: ``tracking.png`` (cumulative repeat transactions, actual vs
models; Fader, Hardie & Lee 2005 fig. 3), ``conditional_expectations.png`` (fig. 4),
``p_alive_heatmap.png`` and ``expected_purchases_heatmap.png`` over frequency ×
recency, ``clv_distribution.png`` and ``clv_by_segment.png``.  Subscription runs:
``survival.png`` and ``retention.png`` per cohort, model vs actuals (Fader & Hardie
2007 figs. 1 and 3).

Every legend has a fixed location: matplotlib's default ``loc="best"`` searches the
plotted data and, when that takes over a second (a CLV histogram of many customers on
a busy machine), warns, which made a run fail under warnings-as-errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from clvmodels import clv
from clvmodels.models import model_module

if TYPE_CHECKING:
    from clvmodels.run import RunResult

COLORS = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000")


def _figure(width: float = 7.0, height: float = 4.2) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig, fig.add_subplot()


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, format="png")
    return path


def tracking(frame: pd.DataFrame, calibration_end: float | None, unit: str, path: Path) -> Path:
    """Cumulative repeat transactions per period, actual and predicted."""
    fig, ax = _figure()
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
    return _save(fig, path)


def conditional_expectations(frame: pd.DataFrame, path: Path) -> Path:
    """Mean holdout purchases by calibration frequency, actual and predicted."""
    fig, ax = _figure()
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
    return _save(fig, path)


def history_heatmap(
    key: str, params: dict[str, float], T: float, horizon: float, what: str, path: Path
) -> Path:
    """P(alive) or expected purchases over ``horizon`` for every (frequency, recency) of a
    customer observed for ``T`` (recency shown as time since the first purchase)."""
    module = model_module(key)
    x = np.arange(0, 31, dtype=float)
    tx = np.linspace(0.0, T, 60)
    xx, rr = np.meshgrid(x, tx, indexing="ij")
    rr = np.where(xx == 0, 0.0, rr)  # no repeat purchase: recency is 0 by definition
    if what == "p_alive":
        values = module.probability_alive(xx.ravel(), rr.ravel(), T, **params)
        title, label = "P(alive) at the end of the calibration period", "P(alive)"
    else:
        values = module.conditional_expected_purchases(horizon, xx.ravel(), rr.ravel(), T, **params)
        title = f"Expected purchases in the next {horizon:g} periods"
        label = "expected purchases"
    fig, ax = _figure(6.5, 4.6)
    image = ax.pcolormesh(
        tx, x, np.asarray(values).reshape(xx.shape), shading="auto", cmap="viridis"
    )
    fig.colorbar(image, ax=ax, label=label)
    ax.set(
        xlabel="recency: time of the last purchase",
        ylabel="frequency (repeat purchases)",
        title=f"{title} ({key}, T = {T:.3g})",
    )
    return _save(fig, path)


def clv_distribution(predictions: pd.DataFrame, path: Path) -> Path:
    """Histogram of predicted CLV (log scale), with the seed-formula values for scale."""
    fig, ax = _figure()
    values = predictions["clv"].to_numpy(float)
    positive = values[values > 0]
    if len(positive):
        low = max(float(np.quantile(positive, 0.005)), positive.max() * 1e-6)
        bins = np.geomspace(low, max(positive.max(), low * 1.01), 50)
        ax.hist(
            np.clip(positive, low, None),
            bins=bins,
            color=COLORS[0],
            alpha=0.85,
            label="model CLV (horizon, discounted)",
        )
        if "baseline_clv" in predictions:
            base = predictions["baseline_clv"].to_numpy(float)
            base = base[base > 0]
            if len(base):
                ax.hist(
                    base, bins=bins, histtype="step", color=COLORS[1], lw=1.5, label="seed formula"
                )
        ax.set_xscale("log")
        ax.axvline(float(np.mean(values)), color="black", ls=":", label="mean model CLV")
    ax.set(xlabel="customer lifetime value", ylabel="customers", title="Distribution of CLV")
    ax.legend(loc="upper right", frameon=False)
    return _save(fig, path)


def clv_by_segment(predictions: pd.DataFrame, path: Path) -> Path:
    """Mean model CLV and seed-formula CLV per RFM segment."""
    order = ["low", "middle", "top"]
    grouped = predictions.groupby("rfm_segment")
    fig, ax = _figure()
    x = np.arange(len(order))
    model = [grouped["clv"].mean().get(s, np.nan) for s in order]
    ax.bar(x - 0.2, model, width=0.4, color=COLORS[0], label="model CLV")
    if "baseline_clv" in predictions:
        base = [grouped["baseline_clv"].mean().get(s, np.nan) for s in order]
        ax.bar(x + 0.2, base, width=0.4, color=COLORS[1], label="seed formula")
    counts = [int(grouped.size().get(s, 0)) for s in order]
    ax.set_xticks(x, [f"{s}\n({n:,} customers)" for s, n in zip(order, counts, strict=True)])
    ax.set(ylabel="mean CLV per customer", title="CLV by RFM segment")
    ax.legend(loc="upper left", frameon=False)
    return _save(fig, path)


def survival(projection: pd.DataFrame, path: Path) -> Path:
    """Survivors per period for each cohort: actual, sBG and constant retention."""
    fig, ax = _figure()
    for color, (cohort, rows) in zip(
        COLORS, projection.groupby("cohort", sort=False), strict=False
    ):
        ax.plot(rows["period"], rows["actual"], color=color, lw=2, label=f"{cohort}: actual")
        ax.plot(rows["period"], rows["sbg"], color=color, ls="--", label=f"{cohort}: sBG")
        ax.plot(
            rows["period"],
            rows["constant_retention"],
            color=color,
            ls=":",
            label=f"{cohort}: constant retention",
        )
        calibration = rows.loc[~rows["holdout"], "period"].max()
        ax.axvline(calibration, color="grey", lw=1)
    ax.set(xlabel="period", ylabel="customers still subscribed", title="Survival")
    ax.legend(loc="upper right", frameon=False, fontsize=8)
    return _save(fig, path)


def retention(projection: pd.DataFrame, path: Path) -> Path:
    """Period-on-period retention rates for each cohort: actual and sBG."""
    fig, ax = _figure()
    for color, (cohort, rows) in zip(
        COLORS, projection.groupby("cohort", sort=False), strict=False
    ):
        actual = rows["actual"].to_numpy(float)
        model = rows["sbg"].to_numpy(float)
        t = rows["period"].to_numpy()[1:]
        ax.plot(
            t, actual[1:] / actual[:-1], color=color, lw=2, marker="o", label=f"{cohort}: actual"
        )
        ax.plot(t, model[1:] / model[:-1], color=color, ls="--", label=f"{cohort}: sBG")
    ax.set(xlabel="period", ylabel="retention rate", title="Retention rates")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    return _save(fig, path)


def posterior(
    result_draws: dict[str, np.ndarray], shape: list[int], model: str, path: Path
) -> Path:
    """Trace (one line per chain) and posterior histogram of every parameter."""
    names = list(result_draws)
    fig = Figure(figsize=(9.0, 1.9 * len(names)), dpi=100, layout="constrained")
    axes = fig.subplots(len(names), 2, squeeze=False)
    for row, name in enumerate(names):
        chains = np.asarray(result_draws[name]).reshape(shape)
        for c, chain in enumerate(chains):
            axes[row, 0].plot(chain, lw=0.5, color=COLORS[c % len(COLORS)])
            axes[row, 1].hist(chain, bins=40, histtype="step", color=COLORS[c % len(COLORS)])
        axes[row, 0].set_ylabel(name)
    axes[0, 0].set_title(f"{model}: trace per chain")
    axes[0, 1].set_title("posterior per chain")
    return _save(fig, path)


def posterior_predictive(table: pd.DataFrame, model: str, path: Path) -> Path:
    """Observed customers per repeat-purchase count vs the posterior predictive range."""
    fig, ax = _figure()
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
    return _save(fig, path)


def covariate_effects(effects: pd.DataFrame, path: Path) -> Path:
    """Forest plot: the factor each covariate puts on its parameter, with its interval
    (log scale; 1 = no effect)."""
    rows = effects.iloc[::-1]
    labels = [f"{m}: {c}" for m, c in zip(rows["model"], rows["coefficient"], strict=True)]
    y = np.arange(len(rows))
    fig, ax = _figure(7.0, 1.2 + 0.38 * len(rows))
    factor = rows["factor"].to_numpy(float)
    err = np.vstack([factor - rows["factor_lower"], rows["factor_upper"] - factor])
    ax.errorbar(factor, y, xerr=err, fmt="o", color=COLORS[0], capsize=3)
    ax.axvline(1.0, color="black", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, labels)
    ax.set(xlabel="factor on the parameter: exp(sign · γ)", title="Covariate effects (1 = none)")
    return _save(fig, path)


def covariate_lift(lift: pd.DataFrame, path: Path) -> Path:
    """Mean CLV per customer with each binary covariate on and off (all customers), and
    the interval of the difference."""
    rows = lift[lift["group"] == "all"]
    x = np.arange(len(rows))
    fig, ax = _figure(max(4.5, 1.8 + 1.6 * len(rows)), 4.2)
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
    return _save(fig, path)


def draw_run(result: RunResult, folder: Path) -> list[Path]:
    """Every plot that applies to a run, written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = result.tables
    written: list[Path] = []
    for name, estimator in result.fitted.items():
        fit = estimator.result_
        if fit.draws is not None and fit.diagnostics.get("draws_shape"):
            safe = name.replace(":", "-")
            written.append(
                posterior(
                    fit.draws,
                    fit.diagnostics["draws_shape"],
                    name,
                    folder / f"posterior_{safe}.png",
                )
            )
    if "covariate_effects" in tables:
        written.append(
            covariate_effects(tables["covariate_effects"], folder / "covariate_effects.png")
        )
    if "covariate_lift" in tables:
        written.append(covariate_lift(tables["covariate_lift"], folder / "covariate_lift.png"))
    for name, table in tables.items():
        if name.startswith("ppc_"):
            written.append(posterior_predictive(table, name[4:], folder / f"{name}.png"))
    unit = result.prepared.meta.get("time_unit", result.config.data.time_unit)
    if "survival_projection" in tables:
        written.append(survival(tables["survival_projection"], folder / "survival.png"))
        written.append(retention(tables["survival_projection"], folder / "retention.png"))
        return written
    summary = result.prepared.summary
    if "tracking" in tables and summary is not None:
        origin = pd.Timestamp(summary["first_purchase"].min())
        cal = result.prepared.meta.get("calibration_end")
        from clvmodels.units import DAYS_PER_UNIT

        cal_t = None
        if cal:
            cal_t = (pd.Timestamp(cal) - origin).days / DAYS_PER_UNIT[unit]
        written.append(tracking(tables["tracking"], cal_t, unit, folder / "tracking.png"))
    if "conditional_expectations" in tables:
        written.append(
            conditional_expectations(
                tables["conditional_expectations"], folder / "conditional_expectations.png"
            )
        )
    predictions = tables.get("predictions")
    fitted = result.refit or result.fitted
    keys = [k for k in result.config.models if k in clv.PURCHASE_KEYS and k in fitted]
    if keys and keys[0] != "bgbb" and summary is not None and "T" in summary:
        from clvmodels.forecast import value_settings

        key = result.config.clv.purchase_model or keys[0]
        horizon = value_settings(result.config, unit).count_horizon
        T = float(summary["T"].max())
        # with covariates: a customer at every covariate's reference level (zero)
        params = fitted[key].profile_params()
        for what in ("p_alive", "expected_purchases"):
            written.append(
                history_heatmap(key, params, T, horizon, what, folder / f"{what}_heatmap.png")
            )
    if predictions is not None and "clv" in predictions:
        written.append(clv_distribution(predictions, folder / "clv_distribution.png"))
        if "rfm_segment" in predictions:
            written.append(clv_by_segment(predictions, folder / "clv_by_segment.png"))
    return written
