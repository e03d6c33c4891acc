"""The taped gradient (clvmodels.backends.tape) against independent derivatives.

Sources of the expected values: central finite differences of the NumPy likelihood
(every model written against ``xp``), PyTensor's symbolic gradient of the same
expression (BG/NBD), mpmath's numerical derivatives of 2F1 (the series partials), and
finite differences again for each elementary operation (hypothesis).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.backends.design import FitRows
from clvmodels.backends.tape import Tape, TapedLikelihood
from clvmodels.backends.tape import tape_ops as make_tape_ops
from clvmodels.backends.tape_special import hyp2f1_partials
from clvmodels.models import (
    bgbb,
    bgcnbd,
    bgnbd,
    gamma_gamma,
    ggompertz,
    mbgcnbd,
    mbgnbd,
    model_spec,
    paretonbd,
    sbg,
)
from clvmodels.models.ops import numpy_ops


def _purchases(module, rng, **params):
    sim = module.simulate(150, T=rng.uniform(20, 40, 150).round(1), rng=rng, **params)
    return {k: np.asarray(v, float) for k, v in sim.items()}


def _data(key: str) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Small simulated data of ``key`` and parameters near (not at) its truth."""
    rng = np.random.default_rng(7)
    if key in ("bgnbd", "mbgnbd", "nbd"):
        p = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
        data = _purchases(mbgnbd if key == "mbgnbd" else bgnbd, rng, **p)
        return data, ({"r": 0.6, "alpha": 5.0} if key == "nbd" else p | {"a": 0.9})
    if key == "paretonbd":
        p = {"r": 0.55, "alpha": 10.6, "s": 0.6, "beta": 11.7}
        return _purchases(paretonbd, rng, **p), p | {"alpha": 60.0, "beta": 3.0}  # quadrature
    if key == "ggompertz":
        p = {"r": 0.5, "alpha": 5.0, "b": 0.05, "s": 0.8, "beta": 8.0}
        return _purchases(ggompertz, rng, **p), p
    if key in ("bgcnbd", "mbgcnbd"):
        p = {"r": 0.9, "alpha": 3.0, "a": 0.8, "b": 2.5}
        module = bgcnbd if key == "bgcnbd" else mbgcnbd
        return _purchases(module, rng, k=1, **p), p
    if key == "bgbb":
        p = {"alpha": 1.2, "beta": 0.8, "gamma": 0.6, "delta": 2.7}
        sim = bgbb.simulate(150, n_periods=6, rng=rng, **p)
        return {k: np.asarray(v, float) for k, v in sim.items()}, p
    if key == "gamma_gamma":
        x = rng.integers(1, 8, 150).astype(float)
        sim = gamma_gamma.simulate(150, p=6.0, q=3.7, gamma=15.0, frequency=x, rng=rng)
        return {"frequency": x, "monetary_value": np.asarray(sim["monetary_value"])}, {
            "p": 6.0,
            "q": 3.7,
            "gamma": 15.0,
        }
    sim = sbg.simulate(150, alpha=0.7, beta=1.3, n_periods=8, rng=rng)
    return {k: np.asarray(v, float) for k, v in sim.items()}, {"alpha": 0.7, "beta": 1.3}


MODELS = ["bgnbd", "mbgnbd", "nbd", "paretonbd", "ggompertz", "bgcnbd", "mbgcnbd", "bgbb"]
MODELS += ["gamma_gamma", "sbg"]


def _numpy_total(spec, data, w, theta):
    params = {k: np.exp(t) for k, t in zip(spec.param_names, theta, strict=True)}
    return float(np.sum(w * spec.log_likelihood(**params, **data, xp=numpy_ops)))


@pytest.mark.parametrize("key", MODELS)
def test_tape_gradient_matches_finite_differences_of_the_numpy_likelihood(key):
    spec = model_spec(key)
    raw, params = _data(key)
    rows = FitRows.of(spec, {c: raw[c] for c in spec.data_columns})
    theta = np.log([params[k] for k in spec.param_names])
    taped = TapedLikelihood(spec.log_likelihood, spec.param_names, rows.rows)
    value, grad = taped.objective(rows.weights)(theta)
    assert taped.value(rows.weights)(theta) == value
    assert value == pytest.approx(_numpy_total(spec, rows.rows, rows.weights, theta), rel=1e-13)
    step = 1e-5
    for i in range(len(theta)):
        e = np.zeros_like(theta)
        e[i] = step
        up = _numpy_total(spec, rows.rows, rows.weights, theta + e)
        down = _numpy_total(spec, rows.rows, rows.weights, theta - e)
        assert grad[i] == pytest.approx((up - down) / (2 * step), rel=2e-6, abs=1e-6)


