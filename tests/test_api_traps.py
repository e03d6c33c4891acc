"""Issue 19, "The Python API": the traps a new user fell into, one test each, named after
the trap.  Small frames (600 customers of CDNOW, zero-padded text ids) keep the
whole file to a few seconds."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

import clvmodels
from clvmodels import clv
from clvmodels.cli import main
from clvmodels.clv import ValueSettings
from clvmodels.data import load_builtin, summarize_transactions
from clvmodels.errors import ConfigError
from clvmodels.models import model_info
from clvmodels.run.scoring import check_summary_columns
from clvmodels.units import units_per_year

IDS = "customer_id"


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    """600 CDNOW customers' purchases to 1997-09-30, ids as zero-padded text (``00004``)."""
    frame = load_builtin("cdnow_sample")
    frame = frame[frame[IDS].isin(frame[IDS].unique()[:600]) & (frame["date"] <= "1997-09-30")]
    frame = frame.copy()
    frame[IDS] = frame[IDS].map(lambda i: f"{i:05d}")
    return frame


@pytest.fixture(scope="module")
def summary(log) -> pd.DataFrame:
    return summarize_transactions(log, time_unit="W")


@pytest.fixture(scope="module")
def fitted(summary):
    return clvmodels.fit("bgnbd", summary), clvmodels.fit("gamma_gamma", summary)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("models")
    purchase, spend = fitted
    purchase.save(folder / "bgnbd.json")
    spend.save(folder / "gamma_gamma.json")
    return folder / "bgnbd.json", folder / "gamma_gamma.json"


def _no_interval() -> ValueSettings:
    return ValueSettings(interval=None)


# --- ids travel through every per-customer output -------------------------------------


def test_customer_values_are_indexed_by_the_ids_as_given(summary, fitted):
    """Issue 19: ``customer_values(...)`` returned a frame without ``customer_id``."""
    purchase, spend = fitted
    values = clv.customer_values(purchase, summary, _no_interval(), spend=spend)
    assert values.index.name == IDS
    assert values.index.tolist() == summary[IDS].tolist()
    assert values.index[0] == "00004"  # text stays text, zeros kept


def test_a_summary_indexed_by_customer_id_keeps_its_ids(summary, fitted):
    purchase, spend = fitted
    by_id = summary.set_index(IDS)
    values = clv.customer_values(purchase, by_id, _no_interval(), spend=spend)
    pd.testing.assert_index_equal(values.index, by_id.index)
    plain = clv.customer_values(purchase, summary, _no_interval(), spend=spend)
    pd.testing.assert_frame_equal(values, plain)


def test_a_summary_without_ids_gives_its_own_index_named_customer_id(summary, fitted):
    purchase, _ = fitted
    anonymous = summary.drop(columns=IDS).set_axis(range(100, 100 + len(summary)))
    values = clv.customer_values(purchase, anonymous, _no_interval(), fallback_spend=10.0)
    assert values.index.name == IDS
    assert values.index.tolist() == list(range(100, 100 + len(summary)))


def test_estimator_predictions_are_indexed_by_customer_id(summary, fitted):
    purchase, spend = fitted
    for series in (
        purchase.predict_p_alive(summary),
        purchase.predict_purchases(summary, 10.0),
        spend.predict_spend(summary),
    ):
        assert series.index.name == IDS
        assert series.index.tolist() == summary[IDS].tolist()


def test_covariate_lift_per_customer_is_indexed_by_customer_id(summary):
    data = summary.assign(member=(summary.index % 2).astype(float))
    purchase = clvmodels.fit("bgnbd", data, covariates={"purchase": ["member"]})
    per_customer, lift = clv.covariate_lift(
        purchase, data, _no_interval(), "member", fallback_spend=10.0
    )
    assert per_customer.index.name == IDS
    assert per_customer.index.tolist() == data[IDS].tolist()
    assert set(lift.index) == {"all", "with", "without"}


def test_predictions_file_has_ids_first_and_parquet_keeps_them_text(tmp_path, summary, saved):
    """predictions.parquet read back gives ``"00004"``, not 1."""
    model, spend = saved
    path = tmp_path / "s.csv"
    summary.to_csv(path, index=False)
    out = tmp_path / "p.parquet"
    args = ["predict", str(model), str(path), "--spend-model", str(spend), "--out", str(out)]
    assert main(args) == 0
    table = pd.read_parquet(out)
    assert table.columns[0] == IDS
    assert pd.api.types.is_string_dtype(table[IDS])
    assert set(table[IDS]) == set(summary[IDS].astype(str)) and "00004" in set(table[IDS])


