"""``report.html``: one self-contained page a marketer can read, built from a run folder.

Everything comes from the folder's files (``manifest.json``, ``params.json``, the CSV
tables and ``plots/*.png``), so ``clvmodels report RUN_DIR`` rebuilds the page without
refitting.  Images are embedded as base64 data URIs and there is no script or external
resource: the page opens offline and renders identically anywhere.
"""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from clvmodels.atomic import write_text
from clvmodels.errors import DataError
from clvmodels.evaluation.selection import ModelChoice
from clvmodels.metrics import segment_values
from clvmodels.report.effects import covariates_section, groups_section
from clvmodels.report.formats import cell, definition, label, share
from clvmodels.report.lead import lead_section
from clvmodels.report.markup import escape as _e
from clvmodels.report.markup import glossary_section
from clvmodels.report.markup import number as _num
from clvmodels.report.markup import pairs as _pairs
from clvmodels.report.markup import read_table as _csv
from clvmodels.report.markup import table as _table
from clvmodels.report.notes import (
    bgnbd_note,
    cohort_verdict,
    seed_terms_note,
    summary_facts,
    weights,
)
from clvmodels.report.wording import CSS, METRIC_LABELS, PLOT_PREFIXES, PLOT_TITLES, score_note


def write_report(folder: str | Path) -> Path:
    """Build ``report.html`` inside ``folder`` from its files; returns the page's path."""
    folder = Path(folder)
    return write_text(folder / "report.html", render(folder))


def render(folder: Path) -> str:
    """The report page of a run folder, as HTML text."""
    manifest = _json(folder / "manifest.json")
    params = _json(folder / "params.json")
    parts = [
        f"<h1>Customer value report: {_e(manifest.get('name', folder.name))}</h1>",
        f"<p class='note'>clvmodels {_e(manifest.get('clvmodels_version', '?'))}, "
        f"{_e(manifest.get('created', ''))}; data {_e(manifest['input']['source'])} "
        f"(fingerprint {_e(manifest['input']['fingerprint'])}).</p>",
        lead_section(manifest, folder),
        _choice_lead(manifest),
        _data_section(manifest, folder),
        _winner_section(manifest, folder),
        _params_section(params),
        _evaluation_section(manifest, folder),
        covariates_section(folder),
        groups_section(folder),
        _plots_section(manifest, folder),
        _customers_section(manifest, folder),
    ]
    body = "\n".join(p for p in parts if p)
    body += glossary_section(body, manifest.get("seed_metrics", {}))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>clvmodels report: {_e(manifest.get('name', ''))}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>"
    )


def _data_section(manifest: dict[str, Any], folder: Path) -> str:
    """The data in numbers: the seed metrics of a transaction log, the facts of a
    pre-summarized input (weighted by its ``count``), the cohorts of a survival table,
    the purchase timing and the data handling; only what applies to the run."""
    rows: list[tuple[str, str]] = []
    for key, value in manifest.get("seed_metrics", {}).items():
        rows.append((METRIC_LABELS.get(key, label(key)), _num(value, key)))
    data = manifest.get("data", {})
    counts = data.get("counts", {})
    handled = {k: v for k, v in counts.items() if v and k not in ("rows_in", "customers")}
    text = ""
    sample = manifest.get("data", {}).get("sample")
    if sample:
        omitted = f" Left out: {_e(sample['omitted'])}." if sample.get("omitted") else ""
        text += (
            f"<p class='note'>Spark run: the evaluation, plots and customer tables below come "
            f"from a uniform random sample of {sample['customers']:,} of {sample['of']:,} "
            "customers (spark.evaluation_sample); the seed metrics, counts and fits use "
            f"every customer, and predictions.parquet/ scores every customer.{omitted}</p>"
        )
    if rows:
        window = "the calibration window" if "calibration_end" in data else "the data"
        text += f"<p>What marketers compute today, on {window}:</p>" + _pairs(rows)
    elif manifest.get("input", {}).get("kind") == "summary":
        facts = summary_facts(manifest, folder)
        if facts:
            text += "<p>The pre-summarized input, one row per purchase history:</p>"
            text += _pairs(facts)
    frame = _csv(folder, "survival_projection.csv")
    if frame is not None:
        lines = []
        for cohort, sub in frame.groupby("cohort", sort=False):
            alive = sub["actual"].to_numpy(float)
            rates = alive[1:] / alive[:-1]
            lines.append(
                (f"{cohort}: customers at start / now", f"{alive[0]:,.0f} / {alive[-1]:,.0f}")
            )
            lines.append(
                (
                    f"{cohort}: mean retention rate / churn rate",
                    f"{share(rates.mean())} / {share(1 - rates.mean())}",
                )
            )
        text += _pairs(lines)
    regularity = manifest.get("data", {}).get("regularity")
    if regularity:
        text += f"<p>Purchase timing. {_e(regularity['verdict'])}.</p>"
    if handled:
        text += (
            "<p class='note'>Data handling: "
            + ", ".join(f"{_e(k.replace('_', ' '))}: {v:,}" for k, v in handled.items())
            + ".</p>"
        )
    return "<h2>The data in numbers</h2>" + text if text else ""


