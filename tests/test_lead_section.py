"""The report's first section (clvmodels.report.lead) on the runs of configs/cdnow.yaml
(the session's CDNOW run), configs/donations.yaml (a weighted summary: 11,104 donors in 22
rows) and configs/retention.yaml (sBG per cohort): the numbers are recomputed by hand from
the run folder's files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from clvmodels.config import load_config
from clvmodels.models import model_info
from clvmodels.report.lead import lead_section
from clvmodels.run import execute, resolve, write_run

REPO = Path(__file__).resolve().parents[1]


def run_folder(tmp_path: Path, config: str, extra: dict | None = None) -> Path:
    """``configs/<config>.yaml`` (merged with ``extra``) run without plots."""
    raw = yaml.safe_load((REPO / "configs" / f"{config}.yaml").read_text())
    raw.update(extra or {})
    path = tmp_path / f"{config}.yaml"
    path.write_text(yaml.safe_dump(raw))
    settings = resolve(load_config(path))
    return write_run(execute(settings), tmp_path / config, plots=False)


def lead(folder: Path) -> str:
    return lead_section(json.loads((folder / "manifest.json").read_text()), folder)


def plain(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def money(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}"


@pytest.fixture(scope="module")
def cdnow_lead(cdnow_run):
    return lead(cdnow_run)


def test_cdnow_lead_says_model_terms_and_total(cdnow_run, cdnow_lead):
    manifest = json.loads((cdnow_run / "manifest.json").read_text())
    chosen = manifest["selection"]["chosen_purchase_model"]
    text = plain(cdnow_lead)
    assert cdnow_lead.startswith("<section id='answer'>")
    assert f"The {model_info(chosen).name} model values the customers" in text
    assert "chosen automatically" in text and "log_score_purchases" not in text
    assert "the next 52 weeks" in text
    assert "discounted at 10 % a year" in text
    assert "100 % margin" in text
    predictions = pd.read_csv(cdnow_run / "predictions.csv")
    assert f"the 2,357 current customers are worth {money(predictions['clv'].sum())}" in text
    assert f"About {predictions['p_alive'].sum():,.0f} of them" in text
    assert not re.search(r"\d[eE][+-]?\d", text)  # no scientific notation
    total = manifest["valuation"]["total_clv"]  # the total's own interval over the draws
    assert total["total"] == pytest.approx(predictions["clv"].sum())
    assert total["lower"] > predictions["clv_lower"].sum()  # narrower than the summed bounds
    assert total["upper"] < predictions["clv_upper"].sum()
    assert f"(90 % interval {money(total['lower'])} to {money(total['upper'])}" in text
    one_time = int((predictions["frequency"] == 0).sum())  # 1,411: BG/NBD's P(alive) = 1
    said = f"The BG/NBD counts all {one_time:,} customers without a repeat purchase as active"
    assert (said in text) == (chosen == "bgnbd")


def test_cdnow_actions_top_customers_and_at_risk(cdnow_run, cdnow_lead):
    actions = re.search(r"<ul id='actions'>(.*?)</ul>", cdnow_lead, re.S).group(1)
    assert actions.count("<li>") == 4
    predictions = pd.read_csv(cdnow_run / "predictions.csv", dtype={"customer_id": str})
    top = predictions.sort_values("clv", ascending=False, kind="stable")["customer_id"].head(10)
    assert ", ".join(top) in actions
    listed = pd.read_csv(cdnow_run / "top_customers.csv", dtype={"customer_id": str})
    assert listed["customer_id"].tolist() == top.tolist()
    risky = pd.read_csv(cdnow_run / "at_risk_customers.csv", dtype={"customer_id": str})
    summary = pd.read_csv(cdnow_run / "summary.csv", dtype={"customer_id": str})
    threshold = summary["revenue"].quantile(0.8, interpolation="lower")
    assert (risky["p_alive"] < 0.5).all() and (risky["past_revenue"] >= threshold).all()
    assert risky["past_revenue"].is_monotonic_decreasing
    expected = summary.merge(predictions[["customer_id", "p_alive"]], on="customer_id")
    expected = expected[(expected["revenue"] >= threshold) & (expected["p_alive"] < 0.5)]
    assert len(risky) == len(expected) > 0
    assert f"{len(risky):,} customers among the top 20 % by past revenue" in plain(actions)
    assert ", ".join(risky["customer_id"].head(10)) in actions


def test_cdnow_max_acquisition_cost_is_a_third_of_the_new_customer_value(cdnow_run, cdnow_lead):
    params = json.loads((cdnow_run / "params.json").read_text())
    new = params["new_customer_value"]
    chosen = new["chosen"]
    assert new["chosen_model"] == params["chosen_purchase_model"]
    assert chosen["clv"] == pytest.approx(chosen["first_order"] * (1 + chosen["dert"]), rel=1e-12)
    advice = new["acquisition"][new["chosen_model"]]
    assert advice["max_acquisition_cost"] == pytest.approx(chosen["clv"] / 3)
    text = plain(cdnow_lead)
    assert f"pay at most  {money(chosen['clv'] / 3)}" in text
    assert "set metrics.conversion_rate" in text
    assert "Budget by segment" in text


def test_donations_lead_counts_weighted_donors_and_bids_per_click(tmp_path):
    metrics = {"metrics": {"conversion_rate": 0.02, "ltv_cac_ratio": 4.0}}
    folder = run_folder(tmp_path, "donations", metrics)
    text = plain(lead(folder))
    assert "11,104 current customers (22 distinct histories" in text
    assert "6 of 6 opportunities, the last at 6: 1,203 customers" in text
    value = json.loads((folder / "params.json").read_text())["new_customer_value"]["chosen"]
    assert f"pay at most  {money(value['clv'] / 4)}" in text
    assert f"bid at most  {money(value['clv'] / 4 * 0.02)}  per click" in text
    assert f"break-even {money(value['clv'] * 0.02)}" in text


def test_retention_lead_talks_about_subscribers_per_cohort(tmp_path):
    folder = run_folder(tmp_path, "retention")
    text = plain(lead(folder))
    predictions = pd.read_csv(folder / "predictions.csv")
    assert "values the subscribers, fitted to each cohort separately" in text
    assert f"The {predictions['customers'].sum():,.0f} active subscribers" in text
    assert "their whole remaining lifetime" in text
    values = json.loads((folder / "params.json").read_text())["new_customer_value"]["models"]
    for name, value in values.items():
        assert f"For {name.split(':')[1]}, a new subscriber is worth {money(value['clv'])}" in text
