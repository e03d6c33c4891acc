"""Customer lifetime value per customer, with intervals.

Non-contractual stores (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves
for customer base analysis", JMR 42(4), eq. 1)::

    CLV = margin × E[spend per order] × DERT,

DERT being the discounted expected residual transactions over the horizon (each purchase
model's closed form where the literature has one, an accurate numerical integral
otherwise) and the spend per order the Gamma-Gamma conditional expectation.  Contractual
stores (Fader & Hardie 2010)::

    CLV = margin × price per period × DERL(renewals so far).

Discounting: ``discount_rate`` is an effective yearly rate, converted to the data's
time unit by :mod:`clvmodels.models.discount` (continuously compounded for the
continuous-time models, per period for BG/BB and sBG).  Intervals come from parameter
uncertainty (:mod:`clvmodels.clv.draws`); customers are processed in chunks so memory
stays bounded whatever their number.

Modules: :mod:`~clvmodels.clv.settings` (:class:`ValueSettings`),
:mod:`~clvmodels.clv.arrays` (the per-customer quantities as arrays),
:mod:`~clvmodels.clv.values` (:func:`customer_values`), :mod:`~clvmodels.clv.draws`,
:mod:`~clvmodels.clv.subscriptions`, :mod:`~clvmodels.clv.new_customers` (what a customer
acquired today is worth, :func:`new_customer_value`), :mod:`~clvmodels.clv.counterfactual` (what a
binary covariate is worth), :mod:`~clvmodels.clv.grid` (predictions over histories),
:mod:`~clvmodels.clv.dynamic` (models with time-varying covariates: DECT for DERT).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clvmodels._lazy import lazy_exports, names_from

if TYPE_CHECKING:
    from clvmodels.clv.arrays import (
        PatternLink,
        at_patterns,
        pattern_inputs,
        purchase_arrays,
        spend_per_order,
    )
    from clvmodels.clv.counterfactual import binary_covariates, covariate_lift
    from clvmodels.clv.dynamic import dynamic_customer_values
    from clvmodels.clv.grid import HistoryGrid, history_grid
    from clvmodels.clv.new_customers import (
        NewCustomerValue,
        acquisition_advice,
        new_customer_value,
        new_subscriber_value,
    )
    from clvmodels.clv.settings import ValueSettings, resolve_horizon
    from clvmodels.clv.subscriptions import subscription_values
    from clvmodels.clv.values import customer_values

_LAZY = names_from(
    {
        "clvmodels.clv.arrays": (
            "PatternLink",
            "at_patterns",
            "pattern_inputs",
            "purchase_arrays",
            "spend_per_order",
        ),
        "clvmodels.clv.counterfactual": ("binary_covariates", "covariate_lift"),
        "clvmodels.clv.dynamic": ("dynamic_customer_values",),
        "clvmodels.clv.grid": ("HistoryGrid", "history_grid"),
        "clvmodels.clv.new_customers": (
            "NewCustomerValue",
            "acquisition_advice",
            "new_customer_value",
            "new_subscriber_value",
        ),
        "clvmodels.clv.settings": ("ValueSettings", "resolve_horizon"),
        "clvmodels.clv.subscriptions": ("subscription_values",),
        "clvmodels.clv.values": ("customer_values",),
    }
)
"""The public names imported on first use (PEP 562), and the module each comes from."""


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "HistoryGrid",
    "NewCustomerValue",
    "PatternLink",
    "ValueSettings",
    "acquisition_advice",
    "at_patterns",
    "binary_covariates",
    "covariate_lift",
    "customer_values",
    "dynamic_customer_values",
    "history_grid",
    "new_customer_value",
    "new_subscriber_value",
    "pattern_inputs",
    "purchase_arrays",
    "resolve_horizon",
    "spend_per_order",
    "subscription_values",
]
