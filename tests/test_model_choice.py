"""Which purchase model values the customers (clvmodels.evaluation.selection): the best
on the declared criterion, in the direction of that criterion, with the runner-up and
the margin; a configured model compared with the best and said plainly when it is not;
the report opens with that sentence."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from clvmodels.evaluation.selection import ModelChoice, choose_model, rank_models
from clvmodels.report.html import _choice_lead

TABLE = pd.DataFrame(
    {
        "model": ["bgnbd+gamma_gamma", "paretonbd+gamma_gamma", "mbgnbd+gamma_gamma", "seed"],
        "log_score_purchases": [-0.98, -0.99, math.nan, math.nan],
        "rps_purchases": [0.52, 0.51, 0.50, 0.40],
        "total_revenue_error": [-0.15, 0.05, -0.10, 0.6],
    }
)
ROWS = {
    "bgnbd+gamma_gamma": "bgnbd",
    "paretonbd+gamma_gamma": "paretonbd",
    "mbgnbd+gamma_gamma": "mbgnbd",
}


@pytest.mark.parametrize(
    ("criterion", "order"),
    [
        ("log_score_purchases", ["bgnbd", "paretonbd"]),  # higher is better; NaN left out
        ("rps_purchases", ["mbgnbd", "paretonbd", "bgnbd"]),  # lower is better
        ("total_revenue_error", ["paretonbd", "mbgnbd", "bgnbd"]),  # closer to zero
    ],
)
def test_models_rank_in_the_direction_of_the_criterion(criterion, order):
    assert [key for key, _ in rank_models(TABLE, ROWS, criterion)] == order


def test_auto_takes_the_best_with_runner_up_and_margin():
    choice = choose_model(TABLE, ROWS, "rps_purchases")
    assert (choice.model, choice.how, choice.runner_up) == ("mbgnbd", "auto", "paretonbd")
    assert choice.margin == pytest.approx(0.01)
    assert choice.is_best
    assert choice.sentence() == (
        "mbgnbd values the customers: best on the holdout by rps_purchases 0.5; "
        "runner-up paretonbd (0.51)"
    )


def test_a_configured_model_that_is_not_the_best_is_said_plainly_and_flagged_in_the_report():
    choice = choose_model(TABLE, ROWS, "log_score_purchases", configured="paretonbd")
    assert (choice.model, choice.best, choice.is_best) == ("paretonbd", "bgnbd", False)
    assert "NOT the best on the holdout: bgnbd scores log_score_purchases -0.98" in (
        choice.sentence()
    )
    lead = _choice_lead({"selection": choice.record()})
    assert "verdict warning" in lead and "NOT the best" in lead
    assert ModelChoice.from_record(choice.record()) == choice


def test_no_finite_score_leaves_no_choice():
    assert choose_model(TABLE, {"seed": "seed"}, "log_score_purchases") is None
