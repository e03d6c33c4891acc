"""Model library: one module per model holding its math as pure functions, and the one
registry that says which models there are and what kind each is.

=============  ===============================================  ==========================
key            model                                            parameters
=============  ===============================================  ==========================
``bgnbd``      BG/NBD (Fader, Hardie & Lee 2005)                ``r, alpha, a, b``
``paretonbd``  Pareto/NBD (Schmittlein, Morrison & Colombo 87)  ``r, alpha, s, beta``
``mbgnbd``     MBG/NBD (Batislam, Denizel & Filiztekin 2007)    ``r, alpha, a, b``
``bgbb``       BG/BB (Fader, Hardie & Shang 2010)               ``alpha, beta, gamma, delta``
``gamma_gamma`` Gamma-Gamma spend (Fader, Hardie & Lee 2005)    ``p, q, gamma``
``sbg``        shifted-beta-geometric (Fader & Hardie 2007)     ``alpha, beta``
``nbd``        NBD, no dropout (Ehrenberg 1959)                 ``r, alpha``
``bgcnbd``     BG/CNBD-k (Reutterer, Platzer & Schröder 2021)   ``k, r, alpha, a, b``
``mbgcnbd``    MBG/CNBD-k (same)                                ``k, r, alpha, a, b``
``ggompertz``  GGompertz/NBD (Bemmaor & Glady 2012)             ``r, alpha, b, s, beta``
``paretoggg``  Pareto/GGG (Platzer & Reutterer 2016)            ``t, gamma, r, alpha, s, beta``
=============  ===============================================  ==========================

Everything outside this package that needs to know "which models are purchase models,
which are discrete, which module holds the math, which columns a customer's history
has" asks :data:`REGISTRY` (:func:`model_info`, :func:`model_keys`) instead of keeping
its own list of keys; :func:`conditional_purchase_pmf` calls any purchase model's
predictive count distribution with the history columns the registry names.  A new model
is a module here plus one registry line.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from clvmodels.models.spec import ModelSpec

Role = Literal["purchase", "spend", "retention"]
Time = Literal["continuous", "discrete"]
ROLES: tuple[Role, ...] = ("purchase", "spend", "retention")


@dataclass(frozen=True)
class ModelInfo:
    """What kind of model a registry key names.

    Attributes
    ----------
    key
        Registry key (``"bgnbd"``), as in configs and ``clvmodels.fit``.
    module
        The module holding the model's math (``"clvmodels.models.bgnbd"``).
    name
        Short display name (``"BG/NBD"``).
    role
        ``"purchase"`` (transaction counts, a customer's alive/dead state), ``"spend"``
        (value per transaction) or ``"retention"`` (contract renewals).
    time
        ``"continuous"`` (time in a time unit) or ``"discrete"`` (opportunities or
        renewal periods).  The Gamma-Gamma model has no time axis at all; it is listed
        as ``"continuous"`` (it is not a model of discrete opportunities).
    history
        The per-customer columns the model's history-conditioned predictions read.
    active
        The history columns on which the expected (discounted) purchases of a customer
        known to be active depend — ``frequency, T`` for the BG/NBD family (whose
        active customer's future ignores when she last bought), ``frequency, recency,
        T`` for the CNBD-k models (the Erlang phase at ``T`` depends on ``T − t_x``);
        each is evaluated once per distinct combination.  ``None`` for a model whose
        predictions come from a latent-variable pass over the customers
        (``customer_predictions``: the Pareto/GGG) or a discrete-time model.
    backends
        The backends that can fit the model, the default first (the Pareto/GGG, without
        a closed-form likelihood, only by its sampler: ``bayes``).
    options
        The model's own options beyond its backend's (the Erlang order ``k`` and
        ``max_k`` of the CNBD-k models, the sampler's ``thin`` of the Pareto/GGG).
    dynamic
        The module of the model with time-varying covariates (its ``PROCESSES`` take
        them), or ``None`` when the model has none: the Pareto/NBD
        (:mod:`clvmodels.models.paretonbd_dynamic`) and the BG/NBD on its purchase
        process (:mod:`clvmodels.models.bgnbd_dynamic`).
    hierarchical
        Whether the model may pool its parameters across groups of customers
        (``hierarchy``, Bayesian; :mod:`clvmodels.backends.hierarchy`).
    """

    key: str
    module: str
    name: str
    role: Role
    time: Time
    history: tuple[str, ...]
    active: tuple[str, ...] | None = ("frequency", "T")
    backends: tuple[str, ...] = ("mle", "bayes")
    options: tuple[str, ...] = ()
    dynamic: str | None = None
    hierarchical: bool = False

    @property
    def discrete(self) -> bool:
        """Whether the model counts in discrete opportunities or periods."""
        return self.time == "discrete"

    @property
    def is_purchase(self) -> bool:
        """Whether the model forecasts purchases (and so can carry a CLV)."""
        return self.role == "purchase"


_RFM = ("frequency", "recency", "T")

REGISTRY: dict[str, ModelInfo] = {
    info.key: info
    for info in (
        ModelInfo(
            "bgnbd",
            "clvmodels.models.bgnbd",
            "BG/NBD",
            "purchase",
            "continuous",
            _RFM,
            dynamic="clvmodels.models.bgnbd_dynamic",
            hierarchical=True,
        ),
        ModelInfo(
            "paretonbd",
            "clvmodels.models.paretonbd",
            "Pareto/NBD",
            "purchase",
            "continuous",
            _RFM,
            dynamic="clvmodels.models.paretonbd_dynamic",
            hierarchical=True,
        ),
        ModelInfo("mbgnbd", "clvmodels.models.mbgnbd", "MBG/NBD", "purchase", "continuous", _RFM),
        ModelInfo(
            "bgbb",
            "clvmodels.models.bgbb",
            "BG/BB",
            "purchase",
            "discrete",
            ("frequency", "recency", "n"),
            None,
        ),
        ModelInfo("nbd", "clvmodels.models.nbd", "NBD", "purchase", "continuous", _RFM),
        ModelInfo(
            "bgcnbd",
            "clvmodels.models.bgcnbd",
            "BG/CNBD-k",
            "purchase",
            "continuous",
            _RFM,
            _RFM,
            options=("k", "max_k"),
        ),
        ModelInfo(
            "mbgcnbd",
            "clvmodels.models.mbgcnbd",
            "MBG/CNBD-k",
            "purchase",
            "continuous",
            _RFM,
            _RFM,
            options=("k", "max_k"),
        ),
        ModelInfo(
            "ggompertz",
            "clvmodels.models.ggompertz",
            "GGompertz/NBD",
            "purchase",
            "continuous",
            _RFM,
        ),
        ModelInfo(
            "paretoggg",
            "clvmodels.models.paretoggg",
            "Pareto/GGG",
            "purchase",
            "continuous",
            (*_RFM, "litt"),
            None,
            backends=("bayes",),
            options=("thin",),
        ),
        ModelInfo(
            "gamma_gamma",
            "clvmodels.models.gamma_gamma",
            "Gamma-Gamma",
            "spend",
            "continuous",
            ("frequency", "monetary_value"),
            None,
            hierarchical=True,
        ),
        ModelInfo(
            "sbg",
            "clvmodels.models.sbg",
            "sBG",
            "retention",
            "discrete",
            ("tenure", "churned"),
            None,
            hierarchical=True,
        ),
    )
}
"""Every model, in a fixed order (purchase models first)."""


def model_info(key: str) -> ModelInfo:
    """The registry entry of model ``key``.

    Raises
    ------
    ValueError
        For an unknown key, naming the known ones.
    """
    try:
        return REGISTRY[key]
    except KeyError:
        known = ", ".join(REGISTRY)
        raise ValueError(f"unknown model {key!r}; choose from {known}") from None


def model_keys(role: str | None = None) -> tuple[str, ...]:
    """The registry keys, in registry order; with ``role`` only the models of that role
    (``"purchase"``, ``"spend"``, ``"retention"``; ``ValueError`` for another)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown model role {role!r}; choose from {', '.join(ROLES)}")
    return tuple(k for k, info in REGISTRY.items() if role is None or info.role == role)


def model_module(key: str) -> ModuleType:
    """The module holding the math of model ``key`` (``ValueError`` for an unknown key)."""
    return importlib.import_module(model_info(key).module)


def model_spec(key: str) -> ModelSpec:
    """The :class:`ModelSpec` of model ``key``."""
    return model_module(key).SPEC


def conditional_purchase_pmf(
    key: str,
    K: int,
    horizon: ArrayLike,
    history: Mapping[str, ArrayLike],
    params: Mapping[str, ArrayLike],
) -> np.ndarray:
    """``P(X = k | history)`` for ``k = 0 … K−1``: the predictive distribution of each
    customer's purchases over the next ``horizon`` (a time in continuous-time models,
    a number of opportunities for the BG/BB), from purchase model ``key``'s
    ``conditional_purchase_pmf``.

    ``history`` maps the model's history columns (:attr:`ModelInfo.history`, e.g.
    ``frequency, recency, T``) to arrays, ``params`` its parameters (arrays such as
    ``(draws, 1)`` broadcast against ``(n,)`` customers).  The result has the broadcast
    shape plus ``(K,)``; a row's missing mass is ``P(X ≥ K)``.

    Raises
    ------
    ValueError
        For an unknown key or a model that is not a purchase model.
    """
    info = model_info(key)
    if not info.is_purchase:
        raise ValueError(
            f"{info.name} is not a purchase model; choose from {', '.join(model_keys('purchase'))}"
        )
    pmf = model_module(key).conditional_purchase_pmf
    return pmf(K, horizon, **{c: history[c] for c in info.history}, **params)


__all__ = [
    "REGISTRY",
    "ModelInfo",
    "ModelSpec",
    "conditional_purchase_pmf",
    "model_info",
    "model_keys",
    "model_module",
    "model_spec",
]
