"""Rolling-origin backtests on CDNOW (Fader, Hardie & Lee 2005; 39-week holdouts): from a
config (configs/cdnow_backtest.yaml) and from the Python API, which must agree origin by
origin; the last origin is the run's own split, so its scores are those of
evaluation.csv."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from clvmodels import BGNBD, GammaGamma, ParetoNBD
from clvmodels.cli import main
from clvmodels.errors import ConfigError
from clvmodels.evaluation.backtest import backtest

REPO = Path(__file__).resolve().parents[1]
ORIGINS = ["1997-08-05", "1997-09-02", "1997-09-30"]


@pytest.fixture(scope="module")
def backtest_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("backtest")
    config = folder / "cdnow_backtest.yaml"
    text = (REPO / "configs/cdnow_backtest.yaml").read_text()
    config.write_text(text.replace("  horizon: 52\n", "  horizon: 52\n  interval: null\n"))
    assert main(["fit", str(config), "--out", str(folder / "run"), "--quiet"]) == 0
    return folder / "run"


def test_config_backtest_scores_every_model_at_three_origins(backtest_run):
    per_origin = pd.read_csv(backtest_run / "backtest.csv")
    assert list(dict.fromkeys(per_origin["origin"])) == ORIGINS
    assert per_origin["holdout_end"].iloc[-1] == "1998-06-30"
    models = ["bgnbd+gamma_gamma", "paretonbd+gamma_gamma", "gbm_challenger"]
    for origin in ORIGINS:
        rows = per_origin[per_origin["origin"] == origin].set_index("model")
        assert set(models) <= set(rows.index)
        assert rows.loc[models, "log_score_purchases"].notna().all()
    manifest = json.loads((backtest_run / "manifest.json").read_text())
    assert manifest["evaluation"]["backtest"]["origins"] == ORIGINS
    summary = pd.read_csv(backtest_run / "backtest_summary.csv")
    mean = summary.set_index(["model", "metric"]).loc[("bgnbd+gamma_gamma", "rps_purchases")]
    by_origin = per_origin.loc[per_origin["model"] == "bgnbd+gamma_gamma", "rps_purchases"]
    assert mean["mean"] == pytest.approx(by_origin.mean())
    assert mean["sd"] == pytest.approx(by_origin.std())
    assert "Rolling-origin backtest" in (backtest_run / "report.html").read_text()
    # docs/guide/evaluation.md "Which forecast to trust": the two models' mean log scores
    # over the origins
    scores = summary.set_index(["model", "metric"])
    for model, (stated_mean, stated_sd) in {
        "bgnbd+gamma_gamma": (-1.022, 0.037),
        "paretonbd+gamma_gamma": (-1.026, 0.038),
    }.items():
        row = scores.loc[(model, "log_score_purchases")]
        assert (round(row["mean"], 3), round(row["sd"], 3)) == (stated_mean, stated_sd)


def test_the_last_origin_is_the_runs_own_split(backtest_run):
    per_origin = pd.read_csv(backtest_run / "backtest.csv")
    last = per_origin[per_origin["origin"] == ORIGINS[-1]].drop(columns=["origin", "holdout_end"])
    evaluation = pd.read_csv(backtest_run / "evaluation.csv")
    pd.testing.assert_frame_equal(
        last.reset_index(drop=True), evaluation, check_exact=False, rtol=1e-9
    )


def test_python_api_backtest_equals_the_configured_one(backtest_run):
    result = backtest(
        "builtin:cdnow_sample",
        {"bgnbd": BGNBD(), "paretonbd": ParetoNBD()},
        origins=ORIGINS,
        holdout=39,
        time_unit="W",
        spend=GammaGamma(),
        challenger=False,
    )
    configured = pd.read_csv(backtest_run / "backtest.csv")
    configured = configured[configured["model"] != "gbm_challenger"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        result.per_origin, configured, check_exact=False, rtol=1e-9, check_dtype=False
    )


def test_python_api_refuses_an_origin_whose_holdout_outruns_the_log():
    with pytest.raises(ConfigError, match="after the end of the log 1998-06-30"):
        backtest("builtin:cdnow_sample", {"bgnbd": BGNBD()}, origins=["1998-01-01"], holdout=39)
