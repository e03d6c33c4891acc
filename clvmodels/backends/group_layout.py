"""The groups of a hierarchical fit: which rows belong to which group and pattern.

A hierarchical fit (:mod:`clvmodels.backends.hierarchy`) gives every grouped parameter
``θ`` one value per group ``g``, ``θ[g]`` (:mod:`clvmodels.models.groups`), and a
customer the parameters of her group, times the covariate link of her covariate pattern
(Fader & Hardie 2007, note 019; :mod:`clvmodels.models.links`).  The rows of the fit are
compressed within *patterns* — a group and, with covariates, a covariate pattern — whose
code sits in the :data:`~clvmodels.backends.design.PATTERN` column, so that the
``xp.distinct`` terms of a likelihood are evaluated once per distinct value pair and
pattern (:mod:`clvmodels.backends.distinct`).  :meth:`GroupLayout.row_params` turns the
group values into per-row parameters with the same code for NumPy and PyTensor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from clvmodels.backends.compress import factorize_rows
from clvmodels.backends.design import CovariateLinks, FitRows, pattern_params
from clvmodels.errors import FitError
from clvmodels.models.groups import group_name, hierarchy_names
from clvmodels.models.ops import Ops, numpy_ops
from clvmodels.models.spec import ModelSpec


@dataclass(frozen=True)
class GroupLayout:
    """The groups of a hierarchical fit and the patterns its rows are compressed by.

    Attributes
    ----------
    column
        The customer column whose levels are the groups.
    levels
        The groups, sorted as strings (a level is never read as a number: ``"01"``).
    parameters
        The model parameters drawn per group.
    group
        Per pattern: the index of its group in ``levels``.
    links
        The covariate links with one design row per pattern (no designs without
        covariates) and ``pattern`` the pattern of every data row.
    """

    column: str
    levels: tuple[str, ...]
    parameters: tuple[str, ...]
    group: np.ndarray
    links: CovariateLinks

    @classmethod
    def build(
        cls,
        spec: ModelSpec,
        groups: Sequence[str] | np.ndarray,
        column: str = "group",
        parameters: Sequence[str] | None = None,
        covariates: CovariateLinks | None = None,
    ) -> GroupLayout:
        """The layout of data rows labelled ``groups`` (one level string per row), the
        grouped ``parameters`` (default: all of the model's) and the rows' covariates.

        Raises
        ------
        FitError
            An unknown or repeated parameter, or labels of another length than the
            covariates' rows.
        """
        labels = np.asarray(groups).astype(str).reshape(-1)
        chosen = tuple(spec.param_names if parameters is None else map(str, parameters))
        unknown = [p for p in chosen if p not in spec.param_names]
        if unknown or not chosen or len(set(chosen)) < len(chosen):
            what = f"no parameter {unknown[0]!r}" if unknown else "name each parameter once"
            raise FitError(
                f"{spec.key}: hierarchy.parameters: {what} (parameters: "
                f"{', '.join(spec.param_names)})"
            )
        levels, codes = np.unique(labels, return_inverse=True)
        codes = np.asarray(codes).reshape(-1).astype(float)
        if covariates is None:
            pattern, distinct = factorize_rows([codes])
            links = CovariateLinks(np.asarray(pattern), {}, {}, {})
            return cls(column, tuple(levels), chosen, distinct[0].astype(np.int64), links)
        if len(covariates.pattern) != len(labels):
            raise FitError(
                f"{spec.key}: {len(labels)} group labels for {len(covariates.pattern)} rows"
            )
        pattern, distinct = factorize_rows([codes, np.asarray(covariates.pattern, dtype=float)])
        at = distinct[1].astype(np.int64)
        designs = {p: np.asarray(z)[at] for p, z in covariates.designs.items()}
        links = replace(covariates, pattern=np.asarray(pattern), designs=designs)
        return cls(column, tuple(levels), chosen, distinct[0].astype(np.int64), links)

    @property
    def has_covariates(self) -> bool:
        """Whether the fit has covariate coefficients."""
        return bool(self.links.designs)

    @property
    def coefficients(self) -> tuple[str, ...]:
        """The coefficients the fit samples (the tied ones take their sources' values)."""
        return self.links.free_names() if self.has_covariates else ()

    def names(self, spec: ModelSpec) -> tuple[str, ...]:
        """The result's ``param_names``: the population medians (the model's own
        names), every ``θ[g]`` and ``sd(θ)``, then the free coefficients."""
        grouped = hierarchy_names(self.parameters, self.levels)
        return (*spec.param_names, *grouped, *self.coefficients)

    def counts(self, rows: FitRows) -> np.ndarray:
        """The number of customers of every group among ``rows``."""
        group = self.group[np.asarray(rows.pattern).astype(np.int64)]
        return np.bincount(group, weights=rows.weights, minlength=len(self.levels))

    def describe(self, rows: FitRows) -> dict[str, Any]:
        """``FitResult.hierarchy`` of a fit on ``rows``."""
        return {
            "group": self.column,
            "levels": list(self.levels),
            "counts": [float(c) for c in self.counts(rows)],
            "parameters": list(self.parameters),
        }

    def row_params(
        self,
        spec: ModelSpec,
        base: Mapping[str, Any],
        gammas: Mapping[str, Sequence[Any]],
        pattern: Any,
        xp: Ops = numpy_ops,
        designs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The model's parameters per data row.

        ``base`` holds, per model parameter, the population value (ungrouped) or one
        value per group (grouped: a vector over ``levels``); ``gammas`` the coefficients
        of each linked parameter in the order of its design columns; ``pattern`` each
        row's pattern.  A grouped parameter of a row is its group's value, times the
        covariate link of its covariate pattern
        (:func:`~clvmodels.backends.design.pattern_params`, which is evaluated once per
        pattern and gathered to the rows).
        """
        per_pattern = {
            k: base[k][self.group] if k in self.parameters else base[k] for k in spec.param_names
        }
        designs = self.links.designs if designs is None else designs
        out = pattern_params(per_pattern, self.links.signs, gammas, designs, pattern, xp)
        for k in self.parameters:
            if k not in gammas:  # a grouped parameter without covariates: gathered here
                out[k] = out[k][pattern]
        return out

    def gammas(self, values: Mapping[str, Any]) -> dict[str, list[Any]]:
        """The coefficients of each linked parameter from ``values`` by name, a tied
        coefficient taking its source's value."""
        tied = self.links.tied
        return {
            p: [values[tied.get(c, c)] for c in group]
            for p, group in self.links.coefficients_by_parameter().items()
        }


def hierarchical_log_likelihood(
    spec: ModelSpec, layout: GroupLayout, params: Mapping[str, float], rows: FitRows
) -> np.ndarray:
    """Per-row log-likelihood (NumPy) of a hierarchical model at ``params`` (named as
    :meth:`GroupLayout.names`: every ``θ[g]`` and the coefficients; the medians and
    spreads do not enter the likelihood)."""
    base: dict[str, Any] = {
        k: float(params[k]) for k in spec.param_names if k not in layout.parameters
    }
    for p in layout.parameters:
        base[p] = np.array([float(params[group_name(p, g)]) for g in layout.levels])
    pattern = np.asarray(rows.pattern).astype(np.int64)
    per_row = layout.row_params(spec, base, layout.gammas(params), pattern)
    return spec.log_likelihood(**per_row, **rows.model_columns, xp=numpy_ops)
