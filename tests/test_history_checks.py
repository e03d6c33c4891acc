"""One check of a customer's history everywhere (issue 20 §3): every estimator's ``fit``
and ``predict_*`` methods and ``clv.customer_values`` refuse a bad row with the line the
command line prints for the same row of a file — ``clvmodels predict`` for predictions,
``clvmodels fit`` on ``data.kind: summary`` for fits — naming the row, the customer and
the column (``clvmodels.data.summary.validate.check_histories``).  The estimators are
built from results given directly, so nothing is fitted."""

from __future__ import annotations

import contextlib
import functools
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_estimators import PARAMS  # plausible parameters of every model

from clvmodels import clv
from clvmodels.cli import main
from clvmodels.errors import DataError
from clvmodels.estimators import ESTIMATORS, Estimator
from clvmodels.results import FitResult

CONTINUOUS = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c"],
        "frequency": [2, 1, 0],
        "recency": [30.0, 5.0, 0.0],
        "T": [39.0, 20.0, 10.0],
        "monetary_value": [20.0, 15.0, 0.0],
    }
)
DISCRETE = pd.DataFrame(
    {"customer_id": ["a", "b", "c"], "frequency": [2, 1, 0], "recency": [4, 3, 0], "n": [6, 6, 6]}
)
SETTINGS = clv.ValueSettings(horizon=52.0, interval=None)

CASES = {
    # name: (column -> value of customer 'b' (row 1), end of the line, of a fit's line)
    "NaN frequency": (
        {"frequency": np.nan},
        "column 'frequency' row 1 (customer_id 'b'): not a finite number (value nan)",
        None,
    ),
    "T -5": (
        {"T": -5.0},
        "column 'T' row 1 (customer_id 'b'): negative (value -5)",
        "column 'T' row 1 (customer_id 'b'): not positive (value -5)",
    ),
    "frequency -2": (
        {"frequency": -2},
        "column 'frequency' row 1 (customer_id 'b'): not a non-negative integer (value -2)",
        None,
    ),
    "recency 50 > T 20": (
        {"recency": 50.0},
        "column 'recency' row 1 (customer_id 'b'): greater than T (value 50)",
        None,
    ),
    "frequency 1.5": (
        {"frequency": 1.5},
        "column 'frequency' row 1 (customer_id 'b'): not a non-negative integer (value 1.5)",
        None,
    ),
    "frequency 0 with recency 5": (
        {"frequency": 0},
        "column 'recency' row 1 (customer_id 'b'): must be 0 when frequency is 0 (value 5)",
        None,
    ),
    "NaN monetary_value": (
        {"monetary_value": np.nan},
        "column 'monetary_value' row 1 (customer_id 'b'): not a finite number (value nan)",
        None,
    ),
}
DISCRETE_CASES = {
    "NaN frequency": CASES["NaN frequency"],
    "frequency -2": CASES["frequency -2"],
    "frequency 1.5": CASES["frequency 1.5"],
    "n -5": ({"n": -5}, "column 'n' row 1 (customer_id 'b'): not positive (value -5)", None),
    "recency 7 > n 6": (
        {"recency": 7},
        "column 'recency' row 1 (customer_id 'b'): greater than n (value 7)",
        None,
    ),
    "frequency 0 with recency 3": (
        {"frequency": 0},
        "column 'recency' row 1 (customer_id 'b'): must be 0 when frequency is 0 (value 3)",
        None,
    ),
    "frequency 4 > recency 3": (
        {"frequency": 4},
        "column 'frequency' row 1 (customer_id 'b'): greater than recency (the last "
        "opportunity bought) (value 4)",
        None,
    ),
}
SPEND_CASES = ("NaN frequency", "frequency -2", "frequency 1.5", "NaN monetary_value")


def estimator(key: str) -> Estimator:
    """Model ``key`` with the parameters of :data:`PARAMS`, as if fitted."""
    params = PARAMS[key]
    result = FitResult(key, "mle", tuple(params), dict(params), -1.0, 100, 100, time_unit="W")
    return ESTIMATORS[key].from_result(result)


def bad_frame(case: str, discrete: bool) -> pd.DataFrame:
    """The good frame with customer 'b' changed as ``case`` says."""
    frame = (DISCRETE if discrete else CONTINUOUS).copy()
    changes = (DISCRETE_CASES if discrete else CASES)[case][0]
    for column, value in changes.items():
        values = frame[column].tolist()
        values[1] = value
        frame[column] = values
    return frame


def expected(case: str, discrete: bool, fit: bool) -> str:
    _, predicting, fitting = (DISCRETE_CASES if discrete else CASES)[case]
    return "DataFrame: " + (fitting or predicting if fit else predicting)


