"""BG/NBD model of Fader, Hardie & Lee (2005).

"Counting your customers the easy way: an alternative to the Pareto/NBD model",
Marketing Science 24(2), 275–284 (cited below as FHL 2005).

While active, a customer buys according to a Poisson process with rate
``λ ~ Gamma(r, alpha)`` (``alpha`` is a rate, measured in units of time); after every
*repeat* purchase she becomes inactive for good with probability ``p ~ Beta(a, b)``.
The data of a customer are ``frequency`` (``x``, repeat purchases), ``recency``
(``t_x``, time of the last repeat purchase, 0 if none) and ``T`` (time since the first
purchase).

All expectations of the model are averages over ``p ~ Beta(a, b)`` of the function
``h(p) = (1 − (1 + p·t/α)^(−r)) / p`` (FHL 2005 eq. 5 integrated over λ); this module
evaluates that average with the Gaussian hypergeometric closed form (FHL 2005 eq. 7)
where two algebraically equivalent forms of it agree, and by adaptive quadrature of the
Beta integral otherwise (see :func:`expected_purchases`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import integrate, special

from clvmodels.models import cohort, discount, nbd
from clvmodels.models.ops import Ops, numpy_ops
from clvmodels.models.spec import ModelSpec

REFERENCE = (
    "Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). Counting your customers the easy "
    "way: an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284."
)

# ---------------------------------------------------------------------------------------
# likelihood (written once against ``xp``: NumPy and PyTensor)
# ---------------------------------------------------------------------------------------


def log_likelihood(
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    *,
    frequency: Any,
    recency: Any,
    T: Any,
    xp: Ops = numpy_ops,
) -> Any:
    """Per-customer log-likelihood of the BG/NBD model (FHL 2005 eq. 6).

    ``L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / Γ(r) · [(α+T)^−(r+x)
    + 1{x>0} · a/(b+x−1) · (α+t_x)^−(r+x)]``, evaluated as
    ``A1 + A2 + log(exp(A3) + 1{x>0} exp(A4))`` following Hardie's notes
    "Implementing the BG/NBD model in MS Excel" and "Overcoming the BG/NBD model's #NUM!
    error problem" (2013): nothing of the form ``(α+T)^(r+x)`` is ever formed.
    ``A1 + A2 + A3`` depends on ``(x, T)`` only and ``A1 + A2 + A4`` on ``(x, t_x)`` only;
    both are marked ``xp.distinct`` so the fit evaluates them once per distinct pair.

    Parameters
    ----------
    r, alpha
        Shape and rate of the Gamma distribution of the purchase rate λ.
    a, b
        Parameters of the Beta distribution of the dropout probability p.
    frequency, recency, T
        ``x``, ``t_x`` and ``T`` of each customer (same time unit as ``1/alpha``).
    xp
        Array namespace (:data:`~clvmodels.models.ops.numpy_ops` or PyTensor).

    Returns
    -------
    array
        Log-likelihood of every customer (includes every constant of eq. 6).
    """

    def at_t(x: Any, t: Any) -> Any:  # A1 + A2 + A3: depends on (x, T) only
        a1 = xp.gammaln(r + x) - xp.gammaln(r) + r * xp.log(alpha)
        a2 = xp.gammaln(a + b) + xp.gammaln(b + x) - xp.gammaln(b) - xp.gammaln(a + b + x)
        return a1 + a2 - (r + x) * xp.log(alpha + t)

    def at_tx(x: Any, t_x: Any) -> Any:  # A1 + A2 + A4: depends on (x, t_x) only
        x_pos = xp.maximum(x, 1.0)  # safe value for the x = 0 rows in the unused branch
        return at_t(x, t_x) + xp.log(a) - xp.log(b + x_pos - 1.0)

    head = xp.distinct(at_t, frequency, T)
    return xp.where(
        frequency > 0, xp.logaddexp(head, xp.distinct(at_tx, frequency, recency)), head
    )


def initial_params(data: Mapping[str, np.ndarray], weights: np.ndarray) -> dict[str, float]:
    """Start: method-of-moments ``r, alpha`` of the NBD counts
    (:func:`clvmodels.models.nbd.moment_start`) and ``a = 1, b = 3`` (mean dropout
    probability 1/4 per repeat purchase)."""
    r, alpha = nbd.moment_start(data, weights)
    return {"r": r, "alpha": alpha, "a": 1.0, "b": 3.0}


SPEC = ModelSpec(
    key="bgnbd",
    name="BG/NBD",
    param_names=("r", "alpha", "a", "b"),
    rate_params=("alpha",),
    data_columns=("frequency", "recency", "T"),
    log_likelihood=log_likelihood,
    initial_params=initial_params,
    reference=REFERENCE,
    # Fader & Hardie (2007), note 019: α_i = α₀ e^(−γ₁′z), a_i = a₀ e^(γ₂′z), b_i = b₀ e^(γ₃′z)
    covariate_links={"purchase": {"alpha": -1.0}, "dropout": {"a": 1.0, "b": 1.0}},
)

# ---------------------------------------------------------------------------------------
# E[X(t)] for a new customer: the Beta average of h(p)
# ---------------------------------------------------------------------------------------

_SERIES_TERMS = 40
_SERIES_LIMIT = 0.25  # (r + 40)·t/α below this: 40-term series, error < 0.25^40 relative
_AGREE = 1e-9  # the two hypergeometric forms must agree to this relative difference
_CANCEL = 1e4  # reject the closed form when 1 − Q loses more than 4 digits
_A_NEAR_ONE = 1e-4  # (a + b − 1)/(a − 1) · (1 − Q) is 0/0 at a = 1
_R_MAX = 1e3  # beyond, SciPy's hyp2f1 loses up to 1e-6 in both forms alike (checked
# against the quadrature on 3,000 log-uniform draws of (r, a, b, t/α))
_INTEGER_GAP = 1e-9  # c − r − b = a − 1 − r this close to an integer: SciPy's hyp2f1 takes
# its degenerate (logarithmic) branch near z = 1 and both forms err alike, by up to 1e-3
# relative (e.g. r = a = 23.7, b = 100, t/α = 11.9; checked against mpmath)


def beta_average_expected(s: Any, r: Any, a: Any, b: Any) -> np.ndarray:
    """``E_p[(1 − (1 + p s)^(−r)) / p]`` for ``p ~ Beta(a, b)``: E[X(t)] at ``s = t/α``.

    This is FHL 2005 eq. (7), ``(a+b−1)/(a−1) · [1 − (α/(α+t))^r 2F1(r, b; a+b−1;
    t/(α+t))]``, evaluated as follows (elementwise):

    1. ``(r + 40) s < 1/4``: the series ``Σ_k (−1)^(k+1) (r)_k / k! · s^k E[p^(k−1)]``
       (40 terms; alternating, with terms shrinking at least fourfold, so truncation
       error < 1e-24), which avoids the cancellation in ``1 − …`` for small ``t``;
    2. otherwise the closed form twice, with ``2F1(r, b; c; z)`` (eq. 7) and with its
       Euler transform ``(1−z)^(c−r−b) 2F1(c−r, a−1; c; z)`` (Abramowitz & Stegun 15.3.3),
       ``c = a+b−1``, ``z = t/(α+t)``.  SciPy's ``hyp2f1`` is unreliable for large
       parameters and ``z`` near 1 (it may overflow or return a wrong finite value), so
       the result is used only where both forms are finite, agree to 1e-9, are not 0/0
       (``a`` within 1e-4 of 1), do not cancel catastrophically, ``r ≤ 1000`` and
       ``c − r − b = a − 1 − r`` is not an integer (there SciPy's degenerate branch makes
       both forms wrong alike near ``z = 1``);
    3. elsewhere quadrature of the Beta integral in the logit of ``p``, with the two
       tails ``p < p_L`` (``h`` linear in ``p``) and ``p > 1 − 1e-10`` (``h`` constant)
       integrated in closed form with incomplete Beta functions: first vectorised
       composite Gauss–Legendre rules with 256 and 512 nodes, kept where the two agree to
       1e-10 (the usual case, e.g. ``a`` near 1), else adaptive quadrature (QUADPACK)
       element by element.  This is accurate to about 1e-9 relative and finite for every
       positive input.

    Parameters are broadcast against each other; ``s ≥ 0``.
    """
    s, r, a, b = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(s, r, a, b))
    shape = s.shape
    s, r, a, b = (v.ravel() for v in (s, r, a, b))
    out = np.full(s.shape, np.nan)

    small = (r + _SERIES_TERMS) * s < _SERIES_LIMIT
    out[small] = _series(s[small], r[small], a[small], b[small])

    rest = np.flatnonzero(~small)
    value, ok = _closed_form(s[rest], r[rest], a[rest], b[rest])
    out[rest[ok]] = value[ok]

    hard = rest[~ok]
    if hard.size:
        value, ok = _fixed_quadrature(s[hard], r[hard], a[hard], b[hard])
        out[hard[ok]] = value[ok]
        for i in hard[~ok]:
            out[i] = _quadrature(float(s[i]), float(r[i]), float(a[i]), float(b[i]))
    return out.reshape(shape)


def _series(s: np.ndarray, r: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = np.zeros_like(s)
    coef = np.ones_like(s)  # (r)_k / k! · s^k · (−1)^(k+1), built up term by term
    moment = np.ones_like(s)  # E[p^(k−1)] = (a)_(k−1) / (a+b)_(k−1)
    for k in range(1, _SERIES_TERMS + 1):
        coef = coef * (r + k - 1) / k * s * (1.0 if k == 1 else -1.0)
        if k > 1:
            moment = moment * (a + k - 2) / (a + b + k - 2)
        total = total + coef * moment
    return total


def _closed_form(
    s: np.ndarray, r: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    c = a + b - 1.0
    z = s / (1.0 + s)
    log1p_s = np.log1p(s)
    with np.errstate(all="ignore"):  # invalid candidates are detected and rejected below
        f_direct = special.hyp2f1(r, b, c, z)
        f_euler = special.hyp2f1(c - r, a - 1.0, c, z)
        q_direct = np.exp(np.log(f_direct) - r * log1p_s)
        q_euler = np.exp(np.log(f_euler) - (a - 1.0) * log1p_s)
        e_direct = c / (a - 1.0) * -np.expm1(np.log(q_direct))
        e_euler = c / (a - 1.0) * -np.expm1(np.log(q_euler))
        scale = np.maximum(np.abs(e_direct), np.abs(e_euler))
        ok = (
            np.isfinite(e_direct)
            & np.isfinite(e_euler)
            & (f_direct > 0)
            & (f_euler > 0)
            & (np.abs(e_direct - e_euler) <= _AGREE * scale)
            & (np.abs(a - 1.0) > _A_NEAR_ONE)
            & (r <= _R_MAX)
            & (np.abs(a - 1.0 - r - np.round(a - 1.0 - r)) > _INTEGER_GAP)
            & (q_direct < _CANCEL * np.abs(1.0 - q_direct))
            & (e_direct > 0)
            & (e_direct <= r * s * (1.0 + 1e-9))  # E[X(t)] ≤ E[N(t)] = r t / α
        )
    return np.where(ok, e_direct, np.nan), ok


def _log_h(log_p: float, s: float, r: float) -> float:
    """``log h(p)`` with ``h(p) = (1 − (1 + p s)^(−r)) / p``, given ``log p`` (scalar)."""
    u = r * math.log1p(math.exp(log_p + math.log(s)))
    # log(1 − exp(−u)) for u > 0 (Mächler 2012)
    log1mexp = math.log(-math.expm1(-u)) if u < math.log(2.0) else math.log1p(-math.exp(-u))
    return log1mexp - log_p


def _log_expit(y: float) -> float:
    """``log(1 / (1 + exp(−y)))`` without overflow (scalar)."""
    return -math.log1p(math.exp(-y)) if y > 0 else y - math.log1p(math.exp(y))


def _tails(s: Any, r: Any, a: Any, b: Any) -> tuple[Any, Any, Any]:
    """The closed-form tails of the Beta integral and the logit limits between them."""
    # Below p_L, h(p) = r s (1 − (r+1) p s / 2 + O((p s r)^2)) to 1e-12 relative.
    p_left = np.minimum(1e-6 / ((r + 2.0) * s), 0.5)
    tail_left = r * s * (
        special.betainc(a, b, p_left)
        - (r + 1.0) * s / 2.0 * a / (a + b) * special.betainc(a + 1.0, b, p_left)
    )
    # Above p_R, h varies by less than 3e-10 relative (|d log h / dp| ≤ 2 near p = 1).
    p_right = 1.0 - 1e-10
    u_right = r * np.log1p(np.exp(np.log1p(-0.5e-10) + np.log(s)))
    h_right = -np.expm1(-u_right) / (1.0 - 0.5e-10)
    tail_right = special.betaincc(a, b, p_right) * h_right
    y_left = np.log(p_left) - np.log1p(-p_left)
    y_right = math.log(p_right) - math.log1p(-p_right)
    return tail_left + tail_right, y_left, np.full_like(y_left, y_right)


def _fixed_quadrature(
    s: np.ndarray, r: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised version of :func:`_quadrature` with fixed composite Gauss–Legendre rules
    (32 and 64 panels of 8 nodes in ``y = logit(p)``); returns the finer value and where
    the two rules agree to 1e-10 relative."""
    tails, y_left, y_right = _tails(s, r, a, b)
    log_beta = special.betaln(a, b)
    gx, gw = np.polynomial.legendre.leggauss(8)
    results = []
    for panels in (32, 64):
        unit = ((np.arange(panels)[:, None] + (gx[None, :] + 1.0) / 2.0) / panels).ravel()
        weights = np.tile(gw / (2.0 * panels), panels)
        width = (y_right - y_left)[:, None]
        y = y_left[:, None] + width * unit
        log_p, log_q = -np.logaddexp(0.0, -y), -np.logaddexp(0.0, y)
        u = r[:, None] * np.log1p(np.exp(log_p + np.log(s)[:, None]))
        log1mexp = np.where(
            u < math.log(2.0),
            np.log(-np.expm1(-np.minimum(u, math.log(2.0)))),
            np.log1p(-np.exp(-np.maximum(u, math.log(2.0)))),
        )
        log_f = log1mexp - log_p + a[:, None] * log_p + b[:, None] * log_q - log_beta[:, None]
        results.append(tails + (np.exp(log_f) * width) @ weights)
    coarse, fine = results
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(fine) & (np.abs(fine - coarse) <= 1e-10 * np.abs(fine)) & (fine > 0)
    return fine, ok


