"""Customer value under a purchase model with time-varying covariates.

With covariates that change between calendar periods (Bachmann, Meierer & Näf 2021,
"The role of time-varying contextual factors in latent attrition models for customer
base analysis", Marketing Science 40(4)) a customer's future purchases depend on the
covariate values of the periods ahead, so the discounted expected residual transactions
(DERT) of the plain models give way to the discounted expected conditional transactions
over the horizon (DECT; :meth:`clvmodels.estimators.purchase.PurchaseCountModel.
predict_dynamic`), with the same continuous discount rate per time unit as DERT
(:attr:`clvmodels.clv.ValueSettings.delta`)::

    CLV = margin × E[spend per order] × DECT

(Fader, Hardie & Lee 2005, eq. 1, with DECT in place of DERT).  Intervals come from
parameter uncertainty as for the other models (:mod:`clvmodels.clv.draws`): the
predictions are recomputed at each of ``settings.draws`` parameter draws (posterior
draws, or the MLE's parametric draws).  The horizon must be finite: the covariates are
known for finitely many periods.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from clvmodels.clv.arrays import pattern_inputs, spend_per_order
from clvmodels.clv.settings import ValueSettings
from clvmodels.data.dynamic import DynamicPanel
from clvmodels.errors import ConfigError
from clvmodels.estimators import Estimator
from clvmodels.estimators.dynamic import predict_dynamic, predict_dynamic_draws

COLUMN_ORDER = (
    "p_alive",
    "expected_purchases",
    "dect",
    "expected_spend",
    "clv",
    "clv_lower",
    "clv_upper",
)
"""The columns of :func:`dynamic_customer_values` (bounds with an interval)."""


def dynamic_customer_values(
    purchase: Estimator,
    summary: pd.DataFrame,
    settings: ValueSettings,
    panel: DynamicPanel | None,
    *,
    spend: Estimator | None = None,
    fallback_spend: float | None = None,
) -> pd.DataFrame:
    """Per-customer forecast and value of a purchase model fitted with time-varying
    covariates, over ``settings.horizon`` with the future covariate values of ``panel``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (as :func:`clvmodels.clv.customer_values`):
        ``p_alive``, ``expected_purchases`` (over the horizon), ``dect``,
        ``expected_spend``, ``clv`` and, with ``settings.interval``,
        ``clv_lower`` and ``clv_upper``.  A Bayesian fit gives posterior means.

    Raises
    ------
    ConfigError
        An infinite horizon, no panel, no spend model nor fallback spend.
    DataError
        A horizon beyond the panel's last period, a customer without rows in it.
    """
    key = purchase.model_key
    settings = settings.for_model(purchase)
    if not math.isfinite(settings.horizon):
        raise ConfigError(
            f"{key}: a lifetime horizon needs covariate values for ever; value over a "
            "number of time units the dynamic covariates cover"
        )
    if panel is None:
        raise ConfigError(
            f"{key}: fitted with time-varying covariates: give their values over the horizon"
        )
    if spend is None and fallback_spend is None:
        raise ConfigError("clv: needs a gamma_gamma spend model or an average order value")
    result = purchase.result_
    point = predict_dynamic(result, summary, panel, settings.horizon, settings.delta)
    data = {c: summary[c].to_numpy(float) for c in ("frequency", "monetary_value") if c in summary}
    if spend is None:
        per_order = spend_per_order(None, data, float(fallback_spend or 0.0))
    else:
        per_order = spend_per_order(*pattern_inputs(spend, summary, data), 1.0)
    out = point.copy()
    out["expected_spend"] = per_order
    out["clv"] = settings.margin * per_order * out["dect"].to_numpy()
    if settings.interval is not None:
        rng = np.random.default_rng(settings.seed)
        draws = result.parameter_draws(int(settings.draws), rng)
        points = [{k: float(v[i]) for k, v in draws.items()} for i in range(int(settings.draws))]
        dect = predict_dynamic_draws(
            result, summary, panel, settings.horizon, settings.delta, points
        )["dect"]
        spend_draws = per_order
        if spend is not None and not spend.has_patterns:  # the spend's uncertainty too
            params = {
                k: v[:, None] for k, v in spend.result_.parameter_draws(len(dect), rng).items()
            }
            spend_draws = spend_per_order(params, data, 1.0)
        q = (1.0 - float(settings.interval)) / 2.0
        low, high = np.quantile(settings.margin * spend_draws * dect, [q, 1.0 - q], axis=0)
        out["clv_lower"], out["clv_upper"] = low, high
    return out[[c for c in COLUMN_ORDER if c in out]]