@functools.cache
def command_line_error(case: str, discrete: bool, command: str, folder: str) -> str:
    """The error line of ``clvmodels predict`` (or ``fit`` on ``data.kind: summary``)
    on the case's frame written as a CSV file, with the file's name as ``DataFrame``."""
    # numbered, not named after the case: a path beyond 100 characters is named by its end
    # in messages, and a parallel run's temporary folders are long already
    work = Path(folder) / str(len(list(Path(folder).iterdir())))
    work.mkdir()
    data = work / "data.csv"
    bad_frame(case, discrete).to_csv(data, index=False)
    key = "bgbb" if discrete else "bgnbd"
    if command == "predict":
        estimator(key).save(work / "model.json")
        argv = ["predict", str(work / "model.json"), str(data), "--out", str(work / "s.csv")]
    else:
        config = work / "c.yaml"
        config.write_text(
            f"name: h\ndata: {{source: {data}, kind: summary, time_unit: W}}\n"
            f"models: {{{key}: {{}}}}\n"
        )
        argv = ["fit", str(config), "--out", str(work / "run"), "--quiet"]
    written = sorted(p.name for p in work.iterdir())
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        assert main(argv) == 2
    assert sorted(p.name for p in work.iterdir()) == written  # nothing written
    line = stderr.getvalue().strip()
    assert "\n" not in line and line.startswith(f"error: {data}: ")
    return "DataFrame: " + line.removeprefix(f"error: {data}: ")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("history_checks"))


def _raised(call) -> str:
    with pytest.raises(DataError) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize("key", ["bgnbd", "mbgnbd", "paretonbd"])
@pytest.mark.parametrize("case", [c for c in CASES if c != "NaN monetary_value"])
def test_purchase_models_refuse_a_bad_history_with_the_command_lines_message(key, case, folder):
    model, frame = estimator(key), bad_frame(case, discrete=False)
    line = command_line_error(case, False, "predict", folder)
    assert line == expected(case, False, fit=False)
    assert _raised(lambda: model.predict_p_alive(frame)) == line
    assert _raised(lambda: model.predict_purchases(frame, 10.0)) == line
    assert _raised(lambda: clv.customer_values(model, frame, SETTINGS, fallback_spend=5.0)) == line
    fit_line = command_line_error(case, False, "fit", folder)
    assert fit_line == expected(case, False, fit=True)
    assert _raised(lambda: model.clone().fit(frame)) == fit_line


@pytest.mark.parametrize("case", sorted(DISCRETE_CASES))
def test_bgbb_refuses_a_bad_history_with_the_command_lines_message(case, folder):
    model, frame = estimator("bgbb"), bad_frame(case, discrete=True)
    line = command_line_error(case, True, "predict", folder)
    assert line == expected(case, True, fit=False)
    assert _raised(lambda: model.predict_p_alive(frame)) == line
    assert _raised(lambda: model.predict_transactions(frame, 5)) == line
    assert _raised(lambda: clv.customer_values(model, frame, SETTINGS, fallback_spend=5.0)) == line
    assert _raised(lambda: model.clone().fit(frame)) == command_line_error(
        case, True, "fit", folder
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_spend_model_refuses_a_bad_history_with_the_command_lines_message(case, folder):
    spend, purchase = estimator("gamma_gamma"), estimator("bgnbd")
    frame = bad_frame(case, discrete=False)
    line = command_line_error(case, False, "predict", folder)
    assert _raised(lambda: clv.customer_values(purchase, frame, SETTINGS, spend=spend)) == line
    if case in SPEND_CASES:  # the columns the spend model reads
        assert _raised(lambda: spend.predict_spend(frame)) == line
        assert _raised(lambda: spend.clone().fit(frame)) == command_line_error(
            case, False, "fit", folder
        )


def test_customers_new_on_the_last_day_are_scored_but_not_fitted(tmp_path):
    """docs/guide/safety.md: T = 0 is a customer whose first purchase is on the last day,
    valued as a new customer; a fit refuses the row (it carries no information)."""
    model = estimator("bgnbd")
    frame = CONTINUOUS.assign(T=[39.0, 20.0, 0.0])
    assert model.predict_p_alive(frame).iloc[2] == 1.0
    values = clv.customer_values(model, frame, SETTINGS, fallback_spend=5.0)
    assert values["expected_purchases"].iloc[2] == pytest.approx(
        float(model.expected_purchases(52.0))
    )
    frame.to_csv(tmp_path / "data.csv", index=False)
    model.save(tmp_path / "model.json")
    argv = ["predict", str(tmp_path / "model.json"), str(tmp_path / "data.csv")]
    assert main([*argv, "--out", str(tmp_path / "scores.csv")]) == 0
    with pytest.raises(DataError, match=r"^DataFrame: column 'T' row 2 \(customer_id 'c'\): not "):
        model.clone().fit(frame)
