"""Bayesian BG/NBD: clvmodels vs PyMC-Marketing's BetaGeoModel, side by side, equal cores.

Each fit runs in a fresh Python process (``python bench_bayes.py --child ...``), so
imports and compilation are paid as a user pays them.  Both sample 4 chains x 1,000
draws after 1,000 tuning steps (``--chains/--draws/--tune``) on ``--cores`` cores (2 by
default, both sides):

* ours: ``clvmodels.fit("bgnbd", frame, backend="bayes", ...)`` with the default sampler
  (``auto``: our own NUTS where it applies), and with ``--pymc`` also ``sampler="pymc"``
  (PyMC's NUTS on our model: the sampler before our own);
* the peer: PyMC-Marketing's documented ``BetaGeoModel(data=...).fit(method="mcmc",
  chains=..., draws=..., tune=..., cores=...)``, its default sampler (PyMC's NUTS), its
  default priors.  It is run with ``--peer-python`` (default: this interpreter if it
  imports ``pymc_marketing``, else ``$CLVMODELS_PEER_PYTHON``), a separate
  environment so that PyMC-Marketing cannot move our pins.

Printed per data set, one JSON line per fit: ``process_s`` (the whole child process:
start, imports, data, fit), ``fit_s`` (model build + fit, the peer's
``BetaGeoModel(...)`` + ``fit``), CPU seconds of the child and its workers, sampling
seconds, posterior means and sds, the smallest bulk ESS, and ``os.getloadavg()`` before
and after; then the ratios peer/ours.  Data sets: ``cdnow`` (the 2,357 CDNOW customers,
39-week calibration, Fader, Hardie & Lee 2005) and simulated customers
(:func:`bench_fit.simulate`, ``--sizes``).  The peer runs up to ``--peer-max``
customers; larger sizes say it was skipped.

Usage::

    python benchmarks/bench_bayes.py                       # cdnow, 1e5
    python benchmarks/bench_bayes.py --data cdnow --pymc
    python benchmarks/bench_bayes.py --data --sizes 1000000 10000000 --peer-max 0
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER_VARIABLE = "CLVMODELS_PEER_PYTHON"
"""Environment variable naming the peer's interpreter when ``--peer-python`` is not given."""
NAMES = ("r", "alpha", "a", "b")


def load_frame(data: str):
    """The customers of ``data``: ``cdnow`` or a number of simulated customers."""
    if data == "cdnow":
        from clvmodels.data import load_builtin, summarize_transactions

        return summarize_transactions(
            load_builtin("cdnow_sample"),
            time_unit="W",
            calibration_end="1997-09-30",
            observation_end="1998-06-30",
        )[["frequency", "recency", "T"]]
    sys.path.insert(0, str(HERE))
    from bench_fit import simulate

    return simulate("bgnbd", int(float(data)), 2005)


def _summary(draws: dict) -> dict:
    import numpy as np

    return {k: [round(float(np.mean(v)), 4), round(float(np.std(v)), 4)] for k, v in draws.items()}


def child_ours(args, started: float) -> dict:
    """Our fit, timed from before the model is built to the result."""
    import warnings

    import clvmodels

    imported = time.perf_counter()
    frame = load_frame(args.data[0])
    fit_started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = clvmodels.fit(
            "bgnbd",
            frame,
            backend="bayes",
            sampler=args.sampler,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            cores=args.cores,
            seed=1,
        )
    fit_s = time.perf_counter() - fit_started
    d = model.result_.diagnostics
    return {
        "import_s": round(imported - started, 2),
        "fit_s": round(fit_s, 2),
        "sampling_s": d.get("sampling_seconds"),
        "sampler": d.get("sampler"),
        "steps": d.get("mean_tree_size"),
        "min_ess_bulk": round(min(p["ess_bulk"] for p in d["parameters"].values())),
        "max_r_hat": round(max(p["r_hat"] for p in d["parameters"].values()), 3),
        "divergences": d.get("divergences"),
        "posterior": _summary(model.result_.draws),
    }


