"""One attempt's address: execution, task, run, unit and attempt number, as one value.

Everything that names an attempt (the worker's outcome, a poisoned dispatch's failure, a
parent's child-workflow result, ``relayflow test``'s mocks) builds it from here. Its ``key``
is the spelling the task queue, the claim and the action's idempotency key use
(``DispatchAttempt.idempotency_key``). It is never read back from a message group id (which
may be a hash): the address travels in the message body.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .core.messages import AttemptFinished, attempt_key

__all__ = ["AttemptAddress"]


class _Addressed(Protocol):
    @property
    def execution_id(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def run(self) -> int: ...
    @property
    def unit(self) -> int: ...
    @property
    def attempt(self) -> int: ...


@dataclass(frozen=True, order=True)
class AttemptAddress:
    execution_id: str
    task: str
    run: int
    unit: int  # the with_items item or parallel sub-task index; 0 for a single unit
    attempt: int

    @classmethod
    def of(cls, message: _Addressed) -> AttemptAddress:
        """The address a dispatch or an outcome names."""
        return cls(message.execution_id, message.task, message.run, message.unit, message.attempt)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttemptAddress:
        """The address of a record's ``parent`` (a child execution's waiting unit)."""
        return cls(str(data["execution_id"]), str(data["task"]), int(data["run"]), int(data["unit"]),
                   int(data["attempt"]))

    @property
    def key(self) -> str:
        return attempt_key(self.execution_id, self.task, self.run, self.unit, self.attempt)

    def finished(self, status: str, result: Any = None, error: dict[str, Any] | None = None) -> AttemptFinished:
        """The event that ends this attempt ``status`` (succeeded, failed, timed_out)."""
        return AttemptFinished(self.execution_id, self.task, self.run, self.unit, self.attempt, status, result,
                               error)
