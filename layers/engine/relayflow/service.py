"""What the API, `relayflow serve` and the CLI do with a stack, in one place.

Every operation a person or a client drives — register a workflow, start,
inspect, pause / resume / cancel, redrive, answer an inquiry, use a callback
token — goes through :class:`Service`, on the memory stack and on AWS alike.
Changes to an execution are sent as events to its queue, so they are applied
by the same single consumer as everything else.
"""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

from . import admission, schemas, usage
from .actions.registry import ActionRegistry
from .api.errors import BadRequest, Conflict, NotFound, ServiceError, TooLarge, UnsupportedMediaType
from .core import graph
from .core.conductor import parse_token
from .core.errors import InputError, ValidationError
from .core.inputs import check_input
from .core.loader import parse
from .core.messages import CallbackReceived, ControlRequested, RedriveRequested, StartRequested
from .core.records import (
    CANCELLED,
    FAILED,
    PAUSED,
    RUNNING,
    SUCCEEDED,
    TIMED_OUT,
    WORKFLOW_FINAL,
    Execution,
    TaskRun,
    run_timings,
    unit_timings,
)
from .core.spec import WorkflowSpec
from .core.versioning import spec_version
from .engine import Engine
from .errors import UnknownWorkflowError
from .ports import Clock, EventQueue, StateStore, WorkflowRegistry

CONTROL_ACTIONS = ("pause", "resume", "cancel")
EXECUTION_STATUSES = (RUNNING, PAUSED, SUCCEEDED, FAILED, TIMED_OUT, CANCELLED)
INQUIRY_STATUSES = ("pending", "answered", "timed_out", "cancelled", "failed")
MAX_PAGE = 100
# A definition is stored as one DynamoDB item (its text as JSON, at most 400 KB); keep a margin.
MAX_STORED_DEFINITION = 350_000
# Idempotency keys name executions through a uuid5 in this namespace.
IDEMPOTENCY_NAMESPACE = uuid.UUID("5d1c8f0e-7a43-4d7e-9a51-2f0b6c1d9e3a")


def _summary(head: Execution) -> dict[str, Any]:
    return {"execution_id": head.id, "workflow": head.workflow, "status": head.status,
            "created_at": head.created_at, "finished_at": head.finished_at, "error": head.error}


def _encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        data = None
    def short(value: Any, limit: int) -> bool:
        return value is None or (isinstance(value, str) and len(value) <= limit and value.isascii())

    # The cursor goes into a key condition: keep it to what this API writes (a name, created_at#id).
    if (not isinstance(data, dict) or not short(data.get("w"), 200) or not short(data.get("b"), 600)
            or not short(data.get("s"), 20) or not isinstance(data.get("a"), bool)):
        raise BadRequest("'next' is not a token this API returned")
    return data


def _problem(p: Any) -> dict[str, Any]:
    return {"line": p.line, "task": p.task, "field": p.field, "message": p.message,
            "severity": p.severity, "text": str(p)}


def items_progress(run: TaskRun) -> dict[str, int] | None:
    """How far a with_items or parallel run is: its units by state (None for a single-unit run)."""
    if run.kind == "single":
        return None
    failed = len(run.failed_indexes)
    return {"total": run.total, "succeeded": max(0, run.done - failed), "failed": failed,
            "running": run.in_flight, "pending": max(0, run.total - run.done - run.in_flight)}


def _sum_items(runs: list[TaskRun]) -> dict[str, int] | None:
    return items_progress(runs[0]) if runs else None


def run_summary(run: TaskRun) -> dict[str, Any]:
    unit = run.unit
    return {"run": run.run, "status": run.status, "kind": run.kind, "attempts": run.attempts,
            "started_at": run.started_at, "finished_at": run.finished_at, "error": run.error,
            "items": items_progress(run), "child_execution": unit.child_id if unit is not None else None,
            "attempt_timings": unit.attempt_timings() if unit is not None else []}


def control_reason(head: Execution) -> str | None:
    """The reason given with the last pause or cancel that took effect, while it holds."""
    wanted = {PAUSED: "workflow.paused", CANCELLED: "workflow.cancelled"}.get(head.status)
    last = next((e for e in reversed(head.events) if e["type"] == wanted), None) if wanted else None
    return last.get("reason") if last else None


