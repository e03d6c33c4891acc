"""clvmodels: probabilistic customer-lifetime-value forecasting.

Quick use::

    import clvmodels as clv
    log = clv.data.load_builtin("cdnow_sample")
    summary = clv.data.summarize_transactions(log, time_unit="W",
                                              calibration_end="1997-09-30")
    bgnbd = clv.fit("bgnbd", summary)
    bgnbd.summary()
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from clvmodels._version import __version__
from clvmodels.errors import (
    ClvError,
    ConfigError,
    DataError,
    FitError,
    ModelLoadError,
)
from clvmodels.estimators import (
    BGBB,
    BGCNBD,
    BGNBD,
    ESTIMATORS,
    MBGCNBD,
    MBGNBD,
    NBD,
    SBG,
    Estimator,
    GammaGamma,
    GGompertzNBD,
    ParetoGGG,
    ParetoNBD,
)
from clvmodels.results import FitResult


def fit(
    model: str, data: pd.DataFrame, backend: str | None = None, **options: Any
) -> Estimator:
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
    "MBGCNBD",
    "MBGNBD",
    "NBD",
    "SBG",
    "ClvError",
    "ConfigError",
    "DataError",
    "Estimator",
    "FitError",
    "FitResult",
    "GGompertzNBD",
    "GammaGamma",
    "ModelLoadError",
    "ParetoGGG",
    "ParetoNBD",
    "__version__",
    "fit",
    "load_model",
]
