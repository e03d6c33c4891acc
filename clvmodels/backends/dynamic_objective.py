"""The likelihood of a time-varying covariate model as one compiled, chunked function.

:class:`ChunkedLikelihood` evaluates the log-likelihood of
:mod:`clvmodels.models.paretonbd_dynamic` or :mod:`clvmodels.models.bgnbd_dynamic` and
its exact gradient (PyTensor autodiff of the one likelihood) in ``θ`` = (log-parameters,
coefficients), over chunks of distinct customers (``DynamicData.chunks``: identical
customers weighted, chunks trimmed to their periods), so memory stays bounded and the
compiled graph is the same for every chunk.  The maximum-likelihood driver calls it
directly; the Bayesian one wraps it in a PyTensor operation (:func:`likelihood_op`) so
that PyMC's NUTS gets the same value and gradient without compiling one graph per
chunk (a model of 40 chunks took 272 s to compile that way; this one compiles once).
It is picklable, for PyMC's sampler processes: the compiled function is rebuilt (from
PyTensor's cache) in each process on first use.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from clvmodels.models.ops import pytensor_ops

CELLS_PER_CHUNK = 250_000
"""Customer-period-node cells per call of the compiled likelihood."""


@cache
def compiled_likelihood(
    module_name: str, param_names: tuple[str, ...], processes: tuple[int, int]
) -> Callable[..., Any]:
    """The weighted log-likelihood and its gradient in ``θ`` = (log-parameters,
    coefficients), compiled once per model and covariate count per process."""
    import pytensor
    import pytensor.tensor as pt

    module = importlib.import_module(module_name)
    theta = pt.dvector("theta")
    params = {k: pt.exp(theta[i]) for i, k in enumerate(param_names)}
    k_p, k_d = processes
    offset = len(param_names)
    x = pt.dvector("frequency")
    exposure, before, counts = (pt.dmatrix(n) for n in ("exposure", "before", "counts"))
    purchase = [pt.dmatrix(f"purchase{j}") for j in range(k_p)]
    dropout = [pt.dmatrix(f"dropout{j}") for j in range(k_d)]
    skip = pt.lscalar("quadrature_from")
    per_row = module.log_likelihood(
        **params,
        gamma=[theta[offset + j] for j in range(k_p)],
        delta=[theta[offset + k_p + j] for j in range(k_d)],
        frequency=x,
        exposure=exposure,
        before=before,
        counts=counts,
        purchase=purchase,
        dropout=dropout,
        quadrature_from=skip,
        xp=pytensor_ops(),
    )
    weight = pt.dvector("weight")
    total = pt.sum(weight * per_row)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*could not link to a BLAS", UserWarning)
        return pytensor.function(
            [theta, weight, x, exposure, before, counts, *purchase, *dropout, skip],
            [total, pytensor.grad(total, theta)],
            on_unused_input="ignore",
            name=f"{module_name}_loglik_grad",
        )


class ChunkedLikelihood:
    """``theta -> (log-likelihood, gradient)`` of a model with time-varying covariates.

    Parameters
    ----------
    module_name
        The model's module (``clvmodels.models.paretonbd_dynamic``, ...).
    param_names
        The model's parameters (their logs lead ``theta``; the coefficients follow,
        purchase first).
    data
        A :class:`clvmodels.backends.dynamic.DynamicData`.
    """

    def __init__(self, module_name: str, param_names: tuple[str, ...], data: Any) -> None:
        self.module_name = module_name
        self.param_names = tuple(param_names)
        self.processes = tuple(len(data.covariates.get(p, {})) for p in ("purchase", "dropout"))
        order = importlib.import_module(module_name).ORDER
        self.chunks = data.chunks(CELLS_PER_CHUNK, order)
        self._last: tuple[bytes, float, np.ndarray] | None = None

    @property
    def n_distinct(self) -> int:
        """The number of distinct customers evaluated (identical ones are weighted)."""
        return int(sum(len(weights) for weights, _ in self.chunks))

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.asarray(theta, dtype=float)
        key = theta.tobytes()
        if self._last is not None and self._last[0] == key:  # value, then gradient
            return self._last[1], self._last[2].copy()
        fn = compiled_likelihood(self.module_name, self.param_names, self.processes)
        value, grad = 0.0, np.zeros(len(theta))
        for weights, inputs in self.chunks:
            v, g = fn(theta, weights, *inputs)
            value += float(v)
            grad += np.asarray(g, dtype=float)
        self._last = (key, value, grad)
        return value, grad.copy()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_last": None}


def likelihood_op(objective: ChunkedLikelihood) -> Any:
    """A PyTensor operation ``θ -> log-likelihood`` whose gradient is the objective's."""
    import pytensor.tensor as pt
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op

    class Gradient(Op):
        __props__ = ()

        def make_node(self, theta: Any) -> Apply:
            theta = pt.as_tensor_variable(theta)
            return Apply(self, [theta], [theta.type()])

        def perform(self, node: Any, inputs: list, outputs: list) -> None:
            outputs[0][0] = objective(inputs[0])[1]

    class LogLikelihood(Op):
        __props__ = ()

        def make_node(self, theta: Any) -> Apply:
            theta = pt.as_tensor_variable(theta)
            return Apply(self, [theta], [pt.dscalar()])

        def perform(self, node: Any, inputs: list, outputs: list) -> None:
            outputs[0][0] = np.asarray(objective(inputs[0])[0])

        def grad(self, inputs: list, output_grads: list) -> list:
            return [output_grads[0] * Gradient()(inputs[0])]

    return LogLikelihood()
