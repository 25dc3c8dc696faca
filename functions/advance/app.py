"""Advance executions with the events on the FIFO event queue (DESIGN §2, step 3).

A thin adapter: the SQS batch goes to the delivery layer (``relayflow.delivery``),
which applies each execution's records in one step, keeps FIFO order when a step
fails, fails an execution whose message is poison on its last delivery, and hands
back what the invocation has no time left to finish.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SQSEvent

from relayflow import usage
from relayflow.core.messages import Emit
from relayflow.delivery import Budget
from relayflow.runtime import function_budgets, get_runtime, received

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


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = get_runtime()
    if _count not in rt.engine.observers:
        rt.engine.observers.append(_count)
    budgets = function_budgets(context)
    rt.engine.limits = budgets.limits()
    records = [received(r) for r in SQSEvent(event).records]
    # each execution's step bears its part of this invocation in its cost report
    with usage.invocation_share(1 / max(1, len({r.group or r.id for r in records}))):
        report = rt.delivery.advance(records, Budget.of(context, budgets.step_reserve_ms))
    for message_id, error in report.errors:
        logger.error("event failed", extra={"message_id": message_id, "reason": error})
    for execution_id, reason in report.poisoned:
        logger.error("execution failed by a poison message", extra={"execution_id": execution_id, "reason": reason})
        metrics.add_metric(name="PoisonMessages", unit=MetricUnit.Count, value=1)
    if report.applied:
        metrics.add_metric(name="EventsApplied", unit=MetricUnit.Count, value=report.applied)
    if report.deferred:
        logger.warning("out of time: events handed back", extra={"count": report.deferred})
        metrics.add_metric(name="EventsDeferred", unit=MetricUnit.Count, value=report.deferred)
    if report.dropped:
        logger.warning("events for an unknown execution dropped", extra={"count": report.dropped})
    return {"batchItemFailures": [{"itemIdentifier": mid} for mid in report.failed]}
