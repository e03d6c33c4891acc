"""``data.columns`` of a config maps each role to your column name, for every data kind.

Each case runs ``clvmodels fit`` twice: on a file with the canonical column names and no
``data.columns``, and on the same file with renamed columns and the mapping role ->
renamed column (docs/guide/data.md, configs/template.yaml: "Map the roles to your column names").
The two runs must write the same summary and the same fits (to rounding: DuckDB's
parallel sums of amounts may add in another order when the file's bytes differ).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from clvmodels.cli import main
from clvmodels.data import load_builtin, summarize_transactions

FHL_SPLIT = "split: {calibration_end: 1997-09-30, observation_end: 1998-06-30}\n"


def _cdnow_summary() -> pd.DataFrame:
    summary = summarize_transactions(
        "builtin:cdnow_sample", calibration_end="1997-09-30", observation_end="1998-06-30"
    )
    return summary[["customer_id", "frequency", "recency", "T", "monetary_value"]]


def _subscriptions() -> pd.DataFrame:
    # 60 customers who started in 2020: 20 lost within the first year, 8 in the second, 5
    # in the third, 27 active (enough for the sBG to pin down its heterogeneity)
    ends = ["2020-06-01"] * 20 + ["2021-03-01"] * 8 + ["2022-02-01"] * 5 + [None] * 27
    return pd.DataFrame({"customer_id": range(60), "start": "2020-01-01", "end": ends})


CASES = {
    "transactions": (
        lambda: load_builtin("cdnow_sample"),
        {"customer_id": "cust", "date": "ordered_on", "amount": "total"},
        "time_unit: W",
        FHL_SPLIT + "models: {bgnbd: {backend: mle}, gamma_gamma: {backend: mle}}\n",
    ),
    "summary": (
        _cdnow_summary,
        {
            "customer_id": "cust",
            "frequency": "n_repeat",
            "recency": "last_seen",
            "T": "age",
            "monetary_value": "spend",
        },
        "time_unit: W",
        "models: {bgnbd: {backend: mle}, gamma_gamma: {backend: mle}}\n",
    ),
    "summary-discrete": (
        lambda: load_builtin("donations_fhs2010"),
        {"frequency": "x", "recency": "t_x", "n": "opportunities", "count": "donors"},
        "time_unit: Y",
        "models: {bgbb: {backend: mle}}\n",
    ),
    "survival": (
        lambda: load_builtin("retention_fh2007"),
        {"cohort": "segment", "period": "year", "alive": "active"},
        "time_unit: Y",
        "split: {calibration_periods: 7}\nmodels: {sbg: {backend: mle, by_cohort: true}}\n",
    ),
    "subscriptions": (
        _subscriptions,
        {"customer_id": "subscriber", "start": "since", "end": "until"},
        "time_unit: Y",
        "split: {observation_end: 2023-06-30}\nmodels: {sbg: {backend: mle}}\n",
    ),
}


def _fit(folder: Path, data: pd.DataFrame, kind: str, columns: str, rest: str) -> Path:
    folder.mkdir()
    data.to_csv(folder / "data.csv", index=False)
    config = folder / "config.yaml"
    config.write_text(
        f"name: {folder.name}\n"
        f"data: {{source: {folder / 'data.csv'}, kind: {kind}, {columns}}}\n{rest}"
    )
    code = main(["fit", str(config), "--out", str(folder / "run"), "--quiet"])
    assert code == 0
    return folder / "run"


def _fits(run: Path) -> dict:
    fits = {}
    for name, entry in json.loads((run / "params.json").read_text())["models"].items():
        fits[name] = {**entry["params"], "ll": entry["log_likelihood"], "n": entry["n_customers"]}
    return fits


@pytest.mark.parametrize("case", list(CASES))
def test_renamed_columns_give_the_canonical_fit(tmp_path, capsys, case):
    make, roles, time_unit, rest = CASES[case]
    kind = case.split("-")[0]
    canonical = make()
    renamed = canonical.rename(columns=roles)
    assert set(renamed.columns).isdisjoint(roles)  # every role is in another column
    mapping = ", ".join(f"{role}: {column}" for role, column in roles.items())
    want = _fit(tmp_path / "canonical", canonical, kind, time_unit, rest)
    got = _fit(tmp_path / "renamed", renamed, kind, f"{time_unit}, columns: {{{mapping}}}", rest)
    capsys.readouterr()
    summary = pd.read_csv(got / "summary.csv")
    expected = pd.read_csv(want / "summary.csv")
    pd.testing.assert_frame_equal(summary, expected, check_exact=False, rtol=1e-12)
    fits, expected_fits = _fits(got), _fits(want)
    assert list(fits) == list(expected_fits)
    for name, fit in fits.items():
        assert fit == pytest.approx(expected_fits[name], rel=1e-9), name
