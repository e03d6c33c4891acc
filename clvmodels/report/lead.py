"""The report's first section: the answer in plain words, and what to do about it.

:func:`lead_section` reads the run folder (``manifest.json``'s ``selection``,
``valuation`` and ``new_customer_value``; ``predictions.csv``; ``summary.csv`` for the
weights of a compressed summary) and says which model values the customers and why, on
what terms (horizon, discounting, margin), the total expected value, how many customers
are likely active, and a short list of actions (``<ul id="actions">``): the customers to
protect, the valuable customers at risk, what a new customer may cost, and the value per
segment.  :func:`customer_actions` makes the two customer lists the run writes as
``top_customers.csv`` and ``at_risk_customers.csv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.estimators.frames import WEIGHT
from clvmodels.models import model_info, model_keys
from clvmodels.report.markup import escape as _e
from clvmodels.report.markup import table as _table
from clvmodels.report.notes import customer_counts
from clvmodels.report.wording import METRIC_LABELS

TOP_CUSTOMERS = 10
"""Customers named in the lead (the files hold the top customers and every one at risk)."""
VALUABLE_SHARE = 0.20
"""'Valuable': among the top 20 % of customers by past value."""
AT_RISK_P_ALIVE = 0.5
"""'At risk': P(alive) below this."""
UNIT_WORDS = {"D": ("day", "days"), "W": ("week", "weeks"), "M": ("month", "months")}
UNIT_WORDS["Y"] = ("year", "years")
SEGMENT_COLUMNS = ("rfm_segment", "cohort")


# ------------------------------------------------------------------------ customer lists
def customer_actions(predictions: pd.DataFrame, summary: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The top customers by expected value and the valuable customers at risk.

    ``top_customers``: the :data:`TOP_CUSTOMERS` highest CLVs.  ``at_risk_customers``:
    every customer whose past value is at or above the weighted 80th percentile (the top
    :data:`VALUABLE_SHARE` of customers) and whose P(alive) is below
    :data:`AT_RISK_P_ALIVE`, highest past value first.  Past value is the summary's
    ``revenue`` (the calibration window's; with ``split.refit`` the customers are valued
    on the whole window), else the number of repeat purchases (``past_purchases``).  A
    compressed summary's rows are histories shared by ``count`` customers.  Ids are
    strings.  Empty for a subscription run (no per-customer rows).
    """
    if "clv" not in predictions or "customer_id" not in predictions:
        return {}
    frame = _with_weights(predictions, summary)
    name, past = _past_value(frame, summary)
    frame[name] = past
    columns = [
        "customer_id",
        WEIGHT,
        "frequency",
        "recency",
        "n",
        name,
        "p_alive",
        "expected_purchases",
    ]
    columns.append("clv")
    columns += [c for c in ("clv_lower", "clv_upper") if c in frame]
    if not (frame[WEIGHT] != 1).any():
        columns.remove(WEIGHT)
    frame = frame[[c for c in columns if c in frame]]
    top = frame.sort_values("clv", ascending=False, kind="stable").head(TOP_CUSTOMERS)
    threshold = _weighted_quantile(past, frame.get(WEIGHT, pd.Series(1.0, frame.index)), 0.8)
    risky = frame[(past >= threshold) & (frame["p_alive"] < AT_RISK_P_ALIVE)]
    risky = risky.sort_values([name, "clv"], ascending=False, kind="stable")
    return {
        "top_customers": top.reset_index(drop=True),
        "at_risk_customers": risky.reset_index(drop=True),
    }


