"""The HTTP API's OpenAPI 3.1 document, written by hand: every route, parameter and body.

The routes (``api.routes``) read every path parameter, query parameter, header and JSON body
through ``api.requests``, which checks them against this document, so what the document says is
what the API accepts; the fuzz test sends requests generated from it. ``template.yaml`` declares
the same routes (``tests/infra/test_template.py`` keeps the two in step).
"""
from __future__ import annotations

import copy
import re
from typing import Any

from ..core.records import CANCELLED, FAILED, PAUSED, RUNNING, SUCCEEDED, TIMED_OUT
from ..core.status import UnitStatus

EXECUTION_STATUSES = [RUNNING, PAUSED, SUCCEEDED, FAILED, TIMED_OUT, CANCELLED]
INQUIRY_STATUSES = ["pending", "answered", "timed_out", "cancelled", "failed"]
RUN_STATUSES = ["pending", "running", "waiting", SUCCEEDED, FAILED, TIMED_OUT, "skipped", CANCELLED]
UNIT_STATUSES = [str(s) for s in UnitStatus]

MAX_BODY = 1_048_576  # bytes of a request body
MAX_DEPTH = 64  # nesting of a JSON body
NAME = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[A-Za-z0-9_.\-]+$"}
ID = {"type": "string", "minLength": 1, "maxLength": 500}

ERROR = {"$ref": "#/components/schemas/Error"}


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, **_json(schema)}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "The request is invalid; `details` lists every problem.", 404: "No such resource.",
            405: "The path exists but not with this method.",
            409: "The request conflicts with the resource's state.", 413: "The body is too large.",
            415: "The body is not UTF-8 text."}
    return {str(c): {"description": text[c], **_json(ERROR)} for c in (400, 405, 413, 415, *codes)}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


EXECUTION_ID = _param("id", "path", ID, "An execution id.")
REASON_BODY = {
    "required": False,
    **_json({"type": "object", "additionalProperties": False,
             "properties": {"reason": {"type": "string", "maxLength": 1000}}}),
}


def _control(action: str, summary: str) -> dict[str, Any]:
    return {"post": {
        "operationId": f"{action}Execution", "summary": summary, "tags": ["executions"],
        "parameters": [EXECUTION_ID], "requestBody": REASON_BODY,
        "responses": {**_ok("The request is queued; the execution applies it in order.", _ref("Accepted"), "202"),
                      **_errors(404, 409)},
    }}


