"""Customers whose first purchase is on the last day of the calibration window (T = 0):
every real log has them.  A run counts them, leaves them out of the fits (their
likelihood term is 1 whatever the parameters) and values them as new customers: P(alive)
and expected purchases of a customer just acquired (Fader, Hardie & Lee 2005, eq. 9 for
the BG/NBD's E[X(t)])."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import clvmodels
from clvmodels.cli import main
from clvmodels.data import load_builtin
from clvmodels.run.fit import NEW_AT_END


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("new_customers")
    log = load_builtin("cdnow_sample")
    new = pd.DataFrame(
        {
            "customer_id": [90001, 90001, 90002],
            "date": pd.to_datetime(["1997-09-30", "1997-11-02", "1997-09-30"]),
            "amount": [20.0, 15.0, 30.0],
        }
    )
    pd.concat([log, new], ignore_index=True).to_csv(folder / "log.csv", index=False)
    config = folder / "c.yaml"
    config.write_text(
        "name: new\ndata: {source: log.csv, time_unit: W}\n"
        "split: {calibration_end: 1997-09-30, observation_end: 1998-06-30}\n"
        "models: {bgnbd: {}, gamma_gamma: {}}\nclv: {horizon: 52, interval: null}\n"
    )
    assert main(["fit", str(config), "--out", str(folder / "run"), "--quiet"]) == 0
    return folder / "run"


def test_customers_new_on_the_last_day_are_counted_and_left_out_of_the_fit(run):
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["data"]["counts"][NEW_AT_END] == 2
    assert manifest["data"]["counts"]["customers"] == 2359
    params = json.loads((run / "params.json").read_text())["models"]["bgnbd"]
    assert params["n_customers"] == 2357  # the CDNOW fit of Fader, Hardie & Lee (2005)
    assert params["params"]["r"] == pytest.approx(0.243, abs=5e-4)


def test_customers_new_on_the_last_day_are_valued_as_new_customers(run):
    predictions = pd.read_csv(run / "predictions.csv").set_index("customer_id")
    model = clvmodels.load_model(str(run / "models" / "bgnbd.json"))
    for customer in (90001, 90002):
        row = predictions.loc[customer]
        assert row["T"] == 0 and row["frequency"] == 0
        assert row["p_alive"] == 1.0
        assert row["expected_purchases"] == pytest.approx(float(model.expected_purchases(52.0)))
        assert row["clv"] > 0
    assert predictions.loc[90001, "frequency_holdout"] == 1  # the holdout still scores them
