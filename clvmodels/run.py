"""The main job: one configured run, from the data to a folder of results.

``execute(config)`` runs the steps in order — load and summarise the data, fit every
configured model, evaluate them against the seed baselines on the holdout, refit on
the whole window if configured, predict every customer, draw the plots — and
:class:`RunFolder` writes the results so that a failed or interrupted run never leaves
a half-written folder and never damages the previous good run: everything is written
into a temporary sibling folder, which replaces the old one only once complete.

Run folder (``output.dir``, default ``reports/<name>``)::

    predictions.csv[, predictions.parquet]   per customer (see README "Outputs")
    summary.csv                              the per-customer summary (cohort table for sBG)
    params.json                              every fitted model
    evaluation.csv, conditional_expectations.csv, tracking.csv     (with a split)
    survival_projection.csv                  (sBG with calibration periods)
    config.yaml                              the resolved configuration
    models/<key>.json|.nc                    fitted models (for ``clvmodels predict``; netCDF
                                             with posterior draws for Bayesian fits)
    manifest.json                            version, time, input fingerprint, steps, counts
    plots/*.png                              see :mod:`clvmodels.plots`
    report.html                              see :mod:`clvmodels.report`
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from clvmodels import __version__, clv, forecast
from clvmodels.config import RunConfig
from clvmodels.estimators import Estimator
from clvmodels.pipeline import PreparedData, fit_models, params_payload, prepare_data


@dataclass
class RunResult:
    """Everything a run produced, before it is written."""

    config: RunConfig
    prepared: PreparedData
    fitted: dict[str, Estimator]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    verdict: str | None = None
    seed_metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    refit: dict[str, Estimator] | None = None
    distributed: Any = None  # data.engine spark: clvmodels.spark.pipeline.DistributedOutputs


Step = Callable[[str, Callable[[], Any]], Any]


def _plain_step(name: str, fn: Callable[[], Any]) -> Any:
    return fn()


def execute(config: RunConfig, step: Step = _plain_step, progress: bool = False) -> RunResult:
    """Run every step of a configured run; ``step(name, fn)`` wraps each (progress)."""
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        value = step(name, fn)
        timings[name] = round(time.perf_counter() - started, 3)
        return value

    prepared = timed("load and summarize data", lambda: prepare_data(config))
    fitted = timed(
        f"fit {', '.join(config.models)}", lambda: fit_models(config, prepared, progress)
    )
    result = RunResult(config, prepared, fitted, payload=params_payload(fitted), timings=timings)
    if prepared.summary is not None and "revenue" in prepared.summary.columns:
        from clvmodels.pipeline import seed_metrics_for

        result.seed_metrics = {k: float(v) for k, v in seed_metrics_for(config, prepared).items()}
    if any(key.startswith("sbg") for key in fitted):
        sub = timed(
            "value cohorts and project survival",
            lambda: forecast.subscription_tables(config, prepared, fitted),
        )
        result.tables["predictions"] = sub["predictions"]
        if "evaluation" in sub:
            result.tables["evaluation"] = sub["evaluation"]
            result.tables["survival_projection"] = sub["projection"]
        return result
    if not any(key in clv.PURCHASE_KEYS for key in fitted):
        return result
    predict_from = (prepared, fitted)
    if forecast.has_holdout(prepared):
        evaluation = timed(
            "evaluate on the holdout", lambda: forecast.evaluate(config, prepared, fitted)
        )
        result.tables["evaluation"] = evaluation.table
        result.tables["conditional_expectations"] = (
            evaluation.conditional_expectations.reset_index()
        )
        if evaluation.tracking is not None:
            result.tables["tracking"] = evaluation.tracking
        result.verdict = evaluation.verdict
        if config.split.refit:
            whole = dataclasses.replace(
                config, split=dataclasses.replace(config.split, calibration_end=None)
            )
            prepared_all = timed("summarize the whole window", lambda: prepare_data(whole))
            refit = timed("refit on the whole window", lambda: fit_models(whole, prepared_all))
            result.refit = refit
            result.payload = {
                **result.payload,
                **{f"{k}@whole_window": v for k, v in params_payload(refit).items()},
            }
            predict_from = (prepared_all, refit)
    summary = prepared.summary
    for key, estimator in fitted.items():
        draws = estimator.result_.draws
        if draws is not None and key in ("bgnbd", "paretonbd", "mbgnbd") and summary is not None:
            from clvmodels import evaluation as ev

            result.tables[f"ppc_{key}"] = timed(
                f"posterior predictive check {key}",
                lambda d=draws, k=key, e=estimator: ev.posterior_predictive_counts(
                    k,
                    d,
                    summary["T"].to_numpy(float),
                    summary["frequency"].to_numpy(),
                    np.random.default_rng(config.clv.seed),
                    design=_design_columns(e, summary),
                ),
            )
    effects = forecast.covariate_effects(predict_from[1])
    extra = None
    if effects is not None:
        result.tables["covariate_effects"] = effects
        what_if = timed(
            "counterfactual CLV per binary covariate",
            lambda: forecast.counterfactuals(config, *predict_from),
        )
        if what_if is not None:
            result.tables["covariate_lift"] = what_if.lift
            extra = what_if.per_customer
    sampled = predict_from[0].distributed is not None
    result.tables["predictions"] = timed(
        "predict the sample's customers" if sampled else "predict every customer",
        lambda: forecast.predictions_table(config, predict_from[0], predict_from[1], extra),
    )
    if sampled:  # every customer, scored when written
        from clvmodels.spark.pipeline import score_run

        result.distributed = score_run(config, predict_from[0].distributed, predict_from[1])
    return result


def _design_columns(estimator: Estimator, summary: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """The covariate design columns of every customer (``None`` without covariates)."""
    if not estimator.has_covariates:
        return None
    design = estimator.design(summary)
    return dict(zip(design.names, design.matrix.T, strict=True))


class RunFolder:
    """Writes a run folder atomically.

    Files go to a hidden temporary folder next to ``path``; :meth:`commit` moves the
    previous folder aside, moves the new one in and deletes the old one.  If the
    process dies before the commit, the temporary folder is left (hidden, removed by the
    next run) and ``path`` is untouched; a previous folder left aside by a crash during
    the two renames is put back by the next run.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._recover()
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.tmp-", dir=self.path.parent))

    def _recover(self) -> None:
        parent, name = self.path.parent, self.path.name
        old = sorted(parent.glob(f".{name}.old-*"))
        if old and not self.path.exists():
            old[-1].rename(self.path)
            old = old[:-1]
        for stale in [*old, *parent.glob(f".{name}.tmp-*")]:
            shutil.rmtree(stale, ignore_errors=True)

    def file(self, relative: str) -> Path:
        """Path of a file inside the (temporary) folder, its parent created."""
        target = self.tmp / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def commit(self) -> Path:
        """Replace ``path`` by the completed folder."""
        os.chmod(self.tmp, 0o755)
        aside = None
        if self.path.exists():
            aside = self.path.parent / f".{self.path.name}.old-{os.getpid()}-{time.time_ns()}"
            self.path.rename(aside)
        self.tmp.rename(self.path)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        """Remove the temporary folder (the previous run stays as it was)."""
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_run(result: RunResult, out: str | Path, plots: bool = True) -> Path:
    """Write every file of the run folder atomically; returns the folder."""
    from clvmodels import plots as plotting
    from clvmodels import report

    config = result.config
    folder = RunFolder(out)
    try:
        folder.file("params.json").write_text(json.dumps(result.payload, indent=2))
        prepared = result.prepared
        # with Spark, summary and predictions of every customer are Parquet datasets
        # written by Spark; the CSVs hold the driver's sample
        sampled = {"summary", "predictions"} if result.distributed is not None else set()
        table = prepared.summary if prepared.summary is not None else prepared.survival_table
        if table is not None:
            table.to_csv(folder.file(_csv_name("summary", sampled)), index=False)
        for name, table in result.tables.items():
            table.to_csv(folder.file(_csv_name(name, sampled)), index=False)
        if result.distributed is not None:
            result.timings.update(result.distributed.write(folder.tmp))
        elif "parquet" in config.output.formats and "predictions" in result.tables:
            result.tables["predictions"].to_parquet(folder.file("predictions.parquet"), index=False)
        for name, estimator in (result.refit or result.fitted).items():
            suffix = ".nc" if estimator.result_.draws is not None else ".json"
            estimator.save(folder.file(f"models/{name.replace(':', '-')}{suffix}"))
        folder.file("config.yaml").write_text(
            yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True)
        )
        if plots:
            started = time.perf_counter()
            plotting.draw_run(result, folder.tmp / "plots")
            result.timings["plots"] = round(time.perf_counter() - started, 3)
        folder.file("manifest.json").write_text(json.dumps(manifest(result), indent=2))
        report.write_report(folder.tmp)
    except BaseException:
        folder.abort()
        raise
    return folder.commit()


