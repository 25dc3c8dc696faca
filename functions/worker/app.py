"""Run dispatched attempts (task queue) and report how they ended (event queue).

A thin adapter over the delivery layer (``relayflow.delivery``): each dispatch runs
only if its attempt is still current and this delivery claims it; one that cannot
start in the time left is handed back. An action may still run more than once for
one attempt (see the README's "Known limits"); actions get an idempotency key.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SQSEvent

from relayflow.actions.outcomes import HeldOutcomes
from relayflow.delivery import Budget
from relayflow.runtime import function_budgets, get_runtime, received

logger = Logger()
metrics = Metrics()
tracer = Tracer()

outcomes = HeldOutcomes(lambda held: get_runtime().event_queue.send_all(held))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = get_runtime()
    budgets = function_budgets(context)
    # outcomes leave together (one SendMessageBatch for up to ten) before the dispatches are deleted
    report = rt.delivery.work([received(r) for r in SQSEvent(event).records],
                              Budget.of(context, budgets.attempt_reserve_ms), outcomes)
    for outcome, elapsed_ms in report.outcomes:
        # A failed attempt is logged at INFO; a succeeded one only at DEBUG: it was a line of about
        # 500 bytes per task (a quarter of a sequence's CloudWatch Logs bill), and the metrics
        # below and the execution's history already say it.
        log = logger.info if outcome.status != "succeeded" else logger.debug
        log("attempt ran", extra={"attempt": outcome.execution_id + ":" + outcome.task,
                                  "status": outcome.status, "duration_ms": round(elapsed_ms, 1)})
        metrics.add_metric(name="AttemptsSucceeded" if outcome.status == "succeeded" else "AttemptsFailed",
                           unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="AttemptDuration", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    for key, why in report.skipped:
        logger.info("attempt not run", extra={"attempt": key, "reason": why})
        metrics.add_metric(name="AttemptsSkipped", unit=MetricUnit.Count, value=1)
    for message_id, error in report.errors:
        logger.error("dispatch failed", extra={"message_id": message_id, "reason": error})
    for key, reason in report.poisoned:
        logger.error("dispatch given up", extra={"attempt": key, "reason": reason})
    if report.deferred:
        logger.warning("out of time: dispatches handed back", extra={"count": report.deferred})
    return {"batchItemFailures": [{"itemIdentifier": mid} for mid in report.failed]}
