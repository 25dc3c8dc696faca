"""Errors of the action layer."""
from __future__ import annotations

from ..errors import PermanentError


class ActionFailed(PermanentError):
    """An action ended in failure; ``type`` and ``message`` become the task's error (the workflow's
    ``retry`` decides whether the task runs again: the worker does not)."""

    def __init__(self, message: str, type: str = "ActionFailed", result: object = None):
        self.type = type
        self.result = result
        super().__init__(message)


class UnknownAction(PermanentError):
    """A definition names an action this deployment does not have."""


class ActionNotAllowed(UnknownAction):
    """A definition names code the deployment did not declare (a module, a function of another stack)."""
