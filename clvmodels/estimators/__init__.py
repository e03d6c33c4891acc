"""Thin scikit-learn-shaped estimators over :class:`clvmodels.results.FitResult`.

One estimator per model of the registry (:data:`clvmodels.models.REGISTRY`):
:class:`BGNBD`, :class:`ParetoNBD`, :class:`MBGNBD`, :class:`BGBB`, :class:`NBD`,
:class:`BGCNBD`, :class:`MBGCNBD`, :class:`GGompertzNBD` and :class:`ParetoGGG` (purchases),
:class:`GammaGamma` (spend), :class:`SBG` (retention).  ``fit(data)`` returns the
estimator; fitted attributes end in ``_``; predictions are the model module's pure
functions (:mod:`clvmodels.estimators.base`).
"""

from __future__ import annotations

from clvmodels.estimators.base import ClvModelWarning, Estimator
from clvmodels.estimators.frames import frame_arrays
from clvmodels.estimators.purchase import BGBB, BGNBD, MBGNBD, NBD, GGompertzNBD, ParetoNBD
from clvmodels.estimators.regularity import BGCNBD, MBGCNBD, ParetoGGG
from clvmodels.estimators.retention import SBG
from clvmodels.estimators.spend import GammaGamma
from clvmodels.models import model_keys

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
    "frame_arrays",
]
