"""The attacks of docs/security.md, tried over real HTTP against `relayflow serve` (memory and the
embedded AWS stack, whose handlers are the Lambda ones). Each is refused with a clear 4xx and
leaves nothing behind; the other test files here go deeper into each door."""
from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from relayflow.actions.allowlist import ActionModules
from relayflow.actions.builtin import default_registry
from relayflow.serve import ApiServer, make_stack


@pytest.fixture(params=["memory", "local"], scope="module")
def server(request) -> Iterator[ApiServer]:
    stack = make_stack(request.param, registry=default_registry(ActionModules(["tests.security.fixture_actions"])))
    try:
        with ApiServer(stack) as srv:
            yield srv
    finally:
        getattr(stack, "close", lambda: None)()


def call(srv: ApiServer, method: str, path: str, body: Any = None, ctype: str = "application/json",
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = body.encode() if isinstance(body, str) else (json.dumps(body).encode() if body is not None else b"")
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=60)
    hdrs = {"Host": f"127.0.0.1:{srv.port}", "Content-Type": ctype, **(headers or {})}
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, json.loads(raw) if raw[:1] == b"{" else raw


def register(srv: ApiServer, text: str) -> tuple[int, Any]:
    name = text.split("\n", 1)[0].split(":", 1)[1].strip()
    return call(srv, "PUT", f"/workflows/{name}", text, ctype="application/yaml")


@pytest.mark.parametrize("action", ["python:os:system", "python:subprocess:check_output", "python:builtins:eval",
                                    "python:importlib:import_module", "python:relayflow.core.messages:decode",
                                    "python:tests.security.fixture_actions:system"])
def test_registering_code_execution_is_a_400_naming_the_task_and_action(server, action):
    text = f"name: rt.exec\ntasks:\n  - name: pwn\n    action: '{action}'\n    input: {{command: id}}\n"
    status, body = register(server, text)
    if action.endswith("fixture_actions:system"):
        # a declared module: the name is admitted, but the worker refuses an imported function
        assert status == 200
        status, started = call(server, "POST", "/workflows/rt.exec/executions", {})
        server.settle()
        _, ex = call(server, "GET", f"/executions/{started['execution_id']}", ctype="")
        assert ex["status"] == "failed" and ex["error"]["type"] == "UnknownAction"
        return
    assert status == 400, body
    assert "task pwn" in body["message"] and action in body["message"]
    assert call(server, "GET", "/workflows/rt.exec", ctype="")[0] == 404


def test_aws_lambda_literal_target_of_another_stack_is_refused_when_the_stack_owns_a_prefix(server):
    registry = server.stack.service.actions
    saved, registry.lambda_prefix = registry.lambda_prefix, "rt-action-"
    try:
        status, body = register(server, "name: rt.lambda\ntasks:\n  - {name: call, action: aws.lambda, "
                                         "input: {function: payroll-prod-export}}\n")
    finally:
        registry.lambda_prefix = saved
    assert status == 400 and "task call" in body["message"] and "rt-action-" in body["message"]


ASK = """name: rt.ask
tasks:
  - name: approve
    action: core.ask
    input: {schema: {type: object, required: [ok], properties: {ok: {const: true}}}}
"""


