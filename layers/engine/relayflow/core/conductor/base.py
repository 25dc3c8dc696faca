"""The conductor's state and the helpers every step uses: lifecycle events, timers,
the template context, rendering and conditions (told to the listener)."""
from __future__ import annotations

import random
from typing import Any

from .. import context as ctxmod
from .. import templates, values
from ..errors import TemplateError
from ..listener import NO_LISTENER, Listener
from ..messages import (
    Emit,
    Message,
    StartTimer,
)
from ..records import TaskRun, Unit
from ..session import Session
from ..spec import TaskSpec, WorkflowSpec
from ..units import UnitKind, kind_for


def _json(value: Any) -> Any:
    try:
        return values.to_json(value)
    except values.NotJSON as exc:
        raise TemplateError(str(exc)) from None


# What the history keeps of an event's detail (its record holds the rest: input, output).
HISTORY_FIELDS = ("error", "attempt", "attempts", "delay", "unit", "inquiry", "reason", "redrive", "parent", "by")


def parse_token(token: str) -> tuple[str, str, int, int] | None:
    """(execution_id, task, run, unit) of a callback token or inquiry id, None if malformed."""
    parts = token.split("~") if isinstance(token, str) else []
    if len(parts) != 5 or not parts[2].isdigit() or not parts[3].isdigit():
        return None
    return parts[0], parts[1], int(parts[2]), int(parts[3])


class ConductorBase:
    # -- helpers -----------------------------------------------------------------------------
    def __init__(self, spec: WorkflowSpec, session: Session, now: float,
                 limits: templates.Limits | None = None, rng: random.Random | None = None,
                 listener: Listener | None = None):
        self.spec = spec
        self.listener = listener or NO_LISTENER
        self.session = session
        self.head = session.execution
        self.now = now
        self.limits = limits
        self.rng = rng or random.Random()
        self.commands: list[Message] = []
        self._launching: set[tuple[str, int]] = set()
        self._following: TaskRun | None = None
        self.reason: str | None = None  # a cancel request's reason, for workflow.cancelled

    def emit(self, type_: str, run: TaskRun | None = None, /, **detail: Any) -> None:
        """A lifecycle event: sent to the bus, and kept for the history in the record it is
        about (the run, or the head for workflow events), which the step writes anyway."""
        head = self.head
        head.events_seen += 1
        entry = {"n": head.events_seen, "type": type_, "at": self.now,
                 **{k: v for k, v in detail.items() if k in HISTORY_FIELDS}}
        if run is not None:
            run.events.append(entry)
            detail = {"task": run.task, "run": run.run, **detail}
        else:
            head.events.append(entry)
        self.commands.append(Emit(type_, {"execution_id": head.id, "workflow": head.workflow,
                                          "at": self.now, **detail}))

    def timer(self, key: str, delay: float, event: Message) -> None:
        self.commands.append(StartTimer(key, self.now + delay, event.to_dict()))

    def system(self) -> dict[str, Any]:
        return {"execution_id": self.head.id, "workflow": self.head.workflow, "started_at": self.head.created_at}

    def context(self, current: TaskRun | None = None, **kw: Any) -> dict[str, Any]:
        return ctxmod.build(self.session, self.spec.tasks, input=self.head.input, system=self.system(),
                            current=current, **kw)

    def render(self, value: Any, ctx: dict[str, Any]) -> Any:
        """A rendered value, as JSON will carry it (core/values.py): what every backend stores."""
        return _json(templates.render(value, ctx, self.limits))

    def condition(self, expr: Any, ctx: dict[str, Any]) -> bool:
        return templates.truthy(templates.evaluate(expr, ctx, self.limits))

    def guard(self, run: TaskRun, where: str, expr: Any, ctx: dict[str, Any]) -> bool:
        """A condition of ``run`` (its ``when``, an entry's, a branch's, a retry's), told to the listener."""
        value = self.condition(expr, ctx)
        self.listener.guard_evaluated(run, where, expr, value)
        return value

    def unit_spec(self, run: TaskRun, unit: Unit) -> TaskSpec:
        task = self.spec.tasks[run.task]
        return task.subtasks[unit.index] if run.kind == "parallel" else task

    def unit_kind(self, run: TaskRun, unit: Unit) -> UnitKind:
        return kind_for(self.unit_spec(run, unit))

    def authoring_error(self, run: TaskRun, where: str, expr: Any, exc: Exception) -> None:
        self.fail_workflow({"task": run.task, "type": "TemplateError",
                            "message": f"task {run.task}: {where}: {expr!r}: {exc}"})

    # -- steps the subclasses define, called from here and from earlier layers ---------
    def fail_workflow(self, error: dict[str, Any]) -> None:
        raise NotImplementedError

    def follow(self, run: TaskRun) -> None:
        raise NotImplementedError

    def settle_feeders(self, join: str, ran: bool) -> None:
        raise NotImplementedError
