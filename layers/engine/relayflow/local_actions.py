"""Local actions (``local: true``): run inside the step that dispatches them.

A local task's unit is of the ``local`` kind (``core/units/local.py``): its attempt is a
dispatch that never leaves the step. It runs in the advance invocation itself, between the conductor
deciding to dispatch it and the step's commit: no task-queue message, no worker
invocation, no outcome message. Its outcome goes straight back into the same conductor,
which starts what follows; consecutive local tasks (a sequence, a ``with_items`` of local
items) run in one step while the invocation's budget lasts, and the step commits them all
at once, under the same commit protocol as any step.

At least once, like every action: a step that dies before its commit is redone from its
messages (SQS hands them back), and every local action it ran runs again. That is the
window: from the start of the step that runs a local action to that step's commit.

A local action is bounded by its ``timeout`` (``DEFAULT_TIMEOUT_S`` without one): it starts
only while the invocation has that long left beyond the step's own reserve; otherwise its
attempt leaves as an ordinary dispatch and a worker runs it. Python cannot stop a call
part way, so a local action that overruns its timeout ends as a timeout when it returns,
as the timeout's timer would have ended it.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from .core.conductor import Conductor
from .core.messages import CancelTimer, DispatchAttempt, Message, StartTimer, TimerFired
from .core.units import kind_for, timer_key

DEFAULT_TIMEOUT_S = 5.0
MAX_PER_STEP = 100  # local attempts one step runs: its records and intent stay small

Runner = Callable[[DispatchAttempt], object]  # the attempt's outcome (a Message), or None
HasTime = Callable[[float], bool]  # whether this many more seconds fit in the invocation


def run(conductor: Conductor, runner: Runner, has_time: HasTime, limit: int = MAX_PER_STEP) -> list[Message]:
    """Run the local attempts among ``conductor``'s commands, and those their outcomes start,
    feeding each outcome back; return the step's commands without what ran here."""
    ran: set[str] = set()
    tried: set[str] = set()
    timers: set[str] = set()
    count = 0
    while count < limit:
        pending = [c for c in conductor.commands if isinstance(c, DispatchAttempt)
                   and c.idempotency_key not in tried and _local(conductor, c)]
        if not pending:
            break
        progressed = False
        for cmd in pending:
            key = timer_key(cmd.execution_id, "timeout", cmd.task, cmd.run, cmd.unit, cmd.attempt)
            declared = _timeout(conductor, key)
            timeout = DEFAULT_TIMEOUT_S if declared is None else declared
            if count >= limit or not has_time(timeout):
                break
            count += 1
            tried.add(cmd.idempotency_key)
            started = time.perf_counter()
            outcome = runner(cmd)
            if not isinstance(outcome, Message):  # nothing to report now (a test's mock answers
                continue  # later): it leaves as a dispatch
            ran.add(cmd.idempotency_key)
            timers.add(key)
            if declared is not None and time.perf_counter() - started > declared:
                outcome = TimerFired(cmd.execution_id, "timeout", cmd.task, cmd.run, cmd.unit, cmd.attempt)
            conductor.handle(outcome)
            progressed = True
        if not progressed:
            break
    # what ran here was never dispatched, nor its timeout's schedule created
    return [c for c in conductor.commands
            if not (isinstance(c, DispatchAttempt) and c.idempotency_key in ran)
            and not (isinstance(c, (StartTimer, CancelTimer)) and c.key in timers)]


def _local(conductor: Conductor, cmd: DispatchAttempt) -> bool:
    task = conductor.spec.tasks.get(cmd.task)
    # a local unit (core/units/local.py); the loader let only actions that answer at once be one
    return task is not None and kind_for(task).name == "local"


def _timeout(conductor: Conductor, key: str) -> float | None:
    """The attempt's declared timeout, in seconds (None: the task declares none)."""
    for c in conductor.commands:
        if isinstance(c, StartTimer) and c.key == key:
            return max(0.0, c.due - conductor.now)
    return None
