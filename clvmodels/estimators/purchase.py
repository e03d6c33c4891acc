"""Estimators of the purchase models: BG/NBD, Pareto/NBD, MBG/NBD, NBD and GGompertz/NBD in
continuous time, BG/BB in discrete opportunities (the registry's ``role="purchase"``
models; the regularity models are in :mod:`clvmodels.estimators.regularity`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clvmodels.errors import FitError
from clvmodels.estimators.base import Estimator
from clvmodels.estimators.frames import customer_index, frame_arrays
from clvmodels.models import cohort
from clvmodels.models.discount import continuous_rate

if TYPE_CHECKING:
    from clvmodels.data.dynamic import DynamicPanel


class PurchaseCountModel(Estimator):
    """Shared interface of the continuous-time purchase models: predictions from each
    customer's history (the registry's ``history`` columns: ``frequency, recency, T``,
    and ``litt`` for the Pareto/GGG)."""

    def expected_purchases(self, t: Any, profile: Mapping[str, Any] | None = None) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer in (0, t] (with
        covariates: of a customer with covariate values ``profile``, e.g.
        ``{"loyalty_member": True, "channel": "web"}``; default the reference customer)."""
        self._refuse_dynamic("expected_purchases")
        params = self.profile_params(profile)
        return self.module.expected_purchases(np.asarray(t, dtype=float), **params)

    def probability_of_purchases(
        self, x: Any, t: Any, profile: Mapping[str, Any] | None = None
    ) -> np.ndarray:
        """P(X(t) = x) for a new customer (``profile``: as :meth:`expected_purchases`)."""
        self._refuse_dynamic("probability_of_purchases")
        return self.module.probability_of_purchases(
            np.asarray(x, dtype=float), np.asarray(t, dtype=float), **self.profile_params(profile)
        )

    def predict_purchases(
        self, data: pd.DataFrame, t: float, *, dynamic: DynamicPanel | None = None
    ) -> pd.Series:
        """Expected purchases in (T, T + t] given each customer's (frequency, recency, T)
        (with time-varying covariates: and the panel ``dynamic`` holding their future
        values, :meth:`predict_dynamic`)."""
        if self.is_dynamic:
            return self.predict_dynamic(data, t, dynamic=dynamic)["expected_purchases"]
        arrays, _ = frame_arrays(data, self.info.history, self.model_key, new_customers=True)
        values = self.module.conditional_expected_purchases(
            float(t), **arrays, **self.customer_params(data)
        )
        return pd.Series(values, index=customer_index(data), name="expected_purchases")

    def predict_p_alive(
        self, data: pd.DataFrame, *, dynamic: DynamicPanel | None = None
    ) -> pd.Series:
        """P(alive | frequency, recency, T) per customer (with time-varying covariates:
        given the panel ``dynamic``)."""
        if self.is_dynamic:
            return self.predict_dynamic(data, 0.0, dynamic=dynamic)["p_alive"]
        arrays, _ = frame_arrays(data, self.info.history, self.model_key, new_customers=True)
        values = self.module.probability_alive(**arrays, **self.customer_params(data))
        return pd.Series(values, index=customer_index(data), name="p_alive")

    def predict_dynamic(
        self,
        data: pd.DataFrame,
        horizon: float,
        *,
        dynamic: DynamicPanel | None,
        discount_rate: float = 0.0,
    ) -> pd.DataFrame:
        """P(alive), expected purchases and DECT of a model fitted with time-varying
        covariates (Bachmann, Meierer & Näf 2021;
        :func:`clvmodels.estimators.dynamic.predict_dynamic`).

        Parameters
        ----------
        data
            The customers: ``customer_id``, ``frequency``, ``recency``, ``T`` (the
            calibration summary the panel was built with); matched to the panel's rows
            by ``customer_id``, the result has ``data``'s index and order.
        horizon
            Forecast length in the model's time unit (weeks for a weekly summary), from
            the calibration end; the panel's future periods must cover it.
        dynamic
            The customers' :class:`~clvmodels.data.dynamic.DynamicPanel`.
        discount_rate
            Yearly discount rate, as ``clv.discount_rate`` (0.10 = 10 % a year): the
            DECT discounts continuously at ``log(1.10)`` a year
            (:func:`clvmodels.models.discount.continuous_rate`).

        Returns
        -------
        DataFrame
            ``p_alive`` (at the calibration end), ``expected_purchases`` (over the
            horizon) and ``dect`` (the same, discounted) per customer.
        """
        self._fitted()
        if not self.is_dynamic:
            raise FitError(f"{self.model_key}: the model was fitted without dynamic_covariates")
        if dynamic is None:
            raise FitError(
                f"{self.model_key}: fitted with time-varying covariates: pass their panel "
                "(dynamic=...) covering the horizon"
            )
        delta = continuous_rate(float(discount_rate), dynamic.time_unit)
        from clvmodels.estimators.dynamic import predict_dynamic  # only dynamic fits need it

        return predict_dynamic(self.result_, data, dynamic, horizon, delta)

    def _refuse_dynamic(self, what: str) -> None:
        """``FitError`` for a prediction that ignores time-varying covariates."""
        if self.is_dynamic:
            raise FitError(
                f"{self.model_key}: {what} of a new customer would ignore the time-varying "
                "covariates (they depend on when she joins); use predict_dynamic for the "
                "customers of a panel"
            )

    def tracking_curve(
        self,
        t: Any,
        join_times: Any,
        profile: Mapping[str, Any] | None = None,
        data: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """Expected cumulative repeat transactions by calendar time ``t`` of a cohort
        whose members made their first purchase at ``join_times``.

        With covariates or groups (a hierarchical fit), ``data`` (one row per customer,
        aligned with ``join_times``) gives every customer her own parameters; otherwise
        all customers have those of ``profile`` (as :meth:`expected_purchases`).
        """
        self._refuse_dynamic("tracking_curve")
        t = np.asarray(t, dtype=float)
        joins = np.asarray(join_times, dtype=float)
        if data is None or not self.has_patterns:
            params = self.profile_params(profile)
            return self._tracking(t, joins, params)
        first, codes = self._patterns(data)
        params = self.customer_params(data)
        total = np.zeros_like(t)
        for g, row in enumerate(first):  # one cohort curve per covariate pattern
            mine = codes == g
            own = {k: float(np.broadcast_to(v, joins.shape)[row]) for k, v in params.items()}
            total += self._tracking(t, joins[mine], own)
        return total

    def _tracking(self, t: np.ndarray, joins: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        """The tracking curve of one set of parameters (:mod:`clvmodels.models.cohort`)."""
        return cohort.expected_cumulative_transactions(
            lambda age: self.module.expected_purchases(age, **params), t, joins
        )


class BGNBD(PurchaseCountModel):
    """BG/NBD purchase and dropout model (Fader, Hardie & Lee 2005)."""

    model_key = "bgnbd"


class ParetoNBD(PurchaseCountModel):
    """Pareto/NBD model (Schmittlein, Morrison & Colombo 1987)."""

    model_key = "paretonbd"


class MBGNBD(PurchaseCountModel):
    """MBG/NBD model (Batislam, Denizel & Filiztekin 2007)."""

    model_key = "mbgnbd"


class NBD(PurchaseCountModel):
    """NBD model without dropout (Ehrenberg 1959): every customer stays active."""

    model_key = "nbd"


class GGompertzNBD(PurchaseCountModel):
    """GGompertz/NBD model (Bemmaor & Glady 2012): Gompertz lifetimes with gamma
    heterogeneity, Poisson purchases."""

    model_key = "ggompertz"


class BGBB(Estimator):
    """BG/BB discrete-time model (Fader, Hardie & Shang 2010); data: frequency, recency, n."""

    model_key = "bgbb"

    def predict_p_alive(self, data: pd.DataFrame) -> pd.Series:
        """P(alive at opportunity n + 1 | x, t_x, n)."""
        a, _ = frame_arrays(data, self.info.history, self.model_key, new_customers=True)
        values = self.module.probability_alive(
            a["frequency"], a["recency"], a["n"], **self._fitted()
        )
        return pd.Series(values, index=customer_index(data), name="p_alive")

    def predict_transactions(self, data: pd.DataFrame, n_star: int) -> pd.Series:
        """Expected transactions in the next ``n_star`` opportunities."""
        a, _ = frame_arrays(data, self.info.history, self.model_key, new_customers=True)
        values = self.module.conditional_expected_transactions(
            n_star, a["frequency"], a["recency"], a["n"], **self._fitted()
        )
        return pd.Series(values, index=customer_index(data), name="expected_purchases")

    def expected_transactions(self, n_star: Any) -> np.ndarray:
        """Expected transactions of a new customer in the first ``n_star`` opportunities."""
        return self.module.expected_transactions(np.asarray(n_star), **self._fitted())
