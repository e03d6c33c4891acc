"""Thin scikit-learn-shaped estimators over :class:`clvmodels.results.FitResult`.

One estimator per model of the registry (:data:`clvmodels.models.REGISTRY`):
:class:`BGNBD`, :class:`ParetoNBD`, :class:`MBGNBD`, :class:`BGBB`, :class:`NBD`,
:class:`BGCNBD`, :class:`MBGCNBD`, :class:`GGompertzNBD` and :class:`ParetoGGG` (purchases),
:class:`GammaGamma` (spend), :class:`SBG` (retention).  ``fit(data)`` returns the
estimator; fitted attributes end in ``_``; predictions are the model module's pure
functions (:mod:`clvmodels.estimators.base`).  :func:`fit` and :func:`load_model` (also
``clvmodels.fit`` and ``clvmodels.load_model``) pick the estimator by its registry key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clvmodels.errors import FitError, ModelLoadError
from clvmodels.estimators.base import ClvModelWarning, Estimator
from clvmodels.estimators.frames import frame_arrays
from clvmodels.estimators.purchase import BGBB, BGNBD, MBGNBD, NBD, GGompertzNBD, ParetoNBD
from clvmodels.estimators.regularity import BGCNBD, MBGCNBD, ParetoGGG
from clvmodels.estimators.retention import SBG
from clvmodels.estimators.spend import GammaGamma
from clvmodels.models import model_keys
from clvmodels.results import FitResult

if TYPE_CHECKING:
    import pandas as pd

_BY_KEY = {
    cls.model_key: cls
    for cls in (
        BGNBD,
        ParetoNBD,
        MBGNBD,
        BGBB,
        NBD,
        BGCNBD,
        MBGCNBD,
        GGompertzNBD,
        ParetoGGG,
        GammaGamma,
        SBG,
    )
}

ESTIMATORS: dict[str, type[Estimator]] = {key: _BY_KEY[key] for key in model_keys()}
"""The estimator of every registered model, in registry order."""


def fit(model: str, data: pd.DataFrame, backend: str | None = None, **options: Any) -> Estimator:
    """Fit model ``model`` on a canonical per-customer frame and return the fitted estimator.

    Parameters
    ----------
    model
        One of ``bgnbd, paretonbd, mbgnbd, bgbb, nbd, bgcnbd, mbgcnbd, ggompertz,
        paretoggg, gamma_gamma, sbg`` (:data:`clvmodels.models.REGISTRY`).
    data
        Per-customer frame (``frequency, recency, T[, monetary_value][, count]`` for the
        purchase models, plus ``litt`` for the BG/CNBD-k, MBG/CNBD-k and Pareto/GGG;
        ``frequency, recency, n[, count]`` for BG/BB; ``tenure, churned[, count]`` for sBG).
    backend
        ``"mle"`` or ``"bayes"``; default the model's own (``"bayes"`` for the
        Pareto/GGG, which has no closed-form likelihood; ``"mle"`` otherwise).
    **options
        Backend options (MLE: ``init``, ``max_iter``) and model options (BG/CNBD-k,
        MBG/CNBD-k: ``k`` or ``max_k``).
    """
    try:
        cls = ESTIMATORS[model]
    except KeyError:
        raise FitError(f"unknown model {model!r}; choose from {', '.join(ESTIMATORS)}") from None
    if backend is not None:
        options["backend"] = backend
    return cls(**options).fit(data)


def load_model(path: str) -> Estimator:
    """Load any saved model; the file says which estimator it is."""
    result = FitResult.load(path)
    if result.model not in ESTIMATORS:
        raise ModelLoadError(f"{path}: unknown model {result.model!r}")
    return ESTIMATORS[result.model].from_result(result)


__all__ = [
    "BGBB",
    "BGCNBD",
    "BGNBD",
    "ESTIMATORS",
    "MBGCNBD",
    "MBGNBD",
    "NBD",
    "SBG",
    "ClvModelWarning",
    "Estimator",
    "GGompertzNBD",
    "GammaGamma",
    "ParetoGGG",
    "ParetoNBD",
    "fit",
    "frame_arrays",
    "load_model",
]
