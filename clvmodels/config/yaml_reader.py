"""YAML as a run configuration may use it: PyYAML's safe loader (no Python objects),
which refuses a key given twice in one mapping (PyYAML silently keeps the last), a
document with more than :data:`MAX_ALIASES` aliases (``*name``), aliases that stand for
more than :data:`MAX_ALIASED_NODES` values in all, and an alias inside the value it names:
a few hundred bytes of nested aliases (the "billion laughs") describe a structure of
billions of elements, and a few dozen aliases already one too big to print or check."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, NoReturn

import yaml
from yaml.constructor import ConstructorError

MAX_ALIASES = 100
MAX_ALIASED_NODES = 10_000
"""Most values (scalars, lists, mappings, counted as if written out) that the aliases of
a document may stand for in all: a config is a few hundred values."""
MAX_BYTES = 1 << 20
"""Largest config file read (1 MB: a config is a few kilobytes)."""


class ConfigLoader(yaml.SafeLoader):
    """:class:`yaml.SafeLoader` without duplicate keys and with few, small aliases."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0
        self.aliased_nodes = 0  # what the aliases so far stand for, written out
        self.sizes: dict[int, int] = {}  # id of a node -> its size written out
        self.composed: set[int] = set()  # ids of the anchored nodes composed whole

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if not isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if getattr(event, "anchor", None) is not None:
                self.composed.add(id(node))
            return node
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            self._refuse(f"more than {MAX_ALIASES} aliases (*name); write the values out", event)
        node = super().compose_node(parent, index)
        if id(node) not in self.composed:
            self._refuse("an alias (*name) inside the value it names", event)
        self.aliased_nodes += self._size(node)
        if self.aliased_nodes > MAX_ALIASED_NODES:
            self._refuse(
                f"the aliases (*name) stand for more than {MAX_ALIASED_NODES:,} values; "
                "write the values out",
                event,
            )
        return node

    def _size(self, node: yaml.Node) -> int:
        """The values ``node`` holds, itself included, as if its aliases were written out."""
        size = self.sizes.get(id(node))
        if size is None:
            if isinstance(node, yaml.SequenceNode):
                size = 1 + sum(self._size(item) for item in node.value)
            elif isinstance(node, yaml.MappingNode):
                size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
            else:
                size = 1
            self.sizes[id(node)] = size
        return size

    def _refuse(self, problem: str, event: yaml.Event) -> NoReturn:
        raise ConstructorError(None, None, problem, event.start_mark)

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
