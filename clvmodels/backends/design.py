"""What a fit runs on: the compressed data rows and the covariate design.

Both backends fit a model on the distinct data rows with their weights
(:class:`FitRows`); with covariates every row also carries its covariate pattern (the
:data:`PATTERN` column) and each linked parameter has a design matrix with one row per
pattern (:class:`CovariateLinks`).  A linked parameter of a row is the covariate link
of :func:`clvmodels.models.links.covariate_link` evaluated once per pattern and
gathered to the rows (:func:`pattern_params`): the same code builds the
maximum-likelihood backend's PyTensor graph, the PyMC model and the NumPy
log-likelihood of a Bayesian fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from clvmodels.backends.compress import (
    compress_rows,
    factorize_rows,
    fingerprint_rows,
    prepare_rows,
)
from clvmodels.errors import FitError
from clvmodels.models.links import covariate_link
from clvmodels.models.ops import Ops, numpy_ops
from clvmodels.models.spec import ModelSpec, coefficient_name

PATTERN = "pattern"
"""Data column holding each row's covariate pattern (an integer code) in a fit with
covariates; the design matrices are given per pattern."""


@dataclass(frozen=True)
class CovariateLinks:
    """Covariates on some parameters of a model, for the backends.

    Parameter ``name`` of a customer with covariate pattern ``g`` is
    ``name₀ · exp(sign · Z[g] · γ)`` (Fader & Hardie 2007, note 019: ``α_i = α₀ exp(−γ₁′z_i)``
    on the purchase rate's scale, ``a_i = a₀ exp(γ₂′z_i)``, ``b_i = b₀ exp(γ₃′z_i)`` on
    the BG/NBD dropout, ``β_i = β₀ exp(−γ₂′z_i)`` on the Pareto/NBD dropout).

    Attributes
    ----------
    pattern
        Covariate pattern (integer code) of every data row.
    designs
        Per linked parameter: the design matrix, one row per pattern.
    names
        Per linked parameter: the names of its design columns.
    signs
        Per linked parameter: the sign of the link (−1 for scale parameters of rates).
    tied
        Coefficients constrained equal to another, ``{"b:member": "a:member"}``
        (:func:`tie_coefficients`); the fit estimates the :meth:`free_names` only.
    """

    pattern: np.ndarray
    designs: Mapping[str, np.ndarray]
    names: Mapping[str, tuple[str, ...]]
    signs: Mapping[str, float]
    tied: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        spec: ModelSpec,
        names: tuple[str, ...],
        matrix: np.ndarray,
        processes: Mapping[str, tuple[str, ...]],
        constraints: Sequence[Sequence[str]] = (),
    ) -> CovariateLinks:
        """Links from a customer design matrix (``names`` its columns, one row per data
        row) and the covariates chosen per process (e.g. ``{"purchase": ("member",),
        "dropout": ("member", "age")}``); the parameters of each process and the signs
        come from ``spec.covariate_links``.

        Raises
        ------
        FitError
            A process the model does not have, a covariate not among ``names``, or one
            with the same value for every customer (an all-zero covariate, say: its
            coefficient is not identified); a constraint that :func:`tie_coefficients`
            refuses.
        """
        designs: dict[str, np.ndarray] = {}
        chosen: dict[str, tuple[str, ...]] = {}
        signs: dict[str, float] = {}
        matrix = np.asarray(matrix, dtype=float)
        pattern, distinct = factorize_rows(list(matrix.T))
        rows = np.column_stack(distinct)
        for process, covariates in processes.items():
            columns = _process_columns(spec, names, matrix, process, covariates)
            for param, sign in spec.covariate_links[process].items():
                designs[param] = rows[:, columns]
                chosen[param] = tuple(covariates)
                signs[param] = float(sign)
        tied = tie_coefficients(spec, chosen, constraints)
        return cls(np.asarray(pattern).reshape(-1), designs, chosen, signs, tied)

    def coefficient_names(self) -> tuple[str, ...]:
        """``parameter:covariate`` for every coefficient, in θ order."""
        return tuple(name for group in self.coefficients_by_parameter().values() for name in group)

    def coefficients_by_parameter(self) -> dict[str, tuple[str, ...]]:
        """The coefficient names of each linked parameter, in the order of its design
        columns."""
        return {p: tuple(coefficient_name(p, c) for c in self.names[p]) for p in self.designs}

    def free_names(self) -> tuple[str, ...]:
        """The coefficients a fit estimates: every one but the ``tied``, in θ order."""
        return tuple(n for n in self.coefficient_names() if n not in self.tied)

    def expansion(self, n_base: int) -> np.ndarray:
        """The 0/1 matrix ``E`` with ``θ = E φ``: from the estimated coordinates ``φ``
        (``n_base`` model parameters, then :meth:`free_names`) to all of them (the model
        parameters, then :meth:`coefficient_names`), a tied coefficient taking its
        source's value."""
        full, free = self.coefficient_names(), self.free_names()
        matrix = np.zeros((n_base + len(full), n_base + len(free)))
        matrix[:n_base, :n_base] = np.eye(n_base)
        for i, name in enumerate(full):
            matrix[n_base + i, n_base + free.index(self.tied.get(name, name))] = 1.0
        return matrix

    def spec(self) -> tuple[tuple[str, float, int], ...]:
        """``(parameter, sign, number of coefficients)`` per linked parameter: the
        hashable ``links`` argument of :func:`clvmodels.backends.compiled.compiled`."""
        return tuple((p, float(self.signs[p]), len(self.names[p])) for p in self.designs)

    def with_pattern(self, pattern: np.ndarray) -> CovariateLinks:
        """The same links for other rows (e.g. the compressed ones), given their pattern."""
        return replace(self, pattern=np.asarray(pattern).astype(np.int64))


