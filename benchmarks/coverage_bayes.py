"""Simulation-based check of the Bayesian backend: do 90 % credible intervals cover the
true parameters about 90 % of the time?

For BG/NBD, Gamma-Gamma and sBG, simulate ``--datasets`` data sets from known
parameters with the models' own simulators, fit each with NUTS and count, per
parameter, how often the central 90 % posterior interval contains the truth.  With 40
data sets a well-calibrated posterior covers in 80-97 % of them (binomial 95 % range
around 90 %).

Usage::

    python benchmarks/coverage_bayes.py                   # 40 data sets per model
    python benchmarks/coverage_bayes.py --datasets 10 --models sbg
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd

import clvmodels
from clvmodels.models import bgnbd, gamma_gamma, sbg

TRUE = {
    "bgnbd": {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5},
    "gamma_gamma": {"p": 6.0, "q": 4.0, "gamma": 15.0},
    "sbg": {"alpha": 0.7, "beta": 1.2},
}


def simulate(model: str, rng: np.random.Generator, n: int) -> pd.DataFrame:
    if model == "bgnbd":
        sim = bgnbd.simulate(n, **TRUE["bgnbd"], T=rng.uniform(26.0, 52.0, n), rng=rng)
        return pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "T")})
    if model == "gamma_gamma":
        x = rng.integers(1, 10, n)
        sim = gamma_gamma.simulate(n, **TRUE["gamma_gamma"], frequency=x, rng=rng)
        return pd.DataFrame({"frequency": x, "monetary_value": sim["monetary_value"]})
    sim = sbg.simulate(n, **TRUE["sbg"], n_periods=7, rng=rng)
    return pd.DataFrame({"tenure": sim["tenure"], "churned": sim["churned"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(TRUE))
    parser.add_argument("--datasets", type=int, default=40)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=90)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for model in args.models:
        hits = {k: 0 for k in TRUE[model]}
        started = time.perf_counter()
        for i in range(args.datasets):
            frame = simulate(model, rng, args.customers)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = clvmodels.fit(
                    model,
                    frame,
                    backend="bayes",
                    chains=args.chains,
                    draws=args.draws,
                    tune=args.draws,
                    seed=i,
                )
            interval = fit.result_.conf_int(0.90)
            for k, truth in TRUE[model].items():
                hits[k] += int(interval.loc[k, "lower"] <= truth <= interval.loc[k, "upper"])
        coverage = {k: round(v / args.datasets, 3) for k, v in hits.items()}
        print(
            json.dumps(
                {
                    "model": model,
                    "datasets": args.datasets,
                    "coverage_90": coverage,
                    "seconds": round(time.perf_counter() - started, 1),
                }
            ),
            flush=True,
        )
    print("target: each coverage within 0.80-0.97 for 40 data sets")


if __name__ == "__main__":
    main()
