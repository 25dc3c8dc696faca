"""``aws.lambda``: invoke a function with ``input.payload``; its response is the result.

On AWS it calls Lambda's Invoke (RequestResponse); on the embedded and memory
stacks functions are Python callables registered by name, called with the
payload, so workflows that call Lambda functions run and test offline.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .allowlist import lambda_target_problem
from .errors import ActionFailed
from .registry import ActionContext, ActionRegistry

Invoker = Callable[[str, Any], Any]

# A synchronous invocation's request and response: at most 6 MB each (Lambda
# Developer Guide, Lambda quotas). The offline stacks keep the same rule.
PAYLOAD_LIMIT = 6 * 1024 * 1024


def boto3_invoker(client: Any) -> Invoker:
    def invoke(function: str, payload: Any) -> Any:
        resp = client.invoke(FunctionName=function, InvocationType="RequestResponse",
                             Payload=json.dumps(payload).encode())
        body = resp["Payload"].read()
        data = json.loads(body) if body else None
        if resp.get("FunctionError"):
            message = data.get("errorMessage") if isinstance(data, dict) else str(data)
            kind = data.get("errorType") if isinstance(data, dict) else None
            raise ActionFailed(f"{function}: {message}", type=kind or "LambdaFunctionError", result=data)
        return data
    return invoke


class LocalFunctions:
    """Functions by name for the offline stacks: ``functions.register("resize", fn)``."""

    def __init__(self) -> None:
        self.functions: dict[str, Callable[[Any], Any]] = {}

    def register(self, name: str, fn: Callable[[Any], Any]) -> None:
        self.functions[name] = fn

    def __call__(self, function: str, payload: Any) -> Any:
        fn = self.functions.get(function)
        if fn is None:
            raise ActionFailed(f"no function {function!r} is registered on this stack", type="ResourceNotFound")
        size = len(json.dumps(payload).encode())
        if size > PAYLOAD_LIMIT:  # what Invoke answers (botocore's RequestEntityTooLargeException)
            raise ActionFailed(f"{function}: the request payload is {size} bytes, over {PAYLOAD_LIMIT}",
                               type="RequestEntityTooLargeException")
        try:
            result = fn(payload)
        except ActionFailed:
            raise
        except Exception as exc:  # a function error, as Lambda reports one
            raise ActionFailed(f"{function}: {exc}", type=type(exc).__name__) from None
        size = len(json.dumps(result, default=str).encode())
        if size > PAYLOAD_LIMIT:  # Lambda fails the invocation (FunctionError) with this type
            raise ActionFailed(f"{function}: the response is {size} bytes, over {PAYLOAD_LIMIT}",
                               type="Function.ResponseSizeTooLarge")
        return result


def register_lambda_action(registry: ActionRegistry, invoke: Invoker) -> None:
    """``aws.lambda`` through ``invoke``; with the registry's ``lambda_prefix`` set (on AWS), only
    the stack's own functions (IAM allows the same prefix: this check gives the clear error)."""
    def action(payload: Any, ctx: ActionContext) -> Any:
        if not isinstance(payload, dict) or not isinstance(payload.get("function"), str):
            raise ActionFailed("aws.lambda needs input.function (a function name or ARN)", type="InvalidInput")
        problem = lambda_target_problem(payload["function"], registry.lambda_prefix)
        if problem:
            raise ActionFailed(problem, type="ActionNotAllowed")
        return invoke(payload["function"], payload.get("payload"))
    registry.register("aws.lambda", action)
