"""Simulate the SYNTHETIC ``seasonal_store`` data set shipped in clvmodels.

Run once; the output in ``clvmodels/data/files/`` is committed::

    python scripts/make_seasonal_store.py [--seed N] [--out FOLDER]

A transaction log (``seasonal_store.csv.gz``: ``customer_id, date, amount``) of a store
with a high season and a spring campaign, drawn exactly from the Pareto/NBD with
time-varying covariates of Bachmann, Meierer & Näf (2021), "The role of time-varying
contextual factors in latent attrition models for customer base analysis", Marketing
Science 40(4), 783-809, with the true values of
:data:`clvmodels.data.builtin.SEASONAL_STORE_TRUTH` (time unit weeks, weeks starting on
Mondays from 2023-01-02).  It uses none of clvmodels' model code, so a fit of the
package's likelihood to it is an independent check:

* calendar covariates, one value per week (the share of its 7 days in the season or
  campaign): ``high_season`` (November and December) and ``spring_sale`` (the campaigns of
  ``SEASONAL_STORE_TRUTH["calendar"]``, whole weeks);
* 4,000 customers, each making her first purchase on a day drawn uniformly from the first
  52 weeks (2023-01-02..2023-12-31); time ``t`` (weeks) runs from the start of that day;
* ``λ_i ~ Gamma(r, rate alpha)``, ``μ_i ~ Gamma(s, rate beta)``; dropout at the ``τ_i``
  with ``D_i(τ_i) = E_i/μ_i``, ``E_i ~ Exp(1)``, where ``D_i(t) = ∫_0^t exp(δ′z(u)) du``
  (piecewise linear in the calendar weeks, inverted per week); purchases are the points
  of a unit-rate Poisson process in the operational time ``λ_i B_i(t)``,
  ``B_i(t) = ∫_0^t exp(γ′x(u)) du``, on ``(0, min(τ_i, end of log)]``, mapped back
  through ``B_i⁻¹``: given their number ``N_i ~ Poisson(λ_i B_i(L_i))`` they are
  ``B_i⁻¹`` of independent uniforms on ``(0, B_i(L_i))``;
* a purchase at ``t`` weeks falls on day ``floor(7t)`` after the first purchase day (so
  a few share a day with an earlier purchase of the customer; the summary merges them);
* spend: Gamma-Gamma, ``ν_i ~ Gamma(q, rate gamma)`` and every order's amount, the first
  one included, ``Gamma(p, rate ν_i)``, rounded to cents (at least 0.01).

Customer ids are ``C00001``..``C04000`` in order of the first purchase day; the log runs
to 2025-06-29 (calibration end 2024-12-29, a 26-week holdout) and is sorted by date and
customer.  Provenance, true effects and checks: ``clvmodels/data/files/README.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from clvmodels.data.builtin import SEASONAL_STORE_SEED, SEASONAL_STORE_TRUTH, write_log

OUT_DIR = Path(__file__).resolve().parents[1] / "clvmodels" / "data" / "files"
LOG_FILE = "seasonal_store.csv.gz"
N_CUSTOMERS = 4_000
FIRST_DAY = pd.Timestamp("2023-01-02")  # a Monday: day 0 of the first weekly period
ACQUISITION_DAYS = 364  # first purchases on days 0..363 (52 weeks)
OBSERVATION_END = pd.Timestamp(SEASONAL_STORE_TRUTH["observation_end"])
N_WEEKS = ((OBSERVATION_END - FIRST_DAY).days + 1) // 7  # 130: the log ends on a Sunday


def weekly_calendar(n_weeks: int = N_WEEKS) -> pd.DataFrame:
    """The calendar covariates of the weeks starting on ``FIRST_DAY``.

    Returns
    -------
    pandas.DataFrame
        ``period_start`` (Mondays) and, per covariate of ``SEASONAL_STORE_TRUTH["calendar"]``,
        the share of the week's 7 days in the high season (its months) or in a campaign of
        that name (dates inclusive): ``high_season``, ``spring_sale``.
    """
    calendar = SEASONAL_STORE_TRUTH["calendar"]
    days = pd.date_range(FIRST_DAY, periods=7 * n_weeks, freq="D")
    daily = {"high_season": np.isin(days.month, calendar["high_season"])}
    for campaign in calendar["campaigns"]:
        inside = (days >= pd.Timestamp(campaign["start"])) & (days <= pd.Timestamp(campaign["end"]))
        daily[campaign["name"]] = daily.get(campaign["name"], False) | inside
    weekly = {name: flags.reshape(n_weeks, 7).mean(axis=1) for name, flags in daily.items()}
    return pd.DataFrame({"period_start": days[::7], **weekly})


def _cumulative_weeks(calendar: pd.DataFrame, effects: dict[str, float]) -> np.ndarray:
    """``C(7k) = ∫_0^{7k days} exp(β′x) du`` in weeks at the week boundaries ``k = 0..K``:
    the knots of the piecewise-linear cumulative rate multiplier (``β′x`` constant per week)."""
    log_multiplier = sum(value * calendar[name].to_numpy() for name, value in effects.items())
    return np.concatenate([[0.0], np.cumsum(np.exp(log_multiplier))])


def make_seasonal_store(seed: int = SEASONAL_STORE_SEED) -> pd.DataFrame:
    """The log of :data:`N_CUSTOMERS` simulated customers (module docstring)."""
    rng = np.random.default_rng(seed)
    calendar = weekly_calendar()
    knots = 7.0 * np.arange(N_WEEKS + 1)  # week boundaries in days from FIRST_DAY
    purchase = _cumulative_weeks(calendar, SEASONAL_STORE_TRUTH["dynamic"]["purchase"])
    dropout = _cumulative_weeks(calendar, SEASONAL_STORE_TRUTH["dynamic"]["dropout"])
    end = knots[-1]  # the end of the log's last day

    first = np.sort(rng.integers(0, ACQUISITION_DAYS, size=N_CUSTOMERS)).astype(float)
    truth = SEASONAL_STORE_TRUTH["paretonbd"]
    lam = rng.gamma(truth["r"], 1.0 / truth["alpha"], size=N_CUSTOMERS)
    mu = rng.gamma(truth["s"], 1.0 / truth["beta"], size=N_CUSTOMERS)
    # dropout: D_i(τ) = E/μ, with D_i(t) = C_z(first + 7t) - C_z(first) (days -> weeks)
    target = np.interp(first, knots, dropout) + rng.exponential(size=N_CUSTOMERS) / mu
    death = np.where(target < dropout[-1], np.interp(target, dropout, knots), end)
    # purchases: N ~ Poisson(λ B_i(L)), positions B_i^-1(uniform(0, B_i(L)))
    start_b = np.interp(first, knots, purchase)
    exposure = np.interp(death, knots, purchase) - start_b
    n = rng.poisson(lam * exposure)
    customer = np.repeat(np.arange(N_CUSTOMERS), n)
    operational = start_b[customer] + exposure[customer] * rng.random(customer.size)
    position = np.interp(operational, purchase, knots)  # days from FIRST_DAY, in (first, L)
    repeat_day = first[customer] + np.floor(position - first[customer])

    ids = np.concatenate([np.arange(N_CUSTOMERS), customer])
    days = np.concatenate([first, repeat_day]).astype(np.int64)
    spend = SEASONAL_STORE_TRUTH["gamma_gamma"]
    nu = rng.gamma(spend["q"], 1.0 / spend["gamma"], size=N_CUSTOMERS)
    amount = np.maximum(np.round(rng.gamma(spend["p"], 1.0 / nu[ids]), 2), 0.01)
    log = pd.DataFrame(
        {
            "customer_id": np.char.mod("C%05d", ids + 1).astype(object),
            "date": FIRST_DAY + pd.to_timedelta(days, unit="D"),
            "amount": amount,
        }
    )
    return log.sort_values(["date", "customer_id"], kind="stable").reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEASONAL_STORE_SEED, help="random seed")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args()
    log = make_seasonal_store(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_log(log, args.out / LOG_FILE)
    print(f"wrote {args.out / LOG_FILE}: {len(log):,} rows of {log['customer_id'].nunique():,}")


if __name__ == "__main__":
    main()
