"""The data of a model with time-varying covariates: per customer and calendar period.

Bachmann, Meierer & Näf (2021), "The role of time-varying contextual factors in latent
attrition models for customer base analysis", Marketing Science 40(4), 783-809, let the
purchase and attrition rates of the Pareto/NBD (and the BG/NBD) change between calendar
periods with the covariates of the period.  Their likelihood needs, for customer ``i`` and
calibration period ``j``, how long she was observed in the period, how much of that was
before her last repeat purchase, and her repeat purchases in it; predictions need the
covariates of the periods ahead.  :class:`DynamicPanel` holds them.

Time follows the transaction summary (:func:`clvmodels.data.summarize_transactions`):
times are day points, in the summary's unit.  Customer ``i`` is born at her first
purchase day ``b_i`` (model time 0); a purchase on day ``d`` is at time
``(d - b_i) / unit``; the calibration end ``c`` (the ``calibration_end`` date itself, or
the observation end without one) is time ``T_i = (c - b_i) / unit`` and its purchases
count.  Period ``j`` is the span ``[s_j, s_j + unit)`` (:mod:`clvmodels.data.calendar`),
so a purchase on a period's first day falls in that period.  Then, in units,

* ``exposure[i, j]`` = length of ``[b_i, c] ∩ period j`` (a row sums to ``T_i``);
* ``before[i, j]`` = length of ``[b_i, b_i + recency_i] ∩ period j`` (sums to ``recency_i``);
* ``counts[i, j]`` = repeat purchases (the occasions the summary's ``frequency`` counts) in
  period j (sums to ``frequency_i``).

The calibration periods are those up to the one holding ``c`` (``n_calibration`` of them;
when ``c`` is a period's first day, that period has exposure 0 but holds the purchases of
day ``c``).  Later periods are the future, for predictions (:meth:`DynamicPanel.future`).

:func:`build_panel` builds a panel from first purchase days, repeat purchase days and long
covariate tables (:mod:`clvmodels.data.dynamic_table`); :func:`panel_from_log` from a
transaction log, read with the rules of the summary, in the order of a summary's rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.calendar import PERIOD_COLUMN, as_days, day_numbers, day_text, period_days
from clvmodels.data.dynamic_table import (
    ID_COLUMN,
    TABLE_ATTR,
    check_dynamic_table,
    table_values,
)
from clvmodels.data.sources import Source
from clvmodels.data.summary.pandas_engine import purchase_occasions
from clvmodels.data.summary.rules import SummaryOptions
from clvmodels.data.transactions import integer_ids
from clvmodels.errors import ConfigError, DataError, echo

SUM_TOLERANCE = 1e-9
"""Largest difference (in units) :func:`panel_from_log` accepts between a row sum of the
panel and the summary's recency or T: both are whole days over the unit, so the only
difference is rounding, ~1e-14."""


@dataclass(frozen=True, eq=False)
class DynamicPanel:
    """Exposure, purchases and covariates per customer and calendar period (see module).

    Attributes
    ----------
    customer_ids : numpy.ndarray
        (n,) ids as text, in the order of the rows.
    time_unit : str
        ``"D"`` or ``"W"``; one period is one unit.
    period_starts : numpy.ndarray
        (P + F,) datetime64[D], consecutive, one unit apart.
    n_calibration : int
        P: the periods up to the one holding ``calibration_end``.
    calibration_end : numpy.datetime64
        The day point at which every customer's model time is her ``T``.
    exposure, before, counts : numpy.ndarray
        (n, P) float: time observed, time before the last repeat purchase, repeat
        purchases, per calibration period.
    values : Mapping[str, numpy.ndarray]
        Covariate name -> (n, P + F) values, or (1, P + F) for a covariate every customer
        shares.  Periods before a customer's first period in her table repeat her first
        value (they have no exposure).
    """

    customer_ids: np.ndarray
    time_unit: str
    period_starts: np.ndarray
    n_calibration: int
    calibration_end: np.datetime64
    exposure: np.ndarray
    before: np.ndarray
    counts: np.ndarray
    values: Mapping[str, np.ndarray]

    @property
    def names(self) -> tuple[str, ...]:
        """The covariate names, in order."""
        return tuple(self.values)

    @property
    def n_customers(self) -> int:
        """Number of customers (rows)."""
        return len(self.customer_ids)

    def _chosen(self, names: Iterable[str] | None) -> list[str]:
        chosen = list(self.names if names is None else names)
        unknown = [name for name in chosen if name not in self.values]
        if unknown:
            raise ConfigError(
                f"dynamic covariates: no covariate {unknown[0]!r} "
                f"(covariates: {', '.join(self.names)})"
            )
        return chosen

    def calibration_values(self, names: Iterable[str] | None = None) -> list[np.ndarray]:
        """The values of ``names`` (default all) in the calibration periods, each
        (n, P) or (1, P)."""
        return [self.values[name][:, : self.n_calibration] for name in self._chosen(names)]

    def future(
        self, horizon: float, names: Iterable[str] | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The periods of ``(calibration_end, calibration_end + horizon]``.

        Parameters
        ----------
        horizon : float
            Length in units (>= 0).
        names : list of str, optional
            Covariates to return (default all).

        Returns
        -------
        (lengths, values)
            ``lengths`` (H,): the length in units of the horizon in periods P - 1, P, ...
            (the first is the rest of the period holding the calibration end; trailing
            periods of length 0 are left out, so H = 0 for a horizon of 0); ``values``:
            per name, (n, H) or (1, H).

        Raises
        ------
        DataError
            The horizon reaches beyond the last period given.
        """
        if isinstance(horizon, bool) or not isinstance(horizon, int | float | np.number):
            raise ConfigError(f"dynamic covariates: horizon {echo(horizon)} is not a number")
        if not horizon >= 0 or not np.isfinite(horizon):
            raise ConfigError(f"dynamic covariates: horizon {horizon!r} is not a number >= 0")
        chosen = self._chosen(names)
        unit = period_days(self.time_unit)
        cal = int(day_numbers(self.calibration_end))
        starts = day_numbers(self.period_starts[self.n_calibration - 1 :])
        offset = (starts - cal).astype("float64")  # days from the calibration end
        reach = float(horizon) * unit  # counted from the calibration end: no rounding
        if reach > offset[-1] + unit + 1e-9 * unit:
            raise DataError(
                f"dynamic covariates: a horizon of {horizon:g} {self.time_unit} reaches "
                f"{day_text(cal + int(np.floor(reach)))} but the dynamic covariates end with "
                f"the period starting {day_text(starts[-1])} (up to "
                f"{day_text(starts[-1] + unit)}); give covariate values for the periods up "
                "to the end of the horizon"
            )
        lengths = np.clip(np.minimum(reach, offset + unit) - np.maximum(0.0, offset), 0, None)
        h = int(np.count_nonzero(lengths > 0))  # the positive lengths come first
        columns = slice(self.n_calibration - 1, self.n_calibration - 1 + h)
        return lengths[:h] / unit, [self.values[name][:, columns] for name in chosen]

    def subset(self, index: Any) -> DynamicPanel:
        """The panel of some customers (rows ``index``: positions or a boolean mask)."""
        rows = np.arange(self.n_customers)[index]
        values = {
            name: v if v.shape[0] == 1 and self.n_customers != 1 else v[rows]
            for name, v in self.values.items()
        }
        return replace(
            self,
            customer_ids=self.customer_ids[rows],
            exposure=self.exposure[rows],
            before=self.before[rows],
            counts=self.counts[rows],
            values=values,
        )


