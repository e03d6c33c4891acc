"""Data layer: transactions and subscriptions in, canonical frames out.

- :func:`load_builtin` / :data:`BUILTIN_DATASETS`: data sets shipped with clvmodels;
- :func:`summarize_transactions`: a transaction log -> one row per customer
  (frequency, recency, T, monetary value, holdout columns after a split), with the
  options of :class:`SummaryOptions`;
- :func:`estimate_regularity`: how regular the purchase timings are (Wheat & Morrison
  1990), a :class:`Regularity` with a verdict for choosing an Erlang-k model;
- :func:`validate_summary`: check a frame that is already summarised;
  :func:`check_histories`: the checks of per-customer histories it applies, which
  every estimator and :func:`clvmodels.clv.customer_values` apply too;
- :func:`survival_from_subscriptions`, :func:`validate_survival_table`,
  :func:`survival_to_individual`: cohort survival data for contractual models;
- :func:`describe_source`, :func:`register_source`: sources (DataFrame, "builtin:NAME",
  CSV/Parquet paths, :class:`SqlSource` for the rows of a SQL query).
- :func:`read_dynamic_covariates`, :func:`calendar_covariates`, :func:`build_panel`,
  :func:`panel_from_log`: time-varying covariates per calendar period, a :class:`DynamicPanel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clvmodels._lazy import lazy_exports, names_from

if TYPE_CHECKING:
    from clvmodels.data.builtin import BUILTIN_DATASETS, BuiltinDataset, load_builtin
    from clvmodels.data.calendar import calendar_covariates, calendar_table_for
    from clvmodels.data.dynamic import DynamicPanel, build_panel, panel_from_log
    from clvmodels.data.dynamic_table import read_dynamic_covariates
    from clvmodels.data.regularity import Regularity, estimate_regularity
    from clvmodels.data.sources import describe_source, read_table, register_source
    from clvmodels.data.sql import SqlSource
    from clvmodels.data.summary import (
        SummaryOptions,
        check_histories,
        summarize_transactions,
        validate_summary,
    )
    from clvmodels.data.survival import (
        survival_from_subscriptions,
        survival_to_individual,
        validate_survival_table,
    )

_LAZY = names_from(
    {
        "clvmodels.data.builtin": ("BUILTIN_DATASETS", "BuiltinDataset", "load_builtin"),
        "clvmodels.data.calendar": ("calendar_covariates", "calendar_table_for"),
        "clvmodels.data.dynamic": ("DynamicPanel", "build_panel", "panel_from_log"),
        "clvmodels.data.dynamic_table": ("read_dynamic_covariates",),
        "clvmodels.data.regularity": ("Regularity", "estimate_regularity"),
        "clvmodels.data.sources": ("describe_source", "read_table", "register_source"),
        "clvmodels.data.sql": ("SqlSource",),
        "clvmodels.data.summary": (
            "SummaryOptions",
            "check_histories",
            "summarize_transactions",
            "validate_summary",
        ),
        "clvmodels.data.survival": (
            "survival_from_subscriptions",
            "survival_to_individual",
            "validate_survival_table",
        ),
    }
)
"""The public names imported on first use (PEP 562), and the module each comes from."""


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "BUILTIN_DATASETS",
    "BuiltinDataset",
    "DynamicPanel",
    "Regularity",
    "SqlSource",
    "SummaryOptions",
    "build_panel",
    "calendar_covariates",
    "calendar_table_for",
    "check_histories",
    "describe_source",
    "estimate_regularity",
    "load_builtin",
    "panel_from_log",
    "read_dynamic_covariates",
    "read_table",
    "register_source",
    "summarize_transactions",
    "survival_from_subscriptions",
    "survival_to_individual",
    "validate_summary",
    "validate_survival_table",
]
