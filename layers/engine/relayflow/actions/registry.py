"""Action lookup: built-ins, registered callables, and ``python:<module>:<function>``.

An action is called as ``fn(input, context)`` for built-ins and registered
callables, and as ``fn(input)`` (plus ``context=`` if it takes one) for
``python:`` actions. Actions may run more than once for one attempt (a worker
can die after the action and before its result is recorded): use
``context.idempotency_key`` to make side effects safe to repeat.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from .errors import UnknownAction

Action = Callable[[Any, "ActionContext"], Any]


@dataclass(frozen=True)
class ActionContext:
    execution_id: str
    workflow: str
    task: str
    run: int
    unit: int
    attempt: int
    idempotency_key: str
    callback_token: str | None = None


class ActionRegistry:
    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}

    def register(self, name: str, fn: Action) -> None:
        self._actions[name] = fn

    def action(self, name: str) -> Callable[[Action], Action]:
        """Decorator form of :meth:`register`."""
        def wrap(fn: Action) -> Action:
            self.register(name, fn)
            return fn
        return wrap

    def resolve(self, name: str) -> Action:
        fn = self._actions.get(name)
        if fn is not None:
            return fn
        if name.startswith("python:"):
            fn = _import_python_action(name)
            self._actions[name] = fn
            return fn
        raise UnknownAction(f"unknown action {name!r}")

    def names(self) -> list[str]:
        return sorted(self._actions)


def _import_python_action(name: str) -> Action:
    parts = name.split(":")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise UnknownAction(f"{name!r}: write python actions as python:<module>:<function>")
    _, module_name, func_name = parts
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownAction(f"{name!r}: cannot import module {module_name!r}: {exc}") from None
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise UnknownAction(f"{name!r}: module {module_name!r} has no function {func_name!r}")
    try:
        wants_context = "context" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        wants_context = False
    if wants_context:
        return lambda payload, ctx: fn(payload, context=ctx)
    return lambda payload, ctx: fn(payload)
