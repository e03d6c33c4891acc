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

from clvmodels.data.calendar import as_days, day_numbers, day_text, period_days
from clvmodels.data.dynamic_table import checked_tables, common_grid, table_values
from clvmodels.data.ids import integer_ids
from clvmodels.data.sources import Source
from clvmodels.data.summary.pandas_engine import purchase_occasions
from clvmodels.data.summary.rules import SummaryOptions
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
        ConfigError, DataError
            As :meth:`check_horizon`.
        """
        chosen = self._chosen(names)
        unit = period_days(self.time_unit)
        offset = self._offsets()
        reach = self.check_horizon(horizon) * unit  # from the calibration end: no rounding
        lengths = np.clip(np.minimum(reach, offset + unit) - np.maximum(0.0, offset), 0, None)
        h = int(np.count_nonzero(lengths > 0))  # the positive lengths come first
        columns = slice(self.n_calibration - 1, self.n_calibration - 1 + h)
        return lengths[:h] / unit, [self.values[name][:, columns] for name in chosen]

    def _offsets(self) -> np.ndarray:
        """Days from the calibration end to the start of periods P - 1, P, ... (float)."""
        starts = day_numbers(self.period_starts[self.n_calibration - 1 :])
        return (starts - int(day_numbers(self.calibration_end))).astype("float64")

    def check_horizon(
        self,
        horizon: float,
        *,
        name: str | None = None,
        source_name: str = "dynamic covariates",
    ) -> float:
        """``horizon`` as a float, after checking that the covariates cover
        ``(calibration_end, calibration_end + horizon]``.

        Parameters
        ----------
        horizon : float
            Length in units (>= 0).
        name : str, optional
            Names the horizon in messages, e.g. ``"clv.horizon 26 W"`` (default ``"the
            horizon H W"``).
        source_name : str
            Names the covariates in messages (a file, a config key).

        Raises
        ------
        ConfigError
            A horizon that is no finite number >= 0.
        DataError
            The horizon reaches beyond the last period given: the message says how many
            days past the calibration end it reaches and into which period, how many
            days the covariates cover and through which day, and the longest horizon
            they allow.
        """
        if isinstance(horizon, bool) or not isinstance(horizon, int | float | np.number):
            raise ConfigError(f"{source_name}: horizon {echo(horizon)} is not a number")
        if not horizon >= 0:
            raise ConfigError(f"{source_name}: horizon {horizon!r} is not a number >= 0")
        if not np.isfinite(horizon):
            raise ConfigError(
                f"{source_name}: a lifetime horizon needs covariate values for ever; give a "
                "number of time units covered by them"
            )
        unit = period_days(self.time_unit)
        offset = self._offsets()
        reach = float(horizon) * unit  # days past the calibration end
        covered = float(offset[-1] + unit)
        if reach > covered + 1e-9 * unit:
            cal = int(day_numbers(self.calibration_end))
            touched = cal + int(np.ceil(reach)) - 1  # the last day the horizon enters
            needed = touched - (touched - cal - int(offset[0])) % unit
            when = (
                f"during {day_text(touched)}"
                if reach % 1
                else f"at the start of {day_text(touched + 1)}"
            )
            shown = name or f"the horizon {float(horizon):g} {self.time_unit}"
            raise DataError(
                f"{source_name}: {shown} ends {reach:g} days after the calibration end "
                f"{day_text(cal)}, {when} (in the period starting {day_text(needed)}), but "
                f"the covariates end {covered:g} days after it, at the start of "
                f"{day_text(cal + covered)} (their last period starts "
                f"{day_text(cal + offset[-1])}); give covariate values up to the period "
                f"starting {day_text(needed)}, or a horizon of at most "
                f"{covered / unit:.6g} {self.time_unit}"
            )
        return float(horizon)

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

    Returns
    -------
    DynamicPanel
        Rows in the order of ``customer_ids``; periods from the one holding the earliest
        first purchase (on the tables' grid) to the last period every table covers, the
        first ``n_calibration`` of them up to the one holding ``calibration_end``.

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
    checked = checked_tables(tables, time_unit, source_name)
    anchor, end = common_grid(checked, cal, unit)
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
    twice = [name for i, name in enumerate(names) if name in names[:i]]
    if twice:
        raise DataError(f"{source_name}: covariate {twice[0]!r} is listed twice in names")
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

    The log is read again with the rules of the summary (the purchase occasions of
    :func:`clvmodels.data.summary.pandas_engine.purchase_occasions`, as
    :func:`clvmodels.data.estimate_regularity` reads them) to place every purchase in
    its calendar period, and the panel's row sums are checked against the summary's
    ``frequency``, ``recency`` and ``T``.

    Parameters
    ----------
    source : DataFrame, "builtin:NAME" or path
        The transaction log the summary was made from (:mod:`clvmodels.data.sources`).
    summary : DataFrame
        The customers to lay out, one row each (typically
        :func:`clvmodels.data.summarize_transactions` of ``source``, or a subset of its
        rows): columns ``customer_id``, ``frequency``, ``recency`` and ``T``; other
        columns are ignored.  The panel's rows follow ``summary["customer_id"]``.
    tables : list of DataFrame
        Long covariate tables (``[customer_id,] period_start, <covariates>``) on one grid
        of periods, from the earliest first purchase (a customer's rows from her first
        purchase's period) to the end of the prediction horizon:
        :func:`~clvmodels.data.dynamic_table.read_dynamic_covariates` reads and checks a
        CSV or Parquet file or a DataFrame;
        :func:`~clvmodels.data.calendar.calendar_table_for` makes the calendar covariates
        (month or quarter dummies, a high season, campaigns, holidays) a run needs, and
        :func:`~clvmodels.data.calendar.calendar_covariates` those of chosen periods.
        A covariate may be in one table only.
    names : list of str, optional
        The covariates to keep, in order (default every covariate, table by table).
    **summary_options
        The options the summary was made with (:class:`clvmodels.data.summary.rules.
        SummaryOptions`).  Those that matter: ``calibration_end`` (the day at which
        model time is ``T``; default ``observation_end``), ``observation_end`` (default
        the log's last day), ``time_unit`` (``"D"`` or ``"W"``: the summary's unit and
        the length of a period), the log's column names ``customer_id``, ``date`` and
        ``amount``, and the rules deciding what is a purchase occasion:
        ``merge_same_day``, ``nonpositive``, ``after_observation_end``, ``timezone``,
        ``date_format``, ``decimal``, ``delimiter``.

    Returns
    -------
    DynamicPanel
        One row per summary customer, periods from the one holding the earliest first
        purchase to the last period every table covers.

    Raises
    ------
    TypeError
        A keyword that is no summary option.
    DataError
        As :func:`clvmodels.data.summarize_transactions` and :func:`build_panel`; a
        summary without one of the columns above; a summary customer with no purchase
        up to the calibration end in the log; a panel whose row sums differ from the
        summary's ``frequency``, ``recency`` or ``T`` (other summary options).

    Examples
    --------
    A Pareto/NBD whose purchase rate changes in a high season (March and April) of the
    CDNOW sample, with covariates for the 39 weeks after the calibration end:

    >>> from clvmodels import ParetoNBD
    >>> from clvmodels.data import summarize_transactions
    >>> from clvmodels.data.calendar import calendar_table_for
    >>> options = {"time_unit": "W", "calibration_end": "1997-09-30"}
    >>> summary = summarize_transactions("builtin:cdnow_sample", **options)
    >>> calendar = calendar_table_for(
    ...     summary["first_purchase"], "1997-09-30", 39, "W", high_season=[3, 4]
    ... )
    >>> panel = panel_from_log("builtin:cdnow_sample", summary, [calendar], **options)
    >>> panel.names, panel.n_customers == len(summary)
    (('high_season',), True)
    >>> model = ParetoNBD(dynamic_covariates={"purchase": ["high_season"]})
    >>> model = model.fit(summary, dynamic=panel)  # doctest: +SKIP
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
