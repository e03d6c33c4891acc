"""How good are the forecasts?  Scores on a calibration/holdout split, the seed formula
marketers use today, the holdout evaluation of purchase models, the projection of
subscription survival and the posterior predictive check.

Modules: :mod:`~clvmodels.evaluation.scores` (the metrics and the verdict),
:mod:`~clvmodels.evaluation.baseline` (the seed formula AOV × frequency × lifespan),
:mod:`~clvmodels.evaluation.holdout` (scoring fitted purchase models on a holdout),
:mod:`~clvmodels.evaluation.survival` (sBG vs constant retention),
:mod:`~clvmodels.evaluation.ppc` (posterior predictive counts),
:mod:`~clvmodels.evaluation.probabilistic` (proper scores of count forecasts),
:mod:`~clvmodels.evaluation.predictive` (the models' count forecasts and simulated
revenue), :mod:`~clvmodels.evaluation.challenger` (the machine-learning challenger),
:mod:`~clvmodels.evaluation.selection` (which model values the customers) and
:mod:`~clvmodels.evaluation.backtest` (rolling-origin backtests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clvmodels._lazy import keep_functions, lazy_exports, names_from

if TYPE_CHECKING:
    from clvmodels.evaluation.backtest import BacktestResult, backtest
    from clvmodels.evaluation.baseline import LEVELS, SeedBaseline, SeedLevel, rfm_table
    from clvmodels.evaluation.holdout import (
        HoldoutEvaluation,
        evaluate_holdout,
        has_holdout,
        tracking_table,
    )
    from clvmodels.evaluation.ppc import posterior_predictive_counts
    from clvmodels.evaluation.scores import (
        CLOSER_TO_ZERO_IS_BETTER,
        LOWER_IS_BETTER,
        METRICS,
        ZERO_FORECAST,
        auc,
        best_per_metric,
        conditional_expectations,
        evaluation_table,
        normalized_gini,
        relative_total_error,
        score_forecast,
        spearman,
        top_share,
        tracking_curve,
        verdict,
    )
    from clvmodels.evaluation.survival import (
        constant_retention_rate,
        projection_summary,
        survival_projection,
        survivor_scores,
    )

_LAZY = names_from(
    {
        "clvmodels.evaluation.backtest": ("BacktestResult", "backtest"),
        "clvmodels.evaluation.baseline": ("LEVELS", "SeedBaseline", "SeedLevel", "rfm_table"),
        "clvmodels.evaluation.holdout": (
            "HoldoutEvaluation",
            "evaluate_holdout",
            "has_holdout",
            "tracking_table",
        ),
        "clvmodels.evaluation.ppc": ("posterior_predictive_counts",),
        "clvmodels.evaluation.scores": (
            "CLOSER_TO_ZERO_IS_BETTER",
            "LOWER_IS_BETTER",
            "METRICS",
            "ZERO_FORECAST",
            "auc",
            "best_per_metric",
            "conditional_expectations",
            "evaluation_table",
            "normalized_gini",
            "relative_total_error",
            "score_forecast",
            "spearman",
            "top_share",
            "tracking_curve",
            "verdict",
        ),
        "clvmodels.evaluation.survival": (
            "constant_retention_rate",
            "projection_summary",
            "survival_projection",
            "survivor_scores",
        ),
    }
)
"""The public names imported on first use (PEP 562), and the module each comes from."""


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


keep_functions(__name__, _LAZY)


__all__ = [
    "CLOSER_TO_ZERO_IS_BETTER",
    "LEVELS",
    "LOWER_IS_BETTER",
    "METRICS",
    "ZERO_FORECAST",
    "BacktestResult",
    "HoldoutEvaluation",
    "SeedBaseline",
    "SeedLevel",
    "auc",
    "backtest",
    "best_per_metric",
    "conditional_expectations",
    "constant_retention_rate",
    "evaluate_holdout",
    "evaluation_table",
    "has_holdout",
    "normalized_gini",
    "posterior_predictive_counts",
    "projection_summary",
    "relative_total_error",
    "rfm_table",
    "score_forecast",
    "spearman",
    "survival_projection",
    "survivor_scores",
    "top_share",
    "tracking_curve",
    "tracking_table",
    "verdict",
]
