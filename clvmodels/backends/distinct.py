"""Evaluate data-only subexpressions of a PyTensor likelihood once per distinct value.

A customer-level likelihood is mostly built from terms that depend on the parameters
and on one or two data columns: ``Γ(r+x)``, ``(α+T)^-(r+x)``, a hypergeometric function
of ``(x, t_x)``.  Transaction logs recorded in days have few distinct ``(x, T)`` and
``(x, t_x)`` pairs (thousands) even when the distinct ``(x, t_x, T)`` histories number
in the hundreds of thousands, so evaluating each such term per pair and gathering it to
the rows removes almost all of the expensive work (special functions and their
derivatives) from every likelihood evaluation.

A likelihood marks such a term with ``xp.distinct(fn, *columns)``
(:class:`clvmodels.models.ops.Ops`); when the graph is built through
:meth:`DistinctColumns.ops`, each marked call whose arguments are input columns of the
graph becomes ``fn(*unique_columns)[inverse]``, with the unique values and the inverse
index as extra graph inputs that :meth:`DistinctColumns.values` computes once per data
set.  The NumPy evaluation of the same likelihood simply calls ``fn(*columns)``, so both
give the same numbers (tested).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from clvmodels.backends.compress import factorize_rows
from clvmodels.models.ops import Ops


class DistinctColumns:
    """Registry of the ``xp.distinct`` calls of one PyTensor graph.

    Parameters
    ----------
    columns
        The graph's data columns by name (symbolic vectors, or constants).
    constants
        The data themselves when ``columns`` are held by the graph (a PyMC model): the
        distinct values and the inverse index then become shared variables too and
        :meth:`inputs` stays empty.
    row_key
        A column that per-row *parameters* depend on (the covariate pattern of each
        customer, when the model has covariates).  It is added to every key, and in each
        term the row-level column is replaced by its distinct values, so parameters
        computed from it (e.g. ``α_i = α₀ exp(−γ′z_i)``) are evaluated per distinct
        combination too.
    """

    def __init__(
        self,
        columns: Mapping[str, Any],
        constants: Mapping[str, np.ndarray] | None = None,
        *,
        row_key: str | None = None,
    ) -> None:
        self._columns = dict(columns)
        self._constants = constants
        self._row_key = row_key
        self._by_id = {id(var): name for name, var in self._columns.items()}
        self._keys: list[tuple[str, ...]] = []
        self._inputs: dict[tuple[str, ...], tuple[list[Any], Any]] = {}

    def ops(self, base: Ops) -> Ops:
        """``base`` with ``distinct`` routed through this registry."""
        return dataclasses.replace(base, distinct=self._distinct)

    @property
    def keys(self) -> list[tuple[str, ...]]:
        """Column combinations requested so far, in order of first request."""
        return list(self._keys)

    def inputs(self) -> list[Any]:
        """Extra graph inputs, in the order :meth:`values` fills them."""
        out: list[Any] = []
        for key in self._keys:
            uniques, inverse = self._inputs[key]
            out.extend(uniques)
            out.append(inverse)
        return out

    def values(self, data: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Numeric values for :meth:`inputs` computed from the data columns."""
        out: list[np.ndarray] = []
        for key in self._keys:
            columns = [np.asarray(data[name], dtype=float) for name in key]
            group, unique = factorize_rows(columns)
            out.extend(unique)
            out.append(group.astype(np.int64, copy=False))
        return out

    def _distinct(self, fn: Callable[..., Any], *columns: Any) -> Any:
        names = tuple(self._by_id.get(id(col)) for col in columns)
        if not columns or any(name is None for name in names):
            return fn(*columns)  # not plain data columns: evaluate per row
        key: tuple[str, ...] = names  # type: ignore[assignment]
        if self._row_key is not None and self._row_key not in key:
            key = (*key, self._row_key)
        if key not in self._inputs:
            import pytensor.tensor as pt

            label = ",".join(key)
            if self._constants is not None:  # data held by the graph (the PyMC model)
                import pytensor

                group, values = factorize_rows(
                    [np.asarray(self._constants[name], dtype=float) for name in key]
                )
                # shared variables, not constants: the compiled graph is then the same for
                # every data set and PyTensor's compilation cache is reused
                uniques = [
                    pytensor.shared(v, name=f"{n}[distinct {label}]")
                    for n, v in zip(key, values, strict=True)
                ]
                inverse = pytensor.shared(group.astype(np.int32), name=f"inverse[{label}]")
                self._inputs[key] = (uniques, inverse)
            else:  # data as inputs of a compiled function (the MLE backend)
                uniques = [pt.dvector(f"{name}[distinct {label}]") for name in key]
                self._inputs[key] = (uniques, pt.lvector(f"inverse[{label}]"))
                self._keys.append(key)
        uniques, inverse = self._inputs[key]
        out = fn(*uniques[: len(columns)])
        if self._row_key is not None:
            from pytensor.graph.replace import graph_replace

            # per-row parameters of the term become per-distinct-combination parameters;
            # only the part of the graph between the row key and the term is rebuilt (a
            # clone of the whole graph would also copy the parameters' own variables,
            # e.g. PyMC's priors, into new, unrelated ones)
            out = graph_replace(out, {self._columns[self._row_key]: uniques[-1]}, strict=False)
        return out[inverse]
