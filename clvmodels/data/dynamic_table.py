"""Long tables of time-varying covariates: read, checked, put in canonical form.

A dynamic covariate table has one row per calendar period (:mod:`clvmodels.data.calendar`)
and, when it holds a ``customer_id`` column, per customer; without one its rows apply to
every customer (a population-wide table, e.g. calendar covariates).  Every other column
(or those chosen) is a covariate: numbers, or booleans (``true``/``false`` in any case, or a
boolean dtype) read as 1/0.  The canonical form (:func:`read_dynamic_covariates`,
:func:`check_dynamic_table`) has columns ``customer_id`` (text, as written: ``0042`` stays
``0042``; only for customer-level tables), ``period_start`` (datetime64 at midnight) and
the covariates as floats, sorted by customer and period.

A table is refused, in one line naming the file, line and column, for: a missing column, a
missing id, a period start that is no date (or has a time of day), a value that is not a
finite number or a boolean, a customer (or, population-wide, a period) given twice for a
period, periods off the grid of the time unit (a weekly start on another weekday), a
period missing between two given ones, and a customer whose periods have a gap.

:func:`checked_tables` checks the tables of one panel together (a covariate in one table
only), :func:`common_grid` their shared grid of periods, and :func:`table_values` lays them
out on a panel's periods, one row per customer (or one shared row), for
:func:`clvmodels.data.dynamic.build_panel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.calendar import (
    PERIOD_COLUMN,
    TABLE_ATTR,
    day_numbers,
    day_text,
    period_days,
)
from clvmodels.data.checks import require_columns
from clvmodels.data.parsing import csv_delimiter
from clvmodels.data.sources import Source, is_csv_source, read_source_pandas, row_label
from clvmodels.errors import DataError, echo

ID_COLUMN = "customer_id"
"""The customer column of a canonical table (absent from a population-wide one)."""

_TRUE, _FALSE = "true", "false"


def read_dynamic_covariates(
    source: Source,
    *,
    time_unit: str,
    id_column: str = ID_COLUMN,
    period_column: str = PERIOD_COLUMN,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A long table of time-varying covariates from a CSV or Parquet file (or a
    DataFrame), checked and in canonical form (see the module docstring).

    Parameters
    ----------
    source : DataFrame, "builtin:NAME" or path
        The table (:mod:`clvmodels.data.sources`); CSV cells are read as text and parsed
        here, so a bad cell is reported with its line.
    time_unit : {"D", "W"}
        Length of a period: periods must start every 1 or 7 days.
    id_column : str
        The customer column; a table without it applies to every customer.
    period_column : str
        The column of each period's first day.
    columns : list of str, optional
        The covariate columns; default every other column.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (text; customer-level tables only), ``period_start`` and the
        covariates (float), sorted; ``attrs["clvmodels_dynamic"]`` names the source.

    Raises
    ------
    DataError
        See the module docstring.
    """
    is_csv = is_csv_source(source)
    delimiter = csv_delimiter(source) if is_csv else None  # type: ignore[arg-type]
    frame, name = read_source_pandas(source, delimiter=delimiter)
    return check_dynamic_table(
        frame,
        name,
        time_unit=time_unit,
        id_column=id_column,
        period_column=period_column,
        columns=columns,
        is_csv=is_csv,
    )


def check_dynamic_table(
    frame: pd.DataFrame,
    name: str,
    *,
    time_unit: str,
    id_column: str = ID_COLUMN,
    period_column: str = PERIOD_COLUMN,
    columns: Sequence[str] | None = None,
    is_csv: bool = False,
) -> pd.DataFrame:
    """:func:`read_dynamic_covariates` of a table already in pandas, named ``name`` in
    messages (rows counted as CSV lines when ``is_csv``)."""
    unit = period_days(time_unit)
    has_ids = id_column in frame.columns
    chosen = _covariate_columns(frame, name, id_column, period_column, columns)
    if len(frame) == 0:
        raise DataError(f"{name}: the table is empty")
    frame = frame.reset_index(drop=True)

    def where(pos: int) -> str:
        return row_label(name, pos, is_file_csv=is_csv)

    out: dict[str, Any] = {}
    if has_ids:
        out[ID_COLUMN] = _id_text(frame[id_column], name, id_column, where)
    days = _period_days(frame[period_column], name, period_column, where)
    out[PERIOD_COLUMN] = days
    for column in chosen:
        out[column] = _numbers(frame[column], name, column, where)
    table = pd.DataFrame(out)
    _check_grid(days, unit, time_unit, name, period_column, where)
    _check_duplicates(table, name, where)
    table = table.sort_values([*([ID_COLUMN] if has_ids else []), PERIOD_COLUMN], kind="stable")
    table = table.reset_index(drop=True)
    if has_ids:
        _check_customer_gaps(table, unit, name)
    table[PERIOD_COLUMN] = table[PERIOD_COLUMN].to_numpy("int64").astype("datetime64[D]")
    table[PERIOD_COLUMN] = table[PERIOD_COLUMN].astype("datetime64[ns]")
    table.attrs[TABLE_ATTR] = {"source": name, "time_unit": time_unit}
    return table


