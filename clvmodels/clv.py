"""Customer lifetime value per customer, with intervals.

Non-contractual stores (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves
for customer base analysis", JMR 42(4), eq. 1)::

    CLV = margin × E[spend per order] × DERT,

DERT being the discounted expected residual transactions over the horizon (each purchase
model's ``discounted_expected_residual_transactions``; closed forms where the literature
has them, an accurate numerical integral otherwise) and the spend per order the
Gamma-Gamma conditional expectation.  Contractual stores (Fader & Hardie 2010)::

    CLV = margin × price per period × DERL(renewals so far).

Discounting: ``discount_rate`` is an effective yearly rate, converted to the data's
time unit by :mod:`clvmodels.models.discount` (continuously compounded for the
continuous-time models, per period for BG/BB and sBG).

Intervals come from parameter uncertainty: posterior draws (Bayesian fits) or draws
of the log-parameters from the MLE's asymptotic normal distribution
(:meth:`clvmodels.results.FitResult.parameter_draws`), pushed through the same
formulas; the interval is the central ``interval`` quantile range of the draws.
Customers are processed in chunks so memory stays bounded whatever their number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.backends.compress import factorize_rows
from clvmodels.errors import ConfigError, DataError
from clvmodels.estimators import Estimator
from clvmodels.machine import usable_cores
from clvmodels.models import discount, model_module
from clvmodels.models.links import linked_params
from clvmodels.units import units_per_year

PURCHASE_KEYS = ("bgnbd", "paretonbd", "mbgnbd", "bgbb")
_CONTINUOUS = ("bgnbd", "paretonbd", "mbgnbd")
_CELLS_PER_CHUNK = 2_000_000  # draws × customers held at once (16 MB of float64)
_PAIR_CELLS = 16_384  # draws × distinct (x, T) pairs per evaluation of the DERT integral
_STATS = ("mean", "sd", "lower", "upper")
_INTERVAL_NAMES = ("p_alive", "expected_purchases", "clv")  # the quantities with bounds


@dataclass(frozen=True)
class ValueSettings:
    """How future purchases are valued.

    Attributes
    ----------
    horizon
        In data time units (``math.inf``: the whole remaining lifetime).
    discount_rate
        Effective yearly rate (0.10 = 10 % a year).
    margin
        Share of revenue kept as profit (1.0 values revenue).
    time_unit
        The data's time unit (``D``, ``W``, ``M``, ``Y``).
    interval
        Probability of the central interval per customer (``None``: no interval).
    draws
        Parameter draws behind the interval.
    seed
        Seed of the draws (intervals are reproducible).
    threads
        Threads computing the per-customer summaries over draws (``None``: every core
        this process may use).  The results do not depend on it.
    """

    horizon: float = 52.0
    discount_rate: float = 0.10
    margin: float = 1.0
    time_unit: str = "W"
    interval: float | None = 0.9
    draws: int = 200
    seed: int = 0
    threads: int | None = None

    @property
    def delta(self) -> float:
        """Continuous discount rate per time unit."""
        return discount.continuous_rate(self.discount_rate, self.time_unit)

    @property
    def count_horizon(self) -> float:
        """Horizon of the undiscounted purchase count: the horizon, or one year of time
        units when the horizon is the whole lifetime (an undiscounted lifetime count can be
        infinite)."""
        return (
            self.horizon if math.isfinite(self.horizon) else units_per_year(self.time_unit)
        )

    @property
    def period_discount(self) -> float:
        """Discount rate per period (discrete-time models)."""
        return discount.period_rate(self.discount_rate, self.time_unit)


def resolve_horizon(value: float | str | None, time_unit: str) -> float:
    """A configured horizon in time units: a number, ``"lifetime"`` (infinite) or
    ``None`` (one year of the time unit)."""
    if value == "lifetime":
        return math.inf
    if value is None:
        return units_per_year(time_unit)
    return float(value)


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
    ``P(alive) ×`` a quantity of an active customer that depends on ``(x, T)`` only;
    that quantity is evaluated once per distinct pair.

    ``data`` holds 1-d columns (``rows``); ``params`` holds scalars, giving arrays of
    shape ``(rows,)``, or arrays of shape ``(draws, 1)``, giving ``(draws, rows)``.
    With covariates, ``data`` has a ``pattern`` column (each row's covariate pattern,
    an integer code) and a linked parameter has one value per pattern on its last axis
    (:meth:`PatternLink.params`); the ``(x, T)`` quantities are then evaluated once per
    distinct ``(x, T, pattern)``.
    """
    module = model_module(key)
    x = np.asarray(data["frequency"], dtype=float)
    t_x = np.asarray(data["recency"], dtype=float)
    horizon = settings.horizon
    count_horizon = settings.count_horizon
    if key == "bgbb":
        n = np.asarray(data["n"], dtype=float)
        alive = module.probability_alive(x, t_x, n, **params)
        expected = module.conditional_expected_transactions(count_horizon, x, t_x, n, **params)
        if not with_dert:
            return {"p_alive": alive, "expected_purchases": expected}
        dert = module.dert(x, t_x, n, **params, discount=settings.period_discount, horizon=horizon)
        return {"p_alive": alive, "expected_purchases": expected, "dert": dert}
    T = np.asarray(data["T"], dtype=float)
    pattern = data.get("pattern")
    alive = module.probability_alive(x, t_x, T, **at_patterns(params, pattern))
    group, distinct = factorize_rows([x, T] if pattern is None else [x, T, pattern])
    x_u, T_u = distinct[0], distinct[1]
    pair_params = at_patterns(params, None if pattern is None else distinct[2])
    future = module.active_expected_purchases(count_horizon, x_u, T_u, **pair_params)
    expected = alive * future[..., group]
    if not with_dert:
        return {"p_alive": alive, "expected_purchases": expected}
    active = module.discounted_active_purchases(
        x_u, T_u, **pair_params, delta=settings.delta, horizon=horizon
    )
    return {"p_alive": alive, "expected_purchases": expected, "dert": alive * active[..., group]}


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
    from clvmodels.models import gamma_gamma

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
    """The covariate patterns of some customers under a model with covariates.

    Attributes
    ----------
    codes
        Each customer's pattern (index into the distinct design rows).
    spec
        The model.
    columns
        The design columns of the distinct patterns (each of shape ``(patterns,)``).
    """

    codes: np.ndarray
    spec: Any
    columns: Mapping[str, np.ndarray]

    @classmethod
    def of(cls, model: Estimator | None, summary: pd.DataFrame) -> PatternLink | None:
        """The patterns of ``summary``'s customers under ``model`` (``None`` without
        covariates)."""
        if model is None or not model.has_covariates:
            return None
        design = model.design(summary)
        codes, distinct = factorize_rows(list(design.matrix.T))
        columns = dict(zip(design.names, distinct, strict=True))
        return cls(codes, model.module.SPEC, columns)

    def params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters per pattern (last axis) from baseline parameters and
        coefficients (scalars or ``(draws, 1)`` arrays)."""
        return linked_params(self.spec, params, self.columns)


def pattern_inputs(
    model: Estimator, summary: pd.DataFrame, data: Mapping[str, np.ndarray]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A fitted model's parameters and the data columns for :func:`purchase_arrays` or
    :func:`spend_per_order` on ``summary``'s customers: with covariates, the parameters
    per covariate pattern and each row's ``pattern``."""
    link = PatternLink.of(model, summary)
    if link is None:
        return dict(model.params_), dict(data)
    return link.params(dict(model.params_)), {**data, "pattern": link.codes}


