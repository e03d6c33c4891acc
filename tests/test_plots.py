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

from clvmodels.report import effect_plots, plots
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


def test_covariate_effects_plot_the_factor_on_the_quantity_not_the_parameter():
    """Members' α factor 0.61 means they buy 1/0.61 = 1.63× as often: the plot shows the
    1.63 (``effect_factor``), once per covariate and quantity (a BG/NBD dropout covariate
    has a row for a and one for b)."""
    from matplotlib.figure import Figure

    effects = pd.DataFrame(
        {
            "model": ["bgnbd"] * 3,
            "coefficient": ["alpha:member", "a:member", "b:member"],
            "process": ["purchase", "dropout", "dropout"],
            "covariate": ["member"] * 3,
            "factor": [0.613, 0.843, 1.790],
            "factor_lower": [0.556, 0.610, 1.140],
            "factor_upper": [0.676, 1.165, 2.811],
            "effect_quantity": ["purchase rate"] + ["dropout probability after a purchase"] * 2,
            "effect_factor": [1.631, 0.537, 0.537],
            "effect_factor_lower": [1.493, 0.458, 0.458],
            "effect_factor_upper": [1.791, 0.633, 0.633],
        }
    )
    ax = effect_plots.covariate_effects(effects, ax=Figure().add_subplot())
    (points,) = ax.lines[:1]
    assert sorted(points.get_xdata()) == [0.537, 1.631]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [
        "bgnbd: member\n→ dropout probability after a purchase",
        "bgnbd: member\n→ purchase rate",
    ]
