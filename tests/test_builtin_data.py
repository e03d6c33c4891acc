"""Built-in data sets: shapes, types and the totals their sources report; the synthetic
``loyalty_store`` data: reproducible from its script, and its documented effects recovered
by the models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.backends.design import CovariateLinks
from clvmodels.backends.mle import fit_mle
from clvmodels.data import BUILTIN_DATASETS, load_builtin, read_table, summarize_transactions
from clvmodels.data.builtin import LOYALTY_STORE_SEED, LOYALTY_STORE_TRUTH
from clvmodels.data.covariates import covariate_matrix
from clvmodels.errors import DataError
from clvmodels.models import bgnbd, gamma_gamma

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def test_cdnow_sample_matches_fader_hardie_lee_2005_description():
    # FHL (2005) section 2: 2,357 customers, first purchases in Q1 1997, to 1998-06-30.
    df = load_builtin("cdnow_sample")
    assert list(df.columns) == ["customer_id", "date", "amount"]
    assert len(df) == 6919
    assert df["customer_id"].nunique() == 2357
    assert df["customer_id"].dtype == "int64"
    assert pd.api.types.is_datetime64_dtype(df["date"])
    assert df["amount"].dtype == "float64"
    assert df["date"].min() == pd.Timestamp("1997-01-01")
    assert df["date"].max() == pd.Timestamp("1998-06-30")
    assert (df["amount"] == 0).sum() == 8


def test_cdnow_sample_first_rows_match_source_file():
    # CDNOW_sample.txt begins " 00004 0001 19970101  2   29.33" / "... 19970118  2   29.73"
    df = load_builtin("cdnow_sample")
    assert df.iloc[0].tolist() == [4, pd.Timestamp("1997-01-01"), 29.33]
    assert df.iloc[1].tolist() == [4, pd.Timestamp("1997-01-18"), 29.73]


def test_cdnow_master_row_count_and_zero_dollar_rows():
    df = load_builtin("cdnow_master")
    assert len(df) == 69659
    assert df["customer_id"].nunique() == 23570
    assert (df["amount"] <= 0).sum() == 80
    assert df["date"].min() == pd.Timestamp("1997-01-01")
    assert df["date"].max() == pd.Timestamp("1998-06-30")


def test_retention_matches_fader_hardie_2007_table_1():
    df = load_builtin("retention_fh2007")
    assert list(df.columns) == ["cohort", "period", "alive"]
    regular = df.loc[df["cohort"] == "regular", "alive"].tolist()
    high_end = df.loc[df["cohort"] == "high_end", "alive"].tolist()
    assert regular == [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
    assert high_end == [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]
    assert df["period"].tolist() == list(range(13)) * 2


def test_donations_match_fader_hardie_shang_2010_totals():
    # FHS (2010): 11,104 first-time donors of 1995, 6 repeat opportunities.
    df = load_builtin("donations_fhs2010")
    assert list(df.columns) == ["frequency", "recency", "n", "count"]
    assert df["count"].sum() == 11104
    assert (df["n"] == 6).all()
    assert len(df) == 22  # every (x, t_x) pattern with 0 < t_x <= 6, plus (0, 0)


def test_catalogue_describes_every_dataset():
    assert set(BUILTIN_DATASETS) == {
        "cdnow_sample",
        "cdnow_master",
        "retention_fh2007",
        "donations_fhs2010",
        "loyalty_store",
        "loyalty_store_customers",
        "regular_store",
        "seasonal_store",
    }
    kinds = {name: d.kind for name, d in BUILTIN_DATASETS.items()}
    assert kinds["cdnow_sample"] == "transactions"
    assert kinds["retention_fh2007"] == "survival"
    assert kinds["donations_fhs2010"] == "summary"
    assert kinds["loyalty_store"] == "transactions"
    assert kinds["loyalty_store_customers"] == "customers"
    for dataset in BUILTIN_DATASETS.values():
        assert dataset.citation and dataset.description
    for name in ("loyalty_store", "loyalty_store_customers"):
        dataset = BUILTIN_DATASETS[name]
        assert "SYNTHETIC" in dataset.description
        assert f"seed {LOYALTY_STORE_SEED}" in dataset.citation
        assert "note 019" in dataset.citation


def test_unknown_dataset_lists_known_names():
    with pytest.raises(DataError, match="known: cdnow_master, cdnow_sample"):
        load_builtin("cdnow")


# --- the synthetic loyalty_store data ---------------------------------------------------


def _loyalty_script():
    spec = importlib.util.spec_from_file_location(
        "make_loyalty_store", SCRIPTS / "make_loyalty_store.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loyalty_store_files_equal_a_fresh_run_of_their_script():
    fresh_log, fresh_customers = _loyalty_script().make_loyalty_store(LOYALTY_STORE_SEED)
    log = load_builtin("loyalty_store")
    customers = load_builtin("loyalty_store_customers")
    # dtypes are checked below; here only the values (datetime resolutions and the
    # string dtype vary with the pandas version)
    pd.testing.assert_frame_equal(
        log, fresh_log.astype(log.dtypes.to_dict()), check_exact=False, rtol=0.0, atol=1e-9
    )
    pd.testing.assert_frame_equal(customers, fresh_customers.astype(customers.dtypes.to_dict()))


def test_loyalty_store_types_and_one_row_per_customer():
    log = load_builtin("loyalty_store")
    customers = load_builtin("loyalty_store_customers")
    assert list(log.columns) == ["customer_id", "date", "amount"]
    assert log["customer_id"].dtype == "int64"
    assert pd.api.types.is_datetime64_dtype(log["date"])
    assert log["amount"].dtype == "float64"
    assert (log["amount"] >= 0.01).all()
    assert np.allclose(log["amount"], log["amount"].round(2), rtol=0.0, atol=1e-9)
    assert log["date"].min() == pd.Timestamp("2024-01-01")
    assert log["date"].max() <= pd.Timestamp(LOYALTY_STORE_TRUTH["observation_end"])
    first = log.groupby("customer_id")["date"].min()
    assert first.max() <= pd.Timestamp("2024-03-24")

    assert list(customers.columns) == ["customer_id", "loyalty_member", "channel", "country"]
    assert customers["customer_id"].dtype == "int64"
    assert customers["loyalty_member"].dtype == bool
    assert pd.api.types.is_string_dtype(customers["channel"])
    assert pd.api.types.is_string_dtype(customers["country"])
    assert set(customers["channel"]) == {"app", "store", "web"}
    assert customers["customer_id"].is_unique
    assert len(customers) == 10_000
    assert set(customers["customer_id"]) == set(log["customer_id"])
    # the shares of the design, within sampling error of 10,000 draws
    assert abs(customers["loyalty_member"].mean() - 0.3) < 0.015
    shares = customers["channel"].value_counts(normalize=True)
    assert abs(shares["web"] - 0.5) < 0.015 and abs(shares["store"] - 0.2) < 0.015


def test_loyalty_store_customers_reads_as_a_builtin_source():
    table = read_table("builtin:loyalty_store_customers")
    assert len(table) == 10_000
    assert table["loyalty_member"].dtype == bool


def test_loyalty_store_recovers_its_documented_effects_within_3_standard_errors():
    # Summarised as any log (same-day purchases merged), fitted with the covariates of
    # its generative model but not its country groups: every covariate coefficient of
    # LOYALTY_STORE_TRUTH and every Gamma-Gamma value (the country does not touch the
    # spend) within 3 SE.  The BG/NBD's r, alpha, a, b are not checked here: the
    # country factors on alpha and b are heterogeneity this fit does not know, so its
    # baselines are no true values (tests/test_loyalty_store_country.py checks them
    # country by country).
    summary = summarize_transactions(
        "builtin:loyalty_store",
        time_unit=LOYALTY_STORE_TRUTH["time_unit"],
        observation_end=LOYALTY_STORE_TRUTH["observation_end"],
    )
    design = covariate_matrix(
        load_builtin("loyalty_store_customers"),
        summary["customer_id"],
        ["loyalty_member", "channel"],
        source_name="builtin:loyalty_store_customers",
    )
    assert design.names == ("loyalty_member", "channel[store]", "channel[web]")
    purchase = CovariateLinks.build(
        bgnbd.SPEC,
        design.names,
        design.matrix,
        {"purchase": design.names, "dropout": ("loyalty_member",)},
    )
    spend = CovariateLinks.build(
        gamma_gamma.SPEC, design.names, design.matrix, {"spend": ("loyalty_member",)}
    )
    fits = {
        "bgnbd": fit_mle(
            bgnbd.SPEC,
            {c: summary[c].to_numpy(float) for c in bgnbd.SPEC.data_columns},
            covariates=purchase,
        ),
        "gamma_gamma": fit_mle(
            gamma_gamma.SPEC,
            {c: summary[c].to_numpy(float) for c in gamma_gamma.SPEC.data_columns},
            covariates=spend,
        ),
    }
    for model, fit in fits.items():
        truth = LOYALTY_STORE_TRUTH[model]
        assert set(fit.param_names) == set(truth)
        checked = fit.coefficients if model == "bgnbd" else fit.param_names
        assert len(checked) == {"bgnbd": 5, "gamma_gamma": 4}[model]
        for name in checked:
            value = truth[name]
            z = (fit.params[name] - value) / fit.std_err[name]
            assert abs(z) < 3.0, (
                f"{model} {name}: {fit.params[name]:.4g} vs truth {value} (z {z:.2f})"
            )
