"""The pandas engine of the transaction summary: a plain groupby, the reference.

The log is loaded into pandas (:func:`clvmodels.data.transactions.load_transactions_pandas`)
and summarised with the rules of :mod:`clvmodels.data.summary.rules` written as
directly as pandas allows, so that the tests and the benchmark can hold the DuckDB and
Spark engines to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.data.sources import Source, is_csv_source, row_label
from clvmodels.data.sql import FINGERPRINT_ATTR
from clvmodels.data.summary.rules import (
    LOG_GAP_SCALE,
    NET_TOLERANCE,
    NETTING,
    NONPOSITIVE_PROBLEM,
    SummaryOptions,
    after_obs_problem,
    daily_series,
    summary_counts,
)
from clvmodels.data.transactions import load_transactions_pandas
from clvmodels.errors import DataError, Echoed, echo

_EPOCH = pd.Timestamp("1970-01-01")


def summarize_pandas(
    source: Source, options: SummaryOptions
) -> tuple[pd.DataFrame, dict[str, int], pd.Timestamp, dict[str, list[int]], str | None]:
    """The per-customer aggregates of ``source``, as every engine returns them.

    Returns
    -------
    (per, counts, observation_end, daily, fingerprint)
        ``per``: one row per customer with a first purchase by the calibration end:
        ``cid, first_day, last_day`` (days since 1970-01-01, the last purchase in the
        calibration window), ``n_cal`` (purchase occasions in it), ``revenue``,
        ``first_a`` (the first purchase's value), ``n_hold, rev_hold`` (holdout
        occasions and revenue), ``log_gaps, n_gaps`` (the sum of ln(days between
        consecutive purchase days in the calibration window) and their number, zero
        gaps skipped), with ``options.product`` ``products`` (distinct products of the
        rows with a positive amount in the calibration window); ``counts``
        (:func:`summary_counts`); the observation end found; the repeat purchases per
        day (:func:`daily_series`); the fingerprint of a SQL source's rows (else None).
    """
    o = options
    tx, keep, after, obs, cal = _kept_rows(source, o)
    mode = o.nonpositive_rule
    rows = tx.loc[keep & ~after]
    occ, refunds, days_kept = _occasions(rows, o)
    per = _per_customer(occ, cal, refunds if mode == "net_across_days" else refunds.iloc[:0])
    late = per["first_d"] > cal
    counts = summary_counts(
        o,
        rows_in=len(tx),
        rows_dropped=int((~keep).sum()),
        rows_after=int(after.sum()),
        rows_kept=len(rows),
        days_kept=days_kept,
        days_gone=len(refunds),
        customers_without_purchases=tx["cid"].nunique() - len(per),
        customers_late=int(late.sum()),
    )
    per = per.loc[~late]
    if o.product is not None:
        per = per.assign(products=_products(rows, per["cid"], cal).to_numpy())
    per = per.assign(
        first_day=(per["first_d"] - _EPOCH).dt.days, last_day=(per["last_d"] - _EPOCH).dt.days
    )
    # repeat transactions per day: every occasion but each kept customer's first one
    kept = occ[occ["cid"].isin(per["cid"])]
    first_rows = ~kept["cid"].duplicated()
    daily = kept.loc[~first_rows].groupby("d").size()
    pairs = [((d - _EPOCH).days, int(n)) for d, n in daily.items()]
    return per, counts, obs, daily_series(pairs), tx.attrs.get(FINGERPRINT_ATTR)


def purchase_occasions(
    source: Source, options: SummaryOptions
) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    """The purchase occasions of ``source`` by the rules of the summary.

    Returns
    -------
    (occasions, observation_end, calibration_end)
        ``occasions``: ``cid, d, a`` (customer, day as a midnight timestamp, amount) of
        every purchase occasion up to the observation end, sorted by customer, day and
        amount: the rows a summary counts (``merge_same_day``, ``nonpositive``,
        ``after_observation_end`` applied).

    Raises
    ------
    DataError
        As :func:`clvmodels.data.summarize_transactions`.
    """
    tx, keep, after, obs, cal = _kept_rows(source, options)
    occ, _, _ = _occasions(tx.loc[keep & ~after], options)
    return occ.reset_index(drop=True), obs, cal


def _kept_rows(source: Source, o: SummaryOptions):
    """The loaded log ``tx`` (``cid, d, a``), the rows ``keep`` by ``nonpositive``, the
    kept rows ``after`` the observation end, and ``(observation_end, calibration_end)``;
    raises on the first bad row."""
    name, tx = load_transactions_pandas(
        source,
        customer_id=o.customer_id,
        date=o.date,
        amount=o.amount,
        formats=o.formats,
        product=o.product,
    )
    is_csv = is_csv_source(source)

    def fail_at(mask: pd.Series, column: str | None, problem: str) -> None:
        pos = int(np.flatnonzero(mask.to_numpy())[0])
        row = tx.iloc[pos]
        text = problem.format(cid=Echoed(row["cid"]), d=row["d"].date(), a=Echoed(row["a"]))
        where = row_label(name, pos, is_file_csv=is_csv)
        raise DataError(f"{name}: column {echo(column)} {where}: {text}")

    mode = o.nonpositive_rule
    if mode == "error" and (tx["a"] <= 0).any():
        fail_at(tx["a"] <= 0, o.amount, NONPOSITIVE_PROBLEM)
    keep = tx["a"] > 0 if mode == "drop" else pd.Series(True, index=tx.index)
    obs, cal = o.window(tx["d"].max())
    after = keep & (tx["d"] > obs)
    if after.any() and o.after_observation_end == "error":
        fail_at(after, o.date, after_obs_problem(int(after.sum()), obs))
    return tx, keep, after, obs, cal


def _occasions(rows: pd.DataFrame, o: SummaryOptions) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The purchase occasions ``cid, d, a`` of the kept rows, sorted by customer, day and
    amount (so the first of a customer is the first purchase: without merging, the
    smallest amount of the first day), the refund days ``cid, d, a`` (holding a return
    and netting to <= 0, with ``nonpositive`` ``"net"`` or ``"net_across_days"``) and the
    number of customer-days (rows without merging)."""
    if o.merge_same_day:
        days = (
            rows.assign(gross=rows["a"].abs(), has_return=rows["a"] < 0)
            .groupby(["cid", "d"], as_index=False, sort=False)
            .agg(a=("a", "sum"), gross=("gross", "sum"), has_return=("has_return", "any"))
        )
        gone = pd.Series(False, index=days.index)
        if o.nonpositive_rule in NETTING:
            gone = days["has_return"] & (days["a"] <= NET_TOLERANCE * days["gross"])
        occ, n_days = days.loc[~gone, ["cid", "d", "a"]], len(days)
        refunds = days.loc[gone, ["cid", "d", "a"]]
    else:
        occ, n_days = rows[["cid", "d", "a"]], len(rows)
        refunds = occ.iloc[:0]
    return occ.sort_values(["cid", "d", "a"], kind="stable"), refunds, n_days