def _quadrature(s: float, r: float, a: float, b: float) -> float:
    """The Beta integral of ``h`` by quadrature in ``y = logit(p)`` (see caller)."""
    log_beta = float(special.betaln(a, b))
    tails, y_lo, y_hi = _tails(np.float64(s), np.float64(r), np.float64(a), np.float64(b))
    y_left, y_right = float(y_lo), float(y_hi)

    def integrand(y: float) -> float:
        log_p, log_q = _log_expit(y), _log_expit(-y)
        return math.exp(_log_h(log_p, s, r) + a * log_p + b * log_q - log_beta)

    mode = math.log(a / b)
    spread = math.sqrt(1.0 / a + 1.0 / b)
    marks = [mode - 5 * spread, mode, mode + 5 * spread, -math.log(s), -math.log(r * s)]
    points: list[float] = []
    for m in sorted(marks):  # break points, none closer than 1e-6 to another or an end
        if y_left + 1e-6 < m < y_right - 1e-6 and (not points or m > points[-1] + 1e-6):
            points.append(m)
    middle, _ = integrate.quad(
        integrand, y_left, y_right, points=points or None, epsabs=0.0, epsrel=1e-11, limit=500
    )
    return float(tails + middle)


# ---------------------------------------------------------------------------------------
# predictions (plain NumPy/SciPy, broadcasting over customers and parameter draws)
# ---------------------------------------------------------------------------------------


