"""Action lookup: built-ins, registered callables, and ``python:<module>:<function>``.

An action is called as ``fn(input, context)`` for built-ins and registered
callables, and as ``fn(input)`` (plus ``context=`` if it takes one) for
``python:`` actions. Actions may run more than once for one attempt (a worker
can die after the action and before its result is recorded): use
``context.idempotency_key`` to make side effects safe to repeat.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .allowlist import ActionModules
from .errors import UnknownAction
from .safe_http import NetworkPolicy

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
    """Actions by name. ``python:`` actions resolve only inside ``modules`` (none by default);
    ``aws.lambda`` reaches only functions whose names start with ``lambda_prefix`` (when set)."""

    def __init__(self, modules: ActionModules | None = None, lambda_prefix: str | None = None) -> None:
        self._actions: dict[str, Action] = {}
        self.modules = modules or ActionModules()
        self.lambda_prefix = lambda_prefix or None
        self.network = NetworkPolicy()  # core.http's reach; the AWS runtime narrows it (Settings)

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
            fn = _python_action(self.modules, name)
            self._actions[name] = fn
            return fn
        raise UnknownAction(f"unknown action {name!r}")

    def names(self) -> list[str]:
        return sorted(self._actions)


def _python_action(modules: ActionModules, name: str) -> Action:
    fn = modules.load(name)
    try:
        wants_context = "context" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        wants_context = False
    if wants_context:
        return lambda payload, ctx: fn(payload, context=ctx)
    return lambda payload, ctx: fn(payload)
