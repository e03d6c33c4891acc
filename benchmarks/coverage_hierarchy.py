"""Simulation-based calibration of the hierarchical BG/NBD: do the groups' 90 % and 50 %
posterior intervals cover their true parameters at the nominal rate, and do small groups
shrink toward the population?

Each data set has 20 groups of very different sizes (5, 6, 8, ... 392, 500 customers:
``np.geomspace(5, 500, 20)`` rounded, 2,304 customers).  The groups' parameters are
drawn afresh for every data set from the population a hierarchical fit assumes
(Gelman et al. 2013, *Bayesian Data Analysis*, ch. 5)::

    log alpha_g ~ Normal(log 4.0, 0.35)     log b_g ~ Normal(log 2.5, 0.3)

with ``r = 0.5`` and ``a = 0.8`` the same in every group.  Customers follow the BG/NBD
of Fader, Hardie & Lee (2005, *Marketing Science* 24(2), section 2): ``λ ~ Gamma(r,
rate alpha_g)``, ``p ~ Beta(a, b_g)``, purchases at the events of a Poisson process of
rate ``λ``, dropout with probability ``p`` after every repeat purchase, observed for
``T`` of 26-52 whole weeks (drawn by :func:`clvmodels.models.bgnbd.
simulate_purchase_times`, which samples the model event by event; no prediction code).

Every data set is fitted with ``BGNBD(backend="bayes", hierarchy={"group": "segment",
"parameters": ["alpha", "b"]}, chains=2, draws=500, tune=500, seed=i)`` (the model the
data come from; ``--parameters all`` pools ``r`` and ``a`` too) and read with
``group_effects(level)`` (rows of kind ``group``: ``θ[g]``; ``population``: the median
``θ``; ``spread``: ``sd(θ)``). The script reports, per parameter, the share of group
intervals that contain the truth (90 % and 50 %) with its binomial standard error
``sqrt(p(1 − p)/N)`` over the ``N`` group intervals (groups of one data set share the
population estimate, so the real uncertainty is somewhat larger), overall and by group
size; the coverage of the population median and spread when the fit reports them
(``alpha``, ``sd(alpha)``); and the shrinkage: for the groups of at most 21 customers,
the median distance ``|log θ[g] − log θ|`` of the hierarchical estimate from the fitted
population median, against that of a separate plain maximum-likelihood fit of the group
alone (no pooling), and both estimates' median absolute error on the log scale against
the truth. Wall time per fit is printed.

Usage::

    python benchmarks/coverage_hierarchy.py                 # 40 data sets
    python benchmarks/coverage_hierarchy.py --datasets 2    # smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from clvmodels import BGNBD
from clvmodels.errors import FitError
from clvmodels.models import bgnbd

COMMON = {"r": 0.5, "a": 0.8}
"""Parameters shared by every group."""
POPULATION = {"alpha": (4.0, 0.35), "b": (2.5, 0.3)}
"""Per grouped parameter: the population median and the sd of its log across groups."""
SIZES = np.round(np.geomspace(5, 500, 20)).astype(int)
"""Customers per group, smallest first (``g01`` has 5, ``g20`` 500)."""
LABELS = tuple(f"g{k + 1:02d}" for k in range(len(SIZES)))
SMALL = 21
"""Groups of at most this many customers are "small" (the shrinkage table)."""
SIZE_CLASSES = ((0, SMALL), (SMALL, 150), (150, 10**9))


def simulate(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, float]]:
    """One data set (module docstring): the frame ``customer_id, frequency, recency, T,
    segment`` and the true value of every group parameter (``alpha[g01]``, ...,
    ``r[g01]``, ...) and of the population (``alpha``, ``sd(alpha)``, ...)."""
    labels = list(LABELS)
    segment = np.repeat(np.arange(len(SIZES)), SIZES)
    truth: dict[str, float] = {}
    per_customer: dict[str, np.ndarray] = {}
    for parameter, (median, spread) in POPULATION.items():
        values = median * np.exp(spread * rng.standard_normal(len(SIZES)))
        truth.update({f"{parameter}[{g}]": float(v) for g, v in zip(labels, values, strict=True)})
        truth.update({parameter: median, f"sd({parameter})": spread})
        per_customer[parameter] = values[segment]
    for parameter, value in COMMON.items():
        truth.update({f"{parameter}[{g}]": value for g in labels})
        truth.update({parameter: value, f"sd({parameter})": 0.0})
    n = segment.size
    T = rng.integers(26 * 7, 52 * 7 + 1, n) / 7.0
    who, when = bgnbd.simulate_purchase_times(
        r=COMMON["r"], alpha=per_customer["alpha"], a=COMMON["a"], b=per_customer["b"], T=T, rng=rng
    )
    recency = np.zeros(n)
    np.maximum.at(recency, who, when)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1),
            "frequency": np.bincount(who, minlength=n).astype(float),
            "recency": recency,
            "T": T,
            "segment": np.array(labels)[segment],
        }
    )
    return frame, truth


def fit_hierarchical(
    frame: pd.DataFrame, seed: int, cores: int | None, parameters: Sequence[str] | None
) -> tuple[BGNBD, float]:
    """The hierarchical fit (``parameters`` pooled; ``None``: all) and its wall time in
    seconds."""
    started = time.perf_counter()
    options = {} if cores is None else {"cores": cores}
    hierarchy = {"group": "segment"}
    if parameters is not None:
        hierarchy["parameters"] = list(parameters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains: convergence is counted, not shown
        model = BGNBD(
            backend="bayes",
            hierarchy=hierarchy,
            chains=2,
            draws=500,
            tune=500,
            seed=seed,
            **options,
        ).fit(frame)
    return model, time.perf_counter() - started


def separate_mle(frame: pd.DataFrame, groups: Sequence[str]) -> dict[str, dict[str, float]]:
    """A plain maximum-likelihood BG/NBD of each of ``groups`` alone (no pooling);
    a group without a finite maximum is left out."""
    out = {}
    for group in groups:
        part = frame[frame["segment"] == group]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[group] = BGNBD().fit(part).params_
        except FitError:
            continue
    return out


def score_dataset(
    model: BGNBD, frame: pd.DataFrame, truth: dict[str, float]
) -> tuple[pd.DataFrame, dict[str, bool], list[dict[str, float]]]:
    """Per group interval: whether the 90 % and 50 % intervals hold the truth; the
    population's 90 % intervals; the shrinkage rows of the small groups."""
    wide, narrow = model.group_effects(level=0.9), model.group_effects(level=0.5)
    table = wide.join(narrow[["lower", "upper"]].add_suffix("_50"))
    groups = table[table["kind"] == "group"]
    true = np.array([truth[name] for name in groups.index])
    groups = groups.assign(
        truth=true,
        n=groups["customers"],
        covered_90=(groups["lower"] <= true) & (true <= groups["upper"]),
        covered_50=(groups["lower_50"] <= true) & (true <= groups["upper_50"]),
    )
    # the population's median and spread (not the spread of r and a: 0, never covered)
    population = {
        name: bool(row.lower <= truth[name] <= row.upper)
        for name, row in table[table["kind"] != "group"].iterrows()
        if truth[name] > 0
    }
    small = [g for g, size in zip(LABELS, SIZES, strict=True) if size <= SMALL]
    mle = separate_mle(frame, small)
    shrinkage = []
    for row in groups[groups["group"].isin(small)].itertuples():
        centre = math.log(model.params_[row.parameter])
        separate = mle.get(row.group, {}).get(row.parameter, math.nan)
        shrinkage.append(
            {
                "parameter": row.parameter,
                "pooled_distance": abs(math.log(row.estimate) - centre),
                "separate_distance": abs(math.log(separate) - centre),
                "pooled_error": math.log(row.estimate) - math.log(row.truth),
                "separate_error": math.log(separate) - math.log(row.truth),
            }
        )
    return groups, population, shrinkage


