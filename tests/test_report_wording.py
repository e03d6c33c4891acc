"""report.html says what is true of the run it describes (issue 19): weighted counts for a
compressed summary (the donations data of Fader, Hardie & Shang 2010: 11,104 donors in 22
distinct histories), the text of a survival run by cohort (Fader & Hardie 2007's two
cohorts), numbers as a marketer reads them, and covariate effects on the quantities
themselves (Fader & Hardie 2007, note 019 link).  No browser: the run folders are written
by hand and the page rendered to text."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.data import load_builtin
from clvmodels.estimators.effects import effects_table
from clvmodels.models import bgnbd
from clvmodels.report.formats import cell, label
from clvmodels.report.html import render
from clvmodels.results import FitResult

SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


def _write(folder, manifest, params, tables):
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "params.json").write_text(json.dumps(params))
    for name, frame in tables.items():
        frame.to_csv(folder / name, index=False)
    return folder


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def _fit(model: str, params: dict[str, float]) -> dict:
    return {"model": model, "backend": "mle", "params": params, "log_likelihood": -1.0}


@pytest.fixture(scope="module")
def donations(tmp_path_factory):
    """A BG/BB run on the donations summary: 22 rows standing for 11,104 donors."""
    summary = load_builtin("donations_fhs2010").reset_index(drop=True)
    summary.insert(0, "customer_id", summary.index.astype(str))
    predictions = summary.drop(columns="count").assign(
        p_alive=0.5, expected_purchases=summary["frequency"] / 6, expected_spend=1.0
    )
    predictions["clv"] = predictions["expected_purchases"]
    predictions = predictions.sort_values("clv", ascending=False)
    manifest = {
        "name": "donations",
        "input": {"source": "builtin:donations_fhs2010", "kind": "summary", "fingerprint": "x"},
        "data": {"time_unit": "Y", "counts": {"rows_in": 22}},
        "models": {"bgbb": {"backend": "mle"}},
        "seed_metrics": {},
        "selection": {"chosen_purchase_model": "bgbb", "how": "first"},
    }
    params = {"models": {"bgbb": _fit("bgbb", {"alpha": 1.204, "beta": 0.750})}}
    tables = {"summary.csv": summary, "predictions.csv": predictions}
    return _text(render(_write(tmp_path_factory.mktemp("d") / "run", manifest, params, tables)))


def test_donations_counts_every_donor_not_the_distinct_histories(donations):
    assert "All 11,104 customers (22 distinct histories)" in donations
    assert "All 22 customers" not in donations
    assert "Top 20 histories by predicted value" in donations


def test_donations_fill_the_data_in_numbers_with_the_weighted_summary(donations):
    section = donations.split("The data in numbers", 1)[1].split("Fitted parameters", 1)[0]
    # Fader, Hardie & Shang (2010), table 1: 3,464 of the 11,104 donors never donated again
    assert "customers 11,104" in section
    assert "distinct purchase histories (rows of the summary) 22" in section
    assert f"customers who bought again {1 - 3464 / 11104:.1%}".replace("%", " %") in section


@pytest.fixture(scope="module")
def retention(tmp_path_factory):
    """An sBG run by cohort with its constant-retention benchmark."""
    rows = [
        ("sbg:high_end", "high_end", 2.83),
        ("constant_retention:high_end", "high_end", 21.1),
        ("sbg:regular", "regular", 1.49),
        ("constant_retention:regular", "regular", 59.0),
    ]
    evaluation = pd.DataFrame(rows, columns=["model", "cohort", "mape"])
    predictions = pd.DataFrame(
        {
            "cohort": ["high_end", "regular"],
            "renewals": [7, 7],
            "customers": [491.0, 241.0],
            "value": [3697.0, 1649.0],
        }
    )
    predictions["clv"] = predictions["value"] / predictions["customers"]
    summary = pd.DataFrame(
        {"cohort": ["high_end", "high_end"], "period": [0, 1], "alive": [1000, 869]}
    )
    manifest = {
        "name": "retention",
        "input": {"source": "builtin:retention_fh2007", "kind": "survival", "fingerprint": "x"},
        "data": {"time_unit": "Y", "counts": {}},
        "models": {"sbg:high_end": {}, "sbg:regular": {}},
        "seed_metrics": {},
        "selection": None,
    }
    params = {
        "models": {
            "sbg:high_end": _fit("sbg", {"alpha": 0.668, "beta": 3.806}),
            "sbg:regular": _fit("sbg", {"alpha": 0.704, "beta": 1.182}),
        }
    }
    tables = {"evaluation.csv": evaluation, "predictions.csv": predictions, "summary.csv": summary}
    return _text(render(_write(tmp_path_factory.mktemp("r") / "run", manifest, params, tables)))


def test_retention_compares_each_cohort_with_its_benchmark_not_the_cohorts(retention):
    assert "scored at three levels" not in retention
    assert "seed formula" not in retention
    assert "lowest holdout error" not in retention
    assert "high_end: sbg:high_end forecasts the survivors best" in retention
    assert "regular: sbg:regular forecasts the survivors best" in retention
    assert "against a constant retention rate" in retention


# ------------------------------------------------------------------------ numbers
@pytest.mark.parametrize(
    ("value", "column", "shown"),
    [
        (10383.7, "clv", "10,384"),  # was 1.038e+04
        (26368.2, "total_clv", "26,368"),
        (-0.15561, "total_revenue_error", "-15.6\u00a0%"),
        (0.50199, "top10_revenue_share", "50.2\u00a0%"),
        (0.9464, "p_alive", "94.6\u00a0%"),
        (2.83, "mape", "2.8\u00a0%"),
        (12345, "customer_id", "12345"),
        (12345.0, "customer_id", "12345"),
        (2357.0, "customers", "2,357"),
        (35.9608, "average_order_value", "35.96"),
        (3e-7, "estimate", "3e-07"),
        (2.67e-14, "gini_revenue", "0"),
        (None, "clv", "—"),
        (math.nan, "clv", "—"),
    ],
)
def test_cells_read_as_a_marketer_expects(value, column, shown):
    assert cell(value, column) == shown


@settings(max_examples=60)
@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["clv", "mae_revenue", "customers", "gini_revenue", "auc_alive", "x"]),
)
def test_no_cell_outside_a_parameter_table_is_in_scientific_notation(value, column):
    assert not SCIENTIFIC.search(cell(value, column))


def test_metric_names_are_human_readable():
    assert label("mae_revenue") == "MAE, revenue"
    assert label("coverage90_purchases_expected") == "expected 90 % coverage, purchases"
    assert label("auc_alive") == "AUC, P(alive)"


# ----------------------------------------------------------------- covariate effects
def test_effects_on_purchase_rate_and_dropout_probability_follow_note_019():
    """BG/NBD with a, b = 1, 3 and a member flag on α (γ = 0.5), a (−0.4) and b (0.3):
    α_i = α₀e^(−γ) makes the mean rate r/α e^0.5 = 1.6487 times higher; the mean dropout
    probability a/(a+b) goes from 1/4 to 0.67032/(0.67032 + 4.04958) = 0.14202, a factor
    0.56808 (both by hand)."""
    names = ("r", "alpha", "a", "b", "alpha:member", "a:member", "b:member")
    values = (0.25, 4.0, 1.0, 3.0, 0.5, -0.4, 0.3)
    result = FitResult(
        model="bgnbd",
        backend="mle",
        param_names=names,
        params=dict(zip(names, values, strict=True)),
        log_likelihood=-1.0,
        n_obs=100.0,
        n_unique=100,
        cov_log=np.eye(len(names)) * 1e-4,
        coefficients=names[4:],
    )
    table = effects_table(bgnbd.SPEC, result, rng=np.random.default_rng(1))
    purchase = table.loc["alpha:member"]
    assert purchase["effect_quantity"] == "purchase rate"
    assert purchase["effect_factor"] == pytest.approx(math.exp(0.5))
    assert purchase["effect_factor_lower"] < purchase["effect_factor"]
    assert purchase["effect_factor"] < purchase["effect_factor_upper"]
    assert "buy 1.65× as often" in purchase["effect_in_words"]
    dropout = table.loc[["a:member", "b:member"]]
    assert (dropout["effect_quantity"] == "dropout probability after a purchase").all()
    assert dropout["effect_factor"].to_numpy() == pytest.approx([0.56808] * 2, abs=1e-5)
    assert "0.57× as likely to drop out" in dropout["effect_in_words"].iloc[0]
