"""Which parameters each customer has: her covariate pattern and her group.

A fitted model gives every customer the same parameters, or — with time-invariant
covariates (Fader & Hardie 2007, note 019; :mod:`clvmodels.models.links`) or groups of a
hierarchical fit (:mod:`clvmodels.models.groups`) — parameters that depend on her
*pattern*: her covariate values and her group.  Customers of one pattern share their
parameters, so predictions evaluate them once per pattern, on the last axis
(:func:`params_per_pattern`), and gather them to the customers (:func:`at_patterns`).

A group level the fit did not see has no ``θ[g]``: its customers get the population
median ``θ`` — the parameter of a new group's typical customer — and the estimator
warns naming those levels (:func:`unseen_levels`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.backends.compress import factorize_rows
from clvmodels.errors import DataError, FitError
from clvmodels.estimators.frames import SOURCE, fail_row
from clvmodels.models import model_info, model_keys
from clvmodels.models.groups import group_name, hierarchy_names
from clvmodels.models.links import linked_params
from clvmodels.models.spec import ModelSpec

_HIERARCHY_KEYS = ("group", "parameters")


@dataclass(frozen=True)
class Patterns:
    """The patterns of some customers.

    Attributes
    ----------
    codes
        Each customer's pattern (numbered in the order of the distinct patterns).
    columns
        The covariate design columns per pattern (empty without covariates).
    levels
        Per pattern, the index of its group among the fit's levels — the number of
        levels for a level the fit did not see; ``None`` without groups.
    """

    codes: np.ndarray
    columns: dict[str, np.ndarray]
    levels: np.ndarray | None

    @property
    def first(self) -> np.ndarray:
        """The row of the first customer of every pattern."""
        return np.unique(self.codes, return_index=True)[1]


def hierarchy_settings(
    key: str, hierarchy: Mapping[str, Any] | str
) -> tuple[str, list[str] | None]:
    """The group column and the grouped parameters (``None``: all) of an estimator's
    ``hierarchy`` argument: ``{"group": column}`` (optionally ``"parameters": [...]``) or
    the column's name.

    Raises
    ------
    FitError
        A model without hierarchies, an unknown key, no group column, or parameters
        that are not a list of names.
    """
    if not model_info(key).hierarchical:
        offered = [k for k in model_keys() if model_info(k).hierarchical]
        raise FitError(f"{key}: hierarchy is offered for {', '.join(offered)} only")
    settings = {"group": hierarchy} if isinstance(hierarchy, str) else hierarchy
    if not isinstance(settings, Mapping):
        raise FitError(f"{key}: hierarchy: expected {{group: <column>}}, got {hierarchy!r}")
    unknown = [k for k in settings if k not in _HIERARCHY_KEYS]
    if unknown:
        raise FitError(
            f"{key}: hierarchy: unknown key {unknown[0]!r} (allowed: {', '.join(_HIERARCHY_KEYS)})"
        )
    column = settings.get("group")
    if not isinstance(column, str) or not column:
        raise FitError(f"{key}: hierarchy.group: expected a column name, got {column!r}")
    parameters = settings.get("parameters")
    if parameters is not None and (
        isinstance(parameters, str) or not all(isinstance(p, str) for p in parameters)
    ):
        raise FitError(f"{key}: hierarchy.parameters: expected a list of parameter names")
    return column, None if parameters is None else list(parameters)


def group_labels(data: pd.DataFrame, column: str) -> np.ndarray:
    """The group level of every row of ``data``: the column's values as strings (``"01"``
    stays ``"01"``; integers print as integers).

    Raises
    ------
    DataError
        The column is missing, or a row has no value (the first such row is named).
    """
    if column not in data.columns:
        raise DataError(f"{SOURCE}: no column {column!r} (the hierarchy's groups)")
    values = data[column]
    fail_row(data, values.isna().to_numpy(), column, "missing (every customer needs a group)")
    return values.astype(str).to_numpy(dtype=str)


def level_index(hierarchy: Mapping[str, Any], labels: np.ndarray) -> np.ndarray:
    """The index of every label among the fit's levels; a level the fit did not see gets
    the number of levels (the population median, :func:`unseen_levels`)."""
    levels = np.asarray(hierarchy["levels"], dtype=str)
    labels = np.asarray(labels, dtype=str)
    index = np.searchsorted(levels, labels)
    known = (index < len(levels)) & (levels[np.minimum(index, len(levels) - 1)] == labels)
    return np.where(known, index, len(levels))


def unseen_levels(
    hierarchy: Mapping[str, Any], labels: np.ndarray, index: np.ndarray, key: str
) -> str | None:
    """The warning for customers of levels the fit did not see (:func:`level_index`),
    naming the levels; ``None`` when every level was seen."""
    unseen = np.asarray(index) == len(hierarchy["levels"])
    if not unseen.any():
        return None
    names = sorted(set(np.asarray(labels, dtype=str)[unseen].tolist()))
    shown = ", ".join(repr(u) for u in names[:5]) + (", ..." if len(names) > 5 else "")
    return (
        f"{key}: {hierarchy['group']} level(s) {shown} not seen in the fit: "
        f"{int(unseen.sum())} customer(s) get the population median parameters"
    )


def customer_patterns(
    levels: np.ndarray | None, design: np.ndarray | None, names: Sequence[str] = ()
) -> Patterns:
    """The patterns of customers with group indices ``levels`` (:func:`level_index`) and
    covariate design rows ``design`` (columns ``names``); either may be ``None``."""
    columns: list[np.ndarray] = []
    if levels is not None:
        columns.append(np.asarray(levels, dtype=float))
    if design is not None:
        columns.extend(np.asarray(design, dtype=float).T)
    codes, distinct = factorize_rows(columns)
    at_level = None if levels is None else distinct[0].astype(np.int64)
    designs = distinct[0 if levels is None else 1 :]
    return Patterns(np.asarray(codes), dict(zip(names, designs, strict=True)), at_level)


def params_per_pattern(
    spec: ModelSpec,
    params: Mapping[str, Any],
    patterns: Patterns,
    hierarchy: Mapping[str, Any] | None = None,
    tied: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The model's parameters per pattern (last axis) from fitted ones (scalars, or
    ``(draws, 1)`` arrays of draws): a grouped ``θ`` is the group's ``θ[g]`` (the median
    ``θ`` for an unseen level), times the covariate link of the pattern
    (:func:`clvmodels.models.links.linked_params`); a tied coefficient takes its
    source's value when ``params`` lacks it."""
    out = dict(params)
    out |= {t: out[s] for t, s in (tied or {}).items() if t not in out and s in out}
    if hierarchy and patterns.levels is not None:
        grouped, levels = hierarchy["parameters"], hierarchy["levels"]
        for p in grouped:
            values = [out[group_name(p, g)] for g in levels] + [out[p]]
            out[p] = np.stack([_draw_axis(v) for v in values], axis=-1)[..., patterns.levels]
        for name in hierarchy_names(grouped, levels):
            out.pop(name, None)
    return linked_params(spec, out, patterns.columns)


def _draw_axis(value: Any) -> np.ndarray:
    """A scalar as it is, ``(draws, 1)`` draws as ``(draws,)``."""
    value = np.asarray(value, dtype=float)
    return value[..., 0] if value.ndim == 2 and value.shape[-1] == 1 else value


def at_patterns(params: Mapping[str, Any], pattern: np.ndarray | None) -> dict[str, Any]:
    """Parameters at rows of patterns ``pattern``: a parameter with a value per pattern
    on its last axis is indexed, the others broadcast as they are."""
    if pattern is None:
        return dict(params)
    index = np.asarray(pattern).astype(np.int64)
    return {
        k: v if np.ndim(v) == 0 or np.shape(v)[-1] == 1 else np.asarray(v)[..., index]
        for k, v in params.items()
    }
