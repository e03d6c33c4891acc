"""Proper scores of probabilistic forecasts of holdout purchases (and revenue).

A purchase model gives every customer a predictive distribution of her holdout count,
``P(X_i = k | history)``; here it is a :class:`CountForecast`, a matrix of probabilities
``pmf[i, k]`` for ``k = 0 … K−1`` whose missing mass ``1 − Σ_k pmf[i, k]`` is the tail
``P(X_i ≥ K)``.  The scores (Gneiting & Raftery 2007, "Strictly proper scoring rules,
prediction, and estimation", JASA 102(477); Czado, Gneiting & Held 2009, "Predictive
model assessment for count data", Biometrics 65(4)):

* ``log_score``: mean ``log P(X_i = y_i)`` (higher is better; strictly proper);
* ``rps``: the ranked probability score ``Σ_k (F_i(k) − 1{y_i ≤ k})²`` averaged over
  customers (lower is better; Czado et al. 2009, section 2.2);
* ``brier_any``: the Brier score of ``P(X_i ≥ 1)`` for "buys at least once";
* ``coverage``: the share of customers whose count lies in their central interval
  ``[l_i, u_i]`` (``l_i`` the smallest ``k`` with ``F_i(k) ≥ (1 − level)/2``, ``u_i`` the
  smallest with ``F_i(k) ≥ (1 + level)/2``), next to the mass the model itself puts in
  that interval, ``F_i(u_i) − F_i(l_i − 1)``, averaged: counts are discrete, so a
  calibrated model covers more than ``level`` — as often as it says it will;
* the randomised probability integral transform (PIT, Czado et al. 2009, section 2.1):
  ``u_i = F_i(y_i − 1) + v_i · P(X_i = y_i)`` with ``v_i ~ U(0, 1)``, uniform for a
  calibrated model; and the calibration table of ``P(X_i ≥ 1)`` by decile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CountForecast:
    """Predictive distributions of customers' counts.

    Attributes
    ----------
    pmf
        ``(customers, K)``: ``P(X_i = k)`` for ``k = 0 … K−1``; each row sums to at most
        1, the rest being ``P(X_i ≥ K)``.
    """

    pmf: np.ndarray

    def __post_init__(self) -> None:
        pmf = np.asarray(self.pmf, dtype=float)
        if pmf.ndim != 2 or pmf.shape[1] == 0:
            raise ValueError(f"pmf must be (customers, K) with K >= 1, got shape {pmf.shape}")
        if np.any(pmf < -1e-12) or np.any(pmf.sum(axis=1) > 1.0 + 1e-9):
            raise ValueError("pmf: probabilities must be >= 0 and sum to at most 1 per row")
        object.__setattr__(self, "pmf", np.clip(pmf, 0.0, 1.0))

    @property
    def cdf(self) -> np.ndarray:
        """``F_i(k) = P(X_i ≤ k)`` for ``k = 0 … K−1``."""
        return np.minimum(np.cumsum(self.pmf, axis=1), 1.0)

    @property
    def tail(self) -> np.ndarray:
        """``P(X_i ≥ K)``."""
        return np.clip(1.0 - self.pmf.sum(axis=1), 0.0, 1.0)

    def at(self, counts: np.ndarray) -> np.ndarray:
        """``P(X_i = y_i)`` (0 for ``y_i ≥ K``, beyond the forecast's support)."""
        y = _counts(counts, len(self.pmf))
        inside = y < self.pmf.shape[1]
        out = np.zeros(len(y))
        rows = np.flatnonzero(inside)
        out[rows] = self.pmf[rows, y[rows]]
        return out

    def cdf_at(self, counts: np.ndarray) -> np.ndarray:
        """``F_i(y_i)`` (``F_i(−1) = 0``; 1 − tail for ``y_i ≥ K``, a lower bound)."""
        y = _counts(counts, len(self.pmf), allow_negative=True)
        cdf = np.concatenate([np.zeros((len(y), 1)), self.cdf], axis=1)
        return cdf[np.arange(len(y)), np.clip(y + 1, 0, cdf.shape[1] - 1)]


def _counts(counts: np.ndarray, n: int, allow_negative: bool = False) -> np.ndarray:
    y = np.asarray(counts)
    if y.shape != (n,):
        raise ValueError(f"counts: expected {n} customers, got shape {y.shape}")
    if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
        raise ValueError("counts must be whole numbers")
    if not allow_negative and np.any(y < 0):
        raise ValueError("counts must be >= 0")
    return y.astype(np.int64)


def log_score(forecast: CountForecast, counts: np.ndarray) -> float:
    """Mean log predictive probability of the actual counts (higher is better; ``-inf``
    when a count got probability 0)."""
    with np.errstate(divide="ignore"):
        return float(np.mean(np.log(forecast.at(counts))))


def rps(forecast: CountForecast, counts: np.ndarray) -> float:
    """Mean ranked probability score ``Σ_k (F_i(k) − 1{y_i ≤ k})²`` (lower is better),
    summed over ``k = 0 … K−1``; beyond ``K`` every term is at most ``tail_i²``."""
    y = _counts(counts, len(forecast.pmf))
    k = np.arange(forecast.pmf.shape[1])
    step = (y[:, None] <= k[None, :]).astype(float)
    return float(np.mean(np.sum((forecast.cdf - step) ** 2, axis=1)))


def brier_any(forecast: CountForecast, counts: np.ndarray) -> float:
    """Brier score of ``P(X_i ≥ 1)`` against "bought at least once"."""
    y = _counts(counts, len(forecast.pmf))
    p_any = 1.0 - forecast.pmf[:, 0]
    return float(np.mean((p_any - (y >= 1)) ** 2))


def central_interval(forecast: CountForecast, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's central ``level`` interval ``[l_i, u_i]`` (module docstring);
    ``u_i = K`` when the forecast's support ends before the upper quantile."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    cdf = forecast.cdf
    lower_q, upper_q = (1.0 - level) / 2.0, (1.0 + level) / 2.0
    tolerance = 1e-12  # F(k) computed by sums: a quantile exactly on a step is that step
    lower = np.argmax(cdf >= lower_q - tolerance, axis=1)
    reached = cdf >= upper_q - tolerance
    upper = np.where(reached.any(axis=1), np.argmax(reached, axis=1), cdf.shape[1])
    lower = np.where((cdf >= lower_q - tolerance).any(axis=1), lower, cdf.shape[1])
    return lower, upper


def coverage(forecast: CountForecast, counts: np.ndarray, level: float) -> tuple[float, float]:
    """``(observed, expected)``: the share of customers whose count lies in their central
    ``level`` interval, and the mean probability the forecasts put in those intervals."""
    y = _counts(counts, len(forecast.pmf))
    lower, upper = central_interval(forecast, level)
    observed = float(np.mean((y >= lower) & (y <= upper)))
    inside = forecast.cdf_at(upper) - forecast.cdf_at(lower - 1)
    return observed, float(np.mean(inside))


def randomized_pit(
    forecast: CountForecast, counts: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The randomised PIT values ``F_i(y_i − 1) + v_i · P(X_i = y_i)`` (module
    docstring); ``rng`` makes them reproducible."""
    y = _counts(counts, len(forecast.pmf))
    below = forecast.cdf_at(y - 1)
    return below + rng.uniform(size=len(y)) * forecast.at(y)


def pit_histogram(pit: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Shares of PIT values per equal-width bin of ``[0, 1]`` (``1/bins`` each for a
    calibrated forecast): ``bin_lower, bin_upper, share``."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts, _ = np.histogram(np.clip(pit, 0.0, 1.0), bins=edges)
    share = counts / max(len(pit), 1)
    return pd.DataFrame({"bin_lower": edges[:-1], "bin_upper": edges[1:], "share": share})


def calibration_table(p_any: np.ndarray, bought: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """Predicted vs observed share buying at least once, by group of customers ranked by
    their predicted probability (deciles by default; tied probabilities stay together):
    ``group, customers, predicted, observed``."""
    p = np.asarray(p_any, dtype=float)
    order = np.argsort(p, kind="stable")
    ranks = np.empty(len(p))
    # the group of a customer is that of the first customer with the same probability
    sorted_p = p[order]
    first = np.searchsorted(sorted_p, sorted_p, side="left")
    ranks[order] = first
    group = np.minimum((ranks * groups) // max(len(p), 1), groups - 1).astype(int)
    frame = pd.DataFrame({"group": group + 1, "p": p, "y": np.asarray(bought, dtype=float)})
    table = frame.groupby("group").agg(customers=("p", "size"), predicted=("p", "mean"))
    table["observed"] = frame.groupby("group")["y"].mean()
    return table.reset_index()


def interval_coverage(draws: np.ndarray, actual: np.ndarray, level: float) -> tuple[float, float]:
    """``(observed, expected)`` coverage of central ``level`` intervals formed from
    simulated draws (``(customers, draws)``, e.g. holdout revenue): the share of actual
    values inside ``[q_lo, q_hi]`` of each customer's draws, and the share of the draws
    themselves inside (above ``level`` where the distribution has atoms, e.g. at 0)."""
    draws = np.asarray(draws, dtype=float)
    lo, hi = np.quantile(draws, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=1)
    actual = np.asarray(actual, dtype=float)
    observed = float(np.mean((actual >= lo) & (actual <= hi)))
    expected = float(np.mean((draws >= lo[:, None]) & (draws <= hi[:, None])))
    return observed, expected


def count_scores(
    forecast: CountForecast, counts: np.ndarray, levels: tuple[float, ...] = (0.9, 0.8)
) -> dict[str, float]:
    """The count scores of one forecaster, named as ``evaluation.csv`` names them:
    ``log_score_purchases``, ``rps_purchases``, ``brier_any_purchase``, and per level
    ``coverage90_purchases`` with ``coverage90_purchases_expected`` (80 likewise)."""
    out = {
        "log_score_purchases": log_score(forecast, counts),
        "rps_purchases": rps(forecast, counts),
        "brier_any_purchase": brier_any(forecast, counts),
    }
    for level in levels:
        observed, expected = coverage(forecast, counts, level)
        name = f"coverage{round(level * 100)}_purchases"
        out[name], out[f"{name}_expected"] = observed, expected
    return out


@dataclass(frozen=True)
class ScoredCounts:
    """The scores of a forecaster's count forecasts over every customer, with what the
    calibration table and the PIT histogram need.

    Attributes
    ----------
    scores
        :func:`count_scores`, and with simulated revenue ``coverage90_revenue`` and
        ``coverage90_revenue_expected`` (:func:`interval_coverage`).
    p_any
        ``P(X_i ≥ 1)`` of every customer.
    pit
        The randomised PIT of every customer (:func:`randomized_pit`).
    """

    scores: dict[str, float]
    p_any: np.ndarray
    pit: np.ndarray


def score_chunks(
    chunks: Iterable[tuple[np.ndarray, CountForecast, np.ndarray | None]],
    counts: np.ndarray,
    rng: np.random.Generator,
    revenue: np.ndarray | None = None,
) -> ScoredCounts:
    """Score count forecasts given chunk by chunk of customers (``(positions, forecasts,
    simulated revenue or None)``, every customer once), against the actual ``counts``
    (and ``revenue``): every score is a mean over customers, so the chunks' means
    weighted by their sizes give it exactly."""
    y = np.asarray(counts, dtype=float)
    n = len(y)
    p_any, pit = np.full(n, np.nan), np.full(n, np.nan)
    sums: dict[str, float] = {}
    for rows, forecast, draws in chunks:
        found = count_scores(forecast, y[rows])
        if draws is not None and revenue is not None:
            seen, mass = interval_coverage(draws, revenue[rows], 0.9)
            found |= {"coverage90_revenue": seen, "coverage90_revenue_expected": mass}
        for name, value in found.items():
            sums[name] = sums.get(name, 0.0) + value * len(rows)
        p_any[rows] = 1.0 - forecast.pmf[:, 0]
        pit[rows] = randomized_pit(forecast, y[rows], rng)
    return ScoredCounts({k: v / n for k, v in sums.items()}, p_any, pit)
