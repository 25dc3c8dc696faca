"""``relayflow serve``: the API handler behind a local HTTP server, over an embedded stack.

Each HTTP request becomes an API Gateway REST (v1) proxy event for the very
handler AWS runs (``functions/api/app.py``), and its answer goes back as the
HTTP response. A background thread pumps the stack (the queues, the worker,
advance, and timers when they come due, in real time).

Requests never wait behind the pump's work. On the embedded AWS stack they run
beside the pump's handlers, as API Lambda invocations run beside advance and
worker invocations on AWS; only each single moto write is made whole under a
process-wide lock (``local.moto_tuning``), which DynamoDB reads hold shared,
side by side. A waiting request is granted that lock before the pump's waiting
calls (``priority_lock``): each time it asks, a request waits at most for the
one write the pump is in, never for a batch, nor for the pump's reads, however
long. The memory backend's twins are plain Python objects with no such guard,
so there a request and a pump step take turns at the stack's lock, the request
first; a step there is a fraction of a millisecond, and it lets go of the lock
while it runs an action, however slow. (A ``local: true`` action runs inside the
advance step, lock held, as it runs inside that invocation on AWS: its budget
bounds it.)
"""
from __future__ import annotations

import base64
import contextlib
import gc
import getpass
import hmac
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from .api.document import MAX_BODY
from .priority_lock import PriorityLock

SAFE_PATH = "/%!$&'()*+,;=:@-._~"  # kept as sent; anything else is percent-encoded, like API Gateway sees it
IDLE_POLL = 0.1  # seconds the pump waits when nothing is due
DRAIN_LIMIT = 16 * MAX_BODY  # an oversized body up to this is read before the 413


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


class _Context:
    """Enough of Lambda's context object for Powertools."""

    function_name = "relayflow-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:relayflow-api"
    log_group_name = "/aws/lambda/relayflow-api"
    log_stream_name = "local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _step_memory(stack: Any) -> bool:
    """One delivery or the timers already due; never waits for a future timer."""
    if stack.task_queue.messages or stack.event_queue.messages:
        return bool(stack.step())
    due = stack.timers.next_due()
    if due is not None and due <= stack.clock.now():
        return bool(stack.step())
    return bool(stack.reconcile_schedule.step(idle=True))  # every 5 minutes of the real clock


def _run_actions_unlocked(stack: Any, lock: PriorityLock) -> None:
    """The memory backend's pump step holds the stack's lock, but not while an action runs:
    the action touches none of the stack, and a slow one would hold every request up (on AWS
    the API runs beside the worker too). What the step does before and after is locked again."""
    run = stack.execute

    def execute(cmd: Any) -> Any:
        with lock.released():
            return run(cmd)

    stack.execute = execute


class _LocalStepper:
    """Steps of the embedded AWS stack. Only its handlers create schedules, so the next due
    time is looked up (a moto call per schedule) after the pump did something, not every poll."""

    def __init__(self) -> None:
        self.next_due: float | None = None  # None: unknown

    def __call__(self, stack: Any) -> bool:
        if stack.deliver("task") or stack.deliver("event"):
            if stack.subscribers:
                stack.observe()
            self.next_due = None
            return True
        if self.next_due is None:
            pending = stack.pending_schedules()
            self.next_due = pending[0][0] if pending else float("inf")
        if self.next_due <= stack.clock.now():
            self.next_due = None
            return bool(stack.fire_due())
        if stack.reconcile_schedule.step(idle=True):  # every 5 minutes of the real clock
            self.next_due = None
            return True
        return False


def _moto_lock() -> PriorityLock:
    from .local.moto_tuning import MOTO_LOCK
    return MOTO_LOCK


def freeze_heap() -> None:
    """Leave what is alive now (the imported AWS models, moto's backends, the handlers) out of
    every later garbage collection, for the life of the process.

    A full collection walks every tracked object, and every thread waits while it runs: on the
    embedded stack, over the tens of MB that boto3's service models and moto's backends hold,
    each took up to 2.3 s (bench/serve_latency.py, 1,000 items; ten of them in 13 minutes), and
    the slowest API requests were those that happened to wait for one. ``gc.freeze()`` moves
    them to a generation no collection visits. Only for a process that serves until it exits
    (``relayflow serve``): objects frozen stay in memory even once they are garbage.
    """
    gc.collect()
    gc.freeze()


