"""Start an execution: write its head and queue its start (DESIGN §2, step 1).

Event: {"workflow": NAME, "input": {...}, "execution_id": optional id for idempotent retries,
"version": optional definition version}. Returns {"execution_id": ...} or {"error": {...}}.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from relayflow.core.errors import InputError
from relayflow.errors import UnknownWorkflowError
from relayflow.runtime import get_runtime

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("workflow"), str):
        return {"error": {"type": "BadRequest", "message": "'workflow' (a name) is required"}}
    rt = get_runtime()
    try:
        eid = rt.engine.start(event["workflow"], event.get("input"), execution_id=event.get("execution_id"),
                              version=event.get("version"))
    except UnknownWorkflowError:
        return {"error": {"type": "UnknownWorkflow", "message": f"workflow {event['workflow']!r} is not registered"}}
    except InputError as exc:
        return {"error": {"type": "InvalidInput", "message": str(exc), "problems": exc.problems}}
    logger.append_keys(execution_id=eid)
    logger.info("execution started", extra={"workflow": event["workflow"]})
    metrics.add_dimension(name="workflow", value=event["workflow"])
    metrics.add_metric(name="ExecutionsStarted", unit=MetricUnit.Count, value=1)
    return {"execution_id": eid}
