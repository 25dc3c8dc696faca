"""The built-in actions (LANGUAGE.md §7). ``core.sleep`` is a timer in the conductor."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from .allowlist import ActionModules
from .errors import ActionFailed
from .registry import ActionContext, ActionRegistry

HTTP_DEFAULT_TIMEOUT = 30.0
HTTP_MAX_BODY = 10 * 1024 * 1024


def noop(payload: Any, ctx: ActionContext) -> Any:
    return {}


def echo(payload: Any, ctx: ActionContext) -> Any:
    return payload


def fail(payload: Any, ctx: ActionContext) -> Any:
    payload = payload if isinstance(payload, dict) else {}
    k = payload.get("succeed_on_attempt")
    if isinstance(k, int) and not isinstance(k, bool) and ctx.attempt >= k:
        return payload
    raise ActionFailed(str(payload.get("message", "core.fail was asked to fail")))


def http(payload: Any, ctx: ActionContext) -> Any:
    if not isinstance(payload, dict) or not isinstance(payload.get("url"), str):
        raise ActionFailed("core.http needs input.url", type="InvalidInput")
    url = payload["url"]
    if not url.startswith(("http://", "https://")):
        raise ActionFailed(f"core.http: only http and https URLs are allowed, got {url!r}", type="InvalidInput")
    method = str(payload.get("method", "GET")).upper()
    headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
    body = payload.get("body")
    data: bytes | None = None
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            data = str(body).encode()
    headers.setdefault("Idempotency-Key", ctx.idempotency_key)
    timeout = payload.get("timeout", HTTP_DEFAULT_TIMEOUT)
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status, resp_headers, raw = resp.status, dict(resp.headers), resp.read(HTTP_MAX_BODY + 1)
    except urllib.error.HTTPError as exc:
        status, resp_headers, raw = exc.code, dict(exc.headers or {}), exc.read(HTTP_MAX_BODY + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ActionFailed(f"core.http {method} {url}: {reason}", type="HttpError") from None
    if len(raw) > HTTP_MAX_BODY:
        raise ActionFailed(f"core.http {method} {url}: response body over {HTTP_MAX_BODY} bytes", type="HttpError")
    text = raw.decode("utf-8", errors="replace")
    parsed: Any = text
    if "json" in resp_headers.get("Content-Type", "") or text[:1] in ("{", "["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
    result = {"status": status, "headers": resp_headers, "body": parsed}
    if not 200 <= status < 300:
        raise ActionFailed(f"core.http {method} {url}: HTTP {status}", type="HttpError", result=result)
    return result


def register_builtins(registry: ActionRegistry) -> ActionRegistry:
    registry.register("core.noop", noop)
    registry.register("core.echo", echo)
    registry.register("core.fail", fail)
    registry.register("core.http", http)
    return registry


def default_registry(modules: ActionModules | None = None, lambda_prefix: str | None = None) -> ActionRegistry:
    """The built-ins, and ``python:`` actions from ``modules`` only (none when not given)."""
    return register_builtins(ActionRegistry(modules, lambda_prefix))
