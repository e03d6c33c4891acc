"""Covariates from the config to the run folder: ``data.covariates``,
``models.<key>.covariates``, ``clv.counterfactuals``.

Expected values: the true effects the synthetic ``builtin:loyalty_store`` was simulated
with (``clvmodels.data.builtin.LOYALTY_STORE_TRUTH``), and the run's own tables.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clvmodels.config import parse_config
from clvmodels.data.builtin import LOYALTY_STORE_TRUTH
from clvmodels.errors import ConfigError, DataError
from clvmodels.run import execute, resolve, write_run
from clvmodels.run.fit import fit_models
from clvmodels.run.prepare import prepare_data
from clvmodels.run.settings import model_covariates
from clvmodels.run.tables import counterfactuals

BASE = {
    "name": "loyalty_test",
    "data": {
        "source": "builtin:loyalty_store",
        "time_unit": "W",
        "covariates": {
            "source": "builtin:loyalty_store_customers",
            "columns": ["loyalty_member", "channel"],
        },
    },
    "split": {"calibration_end": "2024-12-29", "observation_end": "2025-06-29"},
    "models": {
        "bgnbd": {
            "covariates": {"purchase": ["loyalty_member", "channel"], "dropout": ["loyalty_member"]}
        },
        "gamma_gamma": {"covariates": {"spend": ["loyalty_member"]}},
    },
    "clv": {"draws": 40},
}


def _config(**changes):
    raw = json.loads(json.dumps(BASE))
    for path, value in changes.items():
        node = raw
        keys = path.split(".")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
    return parse_config(raw, source="test.yaml")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    config = _config()
    result = execute(resolve(config))
    folder = write_run(result, tmp_path_factory.mktemp("runs") / "loyalty")
    return result, folder


def test_loyalty_run_writes_effects_lift_and_counterfactual_columns(run):
    _, folder = run
    effects = pd.read_csv(folder / "covariate_effects.csv")
    assert set(effects["coefficient"]) == {
        "alpha:loyalty_member",
        "alpha:channel[store]",
        "alpha:channel[web]",
        "a:loyalty_member",
        "b:loyalty_member",
        "gamma:loyalty_member",
    }
    lift = pd.read_csv(folder / "covariate_lift.csv")
    assert list(lift["group"]) == ["all", "with", "without"]
    assert (lift["covariate"] == "loyalty_member").all()
    assert {"lift", "lift_lower", "lift_upper", "relative_lift"} <= set(lift.columns)
    predictions = pd.read_csv(folder / "predictions.csv")
    for column in ("loyalty_member", "channel", "clv_loyalty_member_on", "clv_loyalty_member_off"):
        assert column in predictions.columns
    members = predictions["loyalty_member"].astype(str).str.lower() == "true"
    # equal up to the last digits: values are interpolated along T per frequency over
    # the customers valued together (clvmodels.clv.arrays.smooth_in_time)
    np.testing.assert_allclose(
        predictions.loc[members, "clv"],
        predictions.loc[members, "clv_loyalty_member_on"],
        rtol=1e-12,
    )
    assert (folder / "plots" / "covariate_effects.png").exists()
    assert (folder / "plots" / "covariate_lift.png").exists()
    html = (folder / "report.html").read_text()
    assert "Covariates: what customer attributes do" in html
    assert "Counterfactual CLV" in html
    saved = json.loads((folder / "models" / "bgnbd.json").read_text())
    assert saved["covariate_encoding"]["reference"] == {"channel": "app"}
    # the challenger learns from the covariates too (a categorical one as categories)
    evaluation = pd.read_csv(folder / "evaluation.csv").set_index("model")
    assert np.isfinite(evaluation.loc["gbm_challenger", "log_score_purchases"])


def test_loyalty_run_finds_the_simulated_member_effects_within_three_standard_errors(run):
    result, _ = run
    for key in ("bgnbd", "gamma_gamma"):
        fit = result.fitted[key].result_
        for name in fit.coefficients:
            if name.endswith("loyalty_member"):
                truth = LOYALTY_STORE_TRUTH[key][name]
                assert abs(fit.params[name] - truth) < 3 * fit.std_err[name], name


def test_every_covariate_on_every_process_when_a_model_names_none():
    config = _config(**{"models.bgnbd.covariates": None})
    assert model_covariates(config, "bgnbd") == {
        "purchase": ["loyalty_member", "channel"],
        "dropout": ["loyalty_member", "channel"],
    }
    assert model_covariates(_config(**{"models.bgnbd.covariates": {}}), "bgnbd") == {}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"models.bgnbd.covariates": {"spend": ["loyalty_member"]}},
            r"models\.bgnbd\.covariates\.spend: bgnbd has no such process",
        ),
        (
            {"models.bgnbd.covariates": {"purchase": ["age"]}},
            r"models\.bgnbd\.covariates\.purchase: 'age' is not one of data\.covariates\.columns",
        ),
        (
            {"data.covariates": None},
            r"models\.bgnbd\.covariates: needs a customer table under data\.covariates",
        ),
        ({"models.bgbb": {}}, r"models\.bgbb: the BG/BB takes no covariates"),
        (
            {"data.covariates.reference": {"region": "north"}},
            r"data\.covariates\.reference\.region: not one of data\.covariates\.columns",
        ),
        ({"data.covariates.columns": []}, r"data\.covariates\.columns: list at least one"),
        ({"clv.counterfactuals": ["age"]}, r"clv\.counterfactuals: 'age' is not one of"),
    ],
)
def test_bad_covariate_config_is_a_one_line_error_naming_the_key(changes, message):
    with pytest.raises(ConfigError, match=message):
        _config(**changes)


def test_a_categorical_counterfactual_is_refused_when_the_run_reaches_it():
    config = _config(**{"clv.counterfactuals": ["channel"], "split": None})
    settings = resolve(config)
    prepared = prepare_data(settings.data)
    fitted = fit_models(settings.models, prepared)
    with pytest.raises(ConfigError, match="'channel' is not a binary covariate of bgnbd"):
        counterfactuals(settings, prepared, fitted, "bgnbd")


def test_covariate_table_problems_name_the_file(tmp_path):
    table = pd.DataFrame(
        {"customer_id": [1, 2], "loyalty_member": ["true", "false"], "channel": ["web", "app"]}
    )
    path = tmp_path / "customers.csv"
    table.to_csv(path, index=False)
    config = _config(**{"data.covariates.source": str(path)})
    with pytest.raises(DataError, match=r"customers\.csv: 9998 customers have no row"):
        prepare_data(resolve(config).data)
    clash = tmp_path / "clash.csv"
    table.rename(columns={"channel": "frequency"}).to_csv(clash, index=False)
    config = _config(
        **{
            "data.covariates.source": str(clash),
            "data.covariates.columns": ["loyalty_member", "frequency"],
            "models.bgnbd.covariates": None,
            "models.gamma_gamma.covariates": None,
        }
    )
    with pytest.raises(DataError, match="'frequency' has the name of a summary column"):
        prepare_data(resolve(config).data)


def test_subscriptions_with_a_churn_covariate_value_each_plan_with_its_own_curve(tmp_path):
    import math

    import numpy as np

    from clvmodels.models import sbg

    rng = np.random.default_rng(8)
    frames = []
    for plan, alpha in (("monthly", 1.0), ("annual", math.exp(-0.7))):  # annual churns less
        sim = sbg.simulate(3000, alpha=alpha, beta=2.0, n_periods=10, rng=rng)
        frames.append(
            pd.DataFrame(
                {
                    "tenure": sim["tenure"].astype(int),
                    "churned": sim["churned"].astype(int),
                    "plan": plan,
                }
            )
        )
    subs = pd.concat(frames, ignore_index=True)
    subs["customer_id"] = np.arange(len(subs))
    subs[["customer_id", "tenure", "churned"]].to_csv(tmp_path / "subs.csv", index=False)
    subs[["customer_id", "plan"]].to_csv(tmp_path / "plans.csv", index=False)
    config = parse_config(
        {
            "name": "subs",
            "data": {
                "source": str(tmp_path / "subs.csv"),
                "kind": "subscriptions",
                "time_unit": "M",
                "columns": {"tenure": "tenure", "churned": "churned"},
                "covariates": {
                    "source": str(tmp_path / "plans.csv"),
                    "columns": ["plan"],
                    "reference": {"plan": "monthly"},
                },
            },
            "split": {"calibration_periods": 6},
            "models": {"sbg": {}},
            "clv": {"draws": 40},
        }
    )
    result = execute(resolve(config))
    fit = result.fitted["sbg:all"].result_
    assert set(fit.coefficients) == {"alpha:plan[annual]", "beta:plan[annual]"}
    effect = fit.params["alpha:plan[annual]"]
    assert abs(effect + 0.7) < 3 * fit.std_err["alpha:plan[annual]"]
    values = result.tables["predictions"]
    assert set(values["plan"]) == {"monthly", "annual"}
    six = values[values["renewals"] == 6].set_index("plan")
    assert six.loc["annual", "clv"] > six.loc["monthly", "clv"]
    assert six["customers"].sum() == (subs["tenure"] >= 6).sum()
    projection = result.tables["survival_projection"]
    holdout = projection[projection["period"] > 6]
    # the mixture of the two plans' curves follows the actual survivors beyond the fit
    assert (holdout["sbg"] / holdout["actual"] - 1).abs().max() < 0.05


def test_bayesian_run_with_covariates_takes_coefficient_priors_from_the_config(tmp_path):
    import warnings

    from clvmodels.backends.bayes import ConvergenceWarning

    bayes = {"backend": "bayes", "chains": 2, "draws": 150, "tune": 150, "seed": 3}
    config = _config(
        **{
            "split": None,
            "models.bgnbd": {
                **bayes,
                "covariates": {"purchase": ["loyalty_member"], "dropout": []},
                "priors": {"alpha:loyalty_member": {"dist": "normal", "mu": 0, "sigma": 0.5}},
            },
            "models.gamma_gamma": {**bayes, "covariates": {"spend": ["loyalty_member"]}},
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains on purpose
        result = execute(resolve(config))
    fit = result.fitted["bgnbd"].result_
    assert fit.coefficients == ("alpha:loyalty_member",)
    assert fit.diagnostics["priors"]["alpha:loyalty_member"]["sigma"] == 0.5
    truth = LOYALTY_STORE_TRUTH["bgnbd"]["alpha:loyalty_member"]
    assert abs(fit.params["alpha:loyalty_member"] - truth) < 3 * fit.std_err["alpha:loyalty_member"]
    lift = result.tables["covariate_lift"].set_index("group")
    assert lift.loc["all", "lift_lower"] < lift.loc["all", "lift"] < lift.loc["all", "lift_upper"]
    predictions = result.tables["predictions"]
    assert {"clv_sd", "clv_loyalty_member_on", "clv_loyalty_member_off"} <= set(predictions)
    folder = write_run(result, tmp_path / "bayes")
    from clvmodels.results import FitResult

    saved = FitResult.load(folder / "models" / "bgnbd.nc")
    assert saved.coefficients == fit.coefficients
    assert saved.covariate_encoding == fit.covariate_encoding