def test_tape_gradient_equals_pytensor_symbolic_gradient_bgnbd():
    from clvmodels.backends.compiled import compiled

    spec = model_spec("bgnbd")
    raw, params = _data("bgnbd")
    rows = FitRows.of(spec, {c: raw[c] for c in spec.data_columns})
    theta = np.log([params[k] for k in spec.param_names])
    fn, distinct = compiled(spec.key, spec.log_likelihood, spec.param_names, tuple(rows.rows))
    inputs = [rows.rows[c] for c in rows.rows] + distinct.values(rows.rows)
    expected_value, expected_grad = fn(theta, rows.weights, *inputs)
    taped = TapedLikelihood(spec.log_likelihood, spec.param_names, rows.rows)
    value, grad = taped.objective(rows.weights)(theta)
    assert taped.value(rows.weights)(theta) == value
    assert value == pytest.approx(float(expected_value), rel=1e-12)
    # the two digamma implementations (SciPy's, PyTensor's C) differ in the last digits; a
    # gradient entry sums 150 terms of order one with cancellation
    np.testing.assert_allclose(grad, np.asarray(expected_grad), rtol=1e-9, atol=1e-8)


@pytest.mark.parametrize(
    ("a", "b", "c", "z"),
    [(1.0, 2.3, 4.1, 0.3), (1.0, 0.7, 1.9, 0.74), (1.2, 3.5, 2.2, -0.6), (0.5, 1.5, 3.0, 0.97)],
)
def test_hyp2f1_partials_match_mpmath_derivatives(a, b, c, z):
    got = hyp2f1_partials(a, b, c, z, wanted=(True, True, True, True))
    f = mpmath.hyp2f1
    expected = [
        mpmath.diff(lambda v: f(v, b, c, z), a),
        mpmath.diff(lambda v: f(a, v, c, z), b),
        mpmath.diff(lambda v: f(a, b, v, z), c),
        mpmath.diff(lambda v: f(a, b, c, v), z),
    ]
    for g, e in zip(got, expected, strict=True):
        assert float(g) == pytest.approx(float(e), rel=1e-9)


def _taped_scalar(build, x: float) -> tuple[float, float]:
    tape = Tape()
    leaf = tape.leaf(np.array([x]))
    out = make_tape_ops().sum(build(leaf[0]))
    return float(out.value), float(tape.gradient(out, leaf)[0])


ELEMENTARY = {
    "log": lambda xp, v: xp.log(v),
    "log1p": lambda xp, v: xp.log1p(v),
    "expm1": lambda xp, v: xp.expm1(v / 4.0),
    "sqrt": lambda xp, v: xp.sqrt(v),
    "gammaln": lambda xp, v: xp.gammaln(v),
    "logaddexp": lambda xp, v: xp.logaddexp(v, 1.0 / v),
    "where": lambda xp, v: xp.where(v > 1.0, v * v, 3.0 * v),
    "maximum": lambda xp, v: xp.maximum(v, 2.0) + xp.minimum(v * v, 3.0),
    "power": lambda xp, v: v**2.5 + 2.0**v,
    "division": lambda xp, v: 3.0 / v - v / 7.0,
    "log1mexp": lambda xp, v: xp.log1mexp(-v),
    "logsumexp": lambda xp, v: xp.logsumexp(xp.log(v) * np.array([1.0, 2.0, 0.5])),
    "cumsum": lambda xp, v: xp.cumsum(v * np.array([1.0, 2.0, 3.0]), 0),
    "hyp2f1": lambda xp, v: xp.hyp2f1(1.0, v, v + 1.5, v / (v + 2.0)),
    "broadcast": lambda xp, v: (v * np.ones((3, 1)) + np.arange(2.0)) @ np.array([1.0, -2.0]),
    "subset_apply": lambda xp, v: xp.subset_apply(
        np.array([True, False, True]), lambda u, s: xp.exp(u * s), v * np.ones(3), v, np.arange(3.0)
    ),
}


