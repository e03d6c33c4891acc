"""Value and exact gradient of a likelihood without compilation: reverse mode on NumPy.

The likelihoods of :mod:`clvmodels.models` are written once against an
:class:`~clvmodels.models.ops.Ops` namespace.  Evaluated with :func:`tape_ops`, every
operation computes its NumPy value at once and records on a :class:`Tape` how to carry a
gradient back to its arguments (its vector-Jacobian product).  One backward sweep over
the tape then gives the gradient of a scalar with respect to every parameter: reverse-mode
automatic differentiation (Griewank & Walther 2008, *Evaluating Derivatives*, ch. 3),
the same derivatives PyTensor's symbolic gradient gives, at the price of one NumPy pass
forward and about one backward, and with nothing to compile.

For the maximum-likelihood fits of :mod:`clvmodels.backends.mle` this is what a fresh
process needs: PyTensor's import, gradient graph, rewrites and C linking take seconds,
while a taped evaluation of a BG/NBD likelihood over 10⁵ distinct histories takes
milliseconds (the expensive terms are evaluated per distinct value pair,
``xp.distinct``, as in the compiled graph).

Values carried on the tape are :class:`Var`; data are plain NumPy arrays or numbers and
carry no gradient.  Comparisons of a :class:`Var` give plain boolean arrays (conditions
carry no gradient), as PyTensor's ``switch`` treats them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy import special

from clvmodels.backends.compress import factorize_rows, run_starts
from clvmodels.backends.tape_special import hyp2f1_partials
from clvmodels.models.logsum import logaddexp_share
from clvmodels.models.ops import Ops, numpy_ops

Vjp = Callable[[np.ndarray], tuple[Any, ...]]


class Tape:
    """The record of one evaluation: every :class:`Var` in the order it was made."""

    def __init__(self) -> None:
        self.nodes: list[Var] = []

    def leaf(self, value: Any) -> Var:
        """A variable to differentiate with respect to."""
        return Var(self, np.asarray(value, dtype=float), (), None)

    def gradient(self, out: Var, wrt: Var) -> np.ndarray:
        """``∂ out / ∂ wrt`` for a scalar ``out``, by one backward sweep."""
        grads: dict[int, np.ndarray] = {out.index: np.ones_like(out.value)}
        for node in reversed(self.nodes[wrt.index + 1 : out.index + 1]):
            g = grads.pop(node.index, None)
            if g is None or node.vjp is None:
                continue
            for parent, pg in zip(node.parents, node.vjp(g), strict=True):
                if not isinstance(parent, Var) or pg is None:
                    continue
                pg = _unbroadcast(pg, parent.value.shape)
                known = grads.get(parent.index)
                grads[parent.index] = pg if known is None else known + pg
        return grads.get(wrt.index, np.zeros_like(wrt.value))


def _unbroadcast(g: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``g`` summed over the axes broadcasting added to an array of ``shape``."""
    if getattr(g, "shape", None) == shape:
        return g
    g = np.asarray(g, dtype=float)
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return np.broadcast_to(g, shape)


def value(x: Any) -> Any:
    """The NumPy value of a :class:`Var`, or ``x`` itself."""
    return x.value if isinstance(x, Var) else x


