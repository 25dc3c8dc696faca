"""SQS queues, EventBridge Scheduler timers and the EventBridge bus.

Every queue message is a versioned envelope ``{"v": 1, "m": <message>}``;
one too large for SQS carries ``{"v": 1, "m": {"$rf_s3": key}}`` instead and
the payload is read back from S3 on receipt.

Timers: every wait (``core.sleep``, retry delays, task and workflow timeouts)
is a one-time Scheduler schedule that delivers its event to the FIFO event
queue. FIFO queues take no per-message delay, so SQS ``DelaySeconds`` is never
used; a schedule's time is rounded up to the next whole second.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from ..core.messages import DispatchAttempt, Emit, Message, StartTimer
from ..ports import Encodable, ExecutionEvent, as_execution_event
from .errors import AdapterError, MalformedMessage
from .payloads import PayloadStore

ENVELOPE_VERSION = 1
SQS_BODY_LIMIT = 200_000  # below SQS's 256 KiB, leaving room for the envelope
SCHEDULER_INPUT_LIMIT = 200_000
EVENT_SOURCE = "relayflow"


def encode(message: Encodable, payloads: PayloadStore, scope: str, limit: int = SQS_BODY_LIMIT) -> str:
    return f'{{"v":{ENVELOPE_VERSION:d},"m":{payloads.dump(message.to_dict(), limit, scope)}}}'


def decode(body: str, payloads: PayloadStore) -> Message:
    """Parse an envelope; MalformedMessage for anything that can never be processed."""
    try:
        envelope = json.loads(body)
    except ValueError:
        raise MalformedMessage("message body is not JSON") from None
    if not isinstance(envelope, dict) or envelope.get("v") != ENVELOPE_VERSION or "m" not in envelope:
        raise MalformedMessage(f"not a relayflow v{ENVELOPE_VERSION} envelope")
    data = envelope["m"]
    if isinstance(data, dict) and "$rf_s3" in data:
        data = payloads.load(json.dumps(data))
    try:
        return Message.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise MalformedMessage(f"bad message: {exc}") from None


def execution_of(body: str, payloads: PayloadStore) -> str | None:
    """The execution a queue message is about, read from its body (None if it names none)."""
    try:
        eid = getattr(decode(body, payloads), "execution_id", None)
    except Exception:
        return None
    return eid if isinstance(eid, str) else None


# SQS FIFO group and deduplication ids: at most 128 alphanumerics and punctuation
# (SQS API Reference, SendMessage). Child execution ids grow with each nesting level.
_FIFO_ID = re.compile(r"""^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$""")


def fifo_id(key: str) -> str:
    """``key`` itself when SQS takes it as a FIFO group or deduplication id, else its SHA-256.
    Nothing reads an id back: what a message is about travels in its body."""
    return key if _FIFO_ID.match(key) else hashlib.sha256(key.encode()).hexdigest()


def dedup_id(message: Encodable) -> str:
    data = message.to_dict()
    data.pop("usage", None)  # a re-sent outcome's share of its batch may differ: still the same outcome
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


# SendMessageBatch takes at most 10 entries and 262,144 bytes (256 KiB) of message bodies in
# all: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
BATCH_ENTRIES = 10
BATCH_BYTES = 256 * 1024


def batches(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``entries`` in order, cut into SendMessageBatch calls that respect both limits."""
    out: list[list[dict[str, Any]]] = []
    size = 0
    for entry in entries:
        body = len(entry["MessageBody"].encode("utf-8"))
        if not out or len(out[-1]) == BATCH_ENTRIES or size + body > BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append(entry)
        size += body
    return out


def send_batches(sqs: Any, url: str, entries: list[dict[str, Any]], queue: str) -> None:
    """Send ``entries`` (without Id) with as few SendMessageBatch calls as the limits allow;
    AdapterError if SQS refuses any (a caller's retry re-sends them all: deduplication ids
    make that safe)."""
    for chunk in batches(entries):
        resp = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), **e} for i, e in enumerate(chunk)])
        if resp.get("Failed"):
            raise AdapterError(f"{queue} refused {len(resp['Failed'])} messages: {resp['Failed'][0]}")


class SqsTaskQueue:
    """The FIFO queue workers consume; each attempt is its own message group, so attempts
    run in parallel, and the attempt's key deduplicates a dispatch sent twice."""

    def __init__(self, sqs: Any, url: str, payloads: PayloadStore):
        self.sqs, self.url, self.payloads = sqs, url, payloads

    def send_all(self, commands: Sequence[DispatchAttempt]) -> None:
        send_batches(self.sqs, self.url, [
            {"MessageBody": encode(c, self.payloads, c.execution_id), "MessageGroupId": fifo_id(c.idempotency_key),
             "MessageDeduplicationId": fifo_id(c.idempotency_key)} for c in commands], "task queue")


