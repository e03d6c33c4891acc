"""Scoring forecasts on a calibration/holdout split.

Every forecaster (a fitted model, a seed baseline, the all-zero reference) gives, per
customer, expected holdout purchases and revenue, and possibly P(alive); the functions
here score them against the holdout actuals:

* error: MAE and RMSE per customer, and the relative error of the total;
* ranking: Spearman's rank correlation, the share of holdout revenue held by the
  predicted top 10 % and top 20 % of customers, and the normalised Gini coefficient
  (1: ranked as well as the actual values themselves, 0: no better than random);
* P(alive): the AUC of separating customers with and without holdout purchases.

Ties in a forecast (a flat baseline predicts the same for everybody) are scored as
the average over every order of the tied customers — never by row order.

Also the diagnostics of Fader, Hardie & Lee (2005, "Counting your customers the easy
way", figures 3–4): the conditional-expectations table (mean predicted vs actual
holdout purchases by calibration frequency) and the tracking curve (cumulative repeat
transactions per period).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

METRICS = (
    "mae_purchases",
    "rmse_purchases",
    "total_purchases_error",
    "mae_revenue",
    "rmse_revenue",
    "total_revenue_error",
    "spearman_purchases",
    "spearman_revenue",
    "top10_revenue_share",
    "top20_revenue_share",
    "gini_revenue",
    "auc_alive",
)
"""Columns of the evaluation table after ``model``."""

PROBABILISTIC_METRICS = (
    "log_score_purchases",
    "rps_purchases",
    "brier_any_purchase",
    "coverage90_purchases",
    "coverage90_purchases_expected",
    "coverage80_purchases",
    "coverage80_purchases_expected",
    "coverage90_revenue",
    "coverage90_revenue_expected",
)
"""Columns of the evaluation table scoring the predictive distributions
(:mod:`clvmodels.evaluation.probabilistic`)."""

LOWER_IS_BETTER = {
    "mae_purchases",
    "rmse_purchases",
    "mae_revenue",
    "rmse_revenue",
    "rps_purchases",
    "brier_any_purchase",
}
CLOSER_TO_ZERO_IS_BETTER = {"total_purchases_error", "total_revenue_error"}
SELECTABLE = tuple(m for m in (*METRICS, *PROBABILISTIC_METRICS) if "coverage" not in m)
"""The columns a model can be chosen by (``clv.select_by``): every score with a better
end; coverages are checks of calibration, not scores to maximise."""


def better(metric: str, values: Any) -> Any:
    """``values`` turned so that larger is better for ``metric`` (minus the value where
    lower is better, minus its size where closer to zero is)."""
    values = np.asarray(values, dtype=float)
    if metric in LOWER_IS_BETTER:
        return -values
    if metric in CLOSER_TO_ZERO_IS_BETTER:
        return -np.abs(values)
    return values


ZERO_FORECAST = "zero_forecast"
"""Name of the reference row that predicts no purchase for anybody."""


def score_forecast(
    actual_purchases: np.ndarray,
    actual_revenue: np.ndarray | None,
    expected_purchases: np.ndarray,
    expected_revenue: np.ndarray | None,
    p_alive: np.ndarray | None = None,
) -> dict[str, float]:
    """All metrics of one forecaster (NaN where a metric does not apply)."""
    ap, ep = np.asarray(actual_purchases, float), np.asarray(expected_purchases, float)
    out = dict.fromkeys(METRICS, math.nan)
    out.update(
        mae_purchases=float(np.mean(np.abs(ep - ap))),
        rmse_purchases=float(np.sqrt(np.mean((ep - ap) ** 2))),
        total_purchases_error=relative_total_error(ap, ep),
        spearman_purchases=spearman(ap, ep),
    )
    if actual_revenue is not None and expected_revenue is not None:
        ar, er = np.asarray(actual_revenue, float), np.asarray(expected_revenue, float)
        out.update(
            mae_revenue=float(np.mean(np.abs(er - ar))),
            rmse_revenue=float(np.sqrt(np.mean((er - ar) ** 2))),
            total_revenue_error=relative_total_error(ar, er),
            spearman_revenue=spearman(ar, er),
            top10_revenue_share=top_share(ar, er, 0.10),
            top20_revenue_share=top_share(ar, er, 0.20),
            gini_revenue=normalized_gini(ar, er),
        )
    if p_alive is not None:
        out["auc_alive"] = auc(np.asarray(p_alive, float), ap > 0)
    return out


def relative_total_error(actual: np.ndarray, predicted: np.ndarray) -> float:
    """``(Σ predicted − Σ actual) / Σ actual`` (signed; NaN when the actual total is 0)."""
    total = float(np.sum(actual))
    return float((np.sum(predicted) - total) / total) if total != 0 else math.nan


def spearman(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties; NaN for a constant input)."""
    if np.ptp(actual) == 0 or np.ptp(predicted) == 0:
        return math.nan
    from scipy import stats  # here: a config check imports this module, not SciPy's statistics

    return float(stats.spearmanr(actual, predicted).statistic)


