"""The refund policies of ``nonpositive`` (net, net_across_days, drop, keep, error) on
hand-worked logs, on both summary engines, and their documentation."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.cli import main
from clvmodels.config.reference import config_reference
from clvmodels.config.schema_data import DataConfig
from clvmodels.data import SummaryOptions, load_builtin, summarize_transactions
from clvmodels.data.summary.rules import NONPOSITIVE
from clvmodels.errors import DataError

ENGINES = ["duckdb", "pandas"]
REPO = Path(__file__).resolve().parents[1]

# Customer 1 buys 100 and (on Jan 10) 10 + 20, returns 50 on Jan 20 (calibration) and
# 10 on Feb 5 (holdout), buys 40 on Feb 6.  Customer 2 gets a free item, then refunds 5.
# Customer 3 buys 30, returns 80 (bought before the log began), buys 20.  Customer 4
# only returns.
LOG = pd.DataFrame(
    [
        (1, "2020-01-01", 100.0),
        (1, "2020-01-10", 10.0),
        (1, "2020-01-10", 20.0),
        (1, "2020-01-20", -50.0),
        (1, "2020-02-05", -10.0),
        (1, "2020-02-06", 40.0),
        (2, "2020-01-02", 0.0),
        (2, "2020-01-03", -5.0),
        (3, "2020-01-05", 30.0),
        (3, "2020-01-06", -80.0),
        (3, "2020-01-08", 20.0),
        (4, "2020-01-03", -3.0),
    ],
    columns=["customer_id", "date", "amount"],
)
SPLIT = {"calibration_end": "2020-01-31", "time_unit": "D"}


def _summary(engine: str, nonpositive: str) -> pd.DataFrame:
    return summarize_transactions(LOG, engine=engine, nonpositive=nonpositive, **SPLIT)


@pytest.mark.parametrize("engine", ENGINES)
def test_net_across_days_subtracts_refunds_from_the_spend_of_their_period(engine):
    s = _summary(engine, "net_across_days").set_index("customer_id")
    # the purchase days are those of "net": refunds remove none
    net = _summary(engine, "net").set_index("customer_id")
    pd.testing.assert_frame_equal(
        s[["frequency", "recency", "T"]], net[["frequency", "recency", "T"]]
    )
    # customer 1: purchases 100 + 30 in calibration, refund 50 -> revenue 80; the repeat
    # purchase (30) scaled by 80 / 130; holdout 40 - 10
    assert s.loc[1, "revenue"] == 80.0
    assert s.loc[1, "monetary_value"] == pytest.approx(30.0 * 80.0 / 130.0, rel=1e-15)
    assert (s.loc[1, "frequency_holdout"], s.loc[1, "revenue_holdout"]) == (1, 30.0)
    assert (net.loc[1, "revenue"], net.loc[1, "revenue_holdout"]) == (130.0, 40.0)
    counts = _summary(engine, "net_across_days").attrs["clvmodels"]["counts"]
    assert counts["refund_days_netted"] == 5 and counts["nonpositive_days_dropped"] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_net_across_days_customer_whose_refunds_exceed_the_purchases_spends_below_zero(engine):
    s = _summary(engine, "net_across_days").set_index("customer_id")
    # customer 3: purchases 30 + 20, refund 80 -> revenue -30; repeat purchase 20 * -30/50
    assert (s.loc[3, "frequency"], s.loc[3, "revenue"]) == (1, -30.0)
    assert s.loc[3, "monetary_value"] == pytest.approx(-12.0, rel=1e-15)
    # customer 2: a free item (a purchase of value 0) and a refund of 5
    assert (s.loc[2, "frequency"], s.loc[2, "revenue"], s.loc[2, "monetary_value"]) == (0, -5, 0)
    # customer 4 never bought: no customer, as with "net"
    assert 4 not in s.index
    assert s.attrs["clvmodels"]["counts"]["customers_without_purchases"] == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_net_counts_a_free_item_day_as_a_purchase_and_leaves_refund_days_out(engine):
    """The documented rule of "net": a day holding a return and netting to <= 0 is no
    purchase and its amount is left out; a day of only zero-value lines is a purchase of
    value 0 (Fader, Hardie & Lee 2005 count CDNOW's zero-dollar purchases)."""
    s = _summary(engine, "net").set_index("customer_id")
    assert (s.loc[2, "frequency"], s.loc[2, "revenue"]) == (0, 0.0)
    assert (s.loc[3, "frequency"], s.loc[3, "revenue"], s.loc[3, "monetary_value"]) == (1, 50, 20)
    assert s.attrs["clvmodels"]["counts"]["nonpositive_days_dropped"] == 5


@pytest.mark.parametrize("engine", ENGINES)
def test_keep_makes_every_row_a_purchase_and_drop_drops_the_nonpositive_rows(engine):
    keep = _summary(engine, "keep").set_index("customer_id")
    assert keep.loc[
        1, ["frequency", "revenue", "frequency_holdout", "revenue_holdout"]
    ].tolist() == [
        2,
        80.0,
        2,
        30.0,
    ]
    assert (keep.loc[4, "frequency"], keep.loc[4, "revenue"]) == (0, -3.0)
    drop = _summary(engine, "drop").set_index("customer_id")
    assert drop.index.tolist() == [1, 3]
    assert drop.attrs["clvmodels"]["counts"]["nonpositive_rows_dropped"] == 6


@pytest.mark.parametrize("engine", ENGINES)
def test_both_engines_give_the_same_summary_for_every_refund_policy(engine):
    for policy in ("net", "net_across_days", "drop", "keep"):
        got, ref = _summary(engine, policy), _summary("pandas", policy)
        pd.testing.assert_frame_equal(got, ref)
        assert got.attrs == ref.attrs


def test_net_across_days_needs_merge_same_day():
    with pytest.raises(DataError, match="'net_across_days' nets amounts within a day"):
        SummaryOptions(nonpositive="net_across_days", merge_same_day=False)


def test_the_refund_policies_are_those_of_the_config_its_reference_and_the_template():
    config_choices = typing.get_args(typing.get_type_hints(DataConfig)["nonpositive"])
    assert config_choices == NONPOSITIVE
    reference = config_reference()  # docs/reference/config.md
    row = next(line for line in reference.splitlines() if line.startswith("| `data.nonpositive`"))
    template = (REPO / "configs" / "template.yaml").read_text()
    for policy in NONPOSITIVE:
        assert f"`{policy}`" in row, policy
        assert re.search(rf"^  #   {policy} ", template, re.MULTILINE), policy


def _refund_log(tmp_path: Path) -> Path:
    """CDNOW with refunds larger than the customer's purchases for 40 customers, 20
    days after their first purchase, and for 10 of them again in the holdout."""
    log = load_builtin("cdnow_sample")
    firsts = log.groupby("customer_id")["date"].min().iloc[:40]
    refunds = pd.DataFrame(
        {"customer_id": firsts.index, "date": firsts.to_numpy() + np.timedelta64(20, "D")}
    ).assign(amount=-600.0)
    late = refunds.iloc[:10].assign(date=pd.Timestamp("1998-02-01"), amount=-300.0)
    path = tmp_path / "refunds.csv"
    pd.concat([log, refunds, late]).to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


@pytest.mark.parametrize("policy", ["keep", "net_across_days"])
def test_refunds_above_a_customers_purchases_go_through_the_fits(tmp_path, capsys, policy):
    """Customers with a negative revenue: the seed metrics, the fits and the values work
    (the Gamma-Gamma leaves out repeat buyers whose mean spend is <= 0)."""
    source = _refund_log(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: refunds\ndata: {{source: {source}, nonpositive: {policy}}}\n"
        "split: {calibration_end: 1997-09-30, observation_end: 1998-06-30}\n"
        "models: {bgnbd: {}, gamma_gamma: {}}\nclv: {interval: null}\n"
    )
    assert main(["fit", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert (summary["revenue"] < 0).sum() == 40
    assert np.isfinite(predictions.select_dtypes("number").to_numpy()).all()
