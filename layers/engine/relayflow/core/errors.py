"""Errors raised by the pure core.

Every error a user can cause carries enough context (file, line, task, field,
expression) to be acted on without reading a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass


class RelayflowError(Exception):
    """Root of every error relayflow raises on purpose."""


@dataclass(frozen=True, order=True)
class Problem:
    """One validation finding, printed as ``FILE:LINE: task NAME: field: message``."""

    file: str
    line: int
    task: str | None
    field: str
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: "
        if self.task is not None:
            where += f"task {self.task}: "
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}{self.field}: {prefix}{self.message}"


class ValidationError(RelayflowError):
    """A workflow definition is invalid; ``problems`` lists every finding."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class InputError(RelayflowError):
    """The input given to a workflow does not match its declared inputs."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class TemplateError(RelayflowError):
    """A template failed to compile or render (syntax, undefined name, limit)."""

    def __init__(self, message: str, template: str | None = None):
        self.template = template
        super().__init__(message)


class TemplateLimitError(TemplateError):
    """A template exceeded its output size or run time budget."""


class ConflictError(RelayflowError):
    """A store write lost a race (optimistic version check failed); retry the step."""
