"""What an execution costs on AWS: its requests by service, counted as the handlers work.

Each advance step adds its share to a ``usage`` mapping kept on the execution's head,
which the step writes anyway (so the count costs no request of its own):

* reads the step really made (DynamoDB GetItem/Query, S3 GetObject), counted by a
  botocore hook on the runtime's clients while the step runs;
* what its commit and its commands will make, from the records and commands themselves:
  the step's intent, one write per changed record and one for the head (a write unit per
  started KB of the record's payloads and a fixed part), the execution's index entry when
  its status changes (and its GSI copy), one SendMessageBatch per 10 dispatches, one PutEvents entry per
  lifecycle event the bus publishes, one Scheduler invocation and its SQS send per timer
  that fires (counted when it is applied; a sleep's when it is created);
* its share of the advance invocation, of the event source's receive and delete, and
  what a worker reported on the outcome it sent (its invocation, receive, delete and
  outcome send, shared among the records of its batch), and the reads and the claim
  write it made before running the attempt;
* the sweep that gives the records their expiry once the execution ends, predicted by
  the step that ends it from the records the execution wrote (counted as they were
  written, under two internal counters the report does not show).

It is an estimate: item sizes are approximated from the records' JSON, a failed
conditional write or a retried request is not counted, nor are the steps a crash undid,
nor a redelivered message's re-sends.
Prices are us-east-1 on-demand list prices, as bench/cost.py uses them.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

# The counters, by the short key the head stores them under (the head is written every
# step: a longer mapping could push it over a 1 KB write unit), with what each counts.
COUNTERS = {
    "dr": ("dynamodb", "read requests"),
    "du": ("dynamodb", "read units"),
    "dw": ("dynamodb", "write requests"),
    "dwu": ("dynamodb", "write units"),
    "q": ("sqs", "requests"),
    "e": ("events", "events"),
    "si": ("scheduler", "invocations"),
    "sd": ("scheduler", "deletes"),
    "sg": ("s3", "get requests"),
    "l": ("lambda", "invocations"),
}
# Not shown: what the sweep will update when the execution ends (records, their write units)
INTERNAL = ("rn", "rwu")
# us-east-1 on-demand list prices per unit counted
PRICES = {
    "du": 0.125e-6,
    "dwu": 0.625e-6,
    "q": 0.50e-6,  # FIFO
    "e": 1.00e-6,
    "si": 1.00e-6,
    "sg": 0.40e-6,
    "l": 0.20e-6,
}
KB = 1024
_READS = {"GetItem": 1, "Query": 1, "Scan": 1, "BatchGetItem": 1}

_current: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar("relayflow_usage", default=None)
_share: contextvars.ContextVar[float] = contextvars.ContextVar("relayflow_usage_share", default=1.0)


def add(usage: dict[str, float], key: str, amount: float) -> None:
    if amount:
        usage[key] = round(usage.get(key, 0.0) + amount, 3)


def merge(*parts: Mapping[str, float] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in parts:
        for key, value in (part or {}).items():
            if (key in COUNTERS or key in INTERNAL) and isinstance(value, (int, float)) and not isinstance(value, bool):
                add(out, key, float(value))
    return out


def dollars(usage: Mapping[str, float]) -> dict[str, float]:
    """Dollars by service."""
    out: dict[str, float] = {}
    for key, amount in usage.items():
        if key in COUNTERS:
            service = COUNTERS[key][0]
            out[service] = out.get(service, 0.0) + amount * PRICES.get(key, 0.0)
    return out


def report(usage: Mapping[str, float] | None) -> dict[str, Any]:
    """The cost view of an execution: requests and units by service, dollars, a total."""
    usage = dict(usage or {})
    by_service: dict[str, dict[str, float]] = {}
    for key, amount in usage.items():
        if key in COUNTERS:
            service, what = COUNTERS[key]
            by_service.setdefault(service, {})[what] = amount
    cost = dollars(usage)
    return {"requests": {k: by_service[k] for k in sorted(by_service)},
            "dollars": {k: round(v, 9) for k, v in sorted(cost.items())},
            "total_dollars": round(sum(cost.values()), 9), "estimate": True}


# -- counting requests as they are made ---------------------------------------------------------

def _on_call(params: Mapping[str, Any], model: Any, **_: Any) -> None:
    usage = _current.get()
    if usage is None:
        return
    service, operation = model.service_model.service_name, model.name
    if service == "dynamodb" and operation in _READS:
        add(usage, "dr", 1)
        add(usage, "du", 1)  # a strongly consistent read of up to 4 KB
    elif service == "s3" and operation in ("GetObject", "HeadObject"):
        add(usage, "sg", 1)


def hook(client: Any) -> None:
    """Count ``client``'s read requests into the execution being stepped (see :func:`counting`)."""
    client.meta.events.register("before-parameter-build", _on_call, unique_id="relayflow-usage")


