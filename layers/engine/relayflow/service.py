"""What the API, `relayflow serve` and the CLI do with a stack, in one place.

Every operation a person or a client drives — register a workflow, start,
inspect, pause / resume / cancel, redrive, answer an inquiry, use a callback
token — goes through :class:`Service`, on the memory stack and on AWS alike.
Changes to an execution are sent as events to its queue, so they are applied
by the same single consumer as everything else.
"""
from __future__ import annotations

import uuid
from typing import Any

import fastjsonschema

from .core.conductor import parse_token
from .core.errors import InputError, RelayflowError, ValidationError
from .core.loader import parse
from .core.messages import CallbackReceived, ControlRequested, RedriveRequested
from .core.records import FAILED, TIMED_OUT, WORKFLOW_FINAL
from .core.spec import WorkflowSpec
from .engine import Engine
from .ports import Clock, EventQueue, StateStore

CONTROL_ACTIONS = ("pause", "resume", "cancel")


class ServiceError(RelayflowError):
    status = 400
    type = "BadRequest"

    def __init__(self, message: str, details: Any = None):
        self.details = details
        super().__init__(message)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "message": str(self)}
        if self.details is not None:
            out["details"] = self.details
        return out


class BadRequest(ServiceError):
    pass


class NotFound(ServiceError):
    status, type = 404, "NotFound"


class Conflict(ServiceError):
    status, type = 409, "Conflict"


class Service:
    def __init__(self, engine: Engine, store: StateStore, workflows: Any, events: EventQueue, clock: Clock):
        self.engine, self.store, self.workflows, self.events, self.clock = engine, store, workflows, events, clock

    # -- workflows -------------------------------------------------------------
    def register_text(self, text: str, name: str | None = None, source: str = "<request>") -> dict[str, Any]:
        spec, problems = parse(text, source)
        if spec is None:
            raise BadRequest("the workflow is invalid", [str(p) for p in problems])
        if name is not None and spec.name != name:
            raise BadRequest(f"the workflow's name is {spec.name!r}, not {name!r}")
        version = self.workflows.register(spec)
        return {"name": spec.name, "version": version, "tasks": len(spec.tasks),
                "warnings": [str(p) for p in problems]}

    def get_workflow(self, name: str, version: str | None = None) -> WorkflowSpec:
        try:
            return self.workflows.get(name, version)
        except KeyError:
            raise NotFound(f"no workflow {name!r}" + (f" version {version!r}" if version else "")) from None

    # -- executions --------------------------------------------------------------
    def start(self, workflow: str, input: Any = None, execution_id: str | None = None) -> str:
        self.get_workflow(workflow)
        try:
            return self.engine.start(workflow, input, execution_id=execution_id)
        except InputError as exc:
            raise BadRequest("the input does not match the workflow's inputs", exc.problems) from None

    def describe(self, execution_id: str) -> dict[str, Any]:
        if self.store.get_execution(execution_id) is None:
            raise NotFound(f"no execution {execution_id!r}")
        return self.engine.describe(execution_id)

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
        return self.store.list_inquiries(status)

    def respond(self, inquiry_id: str, response: Any) -> dict[str, Any]:
        inquiry = self.store.get_inquiry(inquiry_id)
        if inquiry is None:
            raise NotFound(f"no inquiry {inquiry_id!r}")
        if inquiry["status"] != "pending":
            raise Conflict(f"inquiry {inquiry_id} is {inquiry['status']}, not pending")
        schema = inquiry.get("schema")
        if schema:
            try:
                fastjsonschema.compile(schema)(response)
            except fastjsonschema.JsonSchemaValueException as exc:
                raise BadRequest(f"the response does not match the inquiry's schema: {exc.message}") from None
            except fastjsonschema.JsonSchemaDefinitionException as exc:
                raise BadRequest(f"the inquiry's schema is invalid: {exc}") from None
        if not self.store.answer_inquiry(inquiry_id, response, self.clock.now()):
            raise Conflict(f"inquiry {inquiry_id} was answered already")
        self.events.send(CallbackReceived(inquiry["execution_id"], inquiry_id, "succeeded", response))
        return {"inquiry": inquiry_id, "status": "answered"}

    def callback(self, token: str, status: str, result: Any = None, error: Any = None) -> dict[str, Any]:
        where = parse_token(token)
        if where is None or self.store.get_execution(where[0]) is None:
            raise NotFound("unknown callback token")
        if status not in ("succeeded", "failed"):
            raise BadRequest("status must be succeeded or failed")
        if status == "failed" and not (isinstance(error, dict) and isinstance(error.get("message"), str)):
            error = {"type": "CallbackFailed", "message": str(error) if error else "the callback reported a failure"}
        self.events.send(CallbackReceived(where[0], token, status, result, error if status == "failed" else None))
        return {"token": token, "status": status}


__all__ = ["Service", "ServiceError", "BadRequest", "NotFound", "Conflict", "ValidationError"]
