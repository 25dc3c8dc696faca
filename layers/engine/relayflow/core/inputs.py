"""Checking a workflow's input against its declared inputs, and the values a run starts from.

Input defaults and initial vars may be templates: they render once, when the execution
starts, in declaration order. A default sees the inputs given and those declared before it;
a var sees ``input``, ``system`` and the vars declared before it. A render error there is an
input error, found before anything is written.
"""
from __future__ import annotations

import copy
import json
from typing import Any, Mapping

from . import templates, values
from .errors import InputError, TemplateError
from .loader.fields import type_matches
from .spec import WorkflowSpec


def check_input(spec: WorkflowSpec, given: Any, limits: templates.Limits | None = None) -> dict[str, Any]:
    """Apply defaults (rendering templated ones) and check types; raise InputError listing every problem."""
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
            if _has_template(value):
                seen = {**{k: v for k, v in given.items() if k in declared}, **out}
                try:
                    value = values.to_json(templates.render(value, {"input": seen, "parameters": seen}, limits))
                except (TemplateError, values.NotJSON) as exc:
                    problems.append(f"input '{p.name}': its default {_show(p.default)} does not render: {exc}")
                    continue
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


def initial_vars(spec: WorkflowSpec, input: Mapping[str, Any], system: Mapping[str, Any],
                 limits: templates.Limits | None = None) -> dict[str, Any]:
    """The workflow's ``vars`` rendered in declaration order; raise InputError naming the one that fails.

    Rendering is pure, so the check before an execution is written and its first step agree."""
    out: dict[str, Any] = {}
    for name, raw in spec.vars.items():
        if not _has_template(raw):
            out[name] = copy.deepcopy(raw)
            continue
        ctx = {"input": input, "parameters": input, "vars": out, "variables": out, "workflow": out,
               "system": system}
        try:
            out[name] = values.to_json(templates.render(raw, ctx, limits))
        except (TemplateError, values.NotJSON) as exc:
            raise InputError([f"vars.{name}: {_show(raw)} does not render: {exc}"]) from None
    return out


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


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