TIMINGS = {
    "started_at": {"type": ["number", "null"], "description": "Epoch seconds: when it started (first attempt)."},
    "finished_at": {"type": ["number", "null"], "description": "Epoch seconds: when it ended; null while it runs."},
    "duration": {"type": ["number", "null"], "description": "Seconds from start to end; null while it runs."},
    "attempt_timings": {"type": "array", "description": "Each attempt (the last 20 kept), as the engine saw it: "
                        "dispatched, ended, status, duration in seconds (queueing included).",
                        "items": {"type": "object", "required": ["attempt", "started_at", "finished_at", "status",
                                                                 "duration"],
                                  "properties": {"attempt": {"type": "integer"},
                                                 "started_at": {"type": "number"},
                                                 "finished_at": {"type": ["number", "null"]},
                                                 "status": {"type": "string"},
                                                 "duration": {"type": ["number", "null"]}}}},
}
TASK_RUN = {
    "type": "object", "required": ["name", "run", "status", "attempts", "result", "error"],
    "properties": {"name": {"type": "string"}, "run": {"type": "integer"},
                   "status": {"type": "string", "enum": RUN_STATUSES}, "attempts": {"type": "integer"},
                   "result": {}, "error": {"oneOf": [{"type": "null"}, _ref("TaskError")]}, **TIMINGS},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "relayflow",
        "version": "1",
        "description": (
            "Register workflows, start and inspect executions, pause / resume / cancel / redrive them, "
            "answer approvals (core.ask inquiries) and complete callback tasks. On AWS every request "
            "is signed with SigV4 (IAM auth); `relayflow serve` answers on 127.0.0.1 without auth. "
            "Errors are `{type, message, details?}` with a 4xx status; `details` lists every problem."),
    },
    "tags": [{"name": n} for n in ("workflows", "executions", "inquiries", "callbacks", "meta")],
    "paths": {
        "/openapi.json": {"get": {
            "operationId": "getOpenApi", "summary": "This document.", "tags": ["meta"],
            "responses": {**_ok("The OpenAPI document.", {"type": "object"}), **_errors()},
        }},
        "/workflows": {"get": {
            "operationId": "listWorkflows", "summary": "Every registered workflow, latest version.",
            "tags": ["workflows"],
            "responses": {**_ok("The workflows.", {"type": "object", "required": ["workflows"], "properties": {
                "workflows": {"type": "array", "items": _ref("WorkflowSummary")}}}), **_errors()},
        }},
        "/workflows/{name}": {
            "put": {
                "operationId": "registerWorkflow", "summary": "Register a definition (YAML) under its name.",
                "description": "The body is the workflow's YAML; its `name` must be the one in the path. Every "
                               "version stays available; the new one becomes the latest.",
                "tags": ["workflows"],
                "parameters": [_param("name", "path", NAME, "The workflow's name.")],
                "requestBody": {"required": True, "content": {
                    "application/yaml": {"schema": {"type": "string", "minLength": 1}},
                    "text/plain": {"schema": {"type": "string", "minLength": 1}}}},
                "responses": {**_ok("Registered.", _ref("Registered")), **_errors()},
            },
            "get": {
                "operationId": "getWorkflow", "summary": "A definition, its graph and the versions kept.",
                "tags": ["workflows"],
                "parameters": [_param("name", "path", NAME, "The workflow's name."),
                               _param("version", "query", {"type": "string", "minLength": 1, "maxLength": 100},
                                      "A version (default: the latest).")],
                "responses": {**_ok("The workflow.", _ref("Workflow")), **_errors(404)},
            },
        },
        "/workflows/{name}/executions": {"post": {
            "operationId": "startExecution", "summary": "Start an execution.",
            "description": "With an `Idempotency-Key` header, a repeat of the request returns the execution the "
                           "first one started (200 instead of 201); the same key with another input is a 409.",
            "tags": ["executions"],
            "parameters": [
                _param("name", "path", NAME, "The workflow's name."),
                _param("Idempotency-Key", "header", {"type": "string", "minLength": 1, "maxLength": 255},
                       "Any string; repeats of a request with the same key start one execution."),
            ],
            "requestBody": {"required": False, **_json({
                "type": "object", "additionalProperties": False,
                "properties": {"input": {"type": "object", "description": "The workflow's input."},
                               "version": {"type": "string", "minLength": 1, "maxLength": 100,
                                           "description": "A version of the workflow (default: the latest)."}}})},
            "responses": {**_ok("Started.", _ref("Started"), "201"),
                          **_ok("Already started with this Idempotency-Key.", _ref("Started")),
                          **_errors(404, 409)},
        }},
        "/executions": {"get": {
            "operationId": "listExecutions",
            "summary": "Executions, newest first (per workflow, workflows by name when none is given).",
            "tags": ["executions"],
            "parameters": [
                _param("workflow", "query", NAME, "Only this workflow's executions."),
                _param("status", "query", {"type": "string", "enum": EXECUTION_STATUSES}, "Only this status."),
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100},
                       "Page size (default 50)."),
                _param("next", "query", {"type": "string", "minLength": 1, "maxLength": 4000},
                       "The `next` of the previous page."),
            ],
            "responses": {**_ok("A page.", {"type": "object", "required": ["executions", "next"], "properties": {
                "executions": {"type": "array", "items": _ref("ExecutionSummary")},
                "next": {"type": ["string", "null"]}}}), **_errors()},
        }},
        "/executions/{id}": {"get": {
            "operationId": "getExecution",
            "summary": "The execution, as `relayflow run --json` prints it; with `include=cost`, also its cost.",
            "tags": ["executions"], "parameters": [
                EXECUTION_ID,
                _param("include", "query", {"type": "string", "enum": ["cost"]},
                       "`cost`: add `cost`, the AWS requests the execution made so far by service and "
                       "their estimated dollars (`relayflow cost` prints it)."),
            ],
            "responses": {**_ok("The execution.", _ref("Execution")), **_errors(404)},
        }},
        "/executions/{id}/history": {"get": {
            "operationId": "getExecutionHistory", "summary": "Every lifecycle event of the execution, in order.",
            "tags": ["executions"], "parameters": [EXECUTION_ID],
            "responses": {**_ok("The events.", {"type": "object", "required": ["events"], "properties": {
                "events": {"type": "array", "items": {"type": "object", "required": ["type"]}}}}),
                **_errors(404)},
        }},
        "/executions/{id}/graph": {"get": {
            "operationId": "getExecutionGraph",
            "summary": "The execution on its graph: each task's status, runs and attempts; edges; Mermaid.",
            "tags": ["executions"], "parameters": [EXECUTION_ID],
            "responses": {**_ok("The graph.", _ref("ExecutionGraph")), **_errors(404)},
        }},
        "/executions/{id}/runs/{task}/{run}": {"get": {
            "operationId": "getTaskRun",
            "summary": "One task run: input, result, error, timings, its events, and a page of its items.",
            "tags": ["executions"],
            "parameters": [
                EXECUTION_ID, _param("task", "path", NAME, "A task's name."),
                _param("run", "path", {"type": "integer", "minimum": 1}, "The run's number (1 for the first)."),
                _param("offset", "query", {"type": "integer", "minimum": 0}, "The first item of the page."),
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100},
                       "Items per page (default 50)."),
                _param("status", "query", {"type": "string", "enum": UNIT_STATUSES},
                       "Only the items in this status (offset counts those)."),
            ],
            "responses": {**_ok("The run.", _ref("TaskRunDetail")), **_errors(404)},
        }},
        "/executions/{id}/pause": _control("pause", "Pause: running attempts finish, nothing new starts."),
        "/executions/{id}/resume": _control("resume", "Resume a paused execution."),
        "/executions/{id}/cancel": _control("cancel", "Cancel the execution."),
        "/executions/{id}/redrive": {"post": {
            "operationId": "redriveExecution",
            "summary": "Rerun a failed or timed-out execution from its failed task runs, keeping what succeeded.",
            "tags": ["executions"], "parameters": [EXECUTION_ID],
            "requestBody": {"required": False, **_json({"type": "object", "additionalProperties": False,
                                                        "properties": {}})},
            "responses": {**_ok("The redrive is queued.", _ref("Accepted"), "202"), **_errors(404, 409)},
        }},
        "/inquiries": {"get": {
            "operationId": "listInquiries", "summary": "Approvals (core.ask inquiries), oldest first.",
            "tags": ["inquiries"],
            "parameters": [_param("status", "query", {"type": "string", "enum": INQUIRY_STATUSES},
                                  "Only this status, e.g. pending.")],
            "responses": {**_ok("The inquiries.", {"type": "object", "required": ["inquiries"], "properties": {
                "inquiries": {"type": "array", "items": _ref("Inquiry")}}}), **_errors()},
        }},
        "/inquiries/{id}": {"get": {
            "operationId": "getInquiry", "summary": "One inquiry.", "tags": ["inquiries"],
            "parameters": [_param("id", "path", ID, "An inquiry id.")],
            "responses": {**_ok("The inquiry.", _ref("Inquiry")), **_errors(404)},
        }},
        "/inquiries/{id}/respond": {"post": {
            "operationId": "respondToInquiry",
            "summary": "Answer a pending inquiry; the response must match the task's schema.",
            "tags": ["inquiries"],
            "parameters": [_param("id", "path", ID, "An inquiry id.")],
            "requestBody": {"required": True, **_json({
                "type": "object", "required": ["response"], "additionalProperties": False,
                "properties": {"response": {"description": "The answer; validated against the inquiry's schema."}}})},
            "responses": {**_ok("Answered; the task completes with the response.", _ref("Answered")),
                          **_errors(404, 409)},
        }},
        "/callbacks/{token}/succeed": {"post": {
            "operationId": "succeedCallback",
            "summary": "Complete a callback task successfully with a result.",
            "tags": ["callbacks"],
            "parameters": [_param("token", "path", ID, "The task's `{{ callback.token }}`.")],
            "requestBody": {"required": False, **_json({
                "type": "object", "additionalProperties": False,
                "properties": {"result": {"description": "The task's result."}}})},
            "responses": {**_ok("Queued; a token whose task has already ended is ignored.", _ref("CallbackAccepted"),
                                "202"), **_errors(404)},
        }},
        "/callbacks/{token}/fail": {"post": {
            "operationId": "failCallback", "summary": "Fail a callback task.", "tags": ["callbacks"],
            "parameters": [_param("token", "path", ID, "The task's `{{ callback.token }}`.")],
            "requestBody": {"required": False, **_json({
                "type": "object", "additionalProperties": False,
                "properties": {"error": {"anyOf": [
                    {"type": "string", "maxLength": 10000},
                    {"type": "object", "required": ["message"], "additionalProperties": False, "properties": {
                        "type": {"type": "string", "minLength": 1, "maxLength": 200},
                        "message": {"type": "string", "maxLength": 10000}}}]}}})},
            "responses": {**_ok("Queued; a token whose task has already ended is ignored.", _ref("CallbackAccepted"),
                                "202"), **_errors(404)},
        }},
        "/": {"get": {
            "operationId": "rootPage",
            "summary": "The console's executions list, where a browser pointed at the API lands (HTML).",
            "tags": ["meta"],
            "responses": {"200": {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}},
                          **_errors()},
        }},
        "/ui/executions": {"get": {
            "operationId": "executionsPage",
            "summary": "The console's executions list, at the address a user would type (HTML).",
            "tags": ["meta"],
            "responses": {"200": {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}},
                          **_errors()},
        }},
        "/ui": {"get": {
            "operationId": "consolePage",
            "summary": "The console: executions with filters and paging (HTML; calls this API).",
            "tags": ["meta"],
            "responses": {"200": {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}},
                          **_errors()},
        }},
        "/ui/executions/{id}": {"get": {
            "operationId": "executionPage",
            "summary": "The console's page of one execution (HTML; polls /executions/{id}/graph).",
            "tags": ["meta"], "parameters": [EXECUTION_ID],
            "responses": {"200": {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}},
                          **_errors(404)},
        }},
    },
    "components": {"schemas": {
        "Error": {"type": "object", "required": ["type", "message"], "properties": {
            "type": {"type": "string"}, "message": {"type": "string"}, "details": {}}},
        "TaskError": {"type": "object", "required": ["type", "message"], "properties": {
            "type": {"type": "string"}, "message": {"type": "string"}}},
        "Problem": {"type": "object", "required": ["line", "field", "message", "text"], "properties": {
            "line": {"type": "integer"}, "task": {"type": ["string", "null"]}, "field": {"type": "string"},
            "message": {"type": "string"}, "severity": {"type": "string"}, "text": {"type": "string"}}},
        "Registered": {"type": "object", "required": ["name", "version", "tasks", "warnings"], "properties": {
            "name": {"type": "string"}, "version": {"type": "string"}, "tasks": {"type": "integer"},
            "warnings": {"type": "array", "items": _ref("Problem")}}},
        "WorkflowSummary": {"type": "object", "required": ["name", "version", "tasks"], "properties": {
            "name": {"type": "string"}, "version": {"type": "string"}, "tasks": {"type": "integer"}}},
        "Workflow": {"type": "object", "required": ["name", "version", "latest", "versions", "tasks", "edges", "text"],
                     "properties": {
                         "name": {"type": "string"}, "version": {"type": "string"}, "latest": {"type": "string"},
                         "versions": {"type": "array", "items": {"type": "string"}},
                         "tasks": {"type": "array", "items": {"type": "object"}},
                         "edges": {"type": "array", "items": _ref("Edge")}, "text": {"type": "string"}}},
        "Edge": {"type": "object", "required": ["from", "to", "label"], "properties": {
            "from": {"type": "string"}, "to": {"type": "string"}, "label": {"type": "string"}}},
        "Started": {"type": "object", "required": ["execution_id", "workflow", "created"], "properties": {
            "execution_id": {"type": "string"}, "workflow": {"type": "string"}, "created": {"type": "boolean"}}},
        "Accepted": {"type": "object", "required": ["execution_id", "requested"], "properties": {
            "execution_id": {"type": "string"}, "requested": {"type": "string"}}},
        "CallbackAccepted": {"type": "object", "required": ["token", "status"], "properties": {
            "token": {"type": "string"}, "status": {"type": "string", "enum": [SUCCEEDED, FAILED]}}},
        "Answered": {"type": "object", "required": ["inquiry", "status"], "properties": {
            "inquiry": {"type": "string"}, "status": {"type": "string"}}},
        "ExecutionSummary": {"type": "object",
                             "required": ["execution_id", "workflow", "status", "created_at", "finished_at", "error"],
                             "properties": {
                                 "execution_id": {"type": "string"}, "workflow": {"type": "string"},
                                 "status": {"type": "string", "enum": EXECUTION_STATUSES},
                                 "created_at": {"type": "number"}, "finished_at": {"type": ["number", "null"]},
                                 "error": {}}},
        "Execution": {"type": "object",
                      "description": "The keys of `relayflow run --json` (and `cost` when asked for); each "
                                     "task run also has its timings (a single-unit run's per attempt).",
                      "required": ["execution_id", "workflow", "status", "output", "error", "tasks"],
                      "additionalProperties": False,
                      "properties": {
                          "execution_id": {"type": "string"}, "workflow": {"type": "string"},
                          "status": {"type": "string", "enum": EXECUTION_STATUSES}, "output": {}, "error": {},
                          "tasks": {"type": "array", "items": TASK_RUN},
                          "cost": _ref("ExecutionCost")}},
        "ExecutionCost": {
            "type": "object", "required": ["requests", "dollars", "total_dollars", "estimate"],
            "description": "AWS requests made for the execution so far, counted by the handlers as they work "
                           "and kept on the execution's head; dollars at us-east-1 on-demand list prices. An "
                           "estimate: writes and sends are counted from the records and commands of each step, "
                           "item sizes approximated, retried requests and steps a crash undid not counted.",
            "properties": {
                "requests": {"type": "object", "description": "service -> {what: count}, e.g. "
                             "`{\"dynamodb\": {\"read requests\": 4, \"write units\": 9}}`",
                             "additionalProperties": {"type": "object", "additionalProperties": {"type": "number"}}},
                "dollars": {"type": "object", "additionalProperties": {"type": "number"}},
                "total_dollars": {"type": "number"}, "estimate": {"type": "boolean", "const": True}}},
        "ExecutionGraph": {"type": "object",
                           "required": ["execution_id", "workflow", "status", "tasks", "edges", "inquiries", "mermaid"],
                           "properties": {
                               "execution_id": {"type": "string"}, "workflow": {"type": "string"},
                               "version": {"type": "string"}, "status": {"type": "string", "enum": EXECUTION_STATUSES},
                               "tasks": {"type": "array", "items": {"type": "object", "required": [
                                   "name", "kind", "status", "attempts", "runs"]}},
                               "edges": {"type": "array", "items": _ref("Edge")},
                               "inquiries": {"type": "array"}, "mermaid": {"type": "string"}}},
        "ItemsProgress": {"type": ["object", "null"], "description": "Units of a with_items or parallel run.",
                          "required": ["total", "succeeded", "failed", "running", "pending"],
                          "properties": {k: {"type": "integer"} for k in
                                         ("total", "succeeded", "failed", "running", "pending")}},
        "TaskRunDetail": {"type": "object",
                          "required": ["run", "status", "kind", "attempts", "started_at", "finished_at", "error",
                                       "items", "child_execution", "input", "result", "events", "units",
                                       "next_offset"],
                          "properties": {
                              "run": {"type": "integer"}, "status": {"type": "string", "enum": RUN_STATUSES},
                              "kind": {"type": "string", "enum": ["single", "items", "parallel"]},
                              "attempts": {"type": "integer"}, "started_at": {"type": ["number", "null"]},
                              "finished_at": {"type": ["number", "null"]}, "error": {},
                              "items": _ref("ItemsProgress"), "child_execution": {"type": ["string", "null"]},
                              "input": {}, "result": {}, "events": {"type": "array", "items": {"type": "object"}},
                              "units": {"type": "array", "items": {"type": "object", "required": [
                                  "index", "status", "attempts", "input", "result", "error", "started_at",
                                  "finished_at", "duration", "attempt_timings"], "properties": TIMINGS}},
                              "duration": TIMINGS["duration"], "attempt_timings": TIMINGS["attempt_timings"],
                              "next_offset": {"type": ["integer", "null"]}}},
        "Inquiry": {"type": "object", "required": ["id", "execution_id", "workflow", "task", "status"], "properties": {
            "id": {"type": "string"}, "execution_id": {"type": "string"}, "workflow": {"type": "string"},
            "task": {"type": "string"}, "run": {"type": "integer"}, "prompt": {},
            "schema": {}, "status": {"type": "string", "enum": INQUIRY_STATUSES}, "response": {}}},
    }},
}


def document() -> dict[str, Any]:
    return copy.deepcopy(DOCUMENT)


# -- routes ------------------------------------------------------------------------
def routes() -> list[tuple[str, str]]:
    """(METHOD, path template) of every operation."""
    return [(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item]


def _path_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{\w+\})", template)
    return re.compile("^" + "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p)
                                    for p in parts) + "$")


_ROUTES = [(path, _path_regex(path)) for path in DOCUMENT["paths"]]


def match(path: str) -> tuple[str, dict[str, str]] | None:
    """The path template ``path`` (as sent, still percent-encoded) matches, and its raw parameters.

    Trailing slashes do not matter (as for the Powertools resolver's routes)."""
    path = path.rstrip("/") or "/"
    for template, regex in _ROUTES:
        m = regex.match(path)
        if m:
            return template, m.groupdict()
    return None


def operation(method: str, template: str) -> dict[str, Any]:
    return DOCUMENT["paths"][template][method.lower()]


