"""The BG/NBD kernel ``E_p[(1 − (1 + p s)^(−r)) / p]``, ``p ~ Beta(a, b)``, near ``a = 1``.

Expected values: mpmath's ``hyp2f1`` at 60 digits in FHL 2005 eq. (7),
``c/(a−1) · (1 − 2F1(r, a−1; c; −s))`` with ``c = a + b − 1`` (at ``a = 1`` exactly, eq. 7
at ``a = 1 + 1e-45`` with 110 digits, whose error is ~1e-45), on grids covering ``a`` in
``1 ± 1e-2`` (and exactly 1), ``b`` (``b + x`` of a posterior) from 0.5 to 200, ``s`` up
to 32 and tiny to large horizons; and the logit quadrature of
:mod:`clvmodels.models._special` (an independent route, ~1e-13 against mpmath) for the
property tests.
"""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.models import _special
from clvmodels.models._special import beta_average_expected

RTOL = 1e-10  # what beta_average_expected promises


def _mpmath_eq7(s: float, r: float, a: float, b: float) -> float:
    """FHL 2005 eq. (7) in mpmath (60 digits; 110 at a = 1, through a = 1 + 1e-45)."""
    digits = 110 if a == 1.0 else 60
    with mpmath.workdps(digits):
        s_, r_, b_ = mpmath.mpf(s), mpmath.mpf(r), mpmath.mpf(b)
        eps = mpmath.mpf("1e-45") if a == 1.0 else mpmath.mpf(a) - 1
        c = b_ + eps
        return float(c / eps * (1 - mpmath.hyp2f1(r_, eps, c, -s_)))


NEAR_ONE = (1.0, 1.0 - 1e-12, 1.0 + 1e-9, 1.0 - 3e-6, 1.0 + 2e-4, 1.0 - 4e-3, 1.0 + 1e-2)
B_PLUS_X = (0.5, 2.4259, 31.4259, 200.0)
S_VALUES = (1e-6, 0.3, 1.7, 5.0, 32.0)  # s = t/(α+T): a day ... a long horizon
R_PLUS_X = (0.2426, 2.2426, 29.2426)  # CDNOW's r + x for x = 0, 2, 29
GRID = list(itertools.product(NEAR_ONE, B_PLUS_X, S_VALUES, R_PLUS_X))


def test_kernel_near_a_equal_one_matches_mpmath_eq7_on_the_grid():
    s, r, a, b = (np.array(v) for v in zip(*[(s, r, a, b) for a, b, s, r in GRID], strict=True))
    got = beta_average_expected(s, r, a, b)
    expected = np.array([_mpmath_eq7(*cell) for cell in zip(s, r, a, b, strict=True)])
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


def test_positive_series_matches_mpmath_eq7_for_a_up_to_two_and_large_b():
    rng = np.random.default_rng(20261207)
    n = 60
    a = np.exp(rng.uniform(np.log(0.05), np.log(2.0), n))
    b = np.exp(rng.uniform(np.log(0.5), np.log(1000.0), n))
    s = np.exp(rng.uniform(np.log(1e-3), np.log(32.0), n))
    r = np.exp(rng.uniform(np.log(0.05), np.log(60.0), n))
    value, ok = _special._z_series(s, r, a, b)
    assert ok.mean() > 0.8  # rejected only where r ≫ a + b − 1
    cells = zip(s[ok], r[ok], a[ok], b[ok], strict=True)
    expected = np.array([_mpmath_eq7(*cell) for cell in cells])
    np.testing.assert_allclose(value[ok], expected, rtol=RTOL, atol=0)


def test_positive_series_rejects_terms_of_both_signs_instead_of_returning_garbage():
    # a + b < 1 and r ≫ |c|: (c−r)_k/(c)_k reaches ~1e30 and the terms cancel
    value, ok = _special._z_series(*(np.array([v]) for v in (6.673, 116.1, 0.02081, 0.1411)))
    assert not ok[0] and np.isnan(value[0])
    got = beta_average_expected(6.673, 116.1, 0.02081, 0.1411)
    assert float(got) == pytest.approx(_mpmath_eq7(6.673, 116.1, 0.02081, 0.1411), rel=RTOL)


def test_closed_form_with_one_hyp2f1_avoids_scipys_near_integer_branch():
    # a − 1 − r within 1e-5 of an integer: SciPy's hyp2f1 erred by 3e-7 here (z → 1)
    s, r, a, b = 457.3, 0.09132, 2.09133, 76.91
    got = beta_average_expected(s, r, a, b)
    assert float(got) == pytest.approx(_mpmath_eq7(s, r, a, b), rel=RTOL)


@settings(max_examples=60, deadline=None)
@given(
    offset=st.floats(-1e-2, 1e-2),
    b=st.floats(0.5, 200.0),
    s=st.floats(1e-3, 32.0),
    r=st.floats(0.05, 60.0),
)
def test_kernel_near_one_agrees_with_the_logit_quadrature(offset, b, s, r):
    args = [np.array([v]) for v in (s, r, 1.0 + offset, b)]
    quadrature, ok = _special._logit_quadrature(*args)
    assert ok[0]
    assert float(beta_average_expected(*args)[0]) == pytest.approx(quadrature[0], rel=RTOL)


@settings(max_examples=60, deadline=None)
@given(
    b=st.floats(0.5, 200.0),
    s=st.floats(1e-3, 30.0),
    r=st.floats(0.05, 60.0),
    step=st.floats(1e-6, 5e-2),
)
def test_kernel_falls_as_a_rises_through_one_and_rises_with_s(b, s, r, step):
    # h(p) = (1 − (1+ps)^(−r))/p falls in p and Beta(a, b) rises stochastically in a;
    # h rises in s.  Rounding (1e-10 relative) is allowed for.
    a = np.array([1.0 - step, 1.0, 1.0 + step])
    across = beta_average_expected(s, r, a, b)
    assert np.all(np.diff(across) <= 1e-10 * across[:-1])
    longer = beta_average_expected(np.array([s, s * 1.1]), r, 1.0, b)
    assert longer[1] >= longer[0] * (1.0 - 1e-10)
    assert 0.0 < across[1] <= r * s * (1.0 + 1e-10)  # E[X(t)] ≤ E[N(t)]