def tie_coefficients(
    spec: ModelSpec,
    chosen: Mapping[str, Sequence[str]],
    constraints: Sequence[Sequence[str]],
) -> dict[str, str]:
    """Equality constraints on covariate coefficients (CLVTools' ``names.cov.constr``).

    Each constraint names parameters (``["a", "b"]``) that share one coefficient per
    covariate: for every covariate the first parameter's coefficient ``a:x`` is
    estimated and the others' (``b:x``) equal it.  Sharing needs the same sign of the
    link (``a`` and ``b`` of the BG/NBD; the Pareto/NBD's ``alpha`` and ``beta``, the
    purchase and the dropout rate), so that one coefficient moves both parameters the
    same way.

    Parameters
    ----------
    spec
        The model.
    chosen
        The covariate design columns per linked parameter.
    constraints
        Groups of parameter names.

    Returns
    -------
    dict
        ``{tied coefficient: the coefficient it equals}``.

    Raises
    ------
    FitError
        A group of fewer than two parameters, a parameter that takes no covariates,
        has none in this fit or is in two groups, links of opposite signs, or a group
        whose parameters share no covariate.
    """
    tied: dict[str, str] = {}
    seen: set[str] = set()
    signs = {p: s for links in spec.covariate_links.values() for p, s in links.items()}
    for group in constraints:
        where = f"{spec.key}: constraints [{', '.join(map(str, group))}]"
        group = [str(p) for p in group]
        if len(set(group)) < 2:
            raise FitError(f"{where}: name at least two different parameters")
        for p in group:
            if p not in signs:
                raise FitError(
                    f"{where}: {p!r} takes no covariates (parameters that do: {', '.join(signs)})"
                )
            if p not in chosen:
                raise FitError(f"{where}: {p!r} has no covariates in this fit")
            if p in seen:
                raise FitError(f"{where}: {p!r} is in another constraint too")
        if len({signs[p] for p in group}) > 1:
            raise FitError(
                f"{where}: the covariate links of these parameters have opposite signs, "
                "so one coefficient cannot move them alike"
            )
        seen.update(group)
        first, *others = group
        shared = [c for c in chosen[first] if all(c in chosen[p] for p in others)]
        if not shared:
            raise FitError(f"{where}: these parameters share no covariate")
        for p in others:
            for c in shared:
                tied[coefficient_name(p, c)] = coefficient_name(first, c)
    return tied


