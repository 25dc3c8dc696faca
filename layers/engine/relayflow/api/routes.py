"""The HTTP API's routes (API Gateway REST, IAM auth): workflows, executions, approvals, callbacks.

A Powertools REST resolver; each route checks its request against the OpenAPI
document (``api.document``, through ``api.requests``), calls the Service, and answers JSON. Bad
requests get a 4xx with ``{type, message, details}`` listing every problem;
nothing a client sends makes it answer 5xx. ``relayflow serve`` runs this very
handler (``functions/api/app.py``) behind a local HTTP server.
"""
from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from .. import ui
from ..service import Service
from . import requests
from .document import DOCUMENT, document, match, operation
from .errors import BadRequest, MethodNotAllowed, NotFound, ServiceError

logger = Logger(service="relayflow")
tracer = Tracer()
app = APIGatewayRestResolver()  # CORS off: the API is for signed clients, not browsers of other origins

_service: Service | None = None


def set_service(service: Service | None) -> None:
    """Use ``service`` (``relayflow serve`` passes its stack's) instead of one built from the environment."""
    global _service
    _service = service


def get_service() -> Service:
    global _service
    if _service is None:
        from ..runtime import get_runtime
        rt = get_runtime()
        _service = Service(rt.engine, rt.store, rt.workflows, rt.event_queue, rt.clock, rt.actions)
    return _service


# -- responses -----------------------------------------------------------------------
def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    # ASCII JSON: whatever an action stored, the body always encodes.
    return Response(status_code=status, content_type="application/json",
                    body=json.dumps(body, default=str), headers=headers)


def _error(exc: ServiceError, headers: dict[str, str] | None = None) -> Response:
    return _json(exc.status, exc.to_dict(), headers)


@app.exception_handler(ServiceError)
def _service_error(exc: ServiceError) -> Response:
    return _error(exc)


@app.not_found
def _not_found(exc: NotFoundError) -> Response:
    event = app.current_event
    method, path = event.http_method.upper(), event.path
    found = match(path)
    if found is not None:
        template, _ = found
        allowed = sorted(m.upper() for m in DOCUMENT["paths"][template])
        if method not in allowed:
            return _error(MethodNotAllowed(f"{method} is not allowed on {template}; use {', '.join(allowed)}"),
                          {"Allow": ", ".join(allowed)})
        return _error(NotFound(f"nothing at {path}"))
    return _error(NotFound(f"no route {method} {path}; GET /openapi.json lists them all"))


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    logger.exception("request failed")
    request_id = getattr(app.lambda_context, "aws_request_id", "")
    return _json(500, {"type": "InternalError", "message": f"internal error (request {request_id})"})


def _request(method: str, template: str, raw_path: dict[str, str], body: bool = True) -> tuple[dict[str, Any], Any]:
    """The operation's parameters and JSON body, checked against the OpenAPI document."""
    op = operation(method, template)
    event = app.current_event.raw_event
    return requests.params(op, event, raw_path), (requests.json_body(op, event) if body else None)


# -- routes ---------------------------------------------------------------------------
@app.get("/openapi.json")
def openapi() -> Response:
    _request("GET", "/openapi.json", {})
    return _json(200, document())


@app.get("/workflows")
def list_workflows() -> Response:
    _request("GET", "/workflows", {})
    return _json(200, {"workflows": get_service().list_workflows()})


@app.put("/workflows/<name>")
def register_workflow(name: str) -> Response:
    params, _ = _request("PUT", "/workflows/{name}", {"name": name}, body=False)
    text = requests.text_body(app.current_event.raw_event)
    if not text.strip():
        raise BadRequest("the body must be the workflow's YAML", ["body: required"])
    return _json(200, get_service().register_text(text, params["name"], source=f"{params['name']}.yaml"))


@app.get("/workflows/<name>")
def get_workflow(name: str) -> Response:
    params, _ = _request("GET", "/workflows/{name}", {"name": name})
    return _json(200, get_service().workflow_info(params["name"], params.get("version")))


@app.post("/workflows/<name>/executions")
def start_execution(name: str) -> Response:
    params, body = _request("POST", "/workflows/{name}/executions", {"name": name})
    body = body or {}
    service = get_service()
    eid, created = service.start_request(params["name"], body.get("input"), body.get("version"),
                                         params.get("Idempotency-Key"))
    logger.append_keys(execution_id=eid)
    logger.info("execution started" if created else "execution already started", extra={"workflow": name})
    return _json(201 if created else 200, {"execution_id": eid, "workflow": params["name"], "created": created})


@app.get("/executions")
def list_executions() -> Response:
    params, _ = _request("GET", "/executions", {})
    return _json(200, get_service().list_executions(params.get("workflow"), params.get("status"),
                                                    params.get("limit", 50), params.get("next")))


