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
"""

from __future__ import annotations

from clvmodels.data.builtin import BUILTIN_DATASETS, BuiltinDataset, load_builtin
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

__all__ = [
    "BUILTIN_DATASETS",
    "BuiltinDataset",
    "Regularity",
    "SqlSource",
    "SummaryOptions",
    "check_histories",
    "describe_source",
    "estimate_regularity",
    "load_builtin",
    "read_table",
    "register_source",
    "summarize_transactions",
    "survival_from_subscriptions",
    "survival_to_individual",
    "validate_summary",
    "validate_survival_table",
]