def at_patterns(params: Mapping[str, Any], pattern: np.ndarray | None) -> dict[str, Any]:
    """Parameters at rows of covariate patterns ``pattern``: a parameter with a value
    per pattern on its last axis is indexed, the others broadcast as they are."""
    if pattern is None:
        return dict(params)
    index = np.asarray(pattern).astype(np.int64)
    return {
        k: v if np.ndim(v) == 0 or np.shape(v)[-1] == 1 else np.asarray(v)[..., index]
        for k, v in params.items()
    }


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
        ``monetary_value`` with a spend model).
    settings
        Horizon, discount rate, margin, time unit, interval.
    spend
        A fitted Gamma-Gamma estimator, or ``None`` to value every order at
        ``fallback_spend``.
    fallback_spend
        Spend per order without a spend model (e.g. the average order value).

    Returns
    -------
    pandas.DataFrame
        On the index of ``summary``: ``p_alive``, ``expected_purchases``, ``dert``,
        ``expected_spend``, ``clv`` and, with ``settings.interval``, ``clv_lower`` and
        ``clv_upper``.  For a Bayesian purchase model the point columns are posterior
        means and ``<quantity>_sd`` columns are added for all five, with ``_lower`` /
        ``_upper`` credible bounds for ``p_alive``, ``expected_purchases`` and ``clv``
        (over ``settings.draws`` posterior draws).  An MLE fit gives plug-in estimates
        and the CLV interval over parametric draws.
    """
    key = purchase.model_key
    if key not in PURCHASE_KEYS:
        raise ConfigError(f"clv: {key} is not a purchase model (choose {', '.join(PURCHASE_KEYS)})")
    if spend is None and fallback_spend is None:
        raise ConfigError("clv: needs a gamma_gamma spend model or an average order value")
    columns = ["frequency", "recency", "n" if key == "bgbb" else "T"]
    if spend is not None:
        columns.append("monetary_value")
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise DataError(f"clv: the summary lacks column(s) {', '.join(missing)}")
    data = {c: summary[c].to_numpy(dtype=float) for c in columns}
    links = {
        "pattern": PatternLink.of(purchase, summary),
        "spend_pattern": PatternLink.of(spend, summary),
    }
    for name, link in links.items():
        if link is not None:
            data[name] = link.codes.astype(float)
            columns.append(name)
    # every quantity depends on the customer's history (and covariate patterns) only:
    # compute per distinct history
    group, distinct = factorize_rows([data[c] for c in columns])
    rows = dict(zip(columns, distinct, strict=True))
    fallback = fallback_spend or 0.0
    spend_params = None if spend is None else dict(spend.params_)
    arrays = _values(key, dict(purchase.params_), spend_params, rows, settings, fallback, links)
    if settings.interval is not None:
        draws = _draw_summaries(key, purchase, spend, rows, settings, fallback, links)
        if purchase.result_.draws is not None:
            # Bayesian fit: posterior means, sds and credible intervals per customer
            for name in ("p_alive", "expected_purchases", "expected_spend", "dert", "clv"):
                arrays[name] = draws[name]["mean"]
                arrays[f"{name}_sd"] = draws[name]["sd"]
            for name in ("p_alive", "expected_purchases", "clv"):
                arrays[f"{name}_lower"] = draws[name]["lower"]
                arrays[f"{name}_upper"] = draws[name]["upper"]
        else:
            arrays["clv_lower"] = draws["clv"]["lower"]
            arrays["clv_upper"] = draws["clv"]["upper"]
    order = [
        "p_alive",
        "expected_purchases",
        "dert",
        "expected_spend",
        "clv",
        "clv_lower",
        "clv_upper",
    ]
    names = [n for n in order if n in arrays] + sorted(n for n in arrays if n not in order)
    return pd.DataFrame({n: arrays[n][group] for n in names}, index=summary.index)


def _values(
    key: str,
    params: Mapping[str, Any],
    spend_params: Mapping[str, Any] | None,
    rows: dict[str, np.ndarray],
    settings: ValueSettings,
    fallback: float,
    links: Mapping[str, PatternLink | None],
) -> dict[str, np.ndarray]:
    arrays = purchase_arrays(key, _linked(params, links["pattern"]), rows, settings)
    if spend_params is not None:
        spend_params = _linked(spend_params, links["spend_pattern"])
    arrays["expected_spend"] = spend_per_order(spend_params, _spend_columns(rows), fallback)
    arrays["clv"] = settings.margin * arrays["expected_spend"] * arrays["dert"]
    return arrays


def _linked(params: Mapping[str, Any], link: PatternLink | None) -> dict[str, Any]:
    return dict(params) if link is None else link.params(params)


def _spend_columns(rows: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The spend model's columns of the rows (its covariate pattern as ``pattern``)."""
    out = {c: rows[c] for c in ("frequency", "monetary_value") if c in rows}
    if "spend_pattern" in rows:
        out["pattern"] = rows["spend_pattern"]
    return out


