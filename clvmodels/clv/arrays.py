"""Per-customer quantities as arrays: P(alive), expected purchases, DERT, spend per order.

Every function here takes 1-d data columns and parameters that are scalars (point
estimates) or ``(draws, 1)`` arrays (a batch of parameter draws) and broadcasts, so the
same code gives point values and values over posterior or parametric draws
(:mod:`clvmodels.clv.draws`).  CLV of a non-contractual customer follows Fader, Hardie &
Lee (2005, "RFM and CLV: using iso-value curves for customer base analysis", JMR 42(4),
eq. 1): ``CLV = margin × E[spend per order] × DERT``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.backends.compress import factorize_rows
from clvmodels.clv.settings import ValueSettings
from clvmodels.errors import DataError
from clvmodels.estimators import Estimator
from clvmodels.estimators.patterns import Patterns, at_patterns
from clvmodels.models import gamma_gamma, model_info, model_module

PAIR_CELLS = 16_384
"""Draws × distinct ``(x, T)`` pairs per evaluation of the DERT integral (which holds
~10-500 quadrature nodes per cell), bounding the memory of a batch of draws."""


def purchase_arrays(
    key: str,
    params: Mapping[str, Any],
    data: Mapping[str, np.ndarray],
    settings: ValueSettings,
    *,
    with_dert: bool = True,
) -> dict[str, np.ndarray]:
    """P(alive), expected purchases over the horizon and DERT of every customer
    (``with_dert=False``: the first two only, e.g. to score a holdout, sparing the
    numerical integral of DERT).

    ``expected_purchases`` is undiscounted over ``settings.horizon``, or over one year of
    time units when the horizon is the whole lifetime (a lifetime count can be
    infinite without discounting).  For the continuous-time models both are
    ``P(alive) ×`` a quantity of an active customer that depends on a few history
    columns only (``x, T`` for the BG/NBD family); that quantity is evaluated once per
    distinct combination, or interpolated along ``T`` where many combinations differ only
    in ``T`` (:func:`smooth_in_time`: within ~1e-10 of the direct evaluation, whose own
    branch switches are about that accurate; ~1e-13 on CDNOW).

    ``data`` holds 1-d columns (``rows``); ``params`` holds scalars, giving arrays of
    shape ``(rows,)``, or arrays of shape ``(draws, 1)``, giving ``(draws, rows)``.
    With covariates or groups, ``data`` has a ``pattern`` column (each row's pattern, an
    integer code) and a parameter may have one value per pattern on its last axis
    (:meth:`PatternLink.params`); the ``(x, T)`` quantities are then evaluated once per
    distinct ``(x, T, pattern)``.
    """
    info = model_info(key)
    if info.discrete:
        return _discrete_arrays(key, params, data, settings, with_dert)
    module = model_module(key)
    history = {c: np.asarray(data[c], dtype=float) for c in info.history}
    if info.active is None:  # a latent-variable model: everything from one pass
        return module.customer_predictions(
            settings.count_horizon,
            **history,
            **params,
            delta=settings.delta,
            horizon=settings.horizon,
            with_dert=with_dert,
        )
    pattern = data.get("pattern")
    alive = module.probability_alive(**history, **at_patterns(params, pattern))
    columns = {c: history[c] for c in info.active}
    if pattern is not None:
        columns["pattern"] = pattern
    group, distinct = factorize_rows(list(columns.values()))
    pairs = dict(zip(columns, distinct, strict=True))

    def per_customer(function: Callable[..., np.ndarray], *args: Any, **kwargs: Any) -> np.ndarray:
        """``alive ×`` a quantity of an active customer, evaluated per distinct pair."""

        def evaluate(rows: dict[str, np.ndarray]) -> np.ndarray:
            at = at_patterns(params, rows.get("pattern"))
            return function(*args, **{c: rows[c] for c in info.active}, **at, **kwargs)

        return alive * smooth_in_time(evaluate, pairs)[..., group]

    expected = per_customer(module.active_expected_purchases, settings.count_horizon)
    if not with_dert:
        return {"p_alive": alive, "expected_purchases": expected}
    dert = per_customer(
        module.discounted_active_purchases, delta=settings.delta, horizon=settings.horizon
    )
    return {"p_alive": alive, "expected_purchases": expected, "dert": dert}


def _discrete_arrays(
    key: str,
    params: Mapping[str, Any],
    data: Mapping[str, np.ndarray],
    settings: ValueSettings,
    with_dert: bool,
) -> dict[str, np.ndarray]:
    """:func:`purchase_arrays` of a discrete-time model (BG/BB: opportunities ``n``,
    discounting per period; Fader, Hardie & Shang 2010)."""
    module = model_module(key)
    x, t_x, n = (np.asarray(data[c], dtype=float) for c in ("frequency", "recency", "n"))
    alive = module.probability_alive(x, t_x, n, **params)
    expected = module.conditional_expected_transactions(settings.count_horizon, x, t_x, n, **params)
    if not with_dert:
        return {"p_alive": alive, "expected_purchases": expected}
    dert = module.dert(
        x, t_x, n, **params, discount=settings.period_discount, horizon=settings.horizon
    )
    return {"p_alive": alive, "expected_purchases": expected, "dert": dert}


def spend_per_order(
    params: Mapping[str, Any] | None, data: Mapping[str, np.ndarray], fallback: float
) -> np.ndarray:
    """Expected spend per future order: the Gamma-Gamma conditional expectation, or
    ``fallback`` (the calibration average order value) without a spend model.

    Customers with repeat purchases whose mean repeat spend is not positive (refunds
    netted to zero or below) are outside the Gamma-Gamma's support; they get the
    population mean spend, as customers without repeat purchases do.  With covariates
    ``data`` has a ``pattern`` column, as for :func:`purchase_arrays`.
    """
    x = np.asarray(data["frequency"], dtype=float)
    if params is None:
        return np.full(len(x), float(fallback))
    q = float(np.min(params["q"]))
    if q <= 1:
        raise DataError(
            f"gamma_gamma: q = {q:.3g} <= 1, so the expected spend per order "
            "is infinite; CLV cannot be computed with this spend model"
        )
    m = np.asarray(data["monetary_value"], dtype=float)
    usable = (x > 0) & (m > 0)
    return gamma_gamma.conditional_expected_average_order_value(
        np.where(usable, x, 0.0),
        np.where(usable, m, 0.0),
        **at_patterns(params, data.get("pattern")),
    )


@dataclass(frozen=True)
class PatternLink:
    """The patterns of some customers under a model whose customers' parameters differ:
    by covariates, or by group in a hierarchical fit (:mod:`clvmodels.estimators.patterns`).

    Attributes
    ----------
    codes
        Each customer's pattern.
    model
        The fitted model.
    patterns
        The patterns (their covariate design columns and groups).
    """

    codes: np.ndarray
    model: Estimator
    patterns: Patterns

    @classmethod
    def of(cls, model: Estimator | None, summary: pd.DataFrame) -> PatternLink | None:
        """The patterns of ``summary``'s customers under ``model`` (``None`` when every
        customer has the same parameters)."""
        if model is None or not model.has_patterns:
            return None
        patterns = model.patterns(summary)
        return cls(patterns.codes, model, patterns)

    def params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters per pattern (last axis) from the fitted parameters or draws of
        them (scalars or ``(draws, 1)`` arrays): a group's ``θ[g]``, covariate links."""
        return self.model.pattern_params(self.patterns, params)


