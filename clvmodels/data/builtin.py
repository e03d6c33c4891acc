"""Data sets shipped with clvmodels, loaded with :mod:`importlib.resources`.

The files in ``clvmodels/data/files/`` were produced once by
``scripts/make_builtin_data.py`` (published data) and ``scripts/make_loyalty_store.py``
(the synthetic ``loyalty_store`` data, whose true parameters are
:data:`LOYALTY_STORE_TRUTH`), ``scripts/make_regular_store.py`` and
``scripts/make_seasonal_store.py`` (:data:`REGULAR_STORE_TRUTH`,
:data:`SEASONAL_STORE_TRUTH`); ``files/README.md`` documents their provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import pandas as pd

from clvmodels.errors import DataError, clip

DatasetKind = Literal["transactions", "survival", "summary", "customers"]


@dataclass(frozen=True)
class BuiltinDataset:
    """Description of one built-in data set.

    Attributes
    ----------
    name : str
        Name used by :func:`load_builtin` and in ``"builtin:NAME"`` sources.
    filename : str
        File inside ``clvmodels/data/files``.
    kind : {"transactions", "survival", "summary", "customers"}
        ``transactions``: ``customer_id, date, amount`` (one row per purchase line);
        ``survival``: cohort table ``cohort, period, alive``;
        ``summary``: a pre-summarised frame (here ``frequency, recency, n, count``);
        ``customers``: a customer attribute table, one row per ``customer_id`` (the
        covariates of :mod:`clvmodels.data.covariates`).
    description : str
        One-line description.
    citation : str
        Where the data were published.
    string_ids : bool
        Customer ids of a transaction log are text (``C00001``), kept as ``str``; else int64.
    """

    name: str
    filename: str
    kind: DatasetKind
    description: str
    citation: str
    string_ids: bool = False


_CDNOW_CITATION = (
    "Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). Counting your customers the easy "
    "way: an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284; data "
    "from http://brucehardie.com/datasets/ as redistributed in lifetimes 0.11.3."
)

LOYALTY_STORE_SEED = 20240101
"""Seed of ``scripts/make_loyalty_store.py`` for the shipped ``loyalty_store`` files."""

LOYALTY_STORE_TRUTH: dict[str, Any] = {
    "time_unit": "W",
    "observation_end": "2025-06-29",
    # BG/NBD (FHL 2005) with the links of Fader & Hardie (2007, note 019):
    # α_i = α₀ e^(−γ₁′z), a_i = a₀ e^(γ₂′z), b_i = b₀ e^(γ₃′z); a coefficient
    # "θ:covariate" is the γ of θ_i = θ₀ exp(sign·γ·z), sign −1 for alpha, +1 for a, b.
    "bgnbd": {
        "r": 0.25,
        "alpha": 4.0,
        "a": 0.8,
        "b": 2.5,
        "alpha:loyalty_member": 0.5,  # members buy e^0.5 ≈ 1.65 times as often
        "alpha:channel[store]": 0.1,  # vs the reference channel "app"
        "alpha:channel[web]": -0.2,
        "a:loyalty_member": -0.4,  # a smaller a and a larger b: members drop out
        "b:loyalty_member": 0.3,  # less often (E[p] 0.242 -> 0.137)
    },
    # Gamma-Gamma (FHL 2005 JMR; Fader & Hardie 2013): γ_i = γ₀ e^(δ′z), so the mean
    # spend per order p·γ_i/(q − 1) (30.00 at baseline) scales by e^δ.
    "gamma_gamma": {
        "p": 6.0,
        "q": 4.0,
        "gamma": 15.0,
        "gamma:loyalty_member": -0.1,  # members spend e^-0.1 ≈ 0.905 times as much per order
    },
    # Country groups (docs/guide/hierarchical.md's example): independent of the covariates,
    # the country g multiplies alpha and b, α_i = α₀ f^α_g e^(−γ₁′z), b_i = b₀ f^b_g e^(γ₃′z),
    # by factors whose logs were drawn once from Normal(0, sigma) — the population of a
    # hierarchical fit, log θ_g ~ Normal(log θ₀, σ_θ) — by scripts/make_loyalty_store.py
    # --draw-country-factors; r and a are the same in every country.
    "country": {
        "column": "country",
        "shares": {  # probabilities of the draw
            "DE": 0.40,
            "FR": 0.17,
            "GB": 0.12,
            "NL": 0.08,
            "IT": 0.06,
            "ES": 0.05,
            "PL": 0.04,
            "BE": 0.031,
            "AT": 0.03,
            "IE": 0.009,
            "PT": 0.007,
            "LU": 0.003,
        },
        "sigma": {"alpha": 0.35, "b": 0.3},
        "alpha": {  # f^α_g: a factor 0.695 makes DE customers buy 1/0.695 = 1.44x as often
            "DE": 0.695,
            "FR": 0.856,
            "GB": 1.155,
            "NL": 0.779,
            "IT": 0.922,
            "ES": 0.988,
            "PL": 0.617,
            "BE": 1.029,
            "AT": 1.153,
            "IE": 0.546,
            "PT": 1.009,
            "LU": 0.863,
        },
        "b": {  # f^b_g: a larger b, a smaller dropout probability E[p] = a/(a + b)
            "DE": 1.467,
            "FR": 1.35,
            "GB": 0.938,
            "NL": 0.815,
            "IT": 0.779,
            "ES": 1.27,
            "PL": 0.827,
            "BE": 0.598,
            "AT": 0.895,
            "IE": 1.536,
            "PT": 0.556,
            "LU": 0.833,
        },
        "customers": {  # realized in the shipped files (10,000 draws with `shares`)
            "DE": 3949,
            "FR": 1696,
            "GB": 1231,
            "NL": 818,
            "IT": 621,
            "ES": 492,
            "PL": 400,
            "BE": 307,
            "AT": 292,
            "IE": 98,
            "PT": 60,
            "LU": 36,
        },
    },
}
"""True parameters of the synthetic ``loyalty_store`` data (time unit weeks).