def to_event(method: str, target: str, headers: list[tuple[str, str]], body: bytes, client: str) -> dict[str, Any]:
    """An API Gateway REST proxy event for one HTTP request (path still percent-encoded, query decoded)."""
    parts = urlsplit(target if target.startswith("/") else "/" + target.split("://", 1)[-1].partition("/")[2])
    path = quote(parts.path.encode("latin-1", "replace"), safe=SAFE_PATH) or "/"
    multi_q: dict[str, list[str]] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        multi_q.setdefault(key, []).append(value)
    multi_h: dict[str, list[str]] = {}
    for key, value in headers:
        multi_h.setdefault(key, []).append(value)
    try:
        text, b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, b64 = base64.b64encode(body).decode(), True
    now = time.time()
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_h.items()} or None, "multiValueHeaders": multi_h or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_q.items()} or None,
        "multiValueQueryStringParameters": multi_q or None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}", "httpMethod": method, "path": path, "stage": "local",
            "requestId": str(uuid.uuid4()), "accountId": "123456789012", "apiId": "local",
            "protocol": "HTTP/1.1", "requestTimeEpoch": int(now * 1000),
            # The answerer's identity: on AWS, the IAM principal; here, the user running serve.
            "identity": {"sourceIp": client, "userAgent": (multi_h.get("User-Agent") or [""])[-1],
                         "user": f"local:{_local_user()}"},
        },
        "body": text if body else None, "isBase64Encoded": b64,
    }


