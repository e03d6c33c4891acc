"""Calendar periods and population-wide calendar covariates for dynamic-covariate models.

Time-varying covariates (Bachmann, Meierer & Näf 2021, "The role of time-varying
contextual factors in latent attrition models for customer base analysis", Marketing
Science 40(4), 783-809) are constant within calendar *periods* of one time unit of the
summary (:mod:`clvmodels.units`): a day (``"D"``) or a week of 7 days (``"W"``).  A
period is the half-open span of day points ``[start, start + unit)``: a purchase on its
first day falls in it, one on the first day of the next period does not.  Weekly periods
may start on any weekday, but all periods of a data set lie on one grid (their starts
differ by whole weeks).

:func:`calendar_covariates` builds the covariates every customer shares (the columns of a
population-wide table: ``period_start`` and one column per covariate), each the share of
the period's days with the property (0 or 1 for daily periods):

* ``seasonality="month"``: ``month_02`` ... ``month_12`` (January is the reference);
  ``"quarter"``: ``quarter_2`` ... ``quarter_4`` (Q1 the reference);
* ``high_season``: the days in the listed months;
* a column per campaign name: the days from its ``start`` to its ``end`` (inclusive; a
  name given again adds its windows to the same column, e.g. a yearly sale);
* ``holiday``: 1 if the period holds one of the listed days, else 0.

:func:`calendar_table_for` makes such a table long enough for a run: from the period of
the earliest first purchase to the one holding the end of the prediction horizon.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.errors import ConfigError, DataError, echo

PERIOD_COLUMN = "period_start"
"""The column of a period's first day in a long covariate table."""

TABLE_ATTR = "clvmodels_dynamic"
"""``attrs`` key of a canonical covariate table: ``{"source": name, "time_unit": unit}``
(the name tells messages which table a covariate comes from)."""

LAST_DAY = int(np.datetime64(pd.Timestamp.max.normalize(), "D").astype("int64"))
"""The day number of 2262-04-11, the last day a pandas date (datetime64[ns]) can hold:
a calendar ends before it."""

_PERIOD_DAYS = {"D": 1, "W": 7}
_SEASONALITY = ("month", "quarter")
_RESERVED = (PERIOD_COLUMN, "customer_id")


def period_days(time_unit: str, *, error: type[Exception] = DataError) -> int:
    """Days per period of ``time_unit`` (1 for ``"D"``, 7 for ``"W"``).

    Raises
    ------
    DataError (or ``error``)
        Another unit: periods are whole days, like the summary's times.
    """
    if time_unit not in _PERIOD_DAYS:
        raise error(
            f"time_unit: {echo(time_unit)} is not one of 'D' (days), 'W' (weeks); dynamic "
            "covariates change per day or per week"
        )
    return _PERIOD_DAYS[time_unit]


def day_numbers(days: Any) -> np.ndarray:
    """Days since 1970-01-01 (int64) of datetime64 values (any resolution, floored)."""
    return np.asarray(days, dtype="datetime64[ns]").astype("datetime64[D]").astype("int64")


def as_days(numbers: Any) -> np.ndarray:
    """The datetime64[D] of day numbers (days since 1970-01-01)."""
    return np.asarray(numbers, dtype="int64").astype("datetime64[D]")


def day_text(number: int) -> str:
    """A day number as ``yyyy-mm-dd``."""
    return str(np.datetime64(int(number), "D"))


