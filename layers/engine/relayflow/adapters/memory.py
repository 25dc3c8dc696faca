"""In-memory twins of every port: for tests, the benchmark and ``--backend memory``."""
from __future__ import annotations

import bisect
import heapq
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from ..core import values
from ..core.errors import ConflictError
from ..core.messages import Emit, Message, StartTimer
from ..core.records import RUNNING, Execution, TaskRun, TaskState, Unit, history
from ..core.session import Changes
from ..core.spec import WorkflowSpec
from ..core.versioning import spec_version
from ..errors import UnknownWorkflowError
from ..ports import Due, DuePage, Encodable


class MemoryStore:
    """Records in dictionaries; a commit is applied whole, guarded by the head's version."""

    def __init__(self, clock: Callable[[], float] | None = None, retention_days: int = 30) -> None:
        self.clock = clock or time.time
        self.retention = retention_days * 86_400
        # nothing here is deleted by a TTL: the expiry an execution's records were swept to
        # (DynamoStore.sweep) is kept per execution, so the sweep is seen on this backend too
        self.expires: dict[str, float | None] = {}
        self.executions: dict[str, Execution] = {}
        self.task_states: dict[tuple[str, str], TaskState] = {}
        self.runs: dict[tuple[str, str, int], TaskRun] = {}
        self.run_order: dict[str, list[tuple[int, str, int]]] = {}
        self.units: dict[tuple[str, str, int], dict[int, Unit]] = {}
        self.vars: dict[str, dict[str, Any]] = {}
        self.inquiries: dict[str, dict[str, Any]] = {}
        # join arrivals in order of arrival; a dict so a lookup stays O(1) in wide fan-outs
        self.arrivals: dict[tuple[str, str], dict[str, None]] = {}
        self.commits = 0
        self.claims: dict[tuple[str, str], str] = {}
        self.marks: dict[str, str] = {}

    def create_execution(self, execution: Execution) -> bool:
        if execution.id in self.executions:
            return False
        self.executions[execution.id] = execution.clone()
        self.vars[execution.id] = {}
        self.run_order[execution.id] = []
        return True

    def get_execution(self, execution_id: str) -> Execution | None:
        return self.executions.get(execution_id)

    def get_task_state(self, execution_id: str, task: str, joins: bool = True) -> TaskState | None:
        return self.task_states.get((execution_id, task))

    def get_run(self, execution_id: str, task: str, run: int) -> TaskRun | None:
        return self.runs.get((execution_id, task, run))

    def get_unit(self, execution_id: str, task: str, run: int, index: int) -> Unit | None:
        return self.units.get((execution_id, task, run), {}).get(index)

    def list_units(self, execution_id: str, task: str, run: int) -> list[Unit]:
        units = self.units.get((execution_id, task, run), {})
        return [units[i] for i in sorted(units)]

    def get_var(self, execution_id: str, name: str) -> tuple[bool, Any]:
        scope = self.vars.get(execution_id, {})
        return (True, scope[name]) if name in scope else (False, None)

    def list_vars(self, execution_id: str) -> dict[str, Any]:
        return dict(self.vars.get(execution_id, {}))

    def has_arrival(self, execution_id: str, task: str, source: str) -> bool:
        return source in self.arrivals.get((execution_id, task), ())

    def list_arrivals(self, execution_id: str, task: str) -> list[str]:
        return list(self.arrivals.get((execution_id, task), ()))

    def list_runs(self, execution_id: str) -> list[TaskRun]:
        return [self.runs[(execution_id, t, n)] for _, t, n in self.run_order.get(execution_id, [])]

    def commit(self, changes: Changes) -> None:
        head = changes.execution
        current = self.executions.get(head.id)
        if current is None or current.version != changes.expected_version:
            raise ConflictError(f"execution {head.id} changed since it was read")
        eid = head.id
        self.executions[eid] = head
        for state in changes.task_states:
            self.task_states[(eid, state.task)] = state
        order = self.run_order[eid]
        for run in changes.runs:
            key = (eid, run.task, run.run)
            if key not in self.runs:
                bisect.insort(order, (run.seq, run.task, run.run))
            self.runs[key] = run
        for task, run_no, unit in changes.units:
            self.units.setdefault((eid, task, run_no), {})[unit.index] = unit
        self.vars[eid].update(changes.vars)
        for task, source in changes.arrivals:
            self.arrivals.setdefault((eid, task), {})[source] = None
        if changes.whole:  # written with their expiry, as DynamoStore does: no sweep follows
            self.expires[eid] = (head.finished_at or 0) + self.retention
        self.commits += 1

    def mark_failed(self, execution_id: str, error: dict[str, Any]) -> bool:
        head = self.executions.get(execution_id)
        if head is None or head.final:
            return False
        head = head.clone()
        head.status, head.error, head.ending, head.finished_at = "failed", error, None, self.clock()
        head.version += 1
        self.executions[execution_id] = head
        return True

    def clear_deadline(self, execution_id: str, deadline: float) -> bool:
        head = self.executions.get(execution_id)
        if head is None or head.final or head.deadline != deadline:
            return False
        head = head.clone()
        head.deadline = None
        self.executions[execution_id] = head
        return True

    def sweep(self, execution_id: str, after: str | None) -> str | None:
        head = self.executions.get(execution_id)
        if head is not None:  # all at once: there are no pages here
            self.expires[execution_id] = (head.finished_at or 0) + self.retention if head.final else None
        return None

    def get_mark(self, name: str) -> str | None:
        return self.marks.get(name)

    def put_mark(self, name: str, value: str | None) -> None:
        if value is None:
            self.marks.pop(name, None)
        else:
            self.marks[name] = value

    def list_due(self, until: float | None = None, limit: int = 100, after: str | None = None) -> DuePage:
        rows = sorted((f"{e.deadline:017.6f}#{e.id}", e) for e in self.executions.values()
                      if e.status == RUNNING and e.deadline is not None and (until is None or e.deadline <= until))
        if after is not None:
            rows = rows[bisect.bisect_right([key for key, _ in rows], after):]
        page = rows[:limit]
        return ([Due(e.id, e.deadline, key) for key, e in page if e.deadline is not None],
                page[-1][0] if len(rows) > limit else None)

    def claim_attempt(self, execution_id: str, attempt_key: str, owner: str, expire: bool = False) -> bool:
        return self.claims.setdefault((execution_id, attempt_key), owner) == owner

    def get_history(self, execution_id: str) -> list[dict[str, Any]]:
        head = self.executions.get(execution_id)
        return history(head, self.list_runs(execution_id)) if head else []

    def put_inquiry(self, inquiry: dict[str, Any]) -> None:
        self.inquiries[inquiry["id"]] = dict(inquiry)

    def get_inquiry(self, inquiry_id: str) -> dict[str, Any] | None:
        inquiry = self.inquiries.get(inquiry_id)
        return dict(inquiry) if inquiry else None

    def list_inquiries(self, status: str | None = None) -> list[dict[str, Any]]:
        return sorted((dict(i) for i in self.inquiries.values() if status is None or i["status"] == status),
                      key=lambda i: i["created_at"])

    def answer_inquiry(self, inquiry_id: str, response: Any, at: float, by: str | None = None) -> bool:
        inquiry = self.inquiries.get(inquiry_id)
        if inquiry is None or inquiry["status"] != "pending":
            return False
        inquiry.update(status="answered", response=response, answered_at=at, answered_by=by)
        return True

    def close_inquiry(self, inquiry_id: str, status: str) -> None:
        inquiry = self.inquiries.get(inquiry_id)
        if inquiry is not None and inquiry["status"] == "pending":
            inquiry["status"] = status

    def query_executions(self, workflow: str, status: str | None = None, limit: int = 50,
                         before: str | None = None) -> tuple[list[Execution], str | None]:
        """A page of ``workflow``'s executions, newest first, optionally of one ``status``.

        ``before`` is the cursor a previous page returned; the second value is the cursor of
        the next page, None after the last. Cursors sort like DynamoStore's (created_at#id).
        """
        rows = sorted(((f"{e.created_at:017.6f}#{e.id}", e) for e in self.executions.values()
                       if e.workflow == workflow and (status is None or e.status == status)
                       ), key=lambda row: row[0], reverse=True)
        if before is not None:
            rows = [row for row in rows if row[0] < before]
        page = rows[:limit]
        return [e.clone() for _, e in page], (page[-1][0] if len(rows) > limit else None)


