"""Gather by a sorted index, with a gradient that sums runs: two PyTensor operations.

A likelihood's ``xp.distinct`` terms are evaluated once per distinct value pair and
gathered back to the rows (:class:`~clvmodels.backends.posterior.NestedDistinct`).  The
rows of a compressed data set come in lexicographic order of their columns
(:func:`~clvmodels.backends.compress.factorize_rows`), so the index of the pairs of the
leading columns, ``(x, t_x)`` for the BG/NBD, is sorted: each pair's rows are one run.
The gradient of the gather is then a sum over each run.  PyTensor's gradient of a gather
is ``inc_subtensor``, which adds the rows into their pairs one after the other; when
consecutive rows go to the same pair, each addition waits on the one before, and on 10⁶
BG/NBD customers (108k rows, 5,049 pairs) that scatter took 0.29 ms of a 2.3 ms
likelihood-and-gradient evaluation.  ``np.add.reduceat`` over the runs takes 0.06 ms.

:func:`run_gather` is that gather: ``values[index]`` forward, :class:`RunSum` backward.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op


class RunSum(Op):
    """``g`` summed over runs: ``out[k] = g[starts[k]] + … + g[starts[k+1] − 1]``, the
    gradient of :class:`RunGather` (``index`` gives each element's run); its own gradient
    is that gather, so second derivatives go through."""

    __props__ = ()

    def make_node(self, g: Any, index: Any, starts: Any) -> Apply:
        g, index, starts = (pt.as_tensor_variable(v) for v in (g, index, starts))
        return Apply(self, [g, index, starts], [pt.dvector()])

    def perform(self, node: Any, inputs: list[np.ndarray], output_storage: Any) -> None:
        g, _, starts = inputs
        output_storage[0][0] = np.add.reduceat(np.asarray(g, dtype=float), starts)

    def infer_shape(self, fgraph: Any, node: Any, shapes: Any) -> list[Any]:
        return [shapes[2]]

    def L_op(self, inputs: Any, outputs: Any, output_grads: Any) -> list[Any]:
        _, index, starts = inputs
        gathered = run_gather(output_grads[0], index, starts)
        return [gathered, disconnected_type(), disconnected_type()]

    def connection_pattern(self, node: Any) -> list[list[bool]]:
        return [[True], [False], [False]]


class RunGather(Op):
    """``values[index]`` for an ``index`` that is ``0, …, 0, 1, …, len(values) − 1`` in
    order, each value one run starting at ``starts``; gradient :class:`RunSum`."""

    __props__ = ()

    def make_node(self, values: Any, index: Any, starts: Any) -> Apply:
        values, index, starts = (pt.as_tensor_variable(v) for v in (values, index, starts))
        return Apply(self, [values, index, starts], [pt.dvector()])

    def perform(self, node: Any, inputs: list[np.ndarray], output_storage: Any) -> None:
        values, index, _ = inputs
        output_storage[0][0] = np.asarray(values, dtype=float).take(index)

    def infer_shape(self, fgraph: Any, node: Any, shapes: Any) -> list[Any]:
        return [shapes[1]]

    def L_op(self, inputs: Any, outputs: Any, output_grads: Any) -> list[Any]:
        _, index, starts = inputs
        return [run_sum(output_grads[0], index, starts), disconnected_type(), disconnected_type()]

    def connection_pattern(self, node: Any) -> list[list[bool]]:
        return [[True], [False], [False]]


run_sum = RunSum()
run_gather = RunGather()