def _csv_name(name: str, sampled: set[str]) -> str:
    return f"{name}_sample.csv" if name in sampled else f"{name}.csv"


def manifest(result: RunResult) -> dict[str, Any]:
    """``manifest.json``: what ran, on what, how long each step took, what was dropped."""
    prepared = result.prepared
    meta = {k: v for k, v in prepared.meta.items() if k != "repeat_transactions_per_day"}
    return {
        "clvmodels_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "name": result.config.name,
        "input": {**_input_record(prepared), "engine": result.config.data.engine},
        "data": meta,
        "models": {
            name: {"backend": est.result_.backend, "data_fingerprint": est.result_.data_fingerprint}
            for name, est in result.fitted.items()
        },
        "seed_metrics": result.seed_metrics,
        "verdict": result.verdict,
        "steps_seconds": result.timings,
    }


def _input_record(prepared: PreparedData) -> dict[str, Any]:
    """``manifest.json`` ``input``: source, kind, fingerprint (and the query for SQL)."""
    if prepared.input:  # SQL: masked URL, the query, the fingerprint of the rows read
        return {"kind": prepared.kind, **prepared.input}
    return {
        "source": prepared.source,
        "kind": prepared.kind,
        "fingerprint": input_fingerprint(prepared.source),
    }


def input_fingerprint(source: str) -> str:
    """SHA-256 (16 hex digits) of every byte of the input: the built-in file, the file,
    or every data file of a Parquet dataset folder (the files the summary reads, see
    :func:`clvmodels.data.sources.parquet_dataset_files`), each preceded by its path
    relative to the folder and its size, in path order.

    Hashing runs at about 1 GB/s (a 10^8-row dataset of 0.8 GB: 1 s), so every byte is
    hashed rather than only the Parquet footers.

    A SQL source is fingerprinted while its rows are loaded
    (:func:`clvmodels.data.sql.rows_fingerprint`: masked URL, query text and an
    order-independent hash of the rows) and recorded in ``PreparedData.input``.
    """
    from importlib import resources

    from clvmodels.data.builtin import get_builtin
    from clvmodels.data.parquet import parquet_dataset_files

    if source.startswith("builtin:"):
        name = get_builtin(source.removeprefix("builtin:")).filename
        root = Path(str(resources.files("clvmodels.data") / "files"))
        paths = [root / name]
    else:
        path = Path(source)
        root = path if path.is_dir() else path.parent
        paths = parquet_dataset_files(path) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.stat().st_size.to_bytes(8, "little"))
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
