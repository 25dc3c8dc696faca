"""`relayflow console`'s proxy applies `relayflow serve`'s door, over real HTTP on loopback.

The proxy signs what it forwards with the user's AWS credentials, so a request
it must refuse is worse than one serve must: the tests assert each refusal and
that the API behind it never saw the request (nothing forwarded, nothing changed).
"""
from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from relayflow.client import Client
from relayflow.console_proxy import ConsoleProxy
from relayflow.harness import MemoryStack
from relayflow.serve import ApiServer

WF = "name: door.wf\ntasks:\n  - {name: a, action: core.echo, input: {x: 1}}\n"
START = "/workflows/door.wf/executions"


class Upstream:
    def __init__(self, server: ApiServer):
        self.server = server
        self.seen: list[dict[str, Any]] = []

    def executions(self) -> int:
        return len(self.server.stack.service.list_executions()["executions"])


@pytest.fixture
def proxied() -> Iterator[tuple[ConsoleProxy, Upstream]]:
    stack = MemoryStack()
    stack.service.register_text(WF, "door.wf")
    with ApiServer(stack) as server:
        upstream = Upstream(server)
        invoke = server.invoke

        def record(event: dict[str, Any]) -> dict[str, Any]:
            upstream.seen.append(event)
            return invoke(event)

        server.invoke = record  # type: ignore[method-assign]
        with ConsoleProxy(Client(server.url)) as proxy:
            yield proxy, upstream


def send(proxy: ConsoleProxy, method: str, path: str, headers: dict[str, str], body: bytes = b"",
         length: bool = True) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=30)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    if length:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data) if data.startswith(b"{") else data


def own(proxy: ConsoleProxy) -> dict[str, str]:
    return {"Host": f"127.0.0.1:{proxy.port}", "Origin": f"http://127.0.0.1:{proxy.port}"}


def test_a_request_from_its_own_page_is_forwarded(proxied):
    proxy, upstream = proxied
    status, body = send(proxy, "POST", START, {**own(proxy), "Content-Type": "application/json"}, b"{}")
    assert status == 201 and body["created"] is True
    assert [e["path"] for e in upstream.seen] == [START] and upstream.executions() == 1
    status, _ = send(proxy, "GET", "/workflows", {"Host": f"localhost:{proxy.port}"})
    assert status == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1", "127.0.0.1:1",
                                  "rebound.attacker.example:{port}", ""])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_foreign_host_is_refused_before_anything_is_forwarded(proxied, host, method):
    # DNS rebinding: the page's origin is the attacker's name, now resolving to 127.0.0.1
    proxy, upstream = proxied
    headers = {"Host": host.format(port=proxy.port), "Content-Type": "application/json"}
    if method == "POST":
        headers["Origin"] = f"http://{headers['Host']}"
    status, body = send(proxy, method, START if method == "POST" else "/executions", headers, b"{}")
    assert status == 421 and body["type"] == "MisdirectedRequest"
    assert upstream.seen == [] and upstream.executions() == 0


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:1"},
    {"Origin": "https://127.0.0.1:{port}"},
    {"Sec-Fetch-Site": "cross-site"},
], ids=["evil", "null", "other-port", "https", "cross-site-fetch"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_foreign_origin_or_cross_site_fetch_is_refused(proxied, headers, method):
    proxy, upstream = proxied
    sent = {"Host": f"127.0.0.1:{proxy.port}", "Content-Type": "application/json",
            **{k: v.format(port=proxy.port) for k, v in headers.items()}}
    if method == "POST" and "Origin" not in headers:
        sent["Origin"] = f"http://127.0.0.1:{proxy.port}"
    status, body = send(proxy, method, START if method == "POST" else "/executions", sent, b"{}")
    assert status == 403 and body["type"] == "ForbiddenOrigin"
    assert upstream.seen == [] and upstream.executions() == 0


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x", None])
@pytest.mark.parametrize("method, path", [("POST", START), ("PUT", "/workflows/door.wf")])
def test_a_state_change_that_is_not_json_or_yaml_is_refused(proxied, ctype, method, path):
    # the "simple" requests a page may send cross-site without a preflight
    proxy, upstream = proxied
    headers = own(proxy)
    if ctype:
        headers["Content-Type"] = ctype
    status, body = send(proxy, method, path, headers, b'{"input": {}}')
    assert status == 415 and body["type"] == "UnsupportedMediaType"
    assert upstream.seen == [] and upstream.executions() == 0


def test_a_state_change_without_an_origin_is_refused(proxied):
    # serve lets a local client without Origin through; the proxy, holding the user's
    # credentials, changes things only for its own pages
    proxy, upstream = proxied
    status, body = send(proxy, "POST", START, {"Host": f"127.0.0.1:{proxy.port}",
                                               "Content-Type": "application/json"}, b"{}")
    assert status == 403 and "own pages" in body["message"]
    assert upstream.seen == []


def test_a_chunked_body_is_refused_not_half_read(proxied):
    proxy, upstream = proxied
    chunked = b"2\r\n{}\r\n0\r\n\r\n"
    status, body = send(proxy, "POST", START, {**own(proxy), "Content-Type": "application/json",
                                               "Transfer-Encoding": "chunked"}, chunked, length=False)
    assert status == 411 and body["type"] == "LengthRequired"
    assert upstream.seen == []


def test_an_oversized_body_is_refused_before_it_is_read(proxied):
    proxy, upstream = proxied
    headers = {**own(proxy), "Content-Type": "application/json", "Content-Length": str(50 * 1024 * 1024)}
    status, body = send(proxy, "POST", START, headers, b"", length=False)
    assert status == 413
    assert upstream.seen == []


def test_the_proxy_uses_serves_door_not_a_copy(monkeypatch, proxied):
    # GIVEN serve's door refusing everything
    from relayflow import console_proxy

    proxy, upstream = proxied
    monkeypatch.setattr(console_proxy, "request_refusal", lambda *a: (418, "Teapot", "serve's door said no"))
    status, body = send(proxy, "GET", "/workflows", {"Host": f"127.0.0.1:{proxy.port}"})
    # THEN the proxy answers with it
    assert (status, body["message"]) == (418, "serve's door said no")
    assert upstream.seen == []
