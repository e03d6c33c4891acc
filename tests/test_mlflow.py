"""Optional MLflow tracking (``output.mlflow``, clvmodels.run.tracking), against a local
file store read back with MLflow's own client."""

from __future__ import annotations

import json
import sys

import pytest
import yaml
from runs import REPO

from clvmodels.cli import main
from clvmodels.config import parse_config
from clvmodels.errors import ConfigError
from clvmodels.run.tracking import flat_params, log_run, metric_name

MlflowClient = pytest.importorskip("mlflow.tracking").MlflowClient


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A local file store; MLflow >= 3.7 refuses one unless MLFLOW_ALLOW_FILE_STORE is set
    (it prefers a database), MLflow 2 ignores the variable."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return (tmp_path / "mlruns").as_uri()


def _artifacts(client, run_id, path=None):
    found = []
    for item in client.list_artifacts(run_id, path):
        found += _artifacts(client, run_id, item.path) if item.is_dir else [item.path]
    return found


def test_cdnow_run_folder_is_logged_with_config_parameters_evaluation_and_files(cdnow_run, store):
    run_id = log_run(cdnow_run, store, "clvmodels-tests")
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "clvmodels-tests"
    config = yaml.safe_load((cdnow_run / "config.yaml").read_text())
    params = run.data.params
    assert params["name"] == config["name"] == "cdnow"
    assert params["data.source"] == "builtin:cdnow_sample"
    assert float(params["clv.discount_rate"]) == config["clv"]["discount_rate"]
    assert params["output.formats"] == json.dumps(config["output"]["formats"])
    fitted = json.loads((cdnow_run / "params.json").read_text())["models"]["bgnbd"]
    metrics = run.data.metrics
    for name, estimate in fitted["params"].items():
        lower, upper = fitted["interval"][name]
        assert metrics[f"bgnbd/{name}/estimate"] == pytest.approx(estimate)
        assert metrics[f"bgnbd/{name}/lower"] == pytest.approx(lower)
        assert metrics[f"bgnbd/{name}/upper"] == pytest.approx(upper)
        assert lower < estimate < upper
    assert metrics["bgnbd/log_likelihood"] == pytest.approx(fitted["log_likelihood"])
    evaluation = [k for k in metrics if k.startswith("evaluation/")]
    assert "evaluation/bgnbd-gamma_gamma/rmse_revenue" in evaluation
    assert any(k.startswith("evaluation/seed_segment/") for k in evaluation)
    files = set(_artifacts(client, run_id))
    written = set(json.loads((cdnow_run / "manifest.json").read_text())["files"])
    assert {"config.yaml", "params.json", "evaluation.csv", "report.html"} <= files
    assert written <= files
    assert run.data.tags["clvmodels.name"] == "cdnow"


def test_fit_with_output_mlflow_logs_the_run_and_stays_quiet(tmp_path, store, capfd):
    config = yaml.safe_load((REPO / "configs/retention.yaml").read_text())
    config["output"] = {"mlflow": {"tracking_uri": store}}
    path = tmp_path / "retention.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["fit", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    out, err = capfd.readouterr()
    assert "logged to MLflow: experiment retention, run " in out
    assert "mlflow" not in err.lower()
    assert len(out.splitlines()) < 20
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("retention").experiment_id])
    assert {"sbg:regular/alpha/estimate", "sbg:high_end/beta/upper"} <= set(run.data.metrics)
    assert run.data.params["data.kind"] == "survival"
    assert "config.yaml" in set(_artifacts(client, run.info.run_id))


def test_output_mlflow_without_mlflow_installed_is_a_one_line_error_before_any_fit(
    monkeypatch,
):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    raw = {
        "name": "x",
        "data": {"source": "builtin:cdnow_sample"},
        "output": {"mlflow": {"tracking_uri": "file:///tmp/mlruns"}},
    }
    with pytest.raises(ConfigError, match=r"pip install clvmodels\[mlflow\]") as error:
        parse_config(raw)
    assert "output.mlflow" in str(error.value) and "\n" not in str(error.value)


def test_output_mlflow_keys_are_checked():
    raw = {"name": "x", "data": {"source": "builtin:cdnow_sample"}}
    with pytest.raises(ConfigError, match=r"output\.mlflow\.experiment: empty"):
        parse_config({**raw, "output": {"mlflow": {"experiment": " "}}})
    with pytest.raises(ConfigError, match=r"output\.mlflow\.uri: unknown key"):
        parse_config({**raw, "output": {"mlflow": {"uri": "file:///tmp/x"}}})
    assert parse_config(raw).output.mlflow is None


def test_a_refused_store_is_a_one_line_error_naming_the_key(tmp_path, monkeypatch):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("name: x\n")
    (tmp_path / "run" / "manifest.json").write_text("{}")
    (tmp_path / "run" / "params.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"^output\.mlflow: could not log the run") as error:
        log_run(tmp_path / "run", "nosuchscheme://nowhere", "x")
    assert "\n" not in str(error.value)


def test_names_mlflow_refuses_are_rewritten():
    assert metric_name("bgnbd", "alpha:channel[web]", "lower") == "bgnbd/alpha:channel.web/lower"
    assert metric_name("bgnbd+gamma_gamma", "mae") == "bgnbd-gamma_gamma/mae"
    assert metric_name("evaluation", "seed (segment)", "mae") == "evaluation/seed _segment_/mae"
    assert flat_params({"a": {"b": [1, 2], "c": None, "d": {}}}) == {
        "a.b": "[1, 2]",
        "a.c": "null",
        "a.d": "{}",
    }
