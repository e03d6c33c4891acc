"""Predictive distributions of holdout purchases, ``conditional_purchase_pmf`` of every
purchase model (issue 21 §1): checked against each model's own conditional expectation
and likelihood, closed forms, adaptive quadrature, forward simulation of the model's
story, broadcasting over parameter draws, and properties (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from clvmodels.models import bgbb, bgnbd, mbgnbd, nbd
from clvmodels.models import conditional_purchase_pmf as registry_pmf
from clvmodels.models import paretonbd as pnbd

# Estimates on CDNOW (39 weeks) and the donation data: BG/NBD Fader, Hardie & Lee (2005)
# Marketing Science 24(2); Pareto/NBD Fader, Hardie & Lee (2005) JMR 42(4); MBG/NBD the
# maximum of tests/test_mbgnbd.py (fit_mle, equal to lifetimes'); BG/BB Fader, Hardie &
# Shang (2010) Marketing Science 29(6).
PUBLISHED = {
    "bgnbd": (bgnbd, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
    "paretonbd": (pnbd, {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}),
    "mbgnbd": (mbgnbd, {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}),
}
BGBB_PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}

CONTINUOUS = [
    *PUBLISHED.items(),
    ("bgnbd", (bgnbd, {"r": 50.0, "alpha": 2000.0, "a": 0.5, "b": 200.0})),
    ("bgnbd", (bgnbd, {"r": 0.05, "alpha": 0.01, "a": 5.0, "b": 0.8})),
    ("bgnbd", (bgnbd, {"r": 1e6, "alpha": 4e6, "a": 1.0, "b": 3.0})),  # Poisson limit
    ("mbgnbd", (mbgnbd, {"r": 3.0, "alpha": 100.0, "a": 0.2, "b": 50.0})),
    ("mbgnbd", (mbgnbd, {"r": 1e4, "alpha": 4e4, "a": 2.0, "b": 3.0})),
    ("paretonbd", (pnbd, {"r": 20.0, "alpha": 1000.0, "s": 100.0, "beta": 1.0})),
    ("paretonbd", (pnbd, {"r": 0.5, "alpha": 2.0, "s": 0.05, "beta": 0.1})),
    ("paretonbd", (pnbd, {"r": 1e4, "alpha": 4e4, "s": 2.0, "beta": 30.0})),
]
# (x, t_x, T): none, one early, recent, long and heavy histories
FREQUENCY = np.array([0.0, 1.0, 2.0, 20.0, 500.0, 3000.0])
RECENCY = np.array([0.0, 0.5, 30.0, 38.0, 900.0, 999.9])
AGE = np.array([39.0, 39.0, 39.0, 39.0, 1000.0, 1000.0])
HORIZON = 39.0
K_ALL = 800  # leaves less than 1e-12 of every row's mass beyond K on this grid

BGBB = [
    BGBB_PUBLISHED,
    {"alpha": 50.0, "beta": 0.5, "gamma": 0.05, "delta": 100.0},
    {"alpha": 0.1, "beta": 20.0, "gamma": 5.0, "delta": 0.3},
]
BGBB_HISTORY = (  # (x, t_x, n) and n* = 5 after the donation data's n = 6; long ones
    np.array([0.0, 1.0, 3.0, 6.0, 2.0, 900.0, 0.0]),
    np.array([0.0, 1.0, 4.0, 6.0, 6.0, 950.0, 0.0]),
    np.array([6.0, 6.0, 6.0, 6.0, 6.0, 1000.0, 1000.0]),
)


def _case_id(case):
    key, (_, params) = case
    return f"{key}-" + "-".join(f"{v:g}" for v in params.values())


def _likelihood_ratio(module, params, x, t_x, T, horizon):
    """``L(x, t_x, T + horizon) / L(x, t_x, T)``: no purchase after ``T`` is the history
    ``(x, t_x, T + horizon)``, so this is ``P(X(T, T+horizon) = 0 | x, t_x, T)``."""
    names = module.SPEC.data_columns
    before = module.log_likelihood(**params, **dict(zip(names, (x, t_x, T), strict=True)))
    after = module.log_likelihood(
        **params, **dict(zip(names, (x, t_x, T + horizon), strict=True))
    )
    return np.exp(after - before)


# ------------------------------------------------------- 1. against the models' own results


@pytest.mark.parametrize("case", CONTINUOUS, ids=_case_id)
def test_rows_sum_to_one_and_mean_is_conditional_expected_purchases(case):
    _, (module, params) = case
    pmf = module.conditional_purchase_pmf(K_ALL, HORIZON, FREQUENCY, RECENCY, AGE, **params)
    assert pmf.shape == (len(FREQUENCY), K_ALL)
    np.testing.assert_allclose(pmf.sum(axis=1), 1.0, rtol=0, atol=1e-10)
    expected = module.conditional_expected_purchases(HORIZON, FREQUENCY, RECENCY, AGE, **params)
    np.testing.assert_allclose(pmf @ np.arange(K_ALL), expected, rtol=1e-8)


@pytest.mark.parametrize("params", BGBB, ids=lambda p: "-".join(f"{v:g}" for v in p.values()))
@pytest.mark.parametrize("n_star", [1, 5, 200])
def test_bgbb_rows_sum_to_one_and_mean_is_conditional_expected_transactions_fhs2010_eq13(
    params, n_star
):
    x, t_x, n = BGBB_HISTORY
    pmf = bgbb.conditional_purchase_pmf(n_star + 1, n_star, x, t_x, n, **params)
    np.testing.assert_allclose(pmf.sum(axis=1), 1.0, rtol=0, atol=1e-10)
    expected = bgbb.conditional_expected_transactions(n_star, x, t_x, n, **params)
    np.testing.assert_allclose(pmf @ np.arange(n_star + 1), expected, rtol=1e-8)


@pytest.mark.parametrize("case", CONTINUOUS, ids=_case_id)
def test_probability_of_no_purchase_is_the_likelihood_ratio(case):
    _, (module, params) = case
    pmf = module.conditional_purchase_pmf(3, HORIZON, FREQUENCY, RECENCY, AGE, **params)
    ratio = _likelihood_ratio(module, params, FREQUENCY, RECENCY, AGE, HORIZON)
    # P(alive) comes from the likelihood, whose gammaln(r + x) is off by ~1e-16·log Γ(r+x)
    # (4e-12 at x = 3000, 1e-10 at r = 1e6); the ratio cancels that error, P(0) = 1 −
    # P(alive)·P(X ≥ 1 | alive) keeps it as an absolute error
    np.testing.assert_allclose(pmf[:, 0], ratio, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("params", BGBB, ids=lambda p: "-".join(f"{v:g}" for v in p.values()))
def test_bgbb_probability_of_no_transaction_is_the_likelihood_ratio(params):
    x, t_x, n = BGBB_HISTORY
    pmf = bgbb.conditional_purchase_pmf(2, 5, x, t_x, n, **params)
    np.testing.assert_allclose(pmf[:, 0], _likelihood_ratio(bgbb, params, x, t_x, n, 5), rtol=1e-12)


@pytest.mark.parametrize("module", [bgnbd, mbgnbd])
def test_bg_family_probability_of_no_purchase_closed_form(module):
    """``1 − P(alive) + P(alive) · ((α+T)/(α+T+t))^(r+x)``: an active customer buys
    nothing iff her Poisson process has no point in ``(T, T+t]``."""
    params = PUBLISHED[module.SPEC.key][1]
    alive = module.probability_alive(FREQUENCY, RECENCY, AGE, **params)
    none = ((params["alpha"] + AGE) / (params["alpha"] + AGE + HORIZON)) ** (
        params["r"] + FREQUENCY
    )
    pmf = module.conditional_purchase_pmf(1, HORIZON, FREQUENCY, RECENCY, AGE, **params)
    np.testing.assert_allclose(pmf[:, 0], 1.0 - alive + alive * none, rtol=1e-13)


def test_paretonbd_probability_of_no_purchase_closed_form_at_alpha_equal_beta():
    """With ``α = β`` an active customer's first purchase competes with her death at rate
    ``λ + μ`` mixed over two Gammas of one rate: ``P(X ≥ 1 | alive) = (r+x)/(r+x+s) ·
    [1 − ((α+T)/(α+T+t))^(r+x+s)]`` (``P(X ≥ 1 | alive) = ∫_0^t P(τ > u) E[λ e^(−λu)]
    du``, integration by parts of the lifetime integral)."""
    params = {"r": 0.553, "alpha": 11.0, "s": 0.606, "beta": 11.0}
    r_post, scale = params["r"] + FREQUENCY, params["alpha"] + AGE
    some = r_post / (r_post + params["s"]) * -np.expm1(
        (r_post + params["s"]) * np.log(scale / (scale + HORIZON))
    )
    alive = pnbd.probability_alive(FREQUENCY, RECENCY, AGE, **params)
    pmf = pnbd.conditional_purchase_pmf(1, HORIZON, FREQUENCY, RECENCY, AGE, **params)
    np.testing.assert_allclose(pmf[:, 0], 1.0 - alive * some, rtol=1e-13)


@pytest.mark.parametrize(
    ("t", "r", "alpha", "s", "beta"),
    [
        (39.0, 2.553, 49.58, 0.606, 50.67),
        (39.0, 1000.5, 1000.0, 0.606, 1011.0),  # narrow NBD peaks
        (39.0, 5.5, 20.0, 100.0, 2.0),  # death long before the first purchase
        (39.0, 5.5, 2.0, 3.0, 2000.0),  # purchases long before death
        (1e5, 0.2, 1.0, 0.05, 1.0),  # a horizon far beyond both scales
        (8.3, 668.2, 0.21, 656.2, 1.13),
    ],
)
def test_paretonbd_active_pmf_matches_adaptive_quadrature_fader_hardie_2005_eq24(
    t, r, alpha, s, beta
):
    """``(β/(β+t))^s NB(k; t) + ∫_0^t s β^s (β+u)^−(s+1) NB(k; u) du`` by QUADPACK
    (``quad_vec``, break points spread geometrically over ``(0, t)``)."""
    _check_stopped_pmf(60, t, r, alpha, s, beta)


def _check_stopped_pmf(K, t, r, alpha, s, beta):
    def integrand(u):
        log_nb = nbd.log_pmf_counts(K, u, r, alpha)
        return np.exp(np.log(s / beta) - (s + 1.0) * np.log1p(u / beta) + log_nb)

    points = np.geomspace(t * 1e-12, t, 40)[:-1]
    dead, _ = integrate.quad_vec(integrand, 0.0, t, epsabs=1e-17, epsrel=1e-13, points=points)
    reference = dead + np.exp(-s * np.log1p(t / beta) + nbd.log_pmf_counts(K, t, r, alpha))
    ours = nbd.stopped_pmf(K, *(np.array([v]) for v in (t, r, alpha, s, beta)))[0]
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-14)


@pytest.mark.slow
def test_paretonbd_active_pmf_matches_adaptive_quadrature_over_300_random_draws():
    """The accuracy stated by :func:`clvmodels.models.nbd.stopped_pmf`: every argument
    log-uniform on ``[e^-3, e^7]``, ``K`` of 5, 40 or 200 (~25 s)."""
    rng = np.random.default_rng(1)
    for _ in range(300):
        t, r, alpha, s, beta = np.exp(rng.uniform(-3.0, 7.0, 5))
        _check_stopped_pmf(int(rng.choice([5, 40, 200])), t, r, alpha, s, beta)


# ---------------------------------------------------------------- 2. forward simulation

N_SIMULATED = 40_000
T_CAL = 39.0


def _split_log(customer, time, n):
    """``(x, t_x)`` in ``(0, T_CAL]`` and the count in ``(T_CAL, T_CAL + HORIZON]``."""
    before = time <= T_CAL
    x = np.bincount(customer[before], minlength=n).astype(float)
    recency = np.zeros(n)
    np.maximum.at(recency, customer[before], time[before])
    holdout = np.bincount(customer[~before], minlength=n)
    return x, recency, holdout


def _simulate_bgnbd(params, rng):
    """BG/NBD: the module's event-by-event simulator over calibration and holdout."""
    customer, time = bgnbd.simulate_purchase_times(
        **params, T=np.full(N_SIMULATED, T_CAL + HORIZON), rng=rng
    )
    return _split_log(customer, time, N_SIMULATED)


