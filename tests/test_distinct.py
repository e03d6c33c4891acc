"""Per-distinct-value evaluation (``xp.distinct``) and row grouping.

Expected values: the plain NumPy evaluation of the same likelihood (``xp.distinct`` is a
plain call there) and central differences of it for the gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.backends.compress import factorize_rows
from clvmodels.backends.mle import _objective, log_likelihood_numpy
from clvmodels.models import model_spec


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.floats(-3, 3), st.sampled_from([0.0, 1.5, 2.5])),
        min_size=1,
        max_size=60,
    ),
    st.booleans(),
)
def test_factorize_rows_gives_back_every_row_in_sorted_groups(rows, many_columns):
    columns = [np.array([r[i] for r in rows], dtype=float) for i in range(3)]
    if many_columns:  # pushes the key space past the counting limit: the hashing path
        rng = np.random.default_rng(len(rows))
        columns += [rng.normal(size=len(rows)) for _ in range(3)]
    group, distinct = factorize_rows(columns)
    for col, d in zip(columns, distinct, strict=True):
        np.testing.assert_array_equal(d[group], col)
    keys = list(zip(*distinct, strict=True))
    assert keys == sorted(set(keys))  # one group per distinct row, lexicographic order


def test_factorize_rows_puts_nan_in_a_group_of_its_own():
    col = np.array([1.0, np.nan, 1.0, np.nan, 0.5])
    group, (distinct,) = factorize_rows([col])
    assert group.tolist() == [1, 2, 1, 2, 0]
    assert distinct[0] == 0.5 and distinct[1] == 1.0 and np.isnan(distinct[2])


def _daily_histories(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Histories in whole days (many repeated (x, T) and (x, t_x) pairs), in weeks."""
    t_days = rng.integers(1, 120, n)
    x = rng.poisson(2.0, n).astype(float)
    x[::7] = rng.integers(50, 3000, len(x[::7]))  # a few heavy buyers
    tx_days = np.where(x > 0, np.ceil(rng.uniform(size=n) * t_days), 0.0)
    return {"frequency": x, "recency": tx_days / 7.0, "T": t_days / 7.0}


@pytest.mark.parametrize("key", ["bgnbd", "mbgnbd", "paretonbd"])
@pytest.mark.parametrize(
    "params",
    [
        (0.24, 4.4, 0.79, 2.4),  # CDNOW-like
        (2.0, 0.05, 30.0, 0.2),  # alpha far below beta (Pareto/NBD: quadrature rows)
        (0.01, 300.0, 0.3, 1e-3),  # alpha far above beta
        (50.0, 1.0, 1e-3, 5e3),
    ],
)
def test_distinct_evaluation_equals_numpy_likelihood_and_its_gradient(key, params):
    spec = model_spec(key)
    rng = np.random.default_rng(7)
    data = _daily_histories(rng, 3000)
    weights = rng.integers(1, 4, 3000).astype(float)
    named = dict(zip(spec.param_names, params, strict=True))
    objective = _objective(spec, data, weights)
    theta = np.log(params)
    value, grad = objective(theta)
    expected = log_likelihood_numpy(spec, named, data, weights)
    assert value == pytest.approx(expected, rel=1e-11)
    h = 1e-6
    for i in range(len(theta)):
        step = np.zeros_like(theta)
        step[i] = h
        up, down = (
            log_likelihood_numpy(
                spec,
                dict(zip(spec.param_names, np.exp(theta + sign * step), strict=True)),
                data,
                weights,
            )
            for sign in (1, -1)
        )
        assert grad[i] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-3)
