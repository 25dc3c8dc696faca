"""`relayflow serve`'s door, over real HTTP: Host, Origin, Content-Type, bearer token.

Each refused request is one that would change state if it got through (a start,
a registration, an answer); the tests assert the refusal and that nothing changed.
"""
from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from relayflow.harness import MemoryStack
from relayflow.serve import ApiServer

WF = "name: door.wf\ntasks:\n  - {name: a, action: core.echo, input: {x: 1}}\n"


@pytest.fixture
def served() -> Iterator[ApiServer]:
    stack = MemoryStack()
    stack.service.register_text(WF, "door.wf")
    with ApiServer(stack) as server:
        yield server


def send(server: ApiServer, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, Any]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data) if data.startswith(b"{") else data


def executions(server: ApiServer) -> int:
    return len(server.stack.service.list_executions()["executions"])


def own(server: ApiServer) -> str:
    return f"127.0.0.1:{server.port}"


START = "/workflows/door.wf/executions"


def test_a_well_formed_request_gets_through(served):
    status, body = send(served, "POST", START, {"Host": own(served), "Content-Type": "application/json"}, b"{}")
    assert status == 201 and body["created"] is True
    status, _ = send(served, "GET", "/workflows", {"Host": f"localhost:{served.port}",
                                                   "Origin": f"http://localhost:{served.port}"})
    assert status == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1", "127.0.0.1:1",
                                  "rebind.evil.example:{port}", "", "10.0.0.1:{port}"])
def test_a_foreign_host_is_refused_before_anything_runs(served, host):
    headers = {"Content-Type": "application/json"}
    if host:
        headers["Host"] = host.format(port=served.port)
    status, body = send(served, "POST", START, headers, b"{}")
    assert status == 421 and body["type"] == "MisdirectedRequest"
    status, _ = send(served, "GET", "/workflows", {"Host": host.format(port=served.port)} if host else {})
    assert status == 421  # DNS rebinding cannot read either
    assert executions(served) == 0


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                   "", "application/jsonx", "text/json"])
def test_a_state_changing_request_that_is_not_json_or_yaml_is_refused(served, ctype):
    headers = {"Host": own(served)}
    if ctype:
        headers["Content-Type"] = ctype
    status, body = send(served, "POST", START, headers, b'{"input": {}}')
    assert status == 415 and body["type"] == "UnsupportedMediaType"
    status, _ = send(served, "PUT", "/workflows/door.evil", headers, WF.replace("door.wf", "door.evil").encode())
    assert status == 415
    assert executions(served) == 0 and "door.evil" not in served.stack.workflows.names()


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1:{port}",
                                    "http://localhost.evil.example:{port}"])
def test_a_foreign_origin_is_refused_even_with_json(served, origin):
    headers = {"Host": own(served), "Content-Type": "application/json", "Origin": origin.format(port=served.port)}
    status, body = send(served, "POST", START, headers, b"{}")
    assert status == 403 and body["type"] == "ForbiddenOrigin"
    status, _ = send(served, "GET", "/executions", {"Host": own(served), "Origin": origin.format(port=served.port)})
    assert status == 403
    assert executions(served) == 0


def test_a_cross_site_fetch_is_refused(served):
    headers = {"Host": own(served), "Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}
    assert send(served, "POST", START, headers, b"{}")[0] == 403
    assert executions(served) == 0


def test_with_a_token_every_request_needs_it():
    stack = MemoryStack()
    stack.service.register_text(WF, "door.wf")
    token = "s3cret-token-0123456789"
    with ApiServer(stack, token=token) as server:
        base = {"Host": own(server), "Content-Type": "application/json"}
        for auth in (None, "Bearer wrong", f"Basic {token}", f"Bearer {token}x", "Bearer "):
            headers = dict(base, **({"Authorization": auth} if auth else {}))
            status, body = send(server, "POST", START, headers, b"{}")
            assert status == 401 and body["type"] == "Unauthorized", auth
            assert send(server, "GET", "/workflows", headers)[0] == 401
        assert executions(server) == 0
        status, _ = send(server, "POST", START, dict(base, Authorization=f"Bearer {token}"), b"{}")
        assert status == 201


def test_the_cli_client_passes_the_door(served, monkeypatch):
    from relayflow.client import Client
    client = Client(served.url)
    eid = client.start("door.wf", {})["execution_id"]
    # A POST with no body still says it is JSON: the door's 415 would come first; 409 is the API's word.
    from relayflow.client import ApiError
    served.settle()
    with pytest.raises(ApiError) as info:
        client.request("POST", f"/executions/{eid}/pause")
    assert info.value.status == 409
