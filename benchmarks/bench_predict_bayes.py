"""Per-customer posterior predictions: clvmodels vs PyMC-Marketing, side by side.

Both sides get the same customers and the same 4,000 parameter draws (4 chains x 1,000)
of a BG/NBD purchase model and a Gamma-Gamma spend model, and compute for every
customer P(alive), expected purchases over the next 52 weeks and the 52-week CLV
(10 % a year discounting), each with its posterior mean, sd and central 90 % interval.
Where the draws come from does not change the cost, so they are drawn from the MLE's
asymptotic normal distribution (a fit of seconds) instead of a NUTS run.

clvmodels (``clvmodels.clv.customer_values``) evaluates distinct histories only, in
chunks of customers and batches of draws, so memory stays bounded; PyMC-Marketing
(``expected_probability_alive``, ``expected_purchases``,
``GammaGammaModel.expected_customer_lifetime_value`` with 12 monthly steps) holds
chains x draws x customers arrays.  Each side runs in a child process with its
address space capped (``--memory-cap-gb``), so a side that would exhaust the machine
fails with MemoryError instead; wall time and peak resident memory are printed with
the ratios.

Usage::

    pip install pymc-marketing        # the peer (optional extra "bench")
    python benchmarks/bench_predict_bayes.py                      # 1e4 and 1e6 customers
    python benchmarks/bench_predict_bayes.py --sizes 100000 --peer-max 100000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import simulate  # same simulated customers as bench_fit

CHAINS, DRAWS = 4, 1000
HORIZON_WEEKS = 52.0
YEARLY_RATE = 0.10


def _cap_memory(gigabytes: float) -> None:
    limit = int(gigabytes * 1e9)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def _ours(frame, draws, cap_gb, queue):
    import dataclasses

    from clvmodels.clv import ValueSettings, customer_values

    _cap_memory(cap_gb)
    purchase, spend = draws["models"]
    for model, posterior in ((purchase, draws["bgnbd"]), (spend, draws["gamma_gamma"])):
        model.result_ = dataclasses.replace(model.result_, backend="bayes", draws=posterior)
    settings = ValueSettings(
        horizon=HORIZON_WEEKS, discount_rate=YEARLY_RATE, interval=0.9, draws=CHAINS * DRAWS, seed=0
    )
    started = time.perf_counter()
    values = customer_values(purchase, frame, settings, spend=spend)
    seconds = time.perf_counter() - started
    queue.put(
        {
            "seconds": seconds,
            "rss_gb": _peak_gb(),
            "mean_clv": float(values["clv"].mean()),
            "mean_clv_width": float((values["clv_upper"] - values["clv_lower"]).mean()),
        }
    )


def _peer(frame, draws, cap_gb, queue):
    import warnings

    import arviz as az
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

    _cap_memory(cap_gb)
    data = frame.assign(customer_id=np.arange(len(frame)))
    repeat = data[data["frequency"] > 0]
    shaped = {k: v.reshape(CHAINS, DRAWS) for k, v in draws["bgnbd"].items()}
    spend_shaped = {
        ("v" if k == "gamma" else k): v.reshape(CHAINS, DRAWS)
        for k, v in draws["gamma_gamma"].items()
    }
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            purchase = BetaGeoModel(data=data[["customer_id", "frequency", "recency", "T"]])
            purchase.build_model()
            purchase.idata = az.from_dict(posterior=shaped)
            spend = GammaGammaModel(data=repeat[["customer_id", "frequency", "monetary_value"]])
            spend.build_model()
            spend.idata = az.from_dict(posterior=spend_shaped)
            monthly = (1.0 + YEARLY_RATE) ** (1.0 / 12.0) - 1.0
            quantities = {
                "p_alive": purchase.expected_probability_alive(data=data),
                "expected_purchases": purchase.expected_purchases(
                    data=data, future_t=HORIZON_WEEKS
                ),
                "clv": spend.expected_customer_lifetime_value(
                    transaction_model=purchase,
                    data=data,
                    future_t=12,
                    discount_rate=monthly,
                    time_unit="W",
                ),
            }
            summary = {}
            for name, value in quantities.items():
                stacked = value.stack(sample=("chain", "draw"))
                summary[name] = (
                    stacked.mean("sample").values,
                    stacked.std("sample").values,
                    stacked.quantile([0.05, 0.95], dim="sample").values,
                )
    except MemoryError:
        queue.put(
            {
                "failed": f"MemoryError under a {cap_gb:g} GB address-space cap",
                "seconds": time.perf_counter() - started,
                "rss_gb": _peak_gb(),
            }
        )
        return
    seconds = time.perf_counter() - started
    low, high = summary["clv"][2]
    queue.put(
        {
            "seconds": seconds,
            "rss_gb": _peak_gb(),
            "mean_clv": float(summary["clv"][0].mean()),
            "mean_clv_width": float((high - low).mean()),
        }
    )


def _run(target, frame, draws, cap_gb):
    context = mp.get_context("spawn")
    queue = context.Queue()
    proc = context.Process(target=target, args=(frame, draws, cap_gb, queue))
    proc.start()
    proc.join()
    if queue.empty():
        return {"failed": f"the process ended with exit code {proc.exitcode}"}
    return queue.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument(
        "--peer-max", type=int, default=1_000_000, help="run PyMC-Marketing up to this size"
    )
    parser.add_argument("--memory-cap-gb", type=float, default=16.0)
    args = parser.parse_args()
    import clvmodels

    rng = np.random.default_rng(2005)
    for n in args.sizes:
        frame = simulate("gamma_gamma", n, rng)
        purchase = clvmodels.fit("bgnbd", frame)
        spend = clvmodels.fit("gamma_gamma", frame)
        draws = {
            "bgnbd": purchase.result_.parameter_draws(CHAINS * DRAWS, rng),
            "gamma_gamma": spend.result_.parameter_draws(CHAINS * DRAWS, rng),
            "models": (purchase, spend),
        }
        ours = _run(_ours, frame, draws, args.memory_cap_gb)
        line = {
            "customers": n,
            "draws": CHAINS * DRAWS,
            "ours_s": round(ours.get("seconds", float("nan")), 1),
            "ours_peak_gb": round(ours.get("rss_gb", float("nan")), 2),
        }
        if "failed" in ours:
            line["ours_failed"] = ours["failed"]
        if n <= args.peer_max:
            peer = _run(_peer, frame, draws, args.memory_cap_gb)
            if "failed" in peer:
                line["peer_failed"] = peer["failed"]
            else:
                line.update(
                    peer_s=round(peer["seconds"], 1),
                    peer_peak_gb=round(peer["rss_gb"], 2),
                    time_ratio=round(peer["seconds"] / ours["seconds"], 1),
                    memory_ratio=round(peer["rss_gb"] / ours["rss_gb"], 1),
                    mean_clv=(round(ours["mean_clv"], 2), round(peer["mean_clv"], 2)),
                )
        print(json.dumps(line), flush=True)
    print("target: 1e6 customers x 4,000 draws under 2 GB peak")


if __name__ == "__main__":
    main()
