"""DynamoDB request rules moto skips or relaxes (its item limit is 405,000 bytes, it takes
26-request batch writes and 40-digit numbers).

Sources:
  QUOTAS https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
  SIZES  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
  TYPES  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
  TWI    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
  BWI    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
  BGI    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
"""
from __future__ import annotations

import decimal
import json
from typing import Any

from . import Breach, Contract

QUOTAS = "DynamoDB Developer Guide, Service, account, and table quotas"
SIZES = "DynamoDB Developer Guide, Item sizes and formats"
TYPES = "DynamoDB Developer Guide, Supported data types (Number: 38 digits of precision)"
TWI = "DynamoDB API Reference, TransactWriteItems"
BWI = "DynamoDB API Reference, BatchWriteItem"
BGI = "DynamoDB API Reference, BatchGetItem"

ITEM_LIMIT = 400 * 1024
PARTITION_KEY_LIMIT = 2048
SORT_KEY_LIMIT = 1024
EXPRESSION_LIMIT = 4096
TRANSACT_ACTIONS = 100  # raised from 25 in 2022; the 100 is what every Region serves
TRANSACT_BYTES = 4 * 1024 * 1024
BATCH_WRITE = 25
BATCH_GET = 100
BATCH_BYTES = 16 * 1024 * 1024
_EXPRESSIONS = ("ConditionExpression", "UpdateExpression", "ProjectionExpression", "FilterExpression",
                "KeyConditionExpression")


def _number_size(text: str) -> int:
    digits = text.lstrip("-+").split("e")[0].split("E")[0].replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def _number_breach(text: str, where: str) -> Breach | None:
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return Breach("dynamodb.number", f"{where}: {text[:40]!r} is not a number", TYPES)
    if not value.is_finite():
        return Breach("dynamodb.number", f"{where}: {text!r} is not a finite number", TYPES)
    significant = "".join(map(str, value.as_tuple().digits)).strip("0")  # no normalize(): it rounds
    digits = len(significant) or 1
    if digits > 38:
        return Breach("dynamodb.number", f"{where}: a number of {digits} significant digits (at most 38)", TYPES)
    if value and not decimal.Decimal("1E-130") <= abs(value) < decimal.Decimal("1E+126"):
        return Breach("dynamodb.number", f"{where}: {text[:40]} is outside 1E-130..9.99E+125", TYPES)
    return None


def _value_size(value: dict[str, Any], where: str) -> tuple[int, Breach | None]:
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode("utf-8")), None
    if kind == "N":
        return _number_size(data), _number_breach(data, where)
    if kind == "B":
        return len(data if isinstance(data, (bytes, bytearray)) else str(data).encode()), None
    if kind in ("BOOL", "NULL"):
        return 1, None
    if kind in ("SS", "NS", "BS"):
        total = 0
        for item in data:
            size, breach = _value_size({kind[0]: item}, where)
            if breach:
                return 0, breach
            total += size
        return total, None
    if kind == "L":
        total = 3
        for item in data:
            size, breach = _value_size(item, where)
            if breach:
                return 0, breach
            total += size + 1
        return total, None
    if kind == "M":
        total = 3
        for name, item in data.items():
            size, breach = _value_size(item, f"{where}.{name}")
            if breach:
                return 0, breach
            total += len(name.encode("utf-8")) + size + 1
        return total, None
    return len(json.dumps(data, default=str)), None


def _item_size(item: dict[str, Any], where: str) -> tuple[int, Breach | None]:
    total = 0
    for name, value in item.items():
        size, breach = _value_size(value, f"{where} attribute {name}")
        if breach:
            return 0, breach
        total += len(name.encode("utf-8")) + size
    return total, None


def _keys(item: dict[str, Any], where: str) -> Breach | None:
    for name, limit in (("pk", PARTITION_KEY_LIMIT), ("sk", SORT_KEY_LIMIT),
                        ("gsi1pk", PARTITION_KEY_LIMIT), ("gsi1sk", SORT_KEY_LIMIT)):
        value = (item.get(name) or {}).get("S")
        if value is not None:
            size = len(value.encode("utf-8"))
            if size > limit or size == 0:
                return Breach("dynamodb.key-size", f"{where}: key attribute {name} is {size} bytes "
                              f"(1..{limit}): {value[:60]}…", QUOTAS)
    return None


def _put(item: dict[str, Any], where: str) -> tuple[int, Breach | None]:
    breach = _keys(item, where)
    if breach:
        return 0, breach
    size, breach = _item_size(item, where)
    if breach:
        return 0, breach
    if size > ITEM_LIMIT:
        return size, Breach("dynamodb.item-size", f"{where}: the item is {size} bytes, over {ITEM_LIMIT}", SIZES)
    return size, None


