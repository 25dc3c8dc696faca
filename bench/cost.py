"""AWS requests and dollars per task on the embedded stack (a benchmark, not a test).

Runs four shapes on one ``relayflow.local.stack.EmbeddedStack`` (moto in-process,
the real Lambda handlers, the pump; nothing is reset between shapes but the
counters) and counts every AWS request the stack makes, by service and
operation, by wrapping ``botocore.client.BaseClient._make_api_call``
(PynamoDB goes through it too):

  seq     a sequence of 100 tasks
  fanout  a start task, 100 branches, a ``join: all`` task: 102 tasks
  items   one task, ``with_items`` over 1,000 items, ``concurrency: 10`` (a
          usual cap for items that call a rate-limited service; it is also
          the SQS batch size of both event sources)
  local   a sequence of 100 ``local: true`` tasks: each runs inside the
          advance step, many to a step, with no worker (goal: $1.50)

Every task (every with_items item) runs ``bench.blob``, an action registered
in the stack's registry that returns ``{"blob": "x" * 1000}``: a 1 KB result
(the local shape registers the same function as ``python:bench.cost:blob``).
Nothing is published, so no variable records are written. "A task" below is
one action run: one task run, or one with_items item.

Requests are priced at the us-east-1 on-demand list prices of AWS's pricing
pages: https://aws.amazon.com/dynamodb/pricing/on-demand/,
https://aws.amazon.com/sqs/pricing/, https://aws.amazon.com/lambda/pricing/,
https://aws.amazon.com/eventbridge/pricing/ (the bus and the Scheduler),
https://aws.amazon.com/s3/pricing/, https://aws.amazon.com/cloudwatch/pricing/
(Logs, metrics, alarms), https://aws.amazon.com/xray/pricing/ and
https://aws.amazon.com/step-functions/pricing/:

* DynamoDB ($0.625 per million WRU, $0.125 per million RRU): a write costs 1
  unit per KB, rounded up per item, over the larger of the item's before and
  after image (AWS's rule for a put that replaces an item); a failed condition
  still costs the existing item's size. A global secondary index with
  projection ALL whose keys the item carries is written too (an execution's
  small IDX entry carries gsi1's, written when its status changes); a KEYS_ONLY
  index only when the write adds, removes or moves the item's entry (the head's
  ``due`` entry, moved when its deadline changes bucket). Reads: GetItem 1 unit
  per 4 KB per item rounded up (at least 1, also for a missing item), Query 1
  per 4 KB rounded up over the total it returns; half for eventually
  consistent reads. Item size = attribute name bytes + value bytes.
* SQS: a request counts once per 64 KB of payload. Both queues are FIFO:
  $0.50 per million (a standard queue's request is $0.40).
  Lambda's SQS event source makes the ReceiveMessage and DeleteMessageBatch
  requests on AWS; here the pump makes them, and they are counted as the event
  source makes them: one receive per batch delivered, one delete batch per
  batch. The pump's empty polls are not counted (a real event source's idle
  long polls are a fixed cost per queue and month, not a cost per task).
* EventBridge Scheduler ($1 per million invocations): on AWS the Scheduler
  fires by itself, so the pump's list/get/delete calls that stand in for it
  are not counted; each schedule fired counts one invocation (and the SQS
  SendMessage it makes). CreateSchedule/DeleteSchedule are counted, at $0.
* EventBridge: each PutEvents entry is one event per 64 KB, $1 per million.
* S3: PUT $5 per million, GET $0.40 per million; storage is not counted.
* Lambda: one request per handler invocation (start, worker, advance), $0.20
  per million. Duration, priced at 128 MB arm64 ($0.0000133334 per GB-s) as
  template.yaml deploys them, is modelled per invocation and rounded up to the
  millisecond: the handler's own CPU time, measured here outside its AWS calls
  (moto's work inside them is not the handler's), times 1769/128 (Lambda gives
  one vCPU at 1,769 MB and CPU in proportion to memory below that), plus a
  typical in-region latency per AWS request (LATENCY_MS: DynamoDB 5 ms, SQS
  8 ms, EventBridge 15 ms, Scheduler 20 ms, S3 15 ms; assumptions, not
  measurements). Cold starts are not counted. "TOTAL without Lambda duration"
  is the part that does not depend on the model; the in-process time on moto
  is printed beside it.
* CloudWatch Logs: $0.50 per GB ingested. The bytes are what the handlers
  really write at the deployed default LogLevel INFO (the embedded stack logs
  at WARNING; the bench raises its loggers to INFO), Powertools' metric lines
  included, plus Lambda's START/END/REPORT lines (about 280 bytes per
  invocation) and 26 bytes per log event.
* X-Ray: off by default (TracingMode=PassThrough), so $0; the bench prints
  what TracingMode=Active would add: X-Ray's default sampling rule records
  the first request each second and 5% of the rest, at $5 per million traces.
* Fixed per month, whatever runs: the SQS event sources' idle long polls (2
  queues, 5 pollers each, one 20-second poll at a time: an assumption), the
  CloudWatch alarms template.yaml declares ($0.10 each) and the custom metrics
  the handlers' embedded-metric lines define ($0.30 each; one per workflow
  name for the per-workflow ones), before free tiers.

Beside it: Step Functions Standard at $25 per million state transitions; a
task there is at least 1 transition (a Task state), typically 2 (Task + Choice).
The issue's target is at most $4 per million tasks with 1 KB results. Above
it, the bench prints what dominates and what-if estimates of what would cut
it (each re-prices the measured requests as if one thing were different; it
changes no engine code).

    python bench/cost.py                          # four shapes + growth series (~15 min)
    python bench/cost.py --json                   # one JSON object
    python bench/cost.py --shapes seq --growth 10,100   # quicker
"""
from __future__ import annotations

import argparse
import base64
import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

# -- prices (us-east-1, on-demand list; the pricing pages are named in the docstring) ----------------
LAMBDA_REQUEST = 0.20e-6
LAMBDA_GB_S = 0.0000133334  # arm64
LAMBDA_MEMORY_GB = 128 / 1024
SQS_STANDARD = 0.40e-6
SQS_FIFO = 0.50e-6
DDB_WRU = 0.625e-6
DDB_RRU = 0.125e-6
SCHEDULER_INVOCATION = 1.00e-6
EVENTS_EVENT = 1.00e-6
S3_PUT = 5.00e-6
S3_GET = 0.40e-6
SFN_TRANSITION = 25.0e-6
LOGS_INGEST_GB = 0.50  # CloudWatch Logs, standard class, per GB ingested
LOG_EVENT_OVERHEAD = 26  # bytes CloudWatch Logs adds to each log event's size (PutLogEvents quota)
# Lambda's own lines per invocation (START, END, REPORT in the text format), about this many bytes:
PLATFORM_LOG_BYTES = 280
PLATFORM_LOG_EVENTS = 3
XRAY_TRACE = 5.00e-6  # per trace recorded
XRAY_SAMPLED = 0.05  # X-Ray's default rule: the first request each second, then 5%
METRIC_MONTH = 0.30  # CloudWatch custom metric (EMF), per metric and month
ALARM_MONTH = 0.10  # CloudWatch standard-resolution alarm, per alarm and month
TARGET_PER_MILLION = 4.00