@app.get("/executions/<id>")
def get_execution(id: str) -> Response:  # noqa: A002 - the route's name
    params, _ = _request("GET", "/executions/{id}", {"id": id})
    return _json(200, get_service().describe(params["id"], cost=params.get("include") == "cost"))


@app.get("/executions/<id>/history")
def get_history(id: str) -> Response:  # noqa: A002
    params, _ = _request("GET", "/executions/{id}/history", {"id": id})
    return _json(200, {"events": get_service().history(params["id"])})


@app.get("/executions/<id>/graph")
def get_graph(id: str) -> Response:  # noqa: A002
    params, _ = _request("GET", "/executions/{id}/graph", {"id": id})
    return _json(200, get_service().execution_view(params["id"]))


@app.get("/executions/<id>/runs/<task>/<run>")
def get_task_run(id: str, task: str, run: str) -> Response:  # noqa: A002
    params, _ = _request("GET", "/executions/{id}/runs/{task}/{run}", {"id": id, "task": task, "run": run})
    return _json(200, get_service().run_detail(params["id"], params["task"], params["run"],
                                               params.get("offset", 0), params.get("limit", 50),
                                               params.get("status")))


def _control(action: str, raw_id: str) -> Response:
    params, body = _request("POST", f"/executions/{{id}}/{action}", {"id": raw_id})
    logger.append_keys(execution_id=params["id"])
    service = get_service()
    if action == "redrive":
        out = service.redrive(params["id"])
    else:
        out = service.control(params["id"], action, (body or {}).get("reason"))
    logger.info(f"{action} requested")
    return _json(202, out)


@app.post("/executions/<id>/pause")
def pause(id: str) -> Response:  # noqa: A002
    return _control("pause", id)


@app.post("/executions/<id>/resume")
def resume(id: str) -> Response:  # noqa: A002
    return _control("resume", id)


@app.post("/executions/<id>/cancel")
def cancel(id: str) -> Response:  # noqa: A002
    return _control("cancel", id)


@app.post("/executions/<id>/redrive")
def redrive(id: str) -> Response:  # noqa: A002
    return _control("redrive", id)


@app.get("/inquiries")
def list_inquiries() -> Response:
    params, _ = _request("GET", "/inquiries", {})
    return _json(200, {"inquiries": get_service().list_inquiries(params.get("status"))})


@app.get("/inquiries/<id>")
def get_inquiry(id: str) -> Response:  # noqa: A002
    params, _ = _request("GET", "/inquiries/{id}", {"id": id})
    return _json(200, get_service().get_inquiry(params["id"]))


def _caller() -> str | None:
    """Who is calling: the IAM principal API Gateway verified (IAM auth), else what the request
    context says (``relayflow serve`` puts the local user there)."""
    identity = (app.current_event.raw_event.get("requestContext") or {}).get("identity") or {}
    for key in ("userArn", "user", "caller", "sourceIp"):
        value = identity.get(key)
        if isinstance(value, str) and value:
            return value if key != "sourceIp" else f"anonymous@{value}"
    return None


@app.post("/inquiries/<id>/respond")
def respond(id: str) -> Response:  # noqa: A002
    params, body = _request("POST", "/inquiries/{id}/respond", {"id": id})
    return _json(200, get_service().respond(params["id"], body["response"], by=_caller()))


@app.post("/callbacks/<token>/succeed")
def callback_succeed(token: str) -> Response:
    params, body = _request("POST", "/callbacks/{token}/succeed", {"token": token})
    return _json(202, get_service().callback(params["token"], "succeeded", (body or {}).get("result"),
                                             by=_caller()))


@app.post("/callbacks/<token>/fail")
def callback_fail(token: str) -> Response:
    params, body = _request("POST", "/callbacks/{token}/fail", {"token": token})
    error = (body or {}).get("error")
    if isinstance(error, str):
        error = {"type": "CallbackFailed", "message": error}
    elif isinstance(error, dict):
        error = {"type": error.get("type", "CallbackFailed"), "message": error["message"]}
    return _json(202, get_service().callback(params["token"], "failed", None, error, by=_caller()))


def _page() -> Response:
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=ui.console_page(),
                    headers={"Cache-Control": "no-store"})


@app.get("/ui")
def console() -> Response:
    _request("GET", "/ui", {})
    return _page()


@app.get("/")
def root_page() -> Response:
    _request("GET", "/", {})
    return _page()


@app.get("/ui/executions")
def executions_page() -> Response:
    _request("GET", "/ui/executions", {})
    return _page()


@app.get("/ui/executions/<id>")
def execution_page(id: str) -> Response:  # noqa: A002
    params, _ = _request("GET", "/ui/executions/{id}", {"id": id})
    get_service().describe(params["id"])  # 404 for an unknown execution
    return _page()
