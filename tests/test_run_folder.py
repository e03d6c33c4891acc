"""The run folder of ``clvmodels fit``: every file, atomic replacement, a killed run,
``clvmodels predict`` and ``clvmodels report``; the folder of ``clvmodels summarize`` and
the lock every command holds on its output."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from runs import cdnow_config

from clvmodels.cli import main
from clvmodels.errors import ConfigError
from clvmodels.locks import output_lock
from clvmodels.run import write
from clvmodels.run.folder import RunFolder, check_run_folder

REPO = Path(__file__).resolve().parents[1]
RUN_FILES = {
    "params.json",
    "predictions.csv",
    "summary.csv",
    "evaluation.csv",
    "conditional_expectations.csv",
    "tracking.csv",
    "calibration.csv",
    "pit.csv",
    "config.yaml",
    "manifest.json",
    "report.html",
    "models/bgnbd.json",
    "models/paretonbd.json",
    "models/gamma_gamma.json",
    "plots/tracking.png",
    "plots/calibration.png",
    "plots/pit.png",
    "plots/conditional_expectations.png",
    "plots/p_alive_heatmap.png",
    "plots/expected_purchases_heatmap.png",
    "plots/clv_distribution.png",
    "plots/clv_by_segment.png",
}


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    assert main(["fit", str(cdnow_config(tmp)), "--out", str(tmp / "cdnow"), "--quiet"]) == 0
    return tmp / "cdnow"


def test_run_folder_holds_every_documented_file(run_dir):
    files = {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()}
    assert RUN_FILES <= files
    assert not [p for p in run_dir.parent.iterdir() if p.name.startswith(".cdnow.")]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["input"]["source"] == "builtin:cdnow_sample"
    assert len(manifest["input"]["fingerprint"]) == 16
    assert manifest["data"]["counts"]["rows_merged_same_day"] == 223
    assert {"load and summarize data", "predict every customer", "plots"} <= set(
        manifest["steps_seconds"]
    )
    page = (run_dir / "report.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert page.count("data:image/png;base64,") == 8


def test_report_command_rebuilds_the_same_page(run_dir, capsys):
    original = (run_dir / "report.html").read_text()
    (run_dir / "report.html").unlink()
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").read_text() == original
    assert main(["report", str(run_dir / "nope")]) == 2
    assert "no such run folder" in capsys.readouterr().err


def test_predict_with_saved_models_equals_the_run_predictions(run_dir, tmp_path):
    summary = pd.read_csv(run_dir / "summary.csv")
    summary[["customer_id", "frequency", "recency", "T", "monetary_value"]].to_csv(
        tmp_path / "customers.csv", index=False
    )
    code = main(
        [
            "predict",
            str(run_dir / "models/bgnbd.json"),
            str(tmp_path / "customers.csv"),
            "--spend-model",
            str(run_dir / "models/gamma_gamma.json"),
            "--horizon",
            "52",
            "--out",
            str(tmp_path / "scores.parquet"),
        ]
    )
    assert code == 0
    scored = pd.read_parquet(tmp_path / "scores.parquet").set_index("customer_id")
    run = pd.read_csv(run_dir / "predictions.csv").set_index("customer_id")
    joined = run[["clv"]].join(scored[["clv"]].add_suffix("_predict"))
    assert len(joined) == 2357
    assert (joined["clv"] - joined["clv_predict"]).abs().max() < 1e-9 * joined["clv"].max()


def test_predict_replaces_an_existing_file_only_with_overwrite(run_dir, tmp_path, capsys):
    (tmp_path / "c.csv").write_text("frequency,recency,T\n1,2,3\n")
    scores = tmp_path / "scores.csv"
    argv = ["predict", str(run_dir / "models/bgnbd.json"), str(tmp_path / "c.csv")]
    assert main([*argv, "--out", str(scores)]) == 0
    scores.write_text("edited by hand")
    assert main([*argv, "--out", str(scores)]) == 2
    assert "exists; predict replaces an existing file only with --overwrite" in (
        capsys.readouterr().err
    )
    assert scores.read_text() == "edited by hand"
    assert main([*argv, "--out", str(scores), "--overwrite"]) == 0
    assert len(pd.read_csv(scores)) == 1


@pytest.mark.parametrize(
    ("model", "options", "message"),
    [
        ("bgnbd", ["--interval", "0.9", "--draws", "5"], "--draws: at least 20 draws"),
        ("bgnbd", ["--threads", "0"], "--threads: must be at least 1"),
        ("gamma_gamma", [], "does not predict purchases"),  # a spend model as purchase model
    ],
)
def test_predict_rejects_bad_input_in_one_line(run_dir, tmp_path, capsys, model, options, message):
    (tmp_path / "c.csv").write_text("frequency,recency,T\n1,2,3\n")
    code = main(
        [
            "predict",
            str(run_dir / f"models/{model}.json"),
            str(tmp_path / "c.csv"),
            "--out",
            str(tmp_path / "o.csv"),
            *options,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o.csv").exists()


def test_a_failing_run_leaves_the_previous_folder_intact(run_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "cdnow"
    assert main(["fit", str(cdnow_config(tmp_path)), "--out", str(out), "--quiet"]) == 0
    before = _digest(out)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(write, "draw_run", broken)
    assert main(["fit", str(cdnow_config(tmp_path)), "--out", str(out), "--quiet"]) == 1
    assert "disk full" in capsys.readouterr().err
    assert _digest(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cdnow.")]


def test_a_killed_run_leaves_the_previous_folder_intact(tmp_path, cdnow_run):
    out = tmp_path / "cdnow"
    config = cdnow_config(tmp_path, draws=200)
    shutil.copytree(cdnow_run, out)  # a previous run's folder
    before = _digest(out)
    proc = subprocess.Popen(
        [sys.executable, "-m", "clvmodels.cli", "fit", str(config), "--out", str(out)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # kill it while it predicts, after the fits
        if "predict every customer ..." in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert _digest(out) == before
    # the next run clears the leftover temporary folder
    folder = RunFolder(out)
    folder.abort()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cdnow.")]


def test_run_folder_recovers_a_previous_run_moved_aside_by_a_crash(tmp_path):
    out = tmp_path / "run"
    aside = tmp_path / ".run.old-1-2"
    aside.mkdir()
    (aside / "params.json").write_text("{}")
    RunFolder(out).abort()
    assert (out / "params.json").read_text() == "{}"


def test_parquet_output_and_refit_on_the_whole_window(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: c\n"
        "data: {source: builtin:cdnow_sample, kind: transactions, time_unit: W}\n"
        "split: {calibration_end: 1997-09-30, observation_end: 1998-06-30, refit: true}\n"
        "models: {bgnbd: {}, gamma_gamma: {}}\n"
        "clv: {interval: null}\n"
        "output: {formats: [csv, parquet]}\n"
    )
    assert main(["fit", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    run = tmp_path / "run"
    csv = pd.read_csv(run / "predictions.csv")
    parquet = pd.read_parquet(run / "predictions.parquet")
    pd.testing.assert_series_equal(csv["clv"], parquet["clv"], check_exact=False, rtol=1e-12)
    params = json.loads((run / "params.json").read_text())
    assert {"bgnbd", "bgnbd@whole_window", "gamma_gamma@whole_window"} <= set(params["models"])
    # predictions come from the whole-window fit: T runs to observation_end (>= 65 weeks)
    assert csv["T"].min() > 65 and "frequency_holdout" not in csv
    assert (run / "evaluation.csv").exists()


TX = "customer_id,date,amount\n1,2020-01-01,10\n1,2020-02-01,12\n2,2020-01-05,8\n"
BUSY = "another clvmodels command is writing"


def _small_config(folder: Path) -> Path:
    """A config on three transactions (summarised in well under a second)."""
    (folder / "tx.csv").write_text(TX)
    config = folder / "c.yaml"
    config.write_text("name: small\ndata: {source: tx.csv}\nmodels: {bgnbd: {}}\n")
    return config


def test_summarize_writes_a_run_folder_that_summarize_and_fit_may_replace(tmp_path):
    config, out = _small_config(tmp_path), tmp_path / "out"
    assert main(["summarize", str(config), "--out", str(out), "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "summarize"
    assert manifest["files"] == ["manifest.json", "summary.csv"]
    assert manifest["input"]["source"].endswith("tx.csv")
    assert main(["summarize", str(config), "--out", str(out), "--quiet"]) == 0
    check_run_folder(out)  # fit may replace it: no error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "out", "tx.csv"]


def _symlinked(tmp_path: Path) -> tuple[Path, Path]:
    """``real/`` and ``link``, a symbolic link to it."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    return tmp_path / "real", tmp_path / "link"


