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
from pathlib import Path
from typing import Any

import pandas as pd

from clvmodels.atomic import write_text
from clvmodels.errors import DataError
from clvmodels.evaluation.selection import ModelChoice
from clvmodels.metrics import segment_values
from clvmodels.report.effects import covariates_section, groups_section
from clvmodels.report.markup import escape as _e
from clvmodels.report.markup import number as _num
from clvmodels.report.markup import pairs as _pairs
from clvmodels.report.markup import read_table as _csv
from clvmodels.report.markup import table as _table
from clvmodels.report.wording import CSS, METRIC_LABELS, PLOT_PREFIXES, PLOT_TITLES, SCORE_NOTE


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
        _choice_lead(manifest),
        _data_section(manifest, folder),
        _winner_section(manifest, folder),
        _params_section(params),
        _evaluation_section(manifest, folder),
        covariates_section(folder),
        groups_section(folder),
        _plots_section(folder),
        _customers_section(folder),
    ]
    body = "\n".join(p for p in parts if p)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>clvmodels report: {_e(manifest.get('name', ''))}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>"
    )


def _data_section(manifest: dict[str, Any], folder: Path) -> str:
    rows: list[tuple[str, str]] = []
    for key, value in manifest.get("seed_metrics", {}).items():
        rows.append((METRIC_LABELS.get(key, key.replace("_", " ")), _num(value, key)))
    counts = manifest.get("data", {}).get("counts", {})
    handled = {k: v for k, v in counts.items() if v and k not in ("rows_in", "customers")}
    text = "<h2>The data in numbers</h2>"
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
        text += "<p>What marketers compute today, on the calibration window:</p>" + _pairs(rows)
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
                    f"{rates.mean():.1%} / {1 - rates.mean():.1%}",
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
    return text


def _choice_lead(manifest: dict[str, Any]) -> str:
    """The report's opening line: which model values the customers and whether it is the
    best on the holdout (said plainly when a configured model is not)."""
    selection = manifest.get("selection")
    if not selection:
        return ""
    choice = ModelChoice.from_record(selection)
    style = "verdict" if choice.is_best else "verdict warning"
    return f"<p class='{style}'>{_e(choice.sentence())}.</p>"


def _winner_section(manifest: dict[str, Any], folder: Path) -> str:
    verdict = manifest.get("verdict")
    table = None if verdict else _csv(folder, "evaluation.csv")
    if table is not None and "mape" in table:
        best = table.loc[table["mape"].idxmin()]
        verdict = (
            f"lowest holdout error: {best['model']} (mean absolute percentage "
            f"error {best['mape']:.1f} %)"
        )
    if not verdict:
        return ""
    return (
        "<h2>Which model to trust</h2>"
        f"<p class='verdict'>{_e(verdict)}</p>"
        "<p class='note'>Models are fitted on the calibration period and scored on the "
        "holdout they did not see; the seed formula (average order value × purchase "
        "frequency × lifespan) is scored the same way, at three levels.</p>"
    )


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
                    _num(value),
                    _num(se),
                    f"[{_num(lo)}, {_num(hi)}]",
                    _num(entry.get("log_likelihood")),
                ]
            )
    frame = pd.DataFrame(
        rows,
        columns=["model", "parameter", "estimate", "std. error", "95% interval", "log-likelihood"],
    )
    text = "<h2>Fitted parameters</h2>" + _table(frame) + _fit_notes(fits)
    bayes_rows = []
    for model, entry in fits.items():
        diag = entry.get("diagnostics", {})
        for name, values in diag.get("parameters", {}).items():
            bayes_rows.append(
                [
                    model,
                    name,
                    _num(values.get("r_hat")),
                    _num(values.get("ess_bulk")),
                    _num(values.get("ess_tail")),
                    str(diag.get("divergences", "")),
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
                columns=["model", "parameter", "R-hat", "ESS bulk", "ESS tail", "divergences"],
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
    text = "<h2>Evaluation on the holdout</h2><div class='wide'>" + _table(frame) + "</div>"
    if "log_score_purchases" in frame:
        text += SCORE_NOTE
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
        f"{_num(m)} ± {_num(s)}" if pd.notna(s) else _num(m)
        for m, s in zip(shown["mean"], shown["sd"], strict=True)
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
        "can be trusted more than one split's.</p><div class='wide'>" + _table(table) + "</div>"
    )


def _plots_section(folder: Path) -> str:
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
        figures.append(
            f"<figure><figcaption>{_e(title)}</figcaption>"
            f"<img alt='{_e(path.stem)}' src='data:image/png;base64,{data}'></figure>"
        )
    return "<h2>Plots</h2><div class='grid'>" + "".join(figures) + "</div>" if figures else ""


def _customers_section(folder: Path) -> str:
    path = folder / "predictions.csv"
    sampled = not path.exists() and (folder / "predictions_sample.csv").exists()
    if sampled:  # a Spark run: every customer is in predictions.parquet/
        path = folder / "predictions_sample.csv"
    if not path.exists():
        return ""
    frame = pd.read_csv(path)
    if "cohort" in frame:
        text = "<h2>Value of the current customer base</h2>" + _table(frame)
        totals = frame.groupby("cohort", sort=False)["value"].sum()
        return text + _pairs([(f"{c}: total value", _num(v)) for c, v in totals.items()])
    shown = [
        c
        for c in (
            "customer_id",
            "frequency",
            "recency",
            "T",
            "p_alive",
            "expected_purchases",
            "expected_spend",
            "clv",
            "clv_lower",
            "clv_upper",
            "baseline_clv",
            "rfm_segment",
        )
        if c in frame
    ]
    of = " of the sample" if sampled else ""
    text = f"<h2>Top 20 customers{of} by predicted value</h2>" + _table(frame[shown].head(20))
    if "rfm_segment" in frame:
        seg = segment_values(frame, "clv").reset_index()
        if "baseline_clv" in frame:
            base = segment_values(frame, "baseline_clv").reset_index()
            seg = seg.merge(
                base[["rfm_segment", "mean_baseline_clv", "total_baseline_clv"]], on="rfm_segment"
            )
        totals = " (totals over the sample)" if sampled else ""
        text += f"<h2>Value by RFM segment{totals}</h2>" + _table(seg)
    if sampled:
        return text + (
            f"<p class='note'>The {len(frame):,} sampled customers are in "
            "predictions_sample.csv; every customer's forecasts are in predictions.parquet/.</p>"
        )
    text += (
        f"<p class='note'>All {len(frame):,} customers with their forecasts are in "
        "predictions.csv.</p>"
    )
    return text


# ------------------------------------------------------------------------------ helpers
def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: missing; is {path.parent} a clvmodels run folder?") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
