"""The model registry (clvmodels.models.REGISTRY) agrees with the model modules."""

from __future__ import annotations

import inspect

import pytest

from clvmodels.estimators import ESTIMATORS
from clvmodels.evaluation.holdout import HISTORY_COLUMNS
from clvmodels.models import REGISTRY, model_info, model_keys, model_module, model_spec

# the predictions of each model that take a customer's history
HISTORY_PREDICTIONS = {
    "bgnbd": ("probability_alive", "conditional_expected_purchases",
              "discounted_expected_residual_transactions", "conditional_purchase_pmf"),
    "paretonbd": ("probability_alive", "conditional_expected_purchases",
                  "discounted_expected_residual_transactions", "conditional_purchase_pmf"),
    "mbgnbd": ("probability_alive", "conditional_expected_purchases",
               "discounted_expected_residual_transactions", "conditional_purchase_pmf"),
    "bgbb": ("probability_alive", "conditional_expected_transactions", "dert",
             "conditional_purchase_pmf"),
    "nbd": ("probability_alive", "conditional_expected_purchases",
            "discounted_expected_residual_transactions", "conditional_purchase_pmf"),
    "bgcnbd": ("probability_alive", "conditional_expected_purchases",
               "discounted_expected_residual_transactions", "conditional_purchase_pmf"),
    "mbgcnbd": ("probability_alive", "conditional_expected_purchases",
                "discounted_expected_residual_transactions", "conditional_purchase_pmf"),
    "ggompertz": ("probability_alive", "conditional_expected_purchases",
                  "discounted_expected_residual_transactions", "conditional_purchase_pmf"),
    "paretoggg": ("probability_alive", "conditional_expected_purchases",
                  "customer_predictions", "conditional_purchase_pmf"),
    "gamma_gamma": ("conditional_expected_average_order_value",),
}

PURCHASE = (
    "bgnbd", "paretonbd", "mbgnbd", "bgbb", "nbd", "bgcnbd", "mbgcnbd", "ggompertz", "paretoggg"
)


def test_registry_order_and_kinds():
    assert tuple(REGISTRY) == (*PURCHASE, "gamma_gamma", "sbg")
    assert model_keys("purchase") == PURCHASE
    assert model_keys("spend") == ("gamma_gamma",)
    assert model_keys("retention") == ("sbg",)
    assert model_keys() == tuple(REGISTRY)
    assert [k for k, info in REGISTRY.items() if info.discrete] == ["bgbb", "sbg"]
    assert all(info.is_purchase == (info.role == "purchase") for info in REGISTRY.values())


@pytest.mark.parametrize("key", list(REGISTRY))
def test_registry_entry_names_a_module_with_its_spec(key):
    info = model_info(key)
    module = model_module(key)
    assert module.__name__ == info.module
    assert module.SPEC.key == key
    assert model_spec(key) is module.SPEC


@pytest.mark.parametrize("key", list(HISTORY_PREDICTIONS))
def test_registry_history_is_what_the_predictions_read(key):
    module = model_module(key)
    for name in HISTORY_PREDICTIONS[key]:
        read = set(inspect.signature(getattr(module, name)).parameters)
        assert set(model_info(key).history) <= read, (key, name)


def test_sbg_history_is_its_data():
    # a subscriber's history is her renewal count (derl's n_renewals) and churned flag
    assert model_info("sbg").history == model_spec("sbg").data_columns
    assert "n_renewals" in inspect.signature(model_module("sbg").derl).parameters


def test_unknown_model_and_role_name_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'bgggg'; choose from bgnbd, paretonbd"):
        model_info("bgggg")
    with pytest.raises(ValueError, match="unknown model 'bgggg'"):
        model_module("bgggg")
    with pytest.raises(ValueError, match="unknown model role 'churn'; choose from purchase"):
        model_keys("churn")


def test_every_model_has_an_estimator():
    assert tuple(ESTIMATORS) == model_keys()
    assert all(ESTIMATORS[k].model_key == k for k in ESTIMATORS)


@pytest.mark.parametrize("key", [k for k in REGISTRY if model_info(k).active is not None])
def test_registry_active_columns_are_what_the_active_predictions_read(key):
    module = model_module(key)
    for name in ("active_expected_purchases", "discounted_active_purchases"):
        read = [
            p.name
            for p in inspect.signature(getattr(module, name)).parameters.values()
            if p.name in model_info(key).history
        ]
        assert read == list(model_info(key).active), (key, name)


def test_every_history_the_likelihood_needs_is_in_the_summary_columns():
    for key in model_keys("purchase"):
        assert set(model_spec(key).data_columns) <= set(HISTORY_COLUMNS), key
