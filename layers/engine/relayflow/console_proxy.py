"""``relayflow console``: the console of a deployed stack, through a local signing proxy.

A deployed API requires IAM auth, and a browser must not hold AWS keys. So the
browser talks to a server on 127.0.0.1 that forwards each request to the API
signed with SigV4 from the user's own credential chain (``Client``), and hands
the answer back. The console page itself comes from the API (``/ui``).

Because the proxy acts with the user's credentials, it applies ``relayflow
serve``'s door (``serve.request_refusal``) before anything is read or forwarded:
the Host must be the proxy's own loopback name (a DNS-rebinding page has
another: 421), a foreign Origin or a cross-site fetch is refused (403), and a
state change must be JSON or YAML (415: a page cannot send those cross-site
without a preflight, which the proxy never grants). On top of that, anything
but GET/HEAD must carry the proxy's own Origin: only its own pages may change
things through it. A refused request never reaches the API.
"""
from __future__ import annotations

import contextlib
import json
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .client import Client
from .serve import own_hosts, request_refusal

FORWARDED_HEADERS = ("Content-Type", "Accept", "Idempotency-Key")
MAX_BODY = 1_048_576 + 1  # the API's own limit answers beyond it


class ConsoleProxy:
    def __init__(self, client: Client, port: int = 0, host: str = "127.0.0.1", log: Any = None):
        self.client = client
        self.log = log
        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.proxy = self  # type: ignore[attr-defined]
        self.host, self.port = str(self.httpd.server_address[0]), int(self.httpd.server_address[1])
        self.allowed_hosts = own_hosts(self.host, self.port)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ConsoleProxy:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="relayflow-console", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> ConsoleProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def forward(self, method: str, path: str, headers: dict[str, str],
                body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send one request to the API, signed; its status, headers and body."""
        url = self.client.base + path
        hdrs = {k: v for k, v in headers.items() if k in FORWARDED_HEADERS}
        if self.client.sign:
            hdrs = self.client._signed_headers(method, url, body or None, hdrs)
        req = urllib.request.Request(url, data=body or None, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=self.client.timeout) as resp:  # noqa: S310 - the API's URL
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers.items()), exc.read()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "relayflow-console"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log = self.server.proxy.log  # type: ignore[attr-defined]
        if log is not None:
            print(f"{self.address_string()} {format % args}", file=log, flush=True)

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, status: int, kind: str, message: str) -> None:
        self.close_connection = True
        self._send(status, json.dumps({"type": kind, "message": message}).encode())

    def _handle(self) -> None:
        proxy: ConsoleProxy = self.server.proxy  # type: ignore[attr-defined]
        refused = request_refusal(self.command, dict(self.headers.items()), proxy.allowed_hosts, None)
        if refused is not None:
            return self._refuse(*refused)
        if self.command not in ("GET", "HEAD") and not self.headers.get("Origin"):
            # request_refusal let it through as not foreign; the user's credentials go further
            return self._refuse(403, "ForbiddenOrigin", "only the console's own pages may change things through it")
        if not self.path.startswith("/"):
            return self._refuse(400, "BadRequest", "the request target must be a path")
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._refuse(411, "LengthRequired", "send the body with a Content-Length")
        length = (self.headers.get("Content-Length") or "0").strip()
        if not length.isdigit() or int(length) > MAX_BODY:
            return self._refuse(413, "PayloadTooLarge", "the body is too large")
        body = self.rfile.read(int(length)) if int(length) else b""
        try:
            status, headers, data = proxy.forward(self.command, self.path, dict(self.headers.items()), body)
        except Exception as exc:  # noqa: BLE001 - no credentials, no network: the page shows why
            message = getattr(exc, "body", None) or str(exc)
            return self._refuse(502, "BadGateway", f"cannot reach the API: {message}")
        self._send(status, data, headers.get("Content-Type", "application/octet-stream"))

    do_GET = do_HEAD = do_POST = do_PUT = _handle


def serve(client: Client, port: int, as_json: bool) -> int:
    """Run the proxy until Ctrl-C; print where the console is."""
    try:
        proxy = ConsoleProxy(client, port=port, log=sys.stderr)
    except OSError as exc:
        print(f"relayflow: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    with proxy:
        if as_json:
            print(json.dumps({"console": f"{proxy.url}/ui", "api": client.base, "signed": client.sign}), flush=True)
        else:
            print(f"relayflow console for {client.base} on {proxy.url}/ui\n"
                  f"  requests are {'signed with your AWS credentials' if client.sign else 'sent as they are'}; "
                  "Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0
