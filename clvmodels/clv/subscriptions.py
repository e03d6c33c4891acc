"""Residual value of subscribers (contractual stores; Fader & Hardie 2010)::

    CLV = margin × price per period × DERL(renewals so far),

DERL being the sBG's discounted expected residual lifetime of a customer who has renewed
``n`` times (Fader & Hardie 2010, "Customer-base valuation in a contractual setting: the
perils of ignoring heterogeneity", Marketing Science 29(1);
:func:`clvmodels.models.sbg.derl`), discounted per period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.backends.compress import factorize_rows
from clvmodels.clv.arrays import PatternLink, at_patterns, linked
from clvmodels.clv.settings import ValueSettings
from clvmodels.estimators import Estimator


def subscription_values(
    sbg_model: Estimator,
    individual: pd.DataFrame,
    settings: ValueSettings,
    *,
    price: float = 1.0,
) -> pd.DataFrame:
    """Residual value of the active subscribers of one cohort (Fader & Hardie 2010).

    Parameters
    ----------
    sbg_model
        A fitted sBG estimator.
    individual
        Rows ``tenure`` (renewals made), ``churned`` and ``count`` (customers).
    settings
        Discount rate (converted to a per-period rate), margin, interval.
    price
        Payment per period.

    Returns
    -------
    pandas.DataFrame
        One row per renewal count of active customers (with covariates or groups: per
        renewal count and pattern, with the covariate and group columns): ``renewals``,
        ``customers``, ``derl``, ``clv`` (per customer), ``clv_lower``/``clv_upper``
        (with an interval) and ``value`` (``clv × customers``: the cohort's current
        customer base).
    """
    settings = settings.for_model(sbg_model)
    active = individual[individual["churned"] == 0]
    link = PatternLink.of(sbg_model, active)
    codes = np.zeros(len(active)) if link is None else link.codes.astype(float)
    group, (renewals, pattern) = factorize_rows([active["tenure"].to_numpy(float), codes])
    customers = np.bincount(group, weights=active["count"].to_numpy(float), minlength=len(pattern))
    d = settings.period_discount
    module = sbg_model.module
    params = linked(sbg_model.params_, link)
    derl = module.derl(renewals, **at_patterns(params, pattern), discount=d)
    unit = settings.margin * price
    out = pd.DataFrame(
        {
            "renewals": renewals.astype(np.int64),
            "customers": customers,
            "derl": derl,
            "clv": unit * derl,
        }
    )
    if link is not None:  # each row's covariates and group (the row's first subscriber)
        first = np.unique(group, return_index=True)[1]
        result = sbg_model.result_
        columns = list((result.covariate_encoding or {}).get("columns", ()))
        columns += [result.hierarchy["group"]] if result.hierarchy else []
        for column in columns:
            out.insert(1, column, active[column].to_numpy()[first])
    if settings.interval is not None and len(out):
        rng = np.random.default_rng(settings.seed)
        draws = sbg_model.result_.parameter_draws(int(settings.draws), rng)
        drawn = linked({k: v[:, None] for k, v in draws.items()}, link)
        values = module.derl(renewals[None, :], **at_patterns(drawn, pattern), discount=d)
        q = (1.0 - float(settings.interval)) / 2.0
        out["clv_lower"] = unit * np.quantile(values, q, axis=0)
        out["clv_upper"] = unit * np.quantile(values, 1.0 - q, axis=0)
    out["value"] = out["clv"] * out["customers"]
    return out
