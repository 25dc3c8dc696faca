"""JSON Schemas from untrusted definitions: compiled safely, matched in bounded time.

Inquiry (``core.ask``) and callback schemas come from workflow definitions, and
the values checked against them from whoever answers. So a schema is refused
when it cannot compile, names a remote ``$ref`` or ``$id`` (compiling would
fetch a URL from inside the API), or has a pattern that is invalid or prone to
catastrophic backtracking (a quantified group that repeats another quantifier,
``^(a+)+$``). Patterns that pass run on the ``regex`` engine with one time
budget for the whole check, since Python's ``re`` cannot be interrupted: a slow
pattern the screen missed costs a 400, never a stuck API.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

# The parser behind re.compile (private, and so not in the type stubs; Python 3.11+ as required)
from re import _constants as _c  # type: ignore[attr-defined]
from re import _parser as _sre_parse  # type: ignore[attr-defined]
from typing import Any

import fastjsonschema
import regex

from .errors import PermanentError

MAX_SCHEMA_BYTES = 64 * 1024
MAX_PATTERN_LENGTH = 1000
MATCH_BUDGET_SECONDS = 0.25
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas", "dependencies")
_DATA_KEYS = ("enum", "const", "default", "examples")


class SchemaError(PermanentError):
    """A schema that cannot be used: the message names what is wrong and where."""


class SchemaMismatch(PermanentError):
    """A value that does not match its schema (or could not be checked in time)."""


Validator = Callable[[Any], Any]


def compile_schema(schema: Any) -> Validator:
    """A validator for ``schema``; SchemaError when it is unsafe or does not compile."""
    if isinstance(schema, bool):
        schema = {} if schema else {"not": {}}
    if not isinstance(schema, dict):
        raise SchemaError(f"a schema must be an object, not {type(schema).__name__}")
    try:
        size = len(json.dumps(schema))
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"the schema is not JSON: {exc}") from None
    if size > MAX_SCHEMA_BYTES:
        raise SchemaError(f"the schema is over {MAX_SCHEMA_BYTES} bytes")
    patterns: list[tuple[str, str]] = []
    _walk(schema, "schema", patterns)
    for where, pattern in patterns:
        _check_pattern(where, pattern)
    try:
        fn = fastjsonschema.compile(schema, handlers={}, use_formats=True)
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise SchemaError(f"the schema does not compile: {exc}") from None
    except Exception as exc:  # the compiler's other refusals (a wrong type where it expects one)
        raise SchemaError(f"the schema does not compile: {type(exc).__name__}: {exc}") from None
    compiled = getattr(fn, "__globals__", {}).get("REGEX_PATTERNS")
    budget = _Budget()
    if isinstance(compiled, dict):
        for key, pattern in list(compiled.items()):
            compiled[key] = _TimedPattern(pattern.pattern, budget)

    def validate(value: Any) -> Any:
        budget.deadline = time.monotonic() + MATCH_BUDGET_SECONDS
        try:
            return fn(value)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise SchemaMismatch(exc.message) from None
        except TimeoutError:
            raise SchemaMismatch(f"the value could not be checked against the schema's patterns within "
                                 f"{MATCH_BUDGET_SECONDS:g} s") from None
    return validate


def check(schema: Any, value: Any) -> Any:
    """Compile ``schema`` and check ``value``: SchemaError for the schema, SchemaMismatch for the value."""
    return compile_schema(schema)(value)


# -- the screen ----------------------------------------------------------------------
def _walk(node: Any, where: str, patterns: list[tuple[str, str]]) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, f"{where}[{i}]", patterns)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if ref is not None and (not isinstance(ref, str) or not ref.startswith("#")):
        raise SchemaError(f"{where}.$ref: only references inside the schema (starting with '#') are allowed, "
                          f"not {ref!r}")
    for key in ("$id", "id"):
        if isinstance(node.get(key), str):
            raise SchemaError(f"{where}.{key}: schema identifiers are not allowed (they change where "
                              "references resolve)")
    if "$schema" in node and not isinstance(node["$schema"], str):
        raise SchemaError(f"{where}.$schema: must be a string")
    if "pattern" in node:
        if not isinstance(node["pattern"], str):
            raise SchemaError(f"{where}.pattern: must be a string")
        patterns.append((f"{where}.pattern", node["pattern"]))
    for key, value in node.items():
        if key in _DATA_KEYS:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                if key == "patternProperties":
                    patterns.append((f"{where}.patternProperties", str(name)))
                _walk(sub, f"{where}.{key}.{name}", patterns)
        elif key != "pattern":
            _walk(value, f"{where}.{key}", patterns)


def _check_pattern(where: str, pattern: str) -> None:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise SchemaError(f"{where}: the pattern is over {MAX_PATTERN_LENGTH} characters")
    try:
        parsed = _sre_parse.parse(pattern)
        regex.compile(pattern)
    except (re.error, regex.error, RecursionError, OverflowError) as exc:
        raise SchemaError(f"{where}: invalid pattern {pattern!r}: {exc}") from None
    if _ambiguous_repeat(list(parsed), False):
        raise SchemaError(f"{where}: the pattern {pattern!r} can backtrack catastrophically (a repeated group "
                          "that can match the same text in more than one way, such as (a+)+ or (a|a)*); "
                          "rewrite it without nested repetition")


_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT} | ({_c.POSSESSIVE_REPEAT} if hasattr(_c, "POSSESSIVE_REPEAT") else set())
_UNBOUNDED = 16  # a repeat allowing more than this many rounds counts as unbounded


def _ambiguous_repeat(items: list, inside: bool) -> bool:
    """True when an unbounded repeat's body can match one text in several ways."""
    for op, av in items:
        if op in _REPEATS:
            lo, hi, sub = av
            big = hi == _c.MAXREPEAT or hi > _UNBOUNDED
            body = list(sub)
            if big and (_all_optional_or_repeated(body) and _has_repeat(body) or _overlapping_branch(body)):
                return True
            if _ambiguous_repeat(body, inside):
                return True
        else:
            nested = ([av[-1]] if op is _c.SUBPATTERN else av[1] if op is _c.BRANCH
                      else [av[1]] if op in (_c.ASSERT, _c.ASSERT_NOT) else [])
            if any(_ambiguous_repeat(list(sub), inside) for sub in nested):
                return True
    return False


