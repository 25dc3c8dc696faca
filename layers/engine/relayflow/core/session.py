"""A unit of work over one execution's records.

The conductor reads records through a session, which loads each one at most
once, tracks what changed, and hands the store one :class:`Changes` to commit.
Reads made only to render templates (``peek_*``) never mark a record dirty,
so a step writes exactly the records it changed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .records import Execution, TaskRun, TaskState, Unit

_MISSING = object()


class StateReader(Protocol):
    """The read side of the store that a session needs (see ``relayflow.ports``)."""

    def get_execution(self, execution_id: str) -> Execution | None: ...
    def get_task_state(self, execution_id: str, task: str, joins: bool = True) -> TaskState | None:
        """The task's run counter and join state; ``joins=False`` tells the store the task is no
        join, so it keeps no record of its own (its counter comes from its runs)."""
    def get_run(self, execution_id: str, task: str, run: int) -> TaskRun | None: ...
    def get_unit(self, execution_id: str, task: str, run: int, index: int) -> Unit | None: ...
    def list_units(self, execution_id: str, task: str, run: int) -> list[Unit]: ...
    def get_var(self, execution_id: str, name: str) -> tuple[bool, Any]: ...
    def has_arrival(self, execution_id: str, task: str, source: str) -> bool: ...
    def list_arrivals(self, execution_id: str, task: str) -> list[str]: ...
    def list_vars(self, execution_id: str) -> dict[str, Any]: ...
    def list_runs(self, execution_id: str) -> list[TaskRun]:
        """Every run of the execution, in start order."""


class _Unstarted:
    """The records of an execution whose start step has not committed: none (an attempt of the
    start step that died wrote only records no reader takes as committed). Its start step
    reads nothing, however many tasks it starts (or runs: local actions)."""

    def get_execution(self, execution_id: str) -> Execution | None:  # pragma: no cover - not a record read
        return None

    def get_task_state(self, execution_id: str, task: str, joins: bool = True) -> TaskState | None:
        return None

    def get_run(self, execution_id: str, task: str, run: int) -> TaskRun | None:
        return None

    def get_unit(self, execution_id: str, task: str, run: int, index: int) -> Unit | None:
        return None

    def list_units(self, execution_id: str, task: str, run: int) -> list[Unit]:
        return []

    def get_var(self, execution_id: str, name: str) -> tuple[bool, Any]:
        return False, None

    def has_arrival(self, execution_id: str, task: str, source: str) -> bool:
        return False

    def list_arrivals(self, execution_id: str, task: str) -> list[str]:
        return []

    def list_vars(self, execution_id: str) -> dict[str, Any]:
        return {}

    def list_runs(self, execution_id: str) -> list[TaskRun]:
        return []


@dataclass
class Changes:
    """Everything one step writes; ``expected_version`` guards the head."""

    execution: Execution
    expected_version: int
    task_states: list[TaskState] = field(default_factory=list)
    runs: list[TaskRun] = field(default_factory=list)
    units: list[tuple[str, int, Unit]] = field(default_factory=list)  # (task, run, unit)
    vars: dict[str, Any] = field(default_factory=dict)
    arrivals: list[tuple[str, str]] = field(default_factory=list)  # (join task, inbound task) that fired
    created: bool = False  # the head is new (first step of a fresh execution)
    # What each written record held before this step (None: it did not exist), so a
    # store that writes records before the head can tell readers the committed value.
    priors: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    # Names the attempt making these changes; a retry of the same messages reuses it, so a
    # store can let a redo overwrite its own crashed writes and refuse anyone else's.
    token: str = ""
    prior_status: str = ""  # the head's status before the step
    # The execution began and ended in this step: every record it has is this step's, written
    # with its expiry, so no sweep follows.
    whole: bool = False


class Session:
    def __init__(self, store: StateReader, execution: Execution, created: bool = False,
                 joins: frozenset[str] | None = None):
        self.store: StateReader = store if execution.started or execution.final else _Unstarted()
        self.execution = execution.clone()
        self.expected_version = execution.version
        self.prior_status = execution.status
        self.created = created
        self.id = execution.id
        self._states: dict[str, TaskState] = {}
        self._runs: dict[tuple[str, int], TaskRun] = {}
        self._units: dict[tuple[str, int, int], Unit] = {}
        self._vars: dict[str, Any] = {}
        self._arrivals: list[tuple[str, str]] = []
        self._loaded: dict[tuple[Any, ...], Any] = {}  # originals of loaded records, to write only changed ones
        # The workflow's join tasks (None: not known, any task may be one). Only a join gets
        # arrivals, so only a join may keep a task record; the others' state is their run counter.
        self._joins = joins

    # -- task state (run counter, join arrivals) --------------------------
    def task_state(self, task: str) -> TaskState:
        state = self._states.get(task)
        if state is None:
            stored = self._stored_state(task)
            state = stored.clone() if stored else TaskState(task)
            self._states[task] = state
            if stored is not None:
                self._loaded[("s", task)] = stored
        return state

    def peek_task_state(self, task: str) -> TaskState | None:
        return self._states.get(task) or self._stored_state(task)

    def _stored_state(self, task: str) -> TaskState | None:
        return self.store.get_task_state(self.id, task, joins=self._joins is None or task in self._joins)

    # -- runs -------------------------------------------------------------
    def run(self, task: str, run: int) -> TaskRun | None:
        key = (task, run)
        cached = self._runs.get(key)
        if cached is None:
            stored = self.store.get_run(self.id, task, run)
            if stored is None:
                return None
            cached = self._runs[key] = stored.clone()
            self._loaded[("r",) + key] = stored
        return cached

    def peek_run(self, task: str, run: int) -> TaskRun | None:
        return self._runs.get((task, run)) or self.store.get_run(self.id, task, run)

    def add_run(self, run: TaskRun) -> None:
        self._runs[(run.task, run.run)] = run

    def latest_run(self, task: str) -> TaskRun | None:
        state = self.peek_task_state(task)
        if state is None or state.runs == 0:
            return None
        return self.peek_run(task, state.runs)

    def all_runs(self) -> list[TaskRun]:
        """Every run (for pause, resume and cancel, which are rare), cached for changing."""
        for stored in self.store.list_runs(self.id):
            key = (stored.task, stored.run)
            if key not in self._runs:
                self._runs[key] = stored.clone()
                self._loaded[("r",) + key] = stored
        return sorted(self._runs.values(), key=lambda r: r.seq)

    # -- units ------------------------------------------------------------
    def unit(self, run: TaskRun, index: int) -> Unit | None:
        if run.kind == "single":
            return run.unit if index == 0 else None
        key = (run.task, run.run, index)
        cached = self._units.get(key)
        if cached is None:
            stored = self.store.get_unit(self.id, run.task, run.run, index)
            if stored is None:
                return None
            cached = self._units[key] = stored.clone()
            self._loaded[("u",) + key] = stored
        return cached

    def add_unit(self, run: TaskRun, unit: Unit) -> None:
        self._units[(run.task, run.run, unit.index)] = unit

    def units(self, run: TaskRun) -> list[Unit]:
        if run.kind == "single":
            return [run.unit] if run.unit else []
        merged = {u.index: u for u in self.store.list_units(self.id, run.task, run.run)}
        for (task, n, index), u in self._units.items():
            if task == run.task and n == run.run:
                merged[index] = u
        return [merged[i] for i in sorted(merged)]

    def cache_units(self, run: TaskRun) -> list[Unit]:
        """Like :meth:`units` but every unit returned may be changed."""
        out = []
        for u in self.units(run):
            key = (run.task, run.run, u.index)
            if key not in self._units:
                self._units[key] = u.clone()
                self._loaded[("u",) + key] = u
            out.append(self._units[key])
        return out

    # -- join arrivals --------------------------------------------------------
    def has_arrived(self, task: str, source: str) -> bool:
        return (task, source) in self._arrivals or self.store.has_arrival(self.id, task, source)

    def add_arrival(self, task: str, source: str) -> None:
        self._arrivals.append((task, source))

    def arrivals(self, task: str) -> list[str]:
        stored = self.store.list_arrivals(self.id, task)
        return stored + [s for t, s in self._arrivals if t == task and s not in stored]

    # -- variables ----------------------------------------------------------
    def var(self, name: str) -> tuple[bool, Any]:
        value = self._vars.get(name, _MISSING)
        if value is not _MISSING:
            return True, value
        return self.store.get_var(self.id, name)

    def set_var(self, name: str, value: Any) -> None:
        if ("v", name) not in self._loaded:
            found, prior = self.store.get_var(self.id, name) if name not in self._vars else (False, None)
            self._loaded[("v", name)] = (found, prior)
        self._vars[name] = value

    def all_vars(self) -> dict[str, Any]:
        merged = dict(self.store.list_vars(self.id))
        merged.update(self._vars)
        return merged

    def changes(self) -> Changes:
        head = self.execution
        head.version = self.expected_version + 1

        def changed(key: tuple[Any, ...], record: Any) -> bool:
            return bool(self._loaded.get(key) != record)

        return Changes(
            execution=head, expected_version=self.expected_version,
            task_states=[s for t, s in self._states.items() if changed(("s", t), s)],
            runs=[r for k, r in self._runs.items() if changed(("r",) + k, r)],
            units=[(k[0], k[1], u) for k, u in self._units.items() if changed(("u",) + k, u)],
            vars=dict(self._vars), arrivals=list(self._arrivals), created=self.created, priors=self._loaded,
            prior_status=self.prior_status,
        )
