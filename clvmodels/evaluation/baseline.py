"""The seed baseline: the CLV formula marketers use today, as a forecaster.

``CLV = average order value × purchase frequency × customer lifespan`` (e.g. Kumar &
Reinartz 2016, "Creating enduring customer value", J. Marketing 80(6); the "simple
CLV" of :func:`clvmodels.metrics.simple_clv`), computed from the calibration data at
one of three levels:

``base``
    one average order value and one purchase rate for everybody;
``segment``
    per RFM segment (``low``, ``middle``, ``top`` of
    :func:`clvmodels.metrics.rfm_segments`: the seed's own equal-width thirds, or
    equal-count thirds with ``segments="quantile"``), the usual practice;
``customer``
    each customer's own average order value and purchase rate (``segment`` values for
    customers observed for no time).

To forecast, the baseline assumes what the formula assumes: every customer keeps buying
at the calibration rate until the end of a fixed lifespan counted from the first
purchase.  The rate counts repeat purchases per unit of observed time,
``Σ frequency / Σ T`` over the level's customers (the first purchase is the
acquisition, not a repeat), and the average order value is ``Σ revenue / Σ (frequency +
1)`` (all orders).  So a customer of age ``T`` is predicted ``rate × min(t, lifespan −
T)`` purchases in the next ``t`` time units, of value ``AOV`` each, and

``baseline_clv = margin × AOV × rate per year × lifespan_years``

(undiscounted, the textbook figure: :meth:`SeedBaseline.clv`).  To set it beside a
model's CLV on the model's own terms, :meth:`SeedBaseline.clv_on_horizon` spreads the
same purchases uniformly over the model's horizon ``H`` and discounts them continuously
at the rate ``δ`` per time unit of the model's DERT (``δ = ln(1 + d)`` per year for a
yearly rate ``d``):

``baseline_clv_horizon = margin × AOV × rate × (1 − e^{−δH}) / δ``

(``rate × H`` for ``δ = 0``; a lifetime horizon takes the seed's lifespan as ``H``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Self

import numpy as np
import pandas as pd

from clvmodels import metrics
from clvmodels.errors import DataError
from clvmodels.models.discount import continuous_rate
from clvmodels.units import units_per_year


@dataclass(frozen=True)
class SeedLevel:
    """The seed formula's settings: the level whose forecasts enter the conditional
    expectations, the customer lifespan in years, and how the RFM segments of the
    ``segment`` level are cut (:func:`clvmodels.metrics.rfm_segments`)."""

    level: str = "segment"
    lifespan_years: float = 3.0
    segments: str = "quantile"


LEVELS = ("base", "segment", "customer")


@dataclass
class SeedBaseline:
    """AOV × purchase frequency × lifespan at one level (module docstring).

    Parameters
    ----------
    level
        ``"base"``, ``"segment"`` or ``"customer"``.
    lifespan_years
        Customer lifespan in years (3 when a store is too young to know).
    time_unit
        Time unit of the summary (``D``, ``W``, ``M``, ``Y``).
    segments
        The RFM segments of the ``segment`` level: ``"equal_width"`` (the seed's own
        method, the default here) or ``"quantile"`` (equal-count thirds, the default of a
        configured run's ``baseline.segments``; :func:`clvmodels.metrics.rfm_segments`).
    """

    level: Literal["base", "segment", "customer"] = "segment"
    lifespan_years: float = 3.0
    time_unit: str = "W"
    segments: Literal["quantile", "equal_width"] = "equal_width"
    rates_: pd.Series = field(init=False, repr=False)
    aov_: pd.Series = field(init=False, repr=False)
    ages_: pd.Series = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise DataError(
                f"baseline level must be one of {', '.join(LEVELS)}; got {self.level!r}"
            )
        if not self.lifespan_years > 0:
            raise DataError(f"lifespan_years must be > 0; got {self.lifespan_years!r}")
        if self.segments not in metrics.SEGMENT_METHODS:
            raise DataError(
                f"baseline segments must be one of {', '.join(metrics.SEGMENT_METHODS)}; "
                f"got {self.segments!r}"
            )

    @property
    def name(self) -> str:
        """Row label in the evaluation table (``seed_segment``, ...)."""
        return f"seed_{self.level}"

    def fit(self, summary: pd.DataFrame) -> Self:
        """Rates and average order values per customer of the calibration summary."""
        frame = _check(summary)
        x = frame["frequency"].to_numpy(dtype=float)
        T = frame["T"].to_numpy(dtype=float)
        revenue = frame["revenue"].to_numpy(dtype=float)
        orders = x + 1.0
        segment = rfm_table(frame, self.segments)["rfm_segment"].astype(str).to_numpy()
        base_rate = _ratio(x.sum(), T.sum())
        base_aov = revenue.sum() / orders.sum()
        if self.level == "base":
            rate = np.full(len(x), base_rate)
            aov = np.full(len(x), base_aov)
        else:
            by = pd.DataFrame({"s": segment, "x": x, "T": T, "rev": revenue, "orders": orders})
            sums = by.groupby("s")[["x", "T", "rev", "orders"]].transform("sum")
            rate = np.where(sums["T"] > 0, sums["x"] / sums["T"].where(sums["T"] > 0, 1.0), 0.0)
            aov = (sums["rev"] / sums["orders"]).to_numpy()
            if self.level == "customer":
                rate = np.where(T > 0, x / np.where(T > 0, T, 1.0), rate)
                aov = revenue / orders
        self.rates_ = pd.Series(rate, index=frame["customer_id"].to_numpy(), name="rate")
        self.aov_ = pd.Series(aov, index=frame["customer_id"].to_numpy(), name="aov")
        self.ages_ = pd.Series(T, index=self.rates_.index, name="T")
        return self

    @property
    def lifespan(self) -> float:
        """The lifespan in the data's time unit."""
        return self.lifespan_years * units_per_year(self.time_unit)

    def predict(self, t: float) -> pd.DataFrame:
        """Expected purchases and revenue of the fitted customers in the next ``t`` time
        units (``expected_purchases``, ``expected_revenue``; indexed by customer id)."""
        remaining = np.clip(self.lifespan - self.ages_.to_numpy(), 0.0, float(t))
        purchases = self.rates_.to_numpy() * remaining
        return pd.DataFrame(
            {"expected_purchases": purchases, "expected_revenue": purchases * self.aov_.to_numpy()},
            index=self.rates_.index,
        )

    def clv(self, margin: float = 1.0) -> pd.Series:
        """``margin × AOV × purchases per year × lifespan_years`` per customer."""
        per_year = self.rates_.to_numpy() * units_per_year(self.time_unit)
        values = margin * self.aov_.to_numpy() * per_year * self.lifespan_years
        return pd.Series(values, index=self.rates_.index, name="baseline_clv")

    def clv_on_horizon(
        self, horizon: float, discount_rate: float, margin: float = 1.0
    ) -> pd.Series:
        """The seed formula on a model's terms (module docstring): the customer's
        purchases at the calibration rate spread uniformly over ``horizon`` time units,
        each worth ``margin × AOV``, discounted continuously at the yearly effective
        ``discount_rate`` (``δ = ln(1 + discount_rate)`` per year, the discounting of the
        continuous-time models' DERT in Fader, Hardie & Lee 2005, "RFM and CLV"):

        ``margin × AOV × rate × ∫_0^H e^{−δt} dt = margin × AOV × rate × (1 − e^{−δH}) / δ``

        A lifetime horizon (``math.inf``) takes the seed's lifespan as ``H``: the formula
        assumes no customer buys beyond it.  Named ``baseline_clv_horizon``.
        """
        if not horizon > 0:
            raise DataError(f"horizon must be > 0 time units; got {horizon!r}")
        if not 0 <= discount_rate < 10:
            raise DataError(
                f"discount_rate must be a yearly rate in [0, 10); got {discount_rate!r}"
            )
        span = self.lifespan if np.isinf(horizon) else float(horizon)
        delta = continuous_rate(discount_rate, self.time_unit)
        weight = span if delta == 0 else -np.expm1(-delta * span) / delta
        values = margin * self.aov_.to_numpy() * self.rates_.to_numpy() * weight
        return pd.Series(values, index=self.rates_.index, name="baseline_clv_horizon")


def rfm_table(
    summary: pd.DataFrame, method: Literal["quantile", "equal_width"] = "quantile"
) -> pd.DataFrame:
    """RFM scores and segments (:func:`clvmodels.metrics.rfm_segments`, ``method``) of a
    summary whose net revenue may be negative after refunds: such revenue scores as 0."""
    clipped = summary.assign(revenue=summary["revenue"].clip(lower=0.0))
    return metrics.rfm_segments(clipped, method=method)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else 0.0


def _check(summary: pd.DataFrame) -> pd.DataFrame:
    missing = [
        c for c in ("customer_id", "frequency", "recency", "T", "revenue") if c not in summary
    ]
    if missing:
        raise DataError(
            f"seed baseline: the summary lacks column(s) {', '.join(missing)} "
            "(it needs transactions with amounts)"
        )
    return summary
