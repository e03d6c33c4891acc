"""The rules of a transaction summary, shared by every engine (DuckDB, pandas, Spark).

:class:`SummaryOptions` declares the options of a summary once, with their
defaults, checks and documentation; :func:`clvmodels.data.summarize_transactions` and
:func:`clvmodels.spark.summarize_transactions_spark` take them as keywords.  The rest is
what every engine reports alike: the bad rows it checks for and in which order
(:func:`bad_row_checks`), the ``counts`` of rows and customers dropped or merged
(:func:`summary_counts`), the window check, the error of a log without customers, and
the ``attrs["clvmodels"]`` metadata.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from clvmodels.data.parsing import EARLIEST_DAY, LATEST_DAY, RANGE_PROBLEM, ValueFormats
from clvmodels.data.transactions import HUGE_AMOUNT, ROW_PROBLEMS
from clvmodels.errors import DataError
from clvmodels.units import DAYS_PER_UNIT, TRANSACTION_UNITS

NONPOSITIVE = ("net", "net_across_days", "drop", "keep", "error")
NETTING = ("net", "net_across_days")
"""The policies that net amounts within the customer-day (they need ``merge_same_day``)."""
AFTER_OBSERVATION_END = ("error", "drop")
NET_TOLERANCE = 1e-9
"""A day holding a return is no purchase when its net is <= this fraction of its gross."""
MONEY_COLUMNS = ("monetary_value", "revenue", "revenue_holdout")
"""The summary columns left out without an amount column."""

DateLike = str | dt.date | pd.Timestamp | None


@dataclass(frozen=True)
class SummaryOptions:
    """The options of a transaction summary, the same for every engine.

    Definitions follow Fader, Hardie & Lee (2005), "Counting your customers the easy
    way", Marketing Science 24(2), section 2.  Times are whole calendar days expressed
    in ``time_unit``: a timestamp with an offset is converted to ``timezone`` and its
    date taken there; a naive timestamp or a date is taken as written (local to
    ``timezone``); days outside 1677-09-22..2262-04-11 are errors
    (:mod:`clvmodels.data.parsing`).

    Parameters
    ----------
    customer_id, date, amount : str
        Column names of the log (defaults ``"customer_id"``, ``"date"``, ``"amount"``).
        ``amount=None``: no spend data (the money columns are omitted, every row is
        worth 1 and ``nonpositive`` has nothing to act on).
    time_unit : {"D", "W"}
        Unit of ``recency``, ``T`` and the holdout duration: ``"D"`` days or ``"W"``
        weeks (days / 7, the default).
    observation_end : date-like, optional
        Last day of the data; default the last date in the log.  Held as a midnight
        :class:`pandas.Timestamp` (None when not given).
    calibration_end : date-like, optional
        Last day of the calibration window; later purchases up to ``observation_end``
        become the holdout columns.  Held like ``observation_end``.
    merge_same_day : bool
        All transactions of a customer on one day form one purchase whose amount is
        their sum (default).  ``False``: every row is a purchase; the first purchase is
        then the smallest amount of the first day.
    nonpositive : {"net", "net_across_days", "drop", "keep", "error"}
        Amounts <= 0 (returns, refunds, free items).  ``"net"`` (default, needs
        ``merge_same_day``): amounts are netted within the customer-day, and a *refund
        day*, a day holding a return (negative amount) whose net is <= 0 (up to
        :data:`NET_TOLERANCE` of its gross), is not a purchase occasion; its amount is
        left out.  A day of only zero-value lines (a free item) remains a purchase
        occasion of value 0: the purchase-occasion counts of Fader, Hardie & Lee (2005)
        on CDNOW include the 8 zero-dollar customers of the sample.
        ``"net_across_days"`` (needs ``merge_same_day``): the purchase occasions of
        ``"net"``, and the net amount of every refund day is subtracted from the
        customer's spend in the period it falls in (``revenue`` up to the calibration
        end, ``revenue_holdout`` after it) without removing a purchase occasion;
        ``monetary_value`` is the mean repeat purchase scaled by the calibration
        window's net revenue over its purchases (refunds spread over the window's
        purchases in proportion to their value).  A customer whose refunds reach their
        purchases has ``revenue`` and ``monetary_value`` <= 0 (the Gamma-Gamma fit
        leaves such repeat buyers out).  ``"drop"``: rows with amount <= 0 are dropped
        first.  ``"keep"``: they are purchases like any other (``revenue`` may then be
        negative, ``monetary_value`` too).  ``"error"``: raise on the first such row.
    after_observation_end : {"error", "drop"}
        What to do with transactions after ``observation_end`` (default ``"error"``).
    timezone : str
        IANA time zone whose calendar days count (default ``"UTC"``): timestamps with an
        offset (text ending in ``Z`` or ``+hh:mm``, time-zone aware values) are
        converted to it; naive timestamps and dates are taken as already local to it.
    date_format : str, optional
        strptime-style format of text dates, e.g. ``"%d/%m/%Y"`` (``%Y %m %d %H %M %S
        %f %z %%`` and literal text; :class:`clvmodels.data.parsing.DateFormat`).
        Default: ISO ``yyyy-mm-dd[ hh:mm:ss]`` text.
    decimal : {".", ","}
        Decimal separator of text amounts.  ``","``: ``10,5`` and ``1.234,50`` (``.``
        only as a thousands separator between groups of three digits) are 10.5 and
        1234.5; ``10.5`` is then an error, never 105.
    delimiter : str, optional
        CSV delimiter (one character); default: the one of ``, ; TAB |`` the header line
        holds most often.
    product : str, optional
        Column of the product (SKU, category: whatever "one kind" means to you) of each
        row; with it the summary has a column ``products``: the number of distinct
        products of the customer's rows with a positive amount (every row without an
        amount column) in the calibration window, the input of the upsell ratio
        (:func:`clvmodels.metrics.upsell_ratio`).  Products are compared as trimmed text;
        a missing or blank product counts as none (0 when a customer has no product).
        The duckdb and pandas engines count them; the Spark engine refuses the option.

    Raises
    ------
    DataError
        An option out of its choices, an unparseable date, ``nonpositive="net"``
        without ``merge_same_day``, ``calibration_end`` after ``observation_end``.
    """

    customer_id: str = "customer_id"
    date: str = "date"
    amount: str | None = "amount"
    time_unit: Literal["D", "W"] = "W"
    observation_end: DateLike = None
    calibration_end: DateLike = None
    merge_same_day: bool = True
    nonpositive: Literal["net", "drop", "keep", "error"] = "net"
    after_observation_end: Literal["error", "drop"] = "error"
    timezone: str = "UTC"
    date_format: str | None = None
    decimal: Literal[".", ","] = "."
    delimiter: str | None = None
    product: str | None = None

    def __post_init__(self) -> None:
        if self.time_unit not in TRANSACTION_UNITS:
            raise DataError(f"time_unit: {self.time_unit!r} is not one of 'D' (days), 'W' (weeks)")
        if self.nonpositive not in NONPOSITIVE:
            raise DataError(
                f"nonpositive: {self.nonpositive!r} is not one of {', '.join(NONPOSITIVE)}"
            )
        if self.nonpositive in NETTING and not self.merge_same_day:
            raise DataError(
                f"nonpositive: {self.nonpositive!r} nets amounts within a day and needs "
                "merge_same_day=True; use 'drop', 'keep' or 'error'"
            )
        if self.after_observation_end not in AFTER_OBSERVATION_END:
            raise DataError(
                f"after_observation_end: {self.after_observation_end!r} is not 'error' or 'drop'"
            )
        zone = self.formats.timezone  # checks the reading options
        obs = _parse_day(self.observation_end, "observation_end", zone)
        cal = _parse_day(self.calibration_end, "calibration_end", zone)
        object.__setattr__(self, "observation_end", obs)
        object.__setattr__(self, "calibration_end", cal)
        if obs is not None and cal is not None and cal > obs:
            raise DataError(f"calibration_end: {cal.date()} is after observation_end {obs.date()}")

    @classmethod
    def from_keywords(cls, caller: str, keywords: Mapping[str, Any]) -> SummaryOptions:
        """The options given as keywords to the function ``caller``.

        Raises
        ------
        TypeError
            A keyword that is no summary option (the message lists the options).
        DataError
            As the class.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [key for key in keywords if key not in names]
        if unknown:
            raise TypeError(
                f"{caller}() got an unexpected keyword argument {unknown[0]!r}; the summary "
                f"options (clvmodels.data.SummaryOptions) are {', '.join(names)}"
            )
        return cls(**keywords)

    @property
    def formats(self) -> ValueFormats:
        """How the log's text is read: ``timezone``, ``date_format``, ``decimal``,
        ``delimiter``."""
        return ValueFormats(self.timezone, self.date_format, self.decimal, self.delimiter)

    @property
    def unit_days(self) -> int:
        """Days per ``time_unit`` (:data:`clvmodels.units.DAYS_PER_UNIT`)."""
        return int(DAYS_PER_UNIT[self.time_unit])

    @property
    def nonpositive_rule(self) -> str:
        """The rule applied: ``nonpositive``, or ``"keep"`` without an amount column."""
        return self.nonpositive if self.amount is not None else "keep"

    def window(self, last_date: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
        """``(observation_end, calibration_end)`` of a log whose last date is ``last_date``:
        the observation end defaults to it, the calibration end to the observation end."""
        obs = self.observation_end if self.observation_end is not None else pd.Timestamp(last_date)
        cal = self.calibration_end if self.calibration_end is not None else obs
        return obs, cal


def _parse_day(value: DateLike, option: str, timezone: str) -> pd.Timestamp | None:
    """The day of ``value`` (an aware timestamp's date in ``timezone``) at midnight."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise DataError(f"{option}: cannot parse {value!r} as a date")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(timezone).tz_localize(None)
    if not EARLIEST_DAY <= stamp.date() <= LATEST_DAY:
        raise DataError(f"{option}: {RANGE_PROBLEM.format(raw=value)}")
    return stamp.normalize()


class RowCheck(NamedTuple):
    """A kind of bad row found in a log: ``kind`` (``"id"``, ``"date"``, ``"range"``,
    ``"amount"``, ``"huge"`` or ``"nonpositive"``; each engine has its condition for it),
    how many
    rows, ``role`` (``cid``, ``d`` or ``a``: whose raw value the message quotes), the
    column and the problem text."""

    kind: str
    count: int
    role: str
    column: str | None
    problem: str


BAD_ROW_KINDS = ("id", "date", "range", "amount", "huge", "nonpositive")
"""The kinds of bad row, in the order they are reported: a missing id, a date that does
not parse, a day outside :data:`~clvmodels.data.parsing.EARLIEST_DAY` ..
:data:`~clvmodels.data.parsing.LATEST_DAY`, an amount that is not a finite number, one
beyond :data:`~clvmodels.data.transactions.MAX_AMOUNT`, an amount <= 0."""


def bad_row_checks(options: SummaryOptions, counts: Mapping[str, int]) -> list[RowCheck]:
    """The bad rows counted in a log (``counts``: kind of :data:`BAD_ROW_KINDS` ->
    rows), in the order they are reported: only kinds with a row, nonpositive amounts
    only with ``nonpositive="error"``."""
    formats = options.formats
    checks = [
        RowCheck("id", counts["id"], "cid", options.customer_id, ROW_PROBLEMS["cid"]),
        RowCheck(
            "date", counts["date"], "d", options.date, formats.date_problem(ROW_PROBLEMS["d"])
        ),
        RowCheck("range", counts["range"], "d", options.date, RANGE_PROBLEM),
        RowCheck(
            "amount",
            counts["amount"],
            "a",
            options.amount,
            formats.amount_problem(ROW_PROBLEMS["a"]),
        ),
        RowCheck("huge", counts["huge"], "a", options.amount, HUGE_AMOUNT),
    ]
    if options.nonpositive_rule == "error":
        checks.append(
            RowCheck("nonpositive", counts["nonpositive"], "a", options.amount, NONPOSITIVE_PROBLEM)
        )
    return [check for check in checks if check.count]


def summary_counts(
    options: SummaryOptions,
    *,
    rows_in: int,
    rows_dropped: int,
    rows_after: int,
    rows_kept: int,
    days_kept: int,
    days_gone: int,
    customers_without_purchases: int,
    customers_late: int,
    customers: int = 0,
) -> dict[str, int]:
    """The ``counts`` mapping of a summary from what every engine totals.

    ``rows_dropped``: rows with amount <= 0 dropped (``nonpositive="drop"``);
    ``rows_after``: kept rows after ``observation_end``; ``rows_kept`` and
    ``days_kept``: kept rows up to it and the customer-days they make (their difference
    is the rows merged, with ``merge_same_day``); ``days_gone``: the refund days
    (holding a return and netting to <= 0), dropped with ``nonpositive="net"`` and
    subtracted from the spend with ``"net_across_days"``; ``customers_late``: customers
    whose first purchase is after ``calibration_end``.
    """
    across = options.nonpositive_rule == "net_across_days"
    counts = {
        "rows_in": rows_in,
        "nonpositive_rows_dropped": rows_dropped,
        "rows_after_observation_end_dropped": rows_after,
        "rows_merged_same_day": (rows_kept - days_kept) if options.merge_same_day else 0,
        "nonpositive_days_dropped": 0 if across else days_gone,
        "refund_days_netted": days_gone if across else 0,
        "customers_without_purchases": customers_without_purchases,
        "customers_first_purchase_after_calibration": customers_late,
        "customers": customers,
    }
    return {key: int(value) for key, value in counts.items()}


def check_window(options: SummaryOptions, obs: pd.Timestamp) -> None:
    """Raise if ``calibration_end`` is after the observation end found in the log."""
    cal = options.calibration_end
    if cal is not None and cal > obs:
        raise DataError(
            f"calibration_end: {cal.date()} is after observation_end {obs.date()} "
            "(the last date in the log)"
        )


def no_customers_error(
    name: str, options: SummaryOptions, obs: pd.Timestamp, counts: dict[str, int]
) -> DataError:
    """The error of a log that leaves no customer with a purchase."""
    _, cal = options.window(obs)
    return DataError(
        f"{name}: no customer is left with a purchase up to {cal.date()} "
        f"(nonpositive={options.nonpositive!r}, observation_end {obs.date()}); "
        f"counts: {counts}"
    )


def summary_meta(
    options: SummaryOptions,
    obs: pd.Timestamp,
    counts: dict[str, int],
    daily: dict[str, list[int]],
) -> dict[str, Any]:
    """The ``attrs["clvmodels"]`` mapping of a summary (see
    :func:`clvmodels.data.summarize_transactions`)."""
    cal = options.calibration_end
    return {
        "time_unit": options.time_unit,
        "observation_end": obs.date().isoformat(),
        "calibration_end": None if cal is None else cal.date().isoformat(),
        "counts": {key: int(value) for key, value in counts.items()},
        "repeat_transactions_per_day": daily,
    }


LOG_GAP_SCALE = 2**40
"""Fixed point of the gap logs: every engine adds ``floor(ln(gap days) · 2**40)`` as
integers, a sum that is exact and independent of the order rows are met in (a float sum
of logs differed in the last bit between DuckDB, pandas and Spark, and from run to
run).  Each log is then within 2**-40 ≈ 9e-13 below its value."""


def litt_from_gaps(log_gaps: Any, n_gaps: Any, unit_days: float) -> np.ndarray:
    """``litt``, the sum of ln(inter-transaction time in the summary's unit), from
    ``log_gaps``, the sum of ``floor(ln(gap in days) · LOG_GAP_SCALE)`` over ``n_gaps``
    gaps: ``Σ ln(g / u) = Σ ln g − n·ln u`` with ``u`` days per unit (BTYDplus
    ``elog2cbs``; Platzer & Reutterer 2016, "Ticking away the moments: timing
    regularity helps to better predict customer activity", Marketing Science 35(5), the
    ``litt`` of the Pareto/GGG likelihood)."""
    logs = np.array(log_gaps, dtype="float64")  # a copy, changed in place
    logs /= LOG_GAP_SCALE
    logs -= np.multiply(np.asarray(n_gaps), math.log(unit_days), dtype="float64")
    return logs


def daily_series(pairs: list[tuple[int, int]]) -> dict[str, list[int]]:
    """Repeat transactions per calendar day (days since 1970-01-01), zero days left out."""
    kept = sorted((int(day), int(n)) for day, n in pairs if n)
    return {"day": [day for day, _ in kept], "count": [n for _, n in kept]}


def after_obs_problem(n: int, obs: pd.Timestamp) -> str:
    """The problem text of ``n`` transactions after ``observation_end`` (``{cid}``,
    ``{d}``: the first one's customer and day)."""
    return (
        f"{n} transactions after observation_end {obs.date()}; first: customer {{cid}} "
        "on {d} (after_observation_end='drop' drops them)"
    )


NONPOSITIVE_PROBLEM = (
    "amount {a} <= 0 for customer {cid} on {d} (nonpositive='error'; "
    "'net', 'net_across_days', 'drop' or 'keep' accept returns and free items)"
)