def _covariate_columns(
    frame: pd.DataFrame,
    name: str,
    id_column: str,
    period_column: str,
    columns: Sequence[str] | None,
) -> list[str]:
    require_columns(name, {"period": period_column}, frame.columns)
    keys = {id_column, period_column}
    if columns is None:
        chosen = [str(c) for c in frame.columns if c not in keys]
    else:
        if isinstance(columns, str):
            raise DataError(f"{name}: columns must be a list of column names, not {columns!r}")
        chosen = list(columns)
        require_columns(name, chosen, frame.columns)
        taken = [c for c in chosen if c in keys]
        if taken:
            raise DataError(f"{name}: column {taken[0]!r} is the id or period column, no covariate")
        twice = [c for i, c in enumerate(chosen) if c in chosen[:i]]
        if twice:
            raise DataError(f"{name}: covariate column {twice[0]!r} is listed twice")
    if not chosen:
        raise DataError(f"{name}: no covariate column besides {id_column!r} and {period_column!r}")
    return chosen


def _id_text(ids: pd.Series, name: str, column: str, where: Any) -> np.ndarray:
    """The ids as text: integers without a decimal point, text as written (stripped)."""
    if pd.api.types.is_float_dtype(ids):
        whole = ids.notna() & np.isfinite(ids) & (ids == ids.round())
        if whole.all():
            ids = ids.astype("int64")
    text = ids.astype(str).str.strip()
    bad = (ids.isna() | (text == "")).to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataError(f"{name}: column {echo(column)} {where(pos)}: missing customer id")
    return text.to_numpy(dtype=object)


