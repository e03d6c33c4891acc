"""The fused PyTensor logaddexp: value against NumPy's ``logaddexp``, gradient against
its closed form ``∂/∂u = 1/(1 + exp(v − u))`` (the logistic function), in compiled C
and in PyTensor's Python mode."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from clvmodels.models.logaddexp_op import logaddexp

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
    Numba (PyTensor ≥ 3's default) the fused op would run in object mode with a warning,
    so the portable graph is used there; under the C linker the fused op is used."""
    import warnings

    from clvmodels.models.ops import _numba_by_default, pytensor_ops

    ops = pytensor_ops()
    u, v = pt.dvector("u"), pt.dvector("v")
    out = ops.logaddexp(u, v)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn = pytensor.function([u, v], [out, pt.grad(pt.sum(out), u)])
        value, du = fn(PAIRS[:4, 0], PAIRS[:4, 1])
    np.testing.assert_allclose(value, np.logaddexp(PAIRS[:4, 0], PAIRS[:4, 1]), rtol=1e-15)
    assert du[0] == 0.5
    fused = out.owner is not None and "LogAddExp" in type(out.owner.op.scalar_op).__name__
    assert fused is not _numba_by_default()
