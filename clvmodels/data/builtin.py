"""Data sets shipped with clvmodels, loaded with :mod:`importlib.resources`.

The files in ``clvmodels/data/files/`` were produced once by
``scripts/make_builtin_data.py``; ``files/README.md`` documents their provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Literal

import pandas as pd

from clvmodels.errors import DataError

DatasetKind = Literal["transactions", "survival", "summary"]


@dataclass(frozen=True)
class BuiltinDataset:
    """Description of one built-in data set.

    Attributes
    ----------
    name : str
        Name used by :func:`load_builtin` and in ``"builtin:NAME"`` sources.
    filename : str
        File inside ``clvmodels/data/files``.
    kind : {"transactions", "survival", "summary"}
        ``transactions``: ``customer_id, date, amount`` (one row per purchase line);
        ``survival``: cohort table ``cohort, period, alive``;
        ``summary``: a pre-summarised frame (here ``frequency, recency, n, count``).
    description : str
        One-line description.
    citation : str
        Where the data were published.
    """

    name: str
    filename: str
    kind: DatasetKind
    description: str
    citation: str


_CDNOW_CITATION = (
    "Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). Counting your customers the easy "
    "way: an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284; data "
    "from http://brucehardie.com/datasets/ as redistributed in lifetimes 0.11.3."
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
        raise DataError(f"builtin:{name}: unknown built-in data set; known: {known}") from None


def load_builtin(name: str) -> pd.DataFrame:
    """Load a built-in data set as a DataFrame.

    Parameters
    ----------
    name : str
        One of ``cdnow_sample``, ``cdnow_master``, ``retention_fh2007``,
        ``donations_fhs2010`` (see ``BUILTIN_DATASETS`` for descriptions and citations).

    Returns
    -------
    pandas.DataFrame
        Transactions have ``customer_id`` (int64), ``date`` (datetime64) and
        ``amount`` (float64); the survival table ``cohort`` (str), ``period`` and
        ``alive`` (int64); the donation summary int64 columns
        ``frequency, recency, n, count``.

    Raises
    ------
    DataError
        If ``name`` is unknown.
    """
    dataset = get_builtin(name)
    ref = resources.files("clvmodels.data") / "files" / dataset.filename
    with ref.open("rb") as fh:
        compression = "gzip" if dataset.filename.endswith(".gz") else None
        frame = pd.read_csv(fh, compression=compression)
    if dataset.kind == "transactions":
        frame = frame.assign(
            customer_id=frame["customer_id"].astype("int64"),
            date=pd.to_datetime(frame["date"], format="%Y-%m-%d"),
            amount=frame["amount"].astype("float64"),
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
