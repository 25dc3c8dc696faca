"""The embedded stack deduplicates FIFO sends for five minutes on its own clock.

AWS drops a FIFO message whose deduplication id it accepted in the last five minutes,
even once the first copy was received and deleted (SQS Developer Guide, "Exactly-once
processing": the deduplication interval is 5 minutes). The engine relies on it (a
dispatch re-sent after its worker deleted the first copy must not run again), and the
window follows the stack's clock: a virtual clock that jumps five minutes leaves it behind.
"""
from __future__ import annotations

from typing import Any

import pytest


def test_the_window_closes_with_the_stack():  # first: no other stack is open yet
    from relayflow.local import dedup_window
    from relayflow.local.stack import EmbeddedStack

    with EmbeddedStack() as inner:
        assert dedup_window._windows[-1] is inner.dedup
    assert inner.dedup not in dedup_window._windows


@pytest.fixture(scope="module")
def stack():
    from relayflow.local.stack import EmbeddedStack

    with EmbeddedStack() as s:
        yield s


def send(stack: Any, queue: str, dedup: str | None, body: str) -> None:
    kwargs = {"MessageDeduplicationId": dedup} if dedup else {}
    stack.sqs.send_message(QueueUrl=stack.queue_urls[queue], MessageBody=body, MessageGroupId="g", **kwargs)


def take(stack: Any, queue: str) -> list[str]:
    url = stack.queue_urls[queue]
    msgs = stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    if msgs:
        stack.sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    return [m["Body"] for m in msgs]


def test_a_duplicate_inside_five_virtual_minutes_is_dropped_and_one_after_them_delivered(stack):
    start = stack.clock.now()
    send(stack, "task", "d-1", "first")
    assert take(stack, "task") == ["first"]  # received and deleted: moto alone would accept a copy now
    stack.clock.advance_to(start + 299)
    send(stack, "task", "d-1", "inside the window")
    assert take(stack, "task") == []
    assert stack.dedup.dropped == 1
    stack.clock.advance_to(start + 300)  # five virtual minutes, a moment of real time
    send(stack, "task", "d-1", "after the window")
    assert take(stack, "task") == ["after the window"]
    send(stack, "task", "d-2", "another id")  # the window is per id
    assert take(stack, "task") == ["another id"]


def test_content_based_deduplication_keeps_the_window_too(stack):
    # the event queue deduplicates by content (the Scheduler sends no id): same body, same id
    start = stack.clock.now()
    send(stack, "event", None, '{"same": "body"}')
    assert take(stack, "event") == ['{"same": "body"}']
    send(stack, "event", None, '{"same": "body"}')
    assert take(stack, "event") == []
    stack.clock.advance_to(start + 301)
    send(stack, "event", None, '{"same": "body"}')
    assert take(stack, "event") == ['{"same": "body"}']


def test_ids_whose_window_closed_are_forgotten():
    from relayflow.local.dedup_window import DedupWindow

    now = [0.0]
    window = DedupWindow(lambda: now[0])
    assert window.admit("q", "a") and window.admit("q", "b")
    now[0] = 100.0
    assert window.admit("q", "c") and not window.admit("q", "a")
    now[0] = 350.0  # a's and b's windows closed at 300, c's is open until 400
    assert window.admit("q", "d")
    assert set(window.accepted) == {("q", "c"), ("q", "d")}
    assert not window.admit("q", "c")