def expected_purchases(t: Any, *, r: Any, alpha: Any, a: Any, b: Any) -> np.ndarray:
    """Expected number of repeat purchases of a new customer in ``(0, t]``.

    FHL 2005 eq. (7): ``E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r
    2F1(r, b; a+b−1; t/(α+t))]``, evaluated stably by
    :func:`beta_average_expected` (also for ``a ≤ 1``, ``a = 1`` and ``t/α → ∞``, where
    ``z = t/(α+t) → 1`` makes the hypergeometric function hard to evaluate directly).
    """
    t = np.asarray(t, dtype=float)
    return beta_average_expected(t / np.asarray(alpha, dtype=float), r, a, b)


def probability_of_purchases(x: Any, t: Any, *, r: Any, alpha: Any, a: Any, b: Any) -> np.ndarray:
    """``P(X(t) = x)`` for a new customer (FHL 2005 eq. 8), computed in log space.

    ``P = B(a, b+x)/B(a, b) · NB(x; r, α/(α+t)) + 1{x>0} · B(a+1, b+x−1)/B(a, b) ·
    P(N(t) ≥ x)``, where ``NB`` is the negative binomial probability of ``x`` purchases
    of an always-active customer and ``P(N(t) ≥ x) = I_z(x, r)`` (the regularised
    incomplete Beta function, ``z = t/(α+t)``) replaces eq. (8)'s ``1 − Σ_{j<x} …``.
    """
    x, t, r, alpha, a, b = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (x, t, r, alpha, a, b))
    )
    log_beta = special.betaln(a, b)
    x_pos = np.maximum(x, 1.0)
    log_first = special.betaln(a, b + x) - log_beta + log_nbd_pmf(x, t, r, alpha)
    log_second = (
        special.betaln(a + 1.0, b + x_pos - 1.0) - log_beta + log_nbd_tail(x_pos, t, r, alpha)
    )
    log_second = np.where(x > 0, log_second, -np.inf)
    return np.minimum(np.exp(np.logaddexp(log_first, log_second)), 1.0)


