"""Step 4a of a run: every plot that applies to it, drawn with
:mod:`clvmodels.report.plots` on figures of the object API (no pyplot state, no backend
switch: safe inside notebooks) and saved as PNG into the run folder's ``plots/``.

Non-contractual runs: ``tracking.png``, ``conditional_expectations.png``,
``p_alive_heatmap.png`` and ``expected_purchases_heatmap.png``, ``clv_distribution.png``
and ``clv_by_segment.png``; subscription runs: ``survival.png`` and ``retention.png``;
Bayesian fits: ``posterior_<model>.png`` and ``ppc_<model>.png``; covariates:
``covariate_effects.png`` and ``covariate_lift.png``; hierarchical fits:
``group_effects.png``; purchase timings more regular than a Poisson process:
``regularity.png``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.machine import share_work, usable_cores
from clvmodels.report import effect_plots, plots
from clvmodels.run.result import RunResult
from clvmodels.units import DAYS_PER_UNIT


def save(path: Path, draw: Callable[[Any], Any], width: float = 7.0, height: float = 4.2) -> Path:
    """Draw ``draw(ax)`` on a new figure and save it as the PNG ``path``."""
    from matplotlib.figure import Figure  # here: `clvmodels summarize` draws nothing

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    draw(fig.add_subplot())
    fig.savefig(path, format="png")
    return path


Plot = tuple[str, Callable[[Any], Any], tuple[float, float]]
"""A plot of the run: its file name, ``draw(ax)`` and the figure size in inches."""
SIZE = (7.0, 4.2)


PLOT_WORKERS = 2
"""Processes that draw a run's plots (:func:`clvmodels.machine.share_work`): matplotlib
draws on one core, 0.1-0.2 s per figure; a CDNOW run's 8 figures took 1.2-1.4 s in one
process on a 2-core VM."""


def draw_run(result: RunResult, folder: Path) -> list[Path]:
    """Every plot that applies to a run, written into ``folder``, drawn by up to
    :data:`PLOT_WORKERS` processes (no more than the usable cores)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = _posterior_plots(result, folder)
    tasks = [
        partial(save, folder / name, draw, width, height)
        for name, draw, (width, height) in _table_plots(result) + _customer_plots(result)
    ]
    return written + share_work(tasks, min(PLOT_WORKERS, usable_cores()))


def _table_plots(result: RunResult) -> list[Plot]:
    """Covariate, calibration, PIT, posterior predictive and subscription plots."""
    tables, out = result.tables, []
    if "covariate_effects" in tables:
        effects = tables["covariate_effects"]
        shown = len(effects)
        if "effect_factor" in effects:  # one row per covariate and quantity
            shown = len(effects.drop_duplicates(["model", "process", "covariate"]))
        size = (8.0, 1.2 + 0.5 * shown)
        draw = partial(effect_plots.covariate_effects, effects)
        out.append(("covariate_effects.png", draw, size))
    if "group_effects" in tables:
        groups = tables["group_effects"]
        size = (7.5, 1.4 + 0.3 * int((groups["kind"] == "group").sum()))
        out.append(("group_effects.png", partial(effect_plots.group_effects, groups), size))
    if "dynamic_effects" in tables:
        draw = partial(effect_plots.rate_multipliers, tables["dynamic_effects"])
        out.append(("dynamic_effects.png", draw, (8.0, 4.2)))
    if "covariate_lift" in tables:
        lift = tables["covariate_lift"]
        size = (max(4.5, 1.8 + 1.6 * int((lift["group"] == "all").sum())), 4.2)
        out.append(("covariate_lift.png", partial(effect_plots.covariate_lift, lift), size))
    for name, table in tables.items():
        if name.startswith("ppc_"):
            draw = partial(plots.posterior_predictive, table, name[4:])
            out.append((f"{name}.png", draw, SIZE))
    if "calibration" in tables:
        out.append(("calibration.png", partial(plots.calibration, tables["calibration"]), SIZE))
    if "pit" in tables:
        out.append(("pit.png", partial(plots.pit_histogram, tables["pit"]), SIZE))
    if "survival_projection" in tables:
        projection = tables["survival_projection"]
        out.append(("survival.png", partial(plots.survival, projection), SIZE))
        out.append(("retention.png", partial(plots.retention, projection), SIZE))
    return out


def _posterior_plots(result: RunResult, folder: Path) -> list[Path]:
    """Trace and histogram per chain of every Bayesian fit."""
    written = []
    for name, estimator in result.fitted.items():
        fit = estimator.result_
        shape = fit.diagnostics.get("draws_shape")
        if fit.draws is None or not shape:
            continue
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9.0, 1.9 * len(fit.draws)), dpi=100, layout="constrained")
        plots.posterior(fit.draws, shape, name, axes=fig.subplots(len(fit.draws), 2, squeeze=False))
        path = folder / f"posterior_{name.replace(':', '-')}.png"
        fig.savefig(path, format="png")
        written.append(path)
    return written


def _customer_plots(result: RunResult) -> list[Plot]:
    """Tracking, conditional expectations, heat maps and CLV plots of a
    non-contractual run."""
    tables, out = result.tables, []
    if "survival_projection" in tables:
        return out
    summary = result.prepared.summary
    unit = result.settings.time_unit
    if "tracking" in tables and summary is not None:
        origin = pd.Timestamp(summary["first_purchase"].min())
        cal = result.prepared.meta.get("calibration_end")
        cal_t = (pd.Timestamp(cal) - origin).days / DAYS_PER_UNIT[unit] if cal else None
        frame = tables["tracking"]
        out.append(("tracking.png", partial(plots.tracking, frame, cal_t, unit), SIZE))
    if "conditional_expectations" in tables:
        expectations = tables["conditional_expectations"]
        draw = partial(plots.conditional_expectations, expectations)
        out.append(("conditional_expectations.png", draw, SIZE))
    for grid in result.grids:
        for what in ("p_alive", "expected_purchases"):
            draw = partial(plots.history_heatmap, grid, what)
            out.append((f"{what}_heatmap.png", draw, (6.5, 4.6)))
    regularity = result.prepared.regularity
    if regularity is not None and regularity.regular:
        out.append(("regularity.png", partial(plots.regularity_plot, regularity), SIZE))
    predictions = tables.get("predictions")
    if predictions is not None and "clv" in predictions:
        draw = partial(plots.clv_distribution, predictions, weights=_weights(predictions, summary))
        out.append(("clv_distribution.png", draw, SIZE))
        if "rfm_segment" in predictions:
            draw = partial(plots.clv_by_segment, predictions)
            out.append(("clv_by_segment.png", draw, SIZE))
    return out


def _weights(predictions: pd.DataFrame, summary: pd.DataFrame | None) -> np.ndarray | None:
    """How many customers each row of ``predictions`` stands for: the ``count`` of a
    compressed summary's row (``None`` for one customer per row)."""
    if summary is None or "count" not in summary or "customer_id" not in predictions:
        return None
    counts = pd.Series(summary["count"].to_numpy(float), index=summary["customer_id"].astype(str))
    return predictions["customer_id"].astype(str).map(counts).fillna(1.0).to_numpy(float)
