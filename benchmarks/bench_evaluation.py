"""Benchmark the holdout evaluation: what the probabilistic scores and the challenger add
to a run, and a rolling-origin backtest.

A transaction log is simulated from the BG/NBD (Fader, Hardie & Lee 2005, section 2,
event by event: :func:`clvmodels.models.bgnbd.simulate_purchase_times`) with CDNOW-like
parameters in weeks (r = 0.24, α = 4.4, a = 0.79, b = 2.43), first purchases spread over
the first 12 weeks of 2020, 78 weeks observed, and Gamma-Gamma spends (p = 6.25,
q = 3.74, γ = 15.44), written as Parquet.  Every measurement runs ``clvmodels fit`` in a
fresh process (the compilation of the likelihoods included, as a user meets it) and
reads that process's peak RSS from ``os.wait4``; the seconds of each step come from the
run's ``manifest.json``.

* **Overhead** (``--customers``, default 10^5): BG/NBD, Pareto/NBD and Gamma-Gamma with a
  39 + 39-week split, once with ``evaluation.challenger: false`` and once with it; the
  overhead is the time of the evaluation step (point metrics, count forecasts, the
  proper scores, simulated revenue, calibration and PIT) and of the challenger's
  training, next to the whole run.
* **Backtest** (``--backtest-customers``, default 10^6): the same models refitted and
  scored at 4 calibration ends 4 weeks apart (``evaluation.backtest: {origins: 4,
  step: 4}``), challenger included.

No peer offers an evaluation of BTYD models with proper scores, a challenger or
backtests (lifetimes, PyMC-Marketing, CLVTools, BTYDplus), so there is no peer column::

    python benchmarks/bench_evaluation.py
    python benchmarks/bench_evaluation.py --customers 1e4 --backtest-customers 1e5
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_summary import load_average, run_process

BGNBD = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.43}
SPEND = {"p": 6.25, "q": 3.74, "gamma": 15.44}
START = np.datetime64("2020-01-01")
WEEKS = 78.0
CONFIG = """name: bench
data: {{source: {source}, kind: transactions, time_unit: W}}
split: {{calibration_end: 2020-09-30, observation_end: 2021-06-30}}
models: {{bgnbd: {{}}, paretonbd: {{}}, gamma_gamma: {{}}}}
clv: {{purchase_model: auto, horizon: 52, interval: null}}
evaluation: {{challenger: {challenger}{backtest}}}
"""


def simulate_log(n: int, seed: int) -> pd.DataFrame:
    """``n`` customers' transactions (first purchases and repeat purchases, days)."""
    from clvmodels.models import bgnbd

    rng = np.random.default_rng(seed)
    join = rng.uniform(0.0, 12.0, n)
    customer, times = bgnbd.simulate_purchase_times(**BGNBD, T=WEEKS - join, rng=rng)
    who = np.concatenate([np.arange(n), customer])
    week = np.concatenate([join, join[customer] + times])
    nu = rng.gamma(SPEND["q"], 1.0 / SPEND["gamma"], n)
    amount = rng.gamma(SPEND["p"], 1.0 / nu[who])
    days = np.floor(week * 7.0).astype("timedelta64[D]")
    return pd.DataFrame(
        {"customer_id": who.astype(np.int64), "date": START + days, "amount": amount.round(2)}
    )


def run_fit(folder: Path, source: Path, challenger: bool, backtest: bool) -> dict:
    """``clvmodels fit`` in a child process; its step times, wall time and peak RSS."""
    name = f"{'challenger' if challenger else 'plain'}{'-backtest' if backtest else ''}"
    config = folder / f"{name}.yaml"
    extra = ", backtest: {origins: 4, step: 4}" if backtest else ""
    text = CONFIG.format(source=source, challenger=str(challenger).lower(), backtest=extra)
    config.write_text(text)
    out = folder / name
    code = (
        "import json, sys, time; from clvmodels.cli import main; t = time.perf_counter(); "
        f"c = main(['fit', {str(config)!r}, '--out', {str(out)!r}, '--quiet']); "
        "print(json.dumps({'code': c, 'wall': time.perf_counter() - t}))"
    )
    result = run_process([sys.executable, "-c", code])
    if result.get("code") == 0:
        manifest = json.loads((out / "manifest.json").read_text())
        result["steps"] = manifest["steps_seconds"]
    return result


def _seconds(steps: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in steps.items() if k.startswith(prefix))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=float, default=1e5)
    parser.add_argument("--backtest-customers", type=float, default=1e6)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    print(load_average() + " (before)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n, backtest in ((int(args.customers), False), (int(args.backtest_customers), True)):
            started = time.perf_counter()
            log = simulate_log(n, args.seed)
            source = folder / f"log_{n}.parquet"
            log.to_parquet(source, index=False)
            print(f"\n{n:,} customers, {len(log):,} transactions (simulated in "
                  f"{time.perf_counter() - started:.1f} s)", flush=True)
            runs = [False, True] if not backtest else [True]
            for challenger in runs:
                r = run_fit(folder, source, challenger, backtest)
                if "steps" not in r:
                    print(f"  failed: {r}")
                    continue
                steps = r["steps"]
                label = "with challenger" if challenger else "without challenger"
                if backtest:
                    label = "backtest, 4 origins"
                print(
                    f"  {label:<22} whole run {r['wall']:7.1f} s (process {r['process_s']:.1f} s),"
                    f" peak RSS {r['rss_mb'] / 1024:.2f} GB; fit {_seconds(steps, 'fit'):.1f} s,"
                    f" evaluate {_seconds(steps, 'evaluate'):.1f} s, challenger "
                    f"{_seconds(steps, 'train the challenger'):.1f} s, backtest "
                    f"{_seconds(steps, 'backtest'):.1f} s",
                    flush=True,
                )
    print(load_average() + " (after; other jobs on the machine slow every figure)")


if __name__ == "__main__":
    main()
