"""Simulated customers in groups for the hierarchical tests (and the benchmark).

The BG/NBD story of Fader, Hardie & Lee (2005, "Counting your customers the easy way",
Marketing Science 24(2), §3) simulated step by step, independently of
:mod:`clvmodels.models.bgnbd`: a customer's purchase rate ``λ ~ Gamma(r, scale 1/α)``
and dropout probability ``p ~ Beta(a, b)``; purchases follow a Poisson process of rate
``λ`` from time 0 (the first purchase, not counted), and after each repeat purchase the
customer drops out with probability ``p``.  Observed for ``T`` time units: ``x`` repeat
purchases, the last at ``t_x``.
"""

from __future__ import annotations

import numpy as np

POPULATION = {"r": 0.6, "alpha": 4.0, "a": 0.8, "b": 2.5}
"""The population medians of the simulated groups."""
ALPHA_SPREAD = 0.5
"""The sd of ``log alpha`` across groups (the other parameters are the same in every
group)."""


def bgnbd_customers(
    n: int, r: float, alpha: float, a: float, b: float, T: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """``frequency, recency, T`` of ``n`` BG/NBD customers (module docstring)."""
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    t = np.zeros(n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        t = t + np.where(active, rng.exponential(1.0, n) / lam, 0.0)
        buys = active & (t <= T)
        x += buys
        t_x = np.where(buys, t, t_x)
        active = buys & (rng.random(n) >= p)
    return {"frequency": x, "recency": t_x, "T": np.asarray(T, dtype=float)}


def group_sizes(n: int, n_groups: int, ratio: float = 0.75) -> np.ndarray:
    """Group sizes summing to ``n``, each ``ratio`` times the previous one (at least 2)."""
    shares = ratio ** np.arange(n_groups)
    sizes = np.maximum(2, np.floor(n * shares / shares.sum())).astype(int)
    sizes[0] += n - sizes.sum()
    return sizes


def grouped_customers(
    n: int, n_groups: int, rng: np.random.Generator, ratio: float = 0.75
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, float]]:
    """``n`` customers in ``n_groups`` groups of very different sizes
    (:func:`group_sizes`) whose ``alpha`` varies: ``log alpha_g ~ Normal(log alpha,
    ALPHA_SPREAD)``; observed for 26-52 whole weeks, recency rounded to days.  Returns
    the data, each customer's group label (``"g00"``, ``"g01"``, …, largest first) and
    every group's true ``alpha``."""
    sizes = group_sizes(n, n_groups, ratio)
    parts, labels, truth = [], [], {}
    for g, size in enumerate(sizes):
        level = f"g{g:02d}"
        alpha = POPULATION["alpha"] * float(np.exp(ALPHA_SPREAD * rng.standard_normal()))
        truth[level] = alpha
        T = rng.integers(26, 53, size).astype(float)
        params = {**POPULATION, "alpha": alpha}
        part = bgnbd_customers(size, T=T, rng=rng, **params)
        part["recency"] = np.round(part["recency"] * 7) / 7
        parts.append(part)
        labels.append(np.full(size, level))
    data = {c: np.concatenate([p[c] for p in parts]) for c in ("frequency", "recency", "T")}
    return data, np.concatenate(labels), truth
