"""Estimators with time-varying covariates: aligning customers with their period
matrices, fitting, and predicting over a horizon with future covariate values.

A purchase model whose registry entry names a ``dynamic`` module (the Pareto/NBD, the
BG/NBD) takes ``dynamic_covariates={"purchase": [...], "dropout": [...]}``; its ``fit``
and predictions then take the :class:`~clvmodels.data.dynamic.DynamicPanel` of the
customers (``dynamic=``).  The customers are matched to the panel's rows by
``customer_id``, and the panel's period matrices are checked against the frame's
``frequency``, ``recency`` and ``T``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.backends.dynamic import (
    DynamicData,
    check_processes,
    fit_dynamic_bayes,
    fit_dynamic_mle,
)
from clvmodels.data.dynamic import DynamicPanel
from clvmodels.errors import DataError, FitError
from clvmodels.estimators.frames import frame_arrays
from clvmodels.models import model_info, model_spec
from clvmodels.results import FitResult

MAX_PREDICTION_DRAWS = 200
"""Posterior draws a Bayesian fit's predictions average over (evenly spaced)."""


def dynamic_module(key: str) -> ModuleType:
    """The math module of ``key`` with time-varying covariates (``FitError`` if none)."""
    name = model_info(key).dynamic
    if name is None:
        raise FitError(
            f"{key}: takes no time-varying covariates (models that do: paretonbd, bgnbd)"
        )
    return importlib.import_module(name)


def customer_ids(data: pd.DataFrame, key: str) -> np.ndarray:
    """The frame's customer ids as strings (a ``customer_id`` column or index)."""
    if "customer_id" in data.columns:
        return data["customer_id"].astype(str).to_numpy()
    if data.index.name == "customer_id":
        return data.index.astype(str).to_numpy()
    raise DataError(f"{key}: time-varying covariates need a customer_id column to match customers")


def aligned(panel: DynamicPanel, data: pd.DataFrame, key: str) -> DynamicPanel:
    """The panel's rows of the frame's customers, in the frame's order."""
    ids = customer_ids(data, key)
    position = pd.Index(panel.customer_ids.astype(str)).get_indexer(ids)
    if (position < 0).any():
        missing = ids[position < 0][0]
        raise DataError(f"{key}: customer {missing} has no rows in the dynamic covariates")
    return panel.subset(position)


def dynamic_data(
    key: str,
    data: pd.DataFrame,
    panel: DynamicPanel,
    processes: Mapping[str, Sequence[str]],
) -> DynamicData:
    """The fit's arrays, after checking that the panel describes the frame's histories."""
    arrays, weights = frame_arrays(data, ("frequency", "recency", "T"), key)
    if weights is not None and not np.all(np.asarray(weights) == 1):
        raise DataError(
            f"{key}: time-varying covariates need one row per customer, not a weighted summary"
        )
    rows = aligned(panel, data, key)
    ids = customer_ids(data, key)
    for column, matrix in (
        ("T", rows.exposure),
        ("recency", rows.before),
        ("frequency", rows.counts),
    ):
        gap = np.abs(matrix.sum(axis=1) - arrays[column])
        if (gap > 1e-6 * np.maximum(1.0, arrays[column])).any():
            i = int(np.argmax(gap))
            raise DataError(
                f"{key}: customer {ids[i]}: the dynamic covariates' periods give "
                f"{column} = {matrix[i].sum():.6g}, the summary {arrays[column][i]:.6g}; "
                "build the panel from the same log and calibration end"
            )
    known = set(rows.names)
    covariates: dict[str, dict[str, np.ndarray]] = {}
    for process, names in processes.items():
        unknown = [n for n in names if n not in known]
        if unknown:
            raise DataError(
                f"{key}: dynamic_covariates.{process}: no covariate {unknown[0]!r} "
                f"(have: {', '.join(rows.names) or 'none'})"
            )
        covariates[process] = dict(zip(names, rows.calibration_values(list(names)), strict=True))
    return DynamicData(
        frequency=arrays["frequency"],
        recency=arrays["recency"],
        T=arrays["T"],
        exposure=rows.exposure,
        before=rows.before,
        counts=rows.counts,
        covariates=covariates,
    )