def log_nbd_pmf(x: np.ndarray, t: np.ndarray, r: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """log P(N(t) = x) for the Gamma(r, α)–Poisson mixture (negative binomial)."""
    s = t / alpha
    positive = s > 0
    s_safe = np.where(positive, s, 1.0)
    x_log_z = np.where(positive, x * (np.log(s_safe) - np.log1p(s_safe)), 0.0)
    x_log_z = np.where(positive | (x == 0), x_log_z, -np.inf)
    return (
        special.gammaln(r + x)
        - special.gammaln(r)
        - special.gammaln(x + 1.0)
        - r * np.log1p(s)
        + x_log_z
    )


def log_nbd_tail(x: np.ndarray, t: np.ndarray, r: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """log P(N(t) ≥ x) = log I_z(x, r), ``z = t/(α+t)``, for ``x ≥ 1``."""
    s = t / alpha
    z = s / (1.0 + s)
    one_minus_z = 1.0 / (1.0 + s)
    tail = np.where(z < 0.5, special.betainc(x, r, z), special.betaincc(r, x, one_minus_z))
    positive = tail > 0
    return np.where(positive, np.log(np.where(positive, tail, 1.0)), -np.inf)


def probability_alive(
    frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any, a: Any, b: Any
) -> np.ndarray:
    """Probability that a customer with history ``(x, t_x, T)`` is still active.

    Fader, Hardie & Lee (2008), "Computing P(alive) using the BG/NBD model" (note 021):
    ``P(alive) = 1 / (1 + 1{x>0} · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))``, evaluated as a
    logistic function of the log-odds (no overflow).
    """
    x, recency, T, r, alpha, a, b = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (frequency, recency, T, r, alpha, a, b))
    )
    x_pos = np.maximum(x, 1.0)
    log_odds_dead = (
        np.log(a) - np.log(b + x_pos - 1.0) + (r + x) * np.log1p((T - recency) / (alpha + recency))
    )
    return np.where(x > 0, special.expit(-log_odds_dead), 1.0)


