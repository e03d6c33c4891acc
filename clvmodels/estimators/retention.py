"""Estimator of the retention model: sBG (the registry's ``role="retention"`` model)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.estimators.base import Estimator
from clvmodels.estimators.frames import fail_row


class SBG(Estimator):
    """Shifted-beta-geometric retention model (Fader & Hardie 2007); data: tenure, churned."""

    model_key = "sbg"

    def survival(self, t: Any, profile: Mapping[str, Any] | None = None) -> np.ndarray:
        """S(t): share of a cohort still active after ``t`` periods (with covariates: a
        cohort with covariate values ``profile``; default the reference customer)."""
        return self.module.survival(np.asarray(t, dtype=float), **self.profile_params(profile))

    def cohort_survival(self, t: Any, data: pd.DataFrame) -> np.ndarray:
        """Share of a cohort still active after ``t`` periods when its subscribers
        (``data``, one row per subscriber or with a ``count`` column) each have their own
        parameters: the count-weighted mean of their survival curves."""
        t = np.asarray(t, dtype=float)
        if not self.has_patterns:
            return self.survival(t)
        first, codes = self._patterns(data)
        weights = data["count"].to_numpy(float) if "count" in data else np.ones(len(data))
        share = np.bincount(codes, weights=weights) / weights.sum()
        params = self.customer_params(data.iloc[first])
        curves = self.module.survival(t[..., None], **{k: np.asarray(v) for k, v in params.items()})
        return curves @ share

    def retention_rate(self, t: Any, profile: Mapping[str, Any] | None = None) -> np.ndarray:
        """r(t) = S(t) / S(t − 1) (``profile``: as :meth:`survival`)."""
        params = self.profile_params(profile)
        return self.module.retention_rate(np.asarray(t, dtype=float), **params)

    def projected_survivors(
        self, t: Any, n0: float, profile: Mapping[str, Any] | None = None
    ) -> np.ndarray:
        """Expected number of a cohort of ``n0`` still active after ``t`` periods."""
        params = self.profile_params(profile)
        return self.module.projected_survivors(np.asarray(t, dtype=float), n0, **params)

    def expected_lifetime(self, profile: Mapping[str, Any] | None = None) -> float:
        """Expected lifetime in periods (infinite when alpha <= 1)."""
        return float(self.module.expected_lifetime(**self.profile_params(profile)))

    def derl(
        self, n_renewals: Any, discount: float, profile: Mapping[str, Any] | None = None
    ) -> np.ndarray:
        """Discounted expected residual lifetime of a customer with ``n_renewals``."""
        return self.module.derl(
            np.asarray(n_renewals, dtype=float), discount=discount, **self.profile_params(profile)
        )

    def _check_data(self, data: pd.DataFrame, arrays: dict[str, np.ndarray]) -> None:
        tenure, churned = arrays["tenure"], arrays["churned"]
        bad_tenure = (tenure < 0) | (tenure != np.round(tenure))
        fail_row(data, bad_tenure, "tenure", "not a whole number of periods >= 0")
        fail_row(data, ~np.isin(churned, (0.0, 1.0)), "churned", "not 0/1 or true/false")
