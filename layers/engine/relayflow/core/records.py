"""The small records an execution's state is kept in.

An execution is never one blob: a head record (counters and status), one record
per task (run counter and join arrivals), one per task run, one per unit of a
multi-unit run (with_items item, parallel sub-task), and one per published
variable. Handling an event touches a handful of them, whatever the size of
the execution, which keeps the work per task constant.
"""
from __future__ import annotations

import copy
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any

from .status import EXECUTION_FINAL, ExecutionStatus, RunStatus, UnitStatus
from .status import RUN_FINAL as RUN_FINAL

# The statuses under their old names, for callers outside the core (core/status.py is the source).
RUNNING = ExecutionStatus.RUNNING.value
PAUSED = ExecutionStatus.PAUSED.value
SUCCEEDED = ExecutionStatus.SUCCEEDED.value
FAILED = ExecutionStatus.FAILED.value
TIMED_OUT = ExecutionStatus.TIMED_OUT.value
CANCELLED = ExecutionStatus.CANCELLED.value
WORKFLOW_FINAL = EXECUTION_FINAL
PENDING = RunStatus.PENDING.value
WAITING = UnitStatus.WAITING.value
SKIPPED = RunStatus.SKIPPED.value
MAX_TRIES = 20  # attempts whose timings a unit keeps (the most recent): a record's size stays bounded


@dataclass
class Execution:
    id: str
    workflow: str
    spec_version: str
    input: dict[str, Any]
    status: str = ExecutionStatus.RUNNING.value
    created_at: float = 0.0
    finished_at: float | None = None
    seq: int = 0  # runs created so far; gives each run its place in start order
    active: int = 0  # task runs not yet final
    ending: str | None = None  # final status to take once active runs drain (fail-fast)
    error: dict[str, Any] | None = None
    output: Any = None
    parent: dict[str, Any] | None = None  # {execution_id, task, run, unit, attempt}
    started: bool = False
    version: int = 0
    redrives: int = 0
    events_seen: int = 0  # lifecycle events so far; numbers them for the history
    # When the next step is due at the latest if nothing is lost: set from what the last step
    # left in flight (a dispatch, a timer, the start); None while it waits only on people or
    # children (which have their own) or has ended. The reconciler acts on it once passed.
    deadline: float | None = None
    events: list[dict[str, Any]] = field(default_factory=list)  # workflow-level lifecycle events
    # The last step's commands and the ids of the messages it consumed: a message
    # redelivered after its step committed re-sends these instead of repeating the step.
    outbox: list[dict[str, Any]] = field(default_factory=list)
    last_messages: list[str] = field(default_factory=list)
    # AWS requests made for this execution so far, by counter (relayflow.usage): carried
    # on the head, which every step writes anyway
    usage: dict[str, float] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.status in EXECUTION_FINAL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def clone(self) -> "Execution":
        twin = copy.copy(self)
        twin.outbox = list(self.outbox)
        twin.events = list(self.events)
        twin.last_messages = list(self.last_messages)
        twin.usage = dict(self.usage)
        return twin


