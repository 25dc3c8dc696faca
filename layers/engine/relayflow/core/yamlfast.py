"""The quick reading of a plain YAML document, lines kept, for the common case.

:func:`yamlpos.load` has libyaml build a node for every value and then walks the
nodes, building a path -> line map: for a 10,000-task workflow that was half the
time spent loading it. Here libyaml's events go straight to Python data, and each
container keeps the lines of its own entries; :class:`TreeLines` finds a path's line
by walking the data, only when a line is asked for.

Only a plain document is read here: one document; no aliases (an anchor nothing
refers to changes nothing), explicit tags or merge keys; no duplicate or non-scalar
keys; no deeper than ``MAX_DEPTH``; no more than ``yamlpos.MAX_VALUES`` values; no
syntax error. For anything else :func:`load` returns None and the caller reads the
text with :func:`yamlpos.load`, which refuses what it refuses today and names the
line. So both readings accept the same documents, with the same data and the same
lines (``tests/unit/test_yamlfast.py``).
"""
from __future__ import annotations

import gc
from typing import Any

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from .yamlpos import MAX_VALUES, Path

# Deeper documents go to yamlpos.load, which tells a nesting it cannot read from one it can.
MAX_DEPTH = 100

_Loader = getattr(yaml, "CSafeLoader", None)
# The same implicit resolvers yamlpos.load's composer applies to plain scalars.
_RESOLVERS: dict[Any, list[tuple[str, Any]]] = yaml.SafeLoader.yaml_implicit_resolvers
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
# Plain scalars these tags resolve to are built by the safe constructor, as yamlpos.load does;
# any other resolved tag (merge '<<', value '=', yaml '!'...) is not a plain document.
_SCALAR_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp"}
_KEY_TYPES = (str, int, float, bool, type(None))  # the keys yamlpos.load accepts


class _NotPlain(Exception):
    """The document needs yamlpos.load: it reports the problem, or reads what this module does not."""


class TreeLines:
    """The lines of a document's values, kept beside its containers.

    ``line_of`` answers as :func:`yamlpos.line_of` does on yamlpos.load's map: the line of
    ``path`` or of its nearest ancestor in the document; a mapping entry's line is its key's."""

    def __init__(self, root: Any, root_line: int, entries: dict[int, tuple[Any, Any]]):
        self.root = root
        self.root_line = root_line
        # id(container) -> (container, its entries' lines: a dict by key or a list by index);
        # the container is held so that its id stays its own.
        self.entries = entries

    def line_of(self, path: Path) -> int:
        node, line = self.root, self.root_line
        for step in path:
            held = self.entries.get(id(node))
            if held is None:
                break
            lines = held[1]
            if isinstance(node, dict):
                try:
                    if step not in node:
                        break
                except TypeError:  # an unhashable step names no key
                    break
                line, node = lines[step], node[step]
            else:
                if step not in range(len(node)):  # an index equal to an int, as a path tuple compares
                    break
                line, node = lines[int(step)], node[int(step)]
        return line


def load(text: str) -> tuple[Any, TreeLines] | None:
    """The data and lines of a plain document; None when it needs :func:`yamlpos.load`."""
    if _Loader is None or None in _RESOLVERS:  # no libyaml, or resolvers this reading does not apply
        return None
    was_enabled = gc.isenabled()
    gc.disable()  # as in yamlpos.load: a large graph of live objects and no garbage cycles
    loader = _Loader(text)
    try:
        return _read(loader)
    except (_NotPlain, yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
        if was_enabled:
            gc.enable()


def _scalar(value: str, ctor: yaml.SafeLoader) -> Any:
    """A plain scalar's value, resolved as yamlpos.load's composer does (quoted scalars are text)."""
    for tag, regexp in _RESOLVERS.get(value[:1], ()):
        if regexp.match(value):
            if tag == _STR_TAG:
                return value
            if tag == _INT_TAG and value.isdigit() and value[0] != "0":
                return int(value)  # decimal digits, what the safe constructor makes of them too
            if tag not in _SCALAR_TAGS:
                raise _NotPlain
            try:
                return ctor.yaml_constructors[tag](ctor, yaml.ScalarNode(tag, value))
            except Exception:  # noqa: BLE001 - yamlpos.load meets the same value and says what it says
                raise _NotPlain from None
    return value


def _read(loader: Any) -> tuple[Any, TreeLines]:
    get = loader.get_event
    if type(get()) is not StreamStartEvent or type(get()) is not DocumentStartEvent:
        raise _NotPlain  # an empty stream (or something odd): yamlpos.load says what it is
    ctor = yaml.SafeLoader("")
    entries: dict[int, tuple[Any, Any]] = {}
    resolvers = _RESOLVERS
    memo: dict[str, Any] = {}  # plain scalar -> its value: every value built here is immutable
    # The open container, its entries' lines, whether it is a mapping, and a mapping's
    # pending key and its line; the containers around it wait on the stack.
    container: Any = None
    lines: Any = None
    is_map = False
    key: Any = _NO_KEY
    key_line = 0
    stack: list[tuple[Any, Any, bool, Any, int]] = []
    root: Any = _NO_KEY
    root_line = 1
    budget = MAX_VALUES
    try:
        while True:
            event = get()
            kind = type(event)
            if kind is ScalarEvent:
                if event.tag is not None:
                    raise _NotPlain
                value = event.value
                if event.implicit[0] and value[:1] in resolvers:
                    resolved = memo.get(value, _NO_KEY)  # the same key text recurs in every task
                    if resolved is _NO_KEY:
                        resolved = memo[value] = _scalar(value, ctor)
                    value = resolved
                budget -= 1
                if is_map:
                    if key is _NO_KEY:  # a key: a mapping entry's line is its key's
                        budget += 1
                        if not isinstance(value, _KEY_TYPES) or value in container:
                            raise _NotPlain
                        key, key_line = value, event.start_mark.line + 1
                        continue
                    container[key] = value
                    lines[key] = key_line
                    key = _NO_KEY
                elif container is not None:
                    container.append(value)
                    lines.append(event.start_mark.line + 1)
                else:
                    root, root_line = value, event.start_mark.line + 1
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                container, lines, is_map, key, key_line = stack.pop()
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if event.tag is not None or len(stack) >= MAX_DEPTH:
                    raise _NotPlain
                opened: Any = {} if kind is MappingStartEvent else []
                budget -= 1
                if is_map:
                    if key is _NO_KEY:
                        raise _NotPlain  # a mapping or a list as a key
                    container[key] = opened
                    lines[key] = key_line
                elif container is not None:
                    container.append(opened)
                    lines.append(event.start_mark.line + 1)
                else:
                    root, root_line = opened, event.start_mark.line + 1
                stack.append((container, lines, is_map, _NO_KEY, 0))
                container, is_map, key = opened, kind is MappingStartEvent, _NO_KEY
                lines = {} if is_map else []
                entries[id(opened)] = (opened, lines)
            elif kind is DocumentEndEvent:
                break
            else:  # an alias, or anything this reading does not expect
                raise _NotPlain
            if budget < 0:
                raise _NotPlain
        if type(get()) is not StreamEndEvent or root is _NO_KEY:
            raise _NotPlain  # more than one document, or none
    finally:
        ctor.dispose()
    return root, TreeLines(root, root_line, entries)


_NO_KEY = object()
