"""What the report says that depends on the run: customer counts weighted by a compressed
summary's ``count``, the facts of a pre-summarized input, the known artefact of the
BG/NBD's P(alive), and the verdict of a run by cohort.  Every figure is computed from the
run folder's files, so the text is true of the run it describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.estimators.frames import WEIGHT
from clvmodels.report.formats import share
from clvmodels.report.markup import escape as _e
from clvmodels.report.markup import read_table as _csv


def weights(folder: Path, frame: pd.DataFrame) -> np.ndarray:
    """How many customers each row of a per-customer ``frame`` stands for: the summary's
    ``count`` of the row's history (a compressed summary such as the donations data),
    else 1."""
    return customer_counts(frame, _csv(folder, "summary.csv"))


def customer_counts(frame: pd.DataFrame, summary: pd.DataFrame | None) -> np.ndarray:
    """The ``count`` of each row's history in ``summary`` (matched by ``customer_id``
    as text), 1 for a row it does not weigh."""
    if summary is None or WEIGHT not in summary or "customer_id" not in frame:
        return np.ones(len(frame))
    counts = dict(zip(summary["customer_id"].astype(str), summary[WEIGHT], strict=True))
    return frame["customer_id"].astype(str).map(counts).fillna(1.0).to_numpy(float)


def summary_facts(manifest: dict[str, Any], folder: Path) -> list[tuple[str, str]]:
    """The data in numbers of a pre-summarized input (``input.kind: summary``), with every
    count weighted by ``count``: customers, distinct histories, repeat purchases, the
    share who bought again, the opportunities (discrete time) or the observation span."""
    summary = _csv(folder, "summary.csv")
    if summary is None or "frequency" not in summary:
        return []
    w = summary[WEIGHT].to_numpy(float) if WEIGHT in summary else np.ones(len(summary))
    frequency = summary["frequency"].to_numpy(float)
    customers = w.sum()
    rows = [("customers", f"{customers:,.0f}")]
    if WEIGHT in summary:
        rows.append(("distinct purchase histories (rows of the summary)", f"{len(summary):,}"))
    unit = manifest.get("data", {}).get("time_unit", "")
    rows += [
        ("repeat purchases", f"{(w * frequency).sum():,.0f}"),
        ("repeat purchases per customer", f"{(w * frequency).sum() / customers:.3g}"),
        ("customers who bought again", share(w[frequency > 0].sum() / customers)),
    ]
    if "n" in summary:
        n = np.unique(summary["n"])
        rows.append(("purchase opportunities", ", ".join(f"{v:g}" for v in n) + f" ({unit})"))
    elif "T" in summary:
        rows.append(("longest customer age", f"{summary['T'].max():.3g} ({unit})"))
    if "monetary_value" in summary and (summary["monetary_value"] > 0).any():
        repeat = frequency > 0
        spend = np.average(summary["monetary_value"][repeat], weights=w[repeat])
        rows.append(("average order value (repeat orders)", f"{spend:,.2f}"))
    return rows


def bgnbd_note(manifest: dict[str, Any], folder: Path, valuing: bool = False) -> str:
    """Why the BG/NBD's P(alive) is 1 for every customer without a repeat purchase (Fader,
    Hardie & Lee 2005: dropout can happen only right after a purchase) and what that does
    to its P(alive) AUC: said with the run's share of such customers and AUC, and the
    models that do not have the artefact.  Empty unless a BG/NBD was fitted (with
    ``valuing``: unless the BG/NBD values the customers, as under the heat map)."""
    fitted = [m for m in manifest.get("models", {}) if m.split(":")[0] == "bgnbd"]
    if valuing:
        chosen = (manifest.get("selection") or {}).get("chosen_purchase_model")
        fitted = fitted if chosen == "bgnbd" else []
    summary = _csv(folder, "summary.csv")
    if not fitted or summary is None or "frequency" not in summary:
        return ""
    w = summary[WEIGHT].to_numpy(float) if WEIGHT in summary else np.ones(len(summary))
    zero = w[summary["frequency"].to_numpy(float) == 0].sum()
    if zero == 0:
        return ""
    text = (
        "BG/NBD artefact: the BG/NBD lets a customer drop out only right after a repeat "
        f"purchase, so the {zero:,.0f} customers without one ({share(zero / w.sum())} of "
        f"{w.sum():,.0f}) all get P(alive) = 1, however long ago they bought (the solid "
        "row at 0 repeat purchases of the P(alive) heat map)."
    )
    auc = _auc_alive(folder)
    if "bgnbd" in auc:
        verdict = "below 0.5: worse than chance" if auc["bgnbd"] < 0.5 else "held down by them"
        text += f" Ranked first, they make its P(alive) AUC {auc['bgnbd']:.2f} here ({verdict})."
    others = [f"{m} (AUC {v:.2f})" for m, v in auc.items() if m in ("mbgnbd", "paretonbd")]
    text += (
        " To find lapsed customers use the P(alive) of MBG/NBD or Pareto/NBD, which let "
        "one-time buyers drop out too"
        + (f": {', '.join(others)} in this run" if others else " (models: mbgnbd, paretonbd)")
        + "; the BG/NBD's forecasts of purchases and value are not affected."
    )
    return f"<p class='note warning' id='bgnbd-artefact'>{_e(text)}</p>"


def _auc_alive(folder: Path) -> dict[str, float]:
    """The holdout P(alive) AUC of each purchase model of the evaluation."""
    evaluation = _csv(folder, "evaluation.csv")
    if evaluation is None or "auc_alive" not in evaluation:
        return {}
    out = {}
    for model, auc in zip(evaluation["model"], evaluation["auc_alive"], strict=True):
        if pd.notna(auc):
            out.setdefault(str(model).split("+")[0], float(auc))
    return out


def cohort_verdict(evaluation: pd.DataFrame) -> str:
    """The verdict of a run by cohort: within each cohort, the model against the
    benchmark on the holdout (cohorts are different customers, not rival models)."""
    lines = []
    for cohort, rows in evaluation.groupby("cohort", sort=False):
        ranked = rows.sort_values("mape")
        best, rest = ranked.iloc[0], ranked.iloc[1:]
        against = "; ".join(f"{r['model']} {r['mape']:.1f} %" for _, r in rest.iterrows())
        lines.append(
            f"{cohort}: {best['model']} forecasts the survivors best (mean absolute "
            f"percentage error {best['mape']:.1f} %" + (f"; {against}" if against else "") + ")"
        )
    return ". ".join(lines) + "."


def seed_terms_note(comparison: dict[str, Any] | None) -> str:
    """Which terms the seed formula's columns of the segment table are on: the model's
    horizon and discounting (like for like), and the seed's own lifespan undiscounted
    (``manifest.json`` ``seed_comparison``)."""
    if not comparison:
        return ""
    own = comparison.get("baseline_clv") or {}
    same = comparison.get("baseline_clv_horizon") or {}
    text = "The seed formula (average order value × purchases per year) is shown twice: "
    if same:
        rate = float(same.get("discount_rate", 0.0))
        text += (
            f"<i>same terms</i> values it over the model's horizon ({same['horizon_years']:.2f}"
            f" years), discounted at {rate:.0%} a year as the model's CLV, so the two compare "
            "like for like; "
        )
    text += f"<i>own lifespan</i> over {own.get('horizon_years', 3):g} years, undiscounted"
    text += ", as marketers compute it today."
    segments = comparison.get("segments")
    if segments == "quantile":
        text += " Segments are thirds of the customers ranked by RFM score (baseline.segments)."
    elif segments == "equal_width":
        text += " Segments are equal-width thirds of the RFM score range (baseline.segments)."
    return f"<p class='note'>{_e(text)}</p>"