# Lambda duration is modelled, not taken from moto's wall clock: the handler's own CPU time
# (measured, outside AWS calls) scaled to the CPU share a 128 MB function gets (Lambda gives
# one vCPU at 1,769 MB, in proportion below), plus a typical in-region latency per request
# (assumptions: DynamoDB answers in single-digit milliseconds; the others are typical).
LAMBDA_MB = 128
CPU_SCALE = 1769 / LAMBDA_MB
LATENCY_MS = {"dynamodb": 5.0, "sqs": 8.0, "events": 15.0, "scheduler": 20.0, "s3": 15.0}
# Idle polling: Lambda's SQS event source keeps long-polling each queue it reads (the worker's
# task queue, advance's event queue) even when they are empty. Assumed: 5 pollers per queue,
# each a 20-second long poll, a FIFO request each.
POLLERS_PER_QUEUE = 5
LONG_POLL_S = 20
POLLED_QUEUES = 2
MONTH_S = 30 * 86_400

KB = 1024
SQS_CHUNK = 64 * KB
EVENTS_CHUNK = 64 * KB
FINAL = {"succeeded", "failed", "timed_out", "cancelled"}

BLOB = "x" * 1000


def blob(payload: Any, ctx: Any) -> Any:
    """The benchmark's action: a 1 KB result."""
    return {"blob": BLOB}


# -- workflows --------------------------------------------------------------------------------------
def sequence(n: int) -> str:
    lines = [f"name: cost.seq{n}", "tasks:"]
    for i in range(n):
        lines += [f"  - name: t{i}", "    action: bench.blob", f"    input: {{i: {i}}}"]
        if i + 1 < n:
            lines.append(f"    on_success: t{i + 1}")
    return "\n".join(lines) + "\n"


LOCAL_BLOB = "python:bench.cost:blob"  # the same action, named so that it may run locally


def local_sequence(n: int) -> str:
    """A sequence of ``local: true`` tasks: each runs inside the advance step (no worker)."""
    lines = [f"name: cost.local{n}", "tasks:"]
    for i in range(n):
        lines += [f"  - name: t{i}", f"    action: \"{LOCAL_BLOB}\"", "    local: true", f"    input: {{i: {i}}}"]
        if i + 1 < n:
            lines.append(f"    on_success: t{i + 1}")
    return "\n".join(lines) + "\n"


def fanout(n: int) -> str:
    lines = [f"name: cost.fanout{n}", "tasks:", "  - name: start", "    action: bench.blob",
             "    on_success: [" + ", ".join(f"b{i}" for i in range(n)) + "]"]
    for i in range(n):
        lines += [f"  - name: b{i}", "    action: bench.blob", f"    input: {{i: {i}}}", "    on_success: join"]
    lines += ["  - name: join", "    join: all", "    action: bench.blob"]
    return "\n".join(lines) + "\n"


def items(n: int, concurrency: int = 10) -> str:
    return (f"name: cost.items{n}\ntasks:\n  - name: each\n    action: bench.blob\n"
            f"    with_items: \"{{{{ range({n}) | list }}}}\"\n    concurrency: {concurrency}\n"
            f"    input: {{i: \"{{{{ item }}}}\"}}\n")


SHAPES: dict[str, tuple[str, str, int]] = {
    # name: (label, workflow text, action runs it makes)
    "seq": ("sequence of 100 tasks", sequence(100), 100),
    "fanout": ("fan-out: start -> 100 branches -> join: all", fanout(100), 102),
    "items": ("with_items over 1,000 items, concurrency 10", items(1000, 10), 1000),
    "local": ("sequence of 100 local tasks (local: true)", local_sequence(100), 100),
}
# the goal per shape, dollars per million tasks (TARGET_PER_MILLION unless named here)
TARGETS = {"local": 1.50}


def target(shape: str) -> float:
    return TARGETS.get(shape, TARGET_PER_MILLION)


# -- DynamoDB item sizes ----------------------------------------------------------------------------
def _number_size(text: str) -> int:
    digits = text.lstrip("-").split("e")[0].split("E")[0].replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def _bytes_len(value: Any) -> int:
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    return len(base64.b64decode(value)) if isinstance(value, str) else len(bytes(value))


def value_size(av: dict[str, Any]) -> int:
    """Bytes of one attribute value by DynamoDB's item size rules."""
    (kind, value), = av.items()
    if kind == "S":
        return len(value.encode("utf-8"))
    if kind == "N":
        return _number_size(value)
    if kind == "B":
        return _bytes_len(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in value)
    if kind == "NS":
        return sum(_number_size(v) for v in value)
    if kind == "BS":
        return sum(_bytes_len(v) for v in value)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in value)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + value_size(v) + 1 for k, v in value.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + value_size(v) for name, v in item.items())


def _status(item: dict[str, Any]) -> Any:
    try:
        return json.loads(item["d"]["S"]).get("status")
    except (KeyError, ValueError, AttributeError, TypeError):
        return None


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def record_kind(item: dict[str, Any]) -> str:
    """HEAD, TASK#, RUN#, UNIT#, VAR#, WF#...: the kind of record, from its sort key."""
    sk = next(iter((item.get("sk") or {"S": "?"}).values()))
    return sk.split("#", 1)[0] + "#" if "#" in sk else sk


def _outbox_bytes(item: dict[str, Any]) -> int:
    """Bytes of a head's outbox (the last step's commands, kept for a redelivered message)."""
    try:
        outbox = json.loads(item["d"]["S"]).get("outbox") or []
    except (KeyError, ValueError, AttributeError, TypeError):
        return 0
    return len(json.dumps(outbox, separators=(",", ":")).encode("utf-8"))


# What-if sizes: the same writes re-priced as if one thing about the records were different.
def _size_as_is(item: dict[str, Any]) -> int:
    return item_size(item)


def _size_result_once(item: dict[str, Any]) -> int:
    copies = json.dumps(item).count(BLOB)
    return item_size(item) - max(0, copies - 1) * len(BLOB)


def _size_no_prior(item: dict[str, Any]) -> int:
    return item_size(item) - (1 + value_size(item["p"]) if "p" in item else 0)


def _size_no_outbox(item: dict[str, Any]) -> int:
    return item_size(item) - (_outbox_bytes(item) if record_kind(item) == "HEAD" else 0)


