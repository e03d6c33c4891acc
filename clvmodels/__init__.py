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
    BGNBD,
    ESTIMATORS,
    MBGNBD,
    SBG,
    Estimator,
    GammaGamma,
    ParetoNBD,
)
from clvmodels.results import FitResult


def fit(model: str, data: pd.DataFrame, backend: str = "mle", **options: Any) -> Estimator:
    """Fit model ``model`` on a canonical per-customer frame and return the fitted estimator.

    Parameters
    ----------
    model
        One of ``bgnbd, paretonbd, mbgnbd, bgbb, gamma_gamma, sbg``.
    data
        Per-customer frame (``frequency, recency, T[, monetary_value][, count]`` for the
        purchase models; ``frequency, recency, n[, count]`` for BG/BB;
        ``tenure, churned[, count]`` for sBG).
    backend
        ``"mle"`` or ``"bayes"``.
    **options
        Backend options (MLE: ``init``, ``max_iter``).
    """
    try:
        cls = ESTIMATORS[model]
    except KeyError:
        raise FitError(f"unknown model {model!r}; choose from {', '.join(ESTIMATORS)}") from None
    return cls(backend=backend, **options).fit(data)


def load_model(path: str) -> Estimator:
    """Load any saved model; the file says which estimator it is."""
    result = FitResult.load(path)
    if result.model not in ESTIMATORS:
        raise ModelLoadError(f"{path}: unknown model {result.model!r}")
    return ESTIMATORS[result.model].from_result(result)


__all__ = [
    "BGBB",
    "BGNBD",
    "MBGNBD",
    "SBG",
    "ClvError",
    "ConfigError",
    "DataError",
    "Estimator",
    "FitError",
    "FitResult",
    "GammaGamma",
    "ModelLoadError",
    "ParetoNBD",
    "__version__",
    "fit",
    "load_model",
]