def pattern_inputs(
    model: Estimator, summary: pd.DataFrame, data: Mapping[str, np.ndarray]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A fitted model's parameters and the data columns for :func:`purchase_arrays` or
    :func:`spend_per_order` on ``summary``'s customers: with covariates or groups, the
    parameters per pattern and each row's ``pattern``."""
    link = PatternLink.of(model, summary)
    if link is None:
        return dict(model.params_), dict(data)
    return link.params(dict(model.params_)), {**data, "pattern": link.codes}


def history_values(
    key: str,
    params: Mapping[str, Any],
    spend_params: Mapping[str, Any] | None,
    rows: dict[str, np.ndarray],
    settings: ValueSettings,
    fallback: float,
    links: Mapping[str, PatternLink | None],
) -> dict[str, np.ndarray]:
    """P(alive), expected purchases, DERT, expected spend and CLV of distinct histories
    ``rows`` (:func:`purchase_arrays`, :func:`spend_per_order`; ``links`` the covariate
    patterns of the purchase model, ``"pattern"``, and of the spend model,
    ``"spend_pattern"``)."""
    arrays = purchase_arrays(key, linked(params, links["pattern"]), rows, settings)
    if spend_params is not None:
        spend_params = linked(spend_params, links["spend_pattern"])
    arrays["expected_spend"] = spend_per_order(spend_params, spend_columns(rows), fallback)
    arrays["clv"] = settings.margin * arrays["expected_spend"] * arrays["dert"]
    return arrays


def linked(params: Mapping[str, Any], link: PatternLink | None) -> dict[str, Any]:
    """The parameters per covariate pattern of ``link`` (as they are without one)."""
    return dict(params) if link is None else link.params(params)


def spend_columns(rows: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The spend model's columns of the rows (its covariate pattern as ``pattern``)."""
    out = {c: rows[c] for c in ("frequency", "monetary_value") if c in rows}
    if "spend_pattern" in rows:
        out["pattern"] = rows["spend_pattern"]
    return out


# ---------------------------------------------------------------------------------------
# Quantities of an active customer, interpolated along T
# ---------------------------------------------------------------------------------------

SMOOTH_DEGREE = 12
"""Degree of the Chebyshev interpolant of :func:`smooth_in_time` on each panel of ``T``."""
SMOOTH_TAIL = 1e-11
"""A panel is accepted when its last two Chebyshev coefficients are below this, relative
to the smallest value at its nodes (in every draw)."""
SMOOTH_MIN_PAIRS = 3 * (SMOOTH_DEGREE + 1) // 2
"""A panel is interpolated only when it holds at least this many rows."""
_SMOOTH_SPLITS = 5  # a rejected panel is halved at most this many times


def smooth_in_time(
    evaluate: Callable[[dict[str, np.ndarray]], np.ndarray], pairs: Mapping[str, np.ndarray]
) -> np.ndarray:
    """``evaluate(pairs)`` (shape ``(..., rows)``), with the rows that differ only in ``T``
    taken from a Chebyshev interpolant in ``T`` where that is accurate.

    The discounted purchases of an active customer are analytic in ``T`` (the BG/NBD's
    is an expectation over ``λ ~ Gamma(r+x, α+T)``, analytic for ``T > −α``), and a data
    set whose customers joined over a few weeks holds many ``T`` per frequency (CDNOW:
    84 for ``x = 0``).  For each group of distinct rows equal in every column but ``T``
    (at least :data:`SMOOTH_MIN_PAIRS` of them), the function is evaluated at the
    :data:`SMOOTH_DEGREE` + 1 Chebyshev–Lobatto points of ``[min T, max T]`` (both ends
    included) and the rows are given the barycentric interpolant (Trefethen 2013,
    "Approximation theory and approximation practice", ch. 5), accepted where the last
    two Chebyshev coefficients are below :data:`SMOOTH_TAIL` of the smallest value in
    every draw: the error is about the size of the coefficients left out, which fall
    geometrically for an analytic function (on CDNOW ~13-fold a degree, the last two
    ~1e-12 and ~1e-13: BG/NBD and MBG/NBD DERT within 6e-14 of the direct evaluation,
    one year or lifetime).  A rejected panel (a singularity near the range, a jump, a
    switch between evaluation branches) is halved, up to five times (a kink or jump of
    relative size ~1e-10, the tolerance of the evaluations' own branch switches, can pass
    with an error of that size), while its halves
    hold enough rows; the other rows are evaluated directly, all in one call.  Without
    such groups this is ``evaluate(pairs)``.  The cost on CDNOW: 144 evaluations for
    464 distinct ``(x, T)`` (``tests/test_values_speed.py``).
    """
    t = np.asarray(pairs["T"], dtype=float)
    others = [np.asarray(v) for c, v in pairs.items() if c != "T"]
    group = factorize_rows(others)[0] if others else np.zeros(t.size, dtype=np.int64)
    panels = [rows for rows in _group_rows(group) if _worth(t[rows])]
    if not panels:
        return evaluate(dict(pairs))
    done: list[tuple[np.ndarray, np.ndarray]] = []  # (rows, values (..., len(rows)))
    for split in range(_SMOOTH_SPLITS + 1):
        accepted, rejected = _interpolate_panels(evaluate, pairs, t, panels)
        done += accepted
        panels = [] if split == _SMOOTH_SPLITS else [h for p in rejected for h in _halves(t, p)]
        if not panels:
            break
    interpolated = np.zeros(t.size, dtype=bool)
    for rows, _ in done:
        interpolated[rows] = True
    rest = np.flatnonzero(~interpolated)
    if rest.size:
        done.append((rest, evaluate({c: np.asarray(v)[rest] for c, v in pairs.items()})))
    lead = np.broadcast_shapes(*(v.shape[:-1] for _, v in done))
    out = np.empty((*lead, t.size))
    for rows, v in done:
        out[..., rows] = v
    return out


def _group_rows(group: np.ndarray) -> list[np.ndarray]:
    """The rows of each group."""
    order = np.argsort(group, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(group[order])) + 1)


def _worth(t: np.ndarray) -> bool:
    """Whether a panel of rows with these ``T`` is worth interpolating."""
    return t.size >= SMOOTH_MIN_PAIRS and t.max() > t.min()


def _halves(t: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
    """The two halves of a rejected panel (by ``T``) still worth interpolating."""
    middle = 0.5 * (t[rows].min() + t[rows].max())
    halves = (rows[t[rows] <= middle], rows[t[rows] > middle])
    return [h for h in halves if _worth(t[h])]


@functools.lru_cache(maxsize=4)
def _lobatto(degree: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chebyshev–Lobatto points ``cos(πk/N)`` on ``[−1, 1]``, their barycentric weights
    and the rows giving the last two Chebyshev coefficients (``c_(N−1)``, ``c_N``)."""
    k = np.arange(degree + 1)
    points = np.cos(np.pi * k / degree)
    ends = np.where((k == 0) | (k == degree), 0.5, 1.0)
    weights = (-1.0) ** k * ends
    last = np.array([degree - 1, degree])[:, None]
    coefficients = 2.0 / degree * ends * np.cos(np.pi * last * k / degree)
    coefficients[1] /= 2.0  # c_N is halved, as c_0
    return points, weights, coefficients


def _interpolate_panels(
    evaluate: Callable[[dict[str, np.ndarray]], np.ndarray],
    pairs: Mapping[str, np.ndarray],
    t: np.ndarray,
    panels: list[np.ndarray],
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray]]:
    """Every panel evaluated at its Lobatto points (one call): the accepted panels' rows
    with their interpolated values, and the rejected panels."""
    points, weights, coefficients = _lobatto(SMOOTH_DEGREE)
    lo = np.array([t[rows].min() for rows in panels])
    hi = np.array([t[rows].max() for rows in panels])
    nodes = 0.5 * (lo + hi)[:, None] + 0.5 * (hi - lo)[:, None] * points
    nodes[:, 0], nodes[:, -1] = hi, lo  # the ends exactly
    first = np.array([rows[0] for rows in panels])
    at_nodes = {c: np.repeat(np.asarray(v)[first], points.size) for c, v in pairs.items()}
    at_nodes["T"] = nodes.ravel()
    fitted = evaluate(at_nodes)
    fitted = fitted.reshape(*fitted.shape[:-1], len(panels), points.size)
    tail = np.abs(fitted @ coefficients.T).max(axis=-1)
    floor = SMOOTH_TAIL * np.abs(fitted).min(axis=-1)
    with np.errstate(invalid="ignore"):
        good = np.isfinite(fitted).all(axis=-1) & (tail <= floor)
    good = good.reshape(-1, len(panels)).all(axis=0)
    accepted = [
        (rows, fitted[..., i, :] @ _barycentric(t[rows], lo[i], hi[i], points, weights).T)
        for i, rows in enumerate(panels)
        if good[i]
    ]
    return accepted, [rows for i, rows in enumerate(panels) if not good[i]]


def _barycentric(
    t: np.ndarray, lo: float, hi: float, points: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """The matrix taking values at the Lobatto points of ``[lo, hi]`` to the interpolant
    at ``t`` (second barycentric formula; a row hitting a point takes its value)."""
    x = (2.0 * t - lo - hi) / (hi - lo)
    difference = x[:, None] - points
    hit = difference == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        matrix = weights / difference
        matrix /= matrix.sum(axis=1, keepdims=True)
    exact = hit.any(axis=1)
    matrix[exact] = hit[exact]
    return matrix
