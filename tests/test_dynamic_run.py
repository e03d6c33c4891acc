"""Time-varying covariates from the config to the run folder and ``clvmodels predict``
(issue 17): ``data.dynamic_covariates``, ``models.<key>.dynamic_covariates``.

Expected values: the config rules of :mod:`clvmodels.config.dynamic` (each message), the
run's own files, and the data layer's beyond-horizon error.  The log is a third of
``builtin:cdnow_sample`` (weeks, calibration to 1997-09-30) with a calendar covariate
``high_season`` for March and April, which lie in the calibration window.
"""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import yaml

from clvmodels.cli import main
from clvmodels.config import parse_config
from clvmodels.data import read_table
from clvmodels.errors import ConfigError, DataError
from clvmodels.run import execute, resolve

CALENDAR = {"high_season": [3, 4]}


@pytest.fixture(scope="module")
def log_path(tmp_path_factory):
    """Every third customer of the CDNOW sample (a small, fast log)."""
    log = read_table("builtin:cdnow_sample")
    small = log.loc[log["customer_id"] % 3 == 0]
    path = tmp_path_factory.mktemp("log") / "log.csv"
    small.to_csv(path, index=False)
    return path


def config(log_path, out=None, **changes):
    raw = {
        "name": "dynamic_test",
        "data": {
            "source": str(log_path),
            "time_unit": "W",
            "dynamic_covariates": {"calendar": dict(CALENDAR)},
        },
        "split": {"calibration_end": "1997-09-30"},
        "models": {
            "paretonbd": {"dynamic_covariates": {"purchase": ["high_season"]}},
            "gamma_gamma": {},
        },
        "clv": {"horizon": 26, "draws": 20},
        "evaluation": {"challenger": False},
        "output": {"dir": str(out) if out else "unused"},
    }
    for path, value in changes.items():
        block = raw
        *head, last = path.split("__")
        for key in head:
            block = block.setdefault(key, {})
        if value is None:
            block.pop(last, None)
        else:
            block[last] = value
    return raw


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"models": {"mbgnbd": {"dynamic_covariates": {"purchase": ["high_season"]}}}},
            "models.mbgnbd.dynamic_covariates: the MBG/NBD takes no time-varying covariates "
            "(models that do: bgnbd, paretonbd)",
        ),
        (
            {"data__dynamic_covariates": None},
            "models.paretonbd.dynamic_covariates: needs data.dynamic_covariates",
        ),
        (
            {"models": {"bgnbd": {"dynamic_covariates": {"dropout": ["high_season"]}}}},
            "models.bgnbd.dynamic_covariates.dropout: the BG/NBD has no such process taking "
            "time-varying covariates (processes: purchase)",
        ),
        (
            {"models__paretonbd__dynamic_covariates": {"purchase": ["xmas"]}},
            "models.paretonbd.dynamic_covariates.purchase: 'xmas' is not a dynamic covariate "
            "of the data (covariates: high_season)",
        ),
        (
            {"models__paretonbd__covariates": {"purchase": ["x"]}},
            "models.paretonbd.dynamic_covariates: not together with models.paretonbd.covariates",
        ),
        (
            {"models__paretonbd__dynamic_covariates": {"purchase": ["high_season", "high_season"]}},
            "models.paretonbd.dynamic_covariates.purchase: covariate 'high_season' is listed twice",
        ),
        (
            {"models__paretonbd__backend": "bayes", "models__paretonbd__method": "map"},
            "models.paretonbd.method: a model with dynamic_covariates samples with method: nuts",
        ),
        (
            {"data__dynamic_covariates": {}},
            "data.dynamic_covariates: give a source (a long table), a calendar, or both",
        ),
        (
            {"data__dynamic_covariates": {"calendar": {}}},
            "data.dynamic_covariates.calendar: no covariate asked for",
        ),
        (
            {"data__dynamic_covariates": {"calendar": {"high_season": [13]}}},
            "data.dynamic_covariates.calendar.high_season[0]: 13 is not a month (1-12)",
        ),
        (
            {"data__dynamic_covariates__colour": "red"},
            "data.dynamic_covariates.colour: unknown key",
        ),
        (
            {"data__dynamic_covariates__columns": ["a"]},
            "data.dynamic_covariates.columns: chooses columns of a source, which is not set",
        ),
        (
            {"data__kind": "summary"},
            "data.dynamic_covariates: need a transaction log (data.kind: transactions)",
        ),
        ({"data__time_unit": "M"}, "data.time_unit: "),
        ({"clv__horizon": "lifetime"}, "clv.horizon: lifetime needs covariate values for ever"),
        (
            {"clv__horizon": 5_200_000},
            "clv.horizon: 5200000 W after the calibration end 1997-09-30 is too long for the "
            "calendar, which ends on 2262-04-11 (the last day of pandas dates); give at most "
            "13802.4 W",
        ),
        (
            {"data__dynamic_covariates": {"source": "t.csv", "columns": ["a", "b", "a"]}},
            "data.dynamic_covariates.columns: column 'a' is listed twice",
        ),
        (
            {"models__paretonbd__dynamic_covariates": None},
            "data.dynamic_covariates: no model uses them",
        ),
    ],
)
def test_config_errors_name_the_key(log_path, changes, message):
    changes = dict(changes)
    extra = changes.pop("models", {})
    raw = config(log_path, **changes)
    raw["models"].update(extra)
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_settings_resolve_the_calendar_and_the_models_covariates(log_path):
    settings = resolve(parse_config(config(log_path)))
    dynamic = settings.data.dynamic
    assert dynamic.calendar == CALENDAR and dynamic.source is None
    assert dynamic.horizon == 26.0
    assert dynamic.names == ["high_season"]
    assert settings.plan("paretonbd").estimator_kwargs()["dynamic_covariates"] == {
        "purchase": ["high_season"]
    }