def build_panel(
    customer_ids: Sequence[Any] | np.ndarray | pd.Series,
    first_day: Any,
    repeat_days: tuple[Any, Any],
    calibration_end: Any,
    time_unit: str,
    tables: Sequence[pd.DataFrame],
    *,
    names: Sequence[str] | None = None,
    source_name: str = "dynamic covariates",
) -> DynamicPanel:
    """A :class:`DynamicPanel` of the customers ``customer_ids`` (see the module docstring).

    Parameters
    ----------
    customer_ids : array-like, (n,)
        The customers, in the order of the panel's rows (kept as text).
    first_day : array-like of datetime64, (n,)
        Each customer's first purchase day.
    repeat_days : (array of int, array of datetime64)
        The customer index (into ``customer_ids``) and day of every repeat purchase in the
        calibration window (a day twice is two purchases).
    calibration_end : date-like
        The day point at which model time is ``T``.
    time_unit : {"D", "W"}
        The unit of the summary and length of a period.
    tables : list of DataFrame
        Long covariate tables (:func:`~clvmodels.data.dynamic_table.read_dynamic_covariates`;
        other frames are checked the same way), customer-level or population-wide, all on
        one grid of periods.
    names : list of str, optional
        The covariates to keep, in order (default every covariate, table by table).
    source_name : str
        Names the tables in messages when they do not carry their source's name.

    Raises
    ------
    DataError
        Bad tables (:func:`~clvmodels.data.dynamic_table.check_dynamic_table`), tables on
        different grids, a covariate in two tables, a table not reaching the calibration
        end, a customer without a row for a period from her first purchase to the end of
        the covariates, a first purchase after the calibration end, a repeat purchase
        outside the customer's calibration window.
    """
    unit = period_days(time_unit)
    ids = pd.Series(np.asarray(customer_ids)).astype(str).to_numpy()
    births = day_numbers(np.asarray(first_day, dtype="datetime64[D]"))
    cal = int(day_numbers(np.datetime64(pd.Timestamp(calibration_end).normalize(), "D")))
    if len(ids) == 0 or births.shape != ids.shape:
        raise DataError(f"{source_name}: need one first purchase day per customer (and a customer)")
    late = births > cal
    if late.any():
        raise DataError(
            f"{source_name}: customer {ids[late][0]} first purchased on "
            f"{day_text(births[late][0])}, after the calibration end {day_text(cal)}"
        )
    checked = _checked_tables(tables, time_unit, source_name)
    anchor, end = _grid(checked, cal, unit, source_name)
    first = int(births.min()) - (int(births.min()) - anchor) % unit
    starts = np.arange(first, end + 1, unit, dtype="int64")
    n_cal = (cal - first) // unit + 1
    who, days = _repeats(repeat_days, births, cal, ids, source_name)
    last = births.copy()
    np.maximum.at(last, who, days)
    calib = starts[:n_cal]
    values = table_values(checked, ids, births, starts, unit)
    if names is not None:
        values = _selected(values, names, source_name)
    return DynamicPanel(
        customer_ids=ids,
        time_unit=time_unit,
        period_starts=as_days(starts),
        n_calibration=int(n_cal),
        calibration_end=np.datetime64(cal, "D"),
        exposure=_overlap(births, np.full_like(births, cal), calib, unit),
        before=_overlap(births, last, calib, unit),
        counts=np.bincount(who * n_cal + (days - first) // unit, minlength=len(ids) * n_cal)
        .reshape(len(ids), n_cal)
        .astype("float64"),
        values=values,
    )


def _overlap(start: np.ndarray, stop: np.ndarray, starts: np.ndarray, unit: int) -> np.ndarray:
    """(n, P) lengths in units of ``[start_i, stop_i] ∩ [s_j, s_j + unit)``."""
    low = np.maximum(start[:, None], starts[None, :])
    high = np.minimum(stop[:, None], starts[None, :] + unit)
    return np.clip(high - low, 0, None).astype("float64") / unit


def _repeats(
    repeat_days: tuple[Any, Any], births: np.ndarray, cal: int, ids: np.ndarray, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """The repeat purchases as (customer index, day number), checked."""
    who = np.asarray(repeat_days[0], dtype="int64")
    days = day_numbers(np.asarray(repeat_days[1], dtype="datetime64[D]"))
    if who.shape != days.shape or who.ndim != 1:
        raise DataError(f"{name}: repeat_days needs one customer index per day")
    if len(who) and (who.min() < 0 or who.max() >= len(ids)):
        raise DataError(f"{name}: a repeat purchase's customer index is out of range")
    outside = (days < births[who]) | (days > cal)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"{name}: customer {ids[who[k]]} has a repeat purchase on {day_text(days[k])}, "
            f"outside her calibration window {day_text(births[who[k]])}..{day_text(cal)}"
        )
    return who, days


def _checked_tables(
    tables: Sequence[pd.DataFrame], time_unit: str, source_name: str
) -> list[tuple[str, pd.DataFrame]]:
    """``(name, canonical table)`` of each table; a covariate in two tables is an error."""
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


def _grid(
    tables: list[tuple[str, pd.DataFrame]], cal: int, unit: int, source_name: str
) -> tuple[int, int]:
    """``(anchor, end)``: a period start of the tables' common grid and the start of the
    last period every table covers; tables off that grid or ending before the calibration
    end are errors."""
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


def _selected(
    values: dict[str, np.ndarray], names: Sequence[str], source_name: str
) -> dict[str, np.ndarray]:
    if isinstance(names, str):
        raise DataError(f"{source_name}: names must be a list of covariate names")
    unknown = [name for name in names if name not in values]
    if unknown:
        raise DataError(
            f"{source_name}: no covariate {unknown[0]!r} in the tables "
            f"(covariates: {', '.join(values)})"
        )
    if len(set(names)) != len(names):
        raise DataError(f"{source_name}: a covariate name is listed twice")
    return {name: values[name] for name in names}


def panel_from_log(
    source: Source,
    summary: pd.DataFrame,
    tables: Sequence[pd.DataFrame],
    *,
    names: Sequence[str] | None = None,
    **summary_options: Any,
) -> DynamicPanel:
    """The :class:`DynamicPanel` of a summary's customers, from their transaction log.

    The log is read with the rules of the summary (the purchase occasions of
    :func:`clvmodels.data.summary.pandas_engine.purchase_occasions`, as
    :func:`clvmodels.data.estimate_regularity` reads them), so ``summary_options`` must be
    those the summary was made with (``calibration_end``, ``time_unit``,
    ``merge_same_day``, ...).  The panel's rows follow ``summary["customer_id"]``.

    Raises
    ------
    TypeError
        A keyword that is no summary option.
    DataError
        As :func:`clvmodels.data.summarize_transactions` and :func:`build_panel`; a
        summary customer not in the log; a panel whose row sums differ from the summary's
        ``frequency``, ``recency`` or ``T`` (other summary options).
    """
    options = SummaryOptions.from_keywords("panel_from_log", summary_options)
    require = [c for c in ("customer_id", "frequency", "recency", "T") if c not in summary]
    if require:
        raise DataError(f"panel_from_log: the summary has no column {require[0]!r}")
    occasions, _, cal_stamp = purchase_occasions(source, options)
    window = occasions.loc[occasions["d"] <= cal_stamp]
    first_rows = ~window["cid"].duplicated().to_numpy()
    firsts = window.loc[first_rows]
    keys = pd.Index(integer_ids(firsts["cid"].reset_index(drop=True)).astype(str))
    wanted = summary["customer_id"].astype(str).to_numpy()
    position = keys.get_indexer(wanted)
    if (position < 0).any():
        raise DataError(
            f"panel_from_log: customer {wanted[position < 0][0]} of the summary has no "
            f"purchase up to {cal_stamp.date()} in the log; summarise with the same options"
        )
    row_of_cid = pd.Series(-1, index=pd.Index(firsts["cid"]), dtype="int64")
    row_of_cid.iloc[position] = np.arange(len(wanted))
    repeats = window.loc[~first_rows]
    who = row_of_cid.reindex(repeats["cid"]).to_numpy()
    kept = who >= 0
    panel = build_panel(
        summary["customer_id"].to_numpy(),
        firsts["d"].to_numpy()[position],
        (who[kept], repeats["d"].to_numpy()[kept]),
        cal_stamp,
        options.time_unit,
        tables,
        names=names,
    )
    _check_sums(panel, summary)
    return panel


def _check_sums(panel: DynamicPanel, summary: pd.DataFrame) -> None:
    """The panel's row sums against the summary's frequency, recency and T."""
    for column, part in (("frequency", "counts"), ("recency", "before"), ("T", "exposure")):
        expected = summary[column].to_numpy("float64")
        found = getattr(panel, part).sum(axis=1)
        off = np.abs(found - expected) > SUM_TOLERANCE
        if off.any():
            k = int(np.flatnonzero(off)[0])
            raise DataError(
                f"panel_from_log: customer {panel.customer_ids[k]} has {column} "
                f"{expected[k]:g} in the summary but {found[k]:g} in the log; summarise "
                f"with the same options (calibration_end, time_unit {panel.time_unit!r}, "
                "merge_same_day, ...)"
            )
