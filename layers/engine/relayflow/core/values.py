"""What a workflow value may be: exactly what JSON carries.

Every value the engine stores or sends (variables, task inputs and results,
outputs, with_items items) crosses DynamoDB, SQS, the Scheduler and EventBridge
as JSON text on AWS. A value JSON cannot carry (an integer of more than 4,300
digits, NaN or infinity, a set, a datetime) would be refused there, deep inside
a step, where it can only poison the execution; a value JSON changes (integer
keys become strings, tuples lists) would read back different. So values are
passed through JSON where they are made, on every backend alike, and one that
cannot pass is a clear error of the task or template that made it.
"""
from __future__ import annotations

import json
import sys
from typing import Any

# Deeper than this is refused everywhere alike: past it, whether JSON encoding hits
# Python's recursion limit depends on how deep the caller's stack already is.
MAX_DEPTH = 256


class NotJSON(ValueError):
    """A value JSON cannot carry; the message says what and where."""


def to_json(value: Any, where: str | None = None) -> Any:
    """``value`` as it reads back from JSON; NotJSON (prefixed with ``where``) when JSON cannot carry it."""
    where = f"{where}: " if where else ""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except ValueError as exc:
        if "integer string conversion" in str(exc) or "Exceeds the limit" in str(exc):
            limit = sys.get_int_max_str_digits()
            raise NotJSON(f"{where}an integer of more than {limit} digits is not a JSON value") from None
        raise NotJSON(f"{where}{_nan_message(exc)}") from None
    except TypeError as exc:
        raise NotJSON(f"{where}{exc} (values must be JSON: objects with string keys, lists, strings, "
                      "numbers, true/false, null)") from None
    except RecursionError:
        raise NotJSON(f"{where}the value is nested more than {MAX_DEPTH} levels deep") from None
    out = json.loads(text)
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(out) > MAX_DEPTH:
        raise NotJSON(f"{where}the value is nested more than {MAX_DEPTH} levels deep")
    return out


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _nan_message(exc: ValueError) -> str:
    text = str(exc)
    if "Out of range float" in text:
        return "NaN and infinity are not JSON numbers"
    return text
