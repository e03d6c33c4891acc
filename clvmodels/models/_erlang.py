"""Math shared by the BG/CNBD-k and MBG/CNBD-k models (Erlang-k inter-purchase times).

Reutterer, Platzer & Schröder (2021), "Leveraging purchase regularity for predicting
customer behavior the easy way", International Journal of Research in Marketing 38(1),
194–215 (cited as RPS 2021), following Platzer & Reutterer (2016).

**Convention** (that of RPS 2021 and of BTYDplus's ``bgcnbd.*``/``mbgcnbd.*``): while
active, a customer's purchase times form a renewal process whose gaps are Erlang-k
with *phase* rate ``λ`` — the sum of ``k`` exponential phases of rate ``λ``, mean gap
``k/λ`` — and ``λ ~ Gamma(r, alpha)`` (``alpha`` a rate, in time units).  ``k = 1`` is
exactly the BG/NBD's Poisson process of rate ``λ``.  Equivalently the purchases are
every ``k``-th event of a Poisson process of rate ``λ`` (the *phases*), counted from
the first purchase at time 0.  After every repeat purchase the customer drops out for
good with probability ``p ~ Beta(a, b)``; the MBG variant also drops out at time 0
(``dropout_at_zero``).

**The posterior of an active customer** (used by every prediction).  With ``x`` repeat
purchases, the last at ``t_x``, and ``Δ = T − t_x``, the likelihood of being alive is
``(1−p)^(x+m) λ^(kx) e^(−λ t_x) · P(fewer than k phases in Δ)`` (``m = 1`` for MBG,
else 0), and ``P(fewer than k phases) = Σ_{j<k} e^(−λΔ)(λΔ)^j/j!``.  So given alive, the
number ``j`` of phases completed since the last purchase and ``λ`` have the joint
posterior ``P(j) ∝ Γ(s+j)/(Γ(s) j!) · (Δ/(α+T))^j`` with ``s = r + kx`` and
``λ | j ~ Gamma(s + j, α+T)``; ``p ~ Beta(a, b + x + m)`` independently.  From ``T`` on
the phase process is memoryless, so the ``n``-th future purchase is the
``(nk − j)``-th future phase, and with ``N(t)`` the purchases of a customer who never
drops out, ``P(N(t) ≥ n | j) = P(NB ≥ nk − j) = I_z(nk − j, s + j)``, ``z = t/(α+T+t)``
(the negative binomial count of phases, its tail the regularised incomplete Beta
function).  Dropout after each purchase as in the BG/NBD gives

* ``E[X(t) | alive] = Σ_{n≥1} E[(1−p)^(n−1)] P(N(t) ≥ n)``, summed over the phase
  count instead (:func:`active_expected_grid`);
* ``P(X(t) = n | alive) = E[(1−p)^(n−1)] (P(N = n) + E[p]_n P(N > n))``
  (:func:`active_pmf`, as :func:`clvmodels.models.bgnbd.active_purchase_pmf`);
* lifetime discounted purchases ``Σ_n E[(1−p)^(n−1)] E[(λ/(λ+δ))^(nk−j)]``, summed over
  ``n`` in closed form (:func:`clvmodels.models._erlang_lifetime.active_discounted_lifetime`).

These are exact: the sums are truncated where a tail bound (the pmf) or the tail itself
is below 1e-17 (purchases) or 1e-16 of the total.
A new customer is an active one with ``x = 0``, ``T = 0`` (``j = 0``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from clvmodels.models import nbd
from clvmodels.models.ops import Ops

_CELLS = 1 << 21  # float64 values per array in a chunk of the count sums (16 MiB)
_GRID_CELLS = 1 << 14  # ... and in those of the phase sums (cache-sized)
_TAIL = 1e-17  # the count sums leave out fewer purchases than this (active_expected_grid)


def order(k: Any) -> int:
    """The Erlang order ``k`` as a Python int (fitted results carry it as a float).

    Raises
    ------
    ValueError
        Unless every element of ``k`` is the same whole number ``≥ 1``.
    """
    values = np.unique(np.asarray(k, dtype=float))
    if values.size != 1 or not values[0] >= 1 or values[0] != math.floor(values[0]):
        raise ValueError(f"k must be one whole number >= 1, got {k!r}")
    return int(values[0])


# ---------------------------------------------------------------------------------------
# likelihood (written once against ``xp``)
# ---------------------------------------------------------------------------------------


def erlang_log_likelihood(
    k: int,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    *,
    frequency: Any,
    recency: Any,
    T: Any,
    litt: Any,
    dropout_at_zero: bool,
    xp: Ops,
) -> Any:
    """Per-customer log-likelihood of the (M)BG/CNBD-k model (RPS 2021, appendix; the
    same expression as BTYDplus's ``xbgcnbd.LL``).

    ``L = e^((k−1) litt) / ((k−1)!)^x · B(a, b+x+m)/B(a, b) · Γ(s)α^r/Γ(r) ·
    [(α+T)^(−s) S + 1{x>0 or m=1} a/(b+x−1+m) (α+t_x)^(−s)]``, ``s = r + kx``,
    ``m = 1`` with ``dropout_at_zero``, and ``S = Σ_{j<k} Γ(s+j)/(Γ(s) j!) ·
    (Δ/(α+T))^j`` the Gamma average of the probability of fewer than ``k`` phases in
    ``Δ = T − t_x`` (no purchase since ``t_x``).  The first factors are the Erlang
    densities of the ``x`` gaps (``litt`` = Σ log gaps) and are kept, so that
    likelihoods are comparable across ``k``.  Evaluated in log space: ``log S`` as a
    chain of ``logaddexp`` over its (positive) terms, the bracket as ``logaddexp``.
    """
    m = 1.0 if dropout_at_zero else 0.0

    def at_t(x: Any, t: Any) -> Any:  # depends on (x, T) only
        s = r + k * x
        a1 = xp.gammaln(s) - xp.gammaln(r) + r * xp.log(alpha)
        a2 = xp.gammaln(a + b) + xp.gammaln(b + x + m) - xp.gammaln(b) - xp.gammaln(a + b + x + m)
        return a1 + a2 - s * xp.log(alpha + t)

    def at_tx(x: Any, t_x: Any) -> Any:  # depends on (x, t_x) only
        x_pos = x if dropout_at_zero else xp.maximum(x, 1.0)  # safe in the unused branch
        return at_t(x, t_x) + xp.log(a) - xp.log(b + x_pos - 1.0 + m)

    def log_stay(x: Any, t_x: Any, t: Any) -> Any:  # log S, depends on (x, t_x, T)
        s = r + k * x
        log_ratio = xp.log(xp.maximum(t - t_x, 1e-300)) - xp.log(alpha + t)
        total = xp.zeros_like(s + log_ratio)
        for j in range(1, k):
            term = xp.gammaln(s + j) - xp.gammaln(s) - math.lgamma(j + 1.0) + j * log_ratio
            total = xp.logaddexp(total, term)
        return total

    alive = xp.distinct(at_t, frequency, T)
    if k > 1:
        alive = alive + xp.distinct(log_stay, frequency, recency, T)
    gone = xp.distinct(at_tx, frequency, recency)
    both = xp.logaddexp(alive, gone)
    out = both if dropout_at_zero else xp.where(frequency > 0, both, alive)
    if k > 1:
        out = out + (k - 1.0) * litt - math.lgamma(k) * frequency
    return out


# ---------------------------------------------------------------------------------------
# the active customer's posterior
# ---------------------------------------------------------------------------------------


def log_phase_weights(k: int, s: Any, gap: Any, scale: Any) -> np.ndarray:
    """Unnormalised ``log P(j)``, ``j = 0 … k−1``, on a new last axis: ``log Γ(s+j) −
    log Γ(s) − log j! + j log(Δ/scale)`` (module docstring; ``scale = α + T``).  Their
    ``logsumexp`` is ``log S`` of :func:`erlang_log_likelihood`."""
    j = np.arange(k, dtype=float)
    s, gap, scale = (np.asarray(v, dtype=float)[..., None] for v in (s, gap, scale))
    log_ratio = np.log(np.where(gap > 0, gap, 1.0)) - np.log(scale)
    powers = j * np.where(gap > 0, log_ratio, -1e300)  # Δ = 0: only j = 0 is left
    return special.gammaln(s + j) - special.gammaln(s) - special.gammaln(j + 1.0) + powers


def erlang_probability_alive(
    k: int,
    x: Any,
    t_x: Any,
    T: Any,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    dropout_at_zero: bool,
) -> np.ndarray:
    """``P(alive)``: the share of the alive term in :func:`erlang_log_likelihood`'s bracket,
    ``S (α+T)^(−s) / (S (α+T)^(−s) + a/(b+x−1+m) (α+t_x)^(−s))`` (RPS 2021; BTYDplus's
    ``xbgcnbd.PAlive``), as a logistic function of the log-odds."""
    x, t_x, T, r, alpha, a, b = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (x, t_x, T, r, alpha, a, b))
    )
    m = 1.0 if dropout_at_zero else 0.0
    s = r + k * x
    log_stay = special.logsumexp(log_phase_weights(k, s, T - t_x, alpha + T), axis=-1)
    x_pos = x if dropout_at_zero else np.maximum(x, 1.0)
    log_odds_dead = (
        np.log(a) - np.log(b + x_pos - 1.0 + m) + s * np.log1p((T - t_x) / (alpha + t_x)) - log_stay
    )
    alive = special.expit(-log_odds_dead)
    return alive if dropout_at_zero else np.where(x > 0, alive, 1.0)


def _flat(*values: Any) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """The broadcast shape of ``values`` and each of them broadcast and raveled."""
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values))
    return arrays[0].shape, [np.ravel(v) for v in arrays]


def _tail(m: np.ndarray, s: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``P(NB ≥ m) = I_z(m, s)`` for ``m ≥ 1`` (SciPy's ``betainc``: within 1e-12
    relative of its complement form ``betaincc(s, m, 1−z)``, which is 15 times slower,
    on 200,000 log-uniform draws with ``z ≥ 1/2`` and values above 1e-200)."""
    return special.betainc(m, s, z)


def row_chunks(reach: np.ndarray, width: int) -> list[np.ndarray]:
    """Indices of the rows in chunks of at most :data:`_CELLS` cells (``reach × width``
    per row; a row alone may exceed it), rows of similar ``reach`` together."""
    order_ = np.argsort(reach, kind="stable")
    cells = np.asarray(reach, dtype=float)[order_] * width
    out: list[np.ndarray] = []
    start = 0
    while start < order_.size:
        # the chunk's widest row is its last (sorted), so count × cells[stop − 1] bounds it
        cost = np.arange(1, order_.size - start + 1) * cells[start:]
        stop = start + max(1, int(np.searchsorted(cost, _CELLS, side="right")))
        out.append(order_[start:stop])
        start = stop
    return out


def posterior(
    k: int,
    x: Any,
    t_x: Any,
    T: Any,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    *,
    extra: float,
    t: Any = 0.0,
    count: Any = 0.0,
) -> tuple[tuple[int, ...], dict[str, np.ndarray]]:
    """The active customer's posterior (module docstring), broadcast and raveled:
    ``s = r + kx``, ``scale = α + T``, the normalised phase weights ``w`` (rows, k),
    ``a`` and ``b1 = b + x + extra`` (``extra`` = 1 for the MBG variant), with the
    forecast window ``t`` and a purchase ``count`` broadcast alongside."""
    shape, (x, t_x, T, r, alpha, a, b, t, count) = _flat(x, t_x, T, r, alpha, a, b, t, count)
    s, scale = r + k * x, alpha + T
    log_w = log_phase_weights(k, s, T - t_x, scale)
    w = np.exp(log_w - special.logsumexp(log_w, axis=-1, keepdims=True))
    return shape, {
        "s": s,
        "scale": scale,
        "w": w,
        "a": a,
        "b1": b + x + extra,
        "t": t,
        "count": count,
    }


def _log_tail_bound(k: int, L: np.ndarray, s: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``log`` of a bound on what the sums over the phase count ``M`` leave out beyond
    ``L``: ``E[M 1{M > L}]/k`` (``C(⌊M/k⌋) ≤ M/k``), ``−inf`` at ``z = 0``, ``+inf``
    where the bound does not apply (``L`` below the mean).

    ``M = j + NB(s+j, z)`` lies stochastically below ``Y = k−1 + NB(s', z)``, ``s' =
    s+k−1``, and Chernoff's bound with ``E[e^(θ NB)] = ((1−z)/(1−z e^θ))^s'`` gives
    ``E[Y 1{Y > L}] ≤ G e^(−θ m) (L + 1 + 1/(1−e^(−θ))``), ``m = L+2−k``, ``G`` the
    generating function, at the ``θ`` that minimises ``G e^(−θ m)``: ``e^θ =
    m/(z(m+s'))``."""
    sp, m = s + k - 1.0, L + 2.0 - k
    with np.errstate(divide="ignore", invalid="ignore"):
        log_z, log_ms = np.log(z), np.log(m + sp)
        theta = np.log(m) - log_z - log_ms
        out = (
            sp * (np.log1p(-z) + log_ms - np.log(sp))
            + m * (log_z + log_ms - np.log(m))
            + np.log(L + 1.0 - 1.0 / np.expm1(-theta))
            - math.log(k)
        )
    return np.where(z <= 0, -np.inf, np.where((m > 0) & (theta > 0), out, np.inf))


def _phase_reach(k: int, s: np.ndarray, z: np.ndarray, log_tol: np.ndarray) -> np.ndarray:
    """The fewest phases ``L`` whose sums leave out less than ``e^log_tol`` purchases
    by :func:`_log_tail_bound` (``f``), or a few more: Newton steps on ``f(L) = log_tol``
    with the slope ``−θ`` from a reach where it holds.  ``f`` is concave with slope
    ``≥ −θ`` (the envelope theorem), so every step stays where the bound holds (checked:
    where it fails the start is kept)."""
    mean = (s + k - 1.0) * z / (1.0 - z)
    start = np.ceil(mean + 20.0 * np.sqrt(mean / (1.0 - z)) + 60.0 / (1.0 - z) + 2.0 * k)
    while np.any(bad := _log_tail_bound(k, start, s, z) > log_tol):
        start = np.where(bad, 2.0 * start, start)
    reach = start
    for _ in range(6):
        m, sp = reach + 2.0 - k, s + k - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = np.log(m) - np.log(z) - np.log(m + sp)
            step = (_log_tail_bound(k, reach, s, z) - log_tol) / theta
        reach = np.where(np.isfinite(step), reach + np.minimum(step, 0.0), reach)
    reach = np.ceil(reach)
    return np.where(_log_tail_bound(k, reach, s, z) <= log_tol, reach, start).astype(np.int64)


def _dropout_sums(k: int, a: np.ndarray, b1: np.ndarray, phases: int) -> np.ndarray:
    """``C(⌊M/k⌋)`` for ``M = 0 … phases−1`` on the first axis (phases, rows): ``C(n) =
    Σ_{i≤n} c_i``, ``c_i = E[(1−p)^(i−1)] = B(a, b1+i−1)/B(a, b1)`` (``c_1 = 1``,
    ``c_(i+1)/c_i = (b1+i−1)/(a+b1+i−1)``)."""
    n = np.arange(1.0, phases // k + 1.0)[:, None]
    steps = np.log1p(-a / (a + b1 + n[:-1] - 1.0))
    c = np.exp(np.cumsum(np.concatenate([np.zeros((1, a.size)), steps]), axis=0))
    total = np.concatenate([np.zeros((1, a.size)), np.cumsum(c, axis=0)])
    return np.repeat(total, k, axis=0)[:phases]


def active_expected_grid(k: int, post: dict[str, np.ndarray], t: np.ndarray) -> np.ndarray:
    """``E[X(t) | alive]`` at windows ``t`` (rows, nodes) for every row of ``post``
    (:func:`posterior`; its ``t`` is not used), summed over the phase count ``M``.

    Counting phases from the last purchase, ``M = j + m`` (``m`` phases in the window)
    has the posterior ``P(M) = NB(M; s, z) Σ_{j<k} w_j [M]_j/(s)_j ((1−z)/z)^j`` (falling
    and rising factorials; ``z = t/(scale+t)``), and ``X(t) = ⌊M/k⌋`` purchases less
    dropout, so ``E[X(t) | alive] = Σ_M P(M) C(⌊M/k⌋)`` (:func:`_dropout_sums`): one
    pass with positive terms, no incomplete Beta function.  Each sum stops where
    :func:`_log_tail_bound` at the largest ``s`` and ``z`` of a chunk of rows (the bound
    grows with both) proves what is left below 1e-17 purchases, or below 1e-17 of the
    row's smallest value where that is below 1e-3 (tiny windows: a second pass)."""
    s, scale = post["s"], post["scale"]
    t = np.asarray(t, dtype=float)
    z = t / (scale[:, None] + t)
    log_tol = np.full(s.size, math.log(_TAIL))
    out = np.zeros(z.shape)
    todo = np.flatnonzero(z.max(axis=1) > 0)
    for _ in range(2):
        if not todo.size:
            break
        reach = _phase_reach(k, s[todo], z[todo].max(axis=1), log_tol[todo])
        parts = [todo[part] for part in row_chunks(reach + 1, _CELLS // _GRID_CELLS)]
        top = np.array([[s[rows].max(), log_tol[rows].min()] for rows in parts])
        z_top = np.stack([z[rows].max(axis=0) for rows in parts])
        nodes = _phase_reach(k, top[:, :1] + 0.0 * z_top, z_top, top[:, 1:] + 0.0 * z_top)
        for rows, at in zip(parts, nodes, strict=True):
            out[rows] = _grid_sums(k, post, rows, z[rows], at)
        low = np.min(np.where(z[todo] > 0, out[todo], np.inf), axis=1)
        todo, low = todo[low < 1e-3], low[low < 1e-3]
        log_tol[todo] = math.log(_TAIL) + np.log(np.maximum(low, 1e-300))
    return out


def _grid_sums(
    k: int, post: dict[str, np.ndarray], rows: np.ndarray, z: np.ndarray, reach: np.ndarray
) -> np.ndarray:
    """The sums of :func:`active_expected_grid` for ``rows``, phases ``M ≤ reach`` (per
    node).  Shared by a row's nodes: ``log Γ(s+M)/(Γ(s) M!)`` (a cumulative sum of logs,
    error ``~M ε``) and ``C(⌊M/k⌋) [M]_j/(s)_j``; per node the negative binomial
    probabilities in logs and ``w_j ((1−z)/z)^j`` applied to the ``k`` sums over ``M``."""
    s, w, a, b1 = (post[c][rows] for c in ("s", "w", "a", "b1"))
    phases = int(reach.max()) + 1
    M = np.arange(phases, dtype=float)[:, None]
    log_coef = np.cumsum(np.log((s + M[:-1]) / M[1:]), axis=0)
    log_coef = np.concatenate([np.zeros((1, s.size)), log_coef])
    basis = np.empty((k, phases, s.size))
    basis[0] = _dropout_sums(k, a, b1, phases)
    for i in range(k - 1):  # times [M]_j/(s)_j
        basis[i + 1] = basis[i] * (M - i) / (s + i)
    live = z > 0
    zs = np.where(live, z, 0.5)
    log_z, log_rest, odds = np.log(zs), s[:, None] * np.log1p(-zs), (1.0 - zs) / zs
    out = np.zeros(z.shape)
    buffer = np.empty((phases, s.size))
    for node in range(z.shape[1]):
        n = int(reach[node]) + 1
        terms = np.multiply.outer(M[:n, 0], log_z[:, node], out=buffer[:n])
        lead = log_rest[:, node]
        folded = bool(np.all(lead > -300.0))  # else (1−z)^s is applied in the logs
        terms += log_coef[:n] if folded else log_coef[:n] + lead
        sums = np.einsum("mr,jmr->jr", np.exp(terms, out=terms), basis[:, :n])
        mix = sums[k - 1] * w[:, k - 1]
        for i in range(k - 2, -1, -1):
            mix = sums[i] * w[:, i] + odds[:, node] * mix
        out[:, node] = mix * np.exp(lead) if folded else mix
    return np.where(live, out, 0.0)


def active_expected(k: int, post: dict[str, np.ndarray]) -> np.ndarray:
    """``E[X(t) | alive]`` for every row of ``post`` at its own window ``t``
    (:func:`active_expected_grid`)."""
    return active_expected_grid(k, post, post["t"][:, None])[:, 0]


def active_pmf(K: int, k: int, post: dict[str, np.ndarray]) -> np.ndarray:
    """``P(X(t) = n | alive)`` for ``n = 0 … K−1`` (rows, K): ``P(N = 0)`` at ``n = 0``,
    else ``B(a, b1+n−1)/B(a, b1) · (P(N = n) + a/(a+b1+n−1) · P(N > n))`` (module
    docstring).  ``P(N = n | j)`` is the sum of the ``k`` negative binomial phase
    probabilities ``m = nk−j … nk−j+k−1`` (each positive: no cancellation), ``P(N ≥ K)``
    one incomplete Beta function per phase ``j``, and ``P(N > n) = P(N ≥ K) +
    Σ_{n<i<K} P(N = i)``."""
    s, scale, w, a, b1, t = (post[c] for c in ("s", "scale", "w", "a", "b1", "t"))
    j = np.arange(k, dtype=float)
    n = np.arange(K, dtype=float)
    out = np.empty((s.size, K))
    for rows in row_chunks(np.full(s.size, K * k), k):
        tr, sr, cr = t[rows, None], s[rows, None], scale[rows, None]
        phases = np.exp(nbd.log_pmf_counts(K * k, tr, sr + j, cr))  # (R, k, Kk)
        now = np.zeros((rows.size, K))
        for i in range(k):  # phase count m = nk − i + (0 … k−1): shift by i, sum blocks
            shifted = np.concatenate([np.zeros((rows.size, i)), phases[:, i, : K * k - i]], axis=1)
            now += w[rows, i, None] * shifted.reshape(rows.size, K, k).sum(axis=2)
        top = np.sum(w[rows] * _tail(K * k - j, sr + j, tr / (cr + tr)), axis=1)
        beyond = np.cumsum(now[:, :0:-1], axis=1)[:, ::-1]
        more = top[:, None] + np.concatenate([beyond, np.zeros((rows.size, 1))], axis=1)
        ar, br = a[rows, None], b1[rows, None]
        steps = np.log1p(-ar / (ar + br + n[1:-1] - 1.0))
        lead = np.zeros((rows.size, min(K, 2)))
        stay = np.exp(np.cumsum(np.concatenate([lead, steps], axis=1), axis=1))
        stop = ar / (ar + br + np.maximum(n - 1.0, 0.0))
        out[rows] = np.where(n > 0, stay * (now + stop * more), now)
    return out


# ---------------------------------------------------------------------------------------
# simulation
# ---------------------------------------------------------------------------------------


def erlang_purchase_times(
    k: int,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    T: Any,
    rng: np.random.Generator,
    dropout_at_zero: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repeat purchase times of customers drawn from the (M)BG/CNBD-k model, event by
    event: ``λ_i ~ Gamma(r, rate α)``, ``p_i ~ Beta(a, b)``; gaps ``Gamma(k, rate λ_i)``
    (Erlang-k) from the first purchase at 0; dropout for good right after each repeat
    purchase (and, with ``dropout_at_zero``, at time 0) with probability ``p_i``.
    Parameters are scalars or arrays broadcast against ``T`` (``(n,)``).

    Returns
    -------
    (customer, time, alive)
        The customer index (int64) and time of every repeat purchase in ``(0, T_i]``,
        sorted by customer then time, and whether each customer is active at ``T_i``.
    """
    T_arr = np.atleast_1d(np.asarray(T, dtype=float))
    r, alpha, a, b, T_arr = (
        np.broadcast_to(np.asarray(v, dtype=float), T_arr.shape).ravel()
        for v in (r, alpha, a, b, T_arr)
    )
    lam = rng.gamma(r, 1.0 / alpha)
    p = rng.beta(a, b)
    alive = np.ones(T_arr.size, dtype=bool)
    if dropout_at_zero:
        alive = rng.random(T_arr.size) >= p
    clock = np.zeros(T_arr.size)
    active = np.flatnonzero(alive)
    customers: list[np.ndarray] = []
    times: list[np.ndarray] = []
    while active.size:
        with np.errstate(divide="ignore"):  # λ = 0: the next purchase is never
            arrival = clock[active] + rng.gamma(k, size=active.size) / lam[active]
        inside = arrival <= T_arr[active]
        active = active[inside]
        clock[active] = arrival[inside]
        customers.append(active)
        times.append(clock[active])
        leaving = rng.random(active.size) < p[active]
        alive[active[leaving]] = False
        active = active[~leaving]
    customer = np.concatenate([*customers, np.zeros(0, dtype=np.int64)]).astype(np.int64)
    time = np.concatenate([*times, np.zeros(0)])
    order_ = np.argsort(customer, kind="stable")
    return customer[order_], time[order_], alive


def summarise(customer: np.ndarray, time: np.ndarray, T: np.ndarray) -> dict[str, np.ndarray]:
    """``frequency``, ``recency``, ``T`` and ``litt`` (Σ log of the gaps between
    successive purchases, the first gap from time 0; BTYDplus's ``elog2cbs``
    convention) of customers' repeat purchase times (sorted by customer, then time)."""
    n = T.size
    frequency = np.bincount(customer, minlength=n).astype(float)
    recency = np.zeros(n)
    recency[customer] = time  # the last purchase of each customer wins (sorted)
    previous = np.where(np.r_[True, customer[1:] != customer[:-1]], 0.0, np.r_[0.0, time[:-1]])
    litt = np.bincount(customer, weights=np.log(time - previous), minlength=n)
    return {"frequency": frequency, "recency": recency, "T": T.astype(float), "litt": litt}
