"""Find executions past their deadline and re-send what was lost, or fail them (DESIGN §3).

Runs on a schedule (template.yaml: every 5 minutes); the work is in
``relayflow.reconciler``. It stops while ``RESERVE_MS`` of its time is left and the
next run resumes where it stopped. Publishes ``StuckExecutions``: the executions found past
their deadline in this run (an alarm fires on any).
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from relayflow.reconciler import RESERVE_MS, Reconciler
from relayflow.runtime import get_runtime

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = get_runtime()
    # Lambda stops the function at its timeout: stop before that and resume there next run
    done = Reconciler(rt.store, rt.workflows, rt.event_queue, rt.clock).run(
        lambda: context.get_remaining_time_in_millis() > RESERVE_MS)
    for execution_id, what in done.stuck:
        logger.warning("execution past its deadline", extra={"execution_id": execution_id, "action": what})
    for execution_id, reason in done.failed:
        logger.error("stuck execution failed", extra={"execution_id": execution_id, "reason": reason})
    metrics.add_metric(name="StuckExecutions", unit=MetricUnit.Count, value=len(done.stuck) + len(done.failed))
    if done.cursor is not None:
        logger.info("ran out of time; the next run resumes", extra={"checked": done.checked})
    return {"checked": done.checked, "stuck": len(done.stuck), "failed": len(done.failed),
            "waiting": len(done.waiting), "finished": done.cursor is None}