def _simulate_mbgnbd(params, rng):
    """MBG/NBD (BDF 2007): potential purchases Poisson(λ) in each window; the customer
    makes ``J`` purchases before dropping out, ``P(J ≥ j) = (1−p)^j`` (she may drop out at
    time 0); the ``x``-th of ``N`` uniform purchase times on ``(0, T]`` is ``T·Beta(x,
    N−x+1)``."""
    n = N_SIMULATED
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    calibration, later = rng.poisson(lam * T_CAL), rng.poisson(lam * HORIZON)
    budget = rng.geometric(p) - 1
    x = np.minimum(calibration, budget)
    recency = np.where(
        x > 0, T_CAL * rng.beta(np.maximum(x, 1), calibration - x + 1), 0.0
    )
    holdout = np.where(calibration < budget, np.minimum(later, budget - calibration), 0)
    return x.astype(float), recency, holdout


def _simulate_paretonbd(params, rng):
    """Pareto/NBD (SMC 1987): Poisson purchases at rate λ until an exponential death at
    rate μ; the last of ``N`` uniform times on ``(0, m]`` is ``m·Beta(N, 1)``."""
    n = N_SIMULATED
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    mu = rng.gamma(params["s"], 1.0 / params["beta"], n)
    death = rng.exponential(1.0, n) / mu
    active = np.minimum(death, T_CAL)
    x = rng.poisson(lam * active)
    recency = np.where(x > 0, active * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    holdout = rng.poisson(lam * np.clip(death - T_CAL, 0.0, HORIZON))
    return x.astype(float), recency, holdout


SIMULATORS = {"bgnbd": _simulate_bgnbd, "mbgnbd": _simulate_mbgnbd,
              "paretonbd": _simulate_paretonbd}


def _pearson(counts, pmf, groups):
    """Pearson's statistic of the holdout counts against the mean predicted pmf within
    each group of at least 200 customers, and its degrees of freedom.  A customer's pmf
    is her count's distribution given her exact history, so within any grouping by
    history the expected frequency of ``k`` is the members' mean ``P(k)``.  Bins with an
    expected count below 5 are pooled into the last one (which holds ``X ≥ K`` too)."""
    statistic, dof = 0.0, 0
    K = pmf.shape[1]
    for g in np.unique(groups):
        members = groups == g
        size = int(members.sum())
        if size < 200:
            continue
        expected = size * np.append(pmf[members].mean(axis=0), 0.0)
        expected[-1] = size - expected[:-1].sum()
        observed = np.bincount(np.minimum(counts[members], K), minlength=K + 1).astype(float)
        keep = int(np.argmax(np.append(expected, 0.0) < 5.0))  # leading bins with E ≥ 5
        keep = max(1, min(keep, K))
        e = np.append(expected[: keep - 1], expected[keep - 1 :].sum())
        o = np.append(observed[: keep - 1], observed[keep - 1 :].sum())
        statistic += float(np.sum((o - e) ** 2 / e))
        dof += len(e) - 1
    return statistic, dof


def _groups(x, recency):
    """Histories grouped by ``x`` (8 and more together) and recency in halves of T."""
    return np.minimum(x, 8) * 2 + (recency > T_CAL / 2)


@pytest.mark.parametrize("key", list(SIMULATORS))
def test_pmf_matches_forward_simulation_of_calibration_and_holdout(key):
    """Pearson's chi-square over groups of histories stays below its 1 − 1e-4 quantile,
    while ignoring the history (everyone predicted as ``x = 0``) is rejected."""
    module, params = PUBLISHED[key]
    x, recency, holdout = SIMULATORS[key](params, np.random.default_rng(2024))
    T = np.full(N_SIMULATED, T_CAL)
    K = 30
    groups = _groups(x, recency)
    pmf = module.conditional_purchase_pmf(K, HORIZON, x, recency, T, **params)
    statistic, dof = _pearson(holdout, pmf, groups)
    assert dof >= 40
    assert statistic < stats.chi2.isf(1e-4, dof), (statistic, dof)
    naive = module.conditional_purchase_pmf(K, HORIZON, 0.0 * x, 0.0 * x, T, **params)
    assert _pearson(holdout, naive, groups)[0] > 10 * stats.chi2.isf(1e-4, dof)


def test_bgbb_pmf_matches_forward_simulation_fhs2010():
    """The module's simulator for the first ``n = 6`` opportunities (with the latent
    ``p, θ`` and alive-at-``n+1``), continued for ``n* = 5``: alive at ``n+1`` and then
    at each later opportunity with probability ``1 − θ``, transacting with probability
    ``p``; exact histories ``(x, t_x)`` as groups."""
    rng = np.random.default_rng(2010)
    n_star, K = 5, 6
    sim = bgbb.simulate(N_SIMULATED, **BGBB_PUBLISHED, n_periods=6, rng=rng)
    lives = np.where(sim["alive"] > 0, np.minimum(rng.geometric(sim["theta"]), n_star), 0)
    holdout = rng.binomial(lives, sim["p"])
    x, t_x, n = sim["frequency"], sim["recency"], sim["n"]
    pmf = bgbb.conditional_purchase_pmf(K, n_star, x, t_x, n, **BGBB_PUBLISHED)
    groups = x * 7 + t_x
    statistic, dof = _pearson(holdout, pmf, groups)
    assert dof >= 40
    assert statistic < stats.chi2.isf(1e-4, dof), (statistic, dof)
    naive = bgbb.conditional_purchase_pmf(K, n_star, 0.0 * x, 0.0 * x, n, **BGBB_PUBLISHED)
    assert _pearson(holdout, naive, groups)[0] > 10 * stats.chi2.isf(1e-4, dof)


# ---------------------------------------------------------------------- 3. broadcasting

DRAWS = np.array([0.8, 1.0, 1.25])[:, None]  # multiplicative perturbations, (draws, 1)


@pytest.mark.parametrize("key", list(PUBLISHED))
def test_parameter_draws_broadcast_against_customers(key):
    module, params = PUBLISHED[key]
    draws = {name: value * DRAWS for name, value in params.items()}
    horizon = np.linspace(10.0, 50.0, len(FREQUENCY))  # one horizon per customer
    together = module.conditional_purchase_pmf(12, horizon, FREQUENCY, RECENCY, AGE, **draws)
    assert together.shape == (3, len(FREQUENCY), 12)
    for i in range(3):
        one = {name: float(value[i, 0]) for name, value in draws.items()}
        alone = module.conditional_purchase_pmf(12, horizon, FREQUENCY, RECENCY, AGE, **one)
        np.testing.assert_allclose(together[i], alone, rtol=1e-13, atol=1e-16)


def test_bgbb_parameter_draws_broadcast_against_customers():
    draws = {name: value * DRAWS for name, value in BGBB_PUBLISHED.items()}
    x, t_x, n = BGBB_HISTORY
    together = bgbb.conditional_purchase_pmf(4, 5, x, t_x, n, **draws)
    assert together.shape == (3, len(x), 4)
    for i in range(3):
        one = {name: float(value[i, 0]) for name, value in draws.items()}
        np.testing.assert_allclose(
            together[i], bgbb.conditional_purchase_pmf(4, 5, x, t_x, n, **one), rtol=1e-13
        )


def test_registry_calls_each_purchase_model_with_its_history_columns():
    for key, (module, params) in PUBLISHED.items():
        history = {"frequency": FREQUENCY, "recency": RECENCY, "T": AGE}
        np.testing.assert_array_equal(
            registry_pmf(key, 5, HORIZON, history, params),
            module.conditional_purchase_pmf(5, HORIZON, FREQUENCY, RECENCY, AGE, **params),
        )
    x, t_x, n = BGBB_HISTORY
    history = {"frequency": x, "recency": t_x, "n": n}
    np.testing.assert_array_equal(
        registry_pmf("bgbb", 4, 5, history, BGBB_PUBLISHED),
        bgbb.conditional_purchase_pmf(4, 5, x, t_x, n, **BGBB_PUBLISHED),
    )
    with pytest.raises(ValueError, match="Gamma-Gamma is not a purchase model"):
        registry_pmf("gamma_gamma", 5, HORIZON, {}, {})
    with pytest.raises(ValueError, match="K must be a whole number"):
        bgnbd.conditional_purchase_pmf(0, HORIZON, 1.0, 1.0, 2.0, **PUBLISHED["bgnbd"][1])


# ------------------------------------------------------------------------ 4. properties

positive = st.floats(-2.5, 2.5).map(np.exp)  # log-uniform on about [0.08, 12]


@st.composite
def _continuous_case(draw):
    key = draw(st.sampled_from(list(PUBLISHED)))
    params = {name: draw(positive) * value for name, value in PUBLISHED[key][1].items()}
    T = draw(st.floats(0.5, 100.0))
    x = float(draw(st.integers(0, 40)))
    t_x = 0.0 if x == 0 else draw(st.floats(0.0, 1.0)) * T
    t1 = draw(st.floats(0.1, 100.0))
    return key, params, (x, t_x, T), t1, t1 + draw(st.floats(0.1, 100.0))


def _check_properties(pmf_of, small_k, large_k, short, long):
    longer_k = pmf_of(large_k, short)
    pmf = pmf_of(small_k, short)
    assert np.all((pmf >= 0.0) & (pmf <= 1.0))
    assert pmf.sum() <= 1.0 + 1e-12
    # a longer K extends the same pmf, so the tail mass P(X ≥ K) does not grow with K
    np.testing.assert_allclose(longer_k[:small_k], pmf, rtol=1e-10, atol=1e-15)
    assert 1.0 - longer_k.sum() <= 1.0 - pmf.sum() + 1e-12
    # P(X ≥ 1) does not fall as the horizon grows
    assert 1.0 - pmf_of(1, long)[0] >= 1.0 - pmf[0] - 1e-12


@settings(max_examples=60, deadline=None)
@given(case=_continuous_case(), small_k=st.integers(1, 25), more=st.integers(1, 25))
def test_properties_probabilities_tail_and_horizon(case, small_k, more):
    key, params, (x, t_x, T), short, long = case
    module = PUBLISHED[key][0]

    def pmf_of(K, t):
        return module.conditional_purchase_pmf(K, t, x, t_x, T, **params)

    _check_properties(pmf_of, small_k, small_k + more, short, long)


@settings(max_examples=40, deadline=None)
@given(
    scale=st.lists(positive, min_size=4, max_size=4),
    n=st.integers(1, 30),
    data=st.data(),
    short=st.integers(0, 10),
    more=st.integers(1, 10),
    small_k=st.integers(1, 8),
)
def test_bgbb_properties_probabilities_tail_and_horizon(scale, n, data, short, more, small_k):
    params = {k: v * f for (k, v), f in zip(BGBB_PUBLISHED.items(), scale, strict=True)}
    t_x = float(data.draw(st.integers(0, n)))
    x = 0.0 if t_x == 0 else float(data.draw(st.integers(1, int(t_x))))

    def pmf_of(K, n_star):
        return bgbb.conditional_purchase_pmf(K, n_star, x, t_x, float(n), **params)

    _check_properties(pmf_of, small_k, small_k + 5, short, short + more)
