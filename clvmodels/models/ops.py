"""Array namespaces in which every model likelihood is written once.

A likelihood in :mod:`clvmodels.models` takes an ``xp`` argument and uses only the
functions listed in :class:`Ops`.  Evaluated with :data:`numpy_ops` it is a plain
NumPy/SciPy function (predictions, tests, the likelihood value); evaluated with
:func:`pytensor_ops` it builds a PyTensor graph, which the maximum-likelihood backend
differentiates for exact gradients and the Bayesian backend hands to PyMC.  The same
source line therefore serves both backends.

Rules for code written against ``xp``:

* no Python ``if`` on array values; use ``xp.where`` — and since both branches of
  ``where`` are evaluated (and differentiated), make each branch finite everywhere,
  e.g. by feeding a safe value into the branch that is not selected;
* work in log space (``logaddexp``, ``log1mexp``, ``logsubexp``) to avoid overflow;
* wrap a term that depends on the parameters and on one or two data columns only (e.g.
  ``−(r+x)·log(α+T)``) in ``xp.distinct(fn, x, T)``: the maximum-likelihood backend then
  evaluates it once per distinct ``(x, T)`` pair instead of once per customer, which is
  what makes a fit cost grow with the number of distinct values, not of customers;
* write a linear combination (the covariate link of :mod:`clvmodels.models.links`) as
  ``xp.weighted_sum``, never as a matrix product: no BLAS call is involved.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, reduce
from typing import Any

import numpy as np
from scipy import special

from clvmodels.models.logsum import logaddexp_share


@dataclass(frozen=True)
class Ops:
    """The functions a likelihood may call; one instance per array library."""

    name: str
    log: Callable[[Any], Any]
    log1p: Callable[[Any], Any]
    exp: Callable[[Any], Any]
    expm1: Callable[[Any], Any]
    sqrt: Callable[[Any], Any]
    abs: Callable[[Any], Any]
    gammaln: Callable[[Any], Any]
    hyp2f1: Callable[[Any, Any, Any, Any], Any]
    logaddexp: Callable[[Any, Any], Any]
    where: Callable[[Any, Any, Any], Any]
    maximum: Callable[[Any, Any], Any]
    minimum: Callable[[Any, Any], Any]
    ones_like: Callable[[Any], Any]
    zeros_like: Callable[[Any], Any]
    subset_apply: Callable[..., Any]
    """``subset_apply(mask, fn, base, *args)``: ``base`` with the elements where ``mask``
    holds replaced by ``fn(*args_at_those_elements)``.  All arguments are broadcast
    together and ``fn`` gets and returns 1-D arrays, so an expensive term that only a
    few rows need (e.g. a quadrature) is computed for those rows only.  Gradients flow
    through the gathered elements."""
    distinct: Callable[..., Any]
    """``distinct(fn, *columns)``: ``fn(*columns)``, for an ``fn`` that is elementwise in
    the data ``columns`` and closes over parameters that are scalars, or per-row values
    that depend on the row only through its covariate pattern (the backend then adds the
    pattern to the key).  A backend that knows
    the distinct value combinations of those columns (see
    :class:`clvmodels.backends.distinct.DistinctColumns`) evaluates ``fn`` once per
    combination and gathers the result to the rows; otherwise it is a plain call.  Calls
    nest: inside ``fn``, ``distinct(g, x)`` on one of ``fn``'s columns evaluates ``g`` once
    per distinct ``x`` among the combinations (e.g. the ``Γ(r + x)`` terms of an
    ``(x, T)`` term, :class:`clvmodels.backends.tape.DistinctData`)."""
    sum: Callable[..., Any] = np.sum
    """``sum(a, axis=None, keepdims=False)``: reduction of an array by addition."""
    max: Callable[..., Any] = np.max
    """``max(a, axis=None, keepdims=False)``: reduction of an array to its largest value
    (the gradient flows to the largest element)."""
    cumsum: Callable[..., Any] = np.cumsum
    """``cumsum(a, axis)``: running sums along an axis (piecewise-linear cumulative
    intensities of the time-varying covariate models)."""

    def betaln(self, a: Any, b: Any) -> Any:
        """log B(a, b) = log Γ(a) + log Γ(b) − log Γ(a + b)."""
        return self.gammaln(a) + self.gammaln(b) - self.gammaln(a + b)

    def log1mexp(self, x: Any) -> Any:
        """log(1 − exp(x)) for x ≤ 0, accurate at both ends (Mächler 2012)."""
        x = self.minimum(x, -1e-300)
        near = x > -0.6931471805599453
        # double-where: each branch only ever sees inputs where it is finite, so the
        # branch not taken cannot poison the gradient with 0 * inf
        x_near = self.where(near, x, -1.0)
        x_far = self.where(near, -1.0, x)
        return self.where(near, self.log(-self.expm1(x_near)), self.log1p(-self.exp(x_far)))

    def logsubexp(self, a: Any, b: Any) -> Any:
        """log(exp(a) − exp(b)) for a ≥ b."""
        return a + self.log1mexp(b - a)

    def logsumexp(self, a: Any, axis: int = -1) -> Any:
        """``log Σ exp(a)`` along ``axis``, shifted by the largest element (no overflow);
        the elements must be finite or ``−inf`` with at least one finite."""
        top = self.max(a, axis=axis, keepdims=True)
        return self.sum(top, axis=axis) + self.log(self.sum(self.exp(a - top), axis=axis))

    def composite_gauss_legendre(
        self, log_f: Callable[[Any], Any], lo: Any, hi: Any, panels: int = 16, order: int = 8
    ) -> Any:
        """``log ∫_lo^hi exp(log_f(u)) du`` by the composite Gauss–Legendre rule: ``panels``
        equal panels of ``order`` nodes each (exact for polynomials of degree
        ``2·order − 1`` on every panel; Abramowitz & Stegun 25.4.29), summed in log space
        by :meth:`logsumexp`.  ``lo, hi`` broadcast (``hi > lo``; a row with
        ``hi = lo`` must be masked out by the caller, its value being finite but
        meaningless); ``log_f`` gets the nodes on a new last axis and must return finite
        values or ``−inf`` there."""
        unit, weights = _composite_rule(panels, order)
        width = hi - lo
        nodes = lo[..., None] + width[..., None] * unit
        log_terms = log_f(nodes) + np.log(weights)
        safe_width = self.where(width > 0, width, 1.0)
        return self.logsumexp(log_terms, axis=-1) + self.log(safe_width)

    def weighted_sum(self, weights: Sequence[Any], terms: Sequence[Any]) -> Any:
        """``Σ_j w_j · t_j``, broadcasting each pair, as a chain of elementwise products
        and sums rather than a matrix product: no BLAS call (PyTensor without a BLAS
        library warns about, and then slowly emulates, every ``dot``), and the weights
        may be scalars, arrays of parameter draws or symbolic values alike."""
        products = [weight * term for weight, term in zip(weights, terms, strict=True)]
        return reduce(operator.add, products) if products else 0.0


@cache
def _composite_rule(panels: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on [0, 1] of ``panels`` equal panels of an ``order``-node
    Gauss–Legendre rule each."""
    x, w = np.polynomial.legendre.leggauss(order)
    unit = ((np.arange(panels)[:, None] + (x + 1.0) / 2.0) / panels).ravel()
    return unit, np.tile(w / (2.0 * panels), panels)