def coverage_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Share of intervals covering the truth, per parameter and size class, with the
    binomial standard error."""
    size_class = pd.cut(
        rows["n"],
        [low for low, _ in SIZE_CLASSES] + [SIZE_CLASSES[-1][1]],
        labels=[f"{lo + 1}-{hi}" if hi < 10**9 else f">{lo}" for lo, hi in SIZE_CLASSES],
    )
    frames = [rows.assign(size="all"), rows.assign(size=size_class.astype(str))]
    grouped = pd.concat(frames).groupby(["parameter", "size"], sort=False)
    out = grouped.agg(
        intervals=("covered_90", "size"),
        coverage_90=("covered_90", "mean"),
        coverage_50=("covered_50", "mean"),
    )
    for level in ("90", "50"):
        p = out[f"coverage_{level}"]
        out[f"se_{level}"] = np.sqrt(p * (1 - p) / out["intervals"])
    return out[["intervals", "coverage_90", "se_90", "coverage_50", "se_50"]]


def shrinkage_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Small groups: median distance from the population median, pooled and separate,
    and the median absolute log error of both against the truth (separate fits without
    a finite maximum left out and counted; those that have one can still be far off,
    hence medians)."""
    grouped = rows.groupby("parameter")
    return pd.DataFrame(
        {
            "groups": grouped.size(),
            "separate_failed": grouped["separate_error"].apply(lambda s: int(s.isna().sum())),
            "pooled_distance": grouped["pooled_distance"].median(),
            "separate_distance": grouped["separate_distance"].median(),
            "pooled_error": grouped["pooled_error"].apply(lambda s: float(s.abs().median())),
            "separate_error": grouped["separate_error"].apply(lambda s: float(s.abs().median())),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=40)
    parser.add_argument("--cores", type=int, default=None, help="default: one per chain")
    parser.add_argument("--seed", type=int, default=18, help="seed of the simulations")
    parser.add_argument(
        "--parameters",
        default="alpha,b",
        help="pooled parameters, comma-separated, or 'all' (default: the two that vary)",
    )
    args = parser.parse_args()
    pooled = None if args.parameters == "all" else args.parameters.split(",")
    coverage, population, shrinkage, seconds, unconverged = [], [], [], [], 0
    for i in range(args.datasets):
        frame, truth = simulate(np.random.default_rng((args.seed, i)))
        model, wall = fit_hierarchical(frame, seed=i, cores=args.cores, parameters=pooled)
        table, covered, small = score_dataset(model, frame, truth)
        coverage.append(table.assign(dataset=i))
        population.append(covered)
        shrinkage.extend(small)
        seconds.append(wall)
        unconverged += not model.result_.diagnostics.get("converged", True)
        line = {
            "dataset": i,
            "seconds": round(wall, 1),
            "coverage_90": round(float(table["covered_90"].mean()), 3),
            "coverage_50": round(float(table["covered_50"].mean()), 3),
            "population_90": covered,
        }
        print(json.dumps(line), flush=True)
    rows = pd.concat(coverage, ignore_index=True)
    pd.set_option("display.width", 120)
    pd.set_option("display.max_columns", 20)
    print(f"\ngroup intervals covering the truth ({args.datasets} data sets, nominal 0.90 / 0.50)")
    print(coverage_table(rows).round(3).to_string())
    if any(population):
        shares = pd.DataFrame(population).mean()
        print("\npopulation 90 % intervals covering the truth (share of data sets)")
        print(shares.round(3).to_string())
    print(f"\nshrinkage of the groups of at most {SMALL} customers (log scale)")
    print(shrinkage_table(pd.DataFrame(shrinkage)).round(3).to_string())
    print(
        f"\nwall time per hierarchical fit: median {np.median(seconds):.1f} s, "
        f"max {np.max(seconds):.1f} s, total {np.sum(seconds):.0f} s; "
        f"not converged: {unconverged} of {args.datasets}"
    )


if __name__ == "__main__":
    main()
