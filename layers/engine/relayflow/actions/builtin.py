"""The built-in actions (LANGUAGE.md §7). ``core.sleep`` is a timer in the conductor."""
from __future__ import annotations

import json
from typing import Any

from ..core.builtins import worker_builtins
from .allowlist import ActionModules
from .errors import ActionFailed
from .registry import Action, ActionContext, ActionRegistry
from .safe_http import NetworkPolicy, fetch

HTTP_DEFAULT_TIMEOUT = 30.0
HTTP_MAX_BODY = 10 * 1024 * 1024
HTTP_MAX_TIMEOUT = 900.0  # a Lambda function's longest run


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


def http(payload: Any, ctx: ActionContext, policy: NetworkPolicy | None = None) -> Any:
    """``core.http``: one request under one deadline (``timeout``, default 30 s), to the networks
    ``policy`` allows, checking every redirect hop (safe_http)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("url"), str):
        raise ActionFailed("core.http needs input.url", type="InvalidInput")
    url = payload["url"]
    if not url.lower().startswith(("http://", "https://")):
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
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= HTTP_MAX_TIMEOUT:
        raise ActionFailed(f"core.http: timeout must be a number of seconds in (0, {HTTP_MAX_TIMEOUT}], "
                           f"got {timeout!r}", type="InvalidInput")
    try:
        status, resp_headers, raw, _final = fetch(method, url, headers, data, float(timeout),
                                                  policy or NetworkPolicy(), HTTP_MAX_BODY)
    except ActionFailed as exc:
        raise ActionFailed(f"core.http {method} {url}: {exc}", type=exc.type) from None
    if len(raw) > HTTP_MAX_BODY:
        raise ActionFailed(f"core.http {method} {url}: response body over {HTTP_MAX_BODY} bytes", type="HttpError")
    text = raw.decode("utf-8", errors="replace")
    parsed: Any = text
    content_type = next((v for k, v in resp_headers.items() if k.lower() == "content-type"), "")
    if "json" in content_type or text[:1] in ("{", "["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
    result = {"status": status, "headers": resp_headers, "body": parsed}
    if not 200 <= status < 300:
        raise ActionFailed(f"core.http {method} {url}: HTTP {status}", type="HttpError", result=result)
    return result


def register_builtins(registry: ActionRegistry) -> ActionRegistry:
    """Every built-in of the manifest (core/builtins.py) that a worker runs."""
    functions: dict[str, Action] = {
        "core.noop": noop,
        "core.echo": echo,
        "core.fail": fail,
        "core.http": lambda payload, ctx: http(payload, ctx, registry.network),
    }
    for name in worker_builtins():
        registry.register(name, functions[name])  # a KeyError here: the manifest lists one not written
    return registry


def default_registry(modules: ActionModules | None = None, lambda_prefix: str | None = None,
                     network: NetworkPolicy | None = None) -> ActionRegistry:
    """The built-ins, and ``python:`` actions from ``modules`` only (none when not given).
    ``network``: what core.http may reach (default: a local stack's, loopback and private included)."""
    registry = ActionRegistry(modules, lambda_prefix)
    if network is not None:
        registry.network = network
    return register_builtins(registry)
