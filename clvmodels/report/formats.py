"""How the report shows a number and names a column: one place for both.

Every table of ``report.html`` goes through :func:`clvmodels.report.markup.table`, which
asks :func:`cell` how to print each value of a column and :func:`label` what to call the
column; :func:`definition` explains it in the glossary at the end of the page.

Kinds of column (:func:`kind`): identifiers and labels (``customer_id``, ``model``,
``cohort``… — printed as they are, never with a thousands separator), shares (printed as
percentages: ``0.502`` → ``50.2 %``), signed relative errors (``-0.1556`` → ``-15.6 %``),
values already in percent (``mape``), counts, money and other plain numbers (thousands
separators, no scientific notation), and model parameters (scientific notation only for
values below 0.0001, where a fixed-point number would read as zero).
"""

from __future__ import annotations

import math
import re
from typing import Any

PERCENT = "\u00a0%"
"""A percent sign that does not wrap away from its number."""

IDS = frozenset(
    {
        "customer_id",
        "history",
        "model",
        "cohort",
        "parameter",
        "coefficient",
        "covariate",
        "process",
        "group",
        "kind",
        "rfm_segment",
        "segment",
        "metric",
        "quantity",
        "effect_quantity",
        "shared_with",
        "penalty_chosen_by",
        "rfm_score",
    }
)
"""Columns of identifiers and labels: shown verbatim, never formatted as numbers."""

PARAMETER_COLUMNS = frozenset(
    {"estimate", "std. error", "std_err", "lower", "upper", "penalty", "95% interval"}
)
"""Columns of parameter tables, the only ones where tiny values stay scientific."""

_SHARE = re.compile(
    r"^(p_alive|top\d+_revenue_share|coverage\d+_\w+|repeat_purchase_rate|relative_lift.*"
    r"|\w*_share|share of .+|\w+_rate)$"
)
_ERROR = re.compile(r"^total_\w+_error$")
_MONEY = re.compile(
    r"^(clv|clv_(lower|upper|on|off)|(mean|total)_\w*clv\w*|expected value|value per \w+|"
    r"value|revenue|monetary_value|expected_spend|average_order_value|lift)$"
)
_PERCENT_POINTS = re.compile(r"^(mape|\w*_pct_error)$")
_COUNT = re.compile(
    r"^(customers|orders|frequency|frequency_holdout|renewals|n|count|holdout_periods|"
    r"divergences|ess_bulk|ess_tail|rows_in|customers_\w+|n_\w+|\w+_customers|\w+_respondents)$"
)


def kind(column: str) -> str:
    """``id``, ``share``, ``error``, ``percent``, ``count``, ``parameter``, ``money`` or
    ``number``."""
    if column in IDS:
        return "id"
    if _ERROR.match(column):
        return "error"
    if _PERCENT_POINTS.match(column):
        return "percent"
    if _SHARE.match(column):
        return "share"
    if _COUNT.match(column):
        return "count"
    if column in PARAMETER_COLUMNS:
        return "parameter"
    if _MONEY.match(column):
        return "money"
    return "number"


def plain(value: float, scientific_below: float = 0.0) -> str:
    """A number for people: thousands separators at 1,000 and above (no decimals), four
    significant digits below, never scientific notation unless ``|value|`` is below
    ``scientific_below`` (parameter tables: ``3e-07``)."""
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 1e-4:
        return f"{value:.4g}" if size >= 1 else f"{value:.4f}".rstrip("0").rstrip(".")
    if size < scientific_below:
        return f"{value:.3g}"
    return "0"


def cell(value: Any, column: str = "") -> str:
    """``value`` of ``column`` as the report prints it (plain text, not escaped): ``—``
    for a missing value, ids verbatim (an integral float id loses its ``.0``)."""
    if value is None or isinstance(value, str):
        return "—" if value is None else value
    if isinstance(value, bool):
        return "yes" if value else "no"
    what = kind(column)
    if what == "id":
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if what == "share":
        return share(value)
    if what == "error":
        return f"{value:+.1%}".replace("%", PERCENT)
    if what == "percent":
        return f"{value:.1f}{PERCENT}"
    if what == "count" and value.is_integer():
        return f"{value:,.0f}"
    if what == "money":
        return money(value)
    return plain(value, 1e-4 if what == "parameter" else 0.0)


