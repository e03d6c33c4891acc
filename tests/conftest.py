"""Fixtures shared by the model tests."""

from __future__ import annotations

import numpy as np
import pytest

from clvmodels.data import load_builtin, summarize_transactions


@pytest.fixture(scope="session")
def cdnow() -> dict[str, np.ndarray]:
    """CDNOW calibration summary (Fader, Hardie & Lee 2005: 2,357 customers, 39 weeks),
    recency and T rounded to 2 decimals of a week as in the paper's data file (the
    builtin summary then equals that file row for row)."""
    summary = summarize_transactions(
        load_builtin("cdnow_sample"),
        time_unit="W",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    return {
        "frequency": summary["frequency"].to_numpy(float),
        "recency": np.round(summary["recency"].to_numpy(float), 2),
        "T": np.round(summary["T"].to_numpy(float), 2),
    }


@pytest.fixture(scope="session")
def cdnow_summary():
    """The CDNOW calibration summary frame (39 + 39 weeks, with holdout columns)."""
    return summarize_transactions(
        load_builtin("cdnow_sample"),
        time_unit="W",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
