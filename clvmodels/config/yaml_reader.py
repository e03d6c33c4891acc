"""YAML as a run configuration may use it: PyYAML's safe loader (no Python objects),
which refuses a key given twice in one mapping (PyYAML silently keeps the last) and a
document with more than :data:`MAX_ALIASES` aliases (``*name``): a few hundred bytes of
nested aliases (the "billion laughs") describe a structure of billions of elements."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from yaml.constructor import ConstructorError

MAX_ALIASES = 100
MAX_BYTES = 1 << 20
"""Largest config file read (1 MB: a config is a few kilobytes)."""


class ConfigLoader(yaml.SafeLoader):
    """:class:`yaml.SafeLoader` without duplicate keys and with few aliases."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise ConstructorError(
                    None,
                    None,
                    f"more than {MAX_ALIASES} aliases (*name); write the values out",
                    mark,
                )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Hashable, Any] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, Hashable) and key in seen and key != "<<":
                    first = seen[key].start_mark.line + 1
                    raise ConstructorError(
                        None,
                        None,
                        f"key {str(key)[:40]!r} is given twice (first on line {first})",
                        key_node.start_mark,
                    )
                if isinstance(key, Hashable):
                    seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """The document ``text``; ``yaml.YAMLError`` (with a mark) for invalid YAML."""
    return yaml.load(text, Loader=ConfigLoader)  # a SafeLoader subclass: no Python objects
