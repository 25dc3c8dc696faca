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


READS = ("GetItem", "Query")
WRITES = ("PutItem", "UpdateItem", "DeleteItem")


class Calls:
    """Counts each handler's invocations and the requests the handlers make, by operation (the
    pump's receives and deletes stand in for Lambda's event sources: counted apart)."""

    def __init__(self, stack: Any):
        self.stack, self.local = stack, threading.local()
        self.invocations: dict[str, int] = {}
        self.made: dict[str, int] = {}
        self.pump: dict[str, int] = {}

    def __enter__(self) -> Calls:
        self.original, calls = botocore.client.BaseClient._make_api_call, self

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            counts = calls.made if getattr(calls.local, "name", None) else calls.pump
            counts[operation] = counts.get(operation, 0) + 1
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


def test_the_report_counts_every_request_the_handlers_made(stack) -> None:
    with Calls(stack) as calls:
        eid = stack.start("t.cost_seq", None)
        stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"
    report = stack.service.describe(eid, cost=True)["cost"]
    made = calls.made
    assert set(calls.invocations) == {"start", "advance", "worker"}
    dynamodb = report["requests"]["dynamodb"]
    # every handler's reads: the workflow's at the start, the steps' (counted as they are made),
    # the worker's attempt check, and the sweep's once the execution ended (predicted)
    assert dynamodb["read requests"] == sum(made.get(op, 0) for op in READS) > 0
    # every write: the start's, each step's intent, records, head and index entry, each claim,
    # and the sweep's update of every record
    assert made.get("UpdateItem", 0) > 0, "the sweep ran"
    assert dynamodb["write requests"] == sum(made.get(op, 0) for op in WRITES)
    # the sends, and a receive and a delete per batch the event sources delivered
    batches = calls.pump["DeleteMessageBatch"]
    sends = made.get("SendMessage", 0) + made.get("SendMessageBatch", 0)
    assert report["requests"]["sqs"]["requests"] == pytest.approx(sends + 2 * batches, abs=0.01)
    assert report["requests"]["events"]["events"] == made["PutEvents"]  # workflow-level: started, ended
    # each invocation is shared among the executions and records of its batch; alone, they add up
    assert report["requests"]["lambda"]["invocations"] == pytest.approx(sum(calls.invocations.values()), abs=0.01)
    assert report["total_dollars"] > 0
