"""HTTP for ``core.http`` that reaches only the networks a deployment allows.

A workflow names its URL, so it could point the worker at the instance
metadata service, at the VPC's private services or (through a redirect) at
anything else. Every hop is therefore checked before any connection is made:
the scheme is http or https, the host's addresses are resolved once and every
one must be allowed, and the connection goes to the address that was checked
(no second lookup a DNS rebinding could answer differently). Link-local and
cloud metadata addresses are never allowed; loopback and private ranges only
where the policy allows them (the local stacks; on AWS only the CIDRs the stack
lists). One deadline bounds the whole request: resolution, every hop, the body.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from .errors import ActionFailed

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
# Metadata services outside 169.254.0.0/16: AWS's IPv6 IMDS, Alibaba's, and the like. Never reachable.
METADATA = tuple(ipaddress.ip_network(n) for n in ("fd00:ec2::254/128", "100.100.100.200/32", "192.0.0.192/32"))
NEVER = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "0.0.0.0/8", "::/128",
                                               "224.0.0.0/4", "ff00::/8", "255.255.255.255/32")) + METADATA


class NetworkNotAllowed(ActionFailed):
    def __init__(self, message: str):
        super().__init__(message, type="NetworkNotAllowed")


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass
class NetworkPolicy:
    """Which addresses ``core.http`` may reach.

    ``allow_private``: loopback and private ranges too (the local stacks, where
    the services a workflow calls run on the developer's machine). Otherwise
    only public addresses and those in ``allowed`` (CIDRs a stack lists).
    Link-local and metadata addresses are refused whatever the policy says.
    """

    allow_private: bool = True
    allowed: tuple[Network, ...] = ()
    resolver: Resolver = field(default=system_resolver)

    @classmethod
    def from_setting(cls, value: str | None) -> NetworkPolicy:
        """``RELAYFLOW_HTTP_ALLOW_NETWORKS``: CIDRs separated by commas, on AWS; nothing private when empty."""
        return cls(allow_private=False, allowed=parse_networks(value or ""))

    def refusal(self, address: str) -> str | None:
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return f"{address!r} is not an IP address"
        mapped = getattr(ip, "ipv4_mapped", None)
        if mapped is not None:
            ip = mapped
        if any(ip in net for net in NEVER):
            return f"{ip} is a link-local, metadata or reserved address, never reachable from a workflow"
        if ip.is_global:
            return None
        if self.allow_private or any(ip in net for net in self.allowed):
            return None
        kind = "loopback" if ip.is_loopback else "private"
        return (f"{ip} is a {kind} address; this stack allows only public addresses and the networks "
                "it lists (template parameter HttpAllowedNetworks)")


def parse_networks(value: str) -> tuple[Network, ...]:
    out = []
    for raw in value.replace(",", " ").split():
        try:
            net = ipaddress.ip_network(raw, strict=False)
        except ValueError:
            raise ValueError(f"{raw!r} is not a CIDR network") from None
        if any(net.overlaps(n) for n in NEVER):
            raise ValueError(f"{raw!r} overlaps link-local or metadata addresses, which are never allowed")
        out.append(net)
    return tuple(out)


class _Deadline:
    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds
        self.seconds = seconds

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the request did not finish within its {self.seconds:g} s deadline")
        return left


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address that was checked, while Host names the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _target(url: str, policy: NetworkPolicy, deadline: _Deadline) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, path, address) of ``url`` once its host's every address is allowed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise NetworkNotAllowed(f"{url!r} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise NetworkNotAllowed(f"only http and https URLs are allowed, not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise NetworkNotAllowed("credentials in the URL are not allowed; send them in a header")
    host = parts.hostname
    if not host:
        raise NetworkNotAllowed(f"{url!r} has no host")
    port = port or (443 if scheme == "https" else 80)
    deadline.left()
    try:
        addresses = policy.resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise ActionFailed(f"cannot resolve {host!r}: {exc}", type="HttpError") from None
    if not addresses:
        raise ActionFailed(f"cannot resolve {host!r}: no address", type="HttpError")
    for address in addresses:
        reason = policy.refusal(address)
        if reason:
            raise NetworkNotAllowed(f"{host} resolves to {reason}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port, path, addresses[0]


def fetch(method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float,
          policy: NetworkPolicy, max_body: int) -> tuple[int, dict[str, str], bytes, str]:
    """(status, headers, body, final URL) of ``method url``, following redirects that stay allowed."""
    deadline = _Deadline(timeout)
    origin = None
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            scheme, host, port, path, address = _target(url, policy, deadline)
            here = (scheme, host, port)
            if origin is not None and here != origin:
                # Credentials meant for one origin never follow a redirect to another.
                headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
            origin = here
            cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
            conn = cls(host, port, address, deadline.left())
            watchdog = None
            try:
                conn.connect()
                # Socket timeouts bound each read, not their sum: at the deadline the socket is shut,
                # which ends any read in progress (a server trickling one byte at a time included).
                watchdog = threading.Timer(deadline.left(), _shut, (conn.sock,))
                watchdog.daemon = True
                watchdog.start()
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                location = resp.getheader("Location")
                if resp.status in REDIRECTS and location:
                    url = urljoin(url, location)
                    if resp.status == 303 or (resp.status in (301, 302) and method not in ("GET", "HEAD")):
                        method, body = "GET", None
                        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
                    continue
                raw = _read(resp, deadline, max_body)
                return resp.status, dict(resp.getheaders()), raw, url
            except (OSError, http.client.HTTPException):
                deadline.left()  # past the deadline: say so, not "connection reset"
                raise
            finally:
                if watchdog is not None:
                    watchdog.cancel()
                conn.close()
        raise ActionFailed(f"more than {MAX_REDIRECTS} redirects", type="HttpError")
    except TimeoutError as exc:
        raise ActionFailed(str(exc) if "deadline" in str(exc) else
                           f"the request did not finish within its {timeout:g} s deadline", type="HttpError") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise ActionFailed(f"{type(exc).__name__}: {exc}", type="HttpError") from None


def _shut(sock: socket.socket | None) -> None:
    try:
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _read(resp: http.client.HTTPResponse, deadline: _Deadline, max_body: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            deadline.left()  # a read the watchdog ended is the deadline, not the end of the body
            if resp.length:  # the server closed before the Content-Length it announced
                raise http.client.IncompleteRead(b"".join(chunks), resp.length)
            return b"".join(chunks)
        size += len(chunk)
        chunks.append(chunk)
        if size > max_body:
            return b"".join(chunks)  # the caller refuses it: over the limit
        deadline.left()


def networks(value: Iterable[str]) -> tuple[Network, ...]:
    return parse_networks(",".join(value))
