"""The conductor: one event in, record changes and commands out (see the package's docstring)."""
from __future__ import annotations

from typing import Any

from ..errors import InputError, TemplateError
from ..inputs import initial_vars
from ..messages import (
    AttemptFinished,
    CallbackReceived,
    CancelTimer,
    ControlRequested,
    Message,
    RedriveRequested,
    SendEvent,
    StartRequested,
    TimerFired,
)
from ..records import TaskRun
from ..status import (
    AttemptStatus,
    ExecutionStatus,
    RunStatus,
    UnitStatus,
    change_status,
)
from ..units import timer_key
from .transitions import TransitionSteps


class Conductor(TransitionSteps):
    # -- entry points ------------------------------------------------------------------------
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

    # -- timers and control ------------------------------------------------------------------
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
        error = head.error or {}
        told_to_fail = error.get("task") if error.get("type") == "Failed" else None
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
                if unit.status != UnitStatus.PENDING:
                    unit.attempt_ended(self.now, UnitStatus.CANCELLED)
                    unit.ended(self.now)
                change_status(unit, UnitStatus.CANCELLED)
        change_status(run, RunStatus.CANCELLED)
        run.held = False
        run.finished_at = self.now
        self.head.active -= 1
        self.emit("task.cancelled", run)
        self.listener.run_finished(run)

    # -- ending the workflow -----------------------------------------------------------------
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
