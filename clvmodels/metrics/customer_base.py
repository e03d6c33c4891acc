"""Frame-level seed metrics on the canonical per-customer summary frame
(``customer_id, frequency, recency, T, monetary_value, revenue``): the seed metrics of a
customer base, RFM scores and segments, and value per segment.  References: see
:mod:`clvmodels.metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from clvmodels.errors import DataError
from clvmodels.metrics._checks import numbers, whole
from clvmodels.metrics.scalar import (
    average_order_value,
    customer_value,
    purchase_frequency,
    repeat_purchase_rate,
    simple_clv,
)

#: RFM segment labels, from lowest to highest RFM score.
RFM_SEGMENTS: tuple[str, str, str] = ("low", "middle", "top")

#: Summary columns that may be negative: a customer's revenue is net of the refunds
#: (``data.nonpositive``: ``net_across_days`` or ``keep``) and may be below zero.
SIGNED_COLUMNS = ("revenue",)


def _strictly_increasing(ids: pd.Series) -> bool:
    """Whether ``ids`` rise from row to row (so no id repeats): a summary's ids do, and
    this is an order of magnitude cheaper than hashing them all."""
    values = ids.to_numpy()
    return ids.is_monotonic_increasing and bool((values[1:] != values[:-1]).all())


def _check_summary(summary: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Validate the summary-frame ``columns`` used by a frame-level metric.

    Returns the numeric columns (all of ``columns`` but ``customer_id``) as floats; only
    those of :data:`SIGNED_COLUMNS` may be negative.
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
        if not _strictly_increasing(ids) and ids.duplicated().any():
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
        minimum = None if column in SIGNED_COLUMNS else 0.0
        values[column] = numbers(series.to_numpy(), f"column {column!r}", minimum=minimum)
    if "frequency" in values:
        whole(pd.Series(values["frequency"]), "column 'frequency'")
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
        If a column is missing, NaN, negative (``revenue`` may be, per customer, but not
        in total) or (``frequency``) fractional, the frame is empty, ids repeat, or
        ``window_years`` / ``lifespan_years`` is not positive.
    """
    window = float(numbers(window_years, "window_years", minimum=0.0, strict=True))
    lifespan = float(numbers(lifespan_years, "lifespan_years", minimum=0.0, strict=True))
    values = _check_summary(summary, ["customer_id", "frequency", "revenue"])
    orders_per_customer = values["frequency"] + 1.0
    repeat_purchase_rate(orders_per_customer)  # checks the counts
    return seed_metrics_from_totals(
        float(len(values)),
        float(orders_per_customer.sum()),
        float(values["revenue"].sum()),
        float((orders_per_customer >= 2).sum()),
        window_years=window,
        lifespan_years=lifespan,
    )


def seed_metrics_from_totals(
    customers: float,
    orders: float,
    revenue: float,
    repeat_customers: float,
    *,
    window_years: float,
    lifespan_years: float = 3.0,
) -> pd.Series:
    """:func:`seed_metrics` from the totals of a customer base (e.g. summed by Spark).

    Parameters
    ----------
    customers, orders, revenue
        Number of customers, of orders (``sum(frequency + 1)``) and total revenue.
    repeat_customers
        Customers with two or more orders (``frequency >= 1``).
    window_years, lifespan_years
        As for :func:`seed_metrics`.
    """
    window = float(numbers(window_years, "window_years", minimum=0.0, strict=True))
    lifespan = float(numbers(lifespan_years, "lifespan_years", minimum=0.0, strict=True))
    customers, orders, revenue = float(customers), float(orders), float(revenue)
    if revenue < 0:
        raise DataError(
            f"the customers' total revenue is {revenue:,.2f}: their refunds exceed their "
            "purchases, and the seed metrics need a total of at least 0"
        )
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
        "repeat_purchase_rate": float(repeat_customers) / customers,
    }
    return pd.Series(metrics, dtype="float64", name="seed_metrics")


