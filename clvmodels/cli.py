"""Command-line interface: ``clvmodels validate|summarize|fit CONFIG``,
``clvmodels predict MODEL DATA --out FILE`` and ``clvmodels report RUN_DIR``.

Exit status 0 on success, 2 on bad input or configuration (one line on stderr
starting ``error:``), 1 on internal errors.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import warnings
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from clvmodels._version import __version__
from clvmodels.config import RunConfig, SqlSourceConfig
from clvmodels.errors import ClvError, ConfigError, clip
from clvmodels.locks import output_lock
from clvmodels.machine import keep_freed_memory
from clvmodels.models import model_info
from clvmodels.run.folder import COMMAND, check_output_file, check_run_folder, run_manifest


def _progress(args: argparse.Namespace, after: float = 0.0) -> Any:
    """What a command shows of its steps on stderr (:mod:`clvmodels.progress`; nothing
    with ``--quiet``; with ``after``, only steps that run at least that many seconds)."""
    from clvmodels.progress import SILENT, StderrProgress

    return SILENT if args.quiet else StderrProgress(after=after)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``clvmodels`` console script (``argv`` None: the command line,
    in a process that exits after it, :func:`_one_command_process`)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if argv is None:
        _one_command_process()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return int(args.handler(args) or 0)
    except ClvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (e.g. `clvmodels summarize c.yaml | head`):
        # not an error; stop writing to the closed pipe, as a shell would on SIGPIPE
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # an internal error: say so, keep it to one line
        print(
            f"internal error: {type(exc).__name__}: {exc} "
            "(please report it; set CLVMODELS_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        if os.environ.get("CLVMODELS_DEBUG"):
            raise
        return 1
    finally:
        if argv is None:  # the exit need not collect what the command built
            gc.freeze()


def _one_command_process() -> None:
    """A process that runs one command and exits: the young generation collected every
    10,000 allocations, not 700 (CDNOW fit: collections 0.4-0.5 s become 0.2 s), all frozen
    in :func:`main`'s ``finally`` so the exit collects nothing (0.45 s to 0.07 s), and
    freed memory kept for the next arrays (:func:`~clvmodels.machine.keep_freed_memory`)."""
    gc.set_threshold(10_000, 10, 10)
    keep_freed_memory()


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kw: Any) -> None:
    """Our own warnings (a fit's convergence, a model's caveat) as one ``warning:`` line,
    without Python's file and source line; others as Python shows them."""
    if category.__module__.startswith("clvmodels"):
        print(f"warning: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, *args[:2]).rstrip(), file=sys.stderr)


_DYNAMIC_OPTIONS = {
    "--transactions": "the transaction log DATA was summarised from (time-varying covariates)",
    "--calibration-end": "DATA's calibration end, e.g. a run's split.calibration_end (default: "
    "first_purchase + T of DATA, else the end of --transactions)",
    "--dynamic-covariates": "long table ([customer_id,] period_start, covariates) of the "
    "time-varying covariates up to the end of the horizon",
    "--calendar": "YAML file of calendar covariate keys (as data.dynamic_covariates.calendar)",
}
"""``clvmodels predict``'s options of a model fitted with time-varying covariates."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clvmodels", description="Probabilistic customer-lifetime-value forecasting."
    )
    parser.add_argument("--version", action="version", version=f"clvmodels {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "validate",
        help="check a config (and that its data file exists; a SQL source's keys and URL are "
        "checked without connecting)",
    )
    p.add_argument("config")
    p.set_defaults(handler=_cmd_validate)

    p = sub.add_parser(
        "summarize",
        help="write summary.csv (and manifest.json) into its own folder and print the seed metrics",
    )
    p.add_argument("config")
    p.add_argument("--out", help="output folder (default: output.dir), or a .csv/.parquet file")
    p.add_argument("--overwrite", action="store_true", help="replace an --out file if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(handler=_cmd_summarize)

    p = sub.add_parser(
        "fit",
        help="fit every configured model; write params.json, predictions.csv and, after a "
        "split, evaluation.csv",
    )
    p.add_argument("config")
    p.add_argument("--out", help="output folder (default: output.dir of the config)")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(handler=_cmd_fit)

    p = sub.add_parser("predict", help="score customers with a saved model")
    p.add_argument("model", help="a saved purchase model (models/<key>.json of a run)")
    p.add_argument(
        "data",
        help="per-customer summary (.csv or .parquet): frequency, recency, "
        "T (n for BG/BB; also litt for the Pareto/GGG)[, monetary_value][, customer_id]",
    )
    p.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists (default: refuse)"
    )
    p.add_argument("--spend-model", help="a saved gamma_gamma model for the spend per order")
    p.add_argument("--horizon", help="time units, or lifetime (default: one year)")
    p.add_argument("--discount-rate", type=float, default=0.10, help="per year (0.10)")
    p.add_argument("--margin", type=float, default=1.0)
    p.add_argument(
        "--order-value",
        "--price",
        type=float,
        help="average value per order without --spend-model (without either: no clv column)",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=None,
        help="add clv_lower/clv_upper at this probability, e.g. 0.9",
    )
    p.add_argument("--draws", type=int, default=200)
    p.add_argument("--threads", type=int, default=None, help="default: all cores")
    p.add_argument("--time-unit", help="only when the model file does not record its unit")
    p.add_argument(
        "--covariates",
        help="customer table (.csv or .parquet) with customer_id and the covariate columns "
        "of models fitted with covariates (default: those columns of DATA)",
    )
    for flag, say in _DYNAMIC_OPTIONS.items():  # a model with time-varying covariates
        p.add_argument(flag, help=say)
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(handler=_cmd_predict)

    p = sub.add_parser("report", help="rebuild report.html of a run folder")
    p.add_argument("run_dir")
    p.set_defaults(handler=_cmd_report)
    return parser


def _cmd_validate(args: argparse.Namespace) -> int:
    from clvmodels.config import load_config  # its checks import pandas: not for --help

    config = load_config(args.config)
    source = config.data.source
    if isinstance(source, SqlSourceConfig):
        print(f"{args.config}: data.source: SQL query on {_checked_sql_url(args.config, config)}")
    elif not source.startswith("builtin:"):
        resolved = config.resolve_path(source)
        try:
            problem = None if Path(resolved).exists() else "no such file or folder"
        except OSError as exc:  # e.g. a name too long for the file system
            problem = exc.strerror
        if problem:
            raise ConfigError(f"{args.config}: data.source: {clip(source)}: {problem}")
    else:
        from clvmodels.data import BUILTIN_DATASETS

        name = source.removeprefix("builtin:")
        if name not in BUILTIN_DATASETS:
            raise ConfigError(
                f"{args.config}: data.source: unknown built-in data set {name!r} "
                f"(available: {', '.join(BUILTIN_DATASETS)})"
            )
    models = ", ".join(config.models) or "none"
    print(f"{args.config}: valid (name {config.name}, data {config.data.kind}, models: {models})")
    return 0


def _checked_sql_url(config_path: str, config: RunConfig) -> str:
    """The masked URL of the configured SQL source, after checking that it expands and
    parses and that SQLAlchemy is installed; nothing connects to the database."""
    from clvmodels.data import sql
    from clvmodels.run.settings import source as configured_source

    source = configured_source(config, config.data.source, "data.source")
    assert isinstance(source, sql.SqlSource)
    try:
        sql.engine_url(source)
        return f"{source.masked_url()} (keys and URL checked; not connected)"
    except ConfigError as exc:
        raise ConfigError(f"{config_path}: {exc}") from None


def _cmd_summarize(args: argparse.Namespace) -> int:
    from clvmodels.config import load_config
    from clvmodels.run.settings import resolve

    settings = resolve(load_config(args.config))
    out, shown = _output(args, settings.output_dir)
    reads = [*settings.read_paths(), Path(args.config)]
    if _summary_file(out, shown, args.overwrite):
        check_output_file(out, reads, shown, overwrite=True)
    else:
        check_run_folder(out, reads, shown, command="summarize")
    with output_lock(out, shown):
        written = _summarize(settings, args, out)
    print(f"wrote {written}")
    return 0


def _summary_file(out: Path, shown: str, overwrite: bool) -> bool:
    """Whether ``summarize --out`` names a file (``.csv``, ``.parquet``) rather than a
    folder; a name with another extension of letters is refused, not made a folder."""
    from clvmodels.data.summary import TABLE_FORMATS, unknown_extension

    if out.suffix in TABLE_FORMATS:
        if out.exists() and not out.is_dir() and not overwrite:
            raise ConfigError(f"{shown}: exists; summarize replaces a file only with --overwrite")
        return True
    if out.suffix[1:].isalpha() and not out.exists():
        raise ConfigError(unknown_extension(shown, out.suffix) + ", or a folder")
    return False


def _summarize(settings: Any, args: argparse.Namespace, out: Path) -> Path:
    """Summarise the data, write the folder of ``summarize`` and print the seed metrics;
    returns the summary's path (with Spark the dataset ``summary.parquet``)."""
    from clvmodels.data.summary import TABLE_FORMATS, write_table
    from clvmodels.run.prepare import prepare_data
    from clvmodels.run.seed import seed_metric_series

    with _progress(args).step("load and summarize data"):  # a bare file shows no regularity
        prepared = prepare_data(settings.data, regularity=out.suffix not in TABLE_FORMATS)
    summary = prepared.summary
    seed = None  # the metrics first: nothing is written if they fail
    if summary is not None and "revenue" in summary:
        seed = seed_metric_series(settings, prepared)
    distributed = prepared.distributed
    if out.suffix in TABLE_FORMATS:  # the summary alone, as a file
        if distributed is not None:
            raise ConfigError(f"--out {out}: with Spark the summary is a dataset; give a folder")
        written = write_table(summary if summary is not None else prepared.survival_table, out)
    else:  # the folder: the run's writer, with the report's formats
        from clvmodels.run.write import write_summary

        written = write_summary(settings, prepared, out) / "summary.csv"
    if summary is None:
        _print_cohorts(prepared.source, prepared.survival_table)
        return written
    customers = len(summary) if distributed is None else distributed.summary.customers
    print(f"{prepared.source}: {customers:,} customers")
    if seed is None:
        print("no amounts in the data: no seed metrics")
    else:
        _print_metrics(seed)
    _print_counts(prepared.counts)
    return written if distributed is None else written.with_name("summary.parquet")


def _print_cohorts(source: str, table: Any) -> None:
    """The cohorts of a survival table: size, survivors, mean retention and churn."""
    print(f"{source}: {table['cohort'].nunique()} cohort(s)")
    for cohort, rows in table.groupby("cohort", sort=False):
        alive = rows.sort_values("period")["alive"].to_numpy()
        retention = alive[1:] / alive[:-1]
        print(
            f"  {cohort}: {int(alive[0]):,} at start, {int(alive[-1]):,} after "
            f"{len(alive) - 1} periods; mean retention rate {retention.mean():.3f}, "
            f"churn rate {1 - retention.mean():.3f}"
        )


def _cmd_fit(args: argparse.Namespace) -> int:
    from clvmodels.config import load_config
    from clvmodels.run import resolve

    config = load_config(args.config)
    if not config.models:
        raise ConfigError(f"{args.config}: models: no model configured")
    settings = resolve(config)
    out, shown = _output(args, settings.output_dir)
    check_run_folder(out, [*settings.read_paths(), Path(args.config)], shown)
    with output_lock(out, shown):
        folder = _fit(settings, args, out)
    print(f"wrote {folder}/ (report: {folder / 'report.html'})")
    if config.output.mlflow is not None:  # clvmodels.run.tracking
        from clvmodels.run.tracking import log_run

        experiment = config.output.mlflow.experiment or config.name
        run_id = log_run(folder, config.output.mlflow.tracking_uri, experiment)
        print(f"logged to MLflow: experiment {experiment}, run {run_id}")
    return 0


def _output(args: argparse.Namespace, default: Path) -> tuple[Path, str]:
    """The output folder of ``fit`` and ``summarize`` (``~`` expanded, as the checks
    read it) and how messages name it."""
    if args.out:
        return Path(args.out).expanduser(), f"--out {args.out}"
    return default.expanduser(), f"output.dir {default}"


def _fit(settings: Any, args: argparse.Namespace, out: Path) -> Path:
    """The run of ``clvmodels fit``: fit, print the fits and the evaluation, write."""
    from clvmodels.run import execute, write_run

    progress = _progress(args)
    result = execute(settings, progress)
    _print_counts(result.prepared.counts)
    for name, estimator in result.fitted.items():
        params = ", ".join(f"{k} = {v:.4g}" for k, v in estimator.params_.items())
        print(f"{name}: {params}; log-likelihood {estimator.log_likelihood_:.1f}")
        for parameter, note in estimator.result_.diagnostics.get("held_at_edge", {}).items():
            print(f"  {name}: {parameter} {note} (the fit is its limit model's)")
    evaluation = result.tables.get("evaluation")
    if evaluation is not None and "mape" in evaluation:
        _print_table(evaluation, "holdout survival, mean absolute % error")
    elif evaluation is not None:
        shown = [
            "model",
            "mae_revenue",
            "rmse_revenue",
            "total_revenue_error",
            "top10_revenue_share",
        ]
        _print_table(evaluation[shown], "holdout evaluation (revenue per customer)")
    if result.verdict:
        print(result.verdict)
    if result.choice is not None:
        print(result.choice.sentence())
    if "predictions" not in result.tables:
        print("no purchase model configured: no per-customer predictions")
    return write_run(result, out, progress=progress)


def _cmd_predict(args: argparse.Namespace) -> int:
    from clvmodels.data.summary import write_table

    out, shown = Path(args.out).expanduser(), f"--out {args.out}"
    given = (args.model, args.spend_model, args.data, args.covariates, args.dynamic_covariates)
    reads = [Path(p) for p in (*given, args.calendar, args.transactions) if p]
    check_output_file(out, reads, shown, overwrite=args.overwrite)
    progress = _progress(args, after=2.0)  # a step is shown once it has run 2 s
    with output_lock(out, shown):
        table = _predict(args, progress)
        with progress.step("write the scores"):
            write_table(table, out, shown=shown)
    print(f"scored {len(table):,} customers with {args.model}; wrote {out}")
    return 0


def _predict(args: argparse.Namespace, progress: Any) -> Any:
    """The scores table of ``clvmodels predict`` (reading and scoring: steps)."""
    from clvmodels import clv
    from clvmodels.data import read_table, validate_summary
    from clvmodels.run.scoring import (
        check_summary_columns,
        load_models,
        model_time_unit,
        predict_settings,
        value_note,
        with_covariate_columns,
        with_ids,
        without_spend,
    )

    with progress.step("read the model and the data"):
        model, spend = load_models(args.model, args.spend_model, args.order_value)
        raw = read_table(args.data)
        unit = model_time_unit(model, args.time_unit, args.model)
        check_summary_columns(raw, args.data, model_info(model.model_key), unit)
        frame = with_covariate_columns(
            validate_summary(raw, source_name=args.data, new_customers=True),
            raw,
            [model, spend],
            args.data,
            args.covariates,
        )
        keys = ("horizon", "discount_rate", "margin", "interval", "draws", "threads")
        settings = predict_settings(unit, **{k: getattr(args, k) for k in keys})
        value = clv.customer_values
        if model.is_dynamic:
            panel = _future_panel(model, args, raw, settings)
            value = partial(clv.dynamic_customer_values, panel=panel)
        elif args.dynamic_covariates or args.calendar or args.transactions:
            raise ConfigError(f"{args.model}: was fitted without time-varying covariates")
    fallback = None if spend else (args.order_value or 1.0)
    with progress.step(f"predict {len(frame):,} customers"):
        values = value(model, frame, settings, spend=spend, fallback_spend=fallback)
    print(value_note(args.spend_model, args.order_value))
    if spend is None and args.order_value is None:
        values = without_spend(values)
    return with_ids(frame, values)


def _future_panel(model: Any, args: argparse.Namespace, raw: Any, settings: Any) -> Any:
    """The time-varying covariates of a dynamic model over the settings' horizon."""
    from clvmodels.config.load import read_calendar
    from clvmodels.run.scoring import predict_panel

    calendar = None if args.calendar is None else read_calendar(args.calendar)
    return predict_panel(model, args, raw, settings, calendar)


def _cmd_report(args: argparse.Namespace) -> int:
    from clvmodels.report import write_report

    folder = Path(args.run_dir)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such run folder")
    recorded = run_manifest(folder)
    if recorded is None:
        raise ConfigError(f"{folder}: not a clvmodels run folder (no manifest.json of a run)")
    if recorded.get(COMMAND) == "summarize":
        raise ConfigError(f"{folder}: written by clvmodels summarize, which makes no report")
    with output_lock(folder / "report.html", str(folder)):  # not while a run replaces it
        page = write_report(folder)
    print(f"wrote {page}")
    return 0


def _print_table(table: Any, title: str) -> None:
    print(f"{title}:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))


def _print_metrics(values: Any) -> None:
    labels = {
        "customers": "customers",
        "orders": "orders",
        "revenue": "revenue",
        "average_order_value": "average order value",
        "purchase_frequency": "purchase frequency (orders per customer)",
        "purchase_frequency_per_year": "purchase frequency per year",
        "customer_value_per_year": "customer value per year",
        "simple_clv": "simple CLV (customer value x lifespan)",
        "repeat_purchase_rate": "repeat-purchase rate",
        "cac": "CAC",
        "clv_minus_cac": "CLV - CAC",
        "ltv_to_cac": "LTV:CAC",
        "max_cost_per_click": "max cost-per-click bid",
    }
    print("seed metrics (calibration window):")
    for key, value in values.items():
        label = labels.get(str(key), str(key))
        if isinstance(value, float) and abs(value) >= 1000:
            shown = f"{value:,.0f}"
        elif isinstance(value, float):
            shown = f"{value:,.4g}"
        else:
            shown = f"{value:,}"
        print(f"  {label:<42} {shown}")


def _print_counts(counts: dict[str, Any]) -> None:
    shown = {k: v for k, v in counts.items() if v and k not in ("rows_in", "customers")}
    if shown:
        parts = [f"{k.replace('_', ' ')}: {v:,}" for k, v in shown.items()]
        print("data handling: " + ", ".join(parts))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["RunConfig", "main"]
