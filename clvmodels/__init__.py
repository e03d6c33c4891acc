"""clvmodels: probabilistic customer-lifetime-value forecasting.

Quick use::

    import clvmodels as clv
    log = clv.data.load_builtin("cdnow_sample")
    summary = clv.data.summarize_transactions(log, time_unit="W",
                                              calibration_end="1997-09-30")
    bgnbd = clv.fit("bgnbd", summary)
    bgnbd.summary()

``import clvmodels`` loads only the errors and the version: the estimators, the fit
functions and the subpackages are imported on first use (PEP 562 ``__getattr__``), so a
command that needs none of SciPy, PyMC or matplotlib does not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clvmodels._lazy import lazy_exports
from clvmodels._version import __version__
from clvmodels.errors import (
    ClvError,
    ConfigError,
    DataError,
    FitError,
    ModelLoadError,
)

if TYPE_CHECKING:
    from clvmodels.estimators import (
        BGBB,
        BGCNBD,
        BGNBD,
        MBGCNBD,
        MBGNBD,
        NBD,
        SBG,
        Estimator,
        GammaGamma,
        GGompertzNBD,
        ParetoGGG,
        ParetoNBD,
        fit,
        load_model,
    )
    from clvmodels.estimators import (
        ESTIMATORS as ESTIMATORS,  # public, though not in __all__
    )
    from clvmodels.results import FitResult

_LAZY = {
    **dict.fromkeys(
        (
            "BGBB",
            "BGCNBD",
            "BGNBD",
            "ESTIMATORS",
            "MBGCNBD",
            "MBGNBD",
            "NBD",
            "SBG",
            "Estimator",
            "GammaGamma",
            "GGompertzNBD",
            "ParetoGGG",
            "ParetoNBD",
            "fit",
            "load_model",
        ),
        "clvmodels.estimators",
    ),
    "FitResult": "clvmodels.results",
}
"""The public names imported on first use, and the module each comes from."""

_SUBPACKAGES = (
    "backends",
    "clv",
    "config",
    "data",
    "estimators",
    "evaluation",
    "metrics",
    "models",
    "report",
    "results",
    "run",
    "units",
)
"""The modules ``clvmodels.<name>`` reaches without an import of its own."""


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, _SUBPACKAGES)


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
