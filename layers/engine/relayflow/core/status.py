"""Every status an execution, a task run, a unit, an attempt or an inquiry can have,
and which changes between them are allowed.

The enums are ``str``-valued, so a status read back from a store compares equal to
its member; what records and messages hold is the member's plain string
(``.value``: "running", "timed_out", ...), so every backend and document keeps
exactly the strings it always had. A status changes only through
:func:`change_status`, which refuses a change its table does not list: a bug that
would, say, restart a finished run fails the step loudly instead of being committed.
"""
from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol, TypeVar

from .errors import RelayflowError

__all__ = [
    "AttemptStatus", "ExecutionStatus", "IllegalStatusChange", "InquiryStatus", "RunStatus", "UnitStatus",
    "EXECUTION_CHANGES", "RUN_CHANGES", "UNIT_CHANGES", "EXECUTION_FINAL", "RUN_FINAL", "UNIT_FINAL",
    "INQUIRY_FINAL", "change_status", "allowed",
]


class ExecutionStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


class RunStatus(StrEnum):
    """A task run's status; PENDING: created but not started (it waits for a resume)."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class UnitStatus(StrEnum):
    """A unit's status; WAITING: between two attempts (a retry timer, or held by a pause)."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


class AttemptStatus(StrEnum):
    """How an attempt ended, as an ``AttemptFinished`` or a callback reports it."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


class InquiryStatus(StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


E, R, U = ExecutionStatus, RunStatus, UnitStatus

# A failed or timed-out execution runs again when redriven; a paused one can still end
# (its last attempts finish, it is cancelled, it times out).
EXECUTION_CHANGES: Mapping[ExecutionStatus, frozenset[ExecutionStatus]] = {
    E.RUNNING: frozenset({E.PAUSED, E.SUCCEEDED, E.FAILED, E.TIMED_OUT, E.CANCELLED}),
    E.PAUSED: frozenset({E.RUNNING, E.SUCCEEDED, E.FAILED, E.TIMED_OUT, E.CANCELLED}),
    E.FAILED: frozenset({E.RUNNING}),
    E.TIMED_OUT: frozenset({E.RUNNING}),
    E.SUCCEEDED: frozenset(),
    E.CANCELLED: frozenset(),
}

# A pending run is either started, skipped at once (a join that can never fire) or cancelled;
# a run, once ended, never changes again: a redrive makes a new run.
RUN_CHANGES: Mapping[RunStatus, frozenset[RunStatus]] = {
    R.PENDING: frozenset({R.RUNNING, R.SKIPPED, R.CANCELLED}),
    R.RUNNING: frozenset({R.SUCCEEDED, R.FAILED, R.TIMED_OUT, R.SKIPPED, R.CANCELLED}),
    R.SUCCEEDED: frozenset(),
    R.FAILED: frozenset(),
    R.TIMED_OUT: frozenset(),
    R.SKIPPED: frozenset(),
    R.CANCELLED: frozenset(),
}

# A pending unit fails without an attempt when its input does not render; a waiting one
# fails (or times out, keeping its last attempt's error) when the workflow fails fast.
UNIT_CHANGES: Mapping[UnitStatus, frozenset[UnitStatus]] = {
    U.PENDING: frozenset({U.RUNNING, U.FAILED, U.CANCELLED}),
    U.RUNNING: frozenset({U.WAITING, U.SUCCEEDED, U.FAILED, U.TIMED_OUT, U.CANCELLED}),
    U.WAITING: frozenset({U.RUNNING, U.FAILED, U.TIMED_OUT, U.CANCELLED}),
    U.SUCCEEDED: frozenset(),
    U.FAILED: frozenset(),
    U.TIMED_OUT: frozenset(),
    U.CANCELLED: frozenset(),
}

EXECUTION_FINAL = frozenset(s for s, nxt in EXECUTION_CHANGES.items() if s not in (E.RUNNING, E.PAUSED))
RUN_FINAL = frozenset(s for s, nxt in RUN_CHANGES.items() if not nxt)
UNIT_FINAL = frozenset(s for s, nxt in UNIT_CHANGES.items() if not nxt)
INQUIRY_FINAL = frozenset(s for s in InquiryStatus if s is not InquiryStatus.PENDING)

S = TypeVar("S", ExecutionStatus, RunStatus, UnitStatus)

_TABLES: dict[type[StrEnum], Mapping[StrEnum, frozenset[StrEnum]]] = {
    ExecutionStatus: EXECUTION_CHANGES,  # type: ignore[dict-item]
    RunStatus: RUN_CHANGES,  # type: ignore[dict-item]
    UnitStatus: UNIT_CHANGES,  # type: ignore[dict-item]
}
_NAMES = {ExecutionStatus: "execution", RunStatus: "task run", UnitStatus: "unit"}


class IllegalStatusChange(RelayflowError):
    """A status change its table does not allow: a bug in the conductor, never the user's."""

    def __init__(self, what: str, current: str, new: str) -> None:
        self.what, self.current, self.new = what, current, new
        super().__init__(f"a {what} cannot go from '{current}' to '{new}'")


class HasStatus(Protocol):
    status: str


def allowed(current: S, new: S) -> bool:
    """Whether the table of ``new``'s kind lets a record go from ``current`` to ``new``."""
    return new in _TABLES[type(new)][current]


def change_status(record: HasStatus, new: S) -> S:
    """Set ``record.status`` to ``new``, which must be a change its kind's table allows;
    returns the status it had. ``record`` is an execution head, a task run or a unit,
    told apart by the enum ``new`` belongs to."""
    kind = type(new)
    try:
        current = kind(record.status)
    except ValueError:
        raise IllegalStatusChange(_NAMES[kind], record.status, new) from None
    if new not in _TABLES[kind][current]:
        raise IllegalStatusChange(_NAMES[kind], current, new)
    record.status = new.value  # records hold plain strings, as a store reads them back
    return current
