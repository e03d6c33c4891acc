"""The peer of ``clvmodels fit configs/cdnow.yaml``: lifetimes doing the same fits and
predictions, used as its documentation allows at its best (benchmarks/bench_run.py runs
both as whole processes).

What it does, as the config says (``data``, ``split``, ``models``, ``clv``):

1. read the transaction log (the file behind ``builtin:cdnow_sample``) and split it with
   ``lifetimes.utils.calibration_and_holdout_data`` in days (same-day lines merged, as
   ours), then express recency, T and the holdout length in weeks (``time_unit: W``);
2. fit every configured purchase model (``bgnbd`` → ``BetaGeoFitter``, ``paretonbd`` →
   ``ParetoNBDFitter``, ``mbgnbd`` → ``ModifiedBetaGeoFitter``) and the Gamma-Gamma spend
   model on the **distinct rows with** ``weights=`` their counts (the groupby included);
3. score the holdout: each purchase model's conditional expected purchases over each
   customer's holdout, MAE and RMSE against the actual purchases; the model with the lower
   RMSE values the customers (ours chooses by the holdout log score);
4. value every customer with the chosen model: P(alive), conditional expected purchases
   over the horizon, the Gamma-Gamma expected spend and ``customer_lifetime_value`` over
   the horizon in months (``time = round(horizon / 4.345)``, lifetimes' weeks per month)
   at the monthly rate equal to the yearly ``discount_rate`` — lifetimes discounts monthly
   where ours discounts continuously, so the CLVs are close, not equal;
5. write one row per customer, sorted by CLV, to ``--out`` (CSV).

Predictions are computed once per distinct history and mapped back to the customers.
Step timings go to stdout as one JSON line (``--json``) or a few lines of text.

Usage::

    python benchmarks/peer_cdnow_lifetimes.py --out /tmp/peer.csv [--config configs/cdnow.yaml]

lifetimes is a benchmark-only dependency; clvmodels is not imported (the data file is
found next to the package source, without importing it).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

STARTED = time.perf_counter()

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ROOT / "clvmodels" / "data" / "files"
WEEKS_PER_MONTH = 4.345
"""lifetimes' ``customer_lifetime_value`` steps months of this many weeks (``freq="W"``)."""
HISTORY = ["frequency_cal", "recency_cal", "T_cal"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "cdnow.yaml"))
    parser.add_argument("--out", required=True, help="the per-customer CSV")
    parser.add_argument("--json", action="store_true", help="step timings as one JSON line")
    args = parser.parse_args()
    steps: dict[str, float] = {}
    mark = time.perf_counter()

    def step(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        steps[name] = round(now - mark, 3)
        mark = now

    import lifetimes
    import numpy as np
    import yaml
    from lifetimes.utils import calibration_and_holdout_data

    step("import")
    config = yaml.safe_load(Path(args.config).read_text())
    frame = _transactions(config)
    split = config["split"]
    data = calibration_and_holdout_data(
        frame,
        "customer_id",
        "date",
        calibration_period_end=str(split["calibration_end"]),
        observation_period_end=str(split["observation_end"]),
        freq="D",
        monetary_value_col="amount",
    )
    for column in ("recency_cal", "T_cal", "duration_holdout"):
        data[column] = data[column] / 7.0  # days to weeks (time_unit: W)
    step("load and summarize data")

    fitters = {
        "bgnbd": lifetimes.BetaGeoFitter,
        "paretonbd": lifetimes.ParetoNBDFitter,
        "mbgnbd": lifetimes.ModifiedBetaGeoFitter,
    }
    histories = data.groupby(HISTORY, as_index=False).size()
    purchase = {}
    for key in config["models"]:
        if key in fitters:
            fitter = fitters[key]()
            purchase[key] = fitter.fit(
                *(histories[c] for c in HISTORY), weights=histories["size"].to_numpy()
            )
            step(f"fit {key}")
    spend = None
    if "gamma_gamma" in config["models"]:
        repeat = data[(data["frequency_cal"] > 0) & (data["monetary_value_cal"] > 0)]
        rows = repeat.groupby(["frequency_cal", "monetary_value_cal"], as_index=False).size()
        spend = lifetimes.GammaGammaFitter().fit(
            rows["frequency_cal"], rows["monetary_value_cal"], weights=rows["size"].to_numpy()
        )
        step("fit gamma_gamma")

    keys = [*HISTORY, "duration_holdout"]
    distinct = data.groupby(keys, as_index=False).size()
    codes = data.groupby(keys).ngroup().to_numpy()
    actual = data["frequency_holdout"].to_numpy(float)
    scores = {}
    for key, model in purchase.items():
        expected = model.conditional_expected_number_of_purchases_up_to_time(
            distinct["duration_holdout"], *(distinct[c] for c in HISTORY)
        ).to_numpy()[codes]
        error = expected - actual
        scores[key] = {
            "mae": float(np.abs(error).mean()),
            "rmse": float(np.sqrt(np.mean(error**2))),
        }
    chosen = min(scores, key=lambda k: scores[k]["rmse"])
    step("evaluate on the holdout")

    table = _values(config["clv"], data, purchase[chosen], spend)
    step("predict every customer")
    table.to_csv(args.out, index=False)
    step("write")
    record = {
        "steps_seconds": steps,
        "total_seconds": round(time.perf_counter() - STARTED, 3),
        "chosen": chosen,
        "holdout": scores,
        "total_clv": float(table["clv"].sum()),
        "params": {k: {p: float(v) for p, v in m.params_.items()} for k, m in purchase.items()},
    }
    if args.json:
        print(json.dumps(record))
    else:
        for name, seconds in steps.items():
            print(f"{name}: {seconds:.3f} s")
        print(f"chosen {chosen}; total CLV {record['total_clv']:,.0f}; wrote {args.out}")


def _transactions(config: dict) -> pd.DataFrame:
    """The configured transaction log with the configured column names."""
    import pandas as pd

    source = str(config["data"]["source"])
    if source.startswith("builtin:"):
        name = source.removeprefix("builtin:")
        path = next(BUILTIN.glob(f"{name}.csv*"))
    else:
        path = Path(source)
    columns = config["data"]["columns"]
    frame = pd.read_csv(path, parse_dates=[columns["date"]])
    return frame.rename(columns={v: k for k, v in columns.items()})


def _values(clv: dict, data: pd.DataFrame, model: Any, spend: Any) -> pd.DataFrame:
    """Per-customer P(alive), expected purchases, spend and CLV, computed once per
    distinct history and mapped back to every customer."""
    import numpy as np
    import pandas as pd

    keys = [*HISTORY, "monetary_value_cal"]
    distinct = data.groupby(keys, as_index=False).size()
    codes = data.groupby(keys).ngroup().to_numpy()
    history = [distinct[c] for c in HISTORY]
    horizon = float(clv["horizon"])
    out = pd.DataFrame(
        {
            "p_alive": model.conditional_probability_alive(*history),
            "expected_purchases": model.conditional_expected_number_of_purchases_up_to_time(
                horizon, *history
            ),
        }
    )
    monetary = distinct["monetary_value_cal"]
    if spend is not None:
        out["expected_spend"] = spend.conditional_expected_average_profit(
            distinct["frequency_cal"], monetary
        )
        monthly = (1.0 + float(clv["discount_rate"])) ** (1.0 / 12.0) - 1.0
        out["clv"] = float(clv.get("margin", 1.0)) * spend.customer_lifetime_value(
            model,
            *history,
            monetary,
            time=max(1, round(horizon / WEEKS_PER_MONTH)),
            discount_rate=monthly,
            freq="W",
        )
    else:
        out["clv"] = out["expected_purchases"] * np.nan
    table = out.iloc[codes].reset_index(drop=True)
    table.insert(0, "customer_id", data.index.to_numpy())
    for column in ("frequency_cal", "recency_cal", "T_cal", "monetary_value_cal"):
        table[column.removesuffix("_cal")] = data[column].to_numpy()
    return table.sort_values("clv", ascending=False, kind="stable")


if __name__ == "__main__":
    main()