class Var:
    """An array on a :class:`Tape`: its value, the arguments it was computed from and the
    vector-Jacobian product that carries a gradient back to them."""

    __slots__ = ("index", "parents", "tape", "value", "vjp")
    __array_ufunc__ = None  # NumPy defers to Var's reflected operators

    def __init__(self, tape: Tape, val: np.ndarray, parents: tuple[Any, ...], vjp: Vjp | None):
        self.tape, self.value, self.parents, self.vjp = tape, val, parents, vjp
        self.index = len(tape.nodes)
        tape.nodes.append(self)

    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)

    def __len__(self) -> int:
        return len(self.value)

    def __add__(self, other: Any) -> Var:
        return _op(np.add(self.value, value(other)), (self, other), lambda g: (g, g))

    __radd__ = __add__

    def __sub__(self, other: Any) -> Var:
        return _op(np.subtract(self.value, value(other)), (self, other), lambda g: (g, -g))

    def __rsub__(self, other: Any) -> Var:
        return _op(np.subtract(value(other), self.value), (other, self), lambda g: (g, -g))

    def __mul__(self, other: Any) -> Var:
        u, v = self.value, value(other)
        both = isinstance(other, Var)
        return _op(u * v, (self, other), lambda g: (g * v, g * u if both else None))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Var:
        u, v = self.value, value(other)
        out = u / v
        both = isinstance(other, Var)
        return _op(out, (self, other), lambda g: (g / v, -g * out / v if both else None))

    def __rtruediv__(self, other: Any) -> Var:
        u, v = value(other), self.value
        out = u / v
        return _op(out, (other, self), lambda g: (None, -g * out / v))

    def __pow__(self, other: Any) -> Var:
        u, v = self.value, value(other)
        out = u**v
        both = isinstance(other, Var)
        return _op(
            out,
            (self, other),
            lambda g: (g * v * u ** (v - 1.0), _exponent(g, out, u) if both else None),
        )

    def __rpow__(self, other: Any) -> Var:
        u, v = value(other), self.value
        out = u**v
        return _op(out, (other, self), lambda g: (None, _exponent(g, out, u)))

    def __neg__(self) -> Var:
        return _op(-self.value, (self,), lambda g: (-g,))

    def __matmul__(self, other: Any) -> Var:
        w = np.asarray(value(other), dtype=float)
        if isinstance(other, Var) or w.ndim != 1:
            raise TypeError("a taped matrix product takes a constant vector on the right")
        return _op(self.value @ w, (self,), lambda g: (np.asarray(g)[..., None] * w,))

    def __getitem__(self, index: Any) -> Var:
        shape = self.value.shape

        def vjp(g: np.ndarray) -> tuple[np.ndarray]:
            if isinstance(index, np.ndarray) and index.dtype.kind in "iu" and len(shape) == 1:
                flat = index.ravel()
                if flat.size and flat.min() < 0:  # negative positions count from the end
                    flat = flat % shape[0]
                return (np.bincount(flat, np.ravel(g), minlength=shape[0]),)
            out = np.zeros(shape)
            if _advanced(index):
                np.add.at(out, index, g)
            else:  # basic indexing selects every element at most once
                out[index] += g
            return (out,)

        return _op(self.value[index], (self,), vjp)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return self.value == value(other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return self.value != value(other)

    __hash__ = None  # type: ignore[assignment]

    def __lt__(self, other: Any) -> Any:
        return self.value < value(other)

    def __le__(self, other: Any) -> Any:
        return self.value <= value(other)

    def __gt__(self, other: Any) -> Any:
        return self.value > value(other)

    def __ge__(self, other: Any) -> Any:
        return self.value >= value(other)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Var:
        """Sum of the elements (along ``axis``)."""
        return _sum(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Var:
        """The same elements in another shape."""
        old = self.value.shape
        return _op(self.value.reshape(*shape), (self,), lambda g: (np.reshape(g, old),))


def _exponent(g: np.ndarray, out: np.ndarray, base: Any) -> np.ndarray:
    """The gradient of ``base ** v`` in ``v``: ``g · out · log(base)``, 0 where the base
    is 0 (and the power 0 or 1)."""
    positive = np.asarray(base) > 0
    return np.where(positive, g * out * np.log(np.where(positive, base, 1.0)), 0.0)


def _advanced(index: Any) -> bool:
    """Whether ``index`` holds an array (NumPy's advanced indexing)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)


def _op(out: Any, args: tuple[Any, ...], vjp: Vjp) -> Any:
    """A new :class:`Var` on the tape of the first :class:`Var` among ``args``."""
    for a in args:
        if isinstance(a, Var):
            return Var(a.tape, np.asarray(out, dtype=float), args, vjp)
    return out


def _unary(f: Callable[[Any], Any], slope: Callable[[Any, Any], Any]) -> Callable[[Any], Any]:
    """An elementwise function with derivative ``slope(x, f(x))``."""

    def apply(x: Any) -> Any:
        if not isinstance(x, Var):
            return f(x)
        u = x.value
        out = f(u)
        return _op(out, (x,), lambda g: (g * slope(u, out),))

    return apply


def _logaddexp(a: Any, b: Any) -> Any:
    """``log(e^a + e^b)``; ``a``'s share of the gradient is ``e^(a − out)``, ``b``'s the
    rest (:func:`~clvmodels.models.logsum.logaddexp_share`)."""
    taped = isinstance(a, Var) or isinstance(b, Var)
    out, share = logaddexp_share(value(a), value(b), share=taped)
    if not taped:
        return out

    def vjp(g: np.ndarray) -> tuple[Any, Any]:
        first = g * share
        return first, g - first

    return _op(out, (a, b), vjp)


def _where(cond: Any, a: Any, b: Any) -> Any:
    c = np.asarray(value(cond), dtype=bool)
    out = np.where(c, value(a), value(b))
    on_a, on_b = isinstance(a, Var), isinstance(b, Var)
    return _op(
        out,
        (a, b),
        lambda g: (np.where(c, g, 0.0) if on_a else None, np.where(c, 0.0, g) if on_b else None),
    )


def _maximum(a: Any, b: Any) -> Any:
    u, v = value(a), value(b)
    first = u >= v
    return _op(
        np.maximum(u, v), (a, b), lambda g: (np.where(first, g, 0.0), np.where(first, 0.0, g))
    )


def _minimum(a: Any, b: Any) -> Any:
    u, v = value(a), value(b)
    first = u <= v
    return _op(
        np.minimum(u, v), (a, b), lambda g: (np.where(first, g, 0.0), np.where(first, 0.0, g))
    )


def _sum(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    u = value(a)
    out = np.sum(u, axis=axis, keepdims=keepdims)
    if not isinstance(a, Var):
        return out

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        if axis is not None and not keepdims:
            g = np.expand_dims(g, axis)
        return (np.broadcast_to(g, u.shape),)

    return _op(out, (a,), vjp)


def _max(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    u = value(a)
    out = np.max(u, axis=axis, keepdims=keepdims)
    if not isinstance(a, Var):
        return out

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        top = np.max(u, axis=axis, keepdims=True)
        if axis is not None and not keepdims:
            g = np.expand_dims(g, axis)
        return (np.where(u == top, g, 0.0),)

    return _op(out, (a,), vjp)


def _cumsum(a: Any, axis: int | None = None) -> Any:
    if axis is None:  # as NumPy: the flattened array
        a, axis = (a.reshape(-1) if isinstance(a, Var) else np.ravel(a)), 0
    u = value(a)
    out = np.cumsum(u, axis=axis)
    flip = lambda g: np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)  # noqa: E731
    return _op(out, (a,), lambda g: (flip(np.broadcast_to(g, out.shape)),))


def _hyp2f1(a: Any, b: Any, c: Any, z: Any) -> Any:
    args = (a, b, c, z)
    plain = [value(v) for v in args]
    out = special.hyp2f1(*plain)
    if not any(isinstance(v, Var) for v in args):
        return out
    wanted = tuple(isinstance(v, Var) for v in args)
    return _op(
        out,
        args,
        lambda g: tuple(
            None if d is None else g * d for d in hyp2f1_partials(*plain, wanted=wanted)
        ),
    )


def _broadcast(x: Any, shape: tuple[int, ...]) -> Any:
    if not isinstance(x, Var):
        return np.broadcast_to(np.asarray(x, dtype=float), shape)
    if x.value.shape == shape:
        return x
    return _op(np.broadcast_to(x.value, shape), (x,), lambda g: (g,))


def _scatter(base: Any, index: np.ndarray, values: Any) -> Any:
    """``base`` (1-d) with the elements at ``index`` replaced by ``values``."""
    out = np.array(value(base), dtype=float)
    out[index] = value(values)

    def vjp(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kept = np.array(g, dtype=float)
        kept[index] = 0.0
        return kept, np.asarray(g)[index]

    return _op(out, (base, values), vjp)


def _subset_apply(mask: Any, fn: Callable[..., Any], base: Any, *args: Any) -> Any:
    shape = np.broadcast_shapes(*(np.shape(value(v)) for v in (mask, base, *args)))
    flat_mask = np.broadcast_to(np.asarray(value(mask), dtype=bool), shape).ravel()
    idx = np.flatnonzero(flat_mask)
    flat_base = _broadcast(base, shape).reshape(-1)
    if idx.size == 0:
        return flat_base.reshape(shape)
    if not any(isinstance(v, Var) for v in (base, *args)):  # nothing to record: in chunks
        out = np.array(flat_base, dtype=float)
        for start in range(0, idx.size, SUBSET_CHUNK):
            part = idx[start : start + SUBSET_CHUNK]
            out[part] = fn(*(_gather(v, shape, part) for v in args))
        return out.reshape(shape)
    values = fn(*(_gather(v, shape, idx) for v in args))
    return _scatter(flat_base, idx, values).reshape(shape)


SUBSET_CHUNK = 4096
"""Rows of a value-only ``subset_apply`` computed at a time: its terms may carry a
quadrature axis (the Pareto/NBD's 96 nodes), and small blocks stay in the processor's
cache instead of allocating arrays of rows × nodes."""


def _gather(x: Any, shape: tuple[int, ...], idx: np.ndarray) -> Any:
    """The elements at the flat positions ``idx`` of ``x`` broadcast to ``shape``,
    without forming the broadcast array when ``x`` is a single number."""
    if np.size(value(x)) == 1:
        one = x.reshape(()) if isinstance(x, Var) else np.reshape(x, ())
        return one * np.ones(idx.size)
    return _broadcast(x, shape).reshape(-1)[idx]


class DistinctData:
    """The distinct value combinations of data columns, found once per data set and used
    by every taped evaluation's ``xp.distinct`` (as
    :class:`~clvmodels.backends.distinct.DistinctColumns` does for a compiled graph),
    nested ones too: ``Γ(r + x)`` of the ``(x, T)`` term once per distinct ``x``."""

    def __init__(self, columns: Mapping[str, np.ndarray]) -> None:
        self._by_id = {id(v): k for k, v in columns.items()}
        self._columns = dict(columns)
        self._found: dict[tuple[str, ...], tuple[list[np.ndarray], np.ndarray]] = {}
        self._level: dict[str, tuple[str, ...]] = {}  # nested columns: the key they come from

    def __call__(self, fn: Callable[..., Any], *columns: Any) -> Any:
        names = tuple(self._by_id.get(id(c)) for c in columns)
        # not data columns, or rows mixed with distinct values: evaluated as they are
        if not columns or None in names or len({self._level.get(n) for n in names}) > 1:
            return fn(*columns)
        key: tuple[str, ...] = names  # type: ignore[assignment]
        if key not in self._found:
            group, unique = factorize_rows([np.asarray(self._columns[n], float) for n in key])
            inverse = group.astype(np.int64, copy=False)
            self._found[key] = (unique, inverse, run_starts(inverse, len(unique[0])))
            for name, column in zip(key, unique, strict=True):  # for nested calls
                self._by_id[id(column)] = nested = f"{name}[{','.join(key)}]"
                self._columns[nested] = column
                self._level[nested] = key
        unique, inverse, starts = self._found[key]
        out = fn(*unique)
        if not isinstance(out, Var):
            return np.asarray(out)[inverse]
        if starts is None:
            return out[inverse]
        # rows sorted by the key: each pair's gradient is the sum of one run of rows
        return _op(out.value[inverse], (out,), lambda g: (np.add.reduceat(g, starts),))


_SLOPES: dict[str, Callable[[Any, Any], Any]] = {
    "log": lambda u, out: 1.0 / u,
    "log1p": lambda u, out: 1.0 / (1.0 + u),
    "exp": lambda u, out: out,
    "expm1": lambda u, out: out + 1.0,
    "sqrt": lambda u, out: 0.5 / out,
    "abs": lambda u, out: np.sign(u),
}


def tape_ops(distinct: DistinctData | None = None) -> Ops:
    """The :class:`~clvmodels.models.ops.Ops` of taped evaluation: NumPy values, and a
    :class:`Tape` of every operation on a :class:`Var` for :meth:`Tape.gradient`.
    ``distinct`` evaluates ``xp.distinct`` terms once per distinct value combination."""
    unary = {name: _unary(getattr(np, name), slope) for name, slope in _SLOPES.items()}
    return dataclasses.replace(
        numpy_ops,
        name="tape",
        **unary,
        gammaln=_unary(special.gammaln, lambda u, out: special.digamma(u)),
        hyp2f1=_hyp2f1,
        logaddexp=_logaddexp,
        where=_where,
        maximum=_maximum,
        minimum=_minimum,
        ones_like=lambda x: np.ones_like(value(x), dtype=float),
        zeros_like=lambda x: np.zeros_like(value(x), dtype=float),
        subset_apply=_subset_apply,
        distinct=numpy_ops.distinct if distinct is None else distinct,
        sum=_sum,
        max=_max,
        cumsum=_cumsum,
    )


class TapedLikelihood:
    """The weighted log-likelihood of ``data`` in the log-parameters ``θ`` (in the order
    of ``param_names``), taped: the counterpart without compilation of
    :class:`~clvmodels.backends.compiled.CompiledLikelihood`.  The distinct value
    combinations of the data are found once and shared by every evaluation and every
    set of weights."""

    def __init__(
        self,
        log_likelihood: Callable[..., Any],
        param_names: tuple[str, ...],
        data: Mapping[str, np.ndarray],
    ) -> None:
        self._log_likelihood, self._names = log_likelihood, param_names
        self._columns = {k: np.asarray(v, dtype=float) for k, v in data.items()}
        self._xp = tape_ops(DistinctData(self._columns))

    def _total(self, w: np.ndarray, theta: Any) -> Any:
        params = {k: self._xp.exp(theta[i]) for i, k in enumerate(self._names)}
        per_row = self._log_likelihood(**params, **self._columns, xp=self._xp)
        return self._xp.sum(w * per_row)

    def objective(self, w: np.ndarray) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
        """``θ ↦ (Σ w ℓ, ∂/∂θ)`` by one taped evaluation and one backward sweep."""
        weights = np.asarray(w, dtype=float)

        def evaluate(theta: np.ndarray) -> tuple[float, np.ndarray]:
            tape = Tape()
            try:
                leaf = tape.leaf(np.asarray(theta, dtype=float))
                total = self._total(weights, leaf)
                return float(value(total)), tape.gradient(total, leaf)
            finally:  # no Var <-> Tape cycle left: the arrays go now, not at the next GC
                tape.nodes.clear()

        return evaluate

    def value(self, w: np.ndarray) -> Callable[[np.ndarray], float]:
        """``θ ↦ Σ w ℓ`` alone: plain NumPy, nothing recorded."""
        weights = np.asarray(w, dtype=float)
        return lambda theta: float(self._total(weights, np.asarray(theta, dtype=float)))
