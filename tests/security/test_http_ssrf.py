"""core.http reaches only allowed networks: every hop checked before any connection, one deadline.

Traffic goes only to 127.0.0.1: names resolve through a stub, and a refused
address is refused before any socket is opened (the tests assert no connection).
"""
from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from relayflow.actions.builtin import default_registry
from relayflow.actions.safe_http import NetworkPolicy, parse_networks
from relayflow.actions.worker import run_attempt
from relayflow.core.messages import DispatchAttempt


class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, Any] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        route = self.routes.get(self.path, ("body", b'{"ok": true}'))
        kind, value = route
        if kind == "redirect":
            self.send_response(302)
            self.send_header("Location", value)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif kind == "trickle":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(value):
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(value)))
            self.end_headers()
            self.wfile.write(value)

    do_POST = do_GET  # noqa: N815


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.routes = {}
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# Names the stub resolves; nothing is ever sent to an address but 127.0.0.1.
NAMES = {"metadata.test": ["169.254.169.254"], "imds6.test": ["fd00:ec2::254"], "intranet.test": ["10.1.2.3"],
         "mixed.test": ["127.0.0.1", "169.254.169.254"], "local.test": ["127.0.0.1"],
         "mapped.test": ["::ffff:169.254.169.254"], "zero.test": ["0.0.0.0"], "ecs.test": ["169.254.170.2"]}


def stub(host: str, port: int) -> list[str]:
    if host in NAMES:
        return NAMES[host]
    return [socket.getaddrinfo(host, port, flags=socket.AI_NUMERICHOST)[0][4][0]]


@pytest.fixture
def connections(monkeypatch) -> list[tuple]:
    """Every socket connection core.http opens."""
    made: list[tuple] = []
    real = socket.create_connection

    def record(address, *args, **kwargs):
        made.append(address)
        assert address[0] in ("127.0.0.1", "::1"), f"a connection to {address} was attempted"
        return real(address, *args, **kwargs)
    monkeypatch.setattr(socket, "create_connection", record)
    return made


def call(url: str, policy: NetworkPolicy, **extra: Any):
    registry = default_registry(network=policy)
    cmd = DispatchAttempt("ex", "wf", "fetch", 1, 0, 1, "core.http", {"url": url, **extra}, False, None)
    return run_attempt(registry, cmd)


LOCAL = NetworkPolicy(allow_private=True, resolver=stub)  # relayflow run / serve / test
AWS = NetworkPolicy(allow_private=False, resolver=stub)   # a deployed stack with no HttpAllowedNetworks


@pytest.mark.parametrize("policy", [LOCAL, AWS], ids=["local", "aws"])
@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/", "http://metadata.test/",
    "http://imds6.test/", "http://[fd00:ec2::254]/", "http://mapped.test/", "http://[::ffff:169.254.169.254]/",
    "http://ecs.test/v2/credentials", "http://[fe80::1]/", "http://zero.test:8080/", "http://mixed.test/",
])
def test_link_local_and_metadata_are_refused_on_every_stack_before_any_connection(url, policy, connections):
    out = call(url, policy)
    assert out.status == "failed" and out.error["type"] == "NetworkNotAllowed", out.error
    assert connections == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/", "http://local.test/", "http://[::1]/", "http://intranet.test/",
                                 "http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.0.1/"])
def test_loopback_and_private_ranges_are_refused_on_aws_unless_listed(url, connections):
    out = call(url, AWS)
    assert out.status == "failed" and out.error["type"] == "NetworkNotAllowed", out.error
    assert "loopback" in out.error["message"] or "private" in out.error["message"]
    assert connections == []


def test_a_listed_network_is_allowed_on_aws(server, connections):
    policy = NetworkPolicy(allow_private=False, allowed=parse_networks("127.0.0.0/8"), resolver=stub)
    out = call(f"http://{server}/", policy)
    assert out.status == "succeeded" and out.result["body"] == {"ok": True}
    assert connections and connections[0][0] == "127.0.0.1"


def test_metadata_cannot_be_listed():
    with pytest.raises(ValueError, match="never allowed"):
        parse_networks("169.254.0.0/16")
    with pytest.raises(ValueError, match="never allowed"):
        NetworkPolicy.from_setting("0.0.0.0/0")


@pytest.mark.parametrize("target, kind", [
    ("http://metadata.test/latest/meta-data/", "NetworkNotAllowed"),
    ("http://169.254.169.254/", "NetworkNotAllowed"),
    ("file:///etc/passwd", "NetworkNotAllowed"),
    ("gopher://127.0.0.1:6379/_FLUSHALL", "NetworkNotAllowed"),
    ("ftp://127.0.0.1/", "NetworkNotAllowed"),
])
def test_every_redirect_hop_is_checked(server, target, kind, connections):
    Handler.routes = {"/start": ("redirect", target)}
    out = call(f"http://{server}/start", LOCAL)
    assert out.status == "failed" and out.error["type"] == kind, out.error
    assert len(connections) == 1  # the first hop only


def test_a_redirect_to_a_private_address_is_refused_on_aws(server, connections):
    policy = NetworkPolicy(allow_private=False, allowed=parse_networks("127.0.0.1/32"), resolver=stub)
    Handler.routes = {"/start": ("redirect", "http://intranet.test/admin")}
    out = call(f"http://{server}/start", policy)
    assert out.error["type"] == "NetworkNotAllowed" and "10.1.2.3" in out.error["message"]
    assert len(connections) == 1


def test_an_allowed_redirect_is_followed_and_a_loop_ends(server):
    Handler.routes = {"/a": ("redirect", "/b"), "/loop": ("redirect", "/loop")}
    out = call(f"http://{server}/a", LOCAL)
    assert out.status == "succeeded" and out.result["body"] == {"ok": True}
    out = call(f"http://{server}/loop", LOCAL)
    assert out.status == "failed" and "redirects" in out.error["message"]


def test_credentials_in_the_url_are_refused(connections):
    out = call("http://user:secret@127.0.0.1:9/", LOCAL)
    assert out.error["type"] == "NetworkNotAllowed" and "credentials" in out.error["message"]
    assert connections == []


def test_one_deadline_bounds_a_server_that_trickles_its_body(server):
    Handler.routes = {"/slow": ("trickle", 100)}  # 100 bytes, one per 0.1 s: 10 s without a deadline
    started = time.monotonic()
    out = call(f"http://{server}/slow", LOCAL, timeout=1)
    elapsed = time.monotonic() - started
    assert out.status == "failed" and "deadline" in out.error["message"], out.error
    assert elapsed < 5  # bounded by the deadline, not by the server's 10 s


@pytest.mark.parametrize("timeout", [0, -1, "30", True, 10_000])
def test_a_timeout_outside_the_bounds_is_invalid_input(timeout):
    out = call("http://127.0.0.1:9/", LOCAL, timeout=timeout)
    assert out.error["type"] == "InvalidInput"
