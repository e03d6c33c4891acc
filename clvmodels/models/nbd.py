"""The NBD purchase-count building block shared by BG/NBD, MBG/NBD and Pareto/NBD."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def moment_start(data: Mapping[str, np.ndarray], weights: np.ndarray) -> tuple[float, float]:
    """Method-of-moments ``(r, alpha)`` of the Gamma(r, alpha) purchase-rate distribution.

    Over a window of length ``T̄`` (the mean of ``T``) the repeat-purchase count of the
    NBD has mean ``m = r·T̄/α`` and variance ``m + m²/r`` (Ehrenberg 1959; Morrison &
    Schmittlein 1988), so ``r = m² / (v − m)`` and ``α = r·T̄/m``.  Dropout makes these
    biased, but as an optimiser's starting point they roughly halve the number of
    gradient evaluations compared with ``r = 1``.
    """
    w = np.asarray(weights, dtype=float)
    x = np.asarray(data["frequency"], dtype=float)
    mean_t = float(np.average(np.asarray(data["T"], dtype=float), weights=w))
    m = float(np.average(x, weights=w))
    if m <= 0:
        return 1.0, max(mean_t, 1e-6)
    v = float(np.average((x - m) ** 2, weights=w))
    r = float(np.clip(m * m / max(v - m, 1e-3 * m * m), 1e-2, 1e2))
    return r, float(min(r * mean_t / m, 1e6))