def share(value: float) -> str:
    """A share as a percentage with one decimal: ``0.688`` → ``68.8 %``."""
    return f"{value:.1%}".replace("%", PERCENT)


def money(value: float) -> str:
    """An amount: thousands separators and whole units from 1,000 up, else two decimals
    (``9.557`` → ``9.56``; four significant digits below 0.01, never scientific)."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value == 0 or abs(value) >= 0.01:
        return f"{value:,.2f}"
    return plain(value)


# ------------------------------------------------------------------------------ names
_MEASURES = {
    "mae": ("MAE", "mean absolute error per customer"),
    "rmse": ("RMSE", "root mean squared error per customer"),
    "spearman": ("Spearman", "Spearman rank correlation of forecast and actual per customer"),
    "gini": ("Gini", "Gini coefficient of the forecast (how concentrated it is)"),
    "log_score": ("log score", "mean log probability given to the actual count (higher is better)"),
    "rps": ("RPS", "ranked probability score (lower is better)"),
}
_TARGETS = {
    "purchases": "purchases",
    "revenue": "revenue",
    "survivors": "survivors",
    "any_purchase": "any purchase",
}
NAMES: dict[str, tuple[str, str]] = {
    "customer_id": ("customer", "the customer's id, as in the input data"),
    "history": ("history", "the id of a row of a compressed summary: customers who share it"),
    "model": ("model", "the forecaster: a fitted model (purchase+spend) or a benchmark"),
    "cohort": ("cohort", "the group of customers who started together"),
    "frequency": ("repeat purchases", "repeat purchases in the calibration window"),
    "recency": ("recency", "time from the first to the last purchase (model time units)"),
    "T": ("age", "time from the first purchase to the end of the calibration window"),
    "n": ("opportunities", "purchase opportunities in the calibration window"),
    "p_alive": ("P(alive)", "the model's probability that the customer is still active"),
    "expected_purchases": ("expected purchases", "purchases expected over the horizon"),
    "expected_spend": ("spend per order", "expected spend per order (Gamma-Gamma)"),
    "clv": ("CLV", "expected (discounted) customer lifetime value over the horizon"),
    "clv_interval": (
        "CLV interval",
        "the CLV's interval over the parameter draws, at the level of clv.interval",
    ),
    "clv_lower": ("CLV lower", "lower end of the CLV's interval (clv.interval)"),
    "clv_upper": ("CLV upper", "upper end of the CLV's interval (clv.interval)"),
    "baseline_clv": (
        "seed CLV, own lifespan",
        "the seed formula: order value × frequency × lifespan (undiscounted)",
    ),
    "rfm_segment": ("RFM segment", "recency-frequency-monetary segment of the customer"),
    "rfm_score": ("RFM score", "sum of the recency, frequency and monetary scores"),
    "customers": ("customers", "number of customers (weighted by shared histories)"),
    "mean_clv": ("mean CLV", "CLV per customer in the segment"),
    "total_clv": ("total CLV", "CLV summed over the segment's customers"),
    "mean_baseline_clv": (
        "mean seed CLV, own lifespan",
        "seed-formula CLV per customer in the segment (its lifespan, undiscounted)",
    ),
    "total_baseline_clv": (
        "total seed CLV, own lifespan",
        "seed-formula CLV summed over the segment (its lifespan, undiscounted)",
    ),
    "parameter": ("parameter", "model parameter in the paper's notation"),
    "estimate": ("estimate", "the fitted value (posterior mean for Bayesian fits)"),
    "std. error": ("std. error", "standard error (posterior sd for Bayesian fits)"),
    "95% interval": ("95 % interval", "95 % confidence (or credible) interval"),
    "log-likelihood": ("log-likelihood", "log-likelihood of the fit at the estimates"),
    "total_purchases_error": (
        "error of total purchases",
        "(forecast total − actual total) / actual total of holdout purchases",
    ),
    "total_revenue_error": (
        "error of total revenue",
        "(forecast total − actual total) / actual total of holdout revenue",
    ),
    "top10_revenue_share": (
        "top 10 % revenue share",
        "share of actual holdout revenue made by the 10 % of customers ranked highest",
    ),
    "top20_revenue_share": (
        "top 20 % revenue share",
        "share of actual holdout revenue made by the 20 % of customers ranked highest",
    ),
    "auc_alive": (
        "AUC, P(alive)",
        "how well P(alive) ranks who buys again in the holdout (0.5 = chance)",
    ),
    "brier_any_purchase": ("Brier, any purchase", "Brier score of buying at least once"),
    "mape": ("MAPE", "mean absolute percentage error of the survivors per period"),
    "holdout_periods": ("holdout periods", "periods scored after the calibration"),
    "retention_rate": ("retention rate", "the constant retention rate of the benchmark"),
    "renewals": ("renewals", "renewals observed per customer alive at the end"),
    "derl": ("DERL", "discounted expected residual lifetime (renewals)"),
    "value": ("value", "expected value of the cohort's customers alive now"),
    "monetary_value": ("order value", "mean spend per repeat order"),
    "orders": ("orders", "orders in the calibration window (same-day orders merged)"),
    "revenue": ("revenue", "revenue of the calibration window"),
    "average_order_value": ("average order value", "revenue / orders"),
    "purchase_frequency": ("orders per customer", "orders / customers"),
    "purchase_frequency_per_year": (
        "orders per customer per year",
        "orders per customer scaled to a year of the calibration window",
    ),
    "customer_value_per_year": (
        "value per customer per year",
        "average order value × orders per customer per year",
    ),
    "simple_clv": (
        "simple CLV (value per year × lifespan)",
        "the seed formula: value per customer per year × the configured lifespan",
    ),
    "repeat_purchase_rate": (
        "repeat-purchase rate",
        "share of customers who bought more than once",
    ),
    "cac": (
        "acquisition cost per new customer (CAC)",
        "metrics.marketing_spend / customers acquired in the calibration window",
    ),
    "clv_minus_cac": (
        "simple CLV − CAC",
        "the seed formula's simple CLV (its lifespan, undiscounted) minus the CAC",
    ),
    "ltv_to_cac": (
        "LTV:CAC (simple CLV)",
        "simple CLV / CAC, the seed's ratio; the first section's advice uses the model's "
        "new-customer value instead",
    ),
    "max_cost_per_click": (
        "break-even cost per click (simple CLV)",
        "simple CLV × metrics.conversion_rate, the seed's figure; the first section's bid "
        "uses the model's new-customer value at the LTV:CAC target",
    ),
    "upsell_ratio": (
        "upsell ratio",
        "customers who bought more than one product / customers who bought only one",
    ),
    "single_product_customers": ("one-product customers", "customers who bought one product"),
    "multi_product_customers": (
        "multi-product customers",
        "customers who bought more than one product",
    ),
    "survey_respondents": ("survey respondents", "respondents of the survey file"),
    "nps_respondents": ("NPS respondents", "respondents who answered the 0–10 question"),
    "net_promoter_score": (
        "net promoter score (NPS)",
        "% promoters (9–10) − % detractors (0–6) of the would-recommend answers, −100 to 100",
    ),
    "customer_loyalty_index": (
        "customer loyalty index (CLI)",
        "mean of would recommend, would buy again and would try other products (1–6 scale)",
    ),
    "baseline_clv_horizon": (
        "seed CLV, same terms",
        "the seed formula over the model's horizon, discounted as the model's CLV",
    ),
    "mean_baseline_clv_horizon": (
        "mean seed CLV, same terms",
        "seed-formula CLV per customer on the model's horizon and discounting",
    ),
    "total_baseline_clv_horizon": (
        "total seed CLV, same terms",
        "seed-formula CLV on the model's horizon and discounting, summed over the segment",
    ),
    "coefficient": ("coefficient", "the covariate's coefficient γ, named parameter:covariate"),
    "covariate": ("covariate", "customer attribute (categorical: column[level])"),
    "process": ("process", "what the parameter drives: purchase, dropout, spend or churn"),
    "lower": ("lower", "lower end of the 95 % interval"),
    "upper": ("upper", "upper end of the 95 % interval"),
    "factor": ("factor on parameter", "exp(sign · γ): what one unit multiplies the parameter by"),
    "effect_quantity": ("effect on", "the interpretable quantity the covariate moves"),
    "effect_factor": (
        "effect",
        "factor on that quantity for one unit of the covariate (1 = none)",
    ),
    "effect_interval": ("95 % interval", "95 % interval of the effect (parameter draws)"),
    "effect_in_words": ("in words", "the effect, said plainly"),
    "shared_with": ("shared with", "coefficients a constraint ties to this one"),
    "lift": ("lift", "mean CLV difference per customer, covariate on minus off"),
    "relative_lift": ("relative lift", "lift / CLV with the covariate off"),
    "clv_on": ("CLV, on", "mean CLV with the covariate on"),
    "clv_off": ("CLV, off", "mean CLV with the covariate off"),
    "lift_interval": ("lift 95 % interval", "95 % interval of the lift (parameter draws)"),
    "group": ("group", "the customers the row is about"),
    "kind": ("kind", "group, population median or spread of the groups"),
    "r_hat": ("R-hat", "potential scale reduction: 1.01 or less wanted"),
    "ess_bulk": ("ESS bulk", "effective sample size of the posterior's bulk (400+ wanted)"),
    "ess_tail": ("ESS tail", "effective sample size of the posterior's tails (400+ wanted)"),
    "divergences": ("divergences", "divergent transitions of the sampler (0 wanted)"),
    "period": ("period", "period since the cohort started"),
    "segment": ("segment", "the group of customers the row is about"),
    "likely active": ("likely active", "customers expected to be still active: sum of P(alive)"),
    "expected value": ("expected value", "the customers' CLV summed over the group"),
    "value per customer": ("value per customer", "expected value / customers"),
    "share of value": ("share of value", "the group's share of the total expected value"),
    "subscribers": ("subscribers", "active subscribers at the end of the data"),
    "value per subscriber": ("value per subscriber", "expected value / subscribers"),
}
"""Column and metric names: ``name -> (label, definition)``."""


def _parsed(name: str) -> tuple[str, str] | None:
    """Label and definition of an evaluation metric named by pattern
    (``mae_purchases``, ``coverage90_revenue_expected``)."""
    match = re.match(r"^coverage(\d+)_(\w+?)(_expected)?$", name)
    if match:
        level, target, expected = match.groups()
        target = _TARGETS.get(target, target.replace("_", " "))
        if expected:
            return (
                f"expected {level} % coverage, {target}",
                f"share the forecaster expected inside its central {level} % interval",
            )
        return (
            f"{level} % coverage, {target}",
            f"share of actual {target} inside the central {level} % predictive interval",
        )
    for prefix, (short, meaning) in _MEASURES.items():
        if name.startswith(prefix + "_") and name[len(prefix) + 1 :] in _TARGETS:
            target = _TARGETS[name[len(prefix) + 1 :]]
            return f"{short}, {target}", f"{meaning}, holdout {target}"
    return None


def label(name: str) -> str:
    """The human-readable name of a column or metric (``mae_revenue`` → ``MAE,
    revenue``); unknown names have their underscores replaced by spaces."""
    if name in NAMES:
        return NAMES[name][0]
    parsed = _parsed(name)
    return parsed[0] if parsed else name.replace("_", " ")


def definition(name: str) -> str | None:
    """The glossary's definition of a column or metric, ``None`` when it has none."""
    if name in NAMES:
        return NAMES[name][1]
    parsed = _parsed(name)
    return parsed[1] if parsed else None