def as_floats(*arrays: Any) -> tuple[np.ndarray, ...]:
    """The arguments as float64 NumPy arrays (for the NumPy-only prediction functions)."""
    return tuple(np.asarray(a, dtype=float) for a in arrays)


def _call(fn: Callable[..., Any], *columns: Any) -> Any:
    return fn(*columns)


_SAME_NAME = (
    "log",
    "log1p",
    "exp",
    "expm1",
    "sqrt",
    "abs",
    "maximum",
    "minimum",
    "ones_like",
    "zeros_like",
)
"""The functions of :class:`Ops` that NumPy and PyTensor name alike."""


def _namespace_ops(name: str, namespace: Any, **own: Callable[..., Any]) -> Ops:
    """The :class:`Ops` of an array library: its functions named in :data:`_SAME_NAME`,
    ``own`` for the others, and a plain call for ``distinct`` (a backend that knows
    the distinct values replaces it, :mod:`clvmodels.backends.distinct`)."""
    shared = {f: getattr(namespace, f) for f in _SAME_NAME}
    return Ops(name=name, **shared, distinct=_call, **own)


def _np_where(cond: Any, a: Any, b: Any) -> Any:
    return np.where(cond, a, b)


def _np_subset_apply(mask: Any, fn: Callable[..., Any], base: Any, *args: Any) -> Any:
    arrays = np.broadcast_arrays(mask, base, *args)
    shape = arrays[0].shape
    flat = [np.ravel(a) for a in arrays]
    idx = np.flatnonzero(flat[0])
    out = np.array(flat[1], dtype=float)
    if idx.size:
        out[idx] = fn(*(a[idx] for a in flat[2:]))
    return out.reshape(shape)


