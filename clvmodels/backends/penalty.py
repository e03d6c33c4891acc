"""The L2 penalty of covariate coefficients in the maximum-likelihood backend, and its
choice by cross-validation over customers.

The penalised log-likelihood is ``ℓ_λ(φ) = ℓ(E φ) − λ Σ_j γ_j²``
(:mod:`clvmodels.estimators.regularize`): ``φ`` are the estimated coordinates (the
log-parameters, then the free covariate coefficients ``γ_j``), ``E`` the 0/1 expansion
to every coefficient, a tied one taking its source's value
(:meth:`clvmodels.backends.design.CovariateLinks.expansion`).  Its maximum is the
posterior mode under ``γ_j ~ Normal(0, 1/√(2λ))`` priors and flat priors on the rest.

``penalty="auto"`` chooses ``λ`` by K-fold cross-validation over customers (Hastie,
Tibshirani & Friedman 2009, *The Elements of Statistical Learning*, 2nd ed., §7.10):
the customers of every compressed row are split over the folds (:func:`fold_weights`),
each ``λ`` of :func:`penalty_grid` is fitted on every fold's training customers and
scored by the held-out customers' *unpenalised* log-likelihood per customer, and the
strongest ``λ`` whose mean score is within one standard error of the best is chosen
(the one-standard-error rule, ibid.; :class:`CrossValidation`).  A fold fit costs a
fit on the distinct rows, whatever the number of customers: only the weights change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clvmodels.backends.design import CovariateLinks
from clvmodels.backends.information import Objective
from clvmodels.errors import FitError
from clvmodels.models.spec import coefficient_name, split_coefficient
from clvmodels.results import undetermined_error

AUTO = "auto"
"""The penalty that asks for cross-validation."""

FOLDS = 5
"""Number of cross-validation folds."""

SEED = 18
"""Seed of the split of customers into folds: a fit is deterministic for fixed data."""

DECADES = 7
"""The grid holds ``λ = n · 10^−k`` for ``k = 0 … DECADES − 1``, and ``λ = 0``."""


def check_penalty(key: str, penalty: float | str | None) -> None:
    """Refuse a penalty that is neither ``None``, a number ``≥ 0`` nor ``"auto"``."""
    if penalty is None or penalty == AUTO:
        return
    if isinstance(penalty, bool) or not isinstance(penalty, int | float):
        raise FitError(f"{key}: penalty must be a number >= 0 or 'auto', got {penalty!r}")
    if not math.isfinite(penalty) or penalty < 0:
        raise FitError(f"{key}: penalty must be a number >= 0 or 'auto', got {penalty!r}")


def penalised(
    objective: Objective, expansion: np.ndarray | None, n_base: int, l2: float
) -> Objective:
    """``φ ↦ (ℓ(E φ) − λ Σ_j φ_j², ∇)`` over the coefficients ``φ_j`` (the coordinates
    after the ``n_base`` model parameters): the objective of a fit in the estimated
    coordinates ``φ``.  ``expansion`` ``None`` is the identity (no tied coefficients)."""

    def evaluate(phi: np.ndarray) -> tuple[float, np.ndarray]:
        phi = np.asarray(phi, dtype=float)
        value, grad = objective(phi if expansion is None else expansion @ phi)
        if expansion is not None:
            grad = expansion.T @ grad
        if l2:
            gamma = phi[n_base:]
            value = value - l2 * float(gamma @ gamma)
            grad = np.concatenate([grad[:n_base], grad[n_base:] - 2.0 * l2 * gamma])
        return value, grad

    return evaluate


def penalty_grid(n_obs: float) -> tuple[float, ...]:
    """Candidate penalties, strongest first: ``λ = n · 10^−k`` (``k = 0 … 6``), then 0.

    The log-likelihood grows with the number of customers ``n`` while the penalty does
    not, so the grid scales with ``n``: a penalty ``λ`` moves a coefficient by about
    ``2λ·var(γ̂)`` relative to its size, with ``var(γ̂) ≈ c/n`` (``c`` the inverse
    information per customer, of order 1–100 for these models), so ``λ = n`` shrinks
    the coefficients to almost nothing and ``λ = n·10⁻⁶`` leaves them as they are.
    """
    return (*(float(n_obs) / 10.0**k for k in range(DECADES)), 0.0)


def fold_weights(
    weights: np.ndarray, folds: int = FOLDS, rng: np.random.Generator | None = None
) -> np.ndarray:
    """The held-out weight of every row in every fold, shape ``(folds, rows)``.

    A compressed row stands for ``w`` customers: with whole-number weights they are
    spread over the folds as a multinomial draw with equal probabilities (a row of 50
    customers puts about 10 in each of 5 folds), otherwise every row goes to one fold
    as a whole.  ``rng`` defaults to one seeded with :data:`SEED`, so the split is
    reproducible.  A row's weights over the folds sum to its weight.
    """
    rng = np.random.default_rng(SEED) if rng is None else rng
    w = np.asarray(weights, dtype=float)
    if np.all(w == np.round(w)):
        counts = rng.multinomial(w.astype(np.int64), np.full(folds, 1.0 / folds))
        return counts.T.astype(float)
    held = np.zeros((folds, len(w)))
    held[rng.integers(0, folds, len(w)), np.arange(len(w))] = w
    return held


FitFold = Callable[[np.ndarray, float, np.ndarray | None], np.ndarray | None]
"""``(training weights, λ, warm start or None) -> estimate φ``, or ``None`` when the fit
fails or has no finite maximum."""

ScoreFold = Callable[[np.ndarray, np.ndarray], float]
"""``(held-out weights, φ) -> the unpenalised log-likelihood of the held-out rows``."""


@dataclass(frozen=True)
class CrossValidation:
    """The scores of the candidate penalties.

    Attributes
    ----------
    grid
        The penalties, strongest first (:func:`penalty_grid`).
    scores
        ``(len(grid), folds)``: held-out log-likelihood per customer of each fold;
        ``−inf`` where a fold fit failed or ran to the edge, ``nan`` where not tried
        (every weaker penalty after the first that failed).
    starts
        Per penalty, the mean of the fold estimates (a start for the fit on all
        customers), or ``None``.
    """

    grid: tuple[float, ...]
    scores: np.ndarray
    starts: tuple[np.ndarray | None, ...]

    @property
    def mean(self) -> np.ndarray:
        """Mean held-out log-likelihood per customer of every penalty (−inf: failed)."""
        usable = np.all(np.isfinite(self.scores), axis=1)
        return np.where(
            usable, np.mean(np.where(usable[:, None], self.scores, 0.0), axis=1), -np.inf
        )

    @property
    def best(self) -> int | None:
        """Index of the penalty with the best mean score (the strongest among ties)."""
        mean = self.mean
        return int(np.argmax(mean)) if np.isfinite(mean).any() else None

    def paired_se(self) -> np.ndarray:
        """Standard error of each penalty's mean score minus the best's, from the
        per-fold differences (paired: the same customers are held out)."""
        best = self.best
        if best is None:
            return np.full(len(self.grid), np.nan)
        diff = self.scores - self.scores[best]
        k = self.scores.shape[1]
        with np.errstate(invalid="ignore"):
            return np.where(
                np.isfinite(self.mean), np.std(diff, axis=1, ddof=1) / math.sqrt(k), np.nan
            )

    @property
    def one_se(self) -> int | None:
        """The strongest penalty whose mean score is within one paired standard error of
        the best (the one-standard-error rule, Hastie et al. 2009, §7.10)."""
        best = self.best
        if best is None:
            return None
        gap = self.mean[best] - self.mean
        ok = np.flatnonzero(np.isfinite(self.mean) & (gap <= self.paired_se()))
        return int(ok.min())

    def ranked(self) -> list[int]:
        """Indices of the usable penalties: the :attr:`one_se` choice first, then the
        others by mean score (the fallbacks when the fit on all customers has no
        finite maximum at the chosen one)."""
        mean = self.mean
        order = [int(i) for i in np.argsort(-mean, kind="stable") if np.isfinite(mean[i])]
        chosen = self.one_se
        return order if chosen is None else [chosen, *(i for i in order if i != chosen)]

    def diagnostics(self, chosen: float) -> dict[str, Any]:
        """The record of ``diagnostics["penalty"]``: the chosen ``l2``, the rule, and per
        penalty of the grid its mean held-out log-likelihood per customer (``None`` when
        a fold fit had no finite maximum or it was not tried: ``status``) and the paired
        standard error of its difference to the best."""
        best, one_se = self.best, self.one_se
        mean, tried = self.mean, ~np.all(np.isnan(self.scores), axis=1)
        return {
            "l2": chosen,
            "chosen_by": "cross-validation",
            "folds": int(self.scores.shape[1]),
            "rule": "one standard error: the strongest penalty whose mean held-out "
            "log-likelihood per customer is within one paired standard error of the best",
            "grid": list(self.grid),
            "scores": [float(m) if np.isfinite(m) else None for m in mean],
            "se_vs_best": [float(s) if np.isfinite(s) else None for s in self.paired_se()],
            "status": [
                "ok" if np.isfinite(m) else "no finite maximum" if t else "not tried"
                for m, t in zip(mean, tried, strict=True)
            ],
            "best_l2": None if best is None else self.grid[best],
            "one_se_l2": None if one_se is None else self.grid[one_se],
        }


def cross_validate(
    fit: FitFold,
    score: ScoreFold,
    weights: np.ndarray,
    grid: Sequence[float],
    held: np.ndarray,
) -> CrossValidation:
    """Score every penalty of ``grid`` (strongest first) by K-fold cross-validation.

    Fold ``k`` trains on ``weights − held[k]`` with the penalty scaled to the training
    share, ``λ · n_train/n`` (so that it weighs as much per customer as in the fit on
    all customers), warm-started from the fold's estimate at the previous penalty,
    and is scored by the held-out log-likelihood per customer.  A penalty with a fold
    fit that fails or runs to the edge (``fit`` returns ``None``) scores ``−inf``; the
    weaker penalties after it are not tried (a weaker penalty does not bring a
    maximum back).
    """
    n = float(np.sum(weights))
    folds = held.shape[0]
    scores = np.full((len(grid), folds), np.nan)
    previous: list[np.ndarray | None] = [None] * folds
    starts: list[np.ndarray | None] = [None] * len(grid)
    for i, l2 in enumerate(grid):
        estimates = []
        for k in range(folds):
            train = weights - held[k]
            phi = fit(train, l2 * float(train.sum()) / n, previous[k])
            if phi is None:
                scores[i, k] = -np.inf
                break
            scores[i, k] = score(held[k], phi) / max(float(held[k].sum()), 1e-300)
            estimates.append(phi)
        if len(estimates) < folds:
            scores[i] = -np.inf
            break
        previous = estimates
        starts[i] = np.mean(estimates, axis=0)
    return CrossValidation(tuple(float(g) for g in grid), scores, tuple(starts))


def no_maximum_error(
    model: str,
    loose: Sequence[str],
    links: CovariateLinks | None,
    *,
    edge: bool,
    penalty: float | str | None,
) -> FitError:
    """The one-line error of a fit whose data do not pin down the parameters ``loose``.

    Without covariates on the parameters involved (those of ``loose``, a coefficient
    ``a:x`` involving ``a``) it is :func:`~clvmodels.results.undetermined_error`.  With
    them the likelihood of a fit with covariates has no finite maximum (``edge``: the
    estimates ran toward the edge of the parameter space; else the information is flat
    along them): the message names the covariates on those parameters and suggests the
    config's remedies — a constraint tying them (``constraints: [[a, b]]``, when
    :func:`tie_advice` finds parameters that can share coefficients) and, unless the
    penalty was already chosen by cross-validation, ``penalty: {l2: auto}``.
    """
    tied = {} if links is None else links.tied  # a tied coefficient moves with its source
    moved = [*loose, *(k for k, source in tied.items() if source in loose)]
    involved = dict.fromkeys(split_coefficient(n)[0] for n in moved)
    covariates = {} if links is None else {p: links.names[p] for p in links.names if p in involved}
    if links is None or not covariates:
        return undetermined_error(model, list(loose))
    listed = ", ".join(dict.fromkeys(c for group in covariates.values() for c in group))
    where = f"covariates {listed} on {', '.join(covariates)}"
    names = ", ".join(loose)
    if edge:
        what = f"the likelihood has no finite maximum: {names} run to the edge of the "
        what += f"parameter space ({where})"
    else:
        what = f"the data do not pin down {names} (the observed information is flat along "
        what += f"them; {where})"
    advice = []
    tie = tie_advice(links.signs, links.names, list(involved), links.tied)
    if tie:
        advice.append(f"tie them (models.{model}.constraints: [[{', '.join(tie)}]])")
    if penalty != AUTO:
        advice.append(f"shrink them (models.{model}.penalty: {{l2: auto}})")
    if not advice:
        advice.append("give more varied histories or fewer covariates")
    return FitError(f"{model}: {what}; {' or '.join(advice)}")


def tie_advice(
    signs: Mapping[str, float],
    names: Mapping[str, Sequence[str]],
    parameters: Sequence[str],
    tied: Mapping[str, str],
) -> tuple[str, ...]:
    """The parameters a constraint could tie for a fit without finite maximum whose
    undetermined coordinates involve ``parameters``: the first of them with covariates
    in the fit (``names``) and every parameter of the same link sign (``signs``) that
    shares one of its covariates, when they are at least two and not yet all tied
    (``tied``); ``()`` otherwise.  :func:`~clvmodels.backends.design.tie_coefficients`
    accepts what this returns (BG/NBD: ``a`` and ``b``; Pareto/NBD: ``alpha`` and
    ``beta``, whose shared coefficient the purchase process then pins down)."""
    for p in parameters:
        if p not in names:
            continue
        group = [q for q in names if signs[q] == signs[p] and set(names[q]) & set(names[p])]
        first, *others = group
        shared = [c for c in names[first] if all(c in names[q] for q in others)]
        untied = [
            (q, c)
            for q in others
            for c in shared
            if tied.get(coefficient_name(q, c)) != coefficient_name(first, c)
        ]
        if others and shared and untied:
            return tuple(group)
    return ()
