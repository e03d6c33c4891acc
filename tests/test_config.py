"""Config parsing: typed values, defaults, and one-line errors naming the key path."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pytest

from clvmodels.config import load_config, parse_config
from clvmodels.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

MINIMAL = {"name": "x", "data": {"source": "builtin:cdnow_sample"}}


def test_minimal_config_gets_documented_defaults():
    config = parse_config(MINIMAL)
    assert config.data.kind == "transactions"
    assert config.data.time_unit == "W"
    assert config.data.merge_same_day is True
    assert config.data.nonpositive == "net"
    assert config.split.calibration_end is None
    assert config.models == {}
    assert config.output_dir == Path("reports/x")
    assert config.baseline.lifespan_years == 3.0


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "configs").glob("*.yaml")))
def test_shipped_configs_are_valid(name):
    config = load_config(REPO / "configs" / name)
    assert config.name


def test_cdnow_config_dates_are_parsed():
    config = load_config(REPO / "configs" / "cdnow.yaml")
    assert config.split.calibration_end == dt.date(1997, 9, 30)
    assert config.split.observation_end == dt.date(1998, 6, 30)
    assert set(config.models) == {"bgnbd", "paretonbd", "gamma_gamma"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({**MINIMAL, "colour": 1}, "colour: unknown key"),
        ({"name": "x", "data": {"source": "a.csv", "tim_unit": "W"}}, "data.tim_unit: unknown key"),
        ({"name": "x", "data": {"source": "a.csv", "time_unit": "M"}}, "data.time_unit"),
        ({"name": "x", "data": {"source": "a", "time_unit": "H"}}, "expected one of D, W, M, Y"),
        ({"name": "x"}, "data: required key is missing"),
        ({"name": "x", "data": {"source": 3}}, "data.source: expected a string"),
        ({**MINIMAL, "split": {"calibration_end": "30/09/1997"}}, "split.calibration_end"),
        (
            {
                **MINIMAL,
                "split": {"calibration_end": "1998-01-01", "observation_end": "1997-01-01"},
            },
            "is after split.observation_end",
        ),
        ({**MINIMAL, "models": {"bgnbdd": {}}}, "models.bgnbdd: unknown model"),
        ({**MINIMAL, "models": {"bgnbd": {"backend": "gpu"}}}, "models.bgnbd.backend"),
        ({**MINIMAL, "models": {"bgnbd": {"max_iter": "many"}}}, "models.bgnbd.max_iter"),
        ({**MINIMAL, "models": {"bgnbd": {"init": {"r": "x"}}}}, "models.bgnbd.init.r"),
        ({**MINIMAL, "data": {"source": "a", "merge_same_day": "yes"}}, "data.merge_same_day"),
        (
            {**MINIMAL, "data": {"source": "a", "merge_same_day": False}},
            "data.nonpositive: 'net'",
        ),
        (
            {
                **MINIMAL,
                "data": {"source": "a", "merge_same_day": False, "nonpositive": "net_across_days"},
            },
            "data.nonpositive: 'net_across_days' nets returns within a day and needs",
        ),
        ({**MINIMAL, "metrics": {"conversion_rate": 2}}, "metrics.conversion_rate"),
        (
            {**MINIMAL, "data": {"source": "a", "timezone": "Mars/Base"}},
            "data.timezone: 'Mars/Base' is not an IANA time zone name",
        ),
        (
            {**MINIMAL, "data": {"source": "a", "date_format": "%b %d %Y"}},
            "data.date_format: '%b %d %Y': %b is not supported",
        ),
        ({**MINIMAL, "data": {"source": "a", "decimal": ";"}}, "data.decimal: ';' is not"),
        ({**MINIMAL, "data": {"source": "a", "delimiter": ";;"}}, "data.delimiter: ';;' is not"),
        (
            {**MINIMAL, "data": {"source": "a", "kind": "survival", "decimal": ","}},
            "data.decimal: reads transaction logs; data.kind is 'survival'",
        ),
        ({**MINIMAL, "clv": {"threads": 0}}, "clv.threads: must be at least 1"),
        ({**MINIMAL, "output": {"formats": ["xlsx"]}}, "output.formats[0]"),
        ({**MINIMAL, "name": "a/b"}, "name:"),
        ([1, 2], "must be a mapping"),
    ],
)
def test_bad_config_names_the_key(raw, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(raw, source="c.yaml")


def test_invalid_yaml_reports_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndata: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: invalid YAML \(line"):
        load_config(path)


def _nested_aliases(levels: int, per_level: int = 9) -> str:
    """``levels`` anchors, each a list of ``per_level`` aliases of the previous one,
    under models.bgnbd.priors.r.mu (``per_level ** levels`` values written out)."""
    lines = ["name: x", "data: {source: builtin:cdnow_sample}", "models:", "  bgnbd:"]
    lines += ["    backend: bayes", "    priors:", "      r: {dist: lognormal, sigma: 1, mu: {"]
    lines.append(f"        a0: &a0 [{', '.join(['lol'] * per_level)}],")
    for i in range(1, levels):
        lines.append(f"        a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * per_level)}],")
    return "\n".join(lines) + "\n      }}\n"


def test_aliases_standing_for_over_10000_values_are_refused_at_once(tmp_path):
    """81 aliases (under the cap of 100) standing for 9^9 values: refused while the
    YAML is composed, not after minutes of printing or checking the value."""
    path = tmp_path / "bomb.yaml"
    path.write_text(_nested_aliases(9))
    started = time.perf_counter()
    with pytest.raises(
        ConfigError, match=r"invalid YAML \(line \d+\): the aliases \(\*name\) stand for more"
    ):
        load_config(path)
    assert time.perf_counter() - started < 2


def test_a_few_small_aliases_are_read_and_an_alias_inside_its_value_is_not(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(_nested_aliases(3, per_level=3))
    with pytest.raises(ConfigError, match=r"models\.bgnbd\.priors\.r\.mu: expected a number"):
        load_config(path)  # composed (40 values), then refused as no number
    path.write_text("name: &n x\ndata: {source: builtin:cdnow_sample}\nx: &x [1, *x]\n")
    with pytest.raises(ConfigError, match=r"an alias \(\*name\) inside the value it names"):
        load_config(path)


def test_a_huge_prior_value_is_echoed_in_80_characters():
    raw = {
        **MINIMAL,
        "models": {"bgnbd": {"backend": "bayes", "priors": {"r": {"dist": "gamma", "beta": 1}}}},
    }
    raw["models"]["bgnbd"]["priors"]["r"]["alpha"] = ["x" * 100_000] * 1000
    with pytest.raises(ConfigError, match=r"priors\.r\.alpha: expected a number, got \[") as error:
        parse_config(raw, source="c.yaml")
    assert len(str(error.value)) < 160


@pytest.mark.parametrize("key", ["source", "covariates"])
def test_a_path_the_system_refuses_is_a_config_error_echoed_bounded(key):
    path = "a" * 200_000 + ".csv"
    data = (
        {"source": path}
        if key == "source"
        else {
            "source": "builtin:cdnow_sample",
            "covariates": {"source": path, "columns": ["x"]},
        }
    )
    with pytest.raises(ConfigError, match=r": 'a{20,}\.\.\.a*\.csv': File name too long$") as error:
        parse_config({**MINIMAL, "data": data}, source="c.yaml")
    assert len(str(error.value)) < 160


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_resolved_config_round_trips():
    config = load_config(REPO / "configs" / "cdnow.yaml")
    again = parse_config(config.to_dict())
    assert again.to_dict() == config.to_dict()


def test_spark_block_is_parsed_with_engine_spark():
    raw = {
        "name": "x",
        "data": {"source": "log.parquet", "engine": "spark"},
        "spark": {
            "master": "local[2]",
            "config": {"spark.sql.shuffle.partitions": 8, "spark.ui.enabled": False},
            "evaluation_sample": 5000,
        },
    }
    config = parse_config(raw)
    assert config.spark.master == "local[2]"
    assert config.spark.config == {"spark.sql.shuffle.partitions": 8, "spark.ui.enabled": False}
    assert config.spark.evaluation_sample == 5000
    assert config.spark.app_name == "clvmodels"


@pytest.mark.parametrize(
    ("data", "spark", "message"),
    [
        ({"engine": "spark"}, {"mastr": "local"}, "spark.mastr: unknown key"),
        ({}, {"master": "local[2]"}, "spark: a spark block needs data.engine: spark"),
        ({"engine": "spark"}, {"evaluation_sample": 0}, "spark.evaluation_sample: must be"),
        ({"engine": "spark", "kind": "summary"}, None, "data.engine: spark summarises"),
        ({"engine": "sparc"}, None, "data.engine: expected one of duckdb, pandas, spark"),
    ],
)
def test_spark_config_errors_name_the_key(data, spark, message):
    raw = {"name": "x", "data": {"source": "log.parquet", **data}}
    if spark is not None:
        raw["spark"] = spark
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(raw)


def test_engine_spark_without_pyspark_is_a_one_line_config_error(monkeypatch):
    import sys

    from clvmodels.run.prepare import prepare_data
    from clvmodels.run.settings import resolve

    loaded = [m for m in sys.modules if m.startswith(("clvmodels.spark", "pyspark."))]
    for name in loaded:  # imported by earlier tests: forget them for this test
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if pyspark were not installed
    config = parse_config(
        {"name": "x", "data": {"source": "builtin:cdnow_sample", "engine": "spark"}}
    )
    with pytest.raises(ConfigError, match=r"data.engine: spark needs pyspark: pip install"):
        prepare_data(resolve(config).data)


def test_a_sql_source_with_the_spark_engine_is_a_config_error_naming_data_source():
    raw = {
        "name": "x",
        "data": {"source": {"sql": "SELECT 1", "url": "postgresql://u@h/db"}, "engine": "spark"},
    }
    with pytest.raises(ConfigError, match=r"data\.source: a SQL query is read by the duckdb"):
        parse_config(raw)
