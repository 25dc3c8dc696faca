"""The reconciler: finds running executions past their deadline and moves or ends them.

Every waiting state has a deadline in the execution head (``Execution.deadline``):
the start, a dispatched attempt, a timer each bound when the next step must have
come. Past it, something was lost — a process died between a commit and its sends,
a start message never left — and the reconciler, run on a schedule, acts through the
execution's own event queue (so the one consumer of its message group applies it):

- an execution never started is sent its start again (starting is idempotent), and
  failed with the reason once ``fail_after`` has passed since;
- a started one is sent a ``ReconcileRequested``, which re-sends its last step's
  commands (dispatches, timers and events are each idempotent) if no step came since,
  and is failed with the reason once ``fail_after`` has passed since its deadline.

Executions waiting only on people, callbacks or children have no deadline and are
left alone. ``StuckExecutions`` counts the executions found past their deadline.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .core.messages import ControlRequested, ReconcileRequested, StartRequested
from .core.records import RUNNING
from .ports import Clock, EventQueue, StateStore, WorkflowRegistry

FAIL_AFTER = 6 * 3600.0  # past its deadline this long with nothing moving: fail it, with the reason
PAGE = 100


@dataclass
class Reconciled:
    stuck: list[tuple[str, str]] = field(default_factory=list)  # (execution id, what was done)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (execution id, reason)
    checked: int = 0


class Reconciler:
    def __init__(self, store: StateStore, workflows: WorkflowRegistry, events: EventQueue, clock: Clock,
                 fail_after: float = FAIL_AFTER):
        self.store, self.workflows, self.events, self.clock = store, workflows, events, clock
        self.fail_after = fail_after

    def run(self) -> Reconciled:
        out = Reconciled()
        now = self.clock.now()
        for name in self.workflows.names():
            cursor = None
            while True:
                page, cursor = self.store.query_executions(name, RUNNING, PAGE, cursor)
                for summary in page:
                    out.checked += 1
                    self.check(summary.id, now, out)
                if cursor is None:
                    break
        return out

    def check(self, execution_id: str, now: float, out: Reconciled) -> None:
        head = self.store.get_execution(execution_id)
        if head is None or head.final or head.deadline is None or head.deadline > now:
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
