"""Run one dispatched attempt and describe how it ended."""
from __future__ import annotations

from typing import Any

from ..attempts import AttemptAddress
from ..core import values
from ..core.messages import AttemptFinished, DispatchAttempt
from .errors import ActionFailed, UnknownAction
from .registry import ActionContext, ActionRegistry


def run_attempt(registry: ActionRegistry, cmd: DispatchAttempt) -> AttemptFinished:
    """Never raises for an action's own failure: it becomes a failed attempt with a reason."""
    ctx = ActionContext(cmd.execution_id, cmd.workflow, cmd.task, cmd.run, cmd.unit, cmd.attempt,
                        cmd.idempotency_key, cmd.callback_token if cmd.callback else None)
    result: Any = None
    try:
        fn = registry.resolve(cmd.action)
        result = fn(cmd.input, ctx)
    except ActionFailed as exc:
        try:
            return _failed(cmd, exc.type, str(exc), values.to_json(exc.result, "the failure's result"))
        except values.NotJSON as bad:
            return _failed(cmd, "InvalidResult", str(bad))
    except UnknownAction as exc:
        return _failed(cmd, type(exc).__name__, str(exc))
    except Exception as exc:  # an action's bug must fail its task, not the worker
        return _failed(cmd, type(exc).__name__, str(exc) or type(exc).__name__)
    try:  # the result as JSON carries it, on every backend (core/values.py)
        result = values.to_json(result, "the action's result")
    except values.NotJSON as exc:
        return _failed(cmd, "InvalidResult", str(exc))
    return AttemptAddress.of(cmd).finished("succeeded", result)


def _failed(cmd: DispatchAttempt, type_: str, message: str, result: Any = None) -> AttemptFinished:
    return AttemptAddress.of(cmd).finished("failed", result, {"type": type_, "message": message})
