"""Estimator of the spend model: Gamma-Gamma (the registry's ``role="spend"`` model)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from clvmodels.errors import DataError, FitError
from clvmodels.estimators.base import ClvModelWarning, Estimator
from clvmodels.estimators.frames import SOURCE, customer_index, fail_row, frame_arrays

CORRELATION_WARNING = 0.3
"""A larger |correlation| of frequency and spend per order warns (FH2013 report 0.11 on
CDNOW; the model assumes 0)."""


class GammaGamma(Estimator):
    """Gamma-Gamma spend-per-order model (Fader, Hardie & Lee 2005, JMR); repeat buyers only."""

    model_key = "gamma_gamma"

    def _check_data(self, data: pd.DataFrame, arrays: dict[str, np.ndarray]) -> None:
        repeat = arrays["frequency"] > 0
        fail_row(
            data,
            repeat & ~(arrays["monetary_value"] > 0),
            "monetary_value",
            "not positive for a customer with repeat purchases",
        )
        if not repeat.any():
            raise DataError(
                f"{SOURCE}: column 'frequency': no customer has a repeat purchase; "
                "Gamma-Gamma needs some"
            )

    def _after_fit(self, arrays: dict[str, np.ndarray], weights: np.ndarray) -> None:
        repeat = arrays["frequency"] > 0
        x, m, w = arrays["frequency"][repeat], arrays["monetary_value"][repeat], weights[repeat]
        corr = weighted_corr(x, m, w)
        self.result_.diagnostics["frequency_spend_correlation"] = corr
        self.result_.diagnostics["mean_spend_finite"] = bool(self.params_["q"] > 1)
        if math.isfinite(corr) and abs(corr) > CORRELATION_WARNING:
            warnings.warn(
                f"gamma_gamma: frequency and spend per order are correlated (r = {corr:.2f}); "
                "the model assumes they are independent, so CLV may be biased",
                ClvModelWarning,
                stacklevel=2,
            )

    def predict_spend(self, data: pd.DataFrame) -> pd.Series:
        """Conditional expected average order value per customer (population mean for
        customers without repeat purchases)."""
        a, _ = frame_arrays(data, self.info.history, self.model_key, new_customers=True)
        params = self.customer_params(data)
        if np.min(params["q"]) <= 1:
            raise FitError(
                f"gamma_gamma: q = {float(np.min(params['q'])):.3g} <= 1, so the expected "
                "spend per order is infinite; the spend data are too heavy-tailed for this model"
            )
        values = self.module.conditional_expected_average_order_value(
            a["frequency"], a["monetary_value"], **params
        )
        return pd.Series(values, index=customer_index(data), name="expected_spend")


def weighted_corr(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """The correlation of ``x`` and ``y`` with weights ``w`` (NaN when undefined)."""
    if len(x) < 2 or w.sum() <= 0:
        return math.nan
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cov = np.average((x - mx) * (y - my), weights=w)
    vx, vy = np.average((x - mx) ** 2, weights=w), np.average((y - my) ** 2, weights=w)
    if vx <= 0 or vy <= 0:
        return math.nan
    return float(cov / math.sqrt(vx * vy))