def fit_dynamic(
    key: str,
    backend: str,
    options: Mapping[str, Any],
    data: pd.DataFrame,
    panel: DynamicPanel | None,
    processes: Mapping[str, Sequence[str]],
    time_unit: str | None,
) -> FitResult:
    """Fit model ``key`` with time-varying covariates ``processes`` by ``backend``."""
    module = dynamic_module(key)
    given = {p: list(c) for p, c in processes.items() if c}
    check_processes(key, module.PROCESSES, given)
    if panel is None:
        raise FitError(
            f"{key}: dynamic_covariates are set: pass the panel (fit(data, dynamic=...))"
        )
    if time_unit is not None and panel.time_unit != time_unit:
        raise DataError(
            f"{key}: the dynamic covariates' periods are in {panel.time_unit}, the data in "
            f"{time_unit}"
        )
    fits = {"mle": fit_dynamic_mle, "bayes": fit_dynamic_bayes}
    if backend not in fits:
        raise FitError(f"{key}: unknown backend {backend!r}; use 'mle' or 'bayes'")
    fit = fits[backend]
    allowed = set(inspect.signature(fit).parameters) - {"module", "spec", "data", "time_unit"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise FitError(
            f"{key}: unknown option(s) {', '.join(unknown)} of a fit with time-varying "
            f"covariates (allowed: {', '.join(sorted(allowed))})"
        )
    arrays = dynamic_data(key, data, panel, given)
    return fit(module, model_spec(key), arrays, time_unit=panel.time_unit, **options)


def predict_dynamic(
    result: FitResult,
    data: pd.DataFrame,
    panel: DynamicPanel,
    horizon: float,
    discount_rate: float = 0.0,
) -> pd.DataFrame:
    """``p_alive``, ``expected_purchases`` (CET over ``horizon``) and ``dect`` per customer
    of a fit with time-varying covariates, with the panel's future covariate values
    (a Bayesian fit: the mean over up to :data:`MAX_PREDICTION_DRAWS` posterior draws)."""
    key = result.model
    module = dynamic_module(key)
    processes = result.dynamic_covariates or {}
    arrays = dynamic_data(key, data, panel, processes)
    rows = aligned(panel, data, key)
    lengths, _ = rows.future(float(horizon), [])
    future = {p: rows.future(float(horizon), list(c))[1] for p, c in processes.items()}
    common = {
        "purchase": [v for v in arrays.covariates.get("purchase", {}).values()],
        "dropout": [v for v in arrays.covariates.get("dropout", {}).values()],
        "future_lengths": lengths,
        "future_purchase": future.get("purchase", []),
        "future_dropout": future.get("dropout", []),
        "discount_rate": float(discount_rate),
    }
    totals: dict[str, np.ndarray] = {}
    points = _parameter_points(result)
    for point in points:
        gamma = [point[f"purchase:{c}"] for c in processes.get("purchase", [])]
        delta = [point[f"dropout:{c}"] for c in processes.get("dropout", [])]
        out = module.predict(
            arrays.frequency,
            arrays.exposure,
            arrays.before,
            arrays.counts,
            params=point,
            gamma=gamma,
            delta=delta,
            **common,
        )
        for k, v in out.items():
            totals[k] = totals.get(k, 0.0) + v / len(points)
    return pd.DataFrame(
        {
            "p_alive": totals["p_alive"],
            "expected_purchases": totals["expected"],
            "dect": totals["dect"],
        },
        index=data.index,
    )


def _parameter_points(result: FitResult) -> list[dict[str, float]]:
    """The estimate, or evenly spaced posterior draws."""
    if not result.draws:
        return [dict(result.params)]
    n = len(next(iter(result.draws.values())))
    picks = np.unique(np.linspace(0, n - 1, min(n, MAX_PREDICTION_DRAWS)).astype(int))
    return [{k: float(v[i]) for k, v in result.draws.items()} for i in picks]