# --- time unit from the model ---------------------------------------------------------


def test_time_unit_and_horizon_default_to_the_models_unit_and_a_year(summary, fitted):
    """Issue 19: ``ValueSettings(time_unit="D")`` with a weekly model was accepted."""
    purchase, spend = fitted
    default = clv.customer_values(purchase, summary, _no_interval(), spend=spend)
    weekly = ValueSettings(time_unit="W", horizon=units_per_year("W"), interval=None)
    explicit = clv.customer_values(purchase, summary, weekly, spend=spend)
    pd.testing.assert_frame_equal(default, explicit)
    resolved = _no_interval().for_model(purchase)
    assert resolved.time_unit == "W" and resolved.horizon == pytest.approx(365.25 / 7)


def test_a_time_unit_other_than_the_models_is_refused(summary, fitted):
    purchase, spend = fitted
    with pytest.raises(ConfigError, match=r"fitted in time unit 'W'.*time_unit='W'"):
        clv.customer_values(
            purchase, summary, ValueSettings(time_unit="D", interval=None), spend=spend
        )


def test_unresolved_settings_refuse_unit_dependent_properties():
    unresolved = ValueSettings()
    for name in ("delta", "count_horizon", "period_discount"):
        with pytest.raises(ConfigError, match=rf"ValueSettings.{name}: needs a time unit"):
            getattr(unresolved, name)
    resolved = unresolved.resolved("D")
    assert resolved.horizon == pytest.approx(365.25) and resolved.delta > 0
    assert ValueSettings(horizon=math.inf).resolved("W").count_horizon == units_per_year("W")


def test_settings_without_a_unit_for_a_model_without_one_say_what_to_pass():
    with pytest.raises(ConfigError, match=r"records no time unit; pass ValueSettings\(time_unit"):
        ValueSettings().resolved(None, "bgnbd")


def test_margin_of_30_is_refused():
    """Issue 19: ``ValueSettings(margin=30)`` was accepted silently."""
    with pytest.raises(ConfigError, match=r"^ValueSettings.margin: 30 is not a share"):
        ValueSettings(margin=30)


# --- unknown options list the allowed ones --------------------------------------------


@pytest.mark.parametrize(
    ("model", "backend", "allowed"),
    [
        ("bgnbd", "bayes", r"chains.*seed"),
        ("gamma_gamma", "bayes", r"chains.*seed"),
        ("bgnbd", None, r"init.*max_iter"),
        ("paretoggg", None, r"burnin.*seed"),
        ("bgcnbd", None, r"init, k, max_iter, max_k"),  # the model's own options too
    ],
)
def test_unknown_fit_option_lists_the_allowed_ones(summary, model, backend, allowed):
    """Issue 19: ``clv.fit("bgnbd", s, backend="bayes", random_seed=1)`` named only the
    unknown option."""
    with pytest.raises(clvmodels.FitError, match=rf"random_seed \(allowed: .*{allowed}"):
        clvmodels.fit(model, summary, backend=backend, random_seed=1)


# --- the command line -----------------------------------------------------------------


