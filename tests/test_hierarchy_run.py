"""Hierarchical segments from the config to the report and back through ``clvmodels
predict`` (issue 18): ``models.<key>.hierarchy: {group: <column>}`` fits one pooled
model, writes ``group_effects.csv`` and ``plots/group_effects.png``, the report's
segment section, and per-customer predictions with each customer's group; a saved
hierarchical model scores new customers given their group column.

Expected values: the plain BG/NBD's P(alive) (Fader, Hardie & Lee 2005, eq. 10)
evaluated at the group's fitted parameters; the sBG of Fader & Hardie (2007) with the
cohorts of their Table 1 as the groups.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import yaml
from hierarchy_data import bgnbd_customers

from clvmodels.backends.bayes import ConvergenceWarning
from clvmodels.cli import main
from clvmodels.models import bgnbd
from clvmodels.models.groups import group_name
from clvmodels.results import FitResult

SHORT = {"chains": 2, "draws": 200, "tune": 200, "seed": 4, "ess_floor": 20}


def _fit(argv: list[str]) -> int:
    """``clvmodels fit`` with short chains (their convergence warnings expected)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return main(argv)
LEVELS = ("01", "02", "10")  # look like numbers: they must stay these strings


def _store(folder) -> tuple[str, str]:
    rng = np.random.default_rng(18)
    frames = []
    for level, alpha, n in zip(LEVELS, (2.0, 4.0, 8.0), (300, 150, 40), strict=True):
        T = rng.integers(20, 40, n).astype(float)
        part = bgnbd_customers(n, 0.7, alpha, 0.8, 3.0, T, rng)
        frames.append(pd.DataFrame({**part, "country": level}))
    frame = pd.concat(frames, ignore_index=True)
    frame["recency"] = np.round(frame["recency"], 2)
    frame.insert(0, "customer_id", [f"{i:05d}" for i in range(len(frame))])
    frame.drop(columns="country").to_csv(folder / "summary.csv", index=False)
    frame[["customer_id", "country"]].to_csv(folder / "customers.csv", index=False)
    return str(folder / "summary.csv"), str(folder / "customers.csv")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hierarchy")
    summary, customers = _store(folder)
    raw = {
        "name": "countries",
        "data": {
            "source": summary,
            "kind": "summary",
            "time_unit": "W",
            "covariates": {"source": customers, "columns": ["country"]},
        },
        "models": {
            "bgnbd": {
                "backend": "bayes",
                "hierarchy": {"group": "country", "parameters": ["alpha"]},
                **SHORT,
            }
        },
        "clv": {"interval": None},  # point predictions at the posterior means
        "evaluation": {"challenger": False},
    }
    config = folder / "run.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = folder / "out"
    assert _fit(["fit", str(config), "--out", str(out), "--quiet"]) == 0
    return folder, out


def test_the_run_writes_the_group_table_plot_and_report_section(run):
    _, out = run
    groups = pd.read_csv(out / "group_effects.csv", dtype={"group": str})
    rows = groups[groups["kind"] == "group"]
    assert sorted(rows["group"]) == sorted(LEVELS)
    assert set(rows["parameter"]) == {"alpha"}
    assert rows.set_index("group")["customers"].to_dict() == {"01": 300, "02": 150, "10": 40}
    assert (rows["lower"] < rows["estimate"]).all() and (rows["estimate"] < rows["upper"]).all()
    assert (out / "plots" / "group_effects.png").stat().st_size > 10_000
    report = (out / "report.html").read_text()
    assert "Segments: what each group" in report and "alpha[10]" not in report.split("<h2>")[0]


def test_predictions_use_each_customers_group(run):
    _, out = run
    saved = FitResult.load(out / "models" / "bgnbd.nc")
    assert saved.hierarchy["levels"] == list(LEVELS)
    merged = pd.read_csv(out / "predictions.csv", dtype={"customer_id": str, "country": str})
    assert sorted(merged["country"].unique()) == sorted(LEVELS)
    for level in LEVELS:
        mine = merged[merged["country"] == level]
        params = {k: saved.params[k] for k in ("r", "a", "b")}
        params["alpha"] = saved.params[group_name("alpha", level)]
        expected = bgnbd.probability_alive(
            mine["frequency"].to_numpy(float),
            mine["recency"].to_numpy(float),
            mine["T"].to_numpy(float),
            **params,
        )
        np.testing.assert_allclose(mine["p_alive"].to_numpy(float), expected, rtol=1e-9)


def test_predict_scores_new_customers_with_their_group_column(run, capsys):
    folder, out = run
    model = out / "models" / "bgnbd.nc"
    scores = folder / "scores.csv"
    args = ["predict", str(model), str(folder / "summary.csv"), "--out", str(scores)]
    assert main([*args, "--covariates", str(folder / "customers.csv")]) == 0
    table = pd.read_csv(scores, dtype={"customer_id": str})
    assert len(table) == 490 and table["customer_id"].str.len().eq(5).all()
    capsys.readouterr()
    assert main([*args[:-1], str(folder / "without_groups.csv")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no column 'country', a covariate (or the hierarchy's group)" in err


def test_an_sbg_hierarchy_pools_the_cohorts_in_one_fit(tmp_path):
    raw = {
        "name": "retention",
        "data": {"source": "builtin:retention_fh2007", "kind": "survival"},
        "split": {"calibration_periods": 7},
        "models": {"sbg": {"backend": "bayes", "hierarchy": {"group": "cohort"}, **SHORT}},
    }
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    assert _fit(["fit", str(config), "--out", str(out), "--quiet"]) == 0
    groups = pd.read_csv(out / "group_effects.csv")
    assert set(groups.loc[groups["kind"] == "group", "group"]) == {"regular", "high_end"}
    assert (out / "models" / "sbg.nc").exists()
