"""The per-customer aggregates of a transaction log sorted by customer, day and amount.

The DuckDB engine (:mod:`~clvmodels.data.summary.duckdb_engine`) sorts the log in
parallel (spilling to disk beyond its memory limit) and streams it here in batches of
whole customers, where every aggregate is a pass of NumPy over contiguous runs: the
customer-days, the purchase occasions and the customers, calibration and holdout in
the same pass.  A sort and linear passes cost a third of the two hash aggregations of
10^7 rows into 10^7 customer-days and then 10^6 customers that they replace.

The rules are those of the pandas reference engine
(:mod:`~clvmodels.data.summary.pandas_engine`) and of
:class:`~clvmodels.data.summary.rules.SummaryOptions`; sums run in the sorted order,
so a result does not depend on how many threads sorted the rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clvmodels.data.parsing import EARLIEST_DAY, LATEST_DAY
from clvmodels.data.summary.rules import (
    LOG_GAP_SCALE,
    NET_TOLERANCE,
    NETTING,
    SummaryOptions,
)
from clvmodels.data.transactions import MAX_AMOUNT

MISSING_DAY = np.iinfo(np.int64).min
"""The day (since 1970-01-01) a row with a missing or unparseable date is sorted with."""

_FIRST_DAY = (EARLIEST_DAY - dt.date(1970, 1, 1)).days
_LAST_DAY = (LATEST_DAY - dt.date(1970, 1, 1)).days

PER_COLUMNS = (
    "first_day",
    "last_day",
    "n_cal",
    "revenue",
    "first_a",
    "n_hold",
    "rev_hold",
    "log_gaps",
    "n_gaps",
    "refunds",
    "refunds_hold",
)
"""The per-customer aggregates besides ``cid`` (see
:func:`clvmodels.data.summary.pandas_engine.summarize_pandas`)."""


@dataclass
class Totals:
    """What the batches of a log add up to: the ``counts`` inputs of
    :func:`~clvmodels.data.summary.rules.summary_counts`, the last day of the log
    (days since 1970-01-01) and the repeat purchases per day."""

    rows_in: int = 0
    dropped: int = 0
    after: int = 0
    kept: int = 0
    days: int = 0
    gone: int = 0
    without: int = 0
    late: int = 0
    last_day: int | None = None
    repeats: dict[int, int] = field(default_factory=dict)


def has_bad_rows(cid: pa.Array, d: np.ndarray, a: np.ndarray, o: SummaryOptions) -> bool:
    """Whether a batch holds a row of a kind of
    :func:`~clvmodels.data.summary.rules.bad_row_checks`: a missing id or date, a day
    out of range, an amount that is missing (NaN here), not finite or beyond
    :data:`MAX_AMOUNT`, or <= 0 with ``nonpositive="error"``."""
    missing = d == MISSING_DAY
    bad = cid.null_count > 0 or bool(missing.any())
    bad = bad or bool((((d < _FIRST_DAY) | (d > _LAST_DAY)) & ~missing).any())
    with np.errstate(invalid="ignore"):
        bad = bad or not bool(np.isfinite(a).all()) or bool((np.abs(a) > MAX_AMOUNT).any())
        return bad or (o.nonpositive_rule == "error" and bool((a <= 0).any()))


def customer_starts(cid: pa.Array) -> np.ndarray:
    """Whether each row of ``cid`` (sorted, no nulls) starts a customer's run."""
    starts = np.ones(len(cid), dtype=bool)
    if len(cid) > 1:
        if pa.types.is_integer(cid.type):
            values = cid.to_numpy()
            np.not_equal(values[1:], values[:-1], out=starts[1:])
        else:
            differs = pc.not_equal(cid.slice(1), cid.slice(0, len(cid) - 1))
            starts[1:] = differs.to_numpy(zero_copy_only=False)
    return starts


def aggregate_batch(
    cid: pa.Array,
    d: np.ndarray,
    a: np.ndarray,
    o: SummaryOptions,
    totals: Totals,
    *,
    aggregate: bool = True,
) -> dict[str, object] | None:
    """The customers of one batch of whole customers, sorted by ``cid, d, a`` (``d``
    days since 1970-01-01; a valid batch: see :func:`has_bad_rows`).

    Adds the batch to ``totals``; returns ``{"cid": ids, **PER_COLUMNS arrays}`` for the
    customers with a first purchase by the calibration end, or None without
    ``aggregate`` (an error is already certain: only the totals are wanted).
    """
    n = len(d)
    totals.rows_in += n
    if n == 0:
        return None
    last = int(d.max())
    totals.last_day = last if totals.last_day is None else max(totals.last_day, last)
    cust = np.cumsum(customer_starts(cid)) - 1
    n_customers = int(cust[-1]) + 1
    first_row = np.flatnonzero(np.diff(cust, prepend=-1))  # each customer's first row
    keep = a > 0 if o.nonpositive_rule == "drop" else np.ones(n, dtype=bool)
    totals.dropped += int(n - keep.sum())
    obs, cal = _day(o.observation_end), _day(o.calibration_end)
    after = keep & (d > obs) if obs is not None else np.zeros(n, dtype=bool)
    totals.after += int(after.sum())
    keep &= ~after
    totals.kept += int(keep.sum())
    if not aggregate:
        return None
    cust, d, a = cust[keep], d[keep], a[keep]
    occ, refunds = _occasions(cust, d, a, o, totals)
    if o.nonpositive_rule != "net_across_days":  # "net" drops its refund days
        refunds = tuple(column[:0] for column in refunds)
    per = _customers(occ, refunds, n_customers, cal)
    has_purchase = per["n_occ"] > 0
    late = has_purchase & (per["first_day"] > (cal if cal is not None else np.inf))
    totals.without += int((~has_purchase).sum())
    totals.late += int(late.sum())
    chosen = has_purchase & ~late
    _add_repeats(totals, occ, chosen)
    out = {"cid": cid.take(pa.array(first_row[chosen]))}
    out.update({column: per[column][chosen] for column in PER_COLUMNS})
    return out


