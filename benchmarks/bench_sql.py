"""Benchmark SQL sources: the generic path (SQLAlchemy rows -> Arrow batches) vs the
PostgreSQL ``COPY`` fast path, side by side on the same server and tables.

Starts a throw-away PostgreSQL server on loopback with the test suite's helpers
(tests/pgserver.py: Debian's server binaries, as installed by .ci/run), or uses the server
of the URL in ``CLV_BENCH_PG_URL`` (it creates tables ``clv_bench_tx_<rows>`` there).
Each table has ``customer_id bigint, date date, amount numeric(10, 2)`` for rows/10
customers over two years.  Every measurement (``summarize_transactions`` of ``SELECT *``,
the query, the load into DuckDB and the summary) runs in a fresh Python process, whose
own peak RSS is read from ``os.wait4``; the generic path is forced there by switching the
fast path off (``clvmodels.data.sql.pgcopy.applies``)::

    python benchmarks/bench_sql.py                     # 10^6 and 10^7 rows
    python benchmarks/bench_sql.py --rows 1e5 --rows 1e6
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

URL_ENV = "CLV_BENCH_PG_URL"
MODES = ("generic", "copy")


def create_table(url: str, rows: int) -> str:
    """``clv_bench_tx_<rows>`` with deterministic rows (made by the server), unless present."""
    import psycopg

    table = f"clv_bench_tx_{rows}"
    with psycopg.connect(url) as con:
        exists = con.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
        if not exists:
            con.execute(
                f"CREATE TABLE {table} AS SELECT (i * 7919) % {max(rows // 10, 1)} AS customer_id,"
                " DATE '2021-01-01' + ((i * 31) % 730)::int AS date,"
                " ((i * 37) % 20000 - 150)::numeric(10, 2) / 100 AS amount"
                f" FROM generate_series(1::bigint, {rows}) AS i"
            )
            con.execute(f"ANALYZE {table}")
    return table


def measure(mode: str, table: str) -> dict[str, float]:
    """One measurement in this process (called in a child); the URL is in URL_ENV."""
    from clvmodels.data import SqlSource, summarize_transactions
    from clvmodels.data.sql import load, pgcopy

    if mode == "generic":
        pgcopy.applies = lambda url: False
    load_sql, loading = load.load_sql, {}

    def timed_load(*args):  # the query into the DuckDB table, timed apart from the summary
        start = time.perf_counter()
        name = load_sql(*args)
        loading["seconds"] = time.perf_counter() - start
        return name

    load.load_sql = timed_load
    source = SqlSource(sql=f"SELECT customer_id, date, amount FROM {table}", url_env=URL_ENV)
    start = time.perf_counter()
    out = summarize_transactions(
        source, time_unit="D", calibration_end="2022-06-30", observation_end="2022-12-31"
    )
    return {
        "wall": time.perf_counter() - start,
        "load": loading["seconds"],
        "customers": len(out),
        "repeat": int(out["frequency"].sum()),
        "revenue": round(float(out["revenue"].sum()), 2),
    }


def run_child(mode: str, table: str, url: str) -> dict[str, float]:
    """``measure(mode, table)`` in a fresh interpreter, with its peak RSS and CPU time."""
    env = {**os.environ, URL_ENV: url}  # the URL (a secret) stays off the command line
    command = [sys.executable, __file__, "--measure", mode, "--table", table]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    stdout = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"measurement {mode} on {table} failed")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    result["cpu"] = usage.ru_utime + usage.ru_stime
    return result


def report(rows: int, results: dict[str, dict[str, float]]) -> None:
    checks = {(r["customers"], r["repeat"], r["revenue"]) for r in results.values()}
    assert len(checks) == 1, f"the paths disagree: {results}"
    generic = results["generic"]["wall"]  # ratios of the whole summarize_transactions
    for mode, r in results.items():
        print(
            f"{rows:>12,}{mode:>9}{r['wall']:>9.2f}{r['load']:>9.2f}{rows / r['load']:>14,.0f}"
            f"{r['cpu']:>13.1f}{r['rss_mb']:>13.0f}{generic / r['wall']:>15.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, action="append", help="table sizes (repeatable)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--table", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.table)))
        return
    sizes = [int(n) for n in (args.rows or [1e6, 1e7])]
    server = None
    url = os.environ.get(URL_ENV)
    if not url:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        import pgserver

        reason = pgserver.why_unavailable()
        if reason is not None:
            raise SystemExit(f"cannot start a PostgreSQL server: {reason}; or set {URL_ENV}")
        server = pgserver.start()
        url = server.url()
    try:
        tables = {}
        for rows in sizes:
            start = time.perf_counter()
            tables[rows] = create_table(url, rows)
            print(f"table of {rows:,} rows ready in {time.perf_counter() - start:.1f} s")
        print(
            f"\n{'rows':>12}{'path':>9}{'wall s':>9}{'load s':>9}{'loaded rows/s':>14}"
            f"{'child CPU s':>13}"
            f"{'peak RSS MB':>13}{'generic/this':>15}"
        )
        for rows in sizes:
            report(rows, {mode: run_child(mode, tables[rows], url) for mode in MODES})
    finally:
        if server is not None:
            server.stop()
    print(
        f"\nwall = summarize_transactions of the query (load + summary), load = the query's "
        "rows into the DuckDB table; "
        f"same customers, repeat purchases and revenue on both paths; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the server runs on the same "
        "machine; other jobs slow every figure)"
    )


if __name__ == "__main__":
    main()
