"""Optional run tracking with MLflow (``output.mlflow`` in the run configuration).

After ``clvmodels fit`` has written its run folder, :func:`log_run` logs it as one MLflow
run, read back from the folder so that MLflow holds what the folder holds:

* **params**: the resolved configuration (``config.yaml``) flattened to dotted keys
  (``clv.discount_rate``, ``models.bgnbd.backend``);
* **metrics**: every fitted parameter with its interval (``params.json``:
  ``<model>/<parameter>/estimate``, ``/lower``, ``/upper``), each model's
  ``log_likelihood``, ``aic`` and ``bic``, and the holdout evaluation (``evaluation.csv``,
  model × metric: ``evaluation/<model>/<metric>``);
* **tags**: the clvmodels version, the run's name and folder and the purchase model
  that values the customers (``manifest.json``);
* **artifacts**: every file of the run folder (``config.yaml``, ``report.html``, ...).

MLflow is an optional dependency (``pip install clvmodels[mlflow]``), imported here on
first use; the configuration check refuses ``output.mlflow`` without it before anything
is fitted.  MLflow's names allow letters, digits, spaces and ``_ - . : /`` only, so a
covariate level ``alpha:channel[web]`` is logged as ``alpha:channel.web`` and the
evaluated pair ``bgnbd+gamma_gamma`` as ``bgnbd-gamma_gamma``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from clvmodels.errors import ConfigError
from clvmodels.run.write import SELECTION

MAX_PARAM_CHARS = 6000
"""Longest parameter value MLflow (>= 2.10) stores; longer values are cut to it."""

BATCH = 100
"""Entries per ``log_batch`` call (MLflow takes at most 100 params per call)."""


def log_run(folder: str | Path, tracking_uri: str | None, experiment: str) -> str:
    """Log the run folder ``folder`` as one MLflow run of ``experiment`` (created if
    missing) at ``tracking_uri`` (``None``: MLflow's default); returns the run id.

    Raises
    ------
    ConfigError
        MLflow is not installed, or the store refused the run (one line naming
        ``output.mlflow`` and what MLflow said; the run folder stays written).
    """
    folder = Path(folder)
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ConfigError(
            "output.mlflow: MLflow is not installed; pip install clvmodels[mlflow]"
        ) from None
    record = _run_record(folder)
    stamp = int(time.time() * 1000)
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)  # MLflow's own info lines stay out of the CLI output
    run_id = None
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        run_id = client.create_run(experiment_id, run_name=folder.name).info.run_id
        params = [Param(k, v) for k, v in record["params"].items()]
        metrics = [Metric(k, v, stamp, 0) for k, v in record["metrics"].items()]
        tags = [RunTag(k, v) for k, v in record["tags"].items()]
        for chunk in _chunks([*params, *metrics, *tags]):
            client.log_batch(
                run_id,
                metrics=[e for e in chunk if isinstance(e, Metric)],
                params=[e for e in chunk if isinstance(e, Param)],
                tags=[e for e in chunk if isinstance(e, RunTag)],
            )
        client.log_artifacts(run_id, str(folder))
        client.set_terminated(run_id)
    except Exception as exc:  # MLflow's errors (store, server, names): one line
        if run_id is not None:
            _fail_quietly(client, run_id)
        where = tracking_uri or "MLflow's default tracking URI"
        message = " ".join(str(exc).split())
        raise ConfigError(
            f"output.mlflow: could not log the run to {where} ({message}); "
            f"the run folder {folder} is written"
        ) from None
    finally:
        logger.setLevel(level)
    return run_id


def _fail_quietly(client: Any, run_id: str) -> None:
    try:
        client.set_terminated(run_id, "FAILED")
    except Exception:  # the store already failed once; the first error is the one shown
        pass


def _chunks(entries: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(entries), BATCH):
        yield entries[start : start + BATCH]


def _run_record(folder: Path) -> dict[str, dict[str, Any]]:
    """Params, metrics and tags of the run folder ``folder`` (the module docstring)."""
    config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")) or {}
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    metrics = parameter_metrics(json.loads((folder / "params.json").read_text("utf-8")))
    evaluation = folder / "evaluation.csv"
    if evaluation.exists():
        metrics.update(evaluation_metrics(pd.read_csv(evaluation)))
    selection = manifest.get(SELECTION) or {}
    tags = {
        "clvmodels.version": str(manifest.get("clvmodels_version")),
        "clvmodels.run_folder": str(folder.resolve()),
        "clvmodels.name": str(manifest.get("name")),
    }
    if selection.get("chosen_purchase_model"):
        tags["clvmodels.purchase_model"] = str(selection["chosen_purchase_model"])
    return {"params": flat_params(config), "metrics": metrics, "tags": tags}


def metric_name(*parts: str) -> str:
    """An MLflow metric name of ``parts`` joined by ``/``: ``[level]`` becomes ``.level``,
    ``+`` (``bgnbd+gamma_gamma``) ``-``, any other character MLflow refuses ``_``."""
    text = "/".join(parts).replace("[", ".").replace("]", "").replace("+", "-")
    return re.sub(r"[^\w\-. :/]", "_", text)


def flat_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """The resolved configuration as MLflow params: nested keys joined by ``.``, lists
    and nulls as JSON (``[csv]``, ``null``), values cut to :data:`MAX_PARAM_CHARS`."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = metric_name(f"{prefix}{key}")
        if isinstance(value, Mapping) and value:
            flat.update(flat_params(value, f"{name}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            flat[name] = text[:MAX_PARAM_CHARS]
    return flat


def parameter_metrics(params: Mapping[str, Any]) -> dict[str, float]:
    """``params.json`` (its ``models``) as metrics: per model and parameter the estimate
    and the interval bounds, and each model's log-likelihood, AIC and BIC (finite values
    only)."""
    metrics: dict[str, float] = {}
    for model, entry in (params.get("models") or {}).items():
        interval = entry.get("interval") or {}
        for name, estimate in (entry.get("params") or {}).items():
            metrics[metric_name(model, name, "estimate")] = estimate
            lower, upper = interval.get(name) or (None, None)
            metrics[metric_name(model, name, "lower")] = lower
            metrics[metric_name(model, name, "upper")] = upper
        for name in ("log_likelihood", "aic", "bic"):
            metrics[metric_name(model, name)] = entry.get(name)
    return _finite(metrics)


def evaluation_metrics(table: pd.DataFrame) -> dict[str, float]:
    """``evaluation.csv`` (one row per model) as ``evaluation/<model>/<metric>``: its
    finite numeric cells."""
    label = "model" if "model" in table.columns else table.columns[0]
    numeric = table.set_index(label).select_dtypes("number")
    metrics = {
        metric_name("evaluation", str(model), str(column)): value
        for model, row in numeric.iterrows()
        for column, value in row.items()
    }
    return _finite(metrics)


def _finite(metrics: Mapping[str, Any]) -> dict[str, float]:
    finite = {}
    for name, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value):
                finite[name] = float(value)
    return finite