def _with_weights(predictions: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """``predictions`` with string ids and each row's ``count`` (1 per customer)."""
    frame = predictions.copy()
    frame["customer_id"] = frame["customer_id"].astype(str)
    if WEIGHT not in frame:
        frame[WEIGHT] = customer_counts(frame, summary)
    return frame


def _past_value(frame: pd.DataFrame, summary: pd.DataFrame) -> tuple[str, pd.Series]:
    if "revenue" in summary and "customer_id" in summary:
        revenue = dict(zip(summary["customer_id"].astype(str), summary["revenue"], strict=True))
        return "past_revenue", frame["customer_id"].map(revenue).astype(float)
    return "past_purchases", frame["frequency"].astype(float)


def _weighted_quantile(values: pd.Series, weights: pd.Series, q: float) -> float:
    order = np.argsort(values.to_numpy(float), kind="stable")
    v, w = values.to_numpy(float)[order], weights.to_numpy(float)[order]
    share = np.cumsum(w) / w.sum()
    return float(v[min(np.searchsorted(share, q, side="left"), len(v) - 1)])


# --------------------------------------------------------------------------- the section
def lead_section(manifest: dict[str, Any], folder: Path) -> str:
    """``<section id="answer">``: the run's answer and ``<ul id="actions">`` (the module
    docstring); empty when the run valued nobody."""
    folder = Path(folder)
    predictions = _predictions(folder)
    if predictions is None:
        return ""
    valuation = manifest.get("valuation") or {}
    new = manifest.get("new_customer_value") or {}
    if "cohort" in predictions and "renewals" in predictions:
        paragraphs, actions = _subscription_lead(manifest, valuation, new, predictions)
    else:
        paragraphs, actions = _customer_lead(manifest, valuation, new, predictions, folder)
    items = "".join(f"<li>{a}</li>" for a in actions if a)
    return (
        "<section id='answer'><h2>The answer</h2>"
        + "".join(f"<p>{p}</p>" for p in paragraphs if p)
        + f"<h3>What to do</h3><ul id='actions'>{items}</ul></section>"
    )


def _predictions(folder: Path) -> pd.DataFrame | None:
    for name in ("predictions.csv", "predictions_sample.csv"):
        if (folder / name).exists():
            return pd.read_csv(folder / name, dtype={"customer_id": str})
    return None


def _customer_lead(
    manifest: dict[str, Any],
    valuation: dict[str, Any],
    new: dict[str, Any],
    predictions: pd.DataFrame,
    folder: Path,
) -> tuple[list[str], list[str]]:
    # a Spark run writes no summary.csv: its predictions sample stands alone
    path = folder / "summary.csv"
    summary = pd.read_csv(path, dtype={"customer_id": str}) if path.exists() else pd.DataFrame()
    frame = _with_weights(predictions, summary)
    w = frame[WEIGHT].to_numpy(float)
    customers = w.sum()
    total = float(w @ frame["clv"].to_numpy(float))
    active = float(w @ frame["p_alive"].to_numpy(float))
    weighted = (w != 1).any()
    rows = f" ({len(frame):,} distinct histories, weighted by the summary's count column)"
    interval = ""
    whole = valuation.get("total_clv")
    if whole and not (folder / "predictions_sample.csv").exists():
        interval = (
            f" ({_pct(whole['interval'])} interval {_money(whole['lower'])} to "
            f"{_money(whole['upper'])}, over the parameter draws)"
        )
    sample = " of the sample" if (folder / "predictions_sample.csv").exists() else ""
    paragraphs = [
        _model_sentence(manifest),
        _terms_sentence(valuation, subscription=False),
        f"Together the {_count(customers)} current customers{sample}"
        f"{rows if weighted else ''} are worth {_money(total)}{interval}. About "
        f"{_count(active)} of them ({_pct(round(active / customers, 2))}) are likely still active "
        "(the sum of their probabilities of being alive, P(alive))." + _artefact(manifest, frame),
        _no_amounts_note(manifest),
    ]
    lists = customer_actions(predictions, summary)
    actions = [
        _protect_item(lists.get("top_customers"), total, weighted),
        _risk_item(lists.get("at_risk_customers"), frame, weighted),
        _acquisition_item(new, valuation),
        _segment_item(frame),
    ]
    return paragraphs, actions


def _subscription_lead(
    manifest: dict[str, Any], valuation: dict[str, Any], new: dict[str, Any], frame: pd.DataFrame
) -> tuple[list[str], list[str]]:
    by_cohort = frame.groupby("cohort", sort=False).agg(
        subscribers=("customers", "sum"), value=("value", "sum")
    )
    by_cohort["value per subscriber"] = by_cohort["value"] / by_cohort["subscribers"]
    total, subscribers = float(by_cohort["value"].sum()), float(by_cohort["subscribers"].sum())
    models = sorted({k.split(":", 1)[0] for k in (new.get("models") or {})}) or ["sbg"]
    how = "fitted to each cohort separately" if len(by_cohort) > 1 else "fitted to every subscriber"
    paragraphs = [
        f"The {_names(models)} model (shifted-beta-geometric, Fader & Hardie 2007) values "
        f"the subscribers, {how} (as configured).",
        _terms_sentence(valuation, subscription=True),
        f"The {_count(subscribers)} active subscribers are worth {_money(total)} together. "
        "A subscription's end is observed, so every active subscriber is known to be active; "
        "their risk is the chance to cancel at the next renewal, which falls with tenure.",
    ]
    best = by_cohort["value per subscriber"].idxmax()
    protect = (
        f"<b>Protect the most valuable cohort.</b> An active subscriber of {_e(best)} is worth "
        f"{_money(by_cohort.loc[best, 'value per subscriber'])}; "
        + "; ".join(
            f"{_e(c)}: {_count(r.subscribers)} subscribers, {_money(r.value)} "
            f"({_pct(round(r.value / total, 2))} of the value)"
            for c, r in by_cohort.iterrows()
        )
        + "."
    )
    table = by_cohort.reset_index().rename(columns={"value": "expected value"})
    actions = [
        protect,
        _acquisition_item(new, valuation, per="subscriber"),
        "<b>Budget by cohort</b> (every row of predictions.csv is one renewal count of a "
        "cohort):" + _table(table),
    ]
    return paragraphs, actions


# --------------------------------------------------------------------------- sentences
def _artefact(manifest: dict[str, Any], frame: pd.DataFrame) -> str:
    """The BG/NBD's P(alive) = 1 for customers without a repeat purchase, where it moves
    the lead's numbers: the count of active customers and the at-risk list."""
    chosen = (manifest.get("selection") or {}).get("chosen_purchase_model")
    if chosen != "bgnbd" or "frequency" not in frame:
        return ""
    zero = float(frame.loc[frame["frequency"] == 0, WEIGHT].sum())
    if zero == 0:
        return ""
    return (
        f" The BG/NBD counts all {_count(zero)} customers without a repeat purchase as "
        "active (P(alive) = 1, a known artefact of the model: see the note under the "
        "P(alive) heat map), so this count is high and no one-time buyer can be on the "
        "at-risk list; the P(alive) of MBG/NBD or Pareto/NBD ranks them too."
    )


def _model_sentence(manifest: dict[str, Any]) -> str:
    """Which model values the customers, and why."""
    selection = manifest.get("selection") or {}
    key = selection.get("chosen_purchase_model")
    if key is None:
        return ""
    name = _names([key])
    how, criterion = selection.get("how"), selection.get("criterion")
    if criterion is None or selection.get("best") is None:
        why = {
            "configured": "as configured (clv.purchase_model)",
            "auto": "the first purchase model configured: there is no holdout to choose on",
        }.get(how, "the first purchase model configured (clv.purchase_model not set)")
        return f"The {name} model values the customers, {why}."
    score = f"{_metric(criterion)} {selection['value']:.4g}"
    if how == "auto":
        runner = selection.get("runner_up")
        second = (
            ""
            if runner is None
            else f"; the runner-up, {_names([runner])}, scored {selection['runner_up_value']:.4g}"
        )
        return (
            f"The {name} model values the customers: chosen automatically as the one that "
            f"forecast the holdout period best by {score} (clv.select_by){second}."
        )
    if selection.get("best") == key:
        return (
            f"The {name} model values the customers, as configured; it also forecast the "
            f"holdout period best ({score})."
        )
    return (
        f"The {name} model values the customers, as configured, although "
        f"{_names([selection['best']])} forecast the holdout better "
        f"({_metric(criterion)} {selection['best_value']:.4g} against "
        f"{selection['value']:.4g})."
    )


def _terms_sentence(valuation: dict[str, Any], *, subscription: bool) -> str:
    if not valuation:
        return ""
    unit = valuation.get("time_unit", "W")
    horizon = valuation.get("horizon")
    if subscription or horizon is None:
        span = "their whole remaining lifetime"
    else:
        one, many = UNIT_WORDS.get(unit, (unit, unit))
        span = f"the next {one}" if horizon == 1 else f"the next {horizon:,g} {many}"
    rate = valuation.get("discount_rate", 0.0)
    discount = f"discounted at {_pct(rate)} a year" if rate else "without discounting"
    margin = valuation.get("margin", 1.0)
    kept = (
        "at 100 % margin, i.e. revenue (clv.margin)"
        if margin == 1
        else f"at a margin of {_pct(margin)} of revenue (clv.margin)"
    )
    who = "subscriber" if subscription else "customer"
    return f"Each {who} is valued over {span}, {discount}, {kept}."


def _no_amounts_note(manifest: dict[str, Any]) -> str:
    if manifest.get("seed_metrics"):
        return ""
    return (
        "The data have no amounts: every purchase is worth clv.price, so the values "
        "count (discounted) purchases."
    )


def _protect_item(top: pd.DataFrame | None, total: float, weighted: bool) -> str:
    if top is None or top.empty:
        return ""
    what = "histories" if weighted else "customers"
    value = float((top["clv"] * top.get(WEIGHT, 1.0)).sum())
    ids = "; ".join(_history(row) for _, row in top.iterrows()) if weighted else ""
    ids = ids or ", ".join(_e(i) for i in top["customer_id"])
    return (
        f"<b>Protect the top {what}.</b> The {len(top)} most valuable {what} "
        f"({'' if weighted else 'ids '}{ids}) are worth {_money(value)}, "
        f"{_pct(round(value / total, 2))} of the total: top_customers.csv."
    )


def _risk_item(risky: pd.DataFrame | None, frame: pd.DataFrame, weighted: bool) -> str:
    if risky is None:
        return ""
    past = "past revenue" if "past_revenue" in risky else "past repeat purchases"
    if risky.empty:
        return (
            f"<b>Valuable customers at risk:</b> none of the top 20 % by {past} has a "
            "P(alive) below 0.5."
        )
    n = float(risky[WEIGHT].sum()) if WEIGHT in risky else float(len(risky))
    first = ", ".join(_e(i) for i in risky["customer_id"].head(TOP_CUSTOMERS))
    label = "history rows" if weighted else "the first 10"
    return (
        f"<b>Win back valuable customers at risk.</b> {_count(n)} customers among the top "
        f"20 % by {past} are probably gone (P(alive) below 0.5); by {past}, "
        f"{label}: {first}. All of them with their values: at_risk_customers.csv."
    )


def _acquisition_item(new: dict[str, Any], valuation: dict[str, Any], per: str = "customer") -> str:
    advice = new.get("acquisition") or {}
    values = new.get("models") or {}
    chosen = new.get("chosen_model")
    names = [chosen] if chosen is not None else list(advice)
    parts = []
    for name in names:
        if name not in advice or name not in values:
            continue
        a, v = advice[name], values[name]
        label = "A" if len(names) == 1 else f"For {_e(name.split(':', 1)[-1])}, a"
        text = (
            f"{label} new {per} is worth {_money(v['clv'])} (first "
            f"{'payment' if per == 'subscriber' else 'order'} {_money(v['first_order'])} plus "
            f"{v['dert']:.2f} discounted expected repeat "
            f"{'payments' if per == 'subscriber' else 'purchases'} × "
            f"{_money(v['spend_per_order'])}), so pay at most "
            f"<b>{_money(a['max_acquisition_cost'])}</b> to acquire one (LTV:CAC "
            f"{a['ltv_cac_ratio']:g}:1, metrics.ltv_cac_ratio)"
        )
        if float(valuation.get("margin", 1.0)) == 1.0:  # revenue: the limit is too generous
            text += (
                " — on revenue, as clv.margin is 100 %: set it to your profit margin for a "
                "limit on profit"
            )
        if a.get("max_cost_per_click") is not None:
            text += (
                f"; bid at most <b>{_money(a['max_cost_per_click'])}</b> per click at a "
                f"{_pct(a['conversion_rate'])} conversion rate (break-even "
                f"{_money(a['break_even_cost_per_click'])})"
            )
        else:
            text += "; set metrics.conversion_rate for the cost-per-click bid"
        if a.get("cac") is not None:
            ratio = a.get("actual_ltv_to_cac")
            text += (
                f". Today: CAC {_money(a['cac'])} (metrics.marketing_spend over "
                f"{_count(a['new_customers'])} new customers)"
                + ("" if ratio is None else f", LTV:CAC {ratio:.1f}:1")
            )
        parts.append(text + ".")
    if not parts:
        return ""
    return f"<b>Acquire {per}s at the right price.</b> " + " ".join(parts)


def _segment_item(frame: pd.DataFrame) -> str:
    column = next((c for c in SEGMENT_COLUMNS if c in frame), None)
    if column is None:
        return ""
    w = frame[WEIGHT]
    table = (
        frame.assign(value=frame["clv"] * w, active=frame["p_alive"] * w, customers=w)
        .groupby(column, sort=False)[["customers", "active", "value"]]
        .sum()
        .sort_values("value", ascending=False)
    )
    table["value per customer"] = table["value"] / table["customers"]
    table["share of value"] = table["value"] / table["value"].sum()
    table["active"] = table["active"].round()
    table = table.reset_index().rename(
        columns={column: "segment", "active": "likely active", "value": "expected value"}
    )
    return (
        f"<b>Budget by segment</b> ({column.replace('_', ' ')} of predictions.csv): spend "
        "where the expected value is." + _table(table)
    )


# ------------------------------------------------------------------------------ words
def _names(keys: list[str]) -> str:
    known = set(model_keys())
    return ", ".join(model_info(k).name if k in known else k for k in keys)


def _money(value: float) -> str:
    """An amount in a sentence: thousands separators, whole units from 1,000 up."""
    value = float(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}"


def _history(row: pd.Series) -> str:
    """A row of a compressed summary in words: its purchases and how many share it."""
    of = f" of {row['n']:g} opportunities" if "n" in row else " repeat purchases"
    last = f", the last at {row['recency']:g}" if row["frequency"] > 0 else ""
    return f"{row['frequency']:g}{of}{last}: {_count(row[WEIGHT])} customers"


def _metric(key: str) -> str:
    return METRIC_LABELS.get(key, key.replace("_", " "))


def _count(value: float) -> str:
    return f"{float(value):,.0f}"


def _pct(share: float) -> str:
    return f"{float(share) * 100:g} %"