@pytest.mark.parametrize("name", sorted(ELEMENTARY))
@settings(max_examples=10, deadline=None)
@given(x=st.floats(0.3, 6.0))
def test_elementary_operations_match_finite_differences(name, x):
    build = ELEMENTARY[name]
    tape_xp = make_tape_ops()
    value, grad = _taped_scalar(lambda v: build(tape_xp, v), x)

    def plain(v: float) -> float:
        return float(np.sum(build(numpy_ops, np.float64(v))))

    assert value == pytest.approx(plain(x), rel=1e-12)
    h = 1e-6 * max(1.0, x)
    assert grad == pytest.approx((plain(x + h) - plain(x - h)) / (2 * h), rel=1e-5, abs=1e-7)


def test_distinct_terms_are_evaluated_once_per_value_and_gathered():
    calls = []
    data = {"x": np.array([1.0, 2.0, 1.0, 2.0, 3.0])}

    def term(x):
        calls.append(len(x))
        return x * x

    from clvmodels.backends.tape import DistinctData

    out = DistinctData(data)(term, data["x"])
    np.testing.assert_array_equal(out, data["x"] ** 2)
    assert calls == [3]


def test_paretonbd_gradient_at_alpha_equal_beta_matches_finite_differences():
    # abs(α − β) has slope 0 at the tie; the likelihood is smooth across it (review finding)
    spec = model_spec("paretonbd")
    raw, _ = _data("paretonbd")
    rows = FitRows.of(spec, {c: raw[c] for c in spec.data_columns})
    theta = np.log([0.5, 7.0, 1.5, 7.0])
    taped = TapedLikelihood(spec.log_likelihood, spec.param_names, rows.rows)
    _, grad = taped.objective(rows.weights)(theta)
    for i in range(4):
        e = np.zeros(4)
        e[i] = 1e-6
        up = _numpy_total(spec, rows.rows, rows.weights, theta + e)
        down = _numpy_total(spec, rows.rows, rows.weights, theta - e)
        assert grad[i] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-5)


def test_var_comparisons_and_edge_operations_behave_as_numpy():
    tape = Tape()
    v = tape.leaf(np.array([0.0, 2.0, 3.0]))
    assert (v == 0.0).tolist() == [True, False, False]
    assert (v != 2.0).tolist() == [True, False, True]
    out = make_tape_ops().sum(v[np.array([-1, 0, 1])] * 2.0 + v**2.0)
    np.testing.assert_array_equal(tape.gradient(out, v), [2.0, 6.0, 8.0])
    tape = Tape()
    w = tape.leaf(np.array([1.0, 2.0]))
    total = make_tape_ops().sum(make_tape_ops().cumsum(w * np.ones((2, 2))))  # flattened
    np.testing.assert_array_equal(tape.gradient(total, w), [6.0, 4.0])


def test_value_only_subset_apply_in_chunks_equals_one_block(monkeypatch):
    from clvmodels.backends import tape

    spec = model_spec("paretonbd")
    raw, _ = _data("paretonbd")
    rows = FitRows.of(spec, {c: raw[c] for c in spec.data_columns})
    theta = np.log([0.55, 60.0, 0.6, 3.0])  # y* = 57/0.75 − 60 = 16: quadrature rows
    assert (rows.rows["recency"] < np.minimum(rows.rows["T"], 16.0)).sum() > 20
    taped = TapedLikelihood(spec.log_likelihood, spec.param_names, rows.rows)
    whole = taped.value(rows.weights)(theta)
    monkeypatch.setattr(tape, "SUBSET_CHUNK", 7)
    assert taped.value(rows.weights)(theta) == pytest.approx(whole, rel=1e-14)
    assert whole == pytest.approx(taped.objective(rows.weights)(theta)[0], rel=1e-14)


def test_an_evaluation_leaves_no_cycle_for_the_garbage_collector(monkeypatch):
    import gc
    import weakref

    import clvmodels.backends.tape as tape_module

    made = []

    class Recorded(Tape):
        def __init__(self) -> None:
            super().__init__()
            made.append(weakref.ref(self))

    monkeypatch.setattr(tape_module, "Tape", Recorded)
    rng = np.random.default_rng(4)
    data = {
        "frequency": rng.integers(0, 5, 50).astype(float),
        "recency": rng.uniform(0, 20, 50),
        "T": np.full(50, 30.0),
    }
    data["recency"] = np.where(data["frequency"] > 0, data["recency"], 0.0)
    objective = TapedLikelihood(bgnbd.log_likelihood, bgnbd.SPEC.param_names, data).objective(
        np.ones(50)
    )
    enabled = gc.isenabled()
    gc.disable()
    try:
        objective(np.log([0.5, 5.0, 0.8, 2.0]))
        assert len(made) == 1 and made[0]() is None  # freed by reference counting alone
    finally:
        if enabled:
            gc.enable()