def test_a_folder_reached_through_a_symlinked_parent_has_the_same_lock(tmp_path):
    real, link = _symlinked(tmp_path)
    with output_lock(real / "out"):
        with pytest.raises(ConfigError, match=BUSY), output_lock(link / "out"):
            pass
        with pytest.raises(ConfigError, match=BUSY), output_lock(tmp_path / "link/../real/out"):
            pass


def test_fit_summarize_and_predict_writing_one_folder_share_its_lock(tmp_path, capsys):
    config = _small_config(tmp_path)
    real, link = _symlinked(tmp_path)
    (tmp_path / "model.json").write_text("{}")
    (tmp_path / "d.csv").write_text("frequency,recency,T\n1,2,3\n")
    predict = ["predict", str(tmp_path / "model.json"), str(tmp_path / "d.csv"), "--out"]
    with output_lock(real / "out"):  # as a running fit or summarize holds it
        for argv in (
            ["fit", str(config), "--out", str(link / "out"), "--quiet"],
            ["summarize", str(config), "--out", str(link / "out"), "--quiet"],
            [*predict, str(link / "out/scores.csv")],
        ):
            assert main(argv) == 2, argv
            err = capsys.readouterr().err
            assert BUSY in err and len(err.splitlines()) == 1, argv
    assert list(real.iterdir()) == []
    with output_lock(real / "out" / "scores.csv"):  # as a running predict holds it
        assert main(["summarize", str(config), "--out", str(link / "out"), "--quiet"]) == 2
        assert BUSY in capsys.readouterr().err


def test_commands_writing_different_files_of_one_folder_run_together(tmp_path):
    with output_lock(tmp_path / "scores/a.csv"), output_lock(tmp_path / "scores/b.csv"):
        pass


def test_a_temporary_is_removed_only_when_no_other_writer_holds_the_lock(tmp_path):
    real, link = _symlinked(tmp_path)
    with output_lock(real / "out"):
        writing = RunFolder(real / "out")  # the temporary folder of a running command
        other = threading.Thread(target=lambda: RunFolder(link / "out").abort())
        other.start()
        other.join()
        assert writing.tmp.is_dir()
        writing.abort()
    leftover = RunFolder(real / "out").tmp  # left by a command that died
    RunFolder(link / "out").abort()
    assert not leftover.exists() and list(real.iterdir()) == []