def _day(stamp) -> int | None:
    """A midnight timestamp as days since 1970-01-01 (None stays None)."""
    return None if stamp is None else (stamp.date() - dt.date(1970, 1, 1)).days


def _occasions(cust: np.ndarray, d: np.ndarray, a: np.ndarray, o: SummaryOptions, totals: Totals):
    """The purchase occasions ``(cust, d, a)`` of the kept rows (a customer's first is
    the first purchase: the first day's sum, or without ``merge_same_day`` its smallest
    row) and the refund days ``(cust, d, a)`` (holding a return and netting to <= 0,
    with ``nonpositive`` ``"net"`` or ``"net_across_days"``)."""
    if not o.merge_same_day:
        totals.days += len(d)
        return (cust, d, a), (cust[:0], d[:0], a[:0])
    new_day = np.ones(len(d), dtype=bool)
    new_day[1:] = (cust[1:] != cust[:-1]) | (d[1:] != d[:-1])
    starts = np.flatnonzero(new_day)
    totals.days += len(starts)
    if len(starts) == 0:
        return (cust, d, a), (cust, d, a)
    day_cust, day_d = cust[starts], d[starts]
    day_a = np.add.reduceat(a, starts)
    gone = np.zeros(len(starts), dtype=bool)
    if o.nonpositive_rule in NETTING:
        gross = np.add.reduceat(np.abs(a), starts)
        has_return = a[starts] < 0  # sorted by amount: a day's smallest comes first
        gone = has_return & (day_a <= NET_TOLERANCE * gross)
    totals.gone += int(gone.sum())
    kept = ~gone
    occasions = (day_cust[kept], day_d[kept], day_a[kept])
    return occasions, (day_cust[gone], day_d[gone], day_a[gone])


def _customers(occ, refunds, n_customers: int, cal: int | None) -> dict[str, np.ndarray]:
    """Per customer of the batch: ``n_occ`` (occasions) and :data:`PER_COLUMNS`, split
    at the calibration end ``cal`` (days; None: every occasion is in the window)."""
    cust, d, a = occ
    in_cal = d <= cal if cal is not None else np.ones(len(d), dtype=bool)
    count = np.bincount(cust, minlength=n_customers)
    firsts = np.flatnonzero(np.diff(cust, prepend=-1))
    first_day, first_a = np.zeros(n_customers, np.int64), np.zeros(n_customers)
    first_day[cust[firsts]], first_a[cust[firsts]] = d[firsts], a[firsts]
    c_cust, c_d = cust[in_cal], d[in_cal]
    n_cal = np.bincount(c_cust, minlength=n_customers)
    last_day = np.zeros(n_customers, np.int64)
    ends = np.flatnonzero(np.diff(c_cust, append=-1))
    last_day[c_cust[ends]] = c_d[ends]
    log_gaps, n_gaps = _log_gaps(c_cust, c_d, n_customers)
    hold = ~in_cal
    r_cust, r_d, r_a = refunds
    r_cal = r_d <= cal if cal is not None else np.ones(len(r_d), dtype=bool)
    return {
        "n_occ": count,
        "first_day": first_day,
        "last_day": last_day,
        "n_cal": n_cal,
        "revenue": np.bincount(c_cust, weights=a[in_cal], minlength=n_customers),
        "first_a": first_a,
        "n_hold": np.bincount(cust[hold], minlength=n_customers),
        "rev_hold": np.bincount(cust[hold], weights=a[hold], minlength=n_customers),
        "log_gaps": log_gaps,
        "n_gaps": n_gaps,
        "refunds": np.bincount(r_cust[r_cal], weights=r_a[r_cal], minlength=n_customers),
        "refunds_hold": np.bincount(r_cust[~r_cal], weights=r_a[~r_cal], minlength=n_customers),
    }


def _log_gaps(cust: np.ndarray, d: np.ndarray, n_customers: int) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: the sum of ``floor(ln(gap) * LOG_GAP_SCALE)`` over the positive
    gaps between consecutive occasions ``d`` (sorted by customer and day; zero gaps of
    same-day occasions skipped) and their number, summed exactly in int64."""
    gap = np.diff(d)
    positive = (gap > 0) & (cust[1:] == cust[:-1])
    owner = cust[1:][positive]
    fixed = np.floor(np.log(gap[positive].astype(np.float64)) * LOG_GAP_SCALE).astype(np.int64)
    # exact int64 sums per customer: differences of a running sum at the run ends
    running = np.concatenate([[0], np.cumsum(fixed)])
    n_gaps = np.bincount(owner, minlength=n_customers)
    ends = np.cumsum(n_gaps)
    log_gaps = running[ends] - running[ends - n_gaps]
    return log_gaps.astype(np.int64), n_gaps.astype(np.int64)


def _add_repeats(totals: Totals, occ, chosen: np.ndarray) -> None:
    """Add the repeat purchases per day of the ``chosen`` customers: every occasion but
    each customer's first."""
    cust, d, _ = occ
    repeat = np.ones(len(cust), dtype=bool)
    repeat[np.flatnonzero(np.diff(cust, prepend=-1))] = False
    days = d[repeat & chosen[cust]]
    if len(days) == 0:
        return
    base = int(days.min())
    counts = np.bincount(days - base)
    for offset in np.flatnonzero(counts):
        day = base + int(offset)
        totals.repeats[day] = totals.repeats.get(day, 0) + int(counts[offset])