numpy_ops = _namespace_ops(
    "numpy",
    np,
    gammaln=special.gammaln,
    hyp2f1=special.hyp2f1,
    logaddexp=lambda u, v: logaddexp_share(u, v, share=False)[0],
    where=_np_where,
    subset_apply=_np_subset_apply,
)
"""NumPy/SciPy evaluation of the likelihoods."""


@cache
def pytensor_ops(portable: bool = False) -> Ops:
    """PyTensor evaluation of the likelihoods (imported lazily: PyTensor is heavy).

    ``portable=True`` builds the graph from PyTensor's own operations only, for the
    Numba back end that nutpie compiles to: the ``logaddexp`` of
    :mod:`clvmodels.models.logaddexp_op` is computed by NumPy and has no Numba
    implementation (Numba would run it in slow object mode).  The portable graph is also
    used whenever PyTensor's default linker is Numba (PyTensor ≥ 3).
    """
    import pytensor.tensor as pt

    from clvmodels.models.logaddexp_op import logaddexp as vector_logaddexp

    def portable_logaddexp(u: Any, v: Any) -> Any:
        # u + softplus(v − u): stable in value and gradient, derivative 1/2 at a tie
        return u + pt.softplus(v - u)

    logaddexp = portable_logaddexp if portable or numba_by_default() else vector_logaddexp

    def subset_apply(mask: Any, fn: Callable[..., Any], base: Any, *args: Any) -> Any:
        arrays = pt.broadcast_arrays(
            pt.as_tensor_variable(mask),
            pt.as_tensor_variable(base),
            *(pt.as_tensor_variable(a) for a in args),
        )
        shape = arrays[0].shape
        flat = [a.flatten() for a in arrays]
        idx = pt.nonzero(flat[0])[0]
        values = fn(*(a[idx] for a in flat[2:]))
        return pt.set_subtensor(flat[1][idx], values).reshape(shape)

    return _namespace_ops(
        "pytensor",
        pt,
        gammaln=pt.gammaln,
        hyp2f1=pt.hyp2f1,
        # pt.logaddexp forms exp(u) + exp(v) and overflows; this one is stable, with a
        # gradient that costs no second exponential, in vectorised NumPy
        # (clvmodels.models.logaddexp_op)
        logaddexp=logaddexp,
        where=pt.switch,
        subset_apply=subset_apply,
        sum=pt.sum,
        max=pt.max,
        cumsum=pt.cumsum,
    )


def numba_by_default() -> bool:
    """Whether PyTensor compiles graphs with Numba by default (PyTensor ≥ 3), where the
    fused op's C code is not used."""
    from pytensor.compile.mode import get_default_mode

    return "numba" in type(get_default_mode().linker).__module__


CHECKED_TOLERANCE = 1e-10
"""Largest difference of the logs of the two Gauss–Legendre rules of
:func:`checked_gauss_legendre` at which the finer one is accepted."""


