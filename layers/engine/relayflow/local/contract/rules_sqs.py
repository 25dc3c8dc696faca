"""SQS request rules moto does not enforce (or enforces with a newer, larger limit).

Sources:
  SEND    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
  BATCH   https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
  QUOTAS  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
  RECEIVE https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
  CREATE  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
  DLQ     https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
"""
from __future__ import annotations

import json
import re
from typing import Any

from . import Breach, Contract, QueueInfo

SEND = "SQS API Reference, SendMessage"
BATCH = "SQS API Reference, SendMessageBatch"
QUOTAS = "SQS Developer Guide, Amazon SQS message quotas"
RECEIVE = "SQS API Reference, ReceiveMessage"
CREATE = "SQS API Reference, CreateQueue"
DLQ = "SQS Developer Guide, Using dead-letter queues"

# 256 KiB: SQS raised the maximum to 1 MiB in 2025 (MaximumMessageSize), but the template
# pins no larger MaximumMessageSize and 256 KiB is what every queue and client takes.
MESSAGE_LIMIT = 262_144
BATCH_ENTRIES = 10
FIFO_ID_MAX = 128
# Unicode a body may hold: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF
_BAD_BODY_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# FIFO group and deduplication ids: alphanumerics and punctuation !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
_FIFO_ID = re.compile(r"""^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]+$""")
_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def _message_size(body: str, attributes: dict[str, Any] | None) -> int:
    # The size counts the body and every attribute's name, data type and value (QUOTAS).
    size = len(body.encode("utf-8"))
    for name, attr in (attributes or {}).items():
        size += len(name.encode()) + len(str(attr.get("DataType", "")).encode())
        value = attr.get("StringValue") if "StringValue" in attr else attr.get("BinaryValue", b"")
        size += len(value.encode("utf-8") if isinstance(value, str) else bytes(value))
    return size


def _message(entry: dict[str, Any], queue: QueueInfo | None, where: str) -> Breach | None:
    body = entry.get("MessageBody", "")
    bad = _BAD_BODY_CHAR.search(body)
    if bad:
        return Breach("sqs.body-characters",
                      f"{where}: the body holds {bad.group()!r} at {bad.start()}, a character SQS refuses",
                      SEND, "InvalidMessageContents")
    size = _message_size(body, entry.get("MessageAttributes"))
    if size > MESSAGE_LIMIT:
        return Breach("sqs.message-size", f"{where}: the message is {size} bytes, over {MESSAGE_LIMIT}",
                      QUOTAS, "InvalidParameterValue")
    if len(entry.get("MessageAttributes") or {}) > 10:
        return Breach("sqs.message-attributes", f"{where}: more than 10 message attributes", SEND,
                      "InvalidParameterValue")
    delay = entry.get("DelaySeconds")
    if queue is not None and queue.fifo:
        if delay is not None:
            return Breach("sqs.fifo-no-message-delay",
                          f"{where}: DelaySeconds on a message of the FIFO queue {queue.name} "
                          "(FIFO queues take a delay only at queue level)", SEND, "InvalidParameterValue")
        group = entry.get("MessageGroupId")
        if not group:
            return Breach("sqs.fifo-group-required", f"{where}: no MessageGroupId for the FIFO queue {queue.name}",
                          SEND, "MissingParameter")
        for field in ("MessageGroupId", "MessageDeduplicationId"):
            value = entry.get(field)
            if value is None:
                continue
            if len(value) > FIFO_ID_MAX:
                return Breach("sqs.fifo-id-length",
                              f"{where}: {field} is {len(value)} characters, over {FIFO_ID_MAX}: {value[:60]}…",
                              SEND, "InvalidParameterValue")
            if not _FIFO_ID.match(value):
                return Breach("sqs.fifo-id-characters",
                              f"{where}: {field} {value!r} holds characters other than alphanumerics and "
                              "punctuation", SEND, "InvalidParameterValue")
        if entry.get("MessageDeduplicationId") is None and not queue.content_dedup:
            return Breach("sqs.fifo-dedup-required",
                          f"{where}: no MessageDeduplicationId, and the FIFO queue {queue.name} has no "
                          "content-based deduplication", SEND, "InvalidParameterValue")
    elif delay is not None and not 0 <= delay <= 900:
        return Breach("sqs.delay-range", f"{where}: DelaySeconds {delay} is outside 0..900", SEND,
                      "InvalidParameterValue")
    return None


