"""What a customer acquired today is worth, and what it is worth paying to acquire one.

A customer acquired today has made her first purchase and nothing else: the history
``(x, t_x, T) = (0, 0, 0)`` (BG/BB: ``(x, t_x, n) = (0, 0, 0)``).  At that history a
purchase model's conditional expectations are its unconditional ones: ``P(alive) = 1``
and the expected repeat purchases in ``(0, t]`` are ``E[X(t)]`` (BG/NBD: Fader, Hardie &
Lee 2005, "Counting your customers the easy way", Marketing Science 24(2), eq. 10 at
``x = 0, T = 0`` is eq. 7; Pareto/NBD: Schmittlein, Morrison & Colombo 1987, its
conditional expectation at ``x = 0, T = 0``; BG/BB: Fader, Hardie & Shang 2010, at
``n = 0``).  Her discounted expected repeat purchases are therefore::

    DERT(0, 0, 0) = ∫_0^H e^(−δt) dE[X(t)],

and her value, first order included::

    CLV_new = margin × E[spend per order] × (1 + DERT(0, 0, 0)),

with the population's expected spend per order, the Gamma-Gamma's unconditional mean
``p γ / (q − 1)`` (Fader, Hardie & Lee 2005b, "The Gamma-Gamma model of monetary
value"), or the average order value without a spend model.  The first order is
included because the acquisition cost buys it: the cost of winning a customer is
weighed against everything she brings, her first order first.  It is valued at the same
expected spend per order as her repeat orders (the Gamma-Gamma is fitted on repeat
orders; on CDNOW its mean, 35.17, is close to the average of all orders, 35.96).

A new subscriber (sBG) pays the first period and then renews while she stays (Fader &
Hardie 2010, "Customer-base valuation in a contractual setting", Marketing Science
29(1)): her discounted expected lifetime is ``DEL = 2F1(1, β; α+β; 1/(1+d)) = 1 +
DERL(d | n = 0) / (1 + d)`` (:func:`clvmodels.models.sbg.derl`), so
``CLV_new = margin × price × DEL``, over her whole lifetime as
:func:`~clvmodels.clv.subscriptions.subscription_values` values subscribers.

:func:`acquisition_advice` turns the value into the most a new customer may cost
(``CLV / LTV:CAC target``, 3 by the usual rule) and the most a click may cost.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from clvmodels import metrics
from clvmodels.backends.compress import factorize_rows
from clvmodels.clv.arrays import PatternLink, at_patterns, linked, purchase_arrays, spend_per_order
from clvmodels.clv.settings import ValueSettings
from clvmodels.errors import ConfigError
from clvmodels.estimators import Estimator
from clvmodels.estimators.frames import row_weights
from clvmodels.models import model_info, model_keys


@dataclass(frozen=True)
class NewCustomerValue:
    """The expected value of a customer acquired today, in its parts.

    Attributes
    ----------
    model
        The purchase (or retention) model's key.
    spend_per_order
        The population's expected spend per order (per period for a subscription).
    first_order
        Value of the first order: ``margin × spend_per_order`` (included in ``clv``).
    expected_repeat_purchases
        Undiscounted expected repeat purchases over the horizon (one year of time
        units for a lifetime horizon); renewals over it for a subscription.
    dert
        Discounted expected repeat purchases over the horizon (a subscription: the
        discounted expected renewals over the lifetime).
    clv
        ``margin × spend_per_order × (1 + dert)``.
    clv_lower, clv_upper
        Central interval over parameter draws (``None`` without ``settings.interval``).
    margin, horizon, discount_rate
        The valuation's settings (``horizon`` ``None``: the whole lifetime).
    """

    model: str
    spend_per_order: float
    first_order: float
    expected_repeat_purchases: float
    dert: float
    clv: float
    clv_lower: float | None
    clv_upper: float | None
    margin: float
    horizon: float | None
    discount_rate: float
    includes_first_order: bool = True

    def record(self) -> dict[str, Any]:
        """The value as ``params.json`` holds it (plain numbers, never rounded)."""
        return asdict(self)


def new_customer_value(
    purchase: Estimator,
    settings: ValueSettings,
    *,
    spend: Estimator | None = None,
    fallback_spend: float | None = None,
    summary: pd.DataFrame | None = None,
) -> NewCustomerValue:
    """Expected CLV of a customer acquired today (the module docstring), first order
    included.

    Parameters
    ----------
    purchase
        A fitted purchase model (BG/NBD, Pareto/NBD, MBG/NBD, BG/BB, ...).
    settings
        Horizon, discount rate, margin, interval and draws.
    spend
        A fitted Gamma-Gamma estimator (its unconditional mean spend), or ``None``.
    fallback_spend
        Spend per order without a spend model (the average order value).
    summary
        With covariates or groups: the current customers, whose mix of covariate
        patterns a newcomer is assumed to follow (weighted by a ``count`` column when
        present); the value is the mix's average.

    Raises
    ------
    ConfigError
        Not a purchase model, no spend, a model with time-varying covariates (a
        newcomer's future covariates are unknown) or covariates without ``summary``.
    """
    key = purchase.model_key
    if not model_info(key).is_purchase:
        raise ConfigError(
            f"new customer value: {key} is not a purchase model "
            f"(choose {', '.join(model_keys('purchase'))})"
        )
    if spend is None and fallback_spend is None:
        raise ConfigError(
            "new customer value: needs a gamma_gamma spend model or an average order value"
        )
    if purchase.is_dynamic:
        raise ConfigError(
            f"new customer value: {key} has time-varying covariates, unknown for a newcomer"
        )
    settings = settings.for_model(purchase)  # the model's time unit (ValueSettings.resolved)
    rows, weights, links = _newcomer_rows(key, purchase, spend, summary)
    fallback = float(fallback_spend or 0.0)

    def parts(params: dict[str, Any], spend_params: dict[str, Any] | None) -> dict[str, Any]:
        values = purchase_arrays(key, linked(params, links["pattern"]), rows, settings)
        if spend_params is not None:
            spend_params = linked(spend_params, links["spend_pattern"])
        spend_rows = {"frequency": rows["frequency"], "monetary_value": rows["frequency"]}
        if "spend_pattern" in rows:
            spend_rows["pattern"] = rows["spend_pattern"]
        values["spend"] = spend_per_order(spend_params, spend_rows, fallback)
        return values

    spend_params = None if spend is None else dict(spend.params_)
    return _summarised(
        key, purchase, spend, settings, weights, parts, dict(purchase.params_), spend_params
    )


def _newcomer_rows(
    key: str, purchase: Estimator, spend: Estimator | None, summary: pd.DataFrame | None
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, PatternLink | None]]:
    """The newcomer's history under each distinct covariate pattern of ``summary`` (one
    row without covariates), the patterns' shares of the customers, and the links."""
    links = {"pattern": None, "spend_pattern": None}
    if purchase.has_patterns or (spend is not None and spend.has_patterns):
        if summary is None:
            raise ConfigError(
                "new customer value: a model with covariates or groups needs the current "
                "customers (summary=) to know the mix of patterns a newcomer follows"
            )
        links = {
            "pattern": PatternLink.of(purchase, summary),
            "spend_pattern": PatternLink.of(spend, summary),
        }
    codes = [link.codes.astype(float) for link in links.values() if link is not None]
    if not codes:
        zeros = np.zeros(1)
        return {c: zeros for c in model_info(key).history}, np.ones(1), links
    assert summary is not None
    group, distinct = factorize_rows(codes)
    weights = row_weights(summary)
    share = np.bincount(group, weights=weights, minlength=len(distinct[0]))
    zeros = np.zeros(len(distinct[0]))
    rows = {c: zeros for c in model_info(key).history}
    names = [name for name, link in links.items() if link is not None]
    rows.update(dict(zip(names, distinct, strict=True)))
    return rows, share / share.sum(), links


