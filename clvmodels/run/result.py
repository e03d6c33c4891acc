"""What a configured run produced, before it is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from clvmodels.clv import HistoryGrid
from clvmodels.estimators import Estimator
from clvmodels.evaluation.selection import ModelChoice
from clvmodels.run.prepared import PreparedData
from clvmodels.run.settings import RunSettings


@dataclass
class RunResult:
    """Everything a run produced, before it is written.

    Attributes
    ----------
    settings
        The run's resolved settings.
    prepared
        Its data.
    fitted
        The models fitted on the calibration window; ``refit`` those refitted on the
        whole window (``split.refit``), which value the customers.
    tables
        Name -> table; each is written as ``<name>.csv``.
    payload
        ``params.json``.
    verdict
        The holdout evaluation's verdict, if any.
    seed_metrics
        The marketers' metrics of the calibration window.
    timings
        Seconds per step.
    grids
        Predictions over purchase histories, for the heat maps.
    choice
        Which purchase model values the customers, and how it compares with the best.
    distributed
        ``data.engine: spark``: every customer's outputs, written by Spark
        (:class:`clvmodels.run.spark.DistributedOutputs`).
    notes
        What the evaluation says of itself (``manifest.json`` ``evaluation``): how the
        challenger was trained or why it was not, the backtest's origins.
    new_customers
        The value of a customer acquired today per purchase (or retention) model
        (:class:`clvmodels.clv.new_customers.NewCustomerValue`).
    acquisition
        What a new customer may cost, per model
        (:func:`clvmodels.clv.new_customers.acquisition_advice`).
    """

    settings: RunSettings
    prepared: PreparedData
    fitted: dict[str, Estimator]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    verdict: str | None = None
    seed_metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    refit: dict[str, Estimator] | None = None
    grids: list[HistoryGrid] = field(default_factory=list)
    choice: ModelChoice | None = None
    distributed: Any = None
    notes: dict[str, Any] = field(default_factory=dict)
    new_customers: dict[str, Any] = field(default_factory=dict)
    acquisition: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> dict[str, Estimator]:
        """The models that value the customers: the refit, else the calibration fits."""
        return self.refit or self.fitted
