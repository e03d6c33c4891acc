"""The seed metrics still missing: the customer loyalty index (CLI) and the upsell ratio,
their inputs (a survey file, a product column counted by every summary engine) and their
place among a run's seed metrics.  Expected values are worked by hand in the comments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.config import parse_config
from clvmodels.data import summarize_transactions
from clvmodels.data.survey import read_survey, survey_metrics
from clvmodels.errors import ConfigError, DataError
from clvmodels.metrics import customer_loyalty_index, upsell_ratio
from clvmodels.run.prepare import prepare_data
from clvmodels.run.seed import seed_metrics
from clvmodels.run.settings import resolve

LOYALTY = ("recommend", "buy_again", "try_other")


# ------------------------------------------------------------ customer loyalty index


def test_customer_loyalty_index_hand_worked_example():
    # respondent  recommend  buy_again  try_other  own mean
    # 1           6          5          4          15 / 3 = 5
    # 2           2          3          1           6 / 3 = 2
    # 3           4          NaN        6          10 / 2 = 5   (the missing item dropped)
    # 4           3          3          3           9 / 3 = 3
    # CLI = (5 + 2 + 5 + 3) / 4 = 3.75
    cli = customer_loyalty_index([6, 2, 4, 3], [5, 3, np.nan, 3], [4, 1, 6, 3])
    assert cli == pytest.approx(3.75)


def test_customer_loyalty_index_leaves_out_a_respondent_without_answers():
    # respondent 2 answered nothing and is left out: (6 + 1) / 2 = 3.5 (mean of 6, 6, 6
    # and of 1, 1, 1), not (6 + 1 + 0) / 3
    answers = pd.Series([6, None, 1], dtype="Float64")
    assert customer_loyalty_index(answers, answers, answers) == pytest.approx(3.5)


@pytest.mark.parametrize(
    ("recommend", "buy_again", "try_other", "message"),
    [
        ([7, 2], [1, 2], [1, 2], r"recommend must hold whole numbers 1\.\.6; got 7"),
        ([1, 2], [0, 2], [1, 2], r"buy_again must hold whole numbers 1\.\.6; got 0"),
        ([1, 2], [1, 2], [1, 2.5], r"try_other must hold whole numbers 1\.\.6; got 2\.5"),
        ([1, 2], [1, 2], ["a", 2], r"try_other must hold whole numbers 1\.\.6; got 'a'"),
        ([1, 2], [1], [1, 2], r"recommend 2, buy_again 1, try_other 2"),
        ([np.nan], [np.nan], [np.nan], "no respondent answered"),
    ],
)
def test_customer_loyalty_index_names_the_bad_argument(recommend, buy_again, try_other, message):
    with pytest.raises(DataError, match=message):
        customer_loyalty_index(recommend, buy_again, try_other)


# ------------------------------------------------------------------- upsell ratio


def test_upsell_ratio_hand_worked_example():
    # distinct products per customer: 1, 1, 2, 3, 0, 1
    # more than one kind: 2 (the 2 and the 3); exactly one kind: 3; the 0 counts in neither
    # upsell ratio = 2 / 3
    assert upsell_ratio([1, 1, 2, 3, 0, 1]) == pytest.approx(2 / 3)


def test_upsell_ratio_without_single_product_customers_is_an_error():
    with pytest.raises(DataError, match="no customer bought exactly one kind"):
        upsell_ratio([2, 3, 0])
    with pytest.raises(DataError, match="whole numbers"):
        upsell_ratio([1, 1.5])


# ------------------------------------------------- products counted by the engines


def _log() -> pd.DataFrame:
    """a: x, y in the calibration window (to 2020-02-01) and z after it -> 2 products;
    b: x, and y returned (amount < 0, bought nothing) -> 1; c: x twice -> 1;
    d: no product recorded -> 0."""
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b", "c", "c", "d"],
            "date": [
                "2020-01-01",
                "2020-01-05",
                "2020-03-01",
                "2020-01-02",
                "2020-01-03",
                "2020-01-01",
                "2020-01-01",
                "2020-01-04",
            ],
            "amount": [10.0, 5.0, 7.0, 3.0, -3.0, 4.0, 4.0, 2.0],
            "sku": ["x", "y", " z ", "x", "y", "x", "x", None],
        }
    )


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_engines_count_distinct_products_in_the_calibration_window(engine):
    summary = summarize_transactions(
        _log(),
        engine=engine,
        product="sku",
        time_unit="D",
        nonpositive="keep",
        calibration_end="2020-02-01",
        observation_end="2020-03-01",
    )
    assert summary.set_index("customer_id")["products"].to_dict() == {
        "a": 2,
        "b": 1,
        "c": 1,
        "d": 0,
    }
    plain = summarize_transactions(_log(), engine=engine, time_unit="D", nonpositive="keep")
    assert "products" not in plain


def test_a_missing_product_column_is_named():
    with pytest.raises(DataError, match=r"missing column 'item' \(the product column\)"):
        summarize_transactions(_log(), product="item", nonpositive="keep")


def test_spark_engine_refuses_the_product_column_in_the_config(tmp_path):
    raw = {
        "name": "x",
        "data": {
            "source": str(tmp_path / "log.csv"),
            "engine": "spark",
            "columns": {"product": "sku"},
        },
    }
    with pytest.raises(ConfigError, match=r"data\.columns\.product: the spark engine"):
        parse_config(raw)


def test_spark_engine_refuses_the_product_option_before_starting():
    spark_summary = pytest.importorskip("clvmodels.spark.summary")
    with pytest.raises(DataError, match="the Spark engine does not count products"):
        spark_summary.summarize_transactions_spark("log.csv", product="sku")


# ---------------------------------------------------------------------- survey file


def test_read_survey_maps_roles_and_reads_empty_cells_as_missing(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text("id;q_nps;r;b;t\n1;10;6;5;4\n2;3;2;;1\n3;;4;4;4\n")
    columns = {"nps": "q_nps", "recommend": "r", "buy_again": "b", "try_other": "t"}
    answers = read_survey(str(path), columns)
    assert list(answers.columns) == ["nps", *LOYALTY]
    # NPS over the two nps answers: 10 a promoter, 3 a detractor -> 100 * (1 - 1) / 2 = 0
    # CLI: (6+5+4)/3 = 5, (2+1)/2 = 1.5, (4+4+4)/3 = 4 -> (5 + 1.5 + 4) / 3 = 3.5
    assert survey_metrics(answers) == {
        "survey_respondents": 3.0,
        "nps_respondents": 2.0,
        "net_promoter_score": 0.0,
        "customer_loyalty_index": pytest.approx(3.5),
    }


def test_a_bad_answer_names_file_line_and_column(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text("nps,r,b,t\n9,6,5,4\n11,2,7,2\n")
    with pytest.raises(DataError, match=r"survey\.csv: column 'nps' line 3: '11' is not a whole"):
        read_survey(str(path), {"nps": "nps"})
    loyalty = {"recommend": "r", "buy_again": "b", "try_other": "t"}
    with pytest.raises(
        DataError, match=r"column 'b' line 3: '7' is not a whole number from 1 to 6"
    ):
        read_survey(str(path), loyalty)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"csat": "c"}, r"metrics\.survey\.columns\.csat: unknown answer role"),
        ({"recommend": "r"}, "needs all three answers; add buy_again, try_other"),
        ({}, "name at least the nps column"),
    ],
)
def test_survey_columns_are_checked_with_the_config(tmp_path, columns, message):
    raw = {
        "name": "x",
        "data": {"source": str(tmp_path / "log.csv")},
        "metrics": {"survey": {"source": str(tmp_path / "s.csv"), "columns": columns}},
    }
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


# ------------------------------------------------------------- in a run's seed metrics


def test_a_run_shows_upsell_ratio_nps_and_cli_with_the_other_seed_metrics(tmp_path):
    _log().to_csv(tmp_path / "log.csv", index=False)
    (tmp_path / "survey.csv").write_text("nps,r,b,t\n9,6,6,6\n5,1,1,1\n10,5,5,5\n")
    raw = {
        "name": "x",
        "data": {
            "source": str(tmp_path / "log.csv"),
            "engine": "pandas",
            "columns": {"product": "sku"},
            "time_unit": "D",
            "nonpositive": "keep",
        },
        "split": {"calibration_end": "2020-02-01", "observation_end": "2020-03-01"},
        "metrics": {
            "survey": {
                "source": str(tmp_path / "survey.csv"),
                "columns": {"nps": "nps", "recommend": "r", "buy_again": "b", "try_other": "t"},
            }
        },
    }
    settings = resolve(parse_config(raw))
    seed = seed_metrics(settings, prepare_data(settings.data))
    # products a 2, b 1, c 1, d 0: upsell ratio 1 / 2
    assert seed["upsell_ratio"] == pytest.approx(0.5)
    assert (seed["single_product_customers"], seed["multi_product_customers"]) == (2.0, 1.0)
    # NPS: promoters 9, 10; detractor 5 -> 100 * (2 - 1) / 3; CLI (6 + 1 + 5) / 3 = 4
    assert seed["net_promoter_score"] == pytest.approx(100 / 3)
    assert seed["customer_loyalty_index"] == pytest.approx(4.0)
    assert seed["customers"] == 4.0  # the usual seed metrics are still there
