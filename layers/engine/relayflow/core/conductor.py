"""The conductor: one event in, record changes and commands out.

It is pure: it reads and changes records only through a :class:`Session` and
returns commands (dispatch an attempt, start a timer, start a child, emit a
lifecycle event) for the caller to carry out after the changes are committed.
Every handler checks the records first, so a duplicated, late or reordered
event changes nothing.

Vocabulary: a *run* is one execution of a task; a run has *units* (one for a
plain task, one per item for ``with_items``, one per sub-task for
``parallel``); a unit has *attempts* (retries).
"""
from __future__ import annotations

import random
import secrets
from typing import Any

from . import context as ctxmod
from . import templates, values
from .errors import InputError, TemplateError
from .inputs import initial_vars
from .builtins import ASK, SLEEP
from .messages import (
    AttemptFinished, CallbackReceived, CancelTimer, ControlRequested, Emit, Message, RedriveRequested, SendEvent,
    StartRequested, StartTimer, TimerFired,
)
from .records import TaskRun, Unit
from .retry import delay_before
from .session import Session
from .spec import FAIL, NOOP, Branch, TaskSpec, Transition, WorkflowSpec
from .status import AttemptStatus, ExecutionStatus, RunStatus, UnitStatus, change_status
from .units import UnitKind, child_id, kind_for, timer_key

SLEEP_ACTION = SLEEP  # the names callers outside the core import
ASK_ACTION = ASK
__all__ = ["ASK_ACTION", "SLEEP_ACTION", "Conductor", "child_id", "parse_token", "timer_key"]


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


