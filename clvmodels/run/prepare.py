"""Step 1 of a run: the configured source into canonical frames.

Transactions are summarised per customer (:func:`clvmodels.data.summarize_transactions`,
or in Spark: :mod:`clvmodels.run.spark`), a summary is validated, subscription data
become cohort survival tables and the weighted rows the sBG is fitted on; the
customer covariate table is joined on the customer id; time-varying covariates are laid
out per customer and calendar period (:mod:`clvmodels.run.dynamic`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from clvmodels import data as clvdata
from clvmodels.data import covariates
from clvmodels.data.sql import FINGERPRINT_ATTR
from clvmodels.errors import ConfigError, DataError
from clvmodels.run.dynamic import dynamic_panel
from clvmodels.run.prepared import PreparedData, average_order_value
from clvmodels.run.settings import CovariateTable, DataSettings, Source

if TYPE_CHECKING:  # the estimate is imported only where a run makes one (it needs SciPy)
    from clvmodels.data.regularity import Regularity

SUBSCRIPTION_ROLES = ("customer_id", "start", "end", "tenure", "churned", "cohort")


def prepare_data(settings: DataSettings, *, regularity: bool = False) -> PreparedData:
    """Load and validate the configured data source into canonical frames; with
    ``regularity`` (a run's own data, not its other windows or a bare summary file),
    also estimate the purchase regularity of a transaction log (:func:`_regularity`)."""
    if settings.kind == "transactions":
        if settings.engine == "spark":
            try:
                from clvmodels.run.spark import prepare_spark
            except ImportError:
                raise ConfigError(
                    "data.engine: spark needs pyspark: pip install 'clvmodels[spark]'"
                ) from None
            return prepare_spark(settings)
        return _transactions(settings, regularity)
    frame = clvdata.read_table(settings.source)
    record = _sql_record(settings.source, frame.attrs.get(FINGERPRINT_ATTR))
    if settings.kind == "summary":
        summary = clvdata.validate_summary(
            frame, source_name=settings.name, columns=dict(settings.columns) or None
        )
        summary.attrs["clvmodels"] = {
            "time_unit": settings.time_unit,
            "counts": {"rows_in": len(frame)},
        }
        return _customers(settings, summary, summary.attrs["clvmodels"], record)
    return _subscriptions(settings, frame, record)


def _transactions(settings: DataSettings, regularity: bool) -> PreparedData:
    summary = clvdata.summarize_transactions(
        settings.source,
        **settings.summary_options,
        engine=settings.engine,
        **settings.resources,
    )
    meta = dict(summary.attrs.get("clvmodels", {}))
    # the per-day series stays in ``meta`` only: pandas deep-copies a frame's attrs in
    # every operation on it (CDNOW: ~1,100 numbers, 5-10 ms per operation)
    summary.attrs["clvmodels"] = {k: v for k, v in meta.items() if k != DAILY}
    record = _sql_record(settings.source, meta.pop("input_fingerprint", None))
    prepared = _customers(settings, summary, meta, record)
    if settings.dynamic is not None:
        prepared.dynamic, meta["dynamic_covariates"] = dynamic_panel(
            settings.dynamic,
            settings.source,
            summary,
            settings.summary_options,
            settings.time_unit,
        )
    prepared.regularity = _regularity(settings, meta) if regularity else None
    if prepared.regularity is not None:
        meta["regularity"] = regularity_record(prepared.regularity)
    return prepared


DAILY = "repeat_transactions_per_day"
"""The key of the summary metadata holding the repeat transactions of every day."""

REGULARITY_MAX_ROWS = 5_000_000
"""The largest transaction log whose purchase regularity a run estimates (it reads the
log a second time, in pandas); beyond it call
:func:`clvmodels.data.estimate_regularity` directly."""


def _regularity(settings: DataSettings, meta: dict[str, Any]) -> Regularity | None:
    """Wheat & Morrison's regularity of the log's purchase timings
    (:func:`clvmodels.data.estimate_regularity`) on the calibration window, for a file
    or built-in log of at most :data:`REGULARITY_MAX_ROWS` rows (a SQL query is not
    run twice); ``None`` when skipped or with too few customers of 3+ purchases."""
    rows = meta.get("counts", {}).get("rows_in")
    if isinstance(settings.source, clvdata.SqlSource) or not rows or rows > REGULARITY_MAX_ROWS:
        return None
    try:
        return clvdata.estimate_regularity(settings.source, **settings.summary_options)
    except DataError:  # fewer than 3 customers with 3 purchases: nothing to say
        return None


def regularity_record(result: Regularity) -> dict[str, Any]:
    """``manifest.json``'s ``data.regularity``: the estimate, its interval and verdict."""
    return {
        "k": round(float(result.k), 4),
        "k_interval": [round(float(v), 4) for v in result.k_interval],
        "level": result.level,
        "customers": int(result.n_customers),
        "regular": bool(result.regular),
        "verdict": result.verdict,
    }


def _customers(
    settings: DataSettings, summary: pd.DataFrame, meta: dict[str, Any], record: dict[str, str]
) -> PreparedData:
    """The prepared data of a per-customer summary, with its covariates joined."""
    summary = _with_covariates(settings.covariates, summary, settings.name)
    return PreparedData(
        settings.kind,
        settings.name,
        summary=summary,
        meta=meta,
        input=record,
        average_order_value=average_order_value(summary),
    )


def _subscriptions(settings: DataSettings, frame: pd.DataFrame, record: dict) -> PreparedData:
    """Cohort survival tables and the sBG's weighted rows of survival or subscription
    data."""
    name = settings.name
    if settings.kind == "survival":
        renamed = frame.rename(columns={v: k for k, v in settings.columns.items()})
        table = clvdata.validate_survival_table(renamed, source_name=name)
    else:
        individual, table = clvdata.survival_from_subscriptions(
            frame,
            time_unit=settings.time_unit,
            observation_end=settings.observation_end,
            source_name=name,
            **_subscription_columns(settings.columns),
        )
    k = settings.calibration_periods
    if settings.kind == "subscriptions" and settings.covariates is not None:
        individual = _censored(_with_covariates(settings.covariates, individual, name), table, k)
    else:
        individual = clvdata.survival_to_individual(table, calibration_periods=k)
    meta = {
        "time_unit": settings.time_unit,
        "calibration_periods": k,
        "cohorts": int(table["cohort"].nunique()),
    }
    return PreparedData(
        settings.kind, name, survival_table=table, individual=individual, meta=meta, input=record
    )


def _sql_record(source: Source, fingerprint: str | None) -> dict[str, str]:
    """``manifest.json``'s ``input`` of a SQL source (empty for files)."""
    if not isinstance(source, clvdata.SqlSource) or fingerprint is None:
        return {}
    return {"source": source.masked_url(), "query": source.sql, "fingerprint": fingerprint}


def _censored(individual: pd.DataFrame, table: pd.DataFrame, k: int | None) -> pd.DataFrame:
    """Per-subscriber ``cohort, tenure, churned, count`` rows (with their covariates) as
    the sBG sees the first ``k`` periods: a subscriber still active after ``k`` renewals
    is censored there (Fader & Hardie 2007, eq. 2), like
    :func:`clvmodels.data.survival_to_individual` does for a cohort table."""
    out = individual.copy()
    out["count"] = 1
    if k is None:
        return out
    lengths = table.groupby("cohort")["period"].max()
    short = lengths[lengths < k]
    if len(short):
        raise DataError(
            f"calibration_periods: {k} but cohort {short.index[0]!r} has periods "
            f"0..{int(short.iloc[0])} only"
        )
    beyond = out["tenure"] >= k
    out.loc[beyond, "tenure"] = k
    out.loc[beyond, "churned"] = False
    return out


def _with_covariates(
    table_settings: CovariateTable | None, summary: pd.DataFrame, source: str
) -> pd.DataFrame:
    """The summary with the configured covariate columns joined on customer id, after
    checking that they encode (one row per customer, no missing value, no constant
    column: :func:`clvmodels.data.covariates.covariate_matrix`)."""
    if table_settings is None:
        return summary
    if "customer_id" not in summary.columns:
        raise DataError(f"{source}: covariates are joined on customer_id, which it lacks")
    path = table_settings.name
    table = clvdata.read_table(table_settings.source)
    columns = list(table_settings.columns)
    clash = [c for c in columns if c in summary.columns]
    if clash:
        raise DataError(
            f"{path}: covariate column {clash[0]!r} has the name of a summary column; rename it"
        )
    ids = summary["customer_id"].to_numpy()
    covariates.covariate_matrix(
        table,
        ids,
        columns,
        source_name=path,
        reference=dict(table_settings.reference),
        id_column=table_settings.id_column,
    )
    rows, _ = covariates.aligned_rows(table, ids, path, table_settings.id_column)
    joined = summary.copy()
    for column in columns:
        joined[column] = rows[column].to_numpy()
    joined.attrs = summary.attrs
    return joined


def _subscription_columns(columns: Any) -> dict[str, Any]:
    """:func:`clvmodels.data.survival_from_subscriptions`' column keywords from
    ``data.columns`` (role -> the user's column)."""
    for role in columns:
        if role not in SUBSCRIPTION_ROLES:
            allowed = ", ".join(sorted(SUBSCRIPTION_ROLES))
            raise ConfigError(f"data.columns.{role}: unknown column role (allowed: {allowed})")
    out: dict[str, Any] = {"customer_id": columns.get("customer_id", "customer_id")}
    for key in ("start", "end", "tenure", "churned", "cohort"):
        out[key] = columns.get(key)
    if out["start"] is None and out["tenure"] is None:
        out["start"], out["end"] = "start", "end"
    return out
