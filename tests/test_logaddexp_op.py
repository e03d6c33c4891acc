"""The PyTensor logaddexp evaluated by NumPy: value against NumPy's ``logaddexp``,
gradient against its closed form ``∂/∂u = 1/(1 + exp(v − u))`` (the logistic function),
in PyTensor's C and Python modes; and the NumPy routine behind it and the tape."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.special import expit

from clvmodels.models.logaddexp_op import VectorLogAddExp, logaddexp
from clvmodels.models.logsum import logaddexp_share

PAIRS = np.array(
    [
        (0.0, 0.0),  # a tie: derivative 1/2 each
        (-3.0, 2.0),
        (2.0, -3.0),
        (-1e4, -1e4 + 1e-9),
        (-700.0, 0.0),  # exp(−700) is about 1e-304: still a finite weight
        (0.0, -800.0),  # weight underflows to 0, value stays exact
        (1e300, -1e300),
        (-745.0, -745.5),
        (35.0, 35.0 + 1e-12),
    ]
)


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_logaddexp_value_and_gradient_match_numpy_and_the_logistic_function(mode):
    u, v = pt.dvector("u"), pt.dvector("v")
    total = pt.sum(logaddexp(u, v))
    fn = pytensor.function([u, v], [logaddexp(u, v), *pt.grad(total, [u, v])], mode=mode)
    value, du, dv = fn(PAIRS[:, 0], PAIRS[:, 1])
    np.testing.assert_allclose(value, np.logaddexp(PAIRS[:, 0], PAIRS[:, 1]), rtol=1e-15)
    expected_du = 1.0 / (1.0 + np.exp(np.clip(PAIRS[:, 1] - PAIRS[:, 0], -700, 700)))
    np.testing.assert_allclose(du, expected_du, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(du + dv, 1.0, rtol=1e-15)
    assert du[0] == dv[0] == 0.5


def test_logaddexp_second_derivative_is_the_logistic_density():
    u, v = pt.dscalar("u"), pt.dscalar("v")
    g = pt.grad(logaddexp(u, v), u)
    h = pytensor.function([u, v], pt.grad(g, [u, v]))
    w = 1.0 / (1.0 + np.exp(1.5 - 0.25))
    huu, huv = h(0.25, 1.5)
    assert huu == pytest.approx(w * (1 - w), rel=1e-14)
    assert huv == pytest.approx(-w * (1 - w), rel=1e-14)


def test_logaddexp_broadcasts_like_numpy():
    u = pt.dmatrix("u")
    fn = pytensor.function([u], logaddexp(u, pt.constant(0.5)))
    x = np.linspace(-5, 5, 12).reshape(3, 4)
    np.testing.assert_allclose(fn(x), np.logaddexp(x, 0.5), rtol=1e-15)


def test_default_ops_compile_natively_under_the_default_linker():
    """``pytensor_ops()`` must not hand the default linker an op it cannot compile: under
    Numba (PyTensor ≥ 3's default) the NumPy op would run in object mode with a warning,
    so the portable graph is used there; under the C linker the NumPy op is used."""
    import warnings

    from clvmodels.models.ops import numba_by_default, pytensor_ops

    ops = pytensor_ops()
    u, v = pt.dvector("u"), pt.dvector("v")
    out = ops.logaddexp(u, v)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn = pytensor.function([u, v], [out, pt.grad(pt.sum(out), u)])
        value, du = fn(PAIRS[:4, 0], PAIRS[:4, 1])
    np.testing.assert_allclose(value, np.logaddexp(PAIRS[:4, 0], PAIRS[:4, 1]), rtol=1e-15)
    assert du[0] == 0.5
    vector = any(isinstance(node.op, VectorLogAddExp) for node in fn.maker.fgraph.apply_nodes)
    assert vector is not numba_by_default()


def test_logaddexp_share_matches_numpy_at_infinities_ties_and_nan():
    u = np.array([1.0, -np.inf, np.inf, np.inf, np.nan, 0.0, -np.inf, 3.0])
    v = np.array([2.0, -np.inf, np.inf, 1.0, 1.0, 0.0, 3.0, -np.inf])
    with np.errstate(invalid="ignore"):
        expected = np.logaddexp(u, v)
    out, share = logaddexp_share(u, v)
    np.testing.assert_array_equal(out, expected)
    expected_share = [1 / (1 + np.e), 0.5, 0.5, 1, 0.5, 0, 1]
    np.testing.assert_allclose(share[[0, 1, 2, 3, 5, 6, 7]], expected_share)
    assert share[4] == 0.5  # a NaN is treated as a tie: the value is NaN anyway
    value_only, none = logaddexp_share(1.0, 2.0, share=False)
    assert value_only == pytest.approx(np.logaddexp(1.0, 2.0), rel=1e-15) and none is None


@example(-0.5375044816491827, -0.8478948656525093)  # u, v nearly cancel in the sum
@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(-1e6, 1e6, allow_nan=False),
)
def test_logaddexp_share_is_within_rounding_of_numpy(u, v):
    """Property: the vectorised formula agrees with NumPy's ``logaddexp`` to a few ulp of
    its terms (``max(u, v) + log1p(e)`` may cancel to a result far smaller than them),
    and the share with the logistic function."""
    out, share = logaddexp_share(np.array([u]), np.array([v]))
    expected = np.logaddexp(u, v)
    assert abs(out[0] - expected) <= 4 * np.spacing(max(abs(u), abs(v), abs(expected)))
    assert share[0] == pytest.approx(expit(u - v), rel=1e-12, abs=1e-300)


def test_logaddexp_share_takes_integers_booleans_and_series_as_numpy_does():
    """Expected: ``np.logaddexp`` of the same values as floats (integers must not wrap in
    the subtraction; a pandas Series gives plain arrays to the likelihoods)."""
    import pandas as pd

    for u, v in [
        (np.array([0], np.uint8), np.array([1], np.uint8)),
        (np.array([100], np.int8), np.array([-100], np.int8)),
        (np.int64(2**62), np.int64(-(2**62))),
        (np.array([True]), np.array([False])),
        (pd.Series([0.5, -3.0]), pd.Series([1.0, 2.0])),
    ]:
        expected = np.logaddexp(np.asarray(u, float), np.asarray(v, float))
        out, share = logaddexp_share(u, v)
        np.testing.assert_allclose(out, expected, rtol=1e-15)
        np.testing.assert_allclose(
            share, expit(np.asarray(u, float) - np.asarray(v, float)), rtol=1e-12
        )


def test_logaddexp_share_keeps_single_precision_as_numpy_does():
    """Expected: ``np.logaddexp`` of float32 arrays, in float32."""
    u = np.array([0.5, -3.0, 40.0], np.float32)
    v = np.array([1.0, 2.0, -40.0], np.float32)
    out, share = logaddexp_share(u, v)
    assert out.dtype == share.dtype == np.float32
    np.testing.assert_allclose(out, np.logaddexp(u, v), rtol=1e-6)
    np.testing.assert_allclose(share, expit(u.astype(float) - v), rtol=1e-6)