def _per_customer(occ: pd.DataFrame, cal: pd.Timestamp, refunds: pd.DataFrame) -> pd.DataFrame:
    """Per customer: first purchase day and value, the calibration and holdout
    occasions and revenue (split at ``cal``), and the sums of the ``refunds`` days in
    and after the calibration window (0 without)."""
    in_cal = occ["d"] <= cal
    per = occ.groupby("cid", sort=True).agg(first_d=("d", "first"), first_a=("a", "first"))
    cal_occ = occ.loc[in_cal].groupby("cid")
    per["n_cal"] = cal_occ.size()
    per["last_d"] = cal_occ["d"].max()
    per["revenue"] = cal_occ["a"].sum()
    per["log_gaps"], per["n_gaps"] = _log_gaps(occ.loc[in_cal])
    hold = occ.loc[~in_cal].groupby("cid")
    per["n_hold"] = hold.size()
    per["rev_hold"] = hold["a"].sum()
    in_window = refunds["d"] <= cal
    per["refunds"] = refunds.loc[in_window].groupby("cid")["a"].sum().reindex(per.index)
    per["refunds_hold"] = refunds.loc[~in_window].groupby("cid")["a"].sum().reindex(per.index)
    filled = {"n_hold": 0, "rev_hold": 0.0, "refunds": 0.0, "refunds_hold": 0.0}
    filled.update(log_gaps=0, n_gaps=0)
    return per.fillna(filled).reset_index()


def _products(rows: pd.DataFrame, ids: pd.Series, cal: pd.Timestamp) -> pd.Series:
    """The distinct products (``p``) of each customer of ``ids`` among the kept ``rows``
    with a positive amount up to ``cal`` (0 for a customer without one)."""
    bought = rows.loc[(rows["d"] <= cal) & (rows["a"] > 0) & rows["p"].notna()]
    distinct = bought.groupby("cid")["p"].nunique()
    return distinct.reindex(ids.to_numpy(), fill_value=0).astype("int64")


def _log_gaps(occ: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per customer of the sorted occasions ``occ``: the sum of ln(days between
    consecutive purchase days) (fixed point, :data:`LOG_GAP_SCALE`) and the number of
    such gaps.  Zero gaps (same-day
    purchases without ``merge_same_day``) are skipped; customers without a gap get 0."""
    days = (occ["d"] - _EPOCH).dt.days.astype("float64")
    gap = days.groupby(occ["cid"], sort=False).diff()
    positive = (gap > 0).to_numpy()
    ids = occ["cid"].to_numpy()
    everyone = pd.Index(pd.unique(ids))
    fixed = np.floor(np.log(gap.to_numpy()[positive]) * LOG_GAP_SCALE).astype("int64")
    log_gaps = pd.Series(fixed, index=ids[positive]).groupby(level=0).sum()
    log_gaps = log_gaps.reindex(everyone, fill_value=0).astype("int64")
    n_gaps = pd.Series(1, index=ids[positive]).groupby(level=0).sum()
    return log_gaps, n_gaps.reindex(everyone, fill_value=0).astype("int64")