def _period_days(raw: pd.Series, name: str, column: str, where: Any) -> np.ndarray:
    """The day numbers of the period starts; a value that is no date, or not midnight,
    is an error at its row."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        stamps = raw.dt.tz_localize(None)
    elif pd.api.types.is_datetime64_dtype(raw):
        stamps = raw
    elif pd.api.types.is_string_dtype(raw) or raw.dtype == object:
        text = raw.astype(str).str.strip()
        stamps = pd.to_datetime(text, errors="coerce", format="ISO8601").where(raw.notna())
        if isinstance(stamps.dtype, pd.DatetimeTZDtype):  # "2025-01-06T00:00Z"
            stamps = stamps.dt.tz_localize(None)
    else:
        raise DataError(
            f"{name}: column {echo(column)} holds {raw.dtype} values, not dates (yyyy-mm-dd)"
        )
    bad = stamps.isna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name}: column {echo(column)} {where(pos)}: cannot parse "
            f"{echo(raw.iloc[pos])} as a date (yyyy-mm-dd)"
        )
    timed = (stamps != stamps.dt.normalize()).to_numpy()
    if timed.any():
        pos = int(np.flatnonzero(timed)[0])
        raise DataError(
            f"{name}: column {echo(column)} {where(pos)}: {echo(raw.iloc[pos])} is not a "
            "day (it has a time of day); a period starts at a day"
        )
    return day_numbers(stamps.to_numpy())


def _numbers(raw: pd.Series, name: str, column: str, where: Any) -> np.ndarray:
    """A covariate column as floats: numbers, or booleans as 1/0."""
    if pd.api.types.is_bool_dtype(raw):
        return raw.to_numpy(dtype="float64")
    if pd.api.types.is_numeric_dtype(raw):
        values = raw.to_numpy(dtype="float64", na_value=np.nan)
    else:
        codes, levels = pd.factorize(raw)  # the text work once per distinct value
        text = pd.Series(levels, dtype=object).astype(str).str.strip()
        lowered = text.str.lower()
        parsed = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy("float64")
        parsed = np.where(lowered == _TRUE, 1.0, np.where(lowered == _FALSE, 0.0, parsed))
        values = np.append(parsed, np.nan)[codes]  # a missing cell has code -1
    bad = ~np.isfinite(values)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        cell = raw.iloc[pos]
        blank = (
            cell is None or (isinstance(cell, float) and np.isnan(cell)) or str(cell).strip() == ""
        )
        problem = "missing value" if blank else f"{echo(cell)} is not a finite number or true/false"
        raise DataError(f"{name}: column {echo(column)} {where(pos)}: {problem}")
    return values


def _check_grid(
    days: np.ndarray, unit: int, time_unit: str, name: str, column: str, where: Any
) -> None:
    """Every period start on the grid of the first row's, and no period missing between
    the first and the last."""
    off = (days - days[0]) % unit != 0
    if off.any():
        pos = int(np.flatnonzero(off)[0])
        raise DataError(
            f"{name}: column {echo(column)} {where(pos)}: period {day_text(days[pos])} is "
            f"off the weekly grid of {day_text(days[0])} ({where(0)}); "
            f"with time_unit {time_unit!r} periods start every {unit} days"
        )
    starts = np.unique(days)
    gaps = np.flatnonzero(np.diff(starts) > unit)
    if len(gaps):
        before, after = starts[gaps[0]], starts[gaps[0] + 1]
        raise DataError(
            f"{name}: period {day_text(before + unit)} missing between "
            f"{day_text(before)} and {day_text(after)}"
        )


def _check_duplicates(table: pd.DataFrame, name: str, where: Any) -> None:
    keys = [c for c in (ID_COLUMN, PERIOD_COLUMN) if c in table.columns]
    twice = table.duplicated(keys).to_numpy()
    if twice.any():
        pos = int(np.flatnonzero(twice)[0])
        day = day_text(table[PERIOD_COLUMN].iloc[pos])
        who = f"customer {table[ID_COLUMN].iloc[pos]} has" if ID_COLUMN in table else "there are"
        raise DataError(
            f"{name}: {who} two rows for the period starting {day} (the second at {where(pos)})"
        )


def _check_customer_gaps(table: pd.DataFrame, unit: int, name: str) -> None:
    """No customer has a period missing between two of hers (``table`` sorted)."""
    ids = table[ID_COLUMN].to_numpy()
    days = table[PERIOD_COLUMN].to_numpy("int64")
    same = ids[1:] == ids[:-1]
    gap = np.flatnonzero(same & (np.diff(days) != unit))
    if len(gap):
        pos = int(gap[0])
        raise DataError(
            f"{name}: customer {ids[pos]} has no row for the period "
            f"{day_text(days[pos] + unit)} between {day_text(days[pos])} and "
            f"{day_text(days[pos + 1])}"
        )


def table_values(
    tables: list[tuple[str, pd.DataFrame]],
    ids: np.ndarray,
    births: np.ndarray,
    starts: np.ndarray,
    unit: int,
) -> dict[str, np.ndarray]:
    """Covariate name -> (n | 1, P + F) values of the canonical ``tables`` (``(name,
    table)`` pairs) for the customers ``ids`` born on the days ``births`` (day numbers),
    on the periods ``starts`` (day numbers, ``unit`` days apart, from the period of the
    earliest birth); a customer's periods before her first row repeat its value.

    Raises
    ------
    DataError
        A customer without a row for a period from her birth period to ``starts[-1]``
        (``customer 0042 has no dynamic covariates for the period starting ...``).
    """
    births_period = births - (births - starts[0]) % unit
    values: dict[str, np.ndarray] = {}
    for name, table in tables:
        days = table[PERIOD_COLUMN].to_numpy("datetime64[D]").astype("int64")
        inside = (days >= starts[0]) & (days <= starts[-1])
        columns = [c for c in table.columns if c not in (ID_COLUMN, PERIOD_COLUMN)]
        col = (days[inside] - starts[0]) // unit
        if ID_COLUMN not in table.columns:
            if days.min() > births_period.min():
                k = int(np.argmin(births_period))
                _no_row(name, ids[k], int(births_period[k]))
            for column in columns:
                row = np.empty((1, len(starts)))
                row[0, col] = table[column].to_numpy("float64")[inside]
                values[column] = row
            continue
        row_of = _customer_rows(table[ID_COLUMN].to_numpy(), ids)
        _check_coverage(table, days, row_of, ids, births_period, int(starts[-1]), unit, name)
        rows = row_of[inside]
        keep = rows >= 0
        first_col = (np.maximum(births_period, starts[0]) - starts[0]) // unit
        for column in columns:
            grid = np.full((len(ids), len(starts)), np.nan)
            grid[rows[keep], col[keep]] = table[column].to_numpy("float64")[inside][keep]
            lead = np.arange(len(starts))[None, :] < first_col[:, None]
            filled = grid[np.arange(len(ids)), first_col][:, None]
            values[column] = np.where(lead, filled, grid)
    return values


def _customer_rows(table_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The panel row of each table row's customer (-1 for customers not in the panel)."""
    stripped = pd.Index(pd.Series(ids).str.strip())
    return stripped.get_indexer(pd.Series(table_ids).astype(str).str.strip())


