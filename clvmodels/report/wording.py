"""The fixed words and style of ``report.html``: plot titles, metric labels, notes and
the page's stylesheet (:mod:`clvmodels.report.html` assembles the page)."""

from __future__ import annotations

from collections.abc import Iterable

from clvmodels.report.formats import label

PLOT_TITLES = {
    "tracking.png": "Tracking: did the models follow repeat buying week by week?",
    "conditional_expectations.png": "Holdout purchases by past frequency",
    "p_alive_heatmap.png": "Which histories are still active?",
    "expected_purchases_heatmap.png": "Expected purchases by history",
    "clv_distribution.png": "How value is spread over customers",
    "clv_by_segment.png": "Model CLV vs the seed formula by RFM segment",
    "calibration.png": "Are the purchase probabilities calibrated? Predicted vs observed",
    "pit.png": "Are the predictive distributions calibrated? Randomised PIT",
    "covariate_effects.png": "What each covariate does to purchase rate, lifetime and spend",
    "group_effects.png": "Segments: each group's parameters against the population",
    "dynamic_effects.png": "Time-varying covariates: the rate factor in every period",
    "covariate_lift.png": "What a binary covariate is worth: CLV with the flag on vs off",
    "regularity.png": "How regular is the purchase timing? Wheat-Morrison ratio of two gaps",
    "survival.png": "Survival of each cohort",
    "retention.png": "Retention rates",
}
PLOT_PREFIXES = {
    "posterior_": "Posterior draws (Bayesian fit): trace and histogram per chain",
    "ppc_": "Posterior predictive check: customers per repeat-purchase count",
}
SEED_METRICS = (
    "customers",
    "orders",
    "revenue",
    "average_order_value",
    "purchase_frequency",
    "purchase_frequency_per_year",
    "customer_value_per_year",
    "simple_clv",
    "repeat_purchase_rate",
)
METRIC_LABELS = {key: label(key) for key in SEED_METRICS}
"""The seed metrics' names (one map of names: :mod:`clvmodels.report.formats`)."""
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#1a1a1a;line-height:1.45;padding:0 1rem}
h1{color:#1f4e79;margin-bottom:.2rem}h2{color:#1f4e79;border-bottom:2px solid #dce6f0;
padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem;max-width:100%}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:right}
th{background:#f0f4f8;font-weight:600;vertical-align:bottom;white-space:normal;
overflow-wrap:break-word;hyphens:auto;min-width:3rem}
td{white-space:nowrap}td.id{white-space:normal;overflow-wrap:break-word}
th.id,td.id{text-align:left}
td:first-child,th:first-child{text-align:left}
.verdict{background:#eef6ee;border-left:4px solid #548235;padding:.6rem 1rem}
.warning{background:#fdf1e7;border-left:4px solid #c55a11;padding:.4rem .8rem}
.note{color:#555;font-size:.9rem}.grid{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;flex:1 1 480px;min-width:0}figure img{max-width:100%;border:1px solid #e1e4e8}
figcaption{font-weight:600;margin-bottom:.3rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;font-size:.9rem}
dt{font-weight:600}dd{margin:0}
@media print{
body{max-width:none;margin:0;padding:0;font-size:10pt}
table{font-size:8pt;page-break-inside:auto}th,td{padding:.15rem .3rem}
tr{break-inside:avoid}thead{display:table-header-group}
h2,h3{break-after:avoid}figure,.verdict,.warning{break-inside:avoid}
.grid{display:block}figure{margin-bottom:1rem}figure img{max-height:9in}
}
"""


def score_note(columns: Iterable[str]) -> str:
    """What the probabilistic scores of an evaluation table mean: one sentence per kind
    of score the table has (purchases or survivors, Brier, interval coverage, revenue),
    empty without any."""
    columns = set(columns)
    target = next((t for t in ("purchases", "survivors") if f"log_score_{t}" in columns), None)
    if target is None:
        return ""
    noun = "customer's holdout purchases" if target == "purchases" else "cohort's survivors"
    count = "count the customer actually made" if target == "purchases" else "actual count"
    text = (
        "The probabilistic scores judge each forecaster's whole predictive distribution of "
        f"a {noun}, not only its mean: the log score is the mean log probability given to "
        f"the {count} (higher is better), the RPS the ranked probability score (lower is "
        "better)."
    )
    if "brier_any_purchase" in columns:
        text += " The Brier score is that of buying at least once (lower is better)."
    if f"coverage90_{target}" in columns:
        text += (
            " 90 % coverage is the share of actual counts inside the central 90 % predictive "
            "interval; expected 90 % coverage the share the forecaster itself expected there "
            "(counts are discrete, so above 90 %). A calibrated forecaster has the two within "
            "a few points; observed well below expected means overconfident intervals, well "
            "above means too wide."
        )
    if "coverage90_revenue" in columns:
        text += (
            " The revenue pair does the same for holdout revenue, simulated from the "
            "purchase and spend models."
        )
    return f"<p class='note'>{text}</p>"
