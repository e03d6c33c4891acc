"""Time and peak memory of issue 18's fits: the L2-penalised MLE with ``penalty="auto"``
and the hierarchical (partially pooled) Bayesian BG/NBD.

Each case runs in a fresh child process (``--one CASE N``), so every side pays its own
compilation; the child prints one JSON line (seconds of a first fit in the process,
peak RSS) that the parent collects into a table with ratios.

* ``auto`` — BG/NBD with ``loyalty_member`` and ``channel`` on the purchase and the
  dropout process (9 coefficients), λ chosen by 5-fold cross-validation over customers
  on the grid of :func:`clvmodels.backends.penalty.penalty_grid`, then the final fit;
  against ``mle`` — the same model without a penalty (the reference: one fit), so the
  ratio is what choosing λ costs.  Data: :func:`bench_covariates.simulate` (6 covariate
  patterns with known effects, ``T`` spread over 27–39 weeks in whole days).
* ``hier`` — BG/NBD with every parameter per group of 20 (sizes from 0.03 % to 30 % of
  the customers, geometric), ``log θ_g ~ Normal(μ_θ, σ_θ)``, NUTS; against ``bayes`` —
  the plain Bayesian BG/NBD on the same customers with the same sampler settings.
  Data: per group :func:`clvmodels.models.bgnbd.simulate` at the group's ``alpha`` and
  ``b`` (log factors drawn from Normal(0, 0.35) and Normal(0, 0.3)).

No Python peer offers either (lifetimes' ``penalizer_coef`` penalises the model's own
parameters and takes no covariates; PyMC-Marketing has no hierarchical CLV model —
its open requests #1404 and #276; CLVTools' regularisation is an R package, and CRAN is
not reachable from this machine), so the ratios are to our own plain fits.

Usage::

    python benchmarks/bench_effects.py                          # auto and hier at 1e5
    python benchmarks/bench_effects.py --cases auto,mle --customers 1e4,1e5
    python benchmarks/bench_effects.py --cases hier,bayes --chains 2 --draws 500 --tune 500
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

GROUPS = 20
BASELINE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
SIGMA = {"alpha": 0.35, "b": 0.3}
PAIRS = {"auto": "mle", "hier": "bayes"}


def grouped(n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` BG/NBD customers in :data:`GROUPS` groups of geometric sizes, each group at
    its own ``alpha`` and ``b``; a ``segment`` column names the group."""
    from clvmodels.models import bgnbd

    rng = np.random.default_rng(seed)
    shares = 0.7 ** np.arange(GROUPS)
    counts = rng.multinomial(n, shares / shares.sum())
    frames = []
    for g, count in enumerate(counts):
        factor = {k: float(np.exp(rng.normal(0.0, s))) for k, s in SIGMA.items()}
        t_days = rng.integers(189, 274, size=count)
        sim = bgnbd.simulate(
            count,
            r=BASELINE["r"],
            alpha=BASELINE["alpha"] * factor["alpha"],
            a=BASELINE["a"],
            b=BASELINE["b"] * factor["b"],
            T=t_days / 7.0,
            rng=rng,
        )
        recency = np.minimum(np.round(sim["recency"] * 7.0), t_days)
        recency = np.where(sim["frequency"] > 0, np.maximum(recency, 1), 0)
        frames.append(
            pd.DataFrame(
                {
                    "frequency": sim["frequency"],
                    "recency": recency / 7.0,
                    "T": t_days / 7.0,
                    "segment": f"G{g:02d}",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def covariate_frame(n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` customers of :func:`bench_covariates.simulate` with their covariates."""
    from bench_covariates import simulate

    data, table = simulate(n, np.random.default_rng(seed))
    frame = pd.DataFrame({c: data[c] for c in ("customer_id", "frequency", "recency", "T")})
    return frame.merge(table, on="customer_id")


def one(case: str, n: int, args: argparse.Namespace) -> dict:
    """Fit ``case`` on ``n`` customers in this (fresh) process."""
    from clvmodels import BGNBD

    covariates = {"purchase": ["loyalty_member", "channel"], "dropout": ["loyalty_member"]}
    sampler = {"chains": args.chains, "draws": args.draws, "tune": args.tune, "cores": args.cores}
    if case in ("auto", "mle"):
        frame = covariate_frame(n)
        model = BGNBD(covariates=covariates, penalty="auto" if case == "auto" else None)
    else:
        frame = grouped(n)
        hierarchy = {"group": "segment"} if case == "hier" else None
        model = BGNBD(backend="bayes", hierarchy=hierarchy, **sampler)
    started = time.perf_counter()
    model.fit(frame)
    seconds = time.perf_counter() - started
    result = model.result_
    out = {
        "case": case,
        "customers": n,
        "distinct_rows": result.n_unique,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    penalty = result.diagnostics.get("penalty")
    if penalty:
        out["lambda"] = penalty.get("l2")
    if result.draws is not None:
        out["sampling_seconds"] = result.diagnostics.get("sampling_seconds")
        per = result.diagnostics.get("parameters", {})
        out["max_r_hat"] = max((v.get("r_hat", 0.0) for v in per.values()), default=None)
        out["min_ess_bulk"] = min((v.get("ess_bulk", 1e9) for v in per.values()), default=None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="auto,mle,hier,bayes")
    parser.add_argument("--customers", default="1e5")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(float(args.one[1])), args)), flush=True)
        return
    print(f"load average before: {os.getloadavg()}; cores {os.cpu_count()}")
    rows = []
    for n in (int(float(s)) for s in args.customers.split(",")):
        for case in args.cases.split(","):
            command = [
                sys.executable, __file__, "--one", case, str(n), "--chains", str(args.chains),
                "--draws", str(args.draws), "--tune", str(args.tune), "--cores", str(args.cores),
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode:
                print(f"{case} at {n}: failed\n{done.stderr.strip().splitlines()[-1:]}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
    table = pd.DataFrame(rows)
    print(f"\nload average after: {os.getloadavg()}")
    print(table.to_string(index=False))
    for case, reference in PAIRS.items():
        for n in table["customers"].unique():
            ours = table[(table["case"] == case) & (table["customers"] == n)]
            ref = table[(table["case"] == reference) & (table["customers"] == n)]
            if len(ours) and len(ref):
                ratio = ours["seconds"].iloc[0] / ref["seconds"].iloc[0]
                print(f"{case} / {reference} at {n:,}: {ratio:.2f}x the time")


if __name__ == "__main__":
    main()
