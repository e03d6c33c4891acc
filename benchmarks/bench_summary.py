"""Benchmark ``clvmodels summarize`` (DuckDB, whole process) against pandas, side by side.

One run measures, at every size (``--sizes``, default 10^7 transactions; add 1e8), on
the same synthetic log stored as Parquet (seeded ``numpy.random.Generator``, ~5%
same-day duplicates, ~1% returns, 10 transactions per customer, the calibration split
2022-06-30 / holdout to 2022-12-31):

* **ours**: ``clvmodels summarize CONFIG --out summary.parquet`` in a fresh process
  (interpreter start, imports, reading, summarising, the seed metrics and the file
  written by DuckDB), timed from outside;
* **pandas engine**: in a fresh process, ``pandas.read_parquet`` of the same rows, then
  clvmodels' pandas reference engine on the frame in memory (a plain groupby; the same
  summary, every rule applied) — read and groupby timed apart;
* **plain groupby**: the least pandas can do for frequency, recency, T and the mean
  repeat spend with the split (merge same-day rows, then one groupby per customer): the
  peer at its fastest, without our rules for returns and bad rows.

Each measurement runs ``--repeat`` times (default 3); the table shows every time, and
the ratios compare medians.  ``os.getloadavg()`` is printed before and after: the
machine is shared, and other jobs slow every figure.  The data are generated once and
cached under ``--cache`` (default: a folder in the system temporary directory, never
the repository)::

    python benchmarks/bench_summary.py                      # 10^7 transactions
    python benchmarks/bench_summary.py --sizes 1e7 1e8      # and 10^8
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SPLIT = {"calibration_end": "2022-06-30", "observation_end": "2022-12-31"}
TX_PER_CUSTOMER = 10
TARGETS = {10**7: 3.0, 10**8: 20.0}  # seconds, whole process (issue 22)
TARGET_RATIO = 2.0  # ours at least this many times faster than the pandas groupby at 10^7


def _draw(rng: np.random.Generator, n_tx: int, n_customers: int) -> pd.DataFrame:
    """One block of the synthetic log (see :func:`write_dataset`)."""
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


def write_dataset(
    folder: Path, n_tx: int, n_customers: int, seed: int = 20240601, chunk: int = 10_000_000
) -> Path:
    """The log over 2021-01-01..2022-12-31 as a folder of ``chunk``-row Parquet files,
    written once (a ``.complete`` marker beside it); blocks are drawn one after the other from one
    seeded Generator, so memory holds one block whatever ``n_tx``."""
    done = folder.with_name(folder.name + ".complete")  # beside it: the folder is the dataset
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k, start in enumerate(range(0, n_tx, chunk)):
        path = folder / f"part-{k:05d}.parquet"
        _draw(rng, min(chunk, n_tx - start), n_customers).to_parquet(path, index=False)
    os.sync()  # the kernel's write-back of new files is not the summary's cost
    done.write_text("")
    return folder


def _config(folder: Path) -> Path:
    """The ``clvmodels summarize`` config of a dataset."""
    path = folder.parent / f"{folder.name}.yaml"
    path.write_text(
        f"name: bench\ndata:\n  source: {folder}\n  kind: transactions\n"
        "  columns: {customer_id: customer_id, date: date, amount: amount}\n  time_unit: W\n"
        f"split:\n  calibration_end: {SPLIT['calibration_end']}\n"
        f"  observation_end: {SPLIT['observation_end']}\noutput:\n  dir: {folder.parent}/out\n"
    )
    return path


def ours(config: Path, out: Path) -> dict[str, float]:
    """Whole process of ``clvmodels summarize``; wall and CPU seconds, peak RSS."""
    cli = Path(sys.executable).with_name("clvmodels")
    command = [str(cli), "summarize", str(config), "--out", str(out), "--overwrite", "--quiet"]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"clvmodels summarize failed: exit status {status}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall": wall, "cpu": cpu, "rss_mb": usage.ru_maxrss / 1024}


def measure_pandas(path: str, mode: str) -> dict[str, float]:
    """In a child: read the Parquet rows with pandas, then summarise them in memory."""
    start = time.perf_counter()
    frame = pd.read_parquet(path)
    read = time.perf_counter() - start
    start = time.perf_counter()
    if mode == "engine":
        from clvmodels.data import summarize_transactions

        customers = len(summarize_transactions(frame, engine="pandas", **SPLIT))
    else:
        customers = len(plain_groupby(frame))
    return {"read": read, "groupby": time.perf_counter() - start, "customers": customers}


def plain_groupby(frame: pd.DataFrame) -> pd.DataFrame:
    """Frequency, recency, T (weeks), mean repeat spend and holdout purchases of every
    customer, in as few pandas steps as the split allows."""
    cal, obs = pd.Timestamp(SPLIT["calibration_end"]), pd.Timestamp(SPLIT["observation_end"])
    days = frame.groupby(["customer_id", "date"], sort=False, as_index=False)["amount"].sum()
    days = days[days["date"] <= obs]
    in_cal = days["date"] <= cal
    per = (
        days[in_cal]
        .groupby("customer_id")
        .agg(
            first=("date", "min"), last=("date", "max"), n=("date", "size"), spend=("amount", "sum")
        )
    )
    week = pd.Timedelta(days=7)
    out = pd.DataFrame(
        {
            "frequency": per["n"] - 1,
            "recency": (per["last"] - per["first"]) / week,
            "T": (cal - per["first"]) / week,
            "monetary_value": per["spend"] / per["n"],
        }
    )
    out["frequency_holdout"] = days[~in_cal].groupby("customer_id").size()
    return out


def run_pandas(path: Path, mode: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", mode, "--path", str(path)]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - start
    return result


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def _times(values: list[float]) -> str:
    return " ".join(f"{v:6.2f}" for v in values)


def bench_size(size: int, cache: Path, repeat: int, seed: int, peers: bool) -> None:
    customers = size // TX_PER_CUSTOMER
    start = time.perf_counter()
    folder = write_dataset(cache / f"tx-{size}-{customers}-{seed}", size, customers, seed)
    print(
        f"\n{size:,} transactions, {customers:,} customers ({folder}; ready in "
        f"{time.perf_counter() - start:.1f} s) -- {load_average()}",
        flush=True,
    )
    config = _config(folder)
    runs: dict[str, list[dict[str, float]]] = {"ours": [], "engine": [], "plain": []}
    for _ in range(repeat):  # interleaved, so that a load spike hits every contender
        runs["ours"].append(ours(config, folder.parent / "out.parquet"))
        if peers:
            runs["engine"].append(run_pandas(folder, "engine"))
            runs["plain"].append(run_pandas(folder, "plain"))
    runs = {key: rs for key, rs in runs.items() if rs}
    med = {key: statistics.median(r["wall"] for r in rs) for key, rs in runs.items()}
    cpu = statistics.median(r["cpu"] for r in runs["ours"])
    rss = max(r["rss_mb"] for r in runs["ours"])
    print(
        f"  ours: clvmodels summarize, whole process  {_times([r['wall'] for r in runs['ours']])}"
        f" s (median CPU {cpu:.1f} s, peak RSS {rss:,.0f} MB)"
    )
    for key, label in (("engine", "pandas engine"), ("plain", "plain groupby")):
        rs = runs.get(key)
        if rs is None:
            print(f"  {label}: not run above --peer-max rows (pandas holds the log in memory)")
            continue
        read = statistics.median(r["read"] for r in rs)
        group = statistics.median(r["groupby"] for r in rs)
        print(
            f"  {label:<13} whole process {_times([r['wall'] for r in rs])} s; read_parquet "
            f"{read:.2f} s, in-memory groupby {group:.2f} s"
        )
        print(
            f"    ratio: ours {med[key] / med['ours']:.2f}x faster than its whole process, "
            f"{group / med['ours']:.2f}x faster than its in-memory groupby alone"
        )
    target = TARGETS.get(size)
    if target is not None:
        verdict = "pass" if med["ours"] <= target else "FAIL"
        line = f"  target <= {target:g} s: {verdict} (median {med['ours']:.2f} s)"
        for key, label in (("engine", "pandas engine"), ("plain", "plain groupby")):
            if size == 10**7 and key in runs:  # the plain groupby is the peer at its best
                group = statistics.median(r["groupby"] for r in runs[key])
                ok = group / med["ours"] >= TARGET_RATIO
                line += (
                    f"; >= {TARGET_RATIO:g}x the in-memory {label}: "
                    f"{'pass' if ok else 'FAIL'} ({group / med['ours']:.2f}x)"
                )
        print(line)
    print(f"  {load_average()} (after)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e7])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--peer-max", type=float, default=1e7, help="largest size pandas runs at")
    parser.add_argument(
        "--cache", default=str(Path(tempfile.gettempdir()) / "clvmodels-bench-summary")
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_pandas(args.path, args.measure)))
        return
    print(load_average() + " (before)")
    for size in sorted({int(s) for s in args.sizes}):
        bench_size(size, Path(args.cache), args.repeat, args.seed, size <= args.peer_max)


if __name__ == "__main__":
    main()