def _summarised(
    key: str,
    model: Estimator,
    spend: Estimator | None,
    settings: ValueSettings,
    weights: np.ndarray,
    parts: Any,
    params: dict[str, Any],
    spend_params: dict[str, Any] | None,
) -> NewCustomerValue:
    """The pattern-weighted parts at the point estimates (posterior means for a
    Bayesian fit) and the CLV's central interval over ``settings.draws`` draws."""
    margin = settings.margin

    def combine(values: dict[str, Any]) -> dict[str, np.ndarray]:
        spend_ = np.broadcast_to(values["spend"], np.shape(values["dert"]))
        out = {
            "spend": spend_,
            "expected": values["expected_purchases"],
            "dert": values["dert"],
            "clv": margin * spend_ * (1.0 + values["dert"]),
        }
        return {k: np.asarray(v, dtype=float) @ weights for k, v in out.items()}

    point = combine(parts(params, spend_params))
    lower = upper = None
    if settings.interval is not None:
        rng = np.random.default_rng(settings.seed)
        drawn = model.result_.parameter_draws(int(settings.draws), rng)
        spend_drawn = (
            None if spend is None else spend.result_.parameter_draws(int(settings.draws), rng)
        )
        over = combine(
            parts(
                {k: np.asarray(v)[:, None] for k, v in drawn.items()},
                None
                if spend_drawn is None
                else {k: np.asarray(v)[:, None] for k, v in spend_drawn.items()},
            )
        )
        if model.result_.draws is not None:  # Bayesian: posterior means, as customer_values
            point = {k: float(np.mean(v)) for k, v in over.items()}
        q = (1.0 - float(settings.interval)) / 2.0
        lower, upper = (float(v) for v in np.quantile(over["clv"], [q, 1.0 - q]))
    return NewCustomerValue(
        model=key,
        spend_per_order=float(point["spend"]),
        first_order=margin * float(point["spend"]),
        expected_repeat_purchases=float(point["expected"]),
        dert=float(point["dert"]),
        clv=float(point["clv"]),
        clv_lower=lower,
        clv_upper=upper,
        margin=margin,
        horizon=settings.horizon if math.isfinite(settings.horizon) else None,
        discount_rate=settings.discount_rate,
    )


