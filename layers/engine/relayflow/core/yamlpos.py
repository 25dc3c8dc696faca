"""YAML loading that remembers where every value came from.

Validation reports ``FILE:LINE``, so the loader keeps a map from each value's
path (a tuple of keys and list indexes) to its 1-based line.
"""
from __future__ import annotations

from typing import Any

import yaml

Path = tuple[Any, ...]


class YamlSyntaxError(Exception):
    def __init__(self, message: str, line: int):
        self.line = line
        super().__init__(message)


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys instead of keeping the last."""


def load(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse ``text``; return the data and a path -> line map."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlSyntaxError(f"invalid YAML: {problem}", line) from None
    lines: dict[Path, int] = {}
    if node is None:
        return None, lines
    constructor = _Loader(text)
    try:
        return _build(node, (), lines, constructor), lines
    finally:
        constructor.dispose()


def _build(node: yaml.Node, path: Path, lines: dict[Path, int], ctor: yaml.SafeLoader) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        ctor.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = ctor.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise YamlSyntaxError("invalid YAML: mapping keys must be scalars", key_node.start_mark.line + 1)
            if key in out:
                raise YamlSyntaxError(f"invalid YAML: duplicate key {key!r}", key_node.start_mark.line + 1)
            out[key] = _build(value_node, path + (key,), lines, ctor)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(child, path + (i,), lines, ctor) for i, child in enumerate(node.value)]
    try:
        return ctor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", node.start_mark.line + 1) from None


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of ``path`` or of its nearest known ancestor."""
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)