@pytest.fixture(scope="module")
def run_folder(log_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "folder"
    path = out.parent / "run.yaml"
    path.write_text(yaml.safe_dump(config(log_path, out)))
    assert main(["fit", str(path), "--quiet"]) == 0
    return out


def test_run_writes_the_dynamic_models_predictions_and_manifest(run_folder):
    predictions = pd.read_csv(run_folder / "predictions.csv")
    for column in ("p_alive", "expected_purchases", "dect", "expected_spend", "clv"):
        assert predictions[column].notna().all(), column
    assert "dert" not in predictions  # DECT: it depends on the future covariates
    assert (predictions["clv_lower"] <= predictions["clv"] + 1e-9).all()
    assert (predictions["clv"] <= predictions["clv_upper"] + 1e-9).all()
    manifest = json.loads((run_folder / "manifest.json").read_text())
    record = manifest["data"]["dynamic_covariates"]
    assert record["calendar"] == CALENDAR and record["covariates"] == ["high_season"]
    assert record["horizon"] == 39.0  # the holdout (39 weeks) is longer than the CLV horizon
    assert "paretonbd+gamma_gamma" in manifest["evaluation"]["not_available"]
    effects = pd.read_csv(run_folder / "covariate_effects.csv")
    assert list(effects["coefficient"]) == ["purchase:high_season"]
    evaluation = pd.read_csv(run_folder / "evaluation.csv")
    row = evaluation.loc[evaluation["model"] == "paretonbd+gamma_gamma"].iloc[0]
    assert row[["mae_purchases", "auc_alive"]].notna().all()


def test_cli_predict_needs_the_future_covariates(run_folder, log_path, tmp_path, capsys):
    model = run_folder / "models" / "paretonbd.json"
    summary = run_folder / "summary.csv"
    out = tmp_path / "scores.csv"
    assert main(["predict", str(model), str(summary), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "give --transactions LOG" in err and "--calendar FILE" in err
    calendar = tmp_path / "calendar.yaml"
    calendar.write_text(yaml.safe_dump(CALENDAR))
    args = ["predict", str(model), str(summary), "--out", str(out), "--horizon", "26"]
    args += ["--transactions", str(log_path), "--calibration-end", "1997-09-30"]
    assert main([*args, "--calendar", str(calendar)]) == 0
    written = pd.read_csv(run_folder / "predictions.csv").set_index("customer_id")
    scores = pd.read_csv(out).set_index("customer_id")
    assert len(scores) == len(written)
    pd.testing.assert_series_equal(
        scores["dect"].sort_index(), written["dect"].sort_index(), check_exact=False, rtol=1e-9
    )


def _promo_table(tmp_path, column="promo"):
    """Weekly covariate table for 1997 (ends 1998-01-07, 99 days after 1997-09-30)."""
    weeks = pd.date_range("1997-01-01", "1997-12-31", freq="7D")
    table = pd.DataFrame({"period_start": weeks.strftime("%Y-%m-%d"), column: 0.0})
    table.loc[table.index % 5 == 0, column] = 1.0
    source = tmp_path / f"{column}.csv"
    table.to_csv(source, index=False)
    return source


def test_a_covariate_table_ending_before_the_horizon_is_refused(log_path, tmp_path):
    source = _promo_table(tmp_path)
    raw = config(
        log_path,
        data__dynamic_covariates={"source": str(source)},
        models__paretonbd__dynamic_covariates={"purchase": ["promo"]},
    )
    settings = resolve(parse_config(raw))
    # the holdout, 1997-09-30 to 1998-06-30, is 273 days: into the week of 1998-06-24
    with pytest.raises(DataError) as err:
        execute(settings)
    assert str(err.value) == (
        f"data.dynamic_covariates.source {source}: the holdout (39 W, longer than "
        "clv.horizon 26) ends 273 days after the calibration end 1997-09-30, at the start "
        "of 1998-06-30 (in the period starting 1998-06-24), but the covariates end 99 days "
        "after it, at the start of 1998-01-07 (their last period starts 1997-12-31); give "
        "covariate values up to the period starting 1998-06-24, or a horizon of at most "
        "14.1429 W"
    )
    wrong = copy.deepcopy(raw)
    wrong["models"]["paretonbd"]["dynamic_covariates"] = {"purchase": ["price"]}
    with pytest.raises(
        ConfigError,
        match="models.paretonbd.dynamic_covariates.purchase: 'price' is not a dynamic "
        r"covariate of the data \(covariates: promo\)",
    ):
        execute(resolve(parse_config(wrong)))


def test_a_covariate_in_the_table_and_the_calendar_names_both(log_path, tmp_path):
    source = _promo_table(tmp_path, "high_season")
    raw = config(log_path, data__dynamic_covariates={"source": str(source), "calendar": CALENDAR})
    with pytest.raises(DataError) as err:
        execute(resolve(parse_config(raw)))
    assert str(err.value) == (
        "data.dynamic_covariates.calendar: covariate 'high_season' is also in "
        f"{source}; give each covariate in one table"
    )


@pytest.fixture
def predict_args(run_folder, log_path, tmp_path):
    """``clvmodels predict`` of the run's Pareto/NBD with the calendar, but no horizon."""
    calendar = tmp_path / "calendar.yaml"
    calendar.write_text(yaml.safe_dump(CALENDAR))
    model = run_folder / "models" / "paretonbd.json"
    args = ["predict", str(model), str(run_folder / "summary.csv")]
    args += ["--out", str(tmp_path / "scores.csv"), "--overwrite"]
    return [*args, "--transactions", str(log_path), "--calendar", str(calendar)]


def test_cli_predict_reads_the_calibration_end_from_the_summary(run_folder, predict_args):
    # summary.csv's first_purchase + T is 1997-09-30 for every customer: no flag needed
    assert main([*predict_args, "--horizon", "26"]) == 0
    written = pd.read_csv(run_folder / "predictions.csv").set_index("customer_id")
    scores = pd.read_csv(predict_args[4]).set_index("customer_id")
    pd.testing.assert_series_equal(
        scores["dect"].sort_index(), written["dect"].sort_index(), check_exact=False, rtol=1e-9
    )


def _error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err.removeprefix("error: ")


def test_cli_predict_errors_point_at_the_flag(run_folder, log_path, predict_args, tmp_path, capsys):
    summary = pd.read_csv(run_folder / "summary.csv")
    assert main([*predict_args, "--calibration-end", "1997-12-31"]) == 2
    assert _error(capsys) == (
        f"{run_folder / 'summary.csv'}: customer 18 has T 38.4286 W, but 51.5714 from her "
        f"first purchase in {log_path} to the calibration end 1997-12-31 (--calibration-end); "
        "pass --calibration-end with DATA's calibration end (a run's split.calibration_end)"
    )
    assert main([*predict_args, "--horizon", "lifetime"]) == 2
    assert _error(capsys) == (
        "--horizon: a lifetime horizon needs covariate values for ever; with time-varying "
        "covariates give a number of time units covered by them"
    )
    assert main([*predict_args, "--horizon", "5200000"]) == 2
    assert _error(capsys).startswith("--horizon: 5200000 W after the calibration end 1997-09-30")
    no_ids = tmp_path / "no_ids.csv"
    summary.drop(columns="customer_id").to_csv(no_ids, index=False)
    assert main([*predict_args[:2], str(no_ids), *predict_args[3:]]) == 2
    assert _error(capsys).startswith(f"{no_ids}: no customer_id column; ")
    table = _promo_table(tmp_path, "high_season")
    args = [*predict_args[:-2], "--dynamic-covariates", str(table)]
    assert main(args) == 2
    assert _error(capsys).startswith(
        f"--dynamic-covariates {table}: --horizon (default one year) 52.1786 W ends 365.25 "
        "days after the calibration end 1997-09-30, during 1998-09-30"
    )


@pytest.mark.filterwarnings("ignore::clvmodels.backends.bayes.ConvergenceWarning")
def test_a_bayesian_dynamic_model_runs_from_the_config(log_path, tmp_path):
    """``backend: bayes`` with sampler keys reaches NUTS on the time-varying likelihood,
    and the run values the customers with the posterior draws."""
    raw = config(
        log_path,
        tmp_path / "bayes",
        models__paretonbd__backend="bayes",
        models__paretonbd__draws=40,
        models__paretonbd__tune=40,
        models__paretonbd__chains=2,
        models__paretonbd__ess_floor=10,
    )
    result = execute(resolve(parse_config(raw)))
    fit = result.fitted["paretonbd"].result_
    assert fit.backend == "bayes" and fit.dynamic_covariates == {"purchase": ["high_season"]}
    assert fit.diagnostics["draws_shape"] == [2, 40]
    table = result.tables["predictions"]
    assert (table["clv_lower"] <= table["clv_upper"]).all() and "dect" in table
