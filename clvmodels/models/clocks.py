"""Operational clocks of a process whose rate changes with time-varying covariates.

Time is cut into calendar periods of one time unit; the covariates ``x(t)`` of a
customer are constant within a period.  A rate ``λ(t) = λ · exp(γ′x(t))`` then runs on
the *operational clock* ``B(t) = ∫_0^t exp(γ′x(u)) du``, piecewise linear in ``t``
(Bachmann, Meierer & Näf 2021, "The role of time-varying contextual factors in latent
attrition models for customer base analysis", Marketing Science 40(4), section 3): a
Poisson process of rate ``λ(t)`` is a Poisson process of rate ``λ`` in ``B``
(the time-change theorem), so ``P(no event in (t₁, t₂]) = exp(−λ (B(t₂) − B(t₁)))``.

Data layout (:class:`clvmodels.data.dynamic.DynamicPanel`): per customer ``i`` and
calibration period ``j``, ``exposure[i, j]`` is the time she was observed in period
``j`` (row sums ``T_i``), ``before[i, j]`` the part of it up to her last repeat purchase
(row sums ``t_x,i``) and ``counts[i, j]`` her repeat purchases there (row sums ``x_i``);
each covariate is an array of shape ``(n, P)`` or ``(1, P)``.  The functions here are
written against ``xp`` (:mod:`clvmodels.models.ops`): the likelihoods that use them run
under NumPy and PyTensor alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from clvmodels.models.ops import Ops, numpy_ops


def multiplier(coefficients: Sequence[Any], covariates: Sequence[Any], xp: Ops = numpy_ops) -> Any:
    """``exp(γ′x)`` per customer and period (the scalar 1 without covariates) and the
    linear predictor ``γ′x`` itself."""
    eta = xp.weighted_sum(coefficients, covariates)
    return xp.exp(eta) if len(coefficients) else 1.0, eta


def clock_at(rate: Any, lengths: Any, xp: Ops = numpy_ops) -> Any:
    """``B`` at the end of the given period lengths: ``Σ_j exp(γ′x_j) · lengths_j``."""
    return xp.sum(rate * lengths, axis=-1)


def clock_starts(start: Any, rate: Any, lengths: Any, xp: Ops = numpy_ops) -> Any:
    """The clock at the start of each period's piece: ``start + Σ_{k<j} rate_k lengths_k``
    (``start`` per customer, broadcast against the periods)."""
    steps = rate * lengths
    return start[..., None] + xp.cumsum(steps, axis=-1) - steps


def purchase_log_jacobian(eta: Any, counts: Any, xp: Ops = numpy_ops) -> Any:
    """``Σ_k γ′x(t_k)`` over the repeat purchases: the log of ``∏_k exp(γ′x(t_k))``, the
    factor by which the density of purchase times in calendar time exceeds that in
    operational time (0 without covariates)."""
    if isinstance(eta, float):
        return 0.0 * xp.sum(counts, axis=-1)
    return xp.sum(counts * eta, axis=-1)


def future_clock(rates: Any, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start of every future period's clock, relative to the calibration end, and its
    total: ``(Σ_{k<j} rate_k h_k, Σ_k rate_k h_k)`` (NumPy; ``rates`` of shape
    ``(..., H)`` or a scalar, ``lengths`` ``(H,)``)."""
    steps = np.broadcast_to(
        np.asarray(rates, dtype=float) * lengths,
        np.broadcast_shapes(np.shape(rates), np.shape(lengths)),
    )
    total = np.cumsum(steps, axis=-1)
    return total - steps, total[..., -1] if steps.shape[-1] else np.zeros(steps.shape[:-1])


def gauss_legendre_unit(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the ``order``-node Gauss–Legendre rule on [0, 1]
    (Abramowitz & Stegun 25.4.29)."""
    x, w = np.polynomial.legendre.leggauss(order)
    return (x + 1.0) / 2.0, w / 2.0
