"""The Spark engine (Spark local mode) against the DuckDB engine and the pandas scorers.

Expected values come from :func:`clvmodels.data.summarize_transactions` (DuckDB), fits
on the full pandas summary and :func:`clvmodels.clv.customer_values`.  Skipped when
pyspark or a Java runtime is missing.
"""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

if shutil.which("java") is None:
    pytest.skip("Spark tests need a Java runtime (java not on PATH)", allow_module_level=True)
pytest.importorskip("pyspark", reason="Spark tests need pyspark (pip install clvmodels[spark])")

from clvmodels import clv
from clvmodels.backends.bayes import ConvergenceWarning
from clvmodels.data import summarize_transactions
from clvmodels.errors import ConfigError, DataError
from clvmodels.estimators import ESTIMATORS
from clvmodels.spark import spark_session, summarize_transactions_spark
from clvmodels.spark.models import compressed_rows, fit_compressed, score_customers, write_parquet
from clvmodels.spark.session import quiet_pandas_conversion


@pytest.fixture(scope="module")
def spark():
    session = spark_session(
        "local[2]",
        "clvmodels-tests",
        {
            "spark.driver.memory": "2g",
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.sql.adaptive.enabled": "false",
        },
    )
    yield session
    session.stop()


def random_log(seed: int, n_rows: int, ids: str, dates: str) -> pd.DataFrame:
    """A seeded log over 60 days: same-day duplicates, returns, zero amounts.

    ``ids``: ``int``, ``text`` (``c<n>``) or ``digits`` (integer-looking text).
    ``dates``: ``datetime`` (with times of day, naive), ``text`` (ISO, some with times,
    some with a +09:00 offset) or ``utc`` (time-zone aware).  Amounts are multiples of
    0.25, so every sum is exact and both engines decide "net <= 0" alike whatever their
    summation order.
    """
    rng = np.random.default_rng(seed)
    customer = rng.integers(1, 40, size=n_rows)
    day = rng.integers(0, 60, size=n_rows)
    dup = rng.random(n_rows) < 0.2
    dup[0] = False
    customer[dup] = customer[np.flatnonzero(dup) - 1]
    day[dup] = day[np.flatnonzero(dup) - 1]
    amount = rng.integers(1, 200, size=n_rows) * 0.25
    amount[rng.random(n_rows) < 0.08] *= -1.0  # returns
    amount[rng.random(n_rows) < 0.05] = 0.0  # free items
    seconds = rng.integers(0, 86_400, size=n_rows).astype("timedelta64[s]")
    stamp = np.datetime64("2021-03-01") + day.astype("timedelta64[D]") + seconds
    if dates == "datetime":
        date = pd.Series(stamp.astype("datetime64[ns]"))
    elif dates == "utc":
        date = pd.Series(stamp.astype("datetime64[us]")).dt.tz_localize("UTC")
    else:
        text = pd.Series(stamp.astype("datetime64[s]").astype(str)).str.replace("T", " ")
        form = rng.random(n_rows)
        date = text.where(form < 0.5, text.str[:10])  # with and without a time of day
        date = date.where(form < 0.9, text + "+09:00")  # an instant: its date in the zone
        date = date.where(form < 0.95, text.str[:10].str.replace("-", "/"))
    if ids == "int":
        cid = pd.Series(customer, dtype="int64")
    elif ids == "digits":
        cid = pd.Series([f"{c:04d}" for c in customer])
    else:
        cid = pd.Series([f"c{c}" for c in customer])
    return pd.DataFrame({"customer_id": cid, "date": date, "amount": amount})


CASES = [
    # (seed, rows, ids, dates, source, options)
    (1, 300, "int", "datetime", "frame", {"nonpositive": "keep", "time_unit": "D"}),
    (2, 300, "text", "text", "csv", {"calibration_end": "2021-04-05"}),
    (3, 250, "digits", "text", "csv", {"nonpositive": "drop", "calibration_end": "2021-04-10"}),
    (4, 300, "int", "utc", "parquet", {"nonpositive": "keep", "merge_same_day": False}),
    (
        5,
        200,
        "text",
        "datetime",
        "frame",
        {
            "nonpositive": "drop",
            "merge_same_day": False,
            "calibration_end": "2021-03-20",
            "time_unit": "D",
        },
    ),
    (
        6,
        300,
        "int",
        "text",
        "csv",
        {
            "observation_end": "2021-04-15",
            "after_observation_end": "drop",
            "calibration_end": "2021-03-31",
        },
    ),
    (7, 250, "digits", "datetime", "parquet", {"amount": None, "calibration_end": "2021-04-01"}),
    # data.timezone: offsets and aware timestamps converted to it, naive ones as written
    (8, 300, "text", "text", "csv", {"timezone": "America/New_York", "time_unit": "D"}),
    (9, 300, "int", "utc", "parquet", {"timezone": "Asia/Kolkata"}),
    (10, 250, "digits", "datetime", "parquet", {"timezone": "Pacific/Kiritimati"}),
    (11, 200, "text", "datetime", "frame", {"timezone": "America/St_Johns", "time_unit": "D"}),
    (
        13,
        300,
        "int",
        "text",
        "csv",
        {"nonpositive": "net_across_days", "calibration_end": "2021-04-01"},
    ),
    (12, 300, "text", "datetime", "frame", {"nonpositive": "net_across_days", "time_unit": "D"}),
]


