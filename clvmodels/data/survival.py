"""Subscriptions -> survival data for contractual models (sBG).

Conventions follow Fader & Hardie (2007), "How to project customer retention", Journal
of Interactive Marketing 21(1), 76-90: a cohort of customers acquired in period 0 is
followed over discrete renewal periods; ``alive[t]`` is the number still customers
after ``t`` renewals, ``alive[0]`` the cohort size.

Individual rows carry ``tenure`` = the number of whole periods completed (renewals) and
``churned``: ``True`` = lost after ``tenure`` completed periods, so the sBG churn time
is ``T = tenure + 1`` (P(T = t), FH 2007 eq. 1); ``False`` = still a customer after
``tenure`` periods (right-censored, contributes S(tenure), FH 2007 eq. 2).
Hence ``alive[t] = #{tenure >= t}``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from clvmodels.data.checks import fail_first_row, require_columns
from clvmodels.errors import DataError
from clvmodels.units import DAYS_PER_UNIT, TRANSACTION_UNITS

TimeUnit = Literal["Y", "M", "W", "D"]
_UNITS = tuple(DAYS_PER_UNIT)
# Periods of days and weeks are counted in whole days, of months and years in calendar
# months from the start day; how many of either a period holds comes from DAYS_PER_UNIT.
_DAYS_PER = {unit: int(DAYS_PER_UNIT[unit]) for unit in TRANSACTION_UNITS}
_MONTHS_PER = {
    unit: round(DAYS_PER_UNIT[unit] / DAYS_PER_UNIT["M"])
    for unit in _UNITS
    if unit not in TRANSACTION_UNITS
}
_NEVER = np.iinfo(np.int64).max  # the horizon of a churned member: fully observed


def _whole_periods(start: pd.Series, stop: pd.Series, unit: str) -> np.ndarray:
    """Whole periods from ``start`` to ``stop`` (dates): days and weeks are whole days
    (7 a week), months and years whole calendar months (12 a year), e.g. 2020-03-15 ->
    2021-03-14 is 0 years and 11 months; 2020-03-15 -> 2021-03-15 is 1 year."""
    if unit in _DAYS_PER:
        return (stop - start).dt.days.to_numpy() // _DAYS_PER[unit]
    months = (stop.dt.year - start.dt.year) * 12 + (stop.dt.month - start.dt.month)
    months = months - (stop.dt.day < start.dt.day).astype("int64")
    return months.to_numpy(dtype="int64") // _MONTHS_PER[unit]


def _cohort_labels(start: pd.Series, unit: str) -> pd.Series:
    if unit == "Y":
        return start.dt.strftime("%Y")
    if unit == "M":
        return start.dt.strftime("%Y-%m")
    if unit == "W":  # the Monday starting the week
        return (start - pd.to_timedelta(start.dt.weekday, unit="D")).dt.strftime("%Y-%m-%d")
    return start.dt.strftime("%Y-%m-%d")


def _dates(frame: pd.DataFrame, column: str, name: str, *, allow_missing: bool) -> pd.Series:
    raw = frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw
    else:
        parsed = pd.to_datetime(raw, errors="coerce", format="ISO8601")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = parsed.isna() & (raw.notna() | (not allow_missing))
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{name}: column {column!r} row {pos}: cannot parse {raw.iloc[pos]!r} as a date"
        )
    return parsed.dt.normalize()


def survival_from_subscriptions(
    source_df: pd.DataFrame,
    *,
    customer_id: str,
    start: str | None = None,
    end: str | None = None,
    tenure: str | None = None,
    churned: str | None = None,
    cohort: str | None = None,
    time_unit: TimeUnit = "Y",
    observation_end: str | pd.Timestamp | None = None,
    source_name: str = "DataFrame",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn subscriptions into individual survival rows and a cohort table.

    Give either ``start`` (and optionally ``end``) date columns, or ``tenure`` and
    ``churned`` columns.

    Parameters
    ----------
    source_df : pandas.DataFrame
        One row per customer.
    customer_id : str
        Id column.
    start, end : str, optional
        Subscription start and end dates; a missing end means still active at
        ``observation_end``.  Tenure is the number of whole ``time_unit`` periods from
        start to end (or to ``observation_end``); calendar years and months count from
        the start day, weeks are 7 days.
    tenure, churned : str, optional
        Completed periods (non-negative integers) and a churn flag (bool or 0/1).
    cohort : str, optional
        Cohort column.  Default: the start date truncated to the period ("2020" for
        "Y", "2020-03" for "M", the Monday of the week for "W", the day for "D"), or a
        single cohort "all" without dates.
    time_unit : {"Y", "M", "W", "D"}
    observation_end : date-like, optional
        Default: the latest start or end date.
    source_name : str
        Name used in messages.

    Returns
    -------
    (individual, table)
        ``individual``: ``customer_id, cohort, tenure, churned`` (see the module
        docstring).  ``table``: ``cohort, period, alive`` with ``alive`` at period 0 the
        cohort size and ``alive[t] = #{tenure >= t}``, for the periods 0..h every member
        of the cohort could have been observed (h = the smallest potential tenure in the
        cohort with dates; without dates, the smallest tenure of an active member, or the
        largest tenure when all have churned).

    Raises
    ------
    DataError
        Missing columns, unparseable dates, end before start, dates after
        observation_end, negative or non-integer tenure, missing churn flags.
    """
    name = source_name
    columns = dict(
        customer_id=customer_id, start=start, end=end, tenure=tenure, churned=churned, cohort=cohort
    )
    _check_layout(source_df, name, time_unit, columns)
    ids = source_df[customer_id]
    fail_first_row(ids.isna().to_numpy(), name, customer_id, "customer id is missing", ids)
    if start is not None:
        tenures, lost, horizon, labels = _dated_tenures(
            source_df, name, start, end, time_unit, observation_end
        )
    else:
        assert tenure is not None and churned is not None
        tenures, lost, horizon = _given_tenures(source_df, name, tenure, churned)
        labels = pd.Series("all", index=source_df.index)
    if cohort is not None:
        labels = source_df[cohort].astype(str)
    individual = pd.DataFrame({"customer_id": ids.to_numpy()})
    individual["cohort"] = labels.to_numpy(dtype=object).astype(str)
    individual["tenure"] = np.asarray(tenures, dtype="int64")
    individual["churned"] = lost
    return individual, _cohort_table(individual, np.asarray(horizon))


