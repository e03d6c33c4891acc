"""Per-customer values on CDNOW: ``customer_values`` with and without its default interval,
next to lifetimes' ``customer_lifetime_value``, each in a fresh child process.

Issue 22's target: ``customer_values`` on CDNOW with its default interval (200 parametric
draws, central 90 %) takes at most 0.3 s on its first call in a fresh process.  For every
purchase model asked for, the parent fits it and a Gamma-Gamma spend model on the CDNOW
calibration summary (2,357 customers, 39 weeks) once; each measurement then runs in a new
process (``spawn``) that receives the fitted models, imports what it needs and times

* ours with the default interval: the first call, then the best of three warm calls;
* ours without an interval (``ValueSettings(interval=None)``): first and warm; both of
  ours in ``--fresh`` new processes (3 by default: the median first call and the best
  warm call are printed, one first call on a shared machine saying little);
* lifetimes (point values only: it has no intervals): ``GammaGammaFitter.
  customer_lifetime_value`` with the same fitted parameters, given its best shot: one row
  per distinct history (gathered back to the customers afterwards), ``freq="W"`` (the
  data's unit, so no day/week factor) and 12 monthly steps discounted at the monthly
  equivalent of our 10 % a year.

Wall and CPU seconds (``time.process_time`` of the child, all its threads) are printed,
with the ratios and the load average before and after, since on a busy machine wall time
says more about the neighbours than about us (at a load of 7 on 2 cores the BG/NBD's
first call took 0.5-0.8 s wall for 0.25 s of CPU).  lifetimes (``pip install
lifetimes``) is a benchmark-only dependency.

Usage::

    python benchmarks/bench_values.py                         # bgnbd, paretonbd
    python benchmarks/bench_values.py --models bgnbd mbgnbd paretonbd --repeat 5 --fresh 5
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue as queue_module
import time
import warnings
from typing import Any

import numpy as np

LIFETIMES_MODELS = {"bgnbd": "BetaGeoFitter", "paretonbd": "ParetoNBDFitter"}
YEARLY_RATE = 0.10


def cdnow_summary():
    """The CDNOW calibration summary (39 + 39 weeks), as the tests build it."""
    from clvmodels.data import load_builtin, summarize_transactions

    return summarize_transactions(
        load_builtin("cdnow_sample"),
        time_unit="W",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )


def _timed(call, repeat: int) -> dict[str, float]:
    """Wall and CPU seconds of the first call and the best of ``repeat`` warm calls."""
    out: dict[str, float] = {}
    for i in range(repeat + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if i == 0:
            out["first_wall"], out["first_cpu"] = wall, cpu
        else:
            out["warm_wall"] = min(out.get("warm_wall", wall), wall)
            out["warm_cpu"] = min(out.get("warm_cpu", cpu), cpu)
    return out


def _ours(job: dict[str, Any], queue: mp.Queue) -> None:
    from clvmodels.clv import ValueSettings, customer_values

    settings = ValueSettings() if job["interval"] else ValueSettings(interval=None)
    frame, purchase, spend = job["summary"], job["purchase"], job["spend"]
    queue.put(
        _timed(lambda: customer_values(purchase, frame, settings, spend=spend), job["repeat"])
    )


def _lifetimes(job: dict[str, Any], queue: mp.Queue) -> None:
    import lifetimes
    import pandas as pd

    purchase = getattr(lifetimes, LIFETIMES_MODELS[job["key"]])()
    purchase.params_ = pd.Series(job["purchase"].params_)
    if job["key"] == "paretonbd":  # lifetimes names the Pareto/NBD's (s, beta) (s, beta)
        purchase.params_ = purchase.params_[["r", "alpha", "s", "beta"]]
    # lifetimes attaches ``predict`` in ``fit``; the parameters are set, not refitted
    purchase.predict = purchase.conditional_expected_number_of_purchases_up_to_time
    spend = lifetimes.GammaGammaFitter()
    gg = job["spend"].params_
    spend.params_ = pd.Series({"p": gg["p"], "q": gg["q"], "v": gg["gamma"]})
    frame = job["summary"]
    columns = ["frequency", "recency", "T", "monetary_value"]
    monthly = (1.0 + YEARLY_RATE) ** (1.0 / 12.0) - 1.0

    def call() -> None:
        distinct = frame[columns].drop_duplicates()
        with warnings.catch_warnings():  # lifetimes takes log(0) for x = 0 customers
            warnings.simplefilter("ignore", RuntimeWarning)
            values = spend.customer_lifetime_value(
                purchase,
                distinct["frequency"],
                distinct["recency"],
                distinct["T"],
                distinct["monetary_value"],
                time=12,
                discount_rate=monthly,
                freq="W",
            )
        merged = frame[columns].merge(distinct.assign(clv=values.to_numpy()), on=columns)
        assert len(merged) == len(frame)

    queue.put(_timed(call, job["repeat"]))


def _in_child(target, job: dict[str, Any]) -> dict[str, float]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(job, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except queue_module.Empty:
            if not process.is_alive():
                failed = f"{target.__name__} failed (exit code {process.exitcode})"
                raise RuntimeError(failed) from None
    process.join()
    return result


def _fresh(target, job: dict[str, Any], processes: int) -> dict[str, float]:
    """:func:`_in_child` in ``processes`` new processes: the median first call (wall and
    CPU) and the best warm call."""
    runs = [_in_child(target, job) for _ in range(processes)]
    out = {k: float(np.median([r[k] for r in runs])) for k in ("first_wall", "first_cpu")}
    out.update({k: min(r[k] for r in runs) for k in ("warm_wall", "warm_cpu")})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["bgnbd", "paretonbd"])
    parser.add_argument("--repeat", type=int, default=3, help="warm calls after the first")
    parser.add_argument("--fresh", type=int, default=3, help="new processes per measurement")
    args = parser.parse_args()

    import clvmodels

    summary = cdnow_summary()
    spend = clvmodels.fit("gamma_gamma", summary)
    print(
        f"CDNOW: {len(summary):,} customers; load average {os.getloadavg()} on "
        f"{os.cpu_count()} cores"
    )
    header = (
        f"{'model':<10} {'measurement':<26} {'first wall':>10} {'first cpu':>10} "
        f"{'warm wall':>10} {'warm cpu':>9}"
    )
    print(header)
    print("-" * len(header))
    for key in args.models:
        job = {
            "key": key,
            "summary": summary,
            "purchase": clvmodels.fit(key, summary),
            "spend": spend,
            "repeat": args.repeat,
        }
        rows = {
            "ours, default interval": _fresh(_ours, {**job, "interval": True}, args.fresh),
            "ours, no interval": _fresh(_ours, {**job, "interval": False}, args.fresh),
        }
        if key in LIFETIMES_MODELS:
            rows["lifetimes CLV (point)"] = _in_child(_lifetimes, job)
        for name, t in rows.items():
            print(
                f"{key:<10} {name:<26} {t['first_wall']:10.3f} {t['first_cpu']:10.3f} "
                f"{t['warm_wall']:10.3f} {t['warm_cpu']:9.3f}",
                flush=True,
            )
        ours, bare = rows["ours, default interval"], rows["ours, no interval"]
        ratios = [
            f"interval costs {ours['first_wall'] / bare['first_wall']:.0f}x no interval (first)",
            f"target first call <= 0.3 s: {'met' if ours['first_wall'] <= 0.3 else 'missed'}",
        ]
        if "lifetimes CLV (point)" in rows:
            peer = rows["lifetimes CLV (point)"]
            ratios.append(
                f"lifetimes / ours no interval (warm) {peer['warm_wall'] / bare['warm_wall']:.1f}x"
            )
            with_interval = peer["warm_wall"] / ours["warm_wall"]
            ratios.append(f"lifetimes / ours with interval (warm) {with_interval:.2f}x")
        print(f"{'':<10} " + "; ".join(ratios))
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
