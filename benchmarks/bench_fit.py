"""Fit BG/NBD, Pareto/NBD and Gamma-Gamma on simulated customers: clvmodels vs lifetimes,
each used as its documentation allows, in one run.

Each side runs in a fresh child process of its own (``spawn``), so nothing is warm that
a user's first fit would not have warm.  After the first fit of each, the two processes
take turns, one fit each per round for ``--repeat`` rounds, so that a slow minute of the
machine falls on both sides alike:

* **ours, fresh** — ``clvmodels.fit`` the first time in the process (without covariates
  the likelihood's value and gradient are taped on NumPy, nothing is compiled; the
  import of the fit machinery is timed apart, as ``import lifetimes`` is);
* **ours, warm** — the median of the rounds' fits of the same data in that process;
* **lifetimes, weights** — lifetimes' best documented configuration: the distinct
  histories with ``weights=`` their counts (the ``groupby`` that finds them included),
  its first fit in the process (compared with ours fresh) and the median of the rounds
  (compared with ours warm);
* **lifetimes, per customer** — one row per customer, as most examples do (up to
  ``--per-customer-max`` customers: it grows with the rows).

Import times are printed apart (``import clvmodels`` vs ``import lifetimes``).  Data:
customers join uniformly over the first 12 weeks and are observed until week 39 (times in
whole days, as a transaction log gives them), with the CDNOW estimates of Fader, Hardie &
Lee (2005) as true parameters.

Usage::

    python benchmarks/bench_fit.py                       # 1e4, 1e5, 1e6 customers
    python benchmarks/bench_fit.py --sizes 1000000 --models bgnbd paretonbd

lifetimes (``pip install lifetimes``) is the peer; it is a test/benchmark-only
dependency and never used by clvmodels itself.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time

import numpy as np
import pandas as pd

TRUE = {
    "bgnbd": {"r": 0.243, "alpha": 4.41, "a": 0.793, "b": 2.43},
    "paretonbd": {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
}
HISTORY = {"gamma_gamma": ["frequency", "monetary_value"]}


def simulate(model: str, n: int, seed: int) -> pd.DataFrame:
    """Customers observed in whole days, expressed in weeks (deterministic in ``seed``)."""
    from clvmodels.models import bgnbd, gamma_gamma, paretonbd

    rng = np.random.default_rng(seed)
    join_day = rng.integers(0, 84, size=n)
    t_days = 273 - join_day
    module = bgnbd if model in ("bgnbd", "gamma_gamma") else paretonbd
    params = TRUE["bgnbd" if model == "gamma_gamma" else model]
    sim = module.simulate(n, T=t_days / 7.0, rng=rng, **params)
    recency_days = np.minimum(np.round(sim["recency"] * 7.0), t_days)
    recency_days = np.where(sim["frequency"] > 0, np.maximum(recency_days, 1), 0)
    frame = pd.DataFrame(
        {"frequency": sim["frequency"], "recency": recency_days / 7.0, "T": t_days / 7.0}
    )
    if model == "gamma_gamma":
        spend = gamma_gamma.simulate(
            n, frequency=frame["frequency"].to_numpy(), rng=rng, **TRUE["gamma_gamma"]
        )
        frame["monetary_value"] = np.round(spend["monetary_value"], 2)
        frame = frame[frame["frequency"] > 0].reset_index(drop=True)
    return frame


_SIDE: dict = {}  # a side's child process: its data and what it fits


def _load(side: str, model: str, n: int, seed: int) -> None:
    """Child process initializer: import a side's fit machinery (timed) and simulate."""
    started = time.perf_counter()
    if side == "ours":
        import clvmodels.backends.mle
        import clvmodels.estimators  # noqa: F401  (the fit machinery, as `import lifetimes`)
    else:
        import lifetimes  # noqa: F401
    _SIDE.update(side=side, model=model, imported=time.perf_counter() - started)
    _SIDE["frame"] = simulate(model, n, seed)


def _imported() -> float:
    return _SIDE["imported"]


def _fit_once() -> dict[str, float]:
    """One fit in the child process: seconds, estimates (and clvmodels' distinct rows)."""
    started = time.perf_counter()
    params = (_fit_ours if _SIDE["side"] == "ours" else _fit_lifetimes)(_SIDE["frame"])
    return {"seconds": time.perf_counter() - started, **params}


def _fit_ours(frame: pd.DataFrame) -> dict[str, float]:
    import clvmodels

    fitted = clvmodels.fit(_SIDE["model"], frame)
    out = {f"param:{k}": float(v) for k, v in fitted.params_.items()}
    return out | {"distinct": float(fitted.result_.n_unique)}