def _has_repeat(items: list) -> bool:
    for op, av in items:
        if op in _REPEATS and av[1] > 1:
            return True
        if op is _c.SUBPATTERN and _has_repeat(list(av[-1])):
            return True
        if op is _c.BRANCH and any(_has_repeat(list(alt)) for alt in av[1]):
            return True
    return False


def _all_optional_or_repeated(items: list) -> bool:
    """No element of the body is a plain single match that separates one round from the next."""
    for op, av in items:
        if op in _REPEATS:
            continue
        if op is _c.SUBPATTERN:
            if not _all_optional_or_repeated(list(av[-1])):
                return False
            continue
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue
        return False
    return True


def _overlapping_branch(items: list) -> bool:
    """An alternation in the body whose branches can match the same text: two branches starting
    with the same character, two empty branches, or an empty branch beside one that starts like
    the body does (``(a|aa)+`` is parsed as ``(a(?:|a))+``)."""
    body_first = _first(items)
    for op, av in _flatten(items):
        if op is not _c.BRANCH:
            continue
        alts = [list(alt) for alt in av[1]]
        empties = sum(1 for alt in alts if not alt)
        if empties > 1:
            return True
        seen: set = set()
        for alt in alts:
            if not alt:
                continue
            f = _first(alt)
            if f is None or f & seen or (empties and (body_first is None or f & body_first)):
                return True
            seen |= f
    return False


def _flatten(items: list) -> list:
    out = []
    for op, av in items:
        if op is _c.SUBPATTERN:
            out += _flatten(list(av[-1]))
        else:
            out.append((op, av))
    return out


def _first(items: list) -> set | None:
    """The literal characters a sequence can start with, None when it is not that simple."""
    for op, av in items:
        if op is _c.LITERAL:
            return {av}
        if op is _c.SUBPATTERN:
            return _first(list(av[-1]))
        if op is _c.IN and all(o is _c.LITERAL for o, _ in av):
            return {v for _, v in av}
        return None
    return None


# -- bounded matching ---------------------------------------------------------------------
class _Budget:
    deadline = 0.0


class _TimedPattern:
    """Stands in for a compiled ``re`` pattern in fastjsonschema's code: ``search`` under the budget."""

    def __init__(self, pattern: str, budget: _Budget):
        self.pattern = pattern
        self._compiled = regex.compile(pattern)
        self._budget = budget

    def search(self, text: str) -> Any:
        left = self._budget.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("schema pattern budget spent")
        return self._compiled.search(text, timeout=left)

    def match(self, text: str) -> Any:
        left = self._budget.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("schema pattern budget spent")
        return self._compiled.match(text, timeout=left)
