"""The errors of the engine, its ports and the stores, grouped by what the caller does.

Every error relayflow raises on purpose derives from ``RelayflowError`` (``core.errors``) and,
outside the pure core, from one of two bases that tell the caller what to do:

- ``RetryableError``: the same call may succeed later (a service throttled or unavailable).
  The handler lets it out, so SQS redelivers the message and the step is redone.
- ``PermanentError``: the same call fails the same way (an unknown workflow, a malformed
  message, a request the API refuses). Report it; retrying is wasted work.

``core.errors.ConflictError`` (a lost optimistic race) is retryable too: ``RETRYABLE`` lists both.
Each area keeps its own errors module on these bases: ``actions.errors``, ``adapters.errors``,
``api.errors`` and ``core.errors``.
"""
from __future__ import annotations

from .core.errors import ConflictError, RelayflowError

__all__ = ["RETRYABLE", "PermanentError", "RelayflowError", "RetryableError", "UnknownExecutionError",
           "UnknownWorkflowError"]


class RetryableError(RelayflowError):
    """The same call may succeed later: let the message be redelivered."""


class PermanentError(RelayflowError):
    """The same call will fail the same way: report it, do not retry."""


RETRYABLE: tuple[type[RelayflowError], ...] = (RetryableError, ConflictError)


class UnknownWorkflowError(PermanentError, LookupError):
    """No workflow of this name (or no such version of it) is registered."""

    def __init__(self, name: str, version: str | None = None):
        self.name, self.version = name, version
        super().__init__(f"no workflow {name!r}" + (f" version {version!r}" if version else ""))

    def __str__(self) -> str:  # LookupError would quote the message as a key
        return str(self.args[0])


class UnknownExecutionError(PermanentError, LookupError):
    """No execution of this id exists (never started, or its records expired)."""

    def __init__(self, execution_id: str):
        self.execution_id = execution_id
        super().__init__(f"no execution {execution_id!r}")

    def __str__(self) -> str:
        return str(self.args[0])