def new_subscriber_value(
    sbg_model: Estimator,
    settings: ValueSettings,
    *,
    price: float = 1.0,
    individual: pd.DataFrame | None = None,
) -> NewCustomerValue:
    """Expected CLV of a subscriber acquired today: ``margin × price × DEL``, her first
    payment included (Fader & Hardie 2010; the module docstring).

    ``expected_repeat_purchases`` holds her expected renewals over the horizon
    (``Σ_{t=1}^{H} S(t)``, ``H`` whole periods of ``settings.count_horizon``) and
    ``dert`` her discounted expected renewals over the lifetime, ``DEL − 1``.  With
    covariates or groups (e.g. cohorts as groups) the value is the average over the
    patterns of ``individual`` (rows ``count`` subscribers each).
    """
    module = sbg_model.module
    settings = settings.for_model(sbg_model)
    link = None
    if sbg_model.has_patterns:
        if individual is None:
            raise ConfigError(
                "new subscriber value: an sBG with covariates or groups needs the "
                "subscribers (individual=) to know the mix of patterns a newcomer follows"
            )
        link = PatternLink.of(sbg_model, individual)
    if link is None:
        pattern, weights = None, np.ones(1)
    else:
        group, (pattern,) = factorize_rows([link.codes.astype(float)])
        share = np.bincount(group, weights=row_weights(individual), minlength=len(pattern))
        weights = share / share.sum()
    d = settings.period_discount
    periods = np.arange(1, max(int(settings.count_horizon), 1) + 1, dtype=float)

    def parts(params: dict[str, Any], spend_params: dict[str, Any] | None) -> dict[str, Any]:
        at = at_patterns(linked(params, link), pattern)
        renewals = module.derl(np.zeros(np.shape(weights)), **at, discount=d) / (1.0 + d)
        survival = module.survival(
            periods[:, None],
            **{k: np.expand_dims(v, -2) if np.ndim(v) else v for k, v in at.items()},
        )
        return {
            "spend": np.full(np.shape(renewals), float(price)),
            "expected_purchases": survival.sum(axis=-2),
            "dert": renewals,
        }

    key, params = sbg_model.model_key, dict(sbg_model.params_)
    value = _summarised(key, sbg_model, None, settings, weights, parts, params, None)
    return replace(value, horizon=None)  # DEL covers the whole remaining lifetime


def acquisition_advice(
    clv: float,
    *,
    ltv_cac_ratio: float = 3.0,
    conversion_rate: float | None = None,
    marketing_spend: float | None = None,
    new_customers: float | None = None,
) -> dict[str, float | None]:
    """What it is worth paying for a new customer worth ``clv``.

    ``max_acquisition_cost = clv / ltv_cac_ratio`` (the usual LTV:CAC target of 3:1;
    Skok 2013, :func:`clvmodels.metrics.ltv_to_cac`); with a conversion rate the
    cost-per-click bid that keeps that target, ``max_acquisition_cost × conversion
    rate``, and the break-even bid ``clv × conversion rate``
    (:func:`clvmodels.metrics.max_cost_per_click`); with the marketing spend and the
    number of customers it won, the actual ``cac`` and ``ltv_to_cac = clv / cac``
    (:func:`clvmodels.metrics.customer_acquisition_cost`).  Missing inputs give ``None``.
    """
    if not ltv_cac_ratio > 0:
        raise ConfigError(f"metrics.ltv_cac_ratio: {ltv_cac_ratio!r} is not a positive number")
    advice: dict[str, float | None] = {
        "new_customer_clv": float(clv),
        "ltv_cac_ratio": float(ltv_cac_ratio),
        "max_acquisition_cost": float(clv) / float(ltv_cac_ratio),
        "conversion_rate": conversion_rate,
        "max_cost_per_click": None,
        "break_even_cost_per_click": None,
        "marketing_spend": marketing_spend,
        "new_customers": new_customers,
        "cac": None,
        "actual_ltv_to_cac": None,
    }
    if conversion_rate is not None:
        advice["max_cost_per_click"] = float(
            metrics.max_cost_per_click(advice["max_acquisition_cost"], conversion_rate)
        )
        advice["break_even_cost_per_click"] = float(
            metrics.max_cost_per_click(clv, conversion_rate)
        )
    if marketing_spend is not None and new_customers:
        cac = float(metrics.customer_acquisition_cost(marketing_spend, new_customers))
        advice["cac"] = cac
        advice["actual_ltv_to_cac"] = float(metrics.ltv_to_cac(clv, cac)) if cac > 0 else None
    return advice
