"""Headless Chromium driven over the DevTools protocol, for the console's tests.

Chromium listens on a loopback port it picks (``--remote-debugging-port=0``) and
says which on stderr; a minimal WebSocket client (RFC 6455: one text frame per
message, client frames masked) sends commands and reads their answers. Pages
are driven the way a person would: clicking, typing, submitting; what they
show is read back from the DOM.
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Chromium's path. CI installs it (.ci/run) and must not pass without it; elsewhere a loud skip."""
    if CHROMIUM is None:
        message = "chromium is not installed: the console is NOT tested (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


class _Socket:
    def __init__(self, url: str):
        parts = urlsplit(url)
        assert parts.hostname in ("127.0.0.1", "localhost", "::1"), url  # loopback only
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, "DevTools closed the connection during the handshake"
            head += chunk
        status, _, self.buffer = head.partition(b"\r\n\r\n")
        assert b" 101 " in status.split(b"\r\n")[0], status

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            assert chunk, "DevTools closed the connection"
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                  bytes([0x80 | 126]) + struct.pack(">H", n) if n < 1 << 16 else
                                  bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self) -> str:
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            if b0 & 0x0F in (0x1, 0x0):
                message += payload
                if b0 & 0x80:
                    return message.decode()

    def close(self) -> None:
        self.sock.close()


class Browser:
    """One headless Chromium; ``open(url)`` gives a Page."""

    def __init__(self, profile: Path, width: int = 1400, height: int = 1100):
        self.proc = subprocess.Popen(
            [require_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             f"--window-size={width},{height}", f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        url = None
        assert self.proc.stderr is not None
        while url is None and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            url = found.group(1) if found else None
        assert url, "chromium did not start its DevTools endpoint"
        self.ws = _Socket(url)
        self.next_id = 0

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            answer = json.loads(self.ws.recv())
            if answer.get("id") == self.next_id:
                assert "error" not in answer, (method, answer["error"])
                return answer["result"]

    def open(self, url: str) -> Page:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.goto(url)
        return page

    def close(self) -> None:
        with contextlib.suppress(Exception):  # it may be gone already
            self.call("Browser.close")
        self.ws.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)


class Page:
    def __init__(self, browser: Browser, session: str):
        self.browser, self.session = browser, session

    def js(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page (awaiting a promise); its JSON value."""
        out = self.browser.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                     "returnByValue": True}, self.session)
        assert "exceptionDetails" not in out, out["exceptionDetails"]
        return out["result"].get("value")

    def goto(self, url: str) -> None:
        self.browser.call("Page.navigate", {"url": url}, self.session)
        self.wait("document.readyState === 'complete' && document.body && "
                  "['ready', 'error'].includes(document.body.dataset.state)")

    def wait(self, condition: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(f"(function () {{ try {{ return {condition}; }} catch (e) {{ return false; }} }})()")
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed: {condition}\n{self.text('main')[:2000]}")
            time.sleep(0.1)

    def text(self, selector: str) -> str:
        return self.js(f"(function () {{ var e = document.querySelector({json.dumps(selector)}); "
                       "return e ? (e.innerText === undefined ? e.textContent : e.innerText) : ''; })()")

    def texts(self, selector: str) -> list[str]:
        return self.js(f"Array.from(document.querySelectorAll({json.dumps(selector)})).map(e => e.textContent)")

    def attr(self, selector: str, name: str) -> Any:
        return self.js(f"(function () {{ var e = document.querySelector({json.dumps(selector)}); "
                       f"return e ? e.getAttribute({json.dumps(name)}) : null; }})()")

    def click(self, selector: str) -> None:
        found = self.js(f"(function () {{ var e = document.querySelector({json.dumps(selector)}); "
                        "if (!e) return false; "
                        "e.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true})); return true; })()")
        assert found, f"nothing to click at {selector}"

    def fill(self, selector: str, value: Any) -> None:
        """Type into an input (a checkbox: tick or untick)."""
        ok = self.js(f"(function () {{ var e = document.querySelector({json.dumps(selector)}); if (!e) return false; "
                     f"var v = {json.dumps(value)}; if (e.type === 'checkbox') e.checked = !!v; else e.value = v; "
                     "e.dispatchEvent(new Event('input', {bubbles: true})); "
                     "e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()")
        assert ok, f"no field at {selector}"

    def screenshot(self, path: Path) -> None:
        size = self.js("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        data = self.browser.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}}, self.session)["data"]
        path.write_bytes(base64.b64decode(data))
