"""MLE fits with two customer covariates vs the same fits without: time, memory, rows.

Target: fitting BG/NBD with two covariates on 10^6 customers stays within 3x the time of
the same fit without covariates (MLE backend).

One run fits the same simulated customers twice per model, each side in a fresh child
process (so neither reuses the other's compiled likelihood):

* ``none`` -- the plain fit;
* ``covariates`` -- a customer table (``customer_id``, ``loyalty_member`` as
  ``true``/``false`` text, ``channel`` as ``app``/``store``/``web`` text) encoded by
  :func:`clvmodels.data.covariates.covariate_matrix` into 3 design columns
  (``loyalty_member``, ``channel[store]``, ``channel[web]``), put on the purchase and the
  dropout process of BG/NBD (``alpha``, ``a``, ``b``: 9 coefficients) and on the spend
  scale of Gamma-Gamma (``gamma``: 3 coefficients).

Per side the script prints the time of a first fit in the fresh process, everything
included (encoding, row compression, PyTensor compilation, optimiser, standard errors),
with the encoding, the compilation and the likelihood evaluations shown apart; a second
fit in the same process (compiled graph reused); the distinct rows after compression
(``FitResult.n_unique``) and the rows of the terms the likelihood evaluates per distinct
value combination; and the child's peak memory (RSS).  A ratio line divides covariates by
none, a step-by-step breakdown of both fits follows, and the covariate fits' estimates
are printed against the true values.

Data: 6 covariate patterns (member x channel), each simulated with
:func:`clvmodels.models.bgnbd.simulate` at its own parameters from the links of Fader &
Hardie (2007, note 019): ``α_i = α₀ e^(−γ₁′z)``, ``a_i = a₀ e^(γ₂′z)``, ``b_i = b₀ e^(γ₃′z)``;
``T`` spread over 27-39 weeks and all times in whole days, as in CDNOW.  Spend comes from
:func:`clvmodels.models.gamma_gamma.simulate` with ``γ_i = γ₀ e^(δ′z)`` (members only).

Usage::

    python benchmarks/bench_covariates.py                      # 10^6 customers
    python benchmarks/bench_covariates.py --customers 1e5,1e6 --models bgnbd
    python benchmarks/bench_covariates.py --repeat 3           # best of 3 per side
    python benchmarks/bench_covariates.py --fresh-compiledir   # empty PyTensor C cache
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import resource
import tempfile
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd

COVARIATES = ("loyalty_member", "channel")
CHANNELS = ("app", "store", "web")  # "app" sorts first: the reference level
DESIGN = ("loyalty_member", "channel[store]", "channel[web]")
BASELINE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
SPEND_BASELINE = {"p": 6.25, "q": 3.74, "gamma": 15.44}  # CDNOW, as in bench_fit.py
EFFECTS = {  # per design column, in the order of DESIGN
    "alpha": (0.5, 0.10, -0.15),  # positive: a lower α, more purchases
    "a": (-0.4, 0.10, 0.15),
    "b": (0.3, -0.10, 0.10),
    "gamma": (0.3, 0.0, 0.0),  # members spend more per order; channel does not matter
}
MEMBER_SHARE = 0.35
CHANNEL_SHARE = (0.3, 0.3, 0.4)
PROCESSES = {"bgnbd": ("purchase", "dropout"), "gamma_gamma": ("spend",)}
COLUMNS = {"bgnbd": ("frequency", "recency", "T"), "gamma_gamma": ("frequency", "monetary_value")}


def simulate(n: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Summary columns of ``n`` customers (with ``customer_id``) and their attribute table.

    Customers are drawn per covariate pattern at that pattern's parameters and
    concatenated; ids are a random permutation, and the table is ordered by id, so the
    encoding has to align it with the summary.
    """
    from clvmodels.models import bgnbd, gamma_gamma

    shares = np.outer([1 - MEMBER_SHARE, MEMBER_SHARE], CHANNEL_SHARE).ravel()
    counts = rng.multinomial(n, shares)
    parts, member, channel = [], [], []
    for (is_member, level), count in zip(np.ndindex(2, 3), counts, strict=True):
        z = np.array([is_member, level == 1, level == 2], dtype=float)
        shift = {k: float(np.dot(v, z)) for k, v in EFFECTS.items()}
        t_days = rng.integers(189, 274, size=count)  # 27 to 39 weeks, whole days
        sim = bgnbd.simulate(
            count,
            r=BASELINE["r"],
            alpha=BASELINE["alpha"] * np.exp(-shift["alpha"]),
            a=BASELINE["a"] * np.exp(shift["a"]),
            b=BASELINE["b"] * np.exp(shift["b"]),
            T=t_days / 7.0,
            rng=rng,
        )
        recency_days = np.minimum(np.round(sim["recency"] * 7.0), t_days)
        recency_days = np.where(sim["frequency"] > 0, np.maximum(recency_days, 1), 0)
        spend = gamma_gamma.simulate(
            count,
            p=SPEND_BASELINE["p"],
            q=SPEND_BASELINE["q"],
            gamma=SPEND_BASELINE["gamma"] * np.exp(shift["gamma"]),
            frequency=sim["frequency"],
            rng=rng,
        )
        parts.append(
            {
                "frequency": sim["frequency"],
                "recency": recency_days / 7.0,
                "T": t_days / 7.0,
                "monetary_value": np.round(spend["monetary_value"], 2),
            }
        )
        member.append(np.full(count, is_member, dtype=bool))
        channel.append(np.full(count, level))
    data = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    data["customer_id"] = rng.permutation(n) + 100_001
    order = np.argsort(data["customer_id"])
    table = pd.DataFrame(
        {
            "customer_id": data["customer_id"][order],
            "loyalty_member": np.where(np.concatenate(member), "true", "false")[order],
            "channel": np.asarray(CHANNELS, dtype=object)[np.concatenate(channel)][order],
        }
    )
    return data, table


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux


