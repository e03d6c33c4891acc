"""Reading a run configuration: YAML parsed safely into the typed dataclasses of
:mod:`clvmodels.config.schema`.

Unknown keys and wrong types are errors that name the key path
(``error: configs/x.yaml: data.time_unit: expected one of D, W, got 'M'``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from clvmodels.config.checks import check_semantics
from clvmodels.config.dynamic import calendar_names, calendar_options
from clvmodels.config.schema import RunConfig, to_plain
from clvmodels.config.schema_data import CalendarConfig
from clvmodels.config.yaml_reader import MAX_BYTES, load_yaml
from clvmodels.errors import ConfigError, echo


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run configuration.

    Raises
    ------
    ConfigError
        One line naming the file, the key path and the problem.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(f"{path}: over {MAX_BYTES >> 20} MB; is this a config file?")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    config = parse_config(raw, source=str(path))
    return dataclasses.replace(config, base_dir=path.resolve().parent)


def parse_config(raw: Any, source: str = "config") -> RunConfig:
    """Validate an already-parsed mapping into a :class:`RunConfig`."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: the config must be a mapping of keys, got {_kind(raw)}")
    try:
        config = _build(RunConfig, raw, "")
        check_semantics(config)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return config


def read_calendar(path: str | Path) -> dict[str, Any]:
    """The calendar keywords (:func:`clvmodels.data.calendar.calendar_covariates`) of a
    YAML file holding the keys of ``data.dynamic_covariates.calendar`` (``seasonality``,
    ``high_season``, ``campaigns``, ``holidays``), checked, as plain values; errors
    name the file and the key (``clvmodels predict --calendar``)."""
    try:
        raw = load_yaml(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--calendar {path}: cannot read it ({exc.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise ConfigError(f"--calendar {path}: not a YAML file of calendar keys") from None
    try:
        calendar = _build(CalendarConfig, raw, "calendar")
        calendar_names(calendar, "D")  # checks the campaigns, months and dates
    except ConfigError as exc:
        raise ConfigError(f"--calendar {path}: {exc}") from None
    return to_plain(calendar_options(calendar))


def _build(cls: type, raw: Any, path: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {_kind(raw)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for key in raw:
        if key not in fields:
            allowed = ", ".join(fields)
            raise ConfigError(f"{_join(path, str(key))}: unknown key (allowed: {allowed})")
    values = {}
    for name, f in fields.items():
        key_path = _join(path, name)
        if name in raw:
            values[name] = _coerce(hints[name], raw[name], key_path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key_path}: required key is missing")
    return cls(**values)


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _coerce(inner[0], value, path)
        mappings = [a for a in inner if dataclasses.is_dataclass(a)]
        if isinstance(value, Mapping) and len(mappings) == 1:
            return _build(mappings[0], value, path)  # its own errors name the bad key
        for option in inner:
            try:
                return _coerce(option, value, path)
            except ConfigError:
                continue
        expected = " or ".join(_describe(option) for option in inner)
        raise ConfigError(f"{path}: expected {expected}, got {echo(value)}")
    if tp is Any:
        return value
    if value is None:
        raise ConfigError(f"{path}: a value is required, got null")
    if origin is Literal:
        if value not in args:
            choices = ", ".join(str(a) for a in args)
            raise ConfigError(f"{path}: expected one of {choices}, got {echo(value)}")
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {_kind(value)}")
        key_type, value_type = args
        return {
            _coerce(key_type, k, path): _coerce(value_type, v, _join(path, str(k)))
            for k, v in value.items()
        }
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {_kind(value)}")
        return [_coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {echo(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected a whole number, got {echo(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {echo(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {echo(value)}")
        return value
    if tp is dt.date:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise ConfigError(f"{path}: expected a date like 1997-09-30, got {echo(value)}")
    raise ConfigError(f"{path}: unsupported type {tp!r}")  # pragma: no cover


def _describe(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return " or ".join(str(a) for a in typing.get_args(tp))
    if dataclasses.is_dataclass(tp):
        return "a mapping of its keys"
    return {float: "a number", int: "a whole number", str: "a string", bool: "true or false"}.get(
        tp, str(tp)
    )


def _join(path: str, key: str) -> str:
    """``path.key``, a key of over 40 characters cut short."""
    key = key if len(key) <= 40 else key[:37] + "..."
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"
