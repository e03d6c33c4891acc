"""The event-level BG/NBD simulator ``bgnbd.simulate_purchase_times`` (FHL 2005 section 2):
its purchase times summarise to the distribution of ``bgnbd.simulate`` and of the model."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from clvmodels.backends.mle import fit_mle
from clvmodels.models import bgnbd

# CDNOW-like parameters (FHL 2005 Table 1 rounded), weeks
PARAMS = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}


def _summary(customer: np.ndarray, time: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequency and recency of every customer from the purchase times."""
    frequency = np.bincount(customer, minlength=n).astype(float)
    recency = np.zeros(n)
    np.maximum.at(recency, customer, time)
    return frequency, recency


def test_summaries_match_simulate_and_the_expected_purchases_of_fhl_2005_eq_7():
    n, horizon = 40_000, 39.0
    customer, time = bgnbd.simulate_purchase_times(
        **PARAMS, T=np.full(n, horizon), rng=np.random.default_rng(11)
    )
    frequency, recency = _summary(customer, time, n)
    reference = bgnbd.simulate(n, **PARAMS, T=horizon, rng=np.random.default_rng(12))
    expected = float(bgnbd.expected_purchases(horizon, **PARAMS))
    for ours, theirs in (
        (frequency, reference["frequency"]),
        (recency, reference["recency"]),
        (frequency == 0, reference["frequency"] == 0),
        (np.minimum(frequency, 3), np.minimum(reference["frequency"], 3)),
    ):
        ours, theirs = ours.astype(float), theirs.astype(float)
        se = np.sqrt((ours.var() + theirs.var()) / n)  # of the difference of the two means
        assert abs(ours.mean() - theirs.mean()) < 4.0 * se
    assert abs(frequency.mean() - expected) < 4.0 * frequency.std() / np.sqrt(n)


def test_maximum_likelihood_recovers_the_parameters_within_3_standard_errors():
    n = 20_000
    rng = np.random.default_rng(5)
    T = rng.uniform(26.0, 78.0, size=n)  # customers joining over half a year
    customer, time = bgnbd.simulate_purchase_times(**PARAMS, T=T, rng=rng)
    frequency, recency = _summary(customer, time, n)
    fit = fit_mle(bgnbd.SPEC, {"frequency": frequency, "recency": recency, "T": T})
    for name, value in PARAMS.items():
        assert abs(fit.params[name] - value) < 3.0 * fit.std_err[name], name


def test_per_customer_parameters_give_each_customer_her_own_rate():
    # two groups that differ only in alpha: the mean counts are E[X(T)] of each group
    n = 30_000
    alpha = np.where(np.arange(n) < n // 2, 2.0, 8.0)
    customer, time = bgnbd.simulate_purchase_times(
        r=0.5, alpha=alpha, a=1.5, b=4.0, T=np.full(n, 52.0), rng=np.random.default_rng(3)
    )
    frequency, _ = _summary(customer, time, n)
    for group, value in ((slice(0, n // 2), 2.0), (slice(n // 2, n), 8.0)):
        x = frequency[group]
        expected = float(bgnbd.expected_purchases(52.0, r=0.5, alpha=value, a=1.5, b=4.0))
        assert abs(x.mean() - expected) < 4.0 * x.std() / np.sqrt(x.size)


def test_same_seed_same_purchases():
    kwargs = {**PARAMS, "T": np.linspace(1.0, 78.0, 500)}
    first = bgnbd.simulate_purchase_times(**kwargs, rng=np.random.default_rng(8))
    second = bgnbd.simulate_purchase_times(**kwargs, rng=np.random.default_rng(8))
    for x, y in zip(first, second, strict=True):
        np.testing.assert_array_equal(x, y)


@given(
    r=st.floats(0.01, 5.0),
    alpha=st.floats(0.05, 50.0),
    a=st.floats(0.05, 5.0),
    b=st.floats(0.05, 5.0),
    n=st.integers(1, 50),
    seed=st.integers(0, 2**32 - 1),
)
def test_purchases_are_sorted_inside_each_window(r, alpha, a, b, n, seed):
    rng = np.random.default_rng(seed)
    T = rng.uniform(0.0, 60.0, size=n)
    customer, time = bgnbd.simulate_purchase_times(r=r, alpha=alpha, a=a, b=b, T=T, rng=rng)
    assert customer.dtype == np.int64 and customer.shape == time.shape
    assert np.all((customer >= 0) & (customer < n))
    assert np.all((time > 0) & (time <= T[customer]))
    order = np.lexsort((time, customer))
    np.testing.assert_array_equal(order, np.arange(customer.size))
