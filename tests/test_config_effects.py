"""The config keys of issue 18 — ``models.<key>.constraints``, ``.penalty`` and
``.hierarchy`` — as configs/template.yaml and the generated config reference document
them: resolved into the model's plan and estimator arguments, and one-line errors
naming the key path for every rule they break."""

from __future__ import annotations

import pytest

from clvmodels.config import parse_config
from clvmodels.errors import ConfigError
from clvmodels.run.settings import model_plan

COVARIATES = {
    "source": "builtin:loyalty_store_customers",
    "columns": ["loyalty_member", "channel", "country"],
}
LOYALTY = {
    "name": "x",
    "data": {"source": "builtin:loyalty_store", "time_unit": "W", "covariates": COVARIATES},
}
MEMBER = {"purchase": ["loyalty_member"], "dropout": ["loyalty_member"]}


def config_with(models: dict, base: dict = LOYALTY) -> object:
    return parse_config({**base, "models": models}, source="c.yaml")


def test_constraints_and_penalty_reach_the_estimator_arguments():
    config = config_with(
        {"bgnbd": {"covariates": MEMBER, "constraints": [["a", "b"]], "penalty": {"l2": "auto"}}}
    )
    kwargs = model_plan(config, "bgnbd").estimator_kwargs()
    assert kwargs["constraints"] == [["a", "b"]]
    assert kwargs["penalty"] == "auto"
    assert "hierarchy" not in kwargs


def test_a_bayesian_penalty_and_a_hierarchy_reach_the_estimator_arguments():
    config = config_with(
        {
            "bgnbd": {
                "backend": "bayes",
                "covariates": MEMBER,
                "penalty": {"l2": 2},
                "hierarchy": {"group": "country"},
            }
        }
    )
    kwargs = model_plan(config, "bgnbd").estimator_kwargs()
    assert kwargs["penalty"] == 2
    assert kwargs["hierarchy"] == {"group": "country"}


def test_the_group_column_is_no_default_covariate_of_a_hierarchical_model():
    config = config_with({"bgnbd": {"backend": "bayes", "hierarchy": {"group": "country"}}})
    plan = model_plan(config, "bgnbd")
    assert plan.covariates == {
        "purchase": ["loyalty_member", "channel"],
        "dropout": ["loyalty_member", "channel"],
    }
    assert plan.group == "country"


def test_an_sbg_hierarchy_over_cohorts_is_one_pooled_fit():
    base = {"name": "x", "data": {"source": "builtin:retention_fh2007", "kind": "survival"}}
    config = config_with({"sbg": {"backend": "bayes", "hierarchy": {"group": "cohort"}}}, base)
    plan = model_plan(config, "sbg")
    assert plan.by_cohort is False
    assert plan.estimator_kwargs()["hierarchy"] == {"group": "cohort"}


@pytest.mark.parametrize(
    ("models", "message"),
    [
        (
            {"bgnbd": {"covariates": MEMBER, "constraints": [["a"]]}},
            r"c.yaml: models.bgnbd.constraints\[0\]: list at least two different parameters",
        ),
        (
            {"bgnbd": {"covariates": MEMBER, "constraints": [["a", "r"]]}},
            r"models.bgnbd.constraints\[0\]: 'r' takes no covariates in the BG/NBD",
        ),
        (
            {
                "bgnbd": {
                    "covariates": {"purchase": ["loyalty_member"]},
                    "constraints": [["a", "b"]],
                }
            },
            r"models.bgnbd.constraints\[0\]: a has no covariates \(set models.bgnbd.covariates",
        ),
        (
            {"bgnbd": {"covariates": MEMBER, "constraints": [["alpha", "a"]]}},
            r"models.bgnbd.constraints\[0\]: the covariate links of alpha, a have opposite signs",
        ),
        (
            {
                "paretonbd": {
                    "covariates": {"purchase": ["channel"], "dropout": ["loyalty_member"]},
                    "constraints": [["alpha", "beta"]],
                }
            },
            r"models.paretonbd.constraints\[0\]: alpha, beta share no covariate",
        ),
        (
            {"bgnbd": {"covariates": MEMBER, "penalty": {"l1": 1}}},
            r"models.bgnbd.penalty: expected \{l2: <lambda>\} or \{l2: auto\}",
        ),
        (
            {"bgnbd": {"covariates": MEMBER, "penalty": {"l2": -1}}},
            r"models.bgnbd.penalty.l2: must be a number >= 0 or auto, got -1",
        ),
        (
            {"bgnbd": {"covariates": {}, "penalty": {"l2": 1}}},
            r"models.bgnbd.penalty: the penalty shrinks covariate coefficients",
        ),
        (
            {"bgnbd": {"backend": "bayes", "covariates": MEMBER, "penalty": {"l2": "auto"}}},
            r"models.bgnbd.penalty.l2: auto has no Bayesian counterpart",
        ),
        (
            {"bgnbd": {"hierarchy": {"group": "country"}}},
            r"models.bgnbd.hierarchy: partial pooling is Bayesian; set models.bgnbd.backend",
        ),
        (
            {"bgnbd": {"backend": "bayes", "hierarchy": {"column": "country"}}},
            r"models.bgnbd.hierarchy: expected \{group: <column>\}",
        ),
        (
            {"bgnbd": {"backend": "bayes", "hierarchy": {"group": "region"}}},
            r"models.bgnbd.hierarchy.group: 'region' must be a column of the customer table "
            r"\(data.covariates.columns: loyalty_member, channel, country\)",
        ),
        (
            {
                "bgnbd": {
                    "backend": "bayes",
                    "covariates": {"purchase": ["country"]},
                    "hierarchy": {"group": "country"},
                }
            },
            r"models.bgnbd.hierarchy.group: 'country' is also a covariate of bgnbd",
        ),
        (
            {"mbgnbd": {"backend": "bayes", "hierarchy": {"group": "country"}}},
            r"models.mbgnbd.hierarchy: the MBG/NBD has no hierarchy; BG/NBD, Pareto/NBD",
        ),
    ],
)
def test_bad_keys_are_one_line_errors_naming_the_key(models, message):
    with pytest.raises(ConfigError, match=message) as caught:
        config_with(models)
    assert "\n" not in str(caught.value)