class ApiServer:
    """The API on ``host:port`` (port 0: any free port) over ``stack``, with the stack's pump running."""

    def __init__(self, stack: Any, port: int = 0, host: str = "127.0.0.1", log: Any = None,
                 handler_output: Any = None, token: str | None = None, requests_first: bool = True):
        from functions.api import app as api_app

        self.stack = stack
        self.token = token or None  # when set, every request needs "Authorization: Bearer <token>"
        self.log = log
        memory = hasattr(stack, "task_queue")
        # What a request and a pump step both hold: the memory twins need turns; moto guards itself.
        shared = PriorityLock("stack") if memory else _moto_lock()
        self.lock: Any = shared if memory else contextlib.nullcontext()
        # Where requests go first (requests_first=False: arrival order, to measure the difference).
        self._first: PriorityLock | None = shared if requests_first else None
        self._state = threading.Lock()  # the counters below, never held while working
        self._idle = threading.Condition(self._state)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._requests = 0  # requests answered
        self._idle_after = -1  # the pump found nothing to do after this many requests
        self.pump_errors: list[BaseException] = []
        self._step: Callable[[Any], bool] = _step_memory if memory else _LocalStepper()
        if memory:
            _run_actions_unlocked(stack, shared)
        self._sink = handler_output if handler_output is not None else open(os.devnull, "w")  # noqa: SIM115
        api_app.set_service(stack.service)
        handler = getattr(getattr(api_app.logger, "registered_handler", None), "setStream", None)
        if handler is not None:
            handler(self._sink)
        self._handler = api_app.handler
        self.httpd = ThreadingHTTPServer((host, port), _RequestHandler)
        self.httpd.daemon_threads = True
        self.httpd.api = self  # type: ignore[attr-defined]
        self.host, self.port = str(self.httpd.server_address[0]), int(self.httpd.server_address[1])
        self.allowed_hosts = own_hosts(self.host, self.port)
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- running ---------------------------------------------------------------------
    def start(self) -> ApiServer:
        def http() -> None:
            self.httpd.serve_forever(poll_interval=0.05)

        for target, name in ((http, "relayflow-http"), (self._pump, "relayflow-pump")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def serve_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        from functions.api import app as api_app
        api_app.set_service(None)

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _pump(self) -> None:
        while not self._stop.is_set():
            with self._state:
                seen = self._requests
            try:
                with self.lock:
                    progressed = self._step(self.stack)
            except Exception as exc:  # keep serving; settle() reports it
                self.pump_errors.append(exc)
                if self.log is not None:
                    print(f"relayflow serve: a pump step failed: {exc!r}", file=self.log, flush=True)
                progressed = False
            if not progressed:
                with self._state:
                    self._idle_after = seen
                    self._idle.notify_all()
            if not progressed:
                self._wake.wait(IDLE_POLL)
                self._wake.clear()

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until the pump has done everything the requests so far made ready (not future timers)."""
        with self._state:
            target = self._requests
            self._wake.set()
            if not self._idle.wait_for(lambda: self._idle_after >= target or bool(self.pump_errors), timeout):
                raise TimeoutError(f"the stack was still busy after {timeout} s")
            if self.pump_errors:
                raise RuntimeError("the pump failed") from self.pump_errors[0]

    # -- one request -------------------------------------------------------------------
    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        resp: dict[str, Any] = {}
        try:  # (no redirect_stdout: it is process-wide; the handler's logger writes to the sink)
            with self._first.urgent() if self._first else contextlib.nullcontext(), self.lock:
                resp = self._handler(event, _Context())
            return resp
        finally:
            with self._state:
                self._requests += 1
            if event["httpMethod"] == "POST" and int(resp.get("statusCode") or 500) < 300:
                self._wake.set()  # it may have queued work: no need to wait for the next poll


# -- the door: which requests reach the API at all -------------------------------------------
# A server on 127.0.0.1 is reachable from every web page the developer opens: a page can POST
# to it (a "simple" cross-site request needs no CORS preflight if its Content-Type is
# text/plain or a form), and a rebinding DNS name can make the browser treat it as same-origin.
# So, before anything is read or run: the Host must be this server's own loopback name, a
# request that names an Origin must come from this server's own origin, and a state-changing
# request must be JSON or YAML (types a page cannot send cross-site without a preflight, which
# this server never grants). Optionally, a bearer token for shared machines.
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
BODY_TYPES = ("application/json", "application/yaml")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def own_hosts(host: str, port: int) -> frozenset[str]:
    """The Host header values that name this server: its loopback names with its port."""
    names = set(LOOPBACK_NAMES)
    if host not in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "::"):
        names.add(f"[{host}]" if ":" in host else host)  # --host given explicitly
    return frozenset(f"{name}:{port}".lower() for name in names)


def request_refusal(method: str, headers: dict[str, str], allowed_hosts: frozenset[str],
                    token: str | None) -> tuple[int, str, str] | None:
    """(status, type, message) when the request must not reach the API, None when it may."""
    lower = {k.lower(): v for k, v in headers.items()}
    host = (lower.get("host") or "").strip().lower()
    if host not in allowed_hosts:
        return (421, "MisdirectedRequest",
                f"Host {host or '(none)'!r} is not this server; use one of {', '.join(sorted(allowed_hosts))}")
    origin = lower.get("origin")
    if origin is not None and origin.strip().lower().removeprefix("http://") not in allowed_hosts:
        return 403, "ForbiddenOrigin", f"requests from origin {origin!r} are not accepted"
    if (lower.get("sec-fetch-site") or "").lower() == "cross-site":
        return 403, "ForbiddenOrigin", "cross-site requests are not accepted"
    if token is not None:
        scheme, _, given = (lower.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return 401, "Unauthorized", "this server needs 'Authorization: Bearer <token>' (RELAYFLOW_TOKEN)"
    if method.upper() in STATE_CHANGING:
        ctype = (lower.get("content-type") or "").split(";")[0].strip().lower()
        if ctype not in BODY_TYPES:
            return (415, "UnsupportedMediaType",
                    f"a {method.upper()} request must be sent as application/json or application/yaml, "
                    f"not {ctype or '(no Content-Type)'!r}")
    return None


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "relayflow"
    sys_version = ""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every method goes to the API, which answers 405 where it must
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log = self.server.api.log  # type: ignore[attr-defined]
        if log is not None:
            print(f"{self.address_string()} {format % args}", file=log, flush=True)

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None, close: bool = False) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, status: int, kind: str, message: str) -> None:
        body = json.dumps({"type": kind, "message": message}).encode()
        self._reply(status, body, {"Content-Type": "application/json"}, close=True)

    def _handle(self) -> None:
        api: ApiServer = self.server.api  # type: ignore[attr-defined]
        refused = request_refusal(self.command, dict(self.headers.items()), api.allowed_hosts, api.token)
        if refused is not None:
            status, kind, message = refused
            extra = {"WWW-Authenticate": 'Bearer realm="relayflow"'} if status == 401 else None
            body = json.dumps({"type": kind, "message": message}).encode()
            return self._reply(status, body, {"Content-Type": "application/json", **(extra or {})}, close=True)
        if not self.path.startswith("/") and "://" not in self.path:  # "*" and the like: no resource
            return self._refuse(404, "NotFound", f"no route {self.command} {self.path[:100]}")
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._refuse(411, "LengthRequired", "send the body with a Content-Length")
        raw_length = self.headers.get("Content-Length") or "0"
        if not raw_length.strip().isdigit():
            return self._refuse(400, "BadRequest", "Content-Length is not a number")
        length = int(raw_length)
        if length > MAX_BODY:
            if length <= DRAIN_LIMIT:  # read it, so a client still sending sees the answer, not a reset
                while length > 0:
                    chunk = self.rfile.read(min(length, 1 << 16))
                    if not chunk:
                        break
                    length -= len(chunk)
            return self._refuse(413, "PayloadTooLarge", f"the body is larger than {MAX_BODY} bytes")
        body = self.rfile.read(length) if length else b""
        event = to_event(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
        try:
            resp = api.invoke(event)
        except Exception as exc:  # the handler itself broke: a bug, reported as such
            print(f"relayflow serve: the API handler failed: {exc!r}", file=sys.stderr)
            return self._refuse(500, "InternalError", "the API handler failed")
        headers: dict[str, str] = {}
        for key, values in (resp.get("multiValueHeaders") or {}).items():
            headers[key] = ", ".join(values)
        headers.update(resp.get("headers") or {})
        data = resp.get("body") or ""
        out = base64.b64decode(data) if resp.get("isBase64Encoded") else data.encode("utf-8")
        self._reply(int(resp.get("statusCode", 500)), out, headers)


def make_stack(backend: str, handler_output: Any = None, registry: Any = None) -> Any:
    """A real-time embedded stack: ``local`` (moto + the Lambda handlers) or ``memory``."""
    if backend == "memory":
        from .harness import MemoryStack
        return MemoryStack(registry=registry, real_time=True)
    from .local.stack import EmbeddedStack
    return EmbeddedStack(registry=registry, real_time=True, handler_output=handler_output if handler_output is not None
                      else open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the stack
