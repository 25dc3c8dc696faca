"""Errors of the action layer."""
from __future__ import annotations

from ..core.errors import RelayflowError


class ActionFailed(RelayflowError):
    """An action ended in failure; ``type`` and ``message`` become the task's error."""

    def __init__(self, message: str, type: str = "ActionFailed", result: object = None):
        self.type = type
        self.result = result
        super().__init__(message)


class UnknownAction(RelayflowError):
    pass


class ActionNotAllowed(UnknownAction):
    """A definition names code the deployment did not declare (a module, a function of another stack)."""
