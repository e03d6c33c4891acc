"""What a binary covariate is worth: counterfactual CLV with the flag on and off.

For a model with a binary covariate (``loyalty_member``), every customer's CLV is
computed twice from the same purchase history — once as if the flag were on, once as
if it were off — with the customer's other covariates unchanged (the fitted
covariate links of Fader & Hardie 2007, note 019, make each customer's parameters,
and the conditional expectations given her history follow as in
:mod:`clvmodels.clv.values`).  The *lift* is the average difference, over all customers and
separately over the customers with and without the flag; its interval comes from the
same parameter draws as the CLV intervals (posterior draws, or the MLE's asymptotic
normal), so it carries the uncertainty of every coefficient involved.

This is a model-based what-if, not a causal estimate: it says what the fitted
associations imply, and equals the effect of the programme only if membership is as
good as random given the other covariates (self-selection of loyal customers into a
programme inflates it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.backends.compress import factorize_rows
from clvmodels.clv import arrays
from clvmodels.clv.arrays import PatternLink, history_values
from clvmodels.clv.settings import ValueSettings
from clvmodels.errors import ConfigError, DataError
from clvmodels.estimators import Estimator
from clvmodels.estimators.frames import customer_index
from clvmodels.models import model_info

GROUPS = ("all", "with", "without")
"""Customer groups of the lift table: everyone, those with the flag on, those without."""


def binary_covariates(models: Sequence[Estimator | None], summary: pd.DataFrame) -> list[str]:
    """The covariate columns of the fitted ``models`` that are binary: boolean columns,
    and numeric columns whose values in ``summary`` are 0 and 1 only."""
    found: list[str] = []
    for model in models:
        if model is None or not model.has_covariates:
            continue
        encoding = model.result_.covariate_encoding or {}
        for column in encoding.get("columns", ()):
            kind = encoding["kinds"][column]
            if column in found or kind == "categorical":
                continue
            if kind == "boolean" or _zero_one(summary[column]):
                found.append(column)
    return found


def _zero_one(values: pd.Series) -> bool:
    numeric = pd.to_numeric(values, errors="coerce")
    return bool(numeric.notna().all() and numeric.isin([0, 1]).all())


def _flag_values(summary: pd.DataFrame, column: str) -> tuple[Any, Any, np.ndarray]:
    """The on and off values of ``column`` in its own type, and who has it on."""
    values = summary[column]
    if pd.api.types.is_bool_dtype(values):
        return True, False, values.to_numpy(dtype=bool)
    lowered = values.astype(str).str.strip().str.lower()
    if lowered.isin(["true", "false"]).all():
        return "true", "false", (lowered == "true").to_numpy()
    numeric = pd.to_numeric(values, errors="coerce")
    return 1.0, 0.0, (numeric == 1).to_numpy()


def covariate_lift(
    purchase: Estimator,
    summary: pd.DataFrame,
    settings: ValueSettings,
    column: str,
    *,
    spend: Estimator | None = None,
    fallback_spend: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counterfactual CLV of every customer with binary covariate ``column`` on and off.

    Parameters
    ----------
    purchase, summary, settings, spend, fallback_spend
        As for :func:`clvmodels.clv.customer_values`; ``summary`` holds the covariate
        columns of both models.
    column
        A binary covariate of the purchase or the spend model (boolean, or numeric 0/1).

    Returns
    -------
    (per_customer, lift)
        ``per_customer`` indexed by ``customer_id`` (as
        :func:`~clvmodels.clv.customer_values`): ``clv_<column>_on``, ``clv_<column>_off``.
        ``lift`` indexed by group (``all``, ``with``, ``without``): ``customers``,
        ``clv_on``, ``clv_off`` (mean CLV per customer), ``lift`` (their difference),
        ``relative_lift`` (``clv_on / clv_off − 1``), with ``_lower``/``_upper``
        bounds over the parameter draws when ``settings.interval`` is set.  Point
        values: plug-in estimates for MLE fits, posterior means for Bayesian fits.
    """
    key = purchase.model_key
    if not model_info(key).is_purchase:
        raise ConfigError(f"clv: {key} is not a purchase model")
    settings = settings.for_model(purchase)
    if spend is None and fallback_spend is None:
        raise ConfigError("clv: needs a gamma_gamma spend model or an average order value")
    if column not in binary_covariates([purchase, spend], summary):
        raise DataError(f"covariate {column!r} is not a binary covariate of the fitted models")
    group, state_rows, links, weights = _state_rows(purchase, spend, summary, column)
    fallback = fallback_spend or 0.0
    spend_params = None if spend is None else dict(spend.params_)

    def clv(params: Any, spend_p: Any, state: str) -> np.ndarray:
        rows = state_rows[state]
        return history_values(key, params, spend_p, rows, settings, fallback, links[state])["clv"]

    point = {s: clv(dict(purchase.params_), spend_params, s) for s in state_rows}
    per_draw = None
    if settings.interval is not None:
        point_draws, per_draw = _draws(purchase, spend, settings, state_rows, clv, weights)
        if purchase.result_.draws is not None:
            point = point_draws
    table = _lift_table(point, weights, per_draw, settings.interval)
    per_customer = pd.DataFrame(
        {f"clv_{column}_on": point["on"][group], f"clv_{column}_off": point["off"][group]},
        index=customer_index(summary),
    )
    return per_customer, table


