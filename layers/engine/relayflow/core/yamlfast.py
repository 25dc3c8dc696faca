"""The quick readings of a plain YAML document, lines kept, for the common case.

A workflow file is read the first of three ways that applies, each giving the same data
and the same lines:

1. :mod:`yamlblock`: plain block YAML (block mappings and sequences, simple keys, one-line
   scalars and flow collections, comments) read line by line in Python, without libyaml,
   whose event stream alone would take most of a large workflow's load.
2. :func:`load_with_libyaml` here: libyaml's events go straight to Python data, and each
   container keeps the lines of its own entries; :class:`TreeLines` finds a path's line by
   walking the data, only when a line is asked for. (:func:`yamlpos.load` has libyaml build
   a node for every value and then walks the nodes, building a path -> line map: for a
   10,000-task workflow that was half the time spent loading it.)
3. :func:`yamlpos.load`, for everything else: it refuses what it refuses, naming the line.

:func:`load` tries the first two. Only a plain document is read by them: one document; no
aliases (an anchor nothing refers to changes nothing), explicit tags or merge keys; no
duplicate or non-scalar keys; no deeper than ``MAX_DEPTH``; no more than
``yamlpos.MAX_VALUES`` values; no syntax error. For anything else :func:`load` returns None
and the caller reads the text with :func:`yamlpos.load`. So every reading accepts the same
documents, with the same data and the same lines (``tests/unit/test_yamlfast.py``,
``tests/unit/test_yamlblock.py``).
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
        # id(container) -> (container, its entries' lines: a dict by key or a list by index,
        # or one line for all when they are on one, as a flow collection's are); the
        # container is held so that its id stays its own.
        self.entries = entries

    def line_of(self, path: Path) -> int:
        node, line = self.root, self.root_line
        entries = self.entries
        for step in path:
            held = entries.get(id(node))
            if held is None:
                break
            lines = held[1]
            if type(node) is dict:
                try:
                    child = node[step]  # the entries' lines have the mapping's keys
                except (KeyError, TypeError):  # no such key; an unhashable step names none
                    break
                line = lines if type(lines) is int else lines[step]
                node = child
            else:
                if type(step) is int and 0 <= step < len(node):
                    index = step
                elif step in range(len(node)):  # an index equal to an int, as a path tuple compares
                    index = int(step)
                else:
                    break
                line = lines if type(lines) is int else lines[index]
                node = node[index]
        return line + 1  # kept as libyaml counts them, from 0

    def lines_in(self, container: Any) -> Any:
        """The lines (counted from 0) of ``container``'s entries, by index for a list and by key
        for a mapping, when it is one of this document's own containers (not a copy); else None."""
        lines = self._own_lines(container)
        if type(lines) is int:  # one line for all its entries: their table, made when asked
            return [lines] * len(container) if type(container) is list else dict.fromkeys(container, lines)
        return lines

    def entry_line(self, container: Any, key: Any) -> int | None:
        """The line of ``container[key]`` when ``container`` is one of this document's own
        containers (not a copy): a lookup, where ``line_of`` walks the path from the root."""
        lines = self._own_lines(container)
        if lines is None:
            return None
        try:
            if type(lines) is int:  # one line for all: the entry only has to exist
                container[key]
                line: int = lines
            else:
                line = lines[key]
        except (KeyError, IndexError, TypeError):
            return None
        return line + 1

    def _own_lines(self, container: Any) -> Any:
        """What the reading kept of ``container``'s lines (a table, or one line for all), when it is
        one of this document's own containers; else None."""
        held = self.entries.get(id(container))
        return held[1] if held is not None and held[0] is container else None


def load(text: str) -> tuple[Any, TreeLines] | None:
    """The data and lines of a plain document; None when it needs :func:`yamlpos.load`."""
    # (imported here: yamlblock builds on this module's resolution and TreeLines)
    from .yamlblock import load as load_block

    quick = load_block(text)
    return quick if quick is not None else load_with_libyaml(text)


