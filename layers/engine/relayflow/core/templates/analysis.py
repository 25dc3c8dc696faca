"""What a template reads, found by walking its parsed form once (cached): the names,
the tasks it refers to, the input and variable keys, addressing mistakes, and
outcome functions read without being called. The loader's checks use these."""
from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any, cast

from jinja2 import nodes

from .rendering import _ast
from .sandbox import _ENV

# The outcome functions of a finished task's context (core/context.py).
OUTCOME_FUNCTIONS = frozenset({"result", "error", "succeeded", "failed", "timed_out", "skipped"})

_IMPLICIT_NAMES = frozenset({"loop", "self", "varargs", "kwargs", "caller"})


def _lookups(ast: nodes.Node) -> Iterator[nodes.Getattr | nodes.Getitem]:
    """Every ``X.KEY`` and ``X[KEY]`` in ``ast``."""
    return cast(Iterator["nodes.Getattr | nodes.Getitem"], ast.find_all((nodes.Getattr, nodes.Getitem)))


@functools.lru_cache(maxsize=4096)
def _names(text: str, expression: bool) -> frozenset[str]:
    # A plain walk of Name nodes: Jinja's find_undeclared_variables runs the compiler's
    # frame analysis, which made validating a 10,000-task file take seconds.
    ast = _ast(text, expression)
    loaded: set[str] = set()
    stored: set[str] = set()
    for node in ast.find_all(nodes.Name):
        (stored if node.ctx in ("store", "param") else loaded).add(node.name)
    return frozenset(loaded - stored - _IMPLICIT_NAMES - set(_ENV.globals))


def referenced_names(text: str, expression: bool = False) -> set[str]:
    """Top-level names the template reads, leaving out the helper globals and names it assigns."""
    if not expression and "{{" not in text and "{%" not in text:
        return set()
    return set(_names(text, expression))


def task_references(text: str, expression: bool = False) -> set[str]:
    """Names X used as ``task.X``, ``tasks.X``, ``task['X']`` or ``tasks["X"]``."""
    if not expression and "{{" not in text and "{%" not in text:
        return set()
    return set(_task_references(text, expression))


@functools.lru_cache(maxsize=4096)
def _task_references(text: str, expression: bool) -> frozenset[str]:
    found: set[str] = set()
    for node in _lookups(_ast(text, expression)):
        if isinstance(node.node, nodes.Name) and node.node.name in ("task", "tasks"):
            key = const_key(node)
            if key is not None:
                found.add(key)
    return frozenset(found)


RUN_VIEW_KEYS = frozenset({"status", "result", "error", "attempts", "run", "started_at", "finished_at",
                            "get", "keys", "values", "items"})
SYSTEM_KEYS = frozenset({"execution_id", "workflow", "started_at", "get", "keys", "values", "items"})


_INPUT_SCOPES = ("input", "parameters")
_VAR_SCOPES = ("vars", "variables", "workflow")
_MAPPING_METHODS = frozenset({"get", "keys", "values", "items"})


# Cheap textual screens: the template is parsed for the checks below only when one of them
# sees a candidate, so a large valid workflow pays a regular expression, not a second parse.
_TASK_ATTR = re.compile(r"\btasks?\s*(?:\.\s*\w+|\[[^\]]*\])\s*(?:\.\s*(\w+)|\[\s*['\"]([^'\"]*))")
_SYSTEM_ATTR = re.compile(r"\bsystem\s*(?:\.\s*(\w+)|\[\s*['\"]([^'\"]*))")
_CALLED_VALUE = re.compile(r"\b(?:item|index|tasks?)\s*\(")
_SCOPE_ATTR = re.compile(r"\b(input|parameters|vars|variables|workflow)\s*(?:\.\s*(\w+)|\[\s*['\"]([^'\"]*))")


def may_misaddress(text: str) -> bool:
    if any((m.group(1) or m.group(2)) not in RUN_VIEW_KEYS for m in _TASK_ATTR.finditer(text)):
        return True
    if any((m.group(1) or m.group(2)) not in SYSTEM_KEYS for m in _SYSTEM_ATTR.finditer(text)):
        return True
    return _CALLED_VALUE.search(text) is not None


def may_read_unknown(text: str, inputs: set[str], variables: set[str]) -> bool:
    for m in _SCOPE_ATTR.finditer(text):
        key = m.group(2) or m.group(3)
        if key in _MAPPING_METHODS:
            continue
        if m.group(1) in _INPUT_SCOPES:
            if inputs and key not in inputs:
                return True
        elif key not in variables:
            return True
    return False


@functools.lru_cache(maxsize=4096)
def scope_keys(text: str, expression: bool) -> tuple[tuple[str, str], ...]:
    """(input|vars, KEY) for every ``input.KEY`` / ``vars.KEY`` (and aliases, and ``['KEY']``) read."""
    try:
        ast = _ast(text, expression)
    except Exception:
        return ()
    found: list[tuple[str, str]] = []
    for node in _lookups(ast):
        key = const_key(node)
        if key is None or key in _MAPPING_METHODS or not isinstance(node.node, nodes.Name):
            continue
        if node.node.name in _INPUT_SCOPES:
            found.append(("input", key))
        elif node.node.name in _VAR_SCOPES:
            found.append(("vars", key))
    return tuple(dict.fromkeys(found))


def const_key(node: Any) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


@functools.lru_cache(maxsize=4096)
def addressing(text: str, expression: bool) -> tuple[tuple[str, ...], ...]:
    """Uses of ``task.X.FIELD`` with a FIELD a task entry lacks, unknown ``system.X``, and ``task(...)``."""
    try:
        ast = _ast(text, expression)
    except Exception:  # syntax errors are reported by the syntax check
        return ()
    found: list[tuple[str, ...]] = []
    for node in _lookups(ast):
        key = const_key(node)
        inner = node.node
        if key is None:
            continue
        if isinstance(inner, nodes.Name):
            if inner.name == "system" and key not in SYSTEM_KEYS:
                found.append(("system", key))
            continue
        if isinstance(inner, (nodes.Getattr, nodes.Getitem)) and isinstance(inner.node, nodes.Name) \
                and inner.node.name in ("task", "tasks"):
            ref = const_key(inner)
            if ref is not None and key not in RUN_VIEW_KEYS:
                found.append(("task", ref, key))
    for call in ast.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name in ("task", "tasks"):
            found.append(("call",))
        elif isinstance(call.node, nodes.Name) and call.node.name in ("item", "index"):
            found.append(("item_call", call.node.name))
    return tuple(dict.fromkeys(found))


FUNCTION_AS_VALUE = re.compile(r"\b(?:result|error|succeeded|failed|timed_out|skipped)\b(?!\s*\()")


@functools.lru_cache(maxsize=4096)
def functions_as_values(text: str, expression: bool) -> tuple[tuple[str, str | None], ...]:
    """(function, attribute or None) for each of result, error, succeeded... read without being called."""
    try:
        ast = _ast(text, expression)
    except Exception:  # syntax errors are reported by the syntax check
        return ()
    called = {id(call.node) for call in ast.find_all(nodes.Call)}
    attrs = {id(node.node): const_key(node) for node in _lookups(ast)}
    found = [(n.name, attrs.get(id(n))) for n in ast.find_all(nodes.Name)
             if n.name in OUTCOME_FUNCTIONS and n.ctx == "load" and id(n) not in called]
    return tuple(dict.fromkeys(found))