def conditional_expected_purchases(
    t: Any, frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any, a: Any, b: Any
) -> np.ndarray:
    """Expected repeat purchases in ``(T, T+t]`` given the history ``(x, t_x, T)``.

    FHL 2005 eq. (10).  Its numerator is eq. (7) with the posterior parameters of an
    active customer, ``(r+x, α+T, a, b+x)``, and its denominator is ``1 / P(alive)``, so
    it is computed as ``P(alive) · E[X(t) | r+x, α+T, a, b+x]`` with the stable
    evaluation of :func:`expected_purchases`.
    """
    alive = probability_alive(frequency, recency, T, r=r, alpha=alpha, a=a, b=b)
    return alive * active_expected_purchases(t, frequency, T, r=r, alpha=alpha, a=a, b=b)


def active_expected_purchases(
    t: Any, frequency: Any, T: Any, *, r: Any, alpha: Any, a: Any, b: Any
) -> np.ndarray:
    """Expected repeat purchases in ``(T, T+t]`` of a customer known to be active at ``T``:
    ``E[X(t) | r+x, α+T, a, b+x]`` (FHL 2005 eq. 10 without its ``P(alive)`` factor).
    Depends on ``(x, T)`` only, so callers may evaluate it per distinct pair."""
    x = np.asarray(frequency, dtype=float)
    s = np.asarray(t, dtype=float) / (np.asarray(alpha, dtype=float) + np.asarray(T, dtype=float))
    return beta_average_expected(s, np.asarray(r) + x, a, np.asarray(b) + x)


