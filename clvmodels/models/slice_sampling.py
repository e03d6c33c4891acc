"""Univariate slice sampling, vectorised over many independent targets.

Neal (2003), "Slice sampling", Annals of Statistics 31(3), 705–767: one update of
``x ~ p`` draws a level ``y = log p(x) − Exp(1)`` under the density, steps an interval of
width ``w`` out around ``x`` until both ends are below the level (at most ``m`` steps,
split at random between the two sides, Neal's Fig. 3) and shrinks it towards ``x``
until a uniform point of it is above the level (Fig. 5).  The update leaves ``p``
invariant whatever ``w`` and ``m``; they only set its cost and mixing.

Here ``x`` is an array of independent one-dimensional targets (one per customer, or per
chain): every step is taken for all elements still in that stage at once, so the
number of Python iterations is the largest number of steps of any element, not their
sum.  ``log_density(values, where)`` evaluates the targets of the elements ``where``
(integer positions into ``x``) at ``values``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LogDensity = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``log_density(values, where)``: log-density (up to a constant) of the targets of the
elements ``where`` at ``values`` (both 1-d, same length)."""

MAX_SHRINK = 60
"""Shrinkage steps after which an element keeps its current value (the interval is then
narrower than ``w·2^-60``: in practice never reached)."""


def slice_sample(
    log_density: LogDensity,
    x0: np.ndarray,
    width: float | np.ndarray,
    rng: np.random.Generator,
    *,
    max_steps: int = 8,
    log_p0: np.ndarray | None = None,
) -> np.ndarray:
    """One slice-sampling update of every element of ``x0`` (module docstring).

    Parameters
    ----------
    log_density
        ``log_density(values, where)`` (:data:`LogDensity`); ``-inf`` outside the support.
    x0
        Current values, 1-d; each must have a finite log-density.
    width
        Initial interval width ``w`` (scalar or per element).
    rng
        Source of randomness.
    max_steps
        Neal's ``m``: the largest number of stepping-out steps.
    log_p0
        ``log_density(x0, all)`` if already known.

    Returns
    -------
    numpy.ndarray
        The updated values, same shape as ``x0``.
    """
    x0 = np.asarray(x0, dtype=float)
    n = x0.size
    every = np.arange(n)
    w = np.broadcast_to(np.asarray(width, dtype=float), (n,))
    p0 = log_density(x0, every) if log_p0 is None else np.asarray(log_p0, dtype=float)
    level = p0 - rng.exponential(size=n)
    left = x0 - w * rng.random(n)
    right = left + w
    steps_left = np.floor(max_steps * rng.random(n)).astype(int)
    steps_right = max_steps - 1 - steps_left
    for end, budget, sign in ((left, steps_left, -1.0), (right, steps_right, 1.0)):
        moving = every[budget > 0]
        while moving.size:
            above = log_density(end[moving], moving) > level[moving]
            moving = moving[above]
            end[moving] += sign * w[moving]
            budget[moving] -= 1
            moving = moving[budget[moving] > 0]
    out = x0.copy()
    pending = every
    for _ in range(MAX_SHRINK):
        if not pending.size:
            break
        proposal = left[pending] + (right[pending] - left[pending]) * rng.random(pending.size)
        accepted = log_density(proposal, pending) > level[pending]
        out[pending[accepted]] = proposal[accepted]
        rejected = pending[~accepted]
        below = proposal[~accepted] < x0[rejected]
        left[rejected[below]] = proposal[~accepted][below]
        right[rejected[~below]] = proposal[~accepted][~below]
        pending = rejected
    return out
