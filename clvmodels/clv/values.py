"""Per-customer forecast and value of a fitted purchase model (and spend model).

Non-contractual stores (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves
for customer base analysis", JMR 42(4), eq. 1)::

    CLV = margin × E[spend per order] × DERT,

DERT being the discounted expected residual transactions over the horizon.  Every
quantity depends on a customer's history (and covariate patterns) only, so it is
computed once per distinct history and gathered to the customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.backends.compress import factorize_rows
from clvmodels.clv.arrays import PatternLink, history_values
from clvmodels.clv.draws import draw_summaries
from clvmodels.clv.settings import ValueSettings
from clvmodels.data.checks import require_columns
from clvmodels.data.summary.validate import check_histories
from clvmodels.errors import ConfigError
from clvmodels.estimators import Estimator
from clvmodels.estimators.frames import SOURCE, customer_index, row_weights
from clvmodels.models import model_info, model_keys

COLUMN_ORDER = (
    "p_alive",
    "expected_purchases",
    "dert",
    "expected_spend",
    "clv",
    "clv_lower",
    "clv_upper",
)
"""The first columns of :func:`customer_values`; posterior sds and bounds follow."""
_POSTERIOR_MEANS = ("p_alive", "expected_purchases", "expected_spend", "dert", "clv")
_POSTERIOR_BOUNDS = ("p_alive", "expected_purchases", "clv")


def customer_values(
    purchase: Estimator,
    summary: pd.DataFrame,
    settings: ValueSettings,
    *,
    spend: Estimator | None = None,
    fallback_spend: float | None = None,
) -> pd.DataFrame:
    """Per-customer forecast and value from a fitted purchase model (and spend model).

    Parameters
    ----------
    purchase
        A fitted BG/NBD, Pareto/NBD, MBG/NBD or BG/BB estimator.
    summary
        Canonical per-customer summary (``frequency, recency, T`` or ``n``; and
        ``monetary_value`` with a spend model), with the ids in a column ``customer_id``
        (as :func:`clvmodels.data.summarize_transactions` gives them) or in its index.
    settings
        Horizon, discount rate, margin, time unit, interval; an unset time unit and
        horizon are the model's unit and one year of it (:meth:`ValueSettings.resolved`).
    spend
        A fitted Gamma-Gamma estimator, or ``None`` to value every order at
        ``fallback_spend``.
    fallback_spend
        Spend per order without a spend model (e.g. the average order value).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``, one row per row of ``summary`` in its order (the
        ids of its column ``customer_id``, else its index;
        :func:`clvmodels.estimators.frames.customer_index`): ``p_alive``,
        ``expected_purchases``, ``dert``, ``expected_spend``, ``clv`` and, with
        ``settings.interval``, ``clv_lower`` and ``clv_upper``.  For a Bayesian
        purchase model the point columns are posterior
        means and ``<quantity>_sd`` columns are added for all five, with ``_lower`` /
        ``_upper`` credible bounds for ``p_alive``, ``expected_purchases`` and ``clv``
        (over ``settings.draws`` posterior draws).  An MLE fit gives plug-in estimates
        and the CLV interval over parametric draws.  With an interval,
        ``frame.attrs["total_clv"]`` holds the customers' total CLV (``total``; each row
        counted ``summary["count"]`` times when the summary has that column) and its
        interval (``lower``, ``upper``, ``interval``), the quantiles of the total over
        the same draws (:func:`total_clv`).

    Raises
    ------
    DataError
        A missing column or a bad history, in the words of the command line's
        ``predict`` (:func:`clvmodels.data.summary.validate.check_histories`).
    FitError
        An interval from a fit without parameter draws
        (:meth:`clvmodels.results.FitResult.parameter_draws`).
    ConfigError
        Not a purchase model, no spend, or ``settings.time_unit`` other than the unit the
        purchase model was fitted in (a weekly model valued with ``time_unit="D"`` would
        read the horizon and the discounting in days).
    """
    key = purchase.model_key
    if not model_info(key).is_purchase:
        purchase_keys = ", ".join(model_keys("purchase"))
        raise ConfigError(f"clv: {key} is not a purchase model (choose {purchase_keys})")
    if spend is None and fallback_spend is None:
        raise ConfigError("clv: needs a gamma_gamma spend model or an average order value")
    settings = settings.for_model(purchase)
    group, rows, links = _distinct_histories(purchase, spend, summary)
    fallback = fallback_spend or 0.0
    spend_params = None if spend is None else dict(spend.params_)
    arrays = history_values(
        key, dict(purchase.params_), spend_params, rows, settings, fallback, links
    )
    n_rows = len(next(iter(rows.values())))
    weights = np.bincount(group, weights=row_weights(summary), minlength=n_rows)
    total = None
    if settings.interval is not None:
        draws = draw_summaries(key, purchase, spend, rows, settings, fallback, links, weights)
        total = draws["total"]["clv"]
        if purchase.result_.draws is not None:  # Bayesian: posterior means, sds, bounds
            for name in _POSTERIOR_MEANS:
                arrays[name] = draws[name]["mean"]
                arrays[f"{name}_sd"] = draws[name]["sd"]
            for name in _POSTERIOR_BOUNDS:
                arrays[f"{name}_lower"] = draws[name]["lower"]
                arrays[f"{name}_upper"] = draws[name]["upper"]
        else:
            arrays["clv_lower"] = draws["clv"]["lower"]
            arrays["clv_upper"] = draws["clv"]["upper"]
    names = [n for n in COLUMN_ORDER if n in arrays]
    names += sorted(n for n in arrays if n not in COLUMN_ORDER)
    frame = pd.DataFrame({n: arrays[n][group] for n in names}, index=customer_index(summary))
    if total is not None:
        frame.attrs["total_clv"] = total_clv(float(weights @ arrays["clv"]), total, settings)
    return frame


def total_clv(point: float, draws: np.ndarray, settings: ValueSettings) -> dict[str, float]:
    """The customers' total CLV and its central ``settings.interval`` interval: the
    quantiles of the total over the parameter draws (the customers' values move together
    with the parameters, so the total's interval is not the sum of their intervals).

    Parameters
    ----------
    point
        The total of the customers' CLV (plug-in estimates, or posterior means).
    draws
        The total in each parameter draw.
    settings
        The valuation's settings (their ``interval``).
    """
    level = float(settings.interval or 0.9)
    lower, upper = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return {"total": point, "lower": float(lower), "upper": float(upper), "interval": level}


def _distinct_histories(
    purchase: Estimator, spend: Estimator | None, summary: pd.DataFrame
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, PatternLink | None]]:
    """Each customer's row among the distinct histories of ``summary`` (the purchase
    model's history columns, ``monetary_value`` with a spend model, and the covariate
    patterns of both models), those distinct rows, and the patterns.

    The histories are checked as by the command line's ``predict``
    (:func:`~clvmodels.data.summary.validate.check_histories`; ``T = 0`` is a customer
    new on the last day, valued as a new customer).
    """
    columns = list(model_info(purchase.model_key).history)
    if spend is not None:
        columns.append("monetary_value")
    require_columns(SOURCE, columns, summary.columns)
    data = check_histories(summary, columns, source_name=SOURCE, new_customers=True)
    links = {
        "pattern": PatternLink.of(purchase, summary),
        "spend_pattern": PatternLink.of(spend, summary),
    }
    for name, link in links.items():
        if link is not None:
            data[name] = link.codes.astype(float)
            columns.append(name)
    group, distinct = factorize_rows([data[c] for c in columns])
    return group, dict(zip(columns, distinct, strict=True)), links
