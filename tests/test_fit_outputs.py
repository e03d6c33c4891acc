"""``clvmodels fit``: predictions.csv and evaluation.csv on the built-in data.

Expected values: the CDNOW split of Fader, Hardie & Lee (2005) (2,357 customers, 39 + 39
weeks) and the Fader & Hardie (2007) cohorts; the claims checked are the evaluation
issue's: the models beat every form of the seed baseline on holdout revenue errors and
rank about as well, and the sBG projects years 8-12 within 5 % MAPE.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.cli import main

REPO = Path(__file__).resolve().parents[1]
PREDICTION_COLUMNS = [
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
    "baseline_clv",
    "rfm_score",
    "rfm_segment",
    "clv_lower",
    "clv_upper",
    "frequency_holdout",
    "revenue_holdout",
]
EVALUATION_COLUMNS = [
    "model",
    "mae_purchases",
    "rmse_purchases",
    "mae_revenue",
    "rmse_revenue",
    "total_revenue_error",
    "spearman_revenue",
    "top10_revenue_share",
]


def test_predictions_have_the_documented_schema_sorted_by_clv(cdnow_run):
    table = pd.read_csv(cdnow_run / "predictions.csv")
    assert len(table) == 2357
    assert set(PREDICTION_COLUMNS) <= set(table.columns)
    assert table["clv"].is_monotonic_decreasing
    assert not table.drop(columns=["rfm_segment"]).isna().any().any()
    assert set(table["rfm_segment"]) <= {"low", "middle", "top"}
    assert (table["p_alive"].between(0, 1)).all()
    assert (table["clv_lower"] <= table["clv_upper"]).all()


def test_evaluation_table_models_beat_the_seed_baseline_on_cdnow_holdout(cdnow_run):
    table = pd.read_csv(cdnow_run / "evaluation.csv").set_index("model")
    assert set(EVALUATION_COLUMNS[1:]) <= set(table.columns)
    model = table.loc["bgnbd+gamma_gamma"]
    seeds = table.loc[["seed_base", "seed_segment", "seed_customer"]]
    assert (model["mae_revenue"] < seeds["mae_revenue"]).all()
    assert (model["rmse_revenue"] < seeds["rmse_revenue"]).all()
    assert (abs(model["total_revenue_error"]) < seeds["total_revenue_error"].abs()).all()
    # ranking: within a few points of the best baseline (ranking by past spend is strong)
    assert model["top10_revenue_share"] >= seeds["top10_revenue_share"].max() - 0.05
    # the zero reference row is there, and its MAE shows why MAE alone misleads
    assert table.loc["zero_forecast", "total_revenue_error"] == -1.0
    assert table.loc["zero_forecast", "mae_purchases"] < seeds["mae_purchases"].min()


def test_conditional_expectations_and_tracking_follow_the_actuals_fhl_2005(cdnow_run):
    cond = pd.read_csv(cdnow_run / "conditional_expectations.csv")
    assert cond["customers"].sum() == 2357
    assert np.allclose(cond["bgnbd"], cond["actual"], atol=0.5)
    tracking = pd.read_csv(cdnow_run / "tracking.csv")
    assert tracking["actual"].is_monotonic_increasing
    final = tracking.iloc[-1]
    assert final["bgnbd"] == pytest.approx(final["actual"], rel=0.06)
    params = json.loads((cdnow_run / "params.json").read_text())
    assert set(params["models"]) == {"bgnbd", "paretonbd", "gamma_gamma"}


def test_auto_values_customers_with_the_best_log_score_on_the_cdnow_holdout(cdnow_run):
    table = pd.read_csv(cdnow_run / "evaluation.csv").set_index("model")
    params = json.loads((cdnow_run / "params.json").read_text())
    manifest = json.loads((cdnow_run / "manifest.json").read_text())
    selection = params["selection"]
    assert selection == manifest["selection"]
    assert selection["how"] == "auto" and selection["criterion"] == "log_score_purchases"
    models = {"bgnbd+gamma_gamma": "bgnbd", "paretonbd+gamma_gamma": "paretonbd"}
    scores = table.loc[list(models), "log_score_purchases"]
    best, second = scores.sort_values(ascending=False).index[:2]
    assert params["chosen_purchase_model"] == models[best] == selection["chosen_purchase_model"]
    assert selection["runner_up"] == models[second]
    assert selection["margin"] == pytest.approx(scores[best] - scores[second])
    assert selection["value"] == pytest.approx(scores[best])


def test_chosen_models_count_intervals_cover_as_often_as_it_says_on_cdnow(cdnow_run):
    table = pd.read_csv(cdnow_run / "evaluation.csv").set_index("model")
    chosen = json.loads((cdnow_run / "params.json").read_text())["chosen_purchase_model"]
    row = table.loc[f"{chosen}+gamma_gamma"]
    for level in (90, 80):
        gap = row[f"coverage{level}_purchases"] - row[f"coverage{level}_purchases_expected"]
        assert abs(gap) < 0.03
    assert abs(row["coverage90_revenue"] - row["coverage90_revenue_expected"]) < 0.03
    # every forecaster with a predictive distribution is scored, the challenger too
    scored = table["log_score_purchases"].dropna().index
    assert set(scored) == {"bgnbd+gamma_gamma", "paretonbd+gamma_gamma", "gbm_challenger"}
    assert (table.loc[scored, "log_score_purchases"] < 0).all()
    calibration = pd.read_csv(cdnow_run / "calibration.csv")
    assert calibration.groupby("model")["customers"].sum().eq(2357).all()
    pit = pd.read_csv(cdnow_run / "pit.csv")
    assert pit.groupby("model")["share"].sum().round(12).eq(1.0).all()
    assert {"calibration.png", "pit.png"} <= {p.name for p in (cdnow_run / "plots").iterdir()}


def test_retention_run_projects_years_8_to_12_within_5_percent_fader_hardie_2007(tmp_path):
    code = main(["fit", str(REPO / "configs/retention.yaml"), "--out", str(tmp_path), "--quiet"])
    assert code == 0
    table = pd.read_csv(tmp_path / "evaluation.csv").set_index("model")
    for cohort in ("high_end", "regular"):
        sbg_mape = table.loc[f"sbg:{cohort}", "mape"]
        constant = table.loc[f"constant_retention:{cohort}", "mape"]
        assert sbg_mape < 5.0 and constant > 3 * sbg_mape
    # docs/guide/evaluation.md "Which forecast to trust": log scores of the yearly survivors
    scores = table["log_score_survivors"].round(1)
    assert (scores["sbg:high_end"], scores["sbg:regular"]) == (-3.8, -2.7)
    assert scores["constant_retention:high_end"] == -34.5
    assert scores["constant_retention:regular"] == -62.5
    value = pd.read_csv(tmp_path / "predictions.csv")
    assert set(value["cohort"]) == {"high_end", "regular"}
    assert (value["value"] > 0).all()


def test_full_cdnow_log_with_zero_dollar_and_refunds_gives_finite_clv(tmp_path, capsys):
    config = tmp_path / "master.yaml"
    config.write_text(
        "name: master\n"
        "data: {source: builtin:cdnow_master, kind: transactions, time_unit: W}\n"
        "split: {calibration_end: 1997-09-30, observation_end: 1998-06-30}\n"
        "models: {bgnbd: {}, gamma_gamma: {}}\n"
        "clv: {interval: null}\n"
        "evaluation: {challenger: false}\n"
    )
    assert main(["fit", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "spend fit excluded nonpositive: 1" in out
    table = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert len(table) == 23570
    numeric = table.select_dtypes("number")
    assert np.isfinite(numeric.to_numpy()).all()


@pytest.mark.parametrize(
    ("clv_block", "message"),
    [
        ("{horizon: -5}", "clv.horizon: must be positive"),
        ("{horizon: forever}", "clv.horizon: expected a number or lifetime, got 'forever'"),
        ("{horizon: lifetime, discount_rate: 0}", "lifetime needs a positive"),
        ("{purchase_model: paretonbd}", "clv.purchase_model: paretonbd is not configured"),
        ("{draws: 5}", "clv.draws: at least 20"),
        ("{margin: 2}", "clv.margin: must be within (0, 1]"),
    ],
)
def test_bad_clv_settings_are_one_line_config_errors(tmp_path, capsys, clv_block, message):
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: c\ndata: {source: builtin:cdnow_sample}\nmodels: {bgnbd: {}}\n"
        f"clv: {clv_block}\n"
    )
    assert main(["fit", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_evaluation_guide_which_forecast_to_trust_figures(cdnow_run):
    """Every figure of docs/guide/evaluation.md "Which forecast to trust", at the precision
    it is stated."""
    table = pd.read_csv(cdnow_run / "evaluation.csv").set_index("model")
    bg, pnbd, gbm = "bgnbd+gamma_gamma", "paretonbd+gamma_gamma", "gbm_challenger"
    stated = {
        bg: (-0.984, 0.510, 0.947, 0.960, -0.121, -0.156, 72.30, 0.43, 0.32),
        pnbd: (-0.987, 0.511, 0.951, 0.966, -0.115, -0.148, 72.18, 0.45, 0.73),
        gbm: (-1.034, 0.587, 0.966, 0.966, -0.074, -0.182, 75.48, 0.37, 0.73),
    }
    columns = [
        "log_score_purchases",
        "rps_purchases",
        "coverage90_purchases",
        "coverage90_purchases_expected",
        "total_purchases_error",
        "total_revenue_error",
        "rmse_revenue",
        "spearman_revenue",
        "auc_alive",
    ]
    for model, values in stated.items():
        for column, value in zip(columns, values, strict=True):
            decimals = len(f"{value}".split(".")[1])
            assert round(table.loc[model, column], decimals) == value, (model, column)
    seed = table.loc["seed_customer"]
    assert (round(seed["total_purchases_error"], 3), round(seed["total_revenue_error"], 3)) == (
        0.557,
        0.628,
    )
    assert round(seed["rmse_revenue"], 2) == 199.23 and round(seed["spearman_revenue"], 2) == 0.48
    assert round(table.loc["zero_forecast", "rmse_revenue"], 2) == 91.74
    assert round(table.loc["zero_forecast", "mae_revenue"], 2) == 30.11
    assert round(table.loc["seed_base", "total_purchases_error"], 3) == 0.556
    shares = table["top20_revenue_share"].round(3)
    assert (shares[pnbd], shares["seed_customer"], shares[bg]) == (0.672, 0.670, 0.663)
    assert table.loc["seed_customer", "spearman_revenue"] == table["spearman_revenue"].max()
    totals = table[["total_purchases_error", "total_revenue_error"]]
    forecasters = totals.loc[[bg, pnbd, gbm]].to_numpy()
    assert round(-forecasters.max(), 2) == 0.07 and round(-forecasters.min(), 2) == 0.18
    seeds = totals.loc[["seed_base", "seed_segment", "seed_customer"]].to_numpy()
    assert (round(seeds.min(), 2), round(seeds.max(), 2)) == (0.48, 0.67)
    gap = table.loc[bg, "coverage90_purchases_expected"] - table.loc[bg, "coverage90_purchases"]
    assert round(gap, 3) == 0.014
    summary = pd.read_csv(cdnow_run / "summary.csv")
    assert round((summary["frequency"] == 0).mean(), 2) == 0.60
    choice = json.loads((cdnow_run / "params.json").read_text())["selection"]
    assert (choice["chosen_purchase_model"], choice["runner_up"]) == ("bgnbd", "paretonbd")
    assert round(choice["margin"], 3) == 0.003
