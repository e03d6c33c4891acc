"""Simulate the SYNTHETIC ``loyalty_store`` data set shipped in clvmodels.

Run once; the outputs in ``clvmodels/data/files/`` are committed::

    python scripts/make_loyalty_store.py [--seed N] [--out FOLDER]

A transaction log (``loyalty_store.csv.gz``: ``customer_id, date, amount``) and a
customer table (``loyalty_store_customers.csv``: ``customer_id, loyalty_member,
channel``) for the question "is our loyalty program paying off?", drawn from the
models' own assumptions with the known effects of
:data:`clvmodels.data.builtin.LOYALTY_STORE_TRUTH` (time unit weeks):

* 10,000 customers, each making her first purchase on a join day drawn uniformly from
  the first 12 weeks of 2024 (2024-01-01..2024-03-24); observed to 2025-06-29;
* covariates: ``loyalty_member`` (probability 0.3) and ``channel`` (``web`` 0.5,
  ``app`` 0.3, ``store`` 0.2), independent;
* repeat purchases: BG/NBD (Fader, Hardie & Lee 2005, section 2) with the exponential
  links of Fader & Hardie (2007, note 019), ``α_i = α₀ exp(−γ₁′z_i)``,
  ``a_i = a₀ exp(γ₂′z_i)``, ``b_i = b₀ exp(γ₃′z_i)``, simulated event by event by
  :func:`clvmodels.models.bgnbd.simulate_purchase_times` in continuous weeks from the
  start of the join day; a purchase at ``t`` weeks falls on day ``floor(7t)`` after the
  join day (so several purchases of a customer may share a day, and a repeat purchase
  may share the join day with the first);
* spend: Gamma-Gamma (Fader, Hardie & Lee 2005, JMR; Fader & Hardie 2013),
  ``ν_i ~ Gamma(q, rate γ_i)`` with ``γ_i = γ₀ exp(δ′z_i)`` and every order's amount,
  the first one included, ``Gamma(p, rate ν_i)``, rounded to cents (at least 0.01).

Customer ids are 1..10,000 in order of the join day; the log is sorted by date and
customer.  Provenance and the true effects are in ``clvmodels/data/files/README.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from clvmodels.data.builtin import LOYALTY_STORE_SEED, LOYALTY_STORE_TRUTH, write_log
from clvmodels.models import bgnbd, gamma_gamma
from clvmodels.models.links import linked_params

OUT_DIR = Path(__file__).resolve().parents[1] / "clvmodels" / "data" / "files"
LOG_FILE = "loyalty_store.csv.gz"
CUSTOMER_FILE = "loyalty_store_customers.csv"

N_CUSTOMERS = 10_000
FIRST_DAY = pd.Timestamp("2024-01-01")
JOIN_DAYS = 84  # join days 2024-01-01..2024-03-24 (12 weeks)
OBSERVATION_END = pd.Timestamp(LOYALTY_STORE_TRUTH["observation_end"])
MEMBER_SHARE = 0.3
CHANNEL_SHARES = {"web": 0.5, "app": 0.3, "store": 0.2}
CHANNEL_REFERENCE = "app"  # first level in sorted order: the covariate encoding's default


def design_columns(member: np.ndarray, channel: np.ndarray) -> dict[str, np.ndarray]:
    """The design columns of the customers, named as :func:`clvmodels.data.covariates.
    covariate_matrix` names them (``loyalty_member``, ``channel[store]``,
    ``channel[web]``; ``app`` is the reference level)."""
    columns = {"loyalty_member": member.astype(float)}
    for level in sorted(CHANNEL_SHARES):
        if level != CHANNEL_REFERENCE:
            columns[f"channel[{level}]"] = (channel == level).astype(float)
    return columns


def make_loyalty_store(seed: int = LOYALTY_STORE_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate the transaction log and the customer table (see module docstring).

    Parameters
    ----------
    seed
        Seed of the :class:`numpy.random.Generator`; the shipped files use
        :data:`~clvmodels.data.builtin.LOYALTY_STORE_SEED`.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The log (``customer_id`` int64, ``date`` datetime64, ``amount`` float64 in
        cents), sorted by date and customer, and the customer table (``customer_id``
        int64, ``loyalty_member`` bool, ``channel`` str), sorted by id — the frames
        ``load_builtin`` returns for the written files.
    """
    rng = np.random.default_rng(seed)
    n = N_CUSTOMERS
    member = rng.random(n) < MEMBER_SHARE
    channel = rng.choice(np.array(list(CHANNEL_SHARES)), size=n, p=list(CHANNEL_SHARES.values()))
    join = np.sort(rng.integers(0, JOIN_DAYS, size=n))  # days after FIRST_DAY
    design = design_columns(member, channel)

    purchase = linked_params(bgnbd.SPEC, LOYALTY_STORE_TRUTH["bgnbd"], design)
    last_day = (OBSERVATION_END - FIRST_DAY).days
    T = (last_day - join) / 7.0  # weeks from the start of the join day to the last day
    who, t = bgnbd.simulate_purchase_times(
        r=purchase["r"], alpha=purchase["alpha"], a=purchase["a"], b=purchase["b"], T=T, rng=rng
    )
    customer = np.concatenate([np.arange(n), who])
    day = np.concatenate([join, join[who] + np.floor(7.0 * t).astype(np.int64)])

    spend = linked_params(gamma_gamma.SPEC, LOYALTY_STORE_TRUTH["gamma_gamma"], design)
    nu = rng.gamma(spend["q"], 1.0 / np.asarray(spend["gamma"]))
    amount = rng.gamma(spend["p"], 1.0 / nu[customer])
    amount = np.maximum(np.round(amount, 2), 0.01)

    log = pd.DataFrame(
        {
            "customer_id": (customer + 1).astype("int64"),
            "date": FIRST_DAY + pd.to_timedelta(day, unit="D"),
            "amount": amount.astype("float64"),
        }
    )
    log = log.sort_values(["date", "customer_id"], kind="stable").reset_index(drop=True)
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1, dtype="int64"),
            "loyalty_member": member,
            "channel": channel.astype(str).astype(object),
        }
    )
    return log, customers


def write_files(log: pd.DataFrame, customers: pd.DataFrame, out_dir: Path) -> None:
    """Write the log (gzip with a fixed timestamp, so the bytes are reproducible) and the
    customer table (``loyalty_member`` as ``true``/``false``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_log(log, out_dir / LOG_FILE)
    table = customers.assign(
        loyalty_member=customers["loyalty_member"].map({True: "true", False: "false"})
    )
    table.to_csv(out_dir / CUSTOMER_FILE, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=LOYALTY_STORE_SEED, help="random seed")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args()
    log, customers = make_loyalty_store(args.seed)
    write_files(log, customers, args.out)
    size = (args.out / LOG_FILE).stat().st_size
    print(
        f"{LOG_FILE}: {len(log)} lines, {log['customer_id'].nunique()} customers, "
        f"{log['date'].min().date()}..{log['date'].max().date()}, {size} bytes"
    )
    print(
        f"{CUSTOMER_FILE}: {len(customers)} rows, {int(customers['loyalty_member'].sum())} members"
    )


if __name__ == "__main__":
    main()
