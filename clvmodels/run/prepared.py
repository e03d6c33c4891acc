"""The data of a configured run, once loaded: canonical frames and what the data layer
recorded about them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class PreparedData:
    """Canonical frames of a run's input.

    Attributes
    ----------
    kind
        The configured ``data.kind``.
    source
        Description of the source for messages (``builtin:cdnow_sample``, a path; for
        SQL ``data.source (postgresql://user:***@host/db)``).
    summary
        Per-customer summary (transactions and summary inputs).
    survival_table
        Cohort survival counts ``cohort, period, alive`` (survival and subscriptions).
    individual
        Weighted ``cohort, tenure, churned, count`` rows the sBG is fitted on.
    meta
        Counts and settings recorded by the data layer (rows dropped/merged, ...).
    input
        For a SQL source, its ``manifest.json`` record: ``source`` (the masked URL),
        ``query`` and ``fingerprint`` (of the rows as read); empty for files.
    average_order_value
        The calibration average order value of every customer (all orders), ``None``
        without amounts.
    distributed
        With ``data.engine: spark``, the whole per-customer summary kept in Spark
        (:class:`clvmodels.run.spark.DistributedSummary`); ``summary`` is then a
        uniform random sample of it (``spark.evaluation_sample`` customers).
    regularity
        Wheat & Morrison's regularity of the purchase timings
        (:class:`clvmodels.data.Regularity`) of a transaction log, ``None`` when not
        estimated (:func:`clvmodels.run.prepare.prepare_data`).
    dynamic
        The customers' time-varying covariates per calendar period
        (:class:`clvmodels.data.dynamic.DynamicPanel`, in the rows of ``summary``;
        :mod:`clvmodels.run.dynamic`), ``None`` without ``data.dynamic_covariates``.
    """

    kind: str
    source: str
    summary: pd.DataFrame | None = None
    survival_table: pd.DataFrame | None = None
    individual: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    input: dict[str, str] = field(default_factory=dict)
    average_order_value: float | None = None
    distributed: Any = None
    regularity: Any = None
    dynamic: Any = None

    @property
    def counts(self) -> dict[str, Any]:
        """What the data layer dropped, merged and kept (``meta["counts"]``)."""
        return self.meta.setdefault("counts", {})


def average_order_value(summary: pd.DataFrame | None) -> float | None:
    """Calibration average order value (all orders: ``Σ revenue / Σ (frequency + 1)``),
    ``None`` without amounts."""
    if summary is None or "revenue" not in summary.columns:
        return None
    return float(summary["revenue"].sum() / (summary["frequency"] + 1.0).sum())
