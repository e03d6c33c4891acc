"""Seed marketing metrics: the descriptive numbers marketers compute before any model.

Two kinds of function live here:

* **Scalar metrics** (average order value, purchase frequency, simple CLV, CAC,
  retention and churn rates, Net Promoter Score, ...).  They take floats or
  array-likes (broadcast with NumPy rules) and return a ``float`` for scalar input
  and a ``numpy.ndarray`` otherwise.
* **Frame-level metrics** on the canonical per-customer summary frame
  (``customer_id, frequency, recency, T, monetary_value, revenue``), where
  ``frequency`` is the number of *repeat* purchases (orders = frequency + 1),
  ``recency`` the time from first to last purchase, ``T`` the time from first
  purchase to the end of the observation window (both in the data's time unit) and
  ``revenue`` the total spend including the first purchase: :func:`seed_metrics`,
  :func:`rfm_scores` and :func:`segment_values`.

Every invalid argument a user can cause (negative spend, zero customers, a lifespan
<= 0, fewer than two bins, a missing column, NaN) raises
:class:`~clvmodels.errors.DataError` (a ``ValueError``) with a one-line message
naming the argument or column.

References
----------
Farris, P. W., Bendle, N. T., Pfeifer, P. E. & Reibstein, D. J. (2010).
    *Marketing Metrics: The Definitive Guide to Measuring Marketing Performance*,
    2nd ed. Pearson.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using iso-value
    curves for customer base analysis. *Journal of Marketing Research* 42(4), 415-430.
Hughes, A. M. (1994). *Strategic Database Marketing*. Probus.
Reichheld, F. F. (2003). The one number you need to grow. *Harvard Business Review*
    81(12), 46-54.
Skok, D. (2013). SaaS Metrics 2.0 - A guide to measuring and improving what
    matters. *For Entrepreneurs* (blog).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from clvmodels.errors import DataError

__all__ = [
    "RFM_SEGMENTS",
    "average_order_value",
    "churn_rate",
    "clv_minus_cac",
    "customer_acquisition_cost",
    "customer_retention_rate",
    "customer_value",
    "ltv_to_cac",
    "max_cost_per_click",
    "net_promoter_score",
    "purchase_frequency",
    "repeat_purchase_rate",
    "rfm_scores",
    "seed_metrics",
    "segment_values",
    "simple_clv",
]

#: RFM segment labels, from lowest to highest RFM score.
RFM_SEGMENTS: tuple[str, str, str] = ("low", "middle", "top")

FloatOrArray = float | np.ndarray


# --------------------------------------------------------------------------- helpers


def _first(values: np.ndarray, mask: np.ndarray) -> float:
    """First element of ``values`` where ``mask`` holds (for error messages)."""
    return float(np.broadcast_to(values, mask.shape)[mask].flat[0])


def _numbers(
    value: npt.ArrayLike,
    name: str,
    *,
    minimum: float | None = None,
    strict: bool = False,
    maximum: float | None = None,
) -> np.ndarray:
    """``value`` as a finite float array, checked against ``[minimum, maximum]``.

    ``strict=True`` makes the lower bound exclusive (``> minimum``).
    """
    if isinstance(value, bool | np.bool_):
        raise DataError(f"{name} must be a number; got {value!r}")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be numeric; got {value!r:.60}") from None
    if array.size == 0:
        raise DataError(f"{name} is empty")
    if np.isnan(array).any():
        raise DataError(f"{name} contains NaN")
    if np.isinf(array).any():
        raise DataError(f"{name} must be finite; got {_first(array, np.isinf(array))}")
    if minimum is not None:
        bad = array <= minimum if strict else array < minimum
        if bad.any():
            relation = ">" if strict else ">="
            raise DataError(f"{name} must be {relation} {minimum:g}; got {_first(array, bad):g}")
    if maximum is not None and (array > maximum).any():
        raise DataError(f"{name} must be <= {maximum:g}; got {_first(array, array > maximum):g}")
    return array


def _broadcast(**arrays: np.ndarray) -> None:
    """Raise :class:`DataError` if the arrays cannot be broadcast together."""
    try:
        np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{name} {a.shape}" for name, a in arrays.items())
        raise DataError(f"arguments have incompatible shapes: {shapes}") from None


def _result(value: np.ndarray) -> FloatOrArray:
    """A Python float for 0-d results, the array otherwise."""
    return float(value) if np.ndim(value) == 0 else value


def _series(values: npt.ArrayLike | pd.Series, name: str) -> pd.Series:
    """A non-empty, NaN-free numeric (not boolean) 1-D sequence as a float Series."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.ravel(values))
    if series.empty:
        raise DataError(f"{name} is empty: there are no customers")
    if series.isna().any():
        raise DataError(f"{name} contains NaN")
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        raise DataError(f"{name} must be numeric; got dtype {series.dtype}")
    return series.astype(float)


