"""Step 4 of a run: the run folder (``output.dir``, default ``reports/<name>``).

:func:`write_run` writes the folder of ``clvmodels fit``::

    predictions.csv[, predictions.parquet]   per customer (docs/guide/outputs.md)
    summary.csv                              the per-customer summary (cohort table for sBG)
    params.json                              every fitted model
    evaluation.csv, conditional_expectations.csv, tracking.csv     (with a split)
    survival_projection.csv                  (sBG with calibration periods)
    config.yaml                              the resolved configuration
    models/<key>.json|.nc                    fitted models (for ``clvmodels predict``; netCDF
                                             with posterior draws for Bayesian fits)
    manifest.json                            version, time, input fingerprint, steps, counts
    plots/*.png                              see :mod:`clvmodels.run.figures`
    report.html                              see :mod:`clvmodels.report`

and :func:`write_summary` that of ``clvmodels summarize``: ``summary.csv`` (with Spark the
dataset ``summary.parquet/`` of every customer) and its ``manifest.json`` (``command:
summarize``).  Everything is written into a temporary folder that replaces the old one
only once complete (:class:`clvmodels.run.folder.RunFolder`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from clvmodels._version import __version__
from clvmodels.data.parquet import parquet_dataset_files
from clvmodels.data.summary import with_ids_first
from clvmodels.progress import SILENT, Progress
from clvmodels.report import write_report
from clvmodels.run.figures import draw_run
from clvmodels.run.folder import COMMAND, MANIFEST, MARKER, RunFolder, written_files
from clvmodels.run.prepared import PreparedData
from clvmodels.run.result import RunResult
from clvmodels.run.settings import RunSettings, local_path
from clvmodels.run.tables import seed_comparison

SELECTION = "selection"
"""The key of ``params.json`` and ``manifest.json`` that says which purchase model
values the customers and how it compares with the best
(:class:`clvmodels.evaluation.selection.ModelChoice`)."""

NEW_CUSTOMER_VALUE = "new_customer_value"
"""The key of ``params.json`` and ``manifest.json`` with the value of a customer
acquired today and the acquisition advice (:func:`new_customer_record`)."""


def valuation_record(settings: RunSettings, predictions: Any = None) -> dict[str, Any]:
    """``manifest.json`` ``valuation``: how the customers were valued (horizon in time
    units, ``None`` for the lifetime; yearly discount rate; margin; interval; price) and
    ``total_clv``, the customers' total with its interval over the parameter draws
    (:func:`clvmodels.clv.values.total_clv`; ``None`` without an interval)."""
    value = settings.value
    attrs = getattr(predictions, "attrs", {})
    return {
        "total_clv": attrs.get("total_clv"),
        "horizon": value.horizon if math.isfinite(value.horizon) else None,
        "time_unit": value.time_unit,
        "discount_rate": value.discount_rate,
        "margin": value.margin,
        "interval": value.interval,
        "price": settings.valuation.price,
        "ltv_cac_ratio": settings.marketing.ltv_cac_ratio,
        "conversion_rate": settings.marketing.conversion_rate,
        "marketing_spend": settings.marketing.marketing_spend,
    }


def write_run(
    result: RunResult, out: str | Path, plots: bool = True, progress: Progress = SILENT
) -> Path:
    """Write every file of the run folder atomically; returns the folder.  The tables
    and models, the plots and the report are each a step of ``progress``."""
    return _staged(out, lambda folder: _write_files(result, folder, plots, progress))


def write_summary(settings: RunSettings, prepared: PreparedData, out: str | Path) -> Path:
    """Write the folder of ``clvmodels summarize`` atomically: the per-customer summary
    (the cohort table for survival data; with Spark the Parquet dataset
    ``summary.parquet/`` of every customer) and ``manifest.json``; returns the folder."""

    def fill(folder: RunFolder) -> None:
        if prepared.distributed is not None:
            prepared.distributed.write(folder.file("summary.parquet"))
        else:
            table = prepared.summary if prepared.summary is not None else prepared.survival_table
            with_ids_first(table).to_csv(folder.file("summary.csv"), index=False)
        record = _manifest_head(settings, prepared, "summarize")
        record["files"] = sorted({*written_files(folder.tmp), MANIFEST})
        folder.file(MANIFEST).write_text(json.dumps(record, indent=2))

    return _staged(out, fill)


def _staged(out: str | Path, fill: Callable[[RunFolder], None]) -> Path:
    """The folder ``out`` written by ``fill`` into a :class:`RunFolder` and put in place
    once complete; nothing changes when ``fill`` fails."""
    folder = RunFolder(out)
    try:
        fill(folder)
    except BaseException:
        folder.abort()
        raise
    return folder.commit()


def params_file(result: RunResult) -> dict[str, Any]:
    """``params.json``: which purchase model values the customers (``None`` for a
    subscription run), why (:meth:`~clvmodels.evaluation.selection.ModelChoice.record`)
    and every fitted model by name."""
    choice = None if result.choice is None else result.choice.record()
    return {
        "chosen_purchase_model": None if choice is None else choice["chosen_purchase_model"],
        SELECTION: choice,
        "models": result.payload,
        NEW_CUSTOMER_VALUE: new_customer_record(result),
    }


def new_customer_record(result: RunResult) -> dict[str, Any]:
    """``new_customer_value``: the value of a customer acquired today under every model
    (``models``) and under the one that values the customers (``chosen``; ``None`` for a
    subscription run, whose cohorts each have their own), with the acquisition advice
    (:mod:`clvmodels.clv.new_customers`)."""
    chosen = None if result.choice is None else result.choice.model
    values = {name: value.record() for name, value in result.new_customers.items()}
    return {
        "chosen_model": chosen if chosen in values else None,
        "chosen": values.get(chosen) if chosen is not None else None,
        "models": values,
        "acquisition": result.acquisition,
    }


def _write_files(result: RunResult, folder: RunFolder, plots: bool, progress: Progress) -> None:
    started = time.perf_counter()
    with progress.step("write the run folder: tables and models"):
        _write_tables(result, folder)
    result.timings["tables and models"] = round(time.perf_counter() - started, 3)
    if plots:
        started = time.perf_counter()
        with progress.step("write the run folder: plots"):
            draw_run(result, folder.tmp / "plots")
        result.timings["plots"] = round(time.perf_counter() - started, 3)
    record = manifest(result)
    record["files"] = sorted({*written_files(folder.tmp), MANIFEST, "report.html"})
    folder.file(MANIFEST).write_text(json.dumps(record, indent=2))
    with progress.step("write the run folder: report"):
        write_report(folder.tmp)


def _write_tables(result: RunResult, folder: RunFolder) -> None:
    """params.json, the tables, the fitted models and config.yaml."""
    folder.file("params.json").write_text(json.dumps(params_file(result), indent=2))
    prepared = result.prepared
    # with Spark, summary and predictions of every customer are Parquet datasets
    # written by Spark; the CSVs hold the driver's sample
    sampled = {"summary", "predictions"} if result.distributed is not None else set()
    table = prepared.summary if prepared.summary is not None else prepared.survival_table
    if table is not None:
        with_ids_first(table).to_csv(folder.file(_csv_name("summary", sampled)), index=False)
    for name, table in result.tables.items():
        table.to_csv(folder.file(_csv_name(name, sampled)), index=False)
    if result.distributed is not None:
        result.timings.update(result.distributed.write(folder.tmp))
    elif "parquet" in result.settings.formats and "predictions" in result.tables:
        predictions = with_ids_first(result.tables["predictions"])
        predictions.to_parquet(folder.file("predictions.parquet"), index=False)
    for name, estimator in result.final.items():
        suffix = ".nc" if estimator.result_.draws is not None else ".json"
        estimator.save(folder.file(f"models/{name.replace(':', '-')}{suffix}"))
    folder.file("config.yaml").write_text(
        yaml.safe_dump(dict(result.settings.record), sort_keys=False, allow_unicode=True)
    )


def _csv_name(name: str, sampled: set[str]) -> str:
    return f"{name}_sample.csv" if name in sampled else f"{name}.csv"


def manifest(result: RunResult) -> dict[str, Any]:
    """``manifest.json``: what ran, on what, how long each step took, what was dropped
    (the run folder's mark, :data:`clvmodels.run.folder.MARKER`; :func:`write_run` adds
    ``files``, every file the run wrote)."""
    return {
        **_manifest_head(result.settings, result.prepared, "fit"),
        "models": {
            name: {"backend": est.result_.backend, "data_fingerprint": est.result_.data_fingerprint}
            for name, est in result.fitted.items()
        },
        "seed_metrics": result.seed_metrics,
        "seed_comparison": _seed_comparison(result),
        "verdict": result.verdict,
        SELECTION: None if result.choice is None else result.choice.record(),
        "evaluation": result.notes,
        "valuation": valuation_record(result.settings, result.tables.get("predictions")),
        NEW_CUSTOMER_VALUE: new_customer_record(result),
        "steps_seconds": result.timings,
    }


def _seed_comparison(result: RunResult) -> dict[str, Any] | None:
    """What the seed formula's columns of ``predictions.csv`` are (None without them)."""
    predictions = result.tables.get("predictions")
    if predictions is None or "baseline_clv_horizon" not in predictions:
        return None
    return seed_comparison(result.settings)


