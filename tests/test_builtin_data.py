"""Built-in data sets: shapes, types and the totals their sources report."""

from __future__ import annotations

import pandas as pd
import pytest

from clvmodels.data import BUILTIN_DATASETS, load_builtin
from clvmodels.errors import DataError


def test_cdnow_sample_matches_fader_hardie_lee_2005_description():
    # FHL (2005) section 2: 2,357 customers, first purchases in Q1 1997, to 1998-06-30.
    df = load_builtin("cdnow_sample")
    assert list(df.columns) == ["customer_id", "date", "amount"]
    assert len(df) == 6919
    assert df["customer_id"].nunique() == 2357
    assert df["customer_id"].dtype == "int64"
    assert pd.api.types.is_datetime64_dtype(df["date"])
    assert df["amount"].dtype == "float64"
    assert df["date"].min() == pd.Timestamp("1997-01-01")
    assert df["date"].max() == pd.Timestamp("1998-06-30")
    assert (df["amount"] == 0).sum() == 8


def test_cdnow_sample_first_rows_match_source_file():
    # CDNOW_sample.txt begins " 00004 0001 19970101  2   29.33" / "... 19970118  2   29.73"
    df = load_builtin("cdnow_sample")
    assert df.iloc[0].tolist() == [4, pd.Timestamp("1997-01-01"), 29.33]
    assert df.iloc[1].tolist() == [4, pd.Timestamp("1997-01-18"), 29.73]


def test_cdnow_master_row_count_and_zero_dollar_rows():
    df = load_builtin("cdnow_master")
    assert len(df) == 69659
    assert df["customer_id"].nunique() == 23570
    assert (df["amount"] <= 0).sum() == 80
    assert df["date"].min() == pd.Timestamp("1997-01-01")
    assert df["date"].max() == pd.Timestamp("1998-06-30")


def test_retention_matches_fader_hardie_2007_table_1():
    df = load_builtin("retention_fh2007")
    assert list(df.columns) == ["cohort", "period", "alive"]
    regular = df.loc[df["cohort"] == "regular", "alive"].tolist()
    high_end = df.loc[df["cohort"] == "high_end", "alive"].tolist()
    assert regular == [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
    assert high_end == [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]
    assert df["period"].tolist() == list(range(13)) * 2


def test_donations_match_fader_hardie_shang_2010_totals():
    # FHS (2010): 11,104 first-time donors of 1995, 6 repeat opportunities.
    df = load_builtin("donations_fhs2010")
    assert list(df.columns) == ["frequency", "recency", "n", "count"]
    assert df["count"].sum() == 11104
    assert (df["n"] == 6).all()
    assert len(df) == 22  # every (x, t_x) pattern with 0 < t_x <= 6, plus (0, 0)


def test_catalogue_describes_every_dataset():
    assert set(BUILTIN_DATASETS) == {
        "cdnow_sample",
        "cdnow_master",
        "retention_fh2007",
        "donations_fhs2010",
    }
    kinds = {name: d.kind for name, d in BUILTIN_DATASETS.items()}
    assert kinds["cdnow_sample"] == "transactions"
    assert kinds["retention_fh2007"] == "survival"
    assert kinds["donations_fhs2010"] == "summary"
    for dataset in BUILTIN_DATASETS.values():
        assert dataset.citation and dataset.description


def test_unknown_dataset_lists_known_names():
    with pytest.raises(DataError, match="known: cdnow_master, cdnow_sample"):
        load_builtin("cdnow")