def _whole(series: pd.Series, name: str) -> None:
    """Raise :class:`DataError` unless every value is a whole number."""
    fractional = series.to_numpy() % 1 != 0
    if fractional.any():
        raise DataError(
            f"{name} must contain whole numbers; got {series.to_numpy()[fractional][0]:g}"
        )


# ------------------------------------------------------------------- scalar metrics


def average_order_value(revenue: npt.ArrayLike, orders: npt.ArrayLike) -> FloatOrArray:
    """Average order value (AOV): revenue per order.

    .. math:: \\mathrm{AOV} = \\frac{\\text{revenue}}{\\text{orders}}

    Definition: Farris et al. (2010), *Marketing Metrics*, average order value.

    Parameters
    ----------
    revenue
        Total revenue (>= 0) of the orders.
    orders
        Number of orders (> 0).

    Returns
    -------
    float or numpy.ndarray
        Revenue per order, in the currency of ``revenue``.

    Raises
    ------
    DataError
        If ``revenue`` is negative or ``orders`` is not positive.
    """
    revenue_ = _numbers(revenue, "revenue", minimum=0.0)
    orders_ = _numbers(orders, "orders", minimum=0.0, strict=True)
    _broadcast(revenue=revenue_, orders=orders_)
    return _result(revenue_ / orders_)


def purchase_frequency(orders: npt.ArrayLike, customers: npt.ArrayLike) -> FloatOrArray:
    """Purchase frequency: orders per customer over the period the orders cover.

    .. math:: \\mathrm{PF} = \\frac{\\text{orders}}{\\text{customers}}

    Divide by the period length to get a rate per year (see :func:`seed_metrics`).

    Parameters
    ----------
    orders
        Number of orders (>= 0).
    customers
        Number of distinct customers who placed them (> 0).

    Returns
    -------
    float or numpy.ndarray
        Orders per customer.

    Raises
    ------
    DataError
        If ``orders`` is negative or ``customers`` is not positive.
    """
    orders_ = _numbers(orders, "orders", minimum=0.0)
    customers_ = _numbers(customers, "customers", minimum=0.0, strict=True)
    _broadcast(orders=orders_, customers=customers_)
    return _result(orders_ / customers_)


def customer_value(aov: npt.ArrayLike, purchase_frequency: npt.ArrayLike) -> FloatOrArray:
    """Customer value: revenue per customer over the period of the purchase frequency.

    .. math:: \\text{customer value} = \\mathrm{AOV} \\times \\mathrm{PF}

    If ``purchase_frequency`` is per year, the result is customer value per year
    (what :func:`simple_clv` expects).

    Parameters
    ----------
    aov
        Average order value (>= 0), see :func:`average_order_value`.
    purchase_frequency
        Orders per customer (>= 0), see :func:`purchase_frequency`.

    Returns
    -------
    float or numpy.ndarray
        Revenue per customer over the period.

    Raises
    ------
    DataError
        If either argument is negative.
    """
    aov_ = _numbers(aov, "aov", minimum=0.0)
    frequency_ = _numbers(purchase_frequency, "purchase_frequency", minimum=0.0)
    _broadcast(aov=aov_, purchase_frequency=frequency_)
    return _result(aov_ * frequency_)