def _entries(entries: list[dict[str, Any]], source: str) -> Breach | None:
    if not 1 <= len(entries) <= BATCH_ENTRIES:
        return Breach("sqs.batch-entries", f"{len(entries)} entries (1..{BATCH_ENTRIES})", source,
                      "AWS.SimpleQueueService.TooManyEntriesInBatchRequest")
    ids = [e.get("Id", "") for e in entries]
    if len(set(ids)) != len(ids):
        return Breach("sqs.batch-ids-distinct", f"entry ids repeat: {ids}", source,
                      "AWS.SimpleQueueService.BatchEntryIdsNotDistinct")
    for id_ in ids:
        if not _BATCH_ID.match(id_):
            return Breach("sqs.batch-id-format", f"entry id {id_!r} (1-80 of A-Za-z0-9_-)", source,
                          "AWS.SimpleQueueService.InvalidBatchEntryId")
    return None


def _create_queue(params: dict[str, Any], contract: Contract) -> Breach | None:
    name = params.get("QueueName", "")
    attrs = params.get("Attributes") or {}
    fifo = str(attrs.get("FifoQueue", "false")).lower() == "true"
    base = name[:-5] if name.endswith(".fifo") else name
    if not _QUEUE_NAME.match(base) or len(name) > 80:
        return Breach("sqs.queue-name", f"queue name {name!r}: 1-80 of A-Za-z0-9_- (and .fifo)", CREATE,
                      "InvalidParameterValue")
    if fifo != name.endswith(".fifo"):
        return Breach("sqs.fifo-name", f"queue {name!r}: a FIFO queue's name ends in .fifo, and only its",
                      CREATE, "InvalidParameterValue")
    visibility = int(attrs.get("VisibilityTimeout", 30))
    if not 0 <= visibility <= 43_200:
        return Breach("sqs.visibility-range", f"queue {name}: VisibilityTimeout {visibility} (0..43200)",
                      CREATE, "InvalidAttributeValue")
    if "RedrivePolicy" in attrs:
        policy = json.loads(attrs["RedrivePolicy"])
        count = int(policy.get("maxReceiveCount", 0))
        if not 1 <= count <= 1000:
            return Breach("sqs.max-receive-count", f"queue {name}: maxReceiveCount {count} (1..1000)", DLQ,
                          "InvalidAttributeValue")
        target = contract.queue(policy.get("deadLetterTargetArn", ""))
        if target is not None and target.fifo != fifo:
            return Breach("sqs.dlq-type", f"queue {name}: its dead-letter queue {target.name} must be "
                          f"{'a FIFO' if fifo else 'a standard'} queue like it", DLQ, "InvalidParameterValue")
    contract.queues[name] = QueueInfo(name, fifo, str(attrs.get("ContentBasedDeduplication", "false")).lower()
                                      == "true")
    return None


def check(operation: str, params: dict[str, Any], contract: Contract) -> Breach | None:
    if operation == "CreateQueue":
        return _create_queue(params, contract)
    if operation == "SetQueueAttributes":
        queue = contract.queue(params.get("QueueUrl", ""))
        attrs = params.get("Attributes") or {}
        if queue is not None and "ContentBasedDeduplication" in attrs:
            queue.content_dedup = str(attrs["ContentBasedDeduplication"]).lower() == "true"
        return None
    queue = contract.queue(params.get("QueueUrl", ""))
    if operation == "SendMessage":
        return _message(params, queue, f"SendMessage to {queue.name if queue else params.get('QueueUrl')}")
    if operation == "SendMessageBatch":
        entries = params.get("Entries") or []
        breach = _entries(entries, BATCH)
        if breach:
            return breach
        total = 0
        for entry in entries:
            breach = _message(entry, queue, f"SendMessageBatch entry {entry.get('Id')}")
            if breach:
                return breach
            total += _message_size(entry.get("MessageBody", ""), entry.get("MessageAttributes"))
        if total > MESSAGE_LIMIT:
            return Breach("sqs.batch-size", f"the batch's messages total {total} bytes, over {MESSAGE_LIMIT}",
                          BATCH, "AWS.SimpleQueueService.BatchRequestTooLong")
        return None
    if operation in ("DeleteMessageBatch", "ChangeMessageVisibilityBatch"):
        return _entries(params.get("Entries") or [], f"SQS API Reference, {operation}")
    if operation == "ReceiveMessage":
        n, wait = params.get("MaxNumberOfMessages", 1), params.get("WaitTimeSeconds", 0)
        if not 1 <= n <= 10:
            return Breach("sqs.receive-count", f"MaxNumberOfMessages {n} (1..10)", RECEIVE, "InvalidParameterValue")
        if not 0 <= wait <= 20:
            return Breach("sqs.receive-wait", f"WaitTimeSeconds {wait} (0..20)", RECEIVE, "InvalidParameterValue")
    if (operation in ("ReceiveMessage", "ChangeMessageVisibility") and "VisibilityTimeout" in params
            and not 0 <= params["VisibilityTimeout"] <= 43_200):
            return Breach("sqs.visibility-range", f"VisibilityTimeout {params['VisibilityTimeout']} (0..43200)",
                          f"SQS API Reference, {operation}", "InvalidParameterValue")
    return None