def _draw_summaries(
    key: str,
    purchase: Estimator,
    spend: Estimator | None,
    rows: dict[str, np.ndarray],
    settings: ValueSettings,
    fallback: float,
    links: Mapping[str, PatternLink | None],
) -> dict[str, dict[str, np.ndarray]]:
    """Mean, sd and central interval of every per-customer quantity over parameter draws
    (posterior draws, or MLE parametric draws); ``lower``/``upper`` only for
    ``_INTERVAL_NAMES``.

    Each quantity is evaluated once per distinct value of what it depends on: P(alive),
    expected purchases and DERT per purchase history, the spend per ``(x, m̄)``, the
    CLV per row.  Memory is bounded whatever the number of customers and draws: rows
    are taken in chunks of at most ``_CELLS_PER_CHUNK`` draws × rows values per
    quantity, and within a chunk the draws are evaluated in batches holding at most
    ``_PAIR_CELLS`` draws × distinct ``(x, T)`` pairs (the numerical DERT integral
    evaluates ~10–500 nodes per such cell; BG/BB: draws × histories × horizon
    periods).  Rows are visited in ``(x, T)`` order so that a chunk holds few distinct
    pairs, and chunks are spread over ``settings.threads`` threads (each holds its own
    chunk).
    """
    rng = np.random.default_rng(settings.seed)
    n_draws = int(settings.draws)
    purchase_draws = purchase.result_.parameter_draws(n_draws, rng)
    spend_draws = None if spend is None else spend.result_.parameter_draws(n_draws, rng)
    n = len(rows["frequency"])
    q = (1.0 - float(settings.interval)) / 2.0
    names = ("p_alive", "expected_purchases", "expected_spend", "dert", "clv")
    out = {
        m: {s: np.empty(n) for s in _STATS if s in ("mean", "sd") or m in _INTERVAL_NAMES}
        for m in names
    }
    pair = ["frequency", "n" if key == "bgbb" else "T", *(["pattern"] if "pattern" in rows else [])]
    spend_keys = ("monetary_value", "spend_pattern")
    history = pair + [c for c in rows if c not in pair and c not in spend_keys]
    order = np.lexsort([rows[c] for c in reversed([*history, *spend_keys]) if c in rows])
    chunk = max(1, _CELLS_PER_CHUNK // n_draws)

    def summarise(start: int) -> None:
        idx = order[start : start + chunk]
        in_history, distinct = factorize_rows([rows[c][idx] for c in history])
        histories = dict(zip(history, distinct, strict=True))
        if key == "bgbb":  # a finite-horizon DERT holds every history × period per draw
            periods = int(settings.horizon) if math.isfinite(settings.horizon) else 1
            per_draw = len(distinct[0]) * max(periods, 1)
        else:  # the DERT integral is evaluated per (x, T) pair
            per_draw = len(factorize_rows([histories[c] for c in pair])[1][0])
        if spend_draws is None:
            in_spend, spend_rows = np.zeros(len(idx), dtype=np.int64), None
        else:
            spend_columns = {k: v[idx] for k, v in _spend_columns(rows).items()}
            in_spend, distinct_spend = factorize_rows(list(spend_columns.values()))
            spend_rows = dict(zip(spend_columns, distinct_spend, strict=True))
        columns = {"expected_spend": int(in_spend.max()) + 1, "clv": len(idx)}
        # draws along the last axis: contiguous for the reductions and the partition
        values = {m: np.empty((columns.get(m, len(distinct[0])), n_draws)) for m in names}
        batch = max(1, _PAIR_CELLS // per_draw)
        for j in range(0, n_draws, batch):
            params = {k: v[j : j + batch, None] for k, v in purchase_draws.items()}
            arrays = purchase_arrays(key, _linked(params, links["pattern"]), histories, settings)
            if spend_rows is None:
                per_order = np.full((1, 1), float(fallback))
            else:
                spend_j = {k: v[j : j + batch, None] for k, v in spend_draws.items()}
                spend_j = _linked(spend_j, links["spend_pattern"])
                per_order = spend_per_order(spend_j, spend_rows, fallback)
            arrays["expected_spend"] = per_order
            arrays["clv"] = settings.margin * per_order[:, in_spend] * arrays["dert"][:, in_history]
            for m in names:
                values[m][:, j : j + batch] = arrays[m].T
        where = {"expected_spend": in_spend, "clv": slice(None)}
        for m in names:
            at = where.get(m, in_history)
            out[m]["mean"][idx] = values[m].mean(axis=1)[at]
            out[m]["sd"][idx] = values[m].std(axis=1, ddof=1)[at]
            if m in _INTERVAL_NAMES:
                bounds = np.quantile(values[m], [q, 1.0 - q], axis=1, overwrite_input=True)
                out[m]["lower"][idx], out[m]["upper"][idx] = bounds[0][at], bounds[1][at]

    # NumPy and SciPy release the GIL inside their loops: chunks run in parallel threads,
    # each writing its own customers' slots of ``out``
    starts = range(0, n, chunk)
    threads = min(settings.threads or usable_cores(), len(starts))
    if threads <= 1:
        for start in starts:
            summarise(start)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(summarise, starts))  # list(): re-raises a chunk's error here
    return out


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
        One row per renewal count of active customers (with covariates: per renewal
        count and covariate pattern, with the covariate columns): ``renewals``,
        ``customers``, ``derl``, ``clv`` (per customer), ``clv_lower``/``clv_upper``
        (with an interval) and ``value`` (``clv × customers``: the cohort's current
        customer base).
    """
    active = individual[individual["churned"] == 0]
    link = PatternLink.of(sbg_model, active)
    codes = np.zeros(len(active)) if link is None else link.codes.astype(float)
    group, (renewals, pattern) = factorize_rows([active["tenure"].to_numpy(float), codes])
    customers = np.bincount(group, weights=active["count"].to_numpy(float), minlength=len(pattern))
    d = settings.period_discount
    module = model_module("sbg")
    params = _linked(sbg_model.params_, link)
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
    if link is not None:  # each row's covariate values (the group's first subscriber)
        first = np.unique(group, return_index=True)[1]
        for column in sbg_model.result_.covariate_encoding["columns"]:
            out.insert(1, column, active[column].to_numpy()[first])
    if settings.interval is not None and len(out):
        rng = np.random.default_rng(settings.seed)
        draws = sbg_model.result_.parameter_draws(int(settings.draws), rng)
        drawn = _linked({k: v[:, None] for k, v in draws.items()}, link)
        values = module.derl(renewals[None, :], **at_patterns(drawn, pattern), discount=d)
        q = (1.0 - float(settings.interval)) / 2.0
        out["clv_lower"] = unit * np.quantile(values, q, axis=0)
        out["clv_upper"] = unit * np.quantile(values, 1.0 - q, axis=0)
    out["value"] = out["clv"] * out["customers"]
    return out