def discounted_active_purchases(
    frequency: Any, T: Any, *, r: Any, alpha: Any, a: Any, b: Any, delta: float,
    horizon: float = math.inf,
) -> np.ndarray:
    """Discounted expected purchases after ``T`` of a customer known to be active.

    An active customer's posterior is that of a new BG/NBD customer with parameters
    ``(r+x, α+T, a, b+x)`` (FHL 2005 eq. 10), so this is ``∫_0^H e^(−δt) dE[X(t) | r+x,
    α+T, a, b+x]``.  The BG/NBD has no closed form for it; it is integrated numerically
    by :func:`clvmodels.models.discount.discounted_purchases` (accurate to ~1e-9
    relative).  Depends on ``(x, T)`` only, so callers may evaluate it per distinct
    pair.  Broadcasts its arguments; the result has their shape.
    """
    shape = np.broadcast_shapes(*(np.shape(v) for v in (frequency, T, r, alpha, a, b)))
    x, T_, r, alpha, a, b = (
        np.atleast_1d(v).astype(float).ravel()
        for v in np.broadcast_arrays(frequency, T, r, alpha, a, b)
    )
    scale = alpha + T_

    def expected(t: np.ndarray) -> np.ndarray:
        return beta_average_expected(
            t / scale[:, None], (r + x)[:, None], a[:, None], (b + x)[:, None]
        )

    return discount.discounted_purchases(expected, scale, delta, horizon).reshape(shape)


def discounted_expected_residual_transactions(
    frequency: Any, recency: Any, T: Any, *, r: Any, alpha: Any, a: Any, b: Any,
    delta: float, horizon: float = math.inf,
) -> np.ndarray:
    """DERT: expected purchases after ``T``, discounted at continuous rate ``δ`` per time
    unit, over ``horizon`` time units (the whole lifetime by default).

    ``DERT = P(alive) · D(x, T)`` with ``D`` from :func:`discounted_active_purchases`
    (FHL 2005 eq. 10 with discounting; the BG/NBD analogue of the Pareto/NBD DERT of
    Fader, Hardie & Lee 2005, "RFM and CLV", eq. 2).
    """
    alive = probability_alive(frequency, recency, T, r=r, alpha=alpha, a=a, b=b)
    active = discounted_active_purchases(
        frequency, T, r=r, alpha=alpha, a=a, b=b, delta=delta, horizon=horizon
    )
    return alive * active


def expected_cumulative_transactions(
    t: Any, join_times: Any, *, r: float, alpha: float, a: float, b: float
) -> np.ndarray:
    """Tracking curve: expected cumulative repeat purchases of a cohort by time ``t``.

    FHL 2005 section 4 (Figure 3): the sum over customers of ``E[X(t − s_i)]``, where
    ``s_i`` is the time of customer i's first purchase.
    """
    return cohort.expected_cumulative_transactions(
        lambda age: expected_purchases(age, r=r, alpha=alpha, a=a, b=b), t, join_times
    )


