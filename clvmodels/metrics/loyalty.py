"""Seed metrics of loyalty and breadth of purchase: the customer loyalty index (CLI, from
three survey answers) and the upsell ratio (customers buying more than one kind of product
per single-product customer).  References: see :mod:`clvmodels.metrics`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from clvmodels.errors import DataError
from clvmodels.metrics._checks import numbers, series, whole

LOYALTY_SCALE = (1, 6)
"""The answers of the customer loyalty index: whole numbers on a 6-point scale."""


def customer_loyalty_index(
    recommend: npt.ArrayLike | pd.Series,
    buy_again: npt.ArrayLike | pd.Series,
    try_other: npt.ArrayLike | pd.Series,
) -> float:
    """Customer loyalty index (CLI): the mean loyalty of the respondents of a survey.

    .. math:: \\mathrm{CLI} = \\frac{1}{n} \\sum_{i=1}^{n} \\frac{1}{|A_i|}
              \\sum_{q \\in A_i} s_{iq}

    Each respondent ``i`` answers three questions on a 6-point scale (1 = not at all
    likely, 6 = very likely): would recommend us, would buy again, would try our other
    products.  A respondent's loyalty is the mean of their answers ``s_iq`` over the
    questions ``A_i`` they answered; the CLI is the mean over the ``n`` respondents who
    answered at least one.  This is the customer loyalty index of the e-commerce seed
    metrics (an unweighted mean; the "would recommend" question is the one of the NPS,
    Reichheld 2003, here on a 6-point scale).

    **Missing answers** (NaN or None) drop that item only: a respondent who answered two
    questions counts with the mean of those two, and one who answered none is left
    out.  Dropping whole respondents would discard the answers they did give.

    Parameters
    ----------
    recommend, buy_again, try_other
        One answer per respondent, in the same order and of the same length: whole
        numbers from 1 to 6 (integer-valued floats are accepted), NaN for no answer.

    Returns
    -------
    float
        The index, in [1, 6].

    Raises
    ------
    DataError
        Naming the argument: lengths differ, an answer is not a whole number in 1..6, or
        no respondent answered anything.
    """
    named = {"recommend": recommend, "buy_again": buy_again, "try_other": try_other}
    columns = {name: _answers(values, name) for name, values in named.items()}
    lengths = {name: len(a) for name, a in columns.items()}
    if len(set(lengths.values())) > 1:
        sizes = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise DataError(f"the three answers need one value per respondent each; got {sizes}")
    table = np.column_stack(list(columns.values()))
    answered = ~np.isnan(table)
    per_respondent = answered.sum(axis=1)
    if not per_respondent.any():
        raise DataError("recommend, buy_again, try_other: no respondent answered any question")
    keep = per_respondent > 0
    loyalty = np.nansum(table[keep], axis=1) / per_respondent[keep]
    return float(loyalty.mean())


def _answers(values: npt.ArrayLike | pd.Series, name: str) -> np.ndarray:
    """Answers on the 6-point scale as floats (NaN: no answer); DataError naming ``name``
    for a non-number, a fraction or a value outside 1..6."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.ravel(values))
    if series.empty:
        raise DataError(f"{name} is empty: there are no respondents")
    if pd.api.types.is_bool_dtype(series):
        raise DataError(f"{name} must hold whole numbers 1..6; got dtype bool")
    numeric = pd.to_numeric(series, errors="coerce")
    bad_text = numeric.isna() & series.notna()
    if bad_text.any():
        raise DataError(f"{name} must hold whole numbers 1..6; got {series[bad_text].iloc[0]!r}")
    array = numeric.to_numpy(dtype=float)
    given = array[~np.isnan(array)]
    low, high = LOYALTY_SCALE
    outside = (given % 1 != 0) | (given < low) | (given > high)
    if outside.any():
        raise DataError(f"{name} must hold whole numbers {low}..{high}; got {given[outside][0]:g}")
    return array


def upsell_ratio(products_per_customer: npt.ArrayLike | pd.Series) -> float:
    """Upsell ratio: customers who bought more than one kind of product per customer who
    bought exactly one kind.

    .. math:: \\text{upsell ratio} = \\frac{\\#\\{i : k_i \\ge 2\\}}{\\#\\{i : k_i = 1\\}}

    with ``k_i`` the number of distinct products customer ``i`` bought (in a run: in the
    calibration window, :mod:`clvmodels.data.summary`).  Customers with ``k_i = 0`` (no
    product recorded) count in neither.  A ratio of 0.5 means one multi-product customer
    for every two single-product ones; above 1, multi-product customers are the majority.

    Parameters
    ----------
    products_per_customer
        Distinct products bought by each customer (whole numbers >= 0).

    Returns
    -------
    float
        The ratio, >= 0.

    Raises
    ------
    DataError
        If there are no customers, a count is NaN, negative or fractional, or no customer
        bought exactly one kind (the ratio is then undefined; it is not reported as
        infinite).
    """
    counts = series(products_per_customer, "products_per_customer")
    numbers(counts.to_numpy(), "products_per_customer", minimum=0.0)
    whole(counts, "products_per_customer")
    single = int((counts == 1).sum())
    if single == 0:
        raise DataError(
            "products_per_customer: no customer bought exactly one kind of product, so the "
            "upsell ratio (multi-product / single-product customers) is undefined"
        )
    return float((counts >= 2).sum() / single)
