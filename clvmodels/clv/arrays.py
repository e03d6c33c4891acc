"""Per-customer quantities as arrays: P(alive), expected purchases, DERT, spend per order.

Every function here takes 1-d data columns and parameters that are scalars (point
estimates) or ``(draws, 1)`` arrays (a batch of parameter draws) and broadcasts, so the
same code gives point values and values over posterior or parametric draws
(:mod:`clvmodels.clv.draws`).  CLV of a non-contractual customer follows Fader, Hardie &
Lee (2005, "RFM and CLV: using iso-value curves for customer base analysis", JMR 42(4),
eq. 1): ``CLV = margin × E[spend per order] × DERT``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.backends.compress import factorize_rows
from clvmodels.clv.settings import ValueSettings
from clvmodels.errors import DataError
from clvmodels.estimators import Estimator
from clvmodels.estimators.patterns import Patterns, at_patterns
from clvmodels.models import gamma_gamma, model_info, model_module

PAIR_CELLS = 16_384
"""Draws × distinct ``(x, T)`` pairs per evaluation of the DERT integral (which holds
~10-500 quadrature nodes per cell), bounding the memory of a batch of draws."""


def purchase_arrays(
    key: str,
    params: Mapping[str, Any],
    data: Mapping[str, np.ndarray],
    settings: ValueSettings,
    *,
    with_dert: bool = True,
) -> dict[str, np.ndarray]:
    """P(alive), expected purchases over the horizon and DERT of every customer
    (``with_dert=False``: the first two only, e.g. to score a holdout, sparing the
    numerical integral of DERT).

    ``expected_purchases`` is undiscounted over ``settings.horizon``, or over one year of
    time units when the horizon is the whole lifetime (a lifetime count can be
    infinite without discounting).  For the continuous-time models both are
    ``P(alive) ×`` a quantity of an active customer that depends on a few history
    columns only (``x, T`` for the BG/NBD family); that quantity is evaluated once per
    distinct combination.

    ``data`` holds 1-d columns (``rows``); ``params`` holds scalars, giving arrays of
    shape ``(rows,)``, or arrays of shape ``(draws, 1)``, giving ``(draws, rows)``.
    With covariates or groups, ``data`` has a ``pattern`` column (each row's pattern, an
    integer code) and a parameter may have one value per pattern on its last axis
    (:meth:`PatternLink.params`); the ``(x, T)`` quantities are then evaluated once per
    distinct ``(x, T, pattern)``.
    """
    info = model_info(key)
    if info.discrete:
        return _discrete_arrays(key, params, data, settings, with_dert)
    module = model_module(key)
    history = {c: np.asarray(data[c], dtype=float) for c in info.history}
    if info.active is None:  # a latent-variable model: everything from one pass
        return module.customer_predictions(
            settings.count_horizon,
            **history,
            **params,
            delta=settings.delta,
            horizon=settings.horizon,
            with_dert=with_dert,
        )
    pattern = data.get("pattern")
    alive = module.probability_alive(**history, **at_patterns(params, pattern))
    columns = [history[c] for c in info.active]
    group, distinct = factorize_rows(columns if pattern is None else [*columns, pattern])
    active = dict(zip(info.active, distinct, strict=False))
    pair_params = at_patterns(params, None if pattern is None else distinct[-1])
    future = module.active_expected_purchases(settings.count_horizon, **active, **pair_params)
    expected = alive * future[..., group]
    if not with_dert:
        return {"p_alive": alive, "expected_purchases": expected}
    discounted = module.discounted_active_purchases(
        **active, **pair_params, delta=settings.delta, horizon=settings.horizon
    )
    return {
        "p_alive": alive,
        "expected_purchases": expected,
        "dert": alive * discounted[..., group],
    }


def _discrete_arrays(
    key: str,
    params: Mapping[str, Any],
    data: Mapping[str, np.ndarray],
    settings: ValueSettings,
    with_dert: bool,
) -> dict[str, np.ndarray]:
    """:func:`purchase_arrays` of a discrete-time model (BG/BB: opportunities ``n``,
    discounting per period; Fader, Hardie & Shang 2010)."""
    module = model_module(key)
    x, t_x, n = (np.asarray(data[c], dtype=float) for c in ("frequency", "recency", "n"))
    alive = module.probability_alive(x, t_x, n, **params)
    expected = module.conditional_expected_transactions(settings.count_horizon, x, t_x, n, **params)
    if not with_dert:
        return {"p_alive": alive, "expected_purchases": expected}
    dert = module.dert(
        x, t_x, n, **params, discount=settings.period_discount, horizon=settings.horizon
    )
    return {"p_alive": alive, "expected_purchases": expected, "dert": dert}


def spend_per_order(
    params: Mapping[str, Any] | None, data: Mapping[str, np.ndarray], fallback: float
) -> np.ndarray:
    """Expected spend per future order: the Gamma-Gamma conditional expectation, or
    ``fallback`` (the calibration average order value) without a spend model.

    Customers with repeat purchases whose mean repeat spend is not positive (refunds
    netted to zero or below) are outside the Gamma-Gamma's support; they get the
    population mean spend, as customers without repeat purchases do.  With covariates
    ``data`` has a ``pattern`` column, as for :func:`purchase_arrays`.
    """
    x = np.asarray(data["frequency"], dtype=float)
    if params is None:
        return np.full(len(x), float(fallback))
    q = float(np.min(params["q"]))
    if q <= 1:
        raise DataError(
            f"gamma_gamma: q = {q:.3g} <= 1, so the expected spend per order "
            "is infinite; CLV cannot be computed with this spend model"
        )
    m = np.asarray(data["monetary_value"], dtype=float)
    usable = (x > 0) & (m > 0)
    return gamma_gamma.conditional_expected_average_order_value(
        np.where(usable, x, 0.0),
        np.where(usable, m, 0.0),
        **at_patterns(params, data.get("pattern")),
    )


@dataclass(frozen=True)
class PatternLink:
    """The patterns of some customers under a model whose customers' parameters differ:
    by covariates, or by group in a hierarchical fit (:mod:`clvmodels.estimators.patterns`).

    Attributes
    ----------
    codes
        Each customer's pattern.
    model
        The fitted model.
    patterns
        The patterns (their covariate design columns and groups).
    """

    codes: np.ndarray
    model: Estimator
    patterns: Patterns

    @classmethod
    def of(cls, model: Estimator | None, summary: pd.DataFrame) -> PatternLink | None:
        """The patterns of ``summary``'s customers under ``model`` (``None`` when every
        customer has the same parameters)."""
        if model is None or not model.has_patterns:
            return None
        patterns = model.patterns(summary)
        return cls(patterns.codes, model, patterns)

    def params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters per pattern (last axis) from the fitted parameters or draws of
        them (scalars or ``(draws, 1)`` arrays): a group's ``θ[g]``, covariate links."""
        return self.model.pattern_params(self.patterns, params)


