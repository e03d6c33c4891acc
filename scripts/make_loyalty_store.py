"""Simulate the SYNTHETIC ``loyalty_store`` data set shipped in clvmodels.

Run once; the outputs in ``clvmodels/data/files/`` are committed::

    python scripts/make_loyalty_store.py [--seed N] [--out FOLDER]
    python scripts/make_loyalty_store.py --draw-country-factors   # how they were drawn

A transaction log (``loyalty_store.csv.gz``: ``customer_id, date, amount``) and a
customer table (``loyalty_store_customers.csv``: ``customer_id, loyalty_member,
channel, country``) for the questions "is our loyalty program paying off?" and "how do
the countries differ?", drawn from the models' own assumptions with the known effects
of :data:`clvmodels.data.builtin.LOYALTY_STORE_TRUTH` (time unit weeks):

* 10,000 customers, each making her first purchase on a join day drawn uniformly from
  the first 12 weeks of 2024 (2024-01-01..2024-03-24); observed to 2025-06-29;
* covariates: ``loyalty_member`` (probability 0.3) and ``channel`` (``web`` 0.5,
  ``app`` 0.3, ``store`` 0.2), independent;
* groups: ``country``, 12 ISO codes of very unequal shares (``DE`` 40 % down to ``LU``
  0.3 %; ``LOYALTY_STORE_TRUTH["country"]["shares"]``), independent of the covariates;
  the country multiplies the BG/NBD's ``alpha`` and ``b`` by fixed factors whose logs
  were drawn once from ``Normal(0, σ)`` (:func:`draw_country_factors`; the model of a
  hierarchical fit, ``log θ_g ~ Normal(μ_θ, σ_θ)``);
* repeat purchases: BG/NBD (Fader, Hardie & Lee 2005, section 2) with the exponential
  links of Fader & Hardie (2007, note 019) and the country factors
  ``α_i = α₀ f^α_g exp(−γ₁′z_i)``, ``a_i = a₀ exp(γ₂′z_i)``,
  ``b_i = b₀ f^b_g exp(γ₃′z_i)`` (``g`` the customer's country), simulated event by
  event by :func:`clvmodels.models.bgnbd.simulate_purchase_times` in continuous weeks
  from the start of the join day; a purchase at ``t`` weeks falls on day ``floor(7t)``
  after the join day (so several purchases of a customer may share a day, and a repeat
  purchase may share the join day with the first);
* spend: Gamma-Gamma (Fader, Hardie & Lee 2005, JMR; Fader & Hardie 2013),
  ``ν_i ~ Gamma(q, rate γ_i)`` with ``γ_i = γ₀ exp(δ′z_i)`` and every order's amount,
  the first one included, ``Gamma(p, rate ν_i)``, rounded to cents (at least 0.01).

Random streams: the seed's own generator draws membership, channel, join day,
purchases and amounts in this order; the countries come from a second generator seeded
with ``(seed, COUNTRY_STREAM)``, so that membership, channel and join days are those the
seed gave before the country column was added.

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
COUNTRY = LOYALTY_STORE_TRUTH["country"]
COUNTRY_STREAM = 18  # the countries' generator: default_rng((seed, COUNTRY_STREAM))
FACTOR_STREAM = 19  # the factors' draw (done once): default_rng((seed, FACTOR_STREAM))


def design_columns(member: np.ndarray, channel: np.ndarray) -> dict[str, np.ndarray]:
    """The design columns of the customers, named as :func:`clvmodels.data.covariates.
    covariate_matrix` names them (``loyalty_member``, ``channel[store]``,
    ``channel[web]``; ``app`` is the reference level)."""
    columns = {"loyalty_member": member.astype(float)}
    for level in sorted(CHANNEL_SHARES):
        if level != CHANNEL_REFERENCE:
            columns[f"channel[{level}]"] = (channel == level).astype(float)
    return columns


def draw_country_factors(seed: int = LOYALTY_STORE_SEED) -> dict[str, dict[str, float]]:
    """Draw the country factors of ``alpha`` and ``b`` as they were drawn, once, for
    ``LOYALTY_STORE_TRUTH["country"]`` (which holds them as fixed numbers).

    The log-factors are independent ``Normal(0, σ_θ)`` with ``σ_θ`` of
    ``LOYALTY_STORE_TRUTH["country"]["sigma"]`` — the population a hierarchical fit
    assumes, ``log θ_g ~ Normal(μ_θ, σ_θ)`` with ``exp(μ_θ) = θ₀`` — drawn for the
    countries in the order of ``shares`` (largest first), ``alpha`` before ``b``, by
    ``default_rng((seed, FACTOR_STREAM))``; the factors are rounded to 3 decimals.

    Returns
    -------
    dict
        ``{"alpha": {country: factor}, "b": {country: factor}}``.
    """
    rng = np.random.default_rng((seed, FACTOR_STREAM))
    levels = list(COUNTRY["shares"])
    factors = {}
    for parameter in ("alpha", "b"):
        logs = rng.normal(0.0, COUNTRY["sigma"][parameter], size=len(levels))
        factors[parameter] = {
            g: round(float(np.exp(v)), 3) for g, v in zip(levels, logs, strict=True)
        }
    return factors


def draw_countries(n: int, rng: np.random.Generator) -> np.ndarray:
    """Each customer's country, independent draws with the probabilities of
    ``LOYALTY_STORE_TRUTH["country"]["shares"]``."""
    shares = COUNTRY["shares"]
    return rng.choice(np.array(list(shares)), size=n, p=list(shares.values()))


def country_params(params: dict[str, object], country: np.ndarray) -> dict[str, object]:
    """Multiply each customer's ``alpha`` and ``b`` by her country's factor
    (``LOYALTY_STORE_TRUTH["country"]``): ``θ_i = θ₀ f^θ_g exp(sign·γ′z_i)``."""
    out = dict(params)
    for parameter in ("alpha", "b"):
        factors = COUNTRY[parameter]
        factor = np.array([factors[g] for g in country.tolist()], dtype=float)
        out[parameter] = np.asarray(params[parameter], dtype=float) * factor
    return out


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
        int64, ``loyalty_member`` bool, ``channel`` str, ``country`` str), sorted by id —
        the frames ``load_builtin`` returns for the written files.
    """
    rng = np.random.default_rng(seed)
    n = N_CUSTOMERS
    member = rng.random(n) < MEMBER_SHARE
    channel = rng.choice(np.array(list(CHANNEL_SHARES)), size=n, p=list(CHANNEL_SHARES.values()))
    join = np.sort(rng.integers(0, JOIN_DAYS, size=n))  # days after FIRST_DAY
    country = draw_countries(n, np.random.default_rng((seed, COUNTRY_STREAM)))
    design = design_columns(member, channel)

    purchase = linked_params(bgnbd.SPEC, LOYALTY_STORE_TRUTH["bgnbd"], design)
    purchase = country_params(purchase, country)
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
            "country": country.astype(str).astype(object),
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
    parser.add_argument(
        "--draw-country-factors",
        action="store_true",
        help="print the country factors as drawn for LOYALTY_STORE_TRUTH and write nothing",
    )
    args = parser.parse_args()
    if args.draw_country_factors:
        print(draw_country_factors(args.seed))
        return
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
    print("customers per country:", customers["country"].value_counts().to_dict())


if __name__ == "__main__":
    main()