def _check_layout(
    frame: pd.DataFrame, name: str, time_unit: str, columns: dict[str, str | None]
) -> None:
    """Raise for an unknown time unit, neither (or both) of ``start`` and ``tenure`` with
    ``churned``, a missing column (``columns``: role -> column, None: not used), or no
    rows."""
    if time_unit not in _UNITS:
        raise DataError(f"time_unit: {time_unit!r} is not one of {', '.join(_UNITS)}")
    start, tenure, churned = columns["start"], columns["tenure"], columns["churned"]
    if (start is None) == (tenure is None) or (tenure is None) != (churned is None):
        raise DataError(f"{name}: give either start[/end] columns or tenure and churned columns")
    require_columns(name, [c for c in columns.values() if c is not None], frame.columns)
    if len(frame) == 0:
        raise DataError(f"{name}: no rows")


def _dated_tenures(
    frame: pd.DataFrame,
    name: str,
    start: str,
    end: str | None,
    time_unit: str,
    observation_end: str | pd.Timestamp | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Series]:
    """Tenures, churn flags, potential tenures (the whole periods up to
    ``observation_end``) and cohort labels from start and end dates."""
    starts = _dates(frame, start, name, allow_missing=False)
    if end is not None:
        ends = _dates(frame, end, name, allow_missing=True)
        fail_first_row((ends < starts).to_numpy(), name, end, "end before start", frame[end])
    else:
        ends = pd.Series(pd.NaT, index=frame.index, dtype=starts.dtype)
    obs = (
        pd.Timestamp(observation_end).normalize()
        if observation_end is not None
        else max(starts.max(), ends.max() if ends.notna().any() else starts.max())
    )
    for column, dates in ((start, starts), (end, ends)):
        if column is not None:
            late = (dates > obs).to_numpy()
            fail_first_row(late, name, column, f"after observation_end {obs.date()}", frame[column])
    lost = ends.notna().to_numpy()
    horizon = _whole_periods(starts, pd.Series(obs, index=starts.index), time_unit)
    tenures = np.where(lost, _whole_periods(starts, ends.fillna(obs), time_unit), horizon)
    return tenures, lost, horizon, _cohort_labels(starts, time_unit)


