"""``log(exp(u) + exp(v))`` as one PyTensor operation evaluated by NumPy.

The likelihoods of the BG/NBD family, the Pareto/NBD, the BG/BB and the Gamma-Gamma all
add two probabilities in log space, once per customer row, and on large data sets that
row-level sum dominates the cost of a likelihood-and-gradient evaluation (the other
terms are evaluated once per distinct value, :mod:`clvmodels.backends.distinct`).

Written with PyTensor's own operations, ``u + softplus(v − u)``, value and gradient
cost two exponentials and a ``log1p`` per row (``softplus`` and the ``sigmoid`` of its
derivative each exponentiate), and PyTensor's C loops call the scalar ``exp`` and
``log1p`` of ``libm``: 5 ns an element each.  :class:`VectorLogAddExp` computes the
value and ``u``'s share of it (the derivative) in one NumPy pass
(:func:`~clvmodels.models.logsum.logaddexp_share`), whose ``exp`` and ``log`` are
vectorised (about 1 ns an element), and its gradient reuses the share.  Measured on 10⁶
BG/NBD customers (108k distinct rows): the compiled likelihood and gradient take
1.24 ms instead of 1.91 ms with a fused C loop of the same formula (5.6 ms with
``softplus``); on 10⁴ customers 0.130 ms instead of 0.135 ms.

The value is exact and stable for every finite pair (no overflow); the share is 1/2 at a
tie, the derivative of the symmetric function.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from clvmodels.models.logsum import logaddexp_share


class VectorLogAddExp(Op):
    """``log(exp(u) + exp(v))`` of two arrays of one shape, and ``u``'s share of it (its
    derivative in ``u``), computed by NumPy (:func:`~clvmodels.models.logsum.logaddexp_share`)
    whose ``exp`` and ``log`` are vectorised (module docstring).  The share is the second
    output, so the gradient reuses the forward pass's exponential."""

    __props__ = ()

    def make_node(self, u: Any, v: Any) -> Apply:
        u, v = pt.as_tensor_variable(u), pt.as_tensor_variable(v)
        out = pt.TensorType("float64", shape=(None,) * u.type.ndim)
        return Apply(self, [u, v], [out(), out()])

    def perform(self, node: Any, inputs: list[np.ndarray], output_storage: Any) -> None:
        out, share = logaddexp_share(*inputs)
        output_storage[0][0] = np.asarray(out, dtype=float)
        output_storage[1][0] = np.asarray(share, dtype=float)

    def infer_shape(self, fgraph: Any, node: Any, shapes: Any) -> list[Any]:
        return [shapes[0], shapes[0]]

    def L_op(self, inputs: Any, outputs: Any, output_grads: Any) -> list[Any]:
        _, w = outputs
        g_out, g_w = output_grads
        g_u = g_v = pt.zeros_like(w)
        if not isinstance(g_out.type, DisconnectedType):
            g_u, g_v = g_out * w, g_out * (1.0 - w)
        if not isinstance(g_w.type, DisconnectedType):  # dw/du = w (1 − w) = −dw/dv
            d = g_w * w * (1.0 - w)
            g_u, g_v = g_u + d, g_v - d
        return [g_u, g_v]


_vector_logaddexp = VectorLogAddExp()


def logaddexp(u: Any, v: Any) -> Any:
    """``log(exp(u) + exp(v))`` of PyTensor tensors by :class:`VectorLogAddExp`
    (broadcasting as NumPy does)."""
    u, v = (pt.cast(pt.as_tensor_variable(x), "float64") for x in (u, v))
    return _vector_logaddexp(*pt.broadcast_arrays(u, v))[0]