def task_kind(task: Any) -> str:
    return task.action or (f"workflow {task.workflow}" if task.workflow else task.type)


class Service:
    def __init__(self, engine: Engine, store: StateStore, workflows: WorkflowRegistry, events: EventQueue, clock: Clock,
                 actions: ActionRegistry | None = None):
        self.engine, self.store, self.workflows, self.events, self.clock = engine, store, workflows, events, clock
        # What this deployment admits: python: actions from its declared modules only (none if not given).
        self.actions = actions or ActionRegistry()

    # -- workflows -------------------------------------------------------------
    def register_text(self, text: str, name: str | None = None, source: str = "<request>") -> dict[str, Any]:
        """Validate and store a definition; BadRequest lists every problem (each with its line)."""
        spec, problems = parse(text, source)
        if spec is None:
            errors = [p for p in problems if p.severity == "error"] or problems
            raise BadRequest(f"the workflow is invalid: {len(errors)} problem{'s' if len(errors) != 1 else ''}",
                             [_problem(p) for p in problems])
        if name is not None and spec.name != name:
            raise BadRequest(f"the workflow's name is {spec.name!r}, not {name!r} (the name in the path)")
        refused = admission.problems(spec, self.actions)
        if refused:
            first = refused[0]
            raise BadRequest(f"the workflow is not allowed here: task {first.task}: {first.message}"
                             + (f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""),
                             [_problem(p) for p in refused])
        if len(json.dumps({"text": spec.text, "source": spec.source})) > MAX_STORED_DEFINITION:
            raise TooLarge(f"the definition is too large to store (at most about {MAX_STORED_DEFINITION} bytes)")
        version = self.workflows.register(spec)
        return {"name": spec.name, "version": version, "tasks": len(spec.tasks),
                "warnings": [_problem(p) for p in problems]}

    def list_workflows(self) -> list[dict[str, Any]]:
        out = []
        for name in self.workflows.names():
            try:
                spec = self.workflows.get(name)
            except UnknownWorkflowError:  # listed by an eventually consistent index before its LATEST record
                continue
            out.append({"name": name, "version": spec_version(spec), "tasks": len(spec.tasks)})
        return out

    def workflow_info(self, name: str, version: str | None = None) -> dict[str, Any]:
        """A definition (the given version or the latest), its graph, and every version kept."""
        latest = self.get_workflow(name)
        spec = self.get_workflow(name, version) if version else latest
        return {
            "name": spec.name, "version": version or spec_version(latest),
            "latest": spec_version(latest), "versions": sorted(self.workflows.versions(name)),
            "tasks": [{"name": t, "kind": task_kind(task), "join": task.join is not None}
                      for t, task in spec.tasks.items()],
            "edges": self._edges(spec), "text": spec.text,
        }

    @staticmethod
    def _edges(spec: WorkflowSpec) -> list[dict[str, Any]]:
        return [{"from": name, "to": target, "label": label}
                for name, task in spec.tasks.items()
                for target, label in graph._edge_labels(task) if target in spec.tasks]

    def get_workflow(self, name: str, version: str | None = None) -> WorkflowSpec:
        try:
            return self.workflows.get(name, version)
        except UnknownWorkflowError as exc:
            raise NotFound(str(exc)) from None

    # -- executions --------------------------------------------------------------
    def start(self, workflow: str, input: Any = None, execution_id: str | None = None) -> str:
        self.get_workflow(workflow)
        try:
            return self.engine.start(workflow, input, execution_id=execution_id)
        except InputError as exc:
            raise BadRequest("the input does not match the workflow's inputs", exc.problems) from None

    def start_request(self, workflow: str, input: Any = None, version: str | None = None,
                      idempotency_key: str | None = None) -> tuple[str, bool]:
        """Start ``workflow``; with an ``idempotency_key`` a repeat returns the execution it started.

        Returns (execution id, created). The key names the execution (a uuid5 of the workflow
        and the key), so a repeat finds it; a repeat with a different input is a Conflict.
        """
        spec = self.get_workflow(workflow, version)
        if idempotency_key is None:
            return self._start(spec.name, input, None, version), True
        eid = uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{spec.name}\n{idempotency_key}").hex
        head = self.store.get_execution(eid)
        if head is None:
            return self._start(spec.name, input, eid, version), True
        try:
            same = check_input(self.get_workflow(head.workflow, head.spec_version), input) == head.input
        except InputError:
            same = False
        if not same:
            raise Conflict("this Idempotency-Key started an execution with a different input",
                           {"execution_id": eid})
        if not head.started and not head.final:
            # The first request wrote the head but its start message may never have left:
            # send it again (starting twice is a no-op, and FIFO drops a copy within 5 minutes).
            self.events.send(StartRequested(eid))
        return eid, False

    def _start(self, workflow: str, input: Any, execution_id: str | None, version: str | None) -> str:
        try:
            return self.engine.start(workflow, input, execution_id=execution_id, version=version)
        except InputError as exc:
            raise BadRequest("the input does not match the workflow's inputs", exc.problems) from None
        except UnknownWorkflowError as exc:
            raise NotFound(str(exc)) from None

    def list_executions(self, workflow: str | None = None, status: str | None = None, limit: int = 50,
                        next_token: str | None = None) -> dict[str, Any]:
        """A page of executions, newest first per workflow (workflows in name order when not given).

        ``next`` in the answer fetches the following page; it is None after the last one.
        """
        if status is not None and status not in EXECUTION_STATUSES:
            raise BadRequest(f"unknown status {status!r}; use one of {', '.join(EXECUTION_STATUSES)}")
        if not 1 <= limit <= MAX_PAGE:
            raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
        cursor: dict[str, Any] = {"w": None, "b": None, "s": status, "a": workflow is None}
        if next_token is not None:
            cursor = _decode_cursor(next_token)
            if cursor["s"] != status or cursor["a"] != (workflow is None) or (
                    workflow is not None and cursor["w"] != workflow):
                raise BadRequest("'next' belongs to a listing with other parameters")
        if workflow is not None:
            names = [workflow]
        else:
            names = sorted(self.workflows.names())
            if cursor["w"] is not None:
                names = [n for n in names if n >= cursor["w"]]
        page: list[Execution] = []
        before = cursor["b"]
        nxt_cursor: dict[str, Any] | None = None
        for i, name in enumerate(names):
            rows, after = self.store.query_executions(name, status, limit - len(page), before)
            page += rows
            before = None
            if after is not None:
                nxt_cursor = {"w": name, "b": after}
                break
            if len(page) >= limit:
                if i + 1 < len(names):
                    nxt_cursor = {"w": names[i + 1], "b": None}
                break
        return {"executions": [_summary(h) for h in page],
                "next": _encode_cursor({**nxt_cursor, "s": status, "a": workflow is None}) if nxt_cursor else None}

    def execution_view(self, execution_id: str) -> dict[str, Any]:
        """The execution on its graph: every task with its status, runs and attempts, the edges,
        the pending inquiries, and the same as Mermaid (what the graph page and
        ``relayflow graph --execution`` show)."""
        head = self.store.get_execution(execution_id)
        if head is None:
            raise NotFound(f"no execution {execution_id!r}")
        spec = self.get_workflow(head.workflow, head.spec_version)
        runs = self.store.list_runs(execution_id)
        tasks: list[dict[str, Any]] = []
        for name, task in spec.tasks.items():
            mine = [r for r in runs if r.task == name]
            tasks.append({
                "name": name, "kind": task_kind(task), "join": task.join is not None,
                "status": mine[-1].status if mine else "not_started",
                "attempts": sum(r.attempts for r in mine),
                "runs": [run_summary(r) for r in mine],
                "items": _sum_items([r for r in mine if r.kind != "single"][-1:]),
            })
        statuses = {t["name"]: t["status"] for t in tasks if t["runs"]}
        inquiries = [{"id": i["id"], "task": i["task"], "run": i["run"], "prompt": i.get("prompt")}
                     for i in self.store.list_inquiries("pending") if i.get("execution_id") == execution_id]
        return {"execution_id": head.id, "workflow": head.workflow, "version": head.spec_version,
                "status": head.status, "output": head.output, "error": head.error,
                "reason": control_reason(head), "parent": head.parent, "input": head.input,
                "created_at": head.created_at, "finished_at": head.finished_at,
                "tasks": tasks, "edges": self._edges(spec), "inquiries": inquiries,
                "mermaid": graph.to_mermaid(spec, statuses)}

    def run_detail(self, execution_id: str, task: str, run: int, offset: int = 0,
                   limit: int = 50, status: str | None = None) -> dict[str, Any]:
        """One task run: its input, result, error and timings, its events (one per attempt
        that failed and was retried), and a page of its items / sub-tasks with theirs
        (with ``status``, only the items in that status; ``offset`` counts those)."""
        if self.store.get_execution(execution_id) is None:
            raise NotFound(f"no execution {execution_id!r}")
        found = next((r for r in self.store.list_runs(execution_id) if r.task == task and r.run == run), None)
        if found is None:
            raise NotFound(f"no run {run} of task {task!r} in execution {execution_id}")
        out = run_summary(found)
        single = found.unit
        out.update(input=single.input if single else None, result=found.result, events=found.events,
                   units=[], next_offset=None, **run_timings(found))
        if found.kind != "single":
            units = sorted((u for u in self.store.list_units(execution_id, task, run)
                            if status is None or u.status == status), key=lambda u: u.index)
            page = units[offset:offset + limit]
            out["units"] = [{"index": u.index, "item": u.item, "status": u.status, "attempts": u.attempt,
                             "input": u.input, "result": u.result, "error": u.error,
                             "child_execution": u.child_id, **unit_timings(u)} for u in page]
            out["next_offset"] = offset + limit if offset + limit < len(units) else None
        return out

    def describe(self, execution_id: str, cost: bool = False) -> dict[str, Any]:
        """The execution as ``run --json`` prints it; with ``cost``, also its AWS requests by
        service and their dollar estimate so far (relayflow.usage)."""
        head = self.store.get_execution(execution_id)
        if head is None:
            raise NotFound(f"no execution {execution_id!r}")
        view: dict[str, Any] = dict(self.engine.describe(execution_id, timings=True))
        return {**view, "cost": usage.report(head.usage)} if cost else view

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        if self.store.get_execution(execution_id) is None:
            raise NotFound(f"no execution {execution_id!r}")
        return self.store.get_history(execution_id)

    def control(self, execution_id: str, action: str, reason: str | None = None) -> dict[str, Any]:
        if action not in CONTROL_ACTIONS:
            raise BadRequest(f"unknown action {action!r}; use one of {', '.join(CONTROL_ACTIONS)}")
        head = self.store.get_execution(execution_id)
        if head is None:
            raise NotFound(f"no execution {execution_id!r}")
        if head.status in WORKFLOW_FINAL:
            raise Conflict(f"execution {execution_id} has already ended ({head.status})")
        self.events.send(ControlRequested(execution_id, action, reason, uuid.uuid4().hex))
        return {"execution_id": execution_id, "requested": action}

    def redrive(self, execution_id: str) -> dict[str, Any]:
        head = self.store.get_execution(execution_id)
        if head is None:
            raise NotFound(f"no execution {execution_id!r}")
        if head.status not in (FAILED, TIMED_OUT):
            raise Conflict(f"only a failed or timed-out execution can be redriven; this one is {head.status}")
        self.events.send(RedriveRequested(execution_id, uuid.uuid4().hex))
        return {"execution_id": execution_id, "requested": "redrive"}

    # -- people and outside systems -----------------------------------------------
    def list_inquiries(self, status: str | None = None) -> list[dict[str, Any]]:
        if status is not None and status not in INQUIRY_STATUSES:
            raise BadRequest(f"unknown status {status!r}; use one of {', '.join(INQUIRY_STATUSES)}")
        return self.store.list_inquiries(status)

    def get_inquiry(self, inquiry_id: str) -> dict[str, Any]:
        inquiry = self.store.get_inquiry(inquiry_id)
        if inquiry is None:
            raise NotFound(f"no inquiry {inquiry_id!r}")
        return inquiry

    def respond(self, inquiry_id: str, response: Any, by: str | None = None) -> dict[str, Any]:
        """Answer a pending inquiry (the only way a ``core.ask`` ends well): the response must match
        the inquiry's schema; ``by`` (who answers) is kept on the inquiry and in the history."""
        inquiry = self.store.get_inquiry(inquiry_id)
        if inquiry is None:
            raise NotFound(f"no inquiry {inquiry_id!r}")
        if inquiry["status"] == "answered" and inquiry.get("response") == response:
            # A retry of a request whose event may not have left after the answer was recorded:
            # send it again (the conductor applies an inquiry's answer once).
            self.events.send(CallbackReceived(inquiry["execution_id"], inquiry_id, "succeeded", response,
                                              via="inquiry", by=inquiry.get("answered_by")))
            return {"inquiry": inquiry_id, "status": "answered"}
        if inquiry["status"] != "pending":
            raise Conflict(f"inquiry {inquiry_id} is {inquiry['status']}, not pending")
        schema = inquiry.get("schema")
        if schema:
            try:
                schemas.check(schema, response)
            except schemas.SchemaMismatch as exc:
                raise BadRequest(f"the response does not match the inquiry's schema: {exc}") from None
            except schemas.SchemaError as exc:
                raise BadRequest(f"the inquiry's schema is invalid: {exc}") from None
        if not self.store.answer_inquiry(inquiry_id, response, self.clock.now(), by):
            raise Conflict(f"inquiry {inquiry_id} was answered already")
        self.events.send(CallbackReceived(inquiry["execution_id"], inquiry_id, "succeeded", response,
                                          via="inquiry", by=by))
        return {"inquiry": inquiry_id, "status": "answered"}

    def callback(self, token: str, status: str, result: Any = None, error: Any = None,
                 by: str | None = None) -> dict[str, Any]:
        """End a ``callback: true`` task with its token; a success's result must match the task's
        ``callback.schema`` when it declares one. An inquiry's token is refused: only
        :meth:`respond` answers a ``core.ask`` (with its schema)."""
        where = parse_token(token)
        head = self.store.get_execution(where[0]) if where is not None else None
        if where is None or head is None:
            raise NotFound("unknown callback token")
        if status not in ("succeeded", "failed"):
            raise BadRequest("status must be succeeded or failed")
        if self.store.get_inquiry(token) is not None:
            raise Conflict("this token is an inquiry's: answer it with POST /inquiries/{id}/respond")
        task = self._task_of(head, where[1], where[3])
        if task is None or not task.callback:
            raise NotFound("unknown callback token")
        if status == "succeeded" and task.callback_schema is not None:
            try:
                schemas.check(task.callback_schema, result)
            except schemas.SchemaMismatch as exc:
                raise BadRequest(f"the result does not match task {where[1]}'s callback schema: {exc}") from None
            except schemas.SchemaError as exc:
                raise BadRequest(f"task {where[1]}'s callback schema is invalid: {exc}") from None
        if status == "failed" and not (isinstance(error, dict) and isinstance(error.get("message"), str)):
            error = {"type": "CallbackFailed", "message": str(error) if error else "the callback reported a failure"}
        self.events.send(CallbackReceived(where[0], token, status, result, error if status == "failed" else None,
                                          via="callback", by=by))
        return {"token": token, "status": status}

    def _task_of(self, head: Execution, task: str, unit: int) -> Any:
        """The spec of the task (or parallel sub-task) a token names, None when there is none."""
        try:
            spec = self.workflows.get(head.workflow, head.spec_version)
        except UnknownWorkflowError:
            return None
        found = spec.tasks.get(task)
        if found is not None and found.subtasks:
            return found.subtasks[unit] if 0 <= unit < len(found.subtasks) else None
        return found


__all__ = ["Service", "ServiceError", "BadRequest", "NotFound", "Conflict", "TooLarge", "UnsupportedMediaType",
           "ValidationError"]