def child_peer(args, started: float) -> dict:
    """PyMC-Marketing's BetaGeoModel, its documented MCMC fit with its default priors."""
    import warnings

    import arviz as az
    import numpy as np
    from pymc_marketing.clv import BetaGeoModel

    imported = time.perf_counter()
    frame = load_frame(args.data[0])
    data = frame.assign(customer_id=np.arange(len(frame)))
    fit_started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BetaGeoModel(data=data)
        idata = model.fit(
            method="mcmc",
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            cores=args.cores,
            random_seed=1,
            progressbar=False,
        )
    fit_s = time.perf_counter() - fit_started
    post = idata.posterior
    ess = az.ess(idata, var_names=list(NAMES), method="bulk")
    return {
        "import_s": round(imported - started, 2),
        "fit_s": round(fit_s, 2),
        "sampler": "PyMC NUTS (PyMC-Marketing defaults)",
        "min_ess_bulk": round(min(float(ess[k]) for k in NAMES)),
        "divergences": int(idata.sample_stats["diverging"].values.sum()),
        "posterior": _summary({k: post[k].values for k in NAMES}),
    }


def run_child(python: str, side: str, args, data: str, sampler: str = "auto") -> dict:
    """One fit in a fresh process; its JSON line plus process wall and CPU seconds."""
    command = [python, str(Path(__file__).resolve()), "--child", side, "--data", data]
    command += ["--draws", str(args.draws), "--tune", str(args.tune)]
    command += ["--chains", str(args.chains), "--cores", str(args.cores), "--sampler", sampler]
    load_before = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        return {"side": side, "error": done.stderr.strip().splitlines()[-3:]}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "side": side if sampler == "auto" else f"{side} ({sampler})",
        "process_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        **out,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def peer_python(given: str | None) -> str:
    if given:
        return given
    try:
        import pymc_marketing  # noqa: F401
    except ImportError:
        if os.environ.get(PEER_VARIABLE):
            return os.environ[PEER_VARIABLE]
        raise SystemExit(
            "pymc-marketing is not importable here: pass --peer-python PATH (or set "
            f"{PEER_VARIABLE}) to a Python with `pip install pymc-marketing` and clvmodels"
        ) from None
    return sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="*", default=["cdnow"], help="cdnow and/or sizes")
    parser.add_argument("--sizes", type=float, nargs="*", default=[100_000])
    parser.add_argument("--peer-max", type=float, default=100_000)
    parser.add_argument("--peer-python", default=None)
    parser.add_argument("--pymc", action="store_true", help="also ours with sampler=pymc")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--sampler", default="auto")
    parser.add_argument("--child", choices=["ours", "peer"])
    args = parser.parse_args()
    if args.child:
        started = time.perf_counter()
        run = child_ours if args.child == "ours" else child_peer
        print(json.dumps(run(args, started)), flush=True)
        return
    peer = peer_python(args.peer_python)
    for data in [*args.data, *(str(int(n)) for n in args.sizes)]:
        n = 2357 if data == "cdnow" else int(data)
        runs = [(sys.executable, "ours", "auto")]
        if args.pymc:
            runs.append((sys.executable, "ours", "pymc"))
        if n <= args.peer_max:
            runs.append((peer, "peer", "auto"))
        else:
            print(json.dumps({"data": data, "peer": f"skipped: {n} > --peer-max"}), flush=True)
        lines = []
        for python, side, sampler in runs:
            lines.append(run_child(python, side, args, data, sampler))
            print(json.dumps({"data": data, **lines[-1]}), flush=True)
        ours = lines[0]
        for other in lines[1:]:
            if "error" in other or "error" in ours:
                continue
            ratio = {k: round(other[k] / ours[k], 2) for k in ("process_s", "fit_s", "cpu_s")}
            print(json.dumps({"data": data, "ratio": f"{other['side']} / ours", **ratio}))


if __name__ == "__main__":
    main()
