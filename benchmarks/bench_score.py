"""Benchmark per-customer scoring: BG/NBD + Gamma-Gamma, clvmodels vs lifetimes.

Customers are simulated from the BG/NBD and Gamma-Gamma models with the CDNOW
estimates of Fader, Hardie & Lee (2005) (``bench_fit.simulate``: joins over 12 weeks,
observed to week 39, times in whole days); both models are fitted on the first 10^5
customers (fitting is not what is measured here) and saved.  Every measurement runs
in a fresh Python process that simulates the same customers from the same seed, so its
peak RSS (``os.wait4``) is that of one job; the scoring alone is timed.

* ``point``: ``clv.customer_values(..., interval=None)``: P(alive), expected purchases
  over 52 weeks, DERT and CLV (10 % a year, continuous discounting), plug-in estimates;
* ``cli``: ``clvmodels predict`` reading the summary from Parquet and writing the
  scores to Parquet (reading, validation, scoring, sorting and writing timed together);
* ``lifetimes``: lifetimes 0.11.3 with the same parameters:
  ``conditional_expected_number_of_purchases_up_to_time(52)``,
  ``conditional_probability_alive`` and ``customer_lifetime_value`` (12 months,
  monthly discounting at the same yearly rate, ``freq="W"``), at ``--peer-sizes``;
* ``draws``: a Bayesian-like result with ``--draws`` parameter draws (drawn from the
  MLE's asymptotic normal distribution, as in ``bench_predict_bayes.py``; where the
  draws come from does not change the cost): posterior means, sds and 90 % intervals
  of every quantity, in memory-bounded chunks, at ``--draw-sizes``.

Usage::

    python benchmarks/bench_score.py                              # 1e7 customers
    python benchmarks/bench_score.py --customers 1e6 --peer-sizes 1e5 --draw-sizes 1e5
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import simulate  # same simulated customers as bench_fit
from bench_summary import load_average, run_process

HORIZON_WEEKS = 52.0
YEARLY_RATE = 0.10
POINT_TARGET_S = 30.0
TARGET_CUSTOMERS = 10_000_000
FIT_CUSTOMERS = 100_000


def customers(n: int, seed: int):
    """The simulated summary of ``n`` customers (the first rows do not depend on ``n``
    beyond the simulator's own draws; each size is its own draw from ``seed``)."""
    frame = simulate("gamma_gamma", n, np.random.default_rng(seed))
    frame.insert(0, "customer_id", np.arange(n, dtype=np.int64))
    return frame


def _settings(interval: float | None, draws: int):
    from clvmodels.clv import ValueSettings

    return ValueSettings(
        horizon=HORIZON_WEEKS,
        discount_rate=YEARLY_RATE,
        time_unit="W",
        interval=interval,
        draws=draws,
    )


def measure(mode: str, n: int, seed: int, models: Path, draws: int) -> dict[str, object]:
    """One measurement in this process (called in a child)."""
    import clvmodels

    purchase = clvmodels.load_model(str(models / "bgnbd.json"))
    spend = clvmodels.load_model(str(models / "gamma_gamma.json"))
    if mode == "cli":
        from clvmodels.cli import main

        args = ["predict", str(models / "bgnbd.json"), str(models / f"summary-{n}.parquet")]
        out = models / f"scores-{n}.parquet"
        args += ["--spend-model", str(models / "gamma_gamma.json"), "--out", str(out)]
        args += ["--horizon", str(HORIZON_WEEKS), "--discount-rate", str(YEARLY_RATE)]
        start = time.perf_counter()
        code = main(args)
        seconds = time.perf_counter() - start
        import pandas as pd

        scores = pd.read_parquet(out, columns=["clv"])
        out.unlink()
        return {
            "seconds": seconds,
            "exit": code,
            "rows": len(scores),
            "mean_clv": scores["clv"].mean(),
        }
    frame = customers(n, seed)
    if mode == "lifetimes":
        return _lifetimes(frame, purchase.params_, spend.params_)
    from clvmodels.clv import customer_values

    if mode == "draws":
        import dataclasses

        rng = np.random.default_rng(seed + 1)
        for model in (purchase, spend):
            posterior = model.result_.parameter_draws(draws, rng)
            model.result_ = dataclasses.replace(model.result_, backend="bayes", draws=posterior)
        settings = _settings(0.9, draws)
    else:
        settings = _settings(None, draws)
    start = time.perf_counter()
    values = customer_values(purchase, frame, settings, spend=spend)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": len(values), "mean_clv": float(values["clv"].mean())}


def _lifetimes(frame, bgnbd: dict, gamma_gamma: dict) -> dict[str, object]:
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    purchase = BetaGeoFitter()
    purchase.params_ = pd.Series({k: float(bgnbd[k]) for k in ("r", "alpha", "a", "b")})
    # lifetimes attaches ``predict`` inside ``fit``; customer_lifetime_value calls it
    purchase.predict = purchase.conditional_expected_number_of_purchases_up_to_time
    spend = GammaGammaFitter()
    spend.params_ = pd.Series(
        {"p": gamma_gamma["p"], "q": gamma_gamma["q"], "v": gamma_gamma["gamma"]}
    )
    x, t_x, big_t = frame["frequency"], frame["recency"], frame["T"]
    monthly = (1.0 + YEARLY_RATE) ** (1.0 / 12.0) - 1.0
    start = time.perf_counter()
    purchase.conditional_expected_number_of_purchases_up_to_time(HORIZON_WEEKS, x, t_x, big_t)
    purchase.conditional_probability_alive(x, t_x, big_t)
    clv = spend.customer_lifetime_value(
        purchase,
        x,
        t_x,
        big_t,
        frame["monetary_value"],
        time=12,
        discount_rate=monthly,
        freq="W",
    )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": len(clv), "mean_clv": float(np.mean(clv))}


def _child(args: argparse.Namespace) -> dict[str, object]:
    if args.measure == "lifetimes":
        cap = int(args.cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    def too_long(signum, frame):
        raise TimeoutError(f"did not finish within {args.limit_s:g} s")

    signal.signal(signal.SIGALRM, too_long)
    signal.alarm(int(args.limit_s))
    try:
        return measure(args.measure, args.n, args.seed, Path(args.models), args.draws)
    except MemoryError:
        return {"failed": f"MemoryError under a {args.cap_gb:g} GB address-space cap"}
    except Exception as exc:  # the peer may break on current pandas/numpy: report it
        return {"failed": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}


def run_child(mode: str, n: int, args: argparse.Namespace, models: Path) -> dict[str, object]:
    command = [sys.executable, __file__, "--measure", mode, "--n", str(n)]
    command += ["--seed", str(args.seed), "--models", str(models), "--draws", str(args.draws)]
    result = run_process([*command, "--cap-gb", str(args.cap_gb), "--limit-s", str(args.limit_s)])
    result["rss_gb"] = float(result["rss_mb"]) / 1024
    return result


def _line(mode: str, n: int, r: dict[str, object], ours: dict[str, object] | None) -> str:
    if "failed" in r:
        return f"{mode:<10}{n:>12,}  does not run: {r['failed']} (peak {r['rss_gb']:.2f} GB)"
    ratio = ""
    if ours is not None and "failed" not in ours:
        ratio = f"  {float(r['seconds']) / float(ours['seconds']):.1f}x our point-estimate time"
    return (
        f"{mode:<10}{n:>12,}{float(r['seconds']):>10.2f}{float(r['process_s']):>11.1f}"
        f"{float(r['rss_gb']):>9.2f}{float(r['mean_clv']):>10.3f}{ratio}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=float, default=TARGET_CUSTOMERS)
    parser.add_argument("--peer-sizes", type=float, nargs="*", default=[1e6, 1e7])
    parser.add_argument("--draw-sizes", type=float, nargs="*", default=[1e6])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2005)
    parser.add_argument("--cap-gb", type=float, default=16.0, help="lifetimes' address-space cap")
    parser.add_argument("--limit-s", type=float, default=1800.0, help="time limit per run")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--models", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_child(args)))
        return
    import clvmodels

    n_top = int(args.customers)
    peer_sizes = sorted({int(s) for s in args.peer_sizes})
    sizes = sorted(set(peer_sizes) | {n_top})
    print(load_average() + " (before)", flush=True)
    models = Path(tempfile.mkdtemp(prefix="bench-score-"))
    try:
        sample = customers(FIT_CUSTOMERS, args.seed + 7)
        clvmodels.fit("bgnbd", sample).save(models / "bgnbd.json")
        clvmodels.fit("gamma_gamma", sample).save(models / "gamma_gamma.json")
        header = (
            f"{'measure':<10}{'customers':>12}{'scoring s':>10}{'process s':>11}"
            f"{'peak GB':>9}{'mean CLV':>10}"
        )
        print(header + "\n" + "-" * len(header), flush=True)
        point: dict[int, dict[str, object]] = {}
        for n in sizes:
            point[n] = run_child("point", n, args, models)
            print(_line("point", n, point[n], None), flush=True)
            if n == n_top:
                customers(n, args.seed).to_parquet(models / f"summary-{n}.parquet", index=False)
                cli = run_child("cli", n, args, models)
                print(_line("cli", n, cli, None), flush=True)
                (models / f"summary-{n}.parquet").unlink()
            if n in peer_sizes:
                peer = run_child("lifetimes", n, args, models)
                print(_line("lifetimes", n, peer, point[n]), flush=True)
        for n in sorted({int(s) for s in args.draw_sizes}):
            drawn = run_child("draws", n, args, models)
            print(_line("draws", n, drawn, None) + f"  ({args.draws:,} draws)", flush=True)
            if "failed" not in drawn and n < n_top:
                per = float(drawn["seconds"]) / n
                print(
                    f"          extrapolated to {n_top:,} customers (linear in customers; "
                    f"not measured): {per * n_top:,.0f} s, peak memory bounded by the chunking "
                    f"(measured {float(drawn['rss_gb']):.2f} GB at {n:,})",
                    flush=True,
                )
    finally:
        shutil.rmtree(models, ignore_errors=True)
    top = point[n_top]
    if n_top >= TARGET_CUSTOMERS and "failed" not in top:
        ok = float(top["seconds"]) < POINT_TARGET_S
        print(
            f"\ntarget, {n_top:,} customers, point estimates under {POINT_TARGET_S:g} s: "
            f"{'pass' if ok else 'FAIL'} ({float(top['seconds']):.1f} s)"
        )
    print(load_average() + " (after; other jobs on the machine slow every figure)")


if __name__ == "__main__":
    main()
