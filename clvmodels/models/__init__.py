"""Model library: one module per model holding its math as pure functions.

=============  ===============================================  ==========================
key            model                                            parameters
=============  ===============================================  ==========================
``bgnbd``      BG/NBD (Fader, Hardie & Lee 2005)                ``r, alpha, a, b``
``paretonbd``  Pareto/NBD (Schmittlein, Morrison & Colombo 87)  ``r, alpha, s, beta``
``mbgnbd``     MBG/NBD (Batislam, Denizel & Filiztekin 2007)    ``r, alpha, a, b``
``bgbb``       BG/BB (Fader, Hardie & Shang 2010)               ``alpha, beta, gamma, delta``
``gamma_gamma`` Gamma-Gamma spend (Fader, Hardie & Lee 2005)    ``p, q, gamma``
``sbg``        shifted-beta-geometric (Fader & Hardie 2007)     ``alpha, beta``
=============  ===============================================  ==========================
"""

from __future__ import annotations

import importlib
from types import ModuleType

from clvmodels.models.spec import ModelSpec

MODEL_MODULES = {
    "bgnbd": "clvmodels.models.bgnbd",
    "paretonbd": "clvmodels.models.paretonbd",
    "mbgnbd": "clvmodels.models.mbgnbd",
    "bgbb": "clvmodels.models.bgbb",
    "gamma_gamma": "clvmodels.models.gamma_gamma",
    "sbg": "clvmodels.models.sbg",
}


def model_module(key: str) -> ModuleType:
    """The module holding the math of model ``key``."""
    try:
        return importlib.import_module(MODEL_MODULES[key])
    except KeyError:
        known = ", ".join(MODEL_MODULES)
        raise ValueError(f"unknown model {key!r}; choose from {known}") from None


def model_spec(key: str) -> ModelSpec:
    """The :class:`ModelSpec` of model ``key``."""
    return model_module(key).SPEC


__all__ = ["MODEL_MODULES", "ModelSpec", "model_module", "model_spec"]
