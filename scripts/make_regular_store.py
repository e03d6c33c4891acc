"""Simulate the SYNTHETIC ``regular_store`` data set shipped in clvmodels.

Run once; the output in ``clvmodels/data/files/`` is committed::

    python scripts/make_regular_store.py [--seed N] [--out FOLDER]

A transaction log (``regular_store.csv.gz``: ``customer_id, date, amount``) of a store
whose customers buy regularly, drawn from the assumptions of the BG/CNBD-k
(Reutterer, Platzer & Schröder 2021) with the true parameters of
:data:`clvmodels.data.builtin.REGULAR_STORE_TRUTH` (time unit weeks):

* 3,000 customers, each making her first purchase on a join day drawn uniformly from
  the first 12 weeks of 2024 (2024-01-01..2024-03-24); observed to 2025-06-29;
* repeat purchases: Erlang-k gaps (``k`` phases of rate ``λ_i ~ Gamma(r, alpha)``),
  dropout right after each repeat purchase with ``p_i ~ Beta(a, b)``, simulated event
  by event by :func:`clvmodels.models.bgcnbd.simulate_purchase_times` in continuous
  weeks from the start of the join day; a purchase at ``t`` weeks falls on day
  ``floor(7t)`` after the join day;
* spend: Gamma-Gamma, ``ν_i ~ Gamma(q, rate γ)`` and every order's amount, the first
  one included, ``Gamma(p, rate ν_i)``, rounded to cents (at least 0.01).

Customer ids are 1..3,000 in order of the join day; the log is sorted by date and
customer.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from clvmodels.data.builtin import REGULAR_STORE_SEED, REGULAR_STORE_TRUTH, write_log
from clvmodels.models import bgcnbd

OUT_DIR = Path(__file__).resolve().parents[1] / "clvmodels" / "data" / "files"
LOG_FILE = "regular_store.csv.gz"
N_CUSTOMERS = 3_000
FIRST_DAY = pd.Timestamp("2024-01-01")
JOIN_DAYS = 84
OBSERVATION_END = pd.Timestamp(REGULAR_STORE_TRUTH["observation_end"])


def make_regular_store(seed: int = REGULAR_STORE_SEED) -> pd.DataFrame:
    """The log of :data:`N_CUSTOMERS` simulated regular buyers (module docstring)."""
    rng = np.random.default_rng(seed)
    join = np.sort(rng.integers(0, JOIN_DAYS, size=N_CUSTOMERS))
    weeks = ((OBSERVATION_END - FIRST_DAY).days - join) / 7.0
    customer, time = bgcnbd.simulate_purchase_times(
        **REGULAR_STORE_TRUTH["bgcnbd"], T=weeks, rng=rng
    )
    days = np.concatenate([join, join[customer] + np.floor(7.0 * time).astype(np.int64)])
    ids = np.concatenate([np.arange(N_CUSTOMERS), customer])
    spend = REGULAR_STORE_TRUTH["gamma_gamma"]
    nu = rng.gamma(spend["q"], 1.0 / spend["gamma"], size=N_CUSTOMERS)
    amount = np.maximum(np.round(rng.gamma(spend["p"], 1.0 / nu[ids]), 2), 0.01)
    log = pd.DataFrame(
        {
            "customer_id": ids + 1,
            "date": FIRST_DAY + pd.to_timedelta(days, unit="D"),
            "amount": amount,
        }
    )
    log = log.loc[log["date"] <= OBSERVATION_END]
    return log.sort_values(["date", "customer_id"], kind="stable").reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=REGULAR_STORE_SEED, help="random seed")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args()
    log = make_regular_store(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_log(log, args.out / LOG_FILE)
    print(f"wrote {args.out / LOG_FILE}: {len(log):,} rows of {log['customer_id'].nunique():,}")


if __name__ == "__main__":
    main()
