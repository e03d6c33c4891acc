"""The fixed words and style of ``report.html``: plot titles, metric labels, notes and
the page's stylesheet (:mod:`clvmodels.report.html` assembles the page)."""

from __future__ import annotations

PLOT_TITLES = {
    "tracking.png": "Tracking: did the models follow repeat buying week by week?",
    "conditional_expectations.png": "Holdout purchases by past frequency",
    "p_alive_heatmap.png": "Which histories are still active?",
    "expected_purchases_heatmap.png": "Expected purchases by history",
    "clv_distribution.png": "How value is spread over customers",
    "clv_by_segment.png": "Model CLV vs the seed formula by RFM segment",
    "calibration.png": "Are the purchase probabilities calibrated? Predicted vs observed",
    "pit.png": "Are the predictive distributions calibrated? Randomised PIT",
    "covariate_effects.png": "Covariate effects on the model parameters",
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
METRIC_LABELS = {
    "customers": "customers",
    "orders": "orders",
    "revenue": "revenue",
    "average_order_value": "average order value",
    "purchase_frequency": "orders per customer",
    "purchase_frequency_per_year": "orders per customer per year",
    "customer_value_per_year": "value per customer per year",
    "simple_clv": "simple CLV (value per year × lifespan)",
    "repeat_purchase_rate": "repeat-purchase rate",
}
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#1a1a1a;line-height:1.45;padding:0 1rem}
h1{color:#1f4e79;margin-bottom:.2rem}h2{color:#1f4e79;border-bottom:2px solid #dce6f0;
padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:right}
th{background:#f0f4f8}td:first-child,th:first-child{text-align:left}
.verdict{background:#eef6ee;border-left:4px solid #548235;padding:.6rem 1rem}
.warning{background:#fdf1e7;border-left-color:#c55a11}
.note{color:#555;font-size:.9rem}.grid{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;flex:1 1 480px}figure img{max-width:100%;border:1px solid #e1e4e8}
figcaption{font-weight:600;margin-bottom:.3rem}.wide{overflow-x:auto}
"""


SCORE_NOTE = (
    "<p class='note'>The probabilistic scores judge each forecaster's whole predictive "
    "distribution of a customer's holdout purchases, not only its mean: "
    "log_score_purchases is the mean log probability given to the count the customer "
    "actually made (higher is better), rps_purchases the ranked probability score and "
    "brier_any_purchase the Brier score of buying at least once (lower is better). "
    "coverage90_purchases is the share of customers whose count fell inside their "
    "central 90 % predictive interval; coverage90_purchases_expected is the share the "
    "forecaster itself expected there (counts are discrete, so above 90 %). A "
    "calibrated forecaster has the two within a few points; observed well below "
    "expected means overconfident intervals, well above means too wide. The revenue "
    "pair does the same for holdout revenue, simulated from the purchase and spend "
    "models.</p>"
)
