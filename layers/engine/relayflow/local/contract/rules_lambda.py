"""Lambda invocation payload rules (Invoke through boto3, and the pump's own invocations).

Source: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
"""
from __future__ import annotations

from typing import Any

from . import Breach, Contract

QUOTAS = "Lambda Developer Guide, Lambda quotas (invocation payload)"
SYNC_LIMIT = 6 * 1024 * 1024      # request and response, synchronous
ASYNC_LIMIT = 256 * 1024          # asynchronous (Event); raised to 1 MB in 2025, the older limit is kept


def payload_breach(size: int, what: str, asynchronous: bool = False) -> Breach | None:
    limit = ASYNC_LIMIT if asynchronous else SYNC_LIMIT
    if size > limit:
        return Breach("lambda.payload-size", f"{what} is {size} bytes, over {limit}", QUOTAS,
                      "RequestEntityTooLargeException")
    return None


def check(operation: str, params: dict[str, Any], contract: Contract) -> Breach | None:
    if operation != "Invoke":
        return None
    payload = params.get("Payload") or b""
    size = len(payload.encode("utf-8") if isinstance(payload, str) else payload)
    return payload_breach(size, f"the Invoke payload for {params.get('FunctionName')}",
                          params.get("InvocationType") == "Event")