@dataclass
class Unit:
    """One schedulable piece of a run: the whole run, one item, or one sub-task."""

    index: int = 0
    item: Any = None  # the with_items item (or batch) this unit works on
    status: str = UnitStatus.PENDING.value
    attempt: int = 0
    input: Any = None
    result: Any = None
    error: dict[str, Any] | None = None
    child_id: str | None = None
    timer: str | None = None  # key of the pending retry/sleep timer
    timeout_timer: str | None = None
    held: bool = False  # a retry that came due while paused
    token: str | None = None  # callback token / inquiry id of a unit waiting for the outside world
    acked: bool = False  # a callback task's action ran; the unit now waits for its token
    # When the unit's first attempt was dispatched and when the unit ended, and each attempt's
    # [dispatched, ended (None while running), status], the last MAX_TRIES kept: stamped by the
    # steps that write this record anyway (on the conductor's clock, so queueing is included).
    started_at: float | None = None
    finished_at: float | None = None
    tries: list[list[Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def clone(self) -> "Unit":
        twin = copy.copy(self)
        twin.tries = [list(t) for t in self.tries]
        return twin

    def attempt_started(self, now: float) -> None:
        if self.started_at is None:
            self.started_at = now
        # a new list, never changed in place: a session tells changed records by comparing with their originals
        self.tries = [*self.tries[-(MAX_TRIES - 1):], [now, None, RUNNING]]

    def attempt_ended(self, now: float, status: str) -> None:
        if self.tries and self.tries[-1][1] is None:
            self.tries = [*self.tries[:-1], [self.tries[-1][0], now, getattr(status, "value", status)]]

    def ended(self, now: float) -> None:
        self.finished_at = now

    def attempt_timings(self) -> list[dict[str, Any]]:
        """The kept attempts, numbered, with their duration in seconds (None while running)."""
        first = self.attempt - len(self.tries) + 1
        return [{"attempt": first + i, "started_at": t[0], "finished_at": t[1], "status": t[2],
                 "duration": round(t[1] - t[0], 6) if t[1] is not None else None}
                for i, t in enumerate(self.tries)]


@dataclass
class TaskRun:
    task: str
    run: int
    seq: int
    status: str = RunStatus.PENDING.value
    attempts: int = 0
    result: Any = None
    error: dict[str, Any] | None = None
    started_at: float | None = None
    finished_at: float | None = None
    held: bool = False  # created (or has units to start) while paused; resume picks it up
    kind: str = "single"  # single | items | parallel
    unit: Unit | None = None  # the single unit, kept inline
    total: int = 0  # multi-unit runs: units in all, next to start, in flight, done
    next_index: int = 0
    in_flight: int = 0
    done: int = 0
    failed_indexes: list[int] = field(default_factory=list)
    concurrency: int | None = None
    handled: bool = False  # a failed run whose transitions scheduled a task (or said do: noop)
    # A failed run whose entries fired only into joins still waiting: it is handled once one of
    # them runs, and unhandled if every one ends skipped, never satisfied (LANGUAGE §3.5).
    fed_joins: list[str] = field(default_factory=list)
    followed: bool = False  # its transitions were evaluated (fail-fast skips them)
    events: list[dict[str, Any]] = field(default_factory=list)  # this run's lifecycle events

    @property
    def final(self) -> bool:
        return self.status in RUN_FINAL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def clone(self) -> "TaskRun":
        twin = copy.copy(self)
        twin.failed_indexes = list(self.failed_indexes)
        twin.fed_joins = list(self.fed_joins)
        twin.events = list(self.events)
        if self.unit is not None:
            twin.unit = self.unit.clone()
        return twin


@dataclass
class TaskState:
    task: str
    runs: int = 0
    arrivals: int = 0  # join: distinct inbound tasks that fired into it (each one is its own record)
    join_done: bool = False
    # Runs [task, run] that failed and fired only into joins, this one among them, while it waited.
    failed_feeders: list[list[Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def clone(self) -> "TaskState":
        return TaskState(self.task, self.runs, self.arrivals, self.join_done,
                         [list(f) for f in self.failed_feeders])


def run_timings(run: TaskRun) -> dict[str, Any]:
    """When a task run started and ended, in epoch seconds, its duration, and (a single-unit
    run) each kept attempt's; a multi-unit run's items have theirs on the run's detail page."""
    duration = round(run.finished_at - run.started_at, 6) if run.started_at is not None \
        and run.finished_at is not None else None
    unit = run.unit
    return {"started_at": run.started_at, "finished_at": run.finished_at, "duration": duration,
            "attempt_timings": unit.attempt_timings() if unit is not None else []}


def unit_timings(unit: Unit) -> dict[str, Any]:
    """When an item or sub-task started and ended, its duration, and each kept attempt's."""
    duration = round(unit.finished_at - unit.started_at, 6) if unit.started_at is not None \
        and unit.finished_at is not None else None
    return {"started_at": unit.started_at, "finished_at": unit.finished_at, "duration": duration,
            "attempt_timings": unit.attempt_timings()}


def compact(record: Any) -> dict[str, Any]:
    """The record's fields that differ from their defaults (nested records too): what a
    store must keep to rebuild it, which is often half of ``to_dict``."""
    out: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if f.default is not MISSING:
            default: Any = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:
            default = MISSING
        if default is not MISSING and value == default:
            continue
        out[f.name] = compact(value) if is_dataclass(value) else value
    return out


def history(head: Execution, runs: list[TaskRun]) -> list[dict[str, Any]]:
    """Every lifecycle event of an execution, in order, from the records that keep them."""
    events = [dict(e) for e in head.events]
    # The input and the output live once, on the head; the events that docs/events.md
    # gives them get them back here rather than a second copy in the record.
    for e in events:
        if e["type"] == "workflow.started":
            e["input"] = head.input
        elif e["type"] == "workflow.succeeded":  # final: there is at most one
            e["output"] = head.output
    for run in runs:
        events += [{**e, "task": run.task, "run": run.run} for e in run.events]
    return sorted(events, key=lambda e: e["n"])


def run_from_dict(d: dict[str, Any]) -> TaskRun:
    d = dict(d)
    unit = d.pop("unit", None)
    return TaskRun(**d, unit=Unit(**unit) if unit is not None else None)
