"""P(alive) and expected purchases over a grid of purchase histories (the heat maps of
Fader, Hardie & Lee 2005, "Counting your customers the easy way", figure 5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clvmodels.estimators import Estimator


@dataclass(frozen=True)
class HistoryGrid:
    """Predictions for every (frequency, recency) of a customer observed for ``T``.

    Attributes
    ----------
    model
        The purchase model's key.
    T, horizon
        Observation time of the customer and horizon of the expected purchases.
    frequency, recency
        The grid's axes (recency 0 for frequency 0: no repeat purchase).
    p_alive, expected_purchases
        Shape ``(len(frequency), len(recency))``.
    """

    model: str
    T: float
    horizon: float
    frequency: np.ndarray
    recency: np.ndarray
    p_alive: np.ndarray
    expected_purchases: np.ndarray


def history_grid(
    model: Estimator, T: float, horizon: float, max_frequency: int = 30, points: int = 60
) -> HistoryGrid:
    """P(alive) and expected purchases over ``horizon`` for frequencies
    ``0..max_frequency`` and ``points`` recencies in ``[0, T]``, for a customer at every
    covariate's reference level (:meth:`~clvmodels.estimators.Estimator.profile_params`)
    of a continuous-time purchase model."""
    module = model.module
    params = model.profile_params()
    x = np.arange(0, max_frequency + 1, dtype=float)
    tx = np.linspace(0.0, T, points)
    xx, rr = np.meshgrid(x, tx, indexing="ij")
    rr = np.where(xx == 0, 0.0, rr)  # no repeat purchase: recency is 0 by definition
    alive = module.probability_alive(xx.ravel(), rr.ravel(), T, **params)
    expected = module.conditional_expected_purchases(horizon, xx.ravel(), rr.ravel(), T, **params)
    return HistoryGrid(
        model.model_key,
        float(T),
        float(horizon),
        x,
        tx,
        np.asarray(alive).reshape(xx.shape),
        np.asarray(expected).reshape(xx.shape),
    )
