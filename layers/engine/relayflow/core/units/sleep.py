"""``core.sleep``: never dispatched; the attempt is a timer that delivers the sleep's own
successful ``AttemptFinished`` when it is due."""
from __future__ import annotations

from ..messages import AttemptFinished
from ..records import TaskRun, Unit
from ..spec import TaskSpec
from ..status import AttemptStatus
from .base import Address, Host, PlainKind, timer_key

__all__ = ["SleepUnit"]


class SleepUnit(PlainKind):
    name = "sleep"

    def begin(self, host: Host, run: TaskRun, unit: Unit, spec: TaskSpec, at: Address) -> None:
        head = host.head
        seconds = unit.input.get("seconds") if isinstance(unit.input, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            host.attempt_ended(run, unit, AttemptStatus.FAILED, None, {
                "type": "InvalidInput", "message": f"core.sleep needs input.seconds >= 0, got {seconds!r}"},
                retry=False)
            return
        unit.timer = timer_key(head.id, "sleep", *at)
        host.timer(unit.timer, float(seconds),
                   AttemptFinished(head.id, *at, AttemptStatus.SUCCEEDED.value, {"slept": seconds}))
