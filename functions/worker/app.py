"""Run dispatched attempts (task queue) and report how they ended (event queue).

An action may run more than once for one attempt (a redelivery after a crash
between running it and sending its outcome); actions get an idempotency key.
"""
from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from relayflow.actions.worker import run_attempt
from relayflow.adapters.errors import MalformedMessage
from relayflow.adapters.messaging import decode
from relayflow.core.messages import AttemptFinished, DispatchAttempt
from relayflow.runtime import get_runtime

logger = Logger()
metrics = Metrics()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _give_up(record: SQSRecord, exc: Exception) -> None:
    """On a dispatch's last delivery, fail its attempt so the workflow sees a task failure
    (which it may handle) instead of waiting for an outcome that will never come. The
    attempt is read from the message body: its group id may be a hash of the address."""
    rt = get_runtime()
    receives = int(record.attributes.approximate_receive_count or 1)
    if receives < rt.settings.max_receive_count:
        return
    try:
        command = decode(record.body, rt.payloads)
    except Exception:  # a body that never was a dispatch names no attempt to fail
        return
    if not isinstance(command, DispatchAttempt):
        return
    outcome = AttemptFinished(command.execution_id, command.task, command.run, command.unit, command.attempt,
                              "failed", None, {
                                  "type": "PoisonMessage",
                                  "message": f"dispatch {record.message_id} failed on all {receives} deliveries: {exc}"})
    rt.event_queue.send(outcome)
    logger.error("dispatch given up", extra={"execution_id": command.execution_id, "task": command.task,
                                              "reason": str(exc)})


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    try:
        handle_dispatch(record)
    except Exception as exc:
        _give_up(record, exc)
        raise


def handle_dispatch(record: SQSRecord) -> None:
    rt = get_runtime()
    command = decode(record.body, rt.payloads)
    if not isinstance(command, DispatchAttempt):
        raise MalformedMessage(f"the task queue takes dispatch messages, not {command.kind}")
    logger.append_keys(execution_id=command.execution_id, task=command.task, attempt=command.attempt)
    started = time.perf_counter()
    outcome = run_attempt(rt.actions, command)
    elapsed_ms = (time.perf_counter() - started) * 1000
    rt.event_queue.send(outcome)
    logger.info("attempt ran", extra={"action": command.action, "status": outcome.status,
                                      "duration_ms": round(elapsed_ms, 1)})
    metrics.add_metric(name="AttemptsSucceeded" if outcome.status == "succeeded" else "AttemptsFailed",
                       unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="AttemptDuration", unit=MetricUnit.Milliseconds, value=elapsed_ms)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
