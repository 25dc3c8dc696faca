"""Creating and starting runs and units, dispatching attempts, and attempts ending."""
from __future__ import annotations

import secrets
from typing import Any

from .. import templates
from ..errors import TemplateError
from ..messages import (
    AttemptFinished,
    CallbackReceived,
    CancelTimer,
    TimerFired,
)
from ..records import TaskRun, Unit
from ..retry import delay_before
from ..spec import TaskSpec
from ..status import (
    AttemptStatus,
    ExecutionStatus,
    RunStatus,
    UnitStatus,
    change_status,
)
from ..units import kind_for, timer_key
from .base import ConductorBase, _json, parse_token


class RunSteps(ConductorBase):
    # -- creating and starting runs ----------------------------------------------------------
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
            need = len(self.spec.inbound[target]) if task.join == "all" else int(task.join)
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
        self.listener.run_started(run)
        ctx = self.context()
        if task.when is not None:
            try:
                go = self.guard(run, "when", task.when, ctx)
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
            raise TemplateError("with_items: expected a list, got an object (use keys(...) or values(...))")
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise TemplateError(f"with_items: expected a list, got {type(value).__name__}")
        items: list[Any] = _json(list(value))
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
        if run.kind != "single":
            self.listener.item_started(run, unit)
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
        unit.attempt_started(self.now)
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

    # -- attempts ending ---------------------------------------------------------------------
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
        unit.attempt_ended(self.now, status)
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
                    go = self.guard(run, "retry.on_error", policy.on_error, ctx)
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
        unit.ended(self.now)
        if error is not None:
            unit.error = error
        if run.kind == "single":
            # The run keeps the result and error; a copy in its unit would double the record.
            result, error = unit.result, unit.error if status != UnitStatus.SUCCEEDED else None
            unit.result = unit.error = None
            return self.finish_run(run, RunStatus(status), result, error)
        self.listener.item_finished(run, unit)
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

    def finish_run(self, run: TaskRun, status: RunStatus, result: Any = None, error: Any = None) -> None:
        change_status(run, status)
        run.result = result
        run.error = error
        run.finished_at = self.now
        run.held = False
        self.head.active -= 1
        self.emit(f"task.{status}", run, attempts=run.attempts, error=error,
                  duration=round(self.now - (run.started_at or self.now), 6))
        self.listener.run_finished(run)
        if self.head.ending is None and not self.head.final:
            self.follow(run)