def simple_clv(customer_value: npt.ArrayLike, lifespan_years: npt.ArrayLike = 3.0) -> FloatOrArray:
    """Simple (historical, undiscounted) customer lifetime value.

    .. math:: \\mathrm{CLV} = \\text{customer value per year} \\times
              \\text{average customer lifespan in years}

    The heuristic CLV of e-commerce guides: no discounting, no margin, no churn
    model.  ``customer_value`` **must be per year** (AOV times purchases per
    customer per year) because ``lifespan_years`` is in years.  The default lifespan
    of 3 years is the usual assumption when the store is too young to measure it.
    For a forecast that accounts for who is still active, use a fitted model.

    Parameters
    ----------
    customer_value
        Revenue per customer per year (>= 0), see :func:`customer_value`.
    lifespan_years
        Average customer lifespan in years (> 0); 3 by default.

    Returns
    -------
    float or numpy.ndarray
        Revenue expected from a customer over the lifespan.

    Raises
    ------
    DataError
        If ``customer_value`` is negative or ``lifespan_years`` is not positive.
    """
    value_ = _numbers(customer_value, "customer_value", minimum=0.0)
    lifespan_ = _numbers(lifespan_years, "lifespan_years", minimum=0.0, strict=True)
    _broadcast(customer_value=value_, lifespan_years=lifespan_)
    return _result(value_ * lifespan_)


def customer_acquisition_cost(
    marketing_spend: npt.ArrayLike, new_customers: npt.ArrayLike
) -> FloatOrArray:
    """Customer acquisition cost (CAC): marketing spend per new customer.

    .. math:: \\mathrm{CAC} = \\frac{\\text{marketing spend}}{\\text{new customers}}

    Definition: Farris et al. (2010), *Marketing Metrics*, average acquisition cost.

    Parameters
    ----------
    marketing_spend
        Sales and marketing spend of the period (>= 0).
    new_customers
        Customers acquired in the same period (> 0).

    Returns
    -------
    float or numpy.ndarray
        Spend per acquired customer.

    Raises
    ------
    DataError
        If ``marketing_spend`` is negative or ``new_customers`` is not positive.
    """
    spend_ = _numbers(marketing_spend, "marketing_spend", minimum=0.0)
    new_ = _numbers(new_customers, "new_customers", minimum=0.0, strict=True)
    _broadcast(marketing_spend=spend_, new_customers=new_)
    return _result(spend_ / new_)


def clv_minus_cac(clv: npt.ArrayLike, cac: npt.ArrayLike) -> FloatOrArray:
    """Net value of an acquired customer: CLV minus acquisition cost.

    .. math:: \\text{net value} = \\mathrm{CLV} - \\mathrm{CAC}

    Negative when acquiring a customer costs more than the customer brings in.

    Parameters
    ----------
    clv
        Customer lifetime value (any finite number; a margin-based CLV may be < 0).
    cac
        Customer acquisition cost (>= 0).

    Returns
    -------
    float or numpy.ndarray
        CLV minus CAC.

    Raises
    ------
    DataError
        If ``cac`` is negative or an argument is not finite.
    """
    clv_ = _numbers(clv, "clv")
    cac_ = _numbers(cac, "cac", minimum=0.0)
    _broadcast(clv=clv_, cac=cac_)
    return _result(clv_ - cac_)


