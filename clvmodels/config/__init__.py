"""Run configuration: YAML parsed safely into typed, validated dataclasses.

``load_config(path)`` reads and checks a config file; unknown keys, wrong types and
inconsistent choices are errors that name the file and the key path.  The run layer
(:mod:`clvmodels.run.settings`) is the only reader of a :class:`RunConfig`: it resolves
it once into the plain settings every step receives.

Modules: :mod:`~clvmodels.config.schema` (the dataclasses),
:mod:`~clvmodels.config.load` (YAML and the typed builder),
:mod:`~clvmodels.config.checks` (rules between keys).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clvmodels._lazy import lazy_exports, names_from

if TYPE_CHECKING:
    from clvmodels.config.load import load_config, parse_config
    from clvmodels.config.schema import (
        BacktestConfig,
        BaselineConfig,
        ClvConfig,
        EvaluationConfig,
        MetricsConfig,
        MlflowConfig,
        OutputConfig,
        RunConfig,
        SplitConfig,
        SurveyConfig,
    )
    from clvmodels.config.schema_data import (
        CalendarConfig,
        CovariatesConfig,
        DataConfig,
        DynamicCovariatesConfig,
        SparkConfig,
        SqlSourceConfig,
    )
    from clvmodels.config.schema_models import ModelConfig

_LAZY = names_from(
    {
        "clvmodels.config.load": ("load_config", "parse_config"),
        "clvmodels.config.schema": (
            "BacktestConfig",
            "BaselineConfig",
            "ClvConfig",
            "EvaluationConfig",
            "MetricsConfig",
            "MlflowConfig",
            "OutputConfig",
            "RunConfig",
            "SplitConfig",
            "SurveyConfig",
        ),
        "clvmodels.config.schema_data": (
            "CalendarConfig",
            "CovariatesConfig",
            "DataConfig",
            "DynamicCovariatesConfig",
            "SparkConfig",
            "SqlSourceConfig",
        ),
        "clvmodels.config.schema_models": ("ModelConfig",),
    }
)
"""The public names imported on first use (PEP 562), and the module each comes from."""


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "BacktestConfig",
    "BaselineConfig",
    "CalendarConfig",
    "ClvConfig",
    "CovariatesConfig",
    "DataConfig",
    "DynamicCovariatesConfig",
    "EvaluationConfig",
    "MetricsConfig",
    "MlflowConfig",
    "ModelConfig",
    "OutputConfig",
    "RunConfig",
    "SparkConfig",
    "SplitConfig",
    "SqlSourceConfig",
    "SurveyConfig",
    "load_config",
    "parse_config",
]
