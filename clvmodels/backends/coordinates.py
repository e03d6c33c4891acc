"""The coordinates PyMC's NUTS moves in, and how a lifetime's (shape, rate) ridge is
straightened.

Default: the log of each positive parameter (PyMC's log transform of its prior) and each
covariate coefficient as it is — the coordinates of ``FitResult.cov_log``.

A *hazard pair* (:attr:`ModelSpec.hazard_pairs`) is the shape ``s`` and rate ``β`` of a
Gamma mixture of exponential rates, e.g. the Pareto/NBD dropout rate ``μ ~ Gamma(s,
β)``.  The population's lifetime is then Pareto of the second kind (Lomax), with
survival ``S(t) = E[e^(−μt)] = (β / (β + t))^s`` — the "Pareto" of Schmittlein,
Morrison & Colombo (1987).  Data observed for a time of order ``t*`` pin down ``S(t*)`` far
better than ``s`` and ``β``: as ``s, β → ∞`` with ``S(t*)`` fixed the mixture tends to
one exponential lifetime and the likelihood to a plateau, so the posterior is a long
ridge whose direction in ``(log s, log β)`` turns along it (slope ``d log β / d log s``
1.5–1.8 around the mode, 1.0 in the tail, on CDNOW), and NUTS with one mass matrix mixes
slowly along it (CDNOW, seed 7: one chain of four spent draws 506–702 beyond s = 10,
where the other three never went; R-hat 1.06, ESS 11, 5 divergences).  Such a pair is
sampled instead in ``(log s, log w)`` with

    w = −log S(t*) = s · log(1 + t*/β),   β = t* / expm1(w / s),

``t*`` the weighted mean of the pair's time column (the Pareto/NBD's ``T``).  On CDNOW
``w`` changes by 0.2 along the whole ridge (``s`` from 0.2 to 250) and its conditional
sd stays 0.07–0.075, while the conditional sd of ``log β`` changes from 0.23 to 0.075.
The posterior is the same distribution: ``β`` is a deterministic of ``(s, w)`` whose
prior enters as a potential together with ``log |∂β/∂w| = log β + k − log expm1(k) −
log s``, ``k = w/s`` (``w`` itself has a flat prior on (0, ∞), so the density of
``(s, β)`` is unchanged).  A pair whose two priors are not both on the log scale
(``uniform``) keeps the default coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clvmodels.backends.design import FitRows
from clvmodels.backends.priors import on_log_scale, prior_dist, prior_variable, pymc_name
from clvmodels.models.spec import ModelSpec


def hazard_name(rate: str) -> str:
    """The PyMC name of ``w = −log S(t*)`` of the hazard pair with rate ``rate``."""
    return f"cumulative_hazard_{pymc_name(rate)}"


@dataclass(frozen=True)
class Coordinates:
    """Where NUTS moves for one fit (module docstring).

    Attributes
    ----------
    names
        The model's parameters, then the covariate coefficients (``cov_log``'s order).
    coefficients
        The covariate coefficients (sampled as they are).
    hazards
        ``{rate: (shape, t*)}`` per hazard pair sampled as ``(log s, log w)``.
    """

    names: tuple[str, ...]
    coefficients: tuple[str, ...] = ()
    hazards: Mapping[str, tuple[str, float]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        spec: ModelSpec,
        rows: FitRows | None = None,
        coefficients: tuple[str, ...] = (),
        priors: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Coordinates:
        """The coordinates of ``spec``'s parameters and ``coefficients``: the hazard
        pairs of ``spec`` reparametrised when ``rows`` and ``priors`` are given, both
        priors of the pair are on the log scale and the mean time is positive; else the
        log scale throughout."""
        names = (*spec.param_names, *coefficients)
        hazards: dict[str, tuple[str, float]] = {}
        for shape, rate, column in spec.hazard_pairs if rows is not None and priors else ():
            time = np.asarray(rows.model_columns[column], dtype=float)
            t_star = float(np.sum(rows.weights * time) / np.sum(rows.weights))
            if on_log_scale(priors[shape]) and on_log_scale(priors[rate]) and t_star > 0:
                hazards[rate] = (shape, t_star)
        return cls(names, tuple(coefficients), hazards)

    def variables(self, pm: Any, priors: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The PyMC variables of every parameter and coefficient, inside the current
        model: a prior variable each, except the rate of a hazard pair, a deterministic
        of its shape and of a flat ``w`` whose prior and Jacobian are a potential."""
        import pytensor.tensor as pt

        out: dict[str, Any] = {}
        for name in self.names:  # in order: PyMC's value variables follow creation
            if name not in self.hazards:
                out[name] = prior_variable(pm, name, priors[name])
                continue
            shape, t_star = self.hazards[name]
            s = out[shape]  # the shape precedes the rate in ``param_names``
            k = pm.HalfFlat(hazard_name(name)) / s
            log_expm1 = k + pt.log1mexp(-k)
            log_rate = math.log(t_star) - log_expm1
            out[name] = pm.Deterministic(pymc_name(name), pt.exp(log_rate))
            log_jacobian = log_rate + k - log_expm1 - pt.log(s)
            prior = pm.logp(prior_dist(pm, priors[name]), out[name])
            pm.Potential(f"prior_{pymc_name(name)}", prior + log_jacobian)
        return out

    def describe(self) -> dict[str, Any]:
        """``{"hazard_coordinates": {rate: {"shape": ..., "t_star": ...}}}`` for a fit's
        diagnostics, or ``{}`` when every parameter is sampled on its log scale."""
        if not self.hazards:
            return {}
        pairs = {r: {"shape": s, "t_star": t_star} for r, (s, t_star) in self.hazards.items()}
        return {"hazard_coordinates": pairs}

    def value_names(self) -> list[str]:
        """The names of PyMC's value variables in these coordinates, in order."""
        return [
            pymc_name(k)
            if k in self.coefficients
            else f"{hazard_name(k) if k in self.hazards else pymc_name(k)}_log__"
            for k in self.names
        ]

    def from_log(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The point ``theta`` (``cov_log``'s coordinates) in these coordinates, and the
        Jacobian ``∂z/∂theta`` (for the delta-method covariance ``J Σ Jᵀ``)."""
        z = np.array(theta, dtype=float)
        jacobian = np.eye(len(z))
        for rate, (shape, t_star) in self.hazards.items():
            i, j = self.names.index(shape), self.names.index(rate)
            ratio = t_star * math.exp(-theta[j])
            log1p = math.log1p(ratio)
            z[j] = theta[i] + math.log(log1p)  # log w = log s + log log(1 + t*/β)
            jacobian[j, :] = 0.0
            jacobian[j, i] = 1.0
            jacobian[j, j] = -ratio / (1.0 + ratio) / log1p
        return z, jacobian

    def initvals(self, z: np.ndarray) -> dict[str, float]:
        """PyMC's ``initvals`` of the point ``z`` in these coordinates."""
        out = {}
        for k, v in zip(self.names, z, strict=True):
            if k in self.coefficients:
                out[pymc_name(k)] = float(v)
            else:
                out[hazard_name(k) if k in self.hazards else pymc_name(k)] = math.exp(v)
        return out
