"""``log(exp(u) + exp(v))`` as one PyTensor operation with a one-exponential gradient.

The likelihoods of the BG/NBD family, the Pareto/NBD, the BG/BB and the Gamma-Gamma all
add two probabilities in log space, once per customer row, and on large data sets that
row-level sum dominates the cost of a likelihood-and-gradient evaluation (the other
terms are evaluated once per distinct value, :mod:`clvmodels.backends.distinct`).

Written with PyTensor's own operations, ``u + softplus(v − u)``, value and gradient
cost two exponentials and a ``log1p`` per row (``softplus`` and the ``sigmoid`` of its
derivative each exponentiate).  Here the value is ``max(u, v) + log1p(e)`` and the
weight of ``u`` in the gradient is ``1/(1 + e)`` (``u ≥ v``) or ``e/(1 + e)``, both with
``e = exp(−|u − v|)``: the C compiler evaluates that exponential once when the two
operations are fused into one loop, which PyTensor does.  Measured on 1e6 BG/NBD
customers (108k distinct rows): likelihood + gradient 4.0 ms instead of 5.6 ms.

Both are exact and stable for every finite pair (no overflow; the weights are 1/2 at
a tie, the derivative of the symmetric function), and the NumPy implementations
(``impl``) serve PyTensor's Python and Numba back ends.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pytensor.scalar.basic import BinaryScalarOp, upgrade_to_float
from pytensor.tensor.elemwise import Elemwise


class ScalarLogAddExp(BinaryScalarOp):
    """``log(exp(u) + exp(v))`` for scalars; gradient via :class:`ScalarLogAddExpWeight`."""

    nfunc_spec = ("logaddexp", 2, 1)

    def impl(self, u: float, v: float) -> float:
        return np.logaddexp(u, v)

    def c_code(self, node: Any, name: str, inputs: Any, outputs: Any, sub: Any) -> str:
        u, v = inputs
        (z,) = outputs
        return f"{z} = ({u} >= {v} ? {u} : {v}) + log1p(exp(-fabs({u} - {v})));"

    def c_code_cache_version(self) -> tuple[int, ...]:
        return (1,)

    def L_op(self, inputs: Any, outputs: Any, output_grads: Any) -> list[Any]:
        u, v = inputs
        (gz,) = output_grads
        w = logaddexp_weight_scalar(u, v)
        return [gz * w, gz * (1.0 - w)]


class ScalarLogAddExpWeight(BinaryScalarOp):
    """``∂/∂u log(exp(u) + exp(v)) = 1/(1 + exp(v − u))`` for scalars."""

    def impl(self, u: float, v: float) -> float:
        e = np.exp(-abs(u - v))
        return (1.0 if u >= v else e) / (1.0 + e)

    def c_code(self, node: Any, name: str, inputs: Any, outputs: Any, sub: Any) -> str:
        u, v = inputs
        (z,) = outputs
        return (
            f"{{ double e_ = exp(-fabs({u} - {v})); {z} = ({u} >= {v} ? 1.0 : e_) / (1.0 + e_); }}"
        )

    def c_code_cache_version(self) -> tuple[int, ...]:
        return (1,)

    def L_op(self, inputs: Any, outputs: Any, output_grads: Any) -> list[Any]:
        (w,) = outputs
        (gz,) = output_grads
        d = gz * w * (1.0 - w)
        return [d, -d]


logaddexp_scalar = ScalarLogAddExp(upgrade_to_float, name="logaddexp")
logaddexp_weight_scalar = ScalarLogAddExpWeight(upgrade_to_float, name="logaddexp_weight")
logaddexp = Elemwise(logaddexp_scalar, name="logaddexp")
"""Elementwise ``log(exp(u) + exp(v))`` on PyTensor tensors (broadcasting)."""
