"""Subscriptions: the sBG's survival projected beyond the calibration periods against a
constant-retention baseline (Fader & Hardie 2007, "How to project customer retention",
Journal of Interactive Marketing 21(1), figure 2 and table 1)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clvmodels.evaluation.probabilistic import CountForecast, count_scores


def constant_retention_rate(individual: pd.DataFrame) -> float:
    """Maximum-likelihood retention rate of a homogeneous (geometric) churn model on the
    weighted ``(tenure, churned, count)`` rows: ``1 − churns / renewal decisions``."""
    w = individual["count"].to_numpy(float)
    churned = individual["churned"].to_numpy(float)
    tenure = individual["tenure"].to_numpy(float)
    decisions = float(np.sum(w * (tenure + churned)))
    return 1.0 - float(np.sum(w * churned)) / decisions if decisions > 0 else math.nan


def survival_projection(
    actual: np.ndarray, sbg_survival: np.ndarray, retention: float, calibration_periods: int
) -> pd.DataFrame:
    """Survivors per period: actual, sBG and constant-retention projections and their
    percentage errors (periods after the calibration are flagged ``holdout``).

    ``actual[t]`` is the number alive at the start of period ``t`` (``actual[0]`` the
    cohort size), ``sbg_survival[t]`` the model's S(t)."""
    alive = np.asarray(actual, float)
    t = np.arange(len(alive))
    sbg = alive[0] * np.asarray(sbg_survival, float)
    constant = alive[0] * retention**t
    with np.errstate(divide="ignore", invalid="ignore"):
        frame = pd.DataFrame(
            {
                "period": t,
                "holdout": t > calibration_periods,
                "actual": alive,
                "sbg": sbg,
                "constant_retention": constant,
                "sbg_pct_error": 100 * (sbg - alive) / alive,
                "constant_pct_error": 100 * (constant - alive) / alive,
            }
        )
    return frame


def projection_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """Mean absolute percentage error over the holdout periods, sBG and constant."""
    hold = frame[frame["holdout"]]
    return {
        "holdout_periods": len(hold),
        "sbg_mape": float(hold["sbg_pct_error"].abs().mean()) if len(hold) else math.nan,
        "constant_mape": float(hold["constant_pct_error"].abs().mean()) if len(hold) else math.nan,
    }


def survivor_scores(
    actual: np.ndarray, survival: np.ndarray, calibration_periods: int
) -> dict[str, float]:
    """Proper scores of a survival curve's forecasts of the holdout survivors.

    Given ``n_k = actual[k]`` subscribers alive after the ``k`` calibration periods,
    each survives to period ``t > k`` with probability ``S(t) / S(k)`` independently
    (under the sBG each survivor's churn probability is ``Beta(α, β + k)``, and
    ``B(α, β + t) / B(α, β + k) = S(t) / S(k)``; Fader & Hardie 2007, eq. 3), so the
    survivors at ``t`` are ``Binomial(n_k, S(t) / S(k))``.  The scores of these forecasts
    over the holdout periods (:func:`clvmodels.evaluation.probabilistic.count_scores`):
    ``log_score_survivors``, ``rps_survivors`` and the central-interval coverages
    ``coverage90_survivors`` with ``coverage90_survivors_expected`` (80 likewise).

    ``survival`` of shape ``(draws, periods)`` (posterior draws of a Bayesian fit) gives
    the posterior predictive distribution: the binomial pmf averaged over the draws.
    """
    alive = np.asarray(actual, dtype=float)
    curves = np.atleast_2d(np.asarray(survival, dtype=float))
    k = int(calibration_periods)
    if len(alive) <= k + 1 or alive[k] < 1:
        return {}
    n = int(alive[k])
    share = np.clip(curves[:, k + 1 :] / curves[:, k : k + 1], 0.0, 1.0)
    pmf = stats.binom.pmf(np.arange(n + 1), n, share[..., None]).mean(axis=0)
    scores = count_scores(CountForecast(pmf), alive[k + 1 :])
    return {
        name.replace("purchases", "survivors"): value
        for name, value in scores.items()
        if "any_purchase" not in name
    }
