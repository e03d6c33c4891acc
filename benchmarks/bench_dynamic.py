"""Time and peak memory of the Pareto/NBD with time-varying covariates (issue 17).

Each size runs in a fresh process (``--one``): a simulated store (customers join on a
day of the first year; 104 weekly calibration periods; a calendar with a high season
in November–December and a two-week spring campaign, population-wide, from
:func:`clvmodels.data.calendar_covariates`) is turned into its period panel
(:func:`clvmodels.data.build_panel`), then fitted by maximum likelihood with
``high_season`` and ``spring_sale`` on the purchase process and ``high_season`` on the
dropout — first in the process (PyTensor compiles the graph) and again warm — and,
where asked, by NUTS.  The reference on the same customers is the Pareto/NBD without
covariates (ours, and lifetimes' ``ParetoNBDFitter`` on the distinct rows with
``weights=``, its fastest documented use, at the sizes given by ``--lifetimes``).
There is no Python peer with time-varying covariates (CLVTools is an R package; CRAN is
not reachable from this machine).  The simulation runs every customer's weekly periods
from her join day (the calendar is shifted by up to six days for customers joining
mid-week): it is data to time, not a recovery check (that is
``tests/test_dynamic_estimator.py`` and the seasonal store of docs/guide/covariates.md).

Usage::

    python benchmarks/bench_dynamic.py                       # MLE 1e4, 1e5; NUTS 1e4
    python benchmarks/bench_dynamic.py --sizes 10000 --bayes-sizes --lifetimes 10000
    python benchmarks/bench_dynamic.py --bayes-sizes 10000 --draws 500 --tune 500 --chains 2
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

START = np.datetime64("2023-01-02")
CALIBRATION_WEEKS = 104
TRUE = {"r": 1.0, "alpha": 6.0, "s": 0.8, "beta": 30.0}
EFFECTS = {"purchase": {"high_season": 0.7, "spring_sale": 1.1}, "dropout": {"high_season": -0.6}}
CAMPAIGNS = [
    {"name": "spring_sale", "start": "2023-03-13", "end": "2023-03-26"},
    {"name": "spring_sale", "start": "2024-03-11", "end": "2024-03-24"},
]


def simulated(n: int, seed: int = 1) -> tuple[pd.DataFrame, object]:
    """The summary and the panel of ``n`` simulated customers."""
    from clvmodels.data import build_panel, calendar_covariates
    from clvmodels.models import paretonbd_dynamic

    rng = np.random.default_rng(seed)
    calendar = calendar_covariates(
        START, CALIBRATION_WEEKS + 1, "W", high_season=[11, 12], campaigns=CAMPAIGNS
    )
    join = rng.integers(0, 364, n)
    week = join // 7
    idx = week[:, None] + np.arange(CALIBRATION_WEEKS)[None, :]
    idx = np.minimum(idx, CALIBRATION_WEEKS)
    high = calendar["high_season"].to_numpy()[idx]
    sale = calendar["spring_sale"].to_numpy()[idx]
    purchase = np.exp(
        EFFECTS["purchase"]["high_season"] * high + EFFECTS["purchase"]["spring_sale"] * sale
    )
    dropout = np.exp(EFFECTS["dropout"]["high_season"] * high)
    customer, times, _ = paretonbd_dynamic.simulate(
        n, **TRUE, purchase_rate=purchase, dropout_rate=dropout, rng=rng
    )
    end = CALIBRATION_WEEKS * 7 - 1  # the calibration end: day 727, a Sunday
    days = join[customer] + np.floor(times * 7).astype(int)
    keep = (days <= end) & (days > join[customer])
    customer, days = customer[keep], days[keep]
    # one purchase per day, as the summary counts purchase days
    unique = np.unique(customer.astype(np.int64) * 10_000 + days)
    customer, days = unique // 10_000, unique % 10_000
    panel = build_panel(
        np.arange(n).astype(str),
        START + join.astype("timedelta64[D]"),
        (customer, START + days.astype("timedelta64[D]")),
        START + np.timedelta64(end, "D"),
        "W",
        [calendar],
    )
    summary = pd.DataFrame(
        {
            "customer_id": panel.customer_ids,
            "frequency": panel.counts.sum(axis=1),
            "recency": panel.before.sum(axis=1),
            "T": panel.exposure.sum(axis=1),
        }
    )
    return summary, panel


def one(n: int, bayes: bool, lifetimes: bool, sampler: dict) -> dict:
    """Every measurement of one size, in this (fresh) process."""
    import clvmodels as clv

    out: dict = {"n": n}
    started = time.perf_counter()
    summary, panel = simulated(n)
    out["panel_seconds"] = time.perf_counter() - started
    processes = {"purchase": ["high_season", "spring_sale"], "dropout": ["high_season"]}
    for label in ("fresh", "warm"):
        started = time.perf_counter()
        model = clv.estimators.ParetoNBD(dynamic_covariates=processes)
        model.fit(summary, time_unit="W", dynamic=panel)
        out[f"mle_{label}"] = time.perf_counter() - started
    out["estimates"] = {k: round(v, 4) for k, v in model.params_.items()}
    started = time.perf_counter()
    clv.estimators.ParetoNBD().fit(summary, time_unit="W")
    out["plain_seconds"] = time.perf_counter() - started
    if lifetimes:
        out["lifetimes_seconds"] = _lifetimes(summary)
    if bayes:
        started = time.perf_counter()
        model = clv.estimators.ParetoNBD("bayes", dynamic_covariates=processes, **sampler)
        model.fit(summary, time_unit="W", dynamic=panel)
        out["bayes_seconds"] = time.perf_counter() - started
        out["sampling_seconds"] = model.result_.diagnostics["sampling_seconds"]
        out["bayes_converged"] = model.result_.diagnostics["converged"]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _lifetimes(summary: pd.DataFrame) -> float:
    """lifetimes' Pareto/NBD on the distinct rows with ``weights=``."""
    from lifetimes import ParetoNBDFitter

    started = time.perf_counter()
    rows = summary.groupby(["frequency", "recency", "T"]).size().reset_index(name="w")
    ParetoNBDFitter().fit(rows["frequency"], rows["recency"], rows["T"], weights=rows["w"])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--bayes-sizes", type=int, nargs="*", default=[10_000])
    parser.add_argument("--lifetimes", type=int, nargs="*", default=[10_000])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bayes", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--with-lifetimes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sampler = {"draws": args.draws, "tune": args.tune, "chains": args.chains}
    if args.one:
        print(json.dumps(one(args.one, args.bayes, args.with_lifetimes, sampler)))
        return
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()}")
    for n in sorted(set(args.sizes) | set(args.bayes_sizes)):
        command = [
            sys.executable,
            __file__,
            "--one",
            str(n),
            "--draws",
            str(args.draws),
            "--tune",
            str(args.tune),
            "--chains",
            str(args.chains),
        ]
        command += ["--bayes"] if n in args.bayes_sizes else []
        command += ["--with-lifetimes"] if n in args.lifetimes else []
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        line = (
            f"n={n:>7,}: panel {r['panel_seconds']:.1f} s; MLE fresh {r['mle_fresh']:.1f} s, "
            f"warm {r['mle_warm']:.1f} s; plain Pareto/NBD (ours) {r['plain_seconds']:.2f} s"
        )
        line += (
            f" (covariate fit / plain: {r['mle_fresh'] / r['plain_seconds']:.0f}x fresh, "
            f"{r['mle_warm'] / r['plain_seconds']:.0f}x warm)"
        )
        if "lifetimes_seconds" in r:
            line += (
                f"; lifetimes plain (weights) {r['lifetimes_seconds']:.2f} s (covariate fit "
                f"/ lifetimes: {r['mle_fresh'] / r['lifetimes_seconds']:.1f}x fresh, "
                f"{r['mle_warm'] / r['lifetimes_seconds']:.1f}x warm)"
            )
        if "bayes_seconds" in r:
            line += (
                f"; NUTS {r['bayes_seconds']:.0f} s ({r['sampling_seconds']:.0f} s "
                f"sampling, converged {r['bayes_converged']})"
            )
        print(line + f"; peak RSS {r['peak_rss_mb']:.0f} MB")
        print(f"    estimates {r['estimates']}")
    print(f"load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
