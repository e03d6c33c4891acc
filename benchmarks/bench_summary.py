"""Benchmark summarize_transactions: DuckDB engine (in memory, Parquet) vs plain pandas.

Generates a synthetic log (seeded ``numpy.random.Generator``), writes it to Parquet in a
temporary directory, then runs each measurement in a fresh Python process and reads that
process's own peak RSS from ``os.wait4`` (``getrusage(RUSAGE_CHILDREN)`` would report the
maximum over *all* children so far, not per measurement)::

    python benchmarks/bench_summary.py                      # 10M rows, ~1M customers
    python benchmarks/bench_summary.py --transactions 1e6 --customers 1e5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

TARGETS = {"duckdb-memory": 5.0, "duckdb-parquet": 10.0}
RSS_TARGET_MB = 4096
SPLIT = {"calibration_end": "2022-06-30", "observation_end": "2022-12-31"}


def _draw(rng: np.random.Generator, n_tx: int, n_customers: int) -> pd.DataFrame:
    """One block of the synthetic log (see :func:`generate`)."""
    customers = rng.integers(0, n_customers, size=n_tx, dtype=np.int64)
    days = rng.integers(0, 730, size=n_tx)
    # same-day duplicates: copy customer and day from the previous row
    dup = rng.random(n_tx) < 0.05
    dup[0] = False
    idx = np.flatnonzero(dup)
    customers[idx] = customers[idx - 1]
    days[idx] = days[idx - 1]
    amount = np.round(rng.lognormal(3.0, 0.8, size=n_tx), 2)
    amount[rng.random(n_tx) < 0.01] *= -1.0
    dates = np.datetime64("2021-01-01") + days.astype("timedelta64[D]")
    return pd.DataFrame(
        {"customer_id": customers, "date": dates.astype("datetime64[ns]"), "amount": amount}
    )


def generate(n_tx: int, n_customers: int, seed: int = 20240601) -> pd.DataFrame:
    """Synthetic log over 2021-01-01..2022-12-31 with ~5% same-day duplicates, ~1% returns."""
    return _draw(np.random.default_rng(seed), n_tx, n_customers)


def write_dataset(
    folder: Path, n_tx: int, n_customers: int, seed: int = 20240601, chunk: int = 10_000_000
) -> list[Path]:
    """Write the log of :func:`generate` as a Parquet dataset of ``chunk``-row files.

    Blocks are drawn one after the other from one seeded Generator, so memory holds one
    block whatever ``n_tx`` (a single block equals ``generate(n_tx, n_customers, seed)``).
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, start in enumerate(range(0, n_tx, chunk)):
        path = folder / f"part-{k:05d}.parquet"
        _draw(rng, min(chunk, n_tx - start), n_customers).to_parquet(path, index=False)
        paths.append(path)
    return paths


def measure(mode: str, path: str) -> dict[str, float]:
    """Run one measurement in this process (called in a child)."""
    from clvmodels.data import summarize_transactions

    load = 0.0
    if mode in ("duckdb-memory", "pandas-memory"):
        start = time.perf_counter()
        source: object = pd.read_parquet(path)
        load = time.perf_counter() - start
    else:
        source = path
    engine = "pandas" if mode.startswith("pandas") else "duckdb"
    start = time.perf_counter()
    out = summarize_transactions(source, engine=engine, **SPLIT)
    wall = time.perf_counter() - start
    return {
        "wall": wall,
        "load": load,
        "customers": len(out),
        "repeat": int(out["frequency"].sum()),
    }


def run_child(mode: str, path: Path) -> dict[str, float]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--measure", mode, "--path", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    stdout = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"measurement {mode} failed with exit code {proc.returncode}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    result["cpu"] = usage.ru_utime + usage.ru_stime  # whole child, load included
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=float, default=10_000_000)
    parser.add_argument("--customers", type=float, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.path)))
        return
    n_tx, n_customers = int(args.transactions), int(args.customers)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        frame = generate(n_tx, n_customers, args.seed)
        path = Path(tmp) / "tx.parquet"
        frame.to_parquet(path, index=False)
        del frame
        print(
            f"generated {n_tx:,} transactions for {n_customers:,} customers "
            f"in {time.perf_counter() - start:.1f} s ({path.stat().st_size / 2**20:.0f} MB "
            f"Parquet); {os.cpu_count()} CPUs"
        )
        results = {
            mode: run_child(mode, path)
            for mode in ("duckdb-memory", "duckdb-parquet", "pandas-memory")
        }
    checks = {(r["customers"], r["repeat"]) for r in results.values()}
    assert len(checks) == 1, f"engines disagree: {results}"
    pandas_wall = results["pandas-memory"]["wall"]
    print(
        f"\n{'measurement':<16}{'wall s':>9}{'load s':>9}{'child CPU s':>13}"
        f"{'peak RSS MB':>13}{'pandas/ours':>13}  targets"
    )
    for mode, r in results.items():
        target = TARGETS.get(mode)
        ratio = pandas_wall / r["wall"]
        notes = []
        if target is not None:
            notes.append(f"wall < {target:g} s: {'ok' if r['wall'] < target else 'MISSED'}")
            notes.append(f">= 2x pandas: {'ok' if ratio >= 2 else 'MISSED'}")
        notes.append(f"RSS < 4 GB: {'ok' if r['rss_mb'] < RSS_TARGET_MB else 'MISSED'}")
        print(
            f"{mode:<16}{r['wall']:>9.2f}{r['load']:>9.2f}{r['cpu']:>13.1f}{r['rss_mb']:>13.0f}"
            f"{ratio:>13.1f}  {'; '.join(notes)}"
        )
    print(
        f"\n{int(next(iter(checks))[0]):,} customers, {int(next(iter(checks))[1]):,} repeat "
        "purchases (all engines agree)"
    )
    print(
        f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
        "(other jobs on the machine slow every figure)"
    )


if __name__ == "__main__":
    main()
