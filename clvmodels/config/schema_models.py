"""The schema of a ``models.<key>:`` block of a run configuration (a typed, frozen dataclass;
re-exported by :mod:`clvmodels.config.schema`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class ModelConfig:
    """``models.<key>:`` — options of one model.

    Model keys: ``bgnbd``, ``paretonbd``, ``mbgnbd``, ``nbd``, ``ggompertz``, ``bgcnbd``,
    ``mbgcnbd``, ``paretoggg``, ``bgbb``, ``gamma_gamma``, ``sbg``.

    Attributes
    ----------
    backend
        ``mle`` (maximum likelihood) or ``bayes`` (PyMC); null: ``mle``, except the
        Pareto/GGG, which has no closed-form likelihood and takes ``bayes`` only (its own
        Gibbs sampler).
    init
        Starting values, e.g. ``{r: 0.5, alpha: 5, a: 1, b: 2}`` (null: data-driven).
    max_iter
        Optimiser iteration limit.
    by_cohort
        sBG only: fit each cohort separately.
    priors
        Bayes: per-parameter priors, e.g. ``{r: {dist: gamma, alpha: 2, beta: 4}}`` (null:
        LogNormal(log θ₀, 2.5) around the starting value).
    method
        Bayes: ``nuts`` (posterior draws) or ``map`` (posterior mode + Laplace covariance).
    sampler
        Bayes, NUTS: ``auto`` (clvmodels' own NUTS over the compiled log posterior, or
        PyMC's where a fit has covariates, a uniform prior or the Pareto/NBD's hazard
        coordinates), ``clvmodels``, ``pymc`` or ``nutpie`` (if installed).
    draws
        Bayes: draws per chain after tuning.
    tune
        Bayes: tuning steps per chain.
    chains
        Bayes: number of chains.
    target_accept
        Bayes: NUTS target acceptance rate (PyMC's default; raise it, e.g. to 0.95, when
        the run warns of divergent transitions).
    seed
        Bayes: sampler seed.
    ess_floor
        Bayes: warn when a parameter's bulk or tail ESS is below this.
    covariates
        Covariates per process (columns of ``data.covariates``): ``purchase``, ``dropout``
        (BG/NBD, MBG/NBD, Pareto/NBD, GGompertz/NBD), ``purchase`` (NBD), ``spend``
        (Gamma-Gamma), ``churn`` (sBG). Null: every covariate on every process; ``{}``:
        none. BG/BB, BG/CNBD-k, MBG/CNBD-k and Pareto/GGG take none.
    dynamic_covariates
        Time-varying covariates per process (names from ``data.dynamic_covariates``):
        ``purchase``, ``dropout`` (Pareto/NBD), ``purchase`` (BG/NBD). Predictions then use
        DECT and need a finite ``clv.horizon``; not with ``covariates`` on the same model.
    constraints
        Parameters sharing one coefficient per covariate (same link sign only), e.g.
        ``[[a, b]]`` (BG/NBD dropout) or ``[[alpha, beta]]`` (Pareto/NBD purchase and
        dropout).
    penalty
        ``{l2: <lambda>}`` or ``{l2: auto}``: L2 penalty λ Σγ² on the covariate
        coefficients (MLE; ``auto`` chooses λ by 5-fold cross-validation over customers);
        with ``backend: bayes`` a number sets the coefficients' priors to
        Normal(0, 1/√(2λ)).
    hierarchy
        ``{group: <column>}``: partial pooling across the levels of a customer-table column
        (``cohort`` for the sBG), ``backend: bayes`` only; BG/NBD, Pareto/NBD, Gamma-Gamma,
        sBG. ``parameters: [alpha, b]`` pools only those (default: all).
    k
        BG/CNBD-k, MBG/CNBD-k: the Erlang order of the gaps between purchases (1 = BG/NBD,
        MBG/NBD); null: chosen by profile likelihood over ``1..max_k``, stopping once the
        likelihood has fallen twice (BTYDplus's rule).
    max_k
        BG/CNBD-k, MBG/CNBD-k: largest Erlang order the profile tries.
    thin
        Pareto/GGG: keep every ``thin``-th draw of the Gibbs sampler (it takes ``draws``,
        ``tune``, ``chains``, ``seed``, ``ess_floor``, ``thin``, no PyMC option).
    """

    backend: Literal["mle", "bayes"] | None = None  # None: the model's default (mle; bayes
    # for the Pareto/GGG, which has no closed-form likelihood)
    init: dict[str, float] | None = None
    max_iter: int = 1000
    by_cohort: bool = True
    priors: dict[str, dict[str, Any]] | None = None
    method: Literal["nuts", "map"] = "nuts"
    sampler: Literal["auto", "clvmodels", "pymc", "nutpie"] = "auto"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.8
    seed: int = 0
    ess_floor: float = 400.0
    covariates: dict[str, list[str]] | None = None
    dynamic_covariates: dict[str, list[str]] | None = None  # time-varying, per process
    constraints: list[list[str]] | None = None  # parameters sharing one coefficient
    penalty: dict[str, Any] | None = None  # {l2: <lambda> | auto} on the coefficients
    hierarchy: dict[str, Any] | None = None  # {group: <customer column>}, bayes only
    k: int | None = None  # bgcnbd, mbgcnbd: fixed Erlang order (None: profile likelihood)
    max_k: int = 10  # bgcnbd, mbgcnbd: largest Erlang order the profile tries
    thin: int = 1  # paretoggg: keep every thin-th draw of its Gibbs sampler
