"""Batched sends: a worker's outcomes leave in SendMessageBatch calls that respect SQS's
limits (10 entries, 256 KiB of bodies), and a failed send loses no outcome."""
from __future__ import annotations

from typing import Any

import pytest

from relayflow.adapters import messaging
from relayflow.adapters.errors import AdapterError
from relayflow.core.loader import load_text

from . import faults

ITEMS = """
name: t.batched_items
tasks:
  - name: each
    action: batch.count
    with_items: "{{ range(10) | list }}"
    concurrency: 10
    input: {i: "{{ item }}"}
output: {n: "{{ task.each.result | length }}"}
"""


def _entry(size: int) -> dict[str, Any]:
    return {"MessageBody": "x" * size, "MessageGroupId": "g", "MessageDeduplicationId": str(size)}


def test_batches_hold_at_most_ten_entries() -> None:
    chunks = messaging.batches([_entry(10) for _ in range(25)])
    assert [len(c) for c in chunks] == [10, 10, 5]


def test_batches_hold_at_most_256_kib_of_bodies() -> None:
    big = 100 * 1024
    chunks = messaging.batches([_entry(big) for _ in range(5)] + [_entry(10)])
    assert [len(c) for c in chunks] == [2, 2, 2]  # a third 100 KiB body would pass 262,144 bytes
    assert all(sum(len(e["MessageBody"]) for e in c) <= 256 * 1024 for c in chunks)


class SendLog:
    """Records the event queue's sends made by the worker (wraps the runtime's SQS client)."""

    def __init__(self, stack: Any, fail_batches: int = 0):
        self.sqs = stack.runtime.event_queue.sqs
        self.url = stack.runtime.event_queue.url
        self.calls: list[tuple[str, int]] = []
        self.fail_batches = fail_batches
        self.failed = 0

    def __enter__(self) -> SendLog:
        self.batch, self.single = self.sqs.send_message_batch, self.sqs.send_message

        def send_message_batch(**kw: Any) -> Any:
            if kw["QueueUrl"] == self.url:
                self.calls.append(("batch", len(kw["Entries"])))
                if self.failed < self.fail_batches:
                    self.failed += 1
                    raise AdapterError("injected: the event queue is unavailable")
            return self.batch(**kw)

        def send_message(**kw: Any) -> Any:
            if kw["QueueUrl"] == self.url:
                self.calls.append(("single", 1))
            return self.single(**kw)

        self.sqs.send_message_batch, self.sqs.send_message = send_message_batch, send_message
        return self

    def __exit__(self, *exc: Any) -> None:
        self.sqs.send_message_batch, self.sqs.send_message = self.batch, self.single


@pytest.fixture()
def stack(local):
    runs: dict[int, int] = {}

    def count(payload: Any, ctx: Any) -> Any:
        runs[payload["i"]] = runs.get(payload["i"], 0) + 1
        return payload["i"]

    local.runtime.actions.register("batch.count", count)
    local.register(load_text(ITEMS, "batched_items.yaml"))
    faults.fresh_case(local)
    local.runs = runs
    return local


def test_a_batch_of_ten_outcomes_leaves_in_one_request(stack) -> None:
    with SendLog(stack) as log:
        result = stack.run("t.batched_items", None)
    assert result["status"] == "succeeded" and result["output"] == {"n": 10}
    # the start event and the advance step's own sends are made by other handlers: the
    # worker's ten outcomes are the only batch of ten
    assert ("batch", 10) in log.calls
    assert sum(n for kind, n in log.calls if kind == "batch") == 10


def test_without_the_hold_each_outcome_leaves_alone(stack, monkeypatch) -> None:
    from relayflow.actions import outcomes

    monkeypatch.setattr(outcomes, "HOLD_S", 0.0)
    with SendLog(stack) as log:
        result = stack.run("t.batched_items", None)
    assert result["status"] == "succeeded"
    assert not [c for c in log.calls if c[0] == "batch"]
    assert len([c for c in log.calls if c[0] == "single"]) >= 10


def test_a_failed_batch_send_brings_the_whole_batch_back(stack) -> None:
    with SendLog(stack, fail_batches=1) as log:
        result = stack.run("t.batched_items", None)
    assert log.failed == 1  # the fault really happened
    assert result["status"] == "succeeded" and result["output"] == {"n": 10}
    # no outcome was lost: every item ran again after the failed send, and each counts once
    assert stack.runs == {i: 2 for i in range(10)}
    assert [r["result"] for r in result["tasks"]] == [list(range(10))]
