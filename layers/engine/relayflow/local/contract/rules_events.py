"""EventBridge PutEvents rules; moto checks the entry count but no size.

Sources:
  PUT   https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
  ENTRY https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html
  SIZE  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
"""
from __future__ import annotations

import json
from typing import Any

from . import Breach, Contract

PUT = "EventBridge API Reference, PutEvents (1-10 entries)"
ENTRY = "EventBridge API Reference, PutEventsRequestEntry"
SIZE = "EventBridge User Guide, Calculating PutEvents event entry size (under 256 KB)"

SIZE_LIMIT = 256 * 1024  # 1 MB since 2025 on some buses; the 256 KB every bus takes is kept


def entry_size(entry: dict[str, Any]) -> int:
    """EventBridge's own arithmetic (SIZE): Time counts 14 bytes; Source, DetailType, Detail
    and each of Resources count their UTF-8 bytes."""
    size = 14 if entry.get("Time") is not None else 0
    for field in ("Source", "DetailType", "Detail"):
        size += len((entry.get(field) or "").encode("utf-8"))
    size += sum(len(r.encode("utf-8")) for r in entry.get("Resources") or [] if r)
    return size


def check(operation: str, params: dict[str, Any], contract: Contract) -> Breach | None:
    if operation != "PutEvents":
        return None
    entries = params.get("Entries") or []
    if not 1 <= len(entries) <= 10:
        return Breach("events.entries", f"{len(entries)} entries (1..10)", PUT)
    total = 0
    for i, entry in enumerate(entries):
        if not entry.get("Source") or not entry.get("DetailType"):
            return Breach("events.required", f"entry {i}: Source and DetailType are required", ENTRY)
        if len(entry["DetailType"]) > 128 or len(entry["Source"]) > 256:
            return Breach("events.field-length", f"entry {i}: DetailType over 128 or Source over 256 characters",
                          ENTRY)
        detail = entry.get("Detail")
        if detail is not None:
            try:
                parsed = json.loads(detail, parse_constant=_no_constant)
            except ValueError as exc:
                return Breach("events.detail-json", f"entry {i}: Detail is not valid JSON: {exc}", ENTRY)
            if not isinstance(parsed, dict):
                return Breach("events.detail-json", f"entry {i}: Detail is not a JSON object", ENTRY)
        size = entry_size(entry)
        if size > SIZE_LIMIT:
            return Breach("events.entry-size", f"entry {i} is {size} bytes, over {SIZE_LIMIT}", SIZE)
        total += size
    if total > SIZE_LIMIT:
        return Breach("events.request-size", f"the request's {len(entries)} entries total {total} bytes, "
                      f"over {SIZE_LIMIT}", SIZE)
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
