"""Thin scikit-learn-shaped estimators over :class:`clvmodels.results.FitResult`.

``fit(data)`` validates the canonical per-customer frame, hands the arrays to a
backend and returns ``self``; fitted attributes end in ``_`` (``result_``,
``params_``, ``log_likelihood_``, ``AIC_``, ``BIC_``).  Predictions delegate to the
pure functions of the model's module, so an estimator rebuilt from a saved result
predicts exactly like the one that was fitted.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from clvmodels.data.covariates import Covariates, covariate_frame, covariate_frame_like
from clvmodels.errors import DataError, FitError, ModelLoadError
from clvmodels.models import model_module
from clvmodels.models.links import effects_table, linked_params
from clvmodels.results import FitResult

CORRELATION_WARNING = 0.3


class ClvModelWarning(UserWarning):
    """A fit succeeded but a model assumption looks violated."""


class Estimator:
    """Base class: one probability model, fitted by the chosen backend.

    Parameters
    ----------
    backend
        ``"mle"`` (maximum likelihood) or ``"bayes"`` (PyMC).
    covariates
        Time-invariant customer covariates per process, e.g. ``{"purchase":
        ["loyalty_member", "channel"], "dropout": ["loyalty_member"]}``: columns of the
        frame given to :meth:`fit` (and to the predictions), one row per customer.
        Numeric columns enter as they are, booleans as 0/1, other columns as dummies of
        their levels against a reference level (:mod:`clvmodels.data.covariates`).  The
        processes of a model are the keys of its ``SPEC.covariate_links``: ``purchase``
        and ``dropout`` (BG/NBD, MBG/NBD, Pareto/NBD), ``spend`` (Gamma-Gamma),
        ``churn`` (sBG).  Fitted coefficients are named ``parameter:covariate``.
    reference
        Reference level per categorical covariate (default: first in sorted order).
    **options
        Passed to the backend (MLE: ``init``, ``max_iter``; Bayes: ``priors``,
        ``method``, ``sampler``, ``draws``, ``tune``, ``chains``, ``cores``,
        ``target_accept``, ``seed``, ``progress``, ``ess_floor``; see
        :func:`clvmodels.backends.bayes.fit_bayes`).
    """

    model_key: ClassVar[str]

    def __init__(
        self,
        backend: str = "mle",
        *,
        covariates: Mapping[str, Sequence[str]] | None = None,
        reference: Mapping[str, str] | None = None,
        **options: Any,
    ) -> None:
        self.backend = backend
        self.covariates = covariates
        self.reference = reference
        self.options = options

    # ------------------------------------------------------------------ fitting
    @property
    def module(self) -> Any:
        """The model's math module."""
        return model_module(self.model_key)

    def fit(self, data: pd.DataFrame, *, time_unit: str | None = None) -> Self:
        """Fit on the canonical per-customer frame (a ``count`` column acts as weights)."""
        spec = self.module.SPEC
        arrays, weights = frame_arrays(data, spec.data_columns, self.model_key)
        self._check_data(arrays)
        unit = time_unit if time_unit is not None else _frame_time_unit(data)
        design, links = self._covariate_links(data)
        if links is not None:
            self.options = {**self.options, "covariates": links}
        try:
            result = self._run_backend(spec, arrays, weights, unit)
        finally:
            self.options.pop("covariates", None)
        if design is not None:
            result.covariate_encoding = design.encoding()
        self._set_result(result)
        n_rows = len(arrays[spec.data_columns[0]])
        self._after_fit(arrays, np.ones(n_rows) if weights is None else weights)
        return self

    def _covariate_links(self, data: pd.DataFrame) -> tuple[Covariates | None, Any]:
        """The design of the fit's covariates and their links (``None`` without)."""
        chosen = {p: list(c) for p, c in (self.covariates or {}).items() if c}
        if not chosen:
            return None, None
        from clvmodels.backends.mle import CovariateLinks

        spec = self.module.SPEC
        for process, columns in chosen.items():
            if process not in spec.covariate_links:
                known = ", ".join(spec.covariate_links) or "none"
                raise FitError(
                    f"{self.model_key}: covariates.{process}: the model has no such process "
                    f"taking covariates (processes: {known})"
                )
            if isinstance(columns, str):
                raise FitError(
                    f"{self.model_key}: covariates.{process}: expected a list of columns, "
                    f"got {columns!r}"
                )
        columns = list(dict.fromkeys(c for cols in chosen.values() for c in cols))
        design = covariate_frame(
            data, columns, source_name=f"{self.model_key} covariates", reference=self.reference
        )
        processes = {
            p: tuple(n for c in cols for n in design.design_names(c)) for p, cols in chosen.items()
        }
        return design, CovariateLinks.build(spec, design.names, design.matrix, processes)

    def _run_backend(
        self,
        spec: Any,
        arrays: dict[str, np.ndarray],
        weights: np.ndarray | None,
        unit: str | None,
    ) -> FitResult:
        if self.backend == "mle":
            from clvmodels.backends.mle import fit_mle

            allowed = {"init", "max_iter", "covariates"}
            unknown = set(self.options) - allowed
            if unknown:
                raise FitError(
                    f"{self.model_key}: unknown MLE option(s) {', '.join(sorted(unknown))}"
                )
            return fit_mle(spec, arrays, weights, time_unit=unit, **self.options)
        elif self.backend == "bayes":
            from clvmodels.backends.bayes import fit_bayes

            allowed = {
                "priors",
                "method",
                "sampler",
                "draws",
                "tune",
                "chains",
                "cores",
                "target_accept",
                "seed",
                "progress",
                "ess_floor",
                "covariates",
            }
            unknown = set(self.options) - allowed
            if unknown:
                raise FitError(
                    f"{self.model_key}: unknown Bayesian option(s) {', '.join(sorted(unknown))}"
                )
            return fit_bayes(spec, arrays, weights, time_unit=unit, **self.options)
        raise FitError(f"{self.model_key}: unknown backend {self.backend!r}; use 'mle' or 'bayes'")

    def _check_data(self, arrays: dict[str, np.ndarray]) -> None:
        """Model-specific data checks (overridden)."""

    def _after_fit(self, arrays: dict[str, np.ndarray], weights: np.ndarray) -> None:
        """Model-specific reporting after a fit (overridden)."""

    def _set_result(self, result: FitResult) -> None:
        if result.model != self.model_key:
            raise ModelLoadError(
                f"the saved model is a {result.model!r} model, not {self.model_key!r}"
            )
        self.result_ = result
        self.params_ = dict(result.params)
        self.log_likelihood_ = result.log_likelihood
        self.AIC_ = result.aic
        self.BIC_ = result.bic

    @classmethod
    def from_result(cls, result: FitResult) -> Self:
        """An estimator wrapping an existing result (e.g. loaded from disk)."""
        estimator = cls(backend=result.backend)
        estimator._set_result(result)
        return estimator

    def _fitted(self) -> dict[str, float]:
        """The model's parameters: with covariates, those of a customer whose covariates
        are all zero (the reference level of every categorical covariate)."""
        if not hasattr(self, "result_"):
            raise FitError(f"{type(self).__name__} is not fitted yet: call fit(data) first")
        return {k: v for k, v in self.params_.items() if k not in self.result_.coefficients}

    @property
    def has_covariates(self) -> bool:
        """Whether the fitted model has covariate coefficients."""
        return bool(getattr(self, "result_", None) and self.result_.coefficients)

    def customer_params(self, data: pd.DataFrame) -> dict[str, Any]:
        """Each customer's parameters: the fitted ones, or with covariates those of the
        customer's covariate values in ``data`` (arrays over its rows; Fader & Hardie
        2007, note 019: ``θ_i = θ₀ exp(±γ′z_i)``)."""
        self._fitted()
        if not self.has_covariates:
            return self._fitted()
        design = self.design(data)
        return linked_params(
            self.module.SPEC, self.params_, dict(zip(design.names, design.matrix.T, strict=True))
        )

    def design(self, data: pd.DataFrame) -> Covariates:
        """The fitted covariates' design columns for the customers of ``data``."""
        encoding = self.result_.covariate_encoding
        if encoding is None:
            raise FitError(f"{self.model_key}: the model was fitted without covariates")
        return covariate_frame_like(encoding, data, source_name=f"{self.model_key} covariates")

    def profile_params(self, profile: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Parameters of a customer with covariate values ``profile`` (a mapping of
        covariate column to value; ``None``: the reference customer)."""
        if profile is None or not self.has_covariates:
            return self._fitted()
        frame = pd.DataFrame({k: [v] for k, v in profile.items()})
        return {
            k: float(np.asarray(v).reshape(-1)[0]) for k, v in self.customer_params(frame).items()
        }

    def covariate_effects(self, level: float = 0.95) -> pd.DataFrame:
        """The covariate coefficients with intervals and the factor each puts on its
        parameter (:func:`clvmodels.models.links.effects_table`)."""
        self._fitted()
        return effects_table(self.module.SPEC, self.result_, level)

    # ------------------------------------------------------------------ reporting
    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Parameter table with standard errors and intervals."""
        self._fitted()
        return self.result_.summary(level)

    def save(self, path: str | Path) -> None:
        """Save the fitted model as JSON (records version, model, time unit, data fingerprint)."""
        self._fitted()
        self.result_.save(path)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Load a model saved with :meth:`save`; a file of another model is an error."""
        result = FitResult.load(path)
        if result.model != cls.model_key:
            raise ModelLoadError(f"{path}: holds a {result.model!r} model, not {cls.model_key!r}")
        return cls.from_result(result)

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            return f"{type(self).__name__}({inner})"
        return f"{type(self).__name__}(backend={self.backend!r})"


class _PurchaseCountModel(Estimator):
    """Shared interface of the continuous-time purchase models (BG/NBD, Pareto/NBD, MBG/NBD)."""

    def expected_purchases(self, t: Any, profile: Mapping[str, Any] | None = None) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer in (0, t] (with
        covariates: of a customer with covariate values ``profile``, e.g.
        ``{"loyalty_member": True, "channel": "web"}``; default the reference customer)."""
        params = self.profile_params(profile)
        return self.module.expected_purchases(np.asarray(t, dtype=float), **params)

    def probability_of_purchases(
        self, x: Any, t: Any, profile: Mapping[str, Any] | None = None
    ) -> np.ndarray:
        """P(X(t) = x) for a new customer (``profile``: as :meth:`expected_purchases`)."""
        return self.module.probability_of_purchases(
            np.asarray(x, dtype=float), np.asarray(t, dtype=float), **self.profile_params(profile)
        )

    def predict_purchases(self, data: pd.DataFrame, t: float) -> pd.Series:
        """Expected purchases in (T, T + t] given each customer's (frequency, recency, T)."""
        arrays, _ = frame_arrays(data, ("frequency", "recency", "T"), self.model_key)
        values = self.module.conditional_expected_purchases(
            float(t),
            arrays["frequency"],
            arrays["recency"],
            arrays["T"],
            **self.customer_params(data),
        )
        return pd.Series(values, index=data.index, name="expected_purchases")

    def predict_p_alive(self, data: pd.DataFrame) -> pd.Series:
        """P(alive | frequency, recency, T) per customer."""
        arrays, _ = frame_arrays(data, ("frequency", "recency", "T"), self.model_key)
        values = self.module.probability_alive(
            arrays["frequency"], arrays["recency"], arrays["T"], **self.customer_params(data)
        )
        return pd.Series(values, index=data.index, name="p_alive")

    def tracking_curve(
        self,
        t: Any,
        join_times: Any,
        profile: Mapping[str, Any] | None = None,
        data: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """Expected cumulative repeat transactions by calendar time ``t`` of a cohort
        whose members made their first purchase at ``join_times``.

        With covariates, ``data`` (one row per customer, aligned with ``join_times``)
        gives every customer her own parameters; otherwise all customers have those of
        ``profile`` (as :meth:`expected_purchases`).
        """
        t = np.asarray(t, dtype=float)
        joins = np.asarray(join_times, dtype=float)
        if data is None or not self.has_covariates:
            params = self.profile_params(profile)
            return self.module.expected_cumulative_transactions(t, joins, **params)
        design = self.design(data).matrix
        _, first, codes = np.unique(design, axis=0, return_index=True, return_inverse=True)
        codes = np.asarray(codes).reshape(-1)
        params = self.customer_params(data)
        total = np.zeros_like(t)
        for g, row in enumerate(first):  # one cohort curve per covariate pattern
            mine = codes == g
            own = {k: float(np.broadcast_to(v, joins.shape)[row]) for k, v in params.items()}
            total += self.module.expected_cumulative_transactions(t, joins[mine], **own)
        return total

    def _check_data(self, arrays: dict[str, np.ndarray]) -> None:
        _check_rfm(arrays, self.model_key)


class BGNBD(_PurchaseCountModel):
    """BG/NBD purchase and dropout model (Fader, Hardie & Lee 2005)."""

    model_key = "bgnbd"


class ParetoNBD(_PurchaseCountModel):
    """Pareto/NBD model (Schmittlein, Morrison & Colombo 1987)."""

    model_key = "paretonbd"


class MBGNBD(_PurchaseCountModel):
    """MBG/NBD model (Batislam, Denizel & Filiztekin 2007)."""

    model_key = "mbgnbd"


class BGBB(Estimator):
    """BG/BB discrete-time model (Fader, Hardie & Shang 2010); data: frequency, recency, n."""

    model_key = "bgbb"

    def predict_p_alive(self, data: pd.DataFrame) -> pd.Series:
        """P(alive at opportunity n + 1 | x, t_x, n)."""
        a, _ = frame_arrays(data, ("frequency", "recency", "n"), self.model_key)
        values = self.module.probability_alive(
            a["frequency"], a["recency"], a["n"], **self._fitted()
        )
        return pd.Series(values, index=data.index, name="p_alive")

    def predict_transactions(self, data: pd.DataFrame, n_star: int) -> pd.Series:
        """Expected transactions in the next ``n_star`` opportunities."""
        a, _ = frame_arrays(data, ("frequency", "recency", "n"), self.model_key)
        values = self.module.conditional_expected_transactions(
            n_star, a["frequency"], a["recency"], a["n"], **self._fitted()
        )
        return pd.Series(values, index=data.index, name="expected_purchases")

    def expected_transactions(self, n_star: Any) -> np.ndarray:
        """Expected transactions of a new customer in the first ``n_star`` opportunities."""
        return self.module.expected_transactions(np.asarray(n_star), **self._fitted())

    def _check_data(self, arrays: dict[str, np.ndarray]) -> None:
        x, tx, n = arrays["frequency"], arrays["recency"], arrays["n"]
        _first_bad(x < 0, "frequency", "is negative")
        _first_bad(x > tx + 1e-9, "frequency", "exceeds recency (the last opportunity bought)")
        _first_bad(tx > n + 1e-9, "recency", "exceeds n (the number of opportunities)")
        _first_bad((x == 0) & (tx != 0), "recency", "must be 0 when frequency is 0")
        _first_bad((x != np.round(x)) | (n != np.round(n)), "frequency/n", "must be whole numbers")


class GammaGamma(Estimator):
    """Gamma-Gamma spend-per-order model (Fader, Hardie & Lee 2005, JMR); repeat buyers only."""

    model_key = "gamma_gamma"

    def _check_data(self, arrays: dict[str, np.ndarray]) -> None:
        repeat = arrays["frequency"] > 0
        _first_bad(
            repeat & ~(arrays["monetary_value"] > 0),
            "monetary_value",
            "must be positive for customers with repeat purchases",
        )
        if not repeat.any():
            raise DataError("frequency: no customer has a repeat purchase; Gamma-Gamma needs some")

    def _after_fit(self, arrays: dict[str, np.ndarray], weights: np.ndarray) -> None:
        repeat = arrays["frequency"] > 0
        x, m, w = arrays["frequency"][repeat], arrays["monetary_value"][repeat], weights[repeat]
        corr = _weighted_corr(x, m, w)
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
        params = self.customer_params(data)
        if np.min(params["q"]) <= 1:
            raise FitError(
                f"gamma_gamma: q = {float(np.min(params['q'])):.3g} <= 1, so the expected "
                "spend per order is infinite; the spend data are too heavy-tailed for this model"
            )
        a, _ = frame_arrays(data, ("frequency", "monetary_value"), self.model_key)
        values = self.module.conditional_expected_average_order_value(
            a["frequency"], a["monetary_value"], **params
        )
        return pd.Series(values, index=data.index, name="expected_spend")


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
        if not self.has_covariates:
            return self.survival(t)
        design = self.design(data).matrix
        weights = data["count"].to_numpy(float) if "count" in data else np.ones(len(data))
        _, first, codes = np.unique(design, axis=0, return_index=True, return_inverse=True)
        share = np.bincount(np.asarray(codes).reshape(-1), weights=weights) / weights.sum()
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

    def _check_data(self, arrays: dict[str, np.ndarray]) -> None:
        tenure, churned = arrays["tenure"], arrays["churned"]
        _first_bad(tenure < 0, "tenure", "is negative")
        _first_bad(tenure != np.round(tenure), "tenure", "must be a whole number of periods")
        _first_bad(~np.isin(churned, (0.0, 1.0)), "churned", "must be 0/1 or true/false")


ESTIMATORS: dict[str, type[Estimator]] = {
    cls.model_key: cls for cls in (BGNBD, ParetoNBD, MBGNBD, BGBB, GammaGamma, SBG)
}


def frame_arrays(
    data: pd.DataFrame, columns: tuple[str, ...], model_key: str
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Numeric arrays of ``columns`` (plus ``count`` weights if present), validated."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{model_key}: expected a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        have = ", ".join(map(str, data.columns))
        raise DataError(f"{model_key}: column {missing[0]!r} is missing (have: {have})")
    if len(data) == 0:
        raise DataError(f"{model_key}: the data frame has no rows")
    arrays = {}
    for column in columns:
        values = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raw = data[column].iloc[row]
            shown = repr(raw) if isinstance(raw, str) else str(raw)
            raise DataError(f"column {column!r}: row {row} is {shown}, expected a finite number")
        arrays[column] = values
    weights = None
    if "count" in data.columns:
        weights = pd.to_numeric(data["count"], errors="coerce").to_numpy(dtype=float)
        bad = ~(np.isfinite(weights) & (weights > 0))
        if bad.any():
            raise DataError(f"column 'count': row {int(np.argmax(bad))} must be a positive number")
    return arrays, weights


def _check_rfm(arrays: dict[str, np.ndarray], model_key: str) -> None:
    x, tx, big_t = arrays["frequency"], arrays["recency"], arrays["T"]
    _first_bad(x < 0, "frequency", "is negative")
    _first_bad(x != np.round(x), "frequency", "must be a whole number of repeat purchases")
    _first_bad(tx < 0, "recency", "is negative")
    _first_bad(big_t <= 0, "T", "must be positive")
    _first_bad(tx > big_t * (1 + 1e-9) + 1e-12, "recency", "exceeds T")


def _first_bad(mask: np.ndarray, column: str, problem: str) -> None:
    if np.any(mask):
        raise DataError(f"column {column!r}: row {int(np.argmax(mask))} {problem}")


def _weighted_corr(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    if len(x) < 2 or w.sum() <= 0:
        return math.nan
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cov = np.average((x - mx) * (y - my), weights=w)
    vx, vy = np.average((x - mx) ** 2, weights=w), np.average((y - my) ** 2, weights=w)
    if vx <= 0 or vy <= 0:
        return math.nan
    return float(cov / math.sqrt(vx * vy))


def _frame_time_unit(data: pd.DataFrame) -> str | None:
    meta = data.attrs.get("clvmodels")
    if isinstance(meta, dict):
        unit = meta.get("time_unit")
        return str(unit) if unit is not None else None
    return None
