"""Issue 18 from the config to the report: ``models.<key>.penalty`` and
``models.<key>.constraints`` reach the fits of ``clvmodels fit``; a fit with no finite
maximum stops the run with one line naming the covariates and suggesting the keys; and
``covariate_effects.csv`` and ``report.html`` state the penalty and the shared
coefficients.

Data: a small summary (weeks) simulated from the BG/NBD (Fader, Hardie & Lee 2005) in
which the customers with ``gender = 1`` never drop out and buy last at the end of their
window — the BG/NBD's likelihood then rises without bound as that group's mean dropout
probability goes to 0 (``tests/test_no_maximum.py`` derives it) — and the Pareto/NBD,
whose purchase and dropout processes may share one coefficient.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from clvmodels.cli import main
from clvmodels.models import bgnbd


def _write_store(folder) -> tuple[str, str]:
    rng = np.random.default_rng(18)
    n = 600
    gender = rng.integers(0, 2, n)
    channel = rng.choice(["app", "web"], n)
    params = {
        "r": np.full(n, 1.2),
        "alpha": 8.0 * np.exp(-0.3 * (channel == "web")),
        "a": np.full(n, 0.8),
        "b": np.where(gender == 1, 1e12, 3.0),
    }
    T = rng.integers(26, 53, n).astype(float)
    sim = bgnbd.simulate_customers(n, params, T, rng, dropout_at_start=False)
    steady = (gender == 1) & (sim["frequency"] > 0)
    ids = [f"K{i:04d}" for i in range(n)]
    summary = pd.DataFrame(
        {
            "customer_id": ids,
            "frequency": sim["frequency"],
            "recency": np.where(steady, sim["T"], sim["recency"]),
            "T": sim["T"],
        }
    )
    customers = pd.DataFrame({"customer_id": ids, "gender": gender, "channel": channel})
    summary.to_csv(folder / "summary.csv", index=False)
    customers.to_csv(folder / "customers.csv", index=False)
    return str(folder / "summary.csv"), str(folder / "customers.csv")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return _write_store(tmp_path_factory.mktemp("store"))


def _config(folder, store, models: dict) -> str:
    summary, customers = store
    raw = {
        "name": "effects",
        "data": {
            "source": summary,
            "kind": "summary",
            "time_unit": "W",
            "covariates": {"source": customers, "columns": ["gender", "channel"]},
        },
        "models": models,
        "clv": {"draws": 30},
        "evaluation": {"challenger": False},
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


BOTH = {"purchase": ["gender", "channel"], "dropout": ["gender", "channel"]}


def test_a_fit_without_a_finite_maximum_stops_the_run_with_the_keys_to_set(
    tmp_path, store, capsys
):
    config = _config(tmp_path, store, {"bgnbd": {"covariates": BOTH}})
    code = main(["fit", config, "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1
    assert "bgnbd: the likelihood has no finite maximum" in err
    assert "a:gender" in err and "models.bgnbd.penalty: {l2: auto}" in err
    assert not (tmp_path / "out" / "report.html").exists()


def test_the_penalty_and_a_constraint_fit_the_same_data_and_the_report_says_so(
    tmp_path, store, capsys
):
    models = {
        "bgnbd": {"covariates": BOTH, "penalty": {"l2": "auto"}},
        "paretonbd": {"covariates": BOTH, "constraints": [["alpha", "beta"]]},
    }
    config = _config(tmp_path, store, models)
    out = tmp_path / "out"
    assert main(["fit", config, "--out", str(out), "--quiet"]) == 0
    effects = pd.read_csv(out / "covariate_effects.csv")
    penalised = effects[effects["model"] == "bgnbd"]
    assert penalised["penalty"].gt(0).all()
    assert set(penalised["penalty_chosen_by"]) == {"cross-validation"}
    assert np.isfinite(penalised[["estimate", "std_err", "lower", "upper"]]).all().all()
    tied = effects[effects["model"] == "paretonbd"].set_index("coefficient")
    assert tied.loc["beta:gender", "shared_with"] == "alpha:gender"
    assert tied.loc["beta:gender", "estimate"] == tied.loc["alpha:gender", "estimate"]
    report = (out / "report.html").read_text()
    assert "chosen by 5-fold cross-validation" in report
    assert "shared_with" in report
