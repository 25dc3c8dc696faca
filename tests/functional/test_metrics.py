"""The advance handler publishes EMF metrics for executions and task runs."""
import io
import json

from relayflow.core.loader import load_text

WORKFLOW = """
name: m.flow
tasks:
  - {name: a, action: core.echo, input: {x: 1}, on_success: b}
  - {name: b, action: core.sleep, input: {seconds: 5}}
"""


def test_execution_and_task_run_metrics_are_emitted_as_emf():
    from relayflow.local.stack import EmbeddedStack

    out = io.StringIO()
    with EmbeddedStack(handler_output=out) as stack:
        stack.register(load_text(WORKFLOW))
        result = stack.run("m.flow", {})
    assert result["status"] == "succeeded"
    blobs = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith('{"_aws"')]
    totals: dict[str, float] = {}
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "Relayflow"
            for metric in directive["Metrics"]:
                values = blob[metric["Name"]]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(values if isinstance(values, list) else [values])
    assert totals["ExecutionsSucceeded"] == 1
    assert totals["TaskRunsStarted"] == 2 and totals["TaskRunsSucceeded"] == 2
    assert totals["ExecutionDuration"] >= 5  # the sleep, on the virtual clock
    assert totals["TaskRunDuration"] >= 5


ATTEMPTS = """
name: m.attempts
tasks:
  - {name: ok, action: core.echo, input: {x: 1}, on_success: bad}
  - {name: bad, action: core.fail, input: {message: broken on purpose}}
"""


def test_at_info_the_worker_logs_failed_attempts_and_not_each_succeeded_one():
    """At the deployed LogLevel (INFO) a succeeded attempt costs no log line of its own (its
    metrics and the history say it); a failed one is still logged, with its attempt and status."""
    import functions.worker.app as worker
    from relayflow.local.stack import EmbeddedStack

    out = io.StringIO()
    with EmbeddedStack(handler_output=out) as stack:
        level = worker.logger.log_level
        worker.logger.setLevel("INFO")
        try:
            stack.register(load_text(ATTEMPTS))
            result = stack.run("m.attempts", {})
        finally:
            worker.logger.setLevel(level)
    assert result["status"] == "failed"
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    ran = [line for line in lines if line.get("message") == "attempt ran"]
    assert [(line["attempt"].split(":")[1], line["status"], line["level"]) for line in ran] == [
        ("bad", "failed", "INFO")]
    assert not any(line.get("status") == "succeeded" for line in lines if "message" in line)
