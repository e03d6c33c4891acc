"""A machine-learning challenger to the probability models, trained the honest way.

The question a BTYD model answers — how much will each customer buy in the next ``H``
time units? — is asked of a gradient-boosted regression model (scikit-learn's
``HistGradientBoostingRegressor``, Poisson loss) that learns it from the store's own
past: features of every customer computed on a window ending ``H`` before the
calibration end, and as targets what each of them bought (and spent) in the ``H`` that
followed, up to the calibration end.  The trained model is then applied to the same
features computed at the calibration end, so it predicts the real holdout without ever
seeing it — the same information the probability models get.  Beyond
:data:`MAX_TRAINING_CUSTOMERS` customers it learns from a uniform random sample of them.

Features (per customer, from the per-customer summary): ``frequency``, ``recency``,
``T``, the time since the last purchase ``T − recency``, the repeat-purchase rate
``frequency / T``, the mean time between purchases ``recency / frequency``, the mean
repeat spend ``monetary_value``, the revenue and the average order value, and the
customer's covariates when the run has them (categorical ones as categories).

Predictive distribution of the holdout count: negative binomial with the model's mean
``μ_i`` and a common size ``k`` estimated by maximum likelihood on out-of-fold
predictions of the training targets (3-fold), so that the spread is that of unseen
customers, not of the fit; ``P(X ≥ 1)`` plays the role of P(alive) in the AUC.
The challenger has no lifetime and no discounting: it forecasts one holdout length, so
it offers no per-customer CLV and is never chosen to value customers.

Where the data are too short for a training window of a whole holdout length before the
calibration end (CDNOW: the cohort was acquired in the first 12 of its 39 calibration
weeks, so 39 weeks before the calibration end nobody had bought yet), the target window
is shortened to ``W < H`` (:func:`training_window`) and the forecasts are scaled by
``H / W`` — a documented handicap: a rate learned over ``W`` is assumed to hold over
``H``, which ignores the dropout the probability models describe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.errors import DataError
from clvmodels.evaluation.holdout import Forecast
from clvmodels.evaluation.predictive import CHUNK, MAX_SUPPORT, TAIL, Chunk, bounded_parts
from clvmodels.evaluation.probabilistic import CountForecast
from clvmodels.machine import usable_cores
from clvmodels.units import days_per_unit

NAME = "gbm_challenger"
"""The challenger's row in ``evaluation.csv``."""
MIN_TRAINING_CUSTOMERS = 50
MAX_TRAINING_CUSTOMERS = 200_000
"""The challenger learns from a uniform random sample of at most this many customers of
the training window (one gradient-boosting fit on 10^6 customers took 3 minutes on 2
cores, and training makes five)."""
PARALLEL_ROWS = 200_000
"""Below this many customers (training and forecast together) the gradient boosting
runs on one thread."""
TRAINING_SHARE = 0.8
"""Share of the calibration customers that must have bought before the training window
ends (:func:`training_window`)."""


def training_window(first_purchase_days: np.ndarray, calibration_end_day: int, holdout: int) -> int:
    """The target window ``W`` in days: the holdout length ``H`` when at least
    :data:`TRAINING_SHARE` of the customers had made their first purchase ``H`` days
    before the calibration end, else the longest window for which they had (at least one
    day; 0 when no window leaves enough customers)."""
    first = np.sort(np.asarray(first_purchase_days, dtype=np.int64))
    if len(first) == 0:
        return 0
    needed = first[min(len(first) - 1, int(np.ceil(TRAINING_SHARE * len(first))) - 1)]
    return int(max(0, min(holdout, calibration_end_day - int(needed) - 1)))


