"""The report's sections on what customer attributes do: covariate effects (with the
constraints and penalty of the fits), time-varying covariates, and the groups of
hierarchical models."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from clvmodels.report.formats import cell
from clvmodels.report.markup import escape as _e
from clvmodels.report.markup import read_table as _csv
from clvmodels.report.markup import table as _table


def covariates_section(folder: Path) -> str:
    effects = _csv(folder, "covariate_effects.csv")
    if effects is None:
        return ""
    shown = [
        c
        for c in ("model", "coefficient", "estimate", "lower", "upper", "factor", "shared_with")
        if c in effects and (c != "shared_with" or _any_shared(effects))
    ]
    dynamic = _is_dynamic(effects)
    if dynamic.all():  # time-varying covariates only: no customer attributes to explain
        text = "<h2>Time-varying covariates: what the calendar does</h2>" + _dynamic_note()
    else:
        text = "<h2>Covariates: what customer attributes do</h2>" + (
            _dynamic_note() if dynamic.any() else ""
        )
    text += _effects_in_words(effects)
    text += (
        "<h3>The coefficients</h3>"
        "<p class='note'>Each coefficient γ multiplies its parameter by exp(sign · γ) per "
        "unit of the covariate (Fader &amp; Hardie 2007, note 019: α<sub>i</sub> = "
        "α<sub>0</sub> exp(−γ′z<sub>i</sub>) for the purchase rate's scale, a<sub>i</sub>, "
        "b<sub>i</sub> with a plus sign for the BG/NBD dropout, γ<sub>i</sub> = "
        "γ<sub>0</sub> exp(δ′z<sub>i</sub>) for the spend scale): a factor on a "
        "parameter, which can read backwards (a smaller α means more purchases); the "
        "effects above are what they do to the quantities themselves.</p>"
    )
    text += _regularization_note(effects) + _table(effects[shown])
    lift = _csv(folder, "covariate_lift.csv")
    if lift is not None:
        if {"lift_lower", "lift_upper"} <= set(lift):
            lift["lift_interval"] = [
                f"{cell(lo, 'lift')} to {cell(hi, 'lift')}"
                for lo, hi in zip(lift["lift_lower"], lift["lift_upper"], strict=True)
            ]
        columns = ("covariate", "group", "customers", "clv_on", "clv_off", "lift")
        columns += ("lift_interval", "relative_lift")
        text += (
            "<h3>Counterfactual CLV: each binary covariate on and off</h3>"
            "<p class='note'>Every customer valued twice from the same purchase history: "
            "with the flag on and with it off, other covariates unchanged. lift is the "
            "mean difference per customer (all customers, those with the flag, those "
            "without); the interval comes from the parameter draws. This is what the "
            "fitted associations imply, not a causal effect: if customers chose to join "
            "(self-selection), part of the lift belongs to who they are.</p>"
            + _table(lift[[c for c in columns if c in lift]])
        )
    return text


def _effects_in_words(effects: pd.DataFrame) -> str:
    """Each covariate's effect on the interpretable quantity of its process (purchase
    rate, dropout probability or lifetime, spend per order, churn probability), said in
    words and as a table (``effect_*`` columns of :func:`clvmodels.estimators.effects.
    effects_table`); empty for tables without them."""
    if "effect_factor" not in effects or effects["effect_factor"].isna().all():
        return ""
    rows = effects[effects["effect_factor"].notna()]
    rows = rows.drop_duplicates(["model", "process", "covariate"]).copy()
    rows["effect_interval"] = [
        f"{cell(lo, 'effect_factor')}–{cell(hi, 'effect_factor')}"
        for lo, hi in zip(rows["effect_factor_lower"], rows["effect_factor_upper"], strict=True)
    ]
    words = "".join(
        f"<li>{_e(m)}: {_e(w)}</li>"
        for m, w in zip(rows["model"], rows["effect_in_words"], strict=True)
    )
    return (
        "<p>What one unit of each covariate (a flag switched on, a category against the "
        "reference level) does to what the customers do, all else equal:</p>"
        f"<ul class='effects'>{words}</ul>"
        + _table(
            rows[["model", "covariate", "effect_quantity", "effect_factor", "effect_interval"]]
        )
    )


def _any_shared(effects: pd.DataFrame) -> bool:
    """Whether a coefficient of the table is shared by a constraint (an empty column
    reads back from the CSV as missing values)."""
    if "shared_with" not in effects:
        return False
    return bool(effects["shared_with"].dropna().astype(str).str.strip().ne("").any())


def _regularization_note(effects: pd.DataFrame) -> str:
    """What the constraints and the L2 penalty of the fits did to the coefficients."""
    notes = []
    if _any_shared(effects):
        notes.append(
            "Rows with <i>shared_with</i> are one coefficient shared by several parameters "
            "(models.&lt;key&gt;.constraints): the same estimate and interval move each."
        )
    if "penalty" in effects:
        firsts = effects.groupby("model", sort=False).first()
        for model, row in firsts.iterrows():
            lam = row["penalty"]
            if pd.notna(lam):
                how = str(row.get("penalty_chosen_by", "") or "")
                how = " chosen by 5-fold cross-validation" if how == "cross-validation" else ""
                notes.append(
                    f"{_e(str(model))}: coefficients shrunk toward 0 by an L2 penalty "
                    f"&lambda; = {lam:.4g}{how} (the posterior mode under Normal(0, "
                    f"{1 / (2 * lam) ** 0.5 if lam > 0 else float('inf'):.3g}) priors); "
                    "their intervals are those of the penalised fit."
                )
    return "".join(f"<p class='note'>{n}</p>" for n in notes)


def _is_dynamic(effects: pd.DataFrame) -> pd.Series:
    """Which rows of the effects table are time-varying covariates (their parameter is a
    rate: ``purchase rate``, ``dropout rate``)."""
    if "parameter" not in effects:
        return pd.Series(False, index=effects.index)
    return effects["parameter"].astype(str).str.endswith(" rate")


def _dynamic_note() -> str:
    """What the rows of time-varying covariates mean."""
    return (
        "<p class='note'>Rows <code>purchase:…</code> and <code>dropout:…</code> are "
        "time-varying covariates (Bachmann, Meierer &amp; Näf 2021). A calendar covariate's "
        "value in a period is the share of the period's days it covers (1 for a week wholly "
        "in the high season or a campaign, 3/7 for a week with three such days); every "
        "alive customer's purchase or dropout rate in the period is multiplied by "
        "exp(γ · value): factor = exp(γ) is the effect of a whole period. A factor above 1 "
        "on the dropout rate means more customers leave then; an interval that holds 1 "
        "means the data do not tell the effect from none. The plot <i>rate factor in every "
        "period</i> shows what the calendar does week by week, through the horizon the "
        "values are forecast over (DECT in predictions.csv: the expected purchases of the "
        "horizon, discounted, with the future periods' covariates).</p>"
    )


def groups_section(folder: Path) -> str:
    """The groups of the hierarchical fits: each group's parameters against the
    population's (``group_effects.csv``)."""
    groups = _csv(folder, "group_effects.csv")
    if groups is None:
        return ""
    shown = [
        c
        for c in ("model", "parameter", "group", "kind", "estimate", "lower", "upper", "customers")
        if c in groups
    ]
    return (
        "<h2>Segments: what each group's customers are like</h2>"
        "<p class='note'>A hierarchical fit draws every model parameter per group from a "
        "population distribution, log θ<sub>g</sub> ~ Normal(μ, σ) (partial pooling): a "
        "small group's estimate is pulled toward the population median θ, a large one "
        "rests on its own customers. Rows <i>population</i> hold the median, rows "
        "<i>spread</i> σ (on the log scale: 0.1 means groups differ by about 10 %). "
        "Customers are valued with their own group's parameters.</p>" + _table(groups[shown])
    )
