"""How regular are the customers' purchase timings?  A diagnostic before choosing a model.

The NBD, Pareto/NBD and BG/NBD take the times between a customer's purchases to be
exponential (a Poisson process); the BG/CNBD-k, MBG/CNBD-k and Pareto/GGG allow Erlang-k
or Gamma gaps, more regular when the shape k exceeds 1 (Platzer & Reutterer 2016,
"Ticking away the moments: timing regularity helps to better predict customer
activity", Marketing Science 35(5), 779-799).  Two estimates of that shape:

- Wheat & Morrison (1990), "Estimating purchase regularity with two interpurchase
  times", Journal of Marketing Research 27(1), 87-93: when every customer's gaps are
  Gamma(k) with her own rate, the ratio ``M = ITT1 / (ITT1 + ITT2)`` of two consecutive
  gaps does not depend on the rate and is Beta(k, k); ``Var(M) = 1 / (4 (2k + 1))``
  gives the method-of-moments estimate ``k = (1 / (4 Var(M)) - 1) / 2``
  (:func:`wheat_morrison_m`, :func:`wheat_morrison_k`).  It needs only customers with
  two gaps (three purchases).
- A Gamma shape fitted by maximum likelihood to each customer with many gaps, and its
  median across customers (BTYDplus ``estimateRegularity(method = "mle")``;
  :func:`gamma_shapes`).

:func:`estimate_regularity` reads a transaction log through the data layer with the
rules of the summary (:func:`clvmodels.data.summary.pandas_engine.purchase_occasions`)
and returns a :class:`Regularity` with a one-line verdict.  Times are whole days, so
gaps are between distinct purchase days (the zero gaps of same-day purchases without
``merge_same_day`` are skipped, as in the summary's ``litt``).  Only purchases in the
calibration window count (up to ``calibration_end``, else ``observation_end``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
from scipy.special import digamma, polygamma

from clvmodels.data.sources import Source
from clvmodels.data.summary.pandas_engine import purchase_occasions
from clvmodels.data.summary.rules import SummaryOptions
from clvmodels.errors import DataError

REGULAR_K = 1.5
"""The timing is called regular when the lower bound of the interval of k exceeds
this: clearly more regular than exponential gaps (k = 1), by a margin (an Erlang-2 gap
has a coefficient of variation 0.71, exponential 1)."""

IRREGULAR_K = 1.0
"""Below this upper bound the gaps are more irregular (clumpier) than exponential."""

MIN_GAPS = 10
"""Default number of gaps a customer needs for her own Gamma fit (BTYDplus's ``min``)."""


@dataclass(frozen=True)
class GammaShapes:
    """Per-customer maximum-likelihood Gamma shapes (:func:`gamma_shapes`): how many
    customers had ``min_gaps`` gaps or more, and the median and quartiles of their
    shapes (NaN without such customers)."""

    n_customers: int
    median: float
    lower_quartile: float
    upper_quartile: float
    min_gaps: int


@dataclass(frozen=True)
class Regularity:
    """The regularity of purchase timings (:func:`estimate_regularity`).

    Attributes
    ----------
    k : float
        Wheat & Morrison's (1990) estimate of the Erlang/Gamma shape of the gaps.
    k_interval : (float, float)
        Its delta-method interval at ``level`` (:func:`wheat_morrison_k`).
    level : float
        Coverage of ``k_interval``.
    n_customers : int
        Customers with two gaps, whose ``M`` the estimate uses.
    shapes : GammaShapes
        The per-customer Gamma fits of the customers with many gaps.
    regular : bool
        ``k_interval[0] > REGULAR_K``.
    verdict : str
        One line for a report.
    m : numpy.ndarray
        The customers' ``M = ITT1 / (ITT1 + ITT2)``, for :func:`clvmodels.report.plots.
        regularity_plot`.
    """

    k: float
    k_interval: tuple[float, float]
    level: float
    n_customers: int
    shapes: GammaShapes
    regular: bool
    verdict: str
    m: np.ndarray = field(repr=False, compare=False)


def _gaps(customer_ids: Any, times: Any) -> tuple[np.ndarray, np.ndarray]:
    """The positive gaps between each customer's consecutive distinct times, in order,
    and the index of the customer of each (0.. in sorted id order)."""
    ids = np.asarray(customer_ids)
    t = np.asarray(times, dtype="float64")
    if ids.shape != t.shape or t.ndim != 1:
        raise ValueError("customer_ids and times must be 1-d arrays of one length")
    if not np.all(np.isfinite(t)):
        raise ValueError("times must be finite")
    _, codes = np.unique(ids, return_inverse=True)
    order = np.lexsort((t, codes))
    codes, t = codes[order], t[order]
    gap = np.diff(t)
    keep = (codes[1:] == codes[:-1]) & (gap > 0)
    _, group = np.unique(codes[1:][keep], return_inverse=True)
    return gap[keep], group.astype("int64")


def wheat_morrison_m(
    customer_ids: Any, times: Any, *, pair: Literal["first", "last"] = "first"
) -> np.ndarray:
    """``M = ITT1 / (ITT1 + ITT2)`` of every customer with two gaps or more.

    Wheat & Morrison (1990), Journal of Marketing Research 27(1): with Gamma(k) gaps of
    any rate, M ~ Beta(k, k).

    Parameters
    ----------
    customer_ids, times : array-like, 1-d
        One entry per purchase: the customer and the time (any unit; M does not depend
        on it).  Equal times of a customer are one purchase.
    pair : {"first", "last"}
        Which two consecutive gaps: the customer's first two (Wheat & Morrison), or her
        last two (BTYDplus ``estimateRegularity``, whose M is the last gap over the sum
        of the last two).

    Returns
    -------
    numpy.ndarray
        M in (0, 1), one per customer with at least two gaps, in customer order.
    """
    gap, group = _gaps(customer_ids, times)
    if len(gap) == 0:
        return np.empty(0)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    counts = np.diff(np.r_[starts, len(group)])
    ok = counts >= 2
    if pair == "first":
        itt1, itt2 = gap[starts[ok]], gap[starts[ok] + 1]
    elif pair == "last":
        ends = starts[ok] + counts[ok] - 1
        itt1, itt2 = gap[ends], gap[ends - 1]
    else:
        raise ValueError(f"pair: {pair!r} is not 'first' or 'last'")
    return itt1 / (itt1 + itt2)


def wheat_morrison_k(m: Any, *, level: float = 0.95) -> tuple[float, tuple[float, float]]:
    """The shape k of Beta(k, k) from its draws ``m`` by the method of moments.

    Wheat & Morrison (1990): ``Var(M) = 1 / (4 (2k + 1))``, the variance of Beta(k, k),
    so ``k = (1 / (4 V) - 1) / 2`` with ``V`` the sample variance (n - 1).  The interval
    maps the delta-method interval of ``V``, ``V ± z·sqrt((m4 - V²) / n)`` (``m4`` the
    fourth central sample moment), through that decreasing function; its lower end is
    at least 0 (``V`` can reach 1/4 only for M at 0 and 1).

    Raises
    ------
    ValueError
        Fewer than 3 values, or all equal.
    """
    values = np.asarray(m, dtype="float64")
    n = len(values)
    if n < 3:
        raise ValueError(f"need at least 3 values of M, got {n}")
    variance = float(np.var(values, ddof=1))
    if variance <= 0:
        raise ValueError("all values of M are equal: the variance is 0")
    m4 = float(np.mean((values - values.mean()) ** 4))
    se = math.sqrt(max(m4 - variance**2, 0.0) / n)
    z = NormalDist().inv_cdf(0.5 + level / 2)

    def shape(v: float) -> float:
        return (1.0 / (4.0 * v) - 1.0) / 2.0 if v < 0.25 else 0.0

    low_v = max(variance - z * se, 1e-300)
    return shape(variance), (shape(variance + z * se), shape(low_v))


def gamma_shape_mle(log_mean_minus_mean_log: Any, *, iterations: int = 8) -> np.ndarray:
    """The maximum-likelihood Gamma shape from ``s = ln(mean x) - mean(ln x)``.

    Solves ``ln k - ψ(k) = s`` (the score equation of the shape with the scale
    profiled out) from Minka's (2002, "Estimating a Gamma distribution", Microsoft
    Research note) starting value ``(3 - s + sqrt((s - 3)² + 24 s)) / (12 s)`` by his generalised
    Newton steps ``1/k ← 1/k + (ln k - ψ(k) - s) / (k² (1/k - ψ'(k)))``, which converge
    to machine precision in 4-5 steps.  ``s = 0`` (all values equal) gives ``inf``.
    """
    s = np.asarray(log_mean_minus_mean_log, dtype="float64")
    positive = s > 0
    safe = np.where(positive, s, 1.0)
    k = (3.0 - safe + np.sqrt((safe - 3.0) ** 2 + 24.0 * safe)) / (12.0 * safe)
    for _ in range(iterations):
        step = (np.log(k) - digamma(k) - safe) / (k**2 * (1.0 / k - polygamma(1, k)))
        k = 1.0 / (1.0 / k + step)
    return np.where(positive, k, np.inf)


def gamma_shapes(customer_ids: Any, times: Any, *, min_gaps: int = MIN_GAPS) -> np.ndarray:
    """The maximum-likelihood Gamma shape of each customer with ``min_gaps`` gaps or more.

    BTYDplus ``estimateRegularity(method = "mle")``: every such customer's gaps are
    taken as a Gamma sample and its shape fitted (:func:`gamma_shape_mle`).

    Returns
    -------
    numpy.ndarray
        One shape per such customer, in customer order (``inf`` for equal gaps).
    """
    gap, group = _gaps(customer_ids, times)
    if len(gap) == 0:
        return np.empty(0)
    counts = np.bincount(group)
    mean = np.bincount(group, weights=gap) / counts
    mean_log = np.bincount(group, weights=np.log(gap)) / counts
    enough = counts >= min_gaps
    return gamma_shape_mle(np.log(mean[enough]) - mean_log[enough])


def _shapes_summary(shapes: np.ndarray, min_gaps: int) -> GammaShapes:
    if len(shapes) == 0:
        return GammaShapes(0, math.nan, math.nan, math.nan, min_gaps)
    low, mid, high = np.quantile(shapes, [0.25, 0.5, 0.75])
    return GammaShapes(len(shapes), float(mid), float(low), float(high), min_gaps)


def _verdict(k: float, interval: tuple[float, float], n: int, level: float) -> str:
    low, high = interval
    head = (
        f"Wheat-Morrison regularity k = {k:.2f} ({level:.0%} interval {low:.2f}-{high:.2f}, "
        f"{n:,} customers with 3+ purchases): "
    )
    if low > REGULAR_K:
        return head + ("regular purchase timing; consider the BG/CNBD-k, MBG/CNBD-k or Pareto/GGG")
    if high < IRREGULAR_K:
        return head + "timing clumpier than a Poisson process (k < 1)"
    if low > IRREGULAR_K:
        return head + "slightly more regular than a Poisson process; exponential-gap models fit"
    return head + "no more regular than a Poisson process (k = 1); exponential-gap models fit"


def regularity_from_times(
    customer_ids: Any,
    times: Any,
    *,
    level: float = 0.95,
    min_gaps: int = MIN_GAPS,
    pair: Literal["first", "last"] = "first",
) -> Regularity:
    """:class:`Regularity` of purchase ``times`` (one per purchase, any unit) of
    ``customer_ids`` (:func:`wheat_morrison_m`, :func:`wheat_morrison_k`,
    :func:`gamma_shapes`)."""
    m = wheat_morrison_m(customer_ids, times, pair=pair)
    if len(m) < 3:
        raise DataError(
            f"regularity: {len(m)} customers have 3 or more purchases on distinct days; "
            "Wheat & Morrison's estimate needs at least 3"
        )
    k, interval = wheat_morrison_k(m, level=level)
    shapes = _shapes_summary(gamma_shapes(customer_ids, times, min_gaps=min_gaps), min_gaps)
    return Regularity(
        k=k,
        k_interval=interval,
        level=level,
        n_customers=len(m),
        shapes=shapes,
        regular=interval[0] > REGULAR_K,
        verdict=_verdict(k, interval, len(m), level),
        m=m,
    )


def estimate_regularity(
    source: Source,
    *,
    level: float = 0.95,
    min_gaps: int = MIN_GAPS,
    pair: Literal["first", "last"] = "first",
    **summary_options: Any,
) -> Regularity:
    """The regularity of the purchase timings of a transaction log.

    Parameters
    ----------
    source : DataFrame, "builtin:NAME", path or SqlSource
        A transaction log (:mod:`clvmodels.data.sources`).
    level : float
        Coverage of the interval of k.
    min_gaps : int
        Gaps a customer needs for her own Gamma fit (:func:`gamma_shapes`).
    pair : {"first", "last"}
        Which two gaps of a customer make M (:func:`wheat_morrison_m`).
    **summary_options
        The options of :class:`clvmodels.data.SummaryOptions` (``customer_id``,
        ``date``, ``amount``, ``calibration_end``, ``merge_same_day``, ...): the
        purchase occasions are those the summary counts, up to ``calibration_end``
        (else ``observation_end``).  ``time_unit`` does not matter: M and the shapes
        have no unit.

    Returns
    -------
    Regularity

    Raises
    ------
    DataError
        As :func:`clvmodels.data.summarize_transactions`; fewer than 3 customers with
        3 purchases on distinct days.
    """
    options = SummaryOptions.from_keywords("estimate_regularity", summary_options)
    occasions, _, cal = purchase_occasions(source, options)
    window = occasions.loc[occasions["d"] <= cal]
    days = (window["d"] - np.datetime64("1970-01-01")).dt.days.to_numpy(dtype="float64")
    return regularity_from_times(
        window["cid"].to_numpy(), days, level=level, min_gaps=min_gaps, pair=pair
    )
