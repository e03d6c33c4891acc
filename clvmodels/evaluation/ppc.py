"""Posterior predictive check of the repeat-purchase counts of a Bayesian fit."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from clvmodels.clv.arrays import PatternLink, at_patterns
from clvmodels.models import model_module


def posterior_predictive_counts(
    key: str,
    draws: Mapping[str, np.ndarray],
    T: np.ndarray,
    observed: np.ndarray,
    rng: np.random.Generator,
    n_draws: int = 100,
    cap: int = 7,
    link: PatternLink | None = None,
) -> pd.DataFrame:
    """Posterior predictive check of the repeat-purchase counts (0 … cap−1, cap+).

    For ``n_draws`` posterior draws, simulate every customer's repeat purchases over
    their own observation time ``T`` with the model's simulator and count customers per
    frequency; the table gives the observed count, the mean simulated count and its
    5 %–95 % range per bin, and whether the observed count lies inside it.  With
    covariates or the groups of a hierarchical fit, ``link``
    (:meth:`clvmodels.clv.arrays.PatternLink.of` of the model and the customers) gives
    each customer her own parameters; ``draws`` then name every parameter the link
    reads (coefficients tied by a constraint included).
    """
    module = model_module(key)
    total = len(next(iter(draws.values())))
    picks = rng.choice(total, size=min(n_draws, total), replace=False)
    bins = np.arange(cap + 1)
    simulated = np.empty((len(picks), cap + 1))
    for row, j in enumerate(picks):
        params = {k: float(v[j]) for k, v in draws.items()}
        if link is not None:
            params = at_patterns(link.params(params), link.codes)
        sim = module.simulate(len(T), T=np.asarray(T, float), rng=rng, **params)
        x = np.minimum(np.asarray(sim["frequency"], int), cap)
        simulated[row] = np.bincount(x, minlength=cap + 1)[: cap + 1]
    observed_counts = np.bincount(np.minimum(np.asarray(observed, int), cap), minlength=cap + 1)
    low, high = np.quantile(simulated, [0.05, 0.95], axis=0)
    labels = [str(k) for k in bins[:-1]] + [f"{cap}+"]
    return pd.DataFrame(
        {
            "frequency": labels,
            "observed": observed_counts[: cap + 1],
            "simulated_mean": simulated.mean(axis=0),
            "simulated_p05": low,
            "simulated_p95": high,
            "inside_90": (observed_counts[: cap + 1] >= low) & (observed_counts[: cap + 1] <= high),
        }
    )