def ltv_to_cac(clv: npt.ArrayLike, cac: npt.ArrayLike) -> FloatOrArray:
    """LTV:CAC ratio: lifetime value earned per unit of acquisition cost.

    .. math:: \\mathrm{LTV{:}CAC} = \\frac{\\mathrm{CLV}}{\\mathrm{CAC}}

    The usual target is 3:1, i.e. a ratio of at least 3 (Skok 2013, "SaaS Metrics
    2.0": LTV > 3 x CAC); below 1 every acquisition loses money.

    Parameters
    ----------
    clv
        Customer lifetime value (any finite number).
    cac
        Customer acquisition cost (> 0).

    Returns
    -------
    float or numpy.ndarray
        CLV divided by CAC.

    Raises
    ------
    DataError
        If ``cac`` is not positive or an argument is not finite.
    """
    clv_ = _numbers(clv, "clv")
    cac_ = _numbers(cac, "cac", minimum=0.0, strict=True)
    _broadcast(clv=clv_, cac=cac_)
    return _result(clv_ / cac_)


def max_cost_per_click(clv: npt.ArrayLike, conversion_rate: npt.ArrayLike) -> FloatOrArray:
    """Break-even (maximum) cost per click for paid search.

    .. math:: \\text{max CPC} = \\mathrm{CLV} \\times \\text{conversion rate}

    A click converts into a customer worth ``clv`` with probability
    ``conversion_rate``, so its expected value is their product; paying more per
    click loses money on average (definition: break-even cost per click).

    Parameters
    ----------
    clv
        Value of a converted customer (any finite number).
    conversion_rate
        Share of clicks that become customers, a fraction in [0, 1] (not percent).

    Returns
    -------
    float or numpy.ndarray
        The most one click is worth.

    Raises
    ------
    DataError
        If ``conversion_rate`` is outside [0, 1] or an argument is not finite.
    """
    clv_ = _numbers(clv, "clv")
    rate_ = _numbers(conversion_rate, "conversion_rate", minimum=0.0, maximum=1.0)
    _broadcast(clv=clv_, conversion_rate=rate_)
    return _result(clv_ * rate_)


def customer_retention_rate(
    customers_end: npt.ArrayLike,
    new_customers: npt.ArrayLike,
    customers_start: npt.ArrayLike,
) -> FloatOrArray:
    """Customer retention rate (CRR) of a period, in percent.

    .. math:: \\mathrm{CRR} = \\frac{E - N}{S} \\times 100

    with ``E`` customers at the end of the period, ``N`` customers acquired during
    it and ``S`` customers at its start; ``E - N`` are the start customers still
    there at the end (definition: Farris et al. 2010, retention rate).

    Parameters
    ----------
    customers_end
        Customers at the end of the period (``E``, >= 0).
    new_customers
        Customers acquired during the period (``N``, 0 <= N <= E).
    customers_start
        Customers at the start of the period (``S``, > 0, >= E - N).

    Returns
    -------
    float or numpy.ndarray
        Retention rate in percent, in [0, 100].

    Raises
    ------
    DataError
        If a count is negative, ``customers_start`` is zero, ``new_customers``
        exceeds ``customers_end`` or ``customers_end - new_customers`` exceeds
        ``customers_start``.
    """
    end = _numbers(customers_end, "customers_end", minimum=0.0)
    new = _numbers(new_customers, "new_customers", minimum=0.0)
    start = _numbers(customers_start, "customers_start", minimum=0.0, strict=True)
    _broadcast(customers_end=end, new_customers=new, customers_start=start)
    retained = end - new
    if (retained < 0).any():
        raise DataError("new_customers must not exceed customers_end")
    if (retained > start).any():
        raise DataError("customers_end - new_customers must not exceed customers_start")
    return _result(retained / start * 100.0)


