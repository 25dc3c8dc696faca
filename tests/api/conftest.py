"""Fixtures for the API tests: `relayflow serve`'s server, in-process on 127.0.0.1, port 0.

Every request goes over real HTTP (urllib) to the server, which turns it into an
API Gateway event for functions/api/app.py. ``server.settle()`` waits until the
pump has carried out everything the requests so far made ready (not future
timers), so tests never sleep.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from relayflow.actions.allowlist import ActionModules
from relayflow.actions.builtin import default_registry
from relayflow.serve import ApiServer, make_stack


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    raw: bytes


class Api:
    """A tiny HTTP client of one server."""

    def __init__(self, server: ApiServer):
        self.server = server
        self.url = server.url
        self.sent = 0

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             raw: bytes | str | None = None) -> Reply:
        if raw is not None:
            data: bytes | None = raw.encode() if isinstance(raw, str) else raw
        else:
            data = json.dumps(body).encode() if body is not None else None
        headers = dict(headers or {})
        if method not in ("GET", "HEAD") and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/yaml" if raw is not None else "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        self.sent += 1
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, payload, hdrs = resp.status, resp.read(), dict(resp.headers.items())
        except urllib.error.HTTPError as exc:
            status, payload, hdrs = exc.code, exc.read(), dict(exc.headers.items())
        ctype = hdrs.get("Content-Type", "")
        decoded: Any = payload.decode("utf-8", "replace")
        if ctype.startswith("application/json"):
            decoded = json.loads(payload)
        return Reply(status, decoded, hdrs, payload)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, text: str, **kw: Any) -> Reply:
        return self.call("PUT", path, raw=text, **kw)

    def settle(self) -> None:
        self.server.settle()

    # -- shortcuts --------------------------------------------------------------------
    def register(self, text: str) -> dict[str, Any]:
        name = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("name:"))
        r = self.put(f"/workflows/{name}", text)
        assert r.status == 200, r.body
        return r.body

    def start(self, workflow: str, input: Any = None, **kw: Any) -> str:
        r = self.post(f"/workflows/{workflow}/executions", {"input": input} if input is not None else None, **kw)
        assert r.status == 201, r.body
        return r.body["execution_id"]

    def execution(self, eid: str) -> dict[str, Any]:
        r = self.get(f"/executions/{eid}")
        assert r.status == 200, r.body
        return r.body

    def pending(self, execution_id: str | None = None) -> list[dict[str, Any]]:
        r = self.get("/inquiries?status=pending")
        assert r.status == 200, r.body
        return [i for i in r.body["inquiries"] if execution_id is None or i["execution_id"] == execution_id]


def serve(backend: str) -> Iterator[Api]:
    # The API tests' python: actions are functions in their own modules: declare tests.api.
    stack = make_stack(backend, registry=default_registry(ActionModules(["tests.api"])))
    try:
        with ApiServer(stack) as server:
            yield Api(server)
    finally:
        close = getattr(stack, "close", None)
        if close is not None:
            close()


@pytest.fixture
def api() -> Iterator[Api]:
    """A fresh server over the memory backend (real time)."""
    yield from serve("memory")


@pytest.fixture(scope="module")
def local_api() -> Iterator[Api]:
    """One server per module over the embedded AWS stack (moto + the Lambda handlers)."""
    yield from serve("local")
