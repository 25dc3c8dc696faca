"""An action run by a worker: the attempt is a dispatch on the task queue, and the
worker's ``AttemptFinished`` ends it."""
from __future__ import annotations

from ..messages import DispatchAttempt
from ..records import TaskRun, Unit
from ..spec import TaskSpec
from .base import Address, Host, PlainKind

__all__ = ["ActionUnit"]


class ActionUnit(PlainKind):
    name = "action"

    def begin(self, host: Host, run: TaskRun, unit: Unit, spec: TaskSpec, at: Address) -> None:
        head = host.head
        host.commands.append(DispatchAttempt(head.id, head.workflow, *at, spec.action or "", unit.input))
