"""The regularity models in configured runs (issue 16): the built-in regular store's run
recovers its simulation truth (clvmodels.data.builtin.REGULAR_STORE_TRUTH), reports the
regularity and values customers with the CNBD-k model that wins the holdout; the
model library side by side on CDNOW (configs/cdnow_models.yaml); clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from clvmodels.cli import main
from clvmodels.data.builtin import REGULAR_STORE_TRUTH

REPO = Path(__file__).resolve().parents[1]


def config_copy(name: str, folder: Path, **replace: str) -> Path:
    """``configs/<name>`` with text replaced (fewer draws, fewer models), in ``folder``."""
    text = (REPO / "configs" / name).read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def regular_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("regular")
    fewer = {  # fewer draws and fits than the config: the same questions, a quicker run
        "  margin: 0.3": "  margin: 0.3\n  draws: 20",
        "  paretonbd: {}\n": "",
        "  bgcnbd: {}": "  bgcnbd: {max_k: 4}",
        "  mbgcnbd: {}": "  mbgcnbd: {k: 3}",
    }
    config = config_copy("regular_store.yaml", folder, **fewer)
    out = folder / "run"
    assert main(["fit", str(config), "--out", str(out), "--quiet"]) == 0
    return out


def test_regular_store_run_recovers_the_simulated_erlang_order(regular_run):
    params = json.loads((regular_run / "params.json").read_text())
    truth = REGULAR_STORE_TRUTH["bgcnbd"]
    fit = params["models"]["bgcnbd"]
    assert fit["params"]["k"] == truth["k"]
    assert set(fit["diagnostics"]["k_profile"]) == {"1", "2", "3", "4"}
    for name in ("r", "alpha", "a", "b"):
        low, high = fit["interval"][name]
        assert low <= truth[name] <= high, name
    assert params["chosen_purchase_model"] in ("bgcnbd", "mbgcnbd")


def test_regular_store_report_says_the_timings_are_regular(regular_run):
    manifest = json.loads((regular_run / "manifest.json").read_text())
    regularity = manifest["data"]["regularity"]
    assert regularity["regular"] is True and regularity["k_interval"][0] > 1.5
    report = (regular_run / "report.html").read_text()
    assert "Purchase timing. Wheat-Morrison regularity k = " in report
    assert "regular purchase timing; consider the BG/CNBD-k" in report
    assert "bgcnbd: k chosen by profile likelihood (k = 1: " in report
    assert (regular_run / "plots" / "regularity.png").stat().st_size > 10_000


def test_regular_store_evaluation_rows_and_predictions_carry_litt(regular_run):
    evaluation = pd.read_csv(regular_run / "evaluation.csv")
    rows = set(evaluation["model"])
    assert {"bgcnbd+gamma_gamma", "mbgcnbd+gamma_gamma", "bgnbd+gamma_gamma"} <= rows
    scores = evaluation.set_index("model")["log_score_purchases"]
    assert scores["bgcnbd+gamma_gamma"] > scores["bgnbd+gamma_gamma"]
    predictions = pd.read_csv(regular_run / "predictions.csv", dtype={"customer_id": str})
    assert "litt" in predictions.columns and (predictions["litt"] >= 0).mean() > 0.5


def test_pareto_ggg_with_a_summary_without_litt_is_a_one_line_error(tmp_path, capsys):
    pd.DataFrame(
        {"customer_id": ["a", "b"], "frequency": [1, 0], "recency": [2.0, 0.0], "T": [5.0, 4.0]}
    ).to_csv(tmp_path / "s.csv", index=False)
    (tmp_path / "c.yaml").write_text(
        "name: t\ndata: {source: s.csv, kind: summary}\nmodels:\n  paretoggg: {draws: 20}\n"
        f"output: {{dir: {tmp_path / 'out'}}}\n"
    )
    code = main(["fit", str(tmp_path / "c.yaml"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith(
        "error: models.paretoggg: the Pareto/GGG needs the summary column 'litt' (the sum "
        "of the log gaps between purchases), which "
    )
    assert err[-1].endswith(
        "s.csv lacks; give the transaction log (data.kind: transactions) or add litt to the "
        "summary"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::clvmodels.backends.bayes.ConvergenceWarning")
def test_cdnow_evaluation_has_a_row_for_every_purchase_model(tmp_path):
    """Issue 16 acceptance: on CDNOW the new models' rows appear in evaluation.csv next
    to BG/NBD and Pareto/NBD (configs/cdnow_models.yaml)."""
    fewer = {"  margin: 1.0": "  margin: 1.0\n  draws: 20"}
    config = config_copy("cdnow_models.yaml", tmp_path, **fewer)
    out = tmp_path / "run"
    assert main(["fit", str(config), "--out", str(out), "--quiet"]) == 0
    rows = set(pd.read_csv(out / "evaluation.csv")["model"])
    keys = ("bgnbd", "paretonbd", "mbgnbd", "nbd", "ggompertz", "bgcnbd", "mbgcnbd", "paretoggg")
    for key in keys:
        assert f"{key}+gamma_gamma" in rows, key
    params = json.loads((out / "params.json").read_text())["models"]
    assert params["ggompertz"]["log_likelihood"] == pytest.approx(-9594.976, abs=1e-3)
    assert params["bgcnbd"]["params"]["k"] == 1.0


def test_predict_scores_a_saved_erlang_model_with_its_k(regular_run, tmp_path):
    out = tmp_path / "scores.csv"
    code = main(
        [
            "predict", str(regular_run / "models" / "bgcnbd.json"),
            str(regular_run / "summary.csv"),
            "--spend-model", str(regular_run / "models" / "gamma_gamma.json"),
            "--out", str(out), "--draws", "20", "--horizon", "52",
        ]
    )
    assert code == 0
    scores = pd.read_csv(out, dtype={"customer_id": str})
    predictions = pd.read_csv(regular_run / "predictions.csv", dtype={"customer_id": str})
    merged = scores.merge(predictions, on="customer_id", suffixes=("", "_run"))
    assert len(merged) == len(predictions)
    assert (merged["p_alive"] - merged["p_alive_run"]).abs().max() < 1e-9
    assert (merged["dert"] - merged["dert_run"]).abs().max() < 1e-9


@pytest.mark.filterwarnings("ignore::clvmodels.backends.bayes.ConvergenceWarning")
def test_run_valued_by_pareto_ggg_writes_predictions_without_history_heatmaps(
    regular_run, tmp_path
):
    """A run whose customers are valued by the Pareto/GGG (its predictions read ``litt``
    too, so there is no frequency × recency heat map of them)."""
    summary = pd.read_csv(regular_run / "summary.csv").head(400)
    summary.to_csv(tmp_path / "s.csv", index=False)
    (tmp_path / "c.yaml").write_text(
        "name: g\ndata: {source: s.csv, kind: summary}\n"
        "models:\n  paretoggg: {draws: 40, tune: 40, chains: 2}\n"
        f"clv: {{draws: 20}}\noutput: {{dir: {tmp_path / 'out'}}}\n"
    )
    assert main(["fit", str(tmp_path / "c.yaml"), "--quiet"]) == 0
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert len(predictions) == 400 and predictions["p_alive"].between(0, 1).all()
    assert (tmp_path / "out" / "models" / "paretoggg.nc").exists()
    assert not (tmp_path / "out" / "plots" / "p_alive_heatmap.png").exists()


def test_only_the_runs_own_data_is_read_again_for_its_regularity(monkeypatch):
    from clvmodels import data as clvdata
    from clvmodels.config import load_config
    from clvmodels.run.prepare import prepare_data
    from clvmodels.run.settings import resolve

    settings = resolve(load_config(REPO / "configs" / "regular_store.yaml"))
    assert prepare_data(settings.data, regularity=True).regularity is not None

    def refuse(*args, **kwargs):
        raise AssertionError("a window, an origin or a bare summary file reads the log again")

    monkeypatch.setattr(clvdata, "estimate_regularity", refuse)
    assert prepare_data(settings.data).regularity is None
