"""Scalar seed marketing metrics: average order value, purchase frequency, simple CLV,
CAC, LTV:CAC, maximum cost per click, retention and churn rates, repeat-purchase rate,
Net Promoter Score (the loyalty index and upsell ratio: :mod:`clvmodels.metrics.loyalty`).

They take floats or array-likes (broadcast with NumPy rules) and return a ``float`` for
scalar input and a ``numpy.ndarray`` otherwise.  References: see
:mod:`clvmodels.metrics`.
"""

from __future__ import annotations

import numpy.typing as npt
import pandas as pd

from clvmodels.errors import DataError
from clvmodels.metrics._checks import (
    ANY,
    NONNEGATIVE,
    POSITIVE,
    SHARE,
    FloatOrArray,
    checked,
    numbers,
    result,
    series,
    whole,
)


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
    revenue_, orders_ = checked(revenue=(revenue, NONNEGATIVE), orders=(orders, POSITIVE))
    return result(revenue_ / orders_)


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
    orders_, customers_ = checked(orders=(orders, NONNEGATIVE), customers=(customers, POSITIVE))
    return result(orders_ / customers_)


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
    aov_, frequency_ = checked(
        aov=(aov, NONNEGATIVE), purchase_frequency=(purchase_frequency, NONNEGATIVE)
    )
    return result(aov_ * frequency_)


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
    value_, lifespan_ = checked(
        customer_value=(customer_value, NONNEGATIVE), lifespan_years=(lifespan_years, POSITIVE)
    )
    return result(value_ * lifespan_)


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
    spend_, new_ = checked(
        marketing_spend=(marketing_spend, NONNEGATIVE), new_customers=(new_customers, POSITIVE)
    )
    return result(spend_ / new_)


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
    clv_, cac_ = checked(clv=(clv, ANY), cac=(cac, NONNEGATIVE))
    return result(clv_ - cac_)


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
    clv_, cac_ = checked(clv=(clv, ANY), cac=(cac, POSITIVE))
    return result(clv_ / cac_)


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
    clv_, rate_ = checked(clv=(clv, ANY), conversion_rate=(conversion_rate, SHARE))
    return result(clv_ * rate_)


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
    end, new, start = checked(
        customers_end=(customers_end, NONNEGATIVE),
        new_customers=(new_customers, NONNEGATIVE),
        customers_start=(customers_start, POSITIVE),
    )
    retained = end - new
    if (retained < 0).any():
        raise DataError("new_customers must not exceed customers_end")
    if (retained > start).any():
        raise DataError("customers_end - new_customers must not exceed customers_start")
    return result(retained / start * 100.0)


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
    start, lost = checked(
        customers_start=(customers_start, POSITIVE), customers_lost=(customers_lost, NONNEGATIVE)
    )
    if (lost > start).any():
        raise DataError("customers_lost must not exceed customers_start")
    return result(lost / start * 100.0)


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
    orders = series(orders_per_customer, "orders_per_customer")
    numbers(orders.to_numpy(), "orders_per_customer", minimum=0.0)
    whole(orders, "orders_per_customer")
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
    answers = series(scores, "scores")
    numbers(answers.to_numpy(), "scores", minimum=0.0, maximum=10.0)
    whole(answers, "scores")
    promoters = (answers >= 9).mean()
    detractors = (answers <= 6).mean()
    return float(100.0 * (promoters - detractors))