class Conductor:
    def __init__(self, spec: WorkflowSpec, session: Session, now: float,
                 limits: templates.Limits | None = None, rng: random.Random | None = None):
        self.spec = spec
        self.session = session
        self.head = session.execution
        self.now = now
        self.limits = limits
        self.rng = rng or random.Random()
        self.commands: list[Message] = []
        self._launching: set[tuple[str, int]] = set()
        self.reason: str | None = None  # a cancel request's reason, for workflow.cancelled

    # -- entry points --------------------------------------------------------
    def start(self) -> list[Message]:
        head = self.head
        if head.started or head.final:
            return self.commands
        head.started = True
        self.emit("workflow.started", input=head.input, **({"parent": head.parent} if head.parent else {}))
        if self.spec.timeout:
            self.timer(timer_key(head.id, "workflow_timeout"), self.spec.timeout,
                       TimerFired(head.id, "workflow_timeout"))
        try:
            initial = initial_vars(self.spec, head.input, self.system(), self.limits)
        except InputError as exc:  # checked before the execution was written; kept for older records
            self.fail_workflow({"task": None, "type": "TemplateError", "message": str(exc)})
        else:
            for name, value in initial.items():
                self.session.set_var(name, value)
            for name in self.spec.entries:
                self.fire_into(name, None)
        self.settle()
        return self.commands

    def handle(self, event: Message) -> list[Message]:
        if isinstance(event, StartRequested):
            return self.start()
        if isinstance(event, RedriveRequested):
            self.on_redrive()
            self.settle()
            return self.commands
        if self.head.final:
            return self.commands
        if not self.head.started:
            # Nothing runs yet, but cancel and fail still end it: the start that follows finds
            # it ended (a start that can never commit would otherwise leave it running forever).
            if isinstance(event, ControlRequested) and event.action in ("cancel", "fail", "stuck"):
                self.on_control(event)
            return self.commands
        if isinstance(event, AttemptFinished):
            self.on_attempt_finished(event)
        elif isinstance(event, TimerFired):
            self.on_timer(event)
        elif isinstance(event, ControlRequested):
            self.on_control(event)
        elif isinstance(event, CallbackReceived):
            self.on_callback(event)
        else:
            raise ValueError(f"the conductor does not handle {event.kind} messages")
        self.settle()
        return self.commands

    # -- helpers ---------------------------------------------------------------
    def emit(self, type_: str, run: TaskRun | None = None, **detail: Any) -> None:
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

    def unit_spec(self, run: TaskRun, unit: Unit) -> TaskSpec:
        task = self.spec.tasks[run.task]
        return task.subtasks[unit.index] if run.kind == "parallel" else task

    def unit_kind(self, run: TaskRun, unit: Unit) -> UnitKind:
        return kind_for(self.unit_spec(run, unit))

    def fail_workflow(self, error: dict[str, Any]) -> None:
        """Fail fast: nothing new starts (no run, item or retry); the workflow ends once
        the attempts already running finish."""
        if self.head.ending is not None:
            return
        self.head.ending = ExecutionStatus.FAILED.value
        self.head.error = error
        for run in self.session.all_runs():
            if run.final:
                continue
            if run.status == RunStatus.PENDING:
                self.cancel_run(run)
                continue
            for unit in self.session.cache_units(run):
                if unit.status == UnitStatus.WAITING and not run.final:
                    if unit.timer:
                        self.commands.append(CancelTimer(unit.timer))
                        unit.timer = None
                    timed_out = (unit.error or {}).get("type") == "Timeout"
                    self.unit_finished(run, unit, UnitStatus.TIMED_OUT if timed_out else UnitStatus.FAILED)
            if not run.final:
                self.maybe_complete(run)

    def authoring_error(self, run: TaskRun, where: str, expr: Any, exc: Exception) -> None:
        self.fail_workflow({"task": run.task, "type": "TemplateError",
                            "message": f"task {run.task}: {where}: {expr!r}: {exc}"})

    # -- creating and starting runs -------------------------------------------
    def fire_into(self, target: str, source: str | None) -> None:
        task = self.spec.tasks[target]
        if task.join is not None and source is not None:
            state = self.session.task_state(target)
            if state.join_done:
                return
            if self.session.has_arrived(target, source):
                return
            self.session.add_arrival(target, source)
            state.arrivals += 1
            need = len(self.spec.inbound[target]) if task.join == "all" else task.join
            if state.arrivals < need:
                return
            state.join_done = True
            if state.failed_feeders:
                self.settle_feeders(target, ran=True)
        self.create_run(target)

    def create_run(self, name: str, skipped_reason: str | None = None) -> None:
        state = self.session.task_state(name)
        if state.runs >= self.spec.max_task_runs:
            self.fail_workflow({"task": name, "type": "MaxTaskRunsExceeded",
                                "message": f"task {name} would run more than max_task_runs "
                                           f"({self.spec.max_task_runs}) times"})
            return
        state.runs += 1
        head = self.head
        head.seq += 1
        head.active += 1
        run = TaskRun(task=name, run=state.runs, seq=head.seq)
        self.session.add_run(run)
        if skipped_reason is not None:
            run.started_at = self.now
            self.finish_run(run, RunStatus.SKIPPED, error={"type": "JoinNotSatisfied", "message": skipped_reason})
        elif head.status == ExecutionStatus.PAUSED:
            run.held = True
        else:
            self.start_run(run)

    def start_run(self, run: TaskRun) -> None:
        change_status(run, RunStatus.RUNNING)
        run.held = False
        run.started_at = self.now
        task = self.spec.tasks[run.task]
        self.emit("task.started", run)
        ctx = self.context()
        if task.when is not None:
            try:
                go = self.condition(task.when, ctx)
            except TemplateError as exc:
                return self.finish_run(run, RunStatus.FAILED, error={"type": "TemplateError", "message": f"when: {exc}"})
            if not go:
                return self.finish_run(run, RunStatus.SKIPPED)
        try:
            if task.type == "parallel":
                run.kind = "parallel"
                items: list[Any] = [None] * len(task.subtasks)
            elif task.with_items is not None:
                run.kind = "items"
                items = self.items(task, ctx)
            else:
                run.kind = "single"
                run.total = 1
                run.unit = Unit(0)
                return self.start_unit(run, run.unit)
            run.concurrency = self.concurrency(task, ctx)
        except TemplateError as exc:
            return self.finish_run(run, RunStatus.FAILED, error={"type": "TemplateError", "message": str(exc)})
        run.total = len(items)
        for i, item in enumerate(items):
            self.session.add_unit(run, Unit(i, item=item))
        if not items:
            return self.finish_run(run, RunStatus.SUCCEEDED, result=[] if run.kind == "items" else {})
        self.launch_units(run)

    def items(self, task: TaskSpec, ctx: dict[str, Any]) -> list[Any]:
        raw = task.with_items
        value = templates.evaluate(raw, ctx, self.limits) if isinstance(raw, str) else self.render(raw, ctx)
        if isinstance(value, dict):
            raise TemplateError(f"with_items: expected a list, got an object (use keys(...) or values(...))")
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise TemplateError(f"with_items: expected a list, got {type(value).__name__}")
        items = _json(list(value))
        if task.batch_size:
            k = task.batch_size
            items = [items[i:i + k] for i in range(0, len(items), k)]
        return items

    def concurrency(self, task: TaskSpec, ctx: dict[str, Any]) -> int | None:
        value = task.concurrency
        if isinstance(value, str):
            value = self.render(value, ctx)
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise TemplateError(f"concurrency: expected a positive integer, got {value!r}")
        return value

    def launch_units(self, run: TaskRun) -> None:
        """Start units up to the run's concurrency; re-entrant calls are folded into the loop."""
        key = (run.task, run.run)
        if key in self._launching or run.final:
            return
        self._launching.add(key)
        try:
            cap = run.concurrency or run.total
            while run.next_index < run.total and run.in_flight < cap and not run.final \
                    and self.head.ending is None:
                if self.head.status == ExecutionStatus.PAUSED:
                    run.held = True
                    return
                unit = self.session.unit(run, run.next_index)
                run.next_index += 1
                run.in_flight += 1
                assert unit is not None
                self.start_unit(run, unit)
        finally:
            self._launching.discard(key)
        self.maybe_complete(run)

    def start_unit(self, run: TaskRun, unit: Unit) -> None:
        spec = self.unit_spec(run, unit)
        kind = kind_for(spec)
        extra: dict[str, Any] = {"item": unit.item, "index": unit.index} if run.kind == "items" else {}
        if kind.needs_token:
            # 128 random bits from the OS (never the seeded rng): the token is the only proof a caller
            # may end this unit. Made once per unit; a step that is retried makes a new one, unsent.
            unit.token = "~".join([self.head.id, run.task, str(run.run), str(unit.index), secrets.token_hex(16)])
            extra["callback"] = {"token": unit.token}
        try:
            rendered = self.render(spec.input, self.context(extra=extra)) if spec.input is not None else {}
        except TemplateError as exc:
            return self.unit_finished(run, unit, UnitStatus.FAILED,
                                      error={"type": "TemplateError", "message": f"input: {exc}"})
        problem = kind.input_problem(spec, rendered)
        if problem is not None:
            return self.unit_finished(run, unit, UnitStatus.FAILED, error={"type": "TemplateError", "message": problem})
        unit.input = rendered
        self.dispatch_attempt(run, unit)

    def dispatch_attempt(self, run: TaskRun, unit: Unit) -> None:
        spec = self.unit_spec(run, unit)
        head = self.head
        unit.attempt += 1
        change_status(unit, UnitStatus.RUNNING)
        unit.held = False
        run.attempts = max(run.attempts, unit.attempt)
        a = (run.task, run.run, unit.index, unit.attempt)
        if spec.timeout is not None:
            try:
                seconds = self.render(spec.timeout, self.context())
                if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
                    raise TemplateError(f"timeout: expected a positive number of seconds, got {seconds!r}")
            except TemplateError as exc:
                return self.attempt_ended(run, unit, AttemptStatus.FAILED, None, {"type": "TemplateError", "message": str(exc)},
                                          retry=False)
            unit.timeout_timer = timer_key(head.id, "timeout", *a)
            self.timer(unit.timeout_timer, float(seconds), TimerFired(head.id, "timeout", *a))
        kind_for(spec).begin(self, run, unit, spec, a)

    # -- attempts ending ---------------------------------------------------------
    def on_attempt_finished(self, e: AttemptFinished) -> None:
        run = self.session.run(e.task, e.run)
        if run is None or run.final:
            return
        unit = self.session.unit(run, e.unit)
        if unit is None or unit.status != UnitStatus.RUNNING or unit.attempt != e.attempt:
            return  # duplicate, late (timed out, cancelled) or reordered
        status = AttemptStatus(e.status) if e.status in tuple(AttemptStatus) else AttemptStatus.FAILED
        if not self.unit_kind(run, unit).takes_outcome(unit, status):
            return  # e.g. a callback's acknowledgement; an inquiry is ended only by its answer
        self.attempt_ended(run, unit, status, e.result, e.error)

    def on_callback(self, e: CallbackReceived) -> None:
        where = parse_token(e.token)
        if where is None or where[0] != self.head.id:
            return
        run = self.session.run(where[1], where[2])
        if run is None or run.final:
            return
        unit = self.session.unit(run, where[3])
        if unit is None or unit.status != UnitStatus.RUNNING or unit.token != e.token:
            return
        if not self.unit_kind(run, unit).takes_callback(self, run, unit, e):
            return  # an inquiry is answered only through the inquiry API, a callback only through its own
        status = AttemptStatus.SUCCEEDED if e.status == AttemptStatus.SUCCEEDED else AttemptStatus.FAILED
        error = e.error or ({"type": "CallbackFailed", "message": "the callback reported a failure"}
                            if status == AttemptStatus.FAILED else None)
        self.attempt_ended(run, unit, status, e.result, error)

    def attempt_ended(self, run: TaskRun, unit: Unit, status: AttemptStatus, result: Any, error: Any,
                      retry: bool = True) -> None:
        if unit.timeout_timer:
            if status != AttemptStatus.TIMED_OUT:
                self.commands.append(CancelTimer(unit.timeout_timer))
            unit.timeout_timer = None
        if unit.timer:
            if status != AttemptStatus.SUCCEEDED:
                self.commands.append(CancelTimer(unit.timer))
            unit.timer = None
        self.unit_kind(run, unit).attempt_ended(self, run, unit, status)
        unit.result = result
        if status == AttemptStatus.SUCCEEDED:
            unit.error = None
            return self.unit_finished(run, unit, UnitStatus.SUCCEEDED)
        if error is None:
            error = {"type": "Timeout" if status == AttemptStatus.TIMED_OUT else "Error", "message": f"attempt {unit.attempt} {status}"}
        unit.error = error
        policy = self.unit_spec(run, unit).retry
        if retry and policy and unit.attempt <= policy.count and not self.head.final and self.head.ending is None:
            if policy.on_error is not None:
                ctx = self.context(status=status, result=result, error=error)
                try:
                    go = self.condition(policy.on_error, ctx)
                except TemplateError as exc:
                    self.authoring_error(run, "retry.on_error", policy.on_error, exc)
                    go = False
                if not go:
                    return self.unit_finished(run, unit, UnitStatus(status))
            delay = delay_before(policy, unit.attempt, self.rng)
            self.emit("task.retried", run, unit=unit.index, attempt=unit.attempt,
                      delay=delay, error=error)
            change_status(unit, UnitStatus.WAITING)
            if delay > 0:
                a = (run.task, run.run, unit.index, unit.attempt)
                unit.timer = timer_key(self.head.id, "retry", *a)
                self.timer(unit.timer, delay, TimerFired(self.head.id, "retry", *a))
            else:
                self.retry_now(run, unit)
            return
        self.unit_finished(run, unit, UnitStatus(status))

    def retry_now(self, run: TaskRun, unit: Unit) -> None:
        if self.head.status == ExecutionStatus.PAUSED:
            unit.held = True
            run.held = True
        else:
            self.dispatch_attempt(run, unit)

    def unit_finished(self, run: TaskRun, unit: Unit, status: UnitStatus, error: Any = None) -> None:
        change_status(unit, status)
        if error is not None:
            unit.error = error
        if run.kind == "single":
            # The run keeps the result and error; a copy in its unit would double the record.
            result, error = unit.result, unit.error if status != UnitStatus.SUCCEEDED else None
            unit.result = unit.error = None
            return self.finish_run(run, RunStatus(status), result, error)
        run.in_flight -= 1
        run.done += 1
        if status != UnitStatus.SUCCEEDED:
            run.failed_indexes.append(unit.index)
        self.launch_units(run)

    def maybe_complete(self, run: TaskRun) -> None:
        if run.final or run.kind == "single" or run.in_flight:
            return
        if run.done < run.total:
            if self.head.ending is None:
                return
            # Failing fast: the units never started will not start.
            for unit in self.session.cache_units(run)[run.next_index:]:
                change_status(unit, UnitStatus.CANCELLED)
            run.done = run.total
        units = self.session.units(run)
        task = self.spec.tasks[run.task]
        if run.kind == "items":
            result: Any = [u.result for u in units]
        else:
            result = {task.subtasks[u.index].name: u.result for u in units}
        if not run.failed_indexes:
            if any(u.status == UnitStatus.CANCELLED for u in units):
                return self.finish_run(run, RunStatus.CANCELLED, result, {
                    "type": "Cancelled", "message": "the workflow failed before every unit started"})
            return self.finish_run(run, RunStatus.SUCCEEDED, result)
        failed = sorted(run.failed_indexes)
        failed_units = [units[i] for i in failed]
        timed_out = all(u.status == UnitStatus.TIMED_OUT for u in failed_units)
        status = RunStatus.TIMED_OUT if timed_out else RunStatus.FAILED
        first = failed_units[0].error or {}
        if run.kind == "items":
            error = {"type": "ItemsFailed", "message": f"items {failed} failed; item {failed[0]}: "
                                                       f"{first.get('message', status)}", "failed_indexes": failed}
        else:
            names = [task.subtasks[i].name for i in failed]
            error = {"type": "ParallelFailed", "message": f"sub-tasks {names} failed; {names[0]}: "
                                                          f"{first.get('message', status)}", "failed": names}
        self.finish_run(run, status, result, error)

    # -- finishing runs and following transitions ----------------------------------
    def finish_run(self, run: TaskRun, status: RunStatus, result: Any = None, error: Any = None) -> None:
        change_status(run, status)
        run.result = result
        run.error = error
        run.finished_at = self.now
        run.held = False
        self.head.active -= 1
        self.emit(f"task.{status}", run, attempts=run.attempts, error=error,
                  duration=round(self.now - (run.started_at or self.now), 6))
        if self.head.ending is None and not self.head.final:
            self.follow(run)

    def follow(self, run: TaskRun) -> None:
        run.followed = True
        task = self.spec.tasks[run.task]
        ctx = self.context(current=run)
        if run.status == RunStatus.SUCCEEDED and not self.publish(run, task.publish, ctx, "publish"):
            return
        fired: list[tuple[Transition, tuple[str, ...], frozenset[str]]] = []
        for tr in task.next:
            if tr.outcomes is not None and run.status not in tr.outcomes:
                continue
            try:
                if tr.decision is not None:
                    chosen = self.decide(tr, ctx)
                    if chosen is not None:
                        fired.append((tr, chosen.do, chosen.commands))
                    continue
                if tr.when is not None and not self.condition(tr.when, ctx):
                    continue
            except TemplateError as exc:
                return self.authoring_error(run, f"{tr.origin}.when", getattr(exc, "expr", tr.when), exc)
            fired.append((tr, tr.do, tr.commands))
        for tr, _, _ in fired:
            if tr.publish and not self.publish(run, tr.publish, ctx, f"{tr.origin}.publish"):
                return
        failed = run.status in (RunStatus.FAILED, RunStatus.TIMED_OUT)
        error = run.error or {}
        told_to_fail = next((tr for tr, _, commands in fired if FAIL in commands), None)
        if told_to_fail is not None:
            why = f": {error.get('message', run.status)}" if failed else ""
            self.fail_workflow({"task": run.task, "type": "Failed",
                                "message": f"task {run.task} {run.status}{why}; its {told_to_fail.origin} "
                                           f"says 'do: fail'"})
            return
        targets = [name for _, do, _ in fired for name in do]
        noop = any(NOOP in commands for _, _, commands in fired)
        if failed and not targets and not noop:
            return self.unhandled(run)
        run.handled = failed
        for name in targets:
            self.fire_into(name, run.task)
        if failed and not noop and all(self.spec.tasks[n].join is not None for n in targets):
            self.hang_on_joins(run, targets)

    def unhandled(self, run: TaskRun) -> None:
        run.handled = False
        error = run.error or {}
        self.fail_workflow({"task": run.task, "type": error.get("type", "Error"),
                            "message": error.get("message", f"task {run.task} {run.status}")})

    # -- a failure fed only into joins (LANGUAGE §3.5) ----------------------------------
    def join_fate(self, name: str) -> str:
        """``ran`` (satisfied), ``dead`` (ended skipped, never satisfied) or ``waiting``."""
        state = self.session.task_state(name)
        if not state.join_done:
            return "waiting"
        latest = self.session.run(name, state.runs) if state.runs else None
        if latest is not None and latest.status == RunStatus.SKIPPED and (latest.error or {}).get("type") == "JoinNotSatisfied":
            return "dead"
        return "ran"

    def hang_on_joins(self, run: TaskRun, joins: list[str]) -> None:
        """A failure whose entries fired only into joins is handled only if one of them runs."""
        names = list(dict.fromkeys(joins))
        fates = {n: self.join_fate(n) for n in names}
        if "ran" in fates.values():
            return
        if all(f == "dead" for f in fates.values()):
            return self.unhandled(run)
        run.handled = False
        run.fed_joins = names
        for n in names:
            if fates[n] == "waiting":
                self.session.task_state(n).failed_feeders.append([run.task, run.run])

    def settle_feeders(self, join: str, ran: bool) -> None:
        """``join`` was satisfied (``ran``) or will never be: decide the failures that fed only joins."""
        state = self.session.task_state(join)
        feeders, state.failed_feeders = state.failed_feeders, []
        for task, number in feeders:
            run = self.session.run(task, number)
            if run is None or not run.fed_joins or run.handled:
                continue
            if ran:
                run.handled, run.fed_joins = True, []
            elif all(n == join or self.join_fate(n) == "dead" for n in run.fed_joins):
                run.fed_joins = []
                self.unhandled(run)

    def decide(self, tr: Transition, ctx: dict[str, Any]) -> Branch | None:
        """The first matching branch; a ``default`` branch only when no other matched."""
        default = None
        for branch in tr.decision or ():
            if branch.default and branch.when is None:
                default = branch
                continue
            try:
                if self.condition(branch.when, ctx):
                    return branch
            except TemplateError as exc:
                exc.expr = branch.when  # type: ignore[attr-defined]
                raise
            if branch.default:
                default = branch
        return default

    def publish(self, run: TaskRun, pairs: tuple[tuple[str, Any], ...], ctx: dict[str, Any], where: str) -> bool:
        for name, template in pairs:
            try:
                value = self.render(template, ctx)
            except TemplateError as exc:
                self.authoring_error(run, f"{where}.{name}", template, exc)
                return False
            self.session.set_var(name, value)
        return True

    # -- timers and control ----------------------------------------------------------
    def on_timer(self, e: TimerFired) -> None:
        if e.timer == "workflow_timeout":
            return self.stop(ExecutionStatus.TIMED_OUT, {"task": None, "type": "Timeout",
                                         "message": f"workflow timed out after {self.spec.timeout} s"})
        run = self.session.run(e.task or "", e.run)
        if run is None or run.final:
            return
        unit = self.session.unit(run, e.unit)
        if unit is None or unit.attempt != e.attempt:
            return
        if e.timer == "retry" and unit.status == UnitStatus.WAITING and unit.timer:
            unit.timer = None
            self.retry_now(run, unit)
        elif e.timer == "timeout" and unit.status == UnitStatus.RUNNING and unit.timeout_timer:
            unit.timeout_timer = None
            seconds = self.unit_spec(run, unit).timeout
            if isinstance(seconds, str):  # a template: say the number it gave when the attempt started
                try:
                    seconds = self.render(seconds, self.context())
                except TemplateError:
                    pass
            self.attempt_ended(run, unit, AttemptStatus.TIMED_OUT, None, {
                "type": "Timeout", "message": f"attempt {unit.attempt} timed out after {seconds} s"})

    def on_control(self, e: ControlRequested) -> None:
        head = self.head
        if e.action == "cancel":
            self.reason = e.reason
            self.stop(ExecutionStatus.CANCELLED, None)
        elif e.action == "fail":  # the transport gave up on one of this execution's messages
            self.stop(ExecutionStatus.FAILED, {"task": None, "type": "PoisonMessage", "message": e.reason or "poison message"})
        elif e.action == "stuck":  # the reconciler found it past its deadline, re-sending did not help
            self.stop(ExecutionStatus.FAILED, {"task": None, "type": "Stuck", "message": e.reason or "stuck"})
        elif e.action == "pause" and head.status == ExecutionStatus.RUNNING:
            change_status(head, ExecutionStatus.PAUSED)
            self.emit("workflow.paused", **({"reason": e.reason} if e.reason else {}))
            self.signal_children("pause")
        elif e.action == "resume" and head.status == ExecutionStatus.PAUSED:
            change_status(head, ExecutionStatus.RUNNING)
            self.emit("workflow.resumed", **({"reason": e.reason} if e.reason else {}))
            self.signal_children("resume")
            for run in self.session.all_runs():
                if not run.held or run.final:
                    continue
                run.held = False
                if run.status == RunStatus.PENDING:
                    self.start_run(run)
                    continue
                for unit in self.session.cache_units(run):
                    if unit.held and unit.status == UnitStatus.WAITING:
                        self.dispatch_attempt(run, unit)
                self.launch_units(run)

    def on_redrive(self) -> None:
        """Rerun a failed or timed-out execution: each unhandled failed, timed-out or cancelled
        task run gets a new run; runs whose transitions fail-fast skipped are followed now."""
        head = self.head
        if head.status not in (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT):
            return
        runs = self.session.all_runs()
        latest: dict[str, TaskRun] = {}
        for run in runs:
            latest[run.task] = run
        # A run whose entry said 'do: fail' ran again: it is what failed the workflow.
        told_to_fail = head.error.get("task") if (head.error or {}).get("type") == "Failed" else None
        change_status(head, ExecutionStatus.RUNNING)
        head.ending, head.error, head.output, head.finished_at = None, None, None, None
        head.redrives += 1
        self.emit("workflow.redriven", redrive=head.redrives)
        if self.spec.timeout:
            self.timer(timer_key(head.id, f"workflow_timeout.{head.redrives}"), self.spec.timeout,
                       TimerFired(head.id, "workflow_timeout"))
        for run in runs:
            if latest[run.task] is not run:
                continue
            if run.status in (RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.CANCELLED) and not run.handled or run.task == told_to_fail:
                self.create_run(run.task)
            elif not run.followed and run.status in (RunStatus.SUCCEEDED, RunStatus.SKIPPED, RunStatus.FAILED,
                                                     RunStatus.TIMED_OUT):
                self.follow(run)

    def signal_children(self, action: str) -> None:
        for run in self.session.all_runs():
            if run.final or not self.spec.tasks[run.task].workflow and run.kind != "parallel":
                continue
            for unit in self.session.units(run):
                if unit.child_id and unit.status == UnitStatus.RUNNING:
                    self.commands.append(SendEvent(ControlRequested(unit.child_id, action).to_dict()))

    def stop(self, status: ExecutionStatus, error: dict[str, Any] | None) -> None:
        """End the workflow now (cancel, workflow timeout): cancel everything still active."""
        for run in self.session.all_runs():
            if not run.final:
                self.cancel_run(run)
        self.head.ending = None
        self.head.error = error
        self.finish_workflow(status)

    def cancel_run(self, run: TaskRun) -> None:
        for unit in self.session.cache_units(run):
            if unit.status in (UnitStatus.RUNNING, UnitStatus.WAITING, UnitStatus.PENDING):
                for key in (unit.timer, unit.timeout_timer):
                    if key:
                        self.commands.append(CancelTimer(key))
                unit.timer = unit.timeout_timer = None
                self.unit_kind(run, unit).cancel(self, run, unit)
                change_status(unit, UnitStatus.CANCELLED)
        change_status(run, RunStatus.CANCELLED)
        run.held = False
        run.finished_at = self.now
        self.head.active -= 1
        self.emit("task.cancelled", run)

    # -- ending the workflow --------------------------------------------------------
    def settle(self) -> None:
        head = self.head
        while head.active == 0 and not head.final:
            if head.ending is not None:
                return self.finish_workflow(ExecutionStatus(head.ending))
            if self.resolve_unsatisfiable_join():
                continue
            try:
                head.output = self.render(self.spec.output, self.context()) if self.spec.output is not None else None
            except TemplateError as exc:
                head.error = {"task": None, "type": "TemplateError", "message": f"output: {exc}"}
                return self.finish_workflow(ExecutionStatus.FAILED)
            return self.finish_workflow(ExecutionStatus.SUCCEEDED)

    def resolve_unsatisfiable_join(self) -> bool:
        """With nothing left running, a join still waiting can never fire: skip it (LANGUAGE §4)."""
        for name, task in self.spec.tasks.items():
            if task.join is None:
                continue
            state = self.session.peek_task_state(name)
            if state is None or not state.arrivals or state.join_done:
                continue
            state = self.session.task_state(name)
            state.join_done = True
            arrived = set(self.session.arrivals(name))
            waiting = [s for s in self.spec.inbound[name] if s not in arrived]
            if state.failed_feeders:  # before the skipped run is followed: failing fast starts nothing
                self.settle_feeders(name, ran=False)
            self.create_run(name, skipped_reason=f"join not satisfied: waiting on [{', '.join(waiting)}]")
            return True
        return False

    def finish_workflow(self, status: ExecutionStatus) -> None:
        head = self.head
        change_status(head, status)
        head.ending = None
        head.finished_at = self.now
        if status != ExecutionStatus.SUCCEEDED:
            head.output = None
        if self.spec.timeout:
            suffix = f".{head.redrives}" if head.redrives else ""
            self.commands.append(CancelTimer(timer_key(head.id, f"workflow_timeout{suffix}")))
        reason = self.reason if status == ExecutionStatus.CANCELLED else None
        self.emit(f"workflow.{status}", error=head.error, output=head.output,
                  duration=round(self.now - head.created_at, 6), **({"reason": reason} if reason else {}))
        parent = head.parent
        if parent:
            if status == ExecutionStatus.SUCCEEDED:
                done = AttemptFinished(parent["execution_id"], parent["task"], parent["run"], parent["unit"],
                                       parent["attempt"], AttemptStatus.SUCCEEDED.value, head.output)
            else:
                detail = (head.error or {}).get("message", status)
                done = AttemptFinished(parent["execution_id"], parent["task"], parent["run"], parent["unit"],
                                       parent["attempt"], AttemptStatus.FAILED.value, None, {
                                           "type": "ChildWorkflow" + status.title().replace("_", ""),
                                           "message": f"child workflow {head.workflow} ({head.id}) {status}: {detail}",
                                           "execution_id": head.id})
            self.commands.append(SendEvent(done.to_dict()))
