"""The services the engine needs, as Protocols.

Each port has an in-memory implementation (``adapters.memory``) and an AWS one;
the engine and the conductor only ever see these interfaces.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from .core.messages import DispatchAttempt, Emit, Message, StartTimer
from .core.records import Execution
from .core.session import Changes, StateReader
from .core.spec import WorkflowSpec


@dataclass(frozen=True)
class Due:
    """A running execution whose head has a deadline, as the store's index of them lists it."""

    execution_id: str
    since: float  # its deadline is at or after this (an index may keep deadlines coarse)
    key: str  # its position in the index: ``list_due(after=key)`` goes on after it


DuePage = tuple[list[Due], str | None]  # a page of ``list_due`` and where the next starts


class StateStore(StateReader, Protocol):
    """The records of executions: the reads a step makes (``StateReader``), its commit,
    and what the API reads and writes besides."""

    def create_execution(self, execution: Execution) -> bool:
        """Write a new head; False when one with this id exists already."""

    def commit(self, changes: Changes) -> None:
        """Apply a step's changes; raise ConflictError if the head moved since it was read."""

    def mark_failed(self, execution_id: str, error: dict[str, Any]) -> bool:
        """End an execution failed outside the conductor (when the conductor is what fails);
        False when it had ended already."""

    def clear_deadline(self, execution_id: str, deadline: float) -> bool:
        """Drop the head's ``deadline`` if it still is that one (no step came since); keeps the
        version. False when the head moved on, ended or is gone."""

    def claim_attempt(self, execution_id: str, attempt_key: str, owner: str, expire: bool = False) -> bool:
        """Claim an attempt for the delivery ``owner`` (a conditional write): True when it is
        unclaimed or already ``owner``'s (the same message redelivered), False when another
        delivery claimed it. ``expire``: the claim expires by itself (the retention after
        now), instead of with its execution."""

    def sweep(self, execution_id: str, after: str | None) -> str | None:
        """Stamp one page of the execution's records with the expiry of its head (its
        retention once finished, none while it runs); return where the next page starts,
        None after the last."""

    def get_history(self, execution_id: str) -> list[dict[str, Any]]:
        """Every lifecycle event of the execution, in order."""

    def get_mark(self, name: str) -> str | None:
        """A small value a scheduled job keeps between its runs (the reconciler's cursor)."""

    def put_mark(self, name: str, value: str | None) -> None:
        """Keep (or, with None, clear) the mark ``name``."""

    def list_due(self, until: float | None = None, limit: int = 100, after: str | None = None) -> DuePage:
        """A page of the running executions whose head has a deadline at or before ``until``
        (None: any), earliest first; it may hold some whose deadline is a little later (a coarse
        index), never miss one. The second value is where the next page starts (pass it as
        ``after``, as any entry's ``key``), None after the last."""

    def put_inquiry(self, inquiry: dict[str, Any]) -> None: ...
    def get_inquiry(self, inquiry_id: str) -> dict[str, Any] | None: ...
    def list_inquiries(self, status: str | None = None) -> list[dict[str, Any]]: ...

    def answer_inquiry(self, inquiry_id: str, response: Any, at: float, by: str | None = None) -> bool:
        """Record the answer if the inquiry is pending; False if it was answered or closed."""

    def close_inquiry(self, inquiry_id: str, status: str) -> None:
        """Mark a pending inquiry timed_out / cancelled / failed (an answered one stays answered)."""

    def query_executions(self, workflow: str, status: str | None = None, limit: int = 50,
                         before: str | None = None) -> tuple[list[Execution], str | None]:
        """A page of ``workflow``'s executions, newest first, optionally of one ``status``; with the
        cursor of the next page (pass it as ``before``), None after the last."""


class WorkflowRegistry(Protocol):
    def register(self, spec: WorkflowSpec) -> str:
        """Store a definition; return its version (a content hash)."""

    def get(self, name: str, version: str | None = None) -> WorkflowSpec:
        """The given version, or the latest; raise ``errors.UnknownWorkflowError`` when unknown."""

    def names(self) -> list[str]:
        """Every registered workflow's name, sorted."""

    def versions(self, name: str) -> list[str]:
        """The versions of workflow ``name`` (none when it is unknown)."""


class Encodable(Protocol):
    """A message as it travels: its ``to_dict`` is what a queue or schedule carries."""

    def to_dict(self) -> dict[str, Any]: ...


class ExecutionEvent(Encodable, Protocol):
    """A message of the event queue: it belongs to one execution, its FIFO message group."""

    @property
    def execution_id(self) -> str: ...


def as_execution_event(message: Message) -> ExecutionEvent:
    """``message`` (read back from a command or a timer) as an event of the event queue."""
    if not isinstance(getattr(message, "execution_id", None), str):
        raise ValueError(f"a {message.kind} message names no execution: it cannot go to the event queue")
    return cast(ExecutionEvent, message)


class TaskQueue(Protocol):
    def send_all(self, commands: Sequence[DispatchAttempt]) -> None: ...


class EventQueue(Protocol):
    def send(self, event: ExecutionEvent) -> None: ...
    def send_all(self, events: Sequence[ExecutionEvent]) -> None: ...


class Timers(Protocol):
    def start(self, timer: StartTimer) -> None: ...
    def cancel(self, key: str) -> None: ...


class EventBus(Protocol):
    def emit_all(self, events: list[Emit]) -> None: ...


class Clock(Protocol):
    def now(self) -> float: ...