def parse_day(value: Any, key: str, *, error: type[Exception] = ConfigError) -> int:
    """The day number of a date-like ``value`` (a date, a timestamp at midnight or ISO
    text), or ``error`` naming ``key``."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp) or isinstance(value, bool | int | float):
        raise error(f"{key}: cannot parse {echo(value)} as a date")
    if stamp != stamp.normalize():
        raise error(f"{key}: {echo(value)} is not a day (it has a time of day)")
    return int(day_numbers(np.datetime64(stamp.tz_localize(None) if stamp.tz else stamp)))


def period_of(day: int, anchor: int, unit: int) -> int:
    """The start (day number) of the period holding ``day`` on the grid through
    ``anchor`` with periods of ``unit`` days."""
    return day - (day - anchor) % unit


def calendar_covariates(
    first_period_start: Any,
    n_periods: int,
    time_unit: str,
    *,
    seasonality: str | None = None,
    high_season: Sequence[int] | None = None,
    campaigns: Sequence[Mapping[str, Any]] | None = None,
    holidays: Iterable[Any] | None = None,
) -> pd.DataFrame:
    """A population-wide table of calendar covariates (see the module docstring).

    Parameters
    ----------
    first_period_start : date-like
        First day of the first period.
    n_periods : int
        Number of consecutive periods.
    time_unit : {"D", "W"}
        Length of a period.
    seasonality : {"month", "quarter"}, optional
        Month dummies ``month_02`` ... ``month_12`` or quarter dummies ``quarter_2`` ...
        ``quarter_4``, each the share of the period's days in that month or quarter.
    high_season : list of int, optional
        Months (1-12) of the high season: column ``high_season``.
    campaigns : list of {name, start, end}, optional
        One column per campaign name: the share of the period's days from ``start`` to
        ``end`` (both included), over all windows of that name.
    holidays : list of dates, optional
        Column ``holiday``: 1 for a period holding one of the days.

    Returns
    -------
    pandas.DataFrame
        ``period_start`` (datetime64) and the covariate columns (float), one row per period.

    Raises
    ------
    ConfigError
        An unknown unit or seasonality, no covariate asked for, a month outside 1-12, a
        campaign without a name, start or end, ending before it starts, or named like
        another column, an unparseable date.
    """
    unit = period_days(time_unit, error=ConfigError)
    first = parse_day(first_period_start, "calendar.first_period_start")
    if isinstance(n_periods, bool) or not isinstance(n_periods, int | np.integer) or n_periods < 1:
        raise ConfigError(f"calendar.n_periods: {echo(n_periods)} is not a positive integer")
    if first + (int(n_periods) - 1) * unit > LAST_DAY:
        raise ConfigError(
            f"calendar.n_periods: {n_periods} periods from {day_text(first)} start after "
            f"{day_text(LAST_DAY)}, the last day of pandas dates"
        )
    days = first + np.arange(int(n_periods) * unit, dtype="int64").reshape(-1, unit)
    months = as_days(days).astype("datetime64[M]").astype("int64") % 12 + 1
    columns: dict[str, np.ndarray] = {}
    if seasonality is not None:
        columns.update(_seasonal(months, seasonality))
    if high_season is not None:
        chosen = _months(high_season)
        columns["high_season"] = np.isin(months, chosen).mean(axis=1)
    windows: dict[str, np.ndarray] = {}
    for name, start, end in _campaigns(campaigns, columns):  # a repeated name adds windows
        inside = (days >= start) & (days <= end)
        windows[name] = windows[name] | inside if name in windows else inside
    columns.update({name: inside.mean(axis=1) for name, inside in windows.items()})
    if holidays is not None:
        marked = _holidays(holidays)
        columns["holiday"] = np.isin(days, marked).any(axis=1).astype("float64")
    if not columns:
        raise ConfigError(
            "calendar: no covariate asked for; give seasonality, high_season, campaigns or holidays"
        )
    table = pd.DataFrame({PERIOD_COLUMN: as_days(days[:, 0]).astype("datetime64[ns]")})
    table = table.assign(**columns)
    table.attrs[TABLE_ATTR] = {"source": "calendar covariates", "time_unit": time_unit}
    return table


def _seasonal(months: np.ndarray, seasonality: str) -> dict[str, np.ndarray]:
    """The month or quarter shares of each period (row of ``months``), reference left out."""
    if seasonality == "month":
        return {f"month_{m:02d}": (months == m).mean(axis=1) for m in range(2, 13)}
    if seasonality == "quarter":
        quarters = (months - 1) // 3 + 1
        return {f"quarter_{q}": (quarters == q).mean(axis=1) for q in range(2, 5)}
    raise ConfigError(
        f"calendar.seasonality: {echo(seasonality)} is not one of {', '.join(_SEASONALITY)}"
    )


def _months(high_season: Sequence[int]) -> list[int]:
    if isinstance(high_season, str | bytes) or not isinstance(high_season, Sequence):
        raise ConfigError(f"calendar.high_season: {echo(high_season)} is not a list of months")
    if not high_season:
        raise ConfigError("calendar.high_season: the list of months is empty")
    for i, month in enumerate(high_season):
        if (
            isinstance(month, bool)
            or not isinstance(month, int | np.integer)
            or not 1 <= month <= 12
        ):
            raise ConfigError(f"calendar.high_season[{i}]: {echo(month)} is not a month (1-12)")
    twice = [m for i, m in enumerate(high_season) if m in high_season[:i]]
    if twice:
        raise ConfigError(f"calendar.high_season: month {twice[0]} is listed twice")
    return [int(m) for m in high_season]


def _campaigns(
    campaigns: Sequence[Mapping[str, Any]] | None, taken: Mapping[str, Any]
) -> list[tuple[str, int, int]]:
    """``(name, first day, last day)`` of every campaign, checked."""
    if campaigns is None:
        return []
    if isinstance(campaigns, str | bytes | Mapping) or not isinstance(campaigns, Sequence):
        raise ConfigError(f"calendar.campaigns: {echo(campaigns)} is not a list of campaigns")
    out: list[tuple[str, int, int]] = []
    names = set(taken) | set(_RESERVED) | {"high_season", "holiday"}
    for i, campaign in enumerate(campaigns):
        key = f"calendar.campaigns[{i}]"
        if not isinstance(campaign, Mapping):
            raise ConfigError(f"{key}: {echo(campaign)} is not a mapping with name, start, end")
        unknown = sorted(set(map(str, campaign)) - {"name", "start", "end"})
        if unknown:
            raise ConfigError(f"{key}: unknown key {unknown[0]!r} (keys: name, start, end)")
        for field in ("name", "start", "end"):
            if campaign.get(field) is None:
                raise ConfigError(f"{key}.{field}: missing")
        name = campaign["name"]
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{key}.name: {echo(name)} is not a non-empty text")
        if name in names and name not in {n for n, _, _ in out}:
            raise ConfigError(f"{key}.name: {name!r} is already a column of the calendar")
        start = parse_day(campaign["start"], f"{key}.start")
        end = parse_day(campaign["end"], f"{key}.end")
        if end < start:
            raise ConfigError(f"{key}.end: {day_text(end)} is before its start {day_text(start)}")
        names.add(name)
        out.append((name, start, end))
    return out


def _holidays(holidays: Iterable[Any]) -> np.ndarray:
    if isinstance(holidays, str | bytes | Mapping) or not isinstance(holidays, Iterable):
        raise ConfigError(f"calendar.holidays: {echo(holidays)} is not a list of dates")
    days = [parse_day(day, f"calendar.holidays[{i}]") for i, day in enumerate(holidays)]
    if not days:
        raise ConfigError("calendar.holidays: the list of dates is empty")
    return np.asarray(days, dtype="int64")


def calendar_table_for(
    first_days: Any,
    calibration_end: Any,
    horizon: float,
    time_unit: str,
    *,
    anchor: Any = None,
    **calendar: Any,
) -> pd.DataFrame:
    """The calendar covariates (:func:`calendar_covariates`) a run needs: from the period
    of the earliest first purchase to the period holding ``calibration_end + horizon``.

    Parameters
    ----------
    first_days : date-like or array of them
        The customers' first purchase days (e.g. a summary's ``first_purchase``); the
        earliest counts.
    calibration_end : date-like
        The day at which model time is ``T`` (a summary's ``calibration_end``).
    horizon : float
        The prediction horizon in ``time_unit`` (>= 0).
    time_unit : {"D", "W"}
        Length of a period.
    anchor : date-like, optional
        A day on which a period starts, to put the table on the grid of other covariate
        tables; default the earliest first purchase day.
    **calendar
        ``seasonality``, ``high_season``, ``campaigns``, ``holidays`` of
        :func:`calendar_covariates`.

    Raises
    ------
    ConfigError
        As :func:`calendar_covariates` and :func:`check_horizon_days`; a first purchase
        after the calibration end.

    Examples
    --------
    >>> table = calendar_table_for(["2025-01-06"], "2025-03-31", 4, "W", high_season=[3, 4])
    >>> len(table), list(table.columns)
    (16, ['period_start', 'high_season'])
    """
    unit = period_days(time_unit, error=ConfigError)
    firsts = pd.Series(np.atleast_1d(np.asarray(first_days, dtype=object)))
    if firsts.empty:
        raise ConfigError("calendar: no first purchase days to start the calendar from")
    stamps = pd.to_datetime(firsts, errors="coerce", format="mixed")
    if stamps.isna().any():
        bad = firsts[stamps.isna()].iloc[0]
        raise ConfigError(f"calendar: first purchase day {echo(bad)} is not a date")
    earliest = parse_day(stamps.min().normalize(), "calendar: first purchase day")
    cal = parse_day(calibration_end, "calendar: calibration_end")
    check_horizon_days(cal, horizon, time_unit, "calendar.horizon")
    if earliest > cal:
        raise ConfigError(
            f"calendar: the earliest first purchase {day_text(earliest)} is after the "
            f"calibration end {day_text(cal)}"
        )
    grid = earliest if anchor is None else parse_day(anchor, "calendar.anchor")
    start = period_of(earliest, grid, unit)
    reach = cal + horizon * unit  # a day point, possibly within a day
    last = period_of(math.ceil(reach) - 1 if reach > cal else cal, grid, unit)
    last = max(last, period_of(cal, grid, unit))
    return calendar_covariates(day_text(start), (last - start) // unit + 1, time_unit, **calendar)


def check_horizon_days(calibration_end: int, horizon: Any, time_unit: str, key: str) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``horizon`` (in ``time_unit``) is
    a finite number >= 0 whose end, counted from the day number ``calibration_end``, is
    a day a calendar can hold (up to :data:`LAST_DAY`)."""
    if isinstance(horizon, bool) or not isinstance(horizon, int | float | np.number):
        raise ConfigError(f"{key}: {echo(horizon)} is not a number >= 0")
    if not horizon >= 0:
        raise ConfigError(f"{key}: {horizon!r} is not a number >= 0")
    if not math.isfinite(horizon):
        raise ConfigError(
            f"{key}: a lifetime horizon needs covariate values for ever; with time-varying "
            "covariates give a number of time units covered by them"
        )
    unit = period_days(time_unit, error=ConfigError)
    if calibration_end + float(horizon) * unit > LAST_DAY:
        longest = (LAST_DAY - calibration_end) / unit
        raise ConfigError(
            f"{key}: {float(horizon):.10g} {time_unit} after the calibration end "
            f"{day_text(calibration_end)} is too long for the calendar, which ends on "
            f"{day_text(LAST_DAY)} (the last day of pandas dates); give at most "
            f"{longest:.6g} {time_unit}"
        )