def _source(log: pd.DataFrame, kind: str, tmp_path):
    if kind == "frame":
        return log
    path = tmp_path / f"log.{kind}"
    if kind == "csv":
        log.to_csv(path, index=False)
    else:
        log.to_parquet(path, index=False)
    return str(path)


@pytest.mark.parametrize(("seed", "n_rows", "ids", "dates", "kind", "options"), CASES)
def test_spark_summary_equals_duckdb_summary(
    spark, tmp_path, seed, n_rows, ids, dates, kind, options
):
    source = _source(random_log(seed, n_rows, ids, dates), kind, tmp_path)
    expected = summarize_transactions(source, **options)
    result = summarize_transactions_spark(source, spark=spark, **options)
    got = result.to_pandas()
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert result.meta == expected.attrs["clvmodels"]
    assert result.customers == len(expected)


def test_spark_summary_does_not_depend_on_the_session_time_zone(spark, tmp_path):
    source = _source(random_log(11, 200, "int", "text"), "csv", tmp_path)
    expected = summarize_transactions(source, calibration_end="2021-04-01")
    spark.conf.set("spark.sql.session.timeZone", "Asia/Tokyo")
    try:
        got = summarize_transactions_spark(source, spark=spark, calibration_end="2021-04-01")
        frame = got.to_pandas()
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)


def test_spark_summary_of_nonpositive_error_log_equals_duckdb(spark):
    log = random_log(9, 200, "int", "datetime")
    log = log.assign(amount=log["amount"].abs() + 0.25)  # every amount positive: no error
    expected = summarize_transactions(log, nonpositive="error")
    got = summarize_transactions_spark(log, spark=spark, nonpositive="error")
    pd.testing.assert_frame_equal(got.to_pandas(), expected, check_exact=True)


def test_spark_summary_of_cent_amounts_matches_duckdb_to_rounding(cdnow_spark):
    """Amounts in cents: sums may differ in the last bit (summation order)."""
    expected = summarize_transactions(
        "builtin:cdnow_sample", calibration_end="1997-09-30", observation_end="1998-06-30"
    )
    got = cdnow_spark
    pd.testing.assert_frame_equal(got.to_pandas(), expected, check_exact=False, rtol=1e-12)
    assert got.meta == expected.attrs["clvmodels"]


@pytest.mark.parametrize(
    ("change", "options", "message"),
    [
        ({"date": "not a date"}, {}, "column 'date', one row: cannot parse 'not a date' as a date"),
        ({"amount": "abc"}, {}, "column 'amount', one row: amount 'abc' is not a finite number"),
        ({"customer_id": " "}, {}, "column 'customer_id', one row: customer id is missing"),
        ({"amount": "-1"}, {"nonpositive": "error"}, "amount -1.0 <= 0 for customer"),
        ({"date": "1600-01-01"}, {}, "date '1600-01-01' is outside 1677-09-22..2262-04-11"),
        ({"date": "2262-04-12 10:00"}, {}, "date '2262-04-12 10:00' is outside 1677-09-22"),
        ({"amount": "1e308"}, {}, "column 'amount', one row: amount '1e308' is beyond ±1e15"),
        ({}, {"observation_end": "2021-03-05"}, "transactions after observation_end 2021-03-05"),
    ],
)
def test_spark_summary_errors_name_the_column_and_problem_like_duckdb(
    spark, tmp_path, change, options, message
):
    log = random_log(10, 40, "text", "text").assign(amount=lambda f: f["amount"].abs() + 1)
    log = log.astype({"amount": str})
    for column, value in change.items():
        log.loc[7, column] = value
    path = tmp_path / "bad.csv"
    log.to_csv(path, index=False)
    with pytest.raises(DataError) as duck:
        summarize_transactions(str(path), **options)
    with pytest.raises(DataError, match="^" + str(path)) as got:
        summarize_transactions_spark(str(path), spark=spark, **options)
    assert message in str(got.value)
    if "observation_end" not in options:  # one bad row: the problem is worded alike
        assert str(duck.value).split(": ", 2)[-1] in str(got.value)