def _choice_lead(manifest: dict[str, Any]) -> str:
    """A warning under the first section when the configured model that values the
    customers is not the best on the holdout."""
    selection = manifest.get("selection")
    if not selection:
        return ""
    choice = ModelChoice.from_record(selection)
    if choice.is_best:  # the first section says which model values the customers and why
        return ""
    return f"<p class='verdict warning'>{_e(choice.sentence())}.</p>"


def _winner_section(manifest: dict[str, Any], folder: Path) -> str:
    verdict = manifest.get("verdict")
    table = None if verdict else _csv(folder, "evaluation.csv")
    if table is not None and "mape" in table and "cohort" in table:
        verdict = cohort_verdict(table)
    elif table is not None and "mape" in table:
        best = table.loc[table["mape"].idxmin()]
        verdict = (
            f"lowest holdout error: {best['model']} (mean absolute percentage "
            f"error {best['mape']:.1f} %)"
        )
    if not verdict:
        return ""
    verdict = re.sub(r"\(([^()]*)\)", _metric_list, verdict)
    scored = _csv(folder, "evaluation.csv")
    models = set() if scored is None else {str(m) for m in scored["model"]}
    how = (
        "Each cohort's model is fitted on its calibration periods and scored on the "
        "holdout periods it did not see, against a constant retention rate."
        if scored is not None and "cohort" in scored
        else "Models are fitted on the calibration period and scored on the holdout they "
        "did not see."
    )
    seeds = sorted(m for m in models if m.startswith("seed_"))
    if seeds:
        how += (
            " The seed formula (average order value × purchase frequency × lifespan) is "
            f"scored the same way, at {len(seeds)} level{'s' if len(seeds) > 1 else ''} "
            f"({', '.join(seeds)})."
        )
    return (
        "<h2>Which model to trust</h2>"
        f"<p class='verdict'>{_e(verdict)}</p><p class='note'>{_e(how)}</p>"
    )


def _metric_list(match: re.Match[str]) -> str:
    """A parenthesised list of metric names in words: ``(mae_purchases, rmse_revenue)``
    → ``(MAE, purchases; RMSE, revenue)``; other parentheses unchanged."""
    names = match[1].split(", ")
    if not all(definition(n) for n in names):
        return match[0]
    return "(" + "; ".join(label(n) for n in names) + ")"


def _params_section(params: dict[str, Any]) -> str:
    rows = []
    fits = params.get("models", {})
    for model, entry in fits.items():
        interval = entry.get("interval", {})
        for name, value in entry["params"].items():
            lo, hi = interval.get(name, [math.nan, math.nan])
            se = entry.get("std_err", {}).get(name)
            rows.append(
                [
                    model,
                    name,
                    value,
                    se,
                    f"[{cell(lo, 'lower')}, {cell(hi, 'upper')}]",
                    entry.get("log_likelihood"),
                ]
            )
    frame = pd.DataFrame(
        rows,
        columns=["model", "parameter", "estimate", "std. error", "95% interval", "log-likelihood"],
    )
    frame["estimate"] = frame["estimate"].astype(float)
    frame["std. error"] = frame["std. error"].astype(float)
    text = "<h2>Fitted parameters</h2>" + _table(frame) + _fit_notes(fits)
    bayes_rows = []
    for model, entry in fits.items():
        diag = entry.get("diagnostics", {})
        for name, values in diag.get("parameters", {}).items():
            bayes_rows.append(
                [
                    model,
                    name,
                    values.get("r_hat"),
                    values.get("ess_bulk"),
                    values.get("ess_tail"),
                    diag.get("divergences"),
                ]
            )
    if bayes_rows:
        text += (
            "<p>Bayesian fits: the estimate is the posterior mean, the std. error the "
            "posterior sd and the interval the central 95 % of the draws. Sampler "
            "diagnostics (R-hat ≤ 1.01 and ESS ≥ 400 wanted):</p>"
        )
        text += _table(
            pd.DataFrame(
                bayes_rows,
                columns=["model", "parameter", "r_hat", "ess_bulk", "ess_tail", "divergences"],
            )
        )
        problems = [p for e in fits.values() for p in e.get("diagnostics", {}).get("problems", [])]
        if problems:
            text += f"<p class='verdict'>Convergence warnings: {_e('; '.join(problems))}</p>"
    return text


