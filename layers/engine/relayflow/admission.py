"""What a deployment admits of a valid definition: declared code only, safe schemas.

The loader says whether a definition is well formed; admission says whether
this deployment lets it in. It runs when a workflow is registered (the API,
``relayflow serve``, ``run``, ``test``) and in ``relayflow validate``, so an
action outside the declared modules, an ``aws.lambda`` call to another
stack's function or an unsafe schema is refused before anything runs.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .actions.allowlist import lambda_target_problem
from .actions.registry import ActionRegistry
from .core.errors import Problem
from .core.spec import TaskSpec, WorkflowSpec
from .schemas import SchemaError, compile_schema


def _tasks(spec: WorkflowSpec) -> Iterator[tuple[str, TaskSpec]]:
    for name, task in spec.tasks.items():
        yield name, task
        for sub in task.subtasks:
            yield f"{name}.{sub.name}", sub


def _literal(value: Any) -> bool:
    """True when ``value`` holds no template (known at registration)."""
    if isinstance(value, str):
        return "{{" not in value and "{%" not in value
    if isinstance(value, dict):
        return all(_literal(k) and _literal(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_literal(v) for v in value)
    return True


def problems(spec: WorkflowSpec, registry: ActionRegistry) -> list[Problem]:
    """Every reason this deployment refuses ``spec`` (empty when it admits it)."""
    found: list[Problem] = []

    def refuse(task: TaskSpec, label: str, field: str, message: str) -> None:
        found.append(Problem(spec.source, task.line, label, field, message))

    for label, task in _tasks(spec):
        action = task.action or ""
        if action.startswith("python:"):
            reason = registry.modules.check(action)
            if reason:
                refuse(task, label, "action", f"{action} is not allowed: {reason}")
        inp = task.input if isinstance(task.input, dict) else {}
        if action == "aws.lambda" and _literal(inp.get("function")) and registry.lambda_prefix:
            reason = lambda_target_problem(inp.get("function"), registry.lambda_prefix)
            if reason:
                refuse(task, label, "input.function", f"aws.lambda is not allowed: {reason}")
        if action == "core.ask" and "schema" in inp:
            _check_schema(inp["schema"], lambda m, t=task, lb=label: refuse(t, lb, "input.schema", m))
        callback_schema = getattr(task, "callback_schema", None)
        if callback_schema is not None:
            _check_schema(callback_schema, lambda m, t=task, lb=label: refuse(t, lb, "callback.schema", m))
    return found


def _check_schema(schema: Any, refuse: Any) -> None:
    if not _literal(schema):
        return  # rendered at run time: compiled (with the same rules) when the inquiry is answered
    try:
        compile_schema(schema)
    except SchemaError as exc:
        refuse(str(exc))