@contextlib.contextmanager
def counting() -> Iterator[dict[str, float]]:
    """Count the hooked clients' reads made inside the block into the mapping it yields."""
    usage: dict[str, float] = {}
    token = _current.set(usage)
    try:
        yield usage
    finally:
        _current.reset(token)


@contextlib.contextmanager
def invocation_share(share: float) -> Iterator[None]:
    """The part of the current Lambda invocation (and its receive and delete) one execution's
    step bears: 1 / the number of executions in the advance batch."""
    token = _share.set(share)
    try:
        yield
    finally:
        _share.reset(token)


def current_share() -> float:
    return _share.get()


# -- predicting what a step's commit and commands make ------------------------------------------

RECORD_BYTES = 500  # keys, ids, status, times, the version fields: a record without its payloads


def payload_size(value: Any) -> int:
    """Bytes of a payload (a result, an input, a variable, the outbox) as JSON; 0 for none."""
    if value is None or value == [] or value == {}:
        return 0
    try:
        return len(json.dumps(value, default=str, separators=(",", ":")))
    except (TypeError, ValueError):
        return KB


def add_writes(usage: dict[str, float], payload_sizes: list[int]) -> None:
    """One write per record; a write unit per started KB of the record's fixed part and payloads."""
    add(usage, "dw", len(payload_sizes))
    add(usage, "dwu", sum(max(1, math.ceil((RECORD_BYTES + size) / KB)) for size in payload_sizes))


def write_units(size: int) -> int:
    """Write units of a record of ``size`` payload bytes (a unit per started KB, fixed part included)."""
    return max(1, math.ceil((RECORD_BYTES + size) / KB))


INTENT_BYTES, INTENT_KEY_BYTES = 120, 30


def add_intent(usage: dict[str, float], keys: int) -> None:
    """The step's intent record (``STEP``): a small put naming the keys the step writes."""
    add(usage, "dw", 1)
    add(usage, "dwu", math.ceil((INTENT_BYTES + INTENT_KEY_BYTES * keys) / KB))


def add_index(usage: dict[str, float]) -> None:
    """The execution's index entry, rewritten when its status changes: the item and its GSI copy."""
    add(usage, "dw", 1)
    add(usage, "dwu", 2)


def add_swept(usage: dict[str, float], records: int, units: int) -> None:
    """``records`` more records (or ``units`` more write units of them) for the sweep to update."""
    add(usage, "rn", records)
    add(usage, "rwu", units)


def add_claim(usage: dict[str, float], swept: bool) -> None:
    """A worker's claim of an attempt: one small conditional put (swept later, if it does
    not expire by itself)."""
    add(usage, "dw", 1)
    add(usage, "dwu", 1)
    if swept:
        add_swept(usage, 1, 1)


SWEEP_PAGE = 100


def add_sweep(usage: dict[str, float], before: Mapping[str, float]) -> None:
    """What the sweep of a finished execution makes: the advance invocation that receives its
    message, a read of the head (twice: the step's and the sweep's), a page query per hundred
    records (their bytes, 4 KB a read unit) and an update per record (its write units)."""
    records, units = before.get("rn", 0.0) + usage.get("rn", 0.0), before.get("rwu", 0.0) + usage.get("rwu", 0.0)
    pages = math.ceil((records + 3) / SWEEP_PAGE)  # the head, its index entry and the intent come back too
    add(usage, "dr", 3 * pages)  # each page's message: the step's head read, the sweep's, the query
    add(usage, "du", 2 * pages + max(pages, math.ceil((units + 3) / 4)))
    add(usage, "dw", records)
    add(usage, "dwu", units)
    add(usage, "q", pages - 1)  # each page but the last sends the next page's message
    add_invocation(usage, pages)


def add_commands(usage: dict[str, float], dispatches: int, published_events: int, timers: int,
                 cancels: int, sends: int) -> None:
    add(usage, "q", math.ceil(dispatches / 10) + sends + timers)  # + the Scheduler's send
    add(usage, "e", published_events)
    add(usage, "si", timers)
    add(usage, "sd", cancels)


def add_invocation(usage: dict[str, float], share: float) -> None:
    """A share of one Lambda invocation with the SQS event source's receive and delete batch."""
    add(usage, "l", share)
    add(usage, "q", 2 * share)
