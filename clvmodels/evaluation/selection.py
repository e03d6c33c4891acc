"""Which purchase model values the customers: the best holdout score on a declared
criterion (``clv.purchase_model: auto``, ``clv.select_by``), with the runner-up and the
margin, so that the choice can be read and checked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.evaluation.scores import better


@dataclass(frozen=True)
class ModelChoice:
    """The model that values the customers and why.

    Attributes
    ----------
    model
        Its key (``"paretonbd"``).
    how
        ``"auto"`` (the best on ``criterion``), ``"configured"`` (``clv.purchase_model``)
        or ``"first"`` (the first purchase model: no holdout to choose on).
    criterion
        The evaluation column the models were compared on (``None`` without a holdout).
    value
        The model's score on it.
    best, best_value
        The best model on the criterion and its score (the model itself for ``auto``).
    runner_up, runner_up_value
        The next best (``None`` with a single candidate).
    margin
        How much better the best is than the runner-up, in the criterion's units
        (positive; ``nan`` without a runner-up).
    """

    model: str
    how: str
    criterion: str | None = None
    value: float = math.nan
    best: str | None = None
    best_value: float = math.nan
    runner_up: str | None = None
    runner_up_value: float = math.nan
    margin: float = math.nan

    @property
    def is_best(self) -> bool:
        """Whether the valuing model is the best on the criterion (true without one)."""
        return self.best is None or self.best == self.model

    def record(self) -> dict[str, Any]:
        """The choice as ``params.json`` and ``manifest.json`` hold it."""
        out = {"chosen_purchase_model": self.model, **asdict(self)}
        out.pop("model")
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in out.items()
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ModelChoice:
        """The choice :meth:`record` wrote."""
        values = {k: (math.nan if v is None else v) for k, v in record.items()}
        model = values.pop("chosen_purchase_model")
        for name in ("criterion", "best", "runner_up"):
            if isinstance(values.get(name), float):
                values[name] = None
        return cls(model=str(model), **values)

    def sentence(self) -> str:
        """One plain sentence for the report and the command line."""
        if self.criterion is None:
            return f"{self.model} values the customers ({self.how}: no holdout to compare on)"
        if self.best is None:
            return (
                f"{self.model} values the customers ({self.how}); no purchase model has a "
                f"{self.criterion} on the holdout to compare by (it needs the model's "
                "predictive count distribution, which models with time-varying covariates "
                "do not give)"
            )
        scores = f"{self.criterion} {self.value:.4g}"
        if self.how == "auto":
            second = (
                ""
                if self.runner_up is None
                else f"; runner-up {self.runner_up} ({self.runner_up_value:.4g})"
            )
            return f"{self.model} values the customers: best on the holdout by {scores}{second}"
        said = "as configured" if self.how == "configured" else "the first purchase model"
        if self.is_best:
            return f"{self.model} values the customers ({said}) and is the best by {scores}"
        return (
            f"{self.model} values the customers ({said}), but it is NOT the best on the "
            f"holdout: {self.best} scores {self.criterion} {self.best_value:.4g} against "
            f"{self.value:.4g}"
        )


def rank_models(
    table: pd.DataFrame, rows: Mapping[str, str], criterion: str
) -> list[tuple[str, float]]:
    """``(model key, score)`` of the candidate ``rows`` (evaluation row name -> model key)
    of ``table``, best first on ``criterion``; models without a finite score are left
    out."""
    if criterion not in table.columns:
        return []
    scored = []
    for name, key in rows.items():
        match = table.loc[table["model"] == name, criterion]
        if len(match) and np.isfinite(float(match.iloc[0])):
            scored.append((key, float(match.iloc[0])))
    return sorted(scored, key=lambda item: -float(better(criterion, item[1])))


def choose_model(
    table: pd.DataFrame,
    rows: Mapping[str, str],
    criterion: str,
    configured: str | None = None,
    how: str = "configured",
) -> ModelChoice | None:
    """The best candidate on ``criterion``; with ``configured`` (a model the user named,
    or the first one, ``how``), that model compared with the best; ``None`` when no
    candidate has a finite score."""
    ranked = rank_models(table, rows, criterion)
    if not ranked:
        return None
    (best, best_value), rest = ranked[0], ranked[1:]
    runner_up, runner_value = rest[0] if rest else (None, math.nan)
    margin = (
        abs(float(better(criterion, best_value)) - float(better(criterion, runner_value)))
        if rest
        else math.nan
    )
    if configured is None:
        return ModelChoice(
            best, "auto", criterion, best_value, best, best_value, runner_up, runner_value, margin
        )
    value = dict(ranked).get(configured, math.nan)
    return ModelChoice(
        configured, how, criterion, value, best, best_value, runner_up, runner_value, margin
    )