def churn_rate(customers_start: npt.ArrayLike, customers_lost: npt.ArrayLike) -> FloatOrArray:
    """Churn rate of a period, in percent.

    .. math:: \\text{churn} = \\frac{\\text{customers lost}}{\\text{customers at start}}
              \\times 100

    Only customers present at the start count as lost.  Then
    ``customers_end - new_customers = customers_start - customers_lost``, so with no
    other movements churn = 100 - CRR (:func:`customer_retention_rate`).

    Parameters
    ----------
    customers_start
        Customers at the start of the period (> 0).
    customers_lost
        Of those, customers lost during the period (0 <= lost <= start).

    Returns
    -------
    float or numpy.ndarray
        Churn rate in percent, in [0, 100].

    Raises
    ------
    DataError
        If ``customers_start`` is not positive, ``customers_lost`` is negative or
        exceeds ``customers_start``.
    """
    start = _numbers(customers_start, "customers_start", minimum=0.0, strict=True)
    lost = _numbers(customers_lost, "customers_lost", minimum=0.0)
    _broadcast(customers_start=start, customers_lost=lost)
    if (lost > start).any():
        raise DataError("customers_lost must not exceed customers_start")
    return _result(lost / start * 100.0)


def repeat_purchase_rate(orders_per_customer: npt.ArrayLike | pd.Series) -> float:
    """Repeat purchase rate: the share of customers with two or more orders.

    .. math:: \\mathrm{RPR} = \\frac{\\#\\{i : \\text{orders}_i \\ge 2\\}}{\\#\\text{customers}}

    Returned as a **fraction** in [0, 1], not a percent.

    Parameters
    ----------
    orders_per_customer
        Number of orders of each customer (whole numbers >= 0).  From the summary
        frame this is ``frequency + 1``.

    Returns
    -------
    float
        Fraction of customers who ordered at least twice.

    Raises
    ------
    DataError
        If there are no customers, or a count is NaN, negative or fractional.
    """
    orders = _series(orders_per_customer, "orders_per_customer")
    _numbers(orders.to_numpy(), "orders_per_customer", minimum=0.0)
    _whole(orders, "orders_per_customer")
    return float((orders >= 2).mean())


def net_promoter_score(scores: npt.ArrayLike | pd.Series) -> float:
    """Net Promoter Score (NPS) of 0-10 "would you recommend us?" answers.

    .. math:: \\mathrm{NPS} = 100 \\times \\frac{\\#\\text{promoters} -
              \\#\\text{detractors}}{\\#\\text{answers}}

    Promoters answer 9 or 10, passives 7 or 8, detractors 0 to 6 (Reichheld 2003).

    Parameters
    ----------
    scores
        Survey answers: whole numbers from 0 to 10 (integer-valued floats are
        accepted).

    Returns
    -------
    float
        Percent promoters minus percent detractors, in [-100, 100].

    Raises
    ------
    DataError
        If there are no answers, or an answer is NaN, fractional or outside 0..10.
    """
    answers = _series(scores, "scores")
    _numbers(answers.to_numpy(), "scores", minimum=0.0, maximum=10.0)
    _whole(answers, "scores")
    promoters = (answers >= 9).mean()
    detractors = (answers <= 6).mean()
    return float(100.0 * (promoters - detractors))


# -------------------------------------------------------------- frame-level metrics


