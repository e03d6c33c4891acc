"""Discounting: yearly rates in a data's time unit, and discounted expected purchases.

The value of a customer is the discounted sum of her future purchases.  For the
continuous-time purchase models this is the Stieltjes integral

    D(H) = ∫_0^H e^(−δt) dE(t),

with ``E(t)`` the expected cumulative purchases and ``δ`` the continuously compounded
discount rate per time unit (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value
curves for customer base analysis", JMR 42(4), section "DERT").  Where a model has no
closed form (BG/NBD, MBG/NBD, and every model over a finite horizon) it is computed
here by integrating by parts,

    D(H) = e^(−δH) E(H) + δ ∫_0^H e^(−δt) E(t) dt,

which needs only ``E`` (which the models evaluate stably), with composite
Gauss–Legendre quadrature in ``v = log(1 + t/scale)`` (``scale`` the time over which
``E`` bends, e.g. ``α + T``): ``E`` is smooth in ``v`` and the nodes spread over short
and long horizons alike.  An infinite horizon is cut where ``e^(−δt) < e^(−50)``.  The
number of 8-node panels grows with the discounting across the range, ``δ·t_end``: one
for a one-year horizon (``δ·t_end ≈ 0.1``), six for a lifetime; ~1e-11 relative
against a 48-node rule on random BG/NBD inputs (``tests/test_dert.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from clvmodels.units import DAYS_PER_UNIT, DAYS_PER_YEAR

_MAX_PANELS, _NODES = 6, 8  # lifetime horizons: ~1e-12 relative on CDNOW-like inputs
_PANELS_PER_DISCOUNT = 4.0  # panels = 1 + floor(4 δ t_end), at most _MAX_PANELS
_gl_x, _gl_w = np.polynomial.legendre.leggauss(_NODES)
_CUT = 50.0


def _unit_rule(panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ``panels`` composite 8-node Gauss–Legendre panels on [0, 1]."""
    nodes = ((np.arange(panels)[:, None] + (_gl_x[None, :] + 1.0) / 2.0) / panels).ravel()
    return nodes, np.tile(_gl_w / (2.0 * panels), panels)


def quadrature_panels(delta: float, horizon: float) -> int:
    """Number of 8-node panels :func:`discounted_purchases` uses for ``δ`` and ``H``."""
    t_end = horizon if delta == 0 else min(horizon, _CUT / delta)
    return int(min(_MAX_PANELS, 1 + math.floor(_PANELS_PER_DISCOUNT * delta * t_end)))


def continuous_rate(annual_rate: float, time_unit: str) -> float:
    """Continuously compounded discount rate per time unit, ``δ = log(1 + d)·u``.

    ``d`` is the effective yearly rate (0.10 for 10 % a year) and ``u`` the time unit in
    years (7 / 365.25 for weeks), so that ``e^(−δ·t)`` over one year of time units
    equals ``1/(1 + d)``.
    """
    return math.log1p(annual_rate) * DAYS_PER_UNIT[time_unit] / DAYS_PER_YEAR


def period_rate(annual_rate: float, time_unit: str) -> float:
    """Effective discount rate per period, ``(1 + d)^u − 1`` (``u`` as above): the rate
    that discrete-time models (BG/BB, sBG) apply once per period."""
    return math.expm1(math.log1p(annual_rate) * DAYS_PER_UNIT[time_unit] / DAYS_PER_YEAR)


def discounted_purchases(
    expected: Callable[[np.ndarray], np.ndarray],
    scale: Any,
    delta: float,
    horizon: float = math.inf,
) -> np.ndarray:
    """``∫_0^H e^(−δt) dE(t)`` for each row, by parts and quadrature (module docstring).

    Parameters
    ----------
    expected
        ``E(t)`` for an array ``t`` of shape ``(rows, nodes)`` (non-decreasing in ``t``,
        ``E(0) = 0``); row parameters should be shaped ``(rows, 1)`` inside it.
    scale
        Positive time scale per row (shape ``(rows,)``), e.g. ``α + T``.
    delta
        Discount rate per time unit (``≥ 0``; ``> 0`` for an infinite horizon).
    horizon
        ``H`` in time units (``math.inf`` for the customer's whole lifetime).

    Returns
    -------
    numpy.ndarray
        Shape ``(rows,)``.
    """
    if not delta >= 0:
        raise ValueError(f"delta must be >= 0, got {delta}")
    if math.isinf(horizon) and delta == 0:
        raise ValueError("an infinite horizon needs a positive discount rate")
    if not horizon > 0:
        raise ValueError(f"horizon must be > 0, got {horizon}")
    scale = np.atleast_1d(np.asarray(scale, dtype=float))
    if math.isfinite(horizon):
        at_h = np.asarray(expected(np.full((len(scale), 1), float(horizon))), dtype=float)[:, 0]
        if delta == 0:  # nothing to discount: D(H) = E(H)
            return at_h
        out = math.exp(-delta * horizon) * at_h
    else:
        out = np.zeros(len(scale))
    t_end = min(horizon, _CUT / delta)
    unit_x, unit_w = _unit_rule(quadrature_panels(delta, horizon))
    v_end = np.log1p(t_end / scale)[:, None]
    v = v_end * unit_x
    t = scale[:, None] * np.expm1(v)
    jacobian = scale[:, None] * np.exp(v) * v_end
    values = np.asarray(expected(t), dtype=float)
    return out + (delta * np.exp(-delta * t) * values * jacobian) @ unit_w
