"""Per-customer intervals over MLE parametric draws (issues 19 and 22).

Expected values: the straightforward per-draw formula — the point-value path
(:func:`clvmodels.clv.arrays.history_values`) evaluated once per parameter draw, customer
by customer, then the central quantiles over draws — against which the vectorised path
of :func:`clvmodels.clv.customer_values` (distinct histories, batches of draws spread
over threads) must agree to floating-point noise: 1e-9 relative, the accuracy the
numerical DERT integrals are documented to (their node count is set per batch of rows,
so the last digits depend on which rows share a batch).

The fits are built from the CDNOW parameter estimates (the MLE on this summary, rounded)
with a covariance of 0.15² on every log-parameter, so no likelihood is compiled here;
the draws of the BG/NBD family's ``a`` straddle 1, where the Beta average of
:mod:`clvmodels.models._special` leaves its closed form for quadrature.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from clvmodels import ESTIMATORS
from clvmodels.clv import ValueSettings, customer_values
from clvmodels.clv.arrays import history_values
from clvmodels.results import FitResult

CDNOW_ESTIMATES = {  # the MLE on the CDNOW calibration summary (39 weeks), rounded
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    "paretonbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
    "nbd": {"r": 0.385, "alpha": 12.072},
    # CDNOW's Gompertz fit degenerates to the Pareto/NBD (b, beta -> 0): a proper one
    "ggompertz": {"r": 0.553, "alpha": 10.578, "b": 0.02, "s": 0.606, "beta": 1.0},
    "bgcnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "k": 2.0},
    "bgbb": {"alpha": 0.489, "beta": 8.512, "gamma": 0.651, "delta": 12.881},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
}
LOG_SD = 0.15


def _fitted(key: str, time_unit: str | None = "W"):
    """An MLE estimator with the CDNOW estimates and a diagonal log-covariance."""
    params = CDNOW_ESTIMATES[key]
    names = tuple(k for k in params if k != "k")  # the BG/CNBD-k's k is fixed (profiled)
    result = FitResult(
        model=key,
        backend="mle",
        param_names=names,
        params=dict(params),
        log_likelihood=0.0,
        n_obs=2357.0,
        n_unique=1.0,
        cov_log=np.eye(len(names)) * LOG_SD**2,
        time_unit=time_unit,
        fixed=tuple(k for k in params if k not in names),
    )
    return ESTIMATORS[key].from_result(result)


def _summary(cdnow_summary: pd.DataFrame, key: str) -> pd.DataFrame:
    frame = cdnow_summary[["frequency", "recency", "T", "monetary_value", "litt"]].copy()
    if key == "bgbb":  # weekly opportunities: n = T, recency = last purchase week
        frame["n"] = np.floor(frame["T"])
        frame["recency"] = np.minimum(np.ceil(frame["recency"]), frame["n"])
        frame["frequency"] = np.minimum(frame["frequency"], frame["recency"])
    return frame


def _per_draw_clv(purchase, spend, frame: pd.DataFrame, settings: ValueSettings) -> np.ndarray:
    """CLV of every customer for every parameter draw, one draw at a time through the
    point-value path (the draws as :func:`customer_values` takes them: purchase model
    first, then the spend model, from one generator seeded with ``settings.seed``)."""
    rng = np.random.default_rng(settings.seed)
    purchase_draws = purchase.result_.parameter_draws(settings.draws, rng)
    spend_draws = spend.result_.parameter_draws(settings.draws, rng)
    rows = {c: frame[c].to_numpy(float) for c in frame.columns}
    links = {"pattern": None, "spend_pattern": None}
    out = np.empty((settings.draws, len(frame)))
    for d in range(settings.draws):
        params = {k: float(v[d]) for k, v in purchase_draws.items()}
        spend_params = {k: float(v[d]) for k, v in spend_draws.items()}
        out[d] = history_values(
            purchase.model_key, params, spend_params, rows, settings, 0.0, links
        )["clv"]
    return out


SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    ("key", "horizon", "every"),
    [
        ("bgnbd", 52.0, 1),
        ("bgnbd", math.inf, 40),
        pytest.param("bgnbd", math.inf, 1, marks=SLOW),
        ("mbgnbd", 52.0, 1),
        ("paretonbd", 52.0, 1),
        ("paretonbd", math.inf, 4),
        ("nbd", 52.0, 1),
        ("ggompertz", 52.0, 4),
        pytest.param("ggompertz", 52.0, 1, marks=SLOW),
        ("bgcnbd", 52.0, 4),
        pytest.param("bgcnbd", 52.0, 1, marks=SLOW),
        ("bgbb", 52.0, 8),
        pytest.param("bgbb", 52.0, 1, marks=SLOW),
    ],
)
def test_mle_interval_equals_per_draw_formula_on_cdnow(cdnow_summary, key, horizon, every):
    """The default interval (central 90 % over parametric draws) on the CDNOW customers
    (every ``every``-th: the slower cases; all 2,357 with the slow suite) equals the
    quantiles of the per-draw CLVs, with 1 and 2 threads alike; the total's interval is
    the quantiles of the per-draw totals (each row counted ``count`` times)."""
    frame = _summary(cdnow_summary, key).iloc[::every]
    frame["count"] = np.arange(len(frame)) % 3 + 1.0
    purchase = _fitted(key, None if key == "bgbb" else "W")
    spend = _fitted("gamma_gamma")
    settings = ValueSettings(horizon=horizon, time_unit="W", draws=40, seed=19)
    per_draw = _per_draw_clv(purchase, spend, frame.drop(columns="count"), settings)
    expected = np.quantile(per_draw, [0.05, 0.95], axis=0)
    totals = np.quantile(per_draw @ frame["count"].to_numpy(), [0.05, 0.95])
    for threads in (1, 2):
        got = customer_values(
            purchase, frame, dataclasses.replace(settings, threads=threads), spend=spend
        )
        np.testing.assert_allclose(got["clv_lower"], expected[0], rtol=1e-9)
        np.testing.assert_allclose(got["clv_upper"], expected[1], rtol=1e-9)
        assert np.all(got["clv_lower"] < got["clv_upper"])
        total = got.attrs["total_clv"]
        np.testing.assert_allclose([total["lower"], total["upper"]], totals, rtol=1e-9)
        assert total["total"] == pytest.approx(got["clv"] @ frame["count"].to_numpy())


def test_threads_do_not_change_the_interval(cdnow_summary):
    """Batches of draws spread over threads: bit for bit the numbers of one thread."""
    frame = _summary(cdnow_summary, "bgnbd")
    purchase, spend = _fitted("bgnbd"), _fitted("gamma_gamma")
    settings = ValueSettings(draws=60, seed=4)
    one = customer_values(purchase, frame, dataclasses.replace(settings, threads=1), spend=spend)
    for threads in (2, 5):
        many = dataclasses.replace(settings, threads=threads)
        pd.testing.assert_frame_equal(one, customer_values(purchase, frame, many, spend=spend))