def pattern_inputs(
    model: Estimator, summary: pd.DataFrame, data: Mapping[str, np.ndarray]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A fitted model's parameters and the data columns for :func:`purchase_arrays` or
    :func:`spend_per_order` on ``summary``'s customers: with covariates or groups, the
    parameters per pattern and each row's ``pattern``."""
    link = PatternLink.of(model, summary)
    if link is None:
        return dict(model.params_), dict(data)
    return link.params(dict(model.params_)), {**data, "pattern": link.codes}


def history_values(
    key: str,
    params: Mapping[str, Any],
    spend_params: Mapping[str, Any] | None,
    rows: dict[str, np.ndarray],
    settings: ValueSettings,
    fallback: float,
    links: Mapping[str, PatternLink | None],
) -> dict[str, np.ndarray]:
    """P(alive), expected purchases, DERT, expected spend and CLV of distinct histories
    ``rows`` (:func:`purchase_arrays`, :func:`spend_per_order`; ``links`` the covariate
    patterns of the purchase model, ``"pattern"``, and of the spend model,
    ``"spend_pattern"``)."""
    arrays = purchase_arrays(key, linked(params, links["pattern"]), rows, settings)
    if spend_params is not None:
        spend_params = linked(spend_params, links["spend_pattern"])
    arrays["expected_spend"] = spend_per_order(spend_params, spend_columns(rows), fallback)
    arrays["clv"] = settings.margin * arrays["expected_spend"] * arrays["dert"]
    return arrays


def linked(params: Mapping[str, Any], link: PatternLink | None) -> dict[str, Any]:
    """The parameters per covariate pattern of ``link`` (as they are without one)."""
    return dict(params) if link is None else link.params(params)


def spend_columns(rows: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The spend model's columns of the rows (its covariate pattern as ``pattern``)."""
    out = {c: rows[c] for c in ("frequency", "monetary_value") if c in rows}
    if "spend_pattern" in rows:
        out["pattern"] = rows["spend_pattern"]
    return out