def _expressions(params: dict[str, Any], where: str) -> Breach | None:
    for field in _EXPRESSIONS:
        text = params.get(field)
        if text is not None and len(text.encode("utf-8")) > EXPRESSION_LIMIT:
            return Breach("dynamodb.expression-length", f"{where}: {field} is {len(text.encode())} bytes, "
                          f"over {EXPRESSION_LIMIT}", QUOTAS)
    values = params.get("ExpressionAttributeValues") or {}
    for name, value in values.items():
        _, breach = _value_size(value, f"{where} {name}")
        if breach:
            return breach
    return None


def _update(params: dict[str, Any], where: str) -> Breach | None:
    # The item's final size is only known to DynamoDB; its key plus the new values is a
    # lower bound, and already over the limit is a certain refusal.
    breach = _keys(params.get("Key") or {}, where) or _expressions(params, where)
    if breach:
        return breach
    size, breach = _item_size({**(params.get("Key") or {}), **(params.get("ExpressionAttributeValues") or {})},
                              where)
    if breach:
        return breach
    if size > ITEM_LIMIT:
        return Breach("dynamodb.item-size", f"{where}: the update writes at least {size} bytes, over {ITEM_LIMIT}",
                      SIZES)
    return None


def _transact(actions: list[dict[str, Any]]) -> Breach | None:
    if not 1 <= len(actions) <= TRANSACT_ACTIONS:
        return Breach("dynamodb.transaction-actions", f"{len(actions)} actions (1..{TRANSACT_ACTIONS})", TWI)
    total, seen = 0, set()
    for i, action in enumerate(actions):
        (kind, body), = action.items()
        where = f"TransactWriteItems action {i} ({kind})"
        key_item = body.get("Item") or body.get("Key") or {}
        key = (body.get("TableName"), json.dumps({k: key_item.get(k) for k in ("pk", "sk")}, sort_keys=True))
        if key in seen:
            return Breach("dynamodb.transaction-same-item", f"{where}: a second action on one item", TWI)
        seen.add(key)
        if kind == "Put":
            size, breach = _put(body["Item"], where)
            breach = breach or _expressions(body, where)
        else:
            size, breach = 0, _update(body, where) if kind == "Update" else _expressions(body, where)
        if breach:
            return breach
        total += size
    if total > TRANSACT_BYTES:
        return Breach("dynamodb.transaction-size", f"the transaction writes {total} bytes, over {TRANSACT_BYTES}",
                      TWI)
    return None


def check(operation: str, params: dict[str, Any], contract: Contract) -> Breach | None:
    if operation == "PutItem":
        _, breach = _put(params.get("Item") or {}, "PutItem")
        return breach or _expressions(params, "PutItem")
    if operation == "UpdateItem":
        return _update(params, "UpdateItem")
    if operation in ("GetItem", "DeleteItem"):
        return _keys(params.get("Key") or {}, operation) or _expressions(params, operation)
    if operation in ("Query", "Scan"):
        limit = params.get("Limit")
        if limit is not None and limit < 1:
            return Breach("dynamodb.limit", f"{operation} Limit {limit} (at least 1)", QUOTAS)
        return _expressions(params, operation)
    if operation == "TransactWriteItems":
        token = params.get("ClientRequestToken")
        if token is not None and not 1 <= len(token) <= 36:
            return Breach("dynamodb.client-request-token", f"ClientRequestToken of {len(token)} characters (1..36)",
                          TWI)
        return _transact(params.get("TransactItems") or [])
    if operation == "TransactGetItems":
        n = len(params.get("TransactItems") or [])
        if not 1 <= n <= TRANSACT_ACTIONS:
            return Breach("dynamodb.transaction-actions", f"{n} TransactGetItems actions (1..100)", QUOTAS)
        return None
    if operation == "BatchWriteItem":
        requests = [(t, r) for t, rs in (params.get("RequestItems") or {}).items() for r in rs]
        if not 1 <= len(requests) <= BATCH_WRITE:
            return Breach("dynamodb.batch-write-count", f"{len(requests)} requests (1..{BATCH_WRITE})", BWI)
        total, seen = 0, set()
        for i, (table, request) in enumerate(requests):
            item = ((request.get("PutRequest") or {}).get("Item")
                    or (request.get("DeleteRequest") or {}).get("Key") or {})
            key = (table, json.dumps({k: item.get(k) for k in ("pk", "sk")}, sort_keys=True))
            if key in seen:
                return Breach("dynamodb.batch-write-duplicate", f"request {i}: a second request on one item", BWI)
            seen.add(key)
            size, breach = _put(item, f"BatchWriteItem request {i}")
            if breach:
                return breach
            total += size
        if total > BATCH_BYTES:
            return Breach("dynamodb.batch-write-size", f"the batch writes {total} bytes, over 16 MB", BWI)
        return None
    if operation == "BatchGetItem":
        n = sum(len(spec.get("Keys") or []) for spec in (params.get("RequestItems") or {}).values())
        if not 1 <= n <= BATCH_GET:
            return Breach("dynamodb.batch-get-count", f"{n} keys (1..{BATCH_GET})", BGI)
    return None
