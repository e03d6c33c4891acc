"""Benchmark the transaction summary: DuckDB on a Parquet dataset vs the peers.

Writes a synthetic log (seeded ``numpy.random.Generator``, drawn in blocks of 10^7 rows
so that 10^8 rows never sit in memory) as a folder of Parquet files, then runs every
measurement in a fresh Python process and reads that process's own peak RSS from
``os.wait4`` (``getrusage(RUSAGE_CHILDREN)`` would report the maximum over *all*
children so far).  All summaries use the calibration split (2022-06-30, holdout to
2022-12-31).

* ours, DuckDB engine, from the Parquet folder: at ``--transactions`` and at every
  peer size;
* ours, plain pandas engine, on the log loaded into pandas (load timed apart);
* lifetimes 0.11.3 ``calibration_and_holdout_data`` (which calls
  ``summary_data_from_transaction_data``), the peer, on the same frame.  Its
  definitions differ (whole weekly periods, no netting of returns), so only times and
  customer counts are compared.

The peers run at ``--peer-sizes`` (the largest they handle on a 24 GB machine) under an
address-space cap and a time limit; a peer that fails reports why.  Ratios are printed
at equal sizes::

    python benchmarks/bench_summary.py                        # 1e8 rows, peers 1e6, 1e7
    python benchmarks/bench_summary.py --transactions 1e7 --peer-sizes 1e6
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

WALL_TARGET_S = 60.0  # 10^8 transactions, DuckDB from Parquet, 2 cores
RSS_TARGET_MB = 6144
TARGET_ROWS = 100_000_000
SPLIT = {"calibration_end": "2022-06-30", "observation_end": "2022-12-31"}
TX_PER_CUSTOMER = 10


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
    load = 0.0
    if mode == "duckdb-parquet":
        from clvmodels.data import summarize_transactions

        start = time.perf_counter()
        out = summarize_transactions(path, **SPLIT)
        wall = time.perf_counter() - start
        return {"wall": wall, "load": load, "customers": len(out)}
    start = time.perf_counter()
    frame = pd.read_parquet(path)
    load = time.perf_counter() - start
    start = time.perf_counter()
    if mode == "pandas-memory":
        from clvmodels.data import summarize_transactions

        out = summarize_transactions(frame, engine="pandas", **SPLIT)
    else:
        import lifetimes.utils

        out = lifetimes.utils.calibration_and_holdout_data(
            frame,
            "customer_id",
            "date",
            calibration_period_end=SPLIT["calibration_end"],
            observation_period_end=SPLIT["observation_end"],
            freq="W",
            monetary_value_col="amount",
        )
    wall = time.perf_counter() - start
    return {"wall": wall, "load": load, "customers": len(out)}


def _child(mode: str, path: str, cap_gb: float, limit_s: float) -> dict[str, object]:
    """Body of a child: cap the peers, measure, report failures as data."""
    if mode != "duckdb-parquet":  # DuckDB bounds itself (memory_limit)
        cap = int(cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    def too_long(signum, frame):
        raise TimeoutError(f"did not finish within {limit_s:g} s")

    signal.signal(signal.SIGALRM, too_long)
    signal.alarm(int(limit_s))
    try:
        return measure(mode, path)
    except MemoryError:
        return {"failed": f"MemoryError under a {cap_gb:g} GB address-space cap"}
    except Exception as exc:  # the peer may break on current pandas: report, do not hide
        return {"failed": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}


def run_process(command: list[str]) -> dict[str, object]:
    """Run a measuring child; its last stdout line is a JSON object.  Adds the child's
    own peak RSS (``rss_mb``), CPU seconds (``cpu``) and wall seconds (``process_s``)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    stdout = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    lines = stdout.strip().splitlines()
    result = json.loads(lines[-1]) if code == 0 and lines else {"failed": f"exit code {code}"}
    result["process_s"] = time.perf_counter() - started
    result["rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    result["cpu"] = usage.ru_utime + usage.ru_stime  # whole child, load included
    return result


def run_child(mode: str, path: Path, cap_gb: float, limit_s: float) -> dict[str, object]:
    command = [sys.executable, __file__, "--measure", mode, "--path", str(path)]
    return run_process([*command, "--cap-gb", str(cap_gb), "--limit-s", str(limit_s)])


def load_average() -> str:
    """The machine's load, to print next to the figures."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def _row(size: int, mode: str, r: dict[str, object], duck: dict[str, object] | None) -> str:
    if "failed" in r:
        return f"{size:>13,} {mode:<16} does not run: {r['failed']} (peak {r['rss_mb']:,.0f} MB)"
    ratio = ""
    if duck is not None and "failed" not in duck and mode != "duckdb-parquet":
        ratio = f"{float(r['wall']) / float(duck['wall']):.1f}x slower than DuckDB"
    return (
        f"{size:>13,} {mode:<16}{float(r['wall']):>9.2f}{float(r['load']):>9.2f}"
        f"{float(r['cpu']):>12.1f}{float(r['rss_mb']):>12,.0f}{int(r['customers']):>12,}  {ratio}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=float, default=TARGET_ROWS)
    parser.add_argument(
        "--customers", type=float, default=None, help=f"default transactions / {TX_PER_CUSTOMER}"
    )
    parser.add_argument("--peer-sizes", type=float, nargs="*", default=[1e6, 1e7])
    parser.add_argument("--peers", nargs="*", default=["pandas-memory", "lifetimes-memory"])
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--tmp", default=None, help="folder for the generated data")
    parser.add_argument("--cap-gb", type=float, default=16.0, help="peers' address-space cap")
    parser.add_argument("--limit-s", type=float, default=900.0, help="time limit per run")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_child(args.measure, args.path, args.cap_gb, args.limit_s)))
        return
    n_tx = int(args.transactions)
    sizes = sorted({int(s) for s in args.peer_sizes if s < n_tx} | {n_tx})
    print(load_average() + " (before)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-summary-", dir=args.tmp))
    rows = []
    try:
        for size in sizes:
            customers = int(args.customers or size // TX_PER_CUSTOMER)
            if size != n_tx:
                customers = size // TX_PER_CUSTOMER
            folder = tmp / f"tx-{size}"
            start = time.perf_counter()
            paths = write_dataset(folder, size, customers, args.seed)
            os.sync()  # the kernel's write-back of the new files is not the summary's cost
            megabytes = sum(p.stat().st_size for p in paths) / 2**20
            print(
                f"generated {size:,} transactions of {customers:,} customers in "
                f"{time.perf_counter() - start:.1f} s: {len(paths)} Parquet files, "
                f"{megabytes:,.0f} MB",
                flush=True,
            )
            duck = run_child("duckdb-parquet", folder, args.cap_gb, args.limit_s)
            rows.append((size, "duckdb-parquet", duck, None))
            print(_row(*rows[-1]), flush=True)
            if size != n_tx or size in {int(s) for s in args.peer_sizes}:
                for mode in args.peers:
                    rows.append(
                        (size, mode, run_child(mode, folder, args.cap_gb, args.limit_s), duck)
                    )
                    print(_row(*rows[-1]), flush=True)
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\n{'transactions':>13} {'measurement':<16}{'wall s':>9}{'load s':>9}{'child CPU s':>12}"
        f"{'peak RSS MB':>12}{'customers':>12}  ratio at equal size"
    )
    for row in rows:
        print(_row(*row))
    ours = {size: r for size, mode, r, _ in rows if mode == "duckdb-parquet"}
    per_size = {}
    for size, mode, r, _ in rows:
        if mode == "pandas-memory" and "failed" not in r:
            per_size[size] = r["customers"]
    for size, n in per_size.items():
        assert ours[size].get("customers") == n, f"engines disagree at {size:,}: {ours[size]}, {n}"
    top = ours[n_tx]
    if n_tx >= TARGET_ROWS and "failed" not in top:
        wall_ok = float(top["wall"]) < WALL_TARGET_S
        rss_ok = float(top["rss_mb"]) < RSS_TARGET_MB
        print(
            f"\ntarget, {n_tx:,} transactions with DuckDB from Parquet: wall < "
            f"{WALL_TARGET_S:g} s: {'pass' if wall_ok else 'FAIL'} ({float(top['wall']):.1f} s); "
            f"peak RSS < {RSS_TARGET_MB / 1024:g} GB: {'pass' if rss_ok else 'FAIL'} "
            f"({float(top['rss_mb']) / 1024:.2f} GB)"
        )
    print(load_average() + " (after; other jobs on the machine slow every figure)")


if __name__ == "__main__":
    main()
