"""Per-distinct-value evaluation (``xp.distinct``) and row grouping.

Expected values: the plain NumPy evaluation of the same likelihood (``xp.distinct`` is a
plain call there) and central differences of it for the gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.backends.compress import _Encoded, compress_rows, factorize_rows, run_starts
from clvmodels.backends.mle import _objective, log_likelihood_numpy
from clvmodels.backends.posterior import compiled_log_likelihood
from clvmodels.backends.tape import TapedLikelihood
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


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([0.0, -0.0, np.nan, -np.nan, 1.5]),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_one_column_gives_sorted_distinct_values_like_python_equality(values):
    column = np.array(values, dtype=float)
    codes, (distinct,) = factorize_rows([column])
    # every element comes back from its code (NaN as NaN, whatever its sign bit)
    np.testing.assert_array_equal(distinct[codes], column)
    # one code per value as == tells them apart (0.0 and -0.0 are one), every NaN one
    # value, sorted with NaN last
    finite = sorted({v for v in values if v == v})
    expected = [*finite, np.nan] if any(v != v for v in values) else finite
    np.testing.assert_array_equal(distinct, np.array(expected, dtype=float))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(-40, 40), min_size=1, max_size=60),
    st.sampled_from([1.0, 7.0, 30.4375, 365.25]),
    st.lists(st.tuples(st.integers(0, 59), st.floats(allow_nan=True)), max_size=2),
    st.sampled_from(["divide", "multiply"]),
)
def test_whole_numbers_of_a_time_unit_are_coded_like_python_equality(whole, d, odd, how):
    # times in days divided by a unit's days (what a summary writes), sometimes made by a
    # multiplication (not always k/d to the last bit) or with a stray value: the
    # arithmetic coding (and its fallback to hashing) keeps Python's equality and order
    column = np.array(whole, dtype=float) / d if how == "divide" else np.array(whole) * (1 / d)
    for at, value in odd:
        column[at % len(column)] = value
    values = column.tolist()
    codes, (distinct,) = factorize_rows([column])
    np.testing.assert_array_equal(distinct[codes], column)
    finite = sorted({v for v in values if v == v})
    expected = [*finite, np.nan] if any(v != v for v in values) else finite
    np.testing.assert_array_equal(distinct, np.array(expected, dtype=float))
    unique, weights = compress_rows({"t": column, "x": np.abs(column)})
    counted: dict[tuple, int] = {}  # rows in order: numbers ascending, NaN last
    for v in values:
        key = ((0, v), (0, abs(v))) if v == v else ((1, 0.0), (1, 0.0))
        counted[key] = counted.get(key, 0) + 1
    assert weights.tolist() == [counted[k] for k in sorted(counted)]
    pairs = zip(unique["t"], unique["x"], strict=True)
    rows = [((0, t), (0, x)) if t == t else ((1, 0.0), (1, 0.0)) for t, x in pairs]
    assert rows == sorted(counted)


def test_days_and_weeks_are_coded_by_arithmetic_and_other_floats_hashed():
    days = np.concatenate([[0, 3, 9, 3, 273, 0], np.arange(1, 200)])  # 274 codes <= 2n
    weeks = _Encoded.of(days / 7.0)
    assert weeks.rank is None and weeks.codes()[:6].tolist() == [0, 3, 9, 3, 273, 0]
    assert weeks.values[[0, 3, 273]].tolist() == [0.0, 3 / 7, 39.0]
    assert _Encoded.of(days).rank is None  # integers as they are
    assert _Encoded.of(days / 7.0 + 0.01).rank is not None  # not whole sevenths: hashed
    spread = np.array([0, 10**12])  # a range wider than 2n codes: hashed
    assert _Encoded.of(spread).rank is not None
    assert _Encoded.of(spread / 7.0).rank is not None


@pytest.mark.parametrize(
    "column",
    [
        np.array([3, 1, 3, 2], dtype=np.int64),
        np.array([2**63 + 5, 3, 2**63 + 5], dtype=np.uint64),
        np.array([2**63 - 1, 2**63 - 2, 2**63 - 1]),  # int64's largest: hashed, not coded
        np.array([2**63 - 1, 2**63 - 3], dtype=np.uint64),
        np.array([200, 0, 255, 0], dtype=np.uint8),
        np.array([True, False, True]),
        np.array(["b", "a", "b"], dtype=object),
    ],
)
def test_one_column_of_integers_booleans_or_objects(column):
    codes, (distinct,) = factorize_rows([column])
    np.testing.assert_array_equal(distinct[codes], column)
    np.testing.assert_array_equal(distinct, np.unique(column))


def test_a_missing_date_or_none_is_the_last_value_of_its_column():
    dates = np.array(["2020-01-01", "NaT", "2019-01-01"], dtype="datetime64[D]")
    codes, (distinct,) = factorize_rows([dates])
    assert codes.tolist() == [1, 2, 0]
    assert distinct[:2].tolist() == dates[[2, 0]].tolist() and np.isnat(distinct[2])
    codes, (distinct,) = factorize_rows([np.array(["b", None, "a", None], dtype=object)])
    assert codes.tolist() == [1, 2, 0, 2] and distinct.tolist() == ["a", "b", None]


def test_compress_rows_keeps_rows_of_zero_weight_and_sums_the_others():
    data = {"x": np.array([1.0, 0.0, 1.0, 2.0]), "t": np.array([0.5, 0.0, 0.5, -0.0])}
    unique, weights = compress_rows(data, np.array([2.0, 0.0, 3.0, 1.5]))
    assert unique["x"].tolist() == [0.0, 1.0, 2.0]
    assert unique["t"].tolist() == [0.0, 0.5, 0.0]
    assert weights.tolist() == [0.0, 5.0, 1.5]


def test_factorize_rows_hashes_wide_keys_without_overflow():
    # eight columns of 400 distinct values each: 400^8 keys overflow 64 bits, so the
    # key is re-densified on the way (the hashing path)
    rng = np.random.default_rng(3)
    columns = [rng.integers(0, 400, 2000).astype(float) for _ in range(8)]
    group, distinct = factorize_rows(columns)
    for col, d in zip(columns, distinct, strict=True):
        np.testing.assert_array_equal(d[group], col)
    keys = list(zip(*distinct, strict=True))
    assert keys == sorted(set(keys))
    assert len(keys) == len(set(zip(*columns, strict=True)))


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


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=40), st.booleans())
def test_run_starts_give_bincounts_sums_when_the_index_is_sorted(index, sort):
    """Expected: ``np.bincount`` of the gradient; ``run_starts`` answers only for an
    index that lists every group once, in order, and then ``reduceat`` equals it."""
    index = np.array(sorted(index) if sort else index, dtype=np.int64)
    groups = int(index.max()) + 1
    starts = run_starts(index, groups)
    complete_runs = np.array_equal(np.unique(index), np.arange(groups)) and np.all(
        np.diff(index) >= 0
    )
    assert (starts is not None) == bool(complete_runs)
    if starts is not None:
        g = np.random.default_rng(len(index)).normal(size=len(index))
        np.testing.assert_allclose(
            np.add.reduceat(g, starts), np.bincount(index, g, minlength=groups), rtol=1e-13
        )


@pytest.mark.parametrize(("key", "compiled"), [("bgnbd", True), ("paretonbd", False)])
def test_sorted_rows_give_the_value_and_gradient_of_shuffled_rows(key, compiled):
    """Compressed rows come sorted, and the gathers of their leading pairs then take
    the gradient as sums over runs (the tape's ``reduceat``, the compiled graph's
    ``RunGather``); expected: the same rows shuffled, which take the plain gather.
    (The Pareto/NBD's compiled graphs take 20 s each to build: taped only.)"""
    spec = model_spec(key)
    rng = np.random.default_rng(11)
    unique, w = compress_rows(_daily_histories(rng, 4000))
    order = rng.permutation(len(w))
    shuffled = {k: v[order] for k, v in unique.items()}
    theta = np.log(list(spec.initial_params(unique, w).values()))
    pairs = [
        (
            TapedLikelihood(spec.log_likelihood, spec.param_names, unique).objective(w),
            TapedLikelihood(spec.log_likelihood, spec.param_names, shuffled).objective(w[order]),
        )
    ]
    if compiled:
        pairs.append(
            (
                compiled_log_likelihood(spec, unique, w),
                compiled_log_likelihood(spec, shuffled, w[order]),
            )
        )
    for sorted_fn, shuffled_fn in pairs:
        value, grad = sorted_fn(theta)
        expected_value, expected_grad = shuffled_fn(theta)
        assert value == pytest.approx(expected_value, rel=1e-12)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-10)


