"""Advance executions with the events on the FIFO event queue (DESIGN §2, step 3).

The records of one execution (one message group) in a batch are applied in one
step, so a burst of completions costs one head read and one head write. When a
step fails, that group's remaining records are reported failed (FIFO order is
kept); a record that fails on its last delivery marks its execution failed
before SQS moves it to the dead-letter queue.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from relayflow.adapters.errors import MalformedMessage
from relayflow.adapters.messaging import decode, execution_of
from relayflow.core.messages import ControlRequested, Emit
from relayflow.engine import UnknownExecution
from relayflow.runtime import Runtime, get_runtime

logger = Logger()
metrics = Metrics()
tracer = Tracer()


_METRICS = {
    "workflow.succeeded": "ExecutionsSucceeded", "workflow.failed": "ExecutionsFailed",
    "workflow.timed_out": "ExecutionsTimedOut", "workflow.cancelled": "ExecutionsCancelled",
    "task.started": "TaskRunsStarted", "task.succeeded": "TaskRunsSucceeded", "task.failed": "TaskRunsFailed",
    "task.timed_out": "TaskRunsTimedOut", "task.retried": "TaskRetries",
}


def _count(events: list[Emit]) -> None:
    for event in events:
        name = _METRICS.get(event.type)
        if name:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        duration = event.detail.get("duration")
        if isinstance(duration, (int, float)) and event.type.split(".")[1] in ("succeeded", "failed", "timed_out"):
            kind = "Execution" if event.type.startswith("workflow.") else "TaskRun"
            metrics.add_metric(name=f"{kind}Duration", unit=MetricUnit.Seconds, value=duration)


def _groups(records: list[SQSRecord]) -> dict[str, list[SQSRecord]]:
    groups: dict[str, list[SQSRecord]] = {}
    for record in records:
        groups.setdefault(record.attributes.message_group_id or record.message_id, []).append(record)
    return groups


def _give_up(rt: Runtime, group: str, record: SQSRecord, exc: Exception) -> None:
    receives = int(record.attributes.approximate_receive_count or 1)
    if receives < rt.settings.max_receive_count:
        return
    group = execution_of(record.body, rt.payloads) or group  # a long id's group is its hash
    reason = f"message {record.message_id} could not be processed after {receives} deliveries: {exc}"
    try:
        # Through the conductor, so runs end cancelled, timers go and a parent hears of it.
        # This group's consumer is us, so applying it here keeps the one-writer rule.
        rt.engine.handle(ControlRequested(group, "fail", reason))
        failed = True
    except Exception:  # the conductor itself may be what fails: fall back to the head alone
        logger.exception("failing through the conductor did not work", extra={"execution_id": group})
        failed = rt.store.mark_failed(group, {"task": None, "type": "PoisonMessage", "message": reason})
    if failed:
        logger.error("execution failed by a poison message", extra={"execution_id": group, "reason": reason})
        metrics.add_metric(name="PoisonMessages", unit=MetricUnit.Count, value=1)


@tracer.capture_method
def advance_group(rt: Runtime, group: str, records: list[SQSRecord]) -> list[str]:
    """Apply one group's records in order; return the ids of the records to redeliver."""
    logger.append_keys(execution_id=group)
    events, ids = [], []
    for i, record in enumerate(records):
        try:
            events.append(decode(record.body, rt.payloads))
            ids.append(record.message_id)
        except MalformedMessage as exc:
            logger.error("malformed message", extra={"message_id": record.message_id, "reason": str(exc)})
            failed = advance_group(rt, group, records[:i]) if i else []
            _give_up(rt, group, record, exc)
            return failed + [r.message_id for r in records[i:]]
    try:
        rt.engine.handle_batch(events, ids)
        metrics.add_metric(name="EventsApplied", unit=MetricUnit.Count, value=len(events))
        return []
    except UnknownExecution:
        logger.warning("events for an unknown execution dropped", extra={"count": len(events)})
        return []
    except Exception as exc:  # isolate the failing record: replay one by one
        if len(records) == 1:
            logger.exception("event failed", extra={"message_id": records[0].message_id})
            _give_up(rt, group, records[0], exc)
            return [records[0].message_id]
    for i, record in enumerate(records):
        if advance_group(rt, group, [record]):
            return [r.message_id for r in records[i:]]
    return []


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = get_runtime()
    if _count not in rt.engine.observers:
        rt.engine.observers.append(_count)
    failures: list[str] = []
    for group, records in _groups(list(SQSEvent(event).records)).items():
        failures += advance_group(rt, group, records)
    return {"batchItemFailures": [{"itemIdentifier": mid} for mid in failures]}
