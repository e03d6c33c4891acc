"""The estimator base class: fitting through a backend, covariates, persistence.

``fit(data)`` validates the canonical per-customer frame, hands the arrays to a
backend and returns ``self``; fitted attributes end in ``_`` (``result_``,
``params_``, ``log_likelihood_``, ``AIC_``, ``BIC_``).  Predictions (in the subclasses)
delegate to the pure functions of the model's module, so an estimator rebuilt from a
saved result predicts exactly like the one that was fitted.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd

from clvmodels.backends.design import CovariateLinks
from clvmodels.data.covariates import Covariates, covariate_frame, covariate_frame_like
from clvmodels.errors import FitError, ModelLoadError
from clvmodels.estimators.effects import effects_table
from clvmodels.estimators.frames import frame_arrays, frame_time_unit
from clvmodels.estimators.groups import group_table
from clvmodels.estimators.patterns import (
    Patterns,
    at_patterns,
    customer_patterns,
    group_labels,
    hierarchy_settings,
    level_index,
    params_per_pattern,
    unseen_levels,
)
from clvmodels.estimators.regularize import check_regularization, penalty_options
from clvmodels.machine import keep_freed_memory
from clvmodels.models import ModelInfo, model_info, model_module
from clvmodels.models.groups import hierarchy_names
from clvmodels.results import FitResult

if TYPE_CHECKING:
    from clvmodels.data.dynamic import DynamicPanel

_DATA_ARGUMENTS = {"spec", "data", "weights", "time_unit", "covariates", "penalty"}
_DATA_ARGUMENTS |= {"groups", "group_column", "parameters"}
"""Arguments of a backend's fit function that the estimator fills in itself (the
covariates from its ``covariates`` argument, the penalty from its ``penalty``, the
groups from its ``hierarchy``)."""


def _hierarchical_fit() -> tuple[Callable[..., FitResult], str]:
    """The hierarchical Bayesian fit (imported on first use: it needs PyMC)."""
    from clvmodels.backends.hierarchy import fit_hierarchical

    return fit_hierarchical, "hierarchical Bayesian"


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
    dynamic_covariates
        Time-varying covariates per process (Pareto/NBD: ``purchase`` and ``dropout``;
        BG/NBD: ``purchase``), e.g. ``{"purchase": ["high_season", "spring_sale"]}``:
        columns of the :class:`~clvmodels.data.dynamic.DynamicPanel` given to :meth:`fit`
        and the predictions as ``dynamic=`` (Bachmann, Meierer & Näf 2021;
        :mod:`clvmodels.estimators.dynamic`).  Coefficients are named
        ``process:covariate``; a one-unit covariate multiplies that process's rate by
        ``exp(coefficient)``.
    constraints
        Parameters sharing one coefficient per covariate, e.g. ``[["a", "b"]]``
        (:func:`clvmodels.backends.design.tie_coefficients`).
    penalty
        L2 penalty ``λ`` on the covariate coefficients: a number, or ``"auto"`` to choose
        it by cross-validation (MLE; :mod:`clvmodels.estimators.regularize`).  With
        ``backend="bayes"`` a number sets the coefficients' priors to the matching
        ``Normal(0, 1/√(2λ))``.
    hierarchy
        Groups of customers whose parameters are partially pooled: ``{"group":
        "country"}`` (or just ``"country"``), a column of the frame given to :meth:`fit`
        and to the predictions; optionally ``"parameters": [...]``, the parameters drawn
        per group (default all).  Bayesian backend only
        (:mod:`clvmodels.backends.hierarchy`); BG/NBD, Pareto/NBD, Gamma-Gamma and sBG
        (cohorts as groups).  Each customer is predicted with her group's parameters
        (:meth:`customer_params`); :meth:`group_effects` tabulates them.
    **options
        Passed to the backend (MLE: ``init``, ``max_iter``; Bayes: ``priors``, ``method``,
        ``sampler``, ``draws``, ``tune``, ``chains``, ``cores``, ``target_accept``,
        ``seed``, ``progress``, ``ess_floor``: :func:`clvmodels.backends.bayes.fit_bayes`).

    Examples
    --------
    >>> from clvmodels import BGNBD, data  # FHL 2005 on CDNOW: r .243, α 4.414, a .793, b 2.426
    >>> cdnow = data.summarize_transactions("builtin:cdnow_sample", calibration_end="1997-09-30")
    >>> model = BGNBD().fit(cdnow)
    >>> {name: round(value, 3) for name, value in model.params_.items()}
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    >>> round(model.predict_purchases(cdnow, 39).sum())  # in the next 39 weeks (1,882 came)
    1653
    """

    model_key: ClassVar[str]
    own_options: ClassVar[tuple[str, ...]] = ()  # model options no backend takes (CNBD's k)

    def __init__(
        self,
        backend: str = "mle",
        *,
        covariates: Mapping[str, Sequence[str]] | None = None,
        reference: Mapping[str, str] | None = None,
        dynamic_covariates: Mapping[str, Sequence[str]] | None = None,
        constraints: Sequence[Sequence[str]] | None = None,
        penalty: float | str | None = None,
        hierarchy: Mapping[str, Any] | str | None = None,
        **options: Any,
    ) -> None:
        self.backend = backend
        self.covariates = covariates
        self.reference = reference
        self.dynamic_covariates = dynamic_covariates
        self.constraints = constraints
        self.penalty = penalty
        self.hierarchy = hierarchy
        self.options = options

    def clone(self) -> Self:
        """A new, unfitted estimator with the same settings (as scikit-learn's
        ``clone``), e.g. to refit the same model on other data."""
        return type(self)(
            self.backend,
            covariates=self.covariates,
            reference=self.reference,
            dynamic_covariates=self.dynamic_covariates,
            constraints=self.constraints,
            penalty=self.penalty,
            hierarchy=self.hierarchy,
            **self.options,
        )

    # ------------------------------------------------------------------ fitting
    @property
    def module(self) -> Any:
        """The model's math module."""
        return model_module(self.model_key)

    @property
    def info(self) -> ModelInfo:
        """The model's registry entry (:data:`clvmodels.models.REGISTRY`)."""
        return model_info(self.model_key)

    def fit(
        self,
        data: pd.DataFrame,
        *,
        time_unit: str | None = None,
        dynamic: DynamicPanel | None = None,
    ) -> Self:
        """Fit on the canonical per-customer frame (a ``count`` column acts as weights).

        The histories are checked as everywhere (``check_histories``), with ``T > 0``:
        customers new on the last day carry no information for a fit.  With
        ``dynamic_covariates``, ``dynamic`` is the customers' panel of time-varying
        covariates (:func:`clvmodels.estimators.dynamic.fit_dynamic`).  With a
        ``hierarchy``, ``data`` holds the group column too.  The first fit of a process
        has glibc keep freed memory for the next arrays
        (:func:`clvmodels.machine.keep_freed_memory`).
        """
        keep_freed_memory()
        groups = self._hierarchy_groups(data, dynamic)
        if self.dynamic_covariates or dynamic is not None:
            return self._fit_dynamic(data, time_unit, dynamic)
        spec = self.module.SPEC
        arrays, weights = frame_arrays(data, spec.data_columns, self.model_key)
        self._check_data(data, arrays)
        unit = time_unit if time_unit is not None else frame_time_unit(data)
        design, links = self._covariate_links(data)
        result = self._run_backend(spec, arrays, weights, unit, links, groups)
        if design is not None:
            result.covariate_encoding = design.encoding()
        self._set_result(result)
        n_rows = len(arrays[spec.data_columns[0]])
        self._after_fit(arrays, np.ones(n_rows) if weights is None else weights)
        return self

    def _hierarchy_groups(
        self, data: pd.DataFrame, dynamic: DynamicPanel | None
    ) -> dict[str, Any] | None:
        """The backend's group arguments of a hierarchical fit (``groups``: each row's
        level, ``group_column``, ``parameters``), or ``None`` without a hierarchy."""
        if self.hierarchy is None:
            return None
        column, parameters = hierarchy_settings(self.model_key, self.hierarchy)
        if self.backend != "bayes":
            raise FitError(
                f"{self.model_key}: hierarchy needs backend='bayes' (partial pooling of the "
                f"groups is a Bayesian model), got backend={self.backend!r}"
            )
        if self.dynamic_covariates or dynamic is not None:
            raise FitError(
                f"{self.model_key}: hierarchy and dynamic_covariates together are not supported"
            )
        labels = group_labels(data, column)
        return {"groups": labels, "group_column": column, "parameters": parameters}

    def _fit_dynamic(
        self, data: pd.DataFrame, time_unit: str | None, dynamic: DynamicPanel | None
    ) -> Self:
        if not self.dynamic_covariates:
            raise FitError(
                f"{self.model_key}: a dynamic covariate panel was given but no "
                "dynamic_covariates={'purchase': [...], ...} say which covariates to use"
            )
        if any(self.covariates.values() if self.covariates else ()):
            raise FitError(
                f"{self.model_key}: covariates and dynamic_covariates together are not "
                "supported; put customer-level covariates in the dynamic covariate table"
            )
        from clvmodels.estimators.dynamic import fit_dynamic  # only dynamic fits need it

        unit = time_unit if time_unit is not None else frame_time_unit(data)
        result = fit_dynamic(
            self.model_key,
            self.backend,
            self.options,
            data,
            dynamic,
            self.dynamic_covariates,
            unit,
        )
        self._set_result(result)
        return self

    @property
    def is_dynamic(self) -> bool:
        """Whether the fitted model has time-varying covariates."""
        return bool(getattr(self, "result_", None) and self.result_.dynamic_covariates)

    def _covariate_links(
        self, data: pd.DataFrame
    ) -> tuple[Covariates | None, CovariateLinks | None]:
        """The design of the fit's covariates and their links (``None`` without)."""
        spec = self.module.SPEC
        given = {p: c for p, c in (self.covariates or {}).items() if c}
        for process, columns in given.items():
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
        chosen = {p: list(c) for p, c in given.items()}
        if not chosen:
            check_regularization(self.model_key, self.constraints, self.penalty, False)
            return None, None
        columns = list(dict.fromkeys(c for cols in chosen.values() for c in cols))
        design = covariate_frame(
            data, columns, source_name=f"{self.model_key} covariates", reference=self.reference
        )
        processes = {
            p: tuple(n for c in cols for n in design.design_names(c)) for p, cols in chosen.items()
        }
        links = CovariateLinks.build(
            spec, design.names, design.matrix, processes, self.constraints or ()
        )
        return design, links

    def _run_backend(
        self,
        spec: Any,
        arrays: dict[str, np.ndarray],
        weights: np.ndarray | None,
        unit: str | None,
        links: CovariateLinks | None,
        groups: Mapping[str, Any] | None = None,
    ) -> FitResult:
        return self._call_backend(
            self.backend, self._backend_options(), spec, arrays, weights, unit, links, groups
        )

    def _call_backend(
        self,
        backend: str,
        given: Mapping[str, Any],
        spec: Any,
        arrays: dict[str, np.ndarray],
        weights: np.ndarray | None,
        unit: str | None,
        links: CovariateLinks | None,
        groups: Mapping[str, Any] | None = None,
    ) -> FitResult:
        """Fit ``spec`` with ``backend`` and its options ``given`` (checked by name); with
        ``groups`` (:meth:`_hierarchy_groups`) the hierarchical Bayesian model."""
        fit, label = self._backend_fit(backend) if groups is None else _hierarchical_fit()
        allowed = set(inspect.signature(fit).parameters) - _DATA_ARGUMENTS
        unknown = set(given) - allowed
        allowed |= set(self.own_options)
        if unknown:
            raise FitError(
                f"{self.model_key}: unknown {label} option(s) {', '.join(sorted(unknown))} "
                f"(allowed: {', '.join(sorted(allowed)) or 'none'})"
            )
        options = {**given, **({} if links is None else {"covariates": links})}
        options = penalty_options(self.model_key, backend, self.penalty, options, links)
        return fit(spec, arrays, weights, time_unit=unit, **options, **(groups or {}))

    def _backend_options(self) -> dict[str, Any]:
        """The options handed to the backend: all but :attr:`own_options`."""
        return {k: v for k, v in self.options.items() if k not in self.own_options}

    def _backend_fit(self, backend: str) -> tuple[Callable[..., FitResult], str]:
        """The fit function of ``backend`` (imported on first use) and its label."""
        if backend == "mle":
            from clvmodels.backends.mle import fit_mle

            return fit_mle, "MLE"
        if backend == "bayes":
            from clvmodels.backends.bayes import fit_bayes

            return fit_bayes, "Bayesian"
        raise FitError(f"{self.model_key}: unknown backend {backend!r}; use 'mle' or 'bayes'")

    def _check_data(self, data: pd.DataFrame, arrays: dict[str, np.ndarray]) -> None:
        """Model-specific data checks of a fit's ``data`` (overridden)."""

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
        are all zero (the reference level of every categorical covariate); in a
        hierarchical fit the population medians."""
        if not hasattr(self, "result_"):
            raise FitError(f"{type(self).__name__} is not fitted yet: call fit(data) first")
        result = self.result_
        other = {*result.coefficients, *result.tied}
        if result.hierarchy:
            other |= set(
                hierarchy_names(result.hierarchy["parameters"], result.hierarchy["levels"])
            )
        return {k: v for k, v in self.params_.items() if k not in other}

    @property
    def has_covariates(self) -> bool:
        """Whether the fitted model has covariate coefficients."""
        return bool(getattr(self, "result_", None) and self.result_.coefficients)

    @property
    def is_hierarchical(self) -> bool:
        """Whether the fitted model has parameters per group (a ``hierarchy``)."""
        return bool(getattr(self, "result_", None) and self.result_.hierarchy)

    @property
    def has_patterns(self) -> bool:
        """Whether customers' parameters differ: by covariates or by group."""
        return self.has_covariates or self.is_hierarchical

    def customer_params(self, data: pd.DataFrame) -> dict[str, Any]:
        """Each customer's parameters (arrays over the rows of ``data``): the fitted ones;
        with covariates those of her covariate values (Fader & Hardie 2007, note 019:
        ``θ_i = θ₀ exp(±γ′z_i)``); in a hierarchical fit her group's ``θ[g]`` (times the
        covariate link), the population median for a group the fit did not see (with a
        :class:`ClvModelWarning`)."""
        self._fitted()
        if not self.has_patterns:
            return self._fitted()
        patterns = self.patterns(data)
        return at_patterns(self.pattern_params(patterns, self.params_), patterns.codes)

    def patterns(self, data: pd.DataFrame, *, population: bool = False) -> Patterns:
        """The patterns (covariate values and group) of ``data``'s customers
        (:mod:`clvmodels.estimators.patterns`); ``population``: customers of the
        population's median group when ``data`` has no group column (a profile)."""
        levels = None
        hierarchy = self.result_.hierarchy
        if hierarchy:
            if population and hierarchy["group"] not in data.columns:
                levels = np.full(len(data), len(hierarchy["levels"]))
            else:
                labels = group_labels(data, hierarchy["group"])
                levels = level_index(hierarchy, labels)
                unseen = unseen_levels(hierarchy, labels, levels, self.model_key)
                if unseen:
                    warnings.warn(unseen, ClvModelWarning, stacklevel=3)
        if not self.has_covariates:
            return customer_patterns(levels, None)
        design = self.design(data)
        return customer_patterns(levels, design.matrix, design.names)

    def pattern_params(self, patterns: Patterns, params: Mapping[str, Any]) -> dict[str, Any]:
        """The model's parameters per pattern of ``patterns`` (last axis) from fitted
        ``params`` or draws of them (:func:`clvmodels.estimators.patterns.params_per_pattern`)."""
        result = self.result_
        return params_per_pattern(self.module.SPEC, params, patterns, result.hierarchy, result.tied)

    def design(self, data: pd.DataFrame) -> Covariates:
        """The fitted covariates' design columns for the customers of ``data``."""
        encoding = self.result_.covariate_encoding
        if encoding is None:
            raise FitError(f"{self.model_key}: the model was fitted without covariates")
        return covariate_frame_like(encoding, data, source_name=f"{self.model_key} covariates")

    def _patterns(self, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The patterns of ``data``'s customers: the row of the first customer of each
        distinct pattern, and each customer's pattern code."""
        patterns = self.patterns(data)
        return patterns.first, patterns.codes

    def profile_params(self, profile: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Parameters of a customer with covariate values ``profile`` (a mapping of
        covariate column to value; ``None``: the reference customer).  In a hierarchical
        fit the profile may name the group column (default: the population medians)."""
        if profile is None or not self.has_patterns:
            return self._fitted()
        frame = pd.DataFrame({k: [v] for k, v in profile.items()})
        patterns = self.patterns(frame, population=True)
        params = at_patterns(self.pattern_params(patterns, self.params_), patterns.codes)
        return {k: float(np.asarray(v).reshape(-1)[0]) for k, v in params.items()}

    def group_effects(self, level: float = 0.95) -> pd.DataFrame:
        """Each group's parameters against the population's, with intervals
        (:func:`clvmodels.estimators.groups.group_table`)."""
        self._fitted()
        return group_table(self.result_, level)

    def covariate_effects(self, level: float = 0.95) -> pd.DataFrame:
        """The covariate coefficients with intervals and the factor each puts on its
        parameter (:func:`clvmodels.estimators.effects.effects_table`)."""
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