def _manifest_head(settings: RunSettings, prepared: PreparedData, command: str) -> dict[str, Any]:
    """What every ``manifest.json`` starts with: the mark of a run folder, the command
    that wrote it, version, time, name, input and what the data layer recorded."""
    meta = {k: v for k, v in prepared.meta.items() if k != "repeat_transactions_per_day"}
    dynamic = settings.data.dynamic
    if "dynamic_covariates" in meta and dynamic is not None and dynamic.source is not None:
        fingerprint = input_fingerprint(dynamic.source)
        meta["dynamic_covariates"] = {**meta["dynamic_covariates"], "fingerprint": fingerprint}
    return {
        MARKER: 1,
        COMMAND: command,
        "clvmodels_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "name": settings.name,
        "input": {**_input_record(prepared), "engine": settings.data.engine},
        "data": meta,
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
    :func:`clvmodels.data.parquet.parquet_dataset_files`), each preceded by its path
    relative to the folder and its size, in path order.

    Hashing runs at about 1 GB/s (a 10^8-row dataset of 0.8 GB: 1 s), so every byte is
    hashed rather than only the Parquet footers.

    A SQL source is fingerprinted while its rows are loaded
    (:func:`clvmodels.data.sql.rows_fingerprint`: masked URL, query text and an
    order-independent hash of the rows) and recorded in ``PreparedData.input``.
    """
    path = local_path(source)
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
