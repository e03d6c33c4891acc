"""Per-customer values interpolated along ``T`` (issue 22): :func:`clvmodels.clv.arrays.
smooth_in_time`.

Expected values: the direct evaluation — the model's ``discounted_active_purchases`` and
``active_expected_purchases`` called on every distinct ``(x, T)`` pair, as
:func:`clvmodels.clv.arrays.purchase_arrays` did before the interpolation — which the
interpolated values must match to 1e-11 relative (CDNOW: ~1e-13), and polynomials in
``T`` of degree at most :data:`~clvmodels.clv.arrays.SMOOTH_DEGREE`, which the
interpolant reproduces to rounding.  The parameters are the CDNOW estimates of
``tests/test_interval_speedup.py`` (the MLE on this summary, rounded).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clvmodels.backends.compress import factorize_rows
from clvmodels.clv import ValueSettings
from clvmodels.clv.arrays import SMOOTH_DEGREE, SMOOTH_MIN_PAIRS, purchase_arrays, smooth_in_time
from clvmodels.models import model_module

CDNOW_ESTIMATES = {  # as tests/test_interval_speedup.py
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    "paretonbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
}


def _draws(key: str, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` draws of the CDNOW estimates, each log-parameter moved by N(0, 0.15²), as
    ``(n, 1)`` arrays (the shape :mod:`clvmodels.clv.draws` passes)."""
    rng = np.random.default_rng(seed)
    return {
        k: v * np.exp(0.15 * rng.standard_normal((n, 1))) for k, v in CDNOW_ESTIMATES[key].items()
    }


def _direct(key: str, params, rows, settings: ValueSettings) -> dict[str, np.ndarray]:
    """Expected purchases and DERT with the active quantities evaluated on every
    distinct ``(x, T)`` pair (no interpolation)."""
    module = model_module(key)
    x, t_x, big_t = (np.asarray(rows[c], dtype=float) for c in ("frequency", "recency", "T"))
    alive = module.probability_alive(x, t_x, big_t, **params)
    group, (px, pt) = factorize_rows([x, big_t])
    future = module.active_expected_purchases(settings.count_horizon, px, pt, **params)
    discounted = module.discounted_active_purchases(
        px, pt, **params, delta=settings.delta, horizon=settings.horizon
    )
    return {
        "expected_purchases": alive * future[..., group],
        "dert": alive * discounted[..., group],
    }


@pytest.mark.parametrize("horizon", [52.0, math.inf])
@pytest.mark.parametrize("key", ["bgnbd", "mbgnbd", "paretonbd"])
def test_cdnow_values_over_draws_equal_the_direct_evaluation(cdnow_summary, key, horizon):
    """Expected purchases and DERT of the CDNOW customers over 8 parameter draws: within
    1e-11 (relative) of the direct per-pair evaluation, in fewer model evaluations."""
    rows = {c: cdnow_summary[c].to_numpy(float) for c in ("frequency", "recency", "T")}
    settings = ValueSettings(horizon=horizon, time_unit="W")
    params = _draws(key, 8, seed=22)
    got = purchase_arrays(key, params, rows, settings)
    expected = _direct(key, params, rows, settings)
    for name in ("expected_purchases", "dert"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-11, atol=0)


def test_cdnow_bgnbd_dert_evaluates_fewer_pairs(cdnow_summary, monkeypatch):
    """CDNOW's 464 distinct ``(x, T)`` pairs (84 ``T`` for ``x = 0``) cost the DERT
    integral 144 pairs: 8 frequencies × 13 Chebyshev points and 40 pairs directly."""
    rows = {c: cdnow_summary[c].to_numpy(float) for c in ("frequency", "recency", "T")}
    module = model_module("bgnbd")
    evaluated: list[int] = []
    original = module.discounted_active_purchases

    def counted(frequency, T, **kwargs):
        evaluated.append(np.size(T))
        return original(frequency, T, **kwargs)

    monkeypatch.setattr(module, "discounted_active_purchases", counted)
    settings = ValueSettings().resolved("W")  # one year
    purchase_arrays("bgnbd", _draws("bgnbd", 4, 1), rows, settings)
    assert len(factorize_rows([rows["frequency"], rows["T"]])[1][0]) == 464
    assert evaluated == [8 * (SMOOTH_DEGREE + 1), 40]


def test_wide_range_of_t_is_split_or_evaluated_directly():
    """``T`` from 0 to 300 with ``α = 0.5`` (a singularity at ``T = −α``, next to the
    range): the panels fail the coefficient test and are halved, the rest evaluated
    directly; the values stay within 1e-11 of the direct evaluation."""
    params = {"r": 0.243, "alpha": 0.5, "a": 0.793, "b": 2.426}
    module = model_module("bgnbd")
    big_t = np.concatenate([np.linspace(0.0, 300.0, 200), np.linspace(0.0, 300.0, 40)])
    pairs = {"frequency": np.repeat([0.0, 4.0], [200, 40]), "T": big_t}
    settings = {"delta": 0.0018, "horizon": math.inf}

    def evaluate(rows):
        return module.discounted_active_purchases(
            rows["frequency"], rows["T"], **params, **settings
        )

    direct = evaluate(pairs)
    np.testing.assert_allclose(smooth_in_time(evaluate, pairs), direct, rtol=1e-11, atol=0)


def test_a_jump_in_t_is_never_interpolated_across():
    """A function with a jump at ``T = 20.5``: the panel holding it fails the coefficient
    test and is halved; each half, a polynomial, is interpolated to rounding."""
    pairs = {"frequency": np.zeros(60), "T": np.linspace(1.0, 40.0, 60)}

    def evaluate(rows):
        return np.where(rows["T"] < 20.5, 1.0, 2.0) + rows["T"] ** 2

    np.testing.assert_allclose(smooth_in_time(evaluate, pairs), evaluate(pairs), rtol=1e-12)


def test_few_rows_per_group_are_evaluated_as_they_are():
    """Fewer than ``SMOOTH_MIN_PAIRS`` rows per group: one direct call, no interpolation."""
    n = SMOOTH_MIN_PAIRS - 1
    pairs = {"frequency": np.zeros(n), "T": np.linspace(1.0, 40.0, n)}
    calls: list[int] = []

    def evaluate(rows):
        calls.append(rows["T"].size)
        return np.exp(-rows["T"])

    assert np.array_equal(smooth_in_time(evaluate, pairs), evaluate(pairs))
    assert calls == [n, n]


@given(
    coefficients=st.lists(
        st.floats(-1.0, 1.0), min_size=SMOOTH_DEGREE + 1, max_size=SMOOTH_DEGREE + 1
    ),
    lo=st.floats(0.0, 100.0),
    width=st.floats(0.5, 100.0),
)
def test_polynomials_up_to_the_degree_are_reproduced(coefficients, lo, width):
    """A polynomial of degree ``SMOOTH_DEGREE`` in ``T`` (shifted to stay above 1) is
    reproduced to rounding at 50 scattered ``T`` of a group, for two draws at once."""
    rng = np.random.default_rng(0)
    big_t = np.sort(lo + width * rng.random(50))
    pairs = {"frequency": np.ones(50), "T": big_t}
    base = np.polynomial.Chebyshev(coefficients, domain=[lo, lo + width])
    scale = np.array([[1.0], [2.0]])

    def evaluate(rows):
        values = base(rows["T"])
        return scale * (values + 1.0 + 2.0 * np.abs(base.coef).sum())

    np.testing.assert_allclose(smooth_in_time(evaluate, pairs), evaluate(pairs), rtol=1e-12)
