"""The cost report of an execution on the embedded stack: what the handlers counted as they
worked agrees with the requests they really made."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def observed(observe: Callable[[str, dict[str, Any], dict[str, Any]], None]) -> Iterator[None]:
    """Hand each AWS call made meanwhile (operation, parameters, answer) to ``observe``."""
    original = botocore.client.BaseClient._make_api_call

    def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        answer = original(client, operation, params)
        observe(operation, params, answer)
        return answer

    botocore.client.BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
    try:
        yield
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


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


JOINED = """
name: t.cost_join
tasks:
  - {name: a, action: core.echo, input: {n: 1}, on_success: [b, c]}
  - {name: b, action: core.echo, input: {n: 2}, on_success: d}
  - {name: c, action: core.echo, input: {n: 3}, on_success: d}
  - {name: d, action: core.echo, join: all, input: {n: "{{ task.b.result.n + task.c.result.n }}"}}
"""


def test_only_a_join_has_its_task_record_read(local) -> None:
    """A task that is no join keeps no TASK# record, so a step starting it does not read one
    (one read unit per task run less); a join's record (its arrivals) is still read, and the
    join still fires once, after both branches."""
    local.register(load_text(JOINED, "cost_join.yaml"))
    faults.fresh_case(local)
    read: list[str] = []

    def observe(operation: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        if operation == "GetItem":
            read.append(params["Key"]["sk"]["S"])

    with observed(observe):
        eid = local.start("t.cost_join", None)
        local.pump()
    view = local.describe(eid)
    assert view["status"] == "succeeded"
    d_runs = [t for t in view["tasks"] if t["name"] == "d"]
    assert len(d_runs) == 1 and d_runs[0]["result"] == {"n": 5}
    task_reads = {sk for sk in read if sk.startswith("TASK#")}
    assert task_reads == {"TASK#d"}, task_reads


LOOP = """
name: t.cost_loop
vars: {n: 0}
tasks:
  - {name: begin, action: core.noop, on_success: step}
  - name: step
    action: core.echo
    input: {n: "{{ vars.n }}"}
    publish:
      - n: "{{ vars.n + 1 }}"
    next:
      - when: "{{ vars.n < 6 }}"
        do: step
"""


def test_a_loop_reads_one_run_to_find_its_run_counter(local) -> None:
    """A task that is no join finds its run counter from its newest run: each read of it
    returns one run, not every earlier pass of a loop (a Query is billed for what it reads)."""
    local.register(load_text(LOOP, "cost_loop.yaml"))
    faults.fresh_case(local)
    returned: list[int] = []

    def observe(operation: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        values = [v.get("S", "") for v in params.get("ExpressionAttributeValues", {}).values()]
        if operation == "Query" and "RUN#step#" in values:
            returned.append(answer["Count"])

    with observed(observe):
        eid = local.start("t.cost_loop", None)
        local.pump()
    view = local.describe(eid)
    assert view["status"] == "succeeded"
    assert [t["run"] for t in view["tasks"] if t["name"] == "step"] == [1, 2, 3, 4, 5, 6]
    assert len(returned) >= 5 and max(returned) == 1, returned