def _fit_notes(fits: dict[str, Any]) -> str:
    """What a fit chose or held: the Erlang order ``k`` picked by profile likelihood
    (with the profile), a parameter held at the edge of its range."""
    notes = []
    for model, entry in fits.items():
        diag = entry.get("diagnostics", {})
        profile = diag.get("k_profile")
        if profile and len(profile) > 1:
            steps = ", ".join(f"k = {k}: {float(ll):,.1f}" for k, ll in profile.items())
            notes.append(f"{model}: k chosen by profile likelihood ({steps}).")
        for parameter, note in diag.get("held_at_edge", {}).items():
            notes.append(f"{model}: {parameter} {note}; the fit equals its limit model.")
    return "".join(f"<p class='note'>{_e(n)}</p>" for n in notes)


BACKTEST_METRICS = (
    "log_score_purchases",
    "rps_purchases",
    "total_purchases_error",
    "total_revenue_error",
    "spearman_revenue",
    "coverage90_purchases",
    "coverage90_purchases_expected",
)
"""The metrics the report shows of a backtest (``backtest_summary.csv`` has them all)."""


def _evaluation_section(manifest: dict[str, Any], folder: Path) -> str:
    frame = _csv(folder, "evaluation.csv")
    if frame is None:
        return ""
    text = "<h2>Evaluation on the holdout</h2>" + _table(frame)
    text += bgnbd_note(manifest, folder) if "auc_alive" in frame else ""
    text += score_note(frame.columns)
    challenger = (manifest.get("evaluation") or {}).get("challenger")
    if challenger:
        text += (
            "<p class='note'>gbm_challenger: a gradient-boosted regression (scikit-learn, "
            f"Poisson loss) on RFM and spend features, {_e(challenger)}. It forecasts "
            "the holdout only and offers no lifetime value.</p>"
        )
    text += _backtest_section(manifest, folder)
    if "zero_forecast" in set(frame.get("model", [])):
        text += (
            "<p class='note'>zero_forecast predicts no purchase for anybody. Most "
            "customers buy nothing in the holdout, so its MAE is low without any skill: "
            "read the MAE next to the RMSE, the error of the total and the ranking "
            "measures.</p>"
        )
    return text


def _backtest_section(manifest: dict[str, Any], folder: Path) -> str:
    summary = _csv(folder, "backtest_summary.csv")
    if summary is None:
        return ""
    shown = summary[summary["metric"].isin(BACKTEST_METRICS)].copy()
    shown["cell"] = [
        f"{cell(m, k)} ± {cell(s, k).lstrip('+')}" if pd.notna(s) else cell(m, k)
        for m, s, k in zip(shown["mean"], shown["sd"], shown["metric"], strict=True)
    ]
    table = shown.pivot(index="model", columns="metric", values="cell")
    table = table[[m for m in BACKTEST_METRICS if m in table.columns]]
    table = table.loc[list(dict.fromkeys(shown["model"]))].reset_index()
    origins = (manifest.get("evaluation") or {}).get("backtest", {}).get("origins", [])
    return (
        f"<h3>Rolling-origin backtest: {len(origins)} calibration ends</h3>"
        f"<p class='note'>Every model refitted at each calibration end "
        f"({_e(', '.join(origins))}) and scored on the same holdout length after it: mean "
        "± standard deviation over the origins (every metric and origin in "
        "backtest.csv and backtest_summary.csv). A ranking that holds across origins "
        "can be trusted more than one split's.</p>" + _table(table)
    )


