"""The model keys of issue 16 in a config: each model's own options (``k``, ``max_k``,
``thin``), its default backend, and one-line errors for options it does not take
(the documented behaviour of configs/template.yaml)."""

from __future__ import annotations

import pytest

from clvmodels.config import parse_config
from clvmodels.errors import ConfigError
from clvmodels.run.settings import model_plan

BASE = {"name": "x", "data": {"source": "builtin:cdnow_sample"}}


def config_with(models: dict) -> object:
    return parse_config({**BASE, "models": models}, source="c.yaml")


def test_erlang_models_profile_k_by_default_and_take_a_fixed_k():
    config = config_with({"bgcnbd": {}, "mbgcnbd": {"k": 3}})
    assert model_plan(config, "bgcnbd").options == {"max_k": 10, "max_iter": 1000}
    assert model_plan(config, "mbgcnbd").options == {"k": 3, "max_iter": 1000}
    assert model_plan(config, "bgcnbd").backend == "mle"


def test_pareto_ggg_defaults_to_its_sampler_with_sampler_options_only():
    config = config_with({"paretoggg": {"draws": 300, "thin": 2}})
    plan = model_plan(config, "paretoggg")
    assert plan.backend == "bayes"
    assert plan.options == {
        "draws": 300, "tune": 1000, "chains": 4, "seed": 0, "ess_floor": 400.0, "thin": 2
    }
    assert plan.estimator_kwargs()["progress"] is False


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ({"bgnbd": {"k": 2}}, r"c.yaml: models.bgnbd.k: only bgcnbd, mbgcnbd take k"),
        ({"paretonbd": {"thin": 2}}, r"models.paretonbd.thin: only paretoggg take thin"),
        ({"bgcnbd": {"k": 0}}, r"models.bgcnbd.k: must be a whole number from 1 to 100"),
        ({"bgcnbd": {"max_k": 500}}, r"models.bgcnbd.max_k: must be a whole number from 1"),
        (
            {"paretoggg": {"backend": "mle"}},
            r"models.paretoggg.backend: the Pareto/GGG has no closed-form likelihood",
        ),
        (
            {"paretoggg": {"target_accept": 0.9}},
            r"models.paretoggg.target_accept: the Pareto/GGG's sampler takes draws, tune",
        ),
    ],
)
def test_model_options_a_model_does_not_take_are_one_line_errors(models, message):
    with pytest.raises(ConfigError, match=message) as caught:
        config_with(models)
    assert "\n" not in str(caught.value)


def test_default_backend_of_the_other_models_stays_mle():
    config = config_with({"bgnbd": {}, "ggompertz": {}, "nbd": {}})
    assert {model_plan(config, k).backend for k in ("bgnbd", "ggompertz", "nbd")} == {"mle"}
