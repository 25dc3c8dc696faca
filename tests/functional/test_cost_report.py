"""The cost report of an execution on the embedded stack: what the handlers counted as they
worked agrees with the requests they really made."""
from __future__ import annotations

import threading
from typing import Any

import botocore.client
import pytest

from relayflow.core.loader import load_text

from . import faults

SEQ = """
name: t.cost_seq
tasks:
  - {name: a, action: core.echo, input: {n: 1}, on_success: b}
  - {name: b, action: core.echo, input: {n: "{{ task.a.result.n }}"}, on_success: c}
  - {name: c, action: core.echo, input: {n: 3}}
"""


class Calls:
    """Counts each handler's invocations and the DynamoDB reads the advance handler makes."""

    def __init__(self, stack: Any):
        self.stack, self.local = stack, threading.local()
        self.invocations: dict[str, int] = {}
        self.advance_reads = 0

    def __enter__(self) -> Calls:
        self.original, calls = botocore.client.BaseClient._make_api_call, self

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if getattr(calls.local, "name", None) == "advance" and operation in ("GetItem", "Query"):
                calls.advance_reads += 1
            return calls.original(client, operation, params)

        botocore.client.BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
        self.saved_handlers, self.saved_start = dict(self.stack.handlers), self.stack.start_handler
        for queue, (fn, batch) in self.saved_handlers.items():
            name = "advance" if queue == "event" else "worker"
            self.stack.handlers[queue] = (self._wrap(name, fn), batch)
        self.stack.start_handler = self._wrap("start", self.saved_start)
        return self

    def _wrap(self, name: str, fn: Any) -> Any:
        def handler(event: Any, context: Any) -> Any:
            self.invocations[name] = self.invocations.get(name, 0) + 1
            self.local.name = name
            try:
                return fn(event, context)
            finally:
                self.local.name = None
        return handler

    def __exit__(self, *exc: Any) -> None:
        botocore.client.BaseClient._make_api_call = self.original  # type: ignore[method-assign]
        self.stack.handlers.update(self.saved_handlers)
        self.stack.start_handler = self.saved_start


@pytest.fixture()
def stack(local):
    local.register(load_text(SEQ, "cost_seq.yaml"))
    faults.fresh_case(local)
    return local


@pytest.mark.xfail(strict=True, reason="the cost report does not yet count the reads the delivery layer makes outside a step (the attempt check before a claim): it reports 15 advance reads where the handlers made 18")
def test_the_report_counts_the_reads_and_invocations_the_handlers_made(stack) -> None:
    with Calls(stack) as calls:
        eid = stack.start("t.cost_seq", None)
        stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"
    report = stack.service.describe(eid, cost=True)["cost"]
    assert calls.advance_reads > 0 and set(calls.invocations) == {"start", "advance", "worker"}
    # reads are counted by the hook as the advance steps make them: exactly
    assert report["requests"]["dynamodb"]["read requests"] == calls.advance_reads
    # each invocation is shared among the executions and records of its batch; alone, they add up
    assert report["requests"]["lambda"]["invocations"] == pytest.approx(sum(calls.invocations.values()), abs=0.01)
    # three tasks: at least a dispatch and an outcome each, and the receive and delete of both
    assert report["requests"]["sqs"]["requests"] >= 3 * 2 * 3
    assert report["total_dollars"] > 0
