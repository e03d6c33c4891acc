"""The rules of a transaction summary shared by every engine (DuckDB, pandas, Spark).

Option checking (:func:`summary_options`), the counts template, the window check, the
error of a log without customers, and the ``attrs["clvmodels"]`` metadata, so that
:func:`clvmodels.data.summarize_transactions` and
:func:`clvmodels.spark.summarize_transactions_spark` accept the same options and report
the same way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pandas as pd

from clvmodels.errors import DataError
from clvmodels.units import DAYS_PER_UNIT, TRANSACTION_UNITS

NONPOSITIVE = ("net", "drop", "keep", "error")
AFTER_OBSERVATION_END = ("error", "drop")
# A day holding a return is no purchase when its net is <= this fraction of its gross.
NET_TOLERANCE = 1e-9

DateLike = str | dt.date | pd.Timestamp | None


def _parse_day(value: DateLike, option: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise DataError(f"{option}: cannot parse {value!r} as a date")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.normalize()


def counts_template() -> dict[str, int]:
    """Every count of the summary's ``counts`` mapping, at zero."""
    return dict.fromkeys(
        (
            "rows_in",
            "nonpositive_rows_dropped",
            "rows_after_observation_end_dropped",
            "rows_merged_same_day",
            "nonpositive_days_dropped",
            "customers_without_purchases",
            "customers_first_purchase_after_calibration",
            "customers",
        ),
        0,
    )


def summary_options(
    *,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str | None = "amount",
    time_unit: Literal["D", "W"] = "W",
    observation_end: DateLike = None,
    calibration_end: DateLike = None,
    merge_same_day: bool = True,
    nonpositive: Literal["net", "drop", "keep", "error"] = "net",
    after_observation_end: Literal["error", "drop"] = "error",
) -> dict[str, Any]:
    """Check the options of :func:`summarize_transactions` (shared by every engine).

    Returns
    -------
    dict
        ``customer_id, date, amount`` (column names), ``time_unit``, ``unit_days``,
        ``merge``, ``nonpositive`` (``"keep"`` without an amount column),
        ``requested_nonpositive`` (as given, for messages), ``after``, and ``obs`` /
        ``cal`` (midnight timestamps or None).

    Raises
    ------
    DataError
        An option out of its choices, an unparseable date, ``nonpositive="net"``
        without ``merge_same_day``, ``calibration_end`` after ``observation_end``.
    """
    if time_unit not in TRANSACTION_UNITS:
        raise DataError(f"time_unit: {time_unit!r} is not one of 'D' (days), 'W' (weeks)")
    if nonpositive not in NONPOSITIVE:
        raise DataError(f"nonpositive: {nonpositive!r} is not one of {', '.join(NONPOSITIVE)}")
    if nonpositive == "net" and not merge_same_day:
        raise DataError(
            "nonpositive: 'net' nets amounts within a day and needs "
            "merge_same_day=True; use 'drop', 'keep' or 'error'"
        )
    if after_observation_end not in AFTER_OBSERVATION_END:
        raise DataError(
            f"after_observation_end: {after_observation_end!r} is not 'error' or 'drop'"
        )
    options = {
        "customer_id": customer_id,
        "date": date,
        "amount": amount,
        "time_unit": time_unit,
        "unit_days": int(DAYS_PER_UNIT[time_unit]),
        "merge": merge_same_day,
        "nonpositive": nonpositive if amount is not None else "keep",
        "requested_nonpositive": nonpositive,
        "after": after_observation_end,
        "obs": _parse_day(observation_end, "observation_end"),
        "cal": _parse_day(calibration_end, "calibration_end"),
    }
    if (
        options["obs"] is not None
        and options["cal"] is not None
        and options["cal"] > options["obs"]
    ):
        raise DataError(
            f"calibration_end: {options['cal'].date()} is after observation_end "
            f"{options['obs'].date()}"
        )
    return options


def check_window(options: dict[str, Any], obs: pd.Timestamp) -> None:
    """Raise if ``calibration_end`` is after the observation end found in the log."""
    cal = options["cal"]
    if cal is not None and cal > obs:
        raise DataError(
            f"calibration_end: {cal.date()} is after observation_end {obs.date()} "
            "(the last date in the log)"
        )


def no_customers_error(
    name: str, options: dict[str, Any], obs: pd.Timestamp, counts: dict[str, int]
) -> DataError:
    """The error of a log that leaves no customer with a purchase."""
    cal = options["cal"]
    return DataError(
        f"{name}: no customer is left with a purchase up to "
        f"{cal.date() if cal is not None else obs.date()} "
        f"(nonpositive={options['requested_nonpositive']!r}, "
        f"observation_end {obs.date()}); counts: {counts}"
    )


def summary_meta(
    options: dict[str, Any],
    obs: pd.Timestamp,
    counts: dict[str, int],
    daily: dict[str, list[int]],
) -> dict[str, Any]:
    """The ``attrs["clvmodels"]`` mapping of a summary (see :func:`summarize_transactions`)."""
    cal = options["cal"]
    return {
        "time_unit": options["time_unit"],
        "observation_end": obs.date().isoformat(),
        "calibration_end": None if cal is None else cal.date().isoformat(),
        "counts": {key: int(value) for key, value in counts.items()},
        "repeat_transactions_per_day": daily,
    }


def daily_series(pairs: list[tuple[int, int]]) -> dict[str, list[int]]:
    """Repeat transactions per calendar day (days since 1970-01-01), zero days left out."""
    kept = sorted((int(day), int(n)) for day, n in pairs if n)
    return {"day": [day for day, _ in kept], "count": [n for _, n in kept]}


def after_obs_problem(n: int, obs: pd.Timestamp) -> str:
    return (
        f"{n} transactions after observation_end {obs.date()}; first: customer {{cid}} "
        "on {d} (after_observation_end='drop' drops them)"
    )


NONPOSITIVE_PROBLEM = (
    "amount {a} <= 0 for customer {cid} on {d} (nonpositive='error'; "
    "'net', 'drop' or 'keep' accept returns and free items)"
)