def test_run_starts_refuse_unsigned_disorder_and_groups_out_of_range():
    assert run_starts(np.array([0, 2, 1], dtype=np.uint64), 3) is None
    assert run_starts(np.array([0, 0, 2, 2]), 2) is None
    assert run_starts(np.array([0, 0, 1], dtype=np.uint32), 2).tolist() == [0, 2]


def test_run_gather_has_the_value_and_gradient_of_a_plain_gather():
    import pytensor
    import pytensor.tensor as pt

    from clvmodels.backends.run_gather import RunGather, run_gather

    index = np.array([0, 0, 1, 2, 2, 2, 3])
    values, weights = pt.dvector("values"), np.arange(1.0, 8.0)
    ours = run_gather(pt.exp(values), index, run_starts(index, 4))
    plain = pt.exp(values)[index]
    fn = pytensor.function(
        [values],
        [ours, plain, *(pt.grad(pt.sum(weights * g), values) for g in (ours, plain))],
    )
    at = np.array([0.1, -0.4, 1.3, 0.0])
    gathered, expected, grad, expected_grad = fn(at)
    np.testing.assert_array_equal(gathered, expected)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-15)
    assert any(isinstance(n.op, RunGather) for n in fn.maker.fgraph.apply_nodes)


def test_run_gather_has_the_second_derivatives_of_a_plain_gather():
    """The gradient of ``RunGather`` (``RunSum``) has a gradient in turn: the Hessian of
    a weighted sum of gathered terms, against the plain gather's."""
    import pytensor
    import pytensor.tensor as pt

    from clvmodels.backends.run_gather import run_gather

    index = np.array([0, 0, 1, 2, 2, 2, 3])
    values, weights = pt.dvector("values"), np.arange(1.0, 8.0)
    hessians = [
        pytensor.gradient.hessian(pt.sum(weights * pt.exp(gathered) ** 2), values)
        for gathered in (run_gather(values, index, run_starts(index, 4)), values[index])
    ]
    ours, expected = pytensor.function([values], hessians)(np.array([0.1, -0.4, 1.3, 0.0]))
    np.testing.assert_allclose(ours, expected, rtol=1e-14)