def _fit_lifetimes(frame: pd.DataFrame, weighted: bool = True) -> dict[str, float]:
    """lifetimes' fit, with ``weights=`` on the distinct rows (the groupby that finds
    them included) or per customer."""
    import lifetimes

    model = _SIDE["model"]
    columns = HISTORY.get(model, ["frequency", "recency", "T"])
    if weighted:
        rows = frame.groupby(columns, as_index=False).size()
        data, weights = rows[columns], rows["size"].to_numpy()
    else:
        data, weights = frame[columns], None
    fitter = {
        "bgnbd": lifetimes.BetaGeoFitter,
        "paretonbd": lifetimes.ParetoNBDFitter,
        "gamma_gamma": lifetimes.GammaGammaFitter,
    }[model]()
    fitter.fit(*(data[c] for c in columns), weights=weights)
    names = {"v": "gamma"}
    return {f"param:{names.get(k, k)}": float(v) for k, v in fitter.params_.items()}


def _per_customer() -> dict[str, float]:
    started = time.perf_counter()
    _fit_lifetimes(_SIDE["frame"], weighted=False)
    return {"seconds": time.perf_counter() - started}


def _side_by_side(model: str, n: int, seed: int, repeat: int) -> tuple[dict, dict]:
    """Both sides in a child process each: the first fit of each, then ``repeat`` rounds
    that alternate one fit of ours and one of lifetimes, so that a slow minute of the
    machine falls on both; ``fresh``/``first`` and the median of the rounds (``warm``)."""
    context = multiprocessing.get_context("spawn")
    pools, out = {}, {}
    try:
        for side in ("ours", "lifetimes"):  # one after the other: imports timed alone
            pools[side] = context.Pool(1, initializer=_load, initargs=(side, model, n, seed))
            out[side] = {"import": pools[side].apply(_imported)}
        runs: dict[str, list[dict]] = {side: [] for side in pools}
        for _ in range(1 + repeat):
            for side, pool in pools.items():
                runs[side].append(pool.apply(_fit_once))
    finally:
        for pool in pools.values():
            pool.terminate()
    for side, fits in runs.items():
        seconds = [fit["seconds"] for fit in fits]
        out[side] |= fits[-1] | {"fresh": seconds[0], "warm": statistics.median(seconds[1:])}
    return out["ours"], out["lifetimes"]


def _in_child(function, *load_args):
    """``function()`` in a fresh child process loaded by :func:`_load` with ``load_args``."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1, initializer=_load, initargs=load_args) as pool:
        return pool.apply(function)


def _max_diff(ours: dict[str, float], theirs: dict[str, float]) -> float:
    keys = [k for k in theirs if k.startswith("param:")]
    return max(abs(ours[k] / theirs[k] - 1) for k in keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--models", nargs="+", default=["bgnbd", "paretonbd", "gamma_gamma"])
    parser.add_argument(
        "--per-customer-max",
        type=int,
        default=100_000,
        help="largest size at which lifetimes also fits one row per customer",
    )
    parser.add_argument("--seed", type=int, default=2005)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="fits after the first in each process (both sides); warm is their median",
    )
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()}")
    header = (
        f"{'model':<12} {'customers':>10} {'distinct':>9} {'ours fresh':>11} {'ours warm':>10} "
        f"{'lt first':>9} {'lt warm':>8} {'fresh ratio':>12} {'warm ratio':>11} "
        f"{'lt per cust':>12} {'max diff':>9}"
    )
    print(header)
    print("-" * len(header))
    imports = {}
    for n in args.sizes:
        for model in args.models:
            ours, theirs = _side_by_side(model, n, args.seed, args.repeat)
            imports = {"clvmodels": ours["import"], "lifetimes": theirs["import"]}
            per_customer = "skipped"
            if n <= args.per_customer_max:
                plain = _in_child(_per_customer, "lifetimes", model, n, args.seed)
                per_customer = f"{plain['seconds']:.2f}"
            print(
                f"{model:<12} {n:>10,} {int(ours['distinct']):>9,} {ours['fresh']:11.3f} "
                f"{ours['warm']:10.3f} {theirs['fresh']:9.3f} {theirs['warm']:8.3f} "
                f"{theirs['fresh'] / ours['fresh']:11.1f}x {theirs['warm'] / ours['warm']:10.1f}x "
                f"{per_customer:>12} {_max_diff(ours, theirs):9.1e}",
                flush=True,
            )
    print(
        "import (s): "
        + ", ".join(f"{name} {seconds:.2f}" for name, seconds in imports.items())
        + f"; load average at the end: {os.getloadavg()}"
    )
    print(
        "issue 22 targets at 1e6 customers vs lifetimes with weights: BG/NBD >= 3x fresh and "
        ">= 10x warm; Pareto/NBD >= 10x both"
    )


if __name__ == "__main__":
    main()