def _state_rows(
    purchase: Estimator, spend: Estimator | None, summary: pd.DataFrame, column: str
) -> tuple[
    np.ndarray,
    dict[str, dict[str, np.ndarray]],
    dict[str, dict[str, PatternLink | None]],
    np.ndarray,
]:
    """The distinct rows of the customers' histories with the flag on and off: each
    customer's row, the rows' columns per state, the covariate patterns per state and
    the weight of every row in each group of :data:`GROUPS` (shape ``(groups, rows)``)."""
    on_value, off_value, has_flag = _flag_values(summary, column)
    states = {
        "on": summary.assign(**{column: on_value}),
        "off": summary.assign(**{column: off_value}),
    }
    base = list(model_info(purchase.model_key).history)
    if spend is not None:
        base.append("monetary_value")
    data = {c: summary[c].to_numpy(dtype=float) for c in base}
    links: dict[str, dict[str, PatternLink | None]] = {}
    for state, frame in states.items():
        links[state] = {
            "pattern": PatternLink.of(purchase, frame),
            "spend_pattern": PatternLink.of(spend, frame),
        }
        for name, link in links[state].items():
            if link is not None:
                data[f"{state}:{name}"] = link.codes.astype(float)
    data["flag"] = has_flag.astype(float)
    group, distinct = factorize_rows(list(data.values()))
    rows = dict(zip(data, distinct, strict=True))
    state_rows = {
        state: {
            **{c: rows[c] for c in base},
            **{
                n: rows[f"{state}:{n}"]
                for n in ("pattern", "spend_pattern")
                if f"{state}:{n}" in rows
            },
        }
        for state in states
    }
    counts = np.bincount(group, minlength=len(rows["flag"])).astype(float)
    weights = np.stack(
        [counts, counts * (rows["flag"] == 1), counts * (rows["flag"] == 0)]
    )  # (groups, rows)
    return group, state_rows, links, weights


def _draws(
    purchase: Estimator,
    spend: Estimator | None,
    settings: ValueSettings,
    state_rows: dict[str, dict[str, np.ndarray]],
    clv: Any,
    weights: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per row the mean CLV over the draws, and per draw the groups' mean CLV (each
    state); draws are taken in batches so memory stays bounded."""
    rng = np.random.default_rng(settings.seed)
    n_draws = int(settings.draws)
    purchase_draws = purchase.result_.parameter_draws(n_draws, rng)
    spend_draws = None if spend is None else spend.result_.parameter_draws(n_draws, rng)
    n_rows = len(next(iter(state_rows["on"].values())))
    batch = max(1, arrays.PAIR_CELLS // max(n_rows, 1))
    sums = {s: np.zeros(n_rows) for s in state_rows}
    means = {s: np.empty((n_draws, len(weights))) for s in state_rows}
    totals = weights.sum(axis=1)
    for j in range(0, n_draws, batch):
        params = {k: v[j : j + batch, None] for k, v in purchase_draws.items()}
        spend_j = (
            None
            if spend_draws is None
            else {k: v[j : j + batch, None] for k, v in spend_draws.items()}
        )
        for state in state_rows:
            values = clv(params, spend_j, state)  # (draws in the batch, rows)
            sums[state] += values.sum(axis=0)
            means[state][j : j + batch] = values @ weights.T / np.where(totals > 0, totals, 1.0)
    return {s: v / n_draws for s, v in sums.items()}, means


def _lift_table(
    point: dict[str, np.ndarray],
    weights: np.ndarray,
    per_draw: dict[str, np.ndarray] | None,
    interval: float | None,
) -> pd.DataFrame:
    totals = weights.sum(axis=1)
    safe = np.where(totals > 0, totals, 1.0)
    on, off = weights @ point["on"] / safe, weights @ point["off"] / safe
    table = pd.DataFrame(
        {
            "customers": totals,
            "clv_on": on,
            "clv_off": off,
            "lift": on - off,
            "relative_lift": on / off - 1.0,
        },
        index=pd.Index(GROUPS, name="group"),
    )
    if per_draw is not None and interval is not None:
        q = (1.0 - float(interval)) / 2.0
        lift = per_draw["on"] - per_draw["off"]
        relative = per_draw["on"] / per_draw["off"] - 1.0
        for name, values in (("lift", lift), ("relative_lift", relative)):
            lo, hi = np.quantile(values, [q, 1.0 - q], axis=0)
            table[f"{name}_lower"], table[f"{name}_upper"] = lo, hi
    table.loc[totals == 0, table.columns.drop("customers")] = np.nan
    table.attrs["interval"] = interval
    return table
