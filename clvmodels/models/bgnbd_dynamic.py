"""BG/NBD with time-varying covariates on the purchase process.

Derivation.  In the BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy
way", Marketing Science 24(2)) an active customer buys as a Poisson process of rate
``λ ~ Gamma(r, rate α)`` and, right after each repeat purchase, drops out with
probability ``p ~ Beta(a, b)``: dropout happens *at purchase events*, not in calendar
time.  Let the purchase rate be ``λ exp(γ′x(t))`` with covariates ``x(t)`` constant within
calendar periods, and let ``B(t) = ∫_0^t exp(γ′x(u)) du`` be the operational clock
(:mod:`clvmodels.models.clocks`).  By the time-change theorem the purchases are a
Poisson process of rate ``λ`` in ``B``; since the dropout coins are tossed at the
purchases, the whole BG/NBD story runs unchanged in operational time.  The density of
``x`` purchases at ``t_1 < … < t_x`` observed to ``T`` is therefore the BG/NBD's density of
purchases at ``B(t_1), …, B(t_x)`` observed to ``B(T)``, times the Jacobian
``∏_k dB/dt(t_k) = ∏_k exp(γ′x(t_k))``::

    L(r, α, a, b, γ | data) = ∏_k e^(γ′x(t_k)) · L_BG/NBD(r, α, a, b | x, B(t_x), B(T)),

with ``L_BG/NBD`` FHL 2005 eq. (6).  The same argument gives P(alive) (Fader, Hardie &
Lee 2008, note 021) and the conditional expected purchases (FHL 2005 eq. 10) at the
operational times ``B(t_x)``, ``B(T)`` and horizon ``B(T+t) − B(T)``.  Dropout
covariates have no such reduction: the BG/NBD's dropout has no clock of its own to
modulate (a covariate on ``p`` would change between purchases, not over time), so only
the purchase process takes time-varying covariates here; use the Pareto/NBD
(:mod:`clvmodels.models.paretonbd_dynamic`) for time-varying dropout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from clvmodels.models import bgnbd
from clvmodels.models.clocks import (
    clock_at,
    future_clock,
    gauss_legendre_unit,
    multiplier,
    purchase_log_jacobian,
)
from clvmodels.models.ops import Ops, numpy_ops

PROCESSES = ("purchase",)
"""The processes that take time-varying covariates (module docstring: not the dropout)."""

ORDER = 8
"""Gauss–Legendre nodes per future period of the DECT integral."""

REFERENCE = (
    "Fader, Hardie & Lee (2005), Marketing Science 24(2), in the operational time of "
    "Bachmann, Meierer & Näf (2021), Marketing Science 40(4)"
)


def log_likelihood(
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    gamma: Sequence[Any] = (),
    delta: Sequence[Any] = (),
    *,
    frequency: Any,
    exposure: Any,
    before: Any,
    counts: Any,
    purchase: Sequence[Any] = (),
    dropout: Sequence[Any] = (),
    quadrature_from: Any = 0,
    xp: Ops = numpy_ops,
) -> Any:
    """Per-customer log-likelihood: the BG/NBD's (FHL 2005 eq. 6) at the operational
    times ``B(t_x)``, ``B(T)`` plus ``Σ_k γ′x(t_k)`` (module docstring).

    Arguments as :func:`clvmodels.models.paretonbd_dynamic.log_likelihood`; ``delta``
    and ``dropout`` must be empty (the BG/NBD takes no time-varying dropout covariates);
    ``quadrature_from`` is accepted for the common signature (there is no quadrature).
    """
    if len(delta) or len(dropout):
        raise ValueError("bgnbd: time-varying covariates act on the purchase process only")
    rate, eta = multiplier(gamma, purchase, xp)
    b_x, b_t = clock_at(rate, before, xp), clock_at(rate, exposure, xp)
    plain = bgnbd.log_likelihood(r, alpha, a, b, frequency=frequency, recency=b_x, T=b_t, xp=xp)
    return plain + purchase_log_jacobian(eta, counts, xp)


def predict(
    frequency: Any,
    exposure: Any,
    before: Any,
    counts: Any,
    *,
    params: dict[str, float],
    gamma: Sequence[float] = (),
    delta: Sequence[float] = (),
    purchase: Sequence[Any] = (),
    dropout: Sequence[Any] = (),
    future_lengths: np.ndarray,
    future_purchase: Sequence[Any] = (),
    future_dropout: Sequence[Any] = (),
    discount_rate: float = 0.0,
) -> dict[str, np.ndarray]:
    """P(alive), conditional expected transactions (CET) and DECT over a horizon.

    P(alive) is note 021's at ``(x, B(t_x), B(T))`` and CET is FHL 2005 eq. (10) with
    the horizon's operational length ``B(T+H) − B(T)`` (module docstring).  DECT
    ``= ∫_0^H e^(−δu) dE(u)``, ``E(u)`` the CET to ``T+u``, is integrated by parts,
    ``e^(−δH) E(H) + δ ∫_0^H e^(−δu) E(u) du``, the integral by the Gauss–Legendre rule
    per future period.  Arguments and result as
    :func:`clvmodels.models.paretonbd_dynamic.predict` (``delta``, ``dropout`` empty).
    """
    x = np.asarray(frequency, dtype=float)
    covs = [np.asarray(c, float) for c in purchase]
    rate, _ = multiplier(gamma, covs)
    b_x = clock_at(rate, np.asarray(before, float))
    b_t = clock_at(rate, np.asarray(exposure, float))
    p = {k: float(params[k]) for k in ("r", "alpha", "a", "b")}
    alive = bgnbd.probability_alive(x, b_x, b_t, **p)
    lengths = np.asarray(future_lengths, dtype=float)
    future_rate, _ = multiplier(gamma, [np.asarray(c, float) for c in future_purchase])
    future_rate = np.broadcast_to(np.asarray(future_rate, float), (x.size, lengths.size))
    starts, total = future_clock(future_rate, lengths)
    active = bgnbd.active_expected_purchases(total, x, b_t, **p)
    unit, weights = gauss_legendre_unit(ORDER)
    clock = starts[..., None] + future_rate[..., None] * lengths[:, None] * unit  # (n, H, k)
    at_nodes = bgnbd.active_expected_purchases(clock, x[:, None, None], b_t[:, None, None], **p)
    time = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])[:, None] + lengths[:, None] * unit
    horizon = float(lengths.sum())
    integral = np.einsum("nhk,hk,k,h->n", at_nodes, np.exp(-discount_rate * time), weights, lengths)
    dect = np.exp(-discount_rate * horizon) * active + discount_rate * integral
    return {"p_alive": alive, "expected": alive * active, "dect": alive * dect}