def _current_gb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


def _side(model: str, with_covariates: bool, data, table, queue) -> None:
    """One side in a fresh process: a first (compile-inclusive) and a second fit, each
    timed by step (encoding, compression, compilation, likelihood evaluations)."""
    from clvmodels.backends import compiled as compiled_module
    from clvmodels.backends import design as rows_design
    from clvmodels.backends import mle
    from clvmodels.backends.compress import factorize_rows
    from clvmodels.data.covariates import covariate_matrix
    from clvmodels.models import model_module

    spec = model_module(model).SPEC
    columns = {c: data[c] for c in COLUMNS[model]}
    processes = {p: DESIGN for p in PROCESSES[model]}
    seen = {}

    def fit() -> tuple[object, dict[str, float]]:
        steps = dict.fromkeys(("matrix_s", "links_s", "compress_s", "compile_s"), 0.0)
        steps.update(objective_s=0.0, evals=0, eval_s=0.0)
        plain = {"_weighted": mle._weighted, "compiled": compiled_module.compiled}
        rows = {name: getattr(rows_design, name) for name in ("prepare_rows", "compress_rows")}

        def timed(function, key, count=None):
            def call(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    steps[key] += time.perf_counter() - started
                    if count:
                        steps[count] += 1

            return call

        def weighted(spec, unique, links=None):
            seen.update(unique=unique, links=links)
            started = time.perf_counter()
            likelihood = plain["_weighted"](spec, unique, links)
            steps["objective_s"] += time.perf_counter() - started
            objective = likelihood.objective
            likelihood.objective = lambda w: timed(objective(w), "eval_s", "evals")
            return likelihood

        # time the steps of fit_mle by wrapping the names it calls (this process only)
        mle._weighted = weighted
        compiled_module.compiled = timed(plain["compiled"], "compile_s")
        rows_design.prepare_rows = timed(rows["prepare_rows"], "compress_s")
        rows_design.compress_rows = timed(rows["compress_rows"], "compress_s")
        started = time.perf_counter()
        try:
            links = None
            if with_covariates:
                design = covariate_matrix(
                    table, data["customer_id"], COVARIATES, source_name="customers"
                )
                assert design.names == DESIGN, design.names
                steps["matrix_s"] = time.perf_counter() - started
                links = rows_design.CovariateLinks.build(
                    spec, design.names, design.matrix, processes
                )
                steps["links_s"] = time.perf_counter() - started - steps["matrix_s"]
            result = mle.fit_mle(spec, columns, covariates=links)
        finally:
            mle._weighted = plain["_weighted"]
            compiled_module.compiled = plain["compiled"]
            for name, function in rows.items():
                setattr(rows_design, name, function)
        steps["total_s"] = time.perf_counter() - started
        steps["index_s"] = steps.pop("objective_s") - steps["compile_s"]
        return result, steps

    rss_start = _current_gb()
    result, first = fit()
    _, second = fit()
    # rows of the terms evaluated once per distinct value combination (xp.distinct)
    _, distinct = compiled_module.compiled(
        spec.key,
        spec.log_likelihood,
        spec.param_names,
        tuple(seen["unique"]),
        () if seen["links"] is None else seen["links"].spec(),
    )
    term_rows = {
        ",".join(key): len(factorize_rows([seen["unique"][c] for c in key])[1][0])
        for key in distinct.keys
    }
    queue.put(
        {
            "first": first,
            "second": second,
            "lbfgs_evals": result.diagnostics["function_evaluations"],
            "n_unique": result.n_unique,
            "term_rows": term_rows,
            "terms": sum(term_rows.values()),
            "n_params": len(result.param_names),
            "params": dict(result.params),
            "std_err": result.std_err,
            "rss_start_gb": rss_start,
            "peak_gb": _peak_gb(),
        }
    )


@contextlib.contextmanager
def _compiledir(fresh: bool) -> Iterator[None]:
    """An empty PyTensor compile directory for the child if ``fresh`` (inherited at spawn)."""
    if not fresh:
        yield
        return
    before = os.environ.get("PYTENSOR_FLAGS")
    with tempfile.TemporaryDirectory(prefix="pytensor-") as path:
        os.environ["PYTENSOR_FLAGS"] = ",".join(filter(None, [before, f"compiledir={path}"]))
        try:
            yield
        finally:
            if before is None:
                del os.environ["PYTENSOR_FLAGS"]
            else:
                os.environ["PYTENSOR_FLAGS"] = before


def _run(model: str, with_covariates: bool, data, table, fresh: bool) -> dict:
    context = mp.get_context("spawn")
    queue = context.Queue()
    with _compiledir(fresh):
        proc = context.Process(target=_side, args=(model, with_covariates, data, table, queue))
        proc.start()
        result = queue.get()
        proc.join()
    return result


def _truth(model: str) -> dict[str, float]:
    base = BASELINE if model == "bgnbd" else SPEND_BASELINE
    coefficients = {
        f"{param}:{column}": effect
        for param in (("alpha", "a", "b") if model == "bgnbd" else ("gamma",))
        for column, effect in zip(DESIGN, EFFECTS[param], strict=True)
    }
    return {**base, **coefficients}


TABLE = {  # column: width; the first three left-aligned
    "model": 12,
    "customers": 10,
    "side": 11,
    "distinct": 9,
    "terms": 8,
    "encode s": 8,
    "compile s": 9,
    "evals": 6,
    "eval s": 7,
    "1st fit s": 9,
    "2nd fit s": 9,
    "peak GB": 8,
}


def _row(cells) -> str:
    return " ".join(
        f"{c:<{w}}" if i in (0, 2) else f"{c:>{w}}"
        for i, (c, w) in enumerate(zip(cells, TABLE.values(), strict=True))
    )


def _cells(side: dict) -> dict[str, float]:
    first = side["first"]
    return {
        "distinct": side["n_unique"],
        "terms": side["terms"],
        "encode s": first["matrix_s"] + first["links_s"],
        "compile s": first["compile_s"],
        "evals": first["evals"],
        "eval s": first["eval_s"],
        "1st fit s": first["total_s"],
        "2nd fit s": side["second"]["total_s"],
        "peak GB": side["peak_gb"],
    }


def _profile(steps: dict, lbfgs: int, n_params: int) -> str:
    """Where a fit's time went."""
    known = ("matrix_s", "links_s", "compress_s", "index_s", "compile_s", "eval_s")
    other = steps["total_s"] - sum(steps[k] for k in known)
    per_eval = 1e3 * steps["eval_s"] / max(steps["evals"], 1)
    return (
        f"encode {steps['matrix_s']:.2f} + links {steps['links_s']:.2f} + compress "
        f"{steps['compress_s']:.2f} + distinct index {steps['index_s']:.2f} + compile "
        f"{steps['compile_s']:.2f} + {steps['evals']} evals x {per_eval:.1f} ms = "
        f"{steps['eval_s']:.2f} (L-BFGS-B {lbfgs}, Newton polish + Hessian "
        f"{steps['evals'] - lbfgs}; {n_params} parameters) + other {other:.2f} "
        f"= {steps['total_s']:.2f} s"
    )


def _customers(text: str) -> list[int]:
    return [int(float(part)) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--customers",
        type=_customers,
        default=[1_000_000],
        help="customer counts, comma-separated (1e5,1e6)",
    )
    parser.add_argument("--models", nargs="+", default=["bgnbd", "gamma_gamma"])
    parser.add_argument(
        "--fresh-compiledir",
        action="store_true",
        help="give every child an empty PyTensor compile directory (first-use C compilation)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="fresh child processes per side; the one with the fastest first fit is shown",
    )
    parser.add_argument("--seed", type=int, default=2007)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    print(_row(TABLE))
    print("-" * len(_row(TABLE)))
    checks = []
    for n in args.customers:
        data, table = simulate(n, rng)
        for model in args.models:
            sides = {}
            for name, with_covariates in (("none", False), ("covariates", True)):
                runs = [
                    _run(model, with_covariates, data, table, args.fresh_compiledir)
                    for _ in range(args.repeat)
                ]
                side = min(runs, key=lambda run: run["first"]["total_s"])
                sides[name] = side
                cells = _cells(side)
                shown = [f"{v:,}" if isinstance(v, int) else f"{v:.2f}" for v in cells.values()]
                if not with_covariates:
                    shown[2] = "-"
                print(_row((model, f"{n:,}", name, *shown)), flush=True)
            none, cov = _cells(sides["none"]), _cells(sides["covariates"])
            ratios = [
                f"{cov[k] / none[k]:.2f}x" if none[k] else "" for k in none if k != "encode s"
            ]
            ratios.insert(2, "")
            print(_row((model, f"{n:,}", "ratio", *ratios)), flush=True)
            checks.append((model, n, sides["none"], sides["covariates"]))

    print(
        "\ndistinct: rows after compression (FitResult.n_unique); terms: rows of the terms "
        "evaluated once per distinct value combination (xp.distinct), all keys together; "
        "encode s: covariate_matrix + CovariateLinks.build; compile s: building and "
        "compiling the PyTensor likelihood and gradient (PyTensor's import included); "
        "evals / eval s: likelihood+gradient evaluations and their total time; these four "
        "are parts of 1st fit s: a fit in a fresh process, everything included (encoding, "
        "compression, compilation, optimiser, standard errors); 2nd fit s: the same again "
        "in that process (compiled graph reused); each side is the fastest first fit of "
        f"{args.repeat} fresh process(es); peak GB: peak RSS of the child, data and "
        f"imports included (children start at "
        f"{min(c['rss_start_gb'] for *_, c in checks):.2f}-"
        f"{max(c['rss_start_gb'] for *_, c in checks):.2f} GB)"
    )
    print("\nstep by step (seconds):")
    for model, n, none, cov in checks:
        for name, side in (("none", none), ("covariates", cov)):
            print(f"  {model} {n:,} {name}, term rows {side['term_rows']}")
            for fit in ("first", "second"):
                profile = _profile(side[fit], side["lbfgs_evals"], side["n_params"])
                print(f"    {fit}: {profile}")
    print(
        "target: BG/NBD with two covariates on 10^6 customers within 3x the time of the "
        "same fit without (MLE)"
    )
    for model, n, none, cov in checks:
        if model == "bgnbd":
            first = cov["first"]["total_s"] / none["first"]["total_s"]
            second = cov["second"]["total_s"] / none["second"]["total_s"]
            verdict = "within 3x" if first <= 3 else "ABOVE 3x"
            print(
                f"  {n:,} customers: {first:.2f}x compile-inclusive ({verdict}), "
                f"{second:.2f}x with the graph compiled"
            )
    for model, n, _, cov in checks:
        truth = _truth(model)
        print(f"\n{model}, {n:,} customers, fit with covariates vs truth:")
        print(f"  {'parameter':<24} {'truth':>8} {'estimate':>9} {'std err':>8} {'z':>6}")
        for name, value in truth.items():
            estimate, se = cov["params"][name], cov["std_err"][name]
            z = (estimate - value) / se
            flag = "  <- |z| > 3" if abs(z) > 3 else ""
            print(f"  {name:<24} {value:8.3f} {estimate:9.4f} {se:8.4f} {z:6.2f}{flag}")


if __name__ == "__main__":
    main()
