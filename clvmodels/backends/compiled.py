"""The log-likelihood's value and exact gradient as a compiled PyTensor function.

Used by the maximum-likelihood fits with covariates (those without are taped on NumPy,
:mod:`clvmodels.backends.tape`): the likelihood written once against
:mod:`clvmodels.models.ops` is built as a PyTensor graph on the log-parameters and the
coefficients, differentiated symbolically and compiled once per model and process; the
data are inputs of the compiled function, not constants, and the function is kept on
disk for the next process (:mod:`clvmodels.backends.compile_cache`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import numpy as np

from clvmodels.backends import compile_cache
from clvmodels.backends.design import PATTERN, CovariateLinks, pattern_params
from clvmodels.backends.distinct import DistinctColumns
from clvmodels.backends.information import Objective
from clvmodels.models.ops import pytensor_ops
from clvmodels.models.spec import ModelSpec


class CompiledLikelihood:
    """The weighted log-likelihood of ``data`` with ``covariates`` (``None``: without),
    compiled once; :meth:`objective` gives its value and gradient for any weights."""

    def __init__(
        self,
        spec: ModelSpec,
        data: Mapping[str, np.ndarray],
        covariates: CovariateLinks | None = None,
    ) -> None:
        links = () if covariates is None else covariates.spec()
        self._fn, distinct = compiled(
            spec.key, spec.log_likelihood, spec.param_names, tuple(data), links
        )
        z = {} if covariates is None else covariates.designs
        designs = [np.asarray(v, float) for v in z.values()]
        self._inputs = [data[c] for c in data] + designs + distinct.values(data)

    def objective(self, w: np.ndarray) -> Objective:
        """``θ ↦ (Σ w ℓ, ∂/∂θ)``."""

        def evaluate(th: np.ndarray) -> tuple[float, np.ndarray]:
            value, gradient = self._fn(np.asarray(th, dtype=float), w, *self._inputs)
            return float(value), np.asarray(gradient, dtype=float)

        return evaluate

    def value(self, w: np.ndarray) -> Callable[[np.ndarray], float]:
        """``θ ↦ Σ w ℓ`` (the compiled function gives the gradient along)."""
        objective = self.objective(w)
        return lambda th: objective(th)[0]


@cache
def compiled(
    key: str,
    log_likelihood: Callable[..., Any],
    param_names: tuple[str, ...],
    columns: tuple[str, ...],
    links: tuple[tuple[str, float, int], ...] = (),
) -> tuple[Callable[..., Any], DistinctColumns]:
    """Compile the weighted log-likelihood and its exact gradient with PyTensor, once per
    model and process (the data are inputs of the compiled function, not constants).

    Terms the likelihood marks with ``xp.distinct`` are evaluated once per distinct
    value combination of their columns (:mod:`clvmodels.backends.distinct`); the
    returned registry computes those extra inputs from a data set.

    ``links`` puts covariates on parameters: ``(name, sign, k)`` makes ``name`` of a row
    with covariate pattern ``g`` equal ``exp(θ_name) · exp(sign · Z_name[g] · γ_name)``
    (:func:`~clvmodels.backends.design.pattern_params`), with
    ``γ_name`` the next ``k`` entries of ``θ`` after the log-parameters and ``Z_name``
    (patterns × k) an input of the function after the data columns.  The rows then
    need a :data:`PATTERN` column, which joins every distinct key.

    The compiled function is kept on disk and a later process loads it instead of
    compiling again (:mod:`clvmodels.backends.compile_cache`, keyed by the graph).
    """
    import pytensor.tensor as pt

    theta = pt.dvector("theta")
    params = {k: pt.exp(theta[i]) for i, k in enumerate(param_names)}
    inputs = {c: pt.dvector(c) for c in columns}
    designs = {name: pt.dmatrix(f"Z[{name}]") for name, _, _ in links}
    if links:
        offset = len(param_names)
        coefficients = {}
        for name, _, k in links:  # γ_name: the next k entries of θ
            coefficients[name] = [theta[offset + j] for j in range(k)]
            offset += k
        signs = {name: sign for name, sign, _ in links}
        index = pt.cast(inputs[PATTERN], "int64")
        params = pattern_params(params, signs, coefficients, designs, index, pytensor_ops())
    weight = pt.dvector("weight")
    distinct = DistinctColumns(inputs, row_key=PATTERN if links else None)
    model_columns = {c: v for c, v in inputs.items() if c != PATTERN}
    per_row = log_likelihood(**params, **model_columns, xp=distinct.ops(pytensor_ops()))
    total = pt.sum(weight * per_row)
    arguments = [theta, weight, *inputs.values(), *designs.values(), *distinct.inputs()]
    fn = compile_cache.value_and_gradient(f"{key}_loglik_grad", arguments, total, theta)
    return fn, distinct