def _check_summary(summary: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Validate the summary-frame ``columns`` used by a frame-level metric.

    Returns the numeric columns (all of ``columns`` but ``customer_id``) as floats.
    """
    if not isinstance(summary, pd.DataFrame):
        raise DataError(f"summary must be a pandas DataFrame; got {type(summary).__name__}")
    for column in columns:
        if column not in summary.columns:
            raise DataError(f"summary is missing column {column!r}")
    if summary.empty:
        raise DataError("summary has no rows: there are no customers")
    ids = summary["customer_id"] if "customer_id" in columns else None
    if ids is not None:
        if ids.isna().any():
            raise DataError("column 'customer_id' contains NaN")
        if ids.duplicated().any():
            raise DataError(
                f"column 'customer_id' has duplicate id {ids[ids.duplicated()].iloc[0]!r}"
            )
    values = {}
    for column in columns:
        if column == "customer_id":
            continue
        series = summary[column]
        if series.isna().any():
            raise DataError(f"column {column!r} contains NaN")
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            raise DataError(f"column {column!r} must be numeric; got dtype {series.dtype}")
        values[column] = _numbers(series.to_numpy(), f"column {column!r}", minimum=0.0)
    if "frequency" in values:
        _whole(pd.Series(values["frequency"]), "column 'frequency'")
    if "recency" in values and "T" in values:
        late = values["recency"] > values["T"]
        if late.any():
            raise DataError(f"column 'recency' exceeds column 'T' for {int(late.sum())} customers")
    return pd.DataFrame(values, index=summary.index)


def seed_metrics(
    summary: pd.DataFrame, *, window_years: float, lifespan_years: float = 3.0
) -> pd.Series:
    """The seed metrics of a customer base, from the per-customer summary frame.

    With ``n`` customers, ``orders = sum(frequency + 1)`` (the first purchase plus
    the repeat purchases) and ``revenue = sum(revenue)``:

    ======================================  ==============================================
    ``customers``                           ``n``, the number of rows
    ``orders``                              ``sum(frequency + 1)``
    ``revenue``                             ``sum(revenue)`` (includes first purchases)
    ``average_order_value``                 ``revenue / orders``
    ``purchase_frequency``                  ``orders / customers``, over the whole window
    ``purchase_frequency_per_year``         ``purchase_frequency / window_years``
    ``customer_value_per_year``             ``average_order_value *
                                            purchase_frequency_per_year``
    ``simple_clv``                          ``customer_value_per_year * lifespan_years``
    ``repeat_purchase_rate``                fraction of customers with ``frequency >= 1``
                                            (two or more orders)
    ======================================  ==============================================

    See the scalar functions of the same names for definitions and sources.  The
    frequency per year assumes customers were observed for the whole window; for a
    store whose customers joined throughout the window it understates their yearly
    rate (a fitted model handles unequal ``T``).

    Parameters
    ----------
    summary
        Per-customer summary frame; uses ``customer_id``, ``frequency`` and
        ``revenue``.
    window_years
        Length of the observation window in years (> 0), e.g. ``1.5`` for 18 months.
    lifespan_years
        Average customer lifespan in years (> 0) for :func:`simple_clv`; 3 by default.

    Returns
    -------
    pandas.Series
        The metrics above, indexed by name, all as float64 (``customers`` and
        ``orders`` are whole numbers).

    Raises
    ------
    DataError
        If a column is missing, NaN, negative or (``frequency``) fractional, the frame
        is empty, ids repeat, or ``window_years`` / ``lifespan_years`` is not positive.
    """
    window = float(_numbers(window_years, "window_years", minimum=0.0, strict=True))
    lifespan = float(_numbers(lifespan_years, "lifespan_years", minimum=0.0, strict=True))
    values = _check_summary(summary, ["customer_id", "frequency", "revenue"])
    orders_per_customer = values["frequency"] + 1.0
    customers = float(len(values))
    orders = float(orders_per_customer.sum())
    revenue = float(values["revenue"].sum())
    aov = average_order_value(revenue, orders)
    frequency = purchase_frequency(orders, customers)
    frequency_per_year = frequency / window
    value_per_year = customer_value(aov, frequency_per_year)
    metrics = {
        "customers": customers,
        "orders": orders,
        "revenue": revenue,
        "average_order_value": aov,
        "purchase_frequency": frequency,
        "purchase_frequency_per_year": frequency_per_year,
        "customer_value_per_year": value_per_year,
        "simple_clv": simple_clv(value_per_year, lifespan),
        "repeat_purchase_rate": repeat_purchase_rate(orders_per_customer),
    }
    return pd.Series(metrics, dtype="float64", name="seed_metrics")


def _range_scores(values: np.ndarray, bins: int) -> np.ndarray:
    """Scores 1..bins from equal-width parts of [min, max]; a boundary value scores higher."""
    low, high = values.min(), values.max()
    if low == high:
        return np.full(values.shape, bins // 2 + 1, dtype=np.int64)
    inner_edges = np.linspace(low, high, bins + 1)[1:-1]
    return np.searchsorted(inner_edges, values, side="right").astype(np.int64) + 1


def _quantile_scores(values: np.ndarray, bins: int) -> np.ndarray:
    """Scores 1..bins from the mid-rank percentile ``(rank - 1/2) / n`` (ties share a rank)."""
    n = values.size
    ranks = pd.Series(values).rank(method="average").to_numpy()
    # (rank - 1/2) / n * bins, floored, in exact integer arithmetic: 2 * rank is whole.
    twice_rank = np.rint(2.0 * ranks).astype(np.int64)
    return (twice_rank - 1) * bins // (2 * n) + 1


def _segments(rfm_score: np.ndarray, bins: int) -> pd.Categorical:
    """Cut the possible RFM score range [3, 3 * bins] into three equal parts."""
    # Width of each part: (3 * bins - 3) / 3 = bins - 1.
    middle_from, top_from = 3 + (bins - 1), 3 + 2 * (bins - 1)
    codes = (rfm_score >= middle_from).astype(np.int64) + (rfm_score >= top_from)
    return pd.Categorical.from_codes(codes, categories=list(RFM_SEGMENTS), ordered=True)


def rfm_scores(
    summary: pd.DataFrame,
    *,
    method: Literal["range", "quantile"] = "range",
    bins: int = 3,
) -> pd.DataFrame:
    """Recency, frequency and monetary (RFM) scores and segments of every customer.

    RFM scoring after Hughes (1994); the recency/frequency/monetary variables are
    read off the summary frame as in Fader, Hardie & Lee (2005):

    * **R** scores the time since the last purchase, ``T - recency``: the most
      recent buyers (smallest gap) get the highest score;
    * **F** scores ``frequency`` (repeat purchases): most frequent scores highest;
    * **M** scores the average order value ``revenue / (frequency + 1)`` (all orders,
      including the first, unlike ``monetary_value`` which averages repeat orders
      only): highest spend scores highest.

    Each variable is scored 1..``bins``:

    ``method="range"``
        Cut the variable's [min, max] into ``bins`` equal-width parts, scored 1 (the
        worst part) to ``bins``.  Each part includes its lower edge, so a value on a
        boundary gets the higher score; the best value always scores ``bins``.  A
        constant variable (including a single customer) gives every customer the
        middle score ``bins // 2 + 1`` (2 for ``bins=3``).
    ``method="quantile"``
        Rank the customers from worst to best, tied values sharing their average
        rank, and score each by the quantile bin of its mid-rank percentile:
        ``score = floor((rank - 1/2) / n * bins) + 1``.  Without ties each bin holds
        ``n / bins`` customers, rounded up or down (7 customers in 3 bins: 2, 3, 2);
        tied customers always share a score, so bins can be unequal, and the result
        never depends on row order.  A constant variable (including a
        single customer) gives every customer ``bins // 2 + 1``, as above.

    ``rfm_score = r_score + f_score + m_score`` lies in [3, 3 * bins].  That range is
    split into three equal parts of width ``bins - 1``: ``rfm_score < bins + 2`` is
    ``"low"``, ``bins + 2 <= rfm_score < 2 * bins + 1`` is ``"middle"`` and
    ``rfm_score >= 2 * bins + 1`` is ``"top"``.  For ``bins=3``: 3-4 low, 5-6 middle,
    7-9 top; for ``bins=5``: 3-6 low, 7-10 middle, 11-15 top.

    Parameters
    ----------
    summary
        Per-customer summary frame; uses ``customer_id``, ``frequency``, ``recency``,
        ``T`` and ``revenue``.
    method
        ``"range"`` (equal-width) or ``"quantile"`` (equal-count) bins.
    bins
        Number of score levels per variable (an integer >= 2); 3 by default.

    Returns
    -------
    pandas.DataFrame
        On the index of ``summary``: ``customer_id``, ``r_score``, ``f_score``,
        ``m_score``, ``rfm_score`` (int64) and ``rfm_segment`` (ordered categorical
        ``"low" < "middle" < "top"``).

    Raises
    ------
    DataError
        If ``method`` is unknown, ``bins`` is not an integer >= 2, or a column is
        missing, NaN, negative or inconsistent (``recency > T``, fractional
        ``frequency``, duplicate ``customer_id``).
    """
    if method not in ("range", "quantile"):
        raise DataError(f"method must be 'range' or 'quantile'; got {method!r}")
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer):
        raise DataError(f"bins must be an integer; got {bins!r}")
    if bins < 2:
        raise DataError(f"bins must be >= 2; got {bins}")
    bins = int(bins)
    values = _check_summary(summary, ["customer_id", "frequency", "recency", "T", "revenue"])
    frequency = values["frequency"].to_numpy()
    # Higher is better for all three, so R uses minus the time since the last purchase.
    variables = {
        "r_score": values["recency"].to_numpy() - values["T"].to_numpy(),
        "f_score": frequency,
        "m_score": values["revenue"].to_numpy() / (frequency + 1.0),
    }
    score = _range_scores if method == "range" else _quantile_scores
    scores = {name: score(variable, bins) for name, variable in variables.items()}
    rfm_score = scores["r_score"] + scores["f_score"] + scores["m_score"]
    return pd.DataFrame(
        {
            "customer_id": summary["customer_id"],
            **scores,
            "rfm_score": rfm_score,
            "rfm_segment": _segments(rfm_score, bins),
        },
        index=summary.index,
    )


def segment_values(summary_with_rfm: pd.DataFrame, value_column: str) -> pd.DataFrame:
    """Customers and the mean and total of a value per RFM segment.

    For each segment ``s`` of ``"low"``, ``"middle"``, ``"top"``: the number of
    customers in ``s``, and the mean and sum of ``value_column`` over them.  A
    segment without customers is kept with 0 customers, total 0 and mean NaN.

    Parameters
    ----------
    summary_with_rfm
        A frame with an ``rfm_segment`` column (from :func:`rfm_scores`, e.g.
        ``summary.join(rfm_scores(summary).drop(columns="customer_id"))``) and the
        value column.
    value_column
        Numeric column to summarise, e.g. ``"revenue"`` or a predicted CLV.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``rfm_segment`` (``low``, ``middle``, ``top``) with columns
        ``customers`` (int64), ``mean_<value_column>`` and ``total_<value_column>``.

    Raises
    ------
    DataError
        If a column is missing, the value column is not numeric or contains NaN, or
        ``rfm_segment`` holds an unknown label.
    """
    if not isinstance(summary_with_rfm, pd.DataFrame):
        raise DataError(
            f"summary_with_rfm must be a pandas DataFrame; got {type(summary_with_rfm).__name__}"
        )
    for column in ("rfm_segment", value_column):
        if column not in summary_with_rfm.columns:
            raise DataError(f"summary_with_rfm is missing column {column!r}")
    value = summary_with_rfm[value_column]
    if pd.api.types.is_bool_dtype(value) or not pd.api.types.is_numeric_dtype(value):
        raise DataError(f"column {value_column!r} must be numeric; got dtype {value.dtype}")
    if value.isna().any():
        raise DataError(f"column {value_column!r} contains NaN")
    labels = summary_with_rfm["rfm_segment"]
    unknown = ~labels.isin(RFM_SEGMENTS)
    if unknown.any():
        raise DataError(
            f"column 'rfm_segment' has unknown label {labels[unknown].iloc[0]!r}; "
            f"expected one of {', '.join(RFM_SEGMENTS)}"
        )
    segment = pd.Categorical(labels, categories=list(RFM_SEGMENTS), ordered=True)
    grouped = value.astype(float).groupby(segment, observed=False)
    table = pd.DataFrame(
        {
            "customers": grouped.size().astype(np.int64),
            f"mean_{value_column}": grouped.mean(),
            f"total_{value_column}": grouped.sum(),
        }
    )
    table.index.name = "rfm_segment"
    return table