def load_with_libyaml(text: str) -> tuple[Any, TreeLines] | None:
    """As :func:`load`, from libyaml's events, without trying :mod:`yamlblock`'s reading first."""
    if _Loader is None or None in _RESOLVERS:  # no libyaml, or resolvers this reading does not apply
        return None
    was_enabled = gc.isenabled()
    gc.disable()  # as in yamlpos.load: a large graph of live objects and no garbage cycles
    loader = _Loader(text)
    try:
        return _read(loader)
    except (_NotPlain, yaml.YAMLError, RecursionError, ValueError):
        # ValueError: an integer of more digits than Python converts (sys.get_int_max_str_digits())
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
    # plain scalar -> its value: the same key text recurs in every task, and every value built
    # here is immutable. A scalar no resolver applies to stands for itself.
    memo: dict[str, Any] = {}

    def scalar(event: Any) -> Any:
        if event.tag is not None:
            raise _NotPlain
        value = event.value
        if not event.implicit[0]:  # quoted: text
            return value
        resolved = memo.get(value, _NO_KEY)
        if resolved is _NO_KEY:
            if value.isdigit() and value.isascii() and value[0] != "0":
                resolved = int(value)  # what the int resolver and the safe constructor make of it
            else:
                resolved = _scalar(value, ctor) if value[:1] in resolvers else value
            memo[value] = resolved
        return resolved

    def opened(event: Any, kind: Any, depth: int) -> Any:
        """The container ``event`` opens, read to its end: one call per container, its entries in a loop."""
        if (kind is not MappingStartEvent and kind is not SequenceStartEvent) or event.tag is not None \
                or depth >= MAX_DEPTH:
            raise _NotPlain  # an alias, a tag, or anything this reading does not expect
        if kind is MappingStartEvent:
            mapping: dict[Any, Any] = {}
            keys: dict[Any, int] = {}
            entries[id(mapping)] = (mapping, keys)
            while True:
                event = get()
                kind = type(event)
                if kind is not ScalarEvent:
                    if kind is MappingEndEvent:
                        return mapping
                    raise _NotPlain  # a mapping or a list as a key, or an alias
                if event.tag is not None:
                    raise _NotPlain
                # (a memo hit is looked up here, not through scalar(): the call per entry was
                # a measurable part of the reading; a miss goes to scalar() as the rest do)
                key = event.value
                if event.implicit[0]:
                    key = memo.get(key, _NO_KEY)
                    if key is _NO_KEY:
                        key = scalar(event)
                if (type(key) is not str and not isinstance(key, _KEY_TYPES)) or key in mapping:
                    raise _NotPlain  # yamlpos.load names the key and its line
                keys[key] = event.start_mark.line  # a mapping entry's line is its key's
                event = get()
                kind = type(event)
                if kind is ScalarEvent:
                    if event.tag is not None:
                        raise _NotPlain
                    value = event.value
                    if event.implicit[0]:
                        value = memo.get(value, _NO_KEY)
                        if value is _NO_KEY:
                            value = scalar(event)
                    mapping[key] = value
                else:
                    mapping[key] = opened(event, kind, depth + 1)
        else:
            sequence: list[Any] = []
            lines: list[int] = []
            entries[id(sequence)] = (sequence, lines)
            while True:
                event = get()
                kind = type(event)
                lines.append(event.start_mark.line)
                if kind is ScalarEvent:
                    sequence.append(scalar(event))
                elif kind is SequenceEndEvent:
                    lines.pop()
                    return sequence
                else:
                    sequence.append(opened(event, kind, depth + 1))

    try:
        event = get()
        kind = type(event)
        root_line = event.start_mark.line
        root = scalar(event) if kind is ScalarEvent else opened(event, kind, 0)
        if type(get()) is not DocumentEndEvent or type(get()) is not StreamEndEvent:
            raise _NotPlain  # more than one document
    finally:
        ctor.dispose()
        opened = None  # type: ignore[assignment]  # it refers to itself: a cycle only the collector would free
    # Every value but the root is an entry of one container.
    if 1 + sum(len(held[1]) for held in entries.values()) > MAX_VALUES:
        raise _NotPlain
    return root, TreeLines(root, root_line, entries)


_NO_KEY = object()
