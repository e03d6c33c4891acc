"""Convert the raw CDNOW and donation files into the tidy files shipped in clvmodels.

Run once; the outputs in ``clvmodels/data/files/`` are committed::

    python scripts/make_builtin_data.py /path/to/lifetimes/datasets

The source directory is the ``datasets/`` folder of the lifetimes 0.11.3 wheel
(https://pypi.org/project/Lifetimes/0.11.3/), which redistributes the CDNOW files
published by Bruce Hardie (http://brucehardie.com/datasets/) and the donation
summary of Fader, Hardie & Shang (2010).  The retention table of Fader & Hardie
(2007) is typed in from the paper (Table 1).  Provenance of every output is in
``clvmodels/data/files/README.md``.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import pandas as pd

OUT_DIR = Path(__file__).resolve().parents[1] / "clvmodels" / "data" / "files"

# Fader & Hardie (2007) "How to project customer retention", Journal of Interactive
# Marketing 21(1), 76-90, Table 1: customers surviving of 1,000 acquired at year 0.
RETENTION_FH2007 = {
    "regular": [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173],
    "high_end": [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394],
}


def _tidy_cdnow(raw: pd.DataFrame, id_col: str, date_col: str, amount_col: str) -> pd.DataFrame:
    """One row per source line: integer id, ISO date, float dollar amount."""
    return pd.DataFrame(
        {
            "customer_id": raw[id_col].astype("int64"),
            "date": pd.to_datetime(raw[date_col].astype(str), format="%Y%m%d").dt.strftime(
                "%Y-%m-%d"
            ),
            "amount": raw[amount_col].astype("float64"),
        }
    )


def convert(source_dir: Path, out_dir: Path) -> None:
    """Write the four built-in data sets from the files in ``source_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)

    # CDNOW_sample.txt: no header; customer id, sample id, yyyymmdd, number of CDs, dollars.
    sample = pd.read_csv(
        source_dir / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["customer", "sample_id", "date", "cds", "dollars"],
        dtype={"customer": "int64", "date": "int64"},
    )
    tidy = _tidy_cdnow(sample, "customer", "date", "dollars")
    tidy.to_csv(out_dir / "cdnow_sample.csv", index=False, float_format="%.2f")
    print(f"cdnow_sample.csv: {len(tidy)} rows, {tidy.customer_id.nunique()} customers")

    # CDNOW_master.txt: header line ``customer_id date number_of_cds dollar_value``.
    master = pd.read_csv(source_dir / "CDNOW_master.txt", sep=r"\s+")
    tidy = _tidy_cdnow(master, "customer_id", "date", "dollar_value")
    # mtime=0 keeps the gzip bytes reproducible from run to run.
    with gzip.GzipFile(out_dir / "cdnow_master.csv.gz", "wb", mtime=0) as fh:
        fh.write(tidy.to_csv(index=False, float_format="%.2f").encode())
    print(
        f"cdnow_master.csv.gz: {len(tidy)} rows, {tidy.customer_id.nunique()} customers, "
        f"{int((tidy.amount <= 0).sum())} rows with amount <= 0"
    )

    donations = pd.read_csv(source_dir / "donations.csv")
    donations = donations.rename(columns={"periods": "n", "weights": "count"})
    donations = donations[["frequency", "recency", "n", "count"]]
    donations.to_csv(out_dir / "donations_fhs2010.csv", index=False)
    print(f"donations_fhs2010.csv: {len(donations)} rows, {donations['count'].sum()} donors")

    rows = [
        {"cohort": cohort, "period": period, "alive": alive}
        for cohort, alive_by_period in RETENTION_FH2007.items()
        for period, alive in enumerate(alive_by_period)
    ]
    pd.DataFrame(rows).to_csv(out_dir / "retention_fh2007.csv", index=False)
    print(f"retention_fh2007.csv: {len(rows)} rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", type=Path, help="lifetimes 0.11.3 datasets/ folder")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args()
    convert(args.source_dir, args.out)


if __name__ == "__main__":
    main()
