"""The time units of a data set, in one table.

Every duration in clvmodels (recency, ``T``, horizons, cohort periods) is counted in the
data's time unit: ``D`` days, ``W`` weeks, ``M`` months or ``Y`` years.  A transaction
summary counts whole calendar days, so it takes ``D`` or ``W`` only
(:data:`TRANSACTION_UNITS`); subscription data take all four.  Months and years are the
calendar averages (a year of 365.25 days), which is how yearly discount rates and
"one year" horizons are converted; there is no other conversion factor in the package.
"""

from __future__ import annotations

DAYS_PER_YEAR = 365.25
DAYS_PER_UNIT: dict[str, float] = {
    "D": 1.0,
    "W": 7.0,
    "M": DAYS_PER_YEAR / 12.0,
    "Y": DAYS_PER_YEAR,
}
"""Length of each time unit in days."""

TRANSACTION_UNITS = ("D", "W")
"""Units of a transaction summary, whose times are whole days (a week is 7 of them)."""


def days_per_unit(time_unit: str) -> float:
    """Length of ``time_unit`` in days (``KeyError`` for an unknown unit)."""
    return DAYS_PER_UNIT[time_unit]


def units_per_year(time_unit: str) -> float:
    """Number of ``time_unit`` periods in a year (52.18 weeks, 365.25 days, ...)."""
    return DAYS_PER_YEAR / DAYS_PER_UNIT[time_unit]