def _size_all(item: dict[str, Any]) -> int:
    return (item_size(item) - (_size_as_is(item) - _size_result_once(item))
            - (_size_as_is(item) - _size_no_prior(item)) - (_size_as_is(item) - _size_no_outbox(item)))


def _keys_only(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k in ("pk", "sk", "gsi1pk", "gsi1sk", "status")}


# name: (size of an item, how the GSI is kept: "every" write, "ends" (created and final only),
# "keys" (every write, projecting keys and status instead of ALL))
DDB_WHAT_IFS: dict[str, tuple[Callable[[dict[str, Any]], int], str]] = {
    "as measured": (_size_as_is, "every"),
    "a run/unit record keeps its result once (not also in its unit)": (_size_result_once, "every"),
    "records keep no prior copy (p)": (_size_no_prior, "every"),
    "the head keeps no outbox inline": (_size_no_outbox, "every"),
    "the GSI projects keys and status, not ALL": (_size_as_is, "keys"),
    "the head's GSI entry is written only when created and final": (_size_as_is, "ends"),
}
ALL_DDB = "all DynamoDB what-ifs together"


# -- the meter --------------------------------------------------------------------------------------
class Meter:
    """Counts the AWS requests made through botocore and prices them as AWS bills them.

    ``phase`` says who is calling: "handler" (a Lambda handler: everything counts), "fire"
    (the pump standing in for the Scheduler), "pump" (the pump standing in for Lambda's SQS
    event source), "off" (setup, and reads outside the workflow: nothing counts).
    """

    def __init__(self) -> None:
        self.phase = "off"
        self.function: str | None = None
        self.items: dict[tuple, dict[str, Any]] = {}  # last image of each DynamoDB item written
        self.table_keys: dict[str, tuple[str, ...]] = {}
        self.index_keys: dict[str, list[tuple[tuple[str, ...], str]]] = {}  # (keys, projection type)
        self._original: Callable[..., Any] | None = None
        self.reset()

    def reset(self) -> None:
        self.requests: dict[tuple[str, str], int] = defaultdict(int)  # (service, operation) -> calls
        self.billed: dict[tuple[str, str], float] = defaultdict(float)  # units billed (WRU, chunks, events)
        self.dollars: dict[str, float] = defaultdict(float)  # service -> $
        self.ignored: dict[tuple[str, str], int] = defaultdict(int)  # pump calls AWS would not make
        self.wcu = self.gsi_wcu = self.rcu = 0.0
        self.ddb_bytes = self.ddb_items = 0
        self.by_record: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0])  # items, bytes, WCU, GSI
        self.protocol: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])  # requests, WCU, RCU
        self.wcu_if: dict[str, float] = defaultdict(float)
        self.head_outbox_bytes = 0
        self.result_copies: dict[str, int] = defaultdict(int)
        self.pending_unit_wcu = 0.0  # with_items units written "pending" before they are dispatched
        self.writes_in_invocation = 0
        self.max_writes_in_invocation = 0
        self.task_events = 0  # task.* lifecycle events
        self.sends_in_invocation = 0
        self.unbatched_sends_saved = 0.0  # worker SendMessage calls a batch send would save
        self.invocations: dict[str, int] = defaultdict(int)
        self.billed_ms: dict[str, int] = defaultdict(int)
        self.handler_s = 0.0
        self.aws_call_s = 0.0  # time inside botocore calls made by handlers
        self.fired = 0
        self.own_cpu_s = 0.0  # handlers' CPU time outside AWS calls
        self.modelled_ms: dict[str, int] = defaultdict(int)  # Lambda-billed ms, modelled
        self.calls_in_invocation: dict[str, int] = defaultdict(int)
        self.call_cpu_s = 0.0  # CPU inside AWS calls of the current invocation (moto's work)

    # -- installing ---------------------------------------------------------------------
    def install(self) -> None:
        from botocore.client import BaseClient
        original = self._original = BaseClient._make_api_call
        meter = self

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                response = original(client, operation, params)
            except Exception as exc:
                meter.record(service, operation, params, getattr(exc, "response", None) or {}, failed=True)
                raise
            finally:
                if meter.phase == "handler":
                    meter.aws_call_s += time.perf_counter() - started
                    meter.call_cpu_s += time.thread_time() - cpu
                    meter.calls_in_invocation[service] += 1
            meter.record(service, operation, params, response)
            return response

        BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]

    def uninstall(self) -> None:
        from botocore.client import BaseClient
        if self._original is not None:
            BaseClient._make_api_call = self._original  # type: ignore[method-assign]

    def learn_table(self, description: dict[str, Any]) -> None:
        table = description["TableName"]
        self.table_keys[table] = tuple(k["AttributeName"] for k in description["KeySchema"])
        self.index_keys[table] = [(tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                                   gsi["Projection"]["ProjectionType"])
                                  for gsi in description.get("GlobalSecondaryIndexes", [])]

    def wrap_handler(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        meter = self

        def handler(event: Any, context: Any) -> Any:
            outer = meter.phase, meter.function
            meter.phase, meter.function, meter.sends_in_invocation = "handler", name, 0
            meter.writes_in_invocation = 0
            meter.calls_in_invocation, meter.call_cpu_s = defaultdict(int), 0.0
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(event, context)
            finally:
                elapsed = time.perf_counter() - started
                own = max(0.0, time.thread_time() - cpu - meter.call_cpu_s)
                waits = sum(LATENCY_MS.get(svc, 10.0) * n for svc, n in meter.calls_in_invocation.items())
                meter.own_cpu_s += own
                meter.modelled_ms[name] += max(1, math.ceil(own * 1000 * CPU_SCALE + waits))  # whole ms
                meter.phase, meter.function = outer
                meter.invocations[name] += 1
                meter.billed_ms[name] += max(1, math.ceil(elapsed * 1000))  # Lambda bills whole ms
                meter.handler_s += elapsed
                meter.max_writes_in_invocation = max(meter.max_writes_in_invocation, meter.writes_in_invocation)
                n = meter.sends_in_invocation
                meter.unbatched_sends_saved += n - math.ceil(n / 10)

        return handler

    # -- counting -----------------------------------------------------------------------
    def _count(self, service: str, operation: str, billed: float, price: float) -> None:
        self.requests[(service, operation)] += 1
        self.billed[(service, operation)] += billed
        self.dollars[service] += billed * price

    def record(self, service: str, operation: str, params: dict[str, Any], response: dict[str, Any],
               failed: bool = False) -> None:
        if self.phase == "off":
            return
        if self.phase == "fire":  # the pump standing in for the Scheduler
            if service == "sqs" and operation == "SendMessage" and not failed:
                self.fired += 1
                self._count("scheduler", "(invocation)", 1, SCHEDULER_INVOCATION)
                self._count("sqs", "SendMessage (by the Scheduler)", _sqs_chunks([params]), _sqs_price(params))
            else:
                self.ignored[(service, operation)] += 1
            return
        if self.phase == "pump":  # the pump standing in for Lambda's SQS event source
            if service == "sqs" and operation == "ReceiveMessage" and response.get("Messages"):
                size = sum(len(m["Body"].encode("utf-8")) for m in response["Messages"])
                self._count("sqs", "ReceiveMessage (event source)", _units(size, SQS_CHUNK), _sqs_price(params))
            elif service == "sqs" and operation == "DeleteMessageBatch":
                self._count("sqs", "DeleteMessageBatch (event source)", 1, _sqs_price(params))
            else:
                self.ignored[(service, operation)] += 1
            return
        price = getattr(self, f"_{service}", None)
        if price is None:  # a service without a price here: counted at $0 and listed
            self._count(service, operation + " (unpriced)", 0, 0.0)
        else:
            price(operation, params, response, failed)
        if not failed and service in ("dynamodb", "sqs", "events", "s3"):
            body = params.get("Body")
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else json.dumps(params, default=str)
            self.result_copies[service] += text.count(BLOB)

    def _sqs(self, operation: str, params: dict[str, Any], response: dict[str, Any], failed: bool) -> None:
        price = _sqs_price(params)
        if operation == "SendMessage":
            self._count("sqs", operation, _sqs_chunks([params]), price)
            if self.function == "worker":
                self.sends_in_invocation += 1
        elif operation == "SendMessageBatch":
            self._count("sqs", operation, _sqs_chunks(params["Entries"]), price)
        elif operation == "ReceiveMessage":
            size = sum(len(m["Body"].encode("utf-8")) for m in response.get("Messages", []))
            self._count("sqs", operation, _units(size, SQS_CHUNK), price)
        else:
            self._count("sqs", operation, 1, price)

    def _events(self, operation: str, params: dict[str, Any], response: dict[str, Any], failed: bool) -> None:
        if operation != "PutEvents":
            return self._count("events", operation, 0, 0.0)
        events = 0
        for e in params["Entries"]:
            size = 14 + sum(len(str(e.get(k, "")).encode("utf-8")) for k in ("Source", "DetailType", "Detail"))
            size += sum(len(r.encode("utf-8")) for r in e.get("Resources", []))
            events += _units(size, EVENTS_CHUNK)
            if str(e.get("DetailType", "")).startswith("task."):
                self.task_events += _units(size, EVENTS_CHUNK)
        self._count("events", operation, events, EVENTS_EVENT)

    def _scheduler(self, operation: str, params: dict[str, Any], response: dict[str, Any], failed: bool) -> None:
        self._count("scheduler", operation, 0, 0.0)  # billed per invocation, not per API call

    def _s3(self, operation: str, params: dict[str, Any], response: dict[str, Any], failed: bool) -> None:
        price = {"PutObject": S3_PUT, "CopyObject": S3_PUT, "ListObjectsV2": S3_PUT, "GetObject": S3_GET,
                 "HeadObject": S3_GET}.get(operation, 0.0)
        self._count("s3", operation, 1, price)

    # DynamoDB
    def _key(self, table: str, item: dict[str, Any]) -> tuple:
        return (table,) + tuple(json.dumps(item.get(k), sort_keys=True) for k in self.table_keys.get(table, ()))

    def _index_units(self, table: str, old: dict[str, Any] | None, new: dict[str, Any] | None,
                     size: Callable[[dict[str, Any]], int], mode: str = "every") -> int:
        """Write units of the table's global secondary indexes for one item write."""
        units = 0
        if mode == "keys":
            mode, size = "every", lambda item: item_size(_keys_only(item))
        for keys, projection in self.index_keys.get(table, []):
            def entry(item: dict[str, Any] | None, keys: tuple[str, ...] = keys) -> tuple | None:
                return tuple(json.dumps(item[k]) for k in keys) if item and all(k in item for k in keys) else None
            before, after = entry(old), entry(new)
            if projection == "KEYS_ONLY":
                # no write when the write changes no key of the index (nothing else is projected);
                # a moved entry is a delete and a put (AWS's rules for index writes:
                # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations)
                kept = set(self.table_keys.get(table, ())) | set(keys)
                if before != after:
                    units += sum(_units(item_size({k: v for k, v in it.items() if k in kept}), KB)
                                 for it, there in ((old, before), (new, after)) if it and there is not None)
                continue
            if mode == "ends":  # the entry is written when the head is created and when it goes final
                final = bool(new) and next(iter(new.get("status", {"S": ""}).values())) in FINAL
                units += _units(size(new), KB) if new and after and (old is None or final) else 0
                continue
            if before is not None and before != after:
                units += _units(size(old), KB)  # removed from the index (or moved: delete + put)
            if after is not None:
                units += _units(size(new), KB)
        return units

    def _write(self, table: str, key: tuple, new: dict[str, Any] | None, failed: bool) -> float:
        """Write units of one item (``new`` None: a delete), table and indexes; keeps the last image."""
        old = self.items.get(key)
        if failed:  # a failed condition costs the existing item's size
            units = _units(item_size(old) if old else 0, KB)
            for name in list(DDB_WHAT_IFS) + [ALL_DDB]:
                self.wcu_if[name] += units
            return units
        for name, (size, mode) in list(DDB_WHAT_IFS.items()) + [(ALL_DDB, (_size_all, "ends"))]:
            base = _units(max(size(old) if old else 0, size(new) if new else 0), KB)
            self.wcu_if[name] += base + self._index_units(table, old, new, size, mode)
        base = _units(max(item_size(old) if old else 0, item_size(new) if new else 0), KB)
        gsi = self._index_units(table, old, new, item_size)
        item = new or old or {}
        stats = self.by_record[record_kind(item)]
        written = item_size(new) if new else 0
        stats[0] += 1
        stats[1] += written
        stats[2] += base
        stats[3] += gsi
        self.ddb_items += 1
        self.ddb_bytes += written
        self.writes_in_invocation += 1
        if new is not None and old is None and record_kind(new) == "UNIT#" and _status(new) == "pending":
            self.pending_unit_wcu += base
        self.gsi_wcu += gsi
        if new is not None and record_kind(new) == "HEAD":
            self.head_outbox_bytes += _outbox_bytes(new)
        if new is None:
            self.items.pop(key, None)
        else:
            self.items[key] = new
        return base + gsi

    def _dynamodb(self, operation: str, params: dict[str, Any], response: dict[str, Any], failed: bool) -> None:
        if failed and (response.get("Error") or {}).get("Code") != "ConditionalCheckFailedException":
            return self._count("dynamodb", operation, 0, 0.0)
        table = params.get("TableName", "")
        read = 1.0 if params.get("ConsistentRead") else 0.5
        wcu = rcu = 0.0
        if operation == "PutItem":
            wcu = self._write(table, self._key(table, params["Item"]), params["Item"], failed)
        elif operation == "DeleteItem":
            wcu = self._write(table, self._key(table, params["Key"]), None, failed)
        elif operation == "UpdateItem":  # the after-image is known when returned (PynamoDB asks for ALL_NEW)
            key = self._key(table, params["Key"])
            new = response.get("Attributes") or self.items.get(key) or dict(params["Key"])
            wcu = self._write(table, key, new, failed)
        elif operation == "BatchWriteItem":
            for tbl, requests in params["RequestItems"].items():
                for r in requests:
                    if "PutRequest" in r:
                        item = r["PutRequest"]["Item"]
                        wcu += self._write(tbl, self._key(tbl, item), item, False)
                    else:
                        wcu += self._write(tbl, self._key(tbl, r["DeleteRequest"]["Key"]), None, False)
        elif operation == "TransactWriteItems":  # 2 units per KB
            for op in params["TransactItems"]:
                (kind, body), = op.items()
                tbl = body["TableName"]
                if kind == "Put":
                    wcu += 2 * self._write(tbl, self._key(tbl, body["Item"]), body["Item"], failed)
                elif kind == "Delete":
                    wcu += 2 * self._write(tbl, self._key(tbl, body["Key"]), None, failed)
                else:
                    old = self.items.get(self._key(tbl, body["Key"]))
                    wcu += 2 * _units(item_size(old) if old else 0, KB)
        elif operation == "GetItem":
            rcu = _units(item_size(response.get("Item") or {}), 4 * KB) * read
        elif operation in ("Query", "Scan"):
            read = 0.5 if params.get("IndexName") else read
            rcu = _units(sum(item_size(i) for i in response.get("Items", [])), 4 * KB) * read
        elif operation == "BatchGetItem":
            for tbl, found in (response.get("Responses") or {}).items():
                r = 1.0 if params["RequestItems"][tbl].get("ConsistentRead") else 0.5
                rcu += sum(_units(item_size(i), 4 * KB) * r for i in found)
        self.wcu += wcu
        self.rcu += rcu
        part = self._protocol_part(operation, params)
        if part is not None:
            stats = self.protocol[part]
            stats[0] += 1
            stats[1] += wcu
            stats[2] += rcu
        if wcu:
            self._count("dynamodb", operation, wcu, DDB_WRU)
        else:
            self._count("dynamodb", operation, rcu, DDB_RRU)  # control-plane calls: 0 units

    def _protocol_part(self, operation: str, params: dict[str, Any]) -> str | None:
        """Which part of the commit protocol a DynamoDB request is, if any: the step's intent
        (``STEP``), the worker's claim (``CLAIM#``), or the worker's check that the attempt is
        still current (its reads: before claims the worker read nothing)."""
        key = params.get("Item") or params.get("Key") or {}
        sk = next(iter((key.get("sk") or {"S": ""}).values()))
        if sk == "STEP":
            return "intent (STEP)"
        if sk.startswith("CLAIM#"):
            return "claim (CLAIM#)"
        if self.function == "worker" and operation in ("GetItem", "Query", "BatchGetItem"):
            return "claim check (worker reads)"
        return None

    # -- results ------------------------------------------------------------------------
    def summary(self, tasks: int, log_bytes: int = 0, log_lines: int = 0,
                tracing: str = "PassThrough") -> dict[str, Any]:
        per = 1.0 / tasks
        invocations = sum(self.invocations.values())
        lambda_requests = invocations * LAMBDA_REQUEST
        lambda_duration = sum(self.modelled_ms.values()) / 1000 * LAMBDA_MEMORY_GB * LAMBDA_GB_S
        in_process_duration = sum(self.billed_ms.values()) / 1000 * LAMBDA_MEMORY_GB * LAMBDA_GB_S
        ingested = (log_bytes + LOG_EVENT_OVERHEAD * log_lines
                    + invocations * (PLATFORM_LOG_BYTES + LOG_EVENT_OVERHEAD * PLATFORM_LOG_EVENTS))
        logs = ingested / 2**30 * LOGS_INGEST_GB
        xray_active = invocations * XRAY_SAMPLED * XRAY_TRACE
        dollars = {**self.dollars, "lambda requests": lambda_requests, "lambda duration": lambda_duration,
                   "cloudwatch logs": logs, "x-ray": xray_active if tracing == "Active" else 0.0}
        per_million = {k: v * per * 1e6 for k, v in sorted(dollars.items(), key=lambda kv: -kv[1]) if v}
        total = sum(per_million.values())
        ops = {f"{s}:{o}": {"requests": n * per, "billed_units": self.billed[(s, o)] * per}
               for (s, o), n in sorted(self.requests.items())}
        for name, n in sorted(self.invocations.items()):
            ops[f"lambda:Invoke ({name})"] = {"requests": n * per, "billed_units": n * per}
        # What would cut it: the same run re-priced as if one thing were different.
        what_if = {name: (self.wcu_if["as measured"] - wcu) * DDB_WRU * per * 1e6
                   for name, wcu in self.wcu_if.items() if name != "as measured"}
        what_if["with_items units written when dispatched, not all up front"] = \
            self.pending_unit_wcu * DDB_WRU * per * 1e6
        what_if["no per-task lifecycle events on EventBridge (task.*)"] = self.task_events * EVENTS_EVENT * per * 1e6
        what_if["the worker sends its batch's outcomes with SendMessageBatch"] = \
            self.unbatched_sends_saved * SQS_FIFO * per * 1e6
        everything = what_if[ALL_DDB] + sum(v for k, v in what_if.items() if k not in self.wcu_if)
        what_if["all of the above"] = everything
        if tracing != "Active":  # a cost the default does not pay: shown as what turning it on adds
            what_if["(adds) TracingMode=Active: X-Ray traces 5% of invocations"] = -xray_active * per * 1e6
        return {
            "tasks": tasks,
            "requests_per_task": ops,
            "all_requests_per_task": (sum(self.requests.values()) + sum(self.invocations.values())) * per,
            "dynamodb": {
                "wcu_per_task": self.wcu * per, "of_which_gsi_wcu_per_task": self.gsi_wcu * per,
                "rcu_per_task": self.rcu * per, "items_written_per_task": self.ddb_items * per,
                "bytes_written_per_task": self.ddb_bytes * per,
                "head_outbox_bytes_per_task": self.head_outbox_bytes * per,
                "most_items_written_by_one_invocation": self.max_writes_in_invocation,
                "writes_by_record": {k: {"items_per_task": v[0] * per, "bytes_per_item": v[1] / v[0] if v[0] else 0,
                                         "wcu_per_task": v[2] * per, "gsi_wcu_per_task": v[3] * per}
                                     for k, v in sorted(self.by_record.items())}},
            "commit_protocol_per_task": {
                part: {"requests": v[0] * per, "wcu": v[1] * per, "rcu": v[2] * per,
                       "dollars_per_million": (v[1] * DDB_WRU + v[2] * DDB_RRU) * per * 1e6}
                for part, v in sorted(self.protocol.items())},
            "result_copies_sent_per_task": {k: v * per for k, v in sorted(self.result_copies.items()) if v},
            "lambda": {"invocations_per_task": invocations * per,
                       "modelled_billed_ms_per_task": sum(self.modelled_ms.values()) * per,
                       "modelled_ms_per_invocation": {n: self.modelled_ms[n] / c for n, c in self.invocations.items()},
                       "own_cpu_ms_per_task": self.own_cpu_s * 1000 * per,
                       "in_process_ms_per_task": sum(self.billed_ms.values()) * per,
                       "in_process_duration_per_million_tasks": in_process_duration * per * 1e6,
                       "share_of_time_in_aws_calls": self.aws_call_s / self.handler_s if self.handler_s else 0.0},
            "logs": {"handler_bytes_per_task": log_bytes * per, "handler_lines_per_task": log_lines * per,
                     "ingested_bytes_per_task": ingested * per},
            "schedules_fired": self.fired,
            "dollars_per_million_tasks": per_million,
            "total_per_million_tasks": total,
            "total_without_lambda_duration": total - per_million.get("lambda duration", 0.0),
            "step_functions_standard_per_million_tasks": {"1 transition": SFN_TRANSITION * 1e6,
                                                          "2 transitions": 2 * SFN_TRANSITION * 1e6},
            "what_if_saved_per_million_tasks": what_if,
            "not_counted_pump_calls": {f"{s}:{o}": n for (s, o), n in sorted(self.ignored.items())},
        }


def _sqs_price(params: dict[str, Any]) -> float:
    return SQS_FIFO if str(params.get("QueueUrl", "")).endswith(".fifo") else SQS_STANDARD


def _sqs_chunks(messages: list[dict[str, Any]]) -> int:
    size = 0
    for m in messages:
        size += len(m.get("MessageBody", "").encode("utf-8"))
        for name, attr in (m.get("MessageAttributes") or {}).items():
            size += len(name.encode()) + len(attr.get("DataType", "").encode())
            size += len(str(attr.get("StringValue", "")).encode()) + len(attr.get("BinaryValue", b"") or b"")
    return _units(size, SQS_CHUNK)


def emf_metrics(line: str) -> set[tuple]:
    """The CloudWatch metrics one embedded-metric-format log line defines: (name, dimensions)."""
    try:
        doc = json.loads(line)
        directives = doc["_aws"]["CloudWatchMetrics"]
    except (ValueError, KeyError, TypeError):
        return set()
    out = set()
    for d in directives:
        for dims in d.get("Dimensions", []):
            key = tuple((name, str(doc.get(name))) for name in dims)
            out |= {(d.get("Namespace"), m["Name"], key) for m in d.get("Metrics", [])}
    return out


def fixed_monthly(metrics: int) -> dict[str, float]:
    """What a deployed stack costs per month whatever runs on it (us-east-1, before free tiers)."""
    import re
    from pathlib import Path
    template = (Path(__file__).resolve().parents[1] / "template.yaml").read_text()
    alarms = len(re.findall(r"Type:\s*AWS::CloudWatch::Alarm\b", template))
    polls = POLLED_QUEUES * POLLERS_PER_QUEUE * MONTH_S / LONG_POLL_S
    return {f"idle polling: {POLLED_QUEUES} queues x {POLLERS_PER_QUEUE} pollers, {polls / 1e6:.2f} M FIFO receives":
            polls * SQS_FIFO,
            f"CloudWatch alarms in template.yaml: {alarms}": alarms * ALARM_MONTH,
            f"custom metrics (EMF) seen in this bench: {metrics}": metrics * METRIC_MONTH}


# -- running ----------------------------------------------------------------------------------------
class Bench:
    def __init__(self) -> None:
        self.meter = meter = Meter()
        meter.install()  # before the stack builds its clients; counting stays off outside runs
        from relayflow.local import resources
        from relayflow.local.stack import EmbeddedStack
        self.stack = stack = EmbeddedStack()
        stack.runtime.actions.register("bench.blob", blob)
        stack.runtime.actions.register(LOCAL_BLOB, blob)
        meter.learn_table(stack.runtime.model._get_connection().describe_table())
        names = {route.queue: route.handler.split(".")[1] for route in resources.ROUTES}  # task -> worker
        stack.handlers = {q: (meter.wrap_handler(names.get(q, q), fn), batch)
                          for q, (fn, batch) in stack.handlers.items()}
        stack.start_handler = meter.wrap_handler("start", stack.start_handler)
        fire_due = stack.fire_due

        def metered_fire_due() -> bool:
            outer, meter.phase = meter.phase, "fire"
            try:
                return fire_due()
            finally:
                meter.phase = outer

        stack.fire_due = metered_fire_due  # type: ignore[method-assign]
        # The embedded stack logs at WARNING; a deployed stack's LogLevel is INFO by default,
        # and CloudWatch Logs ingests what INFO writes.
        import importlib
        for path in [resources.START_HANDLER] + [route.handler for route in resources.ROUTES]:
            logger = getattr(importlib.import_module(path.split(":")[0]), "logger", None)
            if logger is not None:
                logger.setLevel("INFO")
        self.metrics: set[tuple] = set()  # distinct CloudWatch metrics the handlers' EMF lines define

    def close(self) -> None:
        self.stack.close()
        self.meter.uninstall()

    def run(self, text: str, expected_tasks: int) -> dict[str, Any]:
        from relayflow.core.loader import load_text
        stack, meter = self.stack, self.meter
        spec = load_text(text, "cost.yaml")
        stack.register(spec)
        stack.observe()  # drain the local-only observer queue (uncounted) so moto stays fast
        meter.reset()
        logs = stack.handler_output.tell()
        started = time.perf_counter()
        meter.phase = "pump"
        try:
            eid = stack.start(spec.name, {})
            stack.pump(max_deliveries=10_000_000)
        finally:
            meter.phase = "off"
        wall = time.perf_counter() - started
        result = stack.describe(eid)
        if result["status"] != "succeeded":
            raise RuntimeError(f"{spec.name} ended {result['status']}: {result['error']}")
        tasks = sum(len(r["result"]) if isinstance(r["result"], list) else 1 for r in result["tasks"])
        if tasks != expected_tasks:
            raise RuntimeError(f"{spec.name}: expected {expected_tasks} action runs, found {tasks}")
        logged = stack.handler_output.getvalue()[logs:]
        lines = logged.splitlines()
        for line in lines:
            self.metrics |= emf_metrics(line)
        out = meter.summary(tasks, len(logged.encode("utf-8")), len(lines))
        out.update(workflow=spec.name, wall_s=wall, log_bytes_per_task=len(logged.encode("utf-8")) / tasks)
        return out


# -- printing ---------------------------------------------------------------------------------------
def print_shape(label: str, r: dict[str, Any], goal: float = TARGET_PER_MILLION) -> None:
    print(f"\n== {label}: {r['tasks']} tasks ({r['wall_s']:.0f} s on moto) ==")
    print(f"  {'requests per task':<48}{'requests':>10}{'billed units':>14}")
    for op, v in r["requests_per_task"].items():
        print(f"  {op:<48}{v['requests']:>10.3f}{v['billed_units']:>14.3f}")
    print(f"  {'all requests':<48}{r['all_requests_per_task']:>10.3f}")
    d, lam = r["dynamodb"], r["lambda"]
    print(f"  DynamoDB per task: {d['wcu_per_task']:.2f} WCU (GSI {d['of_which_gsi_wcu_per_task']:.2f} of them), "
          f"{d['rcu_per_task']:.2f} RCU, {d['items_written_per_task']:.2f} items, "
          f"{d['bytes_written_per_task']:,.0f} bytes written")
    for kind, v in d["writes_by_record"].items():
        print(f"    {kind:<6} {v['items_per_task']:>5.2f} writes/task x {v['bytes_per_item']:>6,.0f} B"
              f" = {v['wcu_per_task']:.2f} WCU + {v['gsi_wcu_per_task']:.2f} GSI WCU")
    print(f"    most items written by one invocation: {d['most_items_written_by_one_invocation']:,}")
    cp = r["commit_protocol_per_task"]
    print("  the commit protocol per task (what the step intent and the claims add):")
    for part, v in cp.items():
        print(f"    {part:<28} {v['requests']:>6.3f} requests {v['wcu']:>6.3f} WCU {v['rcu']:>6.3f} RCU"
              f"  ${v['dollars_per_million']:.3f}/M tasks")
    print(f"    {'together':<28} {sum(v['requests'] for v in cp.values()):>6.3f} requests "
          f"{sum(v['wcu'] for v in cp.values()):>6.3f} WCU {sum(v['rcu'] for v in cp.values()):>6.3f} RCU"
          f"  ${sum(v['dollars_per_million'] for v in cp.values()):.3f}/M tasks")
    copies = ", ".join(f"{k} {v:.2f}" for k, v in r["result_copies_sent_per_task"].items())
    print(f"  copies of the 1 KB result sent per task: {copies}; head outbox: "
          f"{d['head_outbox_bytes_per_task']:,.0f} B/task")
    logs = r["logs"]
    print(f"  Lambda per task: {lam['invocations_per_task']:.3f} invocations, {lam['modelled_billed_ms_per_task']:.1f} "
          f"billed ms modelled ({lam['own_cpu_ms_per_task']:.2f} ms own CPU here x {CPU_SCALE:.1f} + request "
          f"latencies); {lam['in_process_ms_per_task']:.1f} ms in-process on moto "
          f"({lam['share_of_time_in_aws_calls']:.0%} inside moto calls)")
    each = ", ".join(f"{n} {ms:.0f} ms" for n, ms in sorted(lam["modelled_ms_per_invocation"].items()))
    print(f"  modelled duration per invocation: {each}")
    print(f"  CloudWatch Logs per task: {logs['handler_bytes_per_task']:,.0f} B in "
          f"{logs['handler_lines_per_task']:.2f} lines by the handlers at INFO + Lambda's START/END/REPORT = "
          f"{logs['ingested_bytes_per_task']:,.0f} B ingested")
    ignored = ", ".join(f"{k} {v}" for k, v in r["not_counted_pump_calls"].items()) or "none"
    print(f"  not counted (the pump standing in for AWS): {ignored}")
    total = r["total_per_million_tasks"]
    print(f"  {'$ per million tasks':<48}{'$':>10}{'share':>8}")
    for service, dollars in r["dollars_per_million_tasks"].items():
        print(f"  {service:<48}{dollars:>10.2f}{dollars / total:>8.0%}")
    print(f"  {'TOTAL':<48}{total:>10.2f}")
    print(f"  {'TOTAL without Lambda duration':<48}{r['total_without_lambda_duration']:>10.2f}")
    for n, dollars in r["step_functions_standard_per_million_tasks"].items():
        print(f"  {'Step Functions Standard, ' + n + '/task':<48}{dollars:>10.2f}")
    if total <= goal:
        print(f"  within the target of ${goal:.2f} per million tasks")
        _print_additions(r, total)
        return
    top, top_dollars = next(iter(r["dollars_per_million_tasks"].items()))
    print(f"  ABOVE the target of ${goal:.2f} by ${total - goal:.2f}: {top} dominates "
          f"(${top_dollars:.2f}, {top_dollars / total:.0%}). What would cut it (estimates; no engine code changed):")
    for change, saved in sorted(r["what_if_saved_per_million_tasks"].items(), key=lambda kv: -kv[1]):
        if saved >= 0.005:
            print(f"    {change:<66} -${saved:>5.2f} -> ${total - saved:.2f}")
    _print_additions(r, total)


def _print_additions(r: dict[str, Any], total: float) -> None:
    for change, saved in r["what_if_saved_per_million_tasks"].items():
        if change.startswith("(adds)") and -saved >= 0.005:
            print(f"  {change[7:]}: would add ${-saved:.2f} -> ${total - saved:.2f}")


def print_growth(what: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n== DynamoDB writes per task as {what} grows (O(1) per task: should be flat) ==")
    print(f"  {'tasks':>7}{'bytes/task':>12}{'items/task':>12}{'WCU/task':>10}{'RCU/task':>10}"
          f"{'head B/write':>14}{'$/M tasks':>11}")
    for r in rows:
        d = r["dynamodb"]
        head = d["writes_by_record"].get("HEAD", {}).get("bytes_per_item", 0)
        print(f"  {r['tasks']:>7}{d['bytes_written_per_task']:>12,.0f}{d['items_written_per_task']:>12.2f}"
              f"{d['wcu_per_task']:>10.2f}{d['rcu_per_task']:>10.2f}{head:>14,.0f}"
              f"{r['total_per_million_tasks']:>11.2f}")
    print("  (a write costs 1 WCU per started KB of the item: WCU steps up when a record crosses 1,024 bytes)")


def print_summary(shapes: dict[str, dict[str, Any]]) -> None:
    print(f"\n== Summary, per task (1 KB results; target ${TARGET_PER_MILLION:.2f} per million tasks, "
          f"local ${TARGETS['local']:.2f}) ==")
    print(f"  {'shape':<8}{'tasks':>6}{'requests':>10}{'WCU':>7}{'RCU':>7}{'DDB bytes':>11}"
          f"{'$/M tasks':>11}{'w/o duration':>14}{'top service':>22}{'target':>9}{'SFN 1-2 trans.':>16}")
    for name, r in shapes.items():
        top, top_dollars = next(iter(r["dollars_per_million_tasks"].items()))
        d = r["dynamodb"]
        verdict = "met" if r["total_per_million_tasks"] <= target(name) else "NOT met"
        print(f"  {name:<8}{r['tasks']:>6}{r['all_requests_per_task']:>10.2f}{d['wcu_per_task']:>7.2f}"
              f"{d['rcu_per_task']:>7.2f}{d['bytes_written_per_task']:>11,.0f}{r['total_per_million_tasks']:>11.2f}"
              f"{r['total_without_lambda_duration']:>14.2f}{top + f' ${top_dollars:.2f}':>22}{verdict:>9}"
              f"{f'${SFN_TRANSITION * 1e6:.0f}-${2 * SFN_TRANSITION * 1e6:.0f}':>16}")
    services = sorted({k for r in shapes.values() for k in r["dollars_per_million_tasks"]})
    print(f"\n  {'$ per million tasks':<24}" + "".join(f"{n:>10}" for n in shapes))
    for service in services:
        print(f"  {service:<24}" + "".join(f"{r['dollars_per_million_tasks'].get(service, 0.0):>10.2f}"
                                          for r in shapes.values()))
    print(f"  {'TOTAL':<24}" + "".join(f"{r['total_per_million_tasks']:>10.2f}" for r in shapes.values()))
    print(f"\n  {'requests per task':<24}" + "".join(f"{n:>10}" for n in shapes))
    by_service: dict[str, dict[str, float]] = {}
    for name, r in shapes.items():
        for op, v in r["requests_per_task"].items():
            service = op.split(":")[0]
            by_service.setdefault(service, {}).setdefault(name, 0.0)
            by_service[service][name] += v["requests"]
    for service, counts in sorted(by_service.items()):
        print(f"  {service:<24}" + "".join(f"{counts.get(n, 0.0):>10.2f}" for n in shapes))


def print_fixed(fixed: dict[str, float]) -> None:
    print("\n== Fixed, per month, whatever runs (before free tiers) ==")
    for line, dollars in fixed.items():
        print(f"  {line:<72}{dollars:>8.2f}")
    print(f"  {'TOTAL':<72}{sum(fixed.values()):>8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--shapes", default="seq,fanout,items,local",
                        help="comma-separated subset of seq,fanout,items,local")
    parser.add_argument("--growth", default="10,100,1000", help="sequence sizes for the growth series ('' skips)")
    parser.add_argument("--fanout-growth", default="", metavar="SIZES",
                        help="fan-out widths for a second growth series, e.g. 10,100,1000 (off by default: slow)")
    parser.add_argument("--max-n", type=int, default=None, metavar="N",
                        help="no shape or series above N tasks or items (a quick check that the bench runs: "
                             "per-task figures of tiny runs are not comparable with the measured ones)")
    args = parser.parse_args(argv)
    shapes = [s for s in args.shapes.split(",") if s]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shapes {unknown}; choose from {sorted(SHAPES)}")
    growth = [int(n) for n in args.growth.split(",") if n.strip()]
    widths = [int(n) for n in args.fanout_growth.split(",") if n.strip()]
    plan = dict(SHAPES)
    if args.max_n is not None:
        m = args.max_n
        growth = sorted({min(n, m) for n in growth})
        widths = sorted({min(n, m) for n in widths})
        plan = {"seq": (f"sequence of {min(100, m)} tasks", sequence(min(100, m)), min(100, m)),
                "fanout": (f"fan-out: start -> {min(100, m)} branches -> join: all", fanout(min(100, m)),
                           min(100, m) + 2),
                "items": (f"with_items over {min(1000, m)} items, concurrency 10", items(min(1000, m), 10),
                          min(1000, m)),
                "local": (f"sequence of {min(100, m)} local tasks (local: true)", local_sequence(min(100, m)),
                          min(100, m))}
    report: dict[str, Any] = {
        "prices": {"lambda_request": LAMBDA_REQUEST, "lambda_gb_s_arm64": LAMBDA_GB_S, "lambda_memory_mb": 128,
                   "sqs_fifo_request": SQS_FIFO, "sqs_standard_request": SQS_STANDARD, "dynamodb_wru": DDB_WRU,
                   "dynamodb_rru": DDB_RRU, "scheduler_invocation": SCHEDULER_INVOCATION,
                   "eventbridge_event": EVENTS_EVENT, "s3_put": S3_PUT, "s3_get": S3_GET,
                   "step_functions_transition": SFN_TRANSITION, "logs_ingest_gb": LOGS_INGEST_GB,
                   "xray_trace": XRAY_TRACE, "metric_month": METRIC_MONTH, "alarm_month": ALARM_MONTH},
        "lambda_model": {"cpu_scale": CPU_SCALE, "latency_ms": LATENCY_MS},
        "target_per_million_tasks": TARGET_PER_MILLION, "shapes": {}, "growth": [], "fanout_growth": []}
    bench = Bench()
    try:
        for name in shapes:
            label, text, tasks = plan[name]
            r = report["shapes"][name] = {"label": label, **bench.run(text, tasks)}
            if not args.json:
                print_shape(label, r, target(name))
                sys.stdout.flush()
        keep = ("workflow", "tasks", "dynamodb", "total_per_million_tasks", "total_without_lambda_duration")
        for n in growth:
            seq = report["shapes"].get("seq")
            r = seq if seq and seq["tasks"] == n else bench.run(sequence(n), n)
            report["growth"].append({k: r[k] for k in keep})
        for n in widths:
            fan = report["shapes"].get("fanout")
            r = fan if fan and fan["tasks"] == n + 2 else bench.run(fanout(n), n + 2)
            report["fanout_growth"].append({k: r[k] for k in keep})
        report["fixed_per_month"] = fixed_monthly(len(bench.metrics))
    finally:
        bench.close()
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    if growth:
        print_growth("a sequence", report["growth"])
    if widths:
        print_growth("a fan-out into join: all", report["fanout_growth"])
    if report["shapes"]:
        print_summary(report["shapes"])
    print_fixed(report["fixed_per_month"])
    print(f"\nStep Functions Standard: ${SFN_TRANSITION * 1e6:.2f} per million state transitions; a task is at least "
          f"1 transition (a Task state), typically 2 (Task + Choice): ${SFN_TRANSITION * 1e6:.0f}-"
          f"${2 * SFN_TRANSITION * 1e6:.0f} per million tasks, before the task's own Lambda.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
