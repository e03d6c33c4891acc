"""Fit times of the issue-16 models next to BG/NBD on the same simulated data, and the
Pareto/GGG sampler's time.

For every size, a simulator draws a transaction log (customers join over the first 12
weeks, 39-week window, purchase times in whole days as a log gives them), DuckDB
summarizes it (``frequency, recency, T, litt``), and the model and BG/NBD are fitted
by maximum likelihood on that same summary.  The BG/CNBD-k's simulator (``k = 2``:
regular buyers, BG dropout) draws the data of the CNBD-k models and of the NBD, the
GGompertz/NBD's own simulator its data (each model and BG/NBD then have a finite
maximum: on data without dropout BG/NBD's ``a, b`` are undetermined, and on BG-type
dropout the GGompertz's ``beta`` can be).  Each fit is timed twice: the
first in the process (compiling the likelihood graph, as a one-shot script pays) and
again (warm, as a notebook's second fit).  The BG/CNBD-k and MBG/CNBD-k are fitted
at the true ``k`` (one fit) and with ``k`` profiled over 1..10 (the default: one fit
per ``k`` until the likelihood falls twice).  There is no Python peer for these models
(BTYDplus and CLVTools are R packages; CRAN is not reachable from this machine), so
BG/NBD on the same data is the reference.

Usage::

    python benchmarks/bench_regularity.py                   # 1e4, 1e5, 1e6; GGG 1e3, 1e4
    python benchmarks/bench_regularity.py --sizes 10000 --ggg-sizes 1000
    python benchmarks/bench_regularity.py --models bgcnbd nbd --ggg-sizes   # no sampling
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
import pandas as pd

import clvmodels as clv
from clvmodels.data import summarize_transactions
from clvmodels.models import bgcnbd, ggompertz, paretoggg

START = pd.Timestamp("2024-01-01")
WEEKS = 39
TRUE: dict[str, tuple[Any, dict[str, float]]] = {
    "bgcnbd": (bgcnbd, {"k": 2, "r": 1.5, "alpha": 6.0, "a": 0.8, "b": 4.0}),
    "ggompertz": (ggompertz, {"r": 0.55, "alpha": 10.58, "b": 0.05, "s": 0.6, "beta": 2.0}),
    # BTYDplus's pggg.GenerateData example
    "paretoggg": (
        paretoggg,
        {"t": 4.5, "gamma": 1.5, "r": 5.0, "alpha": 10.0, "s": 0.8, "beta": 12.0},
    ),
}


def simulated_summary(key: str, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A ``key`` log of ``n`` customers in whole days, summarized in weeks."""
    module, params = TRUE[key]
    join = rng.integers(0, 84, size=n)
    T = (WEEKS * 7 - join) / 7.0
    customer, times = module.simulate_purchase_times(**params, T=T, rng=rng)
    days = np.concatenate([join, join[customer] + np.floor(times * 7.0).astype(int)])
    ids = np.concatenate([np.arange(n), customer])
    log = pd.DataFrame(
        {"customer_id": ids, "date": START + pd.to_timedelta(days, unit="D"), "amount": 1.0}
    )
    return summarize_transactions(
        log, time_unit="W", observation_end=str((START + pd.Timedelta(weeks=WEEKS)).date())
    )


def timed(fit: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fit()
    return time.perf_counter() - start, result


def fit_row(key: str, summary: pd.DataFrame, label: str, **options: Any) -> dict[str, Any]:
    """Fresh and warm fit times of ``key`` and of BG/NBD on ``summary``."""
    first, model = timed(lambda: clv.fit(key, summary, **options))
    warm, _ = timed(lambda: clv.fit(key, summary, **options))
    ref_first, _ = timed(lambda: clv.fit("bgnbd", summary))
    ref_warm, _ = timed(lambda: clv.fit("bgnbd", summary))
    return {
        "model": label,
        "customers": len(summary),
        "first_s": first,
        "warm_s": warm,
        "bgnbd_first_s": ref_first,
        "bgnbd_warm_s": ref_warm,
        "warm_ratio": warm / ref_warm,
        "k": model.params_.get("k", np.nan),
    }


MODELS = ("nbd", "ggompertz", "bgcnbd", "mbgcnbd")


def fits(sizes: list[int], models: list[str], rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for n in sizes:
        data = {g: simulated_summary(g, n, rng) for g in ("bgcnbd", "ggompertz")}
        for key in models:
            summary = data["ggompertz" if key == "ggompertz" else "bgcnbd"]
            if key in ("bgcnbd", "mbgcnbd"):
                rows.append(fit_row(key, summary, f"{key} (k = 2 given)", k=2))
                rows.append(fit_row(key, summary, f"{key} (k profiled)"))
            else:
                rows.append(fit_row(key, summary, key))
            print(pd.DataFrame(rows[-1:]).round(3).to_string(index=False), flush=True)
    return pd.DataFrame(rows)


def sampling(sizes: list[int], rng: np.random.Generator, draws: int) -> pd.DataFrame:
    rows = []
    for n in sizes:
        summary = simulated_summary("paretoggg", n, rng)
        seconds, model = timed(
            lambda s=summary: clv.fit("paretoggg", s, draws=draws, tune=draws, chains=2)
        )
        per = model.result_.diagnostics.get("parameters", {})
        ess = min(v.get("ess_bulk", np.nan) for v in per.values()) if per else np.nan
        rhat = max(v.get("r_hat", np.nan) for v in per.values()) if per else np.nan
        rows.append(
            {
                "customers": n,
                "draws x chains": f"{draws}+{draws} x 2",
                "seconds": seconds,
                "min_ess_bulk": ess,
                "max_r_hat": rhat,
            }
        )
        print(pd.DataFrame(rows[-1:]).round(3).to_string(index=False), flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--ggg-sizes", type=int, nargs="*", default=[1_000, 10_000])
    parser.add_argument("--ggg-draws", type=int, default=500)
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    args = parser.parse_args()
    rng = np.random.default_rng(16)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    table = fits(args.sizes, args.models, rng)
    print("\nMLE fit seconds (first in process / warm), BG/NBD on the same data:")
    print(table.round(3).to_string(index=False))
    if args.ggg_sizes:
        ggg = sampling(args.ggg_sizes, rng, args.ggg_draws)
        print("\nPareto/GGG Gibbs sampling:")
        print(ggg.round(3).to_string(index=False))
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