def test_a_nested_distinct_term_is_evaluated_once_per_distinct_value():
    """``xp.distinct(g, x)`` inside ``xp.distinct(f, x, T)``: ``g`` sees each distinct
    ``x`` once; expected: the plain NumPy evaluation and its central differences."""
    data = _daily_histories(np.random.default_rng(5), 3000)
    sizes = []

    def likelihood(r, alpha, *, frequency, recency, T, xp):
        def per_x(x):
            sizes.append(len(xp_value(x)))
            return xp.gammaln(r + x) - x * xp.log(alpha)

        def per_pair(x, t):
            return xp.distinct(per_x, x) - (r + x) * xp.log(alpha + t)

        return xp.distinct(per_pair, frequency, T) + 0.0 * recency

    def xp_value(x):
        return getattr(x, "value", x)

    taped = TapedLikelihood(likelihood, ("r", "alpha"), data).objective(np.ones(3000))
    theta = np.log([0.7, 3.0])
    value, grad = taped(theta)
    assert sizes == [len(np.unique(data["frequency"]))]
    plain = log_likelihood_numpy(_spec_of(likelihood), {"r": 0.7, "alpha": 3.0}, data)
    assert value == pytest.approx(plain, rel=1e-12)
    h = 1e-6
    for i in range(2):
        step = np.zeros(2)
        step[i] = h
        up, down = taped(theta + step)[0], taped(theta - step)[0]
        assert grad[i] == pytest.approx((up - down) / (2 * h), rel=1e-6)


def test_a_distinct_term_of_rows_and_distinct_values_together_is_evaluated_as_given():
    """A term over a data column and a distinct column of another term cannot be
    grouped (their elements do not line up): it is a plain call, even when every row is
    distinct and the lengths agree."""
    data = {"x": np.array([0.0, 1.0, 2.0]), "t": np.array([1.0, 2.0, 3.0])}
    seen = []

    def likelihood(r, *, x, t, xp):
        def per_pair(px, pt_):
            return xp.distinct(lambda a, b: seen.append((a, b)) or a * r + b, px, t)

        return xp.distinct(per_pair, x, t)

    taped = TapedLikelihood(likelihood, ("r",), data).objective(np.ones(3))
    value, _ = taped(np.zeros(1))
    assert value == pytest.approx(float(np.sum(data["x"] + data["t"])))
    assert seen and seen[0][1] is data["t"]  # the rows' own column, not regrouped


def _spec_of(likelihood):
    from clvmodels.models.spec import ModelSpec

    return ModelSpec(
        key="nested",
        name="nested distinct (test model)",
        param_names=("r", "alpha"),
        rate_params=(),
        data_columns=("frequency", "recency", "T"),
        log_likelihood=likelihood,
        initial_params=lambda data, w: {"r": 1.0, "alpha": 1.0},
        reference="test",
    )
