"""R-hat and effective sample sizes of MCMC draws, in NumPy (no ArviZ import).

The rank-normalised split R-hat and the bulk and tail effective sample sizes of Vehtari,
Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-normalization, folding, and
localization: an improved R-hat for assessing convergence of MCMC", *Bayesian Analysis*
16(2), computed exactly as ArviZ computes them (``az.rhat`` with ``method="rank"``,
``az.ess`` with ``method="bulk"`` and ``"tail"``; same numbers, tested), so that our own
sampler's diagnostics read like PyMC's (and PyMC's fits need no ArviZ import for them).
Every function takes one parameter's draws as an array of shape (chains, draws).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.fft import next_fast_len
from scipy.special import ndtri


def _split(x: np.ndarray) -> np.ndarray:
    """Each chain cut into its first and last half (the middle draw of an odd count
    dropped)."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half :]], axis=0)


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Rank normalisation: normal quantiles of the average ranks, Blom's offset 3/8."""
    _, index, counts = np.unique(x, return_inverse=True, return_counts=True)
    average = np.cumsum(counts) - (counts - 1) / 2.0  # average rank of each tie group
    rank = average[index.reshape(x.shape)]
    return ndtri((rank - 0.375) / (x.size + 0.25))


def _rhat(x: np.ndarray) -> float:
    """The classic potential scale reduction of (already split) chains."""
    n = x.shape[1]
    between = n * np.var(x.mean(axis=1), ddof=1)
    within = np.mean(np.var(x, axis=1, ddof=1))
    return float(np.sqrt((between / within + n - 1) / n))


def rhat(x: np.ndarray) -> float:
    """Rank-normalised split R-hat: the larger of the bulk and the folded (tail) one."""
    split = _split(np.asarray(x, dtype=float))
    folded = np.abs(split - np.median(split))
    return max(_rhat(_z_scale(split)), _rhat(_z_scale(folded)))


def _autocovariance(x: np.ndarray) -> np.ndarray:
    """Autocovariance of each chain at every lag (by FFT), divided by the draw count."""
    n = x.shape[1]
    centred = x - x.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=next_fast_len(2 * n), axis=1)
    return np.fft.irfft(spectrum * np.conjugate(spectrum), axis=1)[:, :n] / n


def ess(x: np.ndarray) -> float:
    """Effective sample size of (already split) chains: Geyer's initial positive and
    monotone sequence estimators of the autocorrelation time."""
    x = np.asarray(x, dtype=float)
    chains, n = x.shape
    if np.max(x) - np.min(x) < np.finfo(float).resolution:
        return float(x.size)
    acov = _autocovariance(x)
    mean_var = np.mean(acov[:, 0]) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if chains > 1:
        var_plus += np.var(x.mean(axis=1), ddof=1)
    rho = np.zeros(n)
    rho[0] = even = 1.0
    rho[1] = odd = 1.0 - (mean_var - np.mean(acov[:, 1])) / var_plus
    t = 1
    while t < n - 3 and even + odd > 0.0:
        even = 1.0 - (mean_var - np.mean(acov[:, t + 1])) / var_plus
        odd = 1.0 - (mean_var - np.mean(acov[:, t + 2])) / var_plus
        if even + odd >= 0:
            rho[t + 1], rho[t + 2] = even, odd
        t += 2
    max_t = t - 2
    if even > 0:
        rho[max_t + 1] = even
    t = 1
    while t <= max_t - 2:
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    total = chains * n
    tau = -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1 : max_t + 2])
    tau = max(tau, 1 / np.log10(total))
    return float(np.nan if np.isnan(rho).any() else total / tau)


def ess_bulk(x: np.ndarray) -> float:
    """Bulk ESS: the ESS of the rank-normalised split chains."""
    return ess(_z_scale(_split(np.asarray(x, dtype=float))))


def ess_tail(x: np.ndarray) -> float:
    """Tail ESS: the smaller ESS of the indicators of the 5 % and 95 % quantiles."""
    x = np.asarray(x, dtype=float)
    low, high = np.quantile(x, [0.05, 0.95])
    return min(ess(_split((x <= low).astype(float))), ess(_split((x <= high).astype(float))))


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics say the posterior may not be trustworthy."""


def chain_diagnostics(
    key: str,
    draws: Mapping[str, np.ndarray],
    divergences: int,
    mean_tree_size: float | None,
    ess_floor: float,
    stacklevel: int = 4,
) -> dict[str, Any]:
    """R-hat, bulk and tail ESS of each parameter's draws (chains, draws) and the
    sampler's divergences; warns (:class:`ConvergenceWarning`) naming what to try when an
    R-hat exceeds 1.01 (or cannot be computed: one chain), an ESS is below ``ess_floor``
    or a transition diverged."""
    per_param = {}
    for name, x in draws.items():
        x = np.atleast_2d(np.asarray(x, dtype=float))
        enough = x.shape[1] >= 4
        per_param[name] = {
            "r_hat": rhat(x) if enough and x.shape[0] > 1 else math.nan,
            "ess_bulk": ess_bulk(x) if enough else math.nan,
            "ess_tail": ess_tail(x) if enough else math.nan,
        }
    problems = []
    for k, d in per_param.items():
        if not d["r_hat"] <= 1.01:
            problems.append(f"{k}: R-hat {d['r_hat']:.3f} > 1.01")
        if min(d["ess_bulk"], d["ess_tail"]) < ess_floor:
            problems.append(f"{k}: ESS {min(d['ess_bulk'], d['ess_tail']):.0f} < {ess_floor:g}")
    if divergences:
        problems.append(f"{divergences} divergent transitions")
    if problems:
        warnings.warn(
            f"{key}: the posterior may not be reliable ({'; '.join(problems)}); try more "
            "tuning steps and draws (tune, draws), a higher target_accept, or more "
            "informative priors",
            ConvergenceWarning,
            stacklevel=stacklevel,
        )
    return {
        "parameters": per_param,
        "mean_tree_size": None if mean_tree_size is None else round(mean_tree_size, 2),
        "divergences": int(divergences),
        "converged": not problems,
        "problems": problems,
    }


def draws_fit(
    draws: Mapping[str, np.ndarray],
    key: str,
    coefficients: tuple[str, ...],
    ess_floor: float,
    diagnostics: dict[str, Any],
    divergences: int,
    mean_tree_size: float | None,
) -> tuple[dict[str, float], dict[str, np.ndarray], np.ndarray]:
    """Posterior means, the draws (chains, draws) flattened over chains and their
    covariance in the coordinates of ``cov_log`` (the log of each positive parameter,
    coefficients as they are); R-hat, ESS, divergences and the draws' shape go into
    ``diagnostics`` (:func:`chain_diagnostics`, which warns)."""
    shape = np.shape(next(iter(draws.values())))
    draws_out = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in draws.items()}
    coordinates = np.column_stack(
        [v if k in coefficients else np.log(v) for k, v in draws_out.items()]
    )
    diagnostics.update(
        chain_diagnostics(key, draws, divergences, mean_tree_size, ess_floor, stacklevel=5)
    )
    diagnostics["draws_shape"] = [int(shape[0]), int(shape[1])]
    params = {k: float(v.mean()) for k, v in draws_out.items()}
    return params, draws_out, np.atleast_2d(np.cov(coordinates, rowvar=False))
