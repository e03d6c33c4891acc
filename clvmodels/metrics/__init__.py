"""Seed marketing metrics: the descriptive numbers marketers compute before any model.

Two kinds of function, both importable from here:

* **Scalar metrics** (:mod:`clvmodels.metrics.scalar`, :mod:`clvmodels.metrics.loyalty`:
  average order value, purchase frequency, simple CLV, CAC, retention and churn rates,
  Net Promoter Score, customer loyalty index, upsell ratio, ...).
  They take floats or array-likes (broadcast with NumPy rules) and return a ``float``
  for scalar input and a ``numpy.ndarray`` otherwise.
* **Frame-level metrics** (:mod:`clvmodels.metrics.customer_base`) on the canonical
  per-customer summary frame
  (``customer_id, frequency, recency, T, monetary_value, revenue``), where
  ``frequency`` is the number of *repeat* purchases (orders = frequency + 1),
  ``recency`` the time from first to last purchase, ``T`` the time from first
  purchase to the end of the observation window (both in the data's time unit) and
  ``revenue`` the total spend including the first purchase: :func:`seed_metrics`,
  :func:`rfm_scores`, :func:`rfm_segments` and :func:`segment_values`.

Every invalid argument a user can cause (negative spend, zero customers, a lifespan
<= 0, fewer than two bins, a missing column, NaN) raises
:class:`~clvmodels.errors.DataError` (a ``ValueError``) with a one-line message
naming the argument or column.

References
----------
Farris, P. W., Bendle, N. T., Pfeifer, P. E. & Reibstein, D. J. (2010).
    *Marketing Metrics: The Definitive Guide to Measuring Marketing Performance*,
    2nd ed. Pearson.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using iso-value
    curves for customer base analysis. *Journal of Marketing Research* 42(4), 415-430.
Hughes, A. M. (1994). *Strategic Database Marketing*. Probus.
Reichheld, F. F. (2003). The one number you need to grow. *Harvard Business Review*
    81(12), 46-54.
Skok, D. (2013). SaaS Metrics 2.0 - A guide to measuring and improving what
    matters. *For Entrepreneurs* (blog).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clvmodels._lazy import lazy_exports, names_from

if TYPE_CHECKING:
    from clvmodels.metrics.customer_base import (
        RFM_SEGMENTS,
        SEGMENT_METHODS,
        rfm_scores,
        rfm_segments,
        seed_metrics,
        seed_metrics_from_totals,
        segment_values,
    )
    from clvmodels.metrics.loyalty import customer_loyalty_index, upsell_ratio
    from clvmodels.metrics.scalar import (
        average_order_value,
        churn_rate,
        clv_minus_cac,
        customer_acquisition_cost,
        customer_retention_rate,
        customer_value,
        ltv_to_cac,
        max_cost_per_click,
        net_promoter_score,
        purchase_frequency,
        repeat_purchase_rate,
        simple_clv,
    )

_LAZY = names_from(
    {
        "clvmodels.metrics.customer_base": (
            "RFM_SEGMENTS",
            "SEGMENT_METHODS",
            "rfm_scores",
            "rfm_segments",
            "seed_metrics",
            "seed_metrics_from_totals",
            "segment_values",
        ),
        "clvmodels.metrics.loyalty": ("customer_loyalty_index", "upsell_ratio"),
        "clvmodels.metrics.scalar": (
            "average_order_value",
            "churn_rate",
            "clv_minus_cac",
            "customer_acquisition_cost",
            "customer_retention_rate",
            "customer_value",
            "ltv_to_cac",
            "max_cost_per_click",
            "net_promoter_score",
            "purchase_frequency",
            "repeat_purchase_rate",
            "simple_clv",
        ),
    }
)
"""The public names imported on first use (PEP 562), and the module each comes from."""


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "RFM_SEGMENTS",
    "SEGMENT_METHODS",
    "average_order_value",
    "churn_rate",
    "clv_minus_cac",
    "customer_acquisition_cost",
    "customer_loyalty_index",
    "customer_retention_rate",
    "customer_value",
    "ltv_to_cac",
    "max_cost_per_click",
    "net_promoter_score",
    "purchase_frequency",
    "repeat_purchase_rate",
    "rfm_scores",
    "rfm_segments",
    "seed_metrics",
    "seed_metrics_from_totals",
    "segment_values",
    "simple_clv",
    "upsell_ratio",
]