def _check_coverage(
    table: pd.DataFrame,
    days: np.ndarray,
    row_of: np.ndarray,
    ids: np.ndarray,
    births_period: np.ndarray,
    end: int,
    unit: int,
    name: str,
) -> None:
    """Every customer has rows from her birth period to ``end`` (her rows have no gaps)."""
    n = len(ids)
    known = row_of >= 0
    low = np.full(n, np.iinfo("int64").max)
    high = np.full(n, np.iinfo("int64").min)
    np.minimum.at(low, row_of[known], days[known])
    np.maximum.at(high, row_of[known], days[known])
    missing = low > births_period
    if missing.any():
        k = int(np.flatnonzero(missing)[0])
        _no_row(name, ids[k], int(births_period[k]))
    short = high < end
    if short.any():
        k = int(np.flatnonzero(short)[0])
        _no_row(name, ids[k], int(high[k]) + unit)


def _no_row(name: str, customer: str, day: int) -> None:
    raise DataError(
        f"{name}: customer {customer} has no dynamic covariates for the period starting "
        f"{day_text(day)}"
    )


def checked_tables(
    tables: Sequence[pd.DataFrame], time_unit: str, source_name: str
) -> list[tuple[str, pd.DataFrame]]:
    """``(name, canonical table)`` of each table (:func:`check_dynamic_table`), named by
    its ``attrs`` source or ``source_name``; a covariate in two tables is an error."""
    if isinstance(tables, pd.DataFrame) or not tables:
        raise DataError(f"{source_name}: give a list of one or more covariate tables")
    out: list[tuple[str, pd.DataFrame]] = []
    seen: dict[str, str] = {}
    for k, table in enumerate(tables):
        meta = table.attrs.get(TABLE_ATTR, {})
        name = meta.get("source") or (source_name if len(tables) == 1 else f"{source_name}[{k}]")
        table = check_dynamic_table(table, name, time_unit=time_unit)
        for column in table.columns:
            if column in (ID_COLUMN, PERIOD_COLUMN):
                continue
            if column in seen:
                raise DataError(
                    f"{name}: covariate {column!r} is also in {seen[column]}; "
                    "give each covariate in one table"
                )
            seen[column] = name
        out.append((name, table))
    return out


def common_grid(tables: list[tuple[str, pd.DataFrame]], cal: int, unit: int) -> tuple[int, int]:
    """``(anchor, end)`` of :func:`checked_tables`' tables: a period start of their
    common grid and the start of the last period every table covers, as day numbers;
    tables off that grid or ending before the calibration end ``cal`` are errors."""
    anchor = None
    end = None
    for name, table in tables:
        days = table[PERIOD_COLUMN].to_numpy("datetime64[D]").astype("int64")
        if anchor is None:
            anchor, first_name = int(days[0]), name
        elif (days[0] - anchor) % unit:
            raise DataError(
                f"{name}: its periods (from {day_text(days[0])}) are not on the grid of "
                f"{first_name} (from {day_text(anchor)}); weekly periods must start on one weekday"
            )
        last = int(days.max())
        if last + unit <= cal:
            raise DataError(
                f"{name}: the dynamic covariates end with the period starting "
                f"{day_text(last)}, before the calibration end {day_text(cal)}"
            )
        end = last if end is None else min(end, last)
    assert anchor is not None and end is not None  # tables is not empty
    return anchor, end
