"""A ``workflow:`` task: the attempt starts a child execution, whose end sends the parent's
unit its ``AttemptFinished``. A parent that times out or is cancelled cancels the child."""
from __future__ import annotations

import hashlib
from typing import Any

from ..messages import ControlRequested, SendEvent, StartChild
from ..records import TaskRun, Unit
from ..spec import TaskSpec
from ..status import AttemptStatus, UnitStatus
from .base import Address, Host, PlainKind

__all__ = ["CHILD_ID_MAX", "ChildUnit", "child_id"]

CHILD_ID_MAX = 200


def child_id(execution_id: str, task: str, run: int, unit: int, attempt: int) -> str:
    """The child's id, derived from the parent's unit (so a retried start is a no-op).

    It grows with each nesting level, and ids end up in DynamoDB keys (2,048 bytes),
    S3 keys (1,024) and inquiry ids: past CHILD_ID_MAX characters it becomes the root
    execution's id and a digest of the whole address, still one per address."""
    full = f"{execution_id}.{task}.{run}.{unit}.{attempt}"
    if len(full) <= CHILD_ID_MAX:
        return full
    return f"{execution_id.split('.', 1)[0][:64]}.{hashlib.sha256(full.encode()).hexdigest()[:40]}"


class ChildUnit(PlainKind):
    name = "child"

    def input_problem(self, spec: TaskSpec, rendered: Any) -> str | None:
        return None if isinstance(rendered, dict) else "input: a workflow task's input must be an object"

    def begin(self, host: Host, run: TaskRun, unit: Unit, spec: TaskSpec, at: Address) -> None:
        head = host.head
        unit.child_id = child_id(head.id, *at)
        host.commands.append(StartChild(unit.child_id, spec.workflow or "", unit.input, parent={
            "execution_id": head.id, "task": run.task, "run": run.run, "unit": unit.index,
            "attempt": unit.attempt}))

    def attempt_ended(self, host: Host, run: TaskRun, unit: Unit, status: AttemptStatus) -> None:
        if unit.child_id and status == AttemptStatus.TIMED_OUT:
            host.commands.append(SendEvent(ControlRequested(unit.child_id, "cancel",
                                                            "parent task timed out").to_dict()))

    def cancel(self, host: Host, run: TaskRun, unit: Unit) -> None:
        if unit.child_id and unit.status == UnitStatus.RUNNING:
            host.commands.append(SendEvent(ControlRequested(unit.child_id, "cancel").to_dict()))