def features(summary: pd.DataFrame, covariates: Sequence[str] = ()) -> pd.DataFrame:
    """The challenger's features of every customer of a summary (module docstring)."""
    x = summary["frequency"].to_numpy(float)
    t_x = summary["recency"].to_numpy(float)
    T = summary["T"].to_numpy(float)
    out = pd.DataFrame(
        {
            "frequency": x,
            "recency": t_x,
            "T": T,
            "since_last": T - t_x,
            "rate": np.divide(x, T, out=np.zeros_like(x), where=T > 0),
            "mean_gap": np.divide(t_x, x, out=np.full_like(x, np.nan), where=x > 0),
        },
        index=summary.index,
    )
    if "revenue" in summary:
        revenue = summary["revenue"].to_numpy(float)
        out["monetary_value"] = summary["monetary_value"].to_numpy(float)
        out["revenue"] = revenue
        out["order_value"] = revenue / (x + 1.0)
    for column in covariates:
        values = summary[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            out[f"cov:{column}"] = values.astype(float).to_numpy()
        else:
            # a Categorical (not .to_numpy(), which gives strings): the regressor's
            # categorical_features="from_dtype" needs the category dtype
            out[f"cov:{column}"] = pd.Categorical(values.astype(str).to_numpy())
    return out


@dataclass
class Challenger:
    """A trained challenger: the purchase (and revenue) regressions, the negative
    binomial size ``k`` of the count forecasts, and the feature columns."""

    purchases: Any
    revenue: Any | None
    size: float
    columns: tuple[str, ...]
    categories: dict[str, list[str]]
    training_customers: int

    def _frame(self, summary: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
        frame = features(summary, covariates)
        for column, levels in self.categories.items():
            frame[column] = pd.Categorical(frame[column].astype(str), categories=levels)
        return frame[list(self.columns)]

    def predict(
        self, summary: pd.DataFrame, covariates: Sequence[str] = ()
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Expected holdout purchases and expected holdout revenue (``None`` without
        amounts) of the customers of ``summary``; their count forecasts are
        ``NB(mean, size)`` (:func:`negative_binomial_chunks`)."""
        frame = self._frame(summary, covariates)
        mean = np.maximum(self.purchases.predict(frame), 1e-12)
        revenue = None if self.revenue is None else np.maximum(self.revenue.predict(frame), 0.0)
        return mean, revenue


def negative_binomial_forecast(
    mean: np.ndarray, size: float, max_count: int | None = None
) -> CountForecast:
    """Count forecasts ``NB(mean_i, size)``, over ``0 … K−1`` with ``K`` large enough
    that every tail is below :data:`~clvmodels.evaluation.predictive.TAIL` (at most
    :data:`~clvmodels.evaluation.predictive.MAX_SUPPORT` counts), or ``max_count + 1``."""
    from scipy import stats  # here, as sklearn: `clvmodels summarize` imports this module

    p = size / (size + np.asarray(mean, dtype=float))
    if max_count is None:
        tail = int(stats.nbinom.ppf(1.0 - TAIL, size, p.min())) + 1
        max_count = min(tail, MAX_SUPPORT)
    k = np.arange(max_count + 1)
    return CountForecast(stats.nbinom.pmf(k[None, :], size, p[:, None]))


def negative_binomial_chunks(
    mean: np.ndarray, size: float, actual: np.ndarray, chunk: int = CHUNK
) -> Iterator[Chunk]:
    """:func:`negative_binomial_forecast` of ``chunk`` customers at a time, each chunk's
    support holding its largest ``actual`` count (the chunks of
    :data:`clvmodels.evaluation.predictive.Chunk`, without revenue)."""
    from scipy import stats

    order = np.argsort(mean, kind="stable")  # customers of alike means share a support
    for start in range(0, len(order), chunk):
        rows = order[start : start + chunk]
        p = size / (size + mean[rows].max())
        support = max(int(stats.nbinom.ppf(1.0 - TAIL, size, p)), int(actual[rows].max())) + 1
        for part in bounded_parts(len(rows), min(support, MAX_SUPPORT)):
            counts = negative_binomial_forecast(mean[rows[part]], size)
            largest = int(actual[rows[part]].max())
            if counts.pmf.shape[1] <= largest:
                counts = negative_binomial_forecast(mean[rows[part]], size, largest)
            yield rows[part], counts, None


def _regressor(seed: int, loss: str = "poisson") -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        loss=loss,
        max_iter=200,
        learning_rate=0.05,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=20,
        categorical_features="from_dtype",
        random_state=seed,
    )


def _negative_binomial_size(y: np.ndarray, mean: np.ndarray) -> float:
    """Maximum-likelihood size ``k`` of ``NB(mean_i, k)`` for counts ``y`` (large ``k``:
    close to Poisson)."""
    from scipy import optimize, stats

    def negative_log_likelihood(log_k: float) -> float:
        k = np.exp(log_k)
        return -float(np.sum(stats.nbinom.logpmf(y, k, k / (k + mean))))

    best = optimize.minimize_scalar(negative_log_likelihood, bounds=(-7.0, 9.0), method="bounded")
    return float(np.exp(best.x))


def train_challenger(
    early: pd.DataFrame, covariates: Sequence[str] = (), seed: int = 0
) -> Challenger:
    """Train the challenger on ``early``: the per-customer summary of the window ending
    one holdout length before the calibration end, whose holdout columns
    (``frequency_holdout``, ``revenue_holdout``) are the targets."""
    from sklearn.model_selection import KFold, cross_val_predict

    if len(early) < MIN_TRAINING_CUSTOMERS:
        raise DataError(
            f"challenger: {len(early)} customers bought before the training window ends; "
            f"at least {MIN_TRAINING_CUSTOMERS} are needed (a shorter holdout helps)"
        )
    if len(early) > MAX_TRAINING_CUSTOMERS:  # a uniform sample: minutes, not an hour
        keep = np.random.default_rng(seed).choice(len(early), MAX_TRAINING_CUSTOMERS, False)
        early = early.iloc[np.sort(keep)]
    frame = features(early, covariates)
    categories = {
        c: list(frame[c].cat.categories) for c in frame.columns if frame[c].dtype == "category"
    }
    y = early["frequency_holdout"].to_numpy(float)
    folds = KFold(3, shuffle=True, random_state=seed)
    out_of_fold = cross_val_predict(_regressor(seed), frame, y, cv=folds)
    size = _negative_binomial_size(y, np.maximum(out_of_fold, 1e-12))
    purchases = _regressor(seed).fit(frame, y)
    revenue = None
    if "revenue_holdout" in early:
        target = np.maximum(early["revenue_holdout"].to_numpy(float), 0.0)
        revenue = _regressor(seed).fit(frame, target)
    return Challenger(purchases, revenue, size, tuple(frame.columns), categories, len(early))


@dataclass(frozen=True)
class ChallengerOutcome:
    """The challenger's holdout forecast (``None`` when it could not be trained) and a
    note saying how it was trained, or why not."""

    forecast: Forecast | None
    note: str


Window = Callable[[dt.date, dt.date], pd.DataFrame]
"""``window(calibration_end, observation_end)``: the per-customer summary of the same log
with that calibration and observation end (transactions after it left out)."""


def forecast_holdout(
    summary: pd.DataFrame,
    window: Window,
    calibration_end: dt.date,
    time_unit: str,
    covariates: Sequence[str] = (),
) -> ChallengerOutcome:
    """Train the challenger on the window before ``calibration_end`` (module docstring)
    and forecast the holdout of ``summary`` (a summary with holdout columns)."""
    holdout = round(float(summary["duration_holdout"].iloc[0]) * days_per_unit(time_unit))
    first = summary["first_purchase"].to_numpy("datetime64[D]")
    offsets = (first - np.datetime64(calibration_end, "D")).astype(np.int64)
    days = training_window(offsets, 0, holdout)
    if days < 1:
        return ChallengerOutcome(None, "the log is too short for a training window")
    early = window(calibration_end - dt.timedelta(days=days), calibration_end)
    # scikit-learn's OpenMP runtime must be loaded for threadpoolctl to limit it
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_limits

    # OpenMP threads cost more than they give on small data, and on a busy machine a
    # thread that waits for another spins: 1.4 s on one thread vs 17.6 s on two
    # (CDNOW, a machine with a load of 4)
    threads = 1 if len(early) + len(summary) < PARALLEL_ROWS else usable_cores()
    with threadpool_limits(threads, user_api="openmp"):
        try:
            model = train_challenger(early, covariates)
        except DataError as error:
            return ChallengerOutcome(None, str(error))
        mean, revenue = model.predict(summary, covariates)
    scale = holdout / days
    expected = mean * scale
    revenue = None if revenue is None else revenue * scale
    actual = summary["frequency_holdout"].to_numpy(float)
    counts = partial(negative_binomial_chunks, expected, model.size, actual)
    from scipy import stats

    p_any = 1.0 - stats.nbinom.pmf(0, model.size, model.size / (model.size + expected))
    forecast = Forecast(expected, revenue, p_any, counts)
    note = f"trained on {model.training_customers:,} customers, target window {days} days"
    if days < holdout:
        note += f", scaled to the {holdout}-day holdout"
    return ChallengerOutcome(forecast, note)
