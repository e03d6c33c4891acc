"""The clvmodels command line: exit codes, one-line errors, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from clvmodels.cli import main

REPO = Path(__file__).resolve().parents[1]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_summarize_cdnow_writes_summary_and_prints_seed_metrics(tmp_path, capsys):
    code = main(["summarize", str(REPO / "configs/cdnow.yaml"), "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    # Fader, Hardie & Lee (2005): 2,357 customers, 2,457 repeat purchases in calibration
    assert len(summary) == 2357
    assert summary["frequency"].sum() == 2457
    assert "average order value" in out
    assert "simple CLV" in out


def test_summarize_retention_prints_cohorts(tmp_path, capsys):
    code = main(["summarize", str(REPO / "configs/retention.yaml"), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "regular: 1,000 at start, 173 after 12 periods" in out
    assert (tmp_path / "summary.csv").exists()


def test_fit_retention_reproduces_fader_hardie_2007(tmp_path, capsys):
    code = main(["fit", str(REPO / "configs/retention.yaml"), "--out", str(tmp_path), "--quiet"])
    assert code == 0, capsys.readouterr().err
    params = json.loads((tmp_path / "params.json").read_text())["models"]
    # Fader & Hardie (2007), fitted on years 1-7: regular 0.704/1.182, high end 0.668/3.806
    assert params["sbg:regular"]["params"]["alpha"] == pytest.approx(0.704, abs=6e-4)
    assert params["sbg:regular"]["params"]["beta"] == pytest.approx(1.182, abs=6e-4)
    assert params["sbg:high_end"]["params"]["alpha"] == pytest.approx(0.668, abs=6e-4)
    assert params["sbg:high_end"]["params"]["beta"] == pytest.approx(3.806, abs=6e-4)
    entry = params["sbg:regular"]
    assert entry["backend"] == "mle"
    assert entry["n_customers"] == 1000
    lo, hi = entry["interval"]["alpha"]
    assert 0 < lo < entry["params"]["alpha"] < hi


def test_validate_ok_and_unknown_key(tmp_path, capsys):
    assert main(["validate", str(REPO / "configs/cdnow.yaml")]) == 0
    bad = _write(tmp_path / "bad.yaml", "name: x\ndata: {source: builtin:cdnow_sample, tim: W}\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: ") and "data.tim: unknown key" in err[0]


def test_validate_unknown_builtin(tmp_path, capsys):
    bad = _write(tmp_path / "b.yaml", "name: x\ndata: {source: builtin:nope}\n")
    assert main(["validate", str(bad)]) == 2
    assert "unknown built-in data set 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("cust,date,amount\n1,1997-01-01,3\n", "customer_id"),
        ("customer_id,date,amount\n1,not-a-date,3\n", "date"),
        ("customer_id,date,amount\n1,1997-01-01,abc\n", "amount"),
        ("customer_id,date,amount\n,1997-01-01,3\n", "customer_id"),
        ("", "empty"),
    ],
)
def test_bad_transactions_give_one_line_error_and_no_output(tmp_path, capsys, csv, message):
    data = _write(tmp_path / "tx.csv", csv)
    config = _write(tmp_path / "c.yaml", f"name: t\ndata: {{source: {data}}}\n")
    out_dir = tmp_path / "out"
    assert main(["summarize", str(config), "--out", str(out_dir), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ") and message in err[0]
    assert not (out_dir / "summary.csv").exists()


def test_fit_without_models_is_a_config_error(tmp_path, capsys):
    config = _write(tmp_path / "c.yaml", "name: t\ndata: {source: builtin:cdnow_sample}\n")
    assert main(["fit", str(config), "--out", str(tmp_path)]) == 2
    assert "models: no model configured" in capsys.readouterr().err


def test_model_on_wrong_data_kind_is_a_config_error(tmp_path, capsys):
    config = _write(
        tmp_path / "c.yaml",
        "name: t\ndata: {source: builtin:retention_fh2007, kind: survival, time_unit: Y}\n"
        "models: {bgnbd: {}}\n",
    )
    assert main(["fit", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert "models.bgnbd: needs transaction or summary data" in capsys.readouterr().err


def test_fit_donations_reproduces_fader_hardie_shang_2010(tmp_path, capsys):
    code = main(["fit", str(REPO / "configs/donations.yaml"), "--out", str(tmp_path), "--quiet"])
    assert code == 0, capsys.readouterr().err
    entry = json.loads((tmp_path / "params.json").read_text())["models"]["bgbb"]
    # Fader, Hardie & Shang (2010), donations data: 1.204, 0.750, 0.657, 2.783; LL -33,225.6
    published = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    for name, value in published.items():
        assert entry["params"][name] == pytest.approx(value, abs=6e-4)
    assert entry["log_likelihood"] == pytest.approx(-33225.6, abs=0.06)
    assert entry["n_customers"] == 11104


def test_subscriptions_csv_summarize_and_fit(tmp_path, capsys):
    rows = ["customer_id,start,end"]
    # 60 customers who started in 2020: 20 lost within the first year, 8 in the second, 5
    # in the third; 27 active (churn falls with tenure, so the sBG's heterogeneity is
    # pinned down: with 6 customers it is not, and the fit says so)
    ends = ["2020-06-01"] * 20 + ["2021-03-01"] * 8 + ["2022-02-01"] * 5 + [""] * 27
    for i, end in enumerate(ends):
        rows.append(f"{i},2020-01-01,{end}")
    data = _write(tmp_path / "subs.csv", "\n".join(rows) + "\n")
    config = _write(
        tmp_path / "c.yaml",
        f"name: s\ndata: {{source: {data}, kind: subscriptions, time_unit: Y}}\n"
        "split: {observation_end: 2023-06-30}\nmodels: {sbg: {}}\n",
    )
    assert main(["summarize", str(config), "--out", str(tmp_path / "sum"), "--quiet"]) == 0
    table = pd.read_csv(tmp_path / "sum" / "summary.csv")
    assert table["alive"].tolist() == [60, 40, 32, 27]  # hand count per completed year
    assert main(["fit", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert "sbg:2020" in json.loads((tmp_path / "run" / "params.json").read_text())["models"]


def test_output_piped_into_a_closed_reader_is_not_an_internal_error():
    """`clvmodels validate c.yaml | head -0` must not report an internal error."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before we write: every write fails (EPIPE)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "clvmodels.cli", "validate", str(REPO / "configs/cdnow.yaml")],
            stdout=write_end, stderr=subprocess.PIPE, text=True, check=False,
        )
    finally:
        os.close(write_end)
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.stderr
    assert result.returncode == 141
