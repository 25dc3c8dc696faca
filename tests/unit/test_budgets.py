"""Budgets: limits cut to the function's own time and memory, and a batch handed back
undone, not cut off, when the time left cannot cover another step or attempt."""
from __future__ import annotations

from typing import Any

from relayflow.budgets import MARGIN_MS, derive
from relayflow.core.loader import load_text
from relayflow.delivery import Budget
from relayflow.harness import MemoryStack

SEQ = """
name: b.seq
tasks:
  - {name: a, action: core.echo, input: {v: 1}}
"""


def test_limits_follow_the_function_size():
    small, large = derive(30_000, 128), derive(900_000, 1024)
    assert (small.template_seconds, large.template_seconds) == (10.0, 10.0)
    assert derive(6_000, 128).template_seconds == 2.0  # a short function gets short renders
    assert (small.output_bytes, large.output_bytes) == (16 << 20, 128 << 20)
    assert small.step_reserve_ms == 10_000 + MARGIN_MS < 30_000  # a step can start in a fresh invocation
    assert small.attempt_reserve_ms == 15_000 and small.action_seconds == 12.0
    assert small.limits().max_seconds == 10.0 and small.limits().max_output_bytes == 16 << 20


class Clock:
    """Lambda's remaining time, as the test sets it."""

    def __init__(self, remaining: float):
        self.remaining = remaining

    def __call__(self) -> float:
        return self.remaining


def test_a_batch_is_handed_back_when_the_time_left_cannot_cover_a_step():
    stack = MemoryStack(seed=0, defer_start=True)
    stack.register(load_text(SEQ, "seq.yaml"))
    ids = [stack.start("b.seq") for _ in range(3)]
    batch = [stack._receive(m, m.execution_id) for m in list(stack.event_queue.messages)]
    stack.event_queue.messages.clear()
    time_left = Clock(20_000)
    applied: list[Any] = []
    handle_batch = stack.engine.handle_batch

    def slow_step(events: list[Any], message_ids: Any = None) -> None:
        handle_batch(events, message_ids)
        applied.append(events[0].execution_id)
        time_left.remaining -= 8_000  # each step takes 8 s

    stack.engine.handle_batch = slow_step  # type: ignore[method-assign]
    report = stack.delivery.advance(batch, Budget(time_left, reserve_ms=13_000))
    assert applied == ids[:1]  # 20 s left: one step; 12 s left: less than the reserve
    assert report.failed == [r.id for r in batch[1:]] and report.deferred == 2
    assert [stack.describe(e)["tasks"] != [] for e in ids] == [True, False, False]


def test_the_worker_hands_back_dispatches_it_has_no_time_for():
    stack2 = MemoryStack(seed=0, defer_start=True)
    stack2.register(load_text(SEQ, "seq.yaml"))
    eids = [stack2.start("b.seq") for _ in range(2)]
    starts = [stack2._receive(m, m.execution_id) for m in list(stack2.event_queue.messages)]
    stack2.event_queue.messages.clear()
    assert stack2.delivery.advance(starts).failed == []  # the start steps dispatch the two attempts
    dispatches = [stack2._receive(m, m.idempotency_key) for m in list(stack2.task_queue.messages)]
    assert len(dispatches) == 2
    report = stack2.delivery.work(dispatches, Budget(lambda: 14_000, reserve_ms=15_000))
    assert report.failed == [d.id for d in dispatches] and report.deferred == 2 and report.outcomes == []
    report = stack2.delivery.work(dispatches, Budget(lambda: 16_000, reserve_ms=15_000))
    assert report.failed == [] and [o.execution_id for o, _ in report.outcomes] == eids
