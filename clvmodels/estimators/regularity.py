"""Estimators of the regularity models: BG/CNBD-k and MBG/CNBD-k (integer ``k`` chosen by
profile likelihood) and the Pareto/GGG (sampled by its own Gibbs sampler).

The Erlang order ``k`` of the CNBD-k models is an integer, so it is not estimated by
the optimiser: the other parameters are fitted by maximum likelihood at each ``k = 1,
2, …, max_k`` and the ``k`` with the highest likelihood wins (Reutterer, Platzer &
Schröder 2021, "Leveraging purchase regularity for predicting customer behavior the
easy way", IJRM 38(1), section 3; BTYDplus's ``xbgcnbd.EstimateParameters`` does the
same and stops once the likelihood has fallen twice in a row, as here).  The
likelihoods are comparable across ``k`` because they keep the ``(k−1)·litt`` term of
the Erlang densities.  With the Bayesian backend ``k`` is profiled the same way and the
other parameters are then sampled at that ``k``.  The chosen ``k`` is a ``fixed``
parameter of the result (:attr:`clvmodels.results.FitResult.fixed`); the profile is in
``diagnostics["k_profile"]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from clvmodels.backends.design import CovariateLinks
from clvmodels.errors import FitError
from clvmodels.estimators.purchase import PurchaseCountModel
from clvmodels.results import FitResult

MAX_K = 10
"""Default largest Erlang order tried by the profile likelihood (issue 16)."""


def _order(value: Any, name: str, key: str) -> int:
    """``value`` as an integer ≥ 1, or a one-line ``FitError`` naming the option."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise FitError(f"{key}: {name} must be a whole number >= 1, got {value!r}")
    if int(value) < 1 or int(value) > 100:
        raise FitError(f"{key}: {name} must be between 1 and 100, got {value!r}")
    return int(value)


class _ErlangModel(PurchaseCountModel):
    """A CNBD-k model: ``k`` fixed by the ``k`` option or profiled over ``1 … max_k``."""

    own_options = ("k", "max_k")

    def _run_backend(
        self,
        spec: Any,
        arrays: dict[str, np.ndarray],
        weights: np.ndarray | None,
        unit: str | None,
        links: CovariateLinks | None,
        groups: Mapping[str, Any] | None = None,
    ) -> FitResult:
        # no covariates or groups reach here: the spec declares no covariate process and
        # the model no hierarchy, so the estimator refuses them before the fit
        fixed = self.options.get("k")
        if fixed is not None:
            k = _order(fixed, "k", self.model_key)
            result = self._fit_at(k, arrays, weights, unit, self.backend)
            profile = {k: result.log_likelihood}
        else:
            max_k = _order(self.options.get("max_k", MAX_K), "max_k", self.model_key)
            profile, best = self._profile(max_k, arrays, weights, unit)
            k = max(profile, key=lambda j: profile[j])
            result = (
                best[k]
                if self.backend == "mle"
                else self._fit_at(k, arrays, weights, unit, self.backend)
            )
        result.params = {**result.params, "k": float(k)}
        result.fixed = ("k",)
        result.diagnostics["k_profile"] = {str(j): ll for j, ll in profile.items()}
        return result

    def _fit_at(
        self,
        k: int,
        arrays: dict[str, np.ndarray],
        weights: np.ndarray | None,
        unit: str | None,
        backend: str,
    ) -> FitResult:
        """The fit of the other parameters at Erlang order ``k`` (the profile's fits are
        maximum likelihood with the MLE options ``init``, ``max_iter`` only)."""
        options = self._backend_options()
        if backend != self.backend:
            options = {o: v for o, v in options.items() if o in ("init", "max_iter")}
        spec = self.module.spec_for(k)
        return self._call_backend(backend, options, spec, arrays, weights, unit, None)

    def _profile(
        self,
        max_k: int,
        arrays: dict[str, np.ndarray],
        weights: np.ndarray | None,
        unit: str | None,
    ) -> tuple[dict[int, float], dict[int, FitResult]]:
        """The maximum-likelihood fit at ``k = 1, 2, …`` up to ``max_k``, stopping after
        the likelihood has fallen twice in a row (BTYDplus's rule) or at the first ``k``
        whose fit fails (after ``k = 1``, which must fit)."""
        profile: dict[int, float] = {}
        fits: dict[int, FitResult] = {}
        for k in range(1, max_k + 1):
            try:
                fits[k] = self._fit_at(k, arrays, weights, unit, "mle")
            except FitError:
                if k == 1:
                    raise
                break
            profile[k] = fits[k].log_likelihood
            if not math.isfinite(profile[k]):
                break
            if k >= 3 and profile[k] < profile[k - 1] < profile[k - 2]:
                break
        return profile, fits


class BGCNBD(_ErlangModel):
    """BG/CNBD-k model (Reutterer, Platzer & Schröder 2021): Erlang-k inter-purchase
    times, BG/NBD dropout.  Options ``k`` (fix the Erlang order) or ``max_k`` (largest
    order tried, default :data:`MAX_K`); the data need ``litt``."""

    model_key = "bgcnbd"


class MBGCNBD(_ErlangModel):
    """MBG/CNBD-k model (same sources): as :class:`BGCNBD` with the MBG/NBD's dropout at
    time 0; options as :class:`BGCNBD`."""

    model_key = "mbgcnbd"


class ParetoGGG(PurchaseCountModel):
    """Pareto/GGG model (Platzer & Reutterer 2016): individual Gamma inter-purchase times
    with heterogeneous regularity, Pareto/NBD lifetimes.

    It has no closed-form likelihood and is fitted only by its Gibbs sampler over the
    customers' latent variables (:func:`clvmodels.backends.ggg_mcmc.fit_paretoggg`,
    ``backend="bayes"``, the default); options ``draws``, ``tune``, ``chains``,
    ``thin``, ``seed``, ``progress``.  The data need ``litt``; predictions run the
    customers' latent chain given the hyperparameters
    (:mod:`clvmodels.models.paretoggg`).
    """

    model_key = "paretoggg"

    def __init__(self, backend: str = "bayes", **options: Any) -> None:
        super().__init__(backend, **options)

    def _backend_fit(self, backend: str) -> tuple[Callable[..., FitResult], str]:
        if backend != "bayes":
            raise FitError(
                f"{self.model_key}: the Pareto/GGG has no closed-form likelihood, so no "
                f"{backend!r} fit; use backend 'bayes' (its Gibbs sampler)"
            )
        from clvmodels.backends.ggg_mcmc import fit_paretoggg

        return fit_paretoggg, "Pareto/GGG sampler"
