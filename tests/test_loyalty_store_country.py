"""The country groups of the synthetic ``builtin:loyalty_store`` (issue 18; the example
of docs/guide/hierarchical.md).

Expected values: ``LOYALTY_STORE_TRUTH["country"]`` (``clvmodels.data.builtin``), whose
factors ``scripts/make_loyalty_store.py`` drew once and whose realized group sizes
``clvmodels/data/files/README.md`` documents; the independent check of the truth is a
plain BG/NBD fitted to each large country on its own (no pooling).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels import BGNBD
from clvmodels.data import load_builtin, summarize_transactions
from clvmodels.data.builtin import LOYALTY_STORE_SEED, LOYALTY_STORE_TRUTH

COUNTRY = LOYALTY_STORE_TRUTH["country"]
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_loyalty_store.py"


def _script():
    spec = importlib.util.spec_from_file_location("make_loyalty_store", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_truth_describes_twelve_countries_of_very_unequal_size():
    shares = COUNTRY["shares"]
    assert COUNTRY["column"] == "country"
    assert len(shares) == 12
    assert math.isclose(sum(shares.values()), 1.0, abs_tol=1e-12)
    assert list(shares.values()) == sorted(shares.values(), reverse=True)
    assert max(shares.values()) == 0.40 and sum(v < 0.01 for v in shares.values()) == 3
    for parameter in ("alpha", "b"):
        assert set(COUNTRY[parameter]) == set(shares)
    assert set(COUNTRY["customers"]) == set(shares)


def test_country_factors_are_the_documented_draw_of_the_script():
    # The factors are frozen numbers; the script's draw reproduces them to 3 decimals.
    drawn = _script().draw_country_factors(LOYALTY_STORE_SEED)
    assert drawn == {"alpha": COUNTRY["alpha"], "b": COUNTRY["b"]}


def test_group_parameters_are_the_baseline_times_the_country_factor():
    groups = COUNTRY["groups"]
    assert len(groups) == 24
    assert groups["alpha[DE]"] == pytest.approx(4.0 * 0.695)
    assert groups["b[DE]"] == pytest.approx(2.5 * 1.467)
    for level in COUNTRY["shares"]:
        for parameter in ("alpha", "b"):
            expected = LOYALTY_STORE_TRUTH["bgnbd"][parameter] * COUNTRY[parameter][level]
            assert groups[f"{parameter}[{level}]"] == pytest.approx(expected, abs=1e-6)


def test_customer_table_has_every_country_with_the_documented_sizes():
    customers = load_builtin("loyalty_store_customers")
    assert pd.api.types.is_string_dtype(customers["country"])
    counts = customers["country"].value_counts()
    assert counts.to_dict() == COUNTRY["customers"]
    assert counts[["IE", "PT", "LU"]].tolist() == [98, 60, 36]  # files/README.md
    # each share within 4 binomial standard errors of its probability
    n = len(customers)
    for level, share in COUNTRY["shares"].items():
        assert abs(counts[level] / n - share) < 4 * math.sqrt(share * (1 - share) / n), level
    # drawn independently of the covariates: the member share of the three largest
    # countries within 4 binomial standard errors of the design's 0.3
    for level in ("DE", "FR", "GB"):
        members = customers.loc[customers["country"] == level, "loyalty_member"]
        assert abs(members.mean() - 0.3) < 4 * math.sqrt(0.21 / len(members)), level


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    # Same-day purchases kept apart: merging them (the default) drops purchases and
    # raises the fitted alpha by about 8 % (measured on 200,000 simulated customers).
    frame = summarize_transactions(
        "builtin:loyalty_store",
        time_unit=LOYALTY_STORE_TRUTH["time_unit"],
        observation_end=LOYALTY_STORE_TRUTH["observation_end"],
        merge_same_day=False,
        nonpositive="keep",
    )
    return frame.merge(load_builtin("loyalty_store_customers"), on="customer_id")


@pytest.mark.parametrize("level", ["DE", "FR", "GB"])
def test_a_separate_fit_of_a_large_country_recovers_its_group_parameters(summary, level):
    # No pooling: the plain BG/NBD with the generative covariates on this country's
    # customers only, whose alpha and b are the group's alpha[XX], b[XX].
    part = summary[summary["country"] == level]
    model = BGNBD(
        covariates={"purchase": ["loyalty_member", "channel"], "dropout": ["loyalty_member"]}
    ).fit(part)
    fit = model.result_
    truth = {
        **LOYALTY_STORE_TRUTH["bgnbd"],
        "alpha": COUNTRY["groups"][f"alpha[{level}]"],
        "b": COUNTRY["groups"][f"b[{level}]"],
    }
    interval = fit.conf_int(0.95).loc["alpha"]
    assert interval["lower"] < truth["alpha"] < interval["upper"]
    for name in fit.param_names:  # the rest within 3 SE (log scale for r, a, b)
        estimate, se = fit.params[name], fit.std_err[name]
        if name in fit.coefficients:
            z = (estimate - truth[name]) / se
        else:
            z = (np.log(estimate) - np.log(truth[name])) / (se / estimate)
        assert abs(z) < 3.0, f"{level} {name}: {estimate:.4g} vs {truth[name]} (z {z:.2f})"
