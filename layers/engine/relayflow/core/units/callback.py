"""A ``callback: true`` action: a worker runs it with the unit's token, which it hands to
an outside system; the worker's success only acknowledges that, and the callback
(through the callback API, never the inquiry one) ends the attempt. A failure of
the action itself ends it at once."""
from __future__ import annotations

from ..messages import CallbackReceived, DispatchAttempt
from ..records import TaskRun, Unit
from ..spec import TaskSpec
from ..status import AttemptStatus
from .base import Address, Host, PlainKind

__all__ = ["CallbackUnit"]


class CallbackUnit(PlainKind):
    name = "callback"
    needs_token = True

    def begin(self, host: Host, run: TaskRun, unit: Unit, spec: TaskSpec, at: Address) -> None:
        head = host.head
        host.commands.append(DispatchAttempt(head.id, head.workflow, *at, spec.action or "", unit.input,
                                             True, unit.token))

    def takes_outcome(self, unit: Unit, status: AttemptStatus) -> bool:
        if status == AttemptStatus.SUCCEEDED:
            unit.acked = True  # the action handed the token out; the callback ends the attempt
            return False
        return True

    def takes_callback(self, host: Host, run: TaskRun, unit: Unit, event: CallbackReceived) -> bool:
        if event.via == "inquiry":
            return False
        host.emit("task.callback", run, unit=unit.index, status=event.status, by=event.by)
        return True
