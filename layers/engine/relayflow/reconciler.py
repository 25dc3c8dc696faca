"""The reconciler: finds running executions past their deadline and moves or ends them.

Every waiting state has a deadline in the execution head (``Execution.deadline``):
the start, a dispatched attempt, a timer each bound when the next step must have
come. The store keeps an index of the running executions that have one, by deadline
(``StateStore.list_due``), so a run reads what is due and not every execution. Past
a deadline, something was lost — a process died between a commit and its sends,
a start message never left — and the reconciler, run on a schedule, acts through the
execution's own event queue (so the one consumer of its message group applies it):

- an execution never started is sent its start again (starting is idempotent), and
  failed with the reason once ``fail_after`` has passed since;
- a started one is sent a ``ReconcileRequested``, which re-sends its last step's
  commands (dispatches, timers and events are each idempotent) if no step came since,
  and is failed with the reason once ``fail_after`` has passed since its deadline.

A head's deadline outlives the work that set it (a step keeps the previous deadline
while it is later: it cannot see what else is in flight). So an execution past its
deadline is looked at closer before anything is done: when none of its running units
waits on the system (a dispatch, a sleep, a retry or timeout timer) but only on a
person, a callback or a child, it is waiting, not stuck. It is sent a
``ReconcileRequested`` marked ``waiting``, whose step drops the stale deadline if no
step came since: without a deadline it leaves the index, and no later run reads it.
``StuckExecutions`` counts the executions found stuck.

The reconciler is a Lambda function with a time limit: it checks the time left before
each execution and, when it runs short, stops and keeps a cursor (the position reached in
the index) in the store, where the next run resumes; a run that goes round to the end
clears it.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .core.builtins import ASK
from .core.messages import ControlRequested, ReconcileRequested, StartRequested
from .core.records import RUNNING, WAITING, Execution, TaskRun, Unit
from .ports import Clock, EventQueue, StateStore, WorkflowRegistry

FAIL_AFTER = 6 * 3600.0  # past its deadline this long with nothing moving: fail it, with the reason
PAGE = 100
EVERY = 300.0  # template.yaml: ReconcileFunction's rate(5 minutes)
CURSOR = "reconciler"  # the store's mark where an unfinished round resumes
RESERVE_MS = 2_000.0  # stop while this much of the function's time is left (one execution's reads and send)


@dataclass
class Reconciled:
    stuck: list[tuple[str, str]] = field(default_factory=list)  # (execution id, what was done)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (execution id, reason)
    waiting: list[str] = field(default_factory=list)  # past an old deadline, waiting only on the outside
    checked: int = 0
    cursor: str | None = None  # where the next run resumes; None: this run reached the end
    next_due: float | None = None  # the earliest deadline not yet passed among those checked


class Reconciler:
    def __init__(self, store: StateStore, workflows: WorkflowRegistry, events: EventQueue, clock: Clock,
                 fail_after: float = FAIL_AFTER, page: int = PAGE):
        self.store, self.workflows, self.events, self.clock = store, workflows, events, clock
        self.fail_after = fail_after
        self.page = page

    def run(self, time_left: Callable[[], bool] | None = None) -> Reconciled:
        """One scheduled run, from the cursor a previous run left; ``time_left()`` False: stop
        before the next execution and leave a cursor."""
        out = Reconciled()
        now = self.clock.now()
        saved = self.store.get_mark(CURSOR)
        after = _resumed(saved)
        while out.cursor is None:
            page, more = self.store.list_due(now, self.page, after)
            for due in page:
                if time_left is not None and not time_left():
                    out.cursor = json.dumps([after])
                    break
                out.checked += 1
                self.check(due.execution_id, now, out)
                after = due.key
            if more is None:
                break
            after = more
        if out.cursor != saved:
            self.store.put_mark(CURSOR, out.cursor)
        return out

    def due(self) -> float | None:
        """The earliest deadline of a running execution the reconciler would act on, now or
        once it passes (None: none has one). A local pump with a virtual clock asks this to
        know whether and when the next scheduled run matters."""
        best, after = None, None
        while True:
            page, after = self.store.list_due(None, self.page, after)
            for due in page:
                if best is not None and due.since >= best:
                    continue  # its deadline is no earlier: no need to read its head
                head = self.store.get_execution(due.execution_id)
                if head is None or head.final or head.deadline is None:
                    continue
                if head.started and not self.waits_on_system(head):
                    continue  # only the outside can move it: no run of the reconciler would
                best = head.deadline if best is None else min(best, head.deadline)
            if after is None:
                return best

    def check(self, execution_id: str, now: float, out: Reconciled) -> None:
        head = self.store.get_execution(execution_id)
        if head is None or head.final or head.deadline is None:
            return
        if head.deadline > now:
            out.next_due = head.deadline if out.next_due is None else min(out.next_due, head.deadline)
            return
        if head.started and not self.waits_on_system(head):
            # waiting, not stuck: the engine drops the stale deadline (if no step came since),
            # so the next runs read only its head, not its runs and units again
            self.events.send(ReconcileRequested(execution_id, head.deadline, waiting=True))
            out.waiting.append(execution_id)
            return
        late = now - head.deadline
        if late > self.fail_after:
            what = "its start" if not head.started else "its next step"
            reason = (f"stuck: {what} was due by {head.deadline:.0f} and nothing came for "
                      f"{late:.0f} s (the reconciler re-sent what was lost, without effect)")
            self.events.send(ControlRequested(execution_id, "stuck", reason, f"reconcile:{head.deadline}"))
            out.failed.append((execution_id, reason))
        elif not head.started:
            self.events.send(StartRequested(execution_id))
            out.stuck.append((execution_id, "start re-sent"))
        else:
            self.events.send(ReconcileRequested(execution_id, head.deadline))
            out.stuck.append((execution_id, "last step's commands re-sent"))

    def waits_on_system(self, head: Execution) -> bool:
        """Whether a running unit of the execution waits on something the system must deliver
        (an attempt's outcome, a timer), not only on a person, a callback or a child. Read only
        for executions past their deadline: one query of its runs (and units of a multi-unit run)."""
        spec = self.workflows.get(head.workflow, head.spec_version)
        for run in self.store.list_runs(head.id):
            if run.final:
                continue
            units = [run.unit] if run.kind == "single" else self.store.list_units(head.id, run.task, run.run)
            for unit in units:
                if unit is not None and _on_system(spec, run, unit):
                    return True
        return False


def _resumed(saved: str | None) -> str | None:
    """Where a run resumes in the index: the key a run short of time kept (``[key]``); a mark
    of any other form (one an earlier version kept, by workflow) starts the round over."""
    try:
        value = json.loads(saved) if saved else None
    except ValueError:
        return None
    return value[0] if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str) else None


def _on_system(spec: Any, run: TaskRun, unit: Unit) -> bool:
    if unit.status == WAITING:
        return True  # a retry timer
    if unit.status != RUNNING:
        return False  # pending (held while paused) or ended
    if unit.timer or unit.timeout_timer:
        return True  # a sleep or a timeout: the Scheduler delivers it
    task = spec.tasks[run.task]
    task = task.subtasks[unit.index] if run.kind == "parallel" else task
    if unit.child_id is not None:
        return False  # the child has its own deadline
    # a person's answer, or a callback after the action handed its token out: the outside's;
    # otherwise a dispatched attempt's outcome
    return not (task.action == ASK or (task.callback and unit.acked))


class LocalSchedule:
    """The reconciler's schedule as a local pump plays it (on AWS a schedule rule invokes
    ReconcileFunction every ``EVERY`` seconds).

    On the real clock (``relayflow serve``) a run comes every ``EVERY`` seconds. A virtual
    clock jumps over waits, so a run comes when the pump has nothing else to do and an
    execution has a deadline: at the first tick (every ``EVERY`` s from the start) at or
    after the earliest one, and at least ``EVERY`` s after the previous run. The runs a
    virtual clock skips would have found nothing past its deadline.
    """

    def __init__(self, reconciler: Reconciler, invoke: Callable[[], Any], clock: Clock, virtual: bool,
                 every: float = EVERY):
        self.reconciler, self.invoke, self.clock, self.virtual, self.every = reconciler, invoke, clock, virtual, every
        self.origin = clock.now()
        self.last: float | None = None
        self.runs = 0

    def step(self, idle: bool) -> bool:
        """Run the reconciler if its time has come; True when it ran. ``idle``: the pump has
        nothing queued, in flight or scheduled."""
        now = self.clock.now()
        if not self.virtual:
            if now < (self.origin if self.last is None else self.last) + self.every:
                return False
            at = now
        else:
            if not idle:
                return False
            due = self.reconciler.due()
            if due is None:
                return False
            earliest = max(due, now if self.last is None else self.last + self.every)
            at = self.origin + -(-(earliest - self.origin) // self.every) * self.every
            self.clock.advance_to(at)  # type: ignore[attr-defined]  # a VirtualClock
        self.last = at
        self.runs += 1
        self.invoke()
        return True
