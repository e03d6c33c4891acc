"""How future purchases are valued: horizon, discounting, margin and intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from clvmodels.errors import ConfigError
from clvmodels.models import discount
from clvmodels.units import DAYS_PER_UNIT, units_per_year

MIN_DRAWS = 20
"""Fewest parameter draws behind an interval (the API, ``clv.draws`` and ``--draws``)."""


@dataclass(frozen=True)
class ValueSettings:
    """How future purchases are valued.

    Attributes
    ----------
    horizon
        In time units (``math.inf``: the whole remaining lifetime; ``None``, the default:
        one year of the time unit).
    discount_rate
        Effective yearly rate (0.10 = 10 % a year).
    margin
        Share of revenue kept as profit (1.0 values revenue).
    time_unit
        The data's time unit (``D``, ``W``, ``M``, ``Y``; ``None``, the default: the unit
        the valued model was fitted in, :meth:`resolved`).  A unit other than the
        model's is refused: the horizon and the discounting would be read in it.
    interval
        Probability of the central interval per customer (``None``: no interval).
    draws
        Parameter draws behind the interval.
    seed
        Seed of the draws (intervals are reproducible).
    threads
        Threads computing the per-customer summaries over draws (``None``: every core
        this process may use).  The results do not depend on it.
    """

    horizon: float | None = None
    discount_rate: float = 0.10
    margin: float = 1.0
    time_unit: str | None = None
    interval: float | None = 0.9
    draws: int = 200
    seed: int = 0
    threads: int | None = None

    def __post_init__(self) -> None:
        """Check every field as the config's ``clv:`` block is checked (a margin of 30
        or a rate of 10 would otherwise value the customers silently wrong)."""
        problems = {
            "horizon": self.horizon is not None
            and (not _is_number(self.horizon) or not self.horizon > 0),
            "discount_rate": not _is_number(self.discount_rate) or not 0 <= self.discount_rate < 10,
            "margin": not _is_number(self.margin) or not 0 < self.margin <= 1,
            "time_unit": self.time_unit is not None and self.time_unit not in DAYS_PER_UNIT,
            "interval": self.interval is not None
            and (not _is_number(self.interval) or not 0 < self.interval < 1),
            "draws": not isinstance(self.draws, int)
            or isinstance(self.draws, bool)
            or self.draws < MIN_DRAWS,
            "threads": self.threads is not None
            and (not isinstance(self.threads, int) or self.threads < 1),
        }
        expected = {
            "horizon": "a positive number of time units (math.inf: the lifetime; None: a year)",
            "discount_rate": "a yearly rate in [0, 10), such as 0.10",
            "margin": "a share of revenue in (0, 1], such as 0.3 for 30 %",
            "time_unit": f"one of {', '.join(DAYS_PER_UNIT)} (None: the model's unit)",
            "interval": "None or a probability in (0, 1), such as 0.9",
            "draws": f"a whole number of draws, at least {MIN_DRAWS}",
            "threads": "None or a positive whole number",
        }
        for name, bad in problems.items():
            if bad:
                raise ConfigError(
                    f"ValueSettings.{name}: {getattr(self, name)!r} is not {expected[name]}"
                )
        if self.horizon is not None and math.isinf(self.horizon) and self.discount_rate == 0:
            raise ConfigError("ValueSettings.horizon: a lifetime needs a positive discount_rate")

    def resolved(self, time_unit: str | None, model: str = "valued") -> ValueSettings:
        """These settings in the time unit a model was fitted in: ``time_unit`` filled
        in (and checked against a given one), ``horizon`` one year of it when unset.

        Parameters
        ----------
        time_unit
            The model's unit (``estimator.result_.time_unit``; ``None`` when the fit
            recorded none, and then the settings must name it).
        model
            The model's key, for the messages.

        Raises
        ------
        ConfigError
            A given unit other than the model's, or no unit at all.
        """
        if time_unit is not None and self.time_unit not in (None, time_unit):
            raise ConfigError(
                f"ValueSettings.time_unit: {self.time_unit!r}, but the {model} model was "
                f"fitted in time unit {time_unit!r}: the horizon and discounting would be "
                f"read in the wrong unit; pass ValueSettings(time_unit={time_unit!r}, ...) "
                "or leave it unset"
            )
        unit = self.time_unit or time_unit
        if unit is None:
            raise ConfigError(
                f"ValueSettings.time_unit: the {model} model records no time unit; pass "
                f"ValueSettings(time_unit=...), one of {', '.join(DAYS_PER_UNIT)}"
            )
        horizon = units_per_year(unit) if self.horizon is None else self.horizon
        return replace(self, time_unit=unit, horizon=horizon)

    def for_model(self, model: Any) -> ValueSettings:
        """These settings :meth:`resolved` in the time unit the fitted estimator
        ``model`` records (``model.result_.time_unit``)."""
        return self.resolved(model.result_.time_unit, model.model_key)

    def _unit(self, name: str) -> str:
        """The time unit, which ``name`` needs (unset before :meth:`resolved`)."""
        if self.time_unit is None:
            raise ConfigError(
                f"ValueSettings.{name}: needs a time unit; call settings.resolved(time_unit) "
                "first (customer_values and the other valuations do)"
            )
        return self.time_unit

    @property
    def delta(self) -> float:
        """Continuous discount rate per time unit."""
        return discount.continuous_rate(self.discount_rate, self._unit("delta"))

    @property
    def count_horizon(self) -> float:
        """Horizon of the undiscounted purchase count: the horizon, or one year of time
        units when the horizon is the whole lifetime (an undiscounted lifetime count can be
        infinite)."""
        unit = self._unit("count_horizon")
        if self.horizon is None:
            return units_per_year(unit)
        return self.horizon if math.isfinite(self.horizon) else units_per_year(unit)

    @property
    def period_discount(self) -> float:
        """Discount rate per period (discrete-time models)."""
        return discount.period_rate(self.discount_rate, self._unit("period_discount"))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


def resolve_horizon(value: float | str | None, time_unit: str) -> float:
    """A configured horizon in time units: a number, ``"lifetime"`` (infinite) or
    ``None`` (one year of the time unit)."""
    if value == "lifetime":
        return math.inf
    if value is None:
        return units_per_year(time_unit)
    return float(value)