def _process_columns(
    spec: ModelSpec,
    names: tuple[str, ...],
    matrix: np.ndarray,
    process: str,
    covariates: Sequence[str],
) -> list[int]:
    """The design columns of the covariates of ``process``, checked (see
    :meth:`CovariateLinks.build`)."""
    if process not in spec.covariate_links:
        known = ", ".join(spec.covariate_links) or "none"
        raise FitError(f"{spec.key}: no {process!r} process takes covariates (processes: {known})")
    unknown = [c for c in covariates if c not in names]
    if unknown:
        raise FitError(f"{spec.key}: no covariate {unknown[0]!r} (have: {', '.join(names)})")
    columns = [names.index(c) for c in covariates]
    for c, j in zip(covariates, columns, strict=True):
        if len(matrix) and np.ptp(matrix[:, j]) == 0:
            raise FitError(
                f"{spec.key}: covariate {c!r} has the same value for every customer; "
                "its coefficient cannot be told apart from the baseline parameter"
            )
    return columns


def pattern_params(
    params: Mapping[str, Any],
    signs: Mapping[str, float],
    coefficients: Mapping[str, Sequence[Any]],
    designs: Mapping[str, Any],
    pattern: Any,
    xp: Ops = numpy_ops,
) -> dict[str, Any]:
    """The model's parameters per data row.

    A linked parameter ``θ`` of a row with covariate pattern ``g`` is
    ``θ₀ · exp(sign · Z_θ[g] · γ_θ)`` (:func:`clvmodels.models.links.covariate_link`),
    evaluated once per pattern (the rows of the design matrix ``Z_θ``) and gathered to
    the rows; the other parameters are passed through.

    Parameters
    ----------
    params
        The baseline parameters (numbers or symbolic values).
    signs
        The sign of the link per linked parameter.
    coefficients
        ``γ_θ`` per linked parameter, in the order of the columns of its design.
    designs
        ``Z_θ`` per linked parameter (patterns × coefficients; an array or symbolic).
    pattern
        Each row's pattern (integer codes, or a symbolic vector of them).
    xp
        Array namespace of the values (:data:`~clvmodels.models.ops.numpy_ops` or PyTensor).
    """
    out = dict(params)
    for parameter, gamma in coefficients.items():
        design = designs[parameter]
        columns = [design[:, j] for j in range(len(gamma))]
        linked = covariate_link(out[parameter], signs[parameter], gamma, columns, xp)
        out[parameter] = linked[pattern]
    return out


@dataclass(frozen=True)
class FitRows:
    """The distinct data rows of a fit and the number of customers each stands for.

    Attributes
    ----------
    rows
        The model's data columns (``spec.data_columns``, the rows the model uses) and,
        in a fit with covariates, the :data:`PATTERN` column.
    weights
        Number of customers per row.
    """

    rows: dict[str, np.ndarray]
    weights: np.ndarray

    @classmethod
    def of(
        cls,
        spec: ModelSpec,
        data: Mapping[str, np.ndarray],
        weights: np.ndarray | None = None,
        covariates: CovariateLinks | None = None,
    ) -> FitRows:
        """Identical rows of ``data`` (with ``covariates``: and of the same covariate
        pattern) collapsed into weights.

        Raises
        ------
        FitError
            When no customer is left to fit on.
        """
        extra: tuple[str, ...] = ()
        if covariates is not None:
            data = {**data, PATTERN: np.asarray(covariates.pattern, dtype=float)}
            extra = (PATTERN,)
        arrays, w = prepare_rows(spec, data, weights, extra)
        unique, uw = compress_rows(arrays, None if weights is None else w)  # ones: counted
        if len(uw) == 0 or uw.sum() <= 0:
            raise FitError(f"{spec.key}: no customers to fit on")
        return cls(unique, uw)

    @property
    def model_columns(self) -> dict[str, np.ndarray]:
        """The model's data columns, without the covariate pattern."""
        return {c: v for c, v in self.rows.items() if c != PATTERN}

    @property
    def pattern(self) -> np.ndarray | None:
        """Each row's covariate pattern (``None`` without covariates)."""
        return self.rows.get(PATTERN)

    @property
    def n_obs(self) -> float:
        """The number of customers."""
        return float(self.weights.sum())

    def fingerprint(self) -> str:
        """Fingerprint of the rows and weights
        (:func:`~clvmodels.backends.compress.fingerprint_rows`)."""
        return fingerprint_rows(self.rows, self.weights)
