"""Per-customer posterior (or parametric) summaries: means, sds and intervals over draws.

Intervals come from parameter uncertainty: posterior draws (Bayesian fits) or draws of
the log-parameters from the MLE's asymptotic normal distribution
(:meth:`clvmodels.results.FitResult.parameter_draws`), pushed through the same formulas
as the point values (:mod:`clvmodels.clv.arrays`); the interval is the central
``interval`` quantile range of the draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from clvmodels.backends.compress import factorize_rows
from clvmodels.clv import arrays
from clvmodels.clv.arrays import (
    PatternLink,
    linked,
    purchase_arrays,
    spend_columns,
    spend_per_order,
)
from clvmodels.clv.settings import ValueSettings
from clvmodels.estimators import Estimator
from clvmodels.machine import usable_cores
from clvmodels.models import model_info

CELLS_PER_CHUNK = 2_000_000
"""Draws × customers held at once per quantity (16 MB of float64)."""
QUANTITIES = ("p_alive", "expected_purchases", "expected_spend", "dert", "clv")
BOUNDED = ("p_alive", "expected_purchases", "clv")
"""The quantities that get ``lower``/``upper`` bounds."""


@dataclass(frozen=True)
class _Draws:
    """What every chunk of customers needs: the draws, the settings and the columns."""

    key: str
    rows: dict[str, np.ndarray]
    settings: ValueSettings
    fallback: float
    links: Mapping[str, PatternLink | None]
    purchase: dict[str, np.ndarray]
    spend: dict[str, np.ndarray] | None
    history: list[str]
    pair: list[str]

    @property
    def n_draws(self) -> int:
        return len(next(iter(self.purchase.values())))


def draw_summaries(
    key: str,
    purchase: Estimator,
    spend: Estimator | None,
    rows: dict[str, np.ndarray],
    settings: ValueSettings,
    fallback: float,
    links: Mapping[str, PatternLink | None],
    weights: np.ndarray | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Mean, sd and central interval of every per-customer quantity over parameter draws
    (posterior draws, or MLE parametric draws); ``lower``/``upper`` only for
    :data:`BOUNDED`.  With ``weights`` (how many customers each row stands for), also
    ``out["total"]["clv"]``: the customers' total CLV in each draw, whose quantiles are
    the interval of the total (the customers' bounds do not add up to it).

    Each quantity is evaluated once per distinct value of what it depends on: P(alive),
    expected purchases and DERT per purchase history, the spend per ``(x, m̄)``, the
    CLV per row.  Memory is bounded whatever the number of customers and draws: rows
    are taken in chunks of at most :data:`CELLS_PER_CHUNK` draws × rows values per
    quantity, and within a chunk the draws are evaluated in batches holding at most
    :data:`clvmodels.clv.arrays.PAIR_CELLS` draws × distinct ``(x, T)`` pairs (the
    numerical DERT integral evaluates ~10–500 nodes per such cell; BG/BB: draws ×
    histories × horizon periods).  Rows are visited in ``(x, T)`` order so that a chunk
    holds few distinct pairs.  ``settings.threads`` threads share the work: whole chunks
    when there are at least as many chunks as threads (each thread holds its own), else
    the batches of draws of each chunk in turn (CDNOW's 1,030 histories are one chunk of
    six batches at 200 draws).  The batches never depend on the threads, so neither do
    the results.
    """
    rng = np.random.default_rng(settings.seed)
    n_draws = int(settings.draws)
    purchase_draws = purchase.result_.parameter_draws(n_draws, rng)
    spend_draws = None if spend is None else spend.result_.parameter_draws(n_draws, rng)
    info = model_info(key)
    active = info.active or info.history  # the columns the DERT integral is evaluated per
    pair = [*active, *(["pattern"] if "pattern" in rows else [])]
    spend_keys = ("monetary_value", "spend_pattern")
    history = pair + [c for c in rows if c not in pair and c not in spend_keys]
    job = _Draws(key, rows, settings, fallback, links, purchase_draws, spend_draws, history, pair)
    n = len(rows["frequency"])
    out = {
        m: {s: np.empty(n) for s in ("mean", "sd", *(("lower", "upper") if m in BOUNDED else ()))}
        for m in QUANTITIES
    }
    order = np.lexsort([rows[c] for c in reversed([*history, *spend_keys]) if c in rows])
    chunk = max(1, CELLS_PER_CHUNK // n_draws)
    starts = range(0, n, chunk)
    threads = settings.threads or usable_cores()
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if threads <= 1:
        totals = [_summarise(job, order[s : s + chunk], out, w) for s in starts]
    else:
        totals = _threaded(job, order, chunk, out, w, threads)
    if weights is not None:
        out["total"] = {"clv": np.sum(totals, axis=0)}
    return out


def _threaded(
    job: _Draws,
    order: np.ndarray,
    chunk: int,
    out: dict[str, dict[str, np.ndarray]],
    weights: np.ndarray,
    threads: int,
) -> list[np.ndarray]:
    """:func:`_summarise` of every chunk over ``threads`` threads; each chunk's total CLV
    per draw."""
    starts = range(0, len(order), chunk)
    # NumPy and SciPy release the GIL inside their loops, so threads share the work: with
    # as many chunks of customers as threads each thread takes whole chunks (and holds its
    # own), otherwise the chunks are taken one by one and their batches of draws are
    # spread over the threads (each writing its own draws' columns)
    with ThreadPoolExecutor(threads) as pool:
        if len(starts) >= threads:
            # list(): re-raises a chunk's error here
            return list(
                pool.map(lambda s: _summarise(job, order[s : s + chunk], out, weights), starts)
            )
        return [_summarise(job, order[s : s + chunk], out, weights, pool) for s in starts]


def _summarise(
    job: _Draws,
    idx: np.ndarray,
    out: dict[str, dict[str, np.ndarray]],
    weights: np.ndarray,
    pool: Executor | None = None,
) -> np.ndarray:
    """Fill ``out`` at the customers ``idx`` (one chunk), its batches of draws spread
    over ``pool``'s threads when given (the batches do not depend on it); returns the
    chunk's ``weights``-weighted total CLV per draw."""
    in_history, distinct = factorize_rows([job.rows[c][idx] for c in job.history])
    histories = dict(zip(job.history, distinct, strict=True))
    if model_info(job.key).discrete:  # a finite-horizon DERT holds history × period per draw
        horizon = job.settings.horizon
        per_draw = len(distinct[0]) * max(int(horizon) if math.isfinite(horizon) else 1, 1)
    else:  # the DERT integral is evaluated per (x, T) pair
        per_draw = len(factorize_rows([histories[c] for c in job.pair])[1][0])
    if job.spend is None:
        in_spend, spend_rows = np.zeros(len(idx), dtype=np.int64), None
    else:
        columns = {k: v[idx] for k, v in spend_columns(job.rows).items()}
        in_spend, distinct_spend = factorize_rows(list(columns.values()))
        spend_rows = dict(zip(columns, distinct_spend, strict=True))
    sizes = {"expected_spend": int(in_spend.max()) + 1, "clv": len(idx)}
    # draws along the last axis: contiguous for the reductions and the partition
    values = {m: np.empty((sizes.get(m, len(distinct[0])), job.n_draws)) for m in QUANTITIES}
    batch = max(1, arrays.PAIR_CELLS // per_draw)

    def fill(j: int) -> None:
        quantities = _batch_values(job, slice(j, j + batch), histories, spend_rows)
        quantities["clv"] = (
            job.settings.margin
            * quantities["expected_spend"][:, in_spend]
            * quantities["dert"][:, in_history]
        )
        for m in QUANTITIES:
            values[m][:, j : j + batch] = quantities[m].T

    batches = range(0, job.n_draws, batch)
    if pool is None or len(batches) == 1:
        for j in batches:
            fill(j)
    else:
        list(pool.map(fill, batches))  # list(): re-raises a batch's error here
    total = weights[idx] @ values["clv"]  # before the quantiles reorder the draws
    q = (1.0 - float(job.settings.interval)) / 2.0
    where = {"expected_spend": in_spend, "clv": slice(None)}
    for m in QUANTITIES:
        at = where.get(m, in_history)
        out[m]["mean"][idx] = values[m].mean(axis=1)[at]
        out[m]["sd"][idx] = values[m].std(axis=1, ddof=1)[at]
        if m in BOUNDED:
            bounds = np.quantile(values[m], [q, 1.0 - q], axis=1, overwrite_input=True)
            out[m]["lower"][idx], out[m]["upper"][idx] = bounds[0][at], bounds[1][at]
    return total


def _batch_values(
    job: _Draws,
    draws: slice,
    histories: dict[str, np.ndarray],
    spend_rows: dict[str, np.ndarray] | None,
) -> dict[str, Any]:
    """P(alive), expected purchases, DERT per history and the spend per order per spend
    row, for the batch of draws ``draws`` (arrays of shape ``(batch, rows)``)."""
    params = {k: v[draws, None] for k, v in job.purchase.items()}
    values = purchase_arrays(job.key, linked(params, job.links["pattern"]), histories, job.settings)
    if spend_rows is None or job.spend is None:
        values["expected_spend"] = np.full((1, 1), float(job.fallback))
    else:
        spend = linked(
            {k: v[draws, None] for k, v in job.spend.items()}, job.links["spend_pattern"]
        )
        values["expected_spend"] = spend_per_order(spend, spend_rows, job.fallback)
    return values