def test_an_inquiry_cannot_be_answered_without_its_door_or_its_schema(server):
    assert register(server, ASK)[0] == 200
    status, started = call(server, "POST", "/workflows/rt.ask/executions", {})
    eid = started["execution_id"]
    server.settle()
    _, listing = call(server, "GET", "/inquiries?status=pending", ctype="")
    (inquiry,) = [i for i in listing["inquiries"] if i["execution_id"] == eid]
    # the callback API with the inquiry's id: refused, never skipping the schema
    status, body = call(server, "POST", f"/callbacks/{inquiry['id']}/succeed", {"result": {"ok": "sure"}})
    assert status == 409 and "inquiries" in body["message"]
    status, body = call(server, "POST", f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": False}})
    assert status == 400 and "schema" in body["message"]
    server.settle()
    _, ex = call(server, "GET", f"/executions/{eid}", ctype="")
    assert ex["status"] == "running"
    status, _ = call(server, "POST", f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": True}})
    assert status == 200
    server.settle()
    _, answered = call(server, "GET", f"/inquiries/{inquiry['id']}", ctype="")
    assert answered["answered_by"].startswith("local:")
    _, history = call(server, "GET", f"/executions/{eid}/history", ctype="")
    assert [e["by"] for e in history["events"] if e["type"] == "inquiry.answered"] == [answered["answered_by"]]


@pytest.mark.parametrize("schema", ["{pattern: '^(a+)+$'}", "{pattern: '('}", "{$ref: 'http://127.0.0.1:9/s.json'}"])
def test_an_unsafe_schema_is_a_400_at_registration(server, schema):
    status, body = register(server, f"name: rt.schema\ntasks:\n  - {{name: gate, action: core.ask, "
                                    f"input: {{schema: {schema}}}}}\n")
    assert status == 400 and "task gate" in body["message"]


def test_a_web_page_cannot_drive_serve(server):
    assert register(server, "name: rt.csrf\ntasks:\n  - {name: a, action: core.noop}\n")[0] == 200
    before = call(server, "GET", "/executions?workflow=rt.csrf", ctype="")[1]["executions"]
    assert call(server, "POST", "/workflows/rt.csrf/executions", "{}", ctype="text/plain")[0] == 415
    assert call(server, "POST", "/workflows/rt.csrf/executions", {},
                headers={"Origin": "http://evil.example"})[0] == 403
    assert call(server, "POST", "/workflows/rt.csrf/executions", {},
                headers={"Host": f"evil.example:{server.port}"})[0] == 421
    assert call(server, "GET", "/executions?workflow=rt.csrf", ctype="")[1]["executions"] == before


def test_core_http_to_the_metadata_address_fails_the_task_without_a_connection(server, monkeypatch):
    import socket
    attempts: list = []
    real = socket.create_connection
    monkeypatch.setattr(socket, "create_connection",
                        lambda addr, *a, **k: attempts.append(addr) or real(addr, *a, **k))
    assert register(server, "name: rt.ssrf\ntasks:\n  - {name: steal, action: core.http, input: "
                            "{url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'}}\n")[0] == 200
    _, started = call(server, "POST", "/workflows/rt.ssrf/executions", {})
    server.settle()
    _, ex = call(server, "GET", f"/executions/{started['execution_id']}", ctype="")
    assert ex["status"] == "failed" and ex["error"]["type"] == "NetworkNotAllowed"
    assert not [a for a in attempts if a[0] == "169.254.169.254"]


# -- attacks added since the first list: body size, path traversal, YAML and template tricks --------
def stored_workflows(srv: ApiServer) -> set[str]:
    _, listing = call(srv, "GET", "/workflows", ctype="")
    return {w["name"] for w in listing["workflows"]}


def test_an_oversized_body_is_a_413_and_nothing_is_stored(server):
    big = "x" * 1_100_000  # over the API's 1 MB limit, checked before the body is parsed
    status, body = register(server, f"name: rt.big\ndescription: {big}\ntasks:\n  - {{name: a, action: core.noop}}\n")
    assert (status, body["type"]) == (413, "PayloadTooLarge")
    assert "rt.big" not in stored_workflows(server)
    assert register(server, "name: rt.small\ntasks:\n  - {name: a, action: core.noop}\n")[0] == 200
    status, body = call(server, "POST", "/workflows/rt.small/executions", {"input": {"blob": big}})
    assert (status, body["type"]) == (413, "PayloadTooLarge")
    assert call(server, "GET", "/executions?workflow=rt.small", ctype="")[1]["executions"] == []


@pytest.mark.parametrize("path, status", [
    ("/workflows/..%2F..%2Fetc%2Fpasswd", 400),  # the name parameter's pattern refuses "/" and "%"
    ("/workflows/a%2Fb", 400),
    ("/workflows/../../etc", 404),  # no such route: http.server does not normalise the path
])
def test_path_traversal_in_a_workflow_name_is_refused(server, path, status):
    before = stored_workflows(server)
    got, body = call(server, "PUT", path, "name: rt.ok\ntasks:\n  - {name: a, action: core.noop}\n",
                     ctype="application/yaml")
    assert got == status, body
    assert body["type"] in ("BadRequest", "NotFound") and body["message"]
    assert stored_workflows(server) == before


@pytest.mark.parametrize("task, problem", [
    ("{name: '../x', action: core.noop}", "task name '../x'"),
    ("{name: a, action: 'python:tests.security.fixture_actions/../../os:system'}", "python"),
    ("{name: a, action: 'python:..fixture_actions:system'}", "python"),
    ("{name: a, workflow: '../rt.ok'}", "workflow"),
])
def test_path_traversal_inside_a_definition_is_a_400_naming_the_field(server, task, problem):
    status, body = register(server, f"name: rt.trav\ntasks:\n  - {task}\n")
    assert status == 400, body
    (detail,) = body["details"]
    assert problem in json.dumps(detail)
    assert "rt.trav" not in stored_workflows(server)


@pytest.mark.parametrize("path", ["/executions/..%2F..%2Fworkflows", "/executions/%2e%2e/history",
                                  "/executions/x/runs/..%2F..%2F/1", "/inquiries/..%2Fx"])
def test_path_traversal_in_an_id_reads_nothing(server, path):
    status, body = call(server, "GET", path, ctype="")
    assert status in (400, 404) and body["type"] in ("BadRequest", "NotFound")


def test_a_yaml_python_tag_is_refused_and_never_constructed(server, monkeypatch):
    import os
    ran: list = []
    monkeypatch.setattr(os, "system", lambda cmd: ran.append(cmd) or 0)
    status, body = register(server, "name: rt.tag\ntasks:\n  - {name: a, action: core.noop, "
                                    "input: !!python/object/apply:os.system [id]}\n")
    assert status == 400 and body["details"][0]["field"] == "input"
    assert ran == [] and "rt.tag" not in stored_workflows(server)


def test_a_template_cannot_reach_python_internals(server):
    text = ("name: rt.ssti\ntasks:\n  - {name: a, action: core.echo, "
            "input: {x: \"{{ ''.__class__.__mro__[1].__subclasses__() }}\"}}\n")
    assert register(server, text)[0] == 200
    _, started = call(server, "POST", "/workflows/rt.ssti/executions", {})
    server.settle()
    _, ex = call(server, "GET", f"/executions/{started['execution_id']}", ctype="")
    assert ex["status"] == "failed" and ex["error"]["type"] == "TemplateError"
    assert "subclasses" not in json.dumps(ex["tasks"][0].get("result"))


def test_a_deeply_nested_body_is_a_400(server):
    assert register(server, "name: rt.deep\ntasks:\n  - {name: a, action: core.noop}\n")[0] == 200
    status, body = call(server, "POST", "/workflows/rt.deep/executions", '{"input":' + "[" * 100_000 + "]" * 100_000 + "}")
    assert status == 400 and "nested deeper" in json.dumps(body["details"])
    assert call(server, "GET", "/executions?workflow=rt.deep", ctype="")[1]["executions"] == []
