"""YAML loading that remembers where every value came from.

Validation reports ``FILE:LINE``, so the loader keeps a map from each value's
path (a tuple of keys and list indexes) to its 1-based line.
"""
from __future__ import annotations

import gc
from typing import Any, Protocol

import yaml

Path = tuple[Any, ...]

MAX_VALUES = 200_000  # values one document may expand to: aliases can make a small file huge


class YamlSyntaxError(Exception):
    def __init__(self, message: str, line: int):
        self.line = line
        super().__init__(message)


# libyaml's parser is an order of magnitude faster than the pure-Python one and
# keeps the same node marks; scalars are still resolved by the safe constructor.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Walk:
    """One document walk: the line map, the value budget, and the collections being built."""

    def __init__(self, ctor: yaml.SafeLoader):
        self.ctor = ctor
        self.lines: dict[Path, int] = {}
        self.budget = MAX_VALUES
        self.open: set[int] = set()


def load(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse ``text``; return the data and a path -> line map."""
    # Parsing builds a large graph of live objects; the cyclic collector would rescan it
    # again and again (a 10,000-task file took 3x longer), and it holds no garbage cycles.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(text)
    finally:
        if was_enabled:
            gc.enable()


def _load(text: str) -> tuple[Any, dict[Path, int]]:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(*_describe(exc)) from None
    except RecursionError:
        raise YamlSyntaxError("invalid YAML: the document is nested too deeply", 1) from None
    if node is None:
        return None, {}
    walk = _Walk(yaml.SafeLoader(""))
    try:
        return _build(node, (), walk), walk.lines
    except RecursionError:
        raise YamlSyntaxError("invalid YAML: the document is nested too deeply", 1) from None
    finally:
        walk.ctor.dispose()


def _describe(exc: yaml.YAMLError) -> tuple[str, int]:
    """The message and 1-based line of a PyYAML error, naming where the broken construct began."""
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    mark = problem_mark or context_mark
    line = mark.line + 1 if mark is not None else 1
    message = f"invalid YAML: {getattr(exc, 'problem', None) or exc}"
    context = getattr(exc, "context", None)
    if context and context_mark is not None and problem_mark is not None and context_mark.line != problem_mark.line:
        message += f" ({context} started on line {context_mark.line + 1})"
    return message, line


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _build(node: yaml.Node, path: Path, walk: _Walk) -> Any:
    line = node.start_mark.line + 1
    walk.lines[path] = line
    walk.budget -= 1
    if walk.budget < 0:
        raise YamlSyntaxError(f"invalid YAML: the document expands to more than {MAX_VALUES} values "
                              "(through aliases?)", line)
    if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        if node.tag == _STR_TAG:  # most scalars: the composer resolved them already
            return node.value
        try:
            return walk.ctor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date that does not exist (2020-13-45)
            raise YamlSyntaxError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", line) from None
    if id(node) in walk.open:
        raise YamlSyntaxError("invalid YAML: an alias refers to a value that contains it", line)
    walk.open.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            return [_build(child, path + (i,), walk) for i, child in enumerate(node.value)]
        return _build_mapping(node, path, walk)
    finally:
        walk.open.discard(id(node))


def _build_mapping(node: yaml.MappingNode, path: Path, walk: _Walk) -> dict[Any, Any]:
    ctor = walk.ctor
    if any(key_node.tag == _MERGE_TAG for key_node, _ in node.value):
        try:
            ctor.flatten_mapping(node)
        except yaml.YAMLError as exc:
            raise YamlSyntaxError(*_describe(exc)) from None
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        try:
            key = key_node.value if key_node.tag == _STR_TAG else ctor.construct_object(key_node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            raise YamlSyntaxError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", key_line) from None
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise YamlSyntaxError("invalid YAML: mapping keys must be scalars", key_line)
        if key in out:
            raise YamlSyntaxError(f"invalid YAML: duplicate key {key!r}", key_line)
        out[key] = _build(value_node, path + (key,), walk)
        walk.lines[path + (key,)] = key_line
    return out


class LineIndex(Protocol):
    """Lines kept another way than a path -> line map (``yamlfast.TreeLines``)."""

    def line_of(self, path: Path) -> int: ...


Lines = dict[Path, int] | LineIndex


def line_of(lines: Lines, path: Path) -> int:
    """The line of ``path`` or of its nearest known ancestor."""
    if not isinstance(lines, dict):
        return lines.line_of(path)
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)
