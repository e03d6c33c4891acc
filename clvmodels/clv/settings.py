"""How future purchases are valued: horizon, discounting, margin and intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

from clvmodels.models import discount
from clvmodels.units import units_per_year


@dataclass(frozen=True)
class ValueSettings:
    """How future purchases are valued.

    Attributes
    ----------
    horizon
        In data time units (``math.inf``: the whole remaining lifetime).
    discount_rate
        Effective yearly rate (0.10 = 10 % a year).
    margin
        Share of revenue kept as profit (1.0 values revenue).
    time_unit
        The data's time unit (``D``, ``W``, ``M``, ``Y``).
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

    horizon: float = 52.0
    discount_rate: float = 0.10
    margin: float = 1.0
    time_unit: str = "W"
    interval: float | None = 0.9
    draws: int = 200
    seed: int = 0
    threads: int | None = None

    @property
    def delta(self) -> float:
        """Continuous discount rate per time unit."""
        return discount.continuous_rate(self.discount_rate, self.time_unit)

    @property
    def count_horizon(self) -> float:
        """Horizon of the undiscounted purchase count: the horizon, or one year of time
        units when the horizon is the whole lifetime (an undiscounted lifetime count can be
        infinite)."""
        return self.horizon if math.isfinite(self.horizon) else units_per_year(self.time_unit)

    @property
    def period_discount(self) -> float:
        """Discount rate per period (discrete-time models)."""
        return discount.period_rate(self.discount_rate, self.time_unit)


def resolve_horizon(value: float | str | None, time_unit: str) -> float:
    """A configured horizon in time units: a number, ``"lifetime"`` (infinite) or
    ``None`` (one year of the time unit)."""
    if value == "lifetime":
        return math.inf
    if value is None:
        return units_per_year(time_unit)
    return float(value)