def _expected_order(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Actual values sorted by prediction, highest first, each group of tied predictions
    replaced by its mean: the expected sequence over every order of the ties."""
    order = np.argsort(-predicted, kind="stable")
    p, a = predicted[order], actual[order].astype(float)
    starts = np.flatnonzero(np.concatenate(([True], p[1:] != p[:-1])))
    sums = np.add.reduceat(a, starts)
    sizes = np.diff(np.append(starts, len(a)))
    return np.repeat(sums / sizes, sizes)


def top_share(actual: np.ndarray, predicted: np.ndarray, fraction: float) -> float:
    """Share of the actual total held by the top ``fraction`` of customers by prediction
    (a fractional last customer counted pro rata; ties averaged)."""
    total = float(np.sum(actual))
    if total <= 0 or len(actual) == 0:
        return math.nan
    cumulative = np.concatenate(([0.0], np.cumsum(_expected_order(actual, predicted))))
    k = fraction * len(actual)
    return float(np.interp(k, np.arange(len(cumulative)), cumulative) / total)


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini coefficient of the actual values ordered by prediction, divided by that of the
    perfect ordering: 1 = ranks as well as the truth, 0 = random, < 0 = worse."""

    def gini(order_values: np.ndarray) -> float:
        n = len(order_values)
        lorenz = np.cumsum(order_values) / order_values.sum()
        return float(lorenz.sum() / n - (n + 1) / (2 * n))

    if np.sum(actual) <= 0 or len(actual) < 2:
        return math.nan
    perfect = gini(np.sort(np.asarray(actual, float))[::-1])
    if perfect == 0:
        return math.nan
    return gini(_expected_order(np.asarray(actual, float), np.asarray(predicted, float))) / perfect


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties counted one half)."""
    positive = np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    from scipy import stats

    ranks = stats.rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluation_table(scores: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """One row per forecaster (``model`` column first), the columns of :data:`METRICS`
    and then those of :data:`PROBABILISTIC_METRICS` that any forecaster has."""
    given = {m for values in scores.values() for m in values}
    columns = [*METRICS, *(m for m in PROBABILISTIC_METRICS if m in given)]
    rows = [
        {"model": name, **{m: values.get(m, math.nan) for m in columns}}
        for name, values in scores.items()
    ]
    return pd.DataFrame(rows, columns=["model", *columns])


def best_per_metric(
    table: pd.DataFrame, exclude: tuple[str, ...] = (ZERO_FORECAST,)
) -> dict[str, str]:
    """The best forecaster per metric (the zero reference row is not a candidate)."""
    candidates = table[~table["model"].isin(exclude)]
    best: dict[str, str] = {}
    for metric in METRICS:
        values = candidates[metric].astype(float)
        if values.isna().all():
            continue
        if metric in LOWER_IS_BETTER:
            idx = values.idxmin()
        elif metric in CLOSER_TO_ZERO_IS_BETTER:
            idx = values.abs().idxmin()
        else:
            idx = values.idxmax()
        best[metric] = str(candidates.loc[idx, "model"])
    return best


def verdict(table: pd.DataFrame) -> str:
    """One line naming the best forecaster per metric, e.g. ``best: bgnbd+gamma_gamma on
    9 of 12 metrics (mae_purchases, ...); seed_customer on 3 of 12 metrics (...)``, with a
    caution naming the forecasters that the all-zero reference beats on MAE (many
    customers buy nothing in the holdout)."""
    best = best_per_metric(table)
    winners: dict[str, list[str]] = {}
    for metric, name in best.items():
        winners.setdefault(name, []).append(metric)
    ranked = sorted(winners.items(), key=lambda item: -len(item[1]))
    line = "best: " + "; ".join(
        f"{name} on {len(metrics)} of {len(best)} metrics ({', '.join(metrics)})"
        for name, metrics in ranked
    )
    zero = table[table["model"] == ZERO_FORECAST]
    others = table[table["model"] != ZERO_FORECAST]
    if len(zero) and len(others):
        beaten = sorted(
            {
                str(name)
                for metric in ("mae_purchases", "mae_revenue")
                for name in others.loc[others[metric] > zero[metric].iloc[0], "model"]
            }
        )
        if beaten:
            line += (
                f". Note: predicting zero for everybody has a lower MAE than {', '.join(beaten)}"
                " — most customers buy nothing in the holdout, so judge on RMSE, the total"
                " and the ranking too"
            )
    return line


def conditional_expectations(
    frequency: np.ndarray,
    actual: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    cap: int = 7,
) -> pd.DataFrame:
    """Mean holdout purchases, actual and predicted, by calibration frequency
    (``0 … cap−1`` and ``cap+``), as in Fader, Hardie & Lee (2005), figure 4."""
    x = np.asarray(frequency, float)
    group = np.minimum(x, cap).astype(int)
    labels = [str(k) for k in range(cap)] + [f"{cap}+"]
    frame = pd.DataFrame({"group": group, "actual": np.asarray(actual, float)})
    for name, values in predictions.items():
        frame[name] = np.asarray(values, float)
    grouped = frame.groupby("group")
    out = grouped.mean()
    out.insert(0, "customers", grouped.size())
    out = out.reindex(range(cap + 1))
    out["customers"] = out["customers"].fillna(0).astype(np.int64)
    out.index = pd.Index([labels[k] for k in out.index], name="calibration_frequency")
    return out


def tracking_curve(
    period_ends: np.ndarray,
    actual_days: np.ndarray,
    actual_counts: np.ndarray,
    origin_day: int,
    unit_days: float,
    predicted: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """Cumulative repeat transactions at each period end, actual and predicted.

    ``period_ends`` are times in data units after ``origin_day`` (days since 1970-01-01);
    the actual series is given per calendar day; ``predicted`` maps model names to
    cumulative expectations at ``period_ends``.
    """
    days = np.asarray(actual_days, float)
    counts = np.asarray(actual_counts, float)
    end_days = origin_day + np.asarray(period_ends, float) * unit_days
    cumulative = np.concatenate(([0.0], np.cumsum(counts)))
    actual = cumulative[np.searchsorted(days, end_days, side="right")]
    frame = pd.DataFrame({"period": np.asarray(period_ends, float), "actual": actual})
    for name, values in predicted.items():
        frame[name] = np.asarray(values, float)
    return frame
