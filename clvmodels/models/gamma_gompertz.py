"""The Gamma/Gompertz lifetime of the GGompertz/NBD (Bemmaor & Glady 2012) and the
death-time integral of its likelihood, written once against ``xp`` Ops (NumPy and
PyTensor; :mod:`clvmodels.models.ops`).

Bemmaor, A. C. & Glady, N. (2012), "Modeling purchasing behavior with sudden 'death': a
flexible customer lifetime model", Management Science 58(5), 1012–1021.  A lifetime has
the Gompertz hazard ``b η e^(bt)`` with ``η ~ Gamma(s, rate β)``, so

    S(t) = (β / (β + e^(bt) − 1))^s,   f(t) = s b e^(bt) β^s (β + e^(bt) − 1)^−(s+1).

The model is in :mod:`clvmodels.models.ggompertz`, which uses these functions.
"""

from __future__ import annotations

from typing import Any

from clvmodels.models.ops import Ops

CUT = 50.0
"""Integrals stop where a factor of the integrand has fallen below ``e^-50`` of its start."""

NODES = 32
"""Gauss–Legendre nodes of the likelihood's death-time integral (:func:`log_death_integral`)."""


def log_bracket(xp: Ops, beta: Any, y: Any) -> Any:
    """``log(β + e^y − 1)`` for ``y ≥ 0``, as ``y + log(β e^−y − expm1(−y))``: a sum of
    two non-negative terms, so neither cancellation (small ``β`` and ``y``) nor
    overflow (large ``y``)."""
    return y + xp.log(beta * xp.exp(-y) - xp.expm1(-y))


def log_survival(xp: Ops, b: Any, s: Any, beta: Any, t: Any) -> Any:
    """``log S(t) = s (log β − log(β + e^(bt) − 1))`` (module docstring)."""
    return s * (xp.log(beta) - log_bracket(xp, beta, b * t))


def log_density(xp: Ops, b: Any, s: Any, beta: Any, t: Any) -> Any:
    """``log f(t)``, ``f = −dS/dt = s b e^(bt) β^s (β + e^(bt) − 1)^−(s+1)``."""
    y = b * t
    return xp.log(s) + xp.log(b) + y + s * xp.log(beta) - (s + 1.0) * log_bracket(xp, beta, y)


def beta_after(xp: Ops, b: Any, beta: Any, t: Any) -> Any:
    """``β_t = β e^(−bt) + 1 − e^(−bt)``: a lifetime known to exceed ``t`` has the
    remaining lifetime of a new one with ``β_t`` in place of ``β`` (``η | τ > t ~
    Gamma(s, β + e^(bt) − 1)`` and ``e^(b(t+u)) − e^(bt) = e^(bt)(e^(bu) − 1)``)."""
    return beta * xp.exp(-b * t) - xp.expm1(-b * t)


def time_scale(xp: Ops, b: Any, s: Any, beta: Any) -> Any:
    """Time over which ``S`` starts to bend, ``min(β, 1)/(b(s+1))`` (``β'/(s+1)`` in the
    Pareto/NBD limit, ``1/(b(s+1))`` for a sharp Gompertz hazard)."""
    return xp.minimum(beta, 1.0) / (b * (s + 1.0))


def lifetime_end(xp: Ops, b: Any, s: Any, beta: Any) -> Any:
    """``t`` with ``S(t) = e^-50``: ``log(1 + β(e^z − 1))/b``, ``z = 50/s``, overflow-free."""
    z = CUT / s
    return _log1p_exp(xp, xp.log(beta) + z + xp.log(-xp.expm1(-z))) / b


def _log1p_exp(xp: Ops, y: Any) -> Any:
    """``log(1 + e^y)`` without overflow."""
    return xp.maximum(y, 0.0) + xp.log1p(xp.exp(-xp.abs(y)))


def log_death_integral(
    xp: Ops, k: Any, alpha: Any, b: Any, s: Any, beta: Any, t_x: Any, T: Any
) -> Any:
    """``log ∫_{t_x}^T (α+τ)^−k f(τ) dτ`` per row, the likelihood's death-time integral
    with ``k = r + x``; every row needs ``T > t_x`` (the caller gives the other rows a
    larger ``T`` and masks them, as ``clvmodels.models.ggompertz.log_likelihood``).

    One Gauss–Legendre rule of :data:`NODES` nodes in ``v = log(1 + (τ − t_x)/c)``, ``c``
    the least of the integrand's time scales at ``t_x``: ``(α+t_x)/k`` (the power
    factor) and :func:`time_scale` at ``β_{t_x}`` (:func:`beta_after`; the death
    density), and ``T − t_x``.  ``v`` runs up to where ``S(τ)/S(t_x) = e^-50`` (the
    dropped tail is below ``e^-50`` of the integral, the power factor being decreasing)
    or where the power factor ``((α+t_x)/(α+τ))^k`` is ``e^-50``, whichever comes
    first (no bound: the density may still rise beyond, by at most ``e^(b(τ−t_x))``;
    checked on stress cells).  Each row is thus scaled to its own time scales and one
    fixed rule serves all (as the checked rules of the predictions); the parameters
    move the nodes smoothly (``xp.minimum`` only), so the gradient is that of the
    rule.  Accuracy: ``clvmodels.models.ggompertz.log_likelihood``.
    """
    beta_tx = beta_after(xp, b, beta, t_x)
    length = xp.minimum(T - t_x, lifetime_end(xp, b, s, beta_tx))
    c = xp.minimum(xp.minimum(time_scale(xp, b, s, beta_tx), (alpha + t_x) / k), length)
    log_c = xp.log(c)
    # v where the power factor is e^-50: log(1 + (α+t_x)(e^(50/k) − 1)/c), in logs
    power_end = xp.log(alpha + t_x) + xp.log(xp.expm1(xp.minimum(CUT / k, 700.0))) - log_c
    hi = xp.minimum(xp.log1p(length / c), _log1p_exp(xp, power_end))

    # every argument broadcast to the rows, then a node axis appended
    zero = xp.zeros_like(hi + k + alpha + b + s + beta + t_x + T)
    k_, a_, b_, s_, beta_, tx_, T_, c_, log_c_ = (
        (v + zero)[..., None] for v in (k, alpha, b, s, beta, t_x, T, c, log_c)
    )

    def log_integrand(v: Any) -> Any:  # (α+τ)^−k f(τ) dτ/dv, dτ/dv = c e^v
        tau = xp.minimum(tx_ + c_ * xp.expm1(v), T_)
        return log_density(xp, b_, s_, beta_, tau) - k_ * xp.log(a_ + tau) + log_c_ + v

    return xp.composite_gauss_legendre(log_integrand, zero, hi, 1, NODES)
