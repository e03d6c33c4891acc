"""Benchmark the Spark pipeline against the single-machine one, side by side.

Both sides run the same pipeline on the same synthetic log (the generator of
``bench_summary.py``, written to Parquet): summary with a calibration/holdout split ->
BG/NBD + Gamma-Gamma MLE fits -> point-estimate scoring of every customer written to
Parquet.  Single machine: DuckDB summary, fits and :func:`clvmodels.clv.customer_values`
in pandas.  Spark (local mode, every core): :func:`summarize_transactions_spark`, fits
on the compressed rows, ``mapInPandas`` scoring written by Spark.  Each side runs in a
fresh child process; its peak memory is the peak of the summed RSS of its whole process
tree (the Python driver, the JVM and Spark's Python workers), sampled from /proc::

    python benchmarks/bench_spark.py                         # 10^7 transactions
    python benchmarks/bench_spark.py --transactions 1e6 --customers 1e5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_summary import SPLIT, generate

STEPS = ("summary", "fit", "score+write")


def tree_rss_mb(root: int) -> float:
    """Summed resident memory (MB) of ``root`` and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid and p not in tree]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class PeakMemory:
    """Samples the summed RSS of this process tree in a background thread."""

    def __init__(self, interval: float = 0.25) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(os.getpid()))
            self._stop.wait(interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def single_machine(path: str, out: Path) -> dict[str, float]:
    """DuckDB summary, pandas fits, customer_values, pandas Parquet writer."""
    from clvmodels import clv
    from clvmodels.data import summarize_transactions
    from clvmodels.estimators import BGNBD, GammaGamma

    times: dict[str, float] = {}
    start = time.perf_counter()
    summary = summarize_transactions(path, **SPLIT)
    summary = summary[summary["T"] > 0]  # first purchase on calibration_end: nothing to fit
    times["summary"] = time.perf_counter() - start
    start = time.perf_counter()
    purchase = BGNBD().fit(summary)
    spend = GammaGamma().fit(summary)
    times["fit"] = time.perf_counter() - start
    start = time.perf_counter()
    settings = clv.ValueSettings(horizon=52.0, time_unit="W", interval=None)
    values = clv.customer_values(purchase, summary, settings, spend=spend)
    values.insert(0, "customer_id", summary["customer_id"].to_numpy())
    values.to_parquet(out / "predictions.parquet", index=False)
    times["score+write"] = time.perf_counter() - start
    return {
        **times,
        "customers": len(summary),
        "r": purchase.params_["r"],
        "clv_total": float(values["clv"].sum()),
    }


def spark_side(path: str, out: Path, master: str) -> dict[str, float]:
    """Spark summary, fits on compressed rows, mapInPandas scoring written by Spark."""
    from clvmodels import clv
    from clvmodels.estimators import BGNBD, GammaGamma
    from clvmodels.spark import spark_session, summarize_transactions_spark
    from clvmodels.spark.models import fit_compressed, score_customers, write_parquet

    times: dict[str, float] = {}
    start = time.perf_counter()
    spark = spark_session(
        master, "clvmodels-bench", {"spark.driver.memory": "6g", "spark.ui.enabled": False}
    )
    times["session start"] = time.perf_counter() - start
    try:
        start = time.perf_counter()
        summary = summarize_transactions_spark(path, spark=spark, **SPLIT)
        times["summary"] = time.perf_counter() - start
        start = time.perf_counter()
        frame = summary.frame.filter("T > 0")  # as on the single machine
        purchase = fit_compressed(BGNBD(), frame, time_unit="W")
        spend = fit_compressed(GammaGamma(), frame, time_unit="W")
        times["fit"] = time.perf_counter() - start
        start = time.perf_counter()
        settings = clv.ValueSettings(horizon=52.0, time_unit="W", interval=None)
        scores = score_customers(frame, purchase, settings, spend=spend)
        write_parquet(scores, out / "predictions.parquet")
        times["score+write"] = time.perf_counter() - start
        import pandas as pd

        written = pd.read_parquet(out / "predictions.parquet", columns=["clv"])
        clv_total = float(written["clv"].sum())
        return {
            **times,
            "customers": frame.count(),
            "r": purchase.params_["r"],
            "clv_total": clv_total,
        }
    finally:
        spark.stop()


def measure(side: str, path: str, master: str) -> dict[str, float]:
    """Run one side in this process (called in a child)."""
    with tempfile.TemporaryDirectory() as tmp, PeakMemory() as memory:
        start = time.perf_counter()
        if side == "spark":
            result = spark_side(path, Path(tmp), master)
        else:
            result = single_machine(path, Path(tmp))
        result["total"] = time.perf_counter() - start
    result["peak_mb"] = memory.peak
    return result


def run_child(side: str, path: Path, master: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", side, "--path", str(path)]
    proc = subprocess.run([*command, "--master", master], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise SystemExit(f"{side} failed with exit code {proc.returncode}:\n{tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=float, default=10_000_000)
    parser.add_argument("--customers", type=float, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.path, args.master)))
        return
    n_tx, n_customers = int(args.transactions), int(args.customers)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        frame = generate(n_tx, n_customers, args.seed)
        path = Path(tmp) / "tx.parquet"
        frame.to_parquet(path, index=False)
        del frame
        print(
            f"generated {n_tx:,} transactions for {n_customers:,} customers in "
            f"{time.perf_counter() - start:.1f} s ({path.stat().st_size / 2**20:.0f} MB Parquet); "
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        )
        results = {side: run_child(side, path, args.master) for side in ("single", "spark")}
    single, spark = results["single"], results["spark"]
    assert single["customers"] == spark["customers"], results
    assert abs(single["r"] - spark["r"]) <= 1e-8 * abs(single["r"]), results
    assert abs(single["clv_total"] - spark["clv_total"]) <= 1e-8 * abs(single["clv_total"])
    print(f"\n{'step':<16}{'DuckDB/pandas s':>17}{'Spark s':>10}{'Spark/single':>14}")
    for step in (*STEPS, "total"):
        ratio = spark[step] / single[step]
        print(f"{step:<16}{single[step]:>17.2f}{spark[step]:>10.2f}{ratio:>13.1f}x")
    print(f"{'(session start)':<16}{'':>17}{spark['session start']:>10.2f}  (in Spark's total)")
    print(
        f"{'peak memory MB':<16}{single['peak_mb']:>17.0f}{spark['peak_mb']:>10.0f}"
        f"{spark['peak_mb'] / single['peak_mb']:>13.1f}x  (whole process tree: driver, JVM, "
        "Python workers)"
    )
    print(
        f"\n{int(single['customers']):,} customers; BG/NBD r and the total CLV agree within 1e-8; "
        f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
