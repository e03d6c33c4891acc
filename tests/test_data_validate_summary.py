"""validate_summary: pre-summarised frames (frequency, recency, T[, count])."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.data import load_builtin, validate_summary
from clvmodels.errors import DataError


def test_donations_fhs2010_validate_with_renaming():
    # discrete-time summary: x, t_x and n (Fader, Hardie & Shang 2010) map onto the
    # frequency/recency/T frame with n as T (columns: role -> the frame's column)
    df = load_builtin("donations_fhs2010")
    out = validate_summary(df, columns={"T": "n"}, source_name="builtin:donations_fhs2010")
    assert out["count"].sum() == 11104
    assert (out["T"] == 6).all()


def test_valid_frame_gets_ids_and_types():
    df = pd.DataFrame(
        {
            "frequency": [0, 2.0],
            "recency": [0.0, 3.5],
            "T": [4, 5],
            "monetary_value": [0.0, 12.5],
            "count": [3, 1],
        }
    )
    out = validate_summary(df)
    assert out["customer_id"].tolist() == [0, 1]
    assert out["frequency"].dtype == "int64" and out["count"].dtype == "int64"
    assert list(out.columns) == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "count",
    ]


def test_existing_ids_kept():
    df = pd.DataFrame(
        {"customer_id": ["a", "b"], "frequency": [1, 0], "recency": [1.0, 0.0], "T": [2.0, 2.0]}
    )
    assert validate_summary(df)["customer_id"].tolist() == ["a", "b"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop": "T"}, r"data\.csv: missing column 'T'; columns present: frequency, recency"),
        ({"frequency": [1, "x"]}, r"column 'frequency' row 1: not a finite number"),
        ({"recency": [1.0, np.nan]}, r"column 'recency' row 1: not a finite number"),
        ({"frequency": [1, 1.5]}, r"column 'frequency' row 1: not a non-negative integer"),
        ({"frequency": [1, -1]}, r"column 'frequency' row 1: not a non-negative integer"),
        ({"recency": [1.0, -1.0]}, r"column 'recency' row 1: negative"),
        ({"T": [3.0, 0.0]}, r"column 'T' row 1: not positive"),
        ({"recency": [3.5, 1.0]}, r"column 'recency' row 0: greater than T"),
        (
            {"frequency": [1, 0], "recency": [1.0, 1.0]},
            r"column 'recency' row 1: must be 0 when frequency is 0",
        ),
        ({"count": [1, 0]}, r"column 'count' row 1: not a positive integer"),
    ],
)
def test_errors_name_column_and_row(change, message):
    df = pd.DataFrame({"frequency": [1, 2], "recency": [1.0, 2.0], "T": [3.0, 3.0]})
    if "drop" in change:
        df = df.drop(columns=change["drop"])
    else:
        for column, values in change.items():
            df[column] = pd.Series(values, dtype=object if "x" in values else None)
    with pytest.raises(DataError, match=message):
        validate_summary(df, source_name="data.csv")


def test_empty_frame():
    with pytest.raises(DataError, match="DataFrame: no rows"):
        validate_summary(pd.DataFrame({"frequency": [], "recency": [], "T": []}))


def test_summarize_output_validates():
    from clvmodels.data import summarize_transactions

    summary = summarize_transactions("builtin:cdnow_sample", calibration_end="1997-09-30")
    out = validate_summary(summary[["customer_id", "frequency", "recency", "T", "monetary_value"]])
    assert len(out) == 2357


def test_discrete_time_summary_with_n_is_accepted_fader_hardie_shang_2010():
    table = validate_summary(load_builtin("donations_fhs2010"))
    assert int(table["count"].sum()) == 11104
    assert set(table.columns) >= {"frequency", "recency", "n", "count"}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"frequency": 3, "recency": 2, "n": 6}, "greater than recency"),
        ({"frequency": 1, "recency": 7, "n": 6}, "greater than n"),
        ({"frequency": 1, "recency": 2.5, "n": 6}, "whole opportunity"),
    ],
)
def test_discrete_time_summary_errors(row, message):
    with pytest.raises(DataError, match=message):
        validate_summary(pd.DataFrame([row]))


def test_columns_map_each_role_to_the_frames_column():
    """``columns`` is role -> your column name, as data.columns in a config."""
    canonical = pd.DataFrame(
        {"frequency": [1, 0], "recency": [1.0, 0.0], "T": [3.0, 2.0], "monetary_value": [5.0, 0]}
    )
    renamed = canonical.rename(columns={"frequency": "n_repeat", "T": "age"})
    got = validate_summary(renamed, columns={"frequency": "n_repeat", "T": "age"})
    pd.testing.assert_frame_equal(got, validate_summary(canonical))
    swapped = canonical.rename(columns={"recency": "T", "T": "recency"})
    got = validate_summary(swapped, columns={"recency": "T", "T": "recency"})
    pd.testing.assert_frame_equal(got, validate_summary(canonical))


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"x": "frequency"}, r"columns: 'x' is not a column role of a summary \(roles: "),
        ({"T": "age"}, r"data\.csv: missing column 'age' \(the T column\)"),
        ({"frequency": "recency"}, r"maps role 'frequency' to column 'recency', but there is"),
    ],
)
def test_columns_errors(columns, message):
    df = pd.DataFrame({"frequency": [1, 2], "recency": [1.0, 2.0], "T": [3.0, 3.0]})
    with pytest.raises(DataError, match=message):
        validate_summary(df, source_name="data.csv", columns=columns)