def test_predict_on_a_transaction_log_says_to_summarize_first(tmp_path, log, saved, capsys):
    """Issue 19: ``predict`` on a raw log said "missing column 'frequency'"."""
    log.to_csv(tmp_path / "tx.csv", index=False)
    model, _ = saved
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(tmp_path / "tx.csv"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "a transaction log" in err
    assert "clvmodels summarize tx.yaml --out tx_summary.csv" in err
    assert not out.exists()


def test_the_command_given_for_a_transaction_log_works(tmp_path, log, saved, monkeypatch):
    """The printf ... && clvmodels summarize ... of the message, run as written."""
    import shlex
    import subprocess

    log.to_csv(tmp_path / "tx.csv", index=False)
    monkeypatch.chdir(tmp_path)
    model, _ = saved
    with pytest.raises(ConfigError) as caught:
        check_summary_columns(log, "tx.csv", model_info("bgnbd"), "W")
    command = str(caught.value).split("summarize it first: ")[1].split(", then")[0]
    printf, _ = command.split(" && ")
    subprocess.run(printf, shell=True, check=True, cwd=tmp_path)  # writes tx.yaml
    assert main([*shlex.split(command.split(" && ")[1])[1:], "--quiet"]) == 0
    table = pd.read_csv(tmp_path / "tx_summary.csv", dtype={IDS: str})
    assert table.columns[0] == IDS and table[IDS].iloc[0] == "00004"
    assert main(["predict", str(model), "tx_summary.csv", "--out", "p.csv"]) == 0


def test_predict_without_spend_model_has_no_clv_unless_order_value(
    tmp_path, summary, saved, capsys
):
    """Issue 19: without ``--spend-model`` the ``clv`` column silently equalled DERT x 1.0."""
    model, _ = saved
    summary.to_csv(tmp_path / "s.csv", index=False)
    bare, valued = tmp_path / "bare.csv", tmp_path / "valued.csv"
    assert main(["predict", str(model), str(tmp_path / "s.csv"), "--out", str(bare)]) == 0
    assert "no --spend-model nor --order-value" in capsys.readouterr().out
    table = pd.read_csv(bare, dtype={IDS: str})
    assert "clv" not in table and "expected_spend" not in table and "dert" in table
    assert table.columns[0] == IDS
    args = ["predict", str(model), str(tmp_path / "s.csv"), "--order-value", "35", "--out"]
    assert main([*args, str(valued)]) == 0
    assert "--order-value 35 per order" in capsys.readouterr().out
    table = pd.read_csv(valued, dtype={IDS: str}).set_index(IDS)
    pd.testing.assert_series_equal(table["clv"], 35 * table["dert"], check_names=False)


def test_predict_refuses_an_unknown_output_extension(tmp_path, summary, saved, capsys):
    """Issue 19: ``--out s.xlsx`` wrote CSV text under an .xlsx name."""
    model, _ = saved
    summary.to_csv(tmp_path / "s.csv", index=False)
    out = tmp_path / "s.xlsx"
    assert main(["predict", str(model), str(tmp_path / "s.csv"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert ".csv or .parquet" in err and err.count("\n") == 1
    assert not out.exists()


def test_predict_refuses_a_time_unit_other_than_the_models(tmp_path, summary, saved, capsys):
    """Issue 19: ``--time-unit D`` with a weekly model was silently ignored."""
    model, _ = saved
    summary.to_csv(tmp_path / "s.csv", index=False)
    out = tmp_path / "scores.csv"
    args = ["predict", str(model), str(tmp_path / "s.csv"), "--out", str(out)]
    assert main([*args, "--time-unit", "D"]) == 2
    err = capsys.readouterr().err
    assert "--time-unit D: " in err and "fitted in time unit 'W'" in err
    assert err.count("\n") == 1 and not out.exists()
    assert main([*args, "--time-unit", "W"]) == 0  # the model's own unit is fine


def _config(tmp_path: Path, log: pd.DataFrame) -> Path:
    log.to_csv(tmp_path / "tx.csv", index=False)
    config = tmp_path / "c.yaml"
    config.write_text("name: traps\ndata: {source: tx.csv, time_unit: W}\n")
    return config


def test_summarize_out_parquet_writes_a_parquet_file(tmp_path, log):
    """Issue 19: ``summarize --out x.parquet`` wrote a folder named x.parquet."""
    config = _config(tmp_path, log)
    out = tmp_path / "x.parquet"
    assert main(["summarize", str(config), "--out", str(out), "--quiet"]) == 0
    assert out.is_file()
    table = pd.read_parquet(out)
    assert table.columns[0] == IDS and table[IDS].iloc[0] == "00004"
    assert main(["summarize", str(config), "--out", str(out), "--quiet"]) == 2  # no overwrite
    args = ["summarize", str(config), "--out", str(out), "--quiet", "--overwrite"]
    assert main(args) == 0


def test_summarize_out_without_suffix_is_still_a_folder(tmp_path, log):
    config = _config(tmp_path, log)
    assert main(["summarize", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    table = pd.read_csv(tmp_path / "run" / "summary.csv", dtype={IDS: str})
    assert table.columns[0] == IDS and (tmp_path / "run" / "manifest.json").is_file()


def test_summarize_refuses_an_unknown_output_extension(tmp_path, log, capsys):
    config = _config(tmp_path, log)
    assert main(["summarize", str(config), "--out", str(tmp_path / "s.xlsx"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown extension '.xlsx'" in err and ".csv or .parquet" in err
    assert not (tmp_path / "s.xlsx").exists()