class SqsEventQueue:
    """The FIFO queue of execution events; one message group per execution."""

    def __init__(self, sqs: Any, url: str, payloads: PayloadStore):
        self.sqs, self.url, self.payloads = sqs, url, payloads

    def send(self, event: ExecutionEvent) -> None:
        eid = event.execution_id
        self.sqs.send_message(QueueUrl=self.url, MessageBody=encode(event, self.payloads, eid),
                              MessageGroupId=fifo_id(eid), MessageDeduplicationId=dedup_id(event))

    def send_all(self, events: Sequence[ExecutionEvent]) -> None:
        """Several events with as few requests as SendMessageBatch's limits allow (a worker's
        outcomes); each keeps its own execution's message group and deduplication id."""
        if len(events) == 1:
            return self.send(events[0])
        send_batches(self.sqs, self.url, [
            {"MessageBody": encode(e, self.payloads, e.execution_id),
             "MessageGroupId": fifo_id(e.execution_id), "MessageDeduplicationId": dedup_id(e)}
            for e in events], "event queue")


def schedule_name(key: str) -> str:
    return "rf-" + hashlib.sha256(key.encode()).hexdigest()[:48]


def at_expression(due: float) -> str:
    when = dt.datetime.fromtimestamp(math.ceil(due), tz=dt.UTC)
    return f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})"


def parse_at(expression: str) -> float:
    inner = expression[len("at("):-1]
    return dt.datetime.strptime(inner, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC).timestamp()


class SchedulerTimers:
    """Each timer is a one-time schedule whose target is the FIFO event queue.

    The Scheduler sends its SQS target no deduplication id, so the event queue has
    content-based deduplication (SqsParameters, Scheduler API Reference). A delivery
    that still fails is retried by the Scheduler (RetryPolicy), then parked on the
    timers' dead-letter queue, which has an alarm: a lost timer is never silent.
    """

    RETRY_POLICY = {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}

    def __init__(self, scheduler: Any, group: str, target_arn: str, role_arn: str, payloads: PayloadStore,
                 dlq_arn: str = ""):
        self.scheduler, self.group, self.target_arn, self.role_arn = scheduler, group, target_arn, role_arn
        self.payloads = payloads
        self.dlq_arn = dlq_arn

    def start(self, timer: StartTimer) -> None:
        event = as_execution_event(Message.from_dict(timer.event))
        eid = event.execution_id
        target: dict[str, Any] = {
            "Arn": self.target_arn, "RoleArn": self.role_arn,
            "Input": encode(event, self.payloads, eid, SCHEDULER_INPUT_LIMIT),
            "SqsParameters": {"MessageGroupId": fifo_id(eid)}, "RetryPolicy": dict(self.RETRY_POLICY)}
        if self.dlq_arn:
            target["DeadLetterConfig"] = {"Arn": self.dlq_arn}
        try:
            self.scheduler.create_schedule(
                Name=schedule_name(timer.key), GroupName=self.group,
                ScheduleExpression=at_expression(timer.due), ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"}, ActionAfterCompletion="DELETE",
                Description=timer.key[:512], Target=target,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConflictException":  # created by an earlier try
                raise

    def cancel(self, key: str) -> None:
        try:
            self.scheduler.delete_schedule(Name=schedule_name(key), GroupName=self.group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":  # fired or cancelled already
                raise


class EventBridgeBus:
    """Lifecycle events: source ``relayflow``, detail-type the event's type (``task.succeeded``).

    ``level`` picks what is published: ``workflow`` (the default: workflow events only,
    one event per execution start and end instead of two or three per task), ``all`` or
    ``none``. The history API keeps every event whatever the level.
    """

    def __init__(self, events: Any, bus: str, payloads: PayloadStore, level: str = "workflow",
                 include_input: bool = False):
        self.events, self.bus, self.payloads, self.level = events, bus, payloads, level
        # A workflow's input may hold what its caller would not show every bus subscriber (and
        # the bus's rules may forward events to other accounts): it goes out only when the stack
        # opts in (LifecycleEventsIncludeInput). The history API keeps it either way.
        self.include_input = include_input

    def _detail(self, event: Emit) -> dict[str, Any]:
        if self.include_input or "input" not in event.detail:
            return event.detail
        return {k: v for k, v in event.detail.items() if k != "input"}

    def emit_all(self, events: list[Emit]) -> None:
        if self.level == "none":
            return
        if self.level == "workflow":
            events = [e for e in events if e.type.startswith("workflow.")]
        for entries in _event_batches([
                {"Source": EVENT_SOURCE, "DetailType": e.type, "EventBusName": self.bus,
                 "Detail": self.payloads.dump(self._detail(e), EVENT_DETAIL_LIMIT,
                                              e.detail.get("execution_id", "events"))}
                for e in events]):
            resp = self.events.put_events(Entries=entries)
            if resp.get("FailedEntryCount"):
                failed = [e for e in resp["Entries"] if e.get("ErrorCode")]
                raise AdapterError(f"event bus refused {len(failed)} events: {failed[0]}")


# PutEvents takes at most 10 entries, and under 256 KB for the whole request, counted as
# the UTF-8 bytes of Source, DetailType and Detail (EventBridge User Guide, "Calculating
# PutEvents event entry size"); a detail over EVENT_DETAIL_LIMIT goes to S3.
PUT_EVENTS_LIMIT = 256 * 1024
EVENT_DETAIL_LIMIT = 200_000


def _event_batches(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = []
    size = 0
    for entry in entries:
        n = sum(len(entry[k].encode("utf-8")) for k in ("Source", "DetailType", "Detail"))
        if not batches or len(batches[-1]) == 10 or size + n > PUT_EVENTS_LIMIT:
            batches.append([])
            size = 0
        batches[-1].append(entry)
        size += n
    return batches
