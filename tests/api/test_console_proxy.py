"""`relayflow console`: the signing proxy between a browser and a deployed API.

The "deployed API" here is `relayflow serve` on loopback with a client told to
sign anyway (fake credentials from the environment), so what reaches the API
can be inspected: every forwarded request carries a SigV4 Authorization made
from the user's credentials, and the browser never sees them.
"""
from __future__ import annotations

import http.client
import json

import pytest

from relayflow.client import Client
from relayflow.console_proxy import ConsoleProxy

from .browser import Browser, require_chromium
from .conftest import Api

WF = """\
name: p.wait
tasks:
  - name: approve
    action: core.ask
    input: {prompt: go?, schema: {type: object, required: [ok], properties: {ok: {type: boolean}}}}
"""


@pytest.fixture
def proxied(api: Api, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEUSER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "user-secret-never-in-the-browser")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = Client(api.url, region="eu-west-1")
    client.sign = True  # as for a deployed (non-loopback) API
    seen: list[dict] = []
    server = api.server
    invoke = server.invoke

    def record(event):
        seen.append(event)
        return invoke(event)

    server.invoke = record
    with ConsoleProxy(client) as proxy:
        yield api, proxy, seen
    server.invoke = invoke


def request(proxy: ConsoleProxy, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    out = resp.status, resp.read()
    conn.close()
    return out


def test_requests_reach_the_api_signed_with_the_users_credentials(proxied):
    api, proxy, seen = proxied
    api.register(WF)
    status, body = request(proxy, "GET", "/executions?limit=5")
    assert status == 200 and json.loads(body) == {"executions": [], "next": None}
    auth = seen[-1]["headers"]["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLEUSER/") and "/eu-west-1/execute-api/" in auth
    status, body = request(proxy, "POST", "/workflows/p.wait/executions", b"{}",
                           {"Content-Type": "application/json", "Origin": proxy.url})
    assert status == 201, body
    assert seen[-1]["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256 ")
    status, page = request(proxy, "GET", "/ui")
    assert status == 200 and b"relayflow console" in page
    assert b"user-secret" not in page and b"AKIDEXAMPLEUSER" not in page


def test_another_sites_page_cannot_act_through_it(proxied):
    api, proxy, seen = proxied
    api.register(WF)
    before = len(seen)
    for origin, says in (("http://evil.example", b"not accepted"), (None, b"own pages")):
        headers = {"Content-Type": "application/json"}
        if origin:
            headers["Origin"] = origin
        status, body = request(proxy, "POST", "/workflows/p.wait/executions", b"{}", headers)
        assert status == 403 and says in body
    status, body = request(proxy, "GET", "/executions", headers={"Host": "rebound.example:80"})
    assert status == 421 and b"is not this server" in body
    assert len(seen) == before  # nothing was forwarded


def test_the_console_works_through_the_proxy(proxied, tmp_path):
    require_chromium()
    api, proxy, seen = proxied
    api.register(WF)
    eid = api.start("p.wait")
    api.settle()
    browser = Browser(tmp_path / "profile")
    try:
        page = browser.open(f"{proxy.url}/ui/executions/{eid}")
        page.wait("document.body.dataset.state === 'ready' && !!document.querySelector('form[data-inquiry]')")
        page.fill("form[data-inquiry] [name=ok]", True)
        page.click("form[data-inquiry] button[type=submit]")
        page.wait("document.body.dataset.message === 'answered approve'")
        api.settle()
        page.wait("document.body.dataset.executionStatus === 'succeeded'")
    finally:
        browser.close()
    assert api.execution(eid)["status"] == "succeeded"
    answered = [e for e in seen if e["path"].endswith("/respond")]
    assert answered and answered[0]["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256 ")