def simulate(
    n_customers: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: Any,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Draw customers from the BG/NBD model (FHL 2005 section 2 assumptions).

    ``λ ~ Gamma(r, rate α)``, ``p ~ Beta(a, b)``; potential purchases form a Poisson
    process of rate λ on ``(0, T]``; the customer drops out right after her ``J``-th
    repeat purchase, ``J ~ Geometric(p)`` on ``{1, 2, …}``.

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T`` and the latent ``alive`` flag (active at ``T``).
    """
    return simulate_customers(
        n_customers, r=r, alpha=alpha, a=a, b=b, T=T, rng=rng, dropout_at_start=False
    )


def simulate_customers(
    n_customers: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: Any,
    rng: np.random.Generator,
    dropout_at_start: bool,
) -> dict[str, np.ndarray]:
    """Shared BG/NBD and MBG/NBD simulator (MBG/NBD also drops out at time 0)."""
    T = np.broadcast_to(np.asarray(T, dtype=float), (n_customers,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, size=n_customers)
    p = rng.beta(a, b, size=n_customers)
    potential = rng.poisson(lam * T).astype(float)
    # J = number of repeat purchases made before dropping out: P(J ≥ j) = (1−p)^(j−1)
    # for BG/NBD (j ≥ 1); MBG/NBD can drop out at time 0, so there P(J ≥ j) = (1−p)^j.
    log_u = np.log1p(-rng.random(n_customers))  # log of a uniform on (0, 1]
    budget = np.full(n_customers, np.inf)
    dies = p > 0
    budget[dies] = np.floor(log_u[dies] / np.log1p(-p[dies])) + 1.0
    if dropout_at_start:
        budget -= 1.0
    frequency = np.minimum(potential, budget)
    alive = potential < budget
    # the x-th of n uniform purchase times on (0, T] is T · Beta(x, n − x + 1)
    buyers = frequency > 0
    recency = np.zeros(n_customers)
    recency[buyers] = T[buyers] * rng.beta(
        frequency[buyers], potential[buyers] - frequency[buyers] + 1.0
    )
    return {"frequency": frequency, "recency": recency, "T": T, "alive": alive}


def simulate_purchase_times(
    *,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    T: Any,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the repeat purchase times of customers, each with her own parameters.

    The assumptions of FHL 2005 section 2, followed event by event: customer ``i`` has
    ``λ_i ~ Gamma(r_i, rate α_i)`` and ``p_i ~ Beta(a_i, b_i)``; while active she buys
    at the times of a Poisson process of rate ``λ_i`` (exponential gaps), and after
    every repeat purchase she drops out for good with probability ``p_i``.  Time 0 is
    her first purchase; purchases after ``T_i`` are not observed.  Per-customer
    parameters express covariate links (Fader & Hardie 2007, note 019), e.g.
    ``alpha = α₀ exp(−γ₁′z_i)``.

    The loop runs over purchase rounds (the ``k``-th repeat purchase of every customer
    still active and inside her window), not over customers.  The summaries
    ``(x, t_x, T)`` of the output have the distribution of :func:`simulate`'s.

    Parameters
    ----------
    r, alpha, a, b
        Model parameters, scalars or arrays of shape ``(n,)`` (``alpha`` a rate, in the
        time unit of ``T``); broadcast against ``T``.
    T
        Length of each customer's observation window after her first purchase, shape
        ``(n,)`` (a scalar gives one customer).
    rng
        Source of randomness.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``customer``: index (``0..n−1``) of the customer of every repeat purchase (int64);
        ``time``: its time since her first purchase, in ``(0, T_i]``.  Sorted by
        customer, then time.
    """
    T_arr = np.atleast_1d(np.asarray(T, dtype=float))
    r, alpha, a, b, T_arr = (
        np.broadcast_to(np.asarray(v, dtype=float), T_arr.shape).ravel()
        for v in (r, alpha, a, b, T_arr)
    )
    lam = rng.gamma(r, 1.0 / alpha)
    p = rng.beta(a, b)
    clock = np.zeros(T_arr.size)
    active = np.arange(T_arr.size)
    customers: list[np.ndarray] = []
    times: list[np.ndarray] = []
    while active.size:
        with np.errstate(divide="ignore"):  # λ = 0: the next purchase is never
            arrival = clock[active] + rng.exponential(size=active.size) / lam[active]
        inside = arrival <= T_arr[active]
        active = active[inside]
        clock[active] = arrival[inside]
        customers.append(active)
        times.append(clock[active])
        active = active[rng.random(active.size) >= p[active]]  # drops out w.p. p
    customer = np.concatenate(customers).astype(np.int64)
    time = np.concatenate(times)
    order = np.argsort(customer, kind="stable")  # rounds keep each customer's times sorted
    return customer[order], time[order]