def _given_tenures(
    frame: pd.DataFrame, name: str, tenure: str, churned: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tenures, churn flags and potential tenures (a churned member's is unbounded) from
    tenure and churned columns."""
    raw_t = _non_negative_integers(frame, tenure, name)
    raw_c = frame[churned]
    # booleans, 0/1 numbers, and their text in a CSV (true/false, 1/0, 1.0/0.0)
    text = raw_c.astype(str).str.strip().str.lower()
    numeric = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
    flags = np.where(text == "true", 1.0, np.where(text == "false", 0.0, numeric))
    bad = ~np.isin(flags, (0.0, 1.0)) | raw_c.isna().to_numpy()
    fail_first_row(bad, name, churned, "not a boolean or 0/1", raw_c)
    lost = flags == 1.0
    tenures = raw_t.astype("int64")
    return tenures, lost, np.where(lost, _NEVER, tenures)


def _non_negative_integers(frame: pd.DataFrame, column: str, name: str) -> np.ndarray:
    """``column`` as floats, raising at the first value that is not a non-negative integer."""
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    fail_first_row(bad, name, column, "not a non-negative integer", frame[column])
    return values


def _cohort_table(individual: pd.DataFrame, horizon: np.ndarray) -> pd.DataFrame:
    """``cohort, period, alive`` for the periods 0..h every member of a cohort could have
    been observed (h: the smallest potential tenure; the largest tenure when every
    member churned), ``alive[t] = #{tenure >= t}``."""
    rows = []
    for label, members in individual.groupby("cohort", sort=True):
        last = int(horizon[members.index.to_numpy()].min())
        if last == _NEVER:  # all churned: fully observed
            last = int(members["tenure"].max())
        counts = np.bincount(members["tenure"].to_numpy(), minlength=last + 1)
        at_least = counts[::-1].cumsum()[::-1]
        rows.extend((label, t, int(at_least[t])) for t in range(last + 1))
    return pd.DataFrame(rows, columns=["cohort", "period", "alive"]).astype(
        {"period": "int64", "alive": "int64"}
    )


def validate_survival_table(df: pd.DataFrame, source_name: str = "DataFrame") -> pd.DataFrame:
    """Check a cohort table ``cohort, period, alive`` (Fader & Hardie 2007, Table 1).

    Periods must be 0..n, consecutive, per cohort; ``alive`` non-negative integers,
    non-increasing in period.  Returns the table sorted by cohort and period with
    ``cohort`` as text and int64 ``period``/``alive``.

    Raises
    ------
    DataError
        Naming the column, the cohort and the first offending row.
    """
    name = source_name
    require_columns(name, ("cohort", "period", "alive"), df.columns)
    if len(df) == 0:
        raise DataError(f"{name}: no rows")
    fail_first_row(df["cohort"].isna().to_numpy(), name, "cohort", "missing cohort", df["cohort"])
    for column in ("period", "alive"):
        _non_negative_integers(df, column, name)
    table = pd.DataFrame(
        {
            "cohort": df["cohort"].astype(str).to_numpy(),
            "period": pd.to_numeric(df["period"]).astype("int64").to_numpy(),
            "alive": pd.to_numeric(df["alive"]).astype("int64").to_numpy(),
            "row": np.arange(len(df)),
        }
    ).sort_values(["cohort", "period"], kind="stable")
    for label, group in table.groupby("cohort", sort=False):
        periods, alive = group["period"].to_numpy(), group["alive"].to_numpy()
        if periods[0] != 0:
            raise DataError(f"{name}: column 'period' cohort {label!r}: period 0 is missing")
        gaps = np.flatnonzero(np.diff(periods) != 1)
        if gaps.size:
            row = int(group["row"].iloc[gaps[0] + 1])
            raise DataError(
                f"{name}: column 'period' cohort {label!r} row {row}: periods must "
                f"be consecutive 0..n (got {periods[gaps[0]]} then "
                f"{periods[gaps[0] + 1]})"
            )
        rises = np.flatnonzero(np.diff(alive) > 0)
        if rises.size:
            row = int(group["row"].iloc[rises[0] + 1])
            raise DataError(
                f"{name}: column 'alive' cohort {label!r} row {row}: alive rises "
                f"from {alive[rises[0]]} to {alive[rises[0] + 1]}"
            )
    return table.drop(columns="row").reset_index(drop=True)


def survival_to_individual(
    table: pd.DataFrame, calibration_periods: int | None = None
) -> pd.DataFrame:
    """Expand a cohort table into weighted ``cohort, tenure, churned, count`` rows.

    For periods t = 1..k (k = ``calibration_periods``, default the last period of each
    cohort), ``alive[t-1] - alive[t]`` customers churned after ``tenure = t - 1``
    completed periods (sBG churn time T = t, Fader & Hardie 2007 eq. 1) and ``alive[k]``
    are still customers after ``tenure = k`` (censored, eq. 2).  Counts sum to
    ``alive[0]``.

    Raises
    ------
    DataError
        If the table is invalid (:func:`validate_survival_table`) or a cohort has fewer
        than ``calibration_periods`` periods.
    """
    table = validate_survival_table(table)
    if calibration_periods is not None and calibration_periods < 0:
        raise DataError(f"calibration_periods: {calibration_periods} is negative")
    rows = []
    for label, group in table.groupby("cohort", sort=True):
        alive = group["alive"].to_numpy()
        k = len(alive) - 1 if calibration_periods is None else calibration_periods
        if k > len(alive) - 1:
            raise DataError(
                f"calibration_periods: {k} but cohort {label!r} has periods "
                f"0..{len(alive) - 1} only"
            )
        rows.extend((label, t - 1, True, int(alive[t - 1] - alive[t])) for t in range(1, k + 1))
        rows.append((label, k, False, int(alive[k])))
    out = pd.DataFrame(rows, columns=["cohort", "tenure", "churned", "count"])
    return out.astype({"tenure": "int64", "churned": bool, "count": "int64"})
