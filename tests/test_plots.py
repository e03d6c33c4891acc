"""Plots: matplotlib's ``loc="best"`` legend search warns when it takes over a second
(a CLV histogram of many customers on a busy machine), which failed a run under
warnings-as-errors; every legend therefore has a fixed location.  The test makes the
search look slow with a clock that jumps 2 s per reading."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels.report import plots
from clvmodels.run.figures import save


@pytest.fixture
def slow_clock(monkeypatch):
    import matplotlib.legend

    ticks = itertools.count(step=2.0)
    monkeypatch.setattr(matplotlib.legend.time, "perf_counter", lambda: float(next(ticks)))


def test_legends_never_search_for_the_best_location(slow_clock, tmp_path):
    rng = np.random.default_rng(0)
    predictions = pd.DataFrame(
        {
            "clv": rng.gamma(0.5, 80.0, 3000),
            "baseline_clv": rng.gamma(0.8, 60.0, 3000),
            "rfm_segment": rng.choice(["low", "middle", "top"], 3000),
        }
    )
    tracking = pd.DataFrame({"period": np.arange(10), "actual": np.arange(10.0)})
    tracking["bgnbd"] = tracking["actual"] * 1.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save(tmp_path / "clv.png", lambda ax: plots.clv_distribution(predictions, ax=ax))
        save(tmp_path / "segment.png", lambda ax: plots.clv_by_segment(predictions, ax=ax))
        save(tmp_path / "tracking.png", lambda ax: plots.tracking(tracking, 5.0, "W", ax=ax))
    assert (tmp_path / "clv.png").stat().st_size > 0


def test_plots_take_an_axes_and_return_it():
    """The matplotlib convention: ``ax=`` is drawn on and returned; without it, pyplot's
    current axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    predictions = pd.DataFrame(
        {
            "clv": [1.0, 5.0, 20.0],
            "baseline_clv": [2.0, 4.0, 8.0],
            "rfm_segment": ["low", "top", "middle"],
        }
    )
    _, ax = plt.subplots()
    try:
        assert plots.clv_by_segment(predictions, ax=ax) is ax
        assert len(ax.patches) == 6  # model and seed bars for three segments
        assert plots.clv_distribution(predictions) is plt.gca()
    finally:
        plt.close("all")
