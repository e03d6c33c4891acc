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
from clvmodels.estimators.frames import customer_index, frame_arrays
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
    return _arrays_of(key, data, aligned(panel, data, key), processes)


def _arrays_of(
    key: str,
    data: pd.DataFrame,
    rows: DynamicPanel,
    processes: Mapping[str, Sequence[str]],
) -> DynamicData:
    """:func:`dynamic_data` of the panel's rows already aligned with ``data``."""
    arrays, weights = frame_arrays(data, ("frequency", "recency", "T"), key)
    if weights is not None and not np.all(np.asarray(weights) == 1):
        raise DataError(
            f"{key}: time-varying covariates need one row per customer, not a weighted summary"
        )
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
    delta: float = 0.0,
) -> pd.DataFrame:
    """``p_alive``, ``expected_purchases`` (CET over ``horizon``) and ``dect`` per customer
    of a fit with time-varying covariates, with the panel's future covariate values
    (a Bayesian fit: the mean over up to :data:`MAX_PREDICTION_DRAWS` posterior draws).

    Parameters
    ----------
    result
        A fit with ``dynamic_covariates``.
    data
        The customers (``customer_id``, ``frequency``, ``recency``, ``T``), matched to the
        panel's rows by ``customer_id``; the result is in ``data``'s order, indexed by
        ``customer_id`` (:func:`~clvmodels.estimators.frames.customer_index`).
    panel
        Their :class:`~clvmodels.data.dynamic.DynamicPanel`, whose future periods cover
        the horizon.
    horizon
        Length of the forecast in the model's time unit, from the calibration end.
    delta
        Continuous discount rate per time unit
        (:func:`clvmodels.models.discount.continuous_rate` of a yearly rate).
    """
    values = predict_dynamic_draws(result, data, panel, horizon, delta, _parameter_points(result))
    return pd.DataFrame(
        {
            "p_alive": values["p_alive"].mean(axis=0),
            "expected_purchases": values["expected"].mean(axis=0),
            "dect": values["dect"].mean(axis=0),
        },
        index=customer_index(data),
    )


def predict_dynamic_draws(
    result: FitResult,
    data: pd.DataFrame,
    panel: DynamicPanel,
    horizon: float,
    delta: float,
    points: Sequence[Mapping[str, float]],
) -> dict[str, np.ndarray]:
    """``p_alive``, ``expected`` (CET) and ``dect`` of every customer at each parameter
    point (arrays ``(points, customers)``), the panel aligned and checked once."""
    key = result.model
    module = dynamic_module(key)
    processes = result.dynamic_covariates or {}
    rows = aligned(panel, data, key)
    arrays = _arrays_of(key, data, rows, processes)
    names = [c for p in ("purchase", "dropout") for c in processes.get(p, [])]
    lengths, values = rows.future(float(horizon), names)
    k_p = len(processes.get("purchase", []))
    common = {
        "purchase": list(arrays.covariates.get("purchase", {}).values()),
        "dropout": list(arrays.covariates.get("dropout", {}).values()),
        "future_lengths": lengths,
        "future_purchase": values[:k_p],
        "future_dropout": values[k_p:],
        "discount_rate": float(delta),
    }
    out: dict[str, list[np.ndarray]] = {"p_alive": [], "expected": [], "dect": []}
    for point in points:
        predicted = module.predict(
            arrays.frequency,
            arrays.exposure,
            arrays.before,
            arrays.counts,
            params=dict(point),
            gamma=[point[f"purchase:{c}"] for c in processes.get("purchase", [])],
            delta=[point[f"dropout:{c}"] for c in processes.get("dropout", [])],
            **common,
        )
        for k in out:
            out[k].append(predicted[k])
    return {k: np.vstack(v) for k, v in out.items()}


def _parameter_points(result: FitResult) -> list[dict[str, float]]:
    """The estimate, or evenly spaced posterior draws."""
    if not result.draws:
        return [dict(result.params)]
    n = len(next(iter(result.draws.values())))
    picks = np.unique(np.linspace(0, n - 1, min(n, MAX_PREDICTION_DRAWS)).astype(int))
    return [{k: float(v[i]) for k, v in result.draws.items()} for i in picks]


def rate_multipliers(
    result: FitResult,
    panel: DynamicPanel,
    horizon: float,
    level: float = 0.95,
    n_draws: int = 400,
    seed: int = 0,
) -> pd.DataFrame:
    """The factor ``exp(γ′x(t))`` by which the covariates multiply each process's rate in
    every calendar period of the calibration and of the ``horizon`` after it, with an
    interval at ``level``: for an MLE with population-wide covariates the Wald interval
    of ``γ′x(t)`` (the effects table's, for a whole period of one covariate), otherwise
    from parameter draws (posterior draws, or the MLE's normal approximation,
    :meth:`~clvmodels.results.FitResult.parameter_draws`).  A covariate that differs
    between customers enters by the customers' mean factor.

    Returns
    -------
    DataFrame
        ``period_start``, ``part`` (``calibration`` or ``horizon``), ``process``,
        ``multiplier``, ``lower``, ``upper``.
    """
    processes = result.dynamic_covariates or {}
    n_future = len(panel.future(float(horizon), [])[0])
    last = panel.n_calibration - 1 + max(n_future, 1)
    columns = slice(0, last)
    draws: dict[str, np.ndarray] | None = None  # drawn once, only if an interval needs them
    q = (1.0 - level) / 2.0  # the lower tail
    frames = []
    for process, names in processes.items():
        if not names:
            continue
        values = [panel.values[c][:, columns] for c in names]
        coefficients = [f"{process}:{c}" for c in names]
        point = _mean_factor([result.params[c] for c in coefficients], values)
        if (
            result.draws is None
            and result.cov_log is not None
            and all(v.shape[0] == 1 for v in values)
        ):  # a Wald interval of γ′x(t), as the effects table's of γ
            index = [result.param_names.index(c) for c in coefficients]
            cov = np.asarray(result.cov_log)[np.ix_(index, index)]
            x = np.vstack([v[0] for v in values])  # covariates × periods
            se = np.sqrt(np.einsum("ct,cd,dt->t", x, cov, x))
            from scipy import stats  # here, not at import: SciPy's statistics load slowly

            z = float(stats.norm.ppf(1.0 - q))
            low, high = point * np.exp(-z * se), point * np.exp(z * se)
        else:
            if draws is None:
                draws = result.parameter_draws(n_draws, np.random.default_rng(seed))
            sampled = np.vstack(
                [
                    _mean_factor([draws[c][i] for c in coefficients], values)
                    for i in range(len(next(iter(draws.values()))))
                ]
            )
            low, high = np.quantile(sampled, [q, 1.0 - q], axis=0)
        period = np.arange(last)
        frames.append(
            pd.DataFrame(
                {
                    "period_start": pd.to_datetime(panel.period_starts[columns]),
                    "part": np.where(period < panel.n_calibration, "calibration", "horizon"),
                    "process": process,
                    "multiplier": point,
                    "lower": low,
                    "upper": high,
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _mean_factor(coefficients: Sequence[float], values: Sequence[np.ndarray]) -> np.ndarray:
    """The customers' mean ``exp(Σ_c γ_c x_c)`` per period."""
    eta = sum(float(g) * v for g, v in zip(coefficients, values, strict=True))
    return np.exp(eta).mean(axis=0)