def test_spark_reads_date_format_decimal_comma_and_semicolons_like_duckdb(spark, tmp_path):
    """A European export: ``31.12.2021 23:30 +0530`` dates, ``1.234,50`` amounts, ``;``."""
    log = random_log(12, 300, "text", "datetime")
    rng = np.random.default_rng(12)
    offsets = rng.choice(["+0530", "-0800", "Z", "+0100"], size=len(log))
    amounts = log["amount"] * 100  # up to 5,000: thousands separators, sums still exact
    log = log.assign(
        date=log["date"].dt.strftime("%d.%m.%Y %H:%M ") + offsets,
        amount=[f"{a:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") for a in amounts],
    )
    path = tmp_path / "export.csv"
    log.to_csv(path, sep=";", index=False)
    options = {
        "date_format": "%d.%m.%Y %H:%M %z",
        "decimal": ",",
        "timezone": "Europe/Berlin",
        "calibration_end": "2021-04-10",
    }
    expected = summarize_transactions(str(path), **options)
    got = summarize_transactions_spark(str(path), spark=spark, **options)
    pd.testing.assert_frame_equal(got.to_pandas(), expected, check_exact=True)
    assert expected["revenue"].max() > 1000
    bad = log.assign(amount=log["amount"].where(log.index != 5, "12.5"))
    bad.to_csv(path, sep=";", index=False)
    with pytest.raises(DataError, match=r"amount '12\.5' is not a finite number with a decimal"):
        summarize_transactions_spark(str(path), spark=spark, **options)


def test_spark_summary_takes_the_summary_options_and_refuses_others():
    """The options are those of clvmodels.data.SummaryOptions; an unknown keyword fails
    before a session is started."""
    assert "SummaryOptions" in (summarize_transactions_spark.__doc__ or "")
    with pytest.raises(TypeError, match=r"summarize_transactions_spark\(\) .* 'merge'"):
        summarize_transactions_spark("builtin:cdnow_sample", merge=False)


@pytest.fixture(scope="module")
def cdnow_spark(spark):
    """The CDNOW sample summarised by Spark with the Fader-Hardie-Lee split."""
    return summarize_transactions_spark(
        "builtin:cdnow_sample",
        spark=spark,
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )


@pytest.mark.parametrize("key", ["bgnbd", "gamma_gamma"])
def test_fit_on_compressed_spark_rows_equals_fit_on_full_pandas_summary(cdnow_spark, key):
    full = cdnow_spark.to_pandas()
    rows = compressed_rows(cdnow_spark.frame, ESTIMATORS[key]().module.SPEC.data_columns)
    assert rows["count"].sum() == len(full)
    assert len(rows) < len(full)
    expected = ESTIMATORS[key]().fit(full)
    got = fit_compressed(ESTIMATORS[key](), cdnow_spark.frame, time_unit="W")
    for name, value in expected.params_.items():
        assert got.params_[name] == pytest.approx(value, rel=1e-8, abs=1e-12)
    assert got.log_likelihood_ == pytest.approx(expected.log_likelihood_, rel=1e-10)
    assert got.result_.data_fingerprint == expected.result_.data_fingerprint


@pytest.mark.parametrize("interval", [None, 0.9])
def test_distributed_scores_equal_customer_values_on_pandas_summary(
    cdnow_spark, tmp_path, interval
):
    full = cdnow_spark.to_pandas()
    purchase = ESTIMATORS["bgnbd"]().fit(full)
    spend = ESTIMATORS["gamma_gamma"]().fit(full)
    settings = clv.ValueSettings(horizon=39.0, time_unit="W", interval=interval, draws=50, seed=3)
    expected = clv.customer_values(purchase, full, settings, spend=spend)
    # three partitions, batches of 400 customers: the draws must not depend on either
    frame = cdnow_spark.frame.repartition(3)
    scores = score_customers(frame, purchase, settings, spend=spend, batch_rows=400)
    path = write_parquet(scores, tmp_path / "predictions.parquet")
    assert path.is_dir()  # a Parquet dataset of part files
    got = pd.read_parquet(path).sort_values("customer_id").reset_index(drop=True)
    assert list(got.columns) == ["customer_id", *expected.columns]
    np.testing.assert_array_equal(got["customer_id"].to_numpy(), full["customer_id"].to_numpy())
    for column in expected.columns:
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-10, atol=1e-12)


def test_scoring_without_a_spend_value_fails_on_the_driver(cdnow_spark):
    purchase = ESTIMATORS["bgnbd"]().fit(cdnow_spark.to_pandas())
    settings = clv.ValueSettings(horizon=52.0, time_unit="W", interval=None)
    with pytest.raises(ConfigError, match="needs a gamma_gamma spend model or an average"):
        score_customers(cdnow_spark.frame, purchase, settings)