Coefficient names are those of a fit (``parameter:covariate``, categorical levels as
``channel[level]`` against the reference level ``app``) and follow the sign convention
of ``ModelSpec.covariate_links`` (:func:`clvmodels.models.links.linked_params`), so a
fit's ``params`` can be compared with these values key by key.

``country`` describes the groups of a hierarchical fit (``hierarchy: {group:
country}``; :mod:`clvmodels.models.groups`): the 12 countries' ``shares`` and realized
``customers``, the factors on ``alpha`` and ``b`` per country, the spread ``sigma`` of
their logs in the population they were drawn from (a fit's ``sd(alpha)``, ``sd(b)``),
and ``groups``: each country's parameters for a customer with every covariate zero (an
``app`` non-member), named as a fit names them — ``alpha[DE]`` = 4.0 × 0.695 = 2.78,
``b[DE]`` = 2.5 × 1.467 = 3.6675.  The population medians are ``bgnbd``'s ``alpha``
and ``b`` (4.0 and 2.5); the 12 drawn factors have geometric means 0.863 (``alpha``)
and 0.939 (``b``) and log standard deviations 0.24 and 0.33.  A fit without the country
sees the factors as extra heterogeneity: its ``alpha``, ``a`` and ``b`` are not these
baselines, its covariate coefficients are (``tests/test_builtin_data.py``)."""
LOYALTY_STORE_TRUTH["country"]["groups"] = {
    f"{parameter}[{level}]": round(LOYALTY_STORE_TRUTH["bgnbd"][parameter] * factor, 6)
    for parameter in ("alpha", "b")
    for level, factor in LOYALTY_STORE_TRUTH["country"][parameter].items()
}

REGULAR_STORE_SEED = 20240102
"""Seed of ``scripts/make_regular_store.py`` for the shipped ``regular_store`` file."""

REGULAR_STORE_TRUTH: dict[str, Any] = {
    "time_unit": "W",
    "observation_end": "2025-06-29",
    # BG/CNBD-k (Reutterer, Platzer & Schröder 2021): Erlang-k gaps of k phases of rate
    # λ ~ Gamma(r, alpha) (mean gap k/λ: 2.5 weeks at the mean rate), dropout after each
    # repeat purchase with p ~ Beta(a, b) (mean 0.06)
    "bgcnbd": {"k": 3, "r": 6.0, "alpha": 5.0, "a": 1.2, "b": 18.8},
    "gamma_gamma": {"p": 8.0, "q": 5.0, "gamma": 12.0},  # mean spend per order 24.00
}
"""True parameters of the synthetic ``regular_store`` data (time unit weeks): a store
whose customers buy regularly, about every two and a half weeks (groceries, pet food)."""

SEASONAL_STORE_SEED = 2
"""Seed of ``scripts/make_seasonal_store.py`` for the shipped ``seasonal_store`` file."""

SEASONAL_STORE_TRUTH: dict[str, Any] = {
    "time_unit": "W",
    "observation_end": "2025-06-29",
    "calibration_end": "2024-12-29",  # the Sunday ending week 104 of the weeks from 2023-01-02
    # Pareto/NBD with time-varying covariates (Bachmann, Meierer & Näf 2021): while alive
    # a customer buys at rate λ·exp(γ′x(t)) and drops out at hazard μ·exp(δ′z(t)),
    # λ ~ Gamma(r, rate alpha), μ ~ Gamma(s, rate beta); x, z constant within a week
    "paretonbd": {"r": 3.0, "alpha": 36.0, "s": 0.8, "beta": 30.0},
    "dynamic": {
        "purchase": {"high_season": 0.7, "spring_sale": 1.1},  # e^0.7 ≈ 2.0x, e^1.1 ≈ 3.0x
        "dropout": {"high_season": -0.6},  # e^-0.6 ≈ 0.55x: customers churn less in season
    },
    "gamma_gamma": {"p": 6.0, "q": 4.0, "gamma": 25.0},  # mean spend per order 50.00
    # covariate of a week: the share of its 7 days in the season / the campaign
    "calendar": {
        "high_season": [11, 12],
        "campaigns": [
            {"name": "spring_sale", "start": "2023-03-13", "end": "2023-03-26"},
            {"name": "spring_sale", "start": "2024-03-11", "end": "2024-03-24"},
            {"name": "spring_sale", "start": "2025-03-10", "end": "2025-03-23"},
        ],
    },
}
"""True parameters of the synthetic ``seasonal_store`` data (time unit weeks, weeks
starting on Mondays): a store whose customers buy about twice as often in November and
December and three times as often in a two-week spring sale, and drop out less in the
high season.  ``dynamic`` holds the coefficients of the calendar covariates of
``calendar`` (campaign dates inclusive)."""

_LOYALTY_STORE_CITATION = (
    f"synthetic: scripts/make_loyalty_store.py (seed {LOYALTY_STORE_SEED}), BG/NBD + "
    "Gamma-Gamma with covariate links of Fader & Hardie (2007, note 019)"
)

BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    d.name: d
    for d in (
        BuiltinDataset(
            name="cdnow_sample",
            filename="cdnow_sample.csv",
            kind="transactions",
            description=(
                "CDNOW 1/10th sample: 6,919 purchase lines of 2,357 customers who made their "
                "first purchase in Q1 1997, observed 1997-01-01..1998-06-30 (dollars)."
            ),
            citation=_CDNOW_CITATION,
        ),
        BuiltinDataset(
            name="cdnow_master",
            filename="cdnow_master.csv.gz",
            kind="transactions",
            description=(
                "Full CDNOW log: 69,659 purchase lines of 23,570 customers, "
                "1997-01-01..1998-06-30; 80 lines have a zero dollar value."
            ),
            citation=_CDNOW_CITATION,
        ),
        BuiltinDataset(
            name="retention_fh2007",
            filename="retention_fh2007.csv",
            kind="survival",
            description=(
                "Customers surviving of 1,000 acquired at year 0, years 0..12, for a "
                "'regular' and a 'high_end' cohort."
            ),
            citation=(
                "Fader, P. S. & Hardie, B. G. S. (2007). How to project customer retention. "
                "Journal of Interactive Marketing 21(1), 76-90, Table 1."
            ),
        ),
        BuiltinDataset(
            name="donations_fhs2010",
            filename="donations_fhs2010.csv",
            kind="summary",
            description=(
                "Repeat donations of 11,104 first-time donors of 1995 over 6 annual "
                "opportunities (1996-2001), as (frequency, recency, n, count) patterns."
            ),
            citation=(
                "Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis "
                "in a discrete-time noncontractual setting. Marketing Science 29(6), "
                "1086-1108; data as redistributed in lifetimes 0.11.3 (donations.csv)."
            ),
        ),
        BuiltinDataset(
            name="loyalty_store",
            filename="loyalty_store.csv.gz",
            kind="transactions",
            description=(
                "SYNTHETIC purchase log of 10,000 customers who joined 2024-01-01..2024-03-24, "
                "observed to 2025-06-29, drawn from a BG/NBD + Gamma-Gamma model with known "
                "effects (weeks): loyalty members buy e^0.5 = 1.65x as often "
                "(alpha:loyalty_member 0.5), drop out less (a:loyalty_member -0.4, "
                "b:loyalty_member 0.3) and spend e^-0.1 = 0.905x per order "
                "(gamma:loyalty_member -0.1); vs app, web buys e^-0.2x and store e^0.1x as "
                "often (alpha:channel[web] -0.2, alpha:channel[store] 0.1); the customers' "
                "12 countries (3,949 in DE down to 36 in LU) multiply alpha and b by known "
                "factors (group effects for a hierarchical fit). Truth: "
                "LOYALTY_STORE_TRUTH; customer table: loyalty_store_customers."
            ),
            citation=_LOYALTY_STORE_CITATION,
        ),
        BuiltinDataset(
            name="loyalty_store_customers",
            filename="loyalty_store_customers.csv",
            kind="customers",
            description=(
                "SYNTHETIC customer table of loyalty_store: customer_id, loyalty_member "
                "(true for ~30%), channel (web ~50%, app ~30%, store ~20%), country (12 "
                "ISO codes of very unequal sizes: DE 3,949, FR 1,696, GB 1,231 ... IE 98, "
                "PT 60, LU 36), one row per customer of the log; the true effects are in "
                "LOYALTY_STORE_TRUTH (the countries' in LOYALTY_STORE_TRUTH['country'])."
            ),
            citation=_LOYALTY_STORE_CITATION,
        ),
        BuiltinDataset(
            name="regular_store",
            filename="regular_store.csv.gz",
            kind="transactions",
            description=(
                "SYNTHETIC log of a store of regular buyers: 3,000 customers joining "
                "2024-01-01..2024-03-24, observed to 2025-06-29, Erlang-3 gaps between "
                "purchases (BG/CNBD-k, k = 3); true parameters in REGULAR_STORE_TRUTH."
            ),
            citation=(
                f"synthetic: scripts/make_regular_store.py (seed {REGULAR_STORE_SEED}), "
                "BG/CNBD-k + Gamma-Gamma"
            ),
        ),
        BuiltinDataset(
            name="seasonal_store",
            filename="seasonal_store.csv.gz",
            kind="transactions",
            description=(
                "SYNTHETIC log of a seasonal store: 4,000 customers (ids C00001..C04000) "
                "joining 2023-01-02..2023-12-31, observed to 2025-06-29, Pareto/NBD with "
                "weekly calendar covariates: customers buy e^0.7 = 2.0x as often in "
                "November-December and e^1.1 = 3.0x in a two-week spring sale, and drop out "
                "e^-0.6 = 0.55x as often in November-December; truth in SEASONAL_STORE_TRUTH."
            ),
            citation=(
                f"synthetic: scripts/make_seasonal_store.py (seed {SEASONAL_STORE_SEED}), "
                "Pareto/NBD with time-varying covariates (Bachmann, Meierer & Näf 2021, "
                "Marketing Science 40(4)) + Gamma-Gamma"
            ),
            string_ids=True,
        ),
    )
}


def builtin_names() -> list[str]:
    """Names of the built-in data sets, sorted."""
    return sorted(BUILTIN_DATASETS)


def get_builtin(name: str) -> BuiltinDataset:
    """Return the description of a built-in data set.

    Raises
    ------
    DataError
        If ``name`` is not a built-in data set; the message lists the known names.
    """
    try:
        return BUILTIN_DATASETS[name]
    except KeyError:
        known = ", ".join(builtin_names())
        message = f"builtin:{clip(name)}: unknown built-in data set; known: {known}"
        raise DataError(message) from None


def load_builtin(name: str) -> pd.DataFrame:
    """Load a built-in data set as a DataFrame.

    Parameters
    ----------
    name : str
        One of ``cdnow_sample``, ``cdnow_master``, ``retention_fh2007``,
        ``donations_fhs2010``, ``loyalty_store``, ``loyalty_store_customers``,
        ``regular_store``, ``seasonal_store`` (see
        ``BUILTIN_DATASETS`` for descriptions and citations).

    Returns
    -------
    pandas.DataFrame
        Transactions have ``customer_id`` (int64; ``str`` for ``string_ids`` data sets
        such as ``seasonal_store``), ``date`` (datetime64) and
        ``amount`` (float64); the survival table ``cohort`` (str), ``period`` and
        ``alive`` (int64); the donation summary int64 columns
        ``frequency, recency, n, count``; the customer table ``customer_id`` (int64),
        ``loyalty_member`` (bool) and ``channel`` (str).

    Raises
    ------
    DataError
        If ``name`` is unknown.

    Examples
    --------
    The CDNOW sample of Fader, Hardie & Lee (2005): 2,357 customers who first bought in
    the first quarter of 1997, followed to the end of June 1998.

    >>> log = load_builtin("cdnow_sample")
    >>> len(log), log["customer_id"].nunique(), list(log.columns)
    (6919, 2357, ['customer_id', 'date', 'amount'])
    >>> str(log["date"].min().date()), str(log["date"].max().date())
    ('1997-01-01', '1998-06-30')

    The subscribers of Fader & Hardie (2007, Table 1) still active after one year:

    >>> load_builtin("retention_fh2007").query("period == 1")
          cohort  period  alive
    1    regular       1    631
    14  high_end       1    869
    """
    dataset = get_builtin(name)
    ref = resources.files("clvmodels.data") / "files" / dataset.filename
    with ref.open("rb") as fh:
        compression = "gzip" if dataset.filename.endswith(".gz") else None
        frame = pd.read_csv(fh, compression=compression)
    if dataset.kind == "transactions":
        ids = frame["customer_id"]
        frame = frame.assign(
            customer_id=ids.astype(str) if dataset.string_ids else ids.astype("int64"),
            date=pd.to_datetime(frame["date"], format="%Y-%m-%d"),
            amount=frame["amount"].astype("float64"),
        )
    elif dataset.kind == "customers":
        frame = frame.assign(
            customer_id=frame["customer_id"].astype("int64"),
            loyalty_member=frame["loyalty_member"].astype(str).str.lower().eq("true"),
            channel=frame["channel"].astype(str),
        )
    elif dataset.kind == "survival":
        frame = frame.assign(
            cohort=frame["cohort"].astype(str),
            period=frame["period"].astype("int64"),
            alive=frame["alive"].astype("int64"),
        )
    else:
        frame = frame.astype("int64")
    return frame


def write_log(log: pd.DataFrame, path: Any) -> None:
    """Write a simulated transaction log (``customer_id, date, amount``) as the shipped
    files are: gzip-compressed CSV, ISO dates, amounts in cents, and ``mtime=0`` so that
    the bytes are the same from run to run (the ``scripts/make_*.py`` generators)."""
    import gzip

    text = log.assign(date=log["date"].dt.strftime("%Y-%m-%d")).to_csv(
        index=False, float_format="%.2f"
    )
    with gzip.GzipFile(path, "wb", mtime=0) as fh:
        fh.write(text.encode())
