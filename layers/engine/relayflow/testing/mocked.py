"""The in-memory stack with mocked tasks."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..actions.allowlist import ActionModules
from ..actions.builtin import default_registry
from ..attempts import AttemptAddress
from ..core.conductor import ASK_ACTION
from ..core.messages import (
    DispatchAttempt,
    StartChild,
    StartTimer,
)
from ..core.records import RUNNING, Unit
from ..core.spec import WorkflowSpec
from ..engine import Engine
from ..harness import MemoryStack
from ..ports import ExecutionEvent
from .model import CALLBACK, Mock, MockRefused, Outcome
from .reader import schema_problem, schema_validator


class _MockedEngine(Engine):
    """The engine, starting no child execution for a mocked ``workflow:`` task: the stack's scan
    answers the task instead."""

    mocked: Callable[[AttemptAddress], Outcome | None] = staticmethod(lambda address: None)

    def start_child(self, cmd: StartChild) -> None:
        if self.mocked(AttemptAddress.from_dict(cmd.parent)) is None:
            super().start_child(cmd)


class MockedStack(MemoryStack):
    """The memory stack with mocked tasks: ``execute`` answers dispatched attempts, and a scan
    before every step answers attempts that never reach a worker (sleeps, child workflows, waits)."""

    engine_class = _MockedEngine

    def __init__(self, mocks: dict[str, dict[str, Mock]], modules: ActionModules | None = None):
        super().__init__(registry=default_registry(modules), seed=0)
        self.mocks = mocks
        self.answered: set[AttemptAddress] = set()
        if isinstance(self.engine, _MockedEngine):
            self.engine.mocked = self._outcome

    def _spec_of(self, execution_id: str) -> WorkflowSpec | None:
        head = self.store.get_execution(execution_id)
        if head is None:
            return None
        return self.engine.spec(head.workflow, head.spec_version)

    def _outcome(self, address: AttemptAddress) -> Outcome | None:
        spec = self._spec_of(address.execution_id)
        if spec is None or spec.name not in self.mocks:
            return None
        mocks = self.mocks[spec.name]
        task, unit = address.task, address.unit
        tspec = spec.tasks.get(task)
        if tspec is None:
            return None
        if tspec.type == "parallel" and unit < len(tspec.subtasks):
            mock = mocks.get(f"{task}/{tspec.subtasks[unit].name}")
            index = None
        else:
            mock = mocks.get(task)
            index = unit if tspec.with_items is not None else None
        if mock is None:
            return None
        outcome = mock.outcome(address.run, index, address.attempt)
        return None if outcome is None or outcome.kind == "real" else outcome

    def _unit(self, address: AttemptAddress) -> Unit | None:
        record = self.store.get_run(address.execution_id, address.task, address.run)
        if record is not None and record.kind == "single":
            return record.unit
        return self.store.get_unit(address.execution_id, address.task, address.run, address.unit)

    def _answer(self, address: AttemptAddress, outcome: Outcome, unit: Unit | None) -> ExecutionEvent | None:
        """The outcome's message, or None when it hangs or arrives later (on a timer).

        A unit waiting for the outside world (a ``core.ask`` inquiry, a ``callback: true``
        task) holds a token; its result or failure comes back through that token, as the
        approval API or the callback would deliver it.
        """
        self.answered.add(address)
        eid, task, index = address.execution_id, address.task, address.unit
        token = getattr(unit, "token", None) if unit is not None else None
        message: ExecutionEvent
        if outcome.kind == "timeout":
            if unit is not None and unit.timeout_timer:
                return None  # hangs; the task's own timeout fires
            message = address.finished("timed_out", None, {
                "type": "Timeout", "message": f"attempt {address.attempt} timed out (mocked)"})
        elif token and CALLBACK is not None:
            status = "failed" if outcome.kind == "fail" else "succeeded"
            if status == "succeeded":
                self._check_answer(eid, task, index, unit, outcome.result)
            # through the door the real answer would use: the inquiry API for core.ask, the callback API otherwise
            via = "inquiry" if self.store.get_inquiry(token) is not None else "callback"
            message = CALLBACK(eid, token, status, outcome.result,
                               dict(outcome.error or {}) if outcome.kind == "fail" else None,
                               via=via, by="relayflow test (mock)")
        elif outcome.kind == "fail":
            message = address.finished("failed", outcome.result, dict(outcome.error or {}))
        else:
            message = address.finished("succeeded", outcome.result)
        if outcome.after > 0:
            self.timers.start(StartTimer(f"mock/{address.key}", self.clock.now() + outcome.after, message.to_dict()))
            return None
        return message

    def _check_answer(self, eid: str, task: str, index: int, unit: Unit | None, answer: Any) -> None:
        """A mocked core.ask answer is held to the schema the inquiry was opened with, as the API holds
        a real one; the schema is the rendered input's, so a templated schema is checked too."""
        spec = self._spec_of(eid)
        if spec is None or task not in spec.tasks:
            return
        owner = spec.tasks[task]
        action = owner.subtasks[index].action if owner.type == "parallel" else owner.action
        schema = (unit.input or {}).get("schema") if action == ASK_ACTION and unit is not None and isinstance(
            unit.input, dict) else None
        validate = schema_validator(schema) if isinstance(schema, dict) else None
        problem = schema_problem(validate, answer) if validate is not None else None
        if problem:
            raise MockRefused(f"the mocked answer to {task} does not match its schema ({problem}); the approval "
                              "API would refuse it")

    def execute(self, cmd: DispatchAttempt) -> ExecutionEvent | None:
        address = AttemptAddress.of(cmd)
        outcome = self._outcome(address)
        if outcome is None:
            self.answered.add(address)
            return super().execute(cmd)
        if address in self.answered:  # a duplicate delivery: the answer is on its way
            return None
        unit = self._unit(address)
        if cmd.callback and getattr(unit, "token", None) and CALLBACK is not None:
            # the action hands out its token (the worker's ack); the mocked outcome comes back through it
            message = self._answer(address, outcome, unit)
            if message is not None:
                self.event_queue.send(message)
            return address.finished("succeeded", None)
        return self._answer(address, outcome, unit)

    def _scan(self) -> bool:
        """Answer running attempts of mocked tasks that no worker will see; True if any."""
        queued = {AttemptAddress.of(m) for m in self.task_queue.messages if isinstance(m, DispatchAttempt)}
        answered_any = False
        for head in list(self.store.executions.values()):
            if head.final or head.workflow not in self.mocks:
                continue
            names = {label.split("/", 1)[0] for label in self.mocks[head.workflow]}
            for run in self.store.list_runs(head.id):
                if run.final or run.task not in names:
                    continue
                units = [run.unit] if run.kind == "single" else self.store.list_units(head.id, run.task, run.run)
                for unit in units:
                    if unit is None or unit.status != RUNNING:
                        continue
                    address = AttemptAddress(head.id, run.task, run.run, unit.index, unit.attempt)
                    if address in self.answered or address in queued:
                        continue
                    outcome = self._outcome(address)
                    if outcome is None:
                        continue
                    if unit.timer:  # a core.sleep (or similar) timer the mock replaces
                        self.timers.cancel(unit.timer)
                    message = self._answer(address, outcome, unit)
                    if message is not None:
                        self.event_queue.send(message)
                    answered_any = True
        return answered_any

    def step(self) -> bool:
        if self.mocks:
            self._scan()
        if super().step():
            return True
        return bool(self.mocks) and self._scan()