class MemoryWorkflows:
    def __init__(self) -> None:
        self._specs: dict[tuple[str, str], WorkflowSpec] = {}
        self._latest: dict[str, str] = {}

    def register(self, spec: WorkflowSpec) -> str:
        version = spec_version(spec)
        self._specs[(spec.name, version)] = spec
        self._latest[spec.name] = version
        return version

    def get(self, name: str, version: str | None = None) -> WorkflowSpec:
        latest = self._latest.get(name) if version is None else version
        spec = self._specs.get((name, latest)) if latest is not None else None
        if spec is None:
            raise UnknownWorkflowError(name, version)
        return spec

    def names(self) -> list[str]:
        return sorted(self._latest)

    def versions(self, name: str) -> list[str]:
        return [version for (n, version) in self._specs if n == name]


class MemoryQueue:
    """A FIFO queue; the harness decides the order of delivery.

    A message is carried as JSON, as SQS carries it: what is delivered is what reads
    back from its JSON text, and a message JSON cannot carry is refused on send."""

    def __init__(self) -> None:
        self.messages: deque[Message] = deque()
        self.sent = 0

    def send(self, message: Encodable) -> None:
        data = message.to_dict()
        self.messages.append(Message.from_dict(values.to_json(data, f"a {data.get('kind')} message")))
        self.sent += 1

    def send_all(self, messages: Sequence[Encodable]) -> None:
        for message in messages:
            self.send(message)

    def __len__(self) -> int:
        return len(self.messages)


class MemoryTimers:
    """One-time timers, fired by whoever drives the clock."""

    def __init__(self) -> None:
        self.pending: dict[str, StartTimer] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._n = 0

    def start(self, timer: StartTimer) -> None:
        if timer.key in self.pending:
            return  # same key, same timer: a repeated step
        timer = StartTimer(timer.key, timer.due, values.to_json(timer.event, "a timer's event"))
        self.pending[timer.key] = timer
        self._n += 1
        heapq.heappush(self._heap, (timer.due, self._n, timer.key))

    def cancel(self, key: str) -> None:
        self.pending.pop(key, None)

    def next_due(self) -> float | None:
        while self._heap and self._heap[0][2] not in self.pending:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[StartTimer]:
        due = []
        while self._heap and self._heap[0][0] <= now:
            _, _, key = heapq.heappop(self._heap)
            timer = self.pending.pop(key, None)
            if timer is not None:
                due.append(timer)
        return due


class MemoryBus:
    def __init__(self) -> None:
        self.events: list[Emit] = []
        self.subscribers: list[Callable[[Emit], None]] = []
        self.keep = True

    def emit_all(self, events: list[Emit]) -> None:
        for event in events:
            if self.keep:
                self.events.append(event)
            for fn in self.subscribers:
                fn(event)