SPARK_RUN = """\
name: cdnow_spark
data:
  source: builtin:cdnow_sample
  engine: {engine}
split:
  calibration_end: 1997-09-30
  observation_end: 1998-06-30
models:
  bgnbd: {{}}
  gamma_gamma: {{}}
clv:
  draws: 40
"""
SPARK_BLOCK = """\
spark:
  master: local[2]
  config:
    spark.sql.shuffle.partitions: 2
  evaluation_sample: 1000
"""


def test_clvmodels_fit_with_engine_spark_equals_duckdb_run(spark, tmp_path):
    from clvmodels.cli import main
    from clvmodels.config import load_config
    from clvmodels.run.fit import fit_models, params_payload
    from clvmodels.run.prepare import prepare_data
    from clvmodels.run.seed import seed_metric_series
    from clvmodels.run.settings import resolve

    path = tmp_path / "spark.yaml"
    path.write_text(SPARK_RUN.format(engine="spark") + SPARK_BLOCK)
    assert main(["fit", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    run = tmp_path / "run"
    duck_config = load_config(_write(tmp_path / "duck.yaml", SPARK_RUN.format(engine="duckdb")))
    duck = resolve(duck_config)
    prepared = prepare_data(duck.data)
    expected = params_payload(fit_models(duck.models, prepared))
    params = json.loads((run / "params.json").read_text())["models"]
    for key in ("bgnbd", "gamma_gamma"):
        for name, value in expected[key]["params"].items():
            assert params[key]["params"][name] == pytest.approx(value, rel=1e-8)
        assert params[key]["n_customers"] == expected[key]["n_customers"]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["input"]["engine"] == "spark"
    assert manifest["data"]["spark"]["master"] == "local[2]"
    assert manifest["data"]["counts"]["rows_in"] == 6919
    assert manifest["data"]["counts"]["customers"] == 2357
    assert manifest["data"]["sample"]["customers"] == 1000
    assert manifest["data"]["sample"]["of"] == 2357
    seeds = seed_metric_series(duck, prepared)
    for name, value in seeds.items():  # totals of every customer, not of the sample
        assert manifest["seed_metrics"][name] == pytest.approx(value, rel=1e-12)
    predictions = pd.read_parquet(run / "predictions.parquet").sort_values("customer_id")
    assert (run / "predictions.parquet").is_dir()
    np.testing.assert_array_equal(
        predictions["customer_id"].to_numpy(), prepared.summary["customer_id"].to_numpy()
    )
    assert {"p_alive", "expected_purchases", "dert", "clv", "clv_lower", "clv_upper"} <= set(
        predictions.columns
    )
    duck_predictions = pd.read_csv(_duck_run(duck_config, tmp_path) / "predictions.csv")
    duck_predictions = duck_predictions.sort_values("customer_id")
    np.testing.assert_allclose(predictions["clv"], duck_predictions["clv"], rtol=1e-6)
    sample = pd.read_csv(run / "predictions_sample.csv")
    assert len(sample) == 1000 and sample["customer_id"].is_unique
    assert len(pd.read_parquet(run / "summary.parquet")) == 2357
    assert "sample of 1,000 of 2,357 customers" in (run / "report.html").read_text()
    assert (run / "models" / "bgnbd.json").exists() and (run / "config.yaml").exists()
    # clvmodels summarize writes every customer's summary as a Parquet dataset
    assert main(["summarize", str(path), "--out", str(tmp_path / "sum"), "--quiet"]) == 0
    summary = pd.read_parquet(tmp_path / "sum" / "summary.parquet").sort_values("customer_id")
    np.testing.assert_array_equal(summary["T"].to_numpy(), prepared.summary["T"].to_numpy())


def _write(path, text):
    path.write_text(text)
    return path


def _duck_run(config, tmp_path):
    from clvmodels.run import execute, resolve, write_run

    return write_run(execute(resolve(config)), tmp_path / "duck_run", plots=False)


@pytest.mark.slow
def test_distributed_bayesian_scores_equal_customer_values(cdnow_spark):
    """Posterior means, sds and credible bounds over the same seeded posterior draws."""
    full = cdnow_spark.to_pandas()
    with warnings.catch_warnings():  # a short chain: the ESS warning is expected
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = ESTIMATORS["bgnbd"](backend="bayes", draws=100, tune=100, chains=1)
        model.fit(full)
    settings = clv.ValueSettings(horizon=39.0, time_unit="W", interval=0.9, draws=40, seed=1)
    expected = clv.customer_values(model, full, settings, fallback_spend=30.0)
    scores = score_customers(
        cdnow_spark.frame.repartition(3), model, settings, fallback_spend=30.0, batch_rows=500
    )
    with quiet_pandas_conversion():
        got = scores.toPandas().sort_values("customer_id").reset_index(drop=True)
    assert "clv_sd" in got and "p_alive_lower" in got
    assert list(got.columns) == ["customer_id", *expected.columns]
    for column in expected.columns:
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-10, atol=1e-12)
