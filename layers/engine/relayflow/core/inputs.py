"""Checking a workflow's input against its declared inputs (LANGUAGE.md §1)."""
from __future__ import annotations

import copy
import json
from typing import Any

from .errors import InputError
from .loader import type_matches
from .spec import WorkflowSpec


def check_input(spec: WorkflowSpec, given: Any) -> dict[str, Any]:
    """Apply defaults and check types; raise InputError listing every problem."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise InputError([f"input must be a JSON object, got {type(given).__name__}"])
    if not spec.inputs:
        return copy.deepcopy(given)
    problems: list[str] = []
    declared = {p.name for p in spec.inputs}
    for name in given:
        if name not in declared:
            problems.append(f"input '{name}': not declared by workflow {spec.name} "
                            f"(declared: {', '.join(sorted(declared))})")
    out: dict[str, Any] = {}
    for p in spec.inputs:
        if p.name in given:
            value = given[p.name]
        elif p.has_default:
            value = copy.deepcopy(p.default)
        elif p.required:
            problems.append(f"input '{p.name}': required but missing")
            continue
        else:
            continue
        if value is None and p.required:
            problems.append(f"input '{p.name}': required, and null is not a value")
            continue
        if p.type and value is not None and not type_matches(p.type, value):
            problems.append(f"input '{p.name}': expected {p.type}, got {_json_type(value)} {_show(value)}")
            continue
        if p.enum is not None and value not in p.enum:
            problems.append(f"input '{p.name}': {_show(value)} is not one of {_show(list(p.enum))}")
            continue
        out[p.name] = copy.deepcopy(value)
    if problems:
        raise InputError(problems)
    return out


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else type(value).__name__


def _show(value: Any, limit: int = 60) -> str:
    """``value`` as the user wrote it (JSON), cut to ``limit`` characters."""
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