def _range_scores(values: np.ndarray, bins: int) -> np.ndarray:
    """Scores 1..bins from equal-width parts of [min, max]; a boundary value scores higher."""
    low, high = values.min(), values.max()
    if low == high:
        return np.full(values.shape, bins // 2 + 1, dtype=np.int64)
    inner_edges = np.linspace(low, high, bins + 1)[1:-1]
    return np.searchsorted(inner_edges, values, side="right").astype(np.int64) + 1


def _quantile_scores(
    values: np.ndarray, bins: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Scores 1..bins from the mid-rank percentile ``(rank - 1/2) / n`` (ties share a rank);
    with ``weights`` (customers per row of a compressed summary) the weighted one, the
    weight below a value plus half its own over the total (the same for unit weights)."""
    if weights is not None:
        share = _midrank_share(values, weights)
        return np.minimum(np.floor(share * bins).astype(np.int64), bins - 1) + 1
    n = values.size
    ranks = pd.Series(values).rank(method="average").to_numpy()
    # (rank - 1/2) / n * bins, floored, in exact integer arithmetic: 2 * rank is whole.
    twice_rank = np.rint(2.0 * ranks).astype(np.int64)
    return (twice_rank - 1) * bins // (2 * n) + 1


def _midrank_share(values: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Each value's mid-rank percentile: the weight of the smaller values plus half of
    its own (ties together), over the total; ``(rank - 1/2) / n`` for unit weights."""
    if weights is None:
        return (pd.Series(values).rank(method="average").to_numpy() - 0.5) / values.size
    distinct, at = np.unique(values, return_inverse=True)
    own = np.bincount(at, weights=weights, minlength=len(distinct))
    return ((np.cumsum(own) - own / 2.0) / own.sum())[at]


def _weights(summary: pd.DataFrame) -> np.ndarray | None:
    """Customers per row of a compressed summary (its ``count`` column), else ``None``."""
    return summary["count"].to_numpy(float) if "count" in summary.columns else None


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
        missing, NaN, negative (``revenue`` may be) or inconsistent (``recency > T``,
        fractional ``frequency``, duplicate ``customer_id``).
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
    weights = _weights(summary)
    if method == "range":
        scores = {name: _range_scores(v, bins) for name, v in variables.items()}
    else:
        scores = {name: _quantile_scores(v, bins, weights) for name, v in variables.items()}
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


#: Ways to cut the customers into the RFM segments (:func:`rfm_segments`).
SEGMENT_METHODS = ("quantile", "equal_width")


def rfm_segments(
    summary: pd.DataFrame,
    *,
    method: Literal["quantile", "equal_width"] = "quantile",
    bins: int = 3,
) -> pd.DataFrame:
    """RFM scores and three segments (``low``, ``middle``, ``top``) of usable size.

    ``method="equal_width"``
        The seed's own method: :func:`rfm_scores` with ``method="range"`` (equal-width
        parts of each variable, segments by equal-width parts of the score range).  On a
        skewed base it leaves few customers on top: 4 of 2,357 on CDNOW.
    ``method="quantile"`` (default)
        Scores by :func:`rfm_scores` with ``method="quantile"``, then the customers
        ranked by ``rfm_score`` and cut into thirds of equal count.  The integer score
        ties heavily (60 % of CDNOW bought once and share F = 1), so within a score the
        rank breaks ties by the sum of the three mid-rank percentiles ``(rank - 1/2) / n``
        of the R, F and M variables (a continuous RFM score).  Customers equal on both
        share their average rank and so a segment; the segment is the tercile of that
        mid-rank percentile, ``floor((rank - 1/2) / n * 3)``.  Thirds hold ``n / 3``
        customers each up to such ties, a higher ``rfm_score`` never falls in a lower
        segment, and identical customers are all ``middle``.  A compressed summary (a
        ``count`` column: customers per row) is ranked and cut by its customers, not its
        rows, so it gets the segments of the customers it stands for.

    Parameters
    ----------
    summary
        Per-customer summary frame (as :func:`rfm_scores`).
    method
        ``"quantile"`` or ``"equal_width"``.
    bins
        Score levels per variable (an integer >= 2), as :func:`rfm_scores`.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`rfm_scores`, on the index of ``summary``.

    Raises
    ------
    DataError
        An unknown ``method``, or what :func:`rfm_scores` raises.
    """
    if method not in SEGMENT_METHODS:
        raise DataError(f"method must be one of {', '.join(SEGMENT_METHODS)}; got {method!r}")
    if method == "equal_width":
        return rfm_scores(summary, method="range", bins=bins)
    table = rfm_scores(summary, method="quantile", bins=bins)
    values = _check_summary(summary, ["frequency", "recency", "T", "revenue"])
    frequency = values["frequency"].to_numpy()
    variables = (
        values["recency"].to_numpy() - values["T"].to_numpy(),
        frequency,
        values["revenue"].to_numpy() / (frequency + 1.0),
    )
    weights = _weights(summary)
    percentiles = sum(_midrank_share(np.asarray(v, float), weights) for v in variables)
    # rfm_score first; the percentile sum lies in (0, 3), so / 4 stays below the next score
    key = table["rfm_score"].to_numpy() + percentiles / 4.0
    codes = _quantile_scores(key, len(RFM_SEGMENTS), weights) - 1
    segment = pd.Categorical.from_codes(codes, categories=list(RFM_SEGMENTS), ordered=True)
    return table.assign(rfm_segment=pd.Series(segment, index=table.index))
