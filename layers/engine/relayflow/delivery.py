"""One delivery layer: what becomes of a batch of queue messages, whoever delivers it.

The Lambda handlers (an SQS event source's batch), the embedded stack (the same
handlers, driven by its pump) and the memory stack hand their batches here, so
the policy is written once:

- **batch**: event-queue messages are applied one execution (message group) at a
  time, a group's messages in one step; when a step fails, the group is replayed
  one message at a time to find the failing one, and that message and the rest of
  its group are handed back (FIFO order is kept). One execution's failure never
  hands back another's messages.
- **poison**: a message that fails on its last delivery (``receives`` reached the
  queue's maximum) ends its execution ``failed`` with the reason (an event) or
  fails its attempt with the reason (a dispatch) before the transport parks it.
- **budget**: before each execution's step and before each dispatch the remaining
  time is checked against a reserve that covers the longest step or attempt;
  what cannot finish is handed back undone, never cut off half way.
- **claims**: a dispatch runs only if its attempt is still the current one of a
  live run (not cancelled, superseded or finished) and this delivery claims it
  with a conditional write; another message for the same attempt is not run.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import usage
from .actions.outcomes import HeldOutcomes
from .adapters.errors import MalformedMessage
from .attempts import AttemptAddress
from .core.messages import AttemptFinished, ControlRequested, DispatchAttempt, Message, SweepRequested
from .core.records import RUNNING
from .engine import Engine
from .errors import UnknownExecutionError
from .ports import ExecutionEvent


@dataclass
class Received:
    """One message as a transport hands it over."""

    id: str  # the transport's message id (SQS messageId)
    body: str | Message  # the raw body, or the message itself (in-memory transports)
    group: str | None = None  # FIFO message group: the execution (events) or the attempt (dispatches)
    receives: int = 1  # deliveries so far, this one included (SQS ApproximateReceiveCount)


@dataclass
class Report:
    """What a batch came to: the ids to hand back, and what happened, for logs and metrics."""

    failed: list[str] = field(default_factory=list)
    applied: int = 0  # events applied
    deferred: int = 0  # messages handed back undone for lack of time
    outcomes: list[tuple[AttemptFinished, float]] = field(default_factory=list)  # attempts run, and their ms
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (attempt key, why it did not run)
    poisoned: list[tuple[str, str]] = field(default_factory=list)  # (execution or attempt, reason)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (message id, error) of failed messages
    dropped: int = 0  # events for executions that do not exist


class Budget:
    """The time an invocation has left: ``left()`` is False once less than ``reserve_ms`` remain.

    On Lambda ``remaining_ms`` is the context's ``get_remaining_time_in_millis``; the
    reserve is the longest one step (or one attempt) may take plus a margin, so what
    starts always finishes before the function is killed.
    """

    def __init__(self, remaining_ms: Callable[[], float] | None = None, reserve_ms: float = 0.0):
        self.remaining_ms = remaining_ms
        self.reserve_ms = reserve_ms

    def left(self) -> bool:
        return self.remaining_ms is None or self.remaining_ms() > self.reserve_ms

    @classmethod
    def of(cls, context: Any, reserve_ms: float) -> Budget:
        """The budget of a Lambda invocation (no limit without a context that tells the time)."""
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return cls(remaining if callable(remaining) else None, reserve_ms)


# Runs a claimed dispatch. None: its outcome comes later by another way (relayflow test's mocked
# stack answers some attempts on a timer); the worker's runner always returns the outcome.
Runner = Callable[[DispatchAttempt], ExecutionEvent | None]


def _has_time(budget: Budget | None) -> Callable[[float], bool]:
    """Whether a local action of so many seconds still fits in the invocation, beyond the
    reserve that lets the step around it finish."""
    if budget is None or budget.remaining_ms is None:
        return lambda seconds: True
    remaining, reserve = budget.remaining_ms, budget.reserve_ms
    return lambda seconds: remaining() > reserve + seconds * 1000


class Delivery:
    def __init__(self, engine: Engine, decode: Callable[[str], Message], max_receives: int,
                 runner: Runner | None = None):
        self.engine = engine
        self.store = engine.store
        self._decode = decode
        self.max_receives = max_receives
        self.runner = runner
        self._held: HeldOutcomes | None = None
        if runner is not None:  # local actions run inside the steps, with the same runner
            engine.local_runner = lambda command: self.run(command, Received(command.idempotency_key, command))

    def decode(self, record: Received) -> Message:
        return record.body if isinstance(record.body, Message) else self._decode(record.body)

    def last(self, record: Received) -> bool:
        return record.receives >= self.max_receives

    # -- the event queue -----------------------------------------------------------
    def advance(self, batch: list[Received], budget: Budget | None = None) -> Report:
        report = Report()
        self.engine.has_time = _has_time(budget)
        groups: dict[str, list[Received]] = {}
        for record in batch:
            groups.setdefault(record.group or record.id, []).append(record)
        for group, records in groups.items():
            if budget is not None and not budget.left():
                report.failed += [r.id for r in records]
                report.deferred += len(records)
                continue
            report.failed += self._advance_group(group, records, report)
        return report

    def _advance_group(self, group: str, records: list[Received], report: Report) -> list[str]:
        """Apply one group's records in order; return the ids of the records to hand back."""
        events, ids = [], []
        for i, record in enumerate(records):
            try:
                events.append(self.decode(record))
                ids.append(record.id)
            except MalformedMessage as exc:
                failed = self._advance_group(group, records[:i], report) if i else []
                report.errors.append((record.id, f"malformed message: {exc}"))
                self._give_up_event(group, record, exc, report)
                return failed + [r.id for r in records[i:]]
        try:
            self.engine.handle_batch(events, ids)
            report.applied += len(events)
            return []
        except UnknownExecutionError:
            report.dropped += len(events)
            return []
        except Exception as exc:  # isolate the failing record: replay one by one
            if len(records) == 1:
                report.errors.append((records[0].id, f"{type(exc).__name__}: {exc}"))
                self._give_up_event(group, records[0], exc, report)
                return [records[0].id]
        for i, record in enumerate(records):
            if self._advance_group(group, [record], report):
                return [r.id for r in records[i:]]
        return []

    def _give_up_event(self, group: str, record: Received, exc: BaseException, report: Report) -> None:
        """On a message's last delivery, end its execution failed with the reason."""
        if not self.last(record):
            return
        group = self._execution_of(record) or group  # a long id's FIFO group is its hash
        reason = f"message {record.id} could not be processed after {record.receives} deliveries: {exc}"
        try:
            # Through the conductor, so runs end cancelled, timers go and a parent hears of it;
            # named after the message, so a retry of this very step is recognised as one.
            self.engine.handle(ControlRequested(group, "fail", reason), message_id=f"poison:{record.id}")
            failed = True
        except UnknownExecutionError:
            return
        except Exception:  # the conductor itself may be what fails: fall back to the head alone
            # Its records expire with it, as after any end. The sweep is sent first: queued in the
            # execution's group behind this message, it is applied only after the head below is
            # failed, and a process killed between the two cannot lose it (a sweep of a head that
            # is still running stamps nothing).
            self.engine.events.send(SweepRequested(group))
            failed = self.store.mark_failed(group, {"task": None, "type": "PoisonMessage", "message": reason})
        if failed:
            report.poisoned.append((group, reason))

    # -- the task queue --------------------------------------------------------------
    def work(self, batch: list[Received], budget: Budget | None = None, held: HeldOutcomes | None = None) -> Report:
        """Run the batch's dispatches. With ``held``, their outcomes leave together and all of them
        before this returns (raising if SQS refuses: then the whole batch comes back)."""
        report = Report()
        if held is not None:
            held.start(len(batch))
        self._held = held
        for i, record in enumerate(batch):
            if budget is not None and not budget.left():
                report.failed += [r.id for r in batch[i:]]
                report.deferred += len(batch) - i
                break
            try:
                self._work_one(record, report)
            except Exception as exc:
                report.errors.append((record.id, f"{type(exc).__name__}: {exc}"))
                self._give_up_dispatch(record, exc, report)
                report.failed.append(record.id)
        if held is not None:
            held.flush()
        return report

    def _work_one(self, record: Received, report: Report) -> None:
        command = self.decode(record)
        if not isinstance(command, DispatchAttempt):
            raise MalformedMessage(f"the task queue takes dispatch messages, not {command.kind}")
        with usage.counting() as made:  # the reads and the claim, for the execution's cost report
            why = self.stale(command)
            # a callback's attempt stays current while it waits: its claim lasts as long
            if why is None and not self.store.claim_attempt(command.execution_id, command.idempotency_key,
                                                             record.id, expire=not command.callback):
                why = "another delivery claimed this attempt"
        if why is not None:
            report.skipped.append((command.idempotency_key, why))
            return
        started = time.perf_counter()
        outcome = self.run(command, record)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if outcome is None:
            return
        if isinstance(outcome, AttemptFinished):
            usage.add_claim(made, swept=command.callback)
            outcome.usage = usage.merge(outcome.usage, made)
        if self._held is not None and isinstance(outcome, AttemptFinished):
            self._held.add(outcome, elapsed_ms / 1000)
        else:
            self.engine.events.send(outcome)
        if isinstance(outcome, AttemptFinished):
            report.outcomes.append((outcome, elapsed_ms))

    def run(self, command: DispatchAttempt, record: Received) -> ExecutionEvent | None:
        """Run the claimed attempt ``command`` (that ``record`` delivered)."""
        assert self.runner is not None, "a Delivery that runs dispatches needs a runner"
        return self.runner(command)

    def stale(self, cmd: DispatchAttempt) -> str | None:
        """Why ``cmd`` must not run (None: its attempt is the current one of a live run)."""
        store = self.store
        head = store.get_execution(cmd.execution_id)
        if head is None:
            return "the execution does not exist"
        if head.final:
            return f"the execution has ended ({head.status})"
        run = store.get_run(cmd.execution_id, cmd.task, cmd.run)
        if run is None:
            return "the run does not exist"
        if run.final:
            return f"the run has ended ({run.status})"
        unit = run.unit if run.kind == "single" else store.get_unit(cmd.execution_id, cmd.task, cmd.run, cmd.unit)
        if unit is None:
            return "the unit does not exist"
        if unit.attempt != cmd.attempt:
            return f"superseded by attempt {unit.attempt}"
        if unit.status != RUNNING:
            return f"the attempt has ended ({unit.status})"
        return None

    def _give_up_dispatch(self, record: Received, exc: BaseException, report: Report) -> None:
        """On a dispatch's last delivery, fail its attempt so the workflow sees a task failure
        (which it may handle) instead of waiting for an outcome that will never come."""
        if not self.last(record):
            return
        try:  # the attempt is read from the body: its FIFO group may be a hash of its key
            cmd = self.decode(record)
        except Exception:  # a body that never was a dispatch names no attempt to fail
            return
        if not isinstance(cmd, DispatchAttempt):
            return
        self.engine.events.send(AttemptAddress.of(cmd).finished("failed", None, {
            "type": "PoisonMessage",
            "message": f"dispatch {record.id} failed on all {record.receives} deliveries: {exc}"}))
        report.poisoned.append((cmd.idempotency_key, str(exc)))

    def _execution_of(self, record: Received) -> str | None:
        """The execution a message is about, read from its body (None if it names none)."""
        try:
            eid = getattr(self.decode(record), "execution_id", None)
        except Exception:
            return None
        return eid if isinstance(eid, str) else None