def _plots_section(manifest: dict[str, Any], folder: Path) -> str:
    plots = folder / "plots"
    if not plots.is_dir():
        return ""
    figures = []
    for path in sorted(
        plots.glob("*.png"),
        key=lambda p: list(PLOT_TITLES).index(p.name) if p.name in PLOT_TITLES else 99,
    ):
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        title = PLOT_TITLES.get(path.name) or next(
            (
                f"{t} — {path.stem.split('_', 1)[1]}"
                for p, t in PLOT_PREFIXES.items()
                if path.name.startswith(p)
            ),
            path.stem.replace("_", " "),
        )
        note = (
            bgnbd_note(manifest, folder, valuing=True) if path.name == "p_alive_heatmap.png" else ""
        )
        figures.append(
            f"<figure><figcaption>{_e(title)}</figcaption>"
            f"<img alt='{_e(path.stem)}' src='data:image/png;base64,{data}'>{note}</figure>"
        )
    return "<h2>Plots</h2><div class='grid'>" + "".join(figures) + "</div>" if figures else ""


TOP_COLUMNS = (
    "customer_id",
    "frequency",
    "recency",
    "p_alive",
    "expected_purchases",
    "clv",
    "clv_interval",
    "rfm_segment",
)
"""The columns of the top-20 table: who, how they bought, whether they are still active,
what they will buy and are worth (every column is in predictions.csv)."""


def _customers_section(manifest: dict[str, Any], folder: Path) -> str:
    name = "predictions.csv"
    sampled = not (folder / name).exists() and (folder / "predictions_sample.csv").exists()
    if sampled:  # a Spark run: every customer is in predictions.parquet/
        name = "predictions_sample.csv"
    frame = _csv(folder, name)
    if frame is None:
        return ""
    if "cohort" in frame:
        text = "<h2>Value of the current customer base</h2>" + _table(frame)
        totals = frame.groupby("cohort", sort=False)["value"].sum()
        return text + _pairs([(f"{c}: total value", _num(v)) for c, v in totals.items()])
    top = frame.head(20).copy()
    if {"clv_lower", "clv_upper"} <= set(top):
        top["clv_interval"] = [
            f"{cell(lo, 'clv')}–{cell(hi, 'clv')}"
            for lo, hi in zip(top["clv_lower"], top["clv_upper"], strict=True)
        ]
    weight = weights(folder, frame)
    weighted = bool((weight != 1).any())
    who = "histories" if weighted else "customers"
    of = " of the sample" if sampled else ""
    text = f"<h2>Top 20 {who}{of} by predicted value</h2>"
    if weighted:
        text += (
            "<p class='note'>Each row is a purchase history shared by <i>customers</i> "
            "customers (the summary's count column); the values are per customer.</p>"
        )
        top.insert(1, "customers", weight[:20])
    shown = top[[c for c in (*TOP_COLUMNS[:1], "customers", *TOP_COLUMNS[1:]) if c in top]]
    text += _table(shown.rename(columns={"customer_id": "history"}) if weighted else shown)
    if "rfm_segment" in frame:
        seg = segment_values(frame, "clv").reset_index()
        for column in ("baseline_clv_horizon", "baseline_clv"):
            if column in frame:
                base = segment_values(frame, column).reset_index()
                kept = ["rfm_segment", f"mean_{column}", f"total_{column}"]
                seg = seg.merge(base[kept], on="rfm_segment")
        totals = " (totals over the sample)" if sampled else ""
        text += f"<h2>Value by RFM segment{totals}</h2>" + _table(seg)
        text += seed_terms_note(manifest.get("seed_comparison"))
    if sampled:
        return text + (
            f"<p class='note'>The {len(frame):,} sampled customers are in "
            "predictions_sample.csv; every customer's forecasts are in predictions.parquet/.</p>"
        )
    if weighted:
        return text + (
            f"<p class='note'>All {weight.sum():,.0f} customers ({len(frame):,} distinct "
            "histories) with their forecasts are in predictions.csv, one row per history; "
            "summary.csv has how many customers share each.</p>"
        )
    return text + (
        f"<p class='note'>All {len(frame):,} customers with their forecasts are in "
        "predictions.csv.</p>"
    )


# ------------------------------------------------------------------------------ helpers
def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: missing; is {path.parent} a clvmodels run folder?") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