def checked_gauss_legendre(
    log_f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    span: np.ndarray,
    *,
    rules: tuple[int, int] = (12, 20),
    fallback: tuple[int, int] = (32, 16),
    cells: int = 1 << 20,
) -> np.ndarray:
    """``log ∫_0^span exp(log_f(v)) dv`` per row of the 1-d ``span`` (NumPy only).

    Every row is integrated by the Gauss–Legendre rules of ``rules[0]`` and ``rules[1]``
    nodes; the finer one is kept where the logs of the two differ by at most
    :data:`CHECKED_TOLERANCE` (the coarse rule's error, an upper bound of the fine
    one's for an integrand analytic around the range), and the other rows are
    integrated again by the composite rule of ``fallback`` (panels, order).  ``log_f(i,
    v)`` gets the row indices ``i`` (``(m,)``) and nodes ``v`` (``(m, n)``) and returns
    the log of the integrand there (finite or ``−inf``).  Rows are processed in chunks
    of at most ``cells`` nodes; ``span = 0`` gives ``−inf`` (and NaN gives NaN).
    """
    span = np.asarray(span, dtype=float)
    out = np.where(np.isnan(span), np.nan, -np.inf)
    todo = np.flatnonzero(span > 0)
    results = []
    for panels, order in ((1, rules[0]), (1, rules[1])):
        results.append(_log_rule(log_f, span, todo, panels, order, cells))
    redo = todo[~(np.abs(results[1] - results[0]) <= CHECKED_TOLERANCE)]
    out[todo] = results[1]
    if redo.size:
        out[redo] = _log_rule(log_f, span, redo, *fallback, cells)
    return out


def _log_rule(
    log_f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    span: np.ndarray,
    rows: np.ndarray,
    panels: int,
    order: int,
    cells: int,
) -> np.ndarray:
    """``log Σ w exp(log_f)`` by the composite rule, in chunks (:func:`checked_gauss_legendre`)."""
    unit, weights = _composite_rule(panels, order)
    log_w = np.log(weights)
    out = np.empty(rows.size)
    chunk = max(1, cells // unit.size)
    for start in range(0, rows.size, chunk):
        idx = rows[start : start + chunk]
        terms = log_f(idx, span[idx, None] * unit) + log_w
        top = np.max(terms, axis=1)
        safe = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):  # an integrand that is 0 at every node
            total = np.log(np.sum(np.exp(terms - safe[:, None]), axis=1))
        out[start : start + chunk] = safe + total + np.log(span[idx])
    return out


def checked_gauss_legendre_vector(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    span: np.ndarray,
    width: int,
    *,
    tolerance: float = CHECKED_TOLERANCE,
    rules: tuple[int, int] = (16, 24),
    fallback: tuple[int, int] = (32, 16),
    cells: int = 1 << 20,
) -> np.ndarray:
    """``∫_0^span f(v) dv`` per row of the 1-d ``span`` for ``f ≥ 0`` with ``width``
    components (NumPy only): as :func:`checked_gauss_legendre`, but on values, not logs,
    and the finer rule is kept where no component of the two rules differs by more than
    ``tolerance`` (absolute).  ``f(i, v)`` returns ``(m, n, width)``; the
    result is ``(rows, width)``."""
    span = np.asarray(span, dtype=float)
    every = np.arange(span.size)
    coarse, out = (_vector_rule(f, span, every, 1, n, width, cells) for n in rules)
    redo = np.flatnonzero(~(np.abs(out - coarse).max(axis=1, initial=0.0) <= tolerance))
    if redo.size:
        out[redo] = _vector_rule(f, span, redo, *fallback, width, cells)
    return out


def _vector_rule(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    span: np.ndarray,
    rows: np.ndarray,
    panels: int,
    order: int,
    width: int,
    cells: int,
) -> np.ndarray:
    """``span Σ w f`` by the composite rule, in chunks (:func:`checked_gauss_legendre_vector`)."""
    unit, weights = _composite_rule(panels, order)
    out = np.empty((rows.size, width))
    chunk = max(1, cells // (unit.size * max(width, 1)))
    for start in range(0, rows.size, chunk):
        idx = rows[start : start + chunk]
        values = f(idx, span[idx, None] * unit)
        out[start : start + chunk] = span[idx, None] * np.einsum("mnk,n->mk", values, weights)
    return out
