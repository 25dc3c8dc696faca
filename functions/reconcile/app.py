"""Find executions past their deadline and re-send what was lost, or fail them (DESIGN §3).

Runs on a schedule (template.yaml: every 5 minutes); the work is in
``relayflow.reconciler``. Publishes ``StuckExecutions``: the executions found past
their deadline in this run (an alarm fires on any).
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from relayflow.reconciler import Reconciler
from relayflow.runtime import get_runtime

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = get_runtime()
    done = Reconciler(rt.store, rt.workflows, rt.event_queue, rt.clock).run()
    for execution_id, what in done.stuck:
        logger.warning("execution past its deadline", extra={"execution_id": execution_id, "action": what})
    for execution_id, reason in done.failed:
        logger.error("stuck execution failed", extra={"execution_id": execution_id, "reason": reason})
    metrics.add_metric(name="StuckExecutions", unit=MetricUnit.Count, value=len(done.stuck) + len(done.failed))
    return {"checked": done.checked, "stuck": len(done.stuck), "failed": len(done.failed)}
