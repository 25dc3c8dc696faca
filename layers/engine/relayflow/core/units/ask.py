"""``core.ask``: never dispatched; the attempt opens an inquiry, and only its answer
(through the inquiry API) ends it. The inquiry is closed however the attempt ends."""
from __future__ import annotations

from ..messages import CallbackReceived, CloseInquiry, OpenInquiry
from ..records import TaskRun, Unit
from ..spec import TaskSpec
from ..status import AttemptStatus, InquiryStatus, UnitStatus
from .base import Address, Host, PlainKind

__all__ = ["AskUnit"]


class AskUnit(PlainKind):
    name = "ask"
    needs_token = True  # the inquiry's id

    def begin(self, host: Host, run: TaskRun, unit: Unit, spec: TaskSpec, at: Address) -> None:
        head = host.head
        asked = unit.input if isinstance(unit.input, dict) else {}
        host.commands.append(OpenInquiry({
            "id": unit.token, "execution_id": head.id, "workflow": head.workflow, "task": run.task,
            "run": run.run, "unit": unit.index, "attempt": unit.attempt, "created_at": host.now,
            "prompt": asked.get("prompt"), "schema": asked.get("schema"),
            "input": unit.input, "status": InquiryStatus.PENDING.value}))
        host.emit("inquiry.opened", run, inquiry=unit.token)

    def takes_outcome(self, unit: Unit, status: AttemptStatus) -> bool:
        return False  # only its inquiry's answer ends it

    def takes_callback(self, host: Host, run: TaskRun, unit: Unit, event: CallbackReceived) -> bool:
        if event.via != "inquiry":
            return False
        host.emit("inquiry.answered", run, unit=unit.index, inquiry=unit.token, status=event.status, by=event.by)
        host.commands.append(CloseInquiry(unit.token or "", InquiryStatus.ANSWERED.value))
        return True

    def attempt_ended(self, host: Host, run: TaskRun, unit: Unit, status: AttemptStatus) -> None:
        if unit.token and status != AttemptStatus.SUCCEEDED:
            closed = InquiryStatus.TIMED_OUT if status == AttemptStatus.TIMED_OUT else InquiryStatus.FAILED
            host.commands.append(CloseInquiry(unit.token, closed.value))

    def cancel(self, host: Host, run: TaskRun, unit: Unit) -> None:
        if unit.token and unit.status == UnitStatus.RUNNING:
            host.commands.append(CloseInquiry(unit.token, InquiryStatus.CANCELLED.value))
